//! The HTTP servers: the API port (function API, sync WebSocket, identity,
//! `/_testbed/*`) and the site port (HTTP actions, added by a later issue).

pub mod control;
pub mod http;
pub mod sync;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{any, get, post};

use crate::runtime::Runtime;

async fn sync_upgrade(State(rt): State<Arc<Runtime>>, upgrade: WebSocketUpgrade) -> Response {
    upgrade
        .max_message_size(64 << 20)
        .on_upgrade(move |socket| sync::run(rt, socket))
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
    Router::new()
        .route("/{*path}", any(site_not_found))
        .fallback(site_not_found)
        .with_state(rt)
}

async fn site_not_found(uri: axum::http::Uri) -> Response {
    http::error_response(
        StatusCode::NOT_FOUND,
        "NoMatchingRoute",
        format!("No HTTP action route matches {}", uri.path()),
    )
}
