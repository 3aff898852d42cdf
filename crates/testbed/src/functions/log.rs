//! `log`: an action that logs 256 lines of 512 characters.

use futures_util::FutureExt;
use serde_json::Value;

use super::{ActionCtx, Args, FnError, FunctionDef, Handler};

pub fn functions() -> Vec<FunctionDef> {
    vec![FunctionDef {
        path: "log:default",
        args: &[],
        handler: Handler::Action(log_lines),
    }]
}

fn log_lines(
    ctx: ActionCtx,
    _: Args,
) -> futures_util::future::BoxFuture<'static, Result<Value, FnError>> {
    async move {
        let line = "x".repeat(512);
        for _ in 0..256 {
            ctx.log(&line);
        }
        Ok(Value::Null)
    }
    .boxed()
}
