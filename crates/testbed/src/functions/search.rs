//! `search` (full-text search of `messages_with_search`) and the
//! `search:*` functions that pick, delete and replace random rows of it.

use serde_json::{Value, json};

use super::args::arg_count;
use super::messages::{new_message, random_rand};
use super::{ArgSpec, ArgType, Args, FnError, FunctionDef, Handler, arg_str};
use crate::search_index::{MAX_RESULTS, SearchQuery};
use crate::store::Doc;
use crate::store::transaction::{Order, RangeBound, Transaction};

const TABLE: &str = "messages_with_search";

const CACHE_BREAKER: &[ArgSpec] = &[ArgSpec::required("cacheBreaker", ArgType::Number)];
const SEARCH_ARGS: &[ArgSpec] = &[
    ArgSpec::required("channel", ArgType::String),
    ArgSpec::required("body", ArgType::String),
    ArgSpec::required("limit", ArgType::Number),
];

pub fn functions() -> Vec<FunctionDef> {
    vec![
        FunctionDef {
            path: "search:default",
            args: SEARCH_ARGS,
            handler: Handler::Query(search_messages),
        },
        FunctionDef {
            path: "search:findRandomSearchDocument",
            args: CACHE_BREAKER,
            handler: Handler::Query(|tx, _| {
                Ok(random_row(tx, TABLE)?.map_or(Value::Null, |d| d.to_value()))
            }),
        },
        FunctionDef {
            path: "search:deleteMessageWithSearch",
            args: &[],
            handler: Handler::Mutation(delete_random),
        },
        FunctionDef {
            path: "search:replaceMessageWithSearch",
            args: &[],
            handler: Handler::Mutation(replace_random),
        },
    ]
}

/// The best `limit` matches of `body` among the messages of `channel`.
fn search_messages(tx: &mut Transaction<'_>, args: &Args) -> Result<Value, FnError> {
    let query = SearchQuery {
        text: arg_str(args, "body")?.to_string(),
        filters: vec![(
            "channel".into(),
            Value::String(arg_str(args, "channel")?.to_string()),
        )],
        limit: arg_count(args, "limit", MAX_RESULTS as u64)?,
    };
    let docs =
        crate::text_indexes::search(tx, TABLE, "search_body", &query).map_err(FnError::uncaught)?;
    Ok(Value::Array(docs.iter().map(|d| d.to_value()).collect()))
}

/// A random row: the first at or after a random point of `by_rand`,
/// wrapping to the first row when the point is past the last one.
pub fn random_row(
    tx: &mut Transaction<'_>,
    table: &str,
) -> Result<Option<std::sync::Arc<Doc>>, FnError> {
    let target = json!(random_rand());
    let mut docs = tx
        .index_range(
            table,
            "by_rand",
            &[],
            RangeBound::Inclusive(&target),
            RangeBound::Unbounded,
            Order::Asc,
            1,
        )
        .map_err(FnError::uncaught)?;
    if docs.is_empty() {
        docs = tx
            .index_range(
                table,
                "by_rand",
                &[],
                RangeBound::Unbounded,
                RangeBound::Unbounded,
                Order::Asc,
                1,
            )
            .map_err(FnError::uncaught)?;
    }
    Ok(docs.pop())
}

fn delete_random(tx: &mut Transaction<'_>, _: &Args) -> Result<Value, FnError> {
    if let Some(row) = random_row(tx, TABLE)? {
        tx.delete(row.id).map_err(FnError::uncaught)?;
    }
    Ok(Value::Null)
}

/// Replaces a random row with a new body and rand, keeping its timestamp.
/// Every user field is rewritten, so a patch is a replace here.
fn replace_random(tx: &mut Transaction<'_>, _: &Args) -> Result<Value, FnError> {
    if let Some(row) = random_row(tx, TABLE)? {
        let mut fields = new_message("global", random_rand(), 0);
        if let Some(timestamp) = row.fields.get("timestamp") {
            fields.insert("timestamp".into(), timestamp.clone());
        }
        tx.patch(row.id, fields).map_err(FnError::uncaught)?;
    }
    Ok(Value::Null)
}
