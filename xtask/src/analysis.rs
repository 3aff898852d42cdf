//! What the report, compare and publish commands need from a run folder,
//! derived once: per-metric summaries, the percentile distribution and the
//! per-interval series.

use std::path::Path;

use anyhow::Context as _;

use crate::run_reader::DecodedIntervals;
use results_format::{
    Counts, LatencyHistogram, LatencyKind, Metric, RunArchive, Summary, decode_validated,
};

/// Charts draw at most this many points per series: longer runs merge
/// neighbouring intervals (exactly, by adding their histograms).
pub const MAX_CHART_POINTS: usize = 600;

/// Points of the percentile distribution: 1/(1-q) from 1 to 10^5, i.e.
/// percentiles 0 to 99.999 on a log axis.
const DISTRIBUTION_POINTS: usize = 120;
pub const DISTRIBUTION_MAX_X: f64 = 100_000.0;

#[derive(Debug, Clone)]
pub struct RunView {
    pub archive: RunArchive,
    pub metrics: Vec<MetricView>,
}

#[derive(Debug, Clone)]
pub struct MetricView {
    pub label: String,
    pub metric: Metric,
    /// Response-time summary, when the metric records latencies.
    pub summary: Option<Summary>,
    /// (1/(1-q), latency ms) of the whole-run response-time histogram.
    pub distribution: Vec<(f64, f64)>,
    pub series: Series,
    /// Response-time histogram of each interval that recorded one.
    pub response_intervals: DecodedIntervals,
}

/// Per-point values over time; a point covers `step_secs` seconds.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub step_secs: f64,
    /// Start of each point, seconds from the start of measurement.
    pub t_secs: Vec<f64>,
    pub p50_ms: Vec<Option<f64>>,
    pub p99_ms: Vec<Option<f64>>,
    pub achieved_rps: Vec<f64>,
    pub target_rps: Vec<Option<f64>>,
    pub errors: Vec<u64>,
    pub timeouts: Vec<u64>,
}

pub fn load(dir: &Path) -> anyhow::Result<RunView> {
    let (archive, decoded) = crate::run_reader::read_run_decoded(dir)?;
    analyse(archive, decoded)
}

pub fn analyse(archive: RunArchive, decoded: Vec<DecodedIntervals>) -> anyhow::Result<RunView> {
    let interval_secs = archive.histograms.interval_secs;
    anyhow::ensure!(
        interval_secs > 0.0,
        "{}: interval_secs must be positive, found {interval_secs}",
        archive.dir.join(results_format::HISTOGRAMS_FILE).display()
    );
    // Metrics are independent: analyse them on every core.
    let metrics = std::thread::scope(|scope| {
        let handles: Vec<_> = archive
            .histograms
            .metrics
            .iter()
            .zip(decoded)
            .map(|(m, d)| scope.spawn(move || analyse_metric(m, d, interval_secs)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("metric analysis does not panic"))
            .collect::<Vec<_>>()
    });
    Ok(RunView { archive, metrics })
}

fn analyse_metric(metric: &Metric, decoded: DecodedIntervals, interval_secs: f64) -> MetricView {
    let whole = metric
        .latencies
        .get(&LatencyKind::ResponseTime)
        .map(|r| decode_validated(&r.histogram));
    let summary = whole.as_ref().map(Summary::from_histogram);
    let distribution = whole.as_ref().map(distribution).unwrap_or_default();
    MetricView {
        label: metric.key.to_string(),
        metric: metric.clone(),
        summary,
        distribution,
        series: series(metric, &decoded, interval_secs),
        response_intervals: decoded,
    }
}

pub fn quantile_of_x(x: f64) -> f64 {
    1.0 - 1.0 / x
}

pub fn distribution(h: &LatencyHistogram) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let log_max = DISTRIBUTION_MAX_X.log10();
    (0..=DISTRIBUTION_POINTS)
        .map(|i| {
            let x = 10f64.powf(log_max * i as f64 / DISTRIBUTION_POINTS as f64);
            (x, us_to_ms(h.value_at_quantile(quantile_of_x(x))))
        })
        .collect()
}

pub fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn series(metric: &Metric, decoded: &DecodedIntervals, interval_secs: f64) -> Series {
    let last_index = metric.intervals.iter().map(|i| i.index).max();
    let Some(last_index) = last_index else {
        return Series {
            step_secs: interval_secs,
            ..Series::default()
        };
    };
    let n = last_index as usize + 1;
    let group = n.div_ceil(MAX_CHART_POINTS).max(1);
    let points = n.div_ceil(group);
    let step_secs = interval_secs * group as f64;
    let mut buckets: Vec<Vec<(u64, u64)>> = vec![Vec::new(); points];
    let mut counts = vec![Counts::default(); points];
    let mut scheduled: Vec<Option<u64>> = vec![None; points];
    for interval in &metric.intervals {
        let p = interval.index as usize / group;
        counts[p].add(&interval.counts);
        if let Some(s) = interval.scheduled {
            *scheduled[p].get_or_insert(0) += s;
        }
    }
    for (index, h) in decoded {
        buckets[*index as usize / group].extend_from_slice(&h.buckets);
    }
    for b in &mut buckets {
        b.sort_unstable_by_key(|&(value, _)| value);
    }
    let totals: Vec<u64> = buckets
        .iter()
        .map(|b| b.iter().map(|x| x.1).sum())
        .collect();
    let quantile = |q: f64| -> Vec<Option<f64>> {
        buckets
            .iter()
            .zip(&totals)
            .map(|(b, &total)| crate::sparse::value_at_quantile(b, total, q).map(us_to_ms))
            .collect()
    };
    Series {
        step_secs,
        t_secs: (0..points).map(|p| p as f64 * step_secs).collect(),
        p50_ms: quantile(0.50),
        p99_ms: quantile(0.99),
        achieved_rps: counts
            .iter()
            .map(|c| c.requests as f64 / step_secs)
            .collect(),
        target_rps: scheduled
            .iter()
            .map(|s| s.map(|s| s as f64 / step_secs).or(metric.target_rate))
            .collect(),
        errors: counts.iter().map(|c| c.errors).collect(),
        timeouts: counts.iter().map(|c| c.timeouts).collect(),
    }
}

/// Loads a run folder, naming the folder in the error.
pub fn load_named(dir: &Path) -> anyhow::Result<RunView> {
    load(dir).with_context(|| format!("cannot read run folder {}", dir.display()))
}
