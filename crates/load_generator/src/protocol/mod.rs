//! A lean Convex client of our own: the sync WebSocket protocol on
//! tokio-tungstenite (`session`, `connection`) and the HTTP function and
//! HTTP action APIs (`http`). Wire shapes come from `convex_sync_types`.
//!
//! Calls return the instant their request actually went on the wire, so the
//! engine can tell service time from time spent waiting in the generator.

pub mod connection;
pub mod http;
pub mod session;
pub mod wire;

use std::time::{Duration, Instant};

pub use connection::{Connection, ConnectionObserver, ConnectionPool};
pub use http::{HttpActionClient, HttpFunctionClient};
pub use session::{QueryReply, RequestReply, Session, SessionConfig, Subscription};

use crate::workload::model::FunctionType;

/// Why a call did not produce a value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// The function ran and threw (WebSocket `success: false`, HTTP 560).
    #[error("function error: {0}")]
    Function(String),
    /// The connection died before the answer arrived, or was down.
    #[error("connection lost: {0}")]
    ConnectionLost(String),
    /// An HTTP request answered with an unexpected status.
    #[error("HTTP {status}: {body}")]
    Http { status: u16, body: String },
    /// The request could not be made (network error, bad reply).
    #[error("request failed: {0}")]
    Transport(String),
    /// The caller's input was unusable (bad function path, ...).
    #[error("invalid request: {0}")]
    Usage(String),
}

impl CallError {
    pub fn lost(reason: &str) -> Self {
        CallError::ConnectionLost(reason.to_string())
    }
}

/// A failed call, with when its request went on the wire if it did.
#[derive(Debug, Clone, PartialEq)]
pub struct Failed {
    pub sent: Option<Instant>,
    pub error: CallError,
}

impl Failed {
    pub fn new(sent: Option<Instant>, error: CallError) -> Self {
        Failed { sent, error }
    }
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for Failed {}

/// Convex's own load generator's timeouts (convex-facts section 2).
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(2);
pub const MUTATION_TIMEOUT: Duration = Duration::from_secs(2);
pub const ACTION_TIMEOUT: Duration = Duration::from_secs(5);
pub const HTTP_ACTION_TIMEOUT: Duration = Duration::from_secs(5);
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(2 * 3600);

pub fn default_timeout(fn_type: FunctionType) -> Duration {
    match fn_type {
        FunctionType::Query => QUERY_TIMEOUT,
        FunctionType::Mutation => MUTATION_TIMEOUT,
        FunctionType::Action => ACTION_TIMEOUT,
    }
}

/// `http://host:port` -> `ws://host:port/api/sync` (https -> wss).
pub fn sync_url(deployment_url: &str) -> anyhow::Result<String> {
    let trimmed = deployment_url.trim_end_matches('/');
    let rest = if let Some(rest) = trimmed.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = trimmed.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        anyhow::bail!("deployment URL {deployment_url:?} must start with http:// or https://");
    };
    Ok(format!("{rest}/api/sync"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_url_maps_schemes_and_rejects_others() {
        assert_eq!(
            sync_url("http://127.0.0.1:3210/").unwrap(),
            "ws://127.0.0.1:3210/api/sync"
        );
        assert_eq!(
            sync_url("https://x.convex.cloud").unwrap(),
            "wss://x.convex.cloud/api/sync"
        );
        let err = sync_url("ftp://x").unwrap_err().to_string();
        assert!(err.contains("ftp://x"), "{err}");
    }
}
