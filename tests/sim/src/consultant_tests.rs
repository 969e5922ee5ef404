//! The `consultant` fixture: two customer tenants behind one simulator, a B2B guest admin, and
//! the v2 admin-consent endpoint.

use std::collections::HashMap;

use axum::http::StatusCode;
use serde_json::json;

use super::signin_tests::{
    ORIGIN, REDIRECT, SCOPE, VERIFIER, authorize_query, claims, get, post_form, redeem_form,
};
use super::tests::{call, call_with, sim};
use crate::fixtures::{
    CONSULTANT_GUEST_ID, CONSULTANT_HOME_ID, CONSULTANT_UPN, FABRIKAM_ADMIN_ID, FABRIKAM_TENANT_ID,
    FABRIKAM_USER_ID, SPA_CLIENT_ID, TENANT_ID,
};

const FABRIKAM: &str = "fabrikam.onmicrosoft.com";

/// Signs `user` (object id in the tenant signed in to) in at `authority`; the redirect answer.
async fn sign_in_at(
    app: &axum::Router,
    authority: &str,
    user: &str,
    scope: &str,
) -> HashMap<String, String> {
    let query = authorize_query(&[("scope", scope)]);
    let page = get(
        app,
        &format!("/{authority}/oauth2/v2.0/authorize?{query}"),
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("request", query.as_str()),
            ("user", user),
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

/// Redeems a code at `authority`; the token answer.
async fn redeem(app: &axum::Router, authority: &str, code: &str, scope: &str) -> serde_json::Value {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let form = redeem_form(code, VERIFIER).replace(&encode(SCOPE), &encode(scope));
    let answer = post_form(
        app,
        &format!("/{authority}/oauth2/v2.0/token"),
        &form,
        Some(ORIGIN),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.json()
}

fn bearer(body: &serde_json::Value) -> String {
    format!(
        "Bearer {}",
        body["access_token"].as_str().unwrap_or_default()
    )
}

#[tokio::test]
async fn the_state_of_other_fixtures_is_unchanged_and_consultant_names_both_tenants() {
    let app = sim("default");
    let (_, state) = call(&app, "GET", "/_sim/state", None).await;
    assert!(
        state.get("tenants").is_none() && state.get("guests").is_none(),
        "{state}"
    );
    let (status, _) = call(
        &app,
        "GET",
        "/_sim/state?tenant=fabrikam.onmicrosoft.com",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let app = sim("consultant");
    let (_, state) = call(&app, "GET", "/_sim/state", None).await;
    assert_eq!(state["id"], TENANT_ID);
    assert_eq!(state["tenants"][1]["id"], FABRIKAM_TENANT_ID);
    for at in [FABRIKAM, FABRIKAM_TENANT_ID] {
        let (_, fabrikam) = call(&app, "GET", &format!("/_sim/state?tenant={at}"), None).await;
        assert_eq!(fabrikam["id"], FABRIKAM_TENANT_ID);
        assert_eq!(fabrikam["guests"][0]["id"], CONSULTANT_GUEST_ID);
        assert_eq!(fabrikam["guests"][0]["home"]["tenantId"], TENANT_ID);
        assert_eq!(
            fabrikam["guests"][0]["home"]["userPrincipalName"],
            CONSULTANT_UPN
        );
    }
    // Switching fixtures by reset works both ways.
    call(
        &app,
        "POST",
        "/_sim/reset",
        Some(json!({ "fixture": "default" })),
    )
    .await;
    let (_, state) = call(&app, "GET", "/_sim/state", None).await;
    assert!(state.get("tenants").is_none());
}

#[tokio::test]
async fn a_guest_admin_signs_in_to_the_resource_tenant_and_graph_answers_from_it() {
    let app = sim("consultant");
    // The page lists the guest by their home address.
    let query = authorize_query(&[]);
    let page = get(
        &app,
        &format!("/{FABRIKAM}/oauth2/v2.0/authorize?{query}"),
        None,
    )
    .await;
    assert!(
        page.text.contains(CONSULTANT_UPN) && page.text.contains("guest"),
        "{}",
        page.text
    );
    let answer = sign_in_at(&app, FABRIKAM, CONSULTANT_GUEST_ID, SCOPE).await;
    let body = redeem(&app, FABRIKAM, &answer["code"], SCOPE).await;
    let id = claims(body["id_token"].as_str().expect("id token"));
    assert_eq!(id["tid"], FABRIKAM_TENANT_ID);
    assert_eq!(id["oid"], CONSULTANT_GUEST_ID);
    assert_eq!(id["preferred_username"], CONSULTANT_UPN);
    assert_eq!(
        id["iss"],
        format!("http://127.0.0.1/{FABRIKAM_TENANT_ID}/v2.0")
    );
    assert_eq!(id["idp"], format!("https://sts.windows.net/{TENANT_ID}/"));
    let access = claims(body["access_token"].as_str().expect("access token"));
    assert_eq!(access["tid"], FABRIKAM_TENANT_ID);
    assert!(access.get("upn").is_none(), "{access}");
    assert_eq!(access["unique_name"], CONSULTANT_UPN);
    assert_eq!(access["wids"], json!([crate::tenant::roles::GLOBAL_ADMIN]));

    // Graph answers from the token's tenant.
    let auth = bearer(&body);
    let headers = [("authorization", auth.as_str())];
    let (_, org) = call_with(&app, "GET", "/v1.0/organization", None, &headers).await;
    assert_eq!(org["value"][0]["id"], FABRIKAM_TENANT_ID);
    let (_, me) = call_with(&app, "GET", "/v1.0/me", None, &headers).await;
    assert_eq!(
        me["userPrincipalName"],
        "consultant_partner.example#EXT#@fabrikam.onmicrosoft.com"
    );
    assert_eq!(me["userType"], "Guest");
    let (status, created) = call_with(
        &app,
        "POST",
        "/v1.0/applications",
        Some(json!({ "displayName": "Fabrikam EXO" })),
        &headers,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (_, fabrikam) = call(&app, "GET", &format!("/_sim/state?tenant={FABRIKAM}"), None).await;
    let (_, contoso) = call(&app, "GET", "/_sim/state", None).await;
    let has = |state: &serde_json::Value| {
        state["applications"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["displayName"] == "Fabrikam EXO"))
    };
    assert!(has(&fabrikam) && !has(&contoso));
    // The guest's consent created the page's service principal there, owned by Contoso.
    let sp = fabrikam["servicePrincipals"]
        .as_array()
        .and_then(|s| s.iter().find(|x| x["appId"] == SPA_CLIENT_ID).cloned());
    assert_eq!(
        sp.expect("page's service principal")["appOwnerOrganizationId"],
        TENANT_ID
    );

    // A refresh token answers at its own tenant, not at another one.
    let offline = format!("{SCOPE} offline_access");
    let answer = sign_in_at(&app, FABRIKAM_TENANT_ID, CONSULTANT_GUEST_ID, &offline).await;
    let body = redeem(&app, FABRIKAM_TENANT_ID, &answer["code"], &offline).await;
    let rt = body["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    let refresh = |tenant: &str| {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("client_id", SPA_CLIENT_ID),
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
            ])
            .finish();
        let app = app.clone();
        let uri = format!("/{tenant}/oauth2/v2.0/token");
        async move { post_form(&app, &uri, &form, Some(ORIGIN)).await }
    };
    let wrong = refresh(TENANT_ID).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong.json()["error_codes"], json!([700005]));
    let right = refresh(FABRIKAM_TENANT_ID).await;
    assert_eq!(right.status, StatusCode::OK, "{}", right.text);
    assert_eq!(
        claims(right.json()["access_token"].as_str().expect("at"))["tid"],
        FABRIKAM_TENANT_ID
    );
}

#[tokio::test]
async fn organizations_signs_each_account_in_to_its_home_tenant() {
    let app = sim("consultant");
    // The consultant's own account: Contoso, no admin role.
    let scope = "openid profile User.Read";
    let answer = sign_in_at(&app, "organizations", CONSULTANT_HOME_ID, scope).await;
    let body = redeem(&app, "organizations", &answer["code"], scope).await;
    let id = claims(body["id_token"].as_str().expect("id"));
    assert_eq!(
        (id["tid"].as_str(), id["oid"].as_str()),
        (Some(TENANT_ID), Some(CONSULTANT_HOME_ID))
    );
    assert_eq!(id["preferred_username"], CONSULTANT_UPN);
    assert_eq!(
        claims(body["access_token"].as_str().expect("at"))["wids"],
        json!([])
    );
    // Fabrikam's own admin: Fabrikam.
    let answer = sign_in_at(&app, "organizations", FABRIKAM_ADMIN_ID, SCOPE).await;
    let body = redeem(&app, "organizations", &answer["code"], SCOPE).await;
    assert_eq!(
        claims(body["id_token"].as_str().expect("id"))["tid"],
        FABRIKAM_TENANT_ID
    );
    // An unknown tenant: AADSTS90002 on Entra's page.
    let page = get(
        &app,
        &format!(
            "/nowhere.example/oauth2/v2.0/authorize?{}",
            authorize_query(&[])
        ),
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.text.contains("AADSTS90002"));
}

fn consent_query(redirect: &str, scope: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", SPA_CLIENT_ID),
            ("redirect_uri", redirect),
            ("state", "st-9"),
            ("scope", scope),
        ])
        .finish()
}

async fn consent(
    app: &axum::Router,
    tenant: &str,
    user: &str,
    action: &str,
    scope: &str,
) -> HashMap<String, String> {
    let query = consent_query(REDIRECT, scope);
    let page = get(app, &format!("/{tenant}/v2.0/adminconsent?{query}"), None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("request", query.as_str()),
            ("user", user),
            ("action", action),
        ])
        .finish();
    let answer = post_form(app, &format!("/{tenant}/v2.0/adminconsent"), &form, None).await;
    assert_eq!(answer.status, StatusCode::FOUND, "{}", answer.text);
    assert!(
        answer.location().starts_with(&format!("{REDIRECT}?")),
        "{}",
        answer.location()
    );
    answer.redirect_params()
}

#[tokio::test]
async fn the_admin_consent_endpoint_answers_as_entra_does() {
    let app = sim("consultant");
    let default = "https://graph.microsoft.com/.default";
    // Cancel.
    let cancel = consent(&app, FABRIKAM, FABRIKAM_ADMIN_ID, "cancel", default).await;
    assert_eq!(cancel["error"], "access_denied");
    assert_eq!(cancel["error_subcode"], "cancel");
    assert!(cancel["error_description"].starts_with("AADSTS65004"));
    assert_eq!(
        (cancel["admin_consent"].as_str(), cancel["state"].as_str()),
        ("True", "st-9")
    );
    // A user who may not consent for the organisation.
    let refused = consent(&app, FABRIKAM, FABRIKAM_USER_ID, "accept", default).await;
    assert_eq!(refused["error"], "consent_required");
    assert!(refused["error_description"].starts_with("AADSTS90093"));
    assert!(!refused.contains_key("tenant"));
    let (_, fabrikam) = call(&app, "GET", &format!("/_sim/state?tenant={FABRIKAM}"), None).await;
    assert_eq!(fabrikam["consents"], json!([]));
    // The admin accepts: org-wide consent for what the registration declares, its service
    // principal created in Fabrikam.
    let granted = consent(&app, FABRIKAM, FABRIKAM_ADMIN_ID, "accept", default).await;
    assert_eq!(granted["admin_consent"], "True");
    assert_eq!(granted["tenant"], FABRIKAM_TENANT_ID);
    assert_eq!(granted["scope"], default);
    assert_eq!(granted["state"], "st-9");
    let (_, fabrikam) = call(&app, "GET", &format!("/_sim/state?tenant={FABRIKAM}"), None).await;
    assert_eq!(fabrikam["consents"][0]["clientId"], SPA_CLIENT_ID);
    assert_eq!(fabrikam["consents"][0]["userId"], serde_json::Value::Null);
    assert_eq!(
        fabrikam["consents"][0]["scopes"].as_array().map(Vec::len),
        Some(5)
    );
    assert!(
        fabrikam["servicePrincipals"]
            .as_array()
            .is_some_and(|s| s.iter().any(|x| x["appId"] == SPA_CLIENT_ID))
    );
    // Now a user without a role signs in to Fabrikam with the page's scopes: no consent asked.
    let answer = sign_in_at(&app, FABRIKAM, FABRIKAM_USER_ID, SCOPE).await;
    assert!(answer.contains_key("code"), "{answer:?}");
    // Dynamic scopes too; the answer echoes them.
    let scope = "https://graph.microsoft.com/User.Read https://graph.microsoft.com/Policy.Read.All";
    let granted = consent(
        &app,
        TENANT_ID,
        crate::fixtures::CONSULTANT_HOME_ID,
        "accept",
        scope,
    )
    .await;
    assert_eq!(granted["error"], "consent_required");
    // Another cloud's Graph: AADSTS70011 back at the redirect URI.
    let query = consent_query(REDIRECT, "https://graph.microsoft.us/User.Read");
    let wrong = get(
        &app,
        &format!("/{FABRIKAM}/v2.0/adminconsent?{query}"),
        None,
    )
    .await;
    assert_eq!(wrong.status, StatusCode::FOUND);
    assert_eq!(wrong.redirect_params()["error"], "invalid_scope");
    assert!(wrong.redirect_params()["error_description"].starts_with("AADSTS70011"));
    // An unregistered redirect URI and an unknown tenant: Entra's own error page.
    let query = consent_query("https://evil.example/", default);
    let page = get(
        &app,
        &format!("/{FABRIKAM}/v2.0/adminconsent?{query}"),
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.text.contains("AADSTS50011"));
    let query = consent_query(REDIRECT, default);
    let page = get(
        &app,
        &format!("/nowhere.example/v2.0/adminconsent?{query}"),
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.text.contains("AADSTS90002"));
}
