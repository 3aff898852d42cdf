//! The boundary between the engine (which decides *when* a request starts)
//! and the scenarios (which decide *what* a request is and record it).

use std::sync::Arc;
use std::time::Instant;

use futures_util::future::BoxFuture;
use results_format::MetricKey;

/// When one request was meant to start, went on the wire, and finished.
/// Response time = finished - scheduled; service time = finished - sent;
/// start lag = sent - scheduled.
#[derive(Debug, Clone, Copy)]
pub struct RequestTiming {
    pub scheduled: Instant,
    pub sent: Instant,
    pub finished: Instant,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RequestOutcome {
    Success,
    /// `category` is the Convex error metric name (e.g. `query`,
    /// `search_document_mismatch`).
    Error {
        category: String,
        message: String,
    },
    Timeout,
}

/// Index of a registered metric; cheap to copy into hot paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MetricId(pub usize);

/// Where scenarios put what they measure. Implemented by the recorder.
pub trait MetricSink: Send + Sync + 'static {
    /// Registers a metric (idempotent for the same key) so it appears in
    /// results even if it never records anything.
    fn register(&self, key: MetricKey, target_rate: Option<f64>) -> MetricId;
    /// One finished request. Timings of successes go into the histograms.
    fn record(&self, metric: MetricId, timing: RequestTiming, outcome: RequestOutcome);
    /// A count-only event (e.g. `export_completed`).
    fn count(&self, metric: MetricId, n: u64);
    /// A request the open-loop schedule could not queue: never sent.
    fn dropped(&self, metric: MetricId, n: u64);
    /// Requests the open-loop schedule planned to start (sent or not), so
    /// reports can compare planned with achieved load per interval.
    fn scheduled(&self, metric: MetricId, n: u64) {
        let _ = (metric, n);
    }
    /// Registers a metric of work done before load starts (connection
    /// setup): its records are kept whether or not measurement has begun,
    /// in the whole-run histograms only.
    fn register_setup(&self, key: MetricKey) -> MetricId {
        self.register(key, None)
    }
}

/// One configured scenario, ready to run.
pub trait Scenario: Send + Sync + 'static {
    /// Work before load starts (e.g. opening subscriptions). Not measured.
    fn prepare(self: Arc<Self>) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async { Ok(()) })
    }
    /// One iteration, whose start was scheduled for `scheduled` (which may
    /// be in the past if the generator queued it). Records its own metrics;
    /// never panics on backend errors.
    fn run_once(self: Arc<Self>, scheduled: Instant) -> BoxFuture<'static, ()>;
    /// The metric an open-loop drop is charged to.
    fn primary_metric(&self) -> MetricId;
}
