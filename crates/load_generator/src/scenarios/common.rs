//! What every scenario shares: metric registration under the scenario's
//! Convex name, opening its connections, timeouts, and turning a call's
//! result into one `record`.

use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use results_format::MetricKey;
use serde_json::Value as JsonValue;

use crate::protocol::http::HttpReply;
use crate::protocol::{
    CallError, ConnectionObserver, ConnectionPool, Failed, HttpFunctionClient, QueryReply,
    RequestReply, SessionConfig, sync_url,
};
use crate::run_env::RunEnv;
use crate::scenario::{MetricId, MetricSink, RequestOutcome, RequestTiming};
use crate::workload::model::{FunctionType, Mode, ScenarioConfig, ScenarioOptions, Transport};

/// Latency of each WebSocket session setup, per scenario (our extension).
pub const CONNECTION_SETUP_METRIC: &str = "connection_setup";
/// Count of WebSocket sessions lost, per scenario (our extension).
pub const RECONNECT_METRIC: &str = "reconnect";

/// Bound on opening one WebSocket session.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct Base {
    /// The scenario name metrics are filed under (`ObserveInsertWithSearch`...).
    pub name: &'static str,
    pub sink: Arc<dyn MetricSink>,
    pub target_rate: Option<f64>,
    pub env: RunEnv,
    pub options: ScenarioOptions,
    rng: Mutex<StdRng>,
}

impl Base {
    pub fn new(config: &ScenarioConfig, env: &RunEnv, name: &'static str) -> Base {
        let target_rate = match &config.mode {
            Mode::Rate { rate, .. } => Some(*rate),
            Mode::Benchmark { .. } => None,
        };
        // Each scenario draws from its own stream of the run's seed.
        let stream = name
            .bytes()
            .fold(0u64, |h, b| h.rotate_left(5) ^ u64::from(b));
        Base {
            name,
            sink: env.sink.clone(),
            target_rate,
            env: env.clone(),
            options: config.options.clone(),
            rng: Mutex::new(StdRng::seed_from_u64(env.seed ^ stream)),
        }
    }

    /// A metric driven at the scenario's rate (latency + outcomes).
    pub fn metric(&self, name: &str, path: Option<&str>) -> MetricId {
        self.sink.register(self.key(name, path), self.target_rate)
    }

    /// A count-only metric (or one recorded only on errors).
    pub fn counter(&self, name: &str) -> MetricId {
        self.sink.register(self.key(name, None), None)
    }

    fn key(&self, name: &str, path: Option<&str>) -> MetricKey {
        MetricKey {
            scenario: self.name.to_string(),
            name: name.to_string(),
            path: path.map(str::to_string),
        }
    }

    pub fn with_rng<T>(&self, f: impl FnOnce(&mut StdRng) -> T) -> T {
        f(&mut self.rng.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn cache_breaker(&self) -> JsonValue {
        use rand::Rng;
        serde_json::json!({ "cacheBreaker": self.with_rng(|r| r.random::<f64>()) })
    }

    pub fn timeout(&self, default: Duration) -> Duration {
        self.options.timeout.unwrap_or(default)
    }

    pub fn require_websocket(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.options.transport == Transport::WebSocket,
            "scenario {}: option transport \"http\" is not possible here (it needs subscriptions); use \"websocket\"",
            self.name
        );
        Ok(())
    }

    pub fn session_config(&self) -> anyhow::Result<SessionConfig> {
        Ok(SessionConfig {
            ws_url: sync_url(&self.env.url)?,
            admin_key: Some(self.env.admin_key.clone()),
            setup_timeout: SETUP_TIMEOUT,
        })
    }

    /// Opens `options.connections` (default 1) connections whose setups and
    /// reconnections are recorded under this scenario.
    pub async fn open_pool(&self) -> anyhow::Result<ConnectionPool> {
        let observer = ConnectionObserver {
            sink: self.sink.clone(),
            setup: self
                .sink
                .register_setup(self.key(CONNECTION_SETUP_METRIC, None)),
            reconnects: self.counter(RECONNECT_METRIC),
        };
        let count = self.options.connections.unwrap_or(1) as usize;
        ConnectionPool::open(self.session_config()?, count, Some(observer))
            .await
            .map_err(|e| anyhow::anyhow!("scenario {}: {e}", self.name))
    }

    pub fn http_client(&self) -> anyhow::Result<HttpFunctionClient> {
        HttpFunctionClient::new(&self.env.url, Some(&self.env.admin_key))
    }

    /// Records one request that finished with `finished` (or failed).
    pub fn record<T>(
        &self,
        metric: MetricId,
        scheduled: Instant,
        started: Instant,
        finished: &Finished<T>,
        success_timing: impl FnOnce(&T) -> (Instant, Instant),
        category: &str,
    ) {
        let now = Instant::now();
        let (sent, end, outcome) = match finished {
            Finished::Ok(value) => {
                let (sent, end) = success_timing(value);
                (sent, end, RequestOutcome::Success)
            }
            Finished::Failed(failed) => (
                failed.sent.unwrap_or(started),
                now,
                RequestOutcome::Error {
                    category: category.to_string(),
                    message: failed.error.to_string(),
                },
            ),
            Finished::TimedOut { sent } => (sent.unwrap_or(started), now, RequestOutcome::Timeout),
        };
        self.sink.record(
            metric,
            RequestTiming {
                scheduled,
                sent,
                finished: end,
            },
            outcome,
        );
    }

    /// An error that belongs to no request timing of its own (setup steps).
    pub fn record_error(
        &self,
        metric: MetricId,
        scheduled: Instant,
        category: &str,
        message: String,
    ) {
        let now = Instant::now();
        self.sink.record(
            metric,
            RequestTiming {
                scheduled,
                sent: now.max(scheduled),
                finished: now.max(scheduled),
            },
            RequestOutcome::Error {
                category: category.to_string(),
                message,
            },
        );
    }
}

/// How a bounded call ended.
pub(crate) enum Finished<T> {
    Ok(T),
    Failed(Failed),
    TimedOut { sent: Option<Instant> },
}

/// Runs `call` for at most `timeout`.
pub(crate) async fn within<T>(
    timeout: Duration,
    call: impl Future<Output = Result<T, Failed>>,
) -> Finished<T> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(value)) => Finished::Ok(value),
        Ok(Err(failed)) => Finished::Failed(failed),
        Err(_) => Finished::TimedOut { sent: None },
    }
}

/// A function call's value and when its request went out.
pub(crate) struct Called {
    pub value: JsonValue,
    pub sent: Instant,
}

impl From<QueryReply> for Called {
    fn from(r: QueryReply) -> Self {
        Called {
            value: r.value,
            sent: r.sent,
        }
    }
}

impl From<RequestReply> for Called {
    fn from(r: RequestReply) -> Self {
        Called {
            value: r.value,
            sent: r.sent,
        }
    }
}

impl From<HttpReply> for Called {
    fn from(r: HttpReply) -> Self {
        Called {
            value: r.value,
            sent: r.sent,
        }
    }
}

/// Calls functions over the scenario's transport: the shared WebSocket
/// connections (opened in `prepare`) or the HTTP API.
pub(crate) enum FunctionCaller {
    WebSocket(OnceLock<ConnectionPool>),
    Http(HttpFunctionClient),
}

impl FunctionCaller {
    pub fn new(base: &Base) -> anyhow::Result<FunctionCaller> {
        Ok(match base.options.transport {
            Transport::WebSocket => FunctionCaller::WebSocket(OnceLock::new()),
            Transport::Http => FunctionCaller::Http(base.http_client()?),
        })
    }

    pub async fn prepare(&self, base: &Base) -> anyhow::Result<()> {
        if let FunctionCaller::WebSocket(pool) = self {
            if pool.get().is_none() {
                let _ = pool.set(base.open_pool().await?);
            }
        }
        Ok(())
    }

    pub async fn call(
        &self,
        fn_type: FunctionType,
        path: &str,
        args: JsonValue,
    ) -> Result<Called, Failed> {
        match self {
            FunctionCaller::WebSocket(pool) => {
                let connection = pool
                    .get()
                    .ok_or_else(|| {
                        Failed::new(None, CallError::Usage("scenario not prepared".into()))
                    })?
                    .next();
                match fn_type {
                    FunctionType::Query => connection.query(path, args).await.map(Called::from),
                    FunctionType::Mutation => {
                        connection.mutation(path, args).await.map(Called::from)
                    }
                    FunctionType::Action => connection.action(path, args).await.map(Called::from),
                }
            }
            FunctionCaller::Http(client) => {
                client.call(fn_type, path, args).await.map(Called::from)
            }
        }
    }
}

/// The pool of a prepared WebSocket scenario.
pub(crate) fn prepared(pool: &OnceLock<ConnectionPool>) -> Result<&ConnectionPool, Failed> {
    pool.get()
        .ok_or_else(|| Failed::new(None, CallError::Usage("scenario not prepared".into())))
}
