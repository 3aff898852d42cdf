//! Every scenario kind through the real binary (engine, recorder, results
//! files) once, against an in-process testbed: each records the metrics it
//! should, successfully.

use std::process::Stdio;
use std::time::Duration;

use results_format::read_run;
use serde_json::json;
use tokio::process::Command;

const WORKLOAD: &str = r#"{"name": "every-kind", "num_rows": 50, "num_vector_rows": 20, "scenarios": [
  {"name": "RunFunction", "path": "query_index:queryMessages", "fn_type": "query", "rate": 5},
  {"name": "RunFunction", "path": "insert:insertMessage", "fn_type": "mutation", "rate": 5},
  {"name": "RunFunction", "path": "log", "fn_type": "action", "rate": 5},
  {"name": "RunHttpAction", "path": "basic", "method": "POST", "rate": 5},
  {"name": "ObserveInsert", "search_indexes": false, "rate": 5},
  {"name": "ObserveInsert", "search_indexes": true, "rate": 5},
  {"name": "Search", "rate": 5},
  {"name": "VectorSearch", "rate": 5},
  {"name": "ManyIntersections", "num_subscriptions": 10, "rate": 5},
  {"name": "HoldSubscriptions", "num_subscriptions": 5, "hold_duration_secs": 1, "invalidation_interval_secs": 1, "rate": 5},
  {"name": "SnapshotExport", "rate": 1},
  {"name": "CloudBackup", "rate": 1}
]}"#;

#[tokio::test]
async fn every_scenario_kind_runs_through_the_binary() {
    let bed = testbed::start(testbed::TestbedConfig {
        access_token: Some("e2e-token".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    // Search picks among existing `messages_with_search` rows.
    let http = load_generator::protocol::HttpFunctionClient::new(&bed.url(), Some(bed.admin_key()))
        .unwrap();
    for _ in 0..20 {
        http.call(
            load_generator::workload::model::FunctionType::Mutation,
            "insert:insertMessageWithSearch",
            json!({}),
        )
        .await
        .unwrap();
    }
    let dir = std::env::temp_dir().join(format!("lg-e2e-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let workload = dir.join("workload.json");
    std::fs::write(&workload, WORKLOAD).unwrap();
    let output = dir.join("out");
    let run = Command::new(env!("CARGO_BIN_EXE_load-generator"))
        .arg(&workload)
        .args(["--once", "--quiet", "--duration", "10", "--drain", "5"])
        .args(["--existing-instance-url", &bed.url()])
        .args(["--site-url", &bed.site_url()])
        .args(["--provision-host", &bed.url()])
        .arg("--output")
        .arg(&output)
        .env("CONVEX_SELF_HOSTED_ADMIN_KEY", bed.admin_key())
        .env("CONVEX_ACCESS_TOKEN", "e2e-token")
        .env_remove("CONVEX_SELF_HOSTED_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the run ends")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    assert!(!stderr.contains(bed.admin_key()), "admin key leaked");
    assert!(!stderr.contains("e2e-token"), "access token leaked");

    let archive = read_run(&output).unwrap();
    let successes = |scenario: &str, name: &str| -> u64 {
        archive
            .histograms
            .metrics
            .iter()
            .filter(|m| m.key.scenario == scenario && m.key.name == name)
            .map(|m| m.totals.successes())
            .sum()
    };
    let expected = [
        ("RunFunction", "query"),
        ("RunFunction", "mutation"),
        ("RunFunction", "action"),
        ("RunHttpAction", "http_action"),
        ("ObserveInsert", "mutation_completed"),
        ("ObserveInsert", "mutation_observed"),
        ("ObserveInsertWithSearch", "mutation_completed"),
        ("ObserveInsertWithSearch", "mutation_observed"),
        ("Search", "search"),
        ("VectorSearch", "vector_search"),
        ("ManyIntersections", "mutation_completed"),
        ("ManyIntersections", "mutation_observed"),
        ("HoldSubscriptions", "invalidation_completed"),
        ("CloudBackup", "backup"),
    ];
    let keys: Vec<String> = archive
        .histograms
        .metrics
        .iter()
        .map(|m| m.key.to_string())
        .collect();
    for (scenario, name) in expected {
        assert!(
            successes(scenario, name) >= 1,
            "{scenario}/{name} recorded no success; metrics: {keys:?}"
        );
    }
    // Registered for every WebSocket scenario. (The initial setups happen
    // in `prepare`, before measurement starts, so the recorder does not
    // keep them; reconnections during the run are kept.)
    for scenario in [
        "RunFunction",
        "ObserveInsert",
        "ManyIntersections",
        "SnapshotExport",
    ] {
        assert!(
            keys.contains(&format!("{scenario}/connection_setup")),
            "{keys:?}"
        );
        assert!(keys.contains(&format!("{scenario}/reconnect")), "{keys:?}");
    }
    // SnapshotExport is counted, not timed.
    let export_counted = archive.histograms.metrics.iter().any(|m| {
        m.key.scenario == "SnapshotExport"
            && m.key.name == "export_completed"
            && m.totals.requests >= 1
    });
    assert!(export_counted, "{keys:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
