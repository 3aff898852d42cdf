//! `cargo xtask report <run>`: renders `report.html` in a run folder from
//! its archived files alone.

use std::path::{Path, PathBuf};

use results_format::{BackendKind, LatencyKind, RunInfo, RunStatus};
use serde::Serialize;

use crate::analysis::{MetricView, RunView};
use crate::charts::{self, Chart, Line, XAxis};
use crate::pages::{self, ms, percent, rate};

pub const REPORT_FILE: &str = "report.html";

#[derive(clap::Args)]
pub struct ReportArgs {
    /// The run folder (e.g. results/20261204T120000Z-smoke-1a2b3c4d).
    pub run: PathBuf,
}

pub fn run(args: &ReportArgs) -> anyhow::Result<()> {
    let path = render_to_folder(&args.run)?;
    println!("report: {}", path.display());
    Ok(())
}

/// Reads the run folder, writes its `report.html`, returns that path.
pub fn render_to_folder(dir: &Path) -> anyhow::Result<PathBuf> {
    let view = crate::analysis::load_named(dir)?;
    let html = render(&view)?;
    let path = dir.join(REPORT_FILE);
    results_format::write_atomic(&path, html.as_bytes())?;
    Ok(path)
}

#[derive(Serialize)]
struct Fact {
    name: &'static str,
    value: String,
}

#[derive(Serialize)]
pub struct SummaryRow {
    pub metric: String,
    pub requests: u64,
    pub target_rps: String,
    pub achieved_rps: String,
    pub errors: u64,
    pub timeouts: u64,
    pub dropped: u64,
    pub error_rate: String,
    pub p50: String,
    pub p90: String,
    pub p99: String,
    pub p999: String,
    pub max: String,
    pub mean: String,
}

#[derive(Serialize)]
struct ThresholdRow {
    metric: String,
    rule: String,
    actual: String,
    passed: bool,
}

#[derive(Serialize)]
struct MetricSection {
    id: String,
    title: String,
    kinds: Vec<SummaryRow>,
    errors: Vec<(String, String, u64)>,
    charts: Vec<minijinja::Value>,
}

pub fn render(view: &RunView) -> anyhow::Result<String> {
    let run = &view.archive.run;
    // Metrics that saw no request at all (e.g. reconnects that never
    // happened) would only add empty charts.
    let active: Vec<&MetricView> = view.metrics.iter().filter(|m| is_active(m)).collect();
    let sections = active
        .iter()
        .copied()
        .enumerate()
        .map(|(i, m)| metric_section(i, m))
        .collect::<anyhow::Result<Vec<_>>>()?;
    pages::render(
        "report.html",
        minijinja::context! {
            title => format!("{} — {}", run.workload.name, view.archive.name()),
            run_name => view.archive.name(),
            testbed => run.backend.kind == BackendKind::Testbed,
            facts => facts(run),
            passed => run.outcome.passed,
            verdict => verdict_text(run),
            reason => run.outcome.reason.clone(),
            partial => run.outcome.partial,
            thresholds => threshold_rows(run),
            error_budget => run.outcome.error_budget.as_ref().map(|b| {
                format!("{} errors and timeouts, {} allowed (one per second of run time): {}",
                    b.errors, b.allowed, if b.passed { "kept" } else { "exceeded" })
            }),
            summary => active.iter().copied().map(summary_row).collect::<Vec<_>>(),
            idle => view.metrics.iter().filter(|m| !is_active(m)).map(|m| m.label.clone()).collect::<Vec<_>>(),
            sections => sections,
            workload_json => serde_json::to_string_pretty(&run.workload.content)?,
        },
    )
}

pub fn is_active(m: &MetricView) -> bool {
    m.metric.totals.requests > 0 || m.metric.totals.dropped > 0
}

pub fn verdict_text(run: &RunInfo) -> String {
    let failed_thresholds = run.outcome.thresholds.iter().filter(|t| !t.passed).count();
    let mut parts = Vec::new();
    if run.outcome.status != RunStatus::Completed {
        parts.push(format!("run {}", status_text(run.outcome.status)));
    }
    if failed_thresholds > 0 {
        parts.push(format!(
            "{failed_thresholds} of {} thresholds failed",
            run.outcome.thresholds.len()
        ));
    }
    if let Some(b) = &run.outcome.error_budget
        && !b.passed
    {
        parts.push("error budget exceeded".to_string());
    }
    if run.outcome.passed {
        format!(
            "PASSED ({} thresholds met, error budget kept)",
            run.outcome.thresholds.len()
        )
    } else if parts.is_empty() {
        "FAILED".to_string()
    } else {
        format!("FAILED: {}", parts.join("; "))
    }
}

fn status_text(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Running => "still running (partial flush)",
        RunStatus::Completed => "completed",
        RunStatus::Interrupted => "interrupted",
        RunStatus::BackendFailed => "lost the backend",
        RunStatus::Failed => "failed",
    }
}

fn facts(run: &RunInfo) -> Vec<Fact> {
    let backend_kind = match run.backend.kind {
        BackendKind::Testbed => "testbed (the project's local stand-in, not Convex)",
        BackendKind::Convex => "Convex",
    };
    let mut facts = vec![
        Fact {
            name: "workload",
            value: match &run.workload.source {
                Some(source) => format!("{} ({source})", run.workload.name),
                None => run.workload.name.clone(),
            },
        },
        Fact {
            name: "backend",
            value: backend_kind.to_string(),
        },
        Fact {
            name: "backend version",
            value: run
                .backend
                .version
                .clone()
                .unwrap_or_else(|| "unknown".into()),
        },
        Fact {
            name: "backend URL",
            value: run.backend.url.clone(),
        },
        Fact {
            name: "started (UTC)",
            value: run.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        },
        Fact {
            name: "duration",
            value: match run.planned_duration_secs {
                Some(planned) => format!(
                    "{:.1} s measured of {planned:.0} s planned",
                    run.duration_secs
                ),
                None => format!("{:.1} s", run.duration_secs),
            },
        },
        Fact {
            name: "status",
            value: status_text(run.outcome.status).to_string(),
        },
        Fact {
            name: "generator",
            value: format!("{} {}", run.generator.name, run.generator.version),
        },
        Fact {
            name: "git commit",
            value: run
                .generator
                .git_commit
                .clone()
                .unwrap_or_else(|| "unknown".into()),
        },
        Fact {
            name: "host",
            value: format!(
                "{} ({} {}, {} CPUs{})",
                run.host.hostname,
                run.host.os,
                run.host.arch,
                run.host.cpus,
                run.host
                    .memory_bytes
                    .map(|b| format!(", {:.1} GiB", b as f64 / (1u64 << 30) as f64))
                    .unwrap_or_default()
            ),
        },
        Fact {
            name: "run id",
            value: run.run_id.clone(),
        },
    ];
    if run.warmup_secs > 0.0 {
        facts.push(Fact {
            name: "warm-up",
            value: format!("{:.0} s (excluded)", run.warmup_secs),
        });
    }
    if let Some(label) = &run.label {
        facts.insert(
            1,
            Fact {
                name: "label",
                value: label.clone(),
            },
        );
    }
    facts
}

fn threshold_rows(run: &RunInfo) -> Vec<ThresholdRow> {
    run.outcome
        .thresholds
        .iter()
        .map(|t| ThresholdRow {
            metric: t.metric.clone(),
            rule: format!("{} {} {}", t.statistic, t.comparison, t.limit),
            actual: t
                .actual
                .map(|a| format!("{a:.3}"))
                .unwrap_or_else(|| "no data".into()),
            passed: t.passed,
        })
        .collect()
}

pub fn summary_row(m: &MetricView) -> SummaryRow {
    row_for(&m.label, m, m.summary.as_ref())
}

fn row_for(label: &str, m: &MetricView, s: Option<&results_format::Summary>) -> SummaryRow {
    let t = &m.metric.totals;
    let lat = |f: fn(&results_format::Summary) -> f64| {
        s.filter(|s| s.count > 0)
            .map(|s| ms(f(s)))
            .unwrap_or_else(|| "–".into())
    };
    SummaryRow {
        metric: label.to_string(),
        requests: t.requests,
        target_rps: m.metric.target_rate.map(rate).unwrap_or_else(|| "–".into()),
        achieved_rps: rate(m.metric.achieved_rate),
        errors: t.errors,
        timeouts: t.timeouts,
        dropped: t.dropped,
        error_rate: percent(t.error_rate()),
        p50: lat(|s| s.p50_us as f64),
        p90: lat(|s| s.p90_us as f64),
        p99: lat(|s| s.p99_us as f64),
        p999: lat(|s| s.p999_us as f64),
        max: lat(|s| s.max_us as f64),
        mean: lat(|s| s.mean_us),
    }
}

fn metric_section(index: usize, m: &MetricView) -> anyhow::Result<MetricSection> {
    let kinds = LatencyKind::ALL
        .iter()
        .filter_map(|kind| {
            m.metric
                .latencies
                .get(kind)
                .map(|r| row_for(kind.label(), m, Some(&r.summary)))
        })
        .collect();
    let mut charts = Vec::new();
    for chart in metric_charts(m) {
        charts.push(pages::svg(charts::render(&chart)?));
    }
    Ok(MetricSection {
        id: format!("metric-{index}"),
        title: m.label.clone(),
        kinds,
        errors: m
            .metric
            .error_samples
            .iter()
            .map(|e| (e.category.clone(), e.message.clone(), e.count))
            .collect(),
        charts,
    })
}

pub fn time_axis(step_secs: f64, t_max: f64) -> (f64, XAxis) {
    let _ = step_secs;
    if t_max > 1200.0 {
        (
            60.0,
            XAxis::Linear {
                label: "time since start (min)".into(),
            },
        )
    } else {
        (
            1.0,
            XAxis::Linear {
                label: "time since start (s)".into(),
            },
        )
    }
}

/// The four charts of one metric, in the order the report shows them.
pub fn metric_charts(m: &MetricView) -> Vec<Chart> {
    let s = &m.series;
    let t_max = s.t_secs.last().copied().unwrap_or(0.0);
    let (scale, x) = time_axis(s.step_secs, t_max);
    let t = |i: usize| s.t_secs[i] / scale;
    let per = if s.step_secs == 1.0 {
        "per second".to_string()
    } else {
        format!("per {} s", s.step_secs)
    };
    let mut out = Vec::new();
    if m.summary.is_some() {
        out.push(Chart {
            title: format!("{}: latency percentile distribution", m.label),
            x: XAxis::Percentile,
            y_label: "latency (ms)".into(),
            lines: vec![Line::new(
                "response time",
                m.distribution.iter().map(|&(x, y)| (x, Some(y))).collect(),
            )],
        });
        out.push(Chart {
            title: format!("{}: latency over time ({per})", m.label),
            x: clone_axis(&x),
            y_label: "latency (ms)".into(),
            lines: vec![
                Line::new(
                    "p50",
                    s.p50_ms
                        .iter()
                        .enumerate()
                        .map(|(i, v)| (t(i), *v))
                        .collect(),
                ),
                Line::new(
                    "p99",
                    s.p99_ms
                        .iter()
                        .enumerate()
                        .map(|(i, v)| (t(i), *v))
                        .collect(),
                ),
            ],
        });
    }
    out.push(Chart {
        title: format!("{}: throughput over time ({per})", m.label),
        x: clone_axis(&x),
        y_label: "requests per second".into(),
        lines: vec![
            Line::new(
                "target",
                s.target_rps
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (t(i), *v))
                    .collect(),
            )
            .dashed(),
            Line::new(
                "achieved",
                s.achieved_rps
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (t(i), Some(*v)))
                    .collect(),
            ),
        ],
    });
    out.push(Chart {
        title: format!("{}: errors and timeouts over time ({per})", m.label),
        x,
        y_label: "count per point".into(),
        lines: vec![
            Line::new(
                "errors",
                s.errors
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (t(i), Some(*v as f64)))
                    .collect(),
            ),
            Line::new(
                "timeouts",
                s.timeouts
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (t(i), Some(*v as f64)))
                    .collect(),
            )
            .dashed(),
        ],
    });
    out
}

pub fn clone_axis(x: &XAxis) -> XAxis {
    match x {
        XAxis::Linear { label } => XAxis::Linear {
            label: label.clone(),
        },
        XAxis::Percentile => XAxis::Percentile,
        XAxis::Date => XAxis::Date,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::SyntheticRun;

    #[test]
    fn report_has_facts_verdict_tables_and_every_chart() {
        let dir = tempdir("report");
        SyntheticRun::smoke(1).write(&dir).unwrap();
        let path = render_to_folder(&dir).unwrap();
        let html = std::fs::read_to_string(path).unwrap();
        for text in [
            "smoke",
            "convex-bench-testbed 0.1.0",
            "not Convex",
            "PASSED",
            "RunFunction/query (query_index:queryMessages)",
            "latency percentile distribution",
            "latency over time",
            "throughput over time",
            "errors and timeouts over time",
            "percentile (%)",
            "latency (ms)",
            "requests per second",
            "git commit",
            "synthetic-host",
        ] {
            assert!(html.contains(text), "report lacks {text:?}");
        }
        // 3 metrics with latencies, 4 charts each.
        assert_eq!(html.matches("<svg").count(), 12);
        assert!(
            !html.contains("<script"),
            "the report must not need a script"
        );
        assert!(!html.contains("http://cdn") && !html.contains("https://"));
    }

    #[test]
    fn workload_text_is_escaped() {
        let dir = tempdir("escape");
        SyntheticRun {
            label: Some("<script>alert(1)</script>".into()),
            ..SyntheticRun::smoke(2)
        }
        .write(&dir)
        .unwrap();
        let html = std::fs::read_to_string(render_to_folder(&dir).unwrap()).unwrap();
        assert!(!html.contains("<script>alert(1)</script>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;"));
    }

    pub fn tempdir(name: &str) -> PathBuf {
        crate::test_support::tempdir(name)
    }
}
