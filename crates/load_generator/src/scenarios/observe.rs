//! ObserveInsert and ManyIntersections: subscriptions held on distinct
//! channels; each iteration inserts a row into one channel and measures
//! (a) `mutation_completed`: mutation sent -> MutationResponse arrived, and
//! (b) `mutation_observed`: mutation sent -> the subscription showed the row.
//!
//! Each channel's rows get strictly decreasing `rand` values, so a new row
//! always sorts first in `queryMessagesWithArgs` (rand >= 0, first 10) and
//! is visible in the subscribed result however many rows came before it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use rand::Rng;
use serde_json::{Value as JsonValue, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::common::{Base, Finished, within};
use crate::protocol::{CallError, ConnectionPool, Failed, MUTATION_TIMEOUT};
use crate::run_env::RunEnv;
use crate::scenario::{MetricId, Scenario};
use crate::workload::model::ScenarioConfig;

const WATCH_QUERY: &str = "query_index:queryMessagesWithArgs";
const INSERT_MUTATION: &str = "insert:insertMessageWithArgs";
/// Largest `rand` a row may have (rand is an integer in [0, 1e9)).
const MAX_RAND: u64 = 999_999_999;
/// Channels ObserveInsert spreads its inserts over (so concurrent
/// iterations rarely share a subscription).
const OBSERVE_INSERT_CHANNELS: u32 = 16;
const RESUBSCRIBE_DELAY: Duration = Duration::from_millis(100);

/// The latest result of a subscription and when it arrived.
type Latest = Option<(Instant, JsonValue)>;

struct WatchedChannel {
    channel: String,
    connection: usize,
    latest: watch::Receiver<Latest>,
    next_rand: AtomicU64,
}

/// Subscriptions kept alive (re-subscribing after a reconnection) by one
/// pump task each.
struct WatchedChannels {
    pool: Arc<ConnectionPool>,
    channels: Vec<WatchedChannel>,
    pumps: Vec<JoinHandle<()>>,
}

impl Drop for WatchedChannels {
    fn drop(&mut self) {
        for pump in &self.pumps {
            pump.abort();
        }
    }
}

impl WatchedChannels {
    /// Subscribes `count` fresh channels round-robin over the pool and
    /// waits for every first result.
    async fn open(
        pool: ConnectionPool,
        count: u32,
        table: &'static str,
        prefix: &str,
    ) -> anyhow::Result<WatchedChannels> {
        let pool = Arc::new(pool);
        let run_tag = uuid::Uuid::new_v4().simple().to_string();
        let mut channels = Vec::new();
        let mut pumps = Vec::new();
        for index in 0..count as usize {
            let channel = format!("{prefix}-{run_tag}-{index}");
            let connection = index % pool.connections().len();
            let (publish, latest) = watch::channel(None);
            let args = json!({"channel": channel, "rand": 0, "limit": 10, "table": table});
            pumps.push(tokio::spawn(pump(pool.clone(), connection, args, publish)));
            channels.push(WatchedChannel {
                channel,
                connection,
                latest,
                next_rand: AtomicU64::new(MAX_RAND),
            });
        }
        let watched = WatchedChannels {
            pool,
            channels,
            pumps,
        };
        for channel in &watched.channels {
            let mut latest = channel.latest.clone();
            tokio::time::timeout(Duration::from_secs(30), latest.wait_for(Option::is_some))
                .await
                .map_err(|_| {
                    anyhow::anyhow!("subscribing to channel {} took over 30 s", channel.channel)
                })?
                .map_err(|_| anyhow::anyhow!("subscription pump for {} ended", channel.channel))?;
        }
        Ok(watched)
    }
}

async fn pump(
    pool: Arc<ConnectionPool>,
    connection: usize,
    args: JsonValue,
    publish: watch::Sender<Latest>,
) {
    loop {
        let connection = &pool.connections()[connection];
        if let Ok(mut subscription) = connection.subscribe(WATCH_QUERY, args.clone()).await {
            while let Ok(value) = subscription.next().await {
                publish.send_replace(Some((Instant::now(), value)));
            }
        }
        tokio::time::sleep(RESUBSCRIBE_DELAY).await;
    }
}

/// Whether a `queryMessagesWithArgs` result holds a row with this `rand`.
pub(crate) fn shows_rand(value: &JsonValue, rand: u64) -> bool {
    value.as_array().is_some_and(|rows| {
        rows.iter()
            .any(|row| row.get("rand").and_then(JsonValue::as_f64) == Some(rand as f64))
    })
}

pub(crate) fn insert_args(channel: &str, rand: u64, table: &str) -> JsonValue {
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as f64)
        .unwrap_or(0.0);
    json!({
        "channel": channel,
        "timestamp": timestamp,
        "rand": rand,
        "ballastCount": 0,
        "count": 1,
        "table": table,
    })
}

/// The shared insert-and-observe iteration.
struct InsertObserve {
    base: Base,
    table: &'static str,
    num_channels: u32,
    prefix: &'static str,
    watched: OnceLock<WatchedChannels>,
    completed: MetricId,
    observed: MetricId,
}

impl InsertObserve {
    fn new(
        config: &ScenarioConfig,
        env: &RunEnv,
        name: &'static str,
        table: &'static str,
        num_channels: u32,
        prefix: &'static str,
    ) -> anyhow::Result<InsertObserve> {
        let base = Base::new(config, env, name);
        base.require_websocket()?;
        anyhow::ensure!(
            num_channels > 0,
            "{name}: field `num_subscriptions` must be at least 1"
        );
        Ok(InsertObserve {
            completed: base.metric("mutation_completed", None),
            observed: base.metric("mutation_observed", None),
            base,
            table,
            num_channels,
            prefix,
            watched: OnceLock::new(),
        })
    }

    async fn subscribe_all(&self) -> anyhow::Result<()> {
        if self.watched.get().is_none() {
            let pool = self.base.open_pool().await?;
            let watched =
                WatchedChannels::open(pool, self.num_channels, self.table, self.prefix).await?;
            let _ = self.watched.set(watched);
        }
        Ok(())
    }

    async fn insert_and_observe(&self, scheduled: Instant) {
        let started = Instant::now();
        let Some(watched) = self.watched.get() else {
            self.base.record_error(
                self.completed,
                scheduled,
                "mutation",
                "scenario not prepared".into(),
            );
            return;
        };
        let index = self
            .base
            .with_rng(|r| r.random_range(0..watched.channels.len()));
        let channel = &watched.channels[index];
        let rand = channel.next_rand.fetch_sub(1, Ordering::Relaxed);
        let connection = &watched.pool.connections()[channel.connection];
        let timeout = self.base.timeout(MUTATION_TIMEOUT);
        let args = insert_args(&channel.channel, rand, self.table);

        let mutation = within(timeout, connection.mutation(INSERT_MUTATION, args)).await;
        self.base.record(
            self.completed,
            scheduled,
            started,
            &mutation,
            |reply| (reply.sent, reply.responded),
            "mutation",
        );
        let Finished::Ok(reply) = mutation else {
            return;
        };
        // Observation is bounded from the mutation's send, like the mutation.
        let remaining = timeout.saturating_sub(reply.sent.elapsed());
        let mut latest = channel.latest.clone();
        let seen = within(remaining, async {
            let seen = latest
                .wait_for(|latest| latest.as_ref().is_some_and(|(_, v)| shows_rand(v, rand)))
                .await
                .map_err(|_| Failed::new(None, CallError::lost("subscription ended")))?;
            Ok(seen
                .as_ref()
                .map(|(at, _)| *at)
                .unwrap_or_else(Instant::now))
        })
        .await;
        let seen = match seen {
            Finished::TimedOut { .. } => Finished::TimedOut {
                sent: Some(reply.sent),
            },
            other => other,
        };
        self.base.record(
            self.observed,
            scheduled,
            started,
            &seen,
            |at| (reply.sent, *at),
            "mutation",
        );
    }
}

/// ObserveInsert (with or without search indexes) and ManyIntersections
/// are one scenario with different tables and subscription counts.
impl Scenario for InsertObserve {
    fn prepare(self: Arc<Self>) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async move { self.subscribe_all().await })
    }
    fn run_once(self: Arc<Self>, scheduled: Instant) -> BoxFuture<'static, ()> {
        Box::pin(async move { self.insert_and_observe(scheduled).await })
    }
    fn primary_metric(&self) -> MetricId {
        self.completed
    }
}

pub(crate) struct ObserveInsert;

impl ObserveInsert {
    pub fn build(
        config: &ScenarioConfig,
        env: &RunEnv,
        search_indexes: bool,
    ) -> anyhow::Result<Arc<dyn Scenario>> {
        let (name, table) = if search_indexes {
            ("ObserveInsertWithSearch", "messages_with_search")
        } else {
            ("ObserveInsert", "messages")
        };
        Ok(Arc::new(InsertObserve::new(
            config,
            env,
            name,
            table,
            OBSERVE_INSERT_CHANNELS,
            "observe",
        )?))
    }
}

pub(crate) struct ManyIntersections;

impl ManyIntersections {
    pub fn build(
        config: &ScenarioConfig,
        env: &RunEnv,
        num_subscriptions: u32,
    ) -> anyhow::Result<Arc<dyn Scenario>> {
        Ok(Arc::new(InsertObserve::new(
            config,
            env,
            "ManyIntersections",
            "messages",
            num_subscriptions,
            "intersect",
        )?))
    }
}
