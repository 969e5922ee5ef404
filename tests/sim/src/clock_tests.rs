//! The virtual clock: tests advance time instead of sleeping.

use axum::http::StatusCode;
use serde_json::json;

use crate::tests::{call, call_with, sim, token_for};

/// Advances the simulated clock by `ms`.
pub(crate) async fn advance(app: &axum::Router, ms: i64) {
    let (status, _) = call(app, "POST", "/_sim/clock", Some(json!({ "advanceMs": ms }))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn advancing_the_clock_expires_tokens_and_ends_replication_lag() {
    let app = sim("default");
    let (_, before) = call(&app, "GET", "/_sim/clock", None).await;
    let token = format!("Bearer {}", token_for(&app, "admin", None).await);
    let auth = [("authorization", token.as_str())];
    assert_eq!(
        call_with(&app, "GET", "/v1.0/organization", None, &auth)
            .await
            .0,
        StatusCode::OK
    );
    call(
        &app,
        "POST",
        "/_sim/faults",
        Some(json!({ "replicationLagSecs": 20 })),
    )
    .await;
    let (_, created) = call(
        &app,
        "POST",
        "/v1.0/applications",
        Some(json!({ "displayName": "lag" })),
    )
    .await;
    let sp = json!({ "appId": created["appId"] });
    let (status, _) = call(&app, "POST", "/v1.0/servicePrincipals", Some(sp.clone())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "still replicating");

    advance(&app, 21_000).await;
    let (_, after) = call(&app, "GET", "/_sim/clock", None).await;
    let moved = after["nowMs"].as_i64().unwrap_or(0) - before["nowMs"].as_i64().unwrap_or(0);
    assert!((21_000..30_000).contains(&moved), "{moved}");
    let (status, _) = call(&app, "POST", "/v1.0/servicePrincipals", Some(sp)).await;
    assert_eq!(status, StatusCode::CREATED, "20 simulated seconds passed");

    advance(&app, 3600 * 1000).await;
    let (status, body) = call_with(&app, "GET", "/v1.0/organization", None, &auth).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    call(&app, "POST", "/_sim/reset", None).await;
    let (_, reset) = call(&app, "GET", "/_sim/clock", None).await;
    assert_eq!(reset["offsetMs"], 0);
    assert_eq!(
        call(
            &app,
            "POST",
            "/_sim/clock",
            Some(json!({ "advanceMs": -5 }))
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
}
