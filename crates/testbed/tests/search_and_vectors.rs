//! Full-text search, vector search and the `search:*` / `openclaurd:*`
//! functions, through the official `convex` Rust client over loopback.

mod issue3_support;

use std::time::Duration;

use issue3_support::*;
use serde_json::{Value, json};

async fn insert_in_channel(client: &mut convex::ConvexClient, channel: &str, count: u32) {
    ok(mutation(
        client,
        "insert:insertMessageWithArgs",
        json!({"channel": channel, "timestamp": 1.0, "rand": 7.0, "ballastCount": 0.0,
               "count": f64::from(count), "table": "messages_with_search"}),
    )
    .await);
}

async fn channel_docs(client: &mut convex::ConvexClient, channel: &str) -> Vec<Value> {
    let docs = ok(query(
        client,
        "query_index:queryMessagesWithArgs",
        json!({"channel": channel, "rand": 0.0, "limit": 1000.0, "table": "messages_with_search"}),
    )
    .await);
    docs.as_array().unwrap().clone()
}

#[tokio::test]
async fn search_returns_the_searched_document_first_and_applies_the_filter() {
    let handle = start().await;
    let mut client = client(&handle).await;
    insert_in_channel(&mut client, "alpha", 40).await;
    insert_in_channel(&mut client, "beta", 10).await;
    let docs = channel_docs(&mut client, "alpha").await;
    assert_eq!(docs.len(), 40);

    for doc in docs.iter().take(8) {
        let body = doc["body"].as_str().unwrap();
        let hits = ok(query(
            &mut client,
            "search",
            json!({"channel": "alpha", "body": body, "limit": 5.0}),
        )
        .await);
        let hits = hits.as_array().unwrap();
        assert!(!hits.is_empty() && hits.len() <= 5, "{hits:?}");
        // Top hit: this document, or one with the very same body.
        assert_eq!(hits[0]["body"], doc["body"], "searching {body:?}");
        assert!(hits.iter().all(|h| h["channel"] == "alpha"));
        assert!(hits.iter().any(|h| h["_id"] == doc["_id"]) || hits.len() == 5);
    }

    // A body that exists only in `alpha` finds nothing in an unknown channel.
    let body = docs[0]["body"].as_str().unwrap();
    let none = ok(query(
        &mut client,
        "search",
        json!({"channel": "nowhere", "body": body, "limit": 5.0}),
    )
    .await);
    assert_eq!(none, json!([]));

    // Last-term prefix: the first word plus a truncated last word still
    // finds documents containing the full word.
    let words: Vec<&str> = body.split(' ').collect();
    let last = words.last().unwrap();
    let prefix = &last[..last.len().min(3)];
    let hits = ok(query(
        &mut client,
        "search",
        json!({"channel": "alpha", "body": prefix, "limit": 50.0}),
    )
    .await);
    let hits = hits.as_array().unwrap();
    assert!(!hits.is_empty());
    assert!(hits.iter().all(|h| {
        h["body"]
            .as_str()
            .unwrap()
            .split(' ')
            .any(|w| w.starts_with(prefix))
    }));
    handle.shutdown().await;
}

#[tokio::test]
async fn inserted_document_is_the_top_hit_for_its_own_body() {
    let handle = start().await;
    let mut client = client(&handle).await;
    insert_in_channel(&mut client, "global", 30).await;
    // Insert one more through the benchmark's own insert, then find it.
    let before: Vec<Value> = channel_docs(&mut client, "global").await;
    ok(mutation(&mut client, "insert:insertMessageWithSearch", json!({})).await);
    let after = channel_docs(&mut client, "global").await;
    let new_doc = after
        .iter()
        .find(|d| !before.iter().any(|b| b["_id"] == d["_id"]))
        .expect("the inserted document")
        .clone();
    let hits = ok(query(
        &mut client,
        "search",
        json!({"channel": "global", "body": new_doc["body"], "limit": 10.0}),
    )
    .await);
    assert_eq!(hits[0]["body"], new_doc["body"]);
    handle.shutdown().await;
}

#[tokio::test]
async fn search_subscription_reruns_on_writes_in_its_filter_range_only() {
    let handle = start().await;
    let mut client = client(&handle).await;
    insert_in_channel(&mut client, "watched", 1).await;
    let first = channel_docs(&mut client, "watched").await[0].clone();
    let mut sub = subscribe(
        &mut client,
        "search",
        json!({"channel": "watched", "body": first["body"], "limit": 10.0}),
    )
    .await;
    let initial = next(&mut sub).await;
    assert_eq!(initial.as_array().unwrap().len(), 1);
    assert_eq!(initial[0]["_id"], first["_id"]);

    // Writes to another channel must not re-run the search.
    let reruns_before = handle.stats().subscription_reruns;
    insert_in_channel(&mut client, "elsewhere", 20).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(handle.stats().subscription_reruns, reruns_before);

    // 50 random-word documents in the watched channel: some share a word
    // with the watched body, so the result grows.
    insert_in_channel(&mut client, "watched", 50).await;
    let seen = until(&mut sub, |v| v.as_array().unwrap().len() > 1).await;
    let last = seen.last().unwrap().as_array().unwrap();
    assert!(last.len() <= 10);
    assert_eq!(
        last[0]["body"], first["body"],
        "the exact body still ranks first"
    );
    assert!(handle.stats().subscription_reruns > reruns_before);
    handle.shutdown().await;
}

#[tokio::test]
async fn random_search_documents_are_found_deleted_and_replaced() {
    let handle = start().await;
    let mut client = client(&handle).await;
    assert_eq!(
        ok(query(
            &mut client,
            "search:findRandomSearchDocument",
            json!({"cacheBreaker": 1.0})
        )
        .await),
        Value::Null
    );
    // Deleting or replacing in an empty table is a no-op, not an error.
    ok(mutation(&mut client, "search:deleteMessageWithSearch", json!({})).await);
    ok(mutation(&mut client, "search:replaceMessageWithSearch", json!({})).await);

    insert_in_channel(&mut client, "global", 20).await;
    let doc = ok(query(
        &mut client,
        "search:findRandomSearchDocument",
        json!({"cacheBreaker": 2.0}),
    )
    .await);
    assert!(doc["_id"].is_string() && doc["body"].is_string());

    ok(mutation(&mut client, "search:deleteMessageWithSearch", json!({})).await);
    assert_eq!(count(&handle, "messages_with_search"), 19);

    let ids_before: Vec<Value> = channel_docs(&mut client, "global")
        .await
        .iter()
        .map(|d| d["_id"].clone())
        .collect();
    let bodies_before: Vec<Value> = channel_docs(&mut client, "global")
        .await
        .iter()
        .map(|d| d["rand"].clone())
        .collect();
    ok(mutation(&mut client, "search:replaceMessageWithSearch", json!({})).await);
    let after = channel_docs(&mut client, "global").await;
    assert_eq!(after.len(), 19, "replace keeps the row count");
    let mut ids_after: Vec<Value> = after.iter().map(|d| d["_id"].clone()).collect();
    let mut ids_sorted = ids_before.clone();
    ids_sorted.sort_by_key(|v| v.to_string());
    ids_after.sort_by_key(|v| v.to_string());
    assert_eq!(ids_sorted, ids_after, "replace keeps the id");
    let rands_after: Vec<Value> = after.iter().map(|d| d["rand"].clone()).collect();
    assert_ne!(bodies_before, rands_after, "one row got a new rand");
    handle.shutdown().await;
}

#[tokio::test]
async fn vector_search_finds_a_row_by_its_own_embedding() {
    let handle = start().await;
    let mut client = client(&handle).await;
    ok(mutation(&mut client, "setup:setupVectors", json!({"rows": 60.0})).await);
    for _ in 0..10 {
        ok(mutation(
            &mut client,
            "openclaurd:insertOpenclaurdLowCardinality",
            json!({}),
        )
        .await);
        ok(mutation(
            &mut client,
            "openclaurd:insertOpenclaurdHighCardinality",
            json!({}),
        )
        .await);
    }
    assert_eq!(count(&handle, "openclaurd"), 80);

    for i in 0..5 {
        let row = ok(query(
            &mut client,
            "openclaurd:findRandomOpenclaurd",
            json!({"cacheBreaker": f64::from(i)}),
        )
        .await);
        let embedding = row["embedding"].as_array().unwrap();
        assert_eq!(embedding.len(), 1536);
        let by_id = ok(query(
            &mut client,
            "openclaurd:queryOpenclaurdById",
            json!({"id": row["_id"]}),
        )
        .await);
        assert_eq!(by_id["_id"], row["_id"]);

        let hits = ok(action(
            &mut client,
            "vectorSearch",
            json!({"vector": embedding, "limit": 10.0, "users": [row["user"]]}),
        )
        .await);
        let hits = hits.as_array().unwrap();
        assert_eq!(hits[0]["_id"], row["_id"]);
        assert!(hits[0]["_score"].as_f64().unwrap() > 0.99, "{hits:?}");
        for pair in hits.windows(2) {
            assert!(pair[0]["_score"].as_f64() >= pair[1]["_score"].as_f64());
        }
        for hit in hits {
            let score = hit["_score"].as_f64().unwrap();
            assert!((-1.0..=1.0).contains(&score));
            assert_eq!(
                hit.as_object().unwrap().len(),
                2,
                "only _id and _score: {hit}"
            );
        }
    }

    // Users in the filter that do not exist: no hits.
    let vector: Vec<f64> = vec![0.5; 1536];
    let none = ok(action(
        &mut client,
        "vectorSearch",
        json!({"vector": vector, "limit": 5.0, "users": ["nobody"]}),
    )
    .await);
    assert_eq!(none, json!([]));

    ok(mutation(&mut client, "openclaurd:deleteOpenclaurd", json!({})).await);
    assert_eq!(count(&handle, "openclaurd"), 79);
    handle.shutdown().await;
}

/// The distinct users of the `openclaurd` rows, read in-process.
fn users(handle: &testbed::TestbedHandle) -> std::collections::BTreeSet<u32> {
    let state = handle.runtime().store.read();
    state
        .table("openclaurd")
        .unwrap()
        .docs
        .values()
        .map(|d| {
            let user = d.fields["user"].as_str().unwrap();
            user.strip_prefix("user ")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("user {user:?} is not `user N`"))
        })
        .collect()
}

#[tokio::test]
async fn low_and_high_cardinality_inserts_use_their_user_ranges() {
    let handle = start().await;
    let mut client = client(&handle).await;
    for _ in 0..30 {
        ok(mutation(
            &mut client,
            "openclaurd:insertOpenclaurdLowCardinality",
            json!({}),
        )
        .await);
    }
    let low = users(&handle);
    assert!(low.iter().all(|n| *n < 5), "{low:?}");
    // 30 draws from 5 users leave more than one user (p(all equal) ~ 1e-20).
    assert!(low.len() > 1, "{low:?}");
    for _ in 0..30 {
        ok(mutation(
            &mut client,
            "openclaurd:insertOpenclaurdHighCardinality",
            json!({}),
        )
        .await);
    }
    let all = users(&handle);
    assert!(all.iter().all(|n| *n < 100), "{all:?}");
    // 30 draws from 100 users reach beyond the first 5 (p(not) = 0.05^30).
    assert!(all.iter().any(|n| *n >= 5), "{all:?}");
    handle.shutdown().await;
}

#[tokio::test]
async fn bad_search_and_vector_arguments_get_clear_errors() {
    let handle = start().await;
    let mut client = client(&handle).await;
    let e = err(query(
        &mut client,
        "search",
        json!({"channel": "c", "body": "x", "limit": "ten"}),
    )
    .await);
    assert!(e.contains("limit") && e.contains("v.number()"), "{e}");
    let e = err(query(&mut client, "search", json!({"channel": "c", "body": "x"})).await);
    assert!(e.contains("`limit`"), "{e}");
    let e = err(query(
        &mut client,
        "search",
        json!({"channel": "c", "body": "x", "limit": 5000.0}),
    )
    .await);
    assert!(e.contains("limit") && e.contains("1024"), "{e}");

    let e = err(action(
        &mut client,
        "vectorSearch",
        json!({"vector": [1.0, 2.0], "limit": 5.0, "users": ["u"]}),
    )
    .await);
    assert!(e.contains("2") && e.contains("1536"), "{e}");
    let e = err(action(
        &mut client,
        "vectorSearch",
        json!({"vector": "nope", "limit": 5.0, "users": ["u"]}),
    )
    .await);
    assert!(e.contains("vector"), "{e}");
    let e = err(action(
        &mut client,
        "vectorSearch",
        json!({"vector": vec![0.1; 1536], "limit": 0.0, "users": ["u"]}),
    )
    .await);
    assert!(e.contains("limit"), "{e}");
    let e = err(action(
        &mut client,
        "vectorSearch",
        json!({"vector": vec![0.1; 1536], "limit": 5.0, "users": [1.0]}),
    )
    .await);
    assert!(e.contains("users"), "{e}");

    // The server keeps serving after bad input.
    ok(query(
        &mut client,
        "search",
        json!({"channel": "c", "body": "x", "limit": 5.0}),
    )
    .await);
    handle.shutdown().await;
}
