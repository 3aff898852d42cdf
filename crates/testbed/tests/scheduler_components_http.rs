//! Scheduler, components, actions, `http:siteUrl`, `log` and the HTTP
//! actions, through the official `convex` client and a plain HTTP client.

mod issue3_support;

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use issue3_support::*;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn scheduled_insert_runs_and_reaches_a_subscriber() {
    let handle = start().await;
    let mut client = client(&handle).await;
    let mut sub = subscribe(
        &mut client,
        "query_index:queryMessagesWithSearch",
        json!({"cacheBreaker": 0.0}),
    )
    .await;
    assert_eq!(next(&mut sub).await, json!([]));
    ok(mutation(&mut client, "schedule:scheduleMessage", json!({})).await);
    let seen = until(&mut sub, |v| !v.as_array().unwrap().is_empty()).await;
    let rows = seen.last().unwrap().as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["channel"], "global");
    // The job row is consumed once it ran.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(count(&handle, "_scheduled_functions"), 0);
    assert_eq!(count(&handle, "messages_with_search"), 1);

    // Several at once all run, exactly once each.
    for _ in 0..5 {
        ok(mutation(&mut client, "schedule:scheduleMessage", json!({})).await);
    }
    let deadline = Instant::now() + TIMEOUT;
    while count(&handle, "messages_with_search") < 6 {
        assert!(
            Instant::now() < deadline,
            "scheduled inserts did not all run"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(count(&handle, "messages_with_search"), 6);
    handle.shutdown().await;
}

#[tokio::test]
async fn component_counter_counts_resets_and_stays_out_of_app_tables() {
    let handle = start().await;
    let mut client = client(&handle).await;
    let mut sub = subscribe(
        &mut client,
        "components:componentQuery",
        json!({"cacheBreaker": 1.0}),
    )
    .await;
    assert_eq!(next(&mut sub).await, json!(0.0));
    for expected in 1..=3 {
        let value = ok(mutation(&mut client, "components:componentMutation", json!({})).await);
        assert_eq!(value, json!(f64::from(expected)));
    }
    until(&mut sub, |v| *v == json!(3.0)).await;
    assert_eq!(
        ok(action(&mut client, "components:componentAction", json!({})).await),
        json!(0.0)
    );
    until(&mut sub, |v| *v == json!(0.0)).await;
    ok(mutation(&mut client, "components:componentMutation", json!({})).await);
    assert_eq!(
        ok(query(
            &mut client,
            "components:componentQuery",
            json!({"cacheBreaker": 2.0})
        )
        .await),
        json!(1.0)
    );

    // Isolation: the counter lives under the component's namespace; the
    // app has no `counters` table and app tables did not change.
    {
        let state = handle.runtime().store.read();
        assert!(state.table("counters").is_none());
        assert_eq!(state.table("counter/counters").unwrap().docs.len(), 1);
        for app in ["messages", "messages_with_search", "openclaurd"] {
            assert!(state.table(app).unwrap().docs.is_empty(), "{app} touched");
        }
        let app_tables: Vec<&str> = state
            .table_names()
            .filter(|n| testbed::export_routes::is_app_table(n))
            .collect();
        assert!(
            !app_tables.iter().any(|t| t.contains("counter")),
            "{app_tables:?}"
        );
    }
    // An app function cannot address the component's table.
    let e = err(query(
        &mut client,
        "query_index:queryMessagesWithArgs",
        json!({"channel": "c", "rand": 0.0, "limit": 1.0, "table": "counters"}),
    )
    .await);
    assert!(e.contains("table"), "{e}");
    handle.shutdown().await;
}

#[tokio::test]
async fn node_action_inserts_through_a_mutation_and_site_url_is_served() {
    let handle = start().await;
    let mut client = client(&handle).await;
    assert_eq!(
        ok(action(&mut client, "actions/insert", json!({})).await),
        Value::Null
    );
    assert_eq!(count(&handle, "messages_with_search"), 1);
    let doc = {
        let state = handle.runtime().store.read();
        state
            .table("messages_with_search")
            .unwrap()
            .docs
            .values()
            .next()
            .unwrap()
            .to_value()
    };
    assert_eq!(doc["channel"], "global");
    assert_eq!(doc["ballastArray"], json!([]));

    let url = ok(query(&mut client, "http:siteUrl", json!({})).await);
    assert_eq!(url, json!(handle.site_url()));
    let url = ok(query(&mut client, "http:siteUrl", json!({"cacheBreaker": 3.0})).await);
    assert_eq!(url, json!(handle.site_url()));
    handle.shutdown().await;
}

#[tokio::test]
async fn http_actions_on_the_site_port_and_under_http_on_the_main_port() {
    let handle = start().await;
    let http = reqwest::Client::new();
    for base in [handle.site_url(), format!("{}/http", handle.url())] {
        let resp = http.post(format!("{base}/basic")).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{base}/basic");
        assert_eq!(
            resp.json::<Value>().await.unwrap(),
            json!({"hello": "world"})
        );

        let mut resp = http.post(format!("{base}/streaming")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let start = Instant::now();
        let mut chunks = Vec::new();
        while let Some(chunk) = resp.chunk().await.unwrap() {
            chunks.push((start.elapsed(), String::from_utf8(chunk.to_vec()).unwrap()));
        }
        assert_eq!(chunks.len(), 2, "{chunks:?}");
        assert_eq!(format!("{}{}", chunks[0].1, chunks[1].1), "<html></html>");
        assert!(
            chunks[1].0 - chunks[0].0 >= Duration::from_millis(15),
            "{chunks:?}"
        );

        for (method, path) in [
            (reqwest::Method::GET, "/basic"),
            (reqwest::Method::POST, "/missing"),
        ] {
            let resp = http
                .request(method, format!("{base}{path}"))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 404, "{base}{path}");
            assert_eq!(resp.text().await.unwrap(), "No matching routes found");
        }
    }
    // Unknown API routes on the main port are 404 too, and it keeps serving.
    let resp = http
        .get(format!("{}/api/nope", handle.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = http
        .post(format!("{}/basic", handle.site_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    handle.shutdown().await;
}

fn check_log_lines(lines: &Value) {
    let lines = lines.as_array().expect("logLines is an array");
    assert_eq!(lines.len(), 256);
    for line in lines {
        let line = line.as_str().unwrap();
        assert!(line.contains(&"x".repeat(512)), "{line:.80}");
    }
}

#[tokio::test]
async fn log_action_returns_its_log_lines_over_http_and_websocket() {
    let handle = start().await;
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{}/api/action", handle.url()))
        .json(&json!({"path": "log", "args": {}, "format": "json"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "success");
    check_log_lines(&body["logLines"]);

    let ws_url = format!("{}/api/sync", handle.url().replace("http://", "ws://"));
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
    let connect = json!({"type": "Connect", "sessionId": uuid::Uuid::new_v4().to_string(),
                         "connectionCount": 0, "clientTs": 0});
    ws.send(Message::text(connect.to_string())).await.unwrap();
    let call = json!({"type": "Action", "requestId": 7, "udfPath": "log", "args": [{}]});
    ws.send(Message::text(call.to_string())).await.unwrap();
    let response = tokio::time::timeout(TIMEOUT, async {
        loop {
            let Some(Ok(Message::Text(text))) = ws.next().await else {
                panic!("socket closed before the ActionResponse")
            };
            let message: Value = serde_json::from_str(text.as_str()).unwrap();
            if message["type"] == "ActionResponse" {
                return message;
            }
        }
    })
    .await
    .expect("ActionResponse in time");
    assert_eq!(response["requestId"], 7);
    assert_eq!(response["success"], true);
    check_log_lines(&response["logLines"]);
    handle.shutdown().await;
}

#[tokio::test]
async fn http_actions_are_counted_and_honour_injected_faults() {
    let handle = start().await;
    let http = reqwest::Client::new();
    let basic = format!("{}/basic", handle.site_url());
    let before = handle.stats().http_actions;
    assert_eq!(http.post(&basic).send().await.unwrap().status(), 200);
    assert_eq!(
        http.post(format!("{}/nope", handle.site_url()))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        handle.stats().http_actions,
        before + 1,
        "only matched routes count"
    );

    let set_faults = |body: Value| {
        http.post(format!("{}/_testbed/faults", handle.url()))
            .header("Authorization", format!("Convex {}", handle.admin_key()))
            .body(body.to_string())
            .send()
    };
    let resp = set_faults(json!({"error_rate": {"http_action": 1.0}}))
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
    let resp = http.post(&basic).send().await.unwrap();
    assert_eq!(resp.status(), 500);
    assert_eq!(resp.text().await.unwrap(), testbed::faults::INJECTED_FAULT);

    let resp = set_faults(json!({"latency": {"http_action": {"fixed_ms": 150.0}}}))
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let started = Instant::now();
    assert_eq!(http.post(&basic).send().await.unwrap().status(), 200);
    assert!(
        started.elapsed() >= Duration::from_millis(140),
        "{:?}",
        started.elapsed()
    );
    handle.shutdown().await;
}
