//! The sync WebSocket protocol, frame by frame, with a plain WebSocket
//! client: versions, ordering, errors, faults and scale.

use std::time::{Duration, Instant};

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use testbed::{TestbedConfig, TestbedHandle};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const TIMEOUT: Duration = Duration::from_secs(10);

async fn started() -> TestbedHandle {
    testbed::start(TestbedConfig::default()).await.unwrap()
}

async fn connect(handle: &TestbedHandle, path: &str) -> Socket {
    let url = format!("{}{path}", handle.url().replace("http://", "ws://"));
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    send(
        &mut socket,
        json!({
            "type": "Connect",
            "sessionId": "8e3a62a4-4d55-4bd0-8e6a-0d3c2f1b9a77",
            "connectionCount": 0,
            "lastCloseReason": "InitialConnect",
            "clientTs": 1000,
        }),
    )
    .await;
    socket
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .unwrap();
}

/// The next server message other than Ping, or None when the connection
/// ended (with the close frame, if any).
async fn next_frame(socket: &mut Socket) -> Result<Value, Option<String>> {
    loop {
        let frame = tokio::time::timeout(TIMEOUT, socket.next())
            .await
            .expect("timed out waiting for a server message");
        match frame {
            Some(Ok(Message::Text(text))) => {
                let value: Value = serde_json::from_str(text.as_str()).unwrap();
                if value["type"] != "Ping" {
                    return Ok(value);
                }
            }
            Some(Ok(Message::Close(frame))) => return Err(frame.map(|f| f.reason.to_string())),
            Some(Ok(_)) => {}
            None | Some(Err(_)) => return Err(None),
        }
    }
}

async fn next(socket: &mut Socket) -> Value {
    next_frame(socket).await.expect("connection ended")
}

fn ts(version: &Value) -> u64 {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(version["ts"].as_str().unwrap())
        .unwrap();
    u64::from_le_bytes(bytes.try_into().unwrap())
}

fn watch_channel(query_id: u32, channel: &str) -> Value {
    json!({
        "type": "Add",
        "queryId": query_id,
        "udfPath": "query_index:queryMessagesWithArgs",
        "args": [{"channel": channel, "rand": 0, "limit": 100, "table": "messages"}],
    })
}

fn modify(base: u32, modifications: Vec<Value>) -> Value {
    json!({"type": "ModifyQuerySet", "baseVersion": base, "newVersion": base + 1, "modifications": modifications})
}

fn insert_into(request_id: u32, channel: &str) -> Value {
    json!({
        "type": "Mutation",
        "requestId": request_id,
        "udfPath": "insert:insertMessageWithArgs",
        "args": [{"channel": channel, "timestamp": 1, "rand": 5, "ballastCount": 0, "count": 1, "table": "messages"}],
    })
}

#[tokio::test]
async fn transitions_chain_and_a_mutation_is_followed_by_its_transition() {
    let handle = started().await;
    let mut socket = connect(&handle, "/api/1.51.0/sync").await;
    send(&mut socket, modify(0, vec![watch_channel(0, "p")])).await;
    let first = next(&mut socket).await;
    assert_eq!(first["type"], "Transition");
    assert_eq!(
        first["startVersion"],
        json!({"querySet": 0, "identity": 0, "ts": "AAAAAAAAAAA="})
    );
    assert_eq!(first["endVersion"]["querySet"], 1);
    assert!(
        first["clientClockSkew"].is_i64() && first["serverTs"].is_i64(),
        "{first}"
    );
    assert_eq!(first["modifications"][0]["type"], "QueryUpdated");
    assert_eq!(first["modifications"][0]["value"], json!([]));

    send(&mut socket, insert_into(0, "p")).await;
    let response = next(&mut socket).await;
    assert_eq!(response["type"], "MutationResponse", "{response}");
    assert_eq!(response["success"], true);
    let commit_ts = ts(&response);
    let transition = next(&mut socket).await;
    assert_eq!(transition["type"], "Transition");
    assert_eq!(transition["startVersion"], first["endVersion"]);
    assert!(ts(&transition["endVersion"]) >= commit_ts);
    let update = &transition["modifications"][0];
    assert_eq!(update["queryId"], 0);
    assert_eq!(update["value"].as_array().unwrap().len(), 1);

    // Removing the query answers QueryRemoved at the next query-set version.
    send(
        &mut socket,
        modify(1, vec![json!({"type": "Remove", "queryId": 0})]),
    )
    .await;
    let removed = next(&mut socket).await;
    assert_eq!(removed["startVersion"], transition["endVersion"]);
    assert_eq!(removed["endVersion"]["querySet"], 2);
    assert_eq!(
        removed["modifications"],
        json!([{"type": "QueryRemoved", "queryId": 0}])
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn protocol_violations_end_only_the_offending_connection() {
    let handle = started().await;
    let mut healthy = connect(&handle, "/api/sync").await;
    let mut garbage = connect(&handle, "/api/sync").await;
    garbage.send(Message::text("{not json")).await.unwrap();
    let fatal = next(&mut garbage).await;
    assert_eq!(fatal["type"], "FatalError");
    assert!(
        fatal["error"].as_str().unwrap().contains("not JSON"),
        "{fatal}"
    );
    let reason = next_frame(&mut garbage).await.unwrap_err().unwrap();
    assert!(reason.contains("not JSON"), "close reason: {reason}");

    let mut wrong_version = connect(&handle, "/api/sync").await;
    send(&mut wrong_version, modify(7, vec![])).await;
    let fatal = next(&mut wrong_version).await;
    assert_eq!(fatal["type"], "FatalError");
    assert!(
        fatal["error"].as_str().unwrap().contains("Base version 7"),
        "{fatal}"
    );

    let mut unknown_type = connect(&handle, "/api/sync").await;
    send(&mut unknown_type, json!({"type": "Bogus"})).await;
    assert_eq!(next(&mut unknown_type).await["type"], "FatalError");

    send(&mut healthy, modify(0, vec![watch_channel(3, "h")])).await;
    let transition = next(&mut healthy).await;
    assert_eq!(transition["type"], "Transition");
    assert_eq!(transition["modifications"][0]["type"], "QueryUpdated");
    handle.shutdown().await;
}

#[tokio::test]
async fn failures_are_reported_per_query_and_per_request() {
    let handle = started().await;
    let mut socket = connect(&handle, "/api/sync").await;
    send(
        &mut socket,
        modify(
            0,
            vec![json!({"type": "Add", "queryId": 1, "udfPath": "missing:query", "args": [{}]})],
        ),
    )
    .await;
    let transition = next(&mut socket).await;
    let failed = &transition["modifications"][0];
    assert_eq!(failed["type"], "QueryFailed");
    assert!(
        failed["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Could not find public function for 'missing:query'")
    );

    send(
        &mut socket,
        json!({"type": "Action", "requestId": 4, "udfPath": "log", "args": [{}]}),
    )
    .await;
    let action = next(&mut socket).await;
    assert_eq!(action["type"], "ActionResponse");
    assert_eq!(action["requestId"], 4);
    assert_eq!(action["success"], true);
    assert_eq!(action["logLines"].as_array().unwrap().len(), 256);

    send(
        &mut socket,
        json!({"type": "Mutation", "requestId": 5, "udfPath": "update", "args": [{}]}),
    )
    .await;
    let response = next(&mut socket).await;
    assert_eq!(response["success"], false);
    assert!(
        response["result"]
            .as_str()
            .unwrap()
            .contains("setup:setupMessages"),
        "{response}"
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn admin_authentication() {
    let handle = started().await;
    let mut socket = connect(&handle, "/api/sync").await;
    send(
        &mut socket,
        json!({"type": "Authenticate", "baseVersion": 0, "tokenType": "Admin", "value": handle.admin_key()}),
    )
    .await;
    let transition = next(&mut socket).await;
    assert_eq!(transition["type"], "Transition");
    assert_eq!(transition["endVersion"]["identity"], 1);

    let mut intruder = connect(&handle, "/api/sync").await;
    send(
        &mut intruder,
        json!({"type": "Authenticate", "baseVersion": 0, "tokenType": "Admin", "value": "testbed|wrong"}),
    )
    .await;
    let error = next(&mut intruder).await;
    assert_eq!(error["type"], "AuthError", "{error}");
    assert!(next_frame(&mut intruder).await.is_err());
    handle.shutdown().await;
}

async fn set_faults(handle: &TestbedHandle, spec: Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/_testbed/faults", handle.url()))
        .header("Authorization", format!("Convex {}", handle.admin_key()))
        .json(&spec)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204, "{}", response.text().await.unwrap());
}

#[tokio::test]
async fn stall_holds_responses_and_drop_closes_connections() {
    let handle = started().await;
    let mut socket = connect(&handle, "/api/sync").await;
    set_faults(&handle, json!({"stall_ms": 400})).await;
    let sent = Instant::now();
    send(&mut socket, insert_into(0, "s")).await;
    let response = next(&mut socket).await;
    assert_eq!(response["type"], "MutationResponse");
    assert!(
        sent.elapsed() >= Duration::from_millis(350),
        "{:?}",
        sent.elapsed()
    );
    let transition = next(&mut socket).await;
    assert_eq!(transition["type"], "Transition");
    assert!(ts(&transition["endVersion"]) >= ts(&response));

    set_faults(&handle, json!({"error_rate": {"mutation": 1.0}})).await;
    send(&mut socket, insert_into(1, "s")).await;
    let failed = next(&mut socket).await;
    assert_eq!(failed["type"], "MutationResponse");
    assert_eq!(failed["success"], false);
    assert_eq!(failed["result"], "Injected fault");

    set_faults(&handle, json!({"drop_connections": true})).await;
    // Abrupt: the connection ends without a close frame.
    loop {
        match next_frame(&mut socket).await {
            Ok(_) => continue,
            Err(reason) => {
                assert_eq!(reason, None);
                break;
            }
        }
    }
    handle.shutdown().await;
}

#[tokio::test]
async fn twenty_thousand_subscriptions_on_one_connection() {
    let handle = started().await;
    let mut socket = connect(&handle, "/api/sync").await;
    let adds = (0..20_000)
        .map(|i| watch_channel(i, &format!("c{i}")))
        .collect();
    send(&mut socket, modify(0, adds)).await;
    let first = next(&mut socket).await;
    assert_eq!(first["modifications"].as_array().unwrap().len(), 20_000);
    let before = handle.stats();

    send(&mut socket, insert_into(0, "c12345")).await;
    assert_eq!(next(&mut socket).await["type"], "MutationResponse");
    let transition = next(&mut socket).await;
    let modifications = transition["modifications"].as_array().unwrap();
    assert_eq!(
        modifications.len(),
        1,
        "only the matching subscription re-runs"
    );
    assert_eq!(modifications[0]["queryId"], 12345);
    assert_eq!(
        handle.stats().subscription_reruns - before.subscription_reruns,
        1
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn a_thousand_concurrent_connections() {
    let handle = started().await;
    let mut tasks = Vec::new();
    for i in 0..1000u32 {
        let mut socket = connect(&handle, "/api/sync").await;
        tasks.push(tokio::spawn(async move {
            send(
                &mut socket,
                modify(0, vec![watch_channel(0, &format!("conn{i}"))]),
            )
            .await;
            let transition = next(&mut socket).await;
            assert_eq!(transition["modifications"][0]["type"], "QueryUpdated");
            socket
        }));
    }
    let mut sockets = Vec::new();
    for task in tasks {
        sockets.push(task.await.unwrap());
    }
    assert_eq!(handle.stats().connections_active, 1000);
    // Every connection still works while all are open.
    send(&mut sockets[999], insert_into(0, "conn999")).await;
    assert_eq!(next(&mut sockets[999]).await["type"], "MutationResponse");
    let transition = next(&mut sockets[999]).await;
    assert_eq!(
        transition["modifications"][0]["value"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    drop(sockets);
    handle.shutdown().await;
}

#[tokio::test]
async fn idle_connections_get_pings() {
    let handle = started().await;
    let mut socket = connect(&handle, "/api/sync").await;
    let waited = Instant::now();
    let frame = tokio::time::timeout(Duration::from_secs(8), socket.next())
        .await
        .expect("no Ping within 8 s")
        .unwrap()
        .unwrap();
    let message: Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
    assert_eq!(message, json!({"type": "Ping"}));
    assert!(
        waited.elapsed() >= Duration::from_secs(4),
        "pinged a fresh connection"
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn a_subscription_failed_by_an_injected_fault_recovers_on_the_next_write() {
    let handle = started().await;
    let mut socket = connect(&handle, "/api/sync").await;
    set_faults(&handle, json!({"error_rate": {"query": 1.0}})).await;
    send(&mut socket, modify(0, vec![watch_channel(0, "f")])).await;
    let failed = next(&mut socket).await;
    assert_eq!(failed["modifications"][0]["type"], "QueryFailed");
    assert_eq!(failed["modifications"][0]["errorMessage"], "Injected fault");

    let cleared = reqwest::Client::new()
        .delete(format!("{}/_testbed/faults", handle.url()))
        .header("Authorization", format!("Convex {}", handle.admin_key()))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 204);
    send(&mut socket, insert_into(0, "f")).await;
    assert_eq!(next(&mut socket).await["type"], "MutationResponse");
    let recovered = next(&mut socket).await;
    assert_eq!(recovered["modifications"][0]["type"], "QueryUpdated");
    assert_eq!(
        recovered["modifications"][0]["value"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    handle.shutdown().await;
}
