//! The load generator: workload -> schedule -> protocol session -> recorder
//! -> results archive.
