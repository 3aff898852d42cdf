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

/// What differs between Search and VectorSearch.
struct SearchKind {
    name: &'static str,
    metric: &'static str,
    mismatch: &'static str,
    /// The unmeasured query that picks a random seeded row.
    pick_path: &'static str,
    /// The measured call for the picked row.
    call: fn(&Base, &serde_json::Map<String, JsonValue>) -> SearchCall,
    /// `Err(message)` unless the top hit of `value` is the row `id`.
    check: fn(&JsonValue, &JsonValue) -> Result<(), String>,
}

const SEARCH: SearchKind = SearchKind {
    name: "Search",
    metric: "search",
    mismatch: "search_document_mismatch",
    pick_path: "search:findRandomSearchDocument",
    call: |base, doc| SearchCall {
        fn_type: FunctionType::Query,
        path: "search",
        args: json!({
            "channel": field(doc, "channel"),
            "body": field(doc, "body"),
            "limit": 10,
        }),
        timeout: base.timeout(QUERY_TIMEOUT),
    },
    check: |id, value| match top_hit(value).and_then(|hit| hit.get("_id")) {
        Some(hit) if hit == id => Ok(()),
        Some(hit) => Err(format!("top hit {hit} is not the searched document {id}")),
        None => Err(format!("no hits searching for document {id}")),
    },
};

const VECTOR_SEARCH: SearchKind = SearchKind {
    name: "VectorSearch",
    metric: "vector_search",
    mismatch: "vector_search_document_mismatch",
    pick_path: "openclaurd:findRandomOpenclaurd",
    call: |base, row| SearchCall {
        fn_type: FunctionType::Action,
        path: "vectorSearch",
        args: json!({
            "vector": field(row, "embedding"),
            "limit": 10,
            "users": [field(row, "user")],
        }),
        timeout: base.timeout(ACTION_TIMEOUT),
    },
    check: |id, value| {
        let Some(hit) = top_hit(value) else {
            return Err(format!("no hits searching for row {id}"));
        };
        let score = hit
            .get("_score")
            .and_then(JsonValue::as_f64)
            .unwrap_or(f64::NAN);
        match hit.get("_id") {
            Some(hit_id) if hit_id == id && score > MIN_SELF_SCORE => Ok(()),
            Some(hit_id) => Err(format!(
                "top hit {hit_id} (score {score}) is not row {id} with score > {MIN_SELF_SCORE}"
            )),
            None => Err("top hit has no _id".into()),
        }
    },
};

fn field(row: &serde_json::Map<String, JsonValue>, name: &str) -> JsonValue {
    row.get(name).cloned().unwrap_or(JsonValue::Null)
}

/// Search or VectorSearch, by its kind.
struct SearchScenario {
    searcher: Searcher,
    kind: &'static SearchKind,
}

impl SearchScenario {
    fn build(
        config: &ScenarioConfig,
        env: &RunEnv,
        kind: &'static SearchKind,
    ) -> anyhow::Result<Arc<dyn Scenario>> {
        let searcher = Searcher::new(config, env, kind.name, kind.metric, kind.mismatch)?;
        Ok(Arc::new(SearchScenario { searcher, kind }))
    }
}

impl Scenario for SearchScenario {
    fn prepare(self: Arc<Self>) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async move { self.searcher.caller.prepare(&self.searcher.base).await })
    }

    fn run_once(self: Arc<Self>, scheduled: Instant) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let s = &self.searcher;
            let pick_started = Instant::now();
            let Some(row) = s.pick(scheduled, self.kind.pick_path).await else {
                return;
            };
            let id = field(&row, "_id");
            let call = (self.kind.call)(&s.base, &row);
            let check = self.kind.check;
            s.search(scheduled, pick_started, call, |value| check(&id, value))
                .await;
        })
    }

    fn primary_metric(&self) -> MetricId {
        self.searcher.metric
    }
}

pub(crate) struct Search;

impl Search {
    pub fn build(config: &ScenarioConfig, env: &RunEnv) -> anyhow::Result<Arc<dyn Scenario>> {
        SearchScenario::build(config, env, &SEARCH)
    }
}

pub(crate) struct VectorSearch;

impl VectorSearch {
    pub fn build(config: &ScenarioConfig, env: &RunEnv) -> anyhow::Result<Arc<dyn Scenario>> {
        SearchScenario::build(config, env, &VECTOR_SEARCH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_check_wants_the_picked_document_on_top() {
        let id = json!("doc1");
        assert_eq!(
            (SEARCH.check)(&id, &json!([{"_id": "doc1"}, {"_id": "x"}])),
            Ok(())
        );
        let wrong = (SEARCH.check)(&id, &json!([{"_id": "x"}, {"_id": "doc1"}])).unwrap_err();
        assert!(wrong.contains("\"x\"") && wrong.contains("doc1"), "{wrong}");
        assert!(
            (SEARCH.check)(&id, &json!([]))
                .unwrap_err()
                .contains("no hits")
        );
    }

    #[test]
    fn vector_check_wants_the_picked_row_on_top_with_a_near_perfect_score() {
        let id = json!("row1");
        let hit = |id: &str, score: f64| json!([{"_id": id, "_score": score}]);
        assert_eq!((VECTOR_SEARCH.check)(&id, &hit("row1", 0.999)), Ok(()));
        let low = (VECTOR_SEARCH.check)(&id, &hit("row1", 0.5)).unwrap_err();
        assert!(low.contains("0.5"), "{low}");
        assert!((VECTOR_SEARCH.check)(&id, &hit("row2", 1.0)).is_err());
        assert!(
            (VECTOR_SEARCH.check)(&id, &json!([]))
                .unwrap_err()
                .contains("no hits")
        );
    }
}
