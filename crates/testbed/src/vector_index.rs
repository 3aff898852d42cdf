//! Exact vector index: the testbed's stand-in for a Convex vector index
//! (`vectorIndex("embedding", {vectorField: "embedding", dimensions: 1536,
//! filterFields: ["user"]})`).
//!
//! Search is brute force: cosine similarity against every stored vector
//! whose filter value is one of the requested ones, keeping the best `limit`
//! in a bounded heap. Vectors are stored unit-normalised as f32 in one
//! contiguous buffer per filter value, so a search touches only the groups
//! it asks for and runs at memory bandwidth: O(n_matching * d) time, O(k)
//! extra space. Scores are cosine similarities in [-1, 1], like Convex's
//! `_score`.
//!
//! Convex limits that are enforced here: `limit` in 1..=256 (default 10 is
//! the caller's business), the query vector must have the index's dimension.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;

use serde_json::{Map, Value};

/// Largest `limit` Convex accepts for a vector search.
pub const MAX_LIMIT: usize = 256;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VectorError {
    #[error("vector field `{field}` has {got} dimensions, the index expects {expected}")]
    WrongDimensions {
        field: String,
        got: usize,
        expected: usize,
    },
    #[error("vector field `{field}` element {position} is not a finite number: {value}")]
    NotANumber {
        field: String,
        position: usize,
        value: String,
    },
    #[error("vector search limit must be between 1 and {MAX_LIMIT}, got {0}")]
    BadLimit(usize),
}

/// A ranked result; `score` is the cosine similarity in [-1, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct VectorHit<K> {
    pub id: K,
    pub score: f64,
}

/// Vectors sharing one filter value, stored contiguously.
#[derive(Debug, Clone)]
struct Group<K> {
    ids: Vec<K>,
    /// `ids.len() * dims` unit-normalised components.
    vectors: Vec<f32>,
}

/// An incremental exact-cosine vector index with one equality filter field.
#[derive(Debug, Clone)]
pub struct VectorIndex<K> {
    vector_field: String,
    filter_field: String,
    dims: usize,
    /// Keyed by the canonical JSON text of the filter value.
    groups: HashMap<String, Group<K>>,
    /// Where each id lives: (group key, slot within the group).
    locations: HashMap<K, (String, usize)>,
}

/// A filter value's group key: its JSON text (`"alice"` and `5` differ).
fn group_key(value: &Value) -> String {
    value.to_string()
}

impl<K: Clone + Eq + Hash> VectorIndex<K> {
    pub fn new(
        vector_field: impl Into<String>,
        dims: usize,
        filter_field: impl Into<String>,
    ) -> Self {
        Self {
            vector_field: vector_field.into(),
            filter_field: filter_field.into(),
            dims,
            groups: HashMap::new(),
            locations: HashMap::new(),
        }
    }

    pub fn dims(&self) -> usize {
        self.dims
    }

    pub fn vector_field(&self) -> &str {
        &self.vector_field
    }

    pub fn filter_field(&self) -> &str {
        &self.filter_field
    }

    pub fn len(&self) -> usize {
        self.locations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.locations.is_empty()
    }

    /// Check a document's vector field before it is written. `Ok(None)`:
    /// the document has no array in the vector field and is not indexed
    /// (as in Convex). `Err`: an array of the wrong shape, which Convex
    /// rejects at write time.
    pub fn vector_of(&self, doc: &Map<String, Value>) -> Result<Option<Vec<f32>>, VectorError> {
        let Some(Value::Array(items)) = doc.get(&self.vector_field) else {
            return Ok(None);
        };
        parse_vector(&self.vector_field, items, self.dims).map(Some)
    }

    /// Index `doc` under `id`, replacing any earlier version. On error the
    /// earlier version is left in place.
    pub fn insert(&mut self, id: K, doc: &Map<String, Value>) -> Result<(), VectorError> {
        let vector = self.vector_of(doc)?;
        self.remove(&id);
        let Some(mut vector) = vector else {
            return Ok(());
        };
        normalize(&mut vector);
        let key = group_key(doc.get(&self.filter_field).unwrap_or(&Value::Null));
        let group = self.groups.entry(key.clone()).or_insert_with(|| Group {
            ids: Vec::new(),
            vectors: Vec::new(),
        });
        let slot = group.ids.len();
        group.ids.push(id.clone());
        group.vectors.extend_from_slice(&vector);
        self.locations.insert(id, (key, slot));
        Ok(())
    }

    /// Remove `id`; returns whether it was indexed.
    pub fn remove(&mut self, id: &K) -> bool {
        let Some((key, slot)) = self.locations.remove(id) else {
            return false;
        };
        let group = self
            .groups
            .get_mut(&key)
            .expect("location points at a group");
        let last = group.ids.len() - 1;
        // swap_remove keeps the buffer dense; the moved entry gets its new slot.
        group.ids.swap_remove(slot);
        if slot != last {
            let d = self.dims;
            group
                .vectors
                .copy_within(last * d..(last + 1) * d, slot * d);
            let moved = group.ids[slot].clone();
            self.locations.insert(moved, (key.clone(), slot));
        }
        group.vectors.truncate(last * self.dims);
        if group.ids.is_empty() {
            self.groups.remove(&key);
        }
        true
    }

    /// The `limit` stored vectors most similar to `query`, best first,
    /// among documents whose filter value is one of `filter_values` (all
    /// documents when `None`). Equal scores keep no particular order.
    pub fn search(
        &self,
        query: &[f64],
        limit: usize,
        filter_values: Option<&[Value]>,
    ) -> Result<Vec<VectorHit<K>>, VectorError> {
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(VectorError::BadLimit(limit));
        }
        if query.len() != self.dims {
            return Err(VectorError::WrongDimensions {
                field: "vector".into(),
                got: query.len(),
                expected: self.dims,
            });
        }
        let mut q: Vec<f32> = query.iter().map(|x| *x as f32).collect();
        normalize(&mut q);

        let groups: Vec<&Group<K>> = match filter_values {
            None => self.groups.values().collect(),
            Some(values) => {
                let mut keys: Vec<String> = values.iter().map(group_key).collect();
                keys.sort();
                keys.dedup();
                keys.iter().filter_map(|k| self.groups.get(k)).collect()
            }
        };

        // Min-heap of the best `limit` so far: the root is the worst kept.
        let mut best: BinaryHeap<Reverse<Scored<'_, K>>> = BinaryHeap::with_capacity(limit + 1);
        for group in groups {
            for (slot, vector) in group.vectors.chunks_exact(self.dims).enumerate() {
                let score = dot(&q, vector);
                if best.len() < limit {
                    best.push(Reverse(Scored(score, &group.ids[slot])));
                } else if best.peek().is_some_and(|worst| score > worst.0.0) {
                    best.pop();
                    best.push(Reverse(Scored(score, &group.ids[slot])));
                }
            }
        }
        let mut hits: Vec<Scored<'_, K>> = best.into_iter().map(|r| r.0).collect();
        hits.sort_by(|a, b| b.cmp(a));
        Ok(hits
            .into_iter()
            .map(|Scored(score, id)| VectorHit {
                id: id.clone(),
                score: f64::from(score).clamp(-1.0, 1.0),
            })
            .collect())
    }
}

/// A score with its id, ordered by score only.
struct Scored<'a, K>(f32, &'a K);

impl<K> PartialEq for Scored<'_, K> {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0) == Ordering::Equal
    }
}
impl<K> Eq for Scored<'_, K> {}
impl<K> PartialOrd for Scored<'_, K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<K> Ord for Scored<'_, K> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

fn parse_vector(field: &str, items: &[Value], dims: usize) -> Result<Vec<f32>, VectorError> {
    if items.len() != dims {
        return Err(VectorError::WrongDimensions {
            field: field.into(),
            got: items.len(),
            expected: dims,
        });
    }
    items
        .iter()
        .enumerate()
        .map(|(position, v)| match v.as_f64() {
            Some(x) if x.is_finite() => Ok(x as f32),
            _ => Err(VectorError::NotANumber {
                field: field.into(),
                position,
                value: v.to_string(),
            }),
        })
        .collect()
}

/// Scale to unit length; a zero vector stays zero (and scores 0 against
/// everything, where cosine similarity is undefined).
fn normalize(v: &mut [f32]) {
    let norm = v
        .iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        .sqrt();
    if norm > 0.0 {
        let inv = (1.0 / norm) as f32;
        v.iter_mut().for_each(|x| *x *= inv);
    }
}

/// Dot product with independent accumulators so the compiler can vectorise.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks_a = a.chunks_exact(8);
    let chunks_b = b.chunks_exact(8);
    let tail: f32 = chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (ca, cb) in chunks_a.zip(chunks_b) {
        for i in 0..8 {
            acc[i] += ca[i] * cb[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng, rngs::StdRng};
    use serde_json::json;

    const D: usize = 1536;

    fn random_vector(rng: &mut StdRng) -> Vec<f64> {
        (0..D).map(|_| rng.random_range(-1.0..1.0)).collect()
    }

    fn doc(user: &str, v: &[f64]) -> Map<String, Value> {
        json!({"user": user, "embedding": v})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn own_embedding_is_top_hit_with_score_near_one() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut idx = VectorIndex::new("embedding", D, "user");
        let mut stored = Vec::new();
        for i in 0..200u32 {
            let v = random_vector(&mut rng);
            idx.insert(i, &doc(&format!("user{}", i % 5), &v)).unwrap();
            stored.push(v);
        }
        for i in [0u32, 17, 199] {
            let user = json!(format!("user{}", i % 5));
            let hits = idx
                .search(&stored[i as usize], 10, Some(std::slice::from_ref(&user)))
                .unwrap();
            assert_eq!(hits[0].id, i);
            assert!(hits[0].score > 0.99, "{}", hits[0].score);
            assert_eq!(hits.len(), 10);
            assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
            // Random high-dimensional vectors are nearly orthogonal.
            assert!(hits[1].score < 0.2);
            // Filtered: only that user's rows.
            assert!(hits.iter().all(|h| h.id % 5 == i % 5));
        }
    }

    #[test]
    fn scores_are_cosine_and_within_bounds() {
        let mut idx = VectorIndex::new("embedding", 4, "user");
        let d = |v: &[f64]| {
            json!({"user": "u", "embedding": v})
                .as_object()
                .unwrap()
                .clone()
        };
        idx.insert(1, &d(&[1.0, 0.0, 0.0, 0.0])).unwrap();
        idx.insert(2, &d(&[-3.0, 0.0, 0.0, 0.0])).unwrap();
        idx.insert(3, &d(&[1.0, 1.0, 0.0, 0.0])).unwrap();
        idx.insert(4, &d(&[0.0, 0.0, 5.0, 0.0])).unwrap();
        let hits = idx.search(&[2.0, 0.0, 0.0, 0.0], 4, None).unwrap();
        let got: Vec<(u32, f64)> = hits.iter().map(|h| (h.id, h.score)).collect();
        assert_eq!(got[0].0, 1);
        assert!((got[0].1 - 1.0).abs() < 1e-6);
        assert_eq!(got[1].0, 3);
        assert!((got[1].1 - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert_eq!(got[2].0, 4);
        assert!(got[2].1.abs() < 1e-6);
        assert_eq!(got[3].0, 2);
        assert!((got[3].1 + 1.0).abs() < 1e-6);
    }

    #[test]
    fn filter_on_several_users_and_unknown_users() {
        let mut idx = VectorIndex::new("embedding", 2, "user");
        let d = |u: &str, v: [f64; 2]| {
            json!({"user": u, "embedding": v})
                .as_object()
                .unwrap()
                .clone()
        };
        idx.insert(1, &d("a", [1.0, 0.0])).unwrap();
        idx.insert(2, &d("b", [1.0, 0.1])).unwrap();
        idx.insert(3, &d("c", [1.0, 0.2])).unwrap();
        let hits = idx
            .search(&[1.0, 0.0], 10, Some(&[json!("b"), json!("c"), json!("b")]))
            .unwrap();
        assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![2, 3]);
        assert!(
            idx.search(&[1.0, 0.0], 10, Some(&[json!("nobody")]))
                .unwrap()
                .is_empty()
        );
        assert!(idx.search(&[1.0, 0.0], 10, Some(&[])).unwrap().is_empty());
    }

    #[test]
    fn remove_and_replace_keep_slots_consistent() {
        let mut idx = VectorIndex::new("embedding", 2, "user");
        let d = |u: &str, v: [f64; 2]| {
            json!({"user": u, "embedding": v})
                .as_object()
                .unwrap()
                .clone()
        };
        for i in 0..5u32 {
            idx.insert(i, &d("u", [1.0, f64::from(i)])).unwrap();
        }
        assert!(idx.remove(&1)); // moves slot 4 into slot 1
        assert!(!idx.remove(&1));
        // Row 4 must still be found with its own vector.
        let hits = idx.search(&[1.0, 4.0], 1, None).unwrap();
        assert_eq!(hits[0].id, 4);
        assert!(hits[0].score > 0.9999);
        // Replace moves row 0 to another user and vector.
        idx.insert(0, &d("v", [0.0, 1.0])).unwrap();
        let hits = idx.search(&[1.0, 0.0], 10, Some(&[json!("u")])).unwrap();
        assert_eq!(hits.len(), 3);
        assert!(hits.iter().all(|h| h.id != 0));
        assert_eq!(
            idx.search(&[0.0, 1.0], 10, Some(&[json!("v")])).unwrap()[0].id,
            0
        );
        for i in [0, 2, 3, 4] {
            assert!(idx.remove(&i));
        }
        assert!(idx.is_empty() && idx.groups.is_empty());
    }

    #[test]
    fn bad_input_is_rejected_with_clear_errors() {
        let mut idx: VectorIndex<u32> = VectorIndex::new("embedding", 3, "user");
        let err = idx
            .insert(
                1,
                &json!({"user": "u", "embedding": [1.0, 2.0]})
                    .as_object()
                    .unwrap()
                    .clone(),
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "vector field `embedding` has 2 dimensions, the index expects 3"
        );
        let err = idx
            .insert(
                1,
                &json!({"user": "u", "embedding": [1.0, "x", 2.0]})
                    .as_object()
                    .unwrap()
                    .clone(),
            )
            .unwrap_err();
        assert!(err.to_string().contains("element 1"), "{err}");
        assert!(idx.is_empty());
        // No vector field: simply not indexed.
        idx.insert(2, &json!({"user": "u"}).as_object().unwrap().clone())
            .unwrap();
        assert!(idx.is_empty());
        assert_eq!(
            idx.search(&[1.0, 0.0, 0.0], 0, None).unwrap_err(),
            VectorError::BadLimit(0)
        );
        assert_eq!(
            idx.search(&[1.0, 0.0, 0.0], 257, None).unwrap_err(),
            VectorError::BadLimit(257)
        );
        assert!(matches!(
            idx.search(&[1.0], 5, None).unwrap_err(),
            VectorError::WrongDimensions {
                got: 1,
                expected: 3,
                ..
            }
        ));
    }
}
