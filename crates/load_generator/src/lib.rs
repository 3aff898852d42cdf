//! The load generator: workload -> schedule -> protocol session -> recorder
//! -> results archive.

pub mod engine;
pub mod recorder;
pub mod run_env;
pub mod scenario;
pub mod scenarios;
pub mod workload;
