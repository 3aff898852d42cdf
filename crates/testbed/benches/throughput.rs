//! Throughput of the testbed over loopback: closed loops on 1, 16 and 64
//! connections, for light queries and inserts, over the sync WebSocket and
//! the HTTP API. The testbed runs in this process on its own runtime; the
//! clients on another, both sharing the machine's cores.
//!
//! Run: `cargo bench -p testbed --bench throughput` (release profile).
//! `THROUGHPUT_SECS` sets the seconds measured per cell (default 3);
//! `THROUGHPUT_ONLY` (e.g. `ws-mutation`) runs one workload.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const CONNECTIONS: [usize; 3] = [1, 16, 64];
const WARMUP: Duration = Duration::from_millis(500);

#[derive(Clone, Copy, Debug)]
enum Workload {
    WsQuery,
    WsMutation,
    HttpQuery,
    HttpMutation,
}

impl Workload {
    fn key(self) -> &'static str {
        match self {
            Workload::WsQuery => "ws-query",
            Workload::WsMutation => "ws-mutation",
            Workload::HttpQuery => "http-query",
            Workload::HttpMutation => "http-mutation",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Workload::WsQuery => {
                "query/s    (WebSocket subscribe+unsubscribe, query_index:queryMessages)"
            }
            Workload::WsMutation => "mutation/s (WebSocket, insert:insertMessage)",
            Workload::HttpQuery => "query/s    (HTTP /api/query, query_index:queryMessages)",
            Workload::HttpMutation => "mutation/s (HTTP /api/mutation, insert:insertMessage)",
        }
    }
}

fn main() -> anyhow::Result<()> {
    let secs: f64 = std::env::var("THROUGHPUT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let measure = Duration::from_secs_f64(secs);
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let handle = server_rt.block_on(testbed::start(testbed::TestbedConfig::default()))?;
    let url = handle.url();
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    client_rt.block_on(async {
        let seeded = reqwest::Client::new()
            .post(format!("{url}/api/mutation"))
            .json(
                &json!({"path": "setup:setupMessages", "args": {"rows": 500, "channel": "global"}}),
            )
            .send()
            .await?;
        anyhow::ensure!(
            seeded.status() == 200,
            "seeding failed: {}",
            seeded.text().await?
        );
        println!(
            "testbed throughput over loopback, {secs} s per cell after {} ms warm-up, {} cores",
            WARMUP.as_millis(),
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0)
        );
        println!(
            "{:<78} {:>10} {:>10} {:>10}",
            "workload", "1 conn", "16 conns", "64 conns"
        );
        let only = std::env::var("THROUGHPUT_ONLY").ok();
        for workload in [
            Workload::WsQuery,
            Workload::WsMutation,
            Workload::HttpQuery,
            Workload::HttpMutation,
        ] {
            if only.as_deref().is_some_and(|only| only != workload.key()) {
                continue;
            }
            let mut cells = Vec::new();
            for connections in CONNECTIONS {
                let rate = run_cell(&url, workload, connections, measure).await?;
                cells.push(format!("{rate:>10.0}"));
            }
            println!("{:<78} {}", workload.label(), cells.join(" "));
        }
        anyhow::Ok(())
    })?;
    let stats = handle.stats();
    println!(
        "server counters: queries={} mutations={} commits={} occ_retries={}",
        stats.queries, stats.mutations, stats.commits, stats.occ_retries
    );
    server_rt.block_on(handle.shutdown());
    Ok(())
}

/// Runs `connections` closed loops; returns completed operations per
/// second over the measured window.
async fn run_cell(
    url: &str,
    workload: Workload,
    connections: usize,
    measure: Duration,
) -> anyhow::Result<f64> {
    let counting = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .build()?;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (url, counting, stop, done, http) = (
            url.to_string(),
            counting.clone(),
            stop.clone(),
            done.clone(),
            http.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let record = || {
                if counting.load(Ordering::Relaxed) {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            };
            match workload {
                Workload::WsQuery | Workload::WsMutation => {
                    ws_loop(&url, workload, &stop, record).await
                }
                Workload::HttpQuery | Workload::HttpMutation => {
                    http_loop(&http, &url, workload, &stop, record).await
                }
            }
        }));
    }
    tokio::time::sleep(WARMUP).await;
    counting.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(measure).await;
    counting.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64())
}

async fn http_loop(
    client: &reqwest::Client,
    url: &str,
    workload: Workload,
    stop: &AtomicBool,
    record: impl Fn(),
) -> anyhow::Result<()> {
    let (endpoint, path) = match workload {
        Workload::HttpQuery => ("query", "query_index:queryMessages"),
        _ => ("mutation", "insert:insertMessage"),
    };
    let endpoint = format!("{url}/api/{endpoint}");
    while !stop.load(Ordering::Relaxed) {
        let args = if endpoint.ends_with("query") {
            json!({"cacheBreaker": rand::random::<f64>()})
        } else {
            json!({})
        };
        let response = client
            .post(&endpoint)
            .json(&json!({"path": path, "args": args, "format": "json"}))
            .send()
            .await?;
        anyhow::ensure!(response.status() == 200, "{path}: {}", response.status());
        response.bytes().await?;
        record();
    }
    Ok(())
}

async fn ws_loop(
    url: &str,
    workload: Workload,
    stop: &AtomicBool,
    record: impl Fn(),
) -> anyhow::Result<()> {
    let ws_url = format!("{}/api/sync", url.replace("http://", "ws://"));
    // A small read buffer: tungstenite zero-fills it before every read.
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(8 << 10);
    let (mut socket, _) =
        tokio_tungstenite::connect_async_with_config(ws_url, Some(config), true).await?;
    let send = |v: Value| Message::text(v.to_string());
    socket
        .send(send(
            json!({"type": "Connect", "sessionId": uuid_like(), "connectionCount": 0,
            "lastCloseReason": "InitialConnect", "clientTs": 0}),
        ))
        .await?;
    let mut query_set = 0u32;
    let mut request_id = 0u32;
    while !stop.load(Ordering::Relaxed) {
        match workload {
            Workload::WsQuery => {
                // Like `client.query`: subscribe, wait for the result, and
                // unsubscribe (folded into the next query-set change).
                let mut modifications = vec![json!({"type": "Add", "queryId": query_set,
                    "udfPath": "query_index:queryMessages", "args": [{"cacheBreaker": rand::random::<f64>()}]})];
                if query_set > 0 {
                    modifications.push(json!({"type": "Remove", "queryId": query_set - 1}));
                }
                socket
                    .send(send(
                        json!({"type": "ModifyQuerySet", "baseVersion": query_set,
                        "newVersion": query_set + 1, "modifications": modifications}),
                    ))
                    .await?;
                query_set += 1;
                wait_for(&mut socket, "Transition").await?;
            }
            _ => {
                socket
                    .send(send(json!({"type": "Mutation", "requestId": request_id,
                        "udfPath": "insert:insertMessage", "args": [{}]})))
                    .await?;
                request_id += 1;
                wait_for(&mut socket, "MutationResponse").await?;
            }
        }
        record();
    }
    Ok(())
}

async fn wait_for(
    socket: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    kind: &str,
) -> anyhow::Result<()> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await?
            .ok_or_else(|| anyhow::anyhow!("connection closed"))??;
        if let Message::Text(text) = frame {
            let message: Value = serde_json::from_str(text.as_str())?;
            match message["type"].as_str() {
                Some(t) if t == kind => return Ok(()),
                Some("FatalError") => anyhow::bail!("fatal error: {message}"),
                _ => {}
            }
        }
    }
}

fn uuid_like() -> String {
    let b: [u8; 16] = rand::random();
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-4{}-8{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}
