//! Engine tests with synthetic in-process scenarios: real timers, real
//! recorder, no backend.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::future::BoxFuture;
use results_format::{LatencyKind, MetricKey};

use super::*;
use crate::recorder::Recorder;
use crate::scenario::{MetricId, MetricSink, RequestOutcome, RequestTiming, Scenario};
use crate::workload::model::{Arrival, Mode, ScenarioOptions};

/// A "backend" that answers at once, except that everything sent during
/// `[stall_from, stall_until)` is answered only at `stall_until`, plus a
/// fixed `service` time per request.
struct ScriptedScenario {
    sink: Arc<Recorder>,
    metric: MetricId,
    stall_from: Instant,
    stall_until: Instant,
    service: Duration,
}

impl Scenario for ScriptedScenario {
    fn run_once(self: Arc<Self>, scheduled: Instant) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let sent = Instant::now();
            if sent >= self.stall_from && sent < self.stall_until {
                tokio::time::sleep_until(self.stall_until.into()).await;
            }
            if !self.service.is_zero() {
                tokio::time::sleep(self.service).await;
            }
            let timing = RequestTiming {
                scheduled,
                sent,
                finished: Instant::now(),
            };
            self.sink
                .record(self.metric, timing, RequestOutcome::Success);
        })
    }

    fn primary_metric(&self) -> MetricId {
        self.metric
    }
}

fn scripted(
    start: Instant,
    stall: Option<(f64, f64)>,
    service: Duration,
) -> (Arc<Recorder>, Arc<ScriptedScenario>) {
    let recorder = Arc::new(Recorder::new());
    let metric = recorder.register(
        MetricKey {
            scenario: "Synthetic".into(),
            name: "request".into(),
            path: None,
        },
        Some(200.0),
    );
    let (from, until) = stall.unwrap_or((1e6, 1e6));
    let scenario = Arc::new(ScriptedScenario {
        sink: recorder.clone(),
        metric,
        stall_from: start + Duration::from_secs_f64(from),
        stall_until: start + Duration::from_secs_f64(until),
        service,
    });
    (recorder, scenario)
}

fn rate_mode(rate: f64) -> Mode {
    Mode::Rate {
        rate,
        arrival: Arrival::Constant,
        stages: vec![],
    }
}

async fn run_stall_case(max_in_flight: Option<u32>) -> (u64, u64, LoopReport) {
    let start = Instant::now() + Duration::from_millis(50);
    let (recorder, scenario) = scripted(start, Some((2.0, 3.0)), Duration::ZERO);
    recorder.start_measurement(start, Utc::now());
    let window = Window {
        start,
        end: start + Duration::from_secs(6),
        drain: Duration::from_secs(2),
    };
    let options = ScenarioOptions {
        max_in_flight,
        ..Default::default()
    };
    let report = drive(
        scenario,
        &rate_mode(200.0),
        &options,
        recorder.clone(),
        window,
        StopSignal::new(),
        1,
    )
    .await;
    let file = recorder.histograms_file(Duration::from_secs(6));
    let latencies = &file.metrics[0].latencies;
    (
        latencies[&LatencyKind::ResponseTime].summary.p99_us,
        latencies[&LatencyKind::ServiceTime].summary.p99_us,
        report,
    )
}

/// 200 req/s for 6 s with a 1 s stall: 200 of 1200 requests wait for the
/// end of the stall, 1.0 s down to 0 s, so the true p99 is 0.94 s. A
/// generator that timed from the send (or stopped sending) would see less.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_time_counts_from_scheduled_start_without_cap() {
    let (response_p99, service_p99, report) = run_stall_case(None).await;
    assert_eq!(report.scheduled, 1200);
    assert_eq!(report.dropped, 0);
    let p99 = response_p99 as f64 / 1e6;
    assert!((p99 - 0.94).abs() <= 0.094, "response p99 {p99} s");
    // Uncapped, every stalled request is on the wire: service ~ response.
    assert!(
        service_p99 as f64 / 1e6 > 0.8,
        "service p99 {service_p99} us"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_time_counts_from_scheduled_start_with_cap_of_one() {
    let (response_p99, service_p99, report) = run_stall_case(Some(1)).await;
    assert_eq!(report.scheduled, 1200);
    assert_eq!(report.dropped, 0);
    let p99 = response_p99 as f64 / 1e6;
    assert!((p99 - 0.94).abs() <= 0.094, "response p99 {p99} s");
    // Only one request was on the wire during the stall; the rest waited
    // at the generator, which service time does not see.
    assert!(
        service_p99 * 20 < response_p99,
        "service p99 {service_p99} us vs response p99 {response_p99} us"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_and_counts() {
    let start = Instant::now() + Duration::from_millis(20);
    // Each request takes 100 ms with one slot: 10/s served, 100/s wanted.
    let (recorder, scenario) = scripted(start, None, Duration::from_millis(100));
    recorder.start_measurement(start, Utc::now());
    let window = Window {
        start,
        end: start + Duration::from_secs(1),
        drain: Duration::from_secs(2),
    };
    let options = ScenarioOptions {
        max_in_flight: Some(1),
        max_queued: Some(5),
        ..Default::default()
    };
    let report = drive(
        scenario,
        &rate_mode(100.0),
        &options,
        recorder.clone(),
        window,
        StopSignal::new(),
        1,
    )
    .await;
    assert_eq!(report.scheduled, 100);
    // At most ~11 served during the second, 5 queued; the rest dropped.
    assert!((80..=90).contains(&report.dropped), "{report:?}");
    let live = recorder.live();
    assert_eq!(live[0].totals.dropped, report.dropped);
    assert_eq!(
        live[0].totals.requests, report.started,
        "queued requests still ran in the drain"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_workers_wait_for_their_previous_request() {
    let start = Instant::now();
    let (recorder, scenario) = scripted(start, None, Duration::from_millis(20));
    recorder.start_measurement(start, Utc::now());
    let window = Window {
        start,
        end: start + Duration::from_secs(1),
        drain: Duration::from_secs(1),
    };
    let report = drive(
        scenario,
        &Mode::Benchmark { workers: 3 },
        &ScenarioOptions::default(),
        recorder.clone(),
        window,
        StopSignal::new(),
        1,
    )
    .await;
    // 3 workers x ~50 requests of 20 ms; sleeps only overshoot.
    assert!((100..=153).contains(&report.started), "{report:?}");
    assert_eq!(recorder.live()[0].totals.requests, report.started);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_ends_an_open_loop_early() {
    let start = Instant::now();
    let (recorder, scenario) = scripted(start, None, Duration::ZERO);
    recorder.start_measurement(start, Utc::now());
    let window = Window {
        start,
        end: start + Duration::from_secs(60),
        drain: Duration::from_secs(1),
    };
    let stop = StopSignal::new();
    let stopper = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        stopper.stop();
    });
    let began = Instant::now();
    let report = drive(
        scenario,
        &rate_mode(100.0),
        &ScenarioOptions::default(),
        recorder,
        window,
        stop,
        1,
    )
    .await;
    assert!(began.elapsed() < Duration::from_secs(2));
    assert!((25..=40).contains(&report.scheduled), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staged_ramp_sends_the_integrated_number_of_requests() {
    let start = Instant::now() + Duration::from_millis(20);
    let (recorder, scenario) = scripted(start, None, Duration::ZERO);
    recorder.start_measurement(start, Utc::now());
    let window = Window {
        start,
        end: start + Duration::from_secs(2),
        drain: Duration::from_secs(1),
    };
    // 0 -> 200 req/s over 2 s: 200 requests, most of them late in the ramp.
    let mode = Mode::Rate {
        rate: 0.0,
        arrival: Arrival::Poisson,
        stages: vec![crate::workload::model::Stage {
            duration: Duration::from_secs(2),
            target_rate: 200.0,
        }],
    };
    let ticker = recorder.clone();
    tokio::spawn(async move {
        tokio::time::sleep_until((start + Duration::from_secs(1)).into()).await;
        ticker.close_interval(Duration::from_secs(1));
    });
    let report = drive(
        scenario,
        &mode,
        &ScenarioOptions::default(),
        recorder.clone(),
        window,
        StopSignal::new(),
        3,
    )
    .await;
    assert!((160..=240).contains(&report.scheduled), "{report:?}");
    recorder.close_interval(Duration::from_secs(1));
    let intervals = &recorder.histograms_file(Duration::from_secs(2)).metrics[0].intervals;
    let first = intervals[0].scheduled.unwrap();
    let second = intervals[1].scheduled.unwrap();
    // A quarter of the area lies in the first second, three quarters in the second.
    assert!(second > 2 * first, "{first} then {second}");
}
