//! Search, VectorSearch, SnapshotExport, CloudBackup, RunHttpAction and the
//! setup seeding against the in-process testbed (with the search, vector,
//! export, site and provisioning parts).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use load_generator::run_env::SeedProgress;
use load_generator::scenarios;
use load_generator::workload::model::{Mode, ScenarioConfig, ScenarioOptions, ScenarioSpec};
use serde_json::json;

fn config(spec: ScenarioSpec) -> ScenarioConfig {
    ScenarioConfig {
        spec,
        mode: Mode::Benchmark { workers: 2 },
        options: ScenarioOptions::default(),
    }
}

async fn seed(bed: &common::Bed, rows: u64, vectors: u64) -> Vec<SeedProgress> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    scenarios::setup::seed(&bed.env, rows, vectors, &move |p| {
        sink.lock().unwrap().push(p)
    })
    .await
    .unwrap();
    Arc::try_unwrap(seen).unwrap().into_inner().unwrap()
}

#[tokio::test]
async fn seeding_runs_in_batches_and_reports_progress() {
    let bed = common::start().await;
    let before = bed.testbed.stats().mutations;
    let progress = seed(&bed, 1_200, 120).await;
    // 500 + 500 + 200 messages, 50 + 50 + 20 vectors: six mutations.
    assert_eq!(bed.testbed.stats().mutations - before, 6);
    let messages: Vec<_> = progress
        .iter()
        .filter(|p| p.table == "messages")
        .map(|p| p.done)
        .collect();
    assert_eq!(messages, vec![500, 1000, 1200]);
    let vectors: Vec<_> = progress
        .iter()
        .filter(|p| p.table == "openclaurd")
        .map(|p| p.done)
        .collect();
    assert_eq!(vectors, vec![50, 100, 120]);
    // The rows are there: the first page of channel global is full.
    let client =
        load_generator::protocol::HttpFunctionClient::new(&bed.env.url, Some(&bed.env.admin_key))
            .unwrap();
    let page = client
        .call(
            load_generator::workload::model::FunctionType::Query,
            "query_index:queryMessages",
            json!({"cacheBreaker": 0.0}),
        )
        .await
        .unwrap();
    assert_eq!(page.value.as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn search_finds_the_picked_document() {
    let bed = common::start().await;
    let client =
        load_generator::protocol::HttpFunctionClient::new(&bed.env.url, Some(&bed.env.admin_key))
            .unwrap();
    for _ in 0..30 {
        client
            .call(
                load_generator::workload::model::FunctionType::Mutation,
                "insert:insertMessageWithSearch",
                json!({}),
            )
            .await
            .unwrap();
    }
    let scenario = scenarios::build(&config(ScenarioSpec::Search), &bed.env).unwrap();
    scenario.clone().prepare().await.unwrap();
    common::drive(scenario, 2, 10).await;
    let outcomes = bed.sink.outcomes("Search", "search");
    assert_eq!(outcomes.len(), 20);
    let errors = bed.sink.errors("Search", "search");
    // Random-word bodies can collide; a mismatch is then legitimate, but
    // most picks must be found.
    assert!(
        bed.sink.successes("Search", "search") >= 15,
        "{errors:?} {:?}",
        bed.sink.error_messages("Search", "search")
    );
    assert!(
        errors.keys().all(|c| c == "search_document_mismatch"),
        "{errors:?}"
    );
}

#[tokio::test]
async fn search_on_an_empty_table_is_a_search_error() {
    let bed = common::start().await;
    let scenario = scenarios::build(&config(ScenarioSpec::Search), &bed.env).unwrap();
    scenario.clone().prepare().await.unwrap();
    common::drive(scenario, 1, 3).await;
    assert_eq!(
        bed.sink.errors("Search", "search").get("search").copied(),
        Some(3)
    );
}

#[tokio::test]
async fn vector_search_finds_the_picked_row() {
    let bed = common::start().await;
    seed(&bed, 0, 60).await;
    let scenario = scenarios::build(&config(ScenarioSpec::VectorSearch), &bed.env).unwrap();
    scenario.clone().prepare().await.unwrap();
    let actions_before = bed.testbed.stats().actions;
    common::drive(scenario, 2, 10).await;
    assert_eq!(
        bed.sink.successes("VectorSearch", "vector_search"),
        20,
        "{:?}",
        bed.sink.error_messages("VectorSearch", "vector_search")
    );
    assert_eq!(bed.testbed.stats().actions - actions_before, 20);
}

#[tokio::test]
async fn snapshot_export_counts_each_stage() {
    let bed = common::start().await;
    seed(&bed, 100, 0).await;
    let scenario = scenarios::build(&config(ScenarioSpec::SnapshotExport), &bed.env).unwrap();
    scenario.clone().prepare().await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), common::drive(scenario, 1, 2))
        .await
        .unwrap();
    let name = "SnapshotExport";
    let failures: Vec<_> = [
        "request_export_failed",
        "get_export_failed",
        "snapshot_export_failed",
        "snapshot_failure",
    ]
    .iter()
    .flat_map(|m| bed.sink.error_messages(name, m))
    .collect();
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(bed.sink.count(name, "request_export_succeeded"), 2);
    assert_eq!(bed.sink.count(name, "export_in_progress"), 2);
    assert_eq!(bed.sink.count(name, "export_completed"), 2);
    assert_eq!(bed.sink.count(name, "get_export_succeeded"), 2);
    assert_eq!(bed.sink.count(name, "export_timeout"), 0);
}

#[tokio::test]
async fn cloud_backup_needs_host_and_token_and_measures_the_backup() {
    let bed = common::start_with(testbed::TestbedConfig {
        access_token: Some("token-for-tests".into()),
        ..Default::default()
    })
    .await;
    let err = scenarios::build(&config(ScenarioSpec::CloudBackup), &bed.env)
        .err()
        .unwrap();
    assert!(err.to_string().contains("provision"), "{err}");

    let mut env = bed.env.clone();
    env.provision_host = Some(bed.testbed.url());
    env.access_token = Some("token-for-tests".into());
    let scenario = scenarios::build(&config(ScenarioSpec::CloudBackup), &env).unwrap();
    scenario.clone().prepare().await.unwrap();
    common::drive(scenario, 1, 2).await;
    assert_eq!(
        bed.sink.successes("CloudBackup", "backup"),
        2,
        "{:?}",
        bed.sink.error_messages("CloudBackup", "backup")
    );
    assert_eq!(bed.sink.count("CloudBackup", "request_backup_succeeded"), 2);
    assert_eq!(bed.sink.count("CloudBackup", "backup_completed"), 2);

    env.access_token = Some("wrong".into());
    let refused = scenarios::build(&config(ScenarioSpec::CloudBackup), &env).unwrap();
    refused.clone().prepare().await.unwrap();
    common::drive(refused, 1, 1).await;
    let errors = bed.sink.errors("CloudBackup", "backup");
    assert_eq!(
        errors.get("request_backup_failed").copied(),
        Some(1),
        "{errors:?}"
    );
}

#[tokio::test]
async fn http_actions_succeed_fail_and_time_out_in_their_categories() {
    let bed = common::start().await;
    let action = |path: &str| {
        config(ScenarioSpec::RunHttpAction {
            path: path.into(),
            method: "POST".into(),
        })
    };
    for path in ["basic", "streaming"] {
        let scenario = scenarios::build(&action(path), &bed.env).unwrap();
        scenario.clone().prepare().await.unwrap();
        common::drive(scenario, 2, 5).await;
    }
    assert_eq!(bed.sink.successes("RunHttpAction", "http_action"), 20);
    assert_eq!(bed.testbed.stats().http_actions, 20);

    let missing = scenarios::build(&action("no-such-route"), &bed.env).unwrap();
    common::drive(missing, 1, 2).await;
    assert_eq!(
        bed.sink
            .errors("RunHttpAction", "http_action")
            .get("http_action")
            .copied(),
        Some(2)
    );

    bed.faults(json!({"latency": {"http_action": {"fixed_ms": 300}}}))
        .await;
    let mut slow = action("basic");
    slow.options.timeout = Some(Duration::from_millis(100));
    let slow = scenarios::build(&slow, &bed.env).unwrap();
    common::drive(slow, 1, 2).await;
    assert_eq!(bed.sink.timeouts("RunHttpAction", "http_action"), 2);
}
