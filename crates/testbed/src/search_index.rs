//! Full-text search index: the testbed's stand-in for a Convex search index
//! (`searchIndex("search_body", {searchField: "body", filterFields: ["channel"]})`).
//!
//! Semantics follow what Convex documents for its Tantivy-based search:
//! - text is split on every non-alphanumeric character and lower-cased;
//!   tokens longer than [`MAX_TOKEN_BYTES`] are dropped (Tantivy's default);
//! - a query matches a document that contains ANY of its terms (OR), ranked
//!   by BM25; the LAST query term also matches every indexed term it is a
//!   prefix of (type-ahead search);
//! - filter fields are compared for exact equality (`.eq("channel", c)`);
//! - at most [`MAX_QUERY_TERMS`] query terms are used (the first ones) and at
//!   most [`MAX_RESULTS`] documents are returned;
//! - documents whose search field is not a string are not indexed.
//!
//! The index is incremental: `insert` (which also replaces), `remove`. It is
//! generic over the document id type so the store can use its own ids.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::ops::Bound;

use serde_json::{Map, Value};

/// Tokens longer than this (in bytes) are not indexed or searched.
pub const MAX_TOKEN_BYTES: usize = 40;
/// Query terms after this many are ignored.
pub const MAX_QUERY_TERMS: usize = 16;
/// A search never returns more documents than this.
pub const MAX_RESULTS: usize = 1024;

// Standard BM25 constants (the values Tantivy uses).
const BM25_K1: f64 = 1.2;
const BM25_B: f64 = 0.75;

/// Split text into lower-cased alphanumeric tokens.
pub fn tokenize(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN_BYTES)
        .map(str::to_lowercase)
        .collect()
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SearchError {
    #[error(
        "search filter field `{field}` is not a filter field of this search index (filter fields: {known:?})"
    )]
    UnknownFilterField { field: String, known: Vec<String> },
}

/// One search query: text, equality filters, result limit.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    pub text: String,
    /// `(filter field, value)` pairs; a document must equal all of them.
    pub filters: Vec<(String, Value)>,
    pub limit: usize,
}

impl SearchQuery {
    /// Whether a write of `doc` (either its old or its new version) can
    /// change this query's result: true when the document lies in the
    /// query's filter range. Used by reactivity to invalidate subscriptions.
    /// Deliberately conservative: it ignores the search terms, so a write in
    /// the same channel re-runs the query even when no term matches.
    pub fn read_covers(&self, doc: &Map<String, Value>) -> bool {
        self.filters
            .iter()
            .all(|(field, want)| doc.get(field).unwrap_or(&Value::Null) == want)
    }
}

/// A ranked result.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit<K> {
    pub id: K,
    pub score: f64,
}

#[derive(Debug, Clone)]
struct IndexedDoc<K> {
    id: K,
    /// Distinct terms of the document with their frequency.
    term_freqs: Vec<(String, u32)>,
    /// Token count (the BM25 document length).
    len: u32,
    /// One interned value per filter field (absent fields intern `null`).
    filter_values: Vec<u32>,
    /// Insertion order, newest largest; breaks score ties newest-first.
    seq: u64,
}

/// An incremental BM25 search index over one string field.
///
/// Documents live in dense slots so that a query accumulates scores in
/// plain vectors instead of hash maps; filter values are interned to
/// integers so the filter check per posting is an integer compare. A query
/// costs O(postings of its terms) plus O(matches) for top-k selection.
#[derive(Debug, Clone)]
pub struct SearchIndex<K> {
    search_field: String,
    filter_fields: Vec<String>,
    /// Document id -> slot.
    slots: HashMap<K, u32>,
    /// Slot -> document; `None` for free slots.
    docs: Vec<Option<IndexedDoc<K>>>,
    free_slots: Vec<u32>,
    /// term -> (slot -> term frequency). Ordered so that prefix expansion is
    /// a range scan.
    postings: BTreeMap<String, HashMap<u32, u32>>,
    /// Filter value (its JSON text) -> interned number.
    interned: HashMap<String, u32>,
    total_len: u64,
    next_seq: u64,
}

impl<K: Clone + Eq + Hash> SearchIndex<K> {
    pub fn new(search_field: impl Into<String>, filter_fields: &[&str]) -> Self {
        Self {
            search_field: search_field.into(),
            filter_fields: filter_fields.iter().map(|f| f.to_string()).collect(),
            slots: HashMap::new(),
            docs: Vec::new(),
            free_slots: Vec::new(),
            postings: BTreeMap::new(),
            interned: HashMap::new(),
            total_len: 0,
            next_seq: 0,
        }
    }

    pub fn search_field(&self) -> &str {
        &self.search_field
    }

    pub fn filter_fields(&self) -> &[String] {
        &self.filter_fields
    }

    /// Number of indexed documents.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn intern(&mut self, value: &Value) -> u32 {
        let next = self.interned.len() as u32;
        *self.interned.entry(value.to_string()).or_insert(next)
    }

    /// Index `doc` under `id`, replacing any earlier version. A document
    /// whose search field is missing or not a string is (only) removed.
    pub fn insert(&mut self, id: K, doc: &Map<String, Value>) {
        self.remove(&id);
        let Some(Value::String(text)) = doc.get(&self.search_field) else {
            return;
        };
        let tokens = tokenize(text);
        let mut freqs: HashMap<String, u32> = HashMap::new();
        for token in &tokens {
            *freqs.entry(token.clone()).or_default() += 1;
        }
        let slot = match self.free_slots.pop() {
            Some(slot) => slot,
            None => {
                self.docs.push(None);
                (self.docs.len() - 1) as u32
            }
        };
        let term_freqs: Vec<(String, u32)> = freqs.into_iter().collect();
        for (term, tf) in &term_freqs {
            self.postings
                .entry(term.clone())
                .or_default()
                .insert(slot, *tf);
        }
        let len = u32::try_from(tokens.len()).unwrap_or(u32::MAX);
        self.total_len += u64::from(len);
        let filter_values = self
            .filter_fields
            .clone()
            .iter()
            .map(|f| self.intern(doc.get(f).unwrap_or(&Value::Null)))
            .collect();
        self.next_seq += 1;
        self.docs[slot as usize] = Some(IndexedDoc {
            id: id.clone(),
            term_freqs,
            len,
            filter_values,
            seq: self.next_seq,
        });
        self.slots.insert(id, slot);
    }

    /// Remove `id`; returns whether it was indexed.
    pub fn remove(&mut self, id: &K) -> bool {
        let Some(slot) = self.slots.remove(id) else {
            return false;
        };
        let old = self.docs[slot as usize]
            .take()
            .expect("slot of an indexed document");
        self.total_len -= u64::from(old.len);
        for (term, _) in &old.term_freqs {
            if let Some(list) = self.postings.get_mut(term) {
                list.remove(&slot);
                if list.is_empty() {
                    self.postings.remove(term);
                }
            }
        }
        self.free_slots.push(slot);
        true
    }

    /// Run a query; best match first, ties newest first.
    pub fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit<K>>, SearchError> {
        let Some(filter) = self.resolve_filters(&query.filters)? else {
            // A filter value no document ever had.
            return Ok(Vec::new());
        };
        let mut terms = tokenize(&query.text);
        terms.truncate(MAX_QUERY_TERMS);
        let limit = query.limit.min(MAX_RESULTS);
        if terms.is_empty() || limit == 0 || self.slots.is_empty() {
            return Ok(Vec::new());
        }
        let prefix = terms.pop().expect("non-empty");
        terms.sort();
        terms.dedup();
        terms.retain(|t| *t != prefix);

        let doc_count = self.slots.len() as f64;
        let avg_len = (self.total_len as f64 / doc_count).max(1.0);
        let idf = |docs_with_term: usize| {
            let n = docs_with_term as f64;
            (1.0 + (doc_count - n + 0.5) / (n + 0.5)).ln()
        };
        // Scores by slot; `matched` lists the slots with a non-zero score.
        let mut scores = vec![0.0f64; self.docs.len()];
        let mut matched: Vec<u32> = Vec::new();
        let mut add_postings = |list: &HashMap<u32, u32>, best_only: &mut Option<Vec<f64>>| {
            let term_idf = idf(list.len());
            for (&slot, &tf) in list {
                let doc = self.docs[slot as usize]
                    .as_ref()
                    .expect("posting of an indexed document");
                if !filter.matches(doc) {
                    continue;
                }
                let tf = f64::from(tf);
                let norm = BM25_K1 * (1.0 - BM25_B + BM25_B * f64::from(doc.len) / avg_len);
                let weight = term_idf * tf * (BM25_K1 + 1.0) / (tf + norm);
                match best_only {
                    None => {
                        if scores[slot as usize] == 0.0 {
                            matched.push(slot);
                        }
                        scores[slot as usize] += weight;
                    }
                    Some(best) => {
                        let best = &mut best[slot as usize];
                        if weight > *best {
                            *best = weight;
                        }
                    }
                }
            }
        };
        for term in &terms {
            if let Some(list) = self.postings.get(term) {
                add_postings(list, &mut None);
            }
        }
        // The last term counts once per document: its best-scoring expansion
        // (an exact match is one of the expansions).
        let mut prefix_best = Some(vec![0.0f64; self.docs.len()]);
        for (_, list) in self
            .postings
            .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
            .take_while(|(term, _)| term.starts_with(&prefix))
        {
            add_postings(list, &mut prefix_best);
        }
        let prefix_best = prefix_best.expect("set above");
        for (slot, best) in prefix_best.iter().enumerate() {
            if *best > 0.0 {
                if scores[slot] == 0.0 {
                    matched.push(slot as u32);
                }
                scores[slot] += best;
            }
        }

        let seq = |slot: u32| self.docs[slot as usize].as_ref().map_or(0, |d| d.seq);
        let better = |a: &u32, b: &u32| {
            scores[*b as usize]
                .total_cmp(&scores[*a as usize])
                .then(seq(*b).cmp(&seq(*a)))
        };
        if matched.len() > limit {
            matched.select_nth_unstable_by(limit - 1, better);
            matched.truncate(limit);
        }
        matched.sort_unstable_by(better);
        Ok(matched
            .into_iter()
            .map(|slot| SearchHit {
                id: self.docs[slot as usize]
                    .as_ref()
                    .expect("matched slot")
                    .id
                    .clone(),
                score: scores[slot as usize],
            })
            .collect())
    }

    /// Filters as (position in `filter_values`, interned value); `None`
    /// when a value was never indexed, so nothing can match.
    fn resolve_filters(
        &self,
        filters: &[(String, Value)],
    ) -> Result<Option<ResolvedFilter>, SearchError> {
        let mut resolved = Vec::with_capacity(filters.len());
        for (field, value) in filters {
            let Some(pos) = self.filter_fields.iter().position(|f| f == field) else {
                return Err(SearchError::UnknownFilterField {
                    field: field.clone(),
                    known: self.filter_fields.clone(),
                });
            };
            match self.interned.get(&value.to_string()) {
                Some(interned) => resolved.push((pos, *interned)),
                None => return Ok(None),
            }
        }
        Ok(Some(ResolvedFilter(resolved)))
    }
}

/// Filters as positions into a document's `filter_values`.
struct ResolvedFilter(Vec<(usize, u32)>);

impl ResolvedFilter {
    fn matches<K>(&self, doc: &IndexedDoc<K>) -> bool {
        self.0
            .iter()
            .all(|(pos, want)| doc.filter_values[*pos] == *want)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(channel: &str, body: &str) -> Map<String, Value> {
        json!({"channel": channel, "body": body})
            .as_object()
            .unwrap()
            .clone()
    }

    fn query(text: &str, channel: &str, limit: usize) -> SearchQuery {
        SearchQuery {
            text: text.into(),
            filters: vec![("channel".into(), json!(channel))],
            limit,
        }
    }

    fn ids(hits: &[SearchHit<u32>]) -> Vec<u32> {
        hits.iter().map(|h| h.id).collect()
    }

    fn index() -> SearchIndex<u32> {
        SearchIndex::new("body", &["channel"])
    }

    #[test]
    fn tokenizer_splits_on_punctuation_and_lowercases() {
        assert_eq!(
            tokenize("Hello, World!  it's  Ünïcode-42"),
            vec!["hello", "world", "it", "s", "ünïcode", "42"]
        );
        let long = "x".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(tokenize(&format!("a {long} b")), vec!["a", "b"]);
    }

    #[test]
    fn exact_body_is_top_hit_among_overlapping_documents() {
        let mut idx = index();
        idx.insert(1, &doc("global", "apple banana cherry"));
        idx.insert(2, &doc("global", "apple banana"));
        idx.insert(3, &doc("global", "banana split dessert"));
        idx.insert(4, &doc("global", "durian elderberry fig"));
        let hits = idx
            .search(&query("apple banana cherry", "global", 10))
            .unwrap();
        assert_eq!(ids(&hits), vec![1, 2, 3]);
        assert!(hits[0].score > hits[1].score && hits[1].score > hits[2].score);
    }

    #[test]
    fn rare_terms_outweigh_common_ones() {
        let mut idx = index();
        for i in 0..10 {
            idx.insert(i, &doc("c", "common filler words"));
        }
        idx.insert(100, &doc("c", "common rare"));
        idx.insert(101, &doc("c", "common words"));
        let hits = idx.search(&query("rare common", "c", 3)).unwrap();
        assert_eq!(hits[0].id, 100);
        assert_eq!(hits.len(), 3);
    }

    #[test]
    fn last_term_is_prefix_matched_but_earlier_terms_are_not() {
        let mut idx = index();
        idx.insert(1, &doc("c", "searching quickly"));
        idx.insert(2, &doc("c", "seahorse"));
        idx.insert(3, &doc("c", "other"));
        assert_eq!(ids(&idx.search(&query("sea", "c", 10)).unwrap()).len(), 2);
        let hits = idx.search(&query("quick", "c", 10)).unwrap();
        assert_eq!(ids(&hits), vec![1]);
        // "sea" as a non-final term needs an exact token.
        assert!(
            idx.search(&query("sea other", "c", 10))
                .unwrap()
                .iter()
                .all(|h| h.id == 3)
        );
    }

    #[test]
    fn filter_restricts_results_and_unknown_filter_field_is_an_error() {
        let mut idx = index();
        idx.insert(1, &doc("a", "hello world"));
        idx.insert(2, &doc("b", "hello world"));
        assert_eq!(ids(&idx.search(&query("hello", "b", 10)).unwrap()), vec![2]);
        assert!(idx.search(&query("hello", "zzz", 10)).unwrap().is_empty());
        let bad = SearchQuery {
            text: "hello".into(),
            filters: vec![("user".into(), json!("x"))],
            limit: 10,
        };
        let err = idx.search(&bad).unwrap_err().to_string();
        assert!(err.contains("`user`") && err.contains("channel"), "{err}");
    }

    #[test]
    fn replace_and_delete_update_the_index() {
        let mut idx = index();
        idx.insert(1, &doc("c", "old text"));
        idx.insert(1, &doc("c", "new words"));
        assert!(idx.search(&query("old", "c", 10)).unwrap().is_empty());
        assert_eq!(ids(&idx.search(&query("new", "c", 10)).unwrap()), vec![1]);
        assert_eq!(idx.len(), 1);
        assert!(idx.remove(&1));
        assert!(!idx.remove(&1));
        assert!(idx.search(&query("new", "c", 10)).unwrap().is_empty());
        assert!(idx.is_empty());
        assert!(idx.postings.is_empty(), "postings must not leak");
        assert_eq!(idx.total_len, 0);
    }

    #[test]
    fn non_string_search_field_is_not_indexed() {
        let mut idx = index();
        idx.insert(
            1,
            &json!({"channel": "c", "body": 5})
                .as_object()
                .unwrap()
                .clone(),
        );
        idx.insert(2, &json!({"channel": "c"}).as_object().unwrap().clone());
        assert!(idx.is_empty());
    }

    #[test]
    fn limit_is_applied_and_ties_are_newest_first() {
        let mut idx = index();
        for i in 0..5 {
            idx.insert(i, &doc("c", "same body"));
        }
        let hits = idx.search(&query("same body", "c", 3)).unwrap();
        assert_eq!(ids(&hits), vec![4, 3, 2]);
        assert!(idx.search(&query("same", "c", 0)).unwrap().is_empty());
        assert!(idx.search(&query("  ,, ", "c", 5)).unwrap().is_empty());
    }

    #[test]
    fn read_covers_documents_in_the_filter_range_only() {
        let q = query("anything", "global", 10);
        assert!(q.read_covers(&doc("global", "unrelated")));
        assert!(!q.read_covers(&doc("other", "anything")));
        let unfiltered = SearchQuery {
            text: "x".into(),
            filters: vec![],
            limit: 1,
        };
        assert!(unfiltered.read_covers(&doc("other", "y")));
    }

    #[test]
    fn repeated_terms_raise_the_score() {
        let mut idx = index();
        idx.insert(1, &doc("c", "zebra"));
        idx.insert(2, &doc("c", "zebra zebra"));
        idx.insert(3, &doc("c", "lion"));
        let hits = idx.search(&query("zebra", "c", 10)).unwrap();
        assert_eq!(ids(&hits), vec![2, 1]);
    }
}
