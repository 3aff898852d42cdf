//! Which subscribed query read which index ranges, and marking the
//! subscriptions a commit invalidates.
//!
//! Ranges are bucketed by their first key component when a range pins it
//! (an equality on the first index field, or a point read by id), so a
//! write only examines subscriptions on its own channel or document; other
//! ranges sit in a per-index "wide" list that every write to that index
//! examines.

use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::store::{ReadRange, WrittenKey};
use crate::values::KeyPart;

/// One subscribed query of one session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubKey {
    pub session: u64,
    pub query: u32,
}

/// How a commit tells a session that some of its queries must re-run.
#[derive(Default)]
pub struct SessionSignal {
    dirty: Mutex<HashSet<u32>>,
    pub notify: Notify,
}

impl SessionSignal {
    pub fn has_dirty(&self) -> bool {
        !self.dirty.lock().is_empty()
    }

    pub fn take_dirty(&self) -> HashSet<u32> {
        std::mem::take(&mut *self.dirty.lock())
    }
}

type Ranges = HashMap<SubKey, Vec<ReadRange>>;
/// Where one range of a subscription is filed: its index and pinned part.
type Filing = ((u32, u16), Option<KeyPart>);

#[derive(Default)]
struct IndexSubscriptions {
    pinned: HashMap<KeyPart, Ranges>,
    wide: Ranges,
}

#[derive(Default)]
pub struct SubscriptionIndex {
    signals: HashMap<u64, Arc<SessionSignal>>,
    by_index: HashMap<(u32, u16), IndexSubscriptions>,
    /// Where each subscription's ranges are filed, to remove them.
    filed: HashMap<SubKey, Vec<Filing>>,
    by_session: HashMap<u64, HashSet<u32>>,
}

fn pinned_part(range: &ReadRange) -> Option<KeyPart> {
    let first = |bound: &Bound<Vec<KeyPart>>| match bound {
        Bound::Included(k) | Bound::Excluded(k) => k.first().cloned(),
        Bound::Unbounded => None,
    };
    match (first(&range.low), first(&range.high)) {
        (Some(low), Some(high)) if low == high && !matches!(low, KeyPart::Min | KeyPart::Max) => {
            Some(low)
        }
        _ => None,
    }
}

impl SubscriptionIndex {
    pub fn add_session(&mut self, session: u64, signal: Arc<SessionSignal>) {
        self.signals.insert(session, signal);
    }

    pub fn remove_session(&mut self, session: u64) {
        self.signals.remove(&session);
        if let Some(queries) = self.by_session.remove(&session) {
            for query in queries {
                self.unfile(SubKey { session, query });
            }
        }
    }

    /// Replaces the read set of a subscription.
    pub fn register(&mut self, key: SubKey, reads: &[ReadRange]) {
        self.unfile(key);
        let mut filed = Vec::with_capacity(reads.len());
        for range in reads {
            let slot = (range.table, range.index);
            let pin = pinned_part(range);
            let subs = self.by_index.entry(slot).or_default();
            let ranges = match &pin {
                Some(part) => subs.pinned.entry(part.clone()).or_default(),
                None => &mut subs.wide,
            };
            ranges.entry(key).or_default().push(range.clone());
            filed.push((slot, pin));
        }
        self.filed.insert(key, filed);
        self.by_session
            .entry(key.session)
            .or_default()
            .insert(key.query);
    }

    pub fn unregister(&mut self, key: SubKey) {
        self.unfile(key);
        if let Some(queries) = self.by_session.get_mut(&key.session) {
            queries.remove(&key.query);
        }
    }

    fn unfile(&mut self, key: SubKey) {
        let Some(filed) = self.filed.remove(&key) else {
            return;
        };
        for (slot, pin) in filed {
            let Some(subs) = self.by_index.get_mut(&slot) else {
                continue;
            };
            match pin {
                Some(part) => {
                    if let Some(ranges) = subs.pinned.get_mut(&part) {
                        ranges.remove(&key);
                        if ranges.is_empty() {
                            subs.pinned.remove(&part);
                        }
                    }
                }
                None => {
                    subs.wide.remove(&key);
                }
            }
        }
    }

    /// Marks every subscription whose read ranges contain a written key and
    /// wakes its session.
    pub fn invalidate(&mut self, written: &[WrittenKey]) {
        let mut hits: HashMap<u64, Vec<u32>> = HashMap::new();
        let mut collect = |ranges: &Ranges, key: &Vec<KeyPart>| {
            for (sub, sub_ranges) in ranges {
                if sub_ranges.iter().any(|r| r.contains(key)) {
                    hits.entry(sub.session).or_default().push(sub.query);
                }
            }
        };
        for write in written {
            let Some(subs) = self.by_index.get(&(write.table, write.index)) else {
                continue;
            };
            if let Some(first) = write.key.first()
                && let Some(ranges) = subs.pinned.get(first)
            {
                collect(ranges, &write.key);
            }
            collect(&subs.wide, &write.key);
        }
        for (session, queries) in hits {
            if let Some(signal) = self.signals.get(&session) {
                signal.dirty.lock().extend(queries);
                signal.notify.notify_one();
            }
        }
    }

    pub fn subscription_count(&self) -> usize {
        self.filed.len()
    }
}
