//! Conditional Access and Continuous Access Evaluation, on demand. Refresh grants can be made to
//! fail as Entra fails them (MFA required, blocked by policy, the SPA's 24 hours), and a Graph
//! request can answer a CAE claims challenge (Learn: "Claims challenges, claims requests, and
//! client capabilities", "Continuous access evaluation"): 401 with `WWW-Authenticate: Bearer …
//! error="insufficient_claims", claims="<base64 JSON>"`. From then on every token issued before
//! the challenge is refused the same way, and refresh grants need interaction, until an
//! authorization-code sign-in whose `/authorize` carried a `claims` parameter that satisfies it.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::faults::{ClaimsChallenge, Faults};
use crate::identity::TokenError;
use crate::ids;

/// Microsoft Graph's application id (the `client_id` of its challenges).
const GRAPH: &str = "00000003-0000-0000-c000-000000000000";

/// A claims request Entra attaches to Conditional Access failures (a policy id list).
fn capolids() -> String {
    json!({ "access_token": { "capolids": { "essential": true, "values": [ids::guid()] } } })
        .to_string()
}

/// The token-endpoint answer for `refreshError` (`50076`, `53003`, `700084`,
/// `interaction_required`), or `None` for a value the simulator does not know.
pub fn refresh_error(kind: &str) -> Option<Response> {
    let (error, code, text, suberror, claims) = match kind {
        "50076" => (
            "interaction_required",
            50076,
            format!("Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '{GRAPH}'."),
            None,
            Some(capolids()),
        ),
        "53003" => (
            "invalid_grant",
            53003,
            "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.".to_owned(),
            Some("message_only"),
            Some(capolids()),
        ),
        "700084" => (
            "invalid_grant",
            700084,
            "The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited lifetime of 1.00:00:00, which cannot be extended. It is now expired and a new sign in request must be sent by the SPA to the sign in page.".to_owned(),
            None,
            None,
        ),
        "interaction_required" => (
            "interaction_required",
            50079,
            format!("Due to a configuration change made by your administrator, or because you moved to a new location, you must enroll in multi-factor authentication to access '{GRAPH}'."),
            None,
            None,
        ),
        _ => return None,
    };
    Some(answer(
        &TokenError::new(error, code, text),
        suberror,
        claims,
    ))
}

/// A token-endpoint 400 with Entra's optional `suberror` and `claims` members.
fn answer(e: &TokenError, suberror: Option<&str>, claims: Option<String>) -> Response {
    let mut body = e.body();
    if let Some(s) = suberror {
        body["suberror"] = json!(s);
    }
    if let Some(c) = claims {
        body["claims"] = json!(c);
    }
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// The refresh answer while a claims challenge is unanswered.
pub fn revoked_refresh() -> Response {
    answer(
        &TokenError::new(
            "interaction_required",
            50076,
            format!(
                "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '{GRAPH}'."
            ),
        ),
        None,
        None,
    )
}

/// The claims a challenge asks for: a token issued at or after `at`.
fn claims_json(at: i64) -> String {
    json!({ "access_token": { "nbf": { "essential": true, "value": at.to_string() } } }).to_string()
}

/// Graph's 401 claims challenge.
fn challenge(at: i64) -> Response {
    let id = ids::guid();
    let body = json!({ "error": {
        "code": "InvalidAuthenticationToken",
        "message": "Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp",
        "innerError": { "date": ids::now_rfc3339(), "request-id": id, "client-request-id": id },
    }});
    let value = format!(
        "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"{GRAPH}\", error=\"insufficient_claims\", claims=\"{}\"",
        STANDARD.encode(claims_json(at))
    );
    let mut response = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    response
}

/// The `iat` of the request's bearer token, if it has a readable one.
fn issued_at(headers: &HeaderMap) -> Option<i64> {
    let token = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    crate::jwt::decode(token).ok()?.claims["iat"].as_i64()
}

/// For an outer Graph request: the challenge it answers, if any (counting it against the rule).
pub fn graph_check(
    faults: &mut Faults,
    target: &str,
    headers: &HeaderMap,
    now: i64,
) -> Option<Response> {
    let rule: &mut ClaimsChallenge = faults.claims_challenge.as_mut()?;
    if let Some(at) = rule.fired_at {
        let iat = issued_at(headers)?;
        // Revoked: tokens from before the challenge, and any token until a sign-in answered it.
        return (iat < at || rule.satisfied_at.is_none()).then(|| challenge(at));
    }
    if !target.contains(rule.path_contains.as_str()) {
        return None;
    }
    rule.seen += 1;
    if rule.seen < rule.nth.max(1) {
        return None;
    }
    rule.fired_at = Some(now);
    Some(challenge(now))
}

/// Whether an `/authorize` `claims` parameter answers a challenge made at `at`: an
/// `access_token.nbf` value at or after it, or an `acrs` request.
pub fn satisfies(claims: &str, at: i64) -> bool {
    let Ok(value) = serde_json::from_str::<Value>(claims) else {
        return false;
    };
    let token = &value["access_token"];
    let nbf = &token["nbf"]["value"];
    let nbf = nbf
        .as_i64()
        .or_else(|| nbf.as_str().and_then(|s| s.parse().ok()));
    nbf.is_some_and(|n| n >= at) || !token["acrs"].is_null()
}
