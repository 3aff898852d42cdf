//! Seeding before a run: `setup:setupMessages {rows, channel: "global"}`
//! and `setup:setupVectors {rows}`, in batches small enough to stay within
//! one mutation's limits (each vector row carries 1536 numbers).

use std::time::Duration;

use serde_json::json;

use crate::protocol::HttpFunctionClient;
use crate::run_env::{RunEnv, SeedProgress, SeedProgressFn};
use crate::workload::model::FunctionType;

/// Messages per `setup:setupMessages` call.
pub const MESSAGE_BATCH: u64 = 500;
/// Rows per `setup:setupVectors` call.
pub const VECTOR_BATCH: u64 = 50;
/// Bound on one batch (seeding is not measured; this only stops a hang).
const BATCH_TIMEOUT: Duration = Duration::from_secs(120);

/// Seeds `messages` (`num_rows`) and the vector table
/// (`num_vector_rows`), calling `progress` after each batch.
pub async fn seed(
    env: &RunEnv,
    num_rows: u64,
    num_vector_rows: u64,
    progress: &SeedProgressFn,
) -> anyhow::Result<()> {
    let client = HttpFunctionClient::new(&env.url, Some(&env.admin_key))?;
    run_batches(
        &client,
        "messages",
        num_rows,
        MESSAGE_BATCH,
        progress,
        |rows| {
            (
                "setup:setupMessages",
                json!({"rows": rows, "channel": "global"}),
            )
        },
    )
    .await?;
    run_batches(
        &client,
        "openclaurd",
        num_vector_rows,
        VECTOR_BATCH,
        progress,
        |rows| ("setup:setupVectors", json!({"rows": rows})),
    )
    .await
}

async fn run_batches(
    client: &HttpFunctionClient,
    table: &'static str,
    total: u64,
    batch: u64,
    progress: &SeedProgressFn,
    call: impl Fn(u64) -> (&'static str, serde_json::Value),
) -> anyhow::Result<()> {
    let mut done = 0;
    while done < total {
        let rows = batch.min(total - done);
        let (path, args) = call(rows);
        match tokio::time::timeout(
            BATCH_TIMEOUT,
            client.call(FunctionType::Mutation, path, args),
        )
        .await
        {
            Ok(Ok(_)) => {}
            Ok(Err(failed)) => anyhow::bail!(
                "seeding {table}: {path} for rows {}..{} failed: {failed}",
                done,
                done + rows
            ),
            Err(_) => anyhow::bail!(
                "seeding {table}: {path} for rows {}..{} took longer than {BATCH_TIMEOUT:?}",
                done,
                done + rows
            ),
        }
        done += rows;
        progress(SeedProgress { table, done, total });
    }
    Ok(())
}
