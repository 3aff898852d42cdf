//! Search and VectorSearch: pick a random existing document (not
//! measured), search for it (measured), and check the top hit is that
//! document. The pick's duration is taken out of the response time by
//! shifting the scheduled start by it, so the number is the search's alone
//! while queueing delay before the iteration still counts.

use std::sync::Arc;
use std::time::Instant;

use futures_util::future::BoxFuture;
use serde_json::{Value as JsonValue, json};

use super::common::{Base, Finished, FunctionCaller, within};
use crate::protocol::{ACTION_TIMEOUT, QUERY_TIMEOUT};
use crate::run_env::RunEnv;
use crate::scenario::{MetricId, RequestOutcome, RequestTiming, Scenario};
use crate::workload::model::{FunctionType, ScenarioConfig};

/// Minimum `_score` of the top vector hit for its own embedding.
const MIN_SELF_SCORE: f64 = 0.99;

struct Searcher {
    base: Base,
    caller: FunctionCaller,
    metric: MetricId,
    category: &'static str,
    mismatch: &'static str,
}

impl Searcher {
    fn new(
        config: &ScenarioConfig,
        env: &RunEnv,
        name: &'static str,
        metric: &'static str,
        mismatch: &'static str,
    ) -> anyhow::Result<Searcher> {
        let base = Base::new(config, env, name);
        Ok(Searcher {
            caller: FunctionCaller::new(&base)?,
            metric: base.metric(metric, None),
            base,
            category: metric,
            mismatch,
        })
    }

    /// Picks the random document; `None` after recording why not.
    async fn pick(
        &self,
        scheduled: Instant,
        path: &str,
    ) -> Option<serde_json::Map<String, JsonValue>> {
        let timeout = self.base.timeout(QUERY_TIMEOUT);
        let pick = within(
            timeout,
            self.caller
                .call(FunctionType::Query, path, self.base.cache_breaker()),
        )
        .await;
        let message = match pick {
            Finished::Ok(called) => match called.value {
                JsonValue::Object(doc) => return Some(doc),
                other => format!("{path} returned no document ({other}); is the table seeded?"),
            },
            Finished::Failed(f) => format!("picking a document with {path} failed: {f}"),
            Finished::TimedOut { .. } => format!("picking a document with {path} timed out"),
        };
        self.base
            .record_error(self.metric, scheduled, self.category, message);
        None
    }

    /// Runs the measured search and records it; `check` turns a result
    /// into `Err(message)` when the top hit is wrong.
    async fn search(
        &self,
        scheduled: Instant,
        pick_started: Instant,
        call: SearchCall,
        check: impl FnOnce(&JsonValue) -> Result<(), String>,
    ) {
        let started = Instant::now();
        // Response time excludes the unmeasured pick.
        let scheduled = scheduled + (started - pick_started.max(scheduled).min(started));
        let request = self.caller.call(call.fn_type, call.path, call.args);
        let finished = within(call.timeout, request).await;
        let now = Instant::now();
        if let Finished::Ok(called) = &finished {
            if let Err(message) = check(&called.value) {
                self.base.sink.record(
                    self.metric,
                    RequestTiming {
                        scheduled,
                        sent: called.sent,
                        finished: now,
                    },
                    RequestOutcome::Error {
                        category: self.mismatch.into(),
                        message,
                    },
                );
                return;
            }
        }
        self.base.record(
            self.metric,
            scheduled,
            started,
            &finished,
            |called| (called.sent, now),
            self.category,
        );
    }
}

/// The measured search request.
struct SearchCall {
    fn_type: FunctionType,
    path: &'static str,
    args: JsonValue,
    timeout: std::time::Duration,
}

fn top_hit(value: &JsonValue) -> Option<&serde_json::Map<String, JsonValue>> {
    value.as_array()?.first()?.as_object()
}

pub(crate) struct Search(Searcher);

impl Search {
    pub fn build(config: &ScenarioConfig, env: &RunEnv) -> anyhow::Result<Arc<dyn Scenario>> {
        Ok(Arc::new(Search(Searcher::new(
            config,
            env,
            "Search",
            "search",
            "search_document_mismatch",
        )?)))
    }
}

impl Scenario for Search {
    fn prepare(self: Arc<Self>) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async move { self.0.caller.prepare(&self.0.base).await })
    }

    fn run_once(self: Arc<Self>, scheduled: Instant) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let s = &self.0;
            let pick_started = Instant::now();
            let Some(doc) = s.pick(scheduled, "search:findRandomSearchDocument").await else {
                return;
            };
            let id = doc.get("_id").cloned().unwrap_or(JsonValue::Null);
            let args = json!({
                "channel": doc.get("channel").cloned().unwrap_or(JsonValue::Null),
                "body": doc.get("body").cloned().unwrap_or(JsonValue::Null),
                "limit": 10,
            });
            let call = SearchCall {
                fn_type: FunctionType::Query,
                path: "search",
                args,
                timeout: s.base.timeout(QUERY_TIMEOUT),
            };
            s.search(scheduled, pick_started, call, |value| {
                match top_hit(value).and_then(|hit| hit.get("_id")) {
                    Some(hit) if *hit == id => Ok(()),
                    Some(hit) => Err(format!("top hit {hit} is not the searched document {id}")),
                    None => Err(format!("no hits searching for document {id}")),
                }
            })
            .await;
        })
    }

    fn primary_metric(&self) -> MetricId {
        self.0.metric
    }
}

pub(crate) struct VectorSearch(Searcher);

impl VectorSearch {
    pub fn build(config: &ScenarioConfig, env: &RunEnv) -> anyhow::Result<Arc<dyn Scenario>> {
        Ok(Arc::new(VectorSearch(Searcher::new(
            config,
            env,
            "VectorSearch",
            "vector_search",
            "vector_search_document_mismatch",
        )?)))
    }
}

impl Scenario for VectorSearch {
    fn prepare(self: Arc<Self>) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async move { self.0.caller.prepare(&self.0.base).await })
    }

    fn run_once(self: Arc<Self>, scheduled: Instant) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let s = &self.0;
            let pick_started = Instant::now();
            let Some(row) = s.pick(scheduled, "openclaurd:findRandomOpenclaurd").await else {
                return;
            };
            let id = row.get("_id").cloned().unwrap_or(JsonValue::Null);
            let args = json!({
                "vector": row.get("embedding").cloned().unwrap_or(JsonValue::Null),
                "limit": 10,
                "users": [row.get("user").cloned().unwrap_or(JsonValue::Null)],
            });
            let call = SearchCall {
                fn_type: FunctionType::Action,
                path: "vectorSearch",
                args,
                timeout: s.base.timeout(ACTION_TIMEOUT),
            };
            s.search(scheduled, pick_started, call, |value| {
                let Some(hit) = top_hit(value) else {
                    return Err(format!("no hits searching for row {id}"));
                };
                let score = hit.get("_score").and_then(JsonValue::as_f64).unwrap_or(f64::NAN);
                match hit.get("_id") {
                    Some(hit_id) if *hit_id == id && score > MIN_SELF_SCORE => Ok(()),
                    Some(hit_id) => Err(format!(
                        "top hit {hit_id} (score {score}) is not row {id} with score > {MIN_SELF_SCORE}"
                    )),
                    None => Err("top hit has no _id".into()),
                }
            })
            .await;
        })
    }

    fn primary_metric(&self) -> MetricId {
        self.0.metric
    }
}
