//! The testbed: a local backend that speaks Convex's wire protocols (sync
//! WebSocket, HTTP function API) and serves the benchmark function set
//! natively in Rust. It is a stand-in for tests and benchmarks, not Convex.
//!
//! Start it in-process with [`start`]; the binary `testbed` wraps the same.

pub mod cloud_backup;
pub mod export_routes;
pub mod faults;
pub mod functions;
pub mod runtime;
pub mod search_index;
pub mod server;
pub mod site_routes;
pub mod snapshot_export;
pub mod snapshot_zip;
pub mod stats;
pub mod store;
pub mod subscriptions;
pub mod text_indexes;
pub mod values;
pub mod vector_index;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use faults::FaultSpec;
pub use stats::Stats;

use runtime::Runtime;

#[derive(Clone)]
pub struct TestbedConfig {
    /// API port on 127.0.0.1; 0 picks a free port.
    pub port: u16,
    /// Site (HTTP actions) port on 127.0.0.1; 0 picks a free port.
    pub site_port: u16,
    /// The admin key clients must present; generated when None.
    pub admin_key: Option<String>,
    pub instance_name: String,
    /// Bearer token the provisioning stand-in (cloud backups) accepts;
    /// None refuses every provisioning call with 401.
    pub access_token: Option<String>,
}

/// Secrets are shown as `<redacted>`, so logging a config is safe.
impl std::fmt::Debug for TestbedConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |secret: &Option<String>| secret.as_ref().map(|_| "<redacted>");
        f.debug_struct("TestbedConfig")
            .field("port", &self.port)
            .field("site_port", &self.site_port)
            .field("admin_key", &redact(&self.admin_key))
            .field("instance_name", &self.instance_name)
            .field("access_token", &redact(&self.access_token))
            .finish()
    }
}

impl Default for TestbedConfig {
    fn default() -> Self {
        TestbedConfig {
            port: 0,
            site_port: 0,
            admin_key: None,
            instance_name: "testbed".to_string(),
            access_token: None,
        }
    }
}

/// A fresh admin key: `testbed|` and 64 hex characters.
pub fn generate_admin_key() -> String {
    let bytes: [u8; 32] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("testbed|{hex}")
}

pub struct TestbedHandle {
    runtime: Arc<Runtime>,
    addr: SocketAddr,
    site_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    servers: Vec<JoinHandle<()>>,
}

impl TestbedHandle {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn site_url(&self) -> String {
        format!("http://{}", self.site_addr)
    }

    pub fn admin_key(&self) -> &str {
        &self.runtime.admin_key
    }

    pub fn stats(&self) -> Stats {
        self.runtime.counters.snapshot()
    }

    /// The engine, for in-process tests that inspect the store.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Stops accepting, ends open connections, and waits for the servers.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        // Open WebSocket sessions end with their connections.
        self.runtime.faults.drop_all_connections();
        for server in self.servers {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), server).await;
        }
    }
}

pub async fn start(config: TestbedConfig) -> anyhow::Result<TestbedHandle> {
    let admin_key = config.admin_key.unwrap_or_else(generate_admin_key);
    let runtime = Arc::new(Runtime {
        store: store::Store::new(),
        registry: functions::Registry::new(),
        faults: faults::Faults::default(),
        counters: stats::Counters::default(),
        admin_key,
        instance_name: config.instance_name,
    });
    let listener = TcpListener::bind(("127.0.0.1", config.port))
        .await
        .with_context(|| format!("binding the API port 127.0.0.1:{}", config.port))?;
    let site_listener = TcpListener::bind(("127.0.0.1", config.site_port))
        .await
        .with_context(|| format!("binding the site port 127.0.0.1:{}", config.site_port))?;
    let addr = listener.local_addr()?;
    let site_addr = site_listener.local_addr()?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let serve = |listener: TcpListener, router: axum::Router| {
        let mut stop = shutdown_rx.clone();
        // Responses are often several small frames (a MutationResponse then
        // its Transition); Nagle's algorithm would hold the second one back.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        tokio::spawn(async move {
            let result = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|stop| *stop).await;
                })
                .await;
            if let Err(e) = result {
                tracing::error!("testbed server stopped: {e}");
            }
        })
    };
    // Functions read the site URL as Convex's CONVEX_SITE_URL variable.
    functions::site::set_env_var(
        &runtime.store,
        functions::site::SITE_URL_VAR,
        &format!("http://{site_addr}"),
    )
    .map_err(|e| anyhow::anyhow!("setting {}: {}", functions::site::SITE_URL_VAR, e.message))?;
    let api = server::full_api_router(
        runtime.clone(),
        cloud_backup::CloudBackupConfig {
            access_token: config.access_token,
            backup_duration: cloud_backup::DEFAULT_BACKUP_DURATION,
        },
    )
    .context("creating the snapshot export directory")?;
    let scheduler = functions::schedule::spawn_scheduler(&runtime, shutdown_rx.clone());
    let servers = vec![
        serve(listener, api),
        serve(site_listener, server::site_router(runtime.clone())),
        scheduler,
    ];
    Ok(TestbedHandle {
        runtime,
        addr,
        site_addr,
        shutdown,
        servers,
    })
}

#[cfg(test)]
mod config_tests {
    #[test]
    fn debug_output_hides_secrets() {
        let config = super::TestbedConfig {
            admin_key: Some("testbed|secret-admin-key".into()),
            access_token: Some("secret-token".into()),
            ..Default::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}
