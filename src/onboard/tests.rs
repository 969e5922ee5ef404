//! The plan's rules (pure): what is created, changed and kept, and what blocks a run.

use serde_json::json;

use super::*;
use crate::graph::models::{Application, ServicePrincipal};
use crate::onboard::Identity;
use crate::wellknown::roles;

fn tenant(roles: &[&str]) -> Tenant {
    Tenant {
        id: "t".into(),
        name: "Contoso".into(),
        initial_domain: "contoso.onmicrosoft.com".into(),
        admin_upn: "ada@contoso.onmicrosoft.com".into(),
        admin_roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        exchange: Some(ServicePrincipal {
            id: "exo-sp".into(),
            app_id: EXCHANGE_APP_ID.into(),
            display_name: "Office 365 Exchange Online".into(),
            service_principal_type: None,
            alternative_names: vec![],
            app_roles: vec![],
        }),
        max_certificate_days: None,
        policy_known: true,
        apps: vec![Application {
            id: "legacy-id".into(),
            app_id: "legacy-app".into(),
            display_name: "Legacy EXO automation".into(),
            key_credentials: vec![],
            required_resource_access: vec![],
        }],
    }
}

fn new_app(name: &str) -> Choices {
    Choices {
        target: Target::New { name: name.into() },
        role_id: roles::EXCHANGE_ADMIN.into(),
        validity_days: 365,
    }
}

fn existing(granted: bool, has_role: bool, with_sp: bool) -> Choices {
    let app = Application {
        id: "legacy-id".into(),
        app_id: "legacy-app".into(),
        display_name: "Legacy EXO automation".into(),
        key_credentials: vec![
            json!({"keyId": "k1", "displayName": "CN=legacy-2025", "endDateTime": "2027-01-01T00:00:00Z", "key": "MIIB"}),
            json!({"keyId": "k2", "displayName": "CN=legacy-2026", "endDateTime": "2027-06-01T00:00:00Z", "key": "MIIC"}),
        ],
        required_resource_access: vec![
            json!({"resourceAppId": "00000003-0000-0000-c000-000000000000",
            "resourceAccess": [{"id": "e1fe6dd8-ba31-4d61-89e7-88639da4683d", "type": "Scope"}]}),
        ],
    };
    Choices {
        target: Target::Existing(Box::new(Existing {
            app,
            service_principal: with_sp.then(|| ServicePrincipal {
                id: "legacy-sp".into(),
                app_id: "legacy-app".into(),
                display_name: "Legacy EXO automation".into(),
                service_principal_type: None,
                alternative_names: vec![],
                app_roles: vec![],
            }),
            granted,
            roles: if has_role {
                vec![roles::EXCHANGE_ADMIN.into()]
            } else {
                vec![]
            },
        })),
        role_id: roles::EXCHANGE_ADMIN.into(),
        validity_days: 365,
    }
}

fn actions(plan: &Plan) -> Vec<(StepKind, Action)> {
    plan.steps.iter().map(|s| (s.kind, s.action)).collect()
}

#[test]
fn a_new_app_is_created_in_one_request_with_certificate_and_permission() {
    let p = plan(&tenant(&[roles::GLOBAL_ADMIN]), &new_app("EXO automation"));
    assert!(p.blockers.is_empty(), "{:?}", p.blockers);
    assert_eq!(
        actions(&p),
        [
            (StepKind::App, Action::Create),
            (StepKind::ServicePrincipal, Action::Create),
            (StepKind::Grant, Action::Create),
            (StepKind::Role, Action::Create)
        ]
    );
    let create = &p.steps[0].requests[0];
    assert!(create.starts_with("POST /applications "));
    assert!(create.contains("\"signInAudience\":\"AzureADMyOrg\""));
    assert!(create.contains(MANAGE_AS_APP));
    assert!(create.contains("public part only"));
}

#[test]
fn an_existing_app_keeps_every_certificate_permission_and_assignment() {
    let p = plan(&tenant(&[roles::GLOBAL_ADMIN]), &existing(true, true, true));
    assert_eq!(
        actions(&p),
        [
            (StepKind::App, Action::Change),
            (StepKind::ServicePrincipal, Action::Keep),
            (StepKind::Grant, Action::Keep),
            (StepKind::Role, Action::Keep)
        ]
    );
    let kept = p.kept.join("\n");
    assert!(
        kept.contains("CN=legacy-2025") && kept.contains("CN=legacy-2026"),
        "{kept}"
    );
    assert!(kept.contains("00000003-0000-0000-c000-000000000000"));
    assert!(p.steps[0].summary.contains("keeping its 2 existing"));
    assert!(p.steps[0].requests[1].contains("re-sent exactly as read"));
}

#[test]
fn permissions_are_merged_never_replaced() {
    let graph = json!({"resourceAppId": "00000003-0000-0000-c000-000000000000", "resourceAccess": [{"id": "x", "type": "Scope"}]});
    let exo_other =
        json!({"resourceAppId": EXCHANGE_APP_ID, "resourceAccess": [{"id": "y", "type": "Role"}]});
    let merged = plan::merged_permissions(&[graph.clone(), exo_other]);
    assert_eq!(merged[0], graph);
    assert_eq!(
        merged[1]["resourceAccess"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(plan::merged_permissions(&merged), merged, "idempotent");
}

#[test]
fn missing_exchange_roles_and_policy_block_before_any_write() {
    let mut t = tenant(&[roles::GLOBAL_ADMIN]);
    t.exchange = None;
    assert_eq!(plan(&t, &new_app("x")).blockers[0], Blocker::NoExchange);

    let pra_only = plan(&tenant(&[roles::PRIVILEGED_ROLE_ADMIN]), &new_app("x"));
    let text = pra_only
        .blockers
        .iter()
        .map(ToString::to_string)
        .collect::<String>();
    assert!(text.contains("creating or changing the app registration needs Global Administrator, Application Administrator or Cloud Application Administrator"), "{text}");
    assert!(!text.contains("assigning"), "PRA may assign roles: {text}");

    let cloud = plan(&tenant(&[roles::CLOUD_APPLICATION_ADMIN]), &new_app("x"));
    let text = cloud
        .blockers
        .iter()
        .map(ToString::to_string)
        .collect::<String>();
    assert!(text.contains("assigning the Exchange Administrator role to x needs Global Administrator or Privileged Role Administrator"), "{text}");

    let both = plan(
        &tenant(&[roles::CLOUD_APPLICATION_ADMIN, roles::PRIVILEGED_ROLE_ADMIN]),
        &new_app("x"),
    );
    assert!(both.blockers.is_empty());

    // An app that has everything but the role: the role assigner is what is missing.
    let only_role = plan(
        &tenant(&[roles::CLOUD_APPLICATION_ADMIN]),
        &existing(true, false, true),
    );
    let text = only_role
        .blockers
        .iter()
        .map(ToString::to_string)
        .collect::<String>();
    assert!(
        text.contains("assigning the Exchange Administrator role to Legacy EXO automation"),
        "{text}"
    );
    assert!(!text.contains("granting"), "the grant exists: {text}");

    let plain = plan(&tenant(&[]), &new_app("x"));
    assert!(matches!(plain.blockers[0], Blocker::MissingRoles(_)));

    let mut capped = tenant(&[roles::GLOBAL_ADMIN]);
    capped.max_certificate_days = Some(180);
    assert_eq!(
        plan(&capped, &new_app("x")).blockers,
        [Blocker::LifetimeTooLong {
            chosen: 365,
            max: 180
        }]
    );
}

#[test]
fn a_taken_or_empty_name_blocks() {
    let t = tenant(&[roles::GLOBAL_ADMIN]);
    assert!(matches!(
        plan(&t, &new_app("legacy exo automation")).blockers[0],
        Blocker::Name(_)
    ));
    assert!(matches!(
        plan(&t, &new_app("  ")).blockers[0],
        Blocker::Name(_)
    ));
}

#[test]
fn apps_with_the_permission_are_listed_first() {
    let mut t = tenant(&[]);
    t.apps.push(Application {
        id: "z".into(),
        app_id: "z".into(),
        display_name: "Zeta".into(),
        key_credentials: vec![],
        required_resource_access: plan::merged_permissions(&[]),
    });
    assert_eq!(t.apps_for_choice()[0].display_name, "Zeta");
}

fn identity(granted: bool, roles_held: &[&str], explicit: bool) -> Choices {
    Choices {
        target: Target::Identity(Box::new(Identity {
            service_principal: ServicePrincipal {
                id: "mi-object".into(),
                app_id: "mi-client".into(),
                display_name: "contoso-automation".into(),
                service_principal_type: Some("ManagedIdentity".into()),
                alternative_names: vec![
                    format!("isExplicit={}", if explicit { "True" } else { "False" }),
                    "/subscriptions/s/resourcegroups/r/providers/Microsoft.Automation/automationAccounts/contoso-automation".into(),
                ],
                app_roles: vec![],
            },
            granted,
            roles: roles_held.iter().map(|r| (*r).to_owned()).collect(),
        })),
        role_id: roles::EXCHANGE_ADMIN.into(),
        validity_days: 0,
    }
}

#[test]
fn a_managed_identity_needs_only_the_grant_and_the_role() {
    let p = plan(
        &tenant(&[roles::PRIVILEGED_ROLE_ADMIN]),
        &identity(false, &[], false),
    );
    assert!(
        p.blockers.is_empty(),
        "a Privileged Role Administrator alone can do it: {:?}",
        p.blockers
    );
    assert_eq!(
        actions(&p),
        [
            (StepKind::Grant, Action::Create),
            (StepKind::Role, Action::Create)
        ]
    );
    assert!(
        p.steps[0].requests[0].contains("\"principalId\":\"mi-object\""),
        "the object id, never the client id"
    );
    assert!(p.kept[0].contains("system-assigned"));

    let has_grant = plan(
        &tenant(&[roles::PRIVILEGED_ROLE_ADMIN]),
        &identity(true, &[], true),
    );
    assert_eq!(
        actions(&has_grant),
        [
            (StepKind::Grant, Action::Keep),
            (StepKind::Role, Action::Create)
        ]
    );
    assert!(has_grant.kept[0].contains("user-assigned"));

    let cloud = plan(
        &tenant(&[roles::CLOUD_APPLICATION_ADMIN]),
        &identity(false, &[], false),
    );
    let text = cloud
        .blockers
        .iter()
        .map(ToString::to_string)
        .collect::<String>();
    assert!(
        text.contains("assigning the Exchange Administrator role to contoso-automation"),
        "{text}"
    );
}
