//! The four clouds: one running simulator plays each in turn (`/_sim/reset {"cloud"}`), with that
//! cloud's Graph and Exchange audiences and scope prefixes, and refuses another cloud's.

use axum::http::StatusCode;
use serde_json::json;

use super::identity_tests::{
    access_claims, assertion, claims as assertion_claims, credential, register, token,
};
use super::signin_tests::{ORIGIN, VERIFIER, authorize_query, claims, get, post_form, redeem_form};
use super::tests::{call, call_with, sim, token_for};
use crate::cloud::Cloud;
use crate::fixtures::TENANT_ID;
use crate::tenant::MANAGE_AS_APP;

/// The page's scopes under `graph` (a cloud's Graph resource).
fn scopes(graph: &str) -> String {
    let names = [
        "User.Read",
        "Application.ReadWrite.All",
        "AppRoleAssignment.ReadWrite.All",
    ];
    let mut all = vec!["openid".to_owned(), "profile".to_owned()];
    all.extend(names.iter().map(|n| format!("{graph}/{n}")));
    all.join(" ")
}

async fn reset(app: &axum::Router, body: serde_json::Value) -> StatusCode {
    call(app, "POST", "/_sim/reset", Some(body)).await.0
}

/// Signs the admin in at `authority` asking for `scope`; returns the redirect's parameters.
async fn sign_in_with(
    app: &axum::Router,
    authority: &str,
    user_id: &str,
    scope: &str,
) -> std::collections::HashMap<String, String> {
    let query = authorize_query(&[("scope", scope)]);
    let page = get(
        app,
        &format!("/{authority}/oauth2/v2.0/authorize?{query}"),
        None,
    )
    .await;
    if page.status == StatusCode::FOUND {
        return page.redirect_params();
    }
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("request", query.as_str()),
            ("user", user_id),
            ("org", "on"),
            ("action", "accept"),
        ])
        .finish();
    post_form(
        app,
        &format!("/{authority}/oauth2/v2.0/authorize"),
        &form,
        None,
    )
    .await
    .redirect_params()
}

async fn admin_id(app: &axum::Router) -> String {
    let (_, state) = call(app, "GET", "/_sim/state", None).await;
    state["users"][0]["id"].as_str().expect("admin").to_owned()
}

#[tokio::test]
async fn one_simulator_plays_each_cloud_in_turn() {
    let app = sim("default");
    for cloud in Cloud::all() {
        assert_eq!(
            reset(&app, json!({ "cloud": cloud.name() })).await,
            StatusCode::NO_CONTENT
        );
        let (_, state) = call(&app, "GET", "/_sim/state", None).await;
        assert_eq!(state["cloud"]["name"], cloud.name());
        assert_eq!(state["cloud"]["graph"], cloud.graph());
        assert_eq!(state["cloud"]["exchange"], cloud.exchange());
        assert_eq!(
            state["cloud"]["exchangeEnvironmentName"],
            cloud.exchange_environment_name()
        );

        let admin = admin_id(&app).await;
        let scope = scopes(cloud.graph());
        let answer = sign_in_with(&app, "organizations", &admin, &scope).await;
        let code = answer.get("code").unwrap_or_else(|| panic!("{answer:?}"));
        let form = redeem_form(code, VERIFIER).replace(
            &url::form_urlencoded::byte_serialize(super::signin_tests::SCOPE.as_bytes())
                .collect::<String>(),
            &url::form_urlencoded::byte_serialize(scope.as_bytes()).collect::<String>(),
        );
        let tokens = post_form(
            &app,
            "/organizations/oauth2/v2.0/token",
            &form,
            Some(ORIGIN),
        )
        .await;
        assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
        let body = tokens.json();
        let access = claims(body["access_token"].as_str().expect("access"));
        assert_eq!(access["aud"], cloud.graph());
        assert_eq!(access["iss"], format!("{}/{TENANT_ID}/", cloud.v1_issuer()));
        assert!(
            body["scope"]
                .as_str()
                .is_some_and(|s| s.contains(&format!("{}/User.Read", cloud.graph()))),
            "{body}"
        );
        // The issuer is the address called (here the default Host), as the product checks it.
        let id = claims(body["id_token"].as_str().expect("id"));
        assert_eq!(id["iss"], format!("http://127.0.0.1/{TENANT_ID}/v2.0"));
        // That cloud's Graph takes the token.
        let bearer = format!(
            "Bearer {}",
            body["access_token"].as_str().unwrap_or_default()
        );
        let (status, org) = call_with(
            &app,
            "GET",
            "/v1.0/organization",
            None,
            &[("authorization", &bearer)],
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{org}");
        // Bare names still work.
        let bare = sign_in_with(
            &app,
            "organizations",
            &admin,
            "openid User.Read Application.Read.All",
        )
        .await;
        assert!(bare.contains_key("code"), "{bare:?}");
        // Another cloud's Graph is refused with AADSTS70011.
        for other in Cloud::all()
            .into_iter()
            .filter(|c| c.graph() != cloud.graph())
        {
            let refused = sign_in_with(&app, "organizations", &admin, &scopes(other.graph())).await;
            assert_eq!(
                refused.get("error").map(String::as_str),
                Some("invalid_scope"),
                "{refused:?}"
            );
            assert!(
                refused["error_description"].starts_with("AADSTS70011"),
                "{refused:?}"
            );
        }
    }
    assert_eq!(
        reset(&app, json!({ "cloud": "moon" })).await,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn graph_refuses_a_token_for_another_clouds_graph() {
    let app = sim("default");
    let worldwide = format!("Bearer {}", token_for(&app, "admin", None).await);
    reset(&app, json!({ "cloud": "gcchigh" })).await;
    let (status, body) = call_with(
        &app,
        "GET",
        "/v1.0/organization",
        None,
        &[("authorization", &worldwide)],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("audience"))
    );
    // A token of the cloud played works; a reset without `cloud` returns to the start cloud.
    let (status, _) = super::tests::call(&app, "GET", "/v1.0/organization", None).await;
    assert_eq!(status, StatusCode::OK);
    reset(&app, json!({})).await;
    let (_, state) = call(&app, "GET", "/_sim/state", None).await;
    assert_eq!(state["cloud"]["name"], "worldwide");
}

#[tokio::test]
async fn exchange_tokens_are_for_the_clouds_exchange_only() {
    let app = sim("default");
    reset(&app, json!({ "cloud": "dod" })).await;
    let (key, cert) = credential(None, 30);
    let (client, sp, exo) = register(&app, &cert).await;
    let (status, _) = call(
        &app,
        "POST",
        &format!("/v1.0/servicePrincipals/{exo}/appRoleAssignedTo"),
        Some(json!({ "principalId": sp, "resourceId": exo, "appRoleId": MANAGE_AS_APP })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let signed = || assertion(&key, &cert, false, assertion_claims(&client));
    let (status, body) = token(
        &app,
        &client,
        &signed(),
        "https://webmail.apps.mil/.default",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let access = access_claims(&body);
    assert_eq!(access["aud"], "https://webmail.apps.mil");
    assert_eq!(access["roles"], json!(["Exchange.ManageAsApp"]));
    // The worldwide Exchange resource is not a resource in this cloud.
    let (status, body) = token(
        &app,
        &client,
        &signed(),
        "https://outlook.office365.com/.default",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error_codes"], json!([500011]));
    // Managed identities likewise.
    let mi = |resource: &str| {
        format!("/metadata/identity/oauth2/token?api-version=2019-08-01&resource={resource}")
    };
    let (status, body) = call_with(
        &app,
        "GET",
        &mi("https://webmail.apps.mil/"),
        None,
        &[("metadata", "true")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(access_claims(&body)["aud"], "https://webmail.apps.mil");
    let (status, _) = call_with(
        &app,
        "GET",
        &mi("https://outlook.office365.com/"),
        None,
        &[("metadata", "true")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_real_clouds_issuer_on_request() {
    let app = sim("default");
    reset(&app, json!({ "cloud": "china", "issuer": "cloud" })).await;
    let (_, discovery) = call(
        &app,
        "GET",
        "/organizations/v2.0/.well-known/openid-configuration",
        None,
    )
    .await;
    assert_eq!(
        discovery["issuer"],
        format!("https://login.partner.microsoftonline.cn/{TENANT_ID}/v2.0")
    );
    let admin = admin_id(&app).await;
    let scope = scopes(Cloud::China.graph());
    let answer = sign_in_with(&app, "organizations", &admin, &scope).await;
    let form = redeem_form(&answer["code"], VERIFIER).replace(
        &url::form_urlencoded::byte_serialize(super::signin_tests::SCOPE.as_bytes())
            .collect::<String>(),
        &url::form_urlencoded::byte_serialize(scope.as_bytes()).collect::<String>(),
    );
    let tokens = post_form(
        &app,
        "/organizations/oauth2/v2.0/token",
        &form,
        Some(ORIGIN),
    )
    .await;
    let id = claims(tokens.json()["id_token"].as_str().expect("id"));
    assert_eq!(
        id["iss"],
        format!("https://login.partner.microsoftonline.cn/{TENANT_ID}/v2.0")
    );
    let access = claims(tokens.json()["access_token"].as_str().expect("access"));
    assert_eq!(
        access["iss"],
        format!("https://sts.chinacloudapi.cn/{TENANT_ID}/")
    );
    assert_eq!(
        reset(&app, json!({ "issuer": "nope" })).await,
        StatusCode::BAD_REQUEST
    );
}
