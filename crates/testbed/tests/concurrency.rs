//! Concurrent writers: conflicting mutations all succeed through OCC
//! retries, and acknowledged inserts are exactly what is visible after.

use std::sync::Arc;

use serde_json::{Value, json};
use testbed::TestbedConfig;

async fn call(client: &reqwest::Client, url: &str, kind: &str, body: Value) -> Value {
    let response = client
        .post(format!("{url}/api/{kind}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{body}");
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_updates_all_succeed() {
    let handle = testbed::start(TestbedConfig::default()).await.unwrap();
    let url = handle.url();
    let client = reqwest::Client::new();
    call(
        &client,
        &url,
        "mutation",
        json!({"path": "setup:setupMessages", "args": {"rows": 5, "channel": "global"}}),
    )
    .await;
    let before = handle.stats();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                call(
                    &client,
                    &url,
                    "mutation",
                    json!({"path": "update", "args": {}}),
                )
                .await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap()["status"], "success");
    }
    let after = handle.stats();
    assert_eq!(
        after.commits - before.commits,
        50,
        "every update committed once"
    );
    assert_eq!(after.mutations - before.mutations, 50);
    eprintln!(
        "OCC retries for 50 concurrent updates: {}",
        after.occ_retries - before.occ_retries
    );
    handle.shutdown().await;
}

/// Concurrent commits to the row `update` reads must conflict: two
/// transactions that read it at the same timestamp cannot both commit.
#[test]
fn a_read_overwritten_by_a_concurrent_commit_conflicts() {
    use testbed::store::Store;
    use testbed::store::transaction::{Order, RangeBound, Transaction};
    let store = Store::new();
    let seed = {
        let state = store.read();
        let mut tx = Transaction::new(&state, true);
        let mut fields = serde_json::Map::new();
        fields.insert("channel".into(), json!("global"));
        fields.insert("rand".into(), json!(0.0));
        let id = tx.insert("messages", fields).unwrap();
        (id, tx.into_parts())
    };
    store
        .commit(seed.1.begin_ts, &seed.1.reads, seed.1.writes, None)
        .unwrap();
    let read_and_patch = || {
        let state = store.read();
        let mut tx = Transaction::new(&state, true);
        let channel = json!("global");
        let docs = tx
            .index_range(
                "messages",
                "by_channel_rand",
                &[&channel],
                RangeBound::Unbounded,
                RangeBound::Unbounded,
                Order::Asc,
                1,
            )
            .unwrap();
        let mut patch = serde_json::Map::new();
        patch.insert("timestamp".into(), json!(1.0));
        tx.patch(docs[0].id, patch).unwrap();
        tx.into_parts()
    };
    let first = read_and_patch();
    let second = read_and_patch();
    assert!(
        store
            .commit(first.begin_ts, &first.reads, first.writes, None)
            .is_ok()
    );
    assert!(
        store
            .commit(second.begin_ts, &second.reads, second.writes, None)
            .is_err()
    );
    // Retried from a fresh snapshot, it commits.
    let retry = read_and_patch();
    assert!(
        store
            .commit(retry.begin_ts, &retry.reads, retry.writes, None)
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_acknowledged_inserts_are_a_thousand_documents() {
    let handle = testbed::start(TestbedConfig::default()).await.unwrap();
    let url = Arc::new(handle.url());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let insert = json!({"path": "insert:insertMessageWithArgs", "args": {
        "channel": "bulk", "timestamp": 1, "rand": 7, "ballastCount": 0, "count": 1, "table": "messages"}});
    let limit = Arc::new(tokio::sync::Semaphore::new(200));
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let (client, url, insert, limit) =
                (client.clone(), url.clone(), insert.clone(), limit.clone());
            tokio::spawn(async move {
                let _permit = limit.acquire().await.unwrap();
                call(&client, &url, "mutation", insert).await
            })
        })
        .collect();
    let mut acknowledged = 0;
    for task in tasks {
        if task.await.unwrap()["status"] == "success" {
            acknowledged += 1;
        }
    }
    assert_eq!(acknowledged, 1000);
    let page = call(
        &client,
        &url,
        "query",
        json!({"path": "query_index:queryMessagesWithArgs", "args": {
        "channel": "bulk", "rand": 0, "limit": 5000, "table": "messages"}}),
    )
    .await;
    assert_eq!(page["value"].as_array().unwrap().len(), 1000);
    assert_eq!(handle.stats().commits, 1000);
    handle.shutdown().await;
}
