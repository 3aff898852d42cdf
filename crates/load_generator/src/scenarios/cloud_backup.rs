//! CloudBackup (Convex Cloud only): ask the provisioning API for a backup
//! of the deployment, poll it until `complete` or `failed`. `backup` is the
//! latency from request to completion.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use serde_json::Value as JsonValue;

use super::common::Base;
use crate::protocol::EXPORT_TIMEOUT;
use crate::run_env::RunEnv;
use crate::scenario::{MetricId, RequestOutcome, RequestTiming, Scenario};
use crate::workload::model::ScenarioConfig;

const POLL_INTERVAL: Duration = Duration::from_millis(250);

struct Metrics {
    backup: MetricId,
    request_succeeded: MetricId,
    completed: MetricId,
    timeout: MetricId,
}

pub(crate) struct CloudBackup {
    base: Base,
    http: reqwest::Client,
    provision_host: String,
    access_token: String,
    /// The deployment's name (`GET /instance_name`), learned in `prepare`.
    deployment: OnceLock<String>,
    m: Metrics,
}

/// Why a backup attempt ended without completing: (Convex error name,
/// message). Errors are recorded on the `backup` metric under that name.
struct Stop(&'static str, String);

impl CloudBackup {
    pub fn build(config: &ScenarioConfig, env: &RunEnv) -> anyhow::Result<Arc<dyn Scenario>> {
        let provision_host = env.provision_host.clone().ok_or_else(|| {
            anyhow::anyhow!("scenario CloudBackup needs a provisioning API host (provision host); none was given")
        })?;
        let access_token = env.access_token.clone().ok_or_else(|| {
            anyhow::anyhow!("scenario CloudBackup needs a Convex access token; none was given")
        })?;
        let base = Base::new(config, env, "CloudBackup");
        let m = Metrics {
            backup: base.metric("backup", None),
            request_succeeded: base.counter("request_backup_succeeded"),
            completed: base.counter("backup_completed"),
            timeout: base.counter("backup_timeout"),
        };
        Ok(Arc::new(CloudBackup {
            base,
            http: reqwest::Client::new(),
            provision_host: provision_host.trim_end_matches('/').to_string(),
            access_token,
            deployment: OnceLock::new(),
            m,
        }))
    }

    fn deployment_url(&self, deployment: &str, rest: &str) -> String {
        format!(
            "{}/api/dashboard/deployments/{deployment}/{rest}",
            self.provision_host
        )
    }

    async fn backup_once(&self) -> Result<Instant, Stop> {
        let deployment = self
            .deployment
            .get()
            .ok_or_else(|| Stop("backup_failure", "scenario not prepared".into()))?;
        let response = self
            .http
            .post(self.deployment_url(deployment, "request_cloud_backup"))
            .bearer_auth(&self.access_token)
            .send()
            .await
            .map_err(|e| Stop("request_backup_failed", e.to_string()))?;
        let status = response.status();
        let body: JsonValue = response.json().await.unwrap_or(JsonValue::Null);
        if !status.is_success() {
            return Err(Stop(
                "request_backup_failed",
                format!("HTTP {status}: {body}"),
            ));
        }
        let id = match body.get("id") {
            Some(JsonValue::Number(n)) => n.to_string(),
            Some(JsonValue::String(s)) => s.clone(),
            _ => {
                return Err(Stop(
                    "request_backup_failed",
                    format!("reply has no backup id: {body}"),
                ));
            }
        };
        self.base.sink.count(self.m.request_succeeded, 1);
        loop {
            let response = self
                .http
                .get(self.deployment_url(deployment, &format!("cloud_backups/{id}")))
                .bearer_auth(&self.access_token)
                .send()
                .await
                .map_err(|e| Stop("get_backup_failed", e.to_string()))?;
            let status = response.status();
            let body: JsonValue = response.json().await.unwrap_or(JsonValue::Null);
            if !status.is_success() {
                return Err(Stop("get_backup_failed", format!("HTTP {status}: {body}")));
            }
            match body.get("state").and_then(JsonValue::as_str) {
                Some("complete") => return Ok(Instant::now()),
                Some("failed") => {
                    return Err(Stop("backup_failed", format!("backup {id} failed: {body}")));
                }
                _ => tokio::time::sleep(POLL_INTERVAL).await,
            }
        }
    }
}

impl Scenario for CloudBackup {
    fn prepare(self: Arc<Self>) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async move {
            if self.deployment.get().is_none() {
                let url = format!("{}/instance_name", self.base.env.url.trim_end_matches('/'));
                let response = self.http.get(&url).send().await?;
                anyhow::ensure!(
                    response.status().is_success(),
                    "CloudBackup: GET {url} answered {}",
                    response.status()
                );
                let name = response.text().await?.trim().to_string();
                anyhow::ensure!(
                    !name.is_empty(),
                    "CloudBackup: GET {url} answered an empty name"
                );
                let _ = self.deployment.set(name);
            }
            Ok(())
        })
    }

    fn run_once(self: Arc<Self>, scheduled: Instant) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let started = Instant::now();
            let timeout = self.base.timeout(EXPORT_TIMEOUT);
            let outcome = tokio::time::timeout(timeout, self.backup_once()).await;
            let (outcome, finished) = match outcome {
                Ok(Ok(done)) => {
                    self.base.sink.count(self.m.completed, 1);
                    (RequestOutcome::Success, done)
                }
                Ok(Err(Stop(category, message))) => (
                    RequestOutcome::Error {
                        category: category.into(),
                        message,
                    },
                    Instant::now(),
                ),
                Err(_) => {
                    self.base.sink.count(self.m.timeout, 1);
                    (RequestOutcome::Timeout, Instant::now())
                }
            };
            self.base.sink.record(
                self.m.backup,
                RequestTiming {
                    scheduled,
                    sent: started,
                    finished,
                },
                outcome,
            );
        })
    }

    fn primary_metric(&self) -> MetricId {
        self.m.backup
    }
}
