//! Snapshot export (states observed by subscription, zip checked row by
//! row) and the provisioning stand-in for cloud backups.

mod issue3_support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine;
use issue3_support::*;
use serde_json::{Value, json};

fn int64(v: &Value) -> u64 {
    let text = v["$integer"]
        .as_str()
        .unwrap_or_else(|| panic!("not an int64: {v}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap();
    i64::from_le_bytes(bytes.try_into().unwrap()) as u64
}

/// Every app table's documents by id, read in-process.
fn tables_by_id(handle: &testbed::TestbedHandle) -> BTreeMap<String, BTreeMap<String, Value>> {
    let state = handle.runtime().store.read();
    state
        .table_names()
        .filter(|n| testbed::export_routes::is_app_table(n))
        .map(|name| {
            let docs = state.table(name).unwrap().docs.values().map(|d| {
                let v = d.to_value();
                (v["_id"].as_str().unwrap().to_string(), v)
            });
            (name.to_string(), docs.collect())
        })
        .collect()
}

#[tokio::test]
async fn export_states_reach_a_subscriber_and_the_zip_holds_the_snapshot() {
    let handle = start().await;
    let mut client = client(&handle).await;
    client
        .set_admin_auth(handle.admin_key().to_string(), None)
        .await;
    ok(mutation(
        &mut client,
        "setup:setupMessages",
        json!({"rows": 25.0, "channel": "global"}),
    )
    .await);
    ok(mutation(&mut client, "setup:setupVectors", json!({"rows": 3.0})).await);
    for _ in 0..4 {
        ok(mutation(&mut client, "insert:insertMessageWithSearch", json!({})).await);
    }
    ok(mutation(&mut client, "components:componentMutation", json!({})).await);
    let expected = tables_by_id(&handle);

    let mut sub = subscribe(&mut client, "_system/frontend/latestExport", json!({})).await;
    assert_eq!(next(&mut sub).await, Value::Null);

    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{}/api/export/request/zip", handle.url()))
        .header("Authorization", format!("Convex {}", handle.admin_key()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let mut states = Vec::new();
    let mut completed = Value::Null;
    let mut wrote_after_start = false;
    while completed.is_null() {
        let record = next(&mut sub).await;
        let state = record["state"].as_str().unwrap().to_string();
        if state == "in_progress" && !wrote_after_start {
            // Written after start_ts: must not be in the archive.
            ok(mutation(&mut client, "insert:insertMessage", json!({})).await);
            wrote_after_start = true;
        }
        if state == "completed" {
            completed = record.clone();
        }
        if states.last() != Some(&state) {
            states.push(state);
        }
    }
    assert_eq!(states, vec!["requested", "in_progress", "completed"]);
    assert!(wrote_after_start);
    let start_ts = int64(&completed["start_ts"]);

    let resp = http
        .get(format!("{}/api/export/zip/{start_ts}", handle.url()))
        .header("Authorization", format!("Convex {}", handle.admin_key()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/zip");
    let bytes = resp.bytes().await.unwrap();
    let archive =
        testbed::snapshot_zip::read_snapshot_zip(std::io::Cursor::new(bytes.to_vec())).unwrap();

    let names: Vec<&String> = archive.keys().collect();
    assert_eq!(
        names,
        vec!["messages", "messages_with_search", "openclaurd"]
    );
    for (table, docs) in &expected {
        let got: BTreeMap<String, Value> = archive[table]
            .iter()
            .map(|d| (d["_id"].as_str().unwrap().to_string(), d.clone()))
            .collect();
        assert_eq!(got.len(), docs.len(), "{table}: row count");
        for (id, doc) in docs {
            assert_eq!(got.get(id), Some(doc), "{table} row {id}");
        }
    }
    assert_eq!(
        expected["messages"].len(),
        25,
        "the later insert is not in the snapshot"
    );
    assert_eq!(count(&handle, "messages"), 26);
    handle.shutdown().await;
}

#[tokio::test]
async fn export_endpoints_require_the_admin_key() {
    let handle = start().await;
    let http = reqwest::Client::new();
    let request = format!("{}/api/export/request/zip", handle.url());
    let resp = http.post(&request).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.text().await.unwrap().contains("admin key"));
    let resp = http
        .post(&request)
        .header("Authorization", "Convex wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = http
        .get(format!("{}/api/export/zip/123", handle.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);

    let admin = format!("Convex {}", handle.admin_key());
    let resp = http
        .get(format!("{}/api/export/zip/not-a-ts", handle.url()))
        .header("Authorization", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("not-a-ts"));
    let resp = http
        .get(format!("{}/api/export/zip/123", handle.url()))
        .header("Authorization", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert!(resp.text().await.unwrap().contains("123"));
    // Still serving.
    let resp = http
        .post(&request)
        .header("Authorization", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // The system query needs admin auth too, over HTTP and WebSocket.
    let call = json!({"path": "_system/frontend/latestExport", "args": {}, "format": "json"});
    let resp = http
        .post(format!("{}/api/query", handle.url()))
        .json(&call)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.text().await.unwrap().contains("admin"));
    let resp = http
        .post(format!("{}/api/query", handle.url()))
        .header("Authorization", &admin)
        .json(&call)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut client = client(&handle).await;
    let e = err(query(&mut client, "_system/frontend/latestExport", json!({})).await);
    assert!(e.contains("admin"), "{e}");
    client
        .set_admin_auth(handle.admin_key().to_string(), None)
        .await;
    let record = ok(query(&mut client, "_system/frontend/latestExport", json!({})).await);
    assert!(record["state"].is_string(), "{record}");
    handle.shutdown().await;
}

#[tokio::test]
async fn cloud_backup_stand_in_completes_and_checks_the_token() {
    let handle = start_with(testbed::TestbedConfig {
        access_token: Some("test-access-token".into()),
        ..Default::default()
    })
    .await;
    let http = reqwest::Client::new();
    let base = format!("{}/api/dashboard/deployments/1234", handle.url());
    let resp = http
        .post(format!("{base}/request_cloud_backup"))
        .bearer_auth("wrong-token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let backup: Value = http
        .post(format!("{base}/request_cloud_backup"))
        .bearer_auth("test-access-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(backup["sourceDeploymentId"], 1234);
    let id = backup["id"].as_u64().unwrap();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let record: Value = http
            .get(format!("{base}/cloud_backups/{id}"))
            .bearer_auth("test-access-token")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        match record["state"].as_str().unwrap() {
            "complete" => break,
            "requested" | "inProgress" => {}
            other => panic!("unexpected backup state {other}"),
        }
        assert!(Instant::now() < deadline, "backup never completed");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    handle.shutdown().await;

    // Without --access-token the stand-in refuses every call.
    let plain = start().await;
    let resp = http
        .post(format!(
            "{}/api/dashboard/deployments/1/request_cloud_backup",
            plain.url()
        ))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    plain.shutdown().await;
}
