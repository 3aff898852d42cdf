//! Stand-in for the two Convex Cloud provisioning calls the CloudBackup
//! scenario makes, so that scenario can run against the testbed:
//!
//! - `POST /api/dashboard/deployments/<deployment id>/request_cloud_backup`
//!   starts a backup and answers the backup record;
//! - `GET /api/dashboard/deployments/<deployment id>/cloud_backups/<backup id>`
//!   (and the dashboard's own spelling `GET /api/dashboard/cloud_backups/<backup id>`)
//!   answers the record with its current `state`.
//!
//! Both need `Authorization: Bearer <access token>` matching the token the
//! testbed was started with (`--access-token`); anything else is a 401.
//! The record uses the field names of Convex's dashboard API (`id`,
//! `sourceDeploymentId`, `state`, `requestedTime`, `includeStorage`,
//! `snapshotId`, `expirationTime`); `state` goes `requested` ->
//! `inProgress` -> `complete`, driven by elapsed time since the request
//! (no background task, so nothing to leak).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// How long a backup takes in total; it is `inProgress` for the second half.
pub const DEFAULT_BACKUP_DURATION: Duration = Duration::from_millis(300);
/// Backups expire a week after they are requested (as the dashboard shows).
const EXPIRATION_MS: u64 = 7 * 24 * 3600 * 1000;

#[derive(Clone)]
pub struct CloudBackupConfig {
    /// The bearer token clients must present; `None` disables the API.
    pub access_token: Option<String>,
    pub backup_duration: Duration,
}

impl std::fmt::Debug for CloudBackupConfig {
    // Never print the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudBackupConfig")
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "<redacted>"),
            )
            .field("backup_duration", &self.backup_duration)
            .finish()
    }
}

struct Backup {
    id: u64,
    deployment: String,
    requested: Instant,
    requested_unix_ms: u64,
    include_storage: bool,
}

struct Inner {
    config: CloudBackupConfig,
    backups: Mutex<HashMap<u64, Backup>>,
}

/// Routes of the provisioning stand-in, to merge into the main router.
pub fn cloud_backup_router(config: CloudBackupConfig) -> Router {
    let state = Arc::new(Inner {
        config,
        backups: Mutex::new(HashMap::new()),
    });
    Router::new()
        .route(
            "/api/dashboard/deployments/{deployment}/request_cloud_backup",
            post(request_backup),
        )
        .route(
            "/api/dashboard/deployments/{deployment}/cloud_backups/{backup}",
            get(get_backup_of_deployment),
        )
        .route("/api/dashboard/cloud_backups/{backup}", get(get_backup))
        .with_state(state)
}

fn error(status: StatusCode, code: &str, message: String) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

/// Bearer-token check: `Some(rejection)` unless the right token is
/// presented. The token is compared, never echoed or logged.
fn reject_unauthorized(inner: &Inner, headers: &HeaderMap) -> Option<Response> {
    let Some(expected) = inner.config.access_token.as_deref() else {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "Unauthenticated",
            "the provisioning API stand-in is disabled: start the testbed with --access-token"
                .into(),
        ));
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match presented {
        None => Some(error(
            StatusCode::UNAUTHORIZED,
            "Unauthenticated",
            "missing `Authorization: Bearer <access token>` header".into(),
        )),
        Some(token) if constant_time_eq(token.as_bytes(), expected.as_bytes()) => None,
        Some(_) => Some(error(
            StatusCode::UNAUTHORIZED,
            "Unauthenticated",
            "the access token is not valid for this deployment".into(),
        )),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The deployment id as the API shows it: a number when it is one (Convex
/// Cloud ids are numbers), otherwise the text it was given.
fn deployment_json(deployment: &str) -> Value {
    deployment
        .parse::<u64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::from(deployment))
}

impl Inner {
    fn record(&self, backup: &Backup) -> Value {
        let elapsed = backup.requested.elapsed();
        let total = self.config.backup_duration;
        let state = if elapsed >= total {
            "complete"
        } else if elapsed >= total / 2 {
            "inProgress"
        } else {
            "requested"
        };
        json!({
            "id": backup.id,
            "sourceDeploymentId": deployment_json(&backup.deployment),
            "state": state,
            "requestedTime": backup.requested_unix_ms,
            "includeStorage": backup.include_storage,
            "snapshotId": if state == "complete" { Value::from(format!("snapshot-{}", backup.id)) } else { Value::Null },
            "expirationTime": backup.requested_unix_ms + EXPIRATION_MS,
        })
    }

    fn lookup(&self, id: &str, deployment: Option<&str>) -> Response {
        let backups = self.backups.lock().expect("backup table lock");
        let found = id
            .parse::<u64>()
            .ok()
            .and_then(|id| backups.get(&id))
            .filter(|b| deployment.is_none_or(|d| d == b.deployment));
        match found {
            Some(backup) => Json(self.record(backup)).into_response(),
            None => error(
                StatusCode::NOT_FOUND,
                "CloudBackupNotFound",
                format!(
                    "no cloud backup with id {id:?}{}",
                    match deployment {
                        Some(d) => format!(" for deployment {d:?}"),
                        None => String::new(),
                    }
                ),
            ),
        }
    }
}

async fn request_backup(
    State(inner): State<Arc<Inner>>,
    Path(deployment): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(resp) = reject_unauthorized(&inner, &headers) {
        return resp;
    }
    // The body is optional; when present it may carry `includeStorage`.
    let include_storage = if body.is_empty() {
        false
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(v) => match v.get("includeStorage") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(other) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "BadRequest",
                        format!("field `includeStorage` must be a boolean, got {other}"),
                    );
                }
            },
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    format!("request body is not JSON: {e}"),
                );
            }
        }
    };
    let mut backups = inner.backups.lock().expect("backup table lock");
    let id = backups.len() as u64 + 1;
    let backup = Backup {
        id,
        deployment,
        requested: Instant::now(),
        requested_unix_ms: unix_ms(),
        include_storage,
    };
    let record = inner.record(&backup);
    backups.insert(id, backup);
    Json(record).into_response()
}

async fn get_backup_of_deployment(
    State(inner): State<Arc<Inner>>,
    Path((deployment, backup)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(resp) = reject_unauthorized(&inner, &headers) {
        return resp;
    }
    inner.lookup(&backup, Some(&deployment))
}

async fn get_backup(
    State(inner): State<Arc<Inner>>,
    Path(backup): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(resp) = reject_unauthorized(&inner, &headers) {
        return resp;
    }
    inner.lookup(&backup, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn serve(token: Option<&str>) -> String {
        let router = cloud_backup_router(CloudBackupConfig {
            access_token: token.map(String::from),
            backup_duration: Duration::from_millis(200),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn backup_moves_through_states_to_complete() {
        let base = serve(Some("secret-token")).await;
        let client = reqwest::Client::new();
        let resp = client
            .post(format!(
                "{base}/api/dashboard/deployments/42/request_cloud_backup"
            ))
            .bearer_auth("secret-token")
            .json(&json!({"includeStorage": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let record: Value = resp.json().await.unwrap();
        assert_eq!(record["state"], "requested");
        assert_eq!(record["sourceDeploymentId"], 42);
        assert_eq!(record["includeStorage"], true);
        let id = record["id"].as_u64().unwrap();

        let mut states = vec!["requested".to_string()];
        let deadline = Instant::now() + Duration::from_secs(5);
        while states.last().unwrap() != "complete" {
            assert!(Instant::now() < deadline, "never completed: {states:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
            let record: Value = client
                .get(format!(
                    "{base}/api/dashboard/deployments/42/cloud_backups/{id}"
                ))
                .bearer_auth("secret-token")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let state = record["state"].as_str().unwrap().to_string();
            if *states.last().unwrap() != state {
                states.push(state);
            }
        }
        assert_eq!(states, vec!["requested", "inProgress", "complete"]);

        // The dashboard's own path answers the same record.
        let record: Value = client
            .get(format!("{base}/api/dashboard/cloud_backups/{id}"))
            .bearer_auth("secret-token")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(record["state"], "complete");
        assert_eq!(record["id"], id);
    }

    #[tokio::test]
    async fn wrong_missing_or_unconfigured_token_is_401_and_unknown_backup_404() {
        let base = serve(Some("right")).await;
        let client = reqwest::Client::new();
        let url = format!("{base}/api/dashboard/deployments/7/request_cloud_backup");
        let resp = client.post(&url).bearer_auth("wrong").send().await.unwrap();
        assert_eq!(resp.status(), 401);
        let text = resp.text().await.unwrap();
        assert!(
            text.contains("not valid") && !text.contains("right"),
            "{text}"
        );
        let resp = client.post(&url).send().await.unwrap();
        assert_eq!(resp.status(), 401);
        assert!(resp.text().await.unwrap().contains("Bearer"));

        let resp = client
            .get(format!(
                "{base}/api/dashboard/deployments/7/cloud_backups/999"
            ))
            .bearer_auth("right")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404);
        // A backup of deployment 7 is not visible under deployment 8.
        let record: Value = client
            .post(&url)
            .bearer_auth("right")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let resp = client
            .get(format!(
                "{base}/api/dashboard/deployments/8/cloud_backups/{}",
                record["id"]
            ))
            .bearer_auth("right")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404);
        let resp = client
            .post(&url)
            .bearer_auth("right")
            .header("content-type", "application/json")
            .body(r#"{"includeStorage": "yes"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        assert!(resp.text().await.unwrap().contains("includeStorage"));

        let disabled = serve(None).await;
        let resp = client
            .post(format!(
                "{disabled}/api/dashboard/deployments/7/request_cloud_backup"
            ))
            .bearer_auth("anything")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        assert!(resp.text().await.unwrap().contains("--access-token"));
    }

    #[test]
    fn debug_output_redacts_the_token() {
        let config = CloudBackupConfig {
            access_token: Some("top-secret".into()),
            backup_duration: DEFAULT_BACKUP_DURATION,
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("top-secret") && shown.contains("redacted"));
    }
}
