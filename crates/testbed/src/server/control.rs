//! `/_testbed/*`: fault injection (admin key required) and counters.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::http::error_response;
use crate::faults::FaultSpec;
use crate::runtime::Runtime;

fn require_admin(rt: &Runtime, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Convex "));
    match given {
        Some(key) if key == rt.admin_key => Ok(()),
        Some(_) => Err(Box::new(error_response(
            StatusCode::UNAUTHORIZED,
            "BadAdminKey",
            "The provided admin key was invalid for this instance",
        ))),
        None => Err(Box::new(error_response(
            StatusCode::UNAUTHORIZED,
            "MissingAdminKey",
            "/_testbed/faults requires the header `Authorization: Convex <admin key>`",
        ))),
    }
}

pub async fn set_faults(
    State(rt): State<Arc<Runtime>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(response) = require_admin(&rt, &headers) {
        return *response;
    }
    let spec: FaultSpec = match serde_json::from_slice(&body) {
        Ok(spec) => spec,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BadFaultSpec",
                format!("Invalid fault spec: {e}"),
            );
        }
    };
    match rt.faults.set(&spec) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(message) => error_response(StatusCode::BAD_REQUEST, "BadFaultSpec", message),
    }
}

pub async fn clear_faults(State(rt): State<Arc<Runtime>>, headers: HeaderMap) -> Response {
    if let Err(response) = require_admin(&rt, &headers) {
        return *response;
    }
    rt.faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

pub async fn stats(State(rt): State<Arc<Runtime>>) -> Response {
    Json(rt.counters.snapshot()).into_response()
}
