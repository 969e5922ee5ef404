//! The simulated Azure Resource Manager (`arm.rs`): tokens, RBAC, accounts, identities, module
//! imports, runbooks and jobs whose output follows the tenant, certificate assets, faults.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use unattended::forge::{self, Flavour, KeySize, Password, UnixTime};

use super::signin_tests::{Answer, ORIGIN, SCOPE, VERIFIER, post_form, raw, redeem_form, sign_in};
use super::tests::{call, sim, token_for};
use crate::arm_fixtures::{ASM_APP_ID, PROD_SUBSCRIPTION, USER_IMPERSONATION_ID};
use crate::fixtures::{MI_CLIENT_ID, MI_OBJECT_ID, SPA_CLIENT_ID, UAMI_CLIENT_ID, UAMI_OBJECT_ID};
use crate::tenant::{EXCHANGE_APP_ID, MANAGE_AS_APP, roles};

const V: &str = "api-version=2023-11-01";
const AUTOMATION: &str = "/arm/subscriptions/0a1b2c3d-0000-4000-8000-000000000001/resourceGroups/ops/providers/Microsoft.Automation/automationAccounts/contoso-automation";
const REPORTS: &str = "/arm/subscriptions/0a1b2c3d-0000-4000-8000-000000000001/resourceGroups/automation-rg/providers/Microsoft.Automation/automationAccounts/contoso-reports";
const ARM_SCOPE: &str = "https://management.azure.com/user_impersonation";

async fn arm_token(app: &axum::Router, user: &str, extra: Value) -> String {
    let mut body = json!({ "user": user });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (status, answer) = call(app, "POST", "/_sim/arm/token", Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer["access_token"].as_str().expect("token").to_owned()
}

/// An ARM request with a token (or none), JSON or text body, optional `Origin`.
async fn send(
    app: &axum::Router,
    token: Option<&str>,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        request = request.header("authorization", format!("Bearer {t}"));
    }
    let body = match body {
        Some(Value::String(text)) => {
            request = request.header("content-type", "text/powershell");
            Body::from(text)
        }
        Some(v) => {
            request = request.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    raw(app, request.body(body).expect("request")).await
}

/// As `user` (a fresh ARM token each call).
async fn arm(
    app: &axum::Router,
    user: &str,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> Answer {
    let token = arm_token(app, user, json!({})).await;
    send(app, Some(&token), method, uri, body).await
}

fn with_version(path: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}{V}")
}

async fn advance(app: &axum::Router, ms: i64) {
    let (status, _) = call(app, "POST", "/_sim/clock", Some(json!({ "advanceMs": ms }))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

async fn faults(app: &axum::Router, f: Value) {
    let (status, _) = call(app, "POST", "/_sim/faults", Some(f)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

async fn state(app: &axum::Router) -> Value {
    call(app, "GET", "/_sim/state", None).await.1
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn arm_accepts_only_unexpired_arm_tokens() {
    let app = sim("default");
    let none = send(
        &app,
        None,
        "GET",
        "/arm/subscriptions?api-version=2022-12-01",
        None,
    )
    .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.json()["error"]["code"], "AuthenticationFailed");
    assert_eq!(
        none.json()["error"]["message"],
        "Authentication failed. The 'Authorization' header is missing."
    );
    assert!(none.headers.contains_key("www-authenticate"));

    let graph = token_for(&app, "admin", None).await;
    let wrong = send(
        &app,
        Some(&graph),
        "GET",
        "/arm/subscriptions?api-version=2022-12-01",
        None,
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong.json()["error"]["code"],
        "InvalidAuthenticationTokenAudience"
    );
    assert!(
        wrong.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("'https://graph.microsoft.com'")
                && m.contains("'https://management.azure.com'")),
        "{}",
        wrong.text
    );

    let expired = arm_token(&app, "admin", json!({ "lifetimeSecs": 0 })).await;
    let old = send(
        &app,
        Some(&expired),
        "GET",
        "/arm/subscriptions?api-version=2022-12-01",
        None,
    )
    .await;
    assert_eq!(old.json()["error"]["code"], "ExpiredAuthenticationToken");

    // The legacy resource is an ARM audience too.
    let legacy = arm_token(
        &app,
        "admin",
        json!({ "audience": "https://management.core.windows.net/" }),
    )
    .await;
    let ok = send(
        &app,
        Some(&legacy),
        "GET",
        "/arm/subscriptions?api-version=2022-12-01",
        None,
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    // An ARM token is no Graph token.
    let arm = arm_token(&app, "admin", json!({})).await;
    let me = send(&app, Some(&arm), "GET", "/v1.0/me", None).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_token_endpoint_issues_arm_tokens_once_arm_is_consented() {
    let app = sim("default");
    // The API's service principal is in the tenant, with its delegated permission.
    let (_, asm) = call(
        &app,
        "GET",
        &format!("/v1.0/servicePrincipals(appId='{ASM_APP_ID}')?$select=id,oauth2PermissionScopes"),
        None,
    )
    .await;
    assert_eq!(
        asm["oauth2PermissionScopes"][0]["id"],
        USER_IMPERSONATION_ID
    );
    assert_eq!(
        asm["oauth2PermissionScopes"][0]["value"],
        "user_impersonation"
    );

    let refresh = |rt: String, scope: &'static str| {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("client_id", SPA_CLIENT_ID),
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
                ("scope", scope),
            ])
            .finish()
    };
    // Signed in for Graph only: no ARM consent yet.
    let scope = format!("{SCOPE} offline_access");
    let back = sign_in(&app, "admin", &[("scope", &scope)], "accept").await;
    let code = back.redirect_params()["code"].clone();
    let first = post_form(
        &app,
        "/organizations/oauth2/v2.0/token",
        &redeem_form(&code, VERIFIER),
        Some(ORIGIN),
    )
    .await;
    let rt = first.json()["refresh_token"]
        .as_str()
        .expect("rt")
        .to_owned();
    let refused = post_form(
        &app,
        "/organizations/oauth2/v2.0/token",
        &refresh(
            rt,
            "https://management.azure.com/user_impersonation offline_access",
        ),
        Some(ORIGIN),
    )
    .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.json()["error"], "invalid_grant");
    assert_eq!(refused.json()["error_codes"][0], 65001);

    // Asked at sign-in too: consent covers both resources, the code's token is Graph's.
    let both = format!("{SCOPE} {ARM_SCOPE} offline_access");
    let back = sign_in(&app, "admin", &[("scope", &both)], "accept").await;
    let code = back.redirect_params()["code"].clone();
    let graph = post_form(
        &app,
        "/organizations/oauth2/v2.0/token",
        &redeem_form(&code, VERIFIER),
        Some(ORIGIN),
    )
    .await;
    assert_eq!(graph.status, StatusCode::OK, "{}", graph.text);
    let claims = super::signin_tests::claims(graph.json()["access_token"].as_str().expect("at"));
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    assert!(
        !claims["scp"]
            .as_str()
            .unwrap_or_default()
            .contains("user_impersonation")
    );
    let rt = graph.json()["refresh_token"]
        .as_str()
        .expect("rt")
        .to_owned();

    let mixed = post_form(
        &app,
        "/organizations/oauth2/v2.0/token",
        &refresh(
            rt.clone(),
            "https://management.azure.com/user_impersonation https://graph.microsoft.com/User.Read",
        ),
        Some(ORIGIN),
    )
    .await;
    assert_eq!(mixed.json()["error_codes"][0], 28000, "{}", mixed.text);

    let ok = post_form(
        &app,
        "/organizations/oauth2/v2.0/token",
        &refresh(
            rt,
            "https://management.azure.com/user_impersonation offline_access",
        ),
        Some(ORIGIN),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.json()["scope"], ARM_SCOPE);
    assert!(ok.json()["refresh_token"].is_string());
    let token = ok.json()["access_token"].as_str().expect("at").to_owned();
    let c = super::signin_tests::claims(&token);
    assert_eq!(c["aud"], "https://management.azure.com");
    assert_eq!(c["scp"], "user_impersonation");
    assert_eq!(c["tid"], crate::fixtures::TENANT_ID);
    assert_eq!(c["upn"], "admin@contoso.onmicrosoft.com");
    let subs = send(
        &app,
        Some(&token),
        "GET",
        "/arm/subscriptions?api-version=2022-12-01",
        None,
    )
    .await;
    assert_eq!(subs.status, StatusCode::OK, "{}", subs.text);
}

#[tokio::test]
async fn users_consent_to_arm_for_themselves() {
    let app = sim("default");
    let scope = format!("openid {ARM_SCOPE} offline_access");
    let back = sign_in(&app, "user", &[("scope", &scope)], "accept").await;
    let params = back.redirect_params();
    assert!(params.contains_key("code"), "{params:?}");
    let token = post_form(
        &app,
        "/organizations/oauth2/v2.0/token",
        &redeem_form(&params["code"], VERIFIER).replace(
            &url::form_urlencoded::byte_serialize(SCOPE.as_bytes()).collect::<String>(),
            &url::form_urlencoded::byte_serialize(scope.as_bytes()).collect::<String>(),
        ),
        Some(ORIGIN),
    )
    .await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.text);
    let c = super::signin_tests::claims(token.json()["access_token"].as_str().expect("at"));
    assert_eq!(c["aud"], "https://management.azure.com");
    let (_, s) = call(&app, "GET", "/_sim/state", None).await;
    assert!(s["consents"].to_string().contains(crate::arm::CONSENT));
}

#[tokio::test]
async fn subscriptions_and_accounts_follow_azure_rbac() {
    let app = sim("default");
    let subs = arm(
        &app,
        "admin",
        "GET",
        "/arm/subscriptions?api-version=2022-12-01",
        None,
    )
    .await;
    let names: Vec<&str> = subs.json()["value"]
        .as_array()
        .expect("value")
        .iter()
        .filter_map(|s| s["displayName"].as_str())
        .map(|s| Box::leak(s.to_owned().into_boxed_str()) as &str)
        .collect();
    assert_eq!(names, ["Contoso Production", "Contoso Development"]);
    assert_eq!(subs.json()["value"][0]["subscriptionId"], PROD_SUBSCRIPTION);
    assert_eq!(
        subs.json()["value"][0]["tenantId"],
        crate::fixtures::TENANT_ID
    );

    // Two per page: the production subscription pages.
    let list = with_version(&format!(
        "/arm/subscriptions/{PROD_SUBSCRIPTION}/providers/Microsoft.Automation/automationAccounts"
    ));
    let page1 = arm(&app, "admin", "GET", &list, None).await;
    assert_eq!(page1.json()["value"].as_array().map(Vec::len), Some(2));
    let next = page1.json()["nextLink"]
        .as_str()
        .expect("nextLink")
        .to_owned();
    assert!(
        next.starts_with("http://127.0.0.1/arm/subscriptions/"),
        "{next}"
    );
    let path = next.trim_start_matches("http://127.0.0.1");
    let page2 = arm(&app, "admin", "GET", path, None).await;
    assert_eq!(page2.json()["value"].as_array().map(Vec::len), Some(1));
    assert!(page2.json().get("nextLink").is_none());
    let all: Vec<String> = [page1.json(), page2.json()]
        .iter()
        .flat_map(|p| p["value"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a["name"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        all,
        ["contoso-automation", "contoso-reports", "contoso-uami-only"]
    );

    // No Azure role: no subscription, and 403 in ARM's words.
    let none = arm(
        &app,
        "pra",
        "GET",
        "/arm/subscriptions?api-version=2022-12-01",
        None,
    )
    .await;
    assert_eq!(none.json()["value"], json!([]));
    let denied = arm(&app, "pra", "GET", &list, None).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let message = denied.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(denied.json()["error"]["code"], "AuthorizationFailed");
    assert!(
        message.starts_with("The client 'pra@contoso.onmicrosoft.com' with object id '"),
        "{message}"
    );
    assert!(message.contains(&format!(
        "does not have authorization to perform action 'Microsoft.Automation/automationAccounts/read' over scope '/subscriptions/{PROD_SUBSCRIPTION}' or the scope is invalid. If access was recently granted, please refresh your credentials."
    )), "{message}");

    // A role on one resource group: that group's accounts only.
    let rg_only = arm(&app, "appdev", "GET", &list, None).await;
    let names: Vec<&str> = rg_only.json()["value"]
        .as_array()
        .expect("value")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .map(|s| Box::leak(s.to_owned().into_boxed_str()) as &str)
        .collect();
    assert_eq!(names, ["contoso-reports", "contoso-uami-only"]);
    let other = arm(&app, "appdev", "GET", &with_version(AUTOMATION), None).await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);

    // Reader reads, does not write.
    let read = arm(&app, "user", "GET", &with_version(REPORTS), None).await;
    assert_eq!(read.status, StatusCode::OK);
    let write = arm(
        &app,
        "user",
        "PATCH",
        &with_version(REPORTS),
        Some(json!({ "identity": { "type": "SystemAssigned" } })),
    )
    .await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    assert!(
        write
            .text
            .contains("'Microsoft.Automation/automationAccounts/write'")
    );
}

#[tokio::test]
async fn permissions_name_the_callers_roles() {
    let app = sim("default");
    let path = format!(
        "{AUTOMATION}/providers/Microsoft.Authorization/permissions?api-version=2022-04-01"
    );
    let owner = arm(&app, "admin", "GET", &path, None).await;
    assert_eq!(owner.json()["value"][0]["actions"], json!(["*"]));
    let contributor = arm(&app, "appadmin", "GET", &path, None).await;
    assert_eq!(
        contributor.json()["value"][0]["actions"][0],
        "Microsoft.Automation/automationAccounts/*"
    );
    assert_eq!(contributor.json()["value"][0]["notActions"], json!([]));
    let nobody = arm(&app, "pra", "GET", &path, None).await;
    assert_eq!(nobody.status, StatusCode::OK);
    assert_eq!(nobody.json()["value"], json!([]));
}

#[tokio::test]
async fn versions_and_missing_things_answer_as_arm() {
    let app = sim("default");
    let missing = arm(&app, "admin", "GET", AUTOMATION, None).await;
    assert_eq!(
        missing.json()["error"]["code"],
        "MissingApiVersionParameter"
    );
    let old = arm(
        &app,
        "admin",
        "GET",
        &format!("{AUTOMATION}?api-version=2099-01-01"),
        None,
    )
    .await;
    assert_eq!(old.json()["error"]["code"], "NoRegisteredProviderFound");
    let subs = arm(
        &app,
        "admin",
        "GET",
        "/arm/subscriptions?api-version=1999-01-01",
        None,
    )
    .await;
    assert_eq!(subs.json()["error"]["code"], "InvalidApiVersionParameter");
    let sub = arm(
        &app,
        "admin",
        "GET",
        &with_version("/arm/subscriptions/99999999-0000-4000-8000-000000000000/providers/Microsoft.Automation/automationAccounts"),
        None,
    )
    .await;
    assert_eq!(sub.json()["error"]["code"], "SubscriptionNotFound");
    let acct = arm(
        &app,
        "admin",
        "GET",
        &with_version(&AUTOMATION.replace("contoso-automation", "nope")),
        None,
    )
    .await;
    assert_eq!(acct.status, StatusCode::NOT_FOUND);
    assert_eq!(acct.json()["error"]["code"], "ResourceNotFound");
    let rg = arm(
        &app,
        "admin",
        "GET",
        &with_version(&AUTOMATION.replace("/ops/", "/nope/")),
        None,
    )
    .await;
    assert_eq!(rg.json()["error"]["code"], "ResourceGroupNotFound");
    // Paths are case-insensitive.
    let lower = arm(
        &app,
        "admin",
        "GET",
        &with_version(&AUTOMATION.replace("resourceGroups", "resourcegroups")),
        None,
    )
    .await;
    assert_eq!(lower.status, StatusCode::OK);
}

#[tokio::test]
async fn the_fixture_accounts_match_the_graph_identities() {
    let app = sim("default");
    let a = arm(&app, "admin", "GET", &with_version(AUTOMATION), None).await;
    let id = &a.json()["identity"];
    assert_eq!(id["type"], "SystemAssigned, UserAssigned");
    assert_eq!(id["principalId"], MI_OBJECT_ID);
    assert_eq!(id["tenantId"], crate::fixtures::TENANT_ID);
    let ua = &id["userAssignedIdentities"][crate::arm_fixtures::UAMI_RESOURCE_ID];
    assert_eq!(ua["principalId"], UAMI_OBJECT_ID);
    assert_eq!(ua["clientId"], UAMI_CLIENT_ID);
    let (_, sp) = call(
        &app,
        "GET",
        &format!("/v1.0/servicePrincipals/{MI_OBJECT_ID}"),
        None,
    )
    .await;
    assert_eq!(sp["appId"], MI_CLIENT_ID);
    let resource = a.json()["id"].as_str().expect("id").to_ascii_lowercase();
    assert!(
        sp["alternativeNames"]
            .as_array()
            .expect("names")
            .iter()
            .any(|n| n
                .as_str()
                .is_some_and(|n| n.to_ascii_lowercase() == resource)),
        "{sp}"
    );
    let reports = arm(&app, "admin", "GET", &with_version(REPORTS), None).await;
    assert_eq!(reports.json()["identity"]["type"], "None");
}

#[tokio::test]
async fn turning_the_identity_on_makes_a_managed_identity_graph_sees_after_replication() {
    let app = sim("default");
    faults(&app, json!({ "replicationLagSecs": 20, "listLagSecs": 20 })).await;
    let on = arm(
        &app,
        "appadmin",
        "PATCH",
        &with_version(REPORTS),
        Some(json!({ "identity": { "type": "SystemAssigned" } })),
    )
    .await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.text);
    assert_eq!(on.json()["identity"]["type"], "SystemAssigned");
    let principal = on.json()["identity"]["principalId"]
        .as_str()
        .expect("principal")
        .to_owned();
    assert_eq!(
        on.json()["identity"]["tenantId"],
        crate::fixtures::TENANT_ID
    );

    let (status, _) = call(
        &app,
        "GET",
        &format!("/v1.0/servicePrincipals/{principal}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not replicated yet");
    advance(&app, 21_000).await;
    let (status, sp) = call(
        &app,
        "GET",
        &format!("/v1.0/servicePrincipals/{principal}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sp["servicePrincipalType"], "ManagedIdentity");
    assert_eq!(sp["displayName"], "contoso-reports");
    assert_eq!(
        sp["alternativeNames"],
        json!([
            "isExplicit=False",
            format!(
                "/subscriptions/{PROD_SUBSCRIPTION}/resourcegroups/automation-rg/providers/Microsoft.Automation/automationAccounts/contoso-reports"
            )
        ])
    );
    // PATCH again: the same identity.
    let again = arm(
        &app,
        "appadmin",
        "PATCH",
        &with_version(REPORTS),
        Some(json!({ "identity": { "type": "SystemAssigned" } })),
    )
    .await;
    assert_eq!(again.json()["identity"]["principalId"], principal.as_str());

    // A user-assigned identity needs Managed Identity Operator on it too.
    let ua = json!({ "identity": { "type": "SystemAssigned, UserAssigned",
        "userAssignedIdentities": { crate::arm_fixtures::UAMI_RESOURCE_ID: {} } } });
    let linked = arm(
        &app,
        "appadmin",
        "PATCH",
        &with_version(REPORTS),
        Some(ua.clone()),
    )
    .await;
    assert_eq!(linked.status, StatusCode::FORBIDDEN);
    assert_eq!(linked.json()["error"]["code"], "LinkedAuthorizationFailed");
    let owner = arm(&app, "admin", "PATCH", &with_version(REPORTS), Some(ua)).await;
    assert_eq!(
        owner.json()["identity"]["type"],
        "SystemAssigned, UserAssigned"
    );
    // The list is the set: an empty one with UserAssigned is refused; SystemAssigned alone
    // detaches the user-assigned identity and keeps the system one.
    let empty = arm(&app, "admin", "PATCH", &with_version(REPORTS),
        Some(json!({ "identity": { "type": "SystemAssigned, UserAssigned", "userAssignedIdentities": {} } }))).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST, "{}", empty.text);
    let system_only = arm(
        &app,
        "admin",
        "PATCH",
        &with_version(REPORTS),
        Some(json!({ "identity": { "type": "SystemAssigned" } })),
    )
    .await;
    assert_eq!(system_only.json()["identity"]["type"], "SystemAssigned");
    assert_eq!(
        system_only.json()["identity"]["principalId"],
        principal.as_str()
    );

    // Off deletes the principal.
    let off = arm(
        &app,
        "admin",
        "PATCH",
        &with_version(REPORTS),
        Some(json!({ "identity": { "type": "None" } })),
    )
    .await;
    assert_eq!(off.json()["identity"]["type"], "None");
    let (status, _) = call(
        &app,
        "GET",
        &format!("/v1.0/servicePrincipals/{principal}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let bad = arm(
        &app,
        "admin",
        "PATCH",
        &with_version(REPORTS),
        Some(json!({ "identity": { "type": "Both" } })),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

const GALLERY: &str =
    "https://www.powershellgallery.com/api/v2/package/ExchangeOnlineManagement/3.7.1";

fn module_body(uri: &str) -> Value {
    json!({ "properties": { "contentLink": { "uri": uri, "version": "3.7.1" } } })
}

#[tokio::test]
async fn module_imports_run_on_the_clock_and_fail_as_told() {
    let app = sim("default");
    let path = with_version(&format!(
        "{AUTOMATION}/powerShell72Modules/ExchangeOnlineManagement"
    ));
    let absent = arm(&app, "admin", "GET", &path, None).await;
    assert_eq!(absent.status, StatusCode::NOT_FOUND);
    let put = arm(&app, "appadmin", "PUT", &path, Some(module_body(GALLERY))).await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.text);
    assert_eq!(put.json()["properties"]["provisioningState"], "Creating");
    assert_eq!(
        put.json()["type"],
        "Microsoft.Automation/AutomationAccounts/PowerShell72Modules"
    );
    advance(&app, 3_100).await;
    let mid = arm(&app, "admin", "GET", &path, None).await;
    let stage = mid.json()["properties"]["provisioningState"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        !["Creating", "Succeeded", "Failed"].contains(&stage.as_str()),
        "{stage}"
    );
    advance(&app, 3_000).await;
    let done = arm(&app, "admin", "GET", &path, None).await;
    assert_eq!(done.json()["properties"]["provisioningState"], "Succeeded");
    assert_eq!(done.json()["properties"]["version"], "3.7.1");
    // The 5.1 collection is another one.
    let legacy = arm(
        &app,
        "admin",
        "GET",
        &with_version(&format!("{AUTOMATION}/modules/ExchangeOnlineManagement")),
        None,
    )
    .await;
    assert_eq!(legacy.status, StatusCode::NOT_FOUND);

    // Not a gallery package URL: refused at once.
    let page = arm(
        &app,
        "admin",
        "PUT",
        &path,
        Some(module_body(
            "https://www.powershellgallery.com/packages/ExchangeOnlineManagement/3.7.1",
        )),
    )
    .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let other = arm(
        &app,
        "admin",
        "PUT",
        &path,
        Some(module_body("https://example.com/eom.zip")),
    )
    .await;
    assert_eq!(other.status, StatusCode::BAD_REQUEST);
    // A version the gallery does not have: accepted, then Failed.
    let v51 = with_version(&format!("{AUTOMATION}/modules/ExchangeOnlineManagement"));
    let missing = arm(
        &app,
        "admin",
        "PUT",
        &v51,
        Some(module_body(&GALLERY.replace("3.7.1", "9.9.9"))),
    )
    .await;
    assert_eq!(missing.status, StatusCode::CREATED);
    advance(&app, 6_100).await;
    let failed = arm(&app, "admin", "GET", &v51, None).await;
    assert_eq!(failed.json()["properties"]["provisioningState"], "Failed");
    assert!(
        failed.json()["properties"]["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("(404) Not Found")
    );

    // The fault: PowerShellGet/PackageManagement missing on 5.1.
    let why = "Orchestrator.Shared.AsyncModuleImport.ModuleImportException: Cannot import the module of name ExchangeOnlineManagement, as the module structure was invalid. Its dependencies PowerShellGet and PackageManagement are missing.";
    faults(
        &app,
        json!({ "armModuleFailure": why, "armModuleImportSecs": 1 }),
    )
    .await;
    let again = arm(&app, "admin", "PUT", &v51, Some(module_body(GALLERY))).await;
    assert_eq!(again.status, StatusCode::OK);
    advance(&app, 1_100).await;
    let failed = arm(&app, "admin", "GET", &v51, None).await;
    assert_eq!(failed.json()["properties"]["provisioningState"], "Failed");
    assert_eq!(failed.json()["properties"]["error"]["message"], why);
    let s = state(&app).await;
    assert!(
        s["arm"]["accounts"][0]["modules"]
            .to_string()
            .contains("Failed")
    );
}

/// The starter script the page writes (managed identity).
fn mi_script(extra: &str) -> String {
    format!(
        "# Made by unattended.\n$ErrorActionPreference = 'Stop'\nConnect-ExchangeOnline -ManagedIdentity -Organization 'contoso.onmicrosoft.com'{extra} -ShowBanner:$false\nGet-EXOMailbox -ResultSize 5 | Select-Object DisplayName, PrimarySmtpAddress | Format-Table -AutoSize | Out-String\nDisconnect-ExchangeOnline -Confirm:$false\n"
    )
}

/// Imports the module (instant), creates, writes, publishes and runs the runbook; returns the
/// ended job and its output.
async fn run(
    app: &axum::Router,
    account: &str,
    runtime: &str,
    script: &str,
    import: bool,
) -> (Value, String) {
    faults(
        app,
        json!({ "armModuleImportSecs": 0, "armJobSecs": 1, "armPublishSecs": 1 }),
    )
    .await;
    let coll = if runtime == "PowerShell72" {
        "powerShell72Modules"
    } else {
        "modules"
    };
    if import {
        let m = arm(
            app,
            "admin",
            "PUT",
            &with_version(&format!("{account}/{coll}/ExchangeOnlineManagement")),
            Some(module_body(GALLERY)),
        )
        .await;
        assert!(m.status.is_success(), "{}", m.text);
    }
    let rb = with_version(&format!("{account}/runbooks/Connect-EXO"));
    let put = arm(app, "admin", "PUT", &rb, Some(json!({ "location": "westeurope", "properties": { "runbookType": runtime, "logProgress": false, "logVerbose": false } }))).await;
    assert!(put.status.is_success(), "{}", put.text);
    let draft = arm(
        app,
        "admin",
        "PUT",
        &with_version(&format!("{account}/runbooks/Connect-EXO/draft/content")),
        Some(Value::String(script.to_owned())),
    )
    .await;
    assert_eq!(draft.status, StatusCode::OK, "{}", draft.text);
    let publish = arm(
        app,
        "admin",
        "POST",
        &with_version(&format!("{account}/runbooks/Connect-EXO/publish")),
        None,
    )
    .await;
    assert_eq!(publish.status, StatusCode::ACCEPTED, "{}", publish.text);
    let location = publish.location();
    let path = location.trim_start_matches("http://127.0.0.1").to_owned();
    assert_eq!(
        arm(app, "admin", "GET", &path, None).await.status,
        StatusCode::ACCEPTED
    );
    advance(app, 1_100).await;
    assert_eq!(
        arm(app, "admin", "GET", &path, None).await.status,
        StatusCode::NO_CONTENT
    );
    let content = arm(
        app,
        "admin",
        "GET",
        &with_version(&format!("{account}/runbooks/Connect-EXO/content")),
        None,
    )
    .await;
    assert_eq!(content.text, script);
    let job = with_version(&format!("{account}/jobs/{}", crate::ids::guid()));
    let started = arm(app, "admin", "PUT", &job, Some(json!({ "properties": { "runbook": { "name": "Connect-EXO" }, "parameters": {}, "runOn": "" } }))).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text);
    assert_eq!(started.json()["properties"]["status"], "New");
    advance(app, 600).await;
    let running = arm(app, "admin", "GET", &job, None).await;
    assert_eq!(running.json()["properties"]["status"], "Running");
    advance(app, 600).await;
    let ended = arm(app, "admin", "GET", &job, None).await.json();
    let output = arm(app, "admin", "GET", &job.replace("?", "/output?"), None)
        .await
        .text;
    (ended, output)
}

async fn grant_exchange(app: &axum::Router, principal: &str, role: Option<&str>) {
    let (_, exo) = call(
        app,
        "GET",
        &format!("/v1.0/servicePrincipals(appId='{EXCHANGE_APP_ID}')"),
        None,
    )
    .await;
    let exo = exo["id"].as_str().expect("exo").to_owned();
    let (status, body) = call(
        app,
        "POST",
        &format!("/v1.0/servicePrincipals/{exo}/appRoleAssignedTo"),
        Some(json!({ "principalId": principal, "resourceId": exo, "appRoleId": MANAGE_AS_APP })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    if let Some(role) = role {
        let (status, body) = call(app, "POST", "/v1.0/roleManagement/directory/roleAssignments",
            Some(json!({ "principalId": principal, "roleDefinitionId": role, "directoryScopeId": "/" }))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
}

#[tokio::test]
async fn a_published_runbook_connects_as_the_managed_identity_once_granted() {
    let app = sim("default");
    grant_exchange(&app, MI_OBJECT_ID, Some(roles::EXCHANGE_ADMIN)).await;
    let (job, output) = run(&app, AUTOMATION, "PowerShell72", &mi_script(""), true).await;
    assert_eq!(job["properties"]["status"], "Completed", "{job}");
    assert_eq!(job["properties"]["exception"], Value::Null);
    assert!(output.starts_with("Connected to Exchange Online as contoso-automation (system-assigned managed identity, client id a1b2c3d4-0000-4000-8000-00000000c001) (roles: Exchange Administrator)"), "{output}");
    assert!(
        output.contains("DisplayName") && output.contains("admin@contoso.onmicrosoft.com"),
        "{output}"
    );
    let streams = arm(
        &app,
        "admin",
        "GET",
        &with_version(&format!(
            "{AUTOMATION}/jobs/{}/streams",
            job["name"].as_str().unwrap_or_default()
        )),
        None,
    )
    .await;
    assert_eq!(
        streams.json()["value"][0]["properties"]["streamType"],
        "Output"
    );
    let s = state(&app).await;
    assert!(
        s["arm"]["accounts"][0]["jobs"][0]["output"]
            .as_str()
            .unwrap_or_default()
            .contains("Connected")
    );
    assert_eq!(s["arm"]["accounts"][0]["runbooks"][0]["state"], "Published");
}

#[tokio::test]
async fn jobs_fail_as_exchange_online_would() {
    // No module for the runtime.
    let app = sim("default");
    let (job, _) = run(&app, AUTOMATION, "PowerShell72", &mi_script(""), false).await;
    assert_eq!(job["properties"]["status"], "Failed");
    assert!(
        job["properties"]["exception"]
            .as_str()
            .unwrap_or_default()
            .starts_with("The term 'Connect-ExchangeOnline' is not recognized"),
        "{job}"
    );

    // The module for 5.1 only, runbook on 7.2.
    let app = sim("default");
    grant_exchange(&app, MI_OBJECT_ID, Some(roles::EXCHANGE_ADMIN)).await;
    faults(&app, json!({ "armModuleImportSecs": 0 })).await;
    arm(
        &app,
        "admin",
        "PUT",
        &with_version(&format!("{AUTOMATION}/modules/ExchangeOnlineManagement")),
        Some(module_body(GALLERY)),
    )
    .await;
    let (job, _) = run(&app, AUTOMATION, "PowerShell72", &mi_script(""), false).await;
    assert_eq!(job["properties"]["status"], "Failed");
    // …on 5.1 it connects.
    let (job, output) = run(&app, AUTOMATION, "PowerShell", &mi_script(""), false).await;
    assert_eq!(job["properties"]["status"], "Completed", "{job}");
    assert!(output.contains("Connected"));

    // Not granted.
    let app = sim("default");
    let (job, _) = run(&app, AUTOMATION, "PowerShell72", &mi_script(""), true).await;
    assert!(
        job["properties"]["exception"]
            .as_str()
            .unwrap_or_default()
            .starts_with("UnAuthorized"),
        "{job}"
    );

    // Granted, no Entra role.
    let app = sim("default");
    grant_exchange(&app, MI_OBJECT_ID, None).await;
    let (job, _) = run(&app, AUTOMATION, "PowerShell72", &mi_script(""), true).await;
    assert_eq!(
        job["properties"]["exception"],
        format!(
            "The role assigned to application {MI_CLIENT_ID} isn't supported in this scenario. Please check online documentation for assigning correct Directory Roles to Azure AD Application for EXO App-Only Authentication."
        )
    );

    // A vanity domain as -Organization.
    let app = sim("default");
    grant_exchange(&app, MI_OBJECT_ID, Some(roles::EXCHANGE_ADMIN)).await;
    let script = mi_script("").replace("contoso.onmicrosoft.com", "contoso.com");
    let (job, _) = run(&app, AUTOMATION, "PowerShell72", &script, true).await;
    assert!(
        job["properties"]["exception"]
            .as_str()
            .unwrap_or_default()
            .contains("not the tenant's initial domain"),
        "{job}"
    );

    // The user-assigned identity named by its object id instead of its client id.
    let (job, _) = run(
        &app,
        AUTOMATION,
        "PowerShell72",
        &mi_script(&format!(" -ManagedIdentityAccountId '{UAMI_OBJECT_ID}'")),
        true,
    )
    .await;
    assert!(
        job["properties"]["exception"]
            .as_str()
            .unwrap_or_default()
            .contains("takes its client id"),
        "{job}"
    );
    // …by client id, without grants: UnAuthorized.
    let (job, _) = run(
        &app,
        AUTOMATION,
        "PowerShell72",
        &mi_script(&format!(" -ManagedIdentityAccountId '{UAMI_CLIENT_ID}'")),
        true,
    )
    .await;
    assert!(
        job["properties"]["exception"]
            .as_str()
            .unwrap_or_default()
            .starts_with("UnAuthorized"),
        "{job}"
    );

    // An account whose identity is off.
    let (job, _) = run(&app, REPORTS, "PowerShell72", &mi_script(""), true).await;
    assert!(
        job["properties"]["exception"]
            .as_str()
            .unwrap_or_default()
            .contains("Identity not found"),
        "{job}"
    );
}

#[tokio::test]
async fn an_identity_turned_on_works_once_replicated_and_granted() {
    let app = sim("default");
    faults(&app, json!({ "replicationLagSecs": 30 })).await;
    let on = arm(
        &app,
        "admin",
        "PATCH",
        &with_version(REPORTS),
        Some(json!({ "identity": { "type": "SystemAssigned" } })),
    )
    .await;
    let principal = on.json()["identity"]["principalId"]
        .as_str()
        .expect("principal")
        .to_owned();
    advance(&app, 31_000).await;
    grant_exchange(&app, &principal, Some(roles::EXCHANGE_RECIPIENT_ADMIN)).await;
    let (job, output) = run(&app, REPORTS, "PowerShell72", &mi_script(""), true).await;
    assert_eq!(job["properties"]["status"], "Completed", "{job}");
    assert!(
        output.contains("roles: Exchange Recipient Administrator"),
        "{output}"
    );
}

fn pfx(password: &str, days: u32) -> (forge::Credential, String) {
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let key = forge::generate_key(KeySize::Rsa2048, &mut rng).expect("key");
    let request = forge::Request {
        key_size: KeySize::Rsa2048,
        subject: "exo-app".into(),
        validity_days: days,
        flavour: Flavour::WindowsCompatible,
        password: Password::new(password).expect("pw"),
    };
    let now = UnixTime(u64::try_from(crate::ids::now()).expect("now"));
    let made = forge::forge_with_key(&key, &request, now, &mut rng).expect("forge");
    let b64 = STANDARD.encode(made.pfx.expose());
    (made, b64)
}

#[tokio::test]
async fn certificate_assets_open_the_pfx_and_let_a_runbook_connect_as_the_app() {
    let app = sim("default");
    let (made, b64) = pfx("Correct-Horse-9", 200);
    let thumbprint = made.certificate.thumbprints().sha1_hex.clone();
    let path = with_version(&format!("{AUTOMATION}/certificates/EXO-App"));
    let body = |pw: &str| json!({ "name": "EXO-App", "properties": { "base64Value": b64, "password": pw, "isExportable": false } });

    let wrong = arm(&app, "appadmin", "PUT", &path, Some(body("nope"))).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{}", wrong.text);
    let junk = arm(&app, "appadmin", "PUT", &path, Some(json!({ "properties": { "base64Value": STANDARD.encode(b"not a pfx"), "password": "x" } }))).await;
    assert_eq!(
        junk.json()["error"]["message"],
        "Certificate base64Value is invalid."
    );
    let reader = arm(&app, "user", "PUT", &path, Some(body("Correct-Horse-9"))).await;
    assert_eq!(reader.status, StatusCode::FORBIDDEN);

    let ok = arm(
        &app,
        "appadmin",
        "PUT",
        &path,
        Some(body("Correct-Horse-9")),
    )
    .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
    assert_eq!(ok.json()["properties"]["thumbprint"], thumbprint.as_str());
    assert_eq!(ok.json()["properties"]["isExportable"], false);
    assert!(ok.json()["properties"].get("base64Value").is_none());

    // Register the certificate on an app: the asset learns its expiry on the next upload.
    let (app_id, sp, _) = super::identity_tests::register(&app, &made.certificate).await;
    let again = arm(
        &app,
        "appadmin",
        "PUT",
        &path,
        Some(body("Correct-Horse-9")),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK);
    let expiry = again.json()["properties"]["expiryTime"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        expiry.ends_with("+00:00")
            && expiry[..10] == made.certificate.not_after().rfc3339().unwrap_or_default()[..10],
        "{expiry}"
    );
    let s = state(&app).await;
    let text = s["arm"].to_string();
    assert!(
        text.contains(&thumbprint)
            && !text.contains(&b64[..40])
            && !text.contains("Correct-Horse-9")
    );

    let script = format!(
        "$cert = Get-AutomationCertificate -Name 'EXO-App'\nConnect-ExchangeOnline -AppId '{app_id}' -Organization 'contoso.onmicrosoft.com' -Certificate $cert -ShowBanner:$false\nGet-EXOMailbox -ResultSize 2\n"
    );
    // Before the grant: UnAuthorized.
    let (job, _) = run(&app, AUTOMATION, "PowerShell72", &script, true).await;
    assert!(
        job["properties"]["exception"]
            .as_str()
            .unwrap_or_default()
            .starts_with("UnAuthorized"),
        "{job}"
    );
    grant_exchange(&app, &sp, Some(roles::EXCHANGE_ADMIN)).await;
    let (job, output) = run(&app, AUTOMATION, "PowerShell72", &script, true).await;
    assert_eq!(job["properties"]["status"], "Completed", "{job}");
    assert!(
        output.starts_with(&format!(
            "Connected to Exchange Online as exo (app id {app_id}) (roles: Exchange Administrator)"
        )),
        "{output}"
    );
    assert_eq!(output.lines().count(), 1 + 2 + 2, "{output}");
    // The thumbprint form (Automation puts assets in the sandbox's store).
    let by_tp = script
        .replace("$cert = Get-AutomationCertificate -Name 'EXO-App'\n", "")
        .replace(
            "-Certificate $cert",
            &format!("-CertificateThumbprint {thumbprint}"),
        );
    let (job, _) = run(&app, AUTOMATION, "PowerShell72", &by_tp, true).await;
    assert_eq!(job["properties"]["status"], "Completed", "{job}");
    // A missing asset.
    let (job, _) = run(
        &app,
        AUTOMATION,
        "PowerShell72",
        &script.replace("'EXO-App'", "'Other'"),
        true,
    )
    .await;
    assert!(
        job["properties"]["exception"]
            .as_str()
            .unwrap_or_default()
            .contains("'Other' was not found"),
        "{job}"
    );
    // Another certificate than the app's.
    let (_, other) = pfx("x-Other-1", 30);
    arm(
        &app,
        "admin",
        "PUT",
        &path,
        Some(json!({ "properties": { "base64Value": other, "password": "x-Other-1" } })),
    )
    .await;
    let (job, _) = run(&app, AUTOMATION, "PowerShell72", &script, true).await;
    assert!(
        job["properties"]["exception"]
            .as_str()
            .unwrap_or_default()
            .starts_with("AADSTS700027"),
        "{job}"
    );
}

#[tokio::test]
async fn jobs_and_runbooks_refuse_what_arm_refuses() {
    let app = sim("default");
    let rb = with_version(&format!("{AUTOMATION}/runbooks/Connect-EXO"));
    let no_type = arm(&app, "admin", "PUT", &rb, Some(json!({ "properties": {} }))).await;
    assert_eq!(no_type.status, StatusCode::BAD_REQUEST);
    let created = arm(
        &app,
        "admin",
        "PUT",
        &rb,
        Some(json!({ "properties": { "runbookType": "PowerShell72" } })),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.json()["properties"]["state"], "New");
    let again = arm(
        &app,
        "admin",
        "PUT",
        &rb,
        Some(json!({ "properties": { "runbookType": "PowerShell72" } })),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK);
    let content = arm(
        &app,
        "admin",
        "GET",
        &with_version(&format!("{AUTOMATION}/runbooks/Connect-EXO/content")),
        None,
    )
    .await;
    assert_eq!(content.status, StatusCode::NOT_FOUND);
    let nothing = arm(
        &app,
        "admin",
        "POST",
        &with_version(&format!("{AUTOMATION}/runbooks/Connect-EXO/publish")),
        None,
    )
    .await;
    assert_eq!(nothing.status, StatusCode::BAD_REQUEST);
    let json_draft = arm(
        &app,
        "admin",
        "PUT",
        &with_version(&format!("{AUTOMATION}/runbooks/Connect-EXO/draft/content")),
        Some(json!({"x": 1})),
    )
    .await;
    assert_eq!(json_draft.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let job = with_version(&format!("{AUTOMATION}/jobs/{}", crate::ids::guid()));
    let unpublished = arm(
        &app,
        "admin",
        "PUT",
        &job,
        Some(json!({ "properties": { "runbook": { "name": "Connect-EXO" } } })),
    )
    .await;
    assert_eq!(unpublished.status, StatusCode::BAD_REQUEST);
    let hybrid = arm(
        &app,
        "admin",
        "PUT",
        &job,
        Some(json!({ "properties": { "runbook": { "name": "Connect-EXO" }, "runOn": "workers" } })),
    )
    .await;
    assert_eq!(hybrid.status, StatusCode::BAD_REQUEST);
    // The 2015-10-31 path publishes too; the same job PUT twice is one job.
    arm(
        &app,
        "admin",
        "PUT",
        &with_version(&format!("{AUTOMATION}/runbooks/Connect-EXO/draft/content")),
        Some(Value::String("Write-Output 'hello'".into())),
    )
    .await;
    let old = arm(
        &app,
        "admin",
        "POST",
        &with_version(&format!("{AUTOMATION}/runbooks/Connect-EXO/draft/publish")),
        None,
    )
    .await;
    assert_eq!(old.status, StatusCode::ACCEPTED);
    advance(&app, 2_100).await;
    let start = json!({ "properties": { "runbook": { "name": "Connect-EXO" } } });
    let first = arm(&app, "admin", "PUT", &job, Some(start.clone())).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let second = arm(&app, "admin", "PUT", &job, Some(start)).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(
        second.json()["properties"]["jobId"],
        first.json()["properties"]["jobId"]
    );
    advance(&app, 6_100).await;
    // `/_sim/state` sees the job end without any ARM request in between.
    let s = state(&app).await;
    assert_eq!(s["arm"]["accounts"][0]["jobs"][0]["status"], "Completed");
    assert_eq!(s["arm"]["accounts"][0]["jobs"][0]["output"], "hello\n");
    let out = arm(&app, "admin", "GET", &job.replace("?", "/output?"), None).await;
    assert_eq!(out.text, "hello\n");
    assert!(
        out.headers["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/plain")
    );
    let operator = arm(&app, "pra", "GET", &job, None).await;
    assert_eq!(operator.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn arm_throttles_fails_and_drops_on_demand() {
    let app = sim("default");
    faults(
        &app,
        json!({ "armThrottleEvery": 2, "armRetryAfterSecs": 3 }),
    )
    .await;
    let token = arm_token(&app, "admin", json!({})).await;
    let list = "/arm/subscriptions?api-version=2022-12-01";
    assert_eq!(
        send(&app, Some(&token), "GET", list, None).await.status,
        StatusCode::OK
    );
    let throttled = send(&app, Some(&token), "GET", list, None).await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.headers["retry-after"], "3");
    assert_eq!(
        throttled.json()["error"]["code"],
        "SubscriptionRequestsThrottled"
    );

    faults(&app, json!({ "armWriteFaults": [{ "method": "PUT", "pathContains": "/runbooks/", "nth": 1, "kind": "500" }] })).await;
    let rb = with_version(&format!("{AUTOMATION}/runbooks/Connect-EXO"));
    let failed = send(
        &app,
        Some(&token),
        "PUT",
        &rb,
        Some(json!({ "properties": { "runbookType": "PowerShell72" } })),
    )
    .await;
    assert_eq!(failed.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(failed.json()["error"]["code"], "InternalServerError");
    // The write happened.
    assert_eq!(
        send(&app, Some(&token), "GET", &rb, None).await.status,
        StatusCode::OK
    );

    faults(&app, json!({ "armWriteFaults": [{ "method": "PATCH", "pathContains": "contoso-reports", "nth": 1, "kind": "503" }] })).await;
    let refused = send(
        &app,
        Some(&token),
        "PATCH",
        &with_version(REPORTS),
        Some(json!({ "identity": { "type": "SystemAssigned" } })),
    )
    .await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers.contains_key("retry-after"));
    let after = send(&app, Some(&token), "GET", &with_version(REPORTS), None).await;
    assert_eq!(
        after.json()["identity"]["type"],
        "None",
        "refused before the write"
    );
    let (_, f) = call(&app, "GET", "/_sim/faults", None).await;
    assert_eq!(f["armWriteFaults"][0]["fired"], true);
}

#[tokio::test]
async fn browsers_may_call_arm_and_read_its_headers() {
    let app = sim("default");
    let preflight = raw(
        &app,
        Request::builder()
            .method("OPTIONS")
            .uri("/arm/subscriptions?api-version=2022-12-01")
            .header("origin", ORIGIN)
            .header("access-control-request-method", "PUT")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(preflight.status, StatusCode::NO_CONTENT);
    assert_eq!(preflight.headers["access-control-allow-origin"], ORIGIN);
    assert!(
        preflight.headers["access-control-allow-methods"]
            .to_str()
            .unwrap_or_default()
            .contains("PATCH")
    );
    let token = arm_token(&app, "admin", json!({})).await;
    let answer = raw(
        &app,
        Request::builder()
            .uri("/arm/subscriptions?api-version=2022-12-01")
            .header("origin", ORIGIN)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    let exposed = answer.headers["access-control-expose-headers"]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    for h in ["Location", "Azure-AsyncOperation", "Retry-After"] {
        assert!(exposed.contains(h), "{exposed}");
    }
    // Errors are readable too.
    let denied = raw(
        &app,
        Request::builder()
            .uri("/arm/subscriptions?api-version=2022-12-01")
            .header("origin", ORIGIN)
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
    assert_eq!(denied.headers["access-control-allow-origin"], ORIGIN);
}

#[tokio::test]
async fn reset_rebuilds_arm_and_clouds_have_their_own_arm() {
    let app = sim("default");
    arm(
        &app,
        "admin",
        "PATCH",
        &with_version(REPORTS),
        Some(json!({ "identity": { "type": "SystemAssigned" } })),
    )
    .await;
    let (status, _) = call(
        &app,
        "POST",
        "/_sim/reset",
        Some(json!({ "armModuleFailure": "boom" })),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let reports = arm(&app, "admin", "GET", &with_version(REPORTS), None).await;
    assert_eq!(reports.json()["identity"]["type"], "None");
    let (_, f) = call(&app, "GET", "/_sim/faults", None).await;
    assert_eq!(f["armModuleFailure"], "boom");
    let s = state(&app).await;
    assert_eq!(s["arm"]["subscriptions"].as_array().map(Vec::len), Some(2));
    assert!(
        s["arm"]["roleAssignments"]
            .to_string()
            .contains("Automation Contributor")
    );
    assert_eq!(s["cloud"]["arm"], "https://management.azure.com");

    let (status, _) = call(
        &app,
        "POST",
        "/_sim/reset",
        Some(json!({ "cloud": "gcchigh" })),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let gov = arm_token(&app, "admin", json!({})).await;
    assert_eq!(
        super::signin_tests::claims(&gov)["aud"],
        "https://management.usgovcloudapi.net"
    );
    let ok = send(
        &app,
        Some(&gov),
        "GET",
        "/arm/subscriptions?api-version=2022-12-01",
        None,
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);
    let worldwide = arm_token(
        &app,
        "admin",
        json!({ "audience": "https://management.azure.com" }),
    )
    .await;
    let refused = send(
        &app,
        Some(&worldwide),
        "GET",
        "/arm/subscriptions?api-version=2022-12-01",
        None,
    )
    .await;
    assert_eq!(
        refused.json()["error"]["code"],
        "InvalidAuthenticationTokenAudience"
    );
    // A job in GCC High needs the environment name.
    grant_exchange(&app, MI_OBJECT_ID, Some(roles::EXCHANGE_ADMIN)).await;
    let (job, _) = run(&app, AUTOMATION, "PowerShell72", &mi_script(""), true).await;
    assert!(
        job["properties"]["exception"]
            .as_str()
            .unwrap_or_default()
            .starts_with("AADSTS500011"),
        "{job}"
    );
    let (job, _) = run(
        &app,
        AUTOMATION,
        "PowerShell72",
        &mi_script(" -ExchangeEnvironmentName O365USGovGCCHigh"),
        true,
    )
    .await;
    assert_eq!(job["properties"]["status"], "Completed", "{job}");
}

#[tokio::test]
async fn other_tenants_have_no_subscriptions_and_cannot_reach_contosos() {
    let app = sim("consultant");
    let fab = arm_token(
        &app,
        "admin@fabrikam.onmicrosoft.com",
        json!({ "tenant": "fabrikam.onmicrosoft.com" }),
    )
    .await;
    let subs = send(
        &app,
        Some(&fab),
        "GET",
        "/arm/subscriptions?api-version=2022-12-01",
        None,
    )
    .await;
    assert_eq!(subs.json()["value"], json!([]));
    let cross = send(&app, Some(&fab), "GET", &with_version(AUTOMATION), None).await;
    assert_eq!(cross.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        cross.json()["error"]["code"],
        "InvalidAuthenticationTokenTenant"
    );
}

#[tokio::test]
async fn a_delegated_grant_of_user_impersonation_is_arm_consent() {
    let app = sim("default");
    let (_, asm) = call(
        &app,
        "GET",
        &format!("/v1.0/servicePrincipals(appId='{ASM_APP_ID}')"),
        None,
    )
    .await;
    let (_, spa) = call(
        &app,
        "GET",
        &format!("/v1.0/servicePrincipals(appId='{SPA_CLIENT_ID}')"),
        None,
    )
    .await;
    let admin = token_for(
        &app,
        "admin",
        Some(&["DelegatedPermissionGrant.ReadWrite.All"]),
    )
    .await;
    let auth = format!("Bearer {admin}");
    let (status, body) = super::tests::call_with(
        &app,
        "POST",
        "/v1.0/oauth2PermissionGrants",
        Some(json!({ "clientId": spa["id"], "consentType": "AllPrincipals", "resourceId": asm["id"], "scope": "user_impersonation" })),
        &[("authorization", auth.as_str())],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Signed in for Graph only, the refresh token now reaches ARM.
    let scope = format!("{SCOPE} offline_access");
    let back = sign_in(&app, "pra", &[("scope", &scope)], "accept").await;
    let code = back.redirect_params()["code"].clone();
    let first = post_form(
        &app,
        "/organizations/oauth2/v2.0/token",
        &redeem_form(&code, VERIFIER),
        Some(ORIGIN),
    )
    .await;
    let rt = first.json()["refresh_token"]
        .as_str()
        .expect("rt")
        .to_owned();
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", SPA_CLIENT_ID),
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
            (
                "scope",
                "https://management.azure.com/.default offline_access",
            ),
        ])
        .finish();
    let ok = post_form(
        &app,
        "/organizations/oauth2/v2.0/token",
        &form,
        Some(ORIGIN),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let token = ok.json()["access_token"].as_str().expect("at").to_owned();
    // pra holds no Azure role: signed in, but nothing to see.
    let subs = send(
        &app,
        Some(&token),
        "GET",
        "/arm/subscriptions?api-version=2022-12-01",
        None,
    )
    .await;
    assert_eq!(subs.json()["value"], json!([]));
}
