//! PLACEHOLDER on branch `loadgen`: the scenario implementations live on
//! branch `protocol`, which replaces this file. Only the signatures that
//! `run.rs` calls are here, so the orchestration compiles and fails clearly.

use std::sync::Arc;

use crate::run_env::RunEnv;
use crate::scenario::Scenario;
use crate::workload::model::ScenarioConfig;

/// Builds the runnable scenario for one workload entry.
pub fn build(config: &ScenarioConfig, env: &RunEnv) -> anyhow::Result<Arc<dyn Scenario>> {
    let _ = env;
    anyhow::bail!(
        "scenario {} is not implemented in this branch (scenarios come from branch `protocol`)",
        config.spec.kind_name()
    )
}

pub mod setup {
    use crate::run_env::{RunEnv, SeedProgressFn};

    /// Seeds `messages` (`num_rows`) and the vector table
    /// (`num_vector_rows`) before the run, in batches that stay within a
    /// mutation's limits, calling `progress` after each batch.
    pub async fn seed(
        env: &RunEnv,
        num_rows: u64,
        num_vector_rows: u64,
        progress: &SeedProgressFn<'_>,
    ) -> anyhow::Result<()> {
        let _ = (env, num_rows, num_vector_rows, progress);
        anyhow::bail!(
            "setup::seed is not implemented in this branch (it comes from branch `protocol`)"
        )
    }
}
