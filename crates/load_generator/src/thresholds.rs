//! Pass/fail: the workload's thresholds and Convex's error budget (a run
//! fails when errors reach one per second of run time).

use results_format::{ErrorBudget, LatencyKind, Metric, ThresholdResult};

use crate::workload::model::{Comparison, Statistic, Threshold};
use crate::workload::parse::statistic_name;

/// Whether `pattern` (`*`, `Scenario/name` or `Scenario/name/path`)
/// selects `metric`.
pub fn selects(pattern: &str, metric: &Metric) -> bool {
    if pattern == "*" {
        return true;
    }
    let mut parts = pattern.splitn(3, '/');
    let scenario = parts.next().unwrap_or_default();
    let name = parts.next();
    let path = parts.next();
    scenario == metric.key.scenario
        && name.is_none_or(|n| n == metric.key.name)
        && path.is_none_or(|p| Some(p) == metric.key.path.as_deref())
}

fn statistic_of(statistic: Statistic, metric: &Metric) -> Option<f64> {
    let response = metric.latencies.get(&LatencyKind::ResponseTime);
    match statistic {
        Statistic::ErrorRate => (metric.totals.requests > 0).then(|| metric.totals.error_rate()),
        Statistic::AchievedRate => Some(metric.achieved_rate),
        Statistic::MeanMs => response.map(|r| r.summary.mean_us / 1000.0),
        Statistic::MaxMs => response.map(|r| r.summary.max_us as f64 / 1000.0),
        Statistic::PercentileMs(tenths) => response.and_then(|r| {
            let h = results_format::decode_histogram(&r.histogram).ok()?;
            Some(h.value_at_quantile(f64::from(tenths) / 1000.0) as f64 / 1000.0)
        }),
    }
}

/// One result per (threshold, selected metric); a threshold that selects
/// nothing, or a metric with nothing to measure, fails with `actual: None`.
pub fn evaluate(thresholds: &[Threshold], metrics: &[Metric]) -> Vec<ThresholdResult> {
    let mut results = Vec::new();
    for t in thresholds {
        let comparison = match t.comparison {
            Comparison::LessThan => "<",
            Comparison::GreaterThan => ">",
        };
        let result = |metric: String, actual: Option<f64>| ThresholdResult {
            metric,
            statistic: statistic_name(t.statistic),
            comparison: comparison.into(),
            limit: t.limit,
            actual,
            passed: actual.is_some_and(|a| match t.comparison {
                Comparison::LessThan => a < t.limit,
                Comparison::GreaterThan => a > t.limit,
            }),
        };
        let selected: Vec<&Metric> = metrics.iter().filter(|m| selects(&t.metric, m)).collect();
        // `*` only covers metrics that saw traffic: count-only metrics of
        // idle scenarios would otherwise fail every latency threshold.
        let selected: Vec<&Metric> = if t.metric == "*" {
            selected
                .into_iter()
                .filter(|m| m.totals.requests > 0)
                .collect()
        } else {
            selected
        };
        if selected.is_empty() {
            results.push(result(t.metric.clone(), None));
        }
        for m in selected {
            results.push(result(m.key.to_string(), statistic_of(t.statistic, m)));
        }
    }
    results
}

/// Convex's rule: fail when errors (and timeouts) reach one per second.
pub fn error_budget(metrics: &[Metric], duration_secs: f64) -> ErrorBudget {
    let errors: u64 = metrics
        .iter()
        .map(|m| m.totals.errors + m.totals.timeouts)
        .sum();
    let allowed = duration_secs.ceil().max(1.0) as u64;
    ErrorBudget {
        errors,
        allowed,
        passed: errors < allowed,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use results_format::{
        Counts, LatencyRecord, MetricKey, Summary, encode_histogram, new_latency_histogram,
    };

    use super::*;

    fn metric(name: &str, p99_ms: u64, requests: u64, errors: u64) -> Metric {
        let mut h = new_latency_histogram();
        for _ in 0..99 {
            h.record(1_000).unwrap();
        }
        h.record(p99_ms * 1_000).unwrap();
        h.record(p99_ms * 1_000).unwrap();
        let mut latencies = BTreeMap::new();
        latencies.insert(
            LatencyKind::ResponseTime,
            LatencyRecord {
                summary: Summary::from_histogram(&h),
                histogram: encode_histogram(&h).unwrap(),
            },
        );
        Metric {
            key: MetricKey {
                scenario: "RunFunction".into(),
                name: name.into(),
                path: Some("q".into()),
            },
            target_rate: None,
            achieved_rate: 10.0,
            totals: Counts {
                requests,
                errors,
                timeouts: 0,
                dropped: 0,
            },
            error_samples: vec![],
            latencies,
            intervals: vec![],
        }
    }

    fn threshold(
        metric: &str,
        statistic: Statistic,
        comparison: Comparison,
        limit: f64,
    ) -> Threshold {
        Threshold {
            metric: metric.into(),
            statistic,
            comparison,
            limit,
        }
    }

    #[test]
    fn thresholds_pass_and_fail_on_the_right_metric() {
        let metrics = vec![metric("query", 40, 100, 0), metric("mutation", 80, 100, 5)];
        let results = evaluate(
            &[
                threshold(
                    "RunFunction/query",
                    Statistic::PercentileMs(990),
                    Comparison::LessThan,
                    50.0,
                ),
                threshold(
                    "RunFunction/mutation/q",
                    Statistic::PercentileMs(990),
                    Comparison::LessThan,
                    50.0,
                ),
                threshold("*", Statistic::ErrorRate, Comparison::LessThan, 0.01),
                threshold("Search", Statistic::MeanMs, Comparison::LessThan, 1.0),
            ],
            &metrics,
        );
        let passed: Vec<(String, bool)> = results
            .iter()
            .map(|r| (r.metric.clone(), r.passed))
            .collect();
        assert_eq!(
            passed,
            vec![
                ("RunFunction/query (q)".into(), true),
                ("RunFunction/mutation (q)".into(), false),
                ("RunFunction/query (q)".into(), true),
                ("RunFunction/mutation (q)".into(), false),
                ("Search".into(), false),
            ]
        );
        assert!((results[0].actual.unwrap() - 40.0).abs() < 0.1);
        assert_eq!(results[4].actual, None);
    }

    #[test]
    fn error_budget_is_one_per_second() {
        let metrics = vec![metric("query", 1, 100, 9)];
        assert!(error_budget(&metrics, 10.0).passed);
        let metrics = vec![metric("query", 1, 100, 10)];
        assert!(!error_budget(&metrics, 10.0).passed);
    }
}
