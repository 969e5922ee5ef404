//! Faults aimed at one write: carried out then answered badly, or refused before the write.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::tests::{call, sim, token_for};

async fn app_count(app: &axum::Router) -> usize {
    let (_, state) = call(app, "GET", "/_sim/state", None).await;
    state["applications"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn an_aimed_500_carries_the_write_out_and_a_429_does_not() {
    let app = sim("default");
    let faults = json!({ "writeFaults": [
        { "method": "POST", "pathContains": "/v1.0/applications", "nth": 2, "kind": "500" },
        { "method": "POST", "pathContains": "/v1.0/applications", "nth": 3, "kind": "429" },
    ]});
    assert_eq!(
        call(&app, "POST", "/_sim/faults", Some(faults)).await.0,
        StatusCode::NO_CONTENT
    );
    let before = app_count(&app).await;
    let body = Some(json!({ "displayName": "x" }));
    assert_eq!(
        call(&app, "POST", "/v1.0/applications", body.clone())
            .await
            .0,
        StatusCode::CREATED
    );
    let (status, err) = call(&app, "POST", "/v1.0/applications", body.clone()).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, Some("generalException"))
    );
    assert_eq!(
        app_count(&app).await,
        before + 2,
        "the 500 came after the write"
    );
    // Reads do not count against a POST rule.
    call(&app, "GET", "/v1.0/applications", None).await;
    let (status, err) = call(&app, "POST", "/v1.0/applications", body.clone()).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("TooManyRequests"))
    );
    assert_eq!(
        app_count(&app).await,
        before + 2,
        "the 429 came before the write"
    );
    assert_eq!(
        call(&app, "POST", "/v1.0/applications", body).await.0,
        StatusCode::CREATED,
        "each rule fires once"
    );
    let (_, now) = call(&app, "GET", "/_sim/faults", None).await;
    let fired: Vec<bool> = now["writeFaults"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r["fired"] == true)
        .collect();
    assert_eq!(fired, [true, true]);
}

#[tokio::test]
async fn an_aimed_lost_answer_breaks_the_connection_after_the_write() {
    let app = sim("default");
    let faults = json!({ "retryAfterSecs": 0, "writeFaults": [
        { "method": "PATCH", "pathContains": "uniqueName='lost'", "nth": 1, "kind": "lost" },
        { "method": "POST", "pathContains": "/servicePrincipals", "nth": 1, "kind": "503" },
    ]});
    call(&app, "POST", "/_sim/faults", Some(faults)).await;
    let before = app_count(&app).await;
    let token = token_for(&app, "admin", None).await;
    let request = Request::builder()
        .method("PATCH")
        .uri("/v1.0/applications(uniqueName=%27lost%27)")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("prefer", "create-if-missing")
        .body(Body::from(json!({ "displayName": "lost" }).to_string()))
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("response");
    assert!(
        response.into_body().collect().await.is_err(),
        "the answer is lost"
    );
    assert_eq!(app_count(&app).await, before + 1, "the write happened");
    let request = Request::builder()
        .method("POST")
        .uri("/v1.0/servicePrincipals")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(json!({ "appId": "x" }).to_string()))
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response.headers()["retry-after"],
        "1",
        "1 s when none is configured"
    );
    let _: Value = Value::Null;
}
