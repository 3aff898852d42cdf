//! HoldSubscriptions: each iteration opens `num_subscriptions`
//! subscriptions on fresh channels, holds them for `hold_duration_secs`,
//! and every `invalidation_interval_secs` inserts a row into
//! `num_invalidations` random ones of them, measuring
//! `invalidation_completed`: mutation sent -> the subscription showed it.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use rand::Rng;
use serde_json::json;

use super::common::{Base, Finished, prepared, within};
use super::observe::{insert_args, shows_rand};
use crate::protocol::{
    CallError, ConnectionPool, Failed, MUTATION_TIMEOUT, QUERY_TIMEOUT, Subscription,
};
use crate::run_env::RunEnv;
use crate::scenario::{MetricId, Scenario};
use crate::workload::model::ScenarioConfig;

const WATCH_QUERY: &str = "query_index:queryMessagesWithArgs";
const INSERT_MUTATION: &str = "insert:insertMessageWithArgs";
const TABLE: &str = "messages";

#[derive(Debug, Clone, Copy)]
pub(crate) struct HoldSpec {
    pub num_subscriptions: u32,
    pub hold: Duration,
    pub invalidation_interval: Option<Duration>,
    pub num_invalidations: u32,
}

pub(crate) struct HoldSubscriptions {
    base: Base,
    spec: HoldSpec,
    pool: OnceLock<ConnectionPool>,
    completed: MetricId,
}

struct Held {
    channel: String,
    subscription: Subscription,
    /// Decreasing, so each new row sorts first in the result.
    next_rand: u64,
}

impl HoldSubscriptions {
    pub fn build(
        config: &ScenarioConfig,
        env: &RunEnv,
        spec: HoldSpec,
    ) -> anyhow::Result<Arc<dyn Scenario>> {
        let base = Base::new(config, env, "HoldSubscriptions");
        base.require_websocket()?;
        anyhow::ensure!(
            spec.num_subscriptions > 0,
            "HoldSubscriptions: field `num_subscriptions` must be at least 1"
        );
        anyhow::ensure!(
            spec.invalidation_interval != Some(Duration::ZERO),
            "HoldSubscriptions: field `invalidation_interval_secs` must be at least 1"
        );
        Ok(Arc::new(HoldSubscriptions {
            completed: base.metric("invalidation_completed", None),
            base,
            spec,
            pool: OnceLock::new(),
        }))
    }

    async fn subscribe_all(&self, pool: &ConnectionPool) -> Result<Vec<Held>, Failed> {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let mut held = Vec::with_capacity(self.spec.num_subscriptions as usize);
        for index in 0..self.spec.num_subscriptions {
            let channel = format!("hold-{tag}-{index}");
            let args = json!({"channel": channel, "rand": 0, "limit": 10, "table": TABLE});
            let subscription = pool.next().subscribe(WATCH_QUERY, args).await?;
            held.push(Held {
                channel,
                subscription,
                next_rand: 999_999_999,
            });
        }
        let timeout = self.base.timeout(QUERY_TIMEOUT);
        for h in &mut held {
            let first = async {
                h.subscription
                    .next()
                    .await
                    .map_err(|e| Failed::new(None, e))
            };
            match within(timeout, first).await {
                Finished::Ok(_) => {}
                Finished::Failed(f) => return Err(f),
                Finished::TimedOut { .. } => {
                    return Err(Failed::new(
                        None,
                        CallError::Transport(format!(
                            "subscription {} showed no first result within {timeout:?}",
                            h.channel
                        )),
                    ));
                }
            }
        }
        Ok(held)
    }

    async fn invalidate(&self, pool: &ConnectionPool, held: &mut Held, scheduled: Instant) {
        let started = Instant::now();
        let rand = held.next_rand;
        held.next_rand -= 1;
        let timeout = self.base.timeout(MUTATION_TIMEOUT);
        let args = insert_args(&held.channel, rand, TABLE);
        let connection = pool.next();
        let subscription = &mut held.subscription;
        let finished = within(timeout, async {
            let reply = connection.mutation(INSERT_MUTATION, args).await?;
            loop {
                let value = subscription
                    .next()
                    .await
                    .map_err(|e| Failed::new(Some(reply.sent), e))?;
                if shows_rand(&value, rand) {
                    return Ok((reply.sent, Instant::now()));
                }
            }
        })
        .await;
        self.base.record(
            self.completed,
            scheduled,
            started,
            &finished,
            |(sent, seen)| (*sent, *seen),
            "mutation",
        );
    }
}

impl Scenario for HoldSubscriptions {
    fn prepare(self: Arc<Self>) -> BoxFuture<'static, anyhow::Result<()>> {
        Box::pin(async move {
            if self.pool.get().is_none() {
                let _ = self.pool.set(self.base.open_pool().await?);
            }
            Ok(())
        })
    }

    fn run_once(self: Arc<Self>, scheduled: Instant) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let pool = match prepared(&self.pool) {
                Ok(pool) => pool,
                Err(f) => {
                    self.base.record_error(
                        self.completed,
                        scheduled,
                        "subscription",
                        f.to_string(),
                    );
                    return;
                }
            };
            let mut held = match self.subscribe_all(pool).await {
                Ok(held) => held,
                Err(f) => {
                    self.base.record_error(
                        self.completed,
                        scheduled,
                        "subscription",
                        format!("subscribing failed: {f}"),
                    );
                    return;
                }
            };
            let held_since = tokio::time::Instant::now();
            let hold_until = held_since + self.spec.hold;
            if let Some(interval) = self.spec.invalidation_interval {
                // Ticks at interval, 2 x interval, ... up to the hold's end.
                let mut next = held_since + interval;
                while next <= hold_until {
                    tokio::time::sleep_until(next).await;
                    let due = next.into_std();
                    for _ in 0..self.spec.num_invalidations {
                        let index = self.base.with_rng(|r| r.random_range(0..held.len()));
                        self.invalidate(pool, &mut held[index], due).await;
                    }
                    next += interval;
                }
            }
            tokio::time::sleep_until(hold_until).await;
            drop(held);
        })
    }

    fn primary_metric(&self) -> MetricId {
        self.completed
    }
}
