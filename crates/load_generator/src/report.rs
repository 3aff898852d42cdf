//! The end-of-run stats report: a table for the terminal, or one JSON
//! document (`--format json`). Latencies shown are response times (from
//! the scheduled start); start lag p99 shows how late the generator was.

use std::fmt::Write as _;

use results_format::{HistogramsFile, LatencyKind, Metric, RunInfo, Summary};
use serde_json::json;

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

fn rate(r: Option<f64>) -> String {
    r.map_or("-".into(), |r| format!("{r:.2}"))
}

fn summary(metric: &Metric, kind: LatencyKind) -> Option<Summary> {
    metric.latencies.get(&kind).map(|r| r.summary)
}

pub fn text(run: &RunInfo, histograms: &HistogramsFile) -> String {
    let mut out = String::new();
    let headers = [
        "metric",
        "count",
        "target/s",
        "achieved/s",
        "mean ms",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "errors",
        "timeouts",
        "dropped",
        "lag p99 ms",
    ];
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut hidden = 0;
    for m in &histograms.metrics {
        // Metrics that never fired and were not driven (reconnects, ...)
        // stay in the files but would only clutter the table.
        if m.totals.requests == 0 && m.totals.dropped == 0 && m.target_rate.is_none() {
            hidden += 1;
            continue;
        }
        let response = summary(m, LatencyKind::ResponseTime);
        let lag = summary(m, LatencyKind::StartLag);
        let cell = |f: fn(&Summary) -> u64| response.map_or("-".into(), |s| ms(f(&s)));
        rows.push(vec![
            m.key.to_string(),
            m.totals.requests.to_string(),
            rate(m.target_rate),
            format!("{:.2}", m.achieved_rate),
            response.map_or("-".into(), |s| format!("{:.2}", s.mean_us / 1000.0)),
            cell(|s| s.p50_us),
            cell(|s| s.p90_us),
            cell(|s| s.p99_us),
            cell(|s| s.p999_us),
            cell(|s| s.max_us),
            m.totals.errors.to_string(),
            m.totals.timeouts.to_string(),
            m.totals.dropped.to_string(),
            lag.map_or("-".into(), |s| ms(s.p99_us)),
        ]);
    }
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([headers[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>, out: &mut String| {
        for (i, c) in cells.iter().enumerate() {
            if i == 0 {
                let _ = write!(out, "{c:<w$}", w = widths[i]);
            } else {
                let _ = write!(out, "  {c:>w$}", w = widths[i]);
            }
        }
        out.push('\n');
    };
    let _ = writeln!(
        out,
        "{} on {} ({}): {:.1} s measured, status {:?}{}",
        run.workload.name,
        run.backend.url,
        run.backend.version.as_deref().unwrap_or("version unknown"),
        run.duration_secs,
        run.outcome.status,
        run.outcome
            .reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default(),
    );
    line(headers.to_vec(), &mut out);
    for r in &rows {
        line(r.iter().map(String::as_str).collect(), &mut out);
    }
    if hidden > 0 {
        let _ = writeln!(
            out,
            "({hidden} metrics with no events not shown; see histograms.json)"
        );
    }
    for m in &histograms.metrics {
        for sample in &m.error_samples {
            let _ = writeln!(
                out,
                "  {} {} x{}: {}",
                m.key, sample.category, sample.count, sample.message
            );
        }
    }
    for t in &run.outcome.thresholds {
        let _ = writeln!(
            out,
            "threshold {} {} {} {}: {} -> {}",
            t.metric,
            t.statistic,
            t.comparison,
            t.limit,
            t.actual.map_or("no data".into(), |a| format!("{a:.3}")),
            if t.passed { "pass" } else { "FAIL" }
        );
    }
    if let Some(b) = &run.outcome.error_budget {
        let _ = writeln!(
            out,
            "error budget: {} errors+timeouts, fewer than {} allowed -> {}",
            b.errors,
            b.allowed,
            if b.passed { "pass" } else { "FAIL" }
        );
    }
    let _ = writeln!(
        out,
        "result: {}",
        if run.outcome.passed {
            "PASSED"
        } else {
            "FAILED"
        }
    );
    out
}

/// `--format json`: the outcome and each metric's summaries.
pub fn json(
    run: &RunInfo,
    histograms: &HistogramsFile,
    output: &std::path::Path,
) -> serde_json::Value {
    let metrics: Vec<_> = histograms
        .metrics
        .iter()
        .map(|m| {
            json!({
                "scenario": m.key.scenario,
                "name": m.key.name,
                "path": m.key.path,
                "target_rate": m.target_rate,
                "achieved_rate": m.achieved_rate,
                "totals": m.totals,
                "response_time": summary(m, LatencyKind::ResponseTime),
                "service_time": summary(m, LatencyKind::ServiceTime),
                "start_lag": summary(m, LatencyKind::StartLag),
                "error_samples": m.error_samples,
            })
        })
        .collect();
    json!({
        "run_id": run.run_id,
        "output": output.display().to_string(),
        "workload": run.workload.name,
        "backend": run.backend,
        "duration_secs": run.duration_secs,
        "outcome": run.outcome,
        "metrics": metrics,
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use chrono::Utc;
    use results_format::MetricKey;

    use crate::recorder::{INTERVAL, Recorder};
    use crate::scenario::{MetricSink, RequestOutcome, RequestTiming};

    #[test]
    fn table_shows_driven_metrics_errors_and_verdict() {
        let recorder = Recorder::new();
        let key = |name: &str| MetricKey {
            scenario: "RunFunction".into(),
            name: name.into(),
            path: Some("q".into()),
        };
        let query = recorder.register(key("query"), Some(10.0));
        recorder.register(key("reconnect"), None);
        let start = Instant::now();
        recorder.start_measurement(start, Utc::now());
        let timing = RequestTiming {
            scheduled: start,
            sent: start + Duration::from_millis(1),
            finished: start + Duration::from_millis(25),
        };
        recorder.record(query, timing, RequestOutcome::Success);
        recorder.record(
            query,
            timing,
            RequestOutcome::Error {
                category: "query".into(),
                message: "Server error".into(),
            },
        );
        recorder.close_interval(INTERVAL);
        let histograms = recorder.histograms_file(Duration::from_secs(1));
        let run: results_format::RunInfo = serde_json::from_value(serde_json::json!({
            "schema_version": 1, "run_id": "r",
            "workload": {"name": "w", "sha256": "0", "content": {}},
            "backend": {"url": "http://127.0.0.1:1", "kind": "testbed"},
            "generator": {"name": "g", "version": "0"},
            "host": {"hostname": "h", "os": "linux", "arch": "x86_64", "cpus": 2},
            "started_at": "2026-01-01T00:00:00Z", "duration_secs": 1.0,
            "outcome": {"status": "completed", "partial": false, "passed": false,
                        "error_budget": {"errors": 1, "allowed": 1, "passed": false}}
        }))
        .unwrap();
        let text = super::text(&run, &histograms);
        let row = text
            .lines()
            .find(|l| l.starts_with("RunFunction/query (q)"))
            .unwrap();
        let cells: Vec<&str> = row.split_whitespace().collect();
        // metric (2 words), count, target, achieved, mean, p50 ...
        assert_eq!(&cells[2..5], ["2", "10.00", "2.00"]);
        assert_eq!(
            cells[7], "25.01",
            "p50 is the response time from the scheduled start"
        );
        assert!(
            !text.contains("reconnect"),
            "idle metrics are hidden:\n{text}"
        );
        assert!(text.contains("1 metrics with no events not shown"));
        assert!(text.contains("query x1: Server error"));
        assert!(text.contains("error budget: 1 errors+timeouts, fewer than 1 allowed -> FAIL"));
        assert!(text.ends_with("result: FAILED\n"));
        let json = super::json(&run, &histograms, std::path::Path::new("/tmp/x"));
        assert_eq!(json["metrics"][0]["response_time"]["count"], 1);
    }
}
