//! Every Convex scenario kind as an `impl Scenario`. Metric names, error
//! categories and timeouts follow Convex's own load generator
//! (`/work/shared/convex-facts.md` section 2); see ARCHITECTURE.md for the
//! table.

mod cloud_backup;
mod common;
mod hold_subscriptions;
mod http_action;
mod observe;
mod run_function;
mod search;
pub mod setup;
mod snapshot_export;

use std::sync::Arc;

use crate::run_env::RunEnv;
use crate::scenario::Scenario;
use crate::workload::model::{ScenarioConfig, ScenarioSpec};

pub use common::{CONNECTION_SETUP_METRIC, RECONNECT_METRIC};

/// Builds the runnable scenario for one workload entry. Connections are
/// opened in `Scenario::prepare`, not here.
pub fn build(config: &ScenarioConfig, env: &RunEnv) -> anyhow::Result<Arc<dyn Scenario>> {
    let scenario: Arc<dyn Scenario> = match &config.spec {
        ScenarioSpec::RunFunction {
            path,
            fn_type,
            args,
        } => run_function::RunFunction::build(config, env, path, *fn_type, args.clone())?,
        ScenarioSpec::RunHttpAction { path, method } => {
            http_action::RunHttpAction::build(config, env, path, method)?
        }
        ScenarioSpec::ObserveInsert { search_indexes } => {
            observe::ObserveInsert::build(config, env, *search_indexes)?
        }
        ScenarioSpec::ManyIntersections { num_subscriptions } => {
            observe::ManyIntersections::build(config, env, *num_subscriptions)?
        }
        ScenarioSpec::HoldSubscriptions {
            num_subscriptions,
            hold_duration_secs,
            invalidation_interval_secs,
            num_invalidations,
        } => hold_subscriptions::HoldSubscriptions::build(
            config,
            env,
            hold_subscriptions::HoldSpec {
                num_subscriptions: *num_subscriptions,
                hold: std::time::Duration::from_secs(*hold_duration_secs),
                invalidation_interval: invalidation_interval_secs
                    .map(std::time::Duration::from_secs),
                num_invalidations: num_invalidations.unwrap_or(1),
            },
        )?,
        ScenarioSpec::Search => search::Search::build(config, env)?,
        ScenarioSpec::VectorSearch => search::VectorSearch::build(config, env)?,
        ScenarioSpec::SnapshotExport => snapshot_export::SnapshotExport::build(config, env)?,
        ScenarioSpec::CloudBackup => cloud_backup::CloudBackup::build(config, env)?,
    };
    Ok(scenario)
}
