//! `setup:setupMessages`: seeds the `messages` table before a run.

use serde_json::Value;

use super::args::arg_count;
use super::messages::{new_message, random_rand};
use super::{ArgSpec, ArgType, Args, FnError, FunctionDef, Handler, arg_str};
use crate::store::transaction::Transaction;

/// A bound that keeps one transaction's size sane.
const MAX_SETUP_ROWS: u64 = 100_000;

pub fn functions() -> Vec<FunctionDef> {
    const ARGS: &[ArgSpec] = &[
        ArgSpec::required("rows", ArgType::Number),
        ArgSpec::required("channel", ArgType::String),
    ];
    vec![FunctionDef {
        path: "setup:setupMessages",
        args: ARGS,
        handler: Handler::Mutation(setup_messages),
    }]
}

/// Inserts `rows` messages into `channel`; the first has rand 0 so that
/// `update` always finds its row.
fn setup_messages(tx: &mut Transaction<'_>, args: &Args) -> Result<Value, FnError> {
    let rows = arg_count(args, "rows", MAX_SETUP_ROWS)?;
    let channel = arg_str(args, "channel")?;
    for row in 0..rows {
        let rand = if row == 0 { 0.0 } else { random_rand() };
        tx.insert("messages", new_message(channel, rand, 0))
            .map_err(FnError::uncaught)?;
    }
    Ok(Value::Null)
}
