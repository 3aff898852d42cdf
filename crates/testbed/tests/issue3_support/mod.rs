//! Helpers shared by the issue-3 integration tests: an in-process testbed
//! on loopback ports and the official `convex` client talking to it.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use convex::{ConvexClient, FunctionResult, QuerySubscription};
use futures_util::StreamExt;
use serde_json::Value;

pub const TIMEOUT: Duration = Duration::from_secs(5);

pub async fn start() -> testbed::TestbedHandle {
    start_with(testbed::TestbedConfig::default()).await
}

pub async fn start_with(config: testbed::TestbedConfig) -> testbed::TestbedHandle {
    testbed::start(config).await.expect("testbed starts")
}

pub async fn client(handle: &testbed::TestbedHandle) -> ConvexClient {
    tokio::time::timeout(TIMEOUT, ConvexClient::new(&handle.url()))
        .await
        .expect("connect in time")
        .expect("client connects")
}

/// Convex-JSON object -> the client's argument map.
pub fn args(json: Value) -> BTreeMap<String, convex::Value> {
    let Value::Object(map) = json else {
        panic!("args must be an object: {json}")
    };
    map.into_iter()
        .map(|(k, v)| (k, convex::Value::try_from(v).expect("valid Convex JSON")))
        .collect()
}

/// A successful result as Convex JSON; panics with the error otherwise.
pub fn ok(result: FunctionResult) -> Value {
    match result {
        FunctionResult::Value(v) => Value::from(v),
        other => panic!("function failed: {other:?}"),
    }
}

/// The error message of a failed result; panics on success.
pub fn err(result: FunctionResult) -> String {
    match result {
        FunctionResult::ErrorMessage(m) => m,
        FunctionResult::ConvexError(e) => e.message,
        FunctionResult::Value(v) => panic!("expected an error, got {v:?}"),
    }
}

pub async fn query(client: &mut ConvexClient, path: &str, a: Value) -> FunctionResult {
    tokio::time::timeout(TIMEOUT, client.query(path, args(a)))
        .await
        .unwrap_or_else(|_| panic!("query {path} timed out"))
        .expect("query transport")
}

pub async fn mutation(client: &mut ConvexClient, path: &str, a: Value) -> FunctionResult {
    tokio::time::timeout(TIMEOUT, client.mutation(path, args(a)))
        .await
        .unwrap_or_else(|_| panic!("mutation {path} timed out"))
        .expect("mutation transport")
}

pub async fn action(client: &mut ConvexClient, path: &str, a: Value) -> FunctionResult {
    tokio::time::timeout(TIMEOUT, client.action(path, args(a)))
        .await
        .unwrap_or_else(|_| panic!("action {path} timed out"))
        .expect("action transport")
}

pub async fn subscribe(client: &mut ConvexClient, path: &str, a: Value) -> QuerySubscription {
    tokio::time::timeout(TIMEOUT, client.subscribe(path, args(a)))
        .await
        .unwrap_or_else(|_| panic!("subscribe {path} timed out"))
        .expect("subscribe transport")
}

/// The next value of a subscription, within `TIMEOUT`.
pub async fn next(sub: &mut QuerySubscription) -> Value {
    let result = tokio::time::timeout(TIMEOUT, sub.next())
        .await
        .expect("subscription updated in time")
        .expect("subscription open");
    ok(result)
}

/// Waits until the subscription shows a value satisfying `done`; returns
/// every value seen on the way (including the last).
pub async fn until(sub: &mut QuerySubscription, done: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let value = next(sub).await;
        let finished = done(&value);
        seen.push(value);
        if finished {
            return seen;
        }
    }
}

/// Number of documents in a table, read in-process.
pub fn count(handle: &testbed::TestbedHandle, table: &str) -> usize {
    handle
        .runtime()
        .store
        .read()
        .table(table)
        .map_or(0, |t| t.docs.len())
}
