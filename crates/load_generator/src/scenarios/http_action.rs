//! RunHttpAction: `method <site url>/<path>`, body drained.

use std::sync::Arc;
use std::time::Instant;

use futures_util::future::BoxFuture;

use super::common::{Base, within};
use crate::protocol::{HTTP_ACTION_TIMEOUT, HttpActionClient};
use crate::run_env::RunEnv;
use crate::scenario::{MetricId, Scenario};
use crate::workload::model::ScenarioConfig;

pub(crate) struct RunHttpAction {
    base: Base,
    client: HttpActionClient,
    path: String,
    method: String,
    metric: MetricId,
}

/// The site URL: given, or the deployment's `/http` prefix (where the main
/// port also serves HTTP actions).
pub(crate) fn site_url(env: &RunEnv) -> String {
    env.site_url
        .clone()
        .unwrap_or_else(|| format!("{}/http", env.url.trim_end_matches('/')))
}

impl RunHttpAction {
    pub fn build(
        config: &ScenarioConfig,
        env: &RunEnv,
        path: &str,
        method: &str,
    ) -> anyhow::Result<Arc<dyn Scenario>> {
        reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).map_err(|_| {
            anyhow::anyhow!("RunHttpAction: field `method`: {method:?} is not an HTTP method")
        })?;
        let base = Base::new(config, env, "RunHttpAction");
        let metric = base.metric("http_action", Some(path));
        Ok(Arc::new(RunHttpAction {
            client: HttpActionClient::new(&site_url(env))?,
            base,
            path: path.to_string(),
            method: method.to_string(),
            metric,
        }))
    }
}

impl Scenario for RunHttpAction {
    fn run_once(self: Arc<Self>, scheduled: Instant) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let started = Instant::now();
            let timeout = self.base.timeout(HTTP_ACTION_TIMEOUT);
            let finished = within(timeout, self.client.fetch(&self.method, &self.path)).await;
            let now = Instant::now();
            self.base.record(
                self.metric,
                scheduled,
                started,
                &finished,
                |reply| (reply.sent, now),
                "http_action",
            );
        })
    }

    fn primary_metric(&self) -> MetricId {
        self.metric
    }
}
