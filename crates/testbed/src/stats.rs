//! Counters that tests and the stats endpoint read.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::{Deserialize, Serialize};

/// A snapshot of the counters, as `GET /_testbed/stats` answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Query executions (HTTP, one-shot and every subscription run).
    pub queries: u64,
    /// Mutation executions that committed or failed (retries not counted).
    pub mutations: u64,
    pub actions: u64,
    pub http_actions: u64,
    /// Mutation attempts that lost an optimistic-concurrency conflict and
    /// were re-run.
    pub occ_retries: u64,
    /// Subscription re-executions caused by a commit.
    pub subscription_reruns: u64,
    /// Commits that wrote at least one document.
    pub commits: u64,
    pub connections_opened: u64,
    pub connections_active: u64,
}

#[derive(Default)]
pub struct Counters {
    pub queries: AtomicU64,
    pub mutations: AtomicU64,
    pub actions: AtomicU64,
    pub http_actions: AtomicU64,
    pub occ_retries: AtomicU64,
    pub subscription_reruns: AtomicU64,
    pub commits: AtomicU64,
    pub connections_opened: AtomicU64,
    pub connections_active: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }

    pub fn snapshot(&self) -> Stats {
        Stats {
            queries: self.queries.load(Relaxed),
            mutations: self.mutations.load(Relaxed),
            actions: self.actions.load(Relaxed),
            http_actions: self.http_actions.load(Relaxed),
            occ_retries: self.occ_retries.load(Relaxed),
            subscription_reruns: self.subscription_reruns.load(Relaxed),
            commits: self.commits.load(Relaxed),
            connections_opened: self.connections_opened.load(Relaxed),
            connections_active: self.connections_active.load(Relaxed),
        }
    }
}
