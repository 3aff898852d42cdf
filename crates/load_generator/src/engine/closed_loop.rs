//! Closed loop (`benchmark: N`): N workers, each starting its next request
//! when the previous one finished. There is no schedule, so scheduled start
//! and send coincide and response time equals service time.

use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinSet;

use super::{LoopReport, StopSignal, Window};
use crate::scenario::Scenario;

pub async fn run(
    scenario: Arc<dyn Scenario>,
    workers: u32,
    window: Window,
    stop: StopSignal,
) -> LoopReport {
    let mut set = JoinSet::new();
    for _ in 0..workers {
        let scenario = scenario.clone();
        let stop = stop.clone();
        set.spawn(async move {
            let mut started = 0u64;
            loop {
                let now = Instant::now();
                if now >= window.end || stop.is_stopped() {
                    return started;
                }
                started += 1;
                scenario.clone().run_once(now).await;
            }
        });
    }
    let mut report = LoopReport::default();
    let mut drain_deadline = tokio::time::Instant::from_std(window.end + window.drain);
    loop {
        tokio::select! {
            next = set.join_next() => match next {
                Some(Ok(started)) => report.started += started,
                Some(Err(_)) => {}
                None => break,
            },
            _ = tokio::time::sleep_until(drain_deadline) => {
                report.abandoned = set.len() as u64;
                set.abort_all();
                break;
            }
            // Stopped early: stragglers get the drain period from now.
            _ = stop.stopped(), if !stop.is_stopped() => {
                drain_deadline = drain_deadline.min(tokio::time::Instant::now() + window.drain);
            }
        }
    }
    report.scheduled = report.started;
    report
}
