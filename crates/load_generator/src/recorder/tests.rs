use std::time::{Duration, Instant};

use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use results_format::{
    LatencyKind, MetricKey, decode_histogram, new_latency_histogram, read_histograms,
    write_json_atomic,
};

use super::*;
use crate::scenario::{MetricSink, RequestOutcome, RequestTiming};

fn key(name: &str) -> MetricKey {
    MetricKey {
        scenario: "RunFunction".into(),
        name: name.into(),
        path: Some("q".into()),
    }
}

fn timing(start: Instant, offset_ms: u64, lag_ms: u64, service_ms: u64) -> RequestTiming {
    let scheduled = start + Duration::from_millis(offset_ms);
    let sent = scheduled + Duration::from_millis(lag_ms);
    RequestTiming {
        scheduled,
        sent,
        finished: sent + Duration::from_millis(service_ms),
    }
}

pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "lg-{name}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn histograms_on_disk_decode_to_the_same_percentiles() {
    let dir = temp_dir("hist");
    let recorder = Recorder::new();
    let id = recorder.register(key("query"), Some(100.0));
    let start = Instant::now();
    recorder.start_measurement(start, Utc::now());
    recorder.set_hlog(hlog::HlogWriter::create(&dir.join("latencies.hlog"), Utc::now()).unwrap());
    let mut expected = new_latency_histogram();
    for i in 0..3_000u64 {
        // Spread over 3 intervals, with a varied, known distribution.
        let service = 1 + (i * 7919) % 400;
        let lag = i % 5;
        recorder.record(id, timing(start, i, lag, service), RequestOutcome::Success);
        expected.record((lag + service) * 1000).unwrap();
        if i % 1000 == 999 {
            recorder.close_interval(INTERVAL);
        }
    }
    recorder.record(
        id,
        timing(start, 1, 0, 1),
        RequestOutcome::Error {
            category: "query".into(),
            message: "boom".into(),
        },
    );
    let file = recorder.histograms_file(Duration::from_secs(3));
    let path = dir.join("histograms.json");
    write_json_atomic(&path, &file).unwrap();
    let read = read_histograms(&path).unwrap();
    let metric = &read.metrics[0];
    assert_eq!(metric.totals.requests, 3_001);
    assert_eq!(metric.totals.errors, 1);
    assert_eq!(metric.error_samples[0].message, "boom");
    assert_eq!(metric.target_rate, Some(100.0));
    assert!((metric.achieved_rate - 3_001.0 / 3.0).abs() < 1e-9);
    let record = &metric.latencies[&LatencyKind::ResponseTime];
    let decoded = decode_histogram(&record.histogram).unwrap();
    for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
        assert_eq!(
            decoded.value_at_quantile(q),
            expected.value_at_quantile(q),
            "q={q}"
        );
    }
    assert_eq!(record.summary.p99_us, expected.value_at_quantile(0.99));
    assert_eq!(record.summary.count, 3_000);
    // The intervals add up to the whole run.
    assert_eq!(metric.intervals.len(), 3);
    let mut merged = new_latency_histogram();
    for interval in &metric.intervals {
        merged
            .add(decode_histogram(&interval.latencies[&LatencyKind::ResponseTime]).unwrap())
            .unwrap();
    }
    assert_eq!(merged.len(), 3_000);
    assert_eq!(
        merged.value_at_quantile(0.99),
        expected.value_at_quantile(0.99)
    );

    // The interval log is readable by HdrHistogram's own parser.
    let log = std::fs::read(dir.join("latencies.hlog")).unwrap();
    let intervals: Vec<_> = IntervalLogIterator::new(&log)
        .map(|e| e.expect("valid hlog line"))
        .filter_map(|e| match e {
            LogEntry::Interval(i) => Some((
                i.tag().map(|t| t.as_str().to_string()),
                i.start_timestamp(),
                decode_histogram(i.encoded_histogram()).unwrap().len(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(intervals.len(), 9, "3 intervals x 3 kinds");
    assert_eq!(
        intervals[0].0.as_deref(),
        Some("RunFunction/query/q/response_time")
    );
    assert_eq!(intervals[3].1, Duration::from_secs(1));
    assert_eq!(intervals.iter().map(|i| i.2).sum::<u64>(), 9_000);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn warmup_requests_are_not_counted() {
    let recorder = Recorder::new();
    let id = recorder.register(key("query"), None);
    let before = Instant::now();
    recorder.record(id, timing(before, 0, 0, 5), RequestOutcome::Success);
    let start = before + Duration::from_millis(10);
    recorder.start_measurement(start, Utc::now());
    // Scheduled during warm-up, finished after: still warm-up.
    recorder.record(id, timing(before, 5, 0, 50), RequestOutcome::Success);
    recorder.dropped(id, 5); // before `start`: warm-up
    std::thread::sleep(start.saturating_duration_since(Instant::now()));
    recorder.record(id, timing(start, 0, 0, 5), RequestOutcome::Success);
    recorder.dropped(id, 2);
    let live = recorder.live();
    assert_eq!(live[0].totals.requests, 1);
    assert_eq!(live[0].totals.dropped, 2);
}

#[test]
fn error_samples_are_bounded_and_counted() {
    let recorder = Recorder::new();
    let id = recorder.register(key("mutation"), None);
    let start = Instant::now();
    recorder.start_measurement(start, Utc::now());
    for i in 0..100 {
        recorder.record(
            id,
            timing(start, 0, 0, 1),
            RequestOutcome::Error {
                category: "mutation".into(),
                message: format!("failure {}", i % 20),
            },
        );
    }
    recorder.record(id, timing(start, 0, 0, 1), RequestOutcome::Timeout);
    let file = recorder.histograms_file(Duration::from_secs(1));
    let m = &file.metrics[0];
    assert_eq!(m.error_samples.len(), MAX_ERROR_SAMPLES);
    assert!(m.error_samples.iter().all(|s| s.count == 5));
    assert_eq!(m.totals.errors, 100);
    assert_eq!(m.totals.timeouts, 1);
    assert!(m.latencies.is_empty(), "failures are counted, not timed");
}

#[test]
fn setup_metrics_keep_records_from_before_measurement() {
    let recorder = Recorder::new();
    let setup = recorder.register_setup(key("connection_setup"));
    let query = recorder.register(key("query"), None);
    let before = Instant::now();
    recorder.record(setup, timing(before, 0, 0, 3), RequestOutcome::Success);
    recorder.record(query, timing(before, 0, 0, 3), RequestOutcome::Success);
    recorder.start_measurement(Instant::now(), Utc::now());
    let file = recorder.histograms_file(Duration::from_secs(1));
    let by_name = |name: &str| {
        file.metrics
            .iter()
            .find(|m| m.key.name == name)
            .unwrap()
            .clone()
    };
    let setup_metric = by_name("connection_setup");
    assert_eq!(setup_metric.totals.requests, 1);
    let response = &setup_metric.latencies[&LatencyKind::ResponseTime];
    assert_eq!(response.summary.count, 1);
    assert!(setup_metric.intervals.is_empty());
    // An ordinary metric still drops what happened before measurement.
    assert_eq!(by_name("query").totals.requests, 0);
}

#[test]
fn a_ramp_reports_the_rate_its_schedule_asked_for() {
    let recorder = Recorder::new();
    // A ramp declared as starting from 0 requests/s.
    let id = recorder.register(key("query"), Some(0.0));
    recorder.start_measurement(Instant::now(), Utc::now());
    recorder.scheduled(id, 20);
    let file = recorder.histograms_file(Duration::from_secs(10));
    assert_eq!(file.metrics[0].target_rate, Some(2.0));
}
