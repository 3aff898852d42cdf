//! `cargo xtask publish --out DIR`: a static site from the run archive — an
//! index of runs (newest first), trend charts per workload, every run's
//! report, and each run's comparison with the previous run of the same
//! workload.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use results_format::BackendKind;
use serde::Serialize;

use crate::analysis::RunView;
use crate::bootstrap::Verdict;
use crate::charts::{self, Chart, Line, XAxis};
use crate::pages::{self, ms, rate};

#[derive(clap::Args)]
pub struct PublishArgs {
    /// Output folder for the site (created; existing files are replaced).
    #[arg(long)]
    pub out: PathBuf,
    /// The run archive to publish.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
}

pub fn run(args: &PublishArgs) -> anyhow::Result<()> {
    let root = crate::project_root();
    let results = root.join(&args.results);
    let out = std::path::absolute(&args.out)?;
    let index = publish(&results, &out)?;
    println!("site: {}", index.display());
    Ok(())
}

#[derive(Serialize)]
struct RunRow {
    name: String,
    label: Option<String>,
    workload: String,
    started: String,
    backend: String,
    passed: bool,
    headline: String,
    report: String,
    previous: Option<String>,
    compare: Option<String>,
    compare_verdict: Option<String>,
    compare_class: Option<String>,
}

#[derive(Serialize)]
struct Trend {
    workload: String,
    charts: Vec<minijinja::Value>,
}

/// Every folder of `results` holding a `run.json`, read; unreadable ones
/// are reported and skipped so one bad run does not hide the others.
fn read_archive(results: &Path) -> anyhow::Result<Vec<RunView>> {
    let entries = std::fs::read_dir(results)
        .with_context(|| format!("{}: cannot read the run archive", results.display()))?;
    let mut runs = Vec::new();
    for entry in entries.flatten() {
        let dir = entry.path();
        if !dir.join(results_format::RUN_FILE).is_file() {
            continue;
        }
        match crate::analysis::load_named(&dir) {
            Ok(view) => runs.push(view),
            Err(e) => eprintln!("skipping {}: {e:#}", dir.display()),
        }
    }
    runs.sort_by_key(|r| std::cmp::Reverse(r.archive.run.started_at));
    Ok(runs)
}

pub fn publish(results: &Path, out: &Path) -> anyhow::Result<PathBuf> {
    let runs = read_archive(results)?;
    std::fs::create_dir_all(out.join("runs"))?;
    std::fs::create_dir_all(out.join("compare"))?;
    let mut rows = Vec::new();
    for (i, view) in runs.iter().enumerate() {
        let name = view.archive.name();
        let run_out = out.join("runs").join(&name);
        std::fs::create_dir_all(&run_out)?;
        results_format::write_atomic(
            &run_out.join(crate::report::REPORT_FILE),
            crate::report::render(view)?.as_bytes(),
        )?;
        let workload = &view.archive.run.workload.name;
        // Runs are newest first: the previous run is the next one down.
        let previous = runs[i + 1..]
            .iter()
            .find(|r| &r.archive.run.workload.name == workload);
        let mut row = RunRow {
            name: name.clone(),
            label: view.archive.run.label.clone(),
            workload: workload.clone(),
            started: view
                .archive
                .run
                .started_at
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            backend: match view.archive.run.backend.kind {
                BackendKind::Testbed => "testbed (not Convex)".to_string(),
                BackendKind::Convex => format!(
                    "Convex {}",
                    view.archive.run.backend.version.clone().unwrap_or_default()
                ),
            },
            passed: view.archive.run.outcome.passed,
            headline: headline(view),
            report: format!("runs/{name}/report.html"),
            previous: None,
            compare: None,
            compare_verdict: None,
            compare_class: None,
        };
        if let Some(prev) = previous {
            let c = crate::compare::compare_views(
                prev.clone(),
                view.clone(),
                crate::bootstrap::DEFAULT_NOISE,
                false,
            )?;
            let page = crate::compare::write_page(&c, &out.join("compare"))?;
            let slower = !c.regressed().is_empty();
            let faster = c.metrics.iter().any(|m| m.verdict == Verdict::Faster);
            row.previous = Some(prev.archive.name());
            row.compare = Some(
                page.strip_prefix(out)
                    .unwrap_or(&page)
                    .to_string_lossy()
                    .into_owned(),
            );
            row.compare_verdict = Some(c.headline());
            row.compare_class = Some(
                if slower {
                    "slower"
                } else if faster {
                    "faster"
                } else {
                    "muted"
                }
                .to_string(),
            );
        }
        rows.push(row);
    }
    let trends = trends(&runs)?;
    let html = pages::render(
        "index.html",
        minijinja::context! {
            title => "Benchmark runs",
            generated => chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            runs => rows,
            trends => trends,
        },
    )?;
    let index = out.join("index.html");
    results_format::write_atomic(&index, html.as_bytes())?;
    Ok(index)
}

/// p50 / p99 of the first latency metric, for the index table.
fn headline(view: &RunView) -> String {
    view.metrics
        .iter()
        .find_map(|m| {
            m.summary.map(|s| {
                format!(
                    "{}: {} / {}",
                    m.label,
                    ms(s.p50_us as f64),
                    ms(s.p99_us as f64)
                )
            })
        })
        .unwrap_or_else(|| "–".into())
}

/// Per workload: p50, p99 and throughput of every metric across runs.
fn trends(runs: &[RunView]) -> anyhow::Result<Vec<Trend>> {
    let mut by_workload: BTreeMap<&str, Vec<&RunView>> = BTreeMap::new();
    for r in runs {
        by_workload
            .entry(&r.archive.run.workload.name)
            .or_default()
            .push(r);
    }
    let mut out = Vec::new();
    for (workload, mut runs) in by_workload {
        runs.sort_by_key(|r| r.archive.run.started_at);
        let mut labels: Vec<&str> = Vec::new();
        for r in &runs {
            for m in &r.metrics {
                if !labels.contains(&m.label.as_str()) {
                    labels.push(&m.label);
                }
            }
        }
        let series = |f: &dyn Fn(&crate::analysis::MetricView) -> Option<f64>| -> Vec<Line> {
            labels
                .iter()
                .map(|label| {
                    Line::new(
                        *label,
                        runs.iter()
                            .map(|r| {
                                let x = r.archive.run.started_at.timestamp() as f64;
                                (x, r.metrics.iter().find(|m| m.label == *label).and_then(f))
                            })
                            .collect(),
                    )
                })
                .collect()
        };
        let charts = [
            Chart {
                title: format!("{workload}: p50 response time per run"),
                x: XAxis::Date,
                y_label: "latency (ms)".into(),
                lines: series(&|m| m.summary.map(|s| s.p50_us as f64 / 1000.0)),
            },
            Chart {
                title: format!("{workload}: p99 response time per run"),
                x: XAxis::Date,
                y_label: "latency (ms)".into(),
                lines: series(&|m| m.summary.map(|s| s.p99_us as f64 / 1000.0)),
            },
            Chart {
                title: format!("{workload}: achieved throughput per run"),
                x: XAxis::Date,
                y_label: "requests per second".into(),
                lines: series(&|m| Some(m.metric.achieved_rate)),
            },
        ]
        .iter()
        .map(|c| charts::render(c).map(pages::svg))
        .collect::<anyhow::Result<Vec<_>>>()?;
        out.push(Trend {
            workload: workload.to_string(),
            charts,
        });
    }
    let _ = rate;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::SyntheticRun;
    use crate::test_support::tempdir;

    #[test]
    fn site_lists_runs_newest_first_with_reports_trends_and_comparisons() {
        let results = tempdir("archive");
        for (seed, day) in [(1u64, 1), (2, 2), (3, 3)] {
            let mut run = SyntheticRun::smoke(seed);
            run.started_at += chrono::Duration::days(day);
            if day == 3 {
                run = run.with_factor("query", 1.3);
            }
            run.write(&results.join(format!("2026120{day}T100000Z-smoke-0000000{day}")))
                .unwrap();
        }
        let mut other = SyntheticRun::smoke(9);
        other.workload = "other".into();
        other
            .write(&results.join("20261201T120000Z-other-00000009"))
            .unwrap();
        std::fs::create_dir_all(results.join("compare-x-y")).unwrap();

        let out = tempdir("site");
        let index = publish(&results, &out).unwrap();
        let html = std::fs::read_to_string(index).unwrap();
        let pos = |s: &str| html.find(s).unwrap_or_else(|| panic!("{s} missing"));
        assert!(pos("20261203T100000Z-smoke") < pos("20261202T100000Z-smoke"));
        assert!(pos("20261202T100000Z-smoke") < pos("20261201T100000Z-smoke"));
        for n in 1..=3 {
            let report = out.join(format!(
                "runs/2026120{n}T100000Z-smoke-0000000{n}/report.html"
            ));
            assert!(report.is_file(), "{} missing", report.display());
        }
        let cmp = out.join(
            "compare/compare-20261202T100000Z-smoke-00000002-20261203T100000Z-smoke-00000003/index.html",
        );
        assert!(cmp.is_file());
        assert!(
            html.contains(
                "REGRESSION: slower on RunFunction&#x2f;query (query_index:queryMessages)"
            )
        );
        assert!(html.contains("first run of this workload"));
        // Trends: 3 charts for each of the 2 workloads.
        assert_eq!(html.matches("<svg").count(), 6);
        assert!(html.contains("Trends: workload smoke") && html.contains("Trends: workload other"));
    }
}
