//! keyCredentials validated as Graph does.

use axum::http::StatusCode;
use base64::Engine;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use crate::tests::{call, cert_credential, sim, test_cert};

async fn create(app: &axum::Router, keys: Vec<Value>) -> (StatusCode, Value) {
    call(
        app,
        "POST",
        "/v1.0/applications",
        Some(json!({ "displayName": "k", "keyCredentials": keys })),
    )
    .await
}

#[tokio::test]
async fn keys_must_be_certificates_within_their_own_validity() {
    let app = sim("default");
    let key = test_cert((2026, 1, 1), (2026, 12, 31));
    let (status, err) = create(
        &app,
        vec![cert_credential(
            "MIIBnotacert",
            "2026-01-01T00:00:00Z",
            "2026-06-01T00:00:00Z",
        )],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        err["error"]["message"],
        "Invalid certificate: Key value is invalid certificate"
    );
    let (status, err) = create(
        &app,
        vec![cert_credential(
            &key,
            "2026-01-01T00:00:00Z",
            "2027-06-01T00:00:00Z",
        )],
    )
    .await;
    assert_eq!(
        (status, err["error"]["details"][0]["code"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("KeyCredentialsInvalidEndDate")
        )
    );
    let (status, err) = create(
        &app,
        vec![cert_credential(
            &key,
            "2025-12-31T00:00:00Z",
            "2026-06-01T00:00:00Z",
        )],
    )
    .await;
    assert_eq!(
        (status, err["error"]["details"][0]["code"].as_str()),
        (
            StatusCode::BAD_REQUEST,
            Some("KeyCredentialsInvalidStartDate")
        )
    );
    // Local offsets are fine when they name the same instant.
    let (status, _) = create(
        &app,
        vec![cert_credential(
            &key,
            "2026-01-01T01:00:00+01:00",
            "2026-12-31T00:00:00Z",
        )],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn duplicates_are_refused_and_graph_fills_what_it_fills() {
    let app = sim("default");
    let key = test_cert((2026, 1, 1), (2026, 12, 31));
    let one = cert_credential(&key, "2026-01-01T00:00:00Z", "2026-12-31T00:00:00Z");
    let (status, _) = create(&app, vec![one.clone(), one.clone()]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "same certificate twice");
    let other = test_cert((2026, 1, 1), (2026, 12, 31));
    let mut a = one.clone();
    a["keyId"] = json!("11111111-1111-4111-8111-111111111111");
    let mut b = cert_credential(&other, "2026-01-01T00:00:00Z", "2026-12-31T00:00:00Z");
    b["keyId"] = a["keyId"].clone();
    let (status, _) = create(&app, vec![a.clone(), b]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "same keyId twice");

    // No dates: the certificate's own; customKeyIdentifier: base64 of the SHA-1 thumbprint.
    let bare = json!({ "type": "AsymmetricX509Cert", "usage": "Verify", "key": key });
    let (status, created) = create(&app, vec![bare, a]).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "same certificate twice, once with keyId"
    );
    let bare = json!({ "type": "AsymmetricX509Cert", "usage": "Verify", "key": key });
    let (status, created2) = create(&app, vec![bare]).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let k = &created2["keyCredentials"][0];
    assert_eq!(k["startDateTime"], "2026-01-01T00:00:00Z");
    assert_eq!(k["endDateTime"], "2026-12-31T00:00:00Z");
    let der = base64::engine::general_purpose::STANDARD
        .decode(&key)
        .expect("der");
    let thumb = base64::engine::general_purpose::STANDARD.encode(Sha1::digest(&der));
    assert_eq!(k["customKeyIdentifier"], thumb.as_str());
    // Re-sent verbatim (as read with $select=keyCredentials), it passes.
    let id = created2["id"].as_str().expect("id");
    let (_, read) = call(
        &app,
        "GET",
        &format!("/v1.0/applications/{id}?$select=keyCredentials"),
        None,
    )
    .await;
    let (status, _) = call(
        &app,
        "PATCH",
        &format!("/v1.0/applications/{id}"),
        Some(json!({ "keyCredentials": read["keyCredentials"] })),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, again) = call(
        &app,
        "GET",
        &format!("/v1.0/applications/{id}?$select=keyCredentials"),
        None,
    )
    .await;
    assert_eq!(again, read);
}
