//! The HTTP function API (`POST /api/query|mutation|action`) and the
//! identity endpoints.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::functions::{FunctionKind, args_object};
use crate::runtime::{FnOutcome, Runtime};

/// Convex answers a function that threw with this status.
pub const STATUS_FUNCTION_FAILED: u16 = 560;

pub fn version_text() -> String {
    format!(
        "{} {}",
        results_format::TESTBED_VERSION_PREFIX,
        env!("CARGO_PKG_VERSION")
    )
}

pub async fn version() -> String {
    version_text()
}

pub async fn instance_name(State(rt): State<Arc<Runtime>>) -> String {
    rt.instance_name.clone()
}

/// A JSON error body like Convex's: `{"code": .., "message": ..}`.
pub fn error_response(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"code": code, "message": message.into()}).to_string(),
    )
        .into_response()
}

pub async fn not_found(uri: Uri) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!(
            "No route for {}: this testbed serves /api/query, /api/mutation, /api/action, /api/sync, /version, /instance_name and /_testbed/*",
            uri.path()
        ),
    )
}

#[derive(Deserialize)]
struct FunctionRequest {
    path: String,
    #[serde(default)]
    args: Value,
    #[serde(default)]
    format: Option<String>,
}

/// Checks an `Authorization` header: an admin key must be this instance's;
/// a Bearer token is accepted unverified (no benchmark function reads the
/// identity).
pub fn check_auth(rt: &Runtime, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(());
    };
    let value = value.to_str().unwrap_or("");
    if let Some(key) = value.strip_prefix("Convex ") {
        if key == rt.admin_key {
            return Ok(());
        }
        return Err(Box::new(error_response(
            StatusCode::UNAUTHORIZED,
            "BadAdminKey",
            "The provided admin key was invalid for this instance",
        )));
    }
    if value.starts_with("Bearer ") {
        return Ok(());
    }
    Err(Box::new(error_response(
        StatusCode::UNAUTHORIZED,
        "BadAuthHeader",
        "The Authorization header must be `Convex <admin key>` or `Bearer <token>`",
    )))
}

/// `Authorization: Convex <this instance's admin key>` was sent.
fn has_admin_key(rt: &Runtime, headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Convex "))
        .is_some_and(|key| key == rt.admin_key)
}

pub async fn query(State(rt): State<Arc<Runtime>>, headers: HeaderMap, body: Bytes) -> Response {
    call(rt, FunctionKind::Query, headers, body).await
}

pub async fn mutation(State(rt): State<Arc<Runtime>>, headers: HeaderMap, body: Bytes) -> Response {
    call(rt, FunctionKind::Mutation, headers, body).await
}

pub async fn action(State(rt): State<Arc<Runtime>>, headers: HeaderMap, body: Bytes) -> Response {
    call(rt, FunctionKind::Action, headers, body).await
}

async fn call(rt: Arc<Runtime>, kind: FunctionKind, headers: HeaderMap, body: Bytes) -> Response {
    let response = call_inner(&rt, kind, &headers, &body).await;
    rt.faults.hold_response().await;
    response
}

async fn call_inner(
    rt: &Arc<Runtime>,
    kind: FunctionKind,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if let Err(response) = check_auth(rt, headers) {
        return *response;
    }
    let request = match serde_json::from_slice::<FunctionRequest>(body) {
        Ok(request)
            if crate::functions::is_system_path(&request.path) && !has_admin_key(rt, headers) =>
        {
            return error_response(
                StatusCode::UNAUTHORIZED,
                "MissingAdminKey",
                crate::functions::system_needs_admin(&request.path),
            );
        }
        Ok(request) => request,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BadJsonBody",
                format!(
                    "Failed to parse the {} request body ({e}); expected {{\"path\": \"module:function\", \"args\": {{...}}, \"format\": \"json\"}}",
                    kind.as_str()
                ),
            );
        }
    };
    match request.format.as_deref() {
        None | Some("json") | Some("convex_encoded_json") => {}
        Some(other) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BadFormat",
                format!("Unsupported format \"{other}\": use \"json\" or \"convex_encoded_json\""),
            );
        }
    }
    match rt.kind_of(&request.path) {
        None => {
            return error_response(
                StatusCode::NOT_FOUND,
                "FunctionNotFound",
                crate::functions::FnError::not_found(&request.path).message,
            );
        }
        Some(actual) if actual != kind => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "WrongFunctionType",
                format!(
                    "{} is a {}, not a {}: call /api/{}",
                    request.path,
                    actual.as_str(),
                    kind.as_str(),
                    actual.as_str()
                ),
            );
        }
        Some(_) => {}
    }
    let args = match args_object(request.args) {
        Ok(args) => args,
        Err(message) => return error_response(StatusCode::BAD_REQUEST, "BadArgs", message),
    };
    let outcome = match kind {
        FunctionKind::Query => rt.run_query(&request.path, args).await,
        FunctionKind::Mutation => rt.run_mutation(&request.path, args).await,
        FunctionKind::Action => rt.run_action(&request.path, args).await,
    };
    outcome_response(outcome)
}

fn outcome_response(outcome: FnOutcome) -> Response {
    let (status, body) = match outcome {
        Ok(success) => (
            StatusCode::OK,
            json!({"status": "success", "value": success.value, "logLines": success.log_lines}),
        ),
        Err(failure) => {
            let mut body = json!({
                "status": "error",
                "errorMessage": failure.error.message,
                "logLines": failure.log_lines,
            });
            if let Some(data) = failure.error.data {
                body["errorData"] = data;
            }
            (
                StatusCode::from_u16(STATUS_FUNCTION_FAILED).expect("560 is a valid status"),
                body,
            )
        }
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
