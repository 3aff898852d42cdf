//! The HTTP servers: the API port (function API, sync WebSocket, identity,
//! `/_testbed/*`, snapshot export, the provisioning stand-in, and the HTTP
//! actions under `/http/`) and the site port (HTTP actions).

pub mod control;
pub mod http;
pub mod sync;
mod wire;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::faults::{FaultKind, INJECTED_FAULT};
use crate::runtime::Runtime;

async fn sync_upgrade(State(rt): State<Arc<Runtime>>, upgrade: WebSocketUpgrade) -> Response {
    upgrade
        // tungstenite zero-fills its whole read buffer before every read;
        // the 128 KiB default made that memset the top cost of small frames.
        .read_buffer_size(8 << 10)
        .max_message_size(64 << 20)
        .on_upgrade(move |socket| sync::run(rt, socket))
}

/// Before each HTTP action: count it, apply injected latency, and answer
/// an injected error as a failed HTTP action (500) or hold the response
/// through a stall window.
fn http_action_hook(rt: &Arc<Runtime>) -> crate::site_routes::BeforeAction {
    let rt = Arc::downgrade(rt);
    Arc::new(move || {
        let rt = rt.upgrade();
        Box::pin(async move {
            let rt = rt?;
            crate::stats::Counters::add(&rt.counters.http_actions, 1);
            if rt.faults.before_execution(FaultKind::HttpAction).await {
                return Some(
                    (
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                        INJECTED_FAULT,
                    )
                        .into_response(),
                );
            }
            rt.faults.hold_response().await;
            None
        })
    })
}

/// The API port's routes, with the issue-3 additions: export endpoints,
/// the cloud-backup stand-in and the HTTP actions under `/http/`.
pub fn full_api_router(
    rt: Arc<Runtime>,
    cloud_backup: crate::cloud_backup::CloudBackupConfig,
) -> std::io::Result<Router> {
    Ok(api_router(rt.clone())
        .nest_service(
            "/http",
            crate::site_routes::site_router(http_action_hook(&rt)),
        )
        .merge(crate::export_routes::export_router(rt)?)
        .merge(crate::cloud_backup::cloud_backup_router(cloud_backup)))
}

pub fn api_router(rt: Arc<Runtime>) -> Router {
    Router::new()
        .route("/version", get(http::version))
        .route("/instance_version", get(http::version))
        .route("/instance_name", get(http::instance_name))
        .route("/api/query", post(http::query))
        .route("/api/mutation", post(http::mutation))
        .route("/api/action", post(http::action))
        .route("/api/sync", get(sync_upgrade))
        .route("/api/{client_version}/sync", get(sync_upgrade))
        .route(
            "/_testbed/faults",
            post(control::set_faults).delete(control::clear_faults),
        )
        .route("/_testbed/stats", get(control::stats))
        .fallback(http::not_found)
        .with_state(rt)
}

pub fn site_router(rt: Arc<Runtime>) -> Router {
    crate::site_routes::site_router(http_action_hook(&rt))
}
