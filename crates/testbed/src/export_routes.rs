//! Wires [`crate::snapshot_export`] to the store and the HTTP API:
//! `POST /api/export/request/zip` and `GET /api/export/zip/<start_ts>`,
//! both admin-only, and the `_exports` system table that
//! `_system/frontend/latestExport` reads (so its subscribers see every
//! state change through the ordinary reactivity path).

use std::ops::Bound;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;

use crate::functions::FnError;
use crate::functions::internal;
use crate::functions::system::EXPORTS_TABLE;
use crate::runtime::Runtime;
use crate::server::http::error_response;
use crate::snapshot_export::{ExportHost, ExportManager, ExportTiming, archive_body};
use crate::store::schema::BY_CREATION_TIME;
use crate::store::{Doc, Store};

/// App tables: not system tables (`_…`) and not component tables (`component/table`).
pub fn is_app_table(name: &str) -> bool {
    !name.starts_with('_') && !name.contains('/')
}

/// The store as seen by an export.
pub struct StoreExportHost {
    runtime: Arc<Runtime>,
}

impl ExportHost for StoreExportHost {
    fn snapshot(&self) -> (u64, Vec<(String, Vec<Value>)>) {
        // Documents are immutable `Arc`s: take them under the read lock
        // (cheap), encode them after releasing it, so writers are not held
        // up while a large snapshot is copied.
        let (ts, tables) = {
            let state = self.runtime.store.read();
            let tables: Vec<(&'static str, Vec<Arc<Doc>>)> = state
                .table_names()
                .filter(|name| is_app_table(name))
                .filter_map(|name| state.table(name))
                .map(|table| {
                    let docs = table
                        .range(BY_CREATION_TIME, Bound::Unbounded, Bound::Unbounded)
                        .map(|(_, doc)| doc.clone())
                        .collect();
                    (table.name, docs)
                })
                .collect();
            (state.ts, tables)
        };
        let tables = tables
            .into_iter()
            .map(|(name, docs)| {
                (
                    name.to_string(),
                    docs.iter().map(|d| d.to_value()).collect(),
                )
            })
            .collect();
        (ts, tables)
    }

    fn now_ts(&self) -> u64 {
        self.runtime.store.read().ts
    }

    fn publish(&self, record: Value) {
        if let Err(e) = write_export_record(&self.runtime.store, record) {
            tracing::warn!("could not record the export state: {}", e.message);
        }
    }
}

/// Replaces the `_exports` row with `record` in one transaction.
fn write_export_record(store: &Store, record: Value) -> Result<(), FnError> {
    let Value::Object(fields) = record else {
        return Err(FnError::plain("export record is not an object"));
    };
    internal::run_mutation(store, |tx| {
        for row in tx
            .scan_by_creation_time(EXPORTS_TABLE, usize::MAX)
            .map_err(FnError::uncaught)?
        {
            tx.delete(row.id).map_err(FnError::uncaught)?;
        }
        tx.insert(EXPORTS_TABLE, fields.clone())
            .map_err(FnError::uncaught)?;
        Ok(Value::Null)
    })?;
    Ok(())
}

#[derive(Clone)]
struct ExportState {
    runtime: Arc<Runtime>,
    manager: ExportManager,
}

/// The export routes; merge into the API router.
pub fn export_router(runtime: Arc<Runtime>) -> std::io::Result<Router> {
    let host = Arc::new(StoreExportHost {
        runtime: runtime.clone(),
    });
    let manager = ExportManager::new(host, ExportTiming::default())?;
    Ok(Router::new()
        .route("/api/export/request/zip", post(request_export))
        .route("/api/export/zip/{start_ts}", get(download_export))
        .with_state(ExportState { runtime, manager }))
}

/// Exports need the admin key, as `Authorization: Convex <key>` or (for
/// download links, as the dashboard makes them) `?adminKey=<key>`.
fn reject_non_admin(
    runtime: &Runtime,
    headers: &HeaderMap,
    query_key: Option<&str>,
) -> Option<Response> {
    let header_key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Convex "));
    match header_key.or(query_key) {
        None => Some(error_response(
            StatusCode::UNAUTHORIZED,
            "MissingAdminKey",
            "Snapshot export requires an admin key: send `Authorization: Convex <admin key>`",
        )),
        Some(key) if key == runtime.admin_key => None,
        Some(_) => Some(error_response(
            StatusCode::FORBIDDEN,
            "BadAdminKey",
            "The provided admin key was invalid for this instance",
        )),
    }
}

async fn request_export(State(state): State<ExportState>, headers: HeaderMap) -> Response {
    if let Some(rejection) = reject_non_admin(&state.runtime, &headers, None) {
        return rejection;
    }
    let record = state.manager.request();
    (
        [(header::CONTENT_TYPE, "application/json")],
        record.to_string(),
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct DownloadParams {
    #[serde(rename = "adminKey")]
    admin_key: Option<String>,
}

async fn download_export(
    State(state): State<ExportState>,
    Path(start_ts): Path<String>,
    Query(params): Query<DownloadParams>,
    headers: HeaderMap,
) -> Response {
    if let Some(rejection) = reject_non_admin(&state.runtime, &headers, params.admin_key.as_deref())
    {
        return rejection;
    }
    let Ok(ts) = start_ts.parse::<u64>() else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "BadSnapshotTimestamp",
            format!(
                "\"{start_ts}\" is not a snapshot timestamp: use the start_ts of a completed export"
            ),
        );
    };
    let path = match state.manager.archive_path(ts) {
        Ok(path) => path,
        Err(e) => return error_response(StatusCode::NOT_FOUND, "SnapshotNotFound", e.to_string()),
    };
    match archive_body(&path).await {
        Ok((len, body)) => (
            [
                (header::CONTENT_TYPE, "application/zip".to_string()),
                (header::CONTENT_LENGTH, len.to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"snapshot_{ts}.zip\""),
                ),
            ],
            body,
        )
            .into_response(),
        Err(e) => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ExportUnreadable",
            format!("snapshot {ts} could not be read: {e}"),
        ),
    }
}
