//! RunFunction and RunHttpAction against the in-process testbed.

mod common;

use std::time::Duration;

use load_generator::scenarios;
use load_generator::workload::model::{
    FunctionType, Mode, ScenarioConfig, ScenarioOptions, ScenarioSpec, Transport,
};
use serde_json::json;

fn run_function(path: &str, fn_type: FunctionType, options: ScenarioOptions) -> ScenarioConfig {
    ScenarioConfig {
        spec: ScenarioSpec::RunFunction {
            path: path.into(),
            fn_type,
            args: None,
        },
        mode: Mode::Benchmark { workers: 4 },
        options,
    }
}

#[tokio::test]
async fn counts_match_the_testbeds_own_counters() {
    let bed = common::start().await;
    let cases = [
        (
            "query_index:queryMessages",
            FunctionType::Query,
            "query",
            "queries",
        ),
        (
            "insert:insertMessage",
            FunctionType::Mutation,
            "mutation",
            "mutations",
        ),
        ("log", FunctionType::Action, "action", "actions"),
    ];
    for (path, fn_type, metric, counter) in cases {
        let options = ScenarioOptions {
            connections: Some(2),
            ..Default::default()
        };
        let scenario = scenarios::build(&run_function(path, fn_type, options), &bed.env).unwrap();
        scenario.clone().prepare().await.unwrap();
        let before = bed.http_stats().await[counter].as_u64().unwrap();
        common::drive(scenario, 4, 25).await;
        let after = bed.http_stats().await[counter].as_u64().unwrap();
        assert_eq!(bed.sink.successes("RunFunction", metric), 100, "{path}");
        assert_eq!(after - before, 100, "testbed {counter} for {path}");
        let id = bed.sink.id("RunFunction", metric).unwrap();
        assert_eq!(bed.sink.key(id).path.as_deref(), Some(path));
    }
    // Two connections per scenario, each set up once.
    assert_eq!(bed.sink.successes("RunFunction", "connection_setup"), 6);
    assert_eq!(bed.sink.count("RunFunction", "reconnect"), 0);
}

#[tokio::test]
async fn http_transport_counts_match_too() {
    let bed = common::start().await;
    let options = ScenarioOptions {
        transport: Transport::Http,
        ..Default::default()
    };
    let scenario = scenarios::build(
        &run_function("query_index:queryMessages", FunctionType::Query, options),
        &bed.env,
    )
    .unwrap();
    scenario.clone().prepare().await.unwrap();
    let before = bed.testbed.stats().queries;
    common::drive(scenario, 2, 20).await;
    assert_eq!(bed.sink.successes("RunFunction", "query"), 40);
    assert_eq!(bed.testbed.stats().queries - before, 40);
    // No WebSocket was opened.
    assert!(
        bed.sink
            .outcomes("RunFunction", "connection_setup")
            .is_empty()
    );
}

#[tokio::test]
async fn injected_errors_land_in_their_kinds_category() {
    let bed = common::start().await;
    bed.faults(json!({"error_rate": {"query": 1.0, "mutation": 1.0, "action": 1.0}}))
        .await;
    for (path, fn_type, metric) in [
        ("query_index:queryMessages", FunctionType::Query, "query"),
        ("insert:insertMessage", FunctionType::Mutation, "mutation"),
        ("log", FunctionType::Action, "action"),
    ] {
        let scenario =
            scenarios::build(&run_function(path, fn_type, Default::default()), &bed.env).unwrap();
        scenario.clone().prepare().await.unwrap();
        common::drive(scenario, 2, 5).await;
        let errors = bed.sink.errors("RunFunction", metric);
        assert_eq!(
            errors.get(metric).copied(),
            Some(10),
            "{metric}: {errors:?}"
        );
        assert_eq!(bed.sink.successes("RunFunction", metric), 0);
        let messages = bed.sink.error_messages("RunFunction", metric);
        assert!(messages[0].contains("Injected fault"), "{messages:?}");
    }
}

#[tokio::test]
async fn slow_responses_become_timeouts() {
    let bed = common::start().await;
    bed.faults(json!({"latency": {"query": {"fixed_ms": 400}}}))
        .await;
    let options = ScenarioOptions {
        timeout: Some(Duration::from_millis(100)),
        ..Default::default()
    };
    let scenario = scenarios::build(
        &run_function("query_index:queryMessages", FunctionType::Query, options),
        &bed.env,
    )
    .unwrap();
    scenario.clone().prepare().await.unwrap();
    common::drive(scenario, 3, 3).await;
    assert_eq!(bed.sink.timeouts("RunFunction", "query"), 9);
    assert_eq!(bed.sink.successes("RunFunction", "query"), 0);
}

#[tokio::test]
async fn dropped_connections_count_reconnections_and_recover() {
    let bed = common::start().await;
    let options = ScenarioOptions {
        connections: Some(3),
        ..Default::default()
    };
    let scenario = scenarios::build(
        &run_function("query_index:queryMessages", FunctionType::Query, options),
        &bed.env,
    )
    .unwrap();
    scenario.clone().prepare().await.unwrap();
    common::drive(scenario.clone(), 3, 5).await;
    bed.faults(json!({"drop_connections": true})).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    common::drive(scenario, 3, 5).await;
    assert_eq!(bed.sink.count("RunFunction", "reconnect"), 3);
    assert_eq!(bed.sink.successes("RunFunction", "connection_setup"), 6);
    // Requests after the drop waited for the new sessions and succeeded.
    assert_eq!(bed.sink.successes("RunFunction", "query"), 30);
}

#[tokio::test]
async fn backend_killed_mid_run_yields_errors_and_reconnect_attempts() {
    let bed = common::start().await;
    // Slow enough that the run is still going when the backend dies.
    bed.faults(json!({"latency": {"mutation": {"fixed_ms": 20}}}))
        .await;
    let options = ScenarioOptions {
        timeout: Some(Duration::from_millis(300)),
        ..Default::default()
    };
    let scenario = scenarios::build(
        &run_function("insert:insertMessage", FunctionType::Mutation, options),
        &bed.env,
    )
    .unwrap();
    scenario.clone().prepare().await.unwrap();
    let running = tokio::spawn(common::drive(scenario, 4, 20));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let common::Bed { testbed, sink, .. } = bed;
    testbed.shutdown().await;
    tokio::time::timeout(Duration::from_secs(20), running)
        .await
        .expect("the run ends")
        .expect("no panic");
    let outcomes = sink.outcomes("RunFunction", "mutation");
    assert_eq!(outcomes.len(), 80, "every iteration recorded");
    let failed = sink.timeouts("RunFunction", "mutation")
        + sink
            .errors("RunFunction", "mutation")
            .values()
            .sum::<usize>();
    assert!(failed > 0, "the dead backend produced errors or timeouts");
    assert!(sink.count("RunFunction", "reconnect") >= 1);
    assert!(
        sink.errors("RunFunction", "connection_setup")
            .get("connection")
            .copied()
            .unwrap_or(0)
            >= 1
    );
}
