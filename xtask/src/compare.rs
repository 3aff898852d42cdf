//! `cargo xtask compare <run-a> <run-b>`: per-metric statistics of two runs,
//! judged with the block bootstrap of `bootstrap.rs`; a terminal table and
//! an HTML page with overlaid charts.

use std::path::{Path, PathBuf};

use anyhow::bail;
use results_format::BackendKind;
use serde::Serialize;

use crate::analysis::{MetricView, RunView};
use crate::bootstrap::{self, Blocks, StatComparison, Verdict};
use crate::charts::{self, Chart, Line, XAxis};
use crate::pages::{self, ms, percent, rate};
use crate::report::{clone_axis, time_axis};

#[derive(clap::Args)]
pub struct CompareArgs {
    /// Baseline run folder.
    pub run_a: PathBuf,
    /// Candidate run folder.
    pub run_b: PathBuf,
    /// Relative change below which a difference is noise.
    #[arg(long, default_value_t = bootstrap::DEFAULT_NOISE)]
    pub noise: f64,
    /// Exit non-zero when any metric is significantly slower (CI gate).
    #[arg(long)]
    pub fail_on_regression: bool,
    /// Compare runs of different workloads anyway.
    #[arg(long)]
    pub force: bool,
    /// Where `compare-<a>-<b>/` goes (default: `results/`).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// One metric present in both runs, compared.
#[derive(Debug)]
pub struct MetricComparison {
    pub label: String,
    pub stats: Vec<StatComparison>,
    pub verdict: Verdict,
    pub a: MetricView,
    pub b: MetricView,
}

#[derive(Debug)]
pub struct Comparison {
    pub a: RunView,
    pub b: RunView,
    pub metrics: Vec<MetricComparison>,
    /// Metrics found in only one run.
    pub unmatched: Vec<String>,
    pub forced: bool,
    pub noise: f64,
}

impl Comparison {
    pub fn regressed(&self) -> Vec<&str> {
        self.metrics
            .iter()
            .filter(|m| m.verdict == Verdict::Slower)
            .map(|m| m.label.as_str())
            .collect()
    }

    pub fn headline(&self) -> String {
        let slower = self.regressed();
        let faster: Vec<&str> = self
            .metrics
            .iter()
            .filter(|m| m.verdict == Verdict::Faster)
            .map(|m| m.label.as_str())
            .collect();
        if !slower.is_empty() {
            format!("REGRESSION: slower on {}", slower.join(", "))
        } else if !faster.is_empty() {
            format!("Faster on {}; nothing slower", faster.join(", "))
        } else {
            "No significant change".to_string()
        }
    }
}

pub fn run(args: &CompareArgs, results_dir: &Path) -> anyhow::Result<()> {
    let comparison = compare_folders(&args.run_a, &args.run_b, args.noise, args.force)?;
    print!("{}", terminal_table(&comparison));
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| results_dir.to_path_buf());
    let page = write_page(&comparison, &out_dir)?;
    println!("{}", comparison.headline());
    println!("comparison: {}", page.display());
    let regressed = comparison.regressed();
    if args.fail_on_regression && !regressed.is_empty() {
        bail!(
            "significantly slower (beyond {:.0}% noise): {}",
            args.noise * 100.0,
            regressed.join(", ")
        );
    }
    Ok(())
}

pub fn compare_folders(a: &Path, b: &Path, noise: f64, force: bool) -> anyhow::Result<Comparison> {
    anyhow::ensure!(
        (0.0..1.0).contains(&noise),
        "--noise must be a fraction in [0, 1), got {noise}"
    );
    let a = crate::analysis::load_named(a)?;
    let b = crate::analysis::load_named(b)?;
    compare_views(a, b, noise, force)
}

pub fn compare_views(
    a: RunView,
    b: RunView,
    noise: f64,
    force: bool,
) -> anyhow::Result<Comparison> {
    let (wa, wb) = (
        a.archive.run.workload.name.clone(),
        b.archive.run.workload.name.clone(),
    );
    if wa != wb && !force {
        bail!(
            "refusing to compare runs of different workloads: {} ran `{wa}`, {} ran `{wb}` \
             (pass --force to compare anyway)",
            a.archive.dir.display(),
            b.archive.dir.display()
        );
    }
    let mut unmatched = Vec::new();
    let mut pairs = Vec::new();
    for ma in &a.metrics {
        match b.metrics.iter().find(|mb| mb.metric.key == ma.metric.key) {
            Some(mb) => pairs.push((ma.clone(), mb.clone())),
            None => unmatched.push(format!("{} (only in A)", ma.label)),
        }
    }
    for mb in &b.metrics {
        if !a.metrics.iter().any(|ma| ma.metric.key == mb.metric.key) {
            unmatched.push(format!("{} (only in B)", mb.label));
        }
    }
    // Each metric's bootstrap is independent: use every core.
    let metrics = std::thread::scope(|scope| {
        let handles: Vec<_> = pairs
            .into_iter()
            .filter(|(ma, mb)| ma.summary.is_some() && mb.summary.is_some())
            .map(|(ma, mb)| {
                scope.spawn(move || {
                    let stats = bootstrap::compare(
                        &Blocks::from_intervals(&ma.response_intervals),
                        &Blocks::from_intervals(&mb.response_intervals),
                        noise,
                    );
                    MetricComparison {
                        label: ma.label.clone(),
                        verdict: bootstrap::metric_verdict(&stats),
                        stats,
                        a: ma,
                        b: mb,
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("bootstrap does not panic"))
            .collect()
    });
    Ok(Comparison {
        a,
        b,
        metrics,
        unmatched,
        forced: wa != wb,
        noise,
    })
}

#[derive(Serialize)]
struct Row {
    statistic: String,
    a: String,
    b: String,
    change: String,
    ci: String,
    verdict: String,
    verdict_class: String,
}

fn rows(m: &MetricComparison) -> Vec<Row> {
    let mut rows: Vec<Row> = m
        .stats
        .iter()
        .map(|s| Row {
            statistic: format!("{} (ms)", s.statistic.label()),
            a: ms(s.a_us),
            b: ms(s.b_us),
            change: signed_percent(s.change()),
            ci: if s.ci_low.is_finite() {
                format!("{:.3} – {:.3}", s.ci_low, s.ci_high)
            } else {
                "–".into()
            },
            verdict: if s.statistic.decides_verdict() {
                s.verdict.label().to_string()
            } else {
                format!("{} (informative)", s.verdict.label())
            },
            verdict_class: s.verdict.css_class().into(),
        })
        .collect();
    let (ta, tb) = (&m.a.metric, &m.b.metric);
    rows.push(Row {
        statistic: "throughput (req/s)".into(),
        a: rate(ta.achieved_rate),
        b: rate(tb.achieved_rate),
        change: signed_percent(tb.achieved_rate / ta.achieved_rate - 1.0),
        ci: "–".into(),
        verdict: String::new(),
        verdict_class: String::new(),
    });
    let (ea, eb) = (ta.totals.error_rate(), tb.totals.error_rate());
    rows.push(Row {
        statistic: "error rate".into(),
        a: percent(ea),
        b: percent(eb),
        change: format!("{:+.2} pp", (eb - ea) * 100.0),
        ci: "–".into(),
        verdict: String::new(),
        verdict_class: String::new(),
    });
    rows
}

fn signed_percent(change: f64) -> String {
    if change.is_finite() {
        format!("{:+.1}%", change * 100.0)
    } else {
        "–".into()
    }
}

pub fn terminal_table(c: &Comparison) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "A: {}\nB: {}\n",
        c.a.archive.dir.display(),
        c.b.archive.dir.display()
    ));
    let header = [
        "metric",
        "statistic",
        "A",
        "B",
        "change",
        "95% CI B/A",
        "verdict",
    ];
    let mut table: Vec<[String; 7]> = vec![header.map(String::from)];
    for m in &c.metrics {
        for (i, r) in rows(m).into_iter().enumerate() {
            table.push([
                if i == 0 {
                    format!("{} [{}]", m.label, m.verdict.label())
                } else {
                    String::new()
                },
                r.statistic,
                r.a,
                r.b,
                r.change,
                r.ci,
                r.verdict,
            ]);
        }
    }
    out.push_str(&crate::table::format(&table));
    for u in &c.unmatched {
        out.push_str(&format!("not compared: {u}\n"));
    }
    out
}

/// Writes `compare-<a>-<b>/index.html` under `out_dir`; returns its path.
pub fn write_page(c: &Comparison, out_dir: &Path) -> anyhow::Result<PathBuf> {
    let dir = out_dir.join(format!(
        "compare-{}-{}",
        c.a.archive.name(),
        c.b.archive.name()
    ));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("index.html");
    results_format::write_atomic(&path, render(c)?.as_bytes())?;
    Ok(path)
}

#[derive(Serialize)]
struct MetricSection {
    index: usize,
    label: String,
    verdict: String,
    verdict_class: String,
    rows: Vec<Row>,
    charts: Vec<minijinja::Value>,
}

pub fn render(c: &Comparison) -> anyhow::Result<String> {
    let metrics = c
        .metrics
        .iter()
        .enumerate()
        .map(|(index, m)| {
            let charts = overlay_charts(m)
                .iter()
                .map(|chart| charts::render(chart).map(pages::svg))
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok(MetricSection {
                index,
                label: m.label.clone(),
                verdict: m.verdict.label().into(),
                verdict_class: m.verdict.css_class().into(),
                rows: rows(m),
                charts,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (ra, rb) = (&c.a.archive.run, &c.b.archive.run);
    let backend = |r: &results_format::RunInfo| {
        format!(
            "{} {}",
            match r.backend.kind {
                BackendKind::Testbed => "testbed",
                BackendKind::Convex => "Convex",
            },
            r.backend.version.clone().unwrap_or_default()
        )
    };
    pages::render(
        "compare.html",
        minijinja::context! {
            title => format!("Compare {} → {}", c.a.archive.name(), c.b.archive.name()),
            a_name => c.a.archive.name(),
            b_name => c.b.archive.name(),
            a_when => ra.started_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            b_when => rb.started_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            a_backend => backend(ra),
            b_backend => backend(rb),
            testbed => ra.backend.kind == BackendKind::Testbed || rb.backend.kind == BackendKind::Testbed,
            workload => ra.workload.name.clone(),
            forced => c.forced,
            regressed => !c.regressed().is_empty(),
            headline => c.headline(),
            method => format!(
                "block bootstrap over the per-interval response-time histograms ({} resamples); \
                 verdict per statistic from the 95% confidence interval of B/A against a noise \
                 threshold of {:.0}%; a metric is slower when its p50, p90, p99 or mean is.",
                bootstrap::RESAMPLES, c.noise * 100.0),
            metrics => metrics,
        },
    )
}

fn overlay_charts(m: &MetricComparison) -> Vec<Chart> {
    let t_max =
        m.a.series
            .t_secs
            .last()
            .copied()
            .unwrap_or(0.0)
            .max(m.b.series.t_secs.last().copied().unwrap_or(0.0));
    let (scale, x) = time_axis(m.a.series.step_secs, t_max);
    let over_time = |v: &MetricView, f: fn(&crate::analysis::Series, usize) -> Option<f64>| {
        (0..v.series.t_secs.len())
            .map(|i| (v.series.t_secs[i] / scale, f(&v.series, i)))
            .collect::<Vec<_>>()
    };
    vec![
        Chart {
            title: format!("{}: latency percentile distribution, A vs B", m.label),
            x: XAxis::Percentile,
            y_label: "latency (ms)".into(),
            lines: vec![
                Line::new(
                    "A",
                    m.a.distribution
                        .iter()
                        .map(|&(x, y)| (x, Some(y)))
                        .collect(),
                ),
                Line::new(
                    "B",
                    m.b.distribution
                        .iter()
                        .map(|&(x, y)| (x, Some(y)))
                        .collect(),
                ),
            ],
        },
        Chart {
            title: format!("{}: latency over time, A vs B", m.label),
            x: clone_axis(&x),
            y_label: "latency (ms)".into(),
            lines: vec![
                Line::new("A p50", over_time(&m.a, |s, i| s.p50_ms[i])),
                Line::new("B p50", over_time(&m.b, |s, i| s.p50_ms[i])),
                Line::new("A p99", over_time(&m.a, |s, i| s.p99_ms[i])).dashed(),
                Line::new("B p99", over_time(&m.b, |s, i| s.p99_ms[i])).dashed(),
            ],
        },
        Chart {
            title: format!("{}: throughput over time, A vs B", m.label),
            x,
            y_label: "requests per second".into(),
            lines: vec![
                Line::new(
                    "A achieved",
                    over_time(&m.a, |s, i| Some(s.achieved_rps[i])),
                ),
                Line::new(
                    "B achieved",
                    over_time(&m.b, |s, i| Some(s.achieved_rps[i])),
                ),
            ],
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::SyntheticRun;
    use crate::test_support::tempdir;

    fn write(run: SyntheticRun, name: &str) -> PathBuf {
        let dir = tempdir(name);
        run.write(&dir).unwrap();
        dir
    }

    #[test]
    fn fault_on_one_metric_is_slower_there_only() {
        let a = write(SyntheticRun::smoke(21), "a");
        let b = write(SyntheticRun::smoke(22).with_factor("mutation", 1.3), "b");
        let c = compare_folders(&a, &b, 0.05, false).unwrap();
        for m in &c.metrics {
            let expected = if m.label.contains("mutation (") {
                Verdict::Slower
            } else {
                Verdict::NoChange
            };
            assert_eq!(m.verdict, expected, "{}", m.label);
        }
        assert_eq!(c.metrics.len(), 3);
        assert_eq!(c.regressed().len(), 1);
        let out = tempdir("cmp-out");
        let page = write_page(&c, &out).unwrap();
        let html = std::fs::read_to_string(&page).unwrap();
        assert!(html.contains("REGRESSION"));
        assert_eq!(html.matches("<svg").count(), 9);
        assert!(page.to_string_lossy().contains("compare-"));
        let table = terminal_table(&c);
        assert!(table.contains("slower"), "{table}");
    }

    #[test]
    fn same_configuration_is_unchanged() {
        let a = write(SyntheticRun::smoke(31), "same-a");
        let b = write(SyntheticRun::smoke(32), "same-b");
        let c = compare_folders(&a, &b, 0.05, false).unwrap();
        assert!(c.metrics.iter().all(|m| m.verdict == Verdict::NoChange));
        assert_eq!(c.headline(), "No significant change");
    }

    #[test]
    fn different_workloads_are_refused_unless_forced() {
        let a = write(SyntheticRun::smoke(41), "wl-a");
        let mut other = SyntheticRun::smoke(42);
        other.workload = "other".into();
        let b = write(other, "wl-b");
        let err = compare_folders(&a, &b, 0.05, false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("different workloads") && err.contains("--force"),
            "{err}"
        );
        assert!(compare_folders(&a, &b, 0.05, true).unwrap().forced);
    }

    #[test]
    fn missing_and_corrupt_runs_are_refused_clearly() {
        let a = write(SyntheticRun::smoke(51), "ok");
        let missing = a.with_file_name("no-such-run");
        let err = format!(
            "{:#}",
            compare_folders(&a, &missing, 0.05, false).unwrap_err()
        );
        assert!(
            err.contains("no-such-run") && err.contains("no such run folder"),
            "{err}"
        );

        let corrupt = write(SyntheticRun::smoke(52), "corrupt");
        let path = corrupt.join(results_format::HISTOGRAMS_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, &text[..text.len() / 2]).unwrap();
        let err = format!(
            "{:#}",
            compare_folders(&a, &corrupt, 0.05, false).unwrap_err()
        );
        assert!(
            err.contains("histograms.json") && err.contains("invalid JSON"),
            "{err}"
        );

        let newer = write(SyntheticRun::smoke(53), "newer");
        let path = newer.join(results_format::RUN_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            text.replacen("\"schema_version\": 1", "\"schema_version\": 99", 1),
        )
        .unwrap();
        let err = format!(
            "{:#}",
            compare_folders(&a, &newer, 0.05, false).unwrap_err()
        );
        assert!(err.contains("schema_version 99"), "{err}");
    }
}
