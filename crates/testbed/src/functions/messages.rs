//! The `query_index:*`, `insert:*` and `update` functions over the
//! `messages` and `messages_with_search` tables.

use rand::Rng;
use serde_json::{Map, Value, json};

use super::args::arg_count;
use super::{ArgSpec, ArgType, Args, FnError, FunctionDef, Handler, arg_f64, arg_str};
use crate::store::ids::DocId;
use crate::store::transaction::{Order, RangeBound, Transaction};

const MESSAGE_TABLES: &[&str] = &["messages", "messages_with_search"];
const GLOBAL: &str = "global";
const PAGE: usize = 10;
/// Bounds on parameterised inserts, so one request cannot exhaust memory.
const MAX_INSERT_COUNT: u64 = 10_000;
const MAX_BALLAST: u64 = 100_000;
const MAX_LIMIT: u64 = 10_000;

const WORDS: &[&str] = &[
    "apple", "river", "stone", "cloud", "ember", "maple", "orbit", "quartz", "delta", "falcon",
    "harbor", "island", "jungle", "lantern", "meadow", "nectar", "opal", "prism", "quiver",
    "raven", "saddle", "timber", "umber", "velvet", "willow", "yonder", "zephyr", "bamboo",
    "canyon", "dune",
];

pub fn functions() -> Vec<FunctionDef> {
    const CACHE_BREAKER: &[ArgSpec] = &[ArgSpec::required("cacheBreaker", ArgType::Number)];
    const WITH_ARGS: &[ArgSpec] = &[
        ArgSpec::required("channel", ArgType::String),
        ArgSpec::required("timestamp", ArgType::Number),
        ArgSpec::required("rand", ArgType::Number),
        ArgSpec::required("ballastCount", ArgType::Number),
        ArgSpec::required("count", ArgType::Number),
        ArgSpec::required("table", ArgType::TableName(MESSAGE_TABLES)),
    ];
    const MANY_WITH_ARGS: &[ArgSpec] = &[
        ArgSpec::required("channel", ArgType::String),
        ArgSpec::required("timestamp", ArgType::Number),
        ArgSpec::required("rand", ArgType::Number),
        ArgSpec::required("ballastCount", ArgType::Number),
        ArgSpec::required("count", ArgType::Number),
        ArgSpec::required("table", ArgType::TableName(MESSAGE_TABLES)),
        ArgSpec::required("n", ArgType::Number),
    ];
    const QUERY_WITH_ARGS: &[ArgSpec] = &[
        ArgSpec::required("channel", ArgType::String),
        ArgSpec::required("rand", ArgType::Number),
        ArgSpec::required("limit", ArgType::Number),
        ArgSpec::required("table", ArgType::TableName(MESSAGE_TABLES)),
    ];
    const BY_ID: &[ArgSpec] = &[ArgSpec::required("id", ArgType::IdOf(MESSAGE_TABLES))];
    vec![
        FunctionDef {
            path: "query_index:queryMessages",
            args: CACHE_BREAKER,
            handler: Handler::Query(|tx, args| query_first_page(tx, args, "messages")),
        },
        FunctionDef {
            path: "query_index:queryMessagesWithSearch",
            args: CACHE_BREAKER,
            handler: Handler::Query(|tx, args| query_first_page(tx, args, "messages_with_search")),
        },
        FunctionDef {
            path: "query_index:queryMessagesWithArgs",
            args: QUERY_WITH_ARGS,
            handler: Handler::Query(query_with_args),
        },
        FunctionDef {
            path: "query_index:queryMessagesById",
            args: BY_ID,
            handler: Handler::Query(query_by_id),
        },
        FunctionDef {
            path: "insert:insertMessage",
            args: &[],
            handler: Handler::Mutation(|tx, _| insert_random(tx, "messages")),
        },
        FunctionDef {
            path: "insert:insertMessageWithSearch",
            args: &[],
            handler: Handler::Mutation(|tx, _| insert_random(tx, "messages_with_search")),
        },
        FunctionDef {
            path: "insert:insertLargeMessage",
            args: &[],
            handler: Handler::Mutation(insert_large),
        },
        FunctionDef {
            path: "insert:insertMessageWithArgs",
            args: WITH_ARGS,
            handler: Handler::Mutation(|tx, args| insert_with_args(tx, args, 1)),
        },
        FunctionDef {
            path: "insert:insertMessagesWithArgs",
            args: MANY_WITH_ARGS,
            handler: Handler::Mutation(|tx, args| {
                let n = arg_count(args, "n", MAX_INSERT_COUNT)?;
                insert_with_args(tx, args, n)
            }),
        },
        FunctionDef {
            path: "update:default",
            args: &[],
            handler: Handler::Mutation(update_rand_zero),
        },
    ]
}

/// A uniformly random integer in [0, 1e9), as the benchmark's `rand`.
pub fn random_rand() -> f64 {
    rand::rng().random_range(0..1_000_000_000u32) as f64
}

fn random_body() -> String {
    let mut rng = rand::rng();
    let words = rng.random_range(5..=12);
    (0..words)
        .map(|_| WORDS[rng.random_range(0..WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn new_message(channel: &str, rand: f64, ballast: usize) -> Map<String, Value> {
    let now_ms = crate::store::now_nanos() as f64 / 1e6;
    message_fields(channel, now_ms.floor(), rand, ballast)
}

fn message_fields(channel: &str, timestamp: f64, rand: f64, ballast: usize) -> Map<String, Value> {
    let mut rng = rand::rng();
    let ballast: Vec<Value> = (0..ballast)
        .map(|_| json!(rng.random_range(0..1_000_000u32) as f64))
        .collect();
    let mut fields = Map::with_capacity(5);
    fields.insert("channel".into(), Value::String(channel.to_string()));
    fields.insert("timestamp".into(), json!(timestamp));
    fields.insert("body".into(), Value::String(random_body()));
    fields.insert("rand".into(), json!(rand));
    fields.insert("ballastArray".into(), Value::Array(ballast));
    fields
}

fn docs_to_value(docs: Vec<std::sync::Arc<crate::store::Doc>>) -> Value {
    Value::Array(docs.iter().map(|d| d.to_value()).collect())
}

fn query_first_page(tx: &mut Transaction<'_>, args: &Args, table: &str) -> Result<Value, FnError> {
    let cache_breaker = args.get("cacheBreaker").unwrap_or(&Value::Null);
    let channel = Value::String(GLOBAL.into());
    let docs = tx
        .index_range(
            table,
            "by_channel_rand",
            &[&channel],
            RangeBound::Inclusive(cache_breaker),
            RangeBound::Unbounded,
            Order::Asc,
            PAGE,
        )
        .map_err(FnError::uncaught)?;
    Ok(docs_to_value(docs))
}

fn query_with_args(tx: &mut Transaction<'_>, args: &Args) -> Result<Value, FnError> {
    let table = arg_str(args, "table")?;
    let limit = arg_count(args, "limit", MAX_LIMIT)?;
    let channel = &args["channel"];
    let rand = &args["rand"];
    let docs = tx
        .index_range(
            table,
            "by_channel_rand",
            &[channel],
            RangeBound::Inclusive(rand),
            RangeBound::Unbounded,
            Order::Asc,
            limit,
        )
        .map_err(FnError::uncaught)?;
    Ok(docs_to_value(docs))
}

fn query_by_id(tx: &mut Transaction<'_>, args: &Args) -> Result<Value, FnError> {
    let id = DocId::decode(arg_str(args, "id")?).map_err(FnError::uncaught)?;
    Ok(tx.get(id).map(|d| d.to_value()).unwrap_or(Value::Null))
}

fn insert_random(tx: &mut Transaction<'_>, table: &str) -> Result<Value, FnError> {
    tx.insert(table, new_message(GLOBAL, random_rand(), 0))
        .map_err(FnError::uncaught)?;
    Ok(Value::Null)
}

fn insert_large(tx: &mut Transaction<'_>, _: &Args) -> Result<Value, FnError> {
    for _ in 0..100 {
        tx.insert("messages", new_message(GLOBAL, random_rand(), 4000))
            .map_err(FnError::uncaught)?;
    }
    Ok(Value::Null)
}

fn insert_with_args(tx: &mut Transaction<'_>, args: &Args, times: usize) -> Result<Value, FnError> {
    let channel = arg_str(args, "channel")?;
    let timestamp = arg_f64(args, "timestamp")?;
    let rand = arg_f64(args, "rand")?;
    let ballast = arg_count(args, "ballastCount", MAX_BALLAST)?;
    let count = arg_count(args, "count", MAX_INSERT_COUNT)?;
    let table = arg_str(args, "table")?;
    if (count * times) as u64 > MAX_INSERT_COUNT {
        return Err(FnError::uncaught(format!(
            "count * n = {} exceeds the limit of {MAX_INSERT_COUNT} documents per mutation",
            count * times
        )));
    }
    for _ in 0..count * times {
        tx.insert(table, message_fields(channel, timestamp, rand, ballast))
            .map_err(FnError::uncaught)?;
    }
    Ok(Value::Null)
}

/// Patches the timestamp of the rand-0 row of channel global. Every call
/// reads and writes the same row, so concurrent calls conflict by design.
fn update_rand_zero(tx: &mut Transaction<'_>, _: &Args) -> Result<Value, FnError> {
    let channel = Value::String(GLOBAL.into());
    let zero = json!(0.0);
    let docs = tx
        .index_range(
            "messages",
            "by_channel_rand",
            &[&channel, &zero],
            RangeBound::Unbounded,
            RangeBound::Unbounded,
            Order::Asc,
            1,
        )
        .map_err(FnError::uncaught)?;
    let doc = docs.first().ok_or_else(|| {
        FnError::uncaught("no message with rand 0 in channel global; run setup:setupMessages first")
    })?;
    let mut patch = Map::new();
    patch.insert(
        "timestamp".into(),
        json!((crate::store::now_nanos() as f64 / 1e6).floor()),
    );
    tx.patch(doc.id, patch).map_err(FnError::uncaught)?;
    Ok(Value::Null)
}
