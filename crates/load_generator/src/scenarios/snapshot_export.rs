//! SnapshotExport: request an export, follow `_system/frontend/latestExport`
//! until it completes, download the zip and drain it. Convex reports only
//! counts and errors for this scenario (no latency).

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use futures_util::future::BoxFuture;
use serde_json::{Value as JsonValue, json};

use super::common::{Base, prepared};
use crate::protocol::wire::decode_int64;
use crate::protocol::{ConnectionPool, EXPORT_TIMEOUT};
use crate::run_env::RunEnv;
use crate::scenario::{MetricId, Scenario};
use crate::workload::model::ScenarioConfig;

const LATEST_EXPORT: &str = "_system/frontend/latestExport";

struct Metrics {
    request_succeeded: MetricId,
    in_progress: MetricId,
    completed: MetricId,
    get_succeeded: MetricId,
    timeout: MetricId,
    request_failed: MetricId,
    get_failed: MetricId,
    export_failed: MetricId,
    failure: MetricId,
}

pub(crate) struct SnapshotExport {
    base: Base,
    http: reqwest::Client,
    pool: OnceLock<ConnectionPool>,
    m: Metrics,
}

/// How one export attempt ended, if not by a download.
enum Stop {
    /// (metric, category, message)
    Error(MetricId, &'static str, String),
    TimedOut,
}

impl SnapshotExport {
    pub fn build(config: &ScenarioConfig, env: &RunEnv) -> anyhow::Result<Arc<dyn Scenario>> {
        let base = Base::new(config, env, "SnapshotExport");
        base.require_websocket()?;
        let m = Metrics {
            request_succeeded: base.counter("request_export_succeeded"),
            in_progress: base.counter("export_in_progress"),
            completed: base.counter("export_completed"),
            get_succeeded: base.counter("get_export_succeeded"),
            timeout: base.counter("export_timeout"),
            request_failed: base.counter("request_export_failed"),
            get_failed: base.counter("get_export_failed"),
            export_failed: base.counter("snapshot_export_failed"),
            failure: base.counter("snapshot_failure"),
        };
        Ok(Arc::new(SnapshotExport {
            base,
            http: reqwest::Client::new(),
            pool: OnceLock::new(),
            m,
        }))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.env.url.trim_end_matches('/'))
    }

    fn auth(&self) -> String {
        format!("Convex {}", self.base.env.admin_key)
    }

    async fn export_once(&self) -> Result<(), Stop> {
        let pool = prepared(&self.pool)
            .map_err(|f| Stop::Error(self.m.failure, "snapshot_failure", f.to_string()))?;
        // Subscribe first so the request's own states are not missed.
        let mut latest = pool
            .next()
            .subscribe(LATEST_EXPORT, json!({}))
            .await
            .map_err(|f| {
                Stop::Error(
                    self.m.failure,
                    "snapshot_failure",
                    format!("subscribing to {LATEST_EXPORT}: {f}"),
                )
            })?;
        let before = latest.next().await.map_err(|e| {
            Stop::Error(
                self.m.failure,
                "snapshot_failure",
                format!("{LATEST_EXPORT}: {e}"),
            )
        })?;

        let response = self
            .http
            .post(self.url("/api/export/request/zip"))
            .header(reqwest::header::AUTHORIZATION, self.auth())
            .send()
            .await
            .map_err(|e| {
                Stop::Error(
                    self.m.request_failed,
                    "request_export_failed",
                    e.to_string(),
                )
            })?;
        if !response.status().is_success() {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            return Err(Stop::Error(
                self.m.request_failed,
                "request_export_failed",
                format!(
                    "HTTP {status}: {}",
                    body.chars().take(300).collect::<String>()
                ),
            ));
        }
        self.base.sink.count(self.m.request_succeeded, 1);

        // A completed export already showing before our request is not ours.
        let mut value = before;
        let mut skip_completed = state(&value) == Some("completed");
        let mut counted_in_progress = false;
        let start_ts = loop {
            match state(&value) {
                Some("in_progress") if !counted_in_progress => {
                    counted_in_progress = true;
                    skip_completed = false;
                    self.base.sink.count(self.m.in_progress, 1);
                }
                Some("requested") => skip_completed = false,
                Some("completed") if !skip_completed => {
                    self.base.sink.count(self.m.completed, 1);
                    break value
                        .get("start_ts")
                        .and_then(decode_int64)
                        .ok_or_else(|| {
                            Stop::Error(
                                self.m.failure,
                                "snapshot_failure",
                                format!("completed export has no start_ts: {value}"),
                            )
                        })?;
                }
                Some("failed") if !skip_completed => {
                    return Err(Stop::Error(
                        self.m.export_failed,
                        "snapshot_export_failed",
                        format!("export failed: {value}"),
                    ));
                }
                _ => {}
            }
            value = latest.next().await.map_err(|e| {
                Stop::Error(
                    self.m.failure,
                    "snapshot_failure",
                    format!("{LATEST_EXPORT}: {e}"),
                )
            })?;
        };

        let mut download = self
            .http
            .get(self.url(&format!("/api/export/zip/{start_ts}")))
            .header(reqwest::header::AUTHORIZATION, self.auth())
            .send()
            .await
            .map_err(|e| Stop::Error(self.m.get_failed, "get_export_failed", e.to_string()))?;
        if !download.status().is_success() {
            return Err(Stop::Error(
                self.m.get_failed,
                "get_export_failed",
                format!("HTTP {}", download.status()),
            ));
        }
        let mut bytes = 0usize;
        while let Some(chunk) = download
            .chunk()
            .await
            .map_err(|e| Stop::Error(self.m.get_failed, "get_export_failed", e.to_string()))?
        {
            bytes += chunk.len();
        }
        if bytes == 0 {
            return Err(Stop::Error(
                self.m.get_failed,
                "get_export_failed",
                "empty archive".into(),
            ));
        }
        self.base.sink.count(self.m.get_succeeded, 1);
        Ok(())
    }
}

fn state(value: &JsonValue) -> Option<&str> {
    value.get("state").and_then(JsonValue::as_str)
}

impl Scenario for SnapshotExport {
    fn prepare(self: Arc<Self>) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async move {
            if self.pool.get().is_none() {
                let _ = self.pool.set(self.base.open_pool().await?);
            }
            Ok(())
        })
    }

    fn run_once(self: Arc<Self>, scheduled: Instant) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let timeout = self.base.timeout(EXPORT_TIMEOUT);
            let result = match tokio::time::timeout(timeout, self.export_once()).await {
                Ok(result) => result,
                Err(_) => Err(Stop::TimedOut),
            };
            match result {
                Ok(()) => {}
                Err(Stop::TimedOut) => self.base.sink.count(self.m.timeout, 1),
                Err(Stop::Error(metric, category, message)) => {
                    self.base.record_error(metric, scheduled, category, message)
                }
            }
        })
    }

    fn primary_metric(&self) -> MetricId {
        self.m.request_succeeded
    }
}
