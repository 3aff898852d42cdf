//! The benchmark's HTTP actions (`convex/http.ts` in the function set):
//! `POST /basic` answers `{"hello": "world"}`, `POST /streaming` streams a
//! body in two chunks 20 ms apart, anything else is a 404 like Convex's
//! HTTP router ("No matching routes found"; a known path with the wrong
//! method is also a 404 there, not a 405).
//!
//! Served at the root of the site port and under `/http/` on the main port.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;

/// Delay between the two chunks of `/streaming`.
pub const STREAMING_CHUNK_GAP: Duration = Duration::from_millis(20);
/// The two chunks `/streaming` sends, in order.
pub const STREAMING_CHUNKS: [&str; 2] = ["<html>", "</html>"];
/// Body of every 404 (Convex's wording).
pub const NOT_FOUND_BODY: &str = "No matching routes found";

/// Runs before every request that matched a route (statistics, injected
/// faults); a `Some` response replaces the route's own.
pub type BeforeAction = Arc<dyn Fn() -> BoxFuture<'static, Option<Response>> + Send + Sync>;

/// A router answering the site routes; mount at `/` (as the fallback) or
/// with `nest_service("/http", ..)`.
pub fn site_router(before: BeforeAction) -> Router {
    Router::new().fallback(dispatch).with_state(before)
}

async fn dispatch(State(before): State<BeforeAction>, method: Method, uri: Uri) -> Response {
    let route = (method, uri.path());
    if matches!(route, (Method::POST, "/basic" | "/streaming"))
        && let Some(replacement) = before().await
    {
        return replacement;
    }
    match route {
        (Method::POST, "/basic") => (
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"hello":"world"}"#,
        )
            .into_response(),
        (Method::POST, "/streaming") => streaming().into_response(),
        _ => (StatusCode::NOT_FOUND, NOT_FOUND_BODY).into_response(),
    }
}

fn streaming() -> Response {
    let chunks = futures_util::stream::unfold(0usize, |i| async move {
        if i >= STREAMING_CHUNKS.len() {
            return None;
        }
        if i > 0 {
            tokio::time::sleep(STREAMING_CHUNK_GAP).await;
        }
        Some((
            Ok::<_, std::convert::Infallible>(Bytes::from_static(STREAMING_CHUNKS[i].as_bytes())),
            i + 1,
        ))
    });
    (
        [(header::CONTENT_TYPE, "text/html")],
        Body::from_stream(chunks),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    async fn serve(router: Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn basic_streaming_and_not_found_at_root_and_under_http() {
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = calls.clone();
        let before: BeforeAction = Arc::new(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Box::pin(async { None })
        });
        let base = serve(
            Router::new()
                .nest_service("/http", site_router(before.clone()))
                .fallback_service(site_router(before)),
        )
        .await;
        let client = reqwest::Client::new();
        for prefix in ["", "/http"] {
            let resp = client
                .post(format!("{base}{prefix}/basic"))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            let json: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(json, serde_json::json!({"hello": "world"}));

            let mut resp = client
                .post(format!("{base}{prefix}/streaming"))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            let mut arrivals = Vec::new();
            let start = Instant::now();
            while let Some(chunk) = resp.chunk().await.unwrap() {
                arrivals.push((start.elapsed(), chunk));
            }
            assert_eq!(arrivals.len(), 2, "{arrivals:?}");
            assert_eq!(arrivals[0].1, STREAMING_CHUNKS[0]);
            assert_eq!(arrivals[1].1, STREAMING_CHUNKS[1]);
            let gap = arrivals[1].0 - arrivals[0].0;
            assert!(gap >= Duration::from_millis(15), "chunks {gap:?} apart");

            for (method, path) in [
                (Method::GET, "/basic"),
                (Method::POST, "/nope"),
                (Method::POST, "/"),
            ] {
                let resp = client
                    .request(method.clone(), format!("{base}{prefix}{path}"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 404, "{method} {prefix}{path}");
                assert_eq!(resp.text().await.unwrap(), NOT_FOUND_BODY);
            }
        }
        // Two matched routes per prefix; 404s are not counted.
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_before_hook_can_replace_the_response() {
        let before: BeforeAction = Arc::new(|| {
            Box::pin(async {
                Some((StatusCode::INTERNAL_SERVER_ERROR, "Injected fault").into_response())
            })
        });
        let base = serve(Router::new().fallback_service(site_router(before))).await;
        let client = reqwest::Client::new();
        let resp = client.post(format!("{base}/basic")).send().await.unwrap();
        assert_eq!(resp.status(), 500);
        assert_eq!(resp.text().await.unwrap(), "Injected fault");
        // Unmatched routes never reach the hook.
        let resp = client.post(format!("{base}/nope")).send().await.unwrap();
        assert_eq!(resp.status(), 404);
    }
}
