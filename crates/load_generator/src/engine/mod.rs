//! The engine decides *when* each request starts; scenarios decide *what*
//! it is. Open loop (`rate`): requests start on a schedule independent of
//! responses, and are timed from their scheduled start. Closed loop
//! (`benchmark`): N workers, each waiting for its previous request.

pub mod closed_loop;
pub mod open_loop;
pub mod schedule;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::scenario::{MetricSink, Scenario};
use crate::workload::model::{Mode, ScenarioOptions};

/// Requests allowed to wait at the generator when a workload sets
/// `max_in_flight` but not `max_queued`.
pub const DEFAULT_MAX_QUEUED: u32 = 100_000;

/// Tells every loop to stop starting requests (end of run, Ctrl-C).
#[derive(Clone, Default)]
pub struct StopSignal(Arc<StopInner>);

#[derive(Default)]
struct StopInner {
    stopped: AtomicBool,
    notify: Notify,
}

impl StopSignal {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn stop(&self) {
        self.0.stopped.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    pub fn is_stopped(&self) -> bool {
        self.0.stopped.load(Ordering::SeqCst)
    }

    /// Resolves once `stop` was called (at once if it already was).
    pub async fn stopped(&self) {
        loop {
            let notified = self.0.notify.notified();
            if self.is_stopped() {
                return;
            }
            notified.await;
        }
    }
}

/// When load runs and how long to wait for stragglers.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Start of load (warm-up included); schedules count from here.
    pub start: Instant,
    /// No request is started at or after this instant.
    pub end: Instant,
    /// After `end`, how long in-flight and queued requests may still
    /// finish before the loop gives up on them.
    pub drain: Duration,
}

/// What a loop did, for the terminal report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoopReport {
    pub scheduled: u64,
    pub started: u64,
    pub dropped: u64,
    /// Requests still running (or queued) when the drain period ended.
    pub abandoned: u64,
}

/// Runs one scenario in its mode until the window ends or `stop` fires.
pub async fn drive(
    scenario: Arc<dyn Scenario>,
    mode: &Mode,
    options: &ScenarioOptions,
    sink: Arc<dyn MetricSink>,
    window: Window,
    stop: StopSignal,
    seed: u64,
) -> LoopReport {
    match mode {
        Mode::Rate {
            rate,
            arrival,
            stages,
        } => {
            let config = open_loop::OpenLoopConfig {
                schedule: schedule::Schedule::new(*rate, *arrival, stages.clone(), seed),
                max_in_flight: options.max_in_flight,
                max_queued: options.max_queued.unwrap_or(DEFAULT_MAX_QUEUED),
            };
            open_loop::run(scenario, config, sink, window, stop).await
        }
        Mode::Benchmark { workers } => closed_loop::run(scenario, *workers, window, stop).await,
    }
}

#[cfg(test)]
mod tests;
