//! System queries of Convex's dashboard API that the scenarios use:
//! `_system/frontend/latestExport`, the newest row of `_exports`.

use serde_json::Value;

use super::{FnError, FunctionDef, Handler};
use crate::store::transaction::{Order, RangeBound};

pub const EXPORTS_TABLE: &str = "_exports";

pub fn functions() -> Vec<FunctionDef> {
    vec![FunctionDef {
        path: "_system/frontend/latestExport:default",
        args: &[],
        handler: Handler::Query(|tx, _| {
            let newest = tx
                .index_range(
                    EXPORTS_TABLE,
                    "by_creation_time",
                    &[],
                    RangeBound::Unbounded,
                    RangeBound::Unbounded,
                    Order::Desc,
                    1,
                )
                .map_err(FnError::uncaught)?;
            Ok(newest.first().map_or(Value::Null, |d| d.to_value()))
        }),
    }]
}
