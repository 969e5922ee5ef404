//! Failures on demand, as Microsoft's cloud produces them
//! (<https://learn.microsoft.com/graph/throttling>, <https://learn.microsoft.com/graph/errors>,
//! <https://devblogs.microsoft.com/identity/designing-for-eventual-consistency-for-microsoft-entra/>):
//! added latency,
//! throttling (429 with Retry-After), service unavailable (503), and directory replication lag
//! (kept in the tenant: objects stay invisible to dependent calls for a while), dropped
//! connections, short token lifetimes and refusals on demand. Latency applies to every request;
//! the failures to Graph (`/v1.0` and `/beta`) only. Set at start by
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
    /// Writes that succeed or fail in a chosen way, each aimed at one request (see `WriteFault`).
    pub write_faults: Vec<WriteFault>,
    /// Seconds a created application, service principal, app role assignment or role
    /// assignment stays missing from collection reads and alternate-key reads.
    pub list_lag_secs: i64,
    /// Seconds reads of an application keep returning the version from before a PATCH.
    pub stale_read_secs: i64,
    /// Refresh-token grants fail with this Entra error (`50076`, `53003`, `700084`,
    /// `interaction_required`).
    pub refresh_error: Option<String>,
    /// The nth Graph request matching answers a Continuous Access Evaluation claims challenge.
    pub claims_challenge: Option<ClaimsChallenge>,
    /// Seconds before a credential sign-in shows in `/beta/reports/appCredentialSignInActivities`
    /// (Microsoft aggregates the usage data; it is not real time).
    pub report_lag_secs: i64,
    /// The tenant has no Microsoft Entra ID P1/P2 licence: the usage report answers 403
    /// `Authentication_RequestFromNonPremiumTenantOrB2CTenant`.
    pub no_premium_licence: bool,
    /// Azure Resource Manager's faults (`armThrottleEvery`, `armWriteFaults`, … — `arm.rs`).
    #[serde(flatten)]
    pub arm: crate::arm::ArmFaults,
}

/// One write aimed at: the `nth` request (counted from when the faults were set) with this
/// method whose percent-decoded path and query contain `path_contains`. Outer requests only.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WriteFault {
    /// `POST` or `PATCH`.
    pub method: String,
    /// Part of the percent-decoded path and query.
    pub path_contains: String,
    /// Which matching request (1 = the first).
    pub nth: u64,
    /// `lost`, `500`, `502`, `504` (the write happens, the answer is lost or an error), `429`,
    /// `503` (refused before the write).
    pub kind: String,
    /// Whether it has fired (each rule fires once).
    pub fired: bool,
    /// Matching requests seen so far.
    pub seen: u64,
}

/// A claims challenge aimed at the `nth` Graph request whose path and query contain
/// `path_contains`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClaimsChallenge {
    /// Part of the percent-decoded path and query.
    pub path_contains: String,
    /// Which matching request (1 = the first).
    pub nth: u64,
    /// Matching requests seen so far.
    pub seen: u64,
    /// When it fired (simulated Unix seconds): tokens issued before are revoked.
    pub fired_at: Option<i64>,
    /// When a sign-in answered it (simulated Unix seconds).
    pub satisfied_at: Option<i64>,
}

/// `GET /_sim/faults`: the faults in force, with the write faults that already fired.
pub async fn get(State(state): State<Shared>) -> Json<Faults> {
    Json(lock(&state).faults.clone())
}

/// `%XX` sequences decoded (invalid ones kept as they are): what a rule's `pathContains` is
/// matched against.
pub fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The write fault that fires for this request, if any (counting it against every rule).
fn write_fault(faults: &mut Faults, method: &str, target: &str) -> Option<String> {
    let mut chosen = None;
    for rule in &mut faults.write_faults {
        if rule.fired
            || !rule.method.eq_ignore_ascii_case(method)
            || !target.contains(rule.path_contains.as_str())
        {
            continue;
        }
        rule.seen += 1;
        if chosen.is_none() && rule.seen >= rule.nth.max(1) {
            rule.fired = true;
            chosen = Some(rule.kind.clone());
        }
    }
    chosen
}

/// `POST /_sim/faults`: replaces the faults in force.
pub async fn set(State(state): State<Shared>, Json(faults): Json<Faults>) -> StatusCode {
    let mut sim = lock(&state);
    sim.tenant.replication_lag_secs = faults.replication_lag_secs;
    sim.tenant.list_lag_secs = faults.list_lag_secs;
    sim.tenant.stale_read_secs = faults.stale_read_secs;
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
    if !crate::graph::is_graph(request.uri().path()) {
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
            Some(faults.retry_after_secs),
        );
    }
    if every(faults.unavailable_every) {
        return failure(
            StatusCode::SERVICE_UNAVAILABLE,
            "serviceNotAvailable",
            "The service is temporarily unavailable. Please retry.",
            Some(faults.retry_after_secs),
        );
    }
    let inner = request.extensions().get::<crate::batch::Inner>().is_some();
    let target = percent_decoded(
        &request
            .uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
    );
    if !inner {
        let mut sim = lock(&state);
        let now = sim.tenant.clock.now();
        if let Some(answer) =
            crate::challenge::graph_check(&mut sim.faults, &target, request.headers(), now)
        {
            return answer;
        }
    }
    let aimed = if inner {
        None
    } else {
        write_fault(&mut lock(&state).faults, request.method().as_str(), &target)
    };
    match aimed.as_deref() {
        Some("429") => {
            return failure(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "Please retry again later.",
                Some(retry_after(faults.retry_after_secs)),
            );
        }
        Some("503") => {
            return failure(
                StatusCode::SERVICE_UNAVAILABLE,
                "serviceNotAvailable",
                "The service is temporarily unavailable. Please retry.",
                Some(retry_after(faults.retry_after_secs)),
            );
        }
        _ => {}
    }
    let response = next.run(request).await;
    // The write was carried out; only its answer goes wrong.
    match aimed.as_deref() {
        Some("lost") => return dropped(response),
        Some("500") => {
            return failure(
                StatusCode::INTERNAL_SERVER_ERROR,
                "generalException",
                "An unspecified error has occurred.",
                None,
            );
        }
        Some("502") => {
            return failure(
                StatusCode::BAD_GATEWAY,
                "BadGateway",
                "The server, while acting as a gateway or proxy, received an invalid response from the upstream server.",
                None,
            );
        }
        Some("504") => {
            return failure(
                StatusCode::GATEWAY_TIMEOUT,
                "GatewayTimeout",
                "The server, while acting as a proxy, did not receive a timely response from the upstream server.",
                None,
            );
        }
        _ => {}
    }
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

/// The Retry-After an aimed 429/503 carries: the configured one, else 1 second.
fn retry_after(configured: f64) -> f64 {
    if configured > 0.0 { configured } else { 1.0 }
}

fn failure(status: StatusCode, code: &str, message: &str, retry_after: Option<f64>) -> Response {
    let id = ids::guid();
    let body = json!({ "error": {
        "code": code, "message": message,
        "innerError": { "code": status.as_u16().to_string(), "date": ids::now_rfc3339(), "request-id": id, "client-request-id": id },
    }});
    let mut response = (status, Json(body)).into_response();
    if let Some(after) = retry_after
        && let Ok(value) = HeaderValue::from_str(&format!("{after}"))
    {
        response.headers_mut().insert("retry-after", value);
    }
    response
}
