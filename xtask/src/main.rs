//! `cargo xtask <command>`: the project's pipeline, in the spirit of
//! rust-analyzer's xtask. Every external command is echoed before it runs.

mod analysis;
mod bench;
mod bench_report;
mod bootstrap;
mod charts;
mod compare;
mod deploy;
mod e2e;
mod pages;
mod perf;
mod publish;
mod report;
mod run_reader;
mod sparse;
mod synthetic;
mod table;
mod test;
#[cfg(test)]
mod test_support;
mod testbed_process;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "The project's pipeline")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// One benchmark run (testbed by default), archived in results/ with its report.
    Bench(bench::BenchArgs),
    /// Run every suite the project has: fmt, clippy, cargo tests, Node tests.
    Test(test::TestArgs),
    /// Render `report.html` for a run folder from its archived files.
    Report(report::ReportArgs),
    /// Compare two runs: terminal table and results/compare-<a>-<b>/index.html.
    Compare(compare::CompareArgs),
    /// A static site from the archive: index, trends, reports, comparisons.
    Publish(publish::PublishArgs),
    /// The pipeline end to end on the testbed, with headless Chromium.
    E2e,
    /// The generator's own cost: echo floor, closed-loop throughput, CPU per
    /// request, idle added latency, open-loop start lag.
    Perf(perf::PerfArgs),
    /// Time report rendering and comparison on a synthetic 1-hour, 10-metric run.
    BenchReport(bench_report::BenchReportArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let sh = xshell::Shell::new()?;
    sh.change_dir(project_root());
    match cli.command {
        Command::Test(args) => test::run(&sh, &args),
        Command::Bench(args) => bench::run(&sh, &args),
        Command::Report(args) => report::run(&args),
        Command::Compare(args) => compare::run(&args, &results_dir()),
        Command::Publish(args) => publish::run(&args),
        Command::E2e => e2e::run(&sh),
        Command::Perf(args) => perf::run(&sh, &args),
        Command::BenchReport(args) => bench_report::run(&args),
    }
}

/// The workspace root, whatever directory `cargo xtask` was started from.
pub fn project_root() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// The run archive: `results/` at the workspace root.
pub fn results_dir() -> PathBuf {
    project_root().join("results")
}
