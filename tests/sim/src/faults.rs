//! Failures on demand, as Microsoft's cloud produces them (reference §3): added latency,
//! throttling (429 with Retry-After), service unavailable (503), and directory replication lag
//! (kept in the tenant: objects stay invisible to dependent calls for a while), dropped
//! connections, short token lifetimes and refusals on demand. Latency applies to every request;
//! the failures to Graph (`/v1.0`) only. Set at start by
//! flags or at any time with `POST /_sim/faults`; the `/_sim` endpoints themselves never fail.

use std::time::Duration;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::graph::{Shared, lock};
use crate::ids;

/// The faults in force.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Faults {
    /// Added to every Graph and identity-platform request.
    pub latency_ms: u64,
    /// Every Nth such request answers 429 TooManyRequests.
    pub throttle_every: Option<u64>,
    /// The Retry-After those 429s (and 503s) carry, in seconds (Graph sends fractions too).
    pub retry_after_secs: f64,
    /// Every Nth request answers 503 serviceNotAvailable.
    pub unavailable_every: Option<u64>,
    /// Seconds a created application or service principal stays invisible to dependent calls.
    pub replication_lag_secs: i64,
    /// Every Nth request is carried out but its connection drops before the answer arrives
    /// (the client cannot know whether a write happened).
    pub drop_every: Option<u64>,
    /// Lifetime of the delegated access tokens issued from now on (Entra's are about an hour).
    pub token_lifetime_secs: Option<u64>,
    /// Requests whose path contains this are refused with 403 `Authorization_RequestDenied`
    /// (as when the admin's role is removed mid-run), until the faults change.
    pub deny_path_contains: Option<String>,
}

/// `POST /_sim/faults`: replaces the faults in force.
pub async fn set(State(state): State<Shared>, Json(faults): Json<Faults>) -> StatusCode {
    let mut sim = lock(&state);
    sim.tenant.replication_lag_secs = faults.replication_lag_secs;
    sim.faults = faults;
    sim.requests = 0;
    StatusCode::NO_CONTENT
}

/// One request as the simulator saw it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Logged {
    /// HTTP method (`OPTIONS` for CORS preflights).
    pub method: String,
    /// Path and query.
    pub path: String,
    /// When it arrived (Unix ms).
    pub start_ms: i64,
    /// When the answer left (Unix ms).
    pub end_ms: i64,
    /// HTTP status.
    pub status: u16,
}

/// Outermost middleware: the added latency for every request but `/_sim` (CORS preflights
/// included, as on a real network), and the request log.
pub async fn latency_and_log(
    State(state): State<Shared>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path().starts_with("/_sim") {
        return next.run(request).await;
    }
    let start_ms = ids::now_ms();
    let method = request.method().to_string();
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let latency = lock(&state).faults.latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let response = next.run(request).await;
    lock(&state).log.push(Logged {
        method,
        path,
        start_ms,
        end_ms: ids::now_ms(),
        status: response.status().as_u16(),
    });
    response
}

/// Middleware: throttling, unavailability, refusals and dropped connections for Graph.
pub async fn apply(State(state): State<Shared>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/_sim") {
        return next.run(request).await;
    }
    // Failures are Graph's; the identity platform only gets the latency.
    if !request.uri().path().starts_with("/v1.0/") {
        return next.run(request).await;
    }
    let (faults, n) = {
        let mut sim = lock(&state);
        sim.requests += 1;
        (sim.faults.clone(), sim.requests)
    };
    let every = |k: Option<u64>| k.is_some_and(|k| k > 0 && n % k == 0);
    if let Some(part) = &faults.deny_path_contains
        && request.uri().path().contains(part.as_str())
    {
        let e = crate::tenant::GraphError::denied();
        return (StatusCode::FORBIDDEN, Json(e.body(&ids::guid()))).into_response();
    }
    if every(faults.throttle_every) {
        return failure(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Please retry again later.",
            faults.retry_after_secs,
        );
    }
    if every(faults.unavailable_every) {
        return failure(
            StatusCode::SERVICE_UNAVAILABLE,
            "serviceNotAvailable",
            "The service is temporarily unavailable. Please retry.",
            faults.retry_after_secs,
        );
    }
    let inner = request.extensions().get::<crate::batch::Inner>().is_some();
    let response = next.run(request).await;
    if every(faults.drop_every) && !inner {
        return dropped(response);
    }
    response
}

/// The status line and headers go out, then the connection breaks mid-body: the server did the
/// work, the client sees a network error.
fn dropped(response: Response) -> Response {
    let (parts, _) = response.into_parts();
    let broken = futures_util::stream::once(async {
        Err::<bytes::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection dropped by the simulator (fault)",
        ))
    });
    Response::from_parts(parts, axum::body::Body::from_stream(broken))
}

fn failure(status: StatusCode, code: &str, message: &str, retry_after: f64) -> Response {
    let id = ids::guid();
    let body = json!({ "error": {
        "code": code, "message": message,
        "innerError": { "code": status.as_u16().to_string(), "date": ids::now_rfc3339(), "request-id": id, "client-request-id": id },
    }});
    let mut response = (status, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("{retry_after}")) {
        response.headers_mut().insert("retry-after", value);
    }
    response
}
