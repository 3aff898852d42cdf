//! Synthetic run folders built with the real `results_format` types: used by
//! tests (report, compare, publish, refusals) and by `cargo xtask
//! bench-report`, which times rendering and comparing a long run.
//!
//! Latencies are drawn from a log-normal distribution per metric, so runs
//! made with different seeds differ the way two real runs do (sampling
//! noise), and a `latency_factor` shifts one metric the way a fault would.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use rand_distr::{Distribution as _, LogNormal, Poisson};
use results_format::{
    BackendInfo, BackendKind, Counts, ErrorBudget, GeneratorInfo, HistogramsFile, HostInfo,
    Interval, LatencyKind, LatencyRecord, Metric, MetricKey, Outcome, RunInfo, RunStatus,
    SCHEMA_VERSION, Summary, WorkloadInfo, encode_histogram, new_latency_histogram,
};

/// One metric of a synthetic run.
#[derive(Debug, Clone)]
pub struct SyntheticMetric {
    pub scenario: String,
    pub name: String,
    pub path: Option<String>,
    pub rate: f64,
    /// Median latency in microseconds.
    pub median_us: f64,
    /// Spread of the log-normal (0.3 is a typical web request).
    pub sigma: f64,
    /// Multiplies every latency: 1.3 injects a +30 % fault.
    pub latency_factor: f64,
    /// Fraction of requests that fail.
    pub error_rate: f64,
}

impl SyntheticMetric {
    pub fn new(scenario: &str, name: &str, path: Option<&str>, rate: f64, median_ms: f64) -> Self {
        SyntheticMetric {
            scenario: scenario.to_string(),
            name: name.to_string(),
            path: path.map(str::to_string),
            rate,
            median_us: median_ms * 1000.0,
            sigma: 0.35,
            latency_factor: 1.0,
            error_rate: 0.001,
        }
    }

    pub fn key(&self) -> MetricKey {
        MetricKey {
            scenario: self.scenario.clone(),
            name: self.name.clone(),
            path: self.path.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SyntheticRun {
    pub workload: String,
    pub duration_secs: u32,
    pub interval_secs: u32,
    pub started_at: DateTime<Utc>,
    pub seed: u64,
    pub metrics: Vec<SyntheticMetric>,
    pub backend: BackendKind,
    pub label: Option<String>,
}

impl SyntheticRun {
    /// A small run shaped like the `smoke` workload: three metrics.
    pub fn smoke(seed: u64) -> Self {
        SyntheticRun {
            workload: "smoke".to_string(),
            duration_secs: 30,
            interval_secs: 1,
            started_at: DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
                .expect("valid literal")
                .with_timezone(&Utc)
                + Duration::seconds(seed as i64 % 1000),
            seed,
            metrics: vec![
                SyntheticMetric::new(
                    "RunFunction",
                    "query",
                    Some("query_index:queryMessages"),
                    200.0,
                    4.0,
                ),
                SyntheticMetric::new(
                    "RunFunction",
                    "mutation",
                    Some("insert:insertMessage"),
                    100.0,
                    8.0,
                ),
                SyntheticMetric::new("ObserveInsert", "mutation_observed", None, 50.0, 12.0),
            ],
            backend: BackendKind::Testbed,
            label: None,
        }
    }

    /// The benchmark case of the issue: one hour, ten metrics.
    pub fn one_hour_ten_metrics(seed: u64) -> Self {
        let mut run = SyntheticRun::smoke(seed);
        run.workload = "hour".to_string();
        run.duration_secs = 3600;
        run.metrics = (0..10)
            .map(|i| {
                SyntheticMetric::new(
                    "RunFunction",
                    if i % 2 == 0 { "query" } else { "mutation" },
                    Some(&format!("module{i}:function")),
                    20.0,
                    2.0 + i as f64,
                )
            })
            .collect();
        run
    }

    pub fn with_factor(mut self, metric_name: &str, factor: f64) -> Self {
        for m in &mut self.metrics {
            if m.name == metric_name {
                m.latency_factor = factor;
            }
        }
        self
    }

    /// Writes `run.json`, `histograms.json` and an empty `latencies.hlog`
    /// into `dir` (created if needed).
    pub fn write(&self, dir: &Path) -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut rng = StdRng::seed_from_u64(self.seed);
        let intervals = self.duration_secs.div_ceil(self.interval_secs);
        let mut metrics = Vec::new();
        let mut total_errors = 0;
        for spec in &self.metrics {
            let metric = self.metric(spec, intervals, &mut rng)?;
            total_errors += metric.totals.errors + metric.totals.timeouts;
            metrics.push(metric);
        }
        let histograms = HistogramsFile {
            schema_version: SCHEMA_VERSION,
            interval_secs: f64::from(self.interval_secs),
            started_at: self.started_at,
            metrics,
        };
        let allowed = u64::from(self.duration_secs);
        let run = RunInfo {
            schema_version: SCHEMA_VERSION,
            run_id: format!("synthetic-{:016x}", self.seed),
            label: self.label.clone(),
            workload: WorkloadInfo {
                name: self.workload.clone(),
                source: Some(format!("workloads/{}.json", self.workload)),
                sha256: "0".repeat(64),
                content: serde_json::json!({ "name": self.workload, "synthetic": true }),
            },
            backend: BackendInfo {
                url: "http://127.0.0.1:3210".to_string(),
                version: Some(match self.backend {
                    BackendKind::Testbed => "convex-bench-testbed 0.1.0".to_string(),
                    BackendKind::Convex => "1.0.0-synthetic".to_string(),
                }),
                kind: self.backend,
            },
            generator: GeneratorInfo {
                name: "synthetic".to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
                git_commit: Some("0000000".to_string()),
            },
            host: HostInfo {
                hostname: "synthetic-host".to_string(),
                os: std::env::consts::OS.to_string(),
                arch: std::env::consts::ARCH.to_string(),
                cpus: 2,
                memory_bytes: None,
            },
            started_at: self.started_at,
            ended_at: Some(self.started_at + Duration::seconds(i64::from(self.duration_secs))),
            duration_secs: f64::from(self.duration_secs),
            planned_duration_secs: Some(f64::from(self.duration_secs)),
            warmup_secs: 0.0,
            seed: Some(self.seed),
            outcome: Outcome {
                status: RunStatus::Completed,
                partial: false,
                reason: None,
                thresholds: Vec::new(),
                error_budget: Some(ErrorBudget {
                    errors: total_errors,
                    allowed,
                    passed: total_errors < allowed,
                }),
                passed: total_errors < allowed,
            },
        };
        results_format::write_json_atomic(&dir.join(results_format::RUN_FILE), &run)?;
        results_format::write_json_atomic(&dir.join(results_format::HISTOGRAMS_FILE), &histograms)?;
        results_format::write_atomic(&dir.join(results_format::HLOG_FILE), b"")?;
        Ok(dir.to_path_buf())
    }

    fn metric(
        &self,
        spec: &SyntheticMetric,
        intervals: u32,
        rng: &mut StdRng,
    ) -> anyhow::Result<Metric> {
        let latency = LogNormal::new((spec.median_us * spec.latency_factor).ln(), spec.sigma)
            .context("invalid log-normal parameters")?;
        let per_interval = spec.rate * f64::from(self.interval_secs);
        let arrivals = Poisson::new(per_interval.max(0.001)).context("invalid rate")?;
        let mut whole_response = new_latency_histogram();
        let mut whole_service = new_latency_histogram();
        let mut totals = Counts::default();
        let mut out_intervals = Vec::with_capacity(intervals as usize);
        for index in 0..intervals {
            let requests = arrivals.sample(rng) as u64;
            let mut response = new_latency_histogram();
            let mut service = new_latency_histogram();
            let mut counts = Counts {
                requests,
                ..Counts::default()
            };
            for _ in 0..requests {
                if rng.random::<f64>() < spec.error_rate {
                    counts.errors += 1;
                    continue;
                }
                let us = latency.sample(rng).max(1.0) as u64;
                response.saturating_record(us);
                service.saturating_record((us * 9 / 10).max(1));
            }
            whole_response.add(&response).expect("same bounds");
            whole_service.add(&service).expect("same bounds");
            totals.add(&counts);
            let mut latencies = BTreeMap::new();
            if !response.is_empty() {
                latencies.insert(LatencyKind::ResponseTime, encode_histogram(&response)?);
                latencies.insert(LatencyKind::ServiceTime, encode_histogram(&service)?);
            }
            out_intervals.push(Interval {
                index,
                counts,
                scheduled: Some(per_interval.round() as u64),
                latencies,
            });
        }
        let mut latencies = BTreeMap::new();
        for (kind, h) in [
            (LatencyKind::ResponseTime, &whole_response),
            (LatencyKind::ServiceTime, &whole_service),
        ] {
            latencies.insert(
                kind,
                LatencyRecord {
                    summary: Summary::from_histogram(h),
                    histogram: encode_histogram(h)?,
                },
            );
        }
        let errors = totals.errors;
        Ok(Metric {
            key: spec.key(),
            target_rate: Some(spec.rate),
            achieved_rate: totals.requests as f64 / f64::from(self.duration_secs),
            totals,
            error_samples: if errors > 0 {
                vec![results_format::ErrorSample {
                    category: "error".to_string(),
                    message: "synthetic failure".to_string(),
                    count: errors,
                }]
            } else {
                Vec::new()
            },
            latencies,
            intervals: out_intervals,
        })
    }
}
