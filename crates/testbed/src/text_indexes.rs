//! The search and vector indexes of the benchmark schema, kept inside each
//! store table so they change in the same commit as the documents (a query
//! at a snapshot sees exactly that snapshot's index), and the transaction
//! side of a search: run it, and record what it read.
//!
//! A search's read set is its filter range: `.eq("channel", c)` reads every
//! `messages_with_search` row of channel `c`. It is recorded as a range of an
//! ordinary index that starts with the filter field (`by_channel_rand`), so
//! the store's conflict checks and subscription invalidation handle searches
//! like any other read: a write in that channel re-runs the search. A search
//! without such an index (or with no filter) reads the whole table.

use std::ops::Bound;
use std::sync::Arc;

use serde_json::Value;

use crate::search_index::{SearchIndex, SearchQuery};
use crate::store::ids::DocId;
use crate::store::schema::{BY_CREATION_TIME, BY_ID};
use crate::store::transaction::Transaction;
use crate::store::{Doc, ReadRange, Table};
use crate::values::KeyPart;
use crate::vector_index::{VectorHit, VectorIndex};

pub struct SearchIndexDef {
    pub table: &'static str,
    pub name: &'static str,
    pub search_field: &'static str,
    pub filter_fields: &'static [&'static str],
}

pub struct VectorIndexDef {
    pub table: &'static str,
    pub name: &'static str,
    pub vector_field: &'static str,
    pub dimensions: usize,
    pub filter_field: &'static str,
}

/// Dimensions of `openclaurd.embedding`.
pub const EMBEDDING_DIMENSIONS: usize = 1536;

pub const SEARCH_INDEXES: &[SearchIndexDef] = &[
    SearchIndexDef {
        table: "messages_with_search",
        name: "search_body",
        search_field: "body",
        filter_fields: &["channel"],
    },
    SearchIndexDef {
        table: "openclaurd",
        name: "search_text",
        search_field: "text",
        filter_fields: &["user"],
    },
];

pub const VECTOR_INDEXES: &[VectorIndexDef] = &[VectorIndexDef {
    table: "openclaurd",
    name: "embedding",
    vector_field: "embedding",
    dimensions: EMBEDDING_DIMENSIONS,
    filter_field: "user",
}];

/// The search and vector indexes of one table.
#[derive(Default)]
pub struct TableTextIndexes {
    search: Vec<(&'static str, SearchIndex<DocId>)>,
    vectors: Vec<(&'static str, VectorIndex<DocId>)>,
}

impl TableTextIndexes {
    pub fn for_table(table: &str) -> TableTextIndexes {
        TableTextIndexes {
            search: SEARCH_INDEXES
                .iter()
                .filter(|d| d.table == table)
                .map(|d| (d.name, SearchIndex::new(d.search_field, d.filter_fields)))
                .collect(),
            vectors: VECTOR_INDEXES
                .iter()
                .filter(|d| d.table == table)
                .map(|d| {
                    (
                        d.name,
                        VectorIndex::new(d.vector_field, d.dimensions, d.filter_field),
                    )
                })
                .collect(),
        }
    }

    /// Index a document that was just added to the table.
    pub fn insert(&mut self, doc: &Doc) {
        for (_, index) in &mut self.search {
            index.insert(doc.id, &doc.fields);
        }
        for (name, index) in &mut self.vectors {
            // Writers check vectors before committing (`check_vectors`);
            // a malformed one that slips through is simply not indexed.
            if let Err(e) = index.insert(doc.id, &doc.fields) {
                tracing::warn!(index = %name, "document not vector-indexed: {e}");
            }
        }
    }

    /// Forget a document that was just removed from the table.
    pub fn remove(&mut self, doc: &Doc) {
        for (_, index) in &mut self.search {
            index.remove(&doc.id);
        }
        for (_, index) in &mut self.vectors {
            index.remove(&doc.id);
        }
    }

    pub fn search_index(&self, name: &str) -> Option<&SearchIndex<DocId>> {
        self.search.iter().find(|(n, _)| *n == name).map(|(_, i)| i)
    }

    pub fn vector_index(&self, name: &str) -> Option<&VectorIndex<DocId>> {
        self.vectors
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, i)| i)
    }
}

/// Refuse a document whose vector field has the wrong shape for one of
/// the table's vector indexes, as Convex does at write time.
pub fn check_vectors(table: &Table, fields: &serde_json::Map<String, Value>) -> Result<(), String> {
    for (name, index) in &table.text.vectors {
        index
            .vector_of(fields)
            .map_err(|e| format!("Vector index \"{name}\" on table \"{}\": {e}", table.name))?;
    }
    Ok(())
}

/// `db.query(table).withSearchIndex(index, q => q.search(..).eq(..)).take(n)`:
/// the matching documents, best first, with the filter range recorded as
/// read.
pub fn search(
    tx: &mut Transaction<'_>,
    table: &str,
    index: &str,
    query: &SearchQuery,
) -> Result<Vec<Arc<Doc>>, String> {
    let state = tx.state();
    let table = state
        .table(table)
        .ok_or_else(|| format!("Table \"{table}\" does not exist in this testbed's schema"))?;
    let search_index = table.text.search_index(index).ok_or_else(|| {
        format!(
            "Search index \"{index}\" does not exist on table \"{}\"",
            table.name
        )
    })?;
    let hits = search_index.search(query).map_err(|e| e.to_string())?;
    let docs = hits
        .iter()
        .filter_map(|hit| table.docs.get(&hit.id).cloned())
        .collect();
    tx.record_read(filter_read_range(table, query));
    Ok(docs)
}

/// The read set of a search: the index range of its filter value when an
/// index starts with the (single) filter field, else the whole table.
fn filter_read_range(table: &Table, query: &SearchQuery) -> ReadRange {
    if let [(field, value)] = query.filters.as_slice()
        && let Some(index) = table
            .index_fields
            .iter()
            .enumerate()
            .position(|(i, fields)| i as u16 != BY_ID && fields.first() == Some(&field.as_str()))
    {
        let part = KeyPart::from_value(Some(value));
        return ReadRange {
            table: table.number,
            index: index as u16,
            low: Bound::Included(vec![part.clone()]),
            high: Bound::Included(vec![part, KeyPart::Max]),
        };
    }
    ReadRange {
        table: table.number,
        index: BY_CREATION_TIME,
        low: Bound::Included(vec![KeyPart::Min]),
        high: Bound::Included(vec![KeyPart::Max]),
    }
}

/// Vector search over a snapshot: the `limit` nearest rows among those
/// whose filter value is one of `filter_values`.
pub fn vector_search(
    state: &crate::store::StoreState,
    table: &str,
    index: &str,
    vector: &[f64],
    limit: usize,
    filter_values: &[Value],
) -> Result<Vec<VectorHit<DocId>>, String> {
    let table = state
        .table(table)
        .ok_or_else(|| format!("Table \"{table}\" does not exist in this testbed's schema"))?;
    let vector_index = table.text.vector_index(index).ok_or_else(|| {
        format!(
            "Vector index \"{index}\" does not exist on table \"{}\"",
            table.name
        )
    })?;
    vector_index
        .search(vector, limit, Some(filter_values))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::internal;
    use crate::store::Store;
    use serde_json::{Map, json};

    fn message(channel: &str, body: &str) -> Map<String, Value> {
        json!({"channel": channel, "timestamp": 0.0, "body": body, "rand": 1.0, "ballastArray": []})
            .as_object()
            .unwrap()
            .clone()
    }

    fn query(text: &str, channel: &str) -> SearchQuery {
        SearchQuery {
            text: text.into(),
            filters: vec![("channel".into(), json!(channel))],
            limit: 10,
        }
    }

    #[test]
    fn commits_update_the_search_index_and_searches_read_their_channel() {
        let store = Store::new();
        let (id, _) = internal::run_mutation(&store, |tx| {
            tx.insert("messages_with_search", message("a", "hello brave world"))
                .map(|id| json!(id.encode()))
                .map_err(crate::functions::FnError::plain)
        })
        .unwrap();
        internal::run_mutation(&store, |tx| {
            tx.insert("messages_with_search", message("b", "hello other"))
                .map(|_| Value::Null)
                .map_err(crate::functions::FnError::plain)
        })
        .unwrap();

        let state = store.read();
        let mut tx = Transaction::new(&state, false);
        let docs = search(
            &mut tx,
            "messages_with_search",
            "search_body",
            &query("brave", "a"),
        )
        .unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(json!(docs[0].id.encode()), id);
        // The read set is channel a's range of by_channel_rand.
        let table = state.table("messages_with_search").unwrap();
        let read = tx.reads().last().unwrap().clone();
        assert_eq!(read.index, table.index_number("by_channel_rand").unwrap());
        let a_key = table.index_key(read.index, &docs[0]);
        assert!(read.contains(&a_key));
        let b_doc = table
            .docs
            .values()
            .find(|d| d.fields["channel"] == "b")
            .unwrap();
        assert!(!read.contains(&table.index_key(read.index, b_doc)));
        drop(tx);
        drop(state);

        // Deleting the document removes it from the index in the same commit.
        let doc_id = crate::store::ids::DocId::decode(id.as_str().unwrap()).unwrap();
        internal::run_mutation(&store, |tx| {
            tx.delete(doc_id)
                .map(|_| Value::Null)
                .map_err(crate::functions::FnError::plain)
        })
        .unwrap();
        let state = store.read();
        let mut tx = Transaction::new(&state, false);
        assert!(
            search(
                &mut tx,
                "messages_with_search",
                "search_body",
                &query("brave", "a")
            )
            .unwrap()
            .is_empty()
        );
        let err = search(&mut tx, "messages", "search_body", &query("x", "a")).unwrap_err();
        assert!(
            err.contains("search_body") && err.contains("messages"),
            "{err}"
        );
    }

    #[test]
    fn wrong_sized_embeddings_are_refused_before_commit() {
        let store = Store::new();
        let state = store.read();
        let table = state.table("openclaurd").unwrap();
        let fields = json!({"user": "u", "embedding": [1.0, 2.0]})
            .as_object()
            .unwrap()
            .clone();
        let err = check_vectors(table, &fields).unwrap_err();
        assert!(err.contains("embedding") && err.contains("1536"), "{err}");
    }
}
