//! The load generator: workload -> schedule -> protocol session -> recorder
//! -> results archive.

pub mod protocol;
pub mod scenario;
pub mod workload;
