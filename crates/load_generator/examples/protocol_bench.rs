//! Measures what the generator's own client costs, to decide (and keep
//! checking) that our protocol session is lean enough:
//!
//! 1. a bare tokio-tungstenite text-frame echo (the floor);
//! 2. our session and the official `convex` client against an "instant"
//!    sync server that answers every request at once (so the difference to
//!    the echo is client cost alone);
//! 3. both against the in-process testbed (real function execution).
//!
//! The echo and instant servers run on a runtime of their own, on their
//! own threads, as a backend in another process would: a client sharing
//! its runtime threads with the server gets round trips no real run sees
//! (client and server take turns on one thread, no thread ever wakes
//! another), and that flatters a bare echo far more than a client that
//! has reader and writer tasks. The co-scheduled echo is still measured
//! and shown, and the throughput floor is the better of the two.
//!
//! `cargo run --release -p load_generator --example protocol_bench [secs]`

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use convex_sync_types::{
    ClientMessage, QuerySetModification, ServerMessage, StateModification, StateVersion, Timestamp,
};
use futures_util::{SinkExt, StreamExt};
use load_generator::protocol::wire::WireValue;
use load_generator::protocol::{ConnectionPool, SessionConfig, sync_url};
use serde_json::{Value as JsonValue, json};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

const WORKERS: usize = 64;

#[derive(serde::Serialize)]
struct Figures {
    what: String,
    per_sec: f64,
    p50_us: f64,
    mean_us: f64,
}

fn summarize(what: &str, latencies: &mut [Duration], elapsed: Duration) -> Figures {
    latencies.sort();
    let n = latencies.len().max(1);
    let total: Duration = latencies.iter().sum();
    Figures {
        what: what.to_string(),
        per_sec: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50_us: latencies.get(n / 2).map_or(0.0, |d| d.as_secs_f64() * 1e6),
        mean_us: total.as_secs_f64() * 1e6 / n as f64,
    }
}

/// Runs `workers` closed loops of `op` for `secs`; each loop's own
/// latencies are merged.
async fn closed_loop<F, Fut>(what: &str, workers: usize, secs: f64, op: F) -> Figures
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    eprintln!("measuring: {what}");
    let op = Arc::new(op);
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let started = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut stalled = 0;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    if tokio::time::timeout(Duration::from_secs(2), op(w))
                        .await
                        .is_err()
                    {
                        stalled += 1;
                        continue;
                    }
                    lat.push(t.elapsed());
                }
                (lat, stalled)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut stalled = 0;
    for t in tasks {
        let (lat, s) = t.await.unwrap();
        all.extend(lat);
        stalled += s;
    }
    let mut figures = summarize(what, &mut all, started.elapsed());
    if stalled > 0 {
        figures.what = format!("{what} ({stalled} requests got no answer within 2 s)");
    }
    figures
}

async fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tcp.set_nodelay(true).unwrap();
            tokio::spawn(async move {
                let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
                while let Some(Ok(m)) = ws.next().await {
                    if m.is_text() && ws.send(m).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    format!("ws://{addr}")
}

/// A sync server that answers every query with `[]`, every mutation and
/// action with `null`, immediately and in protocol order.
async fn instant_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tcp.set_nodelay(true).unwrap();
            tokio::spawn(serve_instant(tcp));
        }
    });
    format!("http://{addr}")
}

async fn serve_instant(tcp: tokio::net::TcpStream) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
        return;
    };
    let mut version = StateVersion::initial();
    let mut ts = 1u64;
    while let Some(Ok(m)) = ws.next().await {
        let Message::Text(text) = m else { continue };
        let received = Instant::now();
        // Query set changes (the hot path) are answered without building
        // a JSON tree, so the server costs little next to the client.
        if let Ok(light) = serde_json::from_str::<LightModify>(&text)
            && light.kind == "ModifyQuerySet"
        {
            let end = StateVersion {
                query_set: light.new_version,
                ..version
            };
            let modifications: Vec<String> = light
                .modifications
                .iter()
                .map(|m| {
                    if m.kind == "Add" {
                        format!(
                            r#"{{"type":"QueryUpdated","queryId":{},"value":[],"logLines":[],"journal":null}}"#,
                            m.query_id
                        )
                    } else {
                        format!(r#"{{"type":"QueryRemoved","queryId":{}}}"#, m.query_id)
                    }
                })
                .collect();
            let text = format!(
                r#"{{"type":"Transition","startVersion":{},"endVersion":{},"modifications":[{}],"clientClockSkew":null,"serverTs":null}}"#,
                JsonValue::from(version),
                JsonValue::from(end),
                modifications.join(",")
            );
            version = end;
            if ws.send(Message::text(text)).await.is_err() {
                return;
            }
            record_server_time(received);
            continue;
        }
        let json: JsonValue = serde_json::from_str(&text).unwrap();
        let message = ClientMessage::try_from(json).unwrap();
        let mut out: Vec<ServerMessage<WireValue>> = Vec::new();
        let transition = |version: &mut StateVersion, end: StateVersion, mods| {
            let t = ServerMessage::Transition {
                start_version: *version,
                end_version: end,
                modifications: mods,
                client_clock_skew: None,
                server_ts: None,
            };
            *version = end;
            t
        };
        match message {
            ClientMessage::ModifyQuerySet {
                new_version,
                modifications,
                ..
            } => {
                let mods = modifications
                    .into_iter()
                    .map(|m| match m {
                        QuerySetModification::Add(q) => StateModification::QueryUpdated {
                            query_id: q.query_id,
                            value: WireValue(json!([])),
                            log_lines: convex_sync_types::LogLinesMessage(vec![]),
                            journal: None,
                        },
                        QuerySetModification::Remove { query_id } => {
                            StateModification::QueryRemoved { query_id }
                        }
                    })
                    .collect();
                let end = StateVersion {
                    query_set: new_version,
                    ..version
                };
                out.push(transition(&mut version, end, mods));
            }
            ClientMessage::Authenticate { .. } => {
                let end = StateVersion {
                    identity: version.identity + 1,
                    ..version
                };
                out.push(transition(&mut version, end, vec![]));
            }
            ClientMessage::Mutation { request_id, .. } => {
                ts += 1;
                let commit = Timestamp::try_from(ts).unwrap();
                out.push(ServerMessage::MutationResponse {
                    request_id,
                    result: Ok(WireValue(JsonValue::Null)),
                    ts: Some(commit),
                    log_lines: convex_sync_types::LogLinesMessage(vec![]),
                });
                let end = StateVersion {
                    ts: commit,
                    ..version
                };
                out.push(transition(&mut version, end, vec![]));
            }
            ClientMessage::Action { request_id, .. } => {
                out.push(ServerMessage::ActionResponse {
                    request_id,
                    result: Ok(WireValue(JsonValue::Null)),
                    log_lines: convex_sync_types::LogLinesMessage(vec![]),
                });
            }
            _ => {}
        }
        for m in out {
            let text = JsonValue::from(m).to_string();
            if ws.feed(Message::text(text)).await.is_err() {
                return;
            }
        }
        if ws.flush().await.is_err() {
            return;
        }
        record_server_time(received);
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct LightModify {
    #[serde(rename = "type")]
    kind: String,
    new_version: u32,
    modifications: Vec<LightModification>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct LightModification {
    #[serde(rename = "type")]
    kind: String,
    query_id: u32,
}

/// The instant server's own work (decode, answer, encode, write) per
/// frame, so it can be told apart from client cost.
static SERVER_NS: Mutex<Vec<u64>> = Mutex::new(Vec::new());

fn record_server_time(received: Instant) {
    let ns = received.elapsed().as_nanos() as u64;
    SERVER_NS.lock().unwrap().push(ns);
}

fn reset_server_time() {
    SERVER_NS.lock().unwrap().clear();
}

/// Median server work per frame, in microseconds.
fn server_us_per_frame() -> f64 {
    let mut all = SERVER_NS.lock().unwrap().clone();
    all.sort_unstable();
    eprintln!("DEBUG server frames {}", all.len());
    all.get(all.len() / 2).map_or(0.0, |ns| *ns as f64 / 1000.0)
}

/// Echo round trips against `url`; `where_` says where the server runs.
async fn bare_echo(url: &str, where_: &str, secs: f64) -> Vec<Figures> {
    vec![
        echo_closed_loop(
            url,
            &format!("bare echo ({where_}), 1 connection, sequential"),
            1,
            secs,
        )
        .await,
        echo_closed_loop(
            url,
            &format!("bare echo ({where_}), {WORKERS} connections, sequential each"),
            WORKERS,
            secs,
        )
        .await,
    ]
}

/// `conns` connections, one sequential echo loop on each.
async fn echo_closed_loop(url: &str, label: &str, conns: usize, secs: f64) -> Figures {
    let frame = r#"{"type":"ModifyQuerySet","baseVersion":1,"newVersion":2,"modifications":[{"type":"Add","queryId":1,"udfPath":"query_index:queryMessages","args":[{"cacheBreaker":0.5}]}]}"#;
    let mut sockets = Vec::new();
    for _ in 0..conns {
        // The generator's own socket settings, so the difference to our
        // session is the session's work, not a buffer size.
        let config = load_generator::protocol::session::websocket_config();
        let (ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
            .await
            .unwrap();
        sockets.push(Arc::new(tokio::sync::Mutex::new(ws)));
    }
    let sockets = Arc::new(sockets);
    closed_loop(label, conns, secs, move |w| {
        let sockets = sockets.clone();
        async move {
            let mut ws = sockets[w].lock().await;
            ws.send(Message::text(frame)).await.unwrap();
            ws.next().await.unwrap().unwrap();
        }
    })
    .await
}

/// Target (4): what our session adds to a round trip on an idle
/// connection. Short runs of the bare echo and of our session's
/// sequential query alternate, so drift in the machine's state (frequency,
/// other processes) hits both alike; the figure is the median of the
/// per-round differences of the p50s.
#[derive(serde::Serialize)]
struct IdleLatency {
    rounds: usize,
    bare_p50_us: f64,
    ours_p50_us: f64,
    added_us: f64,
    /// The smallest and largest per-round differences: on this kind of
    /// machine the figure is bimodal (thread placement), so show the spread.
    added_min_us: f64,
    added_max_us: f64,
}

async fn idle_added_latency(echo_url: &str, instant_url: &str, secs: f64) -> IdleLatency {
    const ROUNDS: usize = 15;
    let per_round = (secs / 5.0).max(0.3);
    let (mut bare, mut ours_p50, mut added) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        let label = format!("idle round {round}/{ROUNDS}");
        let echo = echo_closed_loop(echo_url, &format!("{label}: bare echo"), 1, per_round).await;
        let session = ours(
            &format!("{label}: ours"),
            (instant_url, None),
            "query_index:queryMessages",
            "query",
            1,
            1,
            per_round,
        )
        .await;
        bare.push(echo.p50_us);
        ours_p50.push(session.p50_us);
        added.push(session.p50_us - echo.p50_us);
    }
    IdleLatency {
        rounds: ROUNDS,
        bare_p50_us: median(&mut bare),
        ours_p50_us: median(&mut ours_p50),
        added_us: median(&mut added),
        added_min_us: added[0],
        added_max_us: added[added.len() - 1],
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// `target` = (deployment URL, admin key).
async fn ours(
    label: &str,
    target: (&str, Option<String>),
    path: &'static str,
    kind: &'static str,
    connections: usize,
    workers: usize,
    secs: f64,
) -> Figures {
    let (url, admin_key) = target;
    let config = SessionConfig {
        ws_url: sync_url(url).unwrap(),
        admin_key,
        setup_timeout: Duration::from_secs(5),
    };
    let pool = Arc::new(
        ConnectionPool::open(config, connections, None)
            .await
            .unwrap(),
    );
    closed_loop(label, workers, secs, move |_| {
        let pool = pool.clone();
        async move {
            let c = pool.next();
            let result = match kind {
                "query" => c
                    .query(path, json!({"cacheBreaker": rand::random::<f64>()}))
                    .await
                    .map(|_| ()),
                _ => c.mutation(path, json!({})).await.map(|_| ()),
            };
            result.unwrap();
        }
    })
    .await
}

async fn official(
    label: &str,
    target: (&str, Option<String>),
    path: &'static str,
    kind: &'static str,
    workers: usize,
    secs: f64,
) -> Figures {
    let (url, admin_key) = target;
    let mut client = convex::ConvexClient::new(url).await.unwrap();
    if let Some(key) = admin_key {
        client.set_admin_auth(key, None).await;
    }
    closed_loop(label, workers, secs, move |_| {
        let mut client = client.clone();
        async move {
            let result = match kind {
                "query" => {
                    let mut args = BTreeMap::new();
                    args.insert(
                        "cacheBreaker".to_string(),
                        convex::Value::Float64(rand::random::<f64>()),
                    );
                    client.query(path, args).await
                }
                _ => client.mutation(path, BTreeMap::new()).await,
            };
            result.unwrap();
        }
    })
    .await
}

#[derive(Clone, Copy)]
enum Client {
    Ours { conns: usize },
    Official,
}

/// One client measurement: who, against what, doing what, how many at once.
struct Run {
    client: Client,
    on_testbed: bool,
    path: &'static str,
    workers: usize,
}

impl Run {
    const fn new(client: Client, on_testbed: bool, path: &'static str, workers: usize) -> Run {
        Run {
            client,
            on_testbed,
            path,
            workers,
        }
    }

    fn kind(&self) -> &'static str {
        if self.path == MUTATION {
            "mutation"
        } else {
            "query"
        }
    }

    fn label(&self) -> String {
        let server = if self.on_testbed {
            "testbed"
        } else {
            "instant server"
        };
        let what = match self.kind() {
            "query" => "query".to_string(),
            _ => format!("mutation {}", self.path),
        };
        let shape = match (self.client, self.workers) {
            (Client::Ours { conns }, workers) => {
                let conns = if conns == 1 {
                    "1 conn".to_string()
                } else {
                    format!("{conns} conns")
                };
                match workers {
                    1 => format!("{conns}, sequential"),
                    n => format!("{conns}, {n} workers"),
                }
            }
            (Client::Official, 1) => "sequential".to_string(),
            (Client::Official, n) => format!("{n} workers"),
        };
        let who = match self.client {
            Client::Ours { .. } => "ours",
            Client::Official => "official",
        };
        format!("{who} vs {server}: {what}, {shape}")
    }
}

const QUERY: &str = "query_index:queryMessages";
const MUTATION: &str = "insert:insertMessage";
const OURS_1: Client = Client::Ours { conns: 1 };
const OURS_4: Client = Client::Ours { conns: 4 };
const OFFICIAL: Client = Client::Official;

/// In order; the two sequential runs against the instant server also
/// record the server's own work per frame.
const RUNS: &[Run] = &[
    Run::new(OURS_1, false, QUERY, 1),
    Run::new(OFFICIAL, false, QUERY, 1),
    Run::new(OURS_4, false, QUERY, WORKERS),
    Run::new(OURS_1, false, QUERY, WORKERS),
    Run::new(OFFICIAL, false, QUERY, WORKERS),
    Run::new(OURS_1, true, QUERY, 1),
    Run::new(OFFICIAL, true, QUERY, 1),
    Run::new(OURS_4, true, QUERY, WORKERS),
    Run::new(OFFICIAL, true, QUERY, WORKERS),
    Run::new(OURS_4, true, MUTATION, WORKERS),
    Run::new(OFFICIAL, true, MUTATION, WORKERS),
];

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    // The servers' own runtime: a separate set of threads, like a
    // separate process.
    let servers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bench-server")
        .enable_all()
        .build()
        .unwrap();
    let echo_apart = servers.spawn(echo_server()).await.unwrap();
    let instant = servers.spawn(instant_server()).await.unwrap();
    let mut all = bare_echo(&echo_apart, "server on its own threads", secs).await;
    let echo_shared = echo_server().await;
    all.extend(bare_echo(&echo_shared, "server sharing the client's runtime", secs).await);

    let idle = idle_added_latency(&echo_apart, &instant, secs).await;
    let bed = testbed::start(testbed::TestbedConfig::default())
        .await
        .unwrap();
    let instant_target = (instant.clone(), None);
    let testbed_target = (bed.url(), Some(bed.admin_key().to_string()));
    let mut server_us = Vec::new();
    for run in RUNS {
        let (url, key) = if run.on_testbed {
            &testbed_target
        } else {
            &instant_target
        };
        reset_server_time();
        let figures = match run.client {
            Client::Ours { conns } => {
                ours(
                    &run.label(),
                    (url, key.clone()),
                    run.path,
                    run.kind(),
                    conns,
                    run.workers,
                    secs,
                )
                .await
            }
            Client::Official => {
                official(
                    &run.label(),
                    (url, key.clone()),
                    run.path,
                    run.kind(),
                    run.workers,
                    secs,
                )
                .await
            }
        };
        if !run.on_testbed && run.workers == 1 {
            server_us.push(server_us_per_frame());
        }
        all.push(figures);
    }

    println!("| measurement | requests/s | p50 us | mean us |");
    println!("|---|---:|---:|---:|");
    for f in &all {
        println!(
            "| {} | {:.0} | {:.1} | {:.1} |",
            f.what, f.per_sec, f.p50_us, f.mean_us
        );
    }
    // Both measured against a server on its own threads.
    let bare = &all[0];
    let bare_shared = &all[2];
    let ours_seq = all
        .iter()
        .find(|f| {
            f.what
                .starts_with("ours vs instant server: query, 1 conn, sequential")
        })
        .unwrap();
    let official_seq = all
        .iter()
        .find(|f| {
            f.what
                .starts_with("official vs instant server: query, sequential")
        })
        .unwrap();
    println!();
    println!(
        "added latency per query on an idle connection (p50 over the bare echo): ours {:.1} us, official {:.1} us",
        ours_seq.p50_us - bare.p50_us,
        official_seq.p50_us - bare.p50_us
    );
    println!(
        "of which the instant server's own work per frame (p50): {:.1} us (ours run), {:.1} us (official run)",
        server_us[0], server_us[1]
    );
    println!(
        "(the bare echo with the server sharing the client's runtime: p50 {:.1} us)",
        bare_shared.p50_us
    );
    println!(
        "idle connection, {} alternating rounds (server on its own threads): bare echo p50 {:.1} us, ours p50 {:.1} us, added (median of per-round differences) {:.1} us (rounds ranged {:.1} to {:.1} us)",
        idle.rounds,
        idle.bare_p50_us,
        idle.ours_p50_us,
        idle.added_us,
        idle.added_min_us,
        idle.added_max_us
    );
    // The best of the echo set-ups: the conservative floor.
    let bare_tp = all[..4].iter().map(|f| f.per_sec).fold(0.0, f64::max);
    let ours_tp = all
        .iter()
        .filter(|f| f.what.starts_with("ours vs instant server"))
        .map(|f| f.per_sec)
        .fold(0.0, f64::max);
    println!(
        "throughput vs bare echo (instant server): ours {:.0}% of {:.0}/s",
        100.0 * ours_tp / bare_tp,
        bare_tp
    );
    // `cargo xtask perf` reads the figures from here rather than parsing
    // the table above.
    if let Ok(path) = std::env::var("PERF_JSON") {
        let figures = json!({
            "measurements": &all,
            "bare_echo_per_sec": bare_tp,
            "bare_echo_p50_us": bare.p50_us,
            "bare_echo_shared_runtime_p50_us": bare_shared.p50_us,
            "idle_latency": &idle,
            "official_added_latency_us": official_seq.p50_us - bare.p50_us,
        });
        std::fs::write(&path, figures.to_string()).expect("writing PERF_JSON");
    }
    bed.shutdown().await;
    servers.shutdown_background();
}
