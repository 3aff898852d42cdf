//! `openclaurd:*` and `setup:setupVectors`: rows with 1536-d embeddings,
//! the data of the vector search scenarios.

use serde_json::{Map, Value, json};

use super::args::arg_count;
use super::messages::random_rand;
use super::random_data::{random_embedding, random_words};
use super::search::random_row;
use super::{ArgSpec, ArgType, Args, FnError, FunctionDef, Handler, arg_str};
use crate::store::ids::DocId;
use crate::store::transaction::Transaction;

const TABLE: &str = "openclaurd";
/// Bounds one seeding transaction (each row holds ~50 KB of JSON numbers).
const MAX_SETUP_ROWS: u64 = 10_000;

const CACHE_BREAKER: &[ArgSpec] = &[ArgSpec::required("cacheBreaker", ArgType::Number)];
const SETUP_ARGS: &[ArgSpec] = &[ArgSpec::required("rows", ArgType::Number)];
const BY_ID_ARGS: &[ArgSpec] = &[ArgSpec::required("id", ArgType::Id(TABLE))];

pub fn functions() -> Vec<FunctionDef> {
    vec![
        FunctionDef {
            path: "setup:setupVectors",
            args: SETUP_ARGS,
            handler: Handler::Mutation(setup_vectors),
        },
        FunctionDef {
            path: "openclaurd:insertOpenclaurdLowCardinality",
            args: &[],
            handler: Handler::Mutation(|tx, _| insert_row(tx, &numbered_user(5))),
        },
        FunctionDef {
            path: "openclaurd:insertOpenclaurdHighCardinality",
            args: &[],
            handler: Handler::Mutation(|tx, _| insert_row(tx, &numbered_user(100))),
        },
        FunctionDef {
            path: "openclaurd:deleteOpenclaurd",
            args: &[],
            handler: Handler::Mutation(|tx, _| {
                if let Some(row) = random_row(tx, TABLE)? {
                    tx.delete(row.id).map_err(FnError::uncaught)?;
                }
                Ok(Value::Null)
            }),
        },
        FunctionDef {
            path: "openclaurd:findRandomOpenclaurd",
            args: CACHE_BREAKER,
            handler: Handler::Query(|tx, _| {
                Ok(random_row(tx, TABLE)?.map_or(Value::Null, |d| d.to_value()))
            }),
        },
        FunctionDef {
            path: "openclaurd:queryOpenclaurdById",
            args: BY_ID_ARGS,
            handler: Handler::Query(query_by_id),
        },
    ]
}

/// One of `users` distinct user names, `user 0` .. `user {users-1}`.
fn numbered_user(users: u32) -> String {
    format!("user {}", rand::random_range(0..users))
}

fn row_fields(user: &str) -> Map<String, Value> {
    let mut fields = Map::with_capacity(5);
    fields.insert("user".into(), Value::String(user.to_string()));
    fields.insert(
        "timestamp".into(),
        json!((crate::store::now_nanos() as f64 / 1e6).floor()),
    );
    fields.insert("text".into(), Value::String(random_words(10)));
    fields.insert("rand".into(), json!(random_rand()));
    fields.insert("embedding".into(), random_embedding());
    fields
}

fn insert_row(tx: &mut Transaction<'_>, user: &str) -> Result<Value, FnError> {
    let fields = row_fields(user);
    if let Some(table) = tx.state().table(TABLE) {
        crate::text_indexes::check_vectors(table, &fields).map_err(FnError::uncaught)?;
    }
    tx.insert(TABLE, fields).map_err(FnError::uncaught)?;
    Ok(Value::Null)
}

/// Seeds `rows` rows; users are random words (~80 distinct values).
fn setup_vectors(tx: &mut Transaction<'_>, args: &Args) -> Result<Value, FnError> {
    let rows = arg_count(args, "rows", MAX_SETUP_ROWS)?;
    for _ in 0..rows {
        insert_row(tx, &random_words(1))?;
    }
    Ok(Value::Null)
}

fn query_by_id(tx: &mut Transaction<'_>, args: &Args) -> Result<Value, FnError> {
    let id = DocId::decode(arg_str(args, "id")?).map_err(FnError::uncaught)?;
    Ok(tx.get(id).map_or(Value::Null, |d| d.to_value()))
}
