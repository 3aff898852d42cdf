//! `schedule:scheduleMessage` and the scheduler that runs what it
//! schedules.
//!
//! As in Convex, scheduling is a write to the system table
//! `_scheduled_functions` inside the scheduling mutation, so a job exists
//! exactly when that mutation commits. The scheduler subscribes to the
//! table like any query would (a read set registered with the store), so
//! the commit wakes it; it then claims each due job (deleting its row in
//! its own transaction, so a job runs at most once) and runs the function
//! as a separate mutation, whose writes reach subscribers as usual.

use std::ops::Bound;
use std::sync::{Arc, Weak};

use serde_json::{Map, Value, json};
use tokio::sync::watch;

use super::{FnError, FunctionDef, Handler, internal};
use crate::runtime::Runtime;
use crate::store::schema::BY_CREATION_TIME;
use crate::store::transaction::Transaction;
use crate::store::{ReadRange, Store};
use crate::subscriptions::{SessionSignal, SubKey};
use crate::values::KeyPart;

pub const SCHEDULED_TABLE: &str = "_scheduled_functions";
/// The scheduler's subscription session id; sync sessions count up from
/// 1, so the top of the range is free.
const SCHEDULER_SESSION: u64 = u64::MAX;
/// Jobs claimed per scheduler pass.
const BATCH: usize = 100;

pub fn functions() -> Vec<FunctionDef> {
    vec![FunctionDef {
        path: "schedule:scheduleMessage",
        args: &[],
        handler: Handler::Mutation(|tx, _| {
            schedule(tx, "insert:insertMessageWithSearch", Map::new())?;
            Ok(Value::Null)
        }),
    }]
}

/// `ctx.scheduler.runAfter(0, path, args)`: records a job due now.
pub fn schedule(
    tx: &mut Transaction<'_>,
    path: &str,
    args: Map<String, Value>,
) -> Result<(), FnError> {
    let mut job = Map::new();
    job.insert("name".into(), Value::String(path.to_string()));
    job.insert("args".into(), json!([args]));
    job.insert(
        "scheduledTime".into(),
        json!(crate::store::now_nanos() as f64 / 1e6),
    );
    job.insert("state".into(), json!({"kind": "pending"}));
    tx.insert(SCHEDULED_TABLE, job).map_err(FnError::uncaught)?;
    Ok(())
}

fn whole_table(store: &Store) -> Option<ReadRange> {
    let state = store.read();
    let table = state.table(SCHEDULED_TABLE)?;
    Some(ReadRange {
        table: table.number,
        index: BY_CREATION_TIME,
        low: Bound::Included(vec![KeyPart::Min]),
        high: Bound::Included(vec![KeyPart::Max]),
    })
}

/// A claimed job: function path and arguments.
type Job = (String, Map<String, Value>);

/// Claims up to `BATCH` jobs: deletes their rows and returns them.
fn claim_jobs(store: &Store) -> Result<Vec<Job>, FnError> {
    let (claimed, _) = internal::run_mutation(store, |tx| {
        let rows = tx
            .scan_by_creation_time(SCHEDULED_TABLE, BATCH)
            .map_err(FnError::uncaught)?;
        let mut jobs = Vec::with_capacity(rows.len());
        for row in rows {
            tx.delete(row.id).map_err(FnError::uncaught)?;
            let name = row.fields.get("name").cloned().unwrap_or(Value::Null);
            let args = row
                .fields
                .get("args")
                .and_then(|a| a.get(0))
                .cloned()
                .unwrap_or_else(|| json!({}));
            jobs.push(json!([name, args]));
        }
        Ok(Value::Array(jobs))
    })?;
    Ok(claimed
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|job| {
            let name = job.get(0)?.as_str()?.to_string();
            let args = job.get(1)?.as_object()?.clone();
            Some((name, args))
        })
        .collect())
}

/// Runs scheduled jobs until `stop` turns true or the runtime is dropped.
pub fn spawn_scheduler(
    runtime: &Arc<Runtime>,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let weak: Weak<Runtime> = Arc::downgrade(runtime);
    let signal = Arc::new(SessionSignal::default());
    {
        let store = &runtime.store;
        let range = whole_table(store);
        let mut subscriptions = store.subscriptions.lock();
        subscriptions.add_session(SCHEDULER_SESSION, signal.clone());
        if let Some(range) = range {
            subscriptions.register(
                SubKey {
                    session: SCHEDULER_SESSION,
                    query: 0,
                },
                &[range],
            );
        }
    }
    tokio::spawn(async move {
        loop {
            let Some(rt) = weak.upgrade() else { return };
            signal.take_dirty();
            match claim_jobs(&rt.store) {
                Ok(jobs) => {
                    let more = jobs.len() == BATCH;
                    for (path, args) in jobs {
                        let rt = rt.clone();
                        // Each job is its own mutation; run them concurrently
                        // like Convex's scheduler workers.
                        tokio::spawn(async move {
                            if let Err(failure) = rt.run_mutation(&path, args).await {
                                tracing::warn!(%path, "scheduled function failed: {}", failure.error.message);
                            }
                        });
                    }
                    if more {
                        continue;
                    }
                }
                Err(e) => tracing::warn!("scheduler could not claim jobs: {}", e.message),
            }
            drop(rt);
            tokio::select! {
                _ = signal.notify.notified() => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    })
}
