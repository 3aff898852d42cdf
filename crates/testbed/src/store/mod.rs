//! The in-memory document store: tables with ordered indexes, a commit log
//! for optimistic concurrency control, and strictly increasing commit
//! timestamps. One `parking_lot::RwLock` guards the whole state; it is
//! never held across an await (function handlers are synchronous Rust).

pub mod ids;
pub mod schema;
pub mod transaction;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock, RwLockReadGuard};
use serde_json::{Map, Value};

use crate::subscriptions::SubscriptionIndex;
use crate::values::{IndexKey, KeyPart};
use ids::DocId;
use schema::{BY_ID, TABLES};
use transaction::PendingWrite;

/// How many commits the log keeps for conflict checks; a transaction that
/// began before the oldest kept commit is retried rather than validated.
const COMMIT_LOG_CAPACITY: usize = 10_000;

/// A stored document. `fields` holds every field including the system
/// fields `_id` and `_creationTime`, in Convex JSON encoding.
#[derive(Debug)]
pub struct Doc {
    pub id: DocId,
    pub fields: Map<String, Value>,
}

impl Doc {
    pub fn to_value(&self) -> Value {
        Value::Object(self.fields.clone())
    }
}

pub struct Table {
    pub number: u32,
    pub name: &'static str,
    /// Field lists of every index, by index number (`by_id` has none).
    pub index_fields: Vec<&'static [&'static str]>,
    pub index_names: Vec<&'static str>,
    pub docs: HashMap<DocId, Arc<Doc>>,
    /// Ordered entries of every index except `by_id` (index number - 1).
    ordered: Vec<BTreeMap<IndexKey, Arc<Doc>>>,
    /// Search and vector indexes, changed in the same commit as the rows.
    pub text: crate::text_indexes::TableTextIndexes,
}

impl Table {
    fn new(number: u32, def: &schema::TableDef) -> Table {
        let mut index_fields: Vec<&'static [&'static str]> = vec![&[], &["_creationTime"]];
        let mut index_names = vec!["by_id", "by_creation_time"];
        for index in def.indexes {
            index_fields.push(index.fields);
            index_names.push(index.name);
        }
        Table {
            number,
            name: def.name,
            ordered: vec![BTreeMap::new(); index_fields.len() - 1],
            index_fields,
            index_names,
            docs: HashMap::new(),
            text: crate::text_indexes::TableTextIndexes::for_table(def.name),
        }
    }

    pub fn index_number(&self, name: &str) -> Option<u16> {
        self.index_names
            .iter()
            .position(|n| *n == name)
            .map(|i| i as u16)
    }

    /// The key of `doc` in index `index`, ending with the id so that
    /// every key is unique.
    pub fn index_key(&self, index: u16, doc: &Doc) -> IndexKey {
        let fields = self.index_fields[index as usize];
        let mut key = Vec::with_capacity(fields.len() + 1);
        for field in fields {
            key.push(KeyPart::from_value(doc.fields.get(*field)));
        }
        key.push(KeyPart::Id(doc.id));
        key
    }

    pub fn range(
        &self,
        index: u16,
        low: Bound<&IndexKey>,
        high: Bound<&IndexKey>,
    ) -> std::collections::btree_map::Range<'_, IndexKey, Arc<Doc>> {
        self.ordered[index as usize - 1].range::<IndexKey, _>((low, high))
    }

    fn insert(&mut self, doc: Arc<Doc>) {
        for index in 1..self.index_fields.len() as u16 {
            let key = self.index_key(index, &doc);
            self.ordered[index as usize - 1].insert(key, doc.clone());
        }
        self.text.insert(&doc);
        self.docs.insert(doc.id, doc);
    }

    fn remove(&mut self, id: &DocId) -> Option<Arc<Doc>> {
        let doc = self.docs.remove(id)?;
        for index in 1..self.index_fields.len() as u16 {
            let key = self.index_key(index, &doc);
            self.ordered[index as usize - 1].remove(&key);
        }
        self.text.remove(&doc);
        Some(doc)
    }

    /// Every index key `doc` occupies, for conflict checks and invalidation.
    fn written_keys(&self, doc: &Doc, out: &mut Vec<WrittenKey>) {
        for index in 0..self.index_fields.len() as u16 {
            let key = if index == BY_ID {
                vec![KeyPart::Id(doc.id)]
            } else {
                self.index_key(index, doc)
            };
            out.push(WrittenKey {
                table: self.number,
                index,
                key,
            });
        }
    }
}

/// A range of one index that a function read: everything a later write
/// must stay out of for the read to remain valid.
#[derive(Clone, Debug)]
pub struct ReadRange {
    pub table: u32,
    pub index: u16,
    pub low: Bound<IndexKey>,
    pub high: Bound<IndexKey>,
}

impl ReadRange {
    pub fn contains(&self, key: &IndexKey) -> bool {
        let above_low = match &self.low {
            Bound::Included(low) => key >= low,
            Bound::Excluded(low) => key > low,
            Bound::Unbounded => true,
        };
        above_low
            && match &self.high {
                Bound::Included(high) => key <= high,
                Bound::Excluded(high) => key < high,
                Bound::Unbounded => true,
            }
    }
}

/// One index entry that a commit added or removed.
#[derive(Clone, Debug)]
pub struct WrittenKey {
    pub table: u32,
    pub index: u16,
    pub key: IndexKey,
}

struct CommitRecord {
    ts: u64,
    keys: Vec<WrittenKey>,
}

pub struct StoreState {
    tables: Vec<Table>,
    /// Timestamp of the latest commit: reading the state under its lock
    /// observes exactly the commits up to this timestamp.
    pub ts: u64,
    log: VecDeque<CommitRecord>,
    /// Commits at or before this timestamp were dropped from the log.
    log_floor: u64,
}

impl StoreState {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    pub fn table_by_number(&self, number: u32) -> Option<&Table> {
        self.tables.get((number as usize).checked_sub(1)?)
    }

    pub fn table_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.tables.iter().map(|t| t.name)
    }
}

/// A commit lost against a concurrent one; the caller retries.
#[derive(Debug)]
pub struct Conflict;

pub struct Store {
    state: RwLock<StoreState>,
    /// Locked only while the state lock is held (read or write), never the
    /// other way round.
    pub subscriptions: Mutex<SubscriptionIndex>,
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

impl Store {
    pub fn new() -> Store {
        let tables = TABLES
            .iter()
            .enumerate()
            .map(|(i, def)| Table::new(i as u32 + 1, def))
            .collect();
        Store {
            state: RwLock::new(StoreState {
                tables,
                ts: now_nanos(),
                log: VecDeque::new(),
                log_floor: 0,
            }),
            subscriptions: Mutex::new(SubscriptionIndex::default()),
        }
    }

    pub fn read(&self) -> RwLockReadGuard<'_, StoreState> {
        self.state.read()
    }

    /// Validates a transaction that read at `begin_ts` against every commit
    /// since, applies its writes, and marks the subscriptions whose read
    /// ranges the writes touch (`on_commit` runs first, inside the commit).
    /// Returns the commit timestamp; a read-only
    /// transaction commits nothing and gets the current timestamp.
    pub fn commit(
        &self,
        begin_ts: u64,
        reads: &[ReadRange],
        writes: Vec<PendingWrite>,
        on_commit: Option<&(dyn Fn(u64) + Send + Sync)>,
    ) -> Result<u64, Conflict> {
        let mut state = self.state.write();
        if writes.is_empty() {
            let ts = state.ts.max(begin_ts);
            if let Some(on_commit) = on_commit {
                on_commit(ts);
            }
            return Ok(ts);
        }
        if begin_ts < state.log_floor {
            return Err(Conflict);
        }
        for record in state.log.iter().rev() {
            if record.ts <= begin_ts {
                break;
            }
            let touched = record.keys.iter().any(|written| {
                reads.iter().any(|range| {
                    range.table == written.table
                        && range.index == written.index
                        && range.contains(&written.key)
                })
            });
            if touched {
                return Err(Conflict);
            }
        }
        let ts = (state.ts + 1).max(now_nanos());
        let mut keys = Vec::new();
        for write in writes {
            let table = &mut state.tables[write.table as usize - 1];
            if let Some(old) = table.remove(&write.id) {
                table.written_keys(&old, &mut keys);
            }
            if let Some(new) = write.new {
                table.written_keys(&new, &mut keys);
                table.insert(new);
            }
        }
        // Before any session can learn of the commit, so the committing
        // session knows a response of its own is on the way.
        if let Some(on_commit) = on_commit {
            on_commit(ts);
        }
        self.subscriptions.lock().invalidate(&keys);
        state.ts = ts;
        state.log.push_back(CommitRecord { ts, keys });
        while state.log.len() > COMMIT_LOG_CAPACITY {
            let dropped = state.log.pop_front().expect("log is not empty");
            state.log_floor = dropped.ts;
        }
        Ok(ts)
    }
}

pub fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::transaction::Transaction;
    use super::*;

    fn insert_one(store: &Store, channel: &str) -> u64 {
        let parts = {
            let state = store.read();
            let mut tx = Transaction::new(&state, true);
            let mut fields = Map::new();
            fields.insert("channel".into(), Value::String(channel.into()));
            fields.insert("rand".into(), serde_json::json!(1.0));
            tx.insert("messages", fields).unwrap();
            tx.into_parts()
        };
        store
            .commit(parts.begin_ts, &parts.reads, parts.writes, None)
            .unwrap()
    }

    #[test]
    fn commit_timestamps_strictly_increase() {
        let store = Store::new();
        let mut last = store.read().ts;
        for _ in 0..1000 {
            let ts = insert_one(&store, "c");
            assert!(ts > last, "{ts} after {last}");
            last = ts;
        }
        assert_eq!(store.read().table("messages").unwrap().docs.len(), 1000);
    }

    /// A transaction that reads channel `a` of `messages` and inserts into
    /// it, left uncommitted.
    fn read_channel_a_then_insert(store: &Store) -> transaction::TransactionParts {
        let state = store.read();
        let mut tx = Transaction::new(&state, true);
        let channel = Value::String("a".into());
        tx.index_range(
            "messages",
            "by_channel_rand",
            &[&channel],
            transaction::RangeBound::Unbounded,
            transaction::RangeBound::Unbounded,
            transaction::Order::Asc,
            10,
        )
        .unwrap();
        let mut fields = Map::new();
        fields.insert("channel".into(), Value::String("a".into()));
        tx.insert("messages", fields).unwrap();
        tx.into_parts()
    }

    #[test]
    fn inserts_into_unread_ranges_do_not_conflict() {
        let store = Store::new();
        let reader = read_channel_a_then_insert(&store);
        insert_one(&store, "b");
        assert!(
            store
                .commit(reader.begin_ts, &reader.reads, reader.writes, None)
                .is_ok(),
            "a write to channel b does not touch a read of channel a"
        );
        let conflicting = read_channel_a_then_insert(&store);
        insert_one(&store, "a");
        assert!(
            store
                .commit(
                    conflicting.begin_ts,
                    &conflicting.reads,
                    conflicting.writes,
                    None
                )
                .is_err()
        );
    }
}
