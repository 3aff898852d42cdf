//! `cargo xtask perf`: what the generator itself costs, measured side by
//! side in one run on this machine (issue #4's benchmark):
//!
//! 1. bare tokio-tungstenite echo round trips/s (the floor);
//! 2. the real `load-generator` binary's closed-loop throughput against a
//!    testbed child process, for the lightest query, a typical query and a
//!    mutation;
//! 3. the generator's CPU-seconds per 1,000 requests in those runs (the
//!    child's user + system time, read from /proc after it is reaped);
//! 4. added latency per request on an idle connection over the bare echo;
//! 5. open-loop start lag p50/p99 at 5,000 requests/s with a no-op scenario.
//!
//! 1 and 4 come from the `protocol_bench` example, 5 from `start_lag`; both
//! write their figures to `$PERF_JSON`. This prints figures, it asserts
//! nothing: targets are shown beside them.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use serde_json::Value;
use xshell::{Shell, cmd};

use crate::testbed_process::Testbed;

#[derive(clap::Args)]
pub struct PerfArgs {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5.0)]
    pub secs: f64,
    /// Open-loop rate for the start-lag measurement, requests/s.
    #[arg(long, default_value_t = 5000.0)]
    pub rate: f64,
    /// Closed-loop workers for the throughput runs.
    #[arg(long, default_value_t = 64)]
    pub workers: u32,
}

/// Closed-loop throughput runs of the real generator binary.
const THROUGHPUT_RUNS: &[(&str, &str, &str)] = &[
    ("lightest query", "http:siteUrl", "query"),
    ("typical query", "query_index:queryMessages", "query"),
    ("mutation", "insert:insertMessage", "mutation"),
];

struct GeneratorRun {
    what: &'static str,
    requests: u64,
    per_sec: f64,
    cpu_secs_per_1000: f64,
}

pub fn run(sh: &Shell, args: &PerfArgs) -> anyhow::Result<()> {
    let root = crate::project_root();
    let out = root.join("target/perf");
    sh.create_dir(&out)?;
    cmd!(
        sh,
        "cargo build --release -p testbed -p load_generator --bins --example protocol_bench --example start_lag"
    )
    .run()?;
    let release = root.join("target/release");

    let secs = args.secs.to_string();
    let protocol_json = out.join("protocol.json");
    {
        let _env = sh.push_env("PERF_JSON", &protocol_json);
        let bench = release.join("examples/protocol_bench");
        cmd!(sh, "{bench} {secs}").run()?;
    }
    let protocol = read_json(&protocol_json)?;

    let lag_json = out.join("start_lag.json");
    {
        let _env = sh.push_env("PERF_JSON", &lag_json);
        let bench = release.join("examples/start_lag");
        let rate = args.rate.to_string();
        cmd!(sh, "{bench} {rate} {secs}").run()?;
    }
    let lag = read_json(&lag_json)?;

    let mut runs = Vec::new();
    for &(what, path, fn_type) in THROUGHPUT_RUNS {
        runs.push(generator_run(&release, &out, what, path, fn_type, args)?);
    }

    let echo_per_sec = number(&protocol, "bare_echo_per_sec")?;
    let idle = &protocol["idle_latency"];
    let added_us = number(idle, "added_us")?;
    let idle_echo_us = number(idle, "bare_p50_us")?;
    let idle_ours_us = number(idle, "ours_p50_us")?;
    let idle_rounds = number(idle, "rounds")?;
    let idle_min_us = number(idle, "added_min_us")?;
    let idle_max_us = number(idle, "added_max_us")?;
    let shared_echo_us = number(&protocol, "bare_echo_shared_runtime_p50_us")?;
    let lag_p50 = number(&lag, "p50_us")?;
    let lag_p99 = number(&lag, "p99_us")?;
    let lightest = runs[0].per_sec;

    println!();
    println!("| # | measurement | figure | target |");
    println!("|---|---|---:|---|");
    println!(
        "| 1 | bare tokio-tungstenite echo (best of 1 and 64 connections, server on its own threads or sharing the client's) | {echo_per_sec:.0} round trips/s | |"
    );
    for run in &runs {
        println!(
            "| 2 | load-generator closed loop vs testbed, {} ({} workers) | {:.0} req/s ({} requests) | |",
            run.what, args.workers, run.per_sec, run.requests
        );
    }
    println!(
        "| 2 | lightest query as a share of the echo | {:.0}% | >= 40% {} |",
        100.0 * lightest / echo_per_sec,
        verdict(lightest >= 0.4 * echo_per_sec)
    );
    for run in &runs {
        println!(
            "| 3 | generator CPU per 1,000 requests, {} | {:.3} CPU-s | |",
            run.what, run.cpu_secs_per_1000
        );
    }
    println!(
        "| 4 | added latency on an idle connection over the echo (median over {idle_rounds} alternating rounds of the p50 difference; echo {idle_echo_us:.1} us, ours {idle_ours_us:.1} us, server on its own threads) | {added_us:.1} us (rounds: {idle_min_us:.1} to {idle_max_us:.1} us) | < 30 us {} |",
        verdict(added_us < 30.0)
    );
    println!(
        "| 5 | open-loop start lag at {:.0} req/s | p50 {lag_p50:.0} us, p99 {lag_p99:.0} us | p99 < 1 ms {} |",
        args.rate,
        verdict(lag_p99 < 1000.0)
    );
    println!();
    println!(
        "(4) measures against an echo and an instant sync server on their own runtime threads, as a backend in another process would be; with the echo sharing the client's runtime (no thread wake-ups at all) its p50 is {shared_echo_us:.1} us."
    );
    println!(
        "The testbed is a stand-in, not Convex: these figures measure the generator, not Convex."
    );
    Ok(())
}

fn verdict(met: bool) -> &'static str {
    if met { "(met)" } else { "(MISSED)" }
}

/// Runs the `load-generator` binary for one closed-loop workload against a
/// fresh testbed child and measures the generator child's CPU time.
fn generator_run(
    release: &Path,
    out: &Path,
    what: &'static str,
    path: &str,
    fn_type: &str,
    args: &PerfArgs,
) -> anyhow::Result<GeneratorRun> {
    let slug = what.replace(' ', "_");
    let workload = out.join(format!("perf_{slug}.json"));
    let content = serde_json::json!({
        "name": format!("perf_{slug}"),
        "num_rows": 500,
        "scenarios": [{
            "name": "RunFunction", "path": path, "fn_type": fn_type,
            "benchmark": args.workers, "connections": 4,
        }],
    });
    std::fs::write(&workload, serde_json::to_vec_pretty(&content)?)?;
    let run_dir = out.join(format!("run_{slug}"));
    let _ = std::fs::remove_dir_all(&run_dir);

    let admin_key = crate::bench::fresh_admin_key();
    let testbed = Testbed::start(&release.join("testbed"), &admin_key)?;
    let generator = release.join("load-generator");
    eprintln!(
        "$ {} {} --duration {} --existing-instance-url {} --output {} --quiet",
        generator.display(),
        workload.display(),
        args.secs,
        testbed.url,
        run_dir.display()
    );
    let cpu_before = reaped_children_cpu_secs()?;
    let status = Command::new(&generator)
        .arg(&workload)
        .args(["--duration", &args.secs.to_string()])
        .args(["--existing-instance-url", &testbed.url])
        .arg("--output")
        .arg(&run_dir)
        .arg("--quiet")
        .env("CONVEX_SELF_HOSTED_ADMIN_KEY", &admin_key)
        .status()
        .with_context(|| format!("running {}", generator.display()))?;
    let cpu_secs = reaped_children_cpu_secs()? - cpu_before;
    drop(testbed);
    if !status.success() {
        bail!("{what}: load-generator exited with {status}");
    }
    let archive = results_format::read_run(&run_dir)?;
    let requests: u64 = archive
        .histograms
        .metrics
        .iter()
        .filter(|m| m.key.scenario == "RunFunction")
        .map(|m| m.totals.requests)
        .sum();
    if requests == 0 {
        bail!("{what}: the generator recorded no requests");
    }
    Ok(GeneratorRun {
        what,
        requests,
        per_sec: requests as f64 / archive.run.duration_secs,
        cpu_secs_per_1000: cpu_secs * 1000.0 / requests as f64,
    })
}

/// User + system CPU seconds of this process's reaped children
/// (`cutime` + `cstime` of /proc/self/stat).
fn reaped_children_cpu_secs() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("reading /proc/self/stat")?;
    // Fields after the parenthesised command name; cutime and cstime are
    // fields 16 and 17 of the whole line, so 14 and 15 counting from state.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("unexpected /proc/self/stat format")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: f64 = fields
        .get(13..15)
        .context("unexpected /proc/self/stat format")?
        .iter()
        .map(|f| f.parse::<f64>())
        .sum::<Result<f64, _>>()?;
    Ok(ticks / clock_ticks_per_sec()?)
}

fn clock_ticks_per_sec() -> anyhow::Result<f64> {
    let output = Command::new("getconf").arg("CLK_TCK").output()?;
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .context("getconf CLK_TCK")
}

fn read_json(path: &PathBuf) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: the benchmark wrote no figures", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

fn number(value: &Value, field: &str) -> anyhow::Result<f64> {
    value
        .get(field)
        .and_then(Value::as_f64)
        .with_context(|| format!("benchmark figures lack `{field}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaped_children_cpu_grows_after_a_busy_child() {
        let before = reaped_children_cpu_secs().unwrap();
        let status = Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"])
            .status()
            .unwrap();
        assert!(status.success());
        let after = reaped_children_cpu_secs().unwrap();
        assert!(after > before, "before {before}, after {after}");
    }
}
