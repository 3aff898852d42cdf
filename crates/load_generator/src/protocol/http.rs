//! The HTTP function API (`POST /api/query|mutation|action`) and HTTP
//! actions on the site URL, over one pooled keep-alive reqwest client each.

use std::time::Instant;

use serde_json::{Value as JsonValue, json};

use super::{CallError, Failed};
use crate::workload::model::FunctionType;

/// HTTP status Convex answers when the function itself threw.
const FUNCTION_ERROR_STATUS: u16 = 560;

fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder().tcp_nodelay(true).build()?)
}

fn transport(sent: Instant, e: impl std::fmt::Display) -> Failed {
    Failed::new(Some(sent), CallError::Transport(e.to_string()))
}

/// A function result over HTTP.
#[derive(Debug, Clone)]
pub struct HttpReply {
    pub value: JsonValue,
    pub sent: Instant,
}

pub struct HttpFunctionClient {
    client: reqwest::Client,
    base_url: String,
    authorization: Option<String>,
}

impl HttpFunctionClient {
    pub fn new(deployment_url: &str, admin_key: Option<&str>) -> anyhow::Result<Self> {
        Ok(HttpFunctionClient {
            client: client()?,
            base_url: deployment_url.trim_end_matches('/').to_string(),
            authorization: admin_key.map(|key| format!("Convex {key}")),
        })
    }

    pub async fn call(
        &self,
        fn_type: FunctionType,
        path: &str,
        args: JsonValue,
    ) -> Result<HttpReply, Failed> {
        let url = format!("{}/api/{}", self.base_url, fn_type.as_str());
        let mut request = self
            .client
            .post(url)
            .json(&json!({"path": path, "args": args, "format": "json"}));
        if let Some(authorization) = &self.authorization {
            request = request.header(reqwest::header::AUTHORIZATION, authorization);
        }
        let sent = Instant::now();
        let response = request.send().await.map_err(|e| transport(sent, e))?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|e| transport(sent, e))?;
        if status != 200 && status != FUNCTION_ERROR_STATUS {
            return Err(Failed::new(
                Some(sent),
                CallError::Http {
                    status,
                    body: String::from_utf8_lossy(&body).chars().take(500).collect(),
                },
            ));
        }
        let reply: JsonValue = serde_json::from_slice(&body)
            .map_err(|e| transport(sent, format!("reply is not JSON: {e}")))?;
        match reply.get("status").and_then(JsonValue::as_str) {
            Some("success") => Ok(HttpReply {
                value: reply.get("value").cloned().unwrap_or(JsonValue::Null),
                sent,
            }),
            Some("error") => Err(Failed::new(
                Some(sent),
                CallError::Function(
                    reply
                        .get("errorMessage")
                        .and_then(JsonValue::as_str)
                        .unwrap_or("(no errorMessage)")
                        .to_string(),
                ),
            )),
            _ => Err(transport(sent, format!("reply has no status: {reply}"))),
        }
    }
}

/// An HTTP action's answer, its body fully read.
#[derive(Debug, Clone)]
pub struct HttpActionReply {
    pub status: u16,
    pub body_len: usize,
    pub sent: Instant,
}

pub struct HttpActionClient {
    client: reqwest::Client,
    site_url: String,
}

impl HttpActionClient {
    pub fn new(site_url: &str) -> anyhow::Result<Self> {
        Ok(HttpActionClient {
            client: client()?,
            site_url: site_url.trim_end_matches('/').to_string(),
        })
    }

    /// `method` `<site url>/<path>`; any 2xx is success, anything else an
    /// HTTP error. The body is drained so streamed replies count in full.
    pub async fn fetch(&self, method: &str, path: &str) -> Result<HttpActionReply, Failed> {
        let method =
            reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()).map_err(|e| {
                Failed::new(
                    None,
                    CallError::Usage(format!("HTTP method {method:?}: {e}")),
                )
            })?;
        let url = format!("{}/{}", self.site_url, path.trim_start_matches('/'));
        let request = self.client.request(method, url);
        let sent = Instant::now();
        let mut response = request.send().await.map_err(|e| transport(sent, e))?;
        let status = response.status().as_u16();
        let mut body_len = 0;
        let mut head = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| transport(sent, e))? {
            body_len += chunk.len();
            if head.len() < 500 {
                head.extend_from_slice(&chunk[..chunk.len().min(500 - head.len())]);
            }
        }
        if !(200..300).contains(&status) {
            return Err(Failed::new(
                Some(sent),
                CallError::Http {
                    status,
                    body: String::from_utf8_lossy(&head).into_owned(),
                },
            ));
        }
        Ok(HttpActionReply {
            status,
            body_len,
            sent,
        })
    }
}
