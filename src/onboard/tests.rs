//! The plan's rules (pure): what is created, changed and kept, and what blocks a run.

use serde_json::json;

use super::*;
use crate::graph::models::{AppRole, AppRoleAssignment, Application, ServicePrincipal};
use crate::onboard::Identity;
use crate::onboard::permissions;
use crate::wellknown::roles;
use crate::workloads::{self, Access};

fn tenant(roles: &[&str]) -> Tenant {
    Tenant {
        id: "t".into(),
        name: "Contoso".into(),
        initial_domain: "contoso.onmicrosoft.com".into(),
        domains: vec!["contoso.onmicrosoft.com".into()],
        admin_upn: "ada@contoso.onmicrosoft.com".into(),
        admin_id: "ada".into(),
        admin_roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        admin_roles_complete: true,
        admin_eligible_roles: vec![],
        resources: resources(),
        max_certificate_days: None,
        policy_known: true,
        apps: vec![Application {
            id: "legacy-id".into(),
            app_id: "legacy-app".into(),
            display_name: "Legacy EXO automation".into(),
            key_credentials: vec![],
            required_resource_access: vec![],
            password_credentials: vec![],
        }],
        apps_complete: true,
    }
}

/// A tenant where the admin holds `roles`, with the four APIs.
pub(crate) fn tenant_with(roles: &[&str]) -> Tenant {
    tenant(roles)
}

/// An app role as Graph lists it.
pub(crate) fn app_role(id: &str, value: &str) -> AppRole {
    AppRole {
        id: id.into(),
        value: Some(value.into()),
        display_name: Some(format!("{value} (display)")),
        description: Some(format!("Allows {value}")),
        allowed_member_types: vec!["Application".into()],
        is_enabled: true,
    }
}

/// A resource's service principal with these app roles.
pub(crate) fn resource(id: &str, app_id: &str, roles: &[(&str, &str)]) -> ServicePrincipal {
    ServicePrincipal {
        id: id.into(),
        app_id: app_id.into(),
        display_name: format!("{app_id} API"),
        service_principal_type: None,
        alternative_names: vec![],
        app_roles: roles.iter().map(|(id, v)| app_role(id, v)).collect(),
    }
}

/// The four APIs, with real ids for the roles the tests use; Graph's and Exchange's
/// `Mail.Send` share an id, as they do in Microsoft's tenants.
pub(crate) fn resources() -> Vec<ServicePrincipal> {
    vec![
        resource(
            "exo-sp",
            EXCHANGE_APP_ID,
            &[
                (MANAGE_AS_APP, "Exchange.ManageAsApp"),
                ("b633e1c5-b582-4048-a93e-9f11b44c7e96", "Mail.Send"),
            ],
        ),
        resource(
            "graph-sp",
            workloads::GRAPH.app_id,
            &[
                ("df021288-bdef-4463-88db-98f22de89214", "User.Read.All"),
                ("230c1aed-a721-4c5d-9cb4-a90514e508ef", "Reports.Read.All"),
                ("b633e1c5-b582-4048-a93e-9f11b44c7e96", "Mail.Send"),
                ("e2a3a72e-5f79-4c64-b1b1-878b674786c9", "Mail.ReadWrite"),
                (
                    "498476ce-e0fe-48b0-b801-37ba7e2685c6",
                    "Organization.Read.All",
                ),
                (
                    "62a82d76-70ea-41e2-9197-370581804d09",
                    "Group.ReadWrite.All",
                ),
                (
                    "dc149144-f292-421e-b185-5953f2e98d7f",
                    "AppCatalog.ReadWrite.All",
                ),
                (
                    "bdd80a03-d9bc-451d-b7c4-ce7c63fe3c8f",
                    "TeamSettings.ReadWrite.All",
                ),
                ("6a118a39-1227-45d4-af0c-ea7b40d210bc", "Channel.Delete.All"),
                (
                    "243cded2-bd16-4fd6-a953-ff8177894c3d",
                    "ChannelSettings.ReadWrite.All",
                ),
                (
                    "35930dcf-aceb-4bd1-b99a-8ffed403c974",
                    "ChannelMember.ReadWrite.All",
                ),
                (
                    "a82116e5-55eb-4c41-a434-62fe8a61c773",
                    "Sites.FullControl.All",
                ),
            ],
        ),
        resource(
            "sharepoint-sp",
            workloads::SHAREPOINT.app_id,
            &[
                (
                    "678536fe-1083-478a-9c59-b99265e6b0d3",
                    "Sites.FullControl.All",
                ),
                ("20d37865-089c-4dee-8c41-6967602d4ac8", "Sites.Selected"),
            ],
        ),
        resource("teams-sp", workloads::TEAMS.app_id, &[]),
    ]
}

/// The Exchange.ManageAsApp grant, as an assignment.
fn manage_as_app(granted: bool) -> Vec<AppRoleAssignment> {
    if !granted {
        return vec![];
    }
    vec![AppRoleAssignment {
        id: "a".into(),
        app_role_id: MANAGE_AS_APP.into(),
        principal_id: "p".into(),
        resource_id: "exo-sp".into(),
    }]
}

/// Warnings and blockers as one text.
fn said(p: &Plan) -> String {
    p.blockers
        .iter()
        .map(ToString::to_string)
        .chain(p.warnings.iter().cloned())
        .collect()
}

fn new_app(name: &str) -> Choices {
    Choices {
        target: Target::New {
            name: name.into(),
            unique_name: "unattended-0123456789ab".into(),
        },
        access: Access::exchange(roles::EXCHANGE_ADMIN),
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
        password_credentials: vec![],
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
            assignments: manage_as_app(granted),
            roles: if has_role {
                vec![roles::EXCHANGE_ADMIN.into()]
            } else {
                vec![]
            },
        })),
        access: Access::exchange(roles::EXCHANGE_ADMIN),
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
    // An upsert on the plan's alternate key: sent twice, it still makes one app.
    assert!(
        create.starts_with(
            "PATCH /applications(uniqueName='unattended-0123456789ab') (Prefer: create-if-missing) {"
        ),
        "{create}"
    );
    assert!(p.steps[1].requests[0].starts_with("PATCH /servicePrincipals(appId='<new app id>')"));
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
    let wanted = [permissions::manage_as_app()];
    let merged = permissions::merged(&[graph.clone(), exo_other], &wanted);
    assert_eq!(merged[0], graph);
    assert_eq!(
        merged[1]["resourceAccess"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(permissions::merged(&merged, &wanted), merged, "idempotent");
}

#[test]
fn missing_exchange_roles_and_policy_block_before_any_write() {
    let mut t = tenant(&[roles::GLOBAL_ADMIN]);
    t.resources.retain(|sp| sp.app_id != EXCHANGE_APP_ID);
    assert_eq!(plan(&t, &new_app("x")).blockers[0], Blocker::NoExchange);

    // A role the admin seems to lack is a warning, not a blocker: Graph decides (a role held
    // through a way the page cannot see still works), and its refusal names the step.
    let pra_only = plan(&tenant(&[roles::PRIVILEGED_ROLE_ADMIN]), &new_app("x"));
    assert!(pra_only.blockers.is_empty());
    let text = said(&pra_only);
    assert!(text.contains("creating or changing the app registration needs Global Administrator, Application Administrator or Cloud Application Administrator"), "{text}");
    assert!(!text.contains("assigning"), "PRA may assign roles: {text}");

    let cloud = plan(&tenant(&[roles::CLOUD_APPLICATION_ADMIN]), &new_app("x"));
    let text = said(&cloud);
    assert!(text.contains("assigning the Exchange Administrator role to x needs Global Administrator or Privileged Role Administrator"), "{text}");

    let both = plan(
        &tenant(&[roles::CLOUD_APPLICATION_ADMIN, roles::PRIVILEGED_ROLE_ADMIN]),
        &new_app("x"),
    );
    assert!(both.blockers.is_empty() && both.warnings.is_empty());

    // An app that has everything but the role: the role assigner is what is missing.
    let only_role = plan(
        &tenant(&[roles::CLOUD_APPLICATION_ADMIN]),
        &existing(true, false, true),
    );
    let text = said(&only_role);
    assert!(
        text.contains("assigning the Exchange Administrator role to Legacy EXO automation"),
        "{text}"
    );
    assert!(!text.contains("granting"), "the grant exists: {text}");

    let plain = plan(&tenant(&[]), &new_app("x"));
    assert!(plain.blockers.is_empty() && plain.warnings[0].contains("seems to lack"));
    assert!(!plain.warnings[0].contains("Privileged Identity Management"));
    // Eligible in PIM but not active: told to activate it and sign in again.
    let mut eligible = tenant(&[]);
    eligible.admin_eligible_roles = vec![roles::GLOBAL_ADMIN.into()];
    let text = said(&plan(&eligible, &new_app("x")));
    assert!(
        text.contains("eligible for Global Administrator in Privileged Identity Management")
            && text.contains("sign in again"),
        "{text}"
    );

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
        required_resource_access: permissions::merged(&[], &[permissions::manage_as_app()]),
        password_credentials: vec![],
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
            assignments: manage_as_app(granted),
            roles: roles_held.iter().map(|r| (*r).to_owned()).collect(),
        })),
        access: Access::exchange(roles::EXCHANGE_ADMIN),
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
    let text = said(&cloud);
    assert!(
        text.contains("assigning the Exchange Administrator role to contoso-automation"),
        "{text}"
    );
}

#[test]
fn the_apply_gate_and_the_early_warnings_are_functions_of_the_plan() {
    let t = tenant(&[roles::GLOBAL_ADMIN]);
    let ok = plan(&t, &new_app("EXO automation"));
    assert_eq!(Gate::of(None, true, true), Gate::ChooseFirst);
    assert_eq!(Gate::of(Some(&ok), false, false), Gate::MakeCertificate);
    // A click on Save is not enough: the PFX must be picked back and proven.
    assert_eq!(Gate::of(Some(&ok), true, false), Gate::SavePfx);
    assert!(
        Gate::SavePfx
            .text("Contoso")
            .contains("pick the saved file back")
    );
    assert_eq!(Gate::of(Some(&ok), true, true), Gate::Ready);
    let taken = plan(&t, &new_app("Legacy EXO automation"));
    assert_eq!(Gate::of(Some(&taken), true, true), Gate::Blocked);
    // A warning does not close the gate.
    let warned = plan(&tenant(&[roles::PRIVILEGED_ROLE_ADMIN]), &new_app("x"));
    assert!(!warned.warnings.is_empty());
    assert_eq!(Gate::of(Some(&warned), true, true), Gate::Ready);

    assert!(early_warnings(&t).is_empty());
    let mut lacking = tenant(&[]);
    lacking.resources.retain(|sp| sp.app_id != EXCHANGE_APP_ID);
    lacking.apps_complete = false;
    let w = early_warnings(&lacking).join("\n");
    assert!(w.contains("no Exchange Online"), "{w}");
    assert!(w.contains("seems to lack"), "{w}");
    assert!(
        w.contains("more app registrations than the page reads"),
        "{w}"
    );
}
