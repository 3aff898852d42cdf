//! The API function handlers run against. Reads go to one consistent
//! snapshot (the state under its read lock) and are recorded as index
//! ranges; writes are buffered until `Store::commit`.
//!
//! Limitation: index range reads do not see the transaction's own pending
//! writes (point reads by id do). None of the benchmark functions read a
//! range after writing to it.

use std::ops::Bound;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::ids::DocId;
use super::schema::{BY_CREATION_TIME, BY_ID};
use super::{Doc, ReadRange, StoreState, Table};
use crate::values::{IndexKey, KeyPart, check_user_field_names};

#[derive(Debug)]
pub struct PendingWrite {
    pub table: u32,
    pub id: DocId,
    pub new: Option<Arc<Doc>>,
}

/// Bounds on the field after an equality prefix.
pub enum RangeBound<'a> {
    Unbounded,
    Inclusive(&'a Value),
    Exclusive(&'a Value),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

pub struct Transaction<'s> {
    state: &'s StoreState,
    writable: bool,
    reads: Vec<ReadRange>,
    writes: Vec<PendingWrite>,
    log_lines: Vec<String>,
    last_creation_time: f64,
}

pub struct TransactionParts {
    pub begin_ts: u64,
    pub reads: Vec<ReadRange>,
    pub writes: Vec<PendingWrite>,
    pub log_lines: Vec<String>,
}

impl<'s> Transaction<'s> {
    pub fn new(state: &'s StoreState, writable: bool) -> Transaction<'s> {
        Transaction {
            state,
            writable,
            reads: Vec::new(),
            writes: Vec::new(),
            log_lines: Vec::new(),
            last_creation_time: 0.0,
        }
    }

    pub fn into_parts(self) -> TransactionParts {
        TransactionParts {
            begin_ts: self.state.ts,
            reads: self.reads,
            writes: self.writes,
            log_lines: self.log_lines,
        }
    }

    pub fn reads(&self) -> &[ReadRange] {
        &self.reads
    }

    /// The snapshot this transaction reads (for search and vector indexes,
    /// which record their own read ranges with `record_read`).
    pub fn state(&self) -> &'s StoreState {
        self.state
    }

    /// Adds a range to the read set (conflicts and subscriptions).
    pub fn record_read(&mut self, range: ReadRange) {
        self.reads.push(range);
    }

    /// A `console.log` line, formatted like Convex's log lines.
    pub fn log(&mut self, line: &str) {
        self.log_lines.push(format!("[LOG] '{line}'"));
    }

    fn table(&self, name: &str) -> Result<&'s Table, String> {
        self.state
            .table(name)
            .ok_or_else(|| format!("Table \"{name}\" does not exist in this testbed's schema"))
    }

    pub fn table_number(&self, name: &str) -> Result<u32, String> {
        Ok(self.table(name)?.number)
    }

    pub fn table_name(&self, number: u32) -> Option<&'static str> {
        self.state.table_by_number(number).map(|t| t.name)
    }

    /// `db.get(id)`: the document or None, including this transaction's
    /// own writes.
    pub fn get(&mut self, id: DocId) -> Option<Arc<Doc>> {
        self.reads.push(ReadRange {
            table: id.table,
            index: BY_ID,
            low: Bound::Included(vec![KeyPart::Id(id)]),
            high: Bound::Included(vec![KeyPart::Id(id)]),
        });
        if let Some(write) = self.writes.iter().rev().find(|w| w.id == id) {
            return write.new.clone();
        }
        self.state.table_by_number(id.table)?.docs.get(&id).cloned()
    }

    /// `db.query(table).withIndex(index, q => q.eq(..)...).take(limit)`:
    /// equality on the leading fields, then an optional range on the next.
    /// Records the range actually read: when `limit` stops the scan early,
    /// only up to the last document returned.
    #[allow(clippy::too_many_arguments)]
    pub fn index_range(
        &mut self,
        table: &str,
        index: &str,
        eq: &[&Value],
        lower: RangeBound<'_>,
        upper: RangeBound<'_>,
        order: Order,
        limit: usize,
    ) -> Result<Vec<Arc<Doc>>, String> {
        let table = self.table(table)?;
        let index_number = table
            .index_number(index)
            .filter(|i| *i != BY_ID)
            .ok_or_else(|| {
                format!(
                    "Index \"{index}\" does not exist on table \"{}\"",
                    table.name
                )
            })?;
        let fields = table.index_fields[index_number as usize];
        let ranged = !matches!(
            (&lower, &upper),
            (RangeBound::Unbounded, RangeBound::Unbounded)
        );
        if eq.len() + usize::from(ranged) > fields.len() {
            return Err(format!(
                "Index \"{index}\" has {} fields; the query constrains {}",
                fields.len(),
                eq.len() + usize::from(ranged)
            ));
        }
        let prefix: IndexKey = eq.iter().map(|v| KeyPart::from_value(Some(v))).collect();
        let with = |v: &Value, sentinel: Option<KeyPart>| {
            let mut key = prefix.clone();
            key.push(KeyPart::from_value(Some(v)));
            key.extend(sentinel);
            key
        };
        let low = match lower {
            RangeBound::Unbounded => Bound::Included(prefix.clone()),
            RangeBound::Inclusive(v) => Bound::Included(with(v, None)),
            RangeBound::Exclusive(v) => Bound::Excluded(with(v, Some(KeyPart::Max))),
        };
        let high = match upper {
            RangeBound::Unbounded => {
                let mut key = prefix.clone();
                key.push(KeyPart::Max);
                Bound::Included(key)
            }
            RangeBound::Inclusive(v) => Bound::Included(with(v, Some(KeyPart::Max))),
            RangeBound::Exclusive(v) => Bound::Excluded(with(v, None)),
        };
        let range = table.range(index_number, as_ref(&low), as_ref(&high));
        let mut docs = Vec::with_capacity(limit.min(64));
        // The key of the last document taken when `limit` cut the scan short.
        let mut stopped_at: Option<&IndexKey> = None;
        let mut take = |(key, doc): (&'s IndexKey, &'s Arc<Doc>)| {
            docs.push(doc.clone());
            if docs.len() >= limit {
                stopped_at = Some(key);
                return false;
            }
            true
        };
        if limit > 0 {
            match order {
                Order::Asc => {
                    for entry in range {
                        if !take(entry) {
                            break;
                        }
                    }
                }
                Order::Desc => {
                    for entry in range.rev() {
                        if !take(entry) {
                            break;
                        }
                    }
                }
            }
        }
        let (low, high) = match (stopped_at, order) {
            (Some(last), Order::Asc) => (low, Bound::Included(last.clone())),
            (Some(last), Order::Desc) => (Bound::Included(last.clone()), high),
            (None, _) => (low, high),
        };
        self.reads.push(ReadRange {
            table: table.number,
            index: index_number,
            low,
            high,
        });
        Ok(docs)
    }

    /// `db.insert(table, fields)`.
    pub fn insert(&mut self, table: &str, fields: Map<String, Value>) -> Result<DocId, String> {
        self.ensure_writable()?;
        check_user_field_names(&fields)?;
        let number = self.table(table)?.number;
        let id = DocId::random(number);
        // Creation times are milliseconds with a fraction, strictly
        // increasing within a transaction so `by_creation_time` keeps
        // insertion order.
        let now = crate::store::now_nanos() as f64 / 1e6;
        let creation_time = if now > self.last_creation_time {
            now
        } else {
            self.last_creation_time + 0.001
        };
        self.last_creation_time = creation_time;
        let mut all = Map::with_capacity(fields.len() + 2);
        all.insert("_id".into(), Value::String(id.encode()));
        all.insert("_creationTime".into(), serde_json::json!(creation_time));
        all.extend(fields);
        self.writes.push(PendingWrite {
            table: number,
            id,
            new: Some(Arc::new(Doc { id, fields: all })),
        });
        Ok(id)
    }

    /// `db.patch(id, fields)`: shallow merge; a `null`-free patch only.
    pub fn patch(&mut self, id: DocId, fields: Map<String, Value>) -> Result<(), String> {
        self.ensure_writable()?;
        check_user_field_names(&fields)?;
        let current = self
            .get(id)
            .ok_or_else(|| format!("Document with id {id} does not exist"))?;
        let mut merged = current.fields.clone();
        merged.extend(fields);
        self.put(id, Some(Arc::new(Doc { id, fields: merged })));
        Ok(())
    }

    /// `db.delete(id)`.
    pub fn delete(&mut self, id: DocId) -> Result<(), String> {
        self.ensure_writable()?;
        if self.get(id).is_none() {
            return Err(format!("Document with id {id} does not exist"));
        }
        self.put(id, None);
        Ok(())
    }

    fn put(&mut self, id: DocId, new: Option<Arc<Doc>>) {
        if let Some(write) = self.writes.iter_mut().find(|w| w.id == id) {
            write.new = new;
        } else {
            self.writes.push(PendingWrite {
                table: id.table,
                id,
                new,
            });
        }
    }

    fn ensure_writable(&self) -> Result<(), String> {
        if self.writable {
            Ok(())
        } else {
            Err("Queries cannot write to the database; use a mutation".to_string())
        }
    }

    /// Number of documents in a table (not recorded as a read: for tests
    /// and diagnostics only, never for function handlers).
    pub fn count_unrecorded(&self, table: &str) -> Result<usize, String> {
        Ok(self.table(table)?.docs.len())
    }

    /// Scans a table in creation order, recording the full scan.
    pub fn scan_by_creation_time(
        &mut self,
        table: &str,
        limit: usize,
    ) -> Result<Vec<Arc<Doc>>, String> {
        let name = self.table(table)?.index_names[BY_CREATION_TIME as usize];
        self.index_range(
            table,
            name,
            &[],
            RangeBound::Unbounded,
            RangeBound::Unbounded,
            Order::Asc,
            limit,
        )
    }
}

fn as_ref(bound: &Bound<IndexKey>) -> Bound<&IndexKey> {
    match bound {
        Bound::Included(k) => Bound::Included(k),
        Bound::Excluded(k) => Bound::Excluded(k),
        Bound::Unbounded => Bound::Unbounded,
    }
}
