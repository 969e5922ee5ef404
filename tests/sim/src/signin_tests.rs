//! The interactive identity platform and Graph's permission checks, over the router.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;

use super::tests::{call, call_as, call_with, sim, token_for};
use crate::fixtures::{MI_CLIENT_ID, MI_OBJECT_ID, SPA_CLIENT_ID, UAMI_CLIENT_ID};
use crate::tenant::{EXCHANGE_APP_ID, MANAGE_AS_APP, roles};

pub(crate) const REDIRECT: &str = "http://127.0.0.1:8080/";
pub(crate) const ORIGIN: &str = "http://127.0.0.1:8080";
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(crate) const SCOPE: &str = "openid profile https://graph.microsoft.com/User.Read https://graph.microsoft.com/Application.ReadWrite.All https://graph.microsoft.com/AppRoleAssignment.ReadWrite.All https://graph.microsoft.com/RoleManagement.ReadWrite.Directory https://graph.microsoft.com/Policy.Read.All";

pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: axum::http::HeaderMap,
    pub(crate) text: String,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
    pub(crate) fn location(&self) -> String {
        self.headers
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }
    /// Parameters of the redirect (fragment or query).
    pub(crate) fn redirect_params(&self) -> std::collections::HashMap<String, String> {
        let location = self.location();
        let part = location
            .split_once('#')
            .or_else(|| location.split_once('?'))
            .map(|(_, p)| p.to_owned())
            .unwrap_or_default();
        url::form_urlencoded::parse(part.as_bytes())
            .into_owned()
            .collect()
    }
}

pub(crate) async fn raw(app: &axum::Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.expect("response");
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    Answer {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn challenge() -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()))
}

pub(crate) fn authorize_query(extra: &[(&str, &str)]) -> String {
    let challenge = challenge();
    let mut pairs = vec![
        ("client_id", SPA_CLIENT_ID),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("response_mode", "fragment"),
        ("scope", SCOPE),
        ("state", "s-123"),
        ("nonce", "n-456"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        pairs.retain(|(key, _)| key != k);
        pairs.push((k, v));
    }
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

pub(crate) async fn get(app: &axum::Router, uri: &str, cookie: Option<&str>) -> Answer {
    let mut request = Request::get(uri);
    if let Some(c) = cookie {
        request = request.header("cookie", c);
    }
    raw(app, request.body(Body::empty()).expect("request")).await
}

pub(crate) async fn post_form(
    app: &axum::Router,
    uri: &str,
    form: &str,
    origin: Option<&str>,
) -> Answer {
    let mut request =
        Request::post(uri).header("content-type", "application/x-www-form-urlencoded");
    if let Some(o) = origin {
        request = request.header("origin", o);
    }
    raw(
        app,
        request.body(Body::from(form.to_owned())).expect("request"),
    )
    .await
}

async fn user_id(app: &axum::Router, name: &str) -> String {
    let (_, state) = call(app, "GET", "/_sim/state", None).await;
    state["users"]
        .as_array()
        .and_then(|users| {
            users.iter().find(|u| {
                u["userPrincipalName"]
                    .as_str()
                    .is_some_and(|p| p.starts_with(&format!("{name}@")))
            })
        })
        .and_then(|u| u["id"].as_str())
        .expect("fixture user")
        .to_owned()
}

/// Signs `user` in through the page's form; returns the redirect answer.
pub(crate) async fn sign_in(
    app: &axum::Router,
    user: &str,
    extra: &[(&str, &str)],
    action: &str,
) -> Answer {
    let query = authorize_query(extra);
    let page = get(
        app,
        &format!("/organizations/oauth2/v2.0/authorize?{query}"),
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains("Pick an account"));
    let id = user_id(app, user).await;
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("request", query.as_str()),
            ("user", &id),
            ("org", "on"),
            ("action", action),
        ])
        .finish();
    post_form(app, "/organizations/oauth2/v2.0/authorize", &form, None).await
}

pub(crate) fn redeem_form(code: &str, verifier: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", SPA_CLIENT_ID),
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
            ("scope", SCOPE),
        ])
        .finish()
}

pub(crate) fn claims(token: &str) -> Value {
    crate::jwt::decode(token).expect("jwt").claims
}

#[tokio::test]
async fn code_flow_with_pkce_issues_tokens_once_with_the_spa_rules() {
    let app = sim("default");
    let back = sign_in(&app, "admin", &[], "accept").await;
    assert_eq!(back.status, StatusCode::FOUND);
    assert!(
        back.location().starts_with("http://127.0.0.1:8080/#"),
        "fragment mode: {}",
        back.location()
    );
    let params = back.redirect_params();
    assert_eq!(params["state"], "s-123");
    let code = params["code"].clone();
    assert!(
        back.headers.get("set-cookie").is_some(),
        "a session for prompt=none"
    );

    // Without Origin (a server redeeming a SPA code): AADSTS9002327, and the code is spent.
    let no_origin = post_form(
        &app,
        "/organizations/oauth2/v2.0/token",
        &redeem_form(&code, VERIFIER),
        None,
    )
    .await;
    assert_eq!(
        no_origin.json()["error_codes"][0],
        9002327,
        "{}",
        no_origin.text
    );

    let back = sign_in(&app, "admin", &[], "accept").await;
    let code = back.redirect_params()["code"].clone();
    let wrong = post_form(
        &app,
        "/organizations/oauth2/v2.0/token",
        &redeem_form(&code, "x".repeat(43).as_str()),
        Some(ORIGIN),
    )
    .await;
    assert_eq!(wrong.json()["error_codes"][0], 50148, "{}", wrong.text);
    let again = post_form(
        &app,
        "/organizations/oauth2/v2.0/token",
        &redeem_form(&code, VERIFIER),
        Some(ORIGIN),
    )
    .await;
    assert_eq!(
        again.json()["error_codes"][0],
        54005,
        "a code is single use: {}",
        again.text
    );

    let back = sign_in(&app, "admin", &[], "accept").await;
    let code = back.redirect_params()["code"].clone();
    let elsewhere = post_form(
        &app,
        "/contoso.onmicrosoft.com/oauth2/v2.0/token",
        &redeem_form(&code, VERIFIER),
        Some(ORIGIN),
    )
    .await;
    assert_eq!(
        elsewhere.json()["error_codes"][0],
        700005,
        "{}",
        elsewhere.text
    );

    let back = sign_in(&app, "admin", &[], "accept").await;
    let code = back.redirect_params()["code"].clone();
    let ok = post_form(
        &app,
        "/organizations/oauth2/v2.0/token",
        &redeem_form(&code, VERIFIER),
        Some(ORIGIN),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.headers["access-control-allow-origin"], ORIGIN);
    let body = ok.json();
    let id = claims(body["id_token"].as_str().expect("id token"));
    assert_eq!(id["nonce"], "n-456");
    assert_eq!(id["tid"], crate::fixtures::TENANT_ID);
    assert_eq!(id["aud"], SPA_CLIENT_ID);
    assert!(
        body.get("refresh_token").is_none(),
        "no offline_access, no refresh token"
    );
    let access = claims(body["access_token"].as_str().expect("access token"));
    let scp = access["scp"].as_str().expect("scp");
    for s in [
        "Application.ReadWrite.All",
        "RoleManagement.ReadWrite.Directory",
        "Policy.Read.All",
    ] {
        assert!(scp.contains(s), "{scp}");
    }
    // The token works on Graph.
    let bearer = format!(
        "Bearer {}",
        body["access_token"].as_str().unwrap_or_default()
    );
    let (status, me) =
        call_with(&app, "GET", "/v1.0/me", None, &[("authorization", &bearer)]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["userPrincipalName"], "admin@contoso.onmicrosoft.com");

    // A page on another origin gets no CORS header: the browser hides the answer from it.
    let back = sign_in(&app, "admin", &[], "accept").await;
    let code = back.redirect_params()["code"].clone();
    let foreign = post_form(
        &app,
        "/organizations/oauth2/v2.0/token",
        &redeem_form(&code, VERIFIER),
        Some("http://evil.example"),
    )
    .await;
    assert!(foreign.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn authorize_refuses_bad_requests_as_entra_does() {
    let app = sim("default");
    let page = |extra: &[(&str, &str)]| {
        format!(
            "/organizations/oauth2/v2.0/authorize?{}",
            authorize_query(extra)
        )
    };
    let wrong_redirect = get(
        &app,
        &page(&[("redirect_uri", "http://127.0.0.1:9999/")]),
        None,
    )
    .await;
    assert_eq!(wrong_redirect.status, StatusCode::BAD_REQUEST);
    assert!(
        wrong_redirect.text.contains("AADSTS50011"),
        "shown on Entra's page, not redirected"
    );
    let unknown = get(
        &app,
        &page(&[("client_id", "11111111-2222-4333-8444-555555555555")]),
        None,
    )
    .await;
    assert!(unknown.text.contains("AADSTS700016"));
    let no_pkce = get(&app, &page(&[("code_challenge", "")]), None).await;
    assert!(no_pkce.redirect_params()["error_description"].starts_with("AADSTS9002325"));
    let plain = get(&app, &page(&[("code_challenge_method", "plain")]), None).await;
    assert!(plain.redirect_params()["error_description"].starts_with("AADSTS50149"));
    let scope = get(
        &app,
        &page(&[("scope", "openid https://graph.microsoft.com/Mail.Send")]),
        None,
    )
    .await;
    assert_eq!(scope.redirect_params()["error"], "invalid_scope");
    let query_mode = get(
        &app,
        &page(&[("response_mode", "query"), ("response_type", "token")]),
        None,
    )
    .await;
    assert!(
        query_mode
            .location()
            .starts_with("http://127.0.0.1:8080/?error=unsupported_response_type"),
        "{}",
        query_mode.location()
    );

    let cancelled = sign_in(&app, "admin", &[], "cancel").await;
    let params = cancelled.redirect_params();
    assert_eq!(params["error"], "access_denied");
    assert!(params["error_description"].starts_with("AADSTS65004"));
    assert_eq!(params["state"], "s-123");
}

#[tokio::test]
async fn consent_is_needed_once_and_only_admins_can_give_it() {
    let app = sim("default");
    let refused = sign_in(&app, "user", &[], "accept").await;
    assert!(
        refused.redirect_params()["error_description"].starts_with("AADSTS90094"),
        "{}",
        refused.location()
    );
    // The admin consents for the organisation; the plain user can then sign in, and Graph
    // then stops them by role.
    sign_in(&app, "admin", &[], "accept").await;
    let back = sign_in(&app, "user", &[], "accept").await;
    let code = back.redirect_params()["code"].clone();
    let ok = post_form(
        &app,
        "/organizations/oauth2/v2.0/token",
        &redeem_form(&code, VERIFIER),
        Some(ORIGIN),
    )
    .await;
    let bearer = format!(
        "Bearer {}",
        ok.json()["access_token"].as_str().unwrap_or_default()
    );
    let (status, body) = call_with(
        &app,
        "POST",
        "/v1.0/applications",
        Some(json!({"displayName": "x"})),
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "Authorization_RequestDenied");
}

#[tokio::test]
async fn prompt_none_needs_a_session_for_the_hinted_user() {
    let app = sim("default");
    let silent = |hint: &str| {
        format!(
            "/organizations/oauth2/v2.0/authorize?{}",
            authorize_query(&[("prompt", "none"), ("login_hint", hint)])
        )
    };
    let none = get(&app, &silent("admin@contoso.onmicrosoft.com"), None).await;
    assert_eq!(none.redirect_params()["error"], "login_required");
    let back = sign_in(&app, "admin", &[], "accept").await;
    let cookie = back.headers["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .unwrap_or_default()
        .to_owned();
    let ok = get(
        &app,
        &silent("admin@contoso.onmicrosoft.com"),
        Some(&cookie),
    )
    .await;
    assert!(
        ok.redirect_params().contains_key("code"),
        "{}",
        ok.location()
    );
    let other = get(&app, &silent("pra@contoso.onmicrosoft.com"), Some(&cookie)).await;
    assert_eq!(other.redirect_params()["error"], "login_required");
}

#[tokio::test]
async fn refresh_tokens_need_offline_access_and_the_origin() {
    let app = sim("default");
    let scope = format!("{SCOPE} offline_access");
    let back = sign_in(&app, "admin", &[("scope", &scope)], "accept").await;
    let code = back.redirect_params()["code"].clone();
    let ok = post_form(
        &app,
        "/organizations/oauth2/v2.0/token",
        &redeem_form(&code, VERIFIER),
        Some(ORIGIN),
    )
    .await;
    let rt = ok.json()["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("refresh token: {}", ok.text))
        .to_owned();
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", SPA_CLIENT_ID),
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("scope", SCOPE),
        ])
        .finish();
    let without = post_form(&app, "/organizations/oauth2/v2.0/token", &form, None).await;
    assert_eq!(without.json()["error_codes"][0], 9002327);
    let renewed = post_form(
        &app,
        "/organizations/oauth2/v2.0/token",
        &form,
        Some(ORIGIN),
    )
    .await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.text);
    assert!(renewed.json()["access_token"].is_string());
}

#[tokio::test]
async fn graph_checks_the_token_then_scopes_then_roles() {
    let app = sim("default");
    let (status, body) = call_with(&app, "GET", "/v1.0/organization", None, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");

    // Expired token.
    call(&app, "POST", "/_sim/faults", Some(json!({}))).await;
    let (_, expired) = {
        let mut req = json!({"user": "admin", "lifetimeSecs": -10});
        req["scopes"] = json!(["User.Read"]);
        let (s, b) = call(&app, "POST", "/_sim/token", Some(req)).await;
        (s, b["access_token"].as_str().unwrap_or_default().to_owned())
    };
    let bearer = format!("Bearer {expired}");
    let (status, body) = call_with(
        &app,
        "GET",
        "/v1.0/organization",
        None,
        &[("authorization", &bearer)],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("expired")
    );

    // A token with only User.Read reads the tenant but cannot create apps.
    let narrow = format!(
        "Bearer {}",
        token_for(&app, "admin", Some(&["User.Read"])).await
    );
    let (status, _) = call_with(
        &app,
        "GET",
        "/v1.0/organization",
        None,
        &[("authorization", &narrow)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = call_with(
        &app,
        "POST",
        "/v1.0/applications",
        Some(json!({"displayName": "x"})),
        &[("authorization", &narrow)],
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("Authorization_RequestDenied"))
    );

    // Roles (<https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference>):
    // PRA cannot create apps but can assign roles; the Cloud Application
    // Administrator can create apps and grant Exchange's app role but not assign roles.
    let (status, _) = call_as(
        &app,
        "pra",
        "POST",
        "/v1.0/applications",
        Some(json!({"displayName": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, created) = call_as(
        &app,
        "appadmin",
        "POST",
        "/v1.0/applications",
        Some(json!({"displayName": "cam's app"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, sp) = call_as(
        &app,
        "appadmin",
        "POST",
        "/v1.0/servicePrincipals",
        Some(json!({"appId": created["appId"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let role = json!({"roleDefinitionId": roles::EXCHANGE_ADMIN, "principalId": sp["id"], "directoryScopeId": "/"});
    let (status, _) = call_as(
        &app,
        "appadmin",
        "POST",
        "/v1.0/roleManagement/directory/roleAssignments",
        Some(role.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call_as(
        &app,
        "pra",
        "POST",
        "/v1.0/roleManagement/directory/roleAssignments",
        Some(role),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = call_as(
        &app,
        "user",
        "GET",
        "/v1.0/policies/defaultAppManagementPolicy",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // What the page reads to warn early: the admin's roles.
    let (_, mine) = call_as(&app, "pra", "GET", "/v1.0/me/transitiveMemberOf", None).await;
    assert_eq!(
        mine["value"][0]["roleTemplateId"],
        roles::PRIVILEGED_ROLE_ADMIN
    );
    assert_eq!(
        mine["value"][0]["@odata.type"],
        "#microsoft.graph.directoryRole"
    );
}

#[tokio::test]
async fn the_policy_names_its_lifetime_cap() {
    let (status, policy) = call(
        &sim("capped-lifetime"),
        "GET",
        "/v1.0/policies/defaultAppManagementPolicy",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(policy["isEnabled"], true);
    assert_eq!(
        policy["applicationRestrictions"]["keyCredentials"][0]["maxLifetime"],
        "P180D"
    );
    let (_, open) = call(
        &sim("default"),
        "GET",
        "/v1.0/policies/defaultAppManagementPolicy",
        None,
    )
    .await;
    assert_eq!(open["applicationRestrictions"]["keyCredentials"], json!([]));
}

#[tokio::test]
async fn batch_runs_up_to_twenty_with_dependencies() {
    let app = sim("default");
    let read = |id: &str, url: &str| json!({"id": id, "method": "GET", "url": url});
    let (status, body) = call(&app, "POST", "/v1.0/$batch", Some(json!({"requests": [
        read("1", "/organization"),
        read("2", &format!("/servicePrincipals?$filter=appId eq '{EXCHANGE_APP_ID}'&$select=id,appRoles")),
        read("3", "/me"),
        read("4", "/applications/nope"),
        {"id": "5", "method": "GET", "url": "/me/transitiveMemberOf", "dependsOn": ["4"]},
    ]}))).await;
    assert_eq!(status, StatusCode::OK);
    let by_id = |id: &str| {
        body["responses"]
            .as_array()
            .and_then(|r| r.iter().find(|x| x["id"] == id))
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(by_id("1")["status"], 200);
    assert_eq!(
        by_id("2")["body"]["value"][0]["appRoles"][0]["id"],
        MANAGE_AS_APP
    );
    assert!(
        by_id("2")["body"]["value"][0].get("displayName").is_none(),
        "$select applies"
    );
    assert_eq!(
        by_id("3")["body"]["userPrincipalName"],
        "admin@contoso.onmicrosoft.com"
    );
    assert_eq!(by_id("4")["status"], 404);
    assert_eq!(by_id("5")["status"], 424);
    let many: Vec<Value> = (0..21)
        .map(|i| read(&i.to_string(), "/organization"))
        .collect();
    let (status, _) = call(
        &app,
        "POST",
        "/v1.0/$batch",
        Some(json!({"requests": many})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_dropped_connection_still_did_the_work() {
    let app = sim("default");
    call(&app, "POST", "/_sim/faults", Some(json!({"dropEvery": 2}))).await;
    // Request 1: the token shortcut does not count (/_sim); the POST is request 1 …
    let (status, _) = call(&app, "GET", "/v1.0/organization", None).await;
    assert_eq!(status, StatusCode::OK);
    let token = format!("Bearer {}", token_for(&app, "admin", None).await);
    let request = Request::post("/v1.0/applications")
        .header("content-type", "application/json")
        .header("authorization", &token)
        .body(Body::from(json!({"displayName": "dropped"}).to_string()))
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("response");
    assert!(
        response.into_body().collect().await.is_err(),
        "the body never arrives"
    );
    let (_, state) = call(&app, "GET", "/_sim/state", None).await;
    assert!(
        state["applications"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["displayName"] == "dropped"))
    );
}

#[tokio::test]
async fn managed_identities_get_exchange_tokens_that_follow_their_grants() {
    let app = sim("default");
    let mi = |query: &str, metadata: bool| {
        let mut r = Request::get(format!(
            "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://outlook.office365.com/{query}"
        ));
        if metadata {
            r = r.header("metadata", "true");
        }
        r.body(Body::empty()).expect("request")
    };
    assert_eq!(
        raw(&app, mi("", false)).await.status,
        StatusCode::BAD_REQUEST
    );
    let before = raw(&app, mi("", true)).await.json();
    let c = claims(before["access_token"].as_str().expect("token"));
    assert_eq!(
        (c["oid"].as_str(), c["appid"].as_str()),
        (Some(MI_OBJECT_ID), Some(MI_CLIENT_ID))
    );
    assert!(c.get("roles").is_none());

    let (_, exo) = call(
        &app,
        "GET",
        &format!("/v1.0/servicePrincipals?$filter=appId eq '{EXCHANGE_APP_ID}'"),
        None,
    )
    .await;
    let exo = exo["value"][0]["id"].as_str().expect("exo").to_owned();
    let (status, _) = call_as(
        &app,
        "pra",
        "POST",
        &format!("/v1.0/servicePrincipals/{exo}/appRoleAssignedTo"),
        Some(json!({"principalId": MI_OBJECT_ID, "resourceId": exo, "appRoleId": MANAGE_AS_APP})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let after = raw(&app, mi("", true)).await.json();
    let c = claims(after["access_token"].as_str().expect("token"));
    assert_eq!(c["roles"], json!(["Exchange.ManageAsApp"]));

    let user_assigned = raw(&app, mi(&format!("&client_id={UAMI_CLIENT_ID}"), true))
        .await
        .json();
    let c = claims(user_assigned["access_token"].as_str().expect("token"));
    assert_eq!(c["appid"], UAMI_CLIENT_ID);
    assert!(c.get("roles").is_none(), "grants are per identity");

    let (_, found) = call(&app, "GET", "/v1.0/servicePrincipals?$filter=servicePrincipalType eq 'ManagedIdentity' and startswith(displayName,'ops')", None).await;
    assert_eq!(found["value"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn token_requests_that_break_the_binding_are_refused() {
    let app = sim("default");
    let code = |app: axum::Router| async move {
        sign_in(&app, "admin", &[], "accept")
            .await
            .redirect_params()["code"]
            .clone()
    };
    let c = code(app.clone()).await;
    let form = redeem_form(&c, VERIFIER).replace("127.0.0.1%3A8080", "127.0.0.1%3A8081");
    let moved = post_form(
        &app,
        "/organizations/oauth2/v2.0/token",
        &form,
        Some(ORIGIN),
    )
    .await;
    assert_eq!(moved.json()["error_codes"][0], 500112, "{}", moved.text);
    let c = code(app.clone()).await;
    let secret = format!("{}&client_secret=s3cr3t", redeem_form(&c, VERIFIER));
    let public = post_form(
        &app,
        "/organizations/oauth2/v2.0/token",
        &secret,
        Some(ORIGIN),
    )
    .await;
    assert_eq!(public.json()["error_codes"][0], 700025);
    let creds = "grant_type=client_credentials&client_id=x&scope=https%3A%2F%2Foutlook.office365.com%2F.default";
    let browser = post_form(
        &app,
        "/organizations/oauth2/v2.0/token",
        creds,
        Some(ORIGIN),
    )
    .await;
    assert_eq!(browser.json()["error_codes"][0], 9002326);

    // Short lifetimes on demand, for expiry mid-run.
    call(
        &app,
        "POST",
        "/_sim/faults",
        Some(json!({"tokenLifetimeSecs": 5})),
    )
    .await;
    let c = code(app.clone()).await;
    let short = post_form(
        &app,
        "/organizations/oauth2/v2.0/token",
        &redeem_form(&c, VERIFIER),
        Some(ORIGIN),
    )
    .await;
    assert_eq!(short.json()["expires_in"], 5);
    let access = claims(short.json()["access_token"].as_str().expect("token"));
    assert_eq!(
        access["exp"].as_i64().unwrap_or(0) - access["iat"].as_i64().unwrap_or(0),
        5
    );
}

#[tokio::test]
async fn reset_switches_fixtures() {
    let app = sim("default");
    let (status, _) = call(
        &app,
        "POST",
        "/_sim/reset",
        Some(json!({"fixture": "no-exchange"})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let uri = format!("/v1.0/servicePrincipals?$filter=appId eq '{EXCHANGE_APP_ID}'");
    let (_, none) = call(&app, "GET", &uri, None).await;
    assert_eq!(none["value"], json!([]));
    let (status, _) = call(
        &app,
        "POST",
        "/_sim/reset",
        Some(json!({"fixture": "nope"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn inner_batch_requests_are_throttled_one_by_one() {
    let app = sim("default");
    call(
        &app,
        "POST",
        "/_sim/faults",
        Some(json!({"throttleEvery": 2, "retryAfterSecs": 1.5})),
    )
    .await;
    // Request 1 (the batch itself) passes; its inner requests are 2, 3, 4, 5: two are throttled.
    let read = |id: &str| json!({"id": id, "method": "GET", "url": "/organization"});
    let token = format!("Bearer {}", token_for(&app, "admin", None).await);
    let request = Request::post("/v1.0/$batch")
        .header("content-type", "application/json")
        .header("authorization", &token)
        .body(Body::from(
            json!({"requests": [read("a"), read("b"), read("c"), read("d")]}).to_string(),
        ))
        .expect("request");
    let answer = raw(&app, request).await;
    assert!(answer.status == StatusCode::OK, "{}", answer.text);
    let body = answer.json();
    let statuses: Vec<u64> = body["responses"]
        .as_array()
        .expect("responses")
        .iter()
        .filter_map(|r| r["status"].as_u64())
        .collect();
    assert_eq!(statuses, [429, 200, 429, 200]);
    assert_eq!(body["responses"][0]["headers"]["Retry-After"], "1.5");
}
