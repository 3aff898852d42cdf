//! DogStatsD: after each interval closes, the interval's counts (as
//! counters) and response-time percentiles (as gauges, milliseconds), tagged
//! with scenario, name and path, sent over UDP in datagrams of at most
//! ~1400 bytes. UDP send errors are ignored: monitoring must never slow or
//! fail the run.

use std::net::{SocketAddr, UdpSocket};

use crate::recorder::Recorder;

const MAX_DATAGRAM: usize = 1400;

pub struct StatsdSender {
    socket: UdpSocket,
    target: SocketAddr,
    /// Extra tags on every metric (e.g. `workload:prod`).
    common_tags: String,
}

fn tag_value(v: &str) -> String {
    v.chars()
        .map(|c| {
            if c == ',' || c == '|' || c == '#' || c.is_whitespace() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

impl StatsdSender {
    pub fn new(target: SocketAddr, workload: &str) -> std::io::Result<Self> {
        let bind: SocketAddr = if target.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        }
        .parse()
        .unwrap();
        let socket = UdpSocket::bind(bind)?;
        socket.set_nonblocking(true)?;
        Ok(StatsdSender {
            socket,
            target,
            common_tags: format!("workload:{}", tag_value(workload)),
        })
    }

    /// The lines for the last closed interval.
    pub fn lines(&self, recorder: &Recorder) -> Vec<String> {
        let mut lines = Vec::new();
        for m in recorder.live() {
            let tags = format!(
                "#{},scenario:{},name:{}{}",
                self.common_tags,
                tag_value(&m.key.scenario),
                tag_value(&m.key.name),
                m.key
                    .path
                    .as_deref()
                    .map(|p| format!(",path:{}", tag_value(p)))
                    .unwrap_or_default()
            );
            let c = m.last.counts;
            for (name, value) in [
                ("requests", c.requests),
                ("errors", c.errors),
                ("timeouts", c.timeouts),
                ("dropped", c.dropped),
            ] {
                lines.push(format!("load_generator.{name}:{value}|c|{tags}"));
            }
            if m.last.response.count > 0 {
                for (name, us) in [
                    ("p50", m.last.response.p50_us),
                    ("p99", m.last.response.p99_us),
                    ("max", m.last.response.max_us),
                ] {
                    lines.push(format!(
                        "load_generator.response_time.{name}:{:.3}|g|{tags}",
                        us as f64 / 1000.0
                    ));
                }
            }
        }
        lines
    }

    pub fn send_interval(&self, recorder: &Recorder) {
        let mut datagram = String::new();
        for line in self.lines(recorder) {
            if !datagram.is_empty() && datagram.len() + line.len() + 1 > MAX_DATAGRAM {
                let _ = self.socket.send_to(datagram.as_bytes(), self.target);
                datagram.clear();
            }
            if !datagram.is_empty() {
                datagram.push('\n');
            }
            datagram.push_str(&line);
        }
        if !datagram.is_empty() {
            let _ = self.socket.send_to(datagram.as_bytes(), self.target);
        }
    }
}
