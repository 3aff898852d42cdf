//! What every scenario needs to know about the run it is part of: where the
//! backend is, how to authenticate, and where to put what it measures.
//! Built once by `run.rs` from the command line; shared read-only.

use std::sync::Arc;

use crate::scenario::MetricSink;

/// The environment scenarios run in. Cheap to clone (the sink is shared).
#[derive(Clone)]
pub struct RunEnv {
    /// The deployment's API URL (`http://127.0.0.1:3210`), no trailing slash.
    pub url: String,
    /// Admin key for `Authorization: Convex <key>` and sync `Authenticate`.
    /// Secret: never log or write it (`Debug` redacts it).
    pub admin_key: String,
    /// Where HTTP actions are served (`http://127.0.0.1:3211`). `None` means
    /// "ask the deployment" (`http:siteUrl`) or fall back to `<url>/http`.
    pub site_url: Option<String>,
    /// Where scenarios record their measurements (the recorder).
    pub sink: Arc<dyn MetricSink>,
    /// Seed for every random choice a scenario makes, so runs repeat.
    /// Scenarios derive their own streams from it (e.g. seed ^ index).
    pub seed: u64,
    /// Convex Cloud provisioning API host, for `CloudBackup` only.
    pub provision_host: Option<String>,
    /// Convex access token for the provisioning API (`CloudBackup` only).
    /// Secret: never log or write it (`Debug` redacts it).
    pub access_token: Option<String>,
}

impl std::fmt::Debug for RunEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunEnv")
            .field("url", &self.url)
            .field("admin_key", &"<redacted>")
            .field("site_url", &self.site_url)
            .field("seed", &self.seed)
            .field("provision_host", &self.provision_host)
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// Progress of the setup mutations (`setup:setupMessages`,
/// `setup:setupVectors`), reported by `scenarios::setup::seed` after each
/// batch so the generator can show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedProgress {
    /// The table being filled (`messages`, `openclaurd`).
    pub table: &'static str,
    /// Rows inserted so far into this table.
    pub done: u64,
    /// Rows this table will have inserted when seeding ends.
    pub total: u64,
}

/// Callback `seed` calls after each batch.
pub type SeedProgressFn = dyn Fn(SeedProgress) + Send + Sync;
