//! The simulated Graph over its router (no network): the semantics the product relies on.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::fixtures::EXISTING_APP_ID;
use crate::tenant::EXCHANGE_APP_ID;

/// A Graph or `/_sim` call as the Global Administrator (with the page's five scopes).
pub(crate) async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    call_as(app, "admin", method, uri, body).await
}

/// A fresh Graph token for a fixture user, from the test-only shortcut.
pub(crate) async fn token_for(app: &axum::Router, user: &str, scopes: Option<&[&str]>) -> String {
    let mut request = json!({ "user": user });
    if let Some(scopes) = scopes {
        request["scopes"] = json!(scopes);
    }
    let (status, body) = send(
        app,
        "POST",
        "/_sim/token",
        "application/json",
        &[],
        Body::from(request.to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().expect("token").to_owned()
}

/// A call as the fixture user `user` (`admin`, `pra`, `appadmin`, `user`).
pub(crate) async fn call_as(
    app: &axum::Router,
    user: &str,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let token = if uri.starts_with("/v1.0") {
        Some(format!("Bearer {}", token_for(app, user, None).await))
    } else {
        None
    };
    let headers: Vec<(&str, &str)> = token
        .iter()
        .map(|t| ("authorization", t.as_str()))
        .collect();
    call_with(app, method, uri, body, &headers).await
}

/// A call with explicit headers (no token unless given).
pub(crate) async fn call_with(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (StatusCode, Value) {
    // Encoded as a client would send it: `$filter=appId eq '…'` has spaces and quotes.
    let uri = uri.replace(' ', "%20").replace('\'', "%27");
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    send(app, method, &uri, "application/json", headers, body).await
}

/// POSTs a form body (the token endpoint).
pub(crate) async fn call_form(app: &axum::Router, uri: &str, form: String) -> (StatusCode, Value) {
    send(
        app,
        "POST",
        uri,
        "application/x-www-form-urlencoded",
        &[],
        Body::from(form),
    )
    .await
}

pub(crate) async fn send(
    app: &axum::Router,
    method: &str,
    uri: &str,
    kind: &str,
    headers: &[(&str, &str)],
    body: Body,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", kind);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request.body(body).expect("request");
    let response = app.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

pub(crate) fn sim(fixture: &str) -> axum::Router {
    crate::app(
        fixture,
        &["http://127.0.0.1:8080/".into()],
        false,
        Default::default(),
    )
    .expect("fixture")
}

/// A real (ECDSA, quick to make) self-signed certificate valid between two dates, as base64 DER.
pub(crate) fn test_cert(from: (i32, u8, u8), to: (i32, u8, u8)) -> String {
    use base64::Engine;
    let mut params =
        rcgen::CertificateParams::new(vec!["test.example".to_owned()]).expect("params");
    params.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
    params.not_after = rcgen::date_time_ymd(to.0, to.1, to.2);
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("cert");
    base64::engine::general_purpose::STANDARD.encode(cert.der())
}

pub(crate) fn cert_credential(key: &str, start: &str, end: &str) -> Value {
    json!({ "type": "AsymmetricX509Cert", "usage": "Verify", "key": key,
            "displayName": "CN=test", "startDateTime": start, "endDateTime": end })
}

#[tokio::test]
async fn organization_names_the_initial_domain() {
    let (status, body) = call(&sim("default"), "GET", "/v1.0/organization", None).await;
    assert_eq!(status, StatusCode::OK);
    let domains = body["value"][0]["verifiedDomains"]
        .as_array()
        .expect("domains");
    let initial: Vec<&str> = domains
        .iter()
        .filter(|d| d["isInitial"] == true)
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert_eq!(initial, ["contoso.onmicrosoft.com"]);
}

#[tokio::test]
async fn created_apps_default_to_graphs_audience_unless_set() {
    let app = sim("default");
    let (status, plain) = call(
        &app,
        "POST",
        "/v1.0/applications",
        Some(json!({ "displayName": "a" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        plain["signInAudience"],
        "AzureADandPersonalMicrosoftAccount"
    );
    let (_, mine) = call(
        &app,
        "POST",
        "/v1.0/applications",
        Some(json!({ "displayName": "b", "signInAudience": "AzureADMyOrg" })),
    )
    .await;
    assert_eq!(mine["signInAudience"], "AzureADMyOrg");
    assert_ne!(mine["id"], mine["appId"], "object id and client id differ");
    let (status, err) = call(&app, "POST", "/v1.0/applications", Some(json!({}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["code"], "Request_BadRequest");
}

#[tokio::test]
async fn keys_are_returned_only_on_a_single_object_select() {
    let app = sim("existing-app");
    let (_, list) = call(
        &app,
        "GET",
        &format!("/v1.0/applications?$filter=appId eq '{EXISTING_APP_ID}'"),
        None,
    )
    .await;
    let listed = &list["value"][0];
    assert_eq!(listed["keyCredentials"].as_array().map(Vec::len), Some(2));
    assert!(
        listed["keyCredentials"]
            .as_array()
            .expect("keys")
            .iter()
            .all(|k| k["key"].is_null())
    );
    let id = listed["id"].as_str().expect("id");
    let (_, plain) = call(&app, "GET", &format!("/v1.0/applications/{id}"), None).await;
    assert!(plain["keyCredentials"][0]["key"].is_null());
    let (_, selected) = call(
        &app,
        "GET",
        &format!("/v1.0/applications/{id}?$select=keyCredentials"),
        None,
    )
    .await;
    assert!(
        selected["keyCredentials"][0]["key"]
            .as_str()
            .is_some_and(|k| k.starts_with("MII"))
    );
}

#[tokio::test]
async fn patch_replaces_the_whole_certificate_collection() {
    let app = sim("existing-app");
    let (_, list) = call(
        &app,
        "GET",
        &format!("/v1.0/applications?$filter=appId eq '{EXISTING_APP_ID}'"),
        None,
    )
    .await;
    let id = list["value"][0]["id"].as_str().expect("id").to_owned();
    let uri = format!("/v1.0/applications/{id}?$select=keyCredentials");
    let (_, before) = call(&app, "GET", &uri, None).await;
    let key = test_cert((2026, 1, 1), (2026, 12, 31));
    let new = cert_credential(&key, "2026-01-01T00:00:00Z", "2026-12-31T00:00:00Z");

    // Read-modify-write keeps what was there.
    let mut all = before["keyCredentials"].as_array().expect("keys").clone();
    all.push(new.clone());
    let (status, _) = call(
        &app,
        "PATCH",
        &format!("/v1.0/applications/{id}"),
        Some(json!({ "keyCredentials": all })),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, after) = call(&app, "GET", &uri, None).await;
    assert_eq!(after["keyCredentials"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        after["keyCredentials"][0], before["keyCredentials"][0],
        "existing keys unchanged"
    );

    // Sending only the new one drops the others: the trap the product must avoid.
    call(
        &app,
        "PATCH",
        &format!("/v1.0/applications/{id}"),
        Some(json!({ "keyCredentials": [new] })),
    )
    .await;
    let (_, wiped) = call(&app, "GET", &uri, None).await;
    assert_eq!(wiped["keyCredentials"].as_array().map(Vec::len), Some(1));

    // And the inspection endpoint can put the fixture back.
    assert_eq!(
        call(&app, "POST", "/_sim/reset", None).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, state) = call(&app, "GET", "/_sim/state", None).await;
    let restored = state["applications"]
        .as_array()
        .expect("apps")
        .iter()
        .find(|a| a["appId"] == EXISTING_APP_ID)
        .cloned();
    assert_eq!(
        restored.expect("app")["keyCredentials"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

#[tokio::test]
async fn certificates_are_validated_like_graph_does() {
    let app = sim("capped-lifetime");
    let key = test_cert((2026, 1, 1), (2027, 1, 1));
    let long = cert_credential(&key, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z");
    let (status, err) = call(
        &app,
        "POST",
        "/v1.0/applications",
        Some(json!({ "displayName": "x", "keyCredentials": [long] })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        err["error"]["details"][0]["code"],
        "KeyCredentialsLifetimeExceedsPolicy"
    );
    let short = cert_credential(&key, "2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z");
    let (status, created) = call(
        &app,
        "POST",
        "/v1.0/applications",
        Some(json!({ "displayName": "x", "keyCredentials": [short] })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(
        created["keyCredentials"][0]["keyId"]
            .as_str()
            .is_some_and(|k| k.len() == 36),
        "server assigns keyId"
    );
    let mut bad_usage = cert_credential(&key, "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z");
    bad_usage["usage"] = "Encrypt".into();
    let (status, err) = call(
        &app,
        "POST",
        "/v1.0/applications",
        Some(json!({ "displayName": "y", "keyCredentials": [bad_usage] })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Acceptable values are Sign, Verify"))
    );
}

#[tokio::test]
async fn unknown_objects_get_graphs_not_found_body() {
    let (status, err) = call(
        &sim("default"),
        "GET",
        "/v1.0/applications/00000000-0000-0000-0000-000000000000",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["error"]["code"], "Request_ResourceNotFound");
    assert!(err["error"]["innerError"]["request-id"].is_string());
}

#[tokio::test]
async fn exchange_is_present_only_where_the_fixture_has_it() {
    let uri = format!("/v1.0/servicePrincipals?$filter=appId eq '{EXCHANGE_APP_ID}'");
    let (_, with) = call(&sim("default"), "GET", &uri, None).await;
    assert_eq!(
        with["value"][0]["appRoles"][0]["value"],
        "Exchange.ManageAsApp"
    );
    let (_, without) = call(&sim("no-exchange"), "GET", &uri, None).await;
    assert_eq!(without["value"].as_array().map(Vec::len), Some(0));
    let (status, _) = call(
        &sim("default"),
        "GET",
        "/v1.0/servicePrincipals?$filter=endswith(displayName,'x')",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn throttling_and_outages_answer_like_graph_with_retry_after() {
    let app = sim("default");
    let faults = json!({ "throttleEvery": 2, "retryAfterSecs": 1.5 });
    assert_eq!(
        call(&app, "POST", "/_sim/faults", Some(faults)).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&app, "GET", "/v1.0/organization", None).await.0,
        StatusCode::OK
    );
    let request = Request::builder()
        .uri("/v1.0/organization")
        .body(Body::empty())
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "1.5");
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let body: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(body["error"]["code"], "TooManyRequests");
    assert_eq!(
        call(&app, "GET", "/_sim/state", None).await.0,
        StatusCode::OK,
        "inspection never fails"
    );

    call(
        &app,
        "POST",
        "/_sim/faults",
        Some(json!({ "unavailableEvery": 1 })),
    )
    .await;
    let (status, body) = call(&app, "GET", "/v1.0/organization", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("serviceNotAvailable"))
    );
    call(&app, "POST", "/_sim/reset", None).await;
    assert_eq!(
        call(&app, "GET", "/v1.0/organization", None).await.0,
        StatusCode::OK,
        "reset clears faults"
    );
}

#[tokio::test]
async fn new_objects_replicate_before_dependent_calls_see_them() {
    let app = sim("default");
    call(
        &app,
        "POST",
        "/_sim/faults",
        Some(json!({ "replicationLagSecs": 1 })),
    )
    .await;
    let (_, created) = call(
        &app,
        "POST",
        "/v1.0/applications",
        Some(json!({ "displayName": "lag" })),
    )
    .await;
    let sp_body = json!({ "appId": created["appId"] });
    let (status, early) = call(
        &app,
        "POST",
        "/v1.0/servicePrincipals",
        Some(sp_body.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        early["error"]["details"][0]["code"],
        "NoBackingApplicationObject"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, sp) = call(&app, "POST", "/v1.0/servicePrincipals", Some(sp_body)).await;
    assert_eq!(status, StatusCode::CREATED);
    let role = json!({ "roleDefinitionId": crate::tenant::roles::EXCHANGE_ADMIN, "principalId": sp["id"], "directoryScopeId": "/" });
    let (status, early) = call(
        &app,
        "POST",
        "/v1.0/roleManagement/directory/roleAssignments",
        Some(role.clone()),
    )
    .await;
    assert_eq!(
        (status, early["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("Request_ResourceNotFound"))
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        call(
            &app,
            "POST",
            "/v1.0/roleManagement/directory/roleAssignments",
            Some(role)
        )
        .await
        .0,
        StatusCode::CREATED
    );
}
