//! Live metrics for monitoring systems: Prometheus (pull, `--metrics-addr`)
//! and DogStatsD (push, `--statsd-addr`, with Datadog tags).

pub mod prometheus;
pub mod statsd;
