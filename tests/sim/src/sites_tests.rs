//! SharePoint sites over Graph: lookup by path and id, per-app permissions (grant, list, update,
//! remove) and who may do that.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::identity_tests::{access_claims, assertion, claims, credential, register, token};
use super::tests::{call, call_with, sim, token_for};
use crate::access::GRAPH_APP_ID;
use crate::fixtures::{MI_CLIENT_ID, SPA_CLIENT_ID, TENANT_ID};
use crate::resources::{GRAPH_SITES_FULL_CONTROL, GRAPH_SITES_SELECTED, SHAREPOINT_APP_ID};
use crate::tenant::roles;

const FINANCE: &str = "/v1.0/sites/contoso.sharepoint.com:/sites/Finance";

/// A call with a bearer token.
async fn with(
    app: &axum::Router,
    token: &str,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let auth = format!("Bearer {token}");
    call_with(app, method, uri, body, &[("authorization", auth.as_str())]).await
}

/// A delegated Graph token for `user` holding Sites.FullControl.All.
async fn site_admin(app: &axum::Router, user: &str) -> String {
    token_for(app, user, Some(&["Sites.FullControl.All", "User.Read"])).await
}

fn grant_body(app_id: &str, roles: &[&str]) -> Value {
    json!({ "roles": roles, "grantedToIdentities": [{ "application": { "id": app_id, "displayName": "the app" } }] })
}

/// An app with a certificate whose Graph token carries the given Graph application roles.
async fn app_token(app: &axum::Router, graph_roles: &[&str]) -> (String, String) {
    let (key, cert) = credential(None, 30);
    let (client, sp, _) = register(app, &cert).await;
    let (_, graph) = call(
        app,
        "GET",
        &format!("/v1.0/servicePrincipals?$filter=appId eq '{GRAPH_APP_ID}'"),
        None,
    )
    .await;
    let graph = graph["value"][0]["id"].as_str().expect("graph").to_owned();
    for role in graph_roles {
        let (status, body) = call(
            app,
            "POST",
            &format!("/v1.0/servicePrincipals/{graph}/appRoleAssignedTo"),
            Some(json!({ "principalId": sp, "resourceId": graph, "appRoleId": role })),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = token(
        app,
        &client,
        &assertion(&key, &cert, true, claims(&client)),
        "https://graph.microsoft.com/.default",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(access_claims(&body)["idtyp"], "app");
    (
        body["access_token"].as_str().expect("token").to_owned(),
        client,
    )
}

#[tokio::test]
async fn sites_are_found_by_path_and_id() {
    let app = sim("default");
    let admin = site_admin(&app, "admin").await;
    let (status, finance) = with(
        &app,
        &admin,
        "GET",
        &format!("{FINANCE}?$select=id,webUrl,displayName"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{finance}");
    assert_eq!(
        finance["webUrl"],
        "https://contoso.sharepoint.com/sites/Finance"
    );
    assert_eq!(finance["displayName"], "Finance");
    assert!(finance.get("name").is_none(), "$select applies");
    let id = finance["id"].as_str().expect("id").to_owned();
    let parts: Vec<&str> = id.split(',').collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[0], "contoso.sharepoint.com");

    // The same id after a reset, by id (commas encoded or not), case-insensitive paths.
    call(&app, "POST", "/_sim/reset", Some(json!({}))).await;
    let admin = site_admin(&app, "admin").await;
    for uri in [
        format!("/v1.0/sites/{id}"),
        format!("/v1.0/sites/{}", id.replace(',', "%2C")),
        "/v1.0/sites/contoso.sharepoint.com:/sites/finance:".to_owned(),
    ] {
        let (status, site) = with(&app, &admin, "GET", &uri, None).await;
        assert_eq!(
            (status, site["id"].as_str()),
            (StatusCode::OK, Some(id.as_str())),
            "{uri}"
        );
        assert_eq!(site["name"], "Finance");
    }
    let (status, root) = with(
        &app,
        &admin,
        "GET",
        "/v1.0/sites/contoso.sharepoint.com",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(root["webUrl"], "https://contoso.sharepoint.com");
    assert_eq!(root["root"], json!({}));
    let (status, hr) = with(
        &app,
        &admin,
        "GET",
        "/v1.0/sites/contoso.sharepoint.com:/sites/HR",
        None,
    )
    .await;
    assert_eq!(
        (status, hr["displayName"].as_str()),
        (StatusCode::OK, Some("HR"))
    );

    for uri in [
        "/v1.0/sites/contoso.sharepoint.com:/sites/Nope",
        "/v1.0/sites/fabrikam.sharepoint.com:/sites/Finance",
        "/v1.0/sites/contoso.sharepoint.com,0,0",
    ] {
        let (status, body) = with(&app, &admin, "GET", uri, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(body["error"]["code"], "itemNotFound");
    }
    // Without a Sites scope the site is not readable.
    let (status, body) = call(&app, "GET", FINANCE, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "accessDenied");
}

#[tokio::test]
async fn an_admin_grants_an_app_a_site_and_changes_it() {
    let app = sim("default");
    let admin = site_admin(&app, "admin").await;
    let site = with(&app, &admin, "GET", FINANCE, None).await.1["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let perms = format!("/v1.0/sites/{site}/permissions");

    let (status, granted) = with(
        &app,
        &admin,
        "POST",
        &perms,
        Some(grant_body(SPA_CLIENT_ID, &["write"])),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{granted}");
    assert_eq!(granted["roles"], json!(["write"]));
    assert_eq!(
        granted["grantedToIdentities"][0]["application"]["id"],
        SPA_CLIENT_ID
    );
    assert_eq!(
        granted["grantedToIdentitiesV2"][0]["application"]["displayName"],
        "the app"
    );
    let id = granted["id"].as_str().expect("id").to_owned();
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&id)
        .expect("base64");
    assert_eq!(
        String::from_utf8(decoded).expect("utf8"),
        format!("i:0i.t|ms.sp.ext|{SPA_CLIENT_ID}@{TENANT_ID}")
    );

    // A second grant for the same app replaces its roles (one entry, same id).
    let (status, again) = with(
        &app,
        &admin,
        "POST",
        &perms,
        Some(grant_body(SPA_CLIENT_ID, &["read"])),
    )
    .await;
    assert_eq!(
        (status, again["id"].as_str()),
        (StatusCode::CREATED, Some(id.as_str()))
    );
    let (_, list) = with(&app, &admin, "GET", &perms, None).await;
    assert_eq!(list["value"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["value"][0]["roles"], json!(["read"]));

    // Another app, then paging.
    let (status, _) = with(
        &app,
        &admin,
        "POST",
        &perms,
        Some(grant_body(MI_CLIENT_ID, &["fullcontrol"])),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, page) = with(&app, &admin, "GET", &format!("{perms}?$top=1"), None).await;
    assert_eq!(page["value"].as_array().map(Vec::len), Some(1));
    let next = page["@odata.nextLink"].as_str().expect("nextLink");
    let next = next
        .split_once("/v1.0/")
        .map(|(_, p)| format!("/v1.0/{p}"))
        .expect("path");
    let (_, page2) = with(&app, &admin, "GET", &next, None).await;
    assert_eq!(
        page2["value"][0]["grantedToIdentities"][0]["application"]["id"],
        MI_CLIENT_ID
    );

    // PATCH roles, GET one, DELETE, then gone.
    let one = format!("{perms}/{id}");
    let (status, patched) = with(
        &app,
        &admin,
        "PATCH",
        &one,
        Some(json!({"roles": ["manage"]})),
    )
    .await;
    assert_eq!(
        (status, &patched["roles"]),
        (StatusCode::OK, &json!(["manage"]))
    );
    assert_eq!(
        with(&app, &admin, "GET", &one, None).await.1["roles"],
        json!(["manage"])
    );
    let (status, _) = with(
        &app,
        &admin,
        "PATCH",
        &one,
        Some(json!({"roles": ["owner"]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        with(&app, &admin, "DELETE", &one, None).await.0,
        StatusCode::NO_CONTENT
    );
    let (status, body) = with(&app, &admin, "GET", &one, None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("itemNotFound"))
    );
    assert_eq!(
        with(&app, &admin, "DELETE", &one, None).await.0,
        StatusCode::NOT_FOUND
    );

    // `/_sim/state` shows the site's permissions.
    let (_, state) = call(&app, "GET", "/_sim/state", None).await;
    let finance = state["sites"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == site.as_str()))
        .expect("finance");
    assert_eq!(finance["permissions"][0]["appId"], MI_CLIENT_ID);
    assert_eq!(finance["permissions"][0]["roles"], json!(["fullcontrol"]));
    assert_eq!(
        finance["webUrl"],
        "https://contoso.sharepoint.com/sites/Finance"
    );
}

#[tokio::test]
async fn grants_are_checked_and_refused_like_graph() {
    let app = sim("default");
    let admin = site_admin(&app, "admin").await;
    let perms = format!("{FINANCE}:/permissions");
    for (body, what) in [
        (grant_body(SPA_CLIENT_ID, &["owner"]), "unknown role"),
        (grant_body(SPA_CLIENT_ID, &[]), "no role"),
        (
            grant_body("11111111-2222-4333-8444-555555555555", &["read"]),
            "app without a service principal",
        ),
        (json!({"roles": ["read"]}), "nobody"),
    ] {
        let (status, answer) = with(&app, &admin, "POST", &perms, Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {answer}");
        assert_eq!(answer["error"]["code"], "invalidRequest");
    }
    let (status, _) = with(
        &app,
        &admin,
        "POST",
        "/v1.0/sites/contoso.sharepoint.com:/sites/Nope:/permissions",
        Some(grant_body(SPA_CLIENT_ID, &["read"])),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Delegated: the scope and an administrator role, both.
    let no_role = site_admin(&app, "appadmin").await;
    let no_scope = token_for(&app, "admin", None).await;
    for token in [&no_role, &no_scope] {
        for (method, body) in [
            ("POST", Some(grant_body(SPA_CLIENT_ID, &["read"]))),
            ("GET", None),
        ] {
            let (status, answer) = with(&app, token, method, &perms, body).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method}: {answer}");
            assert_eq!(answer["error"]["code"], "accessDenied");
        }
    }
    // A SharePoint Administrator (without Global Administrator) may.
    let shared = crate::state(
        "default",
        &["http://127.0.0.1:8080/".into()],
        false,
        Default::default(),
    )
    .expect("state");
    {
        let mut sim = crate::graph::lock(&shared);
        let mut sp_admin =
            crate::fixtures::user("spadmin", "Sam SharePoint", &[roles::SHAREPOINT_ADMIN]);
        sp_admin.id = "5a5a5a5a-0000-4000-8000-000000000001".into();
        sim.tenant.users.push(sp_admin);
    }
    let app = crate::graph::router(shared);
    let token = site_admin(&app, "spadmin").await;
    let (status, body) = with(
        &app,
        &token,
        "POST",
        &perms,
        Some(grant_body(SPA_CLIENT_ID, &["read"])),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // No token at all: 401.
    let (status, _) = call_with(&app, "GET", &perms, None, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn apps_need_graphs_full_control_and_selected_sites_see_only_theirs() {
    let app = sim("default");
    let (full, _) = app_token(&app, &[GRAPH_SITES_FULL_CONTROL]).await;
    let (selected, selected_app) = app_token(&app, &[GRAPH_SITES_SELECTED]).await;
    let (nothing, _) = app_token(&app, &[]).await;
    let perms = format!("{FINANCE}:/permissions");

    // Only Graph's Sites.FullControl.All manages permissions.
    for token in [&selected, &nothing] {
        let (status, body) = with(
            &app,
            token,
            "POST",
            &perms,
            Some(grant_body(&selected_app, &["read"])),
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::FORBIDDEN, Some("accessDenied"))
        );
    }
    // Sites.Selected reads no site until it is granted one.
    assert_eq!(
        with(&app, &selected, "GET", FINANCE, None).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, body) = with(
        &app,
        &full,
        "POST",
        &perms,
        Some(grant_body(&selected_app, &["read"])),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        with(&app, &full, "GET", &perms, None).await.1["value"][0]["roles"],
        json!(["read"])
    );
    assert_eq!(
        with(&app, &selected, "GET", FINANCE, None).await.0,
        StatusCode::OK
    );
    let hr = "/v1.0/sites/contoso.sharepoint.com:/sites/HR";
    assert_eq!(
        with(&app, &selected, "GET", hr, None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(with(&app, &full, "GET", hr, None).await.0, StatusCode::OK);

    // App-only tokens are for /sites only: elsewhere Graph still wants a user here.
    let (status, _) = with(&app, &full, "GET", "/v1.0/organization", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A SharePoint token is not a Graph token.
    let (key, cert) = credential(None, 30);
    let (client, _, _) = register(&app, &cert).await;
    let (_, body) = token(
        &app,
        &client,
        &assertion(&key, &cert, true, claims(&client)),
        "https://contoso.sharepoint.com/.default",
    )
    .await;
    let spo = body["access_token"].as_str().expect("token");
    let (status, answer) = with(&app, spo, "GET", FINANCE, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
}

#[tokio::test]
async fn write_faults_and_missing_sharepoint_apply_to_sites() {
    let app = sim("default");
    let admin = site_admin(&app, "admin").await;
    let perms = format!("{FINANCE}:/permissions");
    let (status, _) = call(
        &app,
        "POST",
        "/_sim/faults",
        Some(json!({"writeFaults": [{"method": "POST", "pathContains": "/permissions", "nth": 1, "kind": "500"}]})),
    )
    .await;
    assert!(status.is_success());
    let (status, body) = with(
        &app,
        &admin,
        "POST",
        &perms,
        Some(grant_body(SPA_CLIENT_ID, &["write"])),
    )
    .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    // The write happened all the same.
    let (_, list) = with(&app, &admin, "GET", &perms, None).await;
    assert_eq!(list["value"][0]["roles"], json!(["write"]));

    // A tenant without SharePoint Online has no sites.
    call(
        &app,
        "POST",
        "/_sim/reset",
        Some(json!({"missingResources": [SHAREPOINT_APP_ID]})),
    )
    .await;
    let admin = site_admin(&app, "admin").await;
    assert_eq!(
        with(&app, &admin, "GET", FINANCE, None).await.0,
        StatusCode::NOT_FOUND
    );
}
