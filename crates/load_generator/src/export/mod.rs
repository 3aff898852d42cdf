//! Live metrics for monitoring systems: Prometheus (pull, `--metrics-addr`)
//! and DogStatsD (push, `--statsd-addr`, with Datadog tags).

pub mod prometheus;
pub mod statsd;

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use chrono::Utc;
    use results_format::MetricKey;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use crate::recorder::{INTERVAL, Recorder};
    use crate::scenario::{MetricSink, RequestOutcome, RequestTiming};

    fn recorder_with_traffic() -> Arc<Recorder> {
        let recorder = Arc::new(Recorder::new());
        let id = recorder.register(
            MetricKey {
                scenario: "RunFunction".into(),
                name: "query".into(),
                path: Some("query_index:queryMessages".into()),
            },
            Some(50.0),
        );
        let start = Instant::now();
        recorder.start_measurement(start, Utc::now());
        for ms in 1..=100u64 {
            let timing = RequestTiming {
                scheduled: start,
                sent: start,
                finished: start + Duration::from_millis(ms),
            };
            recorder.record(id, timing, RequestOutcome::Success);
        }
        recorder.record(
            id,
            RequestTiming {
                scheduled: start,
                sent: start,
                finished: start,
            },
            RequestOutcome::Error {
                category: "query".into(),
                message: "x".into(),
            },
        );
        recorder.close_interval(INTERVAL);
        recorder
    }

    #[tokio::test]
    async fn prometheus_endpoint_serves_counters_and_quantiles() {
        let recorder = recorder_with_traffic();
        let addr = super::prometheus::serve("127.0.0.1:0".parse().unwrap(), recorder)
            .await
            .unwrap();
        let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
        socket
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut response = String::new();
        socket.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
        let labels = r#"scenario="RunFunction",name="query",path="query_index:queryMessages""#;
        assert!(
            response.contains(&format!("load_generator_requests_total{{{labels}}} 101")),
            "{response}"
        );
        assert!(response.contains(&format!("load_generator_errors_total{{{labels}}} 1")));
        assert!(response.contains(&format!("load_generator_target_rate{{{labels}}} 50")));
        let p99 = response
            .lines()
            .find(|l| {
                l.starts_with("load_generator_response_time_seconds{")
                    && l.contains("quantile=\"0.99\"")
            })
            .unwrap();
        let value: f64 = p99.rsplit(' ').next().unwrap().parse().unwrap();
        assert!((value - 0.099).abs() < 0.001, "{p99}");
    }

    #[test]
    fn dogstatsd_lines_carry_tags_and_arrive_over_udp() {
        let recorder = recorder_with_traffic();
        let listener = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        listener
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let sender =
            super::statsd::StatsdSender::new(listener.local_addr().unwrap(), "smoke test").unwrap();
        sender.send_interval(&recorder);
        let mut buf = [0u8; 2048];
        let n = listener.recv(&mut buf).unwrap();
        let datagram = std::str::from_utf8(&buf[..n]).unwrap();
        let tags =
            "#workload:smoke_test,scenario:RunFunction,name:query,path:query_index:queryMessages";
        assert!(
            datagram.contains(&format!("load_generator.requests:101|c|{tags}")),
            "{datagram}"
        );
        assert!(datagram.contains(&format!("load_generator.errors:1|c|{tags}")));
        assert!(
            datagram.contains("load_generator.response_time.p99:99."),
            "{datagram}"
        );
    }
}
