//! RunFunction: call one function; queries get a random `cacheBreaker`
//! argument (so no two calls hit the same cached result) unless the
//! workload fixed the arguments.

use std::sync::Arc;
use std::time::Instant;

use futures_util::future::BoxFuture;
use serde_json::{Map, Value as JsonValue};

use super::common::{Base, FunctionCaller, within};
use crate::protocol::default_timeout;
use crate::run_env::RunEnv;
use crate::scenario::{MetricId, Scenario};
use crate::workload::model::{FunctionType, ScenarioConfig};

pub(crate) struct RunFunction {
    base: Base,
    path: String,
    fn_type: FunctionType,
    args: Option<Map<String, JsonValue>>,
    caller: FunctionCaller,
    metric: MetricId,
}

impl RunFunction {
    pub fn build(
        config: &ScenarioConfig,
        env: &RunEnv,
        path: &str,
        fn_type: FunctionType,
        args: Option<Map<String, JsonValue>>,
    ) -> anyhow::Result<Arc<dyn Scenario>> {
        crate::protocol::wire::parse_path(path)
            .map_err(|e| anyhow::anyhow!("RunFunction: field `path`: {e}"))?;
        let base = Base::new(config, env, "RunFunction");
        let metric = base.metric(fn_type.as_str(), Some(path));
        Ok(Arc::new(RunFunction {
            caller: FunctionCaller::new(&base)?,
            base,
            path: path.to_string(),
            fn_type,
            args,
            metric,
        }))
    }

    fn args(&self) -> JsonValue {
        match (&self.args, self.fn_type) {
            (Some(args), _) => JsonValue::Object(args.clone()),
            (None, FunctionType::Query) => self.base.cache_breaker(),
            (None, _) => JsonValue::Object(Map::new()),
        }
    }
}

impl Scenario for RunFunction {
    fn prepare(self: Arc<Self>) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async move { self.caller.prepare(&self.base).await })
    }

    fn run_once(self: Arc<Self>, scheduled: Instant) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let started = Instant::now();
            let timeout = self.base.timeout(default_timeout(self.fn_type));
            let call = self.caller.call(self.fn_type, &self.path, self.args());
            let finished = within(timeout, call).await;
            let now = Instant::now();
            self.base.record(
                self.metric,
                scheduled,
                started,
                &finished,
                |called| (called.sent, now),
                self.fn_type.as_str(),
            );
        })
    }

    fn primary_metric(&self) -> MetricId {
        self.metric
    }
}
