//! The testbed: a local backend that speaks Convex's wire protocols and
//! serves the benchmark function set natively. It is a stand-in, not Convex.

pub mod search_index;
pub mod snapshot_zip;
pub mod vector_index;
