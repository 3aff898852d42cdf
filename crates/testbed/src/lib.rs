//! The testbed: a local backend that speaks Convex's wire protocols and
//! serves the benchmark function set natively. It is a stand-in, not Convex.

pub mod cloud_backup;
pub mod search_index;
pub mod site_routes;
pub mod snapshot_export;
pub mod snapshot_zip;
pub mod vector_index;
