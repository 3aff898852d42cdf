//! The two bulk insert functions of the benchmark set, through the
//! official `convex` client: `insert:insertLargeMessage` (100 messages with
//! a 4000-number ballast) and `insert:insertMessagesWithArgs` (`n` times
//! `count` messages with the given fields).

mod issue3_support;

use issue3_support::*;
use serde_json::{Value, json};

fn docs(handle: &testbed::TestbedHandle, table: &str) -> Vec<Value> {
    let state = handle.runtime().store.read();
    state
        .table(table)
        .unwrap()
        .docs
        .values()
        .map(|d| d.to_value())
        .collect()
}

#[tokio::test]
async fn large_message_inserts_100_rows_with_4000_number_ballast() {
    let handle = start().await;
    let mut client = client(&handle).await;
    ok(mutation(&mut client, "insert:insertLargeMessage", json!({})).await);
    let rows = docs(&handle, "messages");
    assert_eq!(rows.len(), 100);
    for row in &rows {
        assert_eq!(row["channel"], "global");
        assert_eq!(row["ballastArray"].as_array().unwrap().len(), 4000);
    }
    handle.shutdown().await;
}

#[tokio::test]
async fn messages_with_args_inserts_n_times_count_rows_with_those_fields() {
    let handle = start().await;
    let mut client = client(&handle).await;
    ok(mutation(
        &mut client,
        "insert:insertMessagesWithArgs",
        json!({"channel": "bulk", "timestamp": 42.0, "rand": 5.0, "ballastCount": 3.0,
               "count": 4.0, "table": "messages_with_search", "n": 3.0}),
    )
    .await);
    let rows = docs(&handle, "messages_with_search");
    assert_eq!(rows.len(), 12);
    for row in &rows {
        assert_eq!(row["channel"], "bulk");
        assert_eq!(row["timestamp"], 42.0);
        assert_eq!(row["rand"], 5.0);
        assert_eq!(row["ballastArray"].as_array().unwrap().len(), 3);
    }
    assert!(docs(&handle, "messages").is_empty());
    let e = err(mutation(
        &mut client,
        "insert:insertMessagesWithArgs",
        json!({"channel": "bulk", "timestamp": 42.0, "rand": 5.0, "ballastCount": 3.0,
               "count": 4.0, "table": "nope", "n": 3.0}),
    )
    .await);
    assert!(e.contains("table"), "{e}");
    handle.shutdown().await;
}
