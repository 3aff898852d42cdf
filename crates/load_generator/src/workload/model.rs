//! The validated workload. Anything holding these types may assume every
//! value is in range: validation happens once, at parse time.

use std::time::Duration;

/// Rows seeded into `messages` when a workload does not say (Convex's default).
pub const DEFAULT_NUM_ROWS: u64 = 500;

#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    pub name: String,
    pub scenarios: Vec<ScenarioConfig>,
    /// Rows seeded by `setup:setupMessages` before the run.
    pub num_rows: u64,
    /// Rows seeded by `setup:setupVectors` before the run.
    pub num_vector_rows: u64,
    /// Extension: pass/fail criteria checked at the end of the run.
    pub thresholds: Vec<Threshold>,
    /// Extension (`duration_secs`): how long to run when the command line
    /// gives no `--duration`.
    pub duration: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioConfig {
    pub spec: ScenarioSpec,
    pub mode: Mode,
    pub options: ScenarioOptions,
}

/// One of Convex's scenario kinds with its own fields.
#[derive(Debug, Clone, PartialEq)]
pub enum ScenarioSpec {
    RunFunction {
        path: String,
        fn_type: FunctionType,
        /// Extension: fixed arguments. `None` means Convex's behaviour
        /// (no arguments; queries get a random `cacheBreaker`).
        args: Option<serde_json::Map<String, serde_json::Value>>,
    },
    RunHttpAction {
        /// Relative to the site URL, without a leading slash (`basic`).
        path: String,
        method: String,
    },
    ObserveInsert {
        search_indexes: bool,
    },
    Search,
    VectorSearch,
    ManyIntersections {
        num_subscriptions: u32,
    },
    HoldSubscriptions {
        num_subscriptions: u32,
        hold_duration_secs: u64,
        invalidation_interval_secs: Option<u64>,
        num_invalidations: Option<u32>,
    },
    SnapshotExport,
    CloudBackup,
}

impl ScenarioSpec {
    /// The scenario's name as Convex spells it in workloads and metrics.
    pub fn kind_name(&self) -> &'static str {
        match self {
            ScenarioSpec::RunFunction { .. } => "RunFunction",
            ScenarioSpec::RunHttpAction { .. } => "RunHttpAction",
            ScenarioSpec::ObserveInsert { .. } => "ObserveInsert",
            ScenarioSpec::Search => "Search",
            ScenarioSpec::VectorSearch => "VectorSearch",
            ScenarioSpec::ManyIntersections { .. } => "ManyIntersections",
            ScenarioSpec::HoldSubscriptions { .. } => "HoldSubscriptions",
            ScenarioSpec::SnapshotExport => "SnapshotExport",
            ScenarioSpec::CloudBackup => "CloudBackup",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionType {
    Query,
    Mutation,
    Action,
}

impl FunctionType {
    pub fn as_str(self) -> &'static str {
        match self {
            FunctionType::Query => "query",
            FunctionType::Mutation => "mutation",
            FunctionType::Action => "action",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Open loop: requests start on a schedule, independent of responses.
    Rate {
        /// Requests per second (> 0). With `stages`, the rate the first
        /// stage ramps from (>= 0: load may ramp up from nothing).
        rate: f64,
        arrival: Arrival,
        /// Extension: the rate ramps linearly to each stage's target over
        /// the stage's duration, then holds the last target.
        stages: Vec<Stage>,
    },
    /// Closed loop: N workers, each waiting for its previous request.
    Benchmark { workers: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Arrival {
    /// Evenly spaced starts (wrk2-style).
    #[default]
    Constant,
    /// Exponential inter-arrival times (a Poisson process).
    Poisson,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    pub duration: Duration,
    pub target_rate: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// The sync WebSocket, as Convex's clients use it.
    #[default]
    WebSocket,
    /// `POST /api/query|mutation|action`.
    Http,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScenarioOptions {
    /// Overrides Convex's per-kind timeout (query 2 s, mutation 2 s, ...).
    pub timeout: Option<Duration>,
    pub transport: Transport,
    /// WebSocket connections this scenario spreads its requests over.
    pub connections: Option<u32>,
    /// Open loop only: requests allowed on the wire at once; the rest wait
    /// at the generator (still timed from their scheduled start).
    pub max_in_flight: Option<u32>,
    /// Open loop only: requests allowed to wait at the generator beyond
    /// `max_in_flight`; later ones are dropped and counted.
    pub max_queued: Option<u32>,
}

/// A pass/fail criterion, e.g. `RunFunction/query p99_ms < 50`.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// `Scenario/name` or `Scenario/name/path`, or `*` for every metric.
    pub metric: String,
    pub statistic: Statistic,
    pub comparison: Comparison,
    pub limit: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistic {
    /// A response-time percentile in milliseconds, e.g. 99.0 for p99.
    PercentileMs(PercentileTenths),
    MeanMs,
    MaxMs,
    /// (errors + timeouts) / finished requests, 0..1.
    ErrorRate,
    /// Finished requests per second.
    AchievedRate,
}

/// A percentile in tenths (990 = p99, 999 = p99.9), so it can be `Eq`.
pub type PercentileTenths = u16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    LessThan,
    GreaterThan,
}
