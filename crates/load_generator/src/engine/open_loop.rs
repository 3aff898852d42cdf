//! Open loop. A dedicated timer thread walks the schedule with absolute
//! deadlines and hands each due request to the async runtime. Using an OS
//! thread rather than a tokio timer matters: tokio's timer wheel has 1 ms
//! granularity, which alone would add ~0.5 ms of start lag on average;
//! `std::thread::sleep` wakes within tens of microseconds.
//!
//! With `max_in_flight`, a due request that finds every slot busy waits in
//! a bounded FIFO at the generator and is started by the next request to
//! finish; it keeps its scheduled start, so its wait counts in its response
//! time. Past `max_queued`, requests are dropped and counted.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::schedule::Schedule;
use super::{LoopReport, StopSignal, Window};
use crate::scenario::{MetricSink, Scenario};

pub struct OpenLoopConfig {
    pub schedule: Schedule,
    pub max_in_flight: Option<u32>,
    pub max_queued: u32,
}

/// The longest the timer thread sleeps at once, so it notices `stop`.
const MAX_TIMER_SLEEP: Duration = Duration::from_millis(20);

#[derive(Default)]
struct Slots {
    in_flight: u32,
    queue: VecDeque<Instant>,
}

struct Shared {
    scenario: Arc<dyn Scenario>,
    slots: Mutex<Slots>,
    /// Signalled whenever a request finishes and nothing is left running.
    idle: Notify,
    max_in_flight: Option<u32>,
    max_queued: usize,
}

impl Shared {
    /// Runs the request scheduled at `scheduled`, then whatever queued
    /// behind it, in the same slot.
    async fn run_slot(self: Arc<Self>, scheduled: Instant) {
        let mut next = scheduled;
        loop {
            self.scenario.clone().run_once(next).await;
            let mut slots = self.slots.lock().unwrap();
            match slots.queue.pop_front() {
                Some(queued) => next = queued,
                None => {
                    slots.in_flight -= 1;
                    if slots.in_flight == 0 {
                        self.idle.notify_waiters();
                    }
                    return;
                }
            }
        }
    }
}

enum Admission {
    Start,
    Queued,
    Dropped,
}

pub async fn run(
    scenario: Arc<dyn Scenario>,
    config: OpenLoopConfig,
    sink: Arc<dyn MetricSink>,
    window: Window,
    stop: StopSignal,
) -> LoopReport {
    let metric = scenario.primary_metric();
    let shared = Arc::new(Shared {
        scenario,
        slots: Mutex::new(Slots::default()),
        idle: Notify::new(),
        max_in_flight: config.max_in_flight,
        max_queued: config.max_queued as usize,
    });
    let runtime = tokio::runtime::Handle::current();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let timer_shared = shared.clone();
    let timer_stop = stop.clone();
    let mut schedule = config.schedule;
    std::thread::Builder::new()
        .name("open-loop-timer".into())
        .spawn(move || {
            let mut report = LoopReport::default();
            for offset in schedule.by_ref() {
                let due = window.start + offset;
                if due >= window.end {
                    break;
                }
                if !sleep_until(due, &timer_stop) {
                    break;
                }
                report.scheduled += 1;
                sink.scheduled(metric, 1);
                let admission = {
                    let mut slots = timer_shared.slots.lock().unwrap();
                    let free = timer_shared
                        .max_in_flight
                        .is_none_or(|cap| slots.in_flight < cap);
                    if free {
                        slots.in_flight += 1;
                        Admission::Start
                    } else if slots.queue.len() < timer_shared.max_queued {
                        slots.queue.push_back(due);
                        Admission::Queued
                    } else {
                        Admission::Dropped
                    }
                };
                match admission {
                    Admission::Start => {
                        report.started += 1;
                        runtime.spawn(timer_shared.clone().run_slot(due));
                    }
                    Admission::Queued => report.started += 1,
                    Admission::Dropped => {
                        report.dropped += 1;
                        sink.dropped(metric, 1);
                    }
                }
            }
            let _ = done_tx.send(report);
        })
        .expect("spawning the open-loop timer thread");
    let mut report = done_rx.await.unwrap_or_default();

    // Let what is running (and queued) finish, within the drain period.
    // The timer stops at the window's end or on `stop`, so this is then.
    let drain_deadline = tokio::time::Instant::now() + window.drain;
    loop {
        let idle = shared.idle.notified();
        {
            let slots = shared.slots.lock().unwrap();
            if slots.in_flight == 0 {
                break;
            }
            if tokio::time::Instant::now() >= drain_deadline {
                report.abandoned = u64::from(slots.in_flight) + slots.queue.len() as u64;
                break;
            }
        }
        let _ = tokio::time::timeout_at(drain_deadline, idle).await;
    }
    report
}

/// Sleeps until `due` on this OS thread; false if `stop` fired first.
fn sleep_until(due: Instant, stop: &StopSignal) -> bool {
    loop {
        if stop.is_stopped() {
            return false;
        }
        let now = Instant::now();
        if now >= due {
            return true;
        }
        std::thread::sleep((due - now).min(MAX_TIMER_SLEEP));
    }
}
