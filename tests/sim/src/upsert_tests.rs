//! Upserts by alternate key, and the replica lag of collection and alternate-key reads.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::clock_tests::advance;
use crate::tests::{call, call_with, sim, token_for};

async fn with_prefer(
    app: &axum::Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
    prefer: bool,
) -> (StatusCode, Value) {
    let token = format!("Bearer {}", token_for(app, "admin", None).await);
    let mut headers = vec![("authorization", token.as_str())];
    if prefer {
        headers.push(("prefer", "create-if-missing"));
    }
    call_with(app, method, uri, body, &headers).await
}

#[tokio::test]
async fn upsert_creates_then_updates_and_needs_the_prefer_header_to_create() {
    let app = sim("default");
    let uri = "/v1.0/applications(uniqueName='exo-cba-contoso')";
    let (status, _) = with_prefer(
        &app,
        "PATCH",
        uri,
        Some(json!({ "displayName": "a" })),
        false,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no Prefer, no match");
    let (status, err) = with_prefer(
        &app,
        "PATCH",
        uri,
        Some(json!({ "signInAudience": "AzureADMyOrg" })),
        true,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a create needs displayName: {err}"
    );
    let (status, created) = with_prefer(
        &app,
        "PATCH",
        uri,
        Some(json!({ "displayName": "EXO", "signInAudience": "AzureADMyOrg" })),
        true,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["uniqueName"], "exo-cba-contoso");
    assert_eq!(created["displayName"], "EXO");
    let (status, _) = with_prefer(
        &app,
        "PATCH",
        uri,
        Some(json!({ "displayName": "EXO 2" })),
        true,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "exists: an update");
    let (status, read) = call(
        &app,
        "GET",
        &format!("{uri}?$select=displayName,uniqueName"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        read,
        json!({ "displayName": "EXO 2", "uniqueName": "exo-cba-contoso" })
    );
    // Immutable once set, unique in the tenant.
    let id = created["id"].as_str().expect("id");
    let (status, _) = call(
        &app,
        "PATCH",
        &format!("/v1.0/applications/{id}"),
        Some(json!({ "uniqueName": "other" })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(
        &app,
        "POST",
        "/v1.0/applications",
        Some(json!({ "displayName": "x", "uniqueName": "exo-cba-contoso" })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Fixture apps have none.
    let (_, list) = call(&app, "GET", "/v1.0/applications?$select=uniqueName", None).await;
    assert!(list["value"][0]["uniqueName"].is_null());

    let sp_uri = format!(
        "/v1.0/servicePrincipals(appId='{}')",
        created["appId"].as_str().expect("appId")
    );
    assert_eq!(
        call(&app, "GET", &sp_uri, None).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, sp) = with_prefer(&app, "PATCH", &sp_uri, Some(json!({})), true).await;
    assert_eq!(status, StatusCode::CREATED, "{sp}");
    assert_eq!(
        with_prefer(&app, "PATCH", &sp_uri, Some(json!({})), true)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (status, read) = call(&app, "GET", &format!("{sp_uri}?$select=id"), None).await;
    assert_eq!((status, &read["id"]), (StatusCode::OK, &sp["id"]));
    // The same permission checks as create.
    let (status, _) = {
        let token = format!("Bearer {}", token_for(&app, "user", None).await);
        call_with(
            &app,
            "PATCH",
            "/v1.0/applications(uniqueName='u')",
            Some(json!({ "displayName": "u" })),
            &[
                ("authorization", token.as_str()),
                ("prefer", "create-if-missing"),
            ],
        )
        .await
    };
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn new_objects_are_missing_from_lists_and_key_reads_during_the_list_lag() {
    let app = sim("default");
    call(
        &app,
        "POST",
        "/_sim/faults",
        Some(json!({ "listLagSecs": 20 })),
    )
    .await;
    let (_, created) = with_prefer(
        &app,
        "PATCH",
        "/v1.0/applications(uniqueName='lagging')",
        Some(json!({ "displayName": "Lagging" })),
        true,
    )
    .await;
    let (id, app_id) = (
        created["id"].as_str().expect("id"),
        created["appId"].as_str().expect("appId"),
    );
    let by_filter = format!("/v1.0/applications?$filter=appId eq '{app_id}'");
    let (_, list) = call(&app, "GET", &by_filter, None).await;
    assert_eq!(list["value"].as_array().map(Vec::len), Some(0));
    assert_eq!(
        call(&app, "GET", &format!("/v1.0/applications/{id}"), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(
            &app,
            "GET",
            "/v1.0/applications(uniqueName='lagging')",
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    // A write sees it: the upsert updates rather than creating a second one.
    let (status, _) = with_prefer(
        &app,
        "PATCH",
        "/v1.0/applications(uniqueName='lagging')",
        Some(json!({ "displayName": "Lagging" })),
        true,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let batch = json!({ "requests": [{ "id": "1", "method": "GET", "url": format!("/applications?$filter=appId eq '{app_id}'") }] });
    let (_, answer) = call(&app, "POST", "/v1.0/$batch", Some(batch.clone())).await;
    assert_eq!(
        answer["responses"][0]["body"]["value"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );

    advance(&app, 20_000).await;
    let (_, list) = call(&app, "GET", &by_filter, None).await;
    assert_eq!(list["value"].as_array().map(Vec::len), Some(1));
    let (_, answer) = call(&app, "POST", "/v1.0/$batch", Some(batch)).await;
    assert_eq!(
        answer["responses"][0]["body"]["value"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        call(&app, "GET", &format!("/v1.0/applications/{id}"), None)
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn reads_after_a_patch_see_the_old_version_for_a_while() {
    let app = sim("default");
    let (_, created) = call(
        &app,
        "POST",
        "/v1.0/applications",
        Some(json!({ "displayName": "v1" })),
    )
    .await;
    let id = created["id"].as_str().expect("id");
    call(
        &app,
        "POST",
        "/_sim/faults",
        Some(json!({ "staleReadSecs": 10 })),
    )
    .await;
    let uri = format!("/v1.0/applications/{id}");
    assert_eq!(
        call(&app, "PATCH", &uri, Some(json!({ "displayName": "v2" })))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (_, read) = call(&app, "GET", &uri, None).await;
    assert_eq!(read["displayName"], "v1", "stale");
    let (_, list) = call(
        &app,
        "GET",
        &format!("/v1.0/applications?$filter=id eq '{id}'"),
        None,
    )
    .await;
    assert_eq!(list["value"][0]["displayName"], "v1");
    // A second PATCH acts on the real object.
    call(
        &app,
        "PATCH",
        &uri,
        Some(json!({ "signInAudience": "AzureADMyOrg" })),
    )
    .await;
    let (_, state) = call(&app, "GET", "/_sim/state", None).await;
    let real = state["applications"]
        .as_array()
        .expect("apps")
        .iter()
        .find(|a| a["id"] == id)
        .cloned()
        .expect("app");
    assert_eq!(
        (
            real["displayName"].as_str(),
            real["signInAudience"].as_str()
        ),
        (Some("v2"), Some("AzureADMyOrg"))
    );
    advance(&app, 10_000).await;
    let (_, read) = call(&app, "GET", &uri, None).await;
    assert_eq!(
        (
            read["displayName"].as_str(),
            read["signInAudience"].as_str()
        ),
        (Some("v2"), Some("AzureADMyOrg"))
    );
}

#[tokio::test]
async fn upserts_and_paged_reads_work_inside_a_batch() {
    let app = sim("default");
    let token = format!("Bearer {}", token_for(&app, "admin", None).await);
    let batch = json!({ "requests": [
        { "id": "1", "method": "PATCH", "url": "/applications(uniqueName='in-batch')",
          "headers": { "Content-Type": "application/json", "Prefer": "create-if-missing" },
          "body": { "displayName": "In batch" } },
        { "id": "2", "method": "GET", "url": "/servicePrincipals?$top=1", "dependsOn": ["1"] },
    ]});
    let headers = [
        ("authorization", token.as_str()),
        ("host", "sim.example:4010"),
    ];
    let (status, answer) = call_with(&app, "POST", "/v1.0/$batch", Some(batch), &headers).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer["responses"][0]["status"], 201, "{answer}");
    assert_eq!(answer["responses"][0]["body"]["uniqueName"], "in-batch");
    let link = answer["responses"][1]["body"]["@odata.nextLink"]
        .as_str()
        .unwrap_or_default();
    assert!(
        link.starts_with("http://sim.example:4010/v1.0/servicePrincipals?"),
        "{link}"
    );
}
