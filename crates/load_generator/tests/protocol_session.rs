//! The protocol session against a real (in-process) testbed.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use load_generator::protocol::{
    CallError, Connection, ConnectionObserver, HttpFunctionClient, SessionConfig, sync_url,
};
use load_generator::scenario::MetricSink;
use load_generator::workload::model::FunctionType;
use results_format::MetricKey;
use serde_json::json;

fn config(bed: &common::Bed) -> SessionConfig {
    SessionConfig {
        ws_url: sync_url(&bed.testbed.url()).unwrap(),
        admin_key: Some(bed.testbed.admin_key().to_string()),
        setup_timeout: Duration::from_secs(5),
    }
}

fn observer(bed: &common::Bed) -> ConnectionObserver {
    let key = |name: &str| MetricKey {
        scenario: "Test".into(),
        name: name.into(),
        path: None,
    };
    ConnectionObserver {
        sink: bed.sink.clone(),
        setup: bed.sink.register(key("connection_setup"), None),
        reconnects: bed.sink.register(key("reconnect"), None),
    }
}

#[tokio::test]
async fn query_mutation_action_round_trip_with_instants_in_order() {
    let bed = common::start().await;
    let before = Instant::now();
    let conn = Connection::open(config(&bed), Some(observer(&bed)))
        .await
        .unwrap();
    assert_eq!(bed.sink.successes("Test", "connection_setup"), 1);

    let inserted = conn
        .mutation(
            "insert:insertMessageWithArgs",
            json!({"channel": "c1", "timestamp": 1.0, "rand": 5, "ballastCount": 0, "count": 1, "table": "messages"}),
        )
        .await
        .unwrap();
    assert!(before <= inserted.sent);
    assert!(inserted.sent <= inserted.responded);
    assert!(inserted.responded <= inserted.visible);

    let rows = conn
        .query(
            "query_index:queryMessagesWithArgs",
            json!({"channel": "c1", "rand": 0, "limit": 10, "table": "messages"}),
        )
        .await
        .unwrap();
    let rows = rows.value.as_array().expect("an array of rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["rand"], json!(5.0));

    let logged = conn.action("log", json!({})).await.unwrap();
    assert!(logged.sent <= logged.responded);
    // Many concurrent queries on one connection all resolve.
    let many = futures_util::future::join_all((0..200).map(|i| {
        conn.query(
            "query_index:queryMessages",
            json!({"cacheBreaker": i as f64}),
        )
    }))
    .await;
    assert!(many.iter().all(Result::is_ok));
}

#[tokio::test]
async fn function_errors_and_bad_paths_are_distinguished() {
    let bed = common::start().await;
    let conn = Connection::open(config(&bed), None).await.unwrap();
    let missing = conn.query("query_index:nope", json!({})).await.unwrap_err();
    assert!(
        matches!(missing.error, CallError::Function(_)),
        "{missing:?}"
    );
    assert!(missing.sent.is_some());
    let bad = conn.mutation("not a path::", json!({})).await.unwrap_err();
    assert!(matches!(bad.error, CallError::Usage(_)), "{bad:?}");
    // The session survives both.
    conn.query("query_index:queryMessages", json!({"cacheBreaker": 0.5}))
        .await
        .unwrap();
}

#[tokio::test]
async fn wrong_admin_key_fails_setup_clearly() {
    let bed = common::start().await;
    let mut config = config(&bed);
    config.admin_key = Some("testbed|wrong".into());
    let err = Connection::open(config, None)
        .await
        .err()
        .expect("rejected");
    assert!(err.to_string().contains("admin key"), "{err}");
    assert!(
        !err.to_string().contains("testbed|wrong"),
        "key leaked: {err}"
    );
}

#[tokio::test]
async fn subscription_sees_inserts_and_ends_on_drop() {
    let bed = common::start().await;
    let conn = Connection::open(config(&bed), None).await.unwrap();
    let args = json!({"channel": "sub", "rand": 0, "limit": 10, "table": "messages"});
    let mut sub = conn
        .subscribe("query_index:queryMessagesWithArgs", args)
        .await
        .unwrap();
    assert_eq!(sub.next().await.unwrap(), json!([]));
    conn.mutation(
        "insert:insertMessageWithArgs",
        json!({"channel": "sub", "timestamp": 1.0, "rand": 9, "ballastCount": 0, "count": 1, "table": "messages"}),
    )
    .await
    .unwrap();
    let update = tokio::time::timeout(Duration::from_secs(2), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(update.as_array().unwrap().len(), 1);
    drop(sub);
    // The set shrank without upsetting the server: more calls still work.
    conn.query("query_index:queryMessages", json!({"cacheBreaker": 0.1}))
        .await
        .unwrap();
}

#[tokio::test]
async fn dropped_connections_are_counted_and_recovered() {
    let bed = common::start().await;
    let conn = Connection::open(config(&bed), Some(observer(&bed)))
        .await
        .unwrap();
    conn.query("query_index:queryMessages", json!({"cacheBreaker": 0.2}))
        .await
        .unwrap();
    bed.faults(json!({"drop_connections": true})).await;
    // Requests after the drop wait for the reconnection and succeed.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let result = tokio::time::timeout(
            Duration::from_secs(2),
            conn.query("query_index:queryMessages", json!({"cacheBreaker": 0.3})),
        )
        .await;
        if conn.reconnects() >= 1 && matches!(result, Ok(Ok(_))) {
            break;
        }
        assert!(Instant::now() < deadline, "no recovery: {result:?}");
    }
    assert!(conn.reconnects() >= 1);
    assert!(bed.sink.count("Test", "reconnect") >= 1);
    assert!(bed.sink.successes("Test", "connection_setup") >= 2);
}

#[tokio::test]
async fn killed_backend_fails_requests_clearly_and_keeps_retrying() {
    let bed = common::start().await;
    let conn = Arc::new(
        Connection::open(config(&bed), Some(observer(&bed)))
            .await
            .unwrap(),
    );
    // A mutation held by a stall is in flight when the backend goes away.
    bed.faults(json!({"stall_ms": 3000})).await;
    let in_flight = {
        let conn = conn.clone();
        tokio::spawn(async move { conn.mutation("insert:insertMessage", json!({})).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let common::Bed { testbed, sink, .. } = bed;
    testbed.shutdown().await;
    let failed = tokio::time::timeout(Duration::from_secs(5), in_flight)
        .await
        .expect("in-flight request resolves")
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(failed.error, CallError::ConnectionLost(_)),
        "{failed:?}"
    );
    // New requests wait for a session that never comes: bounded by the caller.
    let waited = tokio::time::timeout(
        Duration::from_millis(600),
        conn.query("query_index:queryMessages", json!({})),
    )
    .await;
    assert!(waited.is_err(), "no session should be available");
    assert!(conn.reconnects() >= 1);
    assert!(sink.count("Test", "reconnect") >= 1);
    // Reconnection attempts against the dead port are recorded as errors.
    assert!(
        sink.errors("Test", "connection_setup")
            .get("connection")
            .copied()
            .unwrap_or(0)
            >= 1,
        "attempts: {:?}",
        sink.outcomes("Test", "connection_setup")
    );
}

#[tokio::test]
async fn http_function_client_maps_success_and_function_errors() {
    let bed = common::start().await;
    let client =
        HttpFunctionClient::new(&bed.testbed.url(), Some(bed.testbed.admin_key())).unwrap();
    let ok = client
        .call(
            FunctionType::Query,
            "query_index:queryMessages",
            json!({"cacheBreaker": 0.5}),
        )
        .await
        .unwrap();
    assert!(ok.value.is_array());
    client
        .call(FunctionType::Mutation, "insert:insertMessage", json!({}))
        .await
        .unwrap();
    let missing = client
        .call(FunctionType::Query, "query_index:nope", json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(missing.error, CallError::Http { status: 404, .. }),
        "{missing:?}"
    );
    // A function that throws answers 560: a function error.
    bed.faults(json!({"error_rate": {"query": 1.0}})).await;
    let thrown = client
        .call(
            FunctionType::Query,
            "query_index:queryMessages",
            json!({"cacheBreaker": 0.5}),
        )
        .await
        .unwrap_err();
    assert!(matches!(thrown.error, CallError::Function(_)), "{thrown:?}");
    let unauthorized = HttpFunctionClient::new(&bed.testbed.url(), Some("testbed|bad"))
        .unwrap()
        .call(FunctionType::Query, "query_index:queryMessages", json!({}))
        .await
        .unwrap_err();
    // A refused key is an HTTP error (401), not a function error.
    assert!(
        matches!(unauthorized.error, CallError::Http { status: 401, .. }),
        "{unauthorized:?}"
    );
}

#[tokio::test]
async fn wss_urls_speak_tls() {
    // A plain TCP listener that never answers the TLS handshake properly:
    // the failure must come from TLS, not from an unsupported scheme.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            use tokio::io::AsyncWriteExt;
            let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        }
    });
    let config = SessionConfig {
        ws_url: sync_url(&format!("https://127.0.0.1:{port}")).unwrap(),
        admin_key: None,
        setup_timeout: Duration::from_secs(5),
    };
    let err = Connection::open(config, None)
        .await
        .err()
        .expect("no TLS server");
    let text = err.to_string();
    assert!(text.contains("wss://127.0.0.1"), "{text}");
    // rustls rejected the plain-HTTP answer: TLS was attempted.
    assert!(text.contains("corrupt message"), "{text}");
}

#[tokio::test]
async fn answered_queries_leave_the_servers_query_set() {
    let bed = common::start().await;
    let conn = Connection::open(config(&bed), None).await.unwrap();
    // Sequential and concurrent one-shot queries on the channel we will write.
    for i in 0..20 {
        conn.query(
            "query_index:queryMessages",
            json!({"cacheBreaker": i as f64 / 100.0}),
        )
        .await
        .unwrap();
    }
    futures_util::future::join_all((0..50).map(|i| {
        conn.query(
            "query_index:queryMessages",
            json!({"cacheBreaker": i as f64 / 1000.0}),
        )
    }))
    .await;
    // Longer than the removal linger: every answered query is gone.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let before = bed.testbed.stats().subscription_reruns;
    conn.mutation("insert:insertMessage", json!({}))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(bed.testbed.stats().subscription_reruns - before, 0);
    // Control: a held subscription on the same range does rerun.
    let mut held = conn
        .subscribe("query_index:queryMessages", json!({"cacheBreaker": 0.0}))
        .await
        .unwrap();
    held.next().await.unwrap();
    conn.mutation("insert:insertMessage", json!({}))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(bed.testbed.stats().subscription_reruns - before >= 1);
}

/// Calls leave either from the caller's own task (when it is the only one
/// under way) or through the writer task (when others are): with the load
/// rising and falling, both paths interleave on one session. Query set
/// versions and request ids must stay in order across them (the testbed
/// ends a session on a version gap), every call must be answered, and no
/// answered query may be left in the server's query set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_and_queued_sends_interleave_in_protocol_order() {
    let bed = common::start().await;
    let conn = Arc::new(Connection::open(config(&bed), None).await.unwrap());
    let mutations_before = bed.testbed.stats().mutations;
    let tasks: Vec<_> = (0..8u64)
        .map(|task| {
            let conn = conn.clone();
            tokio::spawn(async move {
                for i in 0..40u64 {
                    if (task + i) % 3 == 0 {
                        conn.mutation("insert:insertMessage", json!({}))
                            .await
                            .unwrap();
                    } else {
                        let breaker = (task * 1000 + i) as f64 / 1e6;
                        conn.query(
                            "query_index:queryMessages",
                            json!({"cacheBreaker": breaker}),
                        )
                        .await
                        .unwrap();
                    }
                    // Stagger the tasks so the number under way keeps changing.
                    if i % (task + 2) == 0 {
                        tokio::time::sleep(Duration::from_micros(200 * task)).await;
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let expected_mutations = (0..8u64)
        .flat_map(|task| (0..40u64).map(move |i| (task + i) % 3 == 0))
        .filter(|is_mutation| *is_mutation)
        .count() as u64;
    assert_eq!(
        bed.testbed.stats().mutations - mutations_before,
        expected_mutations
    );
    assert_eq!(conn.reconnects(), 0, "the session must have stayed up");
    // Past the removal linger, a commit reruns no query: none was left.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let reruns = bed.testbed.stats().subscription_reruns;
    conn.mutation("insert:insertMessage", json!({}))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(bed.testbed.stats().subscription_reruns, reruns);
}
