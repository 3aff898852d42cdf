//! The recorder: the [`MetricSink`] scenarios write into. One set of
//! HdrHistograms per metric and latency kind for the whole run, plus one set
//! for the open one-second interval; when an interval closes its histograms
//! are encoded (V2 compressed, base64), kept for `histograms.json`, appended
//! to the `.hlog`, and reset. Nothing is stored per sample, so memory grows
//! only with the number of closed intervals (see ARCHITECTURE.md).
//!
//! Warm-up: until [`Recorder::start_measurement`] nothing is kept, and a
//! request *scheduled* before that instant is never counted, even if it
//! finishes later. The exception is setup metrics (connection setup, see
//! [`MetricSink::register_setup`]): the connections are opened before load
//! starts, so their records are kept whenever they happen, in the whole-run
//! histograms only.

pub mod hlog;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use results_format::{
    Counts, ErrorSample, HistogramsFile, Interval, LatencyHistogram, LatencyKind, LatencyRecord,
    Metric, MetricKey, SCHEMA_VERSION, Summary, encode_histogram, new_latency_histogram,
};

use crate::scenario::{MetricId, MetricSink, RequestOutcome, RequestTiming};
use hlog::HlogWriter;

/// Length of one interval.
pub const INTERVAL: Duration = Duration::from_secs(1);
/// Distinct error messages kept per metric; later ones are only counted.
pub const MAX_ERROR_SAMPLES: usize = 10;
/// Longer messages are cut (a backend can return whole stack traces).
const MAX_ERROR_MESSAGE_CHARS: usize = 500;

/// The three latency histograms of one metric, indexed like
/// `LatencyKind::ALL`. Allocated on the first success (~190 KB each), so
/// metrics that never time anything (reconnects, count-only events) cost
/// nothing.
struct KindHistograms(Option<Box<[LatencyHistogram; 3]>>);

/// What an unallocated `KindHistograms` reads as.
static EMPTY: std::sync::LazyLock<LatencyHistogram> =
    std::sync::LazyLock::new(new_latency_histogram);

impl KindHistograms {
    fn new() -> Self {
        KindHistograms(None)
    }

    fn record(&mut self, timing: &RequestTiming) {
        let us = |d: Duration| (d.as_micros() as u64).max(1);
        let response = timing.finished.saturating_duration_since(timing.scheduled);
        let service = timing.finished.saturating_duration_since(timing.sent);
        let lag = timing.sent.saturating_duration_since(timing.scheduled);
        let h = self.0.get_or_insert_with(|| {
            Box::new([
                new_latency_histogram(),
                new_latency_histogram(),
                new_latency_histogram(),
            ])
        });
        h[0].saturating_record(us(response));
        h[1].saturating_record(us(service));
        h[2].saturating_record(us(lag));
    }

    fn get(&self, kind: LatencyKind) -> &LatencyHistogram {
        match &self.0 {
            Some(h) => &h[kind as usize],
            None => &EMPTY,
        }
    }

    fn reset(&mut self) {
        if let Some(h) = &mut self.0 {
            for h in h.iter_mut() {
                h.reset();
            }
        }
    }
}

/// Live numbers of one metric's last closed interval (for progress and
/// exporters).
#[derive(Debug, Clone, Default)]
pub struct IntervalStats {
    pub index: u32,
    pub counts: Counts,
    pub scheduled: u64,
    pub response: Summary,
    pub service: Summary,
}

struct MetricState {
    key: MetricKey,
    target_rate: Option<f64>,
    /// Kept across warm-up (see the module docs).
    setup: bool,
    /// Requests the open-loop schedule planned since measurement began.
    scheduled_total: u64,
    totals: Counts,
    whole: KindHistograms,
    current: KindHistograms,
    current_counts: Counts,
    current_scheduled: u64,
    closed: Vec<Interval>,
    last: IntervalStats,
    error_samples: Vec<ErrorSample>,
}

impl MetricState {
    fn new(key: MetricKey, target_rate: Option<f64>) -> Self {
        MetricState {
            key,
            target_rate,
            setup: false,
            scheduled_total: 0,
            totals: Counts::default(),
            whole: KindHistograms::new(),
            current: KindHistograms::new(),
            current_counts: Counts::default(),
            current_scheduled: 0,
            closed: Vec::new(),
            last: IntervalStats::default(),
            error_samples: Vec::new(),
        }
    }

    fn clear(&mut self) {
        if self.setup {
            return;
        }
        let key = self.key.clone();
        *self = MetricState::new(key, self.target_rate);
    }

    /// The rate the schedule asked for: with a ramp (`stages`) the declared
    /// starting rate says little, so the planned starts over the measured
    /// time are used once there are any.
    fn effective_target_rate(&self, secs: f64) -> Option<f64> {
        let declared = self.target_rate?;
        if self.scheduled_total > 0 && secs > 0.0 {
            Some(self.scheduled_total as f64 / secs)
        } else {
            Some(declared)
        }
    }

    /// A setup record from before measurement began: whole-run only, as
    /// no interval is open yet.
    fn record_setup(&mut self, timing: &RequestTiming, outcome: RequestOutcome) {
        self.totals.requests += 1;
        match outcome {
            RequestOutcome::Success => self.whole.record(timing),
            RequestOutcome::Error { category, message } => {
                self.totals.errors += 1;
                self.sample_error(&category, &message);
            }
            RequestOutcome::Timeout => {
                self.totals.timeouts += 1;
                self.sample_error("timeout", "connection setup timed out");
            }
        }
    }

    fn sample_error(&mut self, category: &str, message: &str) {
        let message: String = message.chars().take(MAX_ERROR_MESSAGE_CHARS).collect();
        if let Some(s) = self
            .error_samples
            .iter_mut()
            .find(|s| s.category == category && s.message == message)
        {
            s.count += 1;
        } else if self.error_samples.len() < MAX_ERROR_SAMPLES {
            self.error_samples.push(ErrorSample {
                category: category.to_string(),
                message,
                count: 1,
            });
        }
    }
}

struct Measurement {
    start: Instant,
    started_at: DateTime<Utc>,
}

/// What the recorder hands to `histograms.json` writers and exporters.
pub struct Recorder {
    metrics: RwLock<Vec<Mutex<MetricState>>>,
    by_key: Mutex<HashMap<MetricKey, MetricId>>,
    measurement: OnceLock<Measurement>,
    /// Index of the open interval; bumped by `close_interval`.
    open_interval: Mutex<u32>,
    hlog: Mutex<Option<HlogWriter>>,
    hlog_error: Mutex<Option<String>>,
    /// All metrics' response times of the last closed interval, merged
    /// (reused, so no allocation per interval).
    overall_scratch: Mutex<LatencyHistogram>,
    overall_last: Mutex<OverallInterval>,
}

/// Every metric together, over the last closed interval (progress line).
#[derive(Debug, Clone, Copy, Default)]
pub struct OverallInterval {
    pub index: u32,
    pub counts: Counts,
    pub response: Summary,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    pub fn new() -> Self {
        Recorder {
            metrics: RwLock::new(Vec::new()),
            by_key: Mutex::new(HashMap::new()),
            measurement: OnceLock::new(),
            open_interval: Mutex::new(0),
            hlog: Mutex::new(None),
            hlog_error: Mutex::new(None),
            overall_scratch: Mutex::new(new_latency_histogram()),
            overall_last: Mutex::new(OverallInterval::default()),
        }
    }

    /// Sets when measurement starts (now or in the future, at the end of
    /// warm-up): requests scheduled before `start`, and count-only events
    /// before it, are not kept. `started_at` is the wall-clock time of
    /// `start`. Call once, before load starts, so no early finisher is lost.
    pub fn start_measurement(&self, start: Instant, started_at: DateTime<Utc>) {
        for m in self.metrics.read().unwrap().iter() {
            m.lock().unwrap().clear();
        }
        let _ = self.measurement.set(Measurement { start, started_at });
    }

    pub fn measurement_start(&self) -> Option<(Instant, DateTime<Utc>)> {
        self.measurement.get().map(|m| (m.start, m.started_at))
    }

    /// Closed intervals are appended to this interval log from now on.
    pub fn set_hlog(&self, writer: HlogWriter) {
        *self.hlog.lock().unwrap() = Some(writer);
    }

    /// The first failure to write the `.hlog`, if any (the run goes on).
    pub fn hlog_error(&self) -> Option<String> {
        self.hlog_error.lock().unwrap().clone()
    }

    fn measuring(&self) -> Option<&Measurement> {
        self.measurement.get()
    }

    /// For events without a schedule: whether measurement has begun.
    fn measuring_now(&self) -> bool {
        self.measuring().is_some_and(|m| Instant::now() >= m.start)
    }

    /// Closes the open interval of every metric: encodes its histograms,
    /// keeps them, appends them to the `.hlog` and starts the next one.
    /// Called once per [`INTERVAL`] by the run's ticker, and once at the end
    /// for the last, possibly shorter, interval.
    pub fn close_interval(&self, length: Duration) {
        if self.measuring().is_none() {
            return;
        }
        let mut index_guard = self.open_interval.lock().unwrap();
        let index = *index_guard;
        *index_guard += 1;
        let start = INTERVAL * index;
        let mut hlog = self.hlog.lock().unwrap();
        let mut overall = self.overall_scratch.lock().unwrap();
        overall.reset();
        let mut overall_counts = Counts::default();
        for m in self.metrics.read().unwrap().iter() {
            let mut m = m.lock().unwrap();
            let _ = overall.add(m.current.get(LatencyKind::ResponseTime));
            overall_counts.add(&m.current_counts);
            let mut latencies = std::collections::BTreeMap::new();
            for kind in LatencyKind::ALL {
                let h = m.current.get(kind);
                if h.is_empty() {
                    continue;
                }
                let Ok(encoded) = encode_histogram(h) else {
                    continue;
                };
                if let Some(writer) = hlog.as_mut() {
                    let tag = hlog::tag_for(&m.key, kind);
                    if let Err(e) = writer.append(&tag, start, length, h.max(), &encoded) {
                        self.hlog_error.lock().unwrap().get_or_insert(e.to_string());
                    }
                }
                latencies.insert(kind, encoded);
            }
            m.last = IntervalStats {
                index,
                counts: m.current_counts,
                scheduled: m.current_scheduled,
                response: Summary::from_histogram(m.current.get(LatencyKind::ResponseTime)),
                service: Summary::from_histogram(m.current.get(LatencyKind::ServiceTime)),
            };
            let interval = Interval {
                index,
                counts: m.current_counts,
                scheduled: Some(m.current_scheduled),
                latencies,
            };
            m.closed.push(interval);
            m.current.reset();
            m.current_counts = Counts::default();
            m.current_scheduled = 0;
        }
        *self.overall_last.lock().unwrap() = OverallInterval {
            index,
            counts: overall_counts,
            response: Summary::from_histogram(&overall),
        };
        if let Some(writer) = hlog.as_mut() {
            if let Err(e) = writer.flush() {
                self.hlog_error.lock().unwrap().get_or_insert(e.to_string());
            }
        }
    }

    /// Every metric together over the last closed interval.
    pub fn overall_last(&self) -> OverallInterval {
        *self.overall_last.lock().unwrap()
    }

    /// Every metric's closed intervals and whole-run histograms, for
    /// `histograms.json`. `elapsed` is the measured time so far.
    pub fn histograms_file(&self, elapsed: Duration) -> HistogramsFile {
        let started_at = self
            .measuring()
            .map(|m| m.started_at)
            .unwrap_or_else(Utc::now);
        let secs = elapsed.as_secs_f64();
        let metrics = self
            .metrics
            .read()
            .unwrap()
            .iter()
            .map(|m| {
                let m = m.lock().unwrap();
                let mut latencies = std::collections::BTreeMap::new();
                for kind in LatencyKind::ALL {
                    let h = m.whole.get(kind);
                    if h.is_empty() {
                        continue;
                    }
                    if let Ok(histogram) = encode_histogram(h) {
                        latencies.insert(
                            kind,
                            LatencyRecord {
                                summary: Summary::from_histogram(h),
                                histogram,
                            },
                        );
                    }
                }
                Metric {
                    key: m.key.clone(),
                    target_rate: m.effective_target_rate(secs),
                    achieved_rate: if secs > 0.0 {
                        m.totals.requests as f64 / secs
                    } else {
                        0.0
                    },
                    totals: m.totals,
                    error_samples: m.error_samples.clone(),
                    latencies,
                    intervals: m.closed.clone(),
                }
            })
            .collect();
        HistogramsFile {
            schema_version: SCHEMA_VERSION,
            interval_secs: INTERVAL.as_secs_f64(),
            started_at,
            metrics,
        }
    }

    /// Live view for progress and exporters: per metric its key, target
    /// rate, totals, whole-run response-time summary and last interval.
    pub fn live(&self) -> Vec<LiveMetric> {
        self.metrics
            .read()
            .unwrap()
            .iter()
            .map(|m| {
                let m = m.lock().unwrap();
                LiveMetric {
                    key: m.key.clone(),
                    target_rate: m.target_rate,
                    totals: m.totals,
                    response: Summary::from_histogram(m.whole.get(LatencyKind::ResponseTime)),
                    service: Summary::from_histogram(m.whole.get(LatencyKind::ServiceTime)),
                    last: m.last.clone(),
                }
            })
            .collect()
    }

    /// Total errors + timeouts over every metric (Convex's error budget).
    pub fn total_errors(&self) -> u64 {
        self.metrics
            .read()
            .unwrap()
            .iter()
            .map(|m| {
                let t = m.lock().unwrap().totals;
                t.errors + t.timeouts
            })
            .sum()
    }

    fn with_metric(&self, id: MetricId, f: impl FnOnce(&mut MetricState)) {
        if let Some(m) = self.metrics.read().unwrap().get(id.0) {
            f(&mut m.lock().unwrap());
        }
    }
}

#[derive(Debug, Clone)]
pub struct LiveMetric {
    pub key: MetricKey,
    pub target_rate: Option<f64>,
    pub totals: Counts,
    pub response: Summary,
    pub service: Summary,
    pub last: IntervalStats,
}

impl MetricSink for Recorder {
    fn register(&self, key: MetricKey, target_rate: Option<f64>) -> MetricId {
        let mut by_key = self.by_key.lock().unwrap();
        if let Some(id) = by_key.get(&key) {
            // A later registration may know the rate an earlier one did not.
            if target_rate.is_some() {
                self.with_metric(*id, |m| {
                    if m.target_rate.is_none() {
                        m.target_rate = target_rate;
                    }
                });
            }
            return *id;
        }
        let mut metrics = self.metrics.write().unwrap();
        let id = MetricId(metrics.len());
        metrics.push(Mutex::new(MetricState::new(key.clone(), target_rate)));
        by_key.insert(key, id);
        id
    }

    fn record(&self, metric: MetricId, timing: RequestTiming, outcome: RequestOutcome) {
        let measured = self
            .measuring()
            .is_some_and(|measurement| timing.scheduled >= measurement.start);
        self.with_metric(metric, |m| {
            if !measured {
                if m.setup {
                    m.record_setup(&timing, outcome);
                }
                return;
            }
            m.totals.requests += 1;
            m.current_counts.requests += 1;
            match outcome {
                RequestOutcome::Success => {
                    m.whole.record(&timing);
                    m.current.record(&timing);
                }
                RequestOutcome::Error { category, message } => {
                    m.totals.errors += 1;
                    m.current_counts.errors += 1;
                    m.sample_error(&category, &message);
                }
                RequestOutcome::Timeout => {
                    m.totals.timeouts += 1;
                    m.current_counts.timeouts += 1;
                    let after = timing.finished.saturating_duration_since(timing.sent);
                    m.sample_error(
                        "timeout",
                        &format!("no response within {} ms", after.as_millis()),
                    );
                }
            }
        });
    }

    fn count(&self, metric: MetricId, n: u64) {
        if !self.measuring_now() {
            return;
        }
        self.with_metric(metric, |m| {
            m.totals.requests += n;
            m.current_counts.requests += n;
        });
    }

    fn dropped(&self, metric: MetricId, n: u64) {
        if !self.measuring_now() {
            return;
        }
        self.with_metric(metric, |m| {
            m.totals.dropped += n;
            m.current_counts.dropped += n;
        });
    }

    fn scheduled(&self, metric: MetricId, n: u64) {
        if !self.measuring_now() {
            return;
        }
        self.with_metric(metric, |m| {
            m.current_scheduled += n;
            m.scheduled_total += n;
        });
    }

    fn register_setup(&self, key: MetricKey) -> MetricId {
        let id = self.register(key, None);
        self.with_metric(id, |m| m.setup = true);
        id
    }
}

#[cfg(test)]
mod tests;
