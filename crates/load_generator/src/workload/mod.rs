//! Workloads: what to run. `model` is the validated in-memory form every
//! other module consumes; parsing and validation of the JSON file (Convex's
//! format plus our optional extensions) produce it.

pub mod model;
