//! The `big` fixture and Graph paging over it.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::tenant::roles;
use crate::tests::{call, call_as, call_with, sim};

/// The path and query of a nextLink (the tests' requests carry no Host: 127.0.0.1).
fn next(page: &Value) -> Option<String> {
    let link = page["@odata.nextLink"].as_str()?;
    Some(
        link.strip_prefix("http://127.0.0.1")
            .expect("same host")
            .to_owned(),
    )
}

fn names(page: &Value) -> Vec<String> {
    page["value"]
        .as_array()
        .expect("value")
        .iter()
        .filter_map(|v| v["displayName"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn the_app_to_find_lies_beyond_the_first_999() {
    let app = sim("default");
    let started = std::time::Instant::now();
    let (status, _) = call(
        &app,
        "POST",
        "/_sim/reset",
        Some(json!({ "fixture": "big" })),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let first = started.elapsed();
    let started = std::time::Instant::now();
    call(&app, "POST", "/_sim/reset", None).await;
    assert!(
        started.elapsed().as_millis() < 500,
        "reset to big is fast: {:?} (first {first:?})",
        started.elapsed()
    );

    let (status, page1) = call(
        &app,
        "GET",
        "/v1.0/applications?$top=999&$select=displayName",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page1["value"].as_array().map(Vec::len), Some(999));
    assert!(!names(&page1).iter().any(|n| n == "Ops EXO automation"));
    assert_eq!(
        page1["value"][0],
        json!({ "displayName": "unattended (setup page)" }),
        "$select applies"
    );
    let link = page1["@odata.nextLink"].as_str().expect("nextLink");
    assert!(
        link.starts_with("http://127.0.0.1/v1.0/applications?") && link.contains("%24skiptoken="),
        "{link}"
    );
    let (_, page2) = call(&app, "GET", &next(&page1).expect("next"), None).await;
    assert!(names(&page2).iter().any(|n| n == "Ops EXO automation"));
    assert_eq!(
        page2["value"][0].as_object().map(|o| o.len()),
        Some(1),
        "$select kept on page 2"
    );
    let (_, page3) = call(&app, "GET", &next(&page2).expect("next"), None).await;
    assert_eq!(
        page3["value"].as_array().map(Vec::len),
        Some(2501 + 1 - 999 * 2)
    );
    assert!(page3.get("@odata.nextLink").is_none(), "last page");

    let (_, plain) = call(&app, "GET", "/v1.0/applications", None).await;
    assert_eq!(
        plain["value"].as_array().map(Vec::len),
        Some(100),
        "default page size"
    );
    assert!(plain["value"].as_array().expect("v").iter().all(|a| {
        a["keyCredentials"]
            .as_array()
            .is_some_and(|k| k.iter().all(|k| k["key"].is_null()))
    }));
    let (status, err) = call(&app, "GET", "/v1.0/applications?$top=1000", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let (_, found) = call(
        &app,
        "GET",
        "/v1.0/applications?$filter=displayName eq 'Ops EXO automation'",
        None,
    )
    .await;
    let ops = &found["value"][0];
    assert_eq!(ops["keyCredentials"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        ops["requiredResourceAccess"][0]["resourceAccess"][0]["id"],
        crate::tenant::MANAGE_AS_APP
    );
    let (_, sp) = call(
        &app,
        "GET",
        &format!(
            "/v1.0/servicePrincipals(appId='{}')",
            ops["appId"].as_str().expect("appId")
        ),
        None,
    )
    .await;
    let (_, grants) = call(
        &app,
        "GET",
        &format!(
            "/v1.0/servicePrincipals/{}/appRoleAssignments",
            sp["id"].as_str().expect("id")
        ),
        None,
    )
    .await;
    assert_eq!(
        grants["value"][0]["appRoleId"],
        crate::tenant::MANAGE_AS_APP
    );
    // A custom role on its service principal.
    let (_, assigned) = call(
        &app,
        "GET",
        &format!(
            "/v1.0/roleManagement/directory/roleAssignments?$filter=principalId eq '{}'",
            sp["id"].as_str().expect("id")
        ),
        None,
    )
    .await;
    let role = assigned["value"][0]["roleDefinitionId"]
        .as_str()
        .expect("role")
        .to_owned();
    assert!(!crate::directory::BUILT_IN.contains(&role.as_str()));
    let unknown = json!({ "roleDefinitionId": "0f0f0f0f-0000-4000-8000-000000000000", "principalId": sp["id"], "directoryScopeId": "/" });
    let (status, err) = call(
        &app,
        "POST",
        "/v1.0/roleManagement/directory/roleAssignments",
        Some(unknown),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("Request_ResourceNotFound"))
    );
    let custom = json!({ "roleDefinitionId": role, "principalId": sp["id"], "directoryScopeId": "/administrativeUnits/x" });
    assert_eq!(
        call(
            &app,
            "POST",
            "/v1.0/roleManagement/directory/roleAssignments",
            Some(custom)
        )
        .await
        .0,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_role_through_a_group_counts_and_shows_on_page_two() {
    let app = sim("big");
    let (status, page1) = call_as(
        &app,
        "groupadmin",
        "GET",
        "/v1.0/me/transitiveMemberOf",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let types = |p: &Value| -> Vec<String> {
        p["value"]
            .as_array()
            .expect("v")
            .iter()
            .filter_map(|v| v["@odata.type"].as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(types(&page1).len(), 100);
    assert!(types(&page1).iter().all(|t| t == "#microsoft.graph.group"));
    let (_, page2) = call_as(
        &app,
        "groupadmin",
        "GET",
        &next(&page1).expect("next"),
        None,
    )
    .await;
    let role = page2["value"]
        .as_array()
        .expect("v")
        .iter()
        .find(|v| v["@odata.type"] == "#microsoft.graph.directoryRole")
        .cloned()
        .expect("role on page 2");
    assert_eq!(role["roleTemplateId"], roles::GLOBAL_ADMIN);
    let (status, _) = call_as(
        &app,
        "groupadmin",
        "POST",
        "/v1.0/applications",
        Some(json!({ "displayName": "g" })),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "Graph honours the group's role"
    );
    let token = crate::tests::token_for(&app, "groupadmin", None).await;
    let claims = crate::jwt::decode(&token).expect("jwt").claims;
    assert!(
        claims["wids"]
            .as_array()
            .expect("wids")
            .iter()
            .any(|w| w == roles::GLOBAL_ADMIN)
    );
}

#[tokio::test]
async fn an_eligible_role_counts_for_nothing_until_activated() {
    let app = sim("big");
    let (_, me) = call_as(&app, "eligible", "GET", "/v1.0/me", None).await;
    let (_, member_of) =
        call_as(&app, "eligible", "GET", "/v1.0/me/transitiveMemberOf", None).await;
    assert_eq!(member_of["value"].as_array().map(Vec::len), Some(0));
    let (status, _) = call_as(
        &app,
        "eligible",
        "POST",
        "/v1.0/applications",
        Some(json!({ "displayName": "e" })),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let uri = format!(
        "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances?$filter=principalId eq '{}'",
        me["id"].as_str().expect("id")
    );
    let (status, list) = call_as(&app, "eligible", "GET", &uri, None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let e = &list["value"][0];
    assert_eq!(e["roleDefinitionId"], roles::GLOBAL_ADMIN);
    for field in [
        "id",
        "principalId",
        "directoryScopeId",
        "memberType",
        "startDateTime",
        "endDateTime",
    ] {
        assert!(e.get(field).is_some(), "{field}");
    }
    let token = crate::tests::token_for(&app, "eligible", Some(&["User.Read"])).await;
    let auth = format!("Bearer {token}");
    let (status, _) = call_with(&app, "GET", &uri, None, &[("authorization", auth.as_str())]).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "needs a RoleManagement or RoleEligibilitySchedule scope"
    );
}

#[tokio::test]
async fn the_managed_identity_needs_a_second_page_unless_filtered_by_type() {
    let app = sim("big");
    let uri = "/v1.0/servicePrincipals?$filter=startswith(displayName,'contoso-automation')&$select=displayName,servicePrincipalType";
    let (_, page1) = call(&app, "GET", uri, None).await;
    assert_eq!(page1["value"].as_array().map(Vec::len), Some(100));
    assert!(!names(&page1).iter().any(|n| n == "contoso-automation"));
    let (_, page2) = call(&app, "GET", &next(&page1).expect("next"), None).await;
    assert_eq!(
        names(&page2).last().map(String::as_str),
        Some("contoso-automation")
    );
    let typed = "/v1.0/servicePrincipals?$filter=servicePrincipalType eq 'ManagedIdentity' and startswith(displayName,'contoso-automation')";
    let (_, one) = call(&app, "GET", typed, None).await;
    assert_eq!(names(&one), ["contoso-automation"]);
    assert!(one.get("@odata.nextLink").is_none());
}
