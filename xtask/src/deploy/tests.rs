//! `deploy_functions` against the real Convex CLI. No Convex backend runs
//! here, so a capture endpoint on loopback plays one: it answers the config
//! request like an empty deployment and records what the CLI then pushes,
//! which is exactly what a backend would receive.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::*;

/// Deploys share `functions/node_modules`; one at a time may install it.
static NODE_PROJECT: Mutex<()> = Mutex::new(());

/// What the capture endpoint answers `evaluate_push` with, so that the CLI
/// stops there: nothing is applied anywhere.
const CAPTURE_ONLY: &str = "CaptureOnly";

fn functions_dir() -> PathBuf {
    crate::project_root().join("functions")
}

#[derive(Debug, Clone)]
struct Recorded {
    path: String,
    authorization: Option<String>,
    body: Value,
}

struct Capture {
    admin_key: String,
    requests: Mutex<Vec<Recorded>>,
}

impl Capture {
    fn requests_to(&self, path: &str) -> Vec<Recorded> {
        let requests = self.requests.lock().unwrap();
        requests
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
}

/// A capture endpoint serving on 127.0.0.1 for as long as it lives.
struct CaptureServer {
    addr: SocketAddr,
    capture: Arc<Capture>,
    _runtime: tokio::runtime::Runtime,
}

impl CaptureServer {
    fn start(admin_key: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let capture = Arc::new(Capture {
            admin_key: admin_key.to_string(),
            requests: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/api/get_config_hashes", post(config_hashes))
            .route("/api/deploy2/evaluate_push", post(evaluate_push))
            .fallback(not_found)
            .with_state(capture.clone());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, app).await });
        Self {
            addr,
            capture,
            _runtime: runtime,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

fn record(capture: &Capture, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> bool {
    let compressed = headers
        .get("content-encoding")
        .is_some_and(|encoding| encoding == "br");
    let mut raw = Vec::new();
    if compressed {
        brotli_decompressor::Decompressor::new(&body[..], 4096)
            .read_to_end(&mut raw)
            .expect("the CLI's push is valid brotli");
    } else {
        raw.extend_from_slice(body);
    }
    let authorization = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let authorized = authorization.as_deref() == Some(&format!("Convex {}", capture.admin_key));
    capture.requests.lock().unwrap().push(Recorded {
        path: uri.path().to_string(),
        authorization,
        body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
    });
    authorized
}

/// What a Convex backend answers for a key it did not issue.
fn bad_admin_key() -> Response {
    let body = json!({
        "code": "BadAdminKey",
        "message": "The provided admin key was invalid for this instance",
    });
    (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response()
}

async fn config_hashes(
    State(capture): State<Arc<Capture>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !record(&capture, &uri, &headers, &body) {
        return bad_admin_key();
    }
    // A deployment that has never been pushed to.
    axum::Json(json!({
        "config": { "functions": "convex/" },
        "moduleHashes": [],
        "nodeDependencies": [],
        "udfServerVersion": null,
        "nodeVersion": null,
    }))
    .into_response()
}

async fn evaluate_push(
    State(capture): State<Arc<Capture>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !record(&capture, &uri, &headers, &body) {
        return bad_admin_key();
    }
    let body = json!({
        "code": CAPTURE_ONLY,
        "message": "the capture endpoint recorded this push and applies nothing",
    });
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

/// Other endpoints (e.g. the optional `evaluate_schema`) do not exist here,
/// as on an older backend.
async fn not_found(
    State(capture): State<Arc<Capture>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    record(&capture, &uri, &headers, &body);
    StatusCode::NOT_FOUND
}

/// The module paths a push must carry: one per source file of `convex/`,
/// less generated code and the two files pushed apart (schema, app config).
fn expected_modules(convex_dir: &Path) -> BTreeSet<String> {
    fn walk(dir: &Path, prefix: &str, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            if entry.file_type().unwrap().is_dir() {
                if name != "_generated" {
                    walk(&entry.path(), &format!("{prefix}{name}/"), out);
                }
            } else if let Some(stem) = name.strip_suffix(".ts") {
                if prefix.is_empty() && (stem == "schema" || stem == "convex.config") {
                    continue;
                }
                out.insert(format!("{prefix}{stem}.js"));
            }
        }
    }
    let mut modules = BTreeSet::new();
    walk(convex_dir, "", &mut modules);
    modules
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("push has no string at {pointer}"))
}

#[test]
fn deploy_pushes_every_module_the_schema_and_the_component_with_the_admin_key() {
    let _lock = NODE_PROJECT.lock().unwrap_or_else(|e| e.into_inner());
    let admin_key = "capture-test-admin-key|0123456789abcdef";
    let server = CaptureServer::start(admin_key);
    let sh = Shell::new().unwrap();

    let result = deploy_functions(&sh, &functions_dir(), &server.url(), admin_key);

    // The capture endpoint refuses to apply the push, so the deploy fails,
    // with the endpoint's own words in the error.
    let error = format!(
        "{:#}",
        result.expect_err("the capture endpoint applies nothing")
    );
    assert!(error.contains(CAPTURE_ONLY), "unexpected error: {error}");
    assert!(!error.contains(admin_key), "the error leaks the admin key");

    let config = server.capture.requests_to("/api/get_config_hashes");
    assert_eq!(config.len(), 1, "one config request");
    let pushes = server.capture.requests_to("/api/deploy2/evaluate_push");
    assert_eq!(pushes.len(), 1, "one push");
    let push = &pushes[0];
    let expected_auth = format!("Convex {admin_key}");
    assert_eq!(config[0].authorization.as_deref(), Some(&*expected_auth));
    assert_eq!(push.authorization.as_deref(), Some(&*expected_auth));
    assert_eq!(str_at(&push.body, "/adminKey"), admin_key);
    assert_eq!(push.body["dryRun"], json!(false));

    // One bundled module per project file; only the "use node" one in Node.
    let app = &push.body["appDefinition"];
    let modules = app["changedModules"].as_array().expect("changedModules");
    let mut pushed = BTreeSet::new();
    for module in modules {
        let path = str_at(module, "/path");
        let environment = str_at(module, "/environment");
        assert!(
            !str_at(module, "/source").is_empty(),
            "{path} is pushed empty"
        );
        if path.starts_with("_deps/") {
            continue; // chunks shared by several modules
        }
        let expected_environment = if path == "actions/insert.js" {
            "node"
        } else {
            "isolate"
        };
        assert_eq!(environment, expected_environment, "environment of {path}");
        pushed.insert(path.to_string());
    }
    assert_eq!(pushed, expected_modules(&functions_dir().join("convex")));

    // The schema, with the indexes the scenarios rely on.
    assert_eq!(str_at(app, "/schema/path"), "schema.js");
    let schema = str_at(app, "/schema/source");
    for index in [
        "by_channel_rand",
        "by_rand",
        "search_body",
        "search_text",
        "embedding",
    ] {
        assert!(schema.contains(index), "schema lacks index {index}");
    }

    // The counter component: the app depends on it, and it is pushed with
    // its own schema and functions.
    assert_eq!(app["dependencies"], json!(["../counterComponent"]));
    let components = push.body["componentDefinitions"]
        .as_array()
        .expect("componentDefinitions");
    assert_eq!(components.len(), 1);
    let counter = &components[0];
    assert_eq!(str_at(counter, "/definitionPath"), "../counterComponent");
    assert!(str_at(counter, "/schema/source").contains("counters"));
    let functions: Vec<&str> = counter["functions"]
        .as_array()
        .expect("component functions")
        .iter()
        .map(|module| str_at(module, "/path"))
        .collect();
    assert_eq!(functions, ["public.js"]);
}

#[test]
fn a_wrong_admin_key_is_reported_as_such() {
    let _lock = NODE_PROJECT.lock().unwrap_or_else(|e| e.into_inner());
    let server = CaptureServer::start("the-right-key");
    let sh = Shell::new().unwrap();
    let wrong_key = "a-wrong-key";

    let error = deploy_functions(&sh, &functions_dir(), &server.url(), wrong_key)
        .expect_err("a wrong key must fail");

    let error = format!("{error:#}");
    assert!(
        error.contains("rejected the admin key"),
        "unexpected error: {error}"
    );
    assert!(error.contains(&server.url()), "error names no URL: {error}");
    assert!(!error.contains(wrong_key), "the error leaks the admin key");
    assert!(
        server
            .capture
            .requests_to("/api/deploy2/evaluate_push")
            .is_empty(),
        "nothing is pushed with a rejected key"
    );
}

#[test]
fn an_unreachable_url_is_reported_before_running_the_cli() {
    // A port that was free a moment ago: nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let sh = Shell::new().unwrap();

    let error = deploy_functions(&sh, &functions_dir(), &url, "some-key")
        .expect_err("nothing listens there");

    let error = format!("{error:#}");
    assert!(error.contains("cannot reach"), "unexpected error: {error}");
    assert!(error.contains(&url), "error names no URL: {error}");
}

#[test]
fn missing_node_is_reported_as_such() {
    let sh = Shell::new().unwrap();
    sh.set_var("PATH", "/nonexistent-bin-dir");

    let error = deploy_functions(&sh, &functions_dir(), "http://127.0.0.1:3210", "k")
        .expect_err("npm is not on this PATH");

    let error = format!("{error:#}");
    assert!(
        error.contains("`npm` was not found on PATH"),
        "unexpected error: {error}"
    );
}

#[test]
fn bad_arguments_name_the_bad_value() {
    let sh = Shell::new().unwrap();
    let error = deploy_functions(&sh, &functions_dir(), "127.0.0.1:3210", "k").unwrap_err();
    assert!(format!("{error}").contains("\"127.0.0.1:3210\" must start with http://"));

    let error = deploy_functions(&sh, &functions_dir(), "http://127.0.0.1:3210", " ").unwrap_err();
    assert!(format!("{error}").contains("admin key"));

    let not_a_project = crate::project_root().join("xtask");
    let error = deploy_functions(&sh, &not_a_project, "http://127.0.0.1:3210", "k").unwrap_err();
    assert!(
        format!("{error}")
            .contains("is not the benchmark functions project: package.json is missing")
    );
}

#[test]
fn deployment_addresses_get_the_scheme_default_port() {
    assert_eq!(
        deployment_address("http://127.0.0.1:3210").unwrap(),
        "127.0.0.1:3210"
    );
    assert_eq!(
        deployment_address("http://localhost/").unwrap(),
        "localhost:80"
    );
    assert_eq!(
        deployment_address("https://happy-otter-123.convex.cloud").unwrap(),
        "happy-otter-123.convex.cloud:443"
    );
    assert_eq!(
        deployment_address("http://[::1]:3210").unwrap(),
        "[::1]:3210"
    );
    assert_eq!(deployment_address("http://[::1]").unwrap(), "[::1]:80");
    assert!(deployment_address("http://").is_err());
    assert!(deployment_address("ftp://host").is_err());
}

#[test]
fn relayed_output_masks_the_admin_key() {
    let output = "pushing with key s3cret-key\nok\n";
    let lines = relay(output.as_bytes(), "s3cret-key");
    assert_eq!(lines, ["pushing with key <admin key>", "ok"]);
}

#[test]
fn failures_are_explained_from_the_cli_output() {
    let status = std::process::Command::new("false").status().unwrap();
    let explain = |output: &[&str]| {
        let output: Vec<String> = output.iter().map(|s| s.to_string()).collect();
        explain_failure("http://h:1", &output, status).to_string()
    };
    assert!(
        explain(&["✖ Error fetching POST http://h:1/api/x 401 Unauthorized: BadAdminKey: no"])
            .contains("rejected the admin key")
    );
    assert!(explain(&["✖ TypeError: fetch failed"]).contains("could not reach"));
    let other = explain(&["Bundling...", "✖ Error: something odd", "done"]);
    assert!(other.contains("✖ Error: something odd"), "{other}");
    assert!(!other.contains("Bundling"), "{other}");
}
