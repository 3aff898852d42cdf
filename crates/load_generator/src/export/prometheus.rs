//! Prometheus text exposition on `GET /metrics` (any path is answered the
//! same). A hand-written HTTP/1.1 responder: one scrape every few seconds
//! does not need a web framework.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::recorder::{LiveMetric, Recorder};

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels(m: &LiveMetric) -> String {
    format!(
        "scenario=\"{}\",name=\"{}\",path=\"{}\"",
        escape(&m.key.scenario),
        escape(&m.key.name),
        escape(m.key.path.as_deref().unwrap_or(""))
    )
}

/// The exposition text for the recorder's current state.
pub fn render(recorder: &Recorder) -> String {
    let live = recorder.live();
    let mut out = String::new();
    let counter = |out: &mut String, name: &str, help: &str, value: fn(&LiveMetric) -> u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for m in &live {
            let _ = writeln!(out, "{name}{{{}}} {}", labels(m), value(m));
        }
    };
    counter(
        &mut out,
        "load_generator_requests_total",
        "Requests finished (any outcome).",
        |m| m.totals.requests,
    );
    counter(
        &mut out,
        "load_generator_errors_total",
        "Requests that failed.",
        |m| m.totals.errors,
    );
    counter(
        &mut out,
        "load_generator_timeouts_total",
        "Requests that timed out.",
        |m| m.totals.timeouts,
    );
    counter(
        &mut out,
        "load_generator_dropped_total",
        "Open-loop requests dropped at the generator's full queue.",
        |m| m.totals.dropped,
    );
    let _ = writeln!(
        out,
        "# HELP load_generator_response_time_seconds Response time from the scheduled start, whole run.\n# TYPE load_generator_response_time_seconds summary"
    );
    for m in &live {
        let l = labels(m);
        for (q, v) in [
            ("0.5", m.response.p50_us),
            ("0.9", m.response.p90_us),
            ("0.99", m.response.p99_us),
            ("0.999", m.response.p999_us),
        ] {
            let _ = writeln!(
                out,
                "load_generator_response_time_seconds{{{l},quantile=\"{q}\"}} {}",
                v as f64 / 1e6
            );
        }
        let _ = writeln!(
            out,
            "load_generator_response_time_seconds_sum{{{l}}} {}",
            m.response.mean_us * m.response.count as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "load_generator_response_time_seconds_count{{{l}}} {}",
            m.response.count
        );
    }
    let _ = writeln!(
        out,
        "# HELP load_generator_target_rate Requests per second the workload asked for.\n# TYPE load_generator_target_rate gauge"
    );
    for m in &live {
        if let Some(rate) = m.target_rate {
            let _ = writeln!(out, "load_generator_target_rate{{{}}} {rate}", labels(m));
        }
    }
    out
}

/// Binds `addr` and answers scrapes until the process ends.
pub async fn serve(addr: SocketAddr, recorder: Arc<Recorder>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                continue;
            };
            let recorder = recorder.clone();
            tokio::spawn(async move {
                // Read the request head; its content does not matter.
                let mut buf = [0u8; 4096];
                let _ =
                    tokio::time::timeout(std::time::Duration::from_secs(2), socket.read(&mut buf))
                        .await;
                let body = render(&recorder);
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    Ok(bound)
}
