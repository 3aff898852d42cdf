//! Self-measurement of the generator: how late the open loop starts
//! requests when the "backend" costs nothing. `cargo xtask perf` and
//! `cargo run --release -p load_generator --example start_lag` call this.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::future::BoxFuture;
use results_format::{LatencyKind, MetricKey, Summary};

use crate::engine::{self, StopSignal, Window};
use crate::recorder::Recorder;
use crate::scenario::{MetricId, MetricSink, RequestOutcome, RequestTiming, Scenario};
use crate::workload::model::{Arrival, Mode, ScenarioOptions};

/// Start lag of an open loop driving a no-op scenario.
#[derive(Debug, Clone, Copy)]
pub struct StartLagReport {
    pub rate: f64,
    pub secs: f64,
    pub scheduled: u64,
    pub recorded: u64,
    /// Scheduled start to the moment the scenario began, microseconds.
    pub start_lag: Summary,
}

impl std::fmt::Display for StartLagReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.start_lag;
        write!(
            f,
            "open-loop start lag at {} req/s for {} s ({} requests): p50 {} us, p90 {} us, p99 {} us, p99.9 {} us, max {} us",
            self.rate, self.secs, self.recorded, s.p50_us, s.p90_us, s.p99_us, s.p999_us, s.max_us
        )
    }
}

struct NoOp {
    sink: Arc<Recorder>,
    metric: MetricId,
}

impl Scenario for NoOp {
    fn run_once(self: Arc<Self>, scheduled: Instant) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let now = Instant::now();
            let timing = RequestTiming {
                scheduled,
                sent: now,
                finished: now,
            };
            self.sink
                .record(self.metric, timing, RequestOutcome::Success);
        })
    }

    fn primary_metric(&self) -> MetricId {
        self.metric
    }
}

/// Runs a no-op open loop at `rate` for `secs` on its own multi-threaded
/// runtime and returns the start-lag distribution.
pub fn open_loop_start_lag(rate: f64, secs: f64) -> anyhow::Result<StartLagReport> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let recorder = Arc::new(Recorder::new());
        let metric = recorder.register(
            MetricKey {
                scenario: "NoOp".into(),
                name: "start_lag".into(),
                path: None,
            },
            Some(rate),
        );
        let scenario = Arc::new(NoOp {
            sink: recorder.clone(),
            metric,
        });
        let start = Instant::now() + Duration::from_millis(20);
        recorder.start_measurement(start, Utc::now());
        let window = Window {
            start,
            end: start + Duration::from_secs_f64(secs),
            drain: Duration::from_secs(1),
        };
        let mode = Mode::Rate {
            rate,
            arrival: Arrival::Constant,
            stages: vec![],
        };
        let report = engine::drive(
            scenario,
            &mode,
            &ScenarioOptions::default(),
            recorder.clone(),
            window,
            StopSignal::new(),
            0,
        )
        .await;
        let file = recorder.histograms_file(Duration::from_secs_f64(secs));
        let metric = &file.metrics[0];
        let start_lag = metric
            .latencies
            .get(&LatencyKind::StartLag)
            .map(|r| r.summary)
            .unwrap_or_default();
        Ok(StartLagReport {
            rate,
            secs,
            scheduled: report.scheduled,
            recorded: metric.totals.requests,
            start_lag,
        })
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn start_lag_is_small_at_a_moderate_rate() {
        let report = super::open_loop_start_lag(1_000.0, 1.0).unwrap();
        assert_eq!(report.scheduled, 1_000);
        assert_eq!(report.recorded, 1_000);
        // Generous for a loaded CI machine; the figures are reported by the
        // example at 5,000 req/s.
        assert!(report.start_lag.p50_us < 2_000, "{report}");
    }
}
