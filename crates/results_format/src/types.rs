//! The serialised types of `run.json` and `histograms.json`.
//!
//! Latencies are integers in microseconds everywhere. Histograms hold
//! successful requests only; failed and timed-out requests are counted, not
//! timed (as Convex's own load generator does).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::histogram_codec::LatencyHistogram;

/// `/version` of the testbed starts with this, so every reader can tell a
/// testbed run from a run against Convex.
pub const TESTBED_VERSION_PREFIX: &str = "convex-bench-testbed";

// ---------------------------------------------------------------- run.json

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub schema_version: u32,
    pub run_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub workload: WorkloadInfo,
    pub backend: BackendInfo,
    pub generator: GeneratorInfo,
    pub host: HostInfo,
    pub started_at: DateTime<Utc>,
    /// `None` while the run is still going (a partial flush).
    #[serde(default)]
    pub ended_at: Option<DateTime<Utc>>,
    /// Measured wall time of the measurement phase (warm-up excluded).
    pub duration_secs: f64,
    /// What the command line asked for; `None` for `--once` runs.
    #[serde(default)]
    pub planned_duration_secs: Option<f64>,
    #[serde(default)]
    pub warmup_secs: f64,
    #[serde(default)]
    pub seed: Option<u64>,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadInfo {
    pub name: String,
    /// Where the workload was read from, as given by the user.
    #[serde(default)]
    pub source: Option<String>,
    /// Hex SHA-256 of the workload file's bytes.
    pub sha256: String,
    /// The workload as parsed JSON, so a report can show what ran.
    pub content: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// The project's local stand-in. Its numbers are not Convex's.
    Testbed,
    /// A Convex deployment (self-hosted or cloud).
    Convex,
}

impl BackendKind {
    pub fn from_version(version: &str) -> Self {
        if version.starts_with(TESTBED_VERSION_PREFIX) {
            BackendKind::Testbed
        } else {
            BackendKind::Convex
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendInfo {
    /// Scheme, host, port and path only: never credentials.
    pub url: String,
    #[serde(default)]
    pub version: Option<String>,
    pub kind: BackendKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorInfo {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub git_commit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostInfo {
    pub hostname: String,
    pub os: String,
    pub arch: String,
    pub cpus: usize,
    #[serde(default)]
    pub memory_bytes: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Still running: the files are a periodic partial flush.
    Running,
    /// Ran for its planned duration.
    Completed,
    /// Stopped early by Ctrl-C or SIGTERM.
    Interrupted,
    /// The backend went away or stopped answering.
    BackendFailed,
    /// The generator itself failed (setup error, bug).
    Failed,
}

impl RunStatus {
    /// Whether the files describe fewer seconds than were planned.
    pub fn is_partial(self) -> bool {
        !matches!(self, RunStatus::Completed)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: RunStatus,
    /// True unless the run completed: the data covers only part of the plan.
    pub partial: bool,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub thresholds: Vec<ThresholdResult>,
    #[serde(default)]
    pub error_budget: Option<ErrorBudget>,
    /// Thresholds all met, error budget kept, status completed.
    pub passed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// Which metric, as written in the workload (e.g. `RunFunction/query`).
    pub metric: String,
    /// e.g. `p99_ms`, `error_rate`, `mean_ms`, `achieved_rate`.
    pub statistic: String,
    /// `<` or `>`.
    pub comparison: String,
    pub limit: f64,
    /// `None` when the metric recorded nothing (which fails the threshold).
    #[serde(default)]
    pub actual: Option<f64>,
    pub passed: bool,
}

/// Convex's rule: a run fails when errors reach one per second of run time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBudget {
    pub errors: u64,
    pub allowed: u64,
    pub passed: bool,
}

// --------------------------------------------------------- histograms.json

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistogramsFile {
    pub schema_version: u32,
    /// Length of one interval; interval `i` covers `[i, i+1) * interval_secs`
    /// after `started_at`.
    pub interval_secs: f64,
    pub started_at: DateTime<Utc>,
    pub metrics: Vec<Metric>,
}

/// Identity of a metric: Convex's (scenario, name, path) triple.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MetricKey {
    pub scenario: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl std::fmt::Display for MetricKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.scenario, self.name)?;
        if let Some(path) = &self.path {
            write!(f, " ({path})")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyKind {
    /// From the request's scheduled start to its response: what a user
    /// waited. Free of coordinated omission. The headline number.
    ResponseTime,
    /// From the moment the request went on the wire to its response.
    ServiceTime,
    /// From the scheduled start to the actual send: time spent queued in
    /// the generator.
    StartLag,
}

impl LatencyKind {
    pub const ALL: [LatencyKind; 3] = [
        LatencyKind::ResponseTime,
        LatencyKind::ServiceTime,
        LatencyKind::StartLag,
    ];

    pub fn label(self) -> &'static str {
        match self {
            LatencyKind::ResponseTime => "response time",
            LatencyKind::ServiceTime => "service time",
            LatencyKind::StartLag => "start lag",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Requests that finished, in any way (success, error or timeout).
    pub requests: u64,
    pub errors: u64,
    pub timeouts: u64,
    /// Requests the open-loop schedule wanted but the generator's bounded
    /// queue could not hold: never sent.
    #[serde(default)]
    pub dropped: u64,
}

impl Counts {
    pub fn successes(&self) -> u64 {
        self.requests.saturating_sub(self.errors + self.timeouts)
    }

    /// Errors and timeouts over finished requests; 0 when nothing finished.
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            (self.errors + self.timeouts) as f64 / self.requests as f64
        }
    }

    pub fn add(&mut self, other: &Counts) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.timeouts += other.timeouts;
        self.dropped += other.dropped;
    }
}

// Deserialised through `MetricWire` rather than `#[serde(flatten)]`, which
// buffers the whole metric (every interval) before parsing it: several
// times slower on a one-hour run's histograms.json. Same JSON either way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "MetricWire")]
pub struct Metric {
    #[serde(flatten)]
    pub key: MetricKey,
    /// Requests per second the workload asked for; `None` for closed loops
    /// and for metrics that are counted, not driven.
    #[serde(default)]
    pub target_rate: Option<f64>,
    /// Finished requests per second of measured run time.
    pub achieved_rate: f64,
    pub totals: Counts,
    /// The first distinct error messages, with how often each occurred.
    #[serde(default)]
    pub error_samples: Vec<ErrorSample>,
    /// Whole-run histograms. Empty for count-only metrics.
    #[serde(default)]
    pub latencies: BTreeMap<LatencyKind, LatencyRecord>,
    pub intervals: Vec<Interval>,
}

/// The JSON shape of [`Metric`], with the key's fields inline.
#[derive(Deserialize)]
struct MetricWire {
    scenario: String,
    name: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    target_rate: Option<f64>,
    achieved_rate: f64,
    totals: Counts,
    #[serde(default)]
    error_samples: Vec<ErrorSample>,
    #[serde(default)]
    latencies: BTreeMap<LatencyKind, LatencyRecord>,
    intervals: Vec<Interval>,
}

impl From<MetricWire> for Metric {
    fn from(w: MetricWire) -> Self {
        Metric {
            key: MetricKey {
                scenario: w.scenario,
                name: w.name,
                path: w.path,
            },
            target_rate: w.target_rate,
            achieved_rate: w.achieved_rate,
            totals: w.totals,
            error_samples: w.error_samples,
            latencies: w.latencies,
            intervals: w.intervals,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorSample {
    /// `error` or `timeout`, or a Convex error category such as
    /// `search_document_mismatch`.
    pub category: String,
    pub message: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyRecord {
    pub summary: Summary,
    /// HdrHistogram V2 compressed, base64.
    pub histogram: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Interval number from the start of measurement.
    pub index: u32,
    pub counts: Counts,
    /// Requests the schedule planned to start in this interval.
    #[serde(default)]
    pub scheduled: Option<u64>,
    /// Per kind, HdrHistogram V2 compressed, base64. Missing kinds recorded
    /// nothing in this interval.
    #[serde(default)]
    pub latencies: BTreeMap<LatencyKind, String>,
}

/// Percentiles and moments in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub count: u64,
    pub min_us: u64,
    pub mean_us: f64,
    pub stddev_us: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub p9999_us: u64,
    pub max_us: u64,
}

impl Summary {
    pub fn from_histogram(h: &LatencyHistogram) -> Self {
        if h.is_empty() {
            return Summary::default();
        }
        Summary {
            count: h.len(),
            min_us: h.min(),
            mean_us: h.mean(),
            stddev_us: h.stdev(),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            p9999_us: h.value_at_quantile(0.9999),
            max_us: h.max(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_json_keeps_the_key_inline_and_round_trips() {
        let metric = Metric {
            key: MetricKey {
                scenario: "RunFunction".into(),
                name: "query".into(),
                path: Some("query_index:queryMessages".into()),
            },
            target_rate: Some(5.0),
            achieved_rate: 4.9,
            totals: Counts {
                requests: 49,
                errors: 1,
                timeouts: 0,
                dropped: 0,
            },
            error_samples: Vec::new(),
            latencies: BTreeMap::new(),
            intervals: vec![Interval {
                index: 0,
                counts: Counts::default(),
                scheduled: Some(5),
                latencies: BTreeMap::new(),
            }],
        };
        let json = serde_json::to_value(&metric).unwrap();
        assert_eq!(json["scenario"], "RunFunction");
        assert_eq!(json["name"], "query");
        assert_eq!(json["path"], "query_index:queryMessages");
        assert!(json.get("key").is_none());
        let back: Metric = serde_json::from_value(json).unwrap();
        assert_eq!(back, metric);
        let no_path: Metric = serde_json::from_value(serde_json::json!({
            "scenario": "ObserveInsert", "name": "mutation_observed",
            "achieved_rate": 0.0, "totals": {"requests": 0, "errors": 0, "timeouts": 0},
            "intervals": []
        }))
        .unwrap();
        assert_eq!(no_path.key.path, None);
    }
}
