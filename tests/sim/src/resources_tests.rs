//! The workloads' resource service principals (Graph, SharePoint, the Teams admin API, next to
//! Exchange): their app roles, assignments validated per resource, and app-only tokens that
//! carry exactly the roles granted on the resource they are for.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::identity_tests::{EXO, access_claims, assertion, claims, credential, register, token};
use super::tests::{call, call_as, call_with, sim};
use crate::access::GRAPH_APP_ID;
use crate::fixtures::{MI_CLIENT_ID, MI_OBJECT_ID};
use crate::resources::{
    GRAPH_MAIL_SEND, GRAPH_SITES_FULL_CONTROL, SHAREPOINT_APP_ID, SHAREPOINT_SITES_FULL_CONTROL,
    SHAREPOINT_SITES_SELECTED, TEAMS_ADMIN_APP_ID,
};
use crate::tenant::{EXCHANGE_APP_ID, MANAGE_AS_APP, roles};

/// The service principal of a resource appId, as a script finds it.
async fn resource(app: &axum::Router, app_id: &str) -> Value {
    let (status, body) = call(
        app,
        "GET",
        &format!(
            "/v1.0/servicePrincipals?$filter=appId eq '{app_id}'&$select=id,appId,displayName,appRoles"
        ),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["value"][0].clone()
}

fn role_id(sp: &Value, value: &str) -> Option<String> {
    sp["appRoles"]
        .as_array()?
        .iter()
        .find(|r| r["value"] == value)
        .and_then(|r| r["id"].as_str())
        .map(str::to_owned)
}

async fn grant(app: &axum::Router, resource: &str, principal: &str, role: &str) -> (u16, Value) {
    let (status, body) = call(
        app,
        "POST",
        &format!("/v1.0/servicePrincipals/{resource}/appRoleAssignedTo"),
        Some(json!({ "principalId": principal, "resourceId": resource, "appRoleId": role })),
    )
    .await;
    (status.as_u16(), body)
}

#[tokio::test]
async fn every_tenant_has_the_resources_with_real_app_roles() {
    for fixture in ["default", "big", "lifecycle", "consultant", "no-exchange"] {
        let app = sim(fixture);
        let graph = resource(&app, GRAPH_APP_ID).await;
        let roles = graph["appRoles"].as_array().expect("graph roles");
        assert!(roles.len() >= 50, "{fixture}: {} Graph roles", roles.len());
        for r in roles {
            assert_eq!(r["allowedMemberTypes"], json!(["Application"]));
            assert_eq!(
                (r["isEnabled"].as_bool(), r["origin"].as_str()),
                (Some(true), Some("Application"))
            );
        }
        assert_eq!(
            role_id(&graph, "Sites.FullControl.All").as_deref(),
            Some(GRAPH_SITES_FULL_CONTROL)
        );
        assert_eq!(
            role_id(&graph, "User.ReadBasic.All").as_deref(),
            Some("97235f07-e226-4f63-ace3-39588e11d3a1")
        );
        assert!(
            graph.get("oauth2PermissionScopes").is_none(),
            "$select applies"
        );

        let sharepoint = resource(&app, SHAREPOINT_APP_ID).await;
        assert_eq!(sharepoint["displayName"], "Office 365 SharePoint Online");
        assert_eq!(
            role_id(&sharepoint, "Sites.FullControl.All").as_deref(),
            Some(SHAREPOINT_SITES_FULL_CONTROL)
        );
        assert_eq!(
            role_id(&sharepoint, "Sites.Selected").as_deref(),
            Some(SHAREPOINT_SITES_SELECTED)
        );

        let teams = resource(&app, TEAMS_ADMIN_APP_ID).await;
        assert_eq!(teams["displayName"], "Skype and Teams Tenant Admin API");
        assert_eq!(teams["appRoles"], json!([]));
    }
    // Fabrikam has its own.
    let app = sim("consultant");
    let (_, state) = call(
        &app,
        "GET",
        "/_sim/state?tenant=fabrikam.onmicrosoft.com",
        None,
    )
    .await;
    let apps: Vec<&str> = state["servicePrincipals"]
        .as_array()
        .expect("sps")
        .iter()
        .filter_map(|sp| sp["appId"].as_str())
        .collect();
    for id in [
        GRAPH_APP_ID,
        SHAREPOINT_APP_ID,
        TEAMS_ADMIN_APP_ID,
        EXCHANGE_APP_ID,
    ] {
        assert!(apps.contains(&id), "fabrikam lacks {id}");
    }
    assert!(
        state["sites"][1]["webUrl"] == "https://fabrikam.sharepoint.com/sites/Finance",
        "{}",
        state["sites"]
    );
}

#[tokio::test]
async fn app_roles_read_the_same_inside_a_batch() {
    let app = sim("default");
    let read = |id: &str, app_id: &str| {
        json!({"id": id, "method": "GET",
        "url": format!("/servicePrincipals?$filter=appId eq '{app_id}'&$select=id,appId,displayName,appRoles")})
    };
    let (status, body) = call(
        &app,
        "POST",
        "/v1.0/$batch",
        Some(json!({"requests": [read("g", GRAPH_APP_ID), read("s", SHAREPOINT_APP_ID), read("t", TEAMS_ADMIN_APP_ID)]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let by_id = |id: &str| {
        body["responses"]
            .as_array()
            .and_then(|r| r.iter().find(|x| x["id"] == id))
            .map(|r| r["body"]["value"][0].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(
        role_id(&by_id("g"), "Mail.Send").as_deref(),
        Some(GRAPH_MAIL_SEND)
    );
    assert_eq!(
        role_id(&by_id("s"), "Sites.FullControl.All").as_deref(),
        Some(SHAREPOINT_SITES_FULL_CONTROL)
    );
    assert_eq!(by_id("t")["appId"], TEAMS_ADMIN_APP_ID);
}

#[tokio::test]
async fn assignments_are_checked_against_the_resource_they_name() {
    let app = sim("default");
    let (_, cert) = credential(None, 30);
    let (_, sp, exo) = register(&app, &cert).await;
    let graph = resource(&app, GRAPH_APP_ID).await["id"]
        .as_str()
        .expect("graph")
        .to_owned();
    let spo = resource(&app, SHAREPOINT_APP_ID).await["id"]
        .as_str()
        .expect("spo")
        .to_owned();
    let teams = resource(&app, TEAMS_ADMIN_APP_ID).await["id"]
        .as_str()
        .expect("teams")
        .to_owned();

    // SharePoint's id on Graph, Graph's on SharePoint, Exchange's on Graph: refused.
    for (on, role, app_id) in [
        (&graph, SHAREPOINT_SITES_FULL_CONTROL, GRAPH_APP_ID),
        (&spo, GRAPH_SITES_FULL_CONTROL, SHAREPOINT_APP_ID),
        (&graph, MANAGE_AS_APP, GRAPH_APP_ID),
        (&teams, MANAGE_AS_APP, TEAMS_ADMIN_APP_ID),
    ] {
        let (status, body) = grant(&app, on, &sp, role).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["code"], "Request_BadRequest");
        assert_eq!(
            body["error"]["message"],
            format!("Permission being assigned was not found on application '{app_id}'.")
        );
    }
    // The right ones work, once each.
    for (on, role) in [
        (&graph, GRAPH_SITES_FULL_CONTROL),
        (&spo, SHAREPOINT_SITES_FULL_CONTROL),
        (&exo, MANAGE_AS_APP),
    ] {
        assert_eq!(grant(&app, on, &sp, role).await.0, 201);
        let (status, body) = grant(&app, on, &sp, role).await;
        assert_eq!(status, 400);
        assert_eq!(
            body["error"]["message"],
            "Permission being assigned already exists on the object."
        );
    }
    // From the principal's side too, with the same checks.
    let from = |body: Value| {
        let app = app.clone();
        let sp = sp.clone();
        async move {
            call(
                &app,
                "POST",
                &format!("/v1.0/servicePrincipals/{sp}/appRoleAssignments"),
                Some(body),
            )
            .await
        }
    };
    let (status, _) =
        from(json!({"principalId": sp, "resourceId": graph, "appRoleId": GRAPH_MAIL_SEND})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) =
        from(json!({"principalId": sp, "resourceId": spo, "appRoleId": GRAPH_MAIL_SEND})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // The Teams admin API offers no roles: only the default access role is assignable.
    let (status, _) = from(json!({"principalId": sp, "resourceId": teams,
        "appRoleId": "00000000-0000-0000-0000-000000000000"}))
    .await;
    assert_eq!(status, StatusCode::CREATED);

    let (_, held) = call(
        &app,
        "GET",
        &format!("/v1.0/servicePrincipals/{sp}/appRoleAssignments"),
        None,
    )
    .await;
    let mut on: Vec<(String, String)> = held["value"]
        .as_array()
        .expect("list")
        .iter()
        .map(|a| {
            (
                a["resourceId"].as_str().unwrap_or_default().to_owned(),
                a["appRoleId"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    on.sort();
    let mut expected = vec![
        (graph.clone(), GRAPH_SITES_FULL_CONTROL.to_owned()),
        (spo.clone(), SHAREPOINT_SITES_FULL_CONTROL.to_owned()),
        (exo.clone(), MANAGE_AS_APP.to_owned()),
        (graph.clone(), GRAPH_MAIL_SEND.to_owned()),
        (
            teams.clone(),
            "00000000-0000-0000-0000-000000000000".to_owned(),
        ),
    ];
    expected.sort();
    assert_eq!(on, expected);

    // `/_sim/state` names each assignment's resource appId and role value.
    let (_, state) = call(&app, "GET", "/_sim/state", None).await;
    let mine: Vec<(String, Value)> = state["appRoleAssignments"]
        .as_array()
        .expect("assignments")
        .iter()
        .filter(|a| a["principalId"] == sp.as_str())
        .map(|a| {
            (
                a["resourceAppId"].as_str().unwrap_or_default().to_owned(),
                a["appRoleValue"].clone(),
            )
        })
        .collect();
    assert!(
        mine.contains(&(SHAREPOINT_APP_ID.to_owned(), json!("Sites.FullControl.All"))),
        "{mine:?}"
    );
    assert!(
        mine.contains(&(GRAPH_APP_ID.to_owned(), json!("Mail.Send"))),
        "{mine:?}"
    );
    assert!(
        mine.contains(&(TEAMS_ADMIN_APP_ID.to_owned(), Value::Null)),
        "{mine:?}"
    );
}

#[tokio::test]
async fn tokens_carry_the_roles_of_their_own_resource_only() {
    let app = sim("default");
    let (key, cert) = credential(None, 30);
    let (client, sp, exo) = register(&app, &cert).await;
    let graph = resource(&app, GRAPH_APP_ID).await["id"]
        .as_str()
        .expect("graph")
        .to_owned();
    let spo = resource(&app, SHAREPOINT_APP_ID).await["id"]
        .as_str()
        .expect("spo")
        .to_owned();
    let get = |scope: &'static str| {
        let (app, key, cert, client) = (app.clone(), key.clone(), cert.clone(), client.clone());
        async move {
            let (status, body) = token(
                &app,
                &client,
                &assertion(&key, &cert, true, claims(&client)),
                scope,
            )
            .await;
            assert_eq!(status, 200, "{scope}: {body}");
            access_claims(&body)
        }
    };

    // Graph's Mail.Send has the same id as Exchange's: granted on Graph, it is Graph's only.
    assert_eq!(grant(&app, &graph, &sp, GRAPH_MAIL_SEND).await.0, 201);
    assert_eq!(
        grant(&app, &graph, &sp, GRAPH_SITES_FULL_CONTROL).await.0,
        201
    );
    assert_eq!(grant(&app, &exo, &sp, MANAGE_AS_APP).await.0, 201);
    assert_eq!(
        grant(&app, &spo, &sp, SHAREPOINT_SITES_FULL_CONTROL)
            .await
            .0,
        201
    );
    let role = json!({ "roleDefinitionId": roles::TEAMS_ADMIN, "principalId": sp, "directoryScopeId": "/" });
    assert_eq!(
        call(
            &app,
            "POST",
            "/v1.0/roleManagement/directory/roleAssignments",
            Some(role)
        )
        .await
        .0,
        201
    );

    let exchange = get(EXO).await;
    assert_eq!(
        exchange["roles"],
        json!(["Exchange.ManageAsApp"]),
        "Graph's Mail.Send stays out"
    );
    assert_eq!(exchange["aud"], "https://outlook.office365.com");
    assert_eq!(exchange["wids"], json!([roles::TEAMS_ADMIN]));
    for scope in [
        "https://graph.microsoft.com/.default",
        "00000003-0000-0000-c000-000000000000/.default",
    ] {
        let c = get(scope).await;
        assert_eq!(c["aud"], "https://graph.microsoft.com");
        assert_eq!(
            c["roles"],
            json!(["Mail.Send", "Sites.FullControl.All"]),
            "{scope}"
        );
        assert_eq!(
            (c["idtyp"].as_str(), c["oid"].as_str()),
            (Some("app"), Some(sp.as_str()))
        );
    }
    for (scope, aud) in [
        (
            "https://contoso.sharepoint.com/.default",
            "https://contoso.sharepoint.com",
        ),
        (
            "https://contoso-admin.sharepoint.com/.default",
            "https://contoso-admin.sharepoint.com",
        ),
        (
            "00000003-0000-0ff1-ce00-000000000000/.default",
            "https://contoso.sharepoint.com",
        ),
    ] {
        let c = get(scope).await;
        assert_eq!(
            (c["aud"].as_str(), &c["roles"]),
            (Some(aud), &json!(["Sites.FullControl.All"])),
            "{scope}"
        );
    }
    let teams = get("48ac35b8-9aa8-4d74-927d-1f4a14a0b239/.default").await;
    assert_eq!(teams["aud"], TEAMS_ADMIN_APP_ID);
    assert!(
        teams.get("roles").is_none(),
        "no roles granted on the Teams admin API"
    );
    assert_eq!(teams["wids"], json!([roles::TEAMS_ADMIN]));

    // Exchange's own Mail.Send (same id) shows in Exchange tokens once granted there.
    assert_eq!(grant(&app, &exo, &sp, GRAPH_MAIL_SEND).await.0, 201);
    assert_eq!(
        get(EXO).await["roles"],
        json!(["Exchange.ManageAsApp", "Mail.Send"])
    );

    // Another tenant's SharePoint host or another cloud's Graph is no resource here.
    let mut bad = Vec::new();
    for scope in [
        "https://fabrikam.sharepoint.com/.default",
        "https://graph.microsoft.us/.default",
        "https://contoso.sharepoint.us/.default",
    ] {
        let (status, body) = token(
            &app,
            &client,
            &assertion(&key, &cert, false, claims(&client)),
            scope,
        )
        .await;
        bad.push((status, body["error_codes"][0].as_u64()));
    }
    assert_eq!(bad, vec![(400, Some(500011)); 3]);
}

#[tokio::test]
async fn managed_identities_get_tokens_for_each_resource() {
    let app = sim("default");
    let graph = resource(&app, GRAPH_APP_ID).await["id"]
        .as_str()
        .expect("graph")
        .to_owned();
    assert_eq!(
        grant(
            &app,
            &graph,
            MI_OBJECT_ID,
            "df021288-bdef-4463-88db-98f22de89214"
        )
        .await
        .0,
        201
    );
    let mi = |resource: &'static str| {
        let app = app.clone();
        async move {
            call_with(
                &app,
                "GET",
                &format!(
                    "/metadata/identity/oauth2/token?api-version=2018-02-01&resource={resource}"
                ),
                None,
                &[("metadata", "true")],
            )
            .await
        }
    };
    let (status, body) = mi("https://graph.microsoft.com").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["resource"], "https://graph.microsoft.com");
    let c = access_claims(&body);
    assert_eq!(
        (c["aud"].as_str(), c["appid"].as_str()),
        (Some("https://graph.microsoft.com"), Some(MI_CLIENT_ID))
    );
    assert_eq!(c["roles"], json!(["User.Read.All"]));
    // The same id is SharePoint's User.Read.All too, but it was granted on Graph only.
    let (status, body) = mi("https://contoso.sharepoint.com").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(access_claims(&body).get("roles").is_none());
    assert_eq!(
        mi("https://management.azure.com").await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn a_reset_can_leave_resources_out() {
    let app = sim("default");
    let reset = |body: Value| {
        let app = app.clone();
        async move { call(&app, "POST", "/_sim/reset", Some(body)).await.0 }
    };
    assert_eq!(
        reset(json!({"missingResources": [TEAMS_ADMIN_APP_ID, SHAREPOINT_APP_ID]})).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(resource(&app, TEAMS_ADMIN_APP_ID).await, Value::Null);
    assert_eq!(resource(&app, SHAREPOINT_APP_ID).await, Value::Null);
    assert!(resource(&app, GRAPH_APP_ID).await["id"].is_string());
    let (_, state) = call(&app, "GET", "/_sim/state", None).await;
    assert_eq!(state["sites"], json!([]));

    let (key, cert) = credential(None, 30);
    let (client, _, _) = register(&app, &cert).await;
    for scope in [
        "48ac35b8-9aa8-4d74-927d-1f4a14a0b239/.default",
        "https://contoso.sharepoint.com/.default",
    ] {
        let (status, body) = token(
            &app,
            &client,
            &assertion(&key, &cert, true, claims(&client)),
            scope,
        )
        .await;
        assert_eq!(
            (status, body["error_codes"][0].as_u64()),
            (400, Some(500011)),
            "{scope}"
        );
    }
    let (status, _) = token(
        &app,
        &client,
        &assertion(&key, &cert, true, claims(&client)),
        EXO,
    )
    .await;
    assert_eq!(status, 200);

    // The next reset without it restores them; a malformed list is refused.
    assert_eq!(reset(json!({})).await, StatusCode::NO_CONTENT);
    assert!(resource(&app, TEAMS_ADMIN_APP_ID).await["id"].is_string());
    assert_eq!(
        reset(json!({"missingResources": "x"})).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        reset(json!({"missingResources": [EXCHANGE_APP_ID], "fixture": "lifecycle"})).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(resource(&app, EXCHANGE_APP_ID).await, Value::Null);
}

#[tokio::test]
async fn sites_full_control_is_a_delegated_scope_admins_consent_to() {
    let app = sim("default");
    let graph = resource(&app, GRAPH_APP_ID).await;
    let (_, full) = call(
        &app,
        "GET",
        &format!(
            "/v1.0/servicePrincipals/{}?$select=oauth2PermissionScopes",
            graph["id"].as_str().expect("id")
        ),
        None,
    )
    .await;
    let scope = full["oauth2PermissionScopes"]
        .as_array()
        .expect("scopes")
        .iter()
        .find(|s| s["value"] == "Sites.FullControl.All")
        .cloned()
        .expect("Sites.FullControl.All offered");
    assert_eq!(
        (scope["id"].as_str(), scope["type"].as_str()),
        (Some("5a54b8b3-347c-476d-8f8e-42d5c7424d29"), Some("Admin"))
    );
    assert_eq!(
        crate::signin::graph_scopes(
            "https://graph.microsoft.com/Sites.FullControl.All User.Read",
            crate::cloud::Cloud::Worldwide
        ),
        Ok(vec![
            "Sites.FullControl.All".to_owned(),
            "User.Read".to_owned()
        ])
    );
    assert!(crate::signin::admin_only("Sites.FullControl.All"));
}

#[tokio::test]
async fn only_global_and_privileged_role_administrators_grant_graphs_app_roles() {
    let app = sim("default");
    let (_, cert) = credential(None, 30);
    let (_, sp, exo) = register(&app, &cert).await;
    let graph = resource(&app, GRAPH_APP_ID).await["id"]
        .as_str()
        .expect("graph")
        .to_owned();
    let as_user = |user: &'static str, on: String, role: &'static str| {
        let (app, sp) = (app.clone(), sp.clone());
        async move {
            let body = json!({ "principalId": sp, "resourceId": on, "appRoleId": role });
            let direct = call_as(
                &app,
                user,
                "POST",
                &format!("/v1.0/servicePrincipals/{on}/appRoleAssignedTo"),
                Some(body.clone()),
            )
            .await;
            let from = call_as(
                &app,
                user,
                "POST",
                &format!("/v1.0/servicePrincipals/{sp}/appRoleAssignments"),
                Some(body),
            )
            .await;
            (direct.0.as_u16(), from.0.as_u16())
        }
    };
    // A Cloud Application Administrator may grant Exchange's role, not Graph's, by either path.
    assert_eq!(
        as_user("appadmin", graph.clone(), GRAPH_MAIL_SEND).await,
        (403, 403)
    );
    assert_eq!(as_user("appadmin", exo.clone(), MANAGE_AS_APP).await.0, 201);
    // A Privileged Role Administrator may grant Graph's.
    assert_eq!(as_user("pra", graph, GRAPH_MAIL_SEND).await.0, 201);
}
