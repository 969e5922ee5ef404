//! Workloads: what each wants, how ids are found by value, what the plan shows and the lines.

use super::lines::{RunFacts, lines, sharepoint_host};
use super::resolve::site_path;
use super::*;
use crate::cloud::Cloud;
use crate::onboard::plan::{Action, Blocker, Choices, StepKind, Target, plan};
use crate::onboard::tests::{resources, tenant_with};
use crate::snippets::CertificateFacts;

fn all_five() -> Access {
    let mut a = Access::exchange(roles::EXCHANGE_ADMIN);
    for w in Workload::ALL {
        a = a.with(w, true);
    }
    a.graph = vec!["Reports.Read.All".into(), "User.Read.All".into()];
    a
}

#[test]
fn each_workload_wants_its_own_least_and_shared_ones_once() {
    let a = all_five();
    let wanted = a.wanted();
    let names: Vec<(&str, &str)> = wanted
        .iter()
        .map(|w| (w.resource.name, w.value.as_str()))
        .collect();
    // Exchange and Security & Compliance share one Exchange.ManageAsApp; User.Read.All is
    // wanted by Graph and Teams but granted once.
    assert_eq!(
        names
            .iter()
            .filter(|(_, v)| *v == "Exchange.ManageAsApp")
            .count(),
        1
    );
    let user_read = wanted
        .iter()
        .find(|w| w.value == "User.Read.All")
        .expect("wanted");
    assert_eq!(user_read.workloads, [Workload::Graph, Workload::Teams]);
    assert_eq!(names[0].0, "Office 365 Exchange Online");
    assert!(names.contains(&("Office 365 SharePoint Online", "Sites.FullControl.All")));
    assert_eq!(
        a.role_ids(),
        [roles::EXCHANGE_ADMIN, COMPLIANCE_ADMIN, roles::TEAMS_ADMIN]
    );
    assert_eq!(a.resources(), RESOURCES.to_vec());

    // Teams for its policy cmdlets alone needs one permission.
    let mut policy = Access::exchange(roles::EXCHANGE_ADMIN).with(Workload::Exchange, false);
    policy = policy.with(Workload::Teams, true);
    policy.teams = TeamsScope::PolicyOnly;
    let values: Vec<String> = policy.wanted().into_iter().map(|w| w.value).collect();
    assert_eq!(values, ["Organization.Read.All"]);

    // A role group replaces the Entra role for Exchange, and only for Exchange.
    let mut group = all_five();
    group.exchange = ExchangeRbac::RoleGroup("Recipient Management".into());
    assert_eq!(group.role_ids(), [COMPLIANCE_ADMIN, roles::TEAMS_ADMIN]);
    assert_eq!(group.role_group(), Some("Recipient Management"));
    assert!(group.with(Workload::Exchange, false).role_group().is_none());
}

#[test]
fn ids_come_from_each_resource_by_value_even_where_they_collide() {
    let mut a = Access::exchange(roles::EXCHANGE_ADMIN).with(Workload::Graph, true);
    a.graph = vec!["mail.send".into()];
    a = a.with(Workload::SharePoint, true);
    let (granted, problems) = resolve(&a, &resources());
    assert!(problems.is_empty(), "{problems:?}");
    let send = granted
        .iter()
        .find(|g| g.value == "Mail.Send")
        .expect("granted");
    // Same id as Exchange's Mail.Send, but granted on Graph's principal.
    assert_eq!(send.resource, GRAPH);
    assert_eq!(send.resource_sp, "graph-sp");
    assert_eq!(send.id, "b633e1c5-b582-4048-a93e-9f11b44c7e96");
    assert!(send.broad.is_some());
    // SharePoint's Sites.FullControl.All is SharePoint's id, not Graph's.
    let full = granted
        .iter()
        .find(|g| g.value == "Sites.FullControl.All")
        .expect("granted");
    assert_eq!(full.resource_sp, "sharepoint-sp");
    assert_eq!(full.id, "678536fe-1083-478a-9c59-b99265e6b0d3");
    let exo = granted
        .iter()
        .find(|g| g.value == "Exchange.ManageAsApp")
        .expect("granted");
    assert_eq!(exo.id, crate::wellknown::MANAGE_AS_APP);
    assert!(exo.broad.is_none());
}

#[test]
fn unknown_names_missing_apis_and_empty_choices_are_problems() {
    let mut a = Access::exchange(roles::EXCHANGE_ADMIN).with(Workload::Graph, true);
    a.graph = vec!["User.Read.Everything".into()];
    let (_, problems) = resolve(&a, &resources());
    assert_eq!(
        problems,
        [Problem::UnknownPermission {
            resource: GRAPH,
            value: "User.Read.Everything".into()
        }]
    );
    assert!(
        problems[0]
            .to_string()
            .contains("no application permission named \"User.Read.Everything\"")
    );

    let teams = Access::exchange(roles::EXCHANGE_ADMIN).with(Workload::Teams, true);
    let without: Vec<_> = resources()
        .into_iter()
        .filter(|sp| sp.app_id != TEAMS.app_id)
        .collect();
    let (_, problems) = resolve(&teams, &without);
    assert_eq!(
        problems,
        [Problem::ResourceMissing {
            resource: TEAMS,
            workloads: vec![Workload::Teams]
        }]
    );
    assert!(
        problems[0]
            .to_string()
            .contains("Skype and Teams Tenant Admin API")
    );

    let none = Access::exchange(roles::EXCHANGE_ADMIN).with(Workload::Exchange, false);
    assert_eq!(resolve(&none, &resources()).1, [Problem::NoWorkload]);
    let graph_empty = none.with(Workload::Graph, true);
    assert_eq!(
        resolve(&graph_empty, &resources()).1,
        [Problem::NoGraphPermission]
    );
    // A disabled or user-only role is not an application permission.
    let mut sps = resources();
    for r in &mut sps[1].app_roles {
        if r.value.as_deref() == Some("User.Read.All") {
            r.allowed_member_types = vec!["User".into()];
        }
    }
    let mut user = Access::exchange(roles::EXCHANGE_ADMIN).with(Workload::Graph, true);
    user.graph = vec!["User.Read.All".into()];
    assert_eq!(resolve(&user, &sps).1.len(), 1);
}

#[test]
fn site_addresses_are_checked() {
    assert_eq!(
        site_path("https://contoso.sharepoint.com/sites/Finance/"),
        Ok(("contoso.sharepoint.com".into(), "/sites/Finance".into()))
    );
    assert_eq!(
        site_path(" https://Contoso.SharePoint.com ").map(|p| p.1),
        Ok("/".into())
    );
    for bad in [
        "contoso",
        "http://contoso.sharepoint.com/sites/x",
        "https://evil.example/sites/x",
    ] {
        assert!(site_path(bad).is_err(), "{bad}");
    }
    let mut a = Access::exchange(roles::EXCHANGE_ADMIN).with(Workload::SharePoint, true);
    a.sharepoint = SharePointAccess::Selected {
        site: "not a site".into(),
        role: SiteRole::Write,
    };
    assert!(matches!(
        resolve(&a, &resources()).1[..],
        [Problem::SiteAddress(_)]
    ));
}

fn choices(access: Access) -> Choices {
    Choices {
        target: Target::New {
            name: "Ops automation".into(),
            unique_name: "unattended-00".into(),
        },
        access,
        validity_days: 365,
    }
}

#[test]
fn the_plan_grants_every_permission_and_role_and_flags_the_broad_ones() {
    let mut a = all_five();
    a.graph.push("Mail.ReadWrite".into());
    let t = tenant_with(&[roles::GLOBAL_ADMIN]);
    let p = plan(&t, &choices(a));
    assert!(p.blockers.is_empty(), "{:?}", p.blockers);
    let grant = p
        .steps
        .iter()
        .find(|s| s.kind == StepKind::Grant)
        .expect("grant");
    // One assignment per distinct permission, each on its own API's principal.
    assert_eq!(grant.requests.len(), p.permissions.len());
    assert!(
        grant
            .requests
            .iter()
            .any(|r| r.starts_with("POST /servicePrincipals/sharepoint-sp/appRoleAssignedTo"))
    );
    let role = p
        .steps
        .iter()
        .find(|s| s.kind == StepKind::Role)
        .expect("role");
    assert_eq!(role.requests.len(), 3);
    assert!(role.summary.contains("Teams Administrator"));
    let broad: Vec<&str> = p
        .permissions
        .iter()
        .filter(|g| g.broad.is_some())
        .map(|g| g.value.as_str())
        .collect();
    assert_eq!(
        broad,
        [
            "Mail.ReadWrite",
            "Group.ReadWrite.All",
            "Sites.FullControl.All"
        ]
    );
    // The app declares them all in the create request.
    let create = &p.steps[0].requests[0];
    for g in &p.permissions {
        assert!(create.contains(&g.id), "{} missing from {create}", g.value);
    }
    // Graph's app roles can be granted only by Global or Privileged Role Administrators.
    let cloud_admin = tenant_with(&[roles::CLOUD_APPLICATION_ADMIN]);
    let warned = plan(&cloud_admin, &choices(all_five()));
    assert!(
        warned.warnings[0].contains("granting Microsoft Graph application permissions needs Global Administrator or Privileged Role Administrator"),
        "{:?}",
        warned.warnings
    );
}

#[test]
fn a_missing_api_or_unknown_name_blocks_before_any_write() {
    let mut t = tenant_with(&[roles::GLOBAL_ADMIN]);
    t.resources.retain(|sp| sp.app_id != TEAMS.app_id);
    let p = plan(&t, &choices(all_five()));
    assert!(matches!(
        &p.blockers[..],
        [Blocker::Access(Problem::ResourceMissing { resource, .. })] if *resource == TEAMS
    ));
    let mut typo = Access::exchange(roles::EXCHANGE_ADMIN).with(Workload::Graph, true);
    typo.graph = vec!["Reports.Read.Al".into()];
    let p = plan(&tenant_with(&[roles::GLOBAL_ADMIN]), &choices(typo));
    assert_eq!(p.blockers.len(), 1);
    assert!(p.blockers[0].to_string().contains("Reports.Read.Al"));
}

#[test]
fn the_role_group_option_assigns_no_entra_role_and_a_site_grant_is_a_step() {
    let mut a = Access::exchange(roles::EXCHANGE_ADMIN);
    a.exchange = ExchangeRbac::RoleGroup("View-Only Organization Management".into());
    a = a.with(Workload::SharePoint, true);
    a.sharepoint = SharePointAccess::Selected {
        site: "https://contoso.sharepoint.com/sites/Finance".into(),
        role: SiteRole::Read,
    };
    let p = plan(&tenant_with(&[roles::GLOBAL_ADMIN]), &choices(a));
    assert!(p.blockers.is_empty(), "{:?}", p.blockers);
    let role = p
        .steps
        .iter()
        .find(|s| s.kind == StepKind::Role)
        .expect("role");
    assert_eq!(role.action, Action::Keep);
    assert!(role.requests.is_empty());
    assert!(role.summary.contains("View-Only Organization Management"));
    let site = p
        .steps
        .iter()
        .find(|s| s.kind == StepKind::Site)
        .expect("site");
    assert!(site.requests[0].starts_with("GET /sites/contoso.sharepoint.com:/sites/Finance"));
    assert!(site.requests[2].contains("\"roles\":[\"read\"]"));
    let values: Vec<&str> = p.permissions.iter().map(|g| g.value.as_str()).collect();
    assert_eq!(values, ["Exchange.ManageAsApp", "Sites.Selected"]);
}

fn facts() -> RunFacts {
    RunFacts {
        certificate: CertificateFacts {
            app_id: "11111111-2222-4333-8444-555555555555".into(),
            organization: "contoso.onmicrosoft.com".into(),
            thumbprint: "83213AEAC56D61C97AEE5C1528F4AC5EBA7321C1".into(),
            pfx_file: "ops.pfx".into(),
            compliance: true,
            cloud: Cloud::Worldwide,
        },
        tenant_id: "0f1e2d3c-0000-4000-8000-000000000001".into(),
        service_principal_id: "aaaaaaaa-0000-4000-8000-0000000000sp".into(),
        app_name: "Ops automation".into(),
    }
}

#[test]
fn each_workload_gets_its_own_lines_with_the_real_values() {
    let mut a = all_five();
    a.exchange = ExchangeRbac::RoleGroup("Recipient Management".into());
    let out = lines(&a, &facts());
    let order: Vec<Workload> = out.iter().map(|(w, _)| *w).collect();
    assert_eq!(order, Workload::ALL);
    let text = |w: Workload| {
        out.iter()
            .find(|(x, _)| *x == w)
            .map(|(_, s)| {
                s.iter()
                    .map(|s| s.text.clone())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    };
    let exo = text(Workload::Exchange);
    assert!(exo.contains("New-ServicePrincipal -AppId '11111111-2222-4333-8444-555555555555' -ObjectId 'aaaaaaaa-0000-4000-8000-0000000000sp' -DisplayName 'Ops automation'"));
    assert!(exo.contains("Add-RoleGroupMember -Identity 'Recipient Management' -Member 'aaaaaaaa-0000-4000-8000-0000000000sp'"));
    assert!(
        !exo.contains("New-RoleGroup"),
        "a built-in group is not made"
    );
    assert!(text(Workload::Compliance).contains("Connect-IPPSSession -AppId '11111111-2222-4333-8444-555555555555' -Organization 'contoso.onmicrosoft.com'"));
    assert!(text(Workload::Graph).contains("Connect-MgGraph -ClientId '11111111-2222-4333-8444-555555555555' -TenantId '0f1e2d3c-0000-4000-8000-000000000001' -Certificate $cert"));
    assert!(text(Workload::Teams).contains("Connect-MicrosoftTeams -ApplicationId '11111111-2222-4333-8444-555555555555' -TenantId '0f1e2d3c-0000-4000-8000-000000000001' -Certificate $cert"));
    assert!(text(Workload::Teams).contains("New-Team"));
    let sp = text(Workload::SharePoint);
    assert!(sp.contains("Connect-PnPOnline -Url 'https://contoso.sharepoint.com' -ClientId '11111111-2222-4333-8444-555555555555' -Tenant 'contoso.onmicrosoft.com'"));
    assert!(sp.contains("Connect-SPOService -Url 'https://contoso-admin.sharepoint.com'"));

    // A custom group is made with a scope first.
    let mut custom = Access::exchange(roles::EXCHANGE_ADMIN);
    custom.exchange = ExchangeRbac::RoleGroup("Sales mailboxes".into());
    let exo = lines(&custom, &facts())[0]
        .1
        .iter()
        .map(|s| s.text.clone())
        .collect::<String>();
    assert!(exo.contains("New-RoleGroup -Name 'Sales mailboxes'"));

    // Sites.Selected: PnP on the site, the fallback grant, no Connect-SPOService.
    let mut selected = Access::exchange(roles::EXCHANGE_ADMIN)
        .with(Workload::Exchange, false)
        .with(Workload::SharePoint, true);
    selected.sharepoint = SharePointAccess::Selected {
        site: "https://contoso.sharepoint.com/sites/Finance".into(),
        role: SiteRole::FullControl,
    };
    let sp: String = lines(&selected, &facts())[0]
        .1
        .iter()
        .map(|s| s.text.clone())
        .collect();
    assert!(sp.contains("Connect-PnPOnline -Url 'https://contoso.sharepoint.com/sites/Finance'"));
    assert!(sp.contains(
        "Grant-PnPEntraIDAppSitePermission -AppId '11111111-2222-4333-8444-555555555555'"
    ));
    assert!(sp.contains("-Permissions FullControl"));
    assert!(!sp.contains("Connect-SPOService -Url"));

    // National clouds name their environment.
    let mut high = facts();
    high.certificate.cloud = Cloud::GccHigh;
    let out = lines(&all_five(), &high);
    let all: String = out
        .iter()
        .flat_map(|(_, s)| s.iter().map(|s| s.text.clone()))
        .collect();
    assert!(all.contains("-Environment USGov"));
    assert!(all.contains("-AzureEnvironment USGovernmentHigh"));
    assert_eq!(
        sharepoint_host("contoso.onmicrosoft.us", Cloud::DoD),
        "contoso.sharepoint-mil.us"
    );
}
