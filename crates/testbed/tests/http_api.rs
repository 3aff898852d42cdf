//! The HTTP endpoints: identity, the function API in both argument
//! encodings, errors, and the control endpoints.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use testbed::{TestbedConfig, TestbedHandle};

async fn started() -> (TestbedHandle, reqwest::Client) {
    let handle = testbed::start(TestbedConfig {
        instance_name: "bench-box".into(),
        admin_key: Some("testbed|fixed-key-for-test".into()),
        ..TestbedConfig::default()
    })
    .await
    .unwrap();
    (handle, reqwest::Client::new())
}

async fn post(
    client: &reqwest::Client,
    url: String,
    body: impl Into<reqwest::Body>,
) -> (StatusCode, Value) {
    let response = client
        .post(url)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, json)
}

async fn call(
    client: &reqwest::Client,
    handle: &TestbedHandle,
    kind: &str,
    body: Value,
) -> (StatusCode, Value) {
    post(
        client,
        format!("{}/api/{kind}", handle.url()),
        body.to_string(),
    )
    .await
}

#[tokio::test]
async fn identity_endpoints() {
    let (handle, client) = started().await;
    for path in ["/version", "/instance_version"] {
        let text = client
            .get(format!("{}{path}", handle.url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(
            text,
            format!("convex-bench-testbed {}", env!("CARGO_PKG_VERSION"))
        );
    }
    let name = client
        .get(format!("{}/instance_name", handle.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(name, "bench-box");
    assert_eq!(handle.admin_key(), "testbed|fixed-key-for-test");
    handle.shutdown().await;
}

#[tokio::test]
async fn functions_in_both_encodings_and_their_errors() {
    let (handle, client) = started().await;
    let (status, body) = call(
        &client,
        &handle,
        "mutation",
        json!({"path": "setup:setupMessages", "args": {"rows": 12, "channel": "global"}, "format": "json"}),
    )
    .await;
    assert_eq!(
        (status, &body),
        (
            StatusCode::OK,
            &json!({"status": "success", "value": null, "logLines": []})
        )
    );

    let plain = call(
        &client,
        &handle,
        "query",
        json!({"path": "query_index:queryMessages", "args": {"cacheBreaker": 0}}),
    )
    .await;
    let encoded = call(
        &client,
        &handle,
        "query",
        json!({"path": "query_index:queryMessages", "args": [{"cacheBreaker": 0}], "format": "convex_encoded_json"}),
    )
    .await;
    assert_eq!(plain.0, StatusCode::OK);
    assert_eq!(plain, encoded);
    let docs = plain.1["value"].as_array().unwrap();
    assert_eq!(docs.len(), 10);
    assert!(docs[0]["_id"].is_string() && docs[0]["_creationTime"].is_f64());

    // A function that throws: 560 with status error.
    let (status, body) = call(
        &client,
        &handle,
        "mutation",
        json!({"path": "setup:setupMessages", "args": {"rows": 1}}),
    )
    .await;
    assert_eq!(status.as_u16(), 560);
    assert_eq!(body["status"], "error");
    assert!(
        body["errorMessage"].as_str().unwrap().contains("`channel`"),
        "{body}"
    );

    let (status, body) = call(
        &client,
        &handle,
        "query",
        json!({"path": "nowhere:fn", "args": {}}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Could not find public function for 'nowhere:fn'")
    );

    let (status, body) = call(
        &client,
        &handle,
        "query",
        json!({"path": "update", "args": {}}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"].as_str().unwrap().contains("mutation"),
        "{body}"
    );

    let (status, body) = call(
        &client,
        &handle,
        "action",
        json!({"path": "log", "args": {}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let lines = body["logLines"].as_array().unwrap();
    assert_eq!(lines.len(), 256);
    assert!(
        lines
            .iter()
            .all(|l| l.as_str().unwrap().contains(&"x".repeat(512)))
    );
    handle.shutdown().await;
}

#[tokio::test]
async fn malformed_requests_get_clear_4xx_and_the_server_keeps_serving() {
    let (handle, client) = started().await;
    let url = format!("{}/api/query", handle.url());
    let cases: Vec<(&str, &str)> = vec![
        ("{\"path\": ", "BadJsonBody"),
        ("[1,2,3]", "BadJsonBody"),
        ("{\"args\": {}}", "path"),
        (
            "{\"path\": \"query_index:queryMessages\", \"args\": 7}",
            "args",
        ),
        (
            "{\"path\": \"query_index:queryMessages\", \"args\": {}, \"format\": \"xml\"}",
            "xml",
        ),
    ];
    for (body, expected) in cases {
        let (status, reply) = post(&client, url.clone(), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {reply}");
        assert!(reply.to_string().contains(expected), "{body} -> {reply}");
    }
    let (status, reply) = post(&client, format!("{}/api/nothing/here", handle.url()), "{}").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("/api/nothing/here")
    );

    let wrong_key = client
        .post(&url)
        .header("Authorization", "Convex testbed|not-the-key")
        .body(r#"{"path": "query_index:queryMessages", "args": {"cacheBreaker": 0}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_key.status(), StatusCode::UNAUTHORIZED);

    let (status, _) = call(
        &client,
        &handle,
        "query",
        json!({"path": "query_index:queryMessages", "args": {"cacheBreaker": 0}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "still serving");
    handle.shutdown().await;
}

#[tokio::test]
async fn faults_endpoint_requires_the_admin_key_and_applies_faults() {
    let (handle, client) = started().await;
    let faults = format!("{}/_testbed/faults", handle.url());
    let set = |body: Value, key: Option<&str>| {
        let mut request = client.post(&faults).body(body.to_string());
        if let Some(key) = key {
            request = request.header("Authorization", format!("Convex {key}"));
        }
        request.send()
    };
    let key = handle.admin_key().to_string();
    assert_eq!(
        set(json!({}), None).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        set(json!({}), Some("testbed|nope")).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let unknown = set(
        json!({"latency": {"query": {"fixed_ms": 1}}, "jitter": 3}),
        Some(&key),
    )
    .await
    .unwrap();
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    assert!(unknown.text().await.unwrap().contains("jitter"));

    let query = json!({"path": "query_index:queryMessages", "args": {"cacheBreaker": 0}});
    let ok = set(
        json!({"latency": {"query": {"fixed_ms": 400}}, "error_rate": {"mutation": 1.0}}),
        Some(&key),
    )
    .await
    .unwrap();
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);
    let started_at = Instant::now();
    let (status, _) = call(&client, &handle, "query", query.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(started_at.elapsed() >= Duration::from_millis(400));
    let (status, body) = call(
        &client,
        &handle,
        "mutation",
        json!({"path": "insert:insertMessage", "args": {}}),
    )
    .await;
    assert_eq!(
        (status.as_u16(), body["errorMessage"].as_str()),
        (560, Some("Injected fault"))
    );

    // A new set replaces the old one: the latency is gone, a stall holds
    // every response until the window ends.
    set(json!({"stall_ms": 300}), Some(&key)).await.unwrap();
    let started_at = Instant::now();
    let (status, _) = call(
        &client,
        &handle,
        "mutation",
        json!({"path": "insert:insertMessage", "args": {}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let held = started_at.elapsed();
    assert!(held >= Duration::from_millis(250), "{held:?}");

    let cleared = client
        .delete(&faults)
        .header("Authorization", format!("Convex {key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), StatusCode::NO_CONTENT);
    let started_at = Instant::now();
    call(&client, &handle, "query", query).await;
    assert!(
        started_at.elapsed() < Duration::from_millis(400),
        "latency fault still active"
    );

    let stats: Value = client
        .get(format!("{}/_testbed/stats", handle.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["queries"], 2);
    assert_eq!(stats["mutations"], 2);
    assert_eq!(stats["commits"], 1);
    handle.shutdown().await;
}
