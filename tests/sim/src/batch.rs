//! JSON `$batch` (<https://learn.microsoft.com/graph/json-batching>): up to 20 requests, each answered with its own status inside a
//! 200; `dependsOn` orders requests and a failed dependency gives `424 Failed Dependency`. Each
//! inner request goes through the same Graph routes with the outer request's token.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::Extension;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::tenant::GraphError;

/// Marks a request as one of a `$batch`'s inner requests.
#[derive(Debug, Clone, Copy)]
pub struct Inner;

/// Graph's limit on requests in one batch.
pub const MAX_REQUESTS: usize = 20;

fn bad(message: &str) -> Response {
    let e = GraphError {
        status: 400,
        code: "BadRequest",
        message: message.to_owned(),
        detail: None,
    };
    (StatusCode::BAD_REQUEST, Json(e.body(&crate::ids::guid()))).into_response()
}

/// `POST /v1.0/$batch`.
pub async fn batch(
    Extension(graph): Extension<Router>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let Some(requests) = body["requests"].as_array() else {
        return bad("Invalid batch payload format: 'requests' is required.");
    };
    if requests.is_empty() {
        return bad("Invalid batch payload format: 'requests' is empty.");
    }
    if requests.len() > MAX_REQUESTS {
        return bad(&format!(
            "Invalid batch payload format: the number of requests ({}) exceeds the limit of {MAX_REQUESTS}.",
            requests.len()
        ));
    }
    let ids: Vec<&str> = requests.iter().filter_map(|r| r["id"].as_str()).collect();
    if ids.len() != requests.len() {
        return bad("Invalid batch payload format: every request needs a string 'id'.");
    }
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    if unique.len() != ids.len() {
        return bad("Invalid batch payload format: request ids must be unique.");
    }
    let authorization = headers.get(header::AUTHORIZATION).cloned();
    // Inner requests address the same host as the batch (their nextLinks point there).
    let host = headers.get(header::HOST).cloned();
    let mut statuses: HashMap<String, u16> = HashMap::new();
    let mut responses = Vec::new();
    for request in requests {
        let id = request["id"].as_str().unwrap_or_default().to_owned();
        let depends: Vec<&str> = request["dependsOn"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        // A dependency must have run earlier in the batch and succeeded.
        let failed = depends
            .iter()
            .any(|d| statuses.get(*d).is_none_or(|s| *s >= 400));
        let (status, body, retry_after) = if failed {
            (
                424,
                GraphError {
                    status: 424,
                    code: "FailedDependency",
                    message:
                        "The request could not be performed because a request it depends on failed."
                            .into(),
                    detail: None,
                }
                .body(&crate::ids::guid()),
                None,
            )
        } else {
            run(&graph, request, authorization.as_ref(), host.as_ref()).await
        };
        statuses.insert(id.clone(), status);
        let mut headers = json!({ "Content-Type": "application/json" });
        if let Some(after) = retry_after {
            headers["Retry-After"] = json!(after);
        }
        responses.push(json!({ "id": id, "status": status, "headers": headers, "body": body }));
    }
    Json(json!({ "responses": responses })).into_response()
}

async fn run(
    graph: &Router,
    request: &Value,
    authorization: Option<&header::HeaderValue>,
    host: Option<&header::HeaderValue>,
) -> (u16, Value, Option<String>) {
    let method = request["method"].as_str().unwrap_or("GET").to_uppercase();
    let url = request["url"].as_str().unwrap_or_default();
    let path = url
        .strip_prefix("https://graph.microsoft.com/v1.0")
        .unwrap_or(url);
    let path = format!("/v1.0/{}", path.trim_start_matches('/'));
    let inner_headers = request["headers"].as_object();
    let has_body = !request["body"].is_null();
    let content_type = inner_headers.and_then(|h| {
        h.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .and_then(|(_, v)| v.as_str())
    });
    if has_body && content_type.is_none() {
        let e = GraphError::bad_request(
            "A request in a batch with a body must give its Content-Type header.",
        );
        return (400, e.body(&crate::ids::guid()), None);
    }
    let mut builder = Request::builder()
        .method(method.as_str())
        .uri(path.replace(' ', "%20").replace('\'', "%27"));
    if let Some(auth) = authorization {
        builder = builder.header(header::AUTHORIZATION, auth);
    }
    if let Some(host) = host {
        builder = builder.header(header::HOST, host);
    }
    if let Some(h) = inner_headers {
        for (k, v) in h {
            if let Some(v) = v.as_str() {
                builder = builder.header(k.as_str(), v);
            }
        }
    }
    let body = if has_body {
        Body::from(request["body"].to_string())
    } else {
        Body::empty()
    };
    let Ok(inner) = builder.body(body) else {
        let e = GraphError::bad_request(format!("Invalid request URL in batch: {url}"));
        return (400, e.body(&crate::ids::guid()), None);
    };
    let Ok(response) = graph.clone().oneshot(inner).await;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        retry_after,
    )
}
