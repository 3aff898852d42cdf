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
    let started = Instant::now();
    let report = crate::report::render_to_folder(&a)?;
    let render_secs = started.elapsed().as_secs_f64();
    let size = std::fs::metadata(&report)?.len();
    let started = Instant::now();
    let comparison =
        crate::compare::compare_folders(&a, &b, crate::bootstrap::DEFAULT_NOISE, false)?;
    let page = crate::compare::write_page(&comparison, &dir)?;
    let compare_secs = started.elapsed().as_secs_f64();
    println!(
        "report:  {render_secs:.2} s ({} KiB) {}",
        size / 1024,
        report.display()
    );
    println!(
        "compare: {compare_secs:.2} s {} ({})",
        page.display(),
        comparison.headline()
    );
    let budget = 2.0;
    anyhow::ensure!(
        render_secs < budget && compare_secs < budget,
        "over the {budget} s budget (build with --release for the real figure)"
    );
    Ok(())
}
