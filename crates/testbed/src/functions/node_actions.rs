//! `actions/insert`: in Convex a Node-runtime action (a Node-only step, then
//! a mutation). Here: a random `rand` standing in for that step, then
//! `insert:insertMessageWithArgs` as its own transaction, the round trip
//! the benchmark measures.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::{Map, Value, json};

use super::{ActionCtx, Args, FnError, FunctionDef, Handler};

pub fn functions() -> Vec<FunctionDef> {
    vec![FunctionDef {
        path: "actions/insert:default",
        args: &[],
        handler: Handler::Action(insert_via_mutation),
    }]
}

fn insert_via_mutation(ctx: ActionCtx, _: Args) -> BoxFuture<'static, Result<Value, FnError>> {
    async move {
        let rand = rand::random_range(0..1_000_000_000u32);
        let mut args = Map::new();
        args.insert("channel".into(), json!("global"));
        args.insert(
            "timestamp".into(),
            json!((crate::store::now_nanos() as f64 / 1e6).floor()),
        );
        args.insert("rand".into(), json!(rand));
        args.insert("ballastCount".into(), json!(0));
        args.insert("count".into(), json!(1));
        args.insert("table".into(), json!("messages_with_search"));
        ctx.runtime
            .run_mutation("insert:insertMessageWithArgs", args)
            .await
            .map_err(|failure| failure.error)?;
        Ok(Value::Null)
    }
    .boxed()
}
