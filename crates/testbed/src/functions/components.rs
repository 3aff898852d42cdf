//! `components:*`: calls into the counter component, whose one table lives
//! in the component's own namespace. The store names component tables
//! `<component>/<table>` (here `counter/counters`), a name no app function
//! uses and the snapshot export skips, so the counter is invisible to app
//! tables. The component's own functions (`load`, `increment`, `reset`) are
//! not in the public registry: clients reach them only through the app
//! functions below, as in Convex.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::{Map, Value, json};

use super::{ActionCtx, ArgSpec, ArgType, Args, FnError, FunctionDef, Handler, internal};
use crate::store::transaction::Transaction;

pub const COUNTER_TABLE: &str = "counter/counters";

const CACHE_BREAKER: &[ArgSpec] = &[ArgSpec::required("cacheBreaker", ArgType::Number)];

pub fn functions() -> Vec<FunctionDef> {
    vec![
        FunctionDef {
            path: "components:componentQuery",
            args: CACHE_BREAKER,
            handler: Handler::Query(|tx, _| load(tx)),
        },
        FunctionDef {
            path: "components:componentMutation",
            args: &[],
            handler: Handler::Mutation(|tx, _| increment(tx)),
        },
        FunctionDef {
            path: "components:componentAction",
            args: &[],
            handler: Handler::Action(reset_then_load),
        },
    ]
}

fn count_of(doc: &crate::store::Doc) -> f64 {
    doc.fields
        .get("count")
        .and_then(Value::as_f64)
        .unwrap_or(0.0)
}

/// The component's `load`: the count, 0 when there is no counter row.
fn load(tx: &mut Transaction<'_>) -> Result<Value, FnError> {
    let rows = tx
        .scan_by_creation_time(COUNTER_TABLE, 1)
        .map_err(FnError::uncaught)?;
    Ok(json!(rows.first().map_or(0.0, |d| count_of(d))))
}

/// The component's `increment`: returns the new count.
fn increment(tx: &mut Transaction<'_>) -> Result<Value, FnError> {
    let rows = tx
        .scan_by_creation_time(COUNTER_TABLE, 1)
        .map_err(FnError::uncaught)?;
    let next = match rows.first() {
        None => {
            let mut fields = Map::new();
            fields.insert("count".into(), json!(1.0));
            tx.insert(COUNTER_TABLE, fields)
                .map_err(FnError::uncaught)?;
            1.0
        }
        Some(row) => {
            let next = count_of(row) + 1.0;
            let mut fields = Map::new();
            fields.insert("count".into(), json!(next));
            tx.patch(row.id, fields).map_err(FnError::uncaught)?;
            next
        }
    };
    Ok(json!(next))
}

/// The component's `reset`: deletes every counter row.
fn reset(tx: &mut Transaction<'_>) -> Result<Value, FnError> {
    for row in tx
        .scan_by_creation_time(COUNTER_TABLE, usize::MAX)
        .map_err(FnError::uncaught)?
    {
        tx.delete(row.id).map_err(FnError::uncaught)?;
    }
    Ok(Value::Null)
}

/// `componentAction`: reset (one transaction), then load (another).
fn reset_then_load(ctx: ActionCtx, _: Args) -> BoxFuture<'static, Result<Value, FnError>> {
    async move {
        internal::run_mutation(&ctx.runtime.store, reset)?;
        internal::run_query(&ctx.runtime.store, load)
    }
    .boxed()
}
