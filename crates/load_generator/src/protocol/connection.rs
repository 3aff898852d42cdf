//! Long-lived connections that survive their sessions: a supervisor task
//! per connection notices a dead session, counts the reconnection, backs
//! off and opens a new one. Callers always go through the current session;
//! while there is none they wait (bounded by their own timeout), as a real
//! app's client queues requests during a reconnect.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::Value as JsonValue;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::session::{QueryReply, RequestReply, Session, SessionConfig, Subscription};
use super::{CallError, Failed};
use crate::scenario::{MetricId, MetricSink, RequestOutcome, RequestTiming};

const INITIAL_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Where a connection reports its setup times and reconnections.
#[derive(Clone)]
pub struct ConnectionObserver {
    pub sink: Arc<dyn MetricSink>,
    /// Latency of every session setup (connect + handshake + first
    /// Transition); failed attempts are errors of category `connection`.
    pub setup: MetricId,
    /// Count of sessions lost (each starts a reconnection).
    pub reconnects: MetricId,
}

impl ConnectionObserver {
    fn setup_finished(&self, started: Instant, result: &anyhow::Result<Arc<Session>>) {
        let finished = Instant::now();
        let outcome = match result {
            Ok(_) => RequestOutcome::Success,
            Err(e) => RequestOutcome::Error {
                category: "connection".into(),
                message: e.to_string(),
            },
        };
        self.sink.record(
            self.setup,
            RequestTiming {
                scheduled: started,
                sent: started,
                finished,
            },
            outcome,
        );
    }
}

struct Shared {
    reconnects: AtomicU64,
}

pub struct Connection {
    current: watch::Receiver<Option<Arc<Session>>>,
    shared: Arc<Shared>,
    supervisor: JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.supervisor.abort();
        if let Some(session) = self.current.borrow().as_ref() {
            session.close("the client closed the connection");
        }
    }
}

impl Connection {
    /// Opens the first session (an error if that fails: a wrong URL or key
    /// should stop the run, not become a stream of reconnections).
    pub async fn open(
        config: SessionConfig,
        observer: Option<ConnectionObserver>,
    ) -> anyhow::Result<Connection> {
        let started = Instant::now();
        let first = Session::open(&config, 0, "InitialConnect").await;
        if let Some(observer) = &observer {
            observer.setup_finished(started, &first);
        }
        let first = first?;
        let (publish, current) = watch::channel(Some(first.clone()));
        let shared = Arc::new(Shared {
            reconnects: AtomicU64::new(0),
        });
        let supervisor = tokio::spawn(supervise(config, observer, first, publish, shared.clone()));
        Ok(Connection {
            current,
            shared,
            supervisor,
        })
    }

    /// Sessions lost so far (each followed by reconnection attempts).
    pub fn reconnects(&self) -> u64 {
        self.shared.reconnects.load(Ordering::Relaxed)
    }

    /// The live session, waiting for a reconnection if needed.
    pub async fn session(&self) -> Result<Arc<Session>, Failed> {
        if let Some(session) = self.current.borrow().as_ref() {
            if !session.is_dead() {
                return Ok(session.clone());
            }
        }
        let mut current = self.current.clone();
        let live = current
            .wait_for(|s| s.as_ref().is_some_and(|s| !s.is_dead()))
            .await
            .map_err(|_| Failed::new(None, CallError::lost("the connection was shut down")))?;
        Ok(live.as_ref().cloned().expect("checked by wait_for"))
    }

    pub async fn query(&self, path: &str, args: JsonValue) -> Result<QueryReply, Failed> {
        self.session().await?.query(path, args).await
    }

    pub async fn mutation(&self, path: &str, args: JsonValue) -> Result<RequestReply, Failed> {
        self.session().await?.mutation(path, args).await
    }

    pub async fn action(&self, path: &str, args: JsonValue) -> Result<RequestReply, Failed> {
        self.session().await?.action(path, args).await
    }

    /// Subscribes on the current session. The subscription ends (with an
    /// error) if that session dies; re-subscribe to continue.
    pub async fn subscribe(&self, path: &str, args: JsonValue) -> Result<Subscription, Failed> {
        self.session().await?.subscribe(path, args)
    }

    /// Kills the current session as if the network dropped (tests).
    pub fn kill_session(&self) {
        if let Some(session) = self.current.borrow().as_ref() {
            session.close("killed by the client");
        }
    }
}

async fn supervise(
    config: SessionConfig,
    observer: Option<ConnectionObserver>,
    mut session: Arc<Session>,
    publish: watch::Sender<Option<Arc<Session>>>,
    shared: Arc<Shared>,
) {
    let mut connection_count = 0u32;
    loop {
        let reason = session.closed().await;
        publish.send_replace(None);
        drop(session);
        shared.reconnects.fetch_add(1, Ordering::Relaxed);
        if let Some(observer) = &observer {
            observer.sink.count(observer.reconnects, 1);
        }
        tracing::debug!(
            "connection to {} lost ({reason}); reconnecting",
            config.ws_url
        );
        let mut backoff = INITIAL_BACKOFF;
        session = loop {
            let jitter = rand::rng().random_range(0.5..1.0);
            tokio::time::sleep(backoff.mul_f64(jitter)).await;
            connection_count += 1;
            let started = Instant::now();
            let attempt = Session::open(&config, connection_count, &reason).await;
            if let Some(observer) = &observer {
                observer.setup_finished(started, &attempt);
            }
            match attempt {
                Ok(session) => break session,
                Err(e) => {
                    tracing::debug!("reconnecting to {} failed: {e}", config.ws_url);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        };
        publish.send_replace(Some(session.clone()));
    }
}

/// N long-lived connections, used round-robin.
pub struct ConnectionPool {
    connections: Vec<Connection>,
    next: AtomicUsize,
}

impl ConnectionPool {
    /// Opens `count` (>= 1) connections concurrently.
    pub async fn open(
        config: SessionConfig,
        count: usize,
        observer: Option<ConnectionObserver>,
    ) -> anyhow::Result<ConnectionPool> {
        let count = count.max(1);
        let opening = (0..count).map(|_| Connection::open(config.clone(), observer.clone()));
        let connections = futures_util::future::try_join_all(opening).await?;
        Ok(ConnectionPool {
            connections,
            next: AtomicUsize::new(0),
        })
    }

    /// The next connection in round-robin order.
    pub fn next(&self) -> &Connection {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
        &self.connections[index]
    }

    pub fn connections(&self) -> &[Connection] {
        &self.connections
    }

    /// Sessions lost across all connections.
    pub fn reconnects(&self) -> u64 {
        self.connections.iter().map(Connection::reconnects).sum()
    }
}
