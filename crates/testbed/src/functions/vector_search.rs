//! `vectorSearch`: an action returning the `limit` `openclaurd` rows
//! nearest to `vector` among the given users, as `[{_id, _score}]`.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::args::arg_count;
use super::{ActionCtx, ArgSpec, ArgType, Args, FnError, FunctionDef, Handler};
use crate::vector_index::MAX_LIMIT;

const ARGS: &[ArgSpec] = &[
    ArgSpec::required("vector", ArgType::NumberArray),
    ArgSpec::required("limit", ArgType::Number),
    ArgSpec::required("users", ArgType::StringArray),
];

pub fn functions() -> Vec<FunctionDef> {
    vec![FunctionDef {
        path: "vectorSearch:default",
        args: ARGS,
        handler: Handler::Action(vector_search),
    }]
}

fn vector_search(ctx: ActionCtx, args: Args) -> BoxFuture<'static, Result<Value, FnError>> {
    async move {
        let limit = arg_count(&args, "limit", MAX_LIMIT as u64)?;
        let vector: Vec<f64> = args["vector"]
            .as_array()
            .map(|items| items.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default();
        let users = args["users"].as_array().cloned().unwrap_or_default();
        let hits = {
            let state = ctx.runtime.store.read();
            crate::text_indexes::vector_search(
                &state,
                "openclaurd",
                "embedding",
                &vector,
                limit,
                &users,
            )
            .map_err(FnError::uncaught)?
        };
        Ok(Value::Array(
            hits.into_iter()
                .map(|hit| json!({"_id": hit.id.encode(), "_score": hit.score}))
                .collect(),
        ))
    }
    .boxed()
}
