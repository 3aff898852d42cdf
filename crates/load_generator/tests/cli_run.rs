//! The `load-generator` binary end to end against an in-process testbed:
//! exit codes, files on disk, and partial runs after SIGTERM or a dead
//! backend.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use results_format::{LatencyKind, RunStatus, read_run};
use tokio::process::Command;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lg-cli-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_workload(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("workload.json");
    std::fs::write(&path, text).unwrap();
    path
}

const QUERY_AND_MUTATION: &str = r#"{"name": "cli-test", "num_rows": 20, "scenarios": [
  {"name": "RunFunction", "path": "query_index:queryMessages", "fn_type": "query", "rate": 50},
  {"name": "RunFunction", "path": "insert:insertMessage", "fn_type": "mutation", "rate": 20}
]}"#;

async fn testbed() -> testbed::TestbedHandle {
    testbed::start(testbed::TestbedConfig {
        port: 0,
        site_port: 0,
        ..Default::default()
    })
    .await
    .expect("testbed starts")
}

fn generator(workload: &Path, url: &str, key: &str, output: &Path, duration: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_load-generator"));
    cmd.arg(workload)
        .args([
            "--duration",
            duration,
            "--existing-instance-url",
            url,
            "--output",
        ])
        .arg(output)
        .args(["--quiet", "--drain", "1"])
        // The key travels in the environment, as the pipeline passes it.
        .env("CONVEX_SELF_HOSTED_ADMIN_KEY", key)
        .env_remove("CONVEX_SELF_HOSTED_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

fn send_sigterm(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_leaves_a_valid_partial_run() {
    let bed = testbed().await;
    let dir = temp_dir("sigterm");
    let workload = write_workload(&dir, QUERY_AND_MUTATION);
    let output = dir.join("out");
    let child = generator(&workload, &bed.url(), bed.admin_key(), &output, "60")
        .spawn()
        .unwrap();
    // Let it seed and run a few seconds of load.
    let deadline = Instant::now() + Duration::from_secs(8);
    while !output.join("latencies.hlog").exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let sent_at = Instant::now();
    send_sigterm(child.id().unwrap());
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("exits after SIGTERM")
        .unwrap();
    assert!(sent_at.elapsed() < Duration::from_secs(5), "stops promptly");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = read_run(&output).expect("a valid run folder");
    assert_eq!(run.run.outcome.status, RunStatus::Interrupted);
    assert!(run.run.outcome.partial);
    assert!(!run.run.outcome.passed);
    assert!(
        run.run
            .outcome
            .reason
            .as_deref()
            .unwrap()
            .contains("SIGTERM")
    );
    assert!(run.run.ended_at.is_some());
    assert!(
        (1.5..6.0).contains(&run.run.duration_secs),
        "{}",
        run.run.duration_secs
    );
    let query = run
        .histograms
        .metrics
        .iter()
        .find(|m| m.key.name == "query")
        .expect("query metric");
    assert!(query.totals.requests > 50, "{:?}", query.totals);
    assert!(query.latencies.contains_key(&LatencyKind::ResponseTime));
    assert!(!query.intervals.is_empty());
    // No secret reaches the files.
    for file in ["run.json", "histograms.json", "latencies.hlog"] {
        let text = std::fs::read_to_string(output.join(file)).unwrap();
        assert!(
            !text.contains(bed.admin_key()),
            "{file} holds the admin key"
        );
    }
    bed.shutdown().await;
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_backend_leaves_a_partial_run_marked_as_such() {
    let bed = testbed().await;
    let url = bed.url();
    let key = bed.admin_key().to_string();
    let dir = temp_dir("dead");
    let workload = write_workload(&dir, QUERY_AND_MUTATION);
    let output = dir.join("out");
    let child = generator(&workload, &url, &key, &output, "60")
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(8);
    while !output.join("latencies.hlog").exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    bed.shutdown().await;
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("gives up on a dead backend")
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = read_run(&output).expect("a valid run folder");
    assert_eq!(run.run.outcome.status, RunStatus::BackendFailed);
    assert!(run.run.outcome.partial);
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_run_reports_json_and_fails_a_missed_threshold() {
    let bed = testbed().await;
    let dir = temp_dir("json");
    let workload = write_workload(
        &dir,
        r#"{"name": "thresholds", "num_rows": 10, "scenarios": [
          {"name": "RunFunction", "path": "query_index:queryMessages", "fn_type": "query", "rate": 40}],
         "thresholds": [
          {"metric": "RunFunction/query", "statistic": "p99_ms", "below": 0.001},
          {"metric": "*", "statistic": "error_rate", "below": 0.5}]}"#,
    );
    let output = dir.join("out");
    let out = generator(&workload, &bed.url(), bed.admin_key(), &output, "2")
        .args([
            "--format", "json", "--seed", "42", "--label", "ci", "--warmup", "1",
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(summary["outcome"]["status"], "completed");
    assert_eq!(summary["outcome"]["passed"], false);
    assert_eq!(summary["outcome"]["thresholds"][0]["passed"], false);
    assert_eq!(summary["outcome"]["thresholds"][1]["passed"], true);
    let query = &summary["metrics"][0];
    assert_eq!(query["name"], "query");
    let count = query["totals"]["requests"].as_u64().unwrap();
    // 1 s of warm-up load is not counted.
    assert!(
        (75..=85).contains(&count),
        "2 s at 40/s after warm-up: {count}"
    );
    let run = read_run(&output).unwrap();
    assert_eq!(run.run.seed, Some(42));
    assert_eq!(run.run.warmup_secs, 1.0);
    assert_eq!(run.run.label.as_deref(), Some("ci"));
    assert!(
        (run.run.duration_secs - 2.0).abs() < 0.2,
        "{}",
        run.run.duration_secs
    );
    assert_eq!(run.run.backend.kind, results_format::BackendKind::Testbed);
    assert_eq!(run.histograms.metrics[0].intervals.len(), 2);
    bed.shutdown().await;
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn invalid_input_exits_2_before_anything_starts() {
    let dir = temp_dir("invalid");
    let workload = write_workload(
        &dir,
        r#"{"name": "x", "scenarios": [{"name": "Nope", "rate": 1}]}"#,
    );
    let output = dir.join("out");
    let out = generator(&workload, "http://127.0.0.1:9", "k", &output, "1")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("workload.json:1:38: field `scenarios[0].name`"),
        "{stderr}"
    );
    assert!(!output.exists(), "nothing was started or written");
    // A bad flag is invalid input too.
    let out = generator(&workload, "http://127.0.0.1:9", "k", &output, "-5")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn every_shipped_workload_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../workloads");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let loaded =
                load_generator::workload::load_workload(&path).unwrap_or_else(|e| panic!("{e}"));
            names.push(loaded.workload.name);
        }
    }
    for required in [
        "smoke",
        "light",
        "prod",
        "benchmark_query",
        "benchmark_insert",
        "search",
        "vector_search",
        "subscriptions",
    ] {
        assert!(
            names.iter().any(|n| n == required),
            "workloads/{required}.json missing"
        );
    }
}

#[tokio::test]
async fn url_and_key_come_from_dot_env_local() {
    let dir = temp_dir("dotenv");
    let workload = write_workload(&dir, QUERY_AND_MUTATION);
    let output = dir.join("out");
    // Port 9 (discard) is closed: the backend check fails, which proves the
    // URL was read and used.
    std::fs::write(
        dir.join(".env.local"),
        "CONVEX_SELF_HOSTED_URL=http://127.0.0.1:9\nCONVEX_SELF_HOSTED_ADMIN_KEY=secret-from-dotenv\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_load-generator"))
        .arg(&workload)
        .args(["--duration", "1", "--quiet", "--output"])
        .arg(&output)
        .current_dir(&dir)
        .env_remove("CONVEX_SELF_HOSTED_URL")
        .env_remove("CONVEX_SELF_HOSTED_ADMIN_KEY")
        .output()
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = read_run(&output).expect("a valid (empty) run folder");
    assert_eq!(run.run.outcome.status, RunStatus::BackendFailed);
    assert_eq!(run.run.backend.url, "http://127.0.0.1:9");
    let text = std::fs::read_to_string(output.join("run.json")).unwrap();
    assert!(!text.contains("secret-from-dotenv"));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("secret-from-dotenv"));

    // Without `.env.local` and flags there is no backend: invalid input.
    std::fs::remove_file(dir.join(".env.local")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_load-generator"))
        .arg(&workload)
        .args(["--duration", "1", "--quiet"])
        .current_dir(&dir)
        .env_remove("CONVEX_SELF_HOSTED_URL")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--existing-instance-url"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_runs_every_scenario_exactly_once() {
    let bed = testbed().await;
    let dir = temp_dir("once");
    let workload = write_workload(&dir, QUERY_AND_MUTATION);
    let output = dir.join("out");
    let out = generator(&workload, &bed.url(), bed.admin_key(), &output, "60")
        .arg("--once")
        .output()
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = read_run(&output).unwrap();
    assert_eq!(run.run.planned_duration_secs, None);
    // Connection setup is recorded too (it happens before load starts);
    // the driven metrics ran exactly once each.
    let setups: u64 = run
        .histograms
        .metrics
        .iter()
        .filter(|m| m.key.name == "connection_setup")
        .map(|m| m.totals.requests)
        .sum();
    assert!(setups >= 1, "connection setup was not recorded");
    let counts: Vec<(String, u64)> = run
        .histograms
        .metrics
        .iter()
        .filter(|m| m.totals.requests > 0 && m.key.name != "connection_setup")
        .map(|m| (m.key.name.clone(), m.totals.requests))
        .collect();
    assert_eq!(
        counts,
        vec![("query".to_string(), 1), ("mutation".to_string(), 1)]
    );
    bed.shutdown().await;
    std::fs::remove_dir_all(dir).unwrap();
}
