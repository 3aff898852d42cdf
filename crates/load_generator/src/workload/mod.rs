//! Workloads: what to run. `model` is the validated in-memory form every
//! other module consumes; `parse` reads and validates the JSON file
//! (Convex's format plus our optional extensions) into it, with errors that
//! name file, line, column and field.

pub mod model;
pub mod parse;
pub mod spanned_json;

pub use parse::{WorkloadError, load_workload, parse_workload};

#[cfg(test)]
mod parse_tests;
