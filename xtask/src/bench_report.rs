//! `cargo xtask bench-report`: times report rendering and comparison on a
//! synthetic one-hour run with ten metrics (the budget: < 2 s each).

use std::path::PathBuf;
use std::time::Instant;

use crate::synthetic::SyntheticRun;

#[derive(clap::Args)]
pub struct BenchReportArgs {
    /// Where the two synthetic runs are written (kept for inspection).
    #[arg(long, default_value = "target/bench-report")]
    pub dir: PathBuf,
    /// Run length in seconds.
    #[arg(long, default_value_t = 3600)]
    pub duration: u32,
}

pub fn run(args: &BenchReportArgs) -> anyhow::Result<()> {
    let dir = crate::project_root().join(&args.dir);
    let (a, b) = (dir.join("hour-a"), dir.join("hour-b"));
    let started = Instant::now();
    for (path, seed, factor) in [(&a, 1, 1.0), (&b, 2, 1.3)] {
        let mut run = SyntheticRun::one_hour_ten_metrics(seed).with_factor("mutation", factor);
        run.duration_secs = args.duration;
        run.write(path)?;
    }
    println!(
        "generated 2 runs of {} s x {} metrics in {:.1} s",
        args.duration,
        SyntheticRun::one_hour_ten_metrics(0).metrics.len(),
        started.elapsed().as_secs_f64()
    );
    let phase = Instant::now();
    let (archive, decoded) = crate::run_reader::read_run_decoded(&a)?;
    let read_secs = phase.elapsed().as_secs_f64();
    let view = crate::analysis::analyse(archive, decoded)?;
    let analyse_secs = phase.elapsed().as_secs_f64() - read_secs;
    crate::report::render(&view)?;
    let html_secs = phase.elapsed().as_secs_f64() - read_secs - analyse_secs;
    println!(
        "phases:  read {read_secs:.2} s, analyse {analyse_secs:.2} s, charts+html {html_secs:.2} s"
    );
    let started = Instant::now();
    let cpu_before = cpu_time();
    let report = crate::report::render_to_folder(&a)?;
    let render_secs = started.elapsed().as_secs_f64();
    let render_cpu = cpu_since(cpu_before);
    let size = std::fs::metadata(&report)?.len();
    let started = Instant::now();
    let cpu_before = cpu_time();
    let comparison =
        crate::compare::compare_folders(&a, &b, crate::bootstrap::DEFAULT_NOISE, false)?;
    let page = crate::compare::write_page(&comparison, &dir)?;
    let compare_secs = started.elapsed().as_secs_f64();
    let compare_cpu = cpu_since(cpu_before);
    println!(
        "report:  {render_secs:.2} s wall, {render_cpu} CPU ({} KiB) {}",
        size / 1024,
        report.display()
    );
    println!(
        "compare: {compare_secs:.2} s wall, {compare_cpu} CPU, {} of {} metrics slower: {}",
        comparison.regressed().len(),
        comparison.metrics.len(),
        page.display()
    );
    let budget = 2.0;
    anyhow::ensure!(
        render_secs < budget && compare_secs < budget,
        "over the {budget} s budget (a debug build is much slower: use `cargo run --release -p xtask -- bench-report`)"
    );
    Ok(())
}

fn cpu_since(before: Option<std::time::Duration>) -> String {
    match (before, cpu_time()) {
        (Some(a), Some(b)) => format!("{:.2} s", (b - a).as_secs_f64()),
        _ => "unknown".into(),
    }
}

/// CPU time (user + system, all threads) this process has used so far, from
/// /proc/self/stat; `None` where that file does not exist. On a shared
/// machine it is steadier than wall time.
pub fn cpu_time() -> Option<std::time::Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some(std::time::Duration::from_millis((utime + stime) * 10))
}
