//! Command line. The flags of Convex's own load generator keep their names
//! and meaning (`--duration`, `--existing-instance-url`,
//! `--existing-instance-admin-key`, `--stats-report`, `--once`,
//! `--metrics-addr`), so scripts written for it still work. Secrets are
//! best passed through the environment (or `.env.local`), never argv.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    /// A table for people.
    #[default]
    Text,
    /// One JSON document on stdout, for scripts.
    Json,
}

#[derive(Parser, Debug, Clone)]
#[command(
    name = "load-generator",
    version,
    about = "Drives Convex benchmark scenarios open-loop (rate) or closed-loop (benchmark) and records every latency in HdrHistograms.",
    after_help = "Exit codes: 0 passed; 1 thresholds or error budget failed; 2 invalid input (nothing started); 3 the run could not complete (backend failed or interrupted), partial files written."
)]
pub struct Cli {
    /// Workload JSON file (Convex's format, plus optional extensions).
    pub workload: PathBuf,

    /// Seconds of measured load (after warm-up). Default: the workload's
    /// `duration_secs`, else 60.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,

    /// Deployment URL, e.g. http://127.0.0.1:3210.
    #[arg(long, env = "CONVEX_SELF_HOSTED_URL", value_name = "URL")]
    pub existing_instance_url: Option<String>,

    /// Admin key (prefer the environment variable: argv is visible to
    /// other users of the machine).
    #[arg(
        long,
        env = "CONVEX_SELF_HOSTED_ADMIN_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub existing_instance_admin_key: Option<String>,

    /// Where HTTP actions are served. Default: asked from the deployment
    /// by the scenarios, or `<url>/http`.
    #[arg(long, env = "CONVEX_SITE_URL", value_name = "URL")]
    pub site_url: Option<String>,

    /// Folder for run.json, histograms.json and latencies.hlog. Default:
    /// results/<UTC time>-<workload name>.
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,

    /// Free text stored in run.json (e.g. a change being measured).
    #[arg(long, value_name = "TEXT")]
    pub label: Option<String>,

    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,

    /// No progress and no table (errors still go to stderr).
    #[arg(long)]
    pub quiet: bool,

    /// Seconds of load before measurement starts; nothing scheduled in
    /// them is recorded.
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    pub warmup: f64,

    /// Seed for every random choice (default: random, recorded in run.json).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Run every scenario exactly once, then stop (a smoke check).
    #[arg(long)]
    pub once: bool,

    /// Print the stats report (kept for Convex compatibility; the report
    /// is printed by default unless --quiet or --format json).
    #[arg(long)]
    pub stats_report: bool,

    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9100).
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// Send DogStatsD metrics (with tags) to this UDP address, e.g. a
    /// Datadog agent at 127.0.0.1:8125.
    #[arg(long, value_name = "ADDR")]
    pub statsd_addr: Option<SocketAddr>,

    /// Convex provisioning API host (CloudBackup only).
    #[arg(long, value_name = "URL")]
    pub provision_host: Option<String>,

    /// Convex access token for the provisioning API (CloudBackup only).
    #[arg(
        long,
        env = "CONVEX_ACCESS_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub access_token: Option<String>,

    /// Seconds requests still running at the end may take to finish.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    pub drain: f64,
}
