//! The load generator: workload -> schedule -> protocol session -> recorder
//! -> results archive.
//!
//! ```text
//! load-generator <workload.json> --duration S --existing-instance-url URL
//!     [--existing-instance-admin-key KEY] [--output DIR] [--label TEXT]
//!     [--format json] [--quiet] [--warmup S] [--seed N] [--once]
//!     [--stats-report] [--metrics-addr A] [--statsd-addr A]
//!     [--provision-host URL] [--access-token T] [--drain S]
//! ```
//!
//! URL, admin key and access token also come from `CONVEX_SELF_HOSTED_URL`,
//! `CONVEX_SELF_HOSTED_ADMIN_KEY`, `CONVEX_ACCESS_TOKEN` (and `.env.local`).
//!
//! Exit codes:
//! - 0: the run completed and passed (thresholds met, error budget kept);
//! - 1: the run completed but a threshold or the error budget failed;
//! - 2: invalid input (workload, flags, output folder): nothing started;
//! - 3: the run could not complete (backend failed, interrupted, setup
//!   failed); `run.json` and `histograms.json` were written, marked partial.

pub mod cli;
pub mod engine;
pub mod export;
pub mod host;
pub mod perf;
pub mod progress;
pub mod protocol;
pub mod recorder;
pub mod report;
pub mod run;
pub mod run_env;
pub mod scenario;
pub mod scenarios;
pub mod thresholds;
pub mod workload;
