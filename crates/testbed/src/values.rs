//! Convex values as stored and sent: `serde_json::Value` in Convex's JSON
//! encoding, plus the totally ordered key parts that indexes are built from.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde_json::Value;

use crate::store::ids::DocId;

/// A finite-or-not f64 with a total order (IEEE `total_cmp`), so numbers can
/// be index keys.
#[derive(Clone, Copy, Debug)]
pub struct OrderedF64(pub f64);

impl PartialEq for OrderedF64 {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0) == Ordering::Equal
    }
}
impl Eq for OrderedF64 {}
impl PartialOrd for OrderedF64 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for OrderedF64 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}
impl Hash for OrderedF64 {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state);
    }
}

/// One component of an index key. The variant order is the sort order:
/// `Min`/`Max` are sentinels that bound ranges and never appear in stored
/// keys; the others follow Convex's type order (undefined < null < numbers
/// < booleans < strings < everything else); `Id` is the tie-breaking last
/// component of every stored key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyPart {
    Min,
    Undefined,
    Null,
    Number(OrderedF64),
    Bool(bool),
    String(Arc<str>),
    /// Arrays, objects and `$`-encoded values, ordered by their JSON text
    /// (not Convex's order; none of the benchmark indexes use them).
    Other(Arc<str>),
    Id(DocId),
    Max,
}

impl KeyPart {
    pub fn from_value(value: Option<&Value>) -> KeyPart {
        match value {
            None => KeyPart::Undefined,
            Some(Value::Null) => KeyPart::Null,
            Some(Value::Bool(b)) => KeyPart::Bool(*b),
            Some(Value::Number(n)) => KeyPart::Number(OrderedF64(n.as_f64().unwrap_or(f64::NAN))),
            Some(Value::String(s)) => KeyPart::String(Arc::from(s.as_str())),
            Some(other) => KeyPart::Other(Arc::from(other.to_string())),
        }
    }
}

/// A full or partial index key; compared lexicographically, so a prefix
/// sorts before all of its extensions.
pub type IndexKey = Vec<KeyPart>;

/// Validates that an object's field names are legal for a document
/// (Convex reserves names starting with `$`, and `_` for system fields).
pub fn check_user_field_names(fields: &serde_json::Map<String, Value>) -> Result<(), String> {
    for name in fields.keys() {
        if name.starts_with('$') {
            return Err(format!(
                "Field name `{name}` starts with a '$', which is reserved."
            ));
        }
        if name.starts_with('_') {
            return Err(format!(
                "Field name `{name}` starts with a '_', which is reserved for system fields."
            ));
        }
    }
    Ok(())
}
