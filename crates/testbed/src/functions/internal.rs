//! Running a closure as its own query or mutation transaction, outside the
//! public registry: for component functions (which clients cannot call),
//! the scheduler's bookkeeping and the export status record.

use serde_json::Value;

use super::FnError;
use crate::store::Store;
use crate::store::transaction::Transaction;

/// Conflicts lost before giving up; internal writes touch tiny tables, so
/// this is only reached under pathological contention.
const MAX_ATTEMPTS: u32 = 1000;

/// Runs `body` in a read-only transaction at the current snapshot.
pub fn run_query(
    store: &Store,
    body: impl Fn(&mut Transaction<'_>) -> Result<Value, FnError>,
) -> Result<Value, FnError> {
    let state = store.read();
    let mut tx = Transaction::new(&state, false);
    body(&mut tx)
}

/// Runs `body` as an optimistic transaction, retried on conflict; returns
/// its value and commit timestamp.
pub fn run_mutation(
    store: &Store,
    body: impl Fn(&mut Transaction<'_>) -> Result<Value, FnError>,
) -> Result<(Value, u64), FnError> {
    for _ in 0..MAX_ATTEMPTS {
        let (value, parts) = {
            let state = store.read();
            let mut tx = Transaction::new(&state, true);
            let value = body(&mut tx)?;
            (value, tx.into_parts())
        };
        if let Ok(ts) = store.commit(parts.begin_ts, &parts.reads, parts.writes, None) {
            return Ok((value, ts));
        }
    }
    Err(FnError::plain(format!(
        "internal mutation lost {MAX_ATTEMPTS} optimistic concurrency conflicts in a row"
    )))
}
