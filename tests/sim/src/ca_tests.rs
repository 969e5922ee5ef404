//! Conditional Access on refresh, CAE claims challenges, and what msal-browser needs from
//! discovery.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use serde_json::{Value, json};

use crate::signin_tests::{
    ORIGIN, SCOPE, VERIFIER, claims, get, post_form, raw, redeem_form, sign_in,
};
use crate::tests::{call, sim};

/// Signs `admin` in (with `extra` authorize parameters); returns (access token, refresh token).
async fn signed_in(app: &axum::Router, extra: &[(&str, &str)]) -> (String, String) {
    let scope = format!("{SCOPE} offline_access");
    let mut all = vec![("scope", scope.as_str())];
    all.extend_from_slice(extra);
    let back = sign_in(app, "admin", &all, "accept").await;
    let code = back.redirect_params()["code"].clone();
    let ok = post_form(
        app,
        "/organizations/oauth2/v2.0/token",
        &redeem_form(&code, VERIFIER),
        Some(ORIGIN),
    )
    .await;
    let body = ok.json();
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    (
        body["access_token"].as_str().expect("at").to_owned(),
        body["refresh_token"].as_str().expect("rt").to_owned(),
    )
}

async fn refresh(app: &axum::Router, rt: &str) -> (StatusCode, Value) {
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", crate::fixtures::SPA_CLIENT_ID),
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("scope", SCOPE),
        ])
        .finish();
    let answer = post_form(app, "/organizations/oauth2/v2.0/token", &form, Some(ORIGIN)).await;
    (answer.status, answer.json())
}

async fn graph(app: &axum::Router, token: &str, uri: &str) -> crate::signin_tests::Answer {
    let request = Request::get(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("origin", ORIGIN)
        .body(Body::empty())
        .expect("request");
    raw(app, request).await
}

#[tokio::test]
async fn refresh_errors_answer_as_entra_does() {
    let app = sim("default");
    let (_, rt) = signed_in(&app, &[]).await;
    for (kind, error, code, suberror, has_claims) in [
        ("50076", "interaction_required", 50076, None, true),
        ("53003", "invalid_grant", 53003, Some("message_only"), true),
        ("700084", "invalid_grant", 700084, None, false),
        (
            "interaction_required",
            "interaction_required",
            50079,
            None,
            false,
        ),
    ] {
        call(
            &app,
            "POST",
            "/_sim/faults",
            Some(json!({ "refreshError": kind })),
        )
        .await;
        let (status, body) = refresh(&app, &rt).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], error, "{kind}");
        assert_eq!(body["error_codes"][0], code);
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| d.starts_with(&format!("AADSTS{code}: ")))
        );
        assert_eq!(body["suberror"].as_str(), suberror);
        assert_eq!(body["claims"].is_string(), has_claims);
        for field in ["timestamp", "trace_id", "correlation_id"] {
            assert!(body[field].is_string(), "{field}");
        }
    }
    call(&app, "POST", "/_sim/faults", Some(json!({}))).await;
    assert_eq!(refresh(&app, &rt).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_claims_challenge_revokes_older_tokens_until_a_sign_in_answers_it() {
    let app = sim("default");
    let (token, rt) = signed_in(&app, &[]).await;
    // Revocation is by the second: the challenge comes a second after the sign-in.
    crate::clock_tests::advance(&app, 1000).await;
    call(
        &app,
        "POST",
        "/_sim/faults",
        Some(json!({ "claimsChallenge": { "pathContains": "/applications", "nth": 2 } })),
    )
    .await;
    assert_eq!(
        graph(&app, &token, "/v1.0/applications").await.status,
        StatusCode::OK
    );
    let challenged = graph(&app, &token, "/v1.0/applications").await;
    assert_eq!(challenged.status, StatusCode::UNAUTHORIZED);
    let header = challenged.headers["www-authenticate"]
        .to_str()
        .expect("header")
        .to_owned();
    assert!(header.starts_with("Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\", error=\"insufficient_claims\", claims=\""), "{header}");
    assert!(
        challenged.headers["access-control-expose-headers"]
            .to_str()
            .expect("expose")
            .contains("WWW-Authenticate")
    );
    let encoded = header
        .rsplit_once("claims=\"")
        .expect("claims")
        .1
        .trim_end_matches('"');
    let requested = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .expect("base64"),
    )
    .expect("utf8");
    let asked: Value = serde_json::from_str(&requested).expect("json");
    assert_eq!(asked["access_token"]["nbf"]["essential"], true);
    // Every call with the old token now, and refresh.
    assert_eq!(
        graph(&app, &token, "/v1.0/organization").await.status,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = refresh(&app, &rt).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("interaction_required"))
    );
    // A sign-in without the claims does not lift it.
    let (plain, _) = signed_in(&app, &[]).await;
    assert_eq!(
        graph(&app, &plain, "/v1.0/organization").await.status,
        StatusCode::UNAUTHORIZED
    );
    // One that carries them (as msal-browser sends it, with its own extra parameters) does.
    let extra = [
        ("claims", requested.as_str()),
        ("client_info", "1"),
        ("x-client-SKU", "msal.js.browser"),
        ("x-client-VER", "5.29.0"),
        ("client-request-id", "c-1"),
        ("pocd", "1"),
    ];
    let (fresh, fresh_rt) = signed_in(&app, &extra).await;
    let ok = graph(&app, &fresh, "/v1.0/organization").await;
    let (_, faults) = call(&app, "GET", "/_sim/faults", None).await;
    assert_eq!(
        ok.status,
        StatusCode::OK,
        "{} {faults} {:?}",
        ok.text,
        claims(&fresh)
    );
    assert_eq!(refresh(&app, &fresh_rt).await.0, StatusCode::OK);
    assert_eq!(
        refresh(&app, &rt).await.0,
        StatusCode::BAD_REQUEST,
        "the old refresh token stays revoked"
    );
    assert_eq!(
        graph(&app, &token, "/v1.0/organization").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn discovery_answers_any_origin_and_tokens_are_unique() {
    let app = sim("default");
    for uri in [
        "/organizations/v2.0/.well-known/openid-configuration",
        "/organizations/discovery/v2.0/keys",
    ] {
        let answer = get(&app, uri, None).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.headers["access-control-allow-origin"], "*");
    }
    let a = crate::tests::token_for(&app, "admin", None).await;
    let b = crate::tests::token_for(&app, "admin", None).await;
    let (ua, ub) = (claims(&a)["uti"].clone(), claims(&b)["uti"].clone());
    assert_ne!(ua, ub);
    assert_eq!(ua.as_str().map(str::len), Some(22));
    assert_ne!(a, b);
}
