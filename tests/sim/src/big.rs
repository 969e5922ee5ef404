//! The `big` fixture: the default tenant at the size where paging and indirect roles matter.
//! 2,500 extra applications (the one the product must find, "Ops EXO automation", lies beyond
//! the first 999 in creation order), a user whose Global Administrator role comes only through
//! one of their 150 groups, 120 look-alike service principals listed before the managed identity,
//! a PIM-eligible (inactive) Global Administrator, and a custom role definition.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::directory::{Group, RoleDefinition, RoleEligibility};
use crate::fixtures::{ExistingCert, existing_certificates, user};
use crate::ids;
use crate::tenant::{
    AppRoleAssignment, Application, EXCHANGE_APP_ID, KeyCredential, MANAGE_AS_APP, RoleAssignment,
    ServicePrincipal, Tenant, roles,
};

/// How many applications the fixture adds (besides the one to find).
pub const EXTRA_APPS: usize = 2500;
/// Where "Ops EXO automation" sits among the extra applications (creation order).
pub const OPS_POSITION: usize = 1500;
/// The application the product must find.
pub const OPS_APP_NAME: &str = "Ops EXO automation";
/// Groups `groupadmin` belongs to (the last one role-assignable, with Global Administrator).
pub const GROUPS: usize = 150;
/// Look-alike service principals named `contoso-automation-app-NNN`.
pub const LOOKALIKES: usize = 120;

const TEAMS: [&str; 12] = [
    "Finance",
    "HR",
    "Sales",
    "Marketing",
    "IT Ops",
    "Legal",
    "Procurement",
    "Support",
    "Engineering",
    "Data Platform",
    "Security",
    "Facilities",
];
const SYSTEMS: [&str; 14] = [
    "SharePoint sync",
    "Teams bot",
    "Power BI connector",
    "Payroll export",
    "Backup agent",
    "CRM integration",
    "Ticketing webhook",
    "Mail archiver",
    "Reporting API",
    "Badge reader",
    "Inventory sync",
    "Calendar bridge",
    "Expense scanner",
    "Contract portal",
];
const STAGES: [&str; 4] = ["", " (dev)", " (test)", " (prod)"];

fn app(name: String) -> Application {
    Application {
        id: ids::guid(),
        app_id: ids::guid(),
        display_name: name,
        unique_name: None,
        sign_in_audience: "AzureADMyOrg".into(),
        key_credentials: vec![],
        password_credentials: vec![],
        created_date_time: None,
        required_resource_access: vec![],
        spa: json!({ "redirectUris": [] }),
    }
}

fn sp(app_id: &str, name: &str) -> ServicePrincipal {
    ServicePrincipal {
        id: ids::guid(),
        app_id: app_id.to_owned(),
        display_name: name.to_owned(),
        service_principal_type: "Application".into(),
        app_owner_organization_id: Some(crate::fixtures::TENANT_ID.into()),
        alternative_names: vec![],
        app_roles: vec![],
        oauth2_permission_scopes: vec![],
    }
}

/// Adds the `big` content to the default tenant.
pub fn enlarge(tenant: &mut Tenant) {
    add_apps(tenant);
    add_group_admin(tenant);
    add_lookalikes(tenant);
    add_eligible(tenant);
}

fn add_apps(tenant: &mut Tenant) {
    let exchange = tenant
        .exchange()
        .map(|sp| sp.id.clone())
        .unwrap_or_default();
    for i in 0..EXTRA_APPS {
        if i == OPS_POSITION {
            add_ops_app(tenant, &exchange);
        }
        let name = format!(
            "{} {}{}",
            TEAMS[i % TEAMS.len()],
            SYSTEMS[(i / TEAMS.len()) % SYSTEMS.len()],
            STAGES[(i / (TEAMS.len() * SYSTEMS.len())) % STAGES.len()]
        );
        tenant.applications.push(app(name));
    }
}

/// The app a previous run made: one certificate, `Exchange.ManageAsApp` declared and granted,
/// and a custom directory role on its service principal.
fn add_ops_app(tenant: &mut Tenant, exchange: &str) {
    let ExistingCert(der, start, end, name) = &existing_certificates()[2];
    let mut ops = app(OPS_APP_NAME.into());
    ops.key_credentials = vec![KeyCredential {
        key_id: Some(ids::guid()),
        kind: "AsymmetricX509Cert".into(),
        usage: "Verify".into(),
        key: Some(STANDARD.encode(der)),
        display_name: Some(format!("CN={name}")),
        start_date_time: Some(start.clone()),
        end_date_time: Some(end.clone()),
        custom_key_identifier: Some(crate::keys::thumbprint_b64(der)),
    }];
    ops.required_resource_access = vec![json!({
        "resourceAppId": EXCHANGE_APP_ID,
        "resourceAccess": [{ "id": MANAGE_AS_APP, "type": "Role" }]
    })];
    let ops_sp = sp(&ops.app_id, OPS_APP_NAME);
    tenant.app_role_assignments.push(AppRoleAssignment {
        id: ids::opaque_id(),
        app_role_id: MANAGE_AS_APP.into(),
        principal_id: ops_sp.id.clone(),
        principal_display_name: OPS_APP_NAME.into(),
        principal_type: "ServicePrincipal".into(),
        created_date_time: None,
        resource_id: exchange.to_owned(),
        resource_display_name: "Office 365 Exchange Online".into(),
    });
    let custom = RoleDefinition {
        id: ids::guid(),
        display_name: "Contoso Mailbox Auditor".into(),
        is_built_in: false,
    };
    tenant.role_assignments.push(RoleAssignment {
        id: ids::opaque_id(),
        role_definition_id: custom.id.clone(),
        principal_id: ops_sp.id.clone(),
        directory_scope_id: "/".into(),
    });
    tenant.role_definitions.push(custom);
    tenant.service_principals.push(ops_sp);
    tenant.applications.push(ops);
}

fn add_group_admin(tenant: &mut Tenant) {
    let admin = user("groupadmin", "Gil Group", &[]);
    for i in 1..=GROUPS {
        let last = i == GROUPS;
        tenant.groups.push(Group {
            id: ids::guid(),
            display_name: if last {
                "Tenant administrators (role-assignable)".into()
            } else {
                format!("{} team {i:03}", TEAMS[i % TEAMS.len()])
            },
            is_assignable_to_role: last,
            members: vec![admin.id.clone()],
            roles: if last {
                vec![roles::GLOBAL_ADMIN.into()]
            } else {
                vec![]
            },
        });
    }
    tenant.users.push(admin);
}

fn add_lookalikes(tenant: &mut Tenant) {
    let at = tenant
        .service_principals
        .iter()
        .position(|s| s.display_name == "contoso-automation")
        .unwrap_or(tenant.service_principals.len());
    let lookalikes: Vec<ServicePrincipal> = (1..=LOOKALIKES)
        .map(|i| sp(&ids::guid(), &format!("contoso-automation-app-{i:03}")))
        .collect();
    tenant.service_principals.splice(at..at, lookalikes);
}

fn add_eligible(tenant: &mut Tenant) {
    let eligible = user("eligible", "Eli Eligible", &[]);
    tenant.role_eligibilities.push(RoleEligibility {
        id: ids::opaque_id(),
        principal_id: eligible.id.clone(),
        role_definition_id: roles::GLOBAL_ADMIN.into(),
        directory_scope_id: "/".into(),
        member_type: "Direct".into(),
        start_date_time: ids::rfc3339(ids::now() - 30 * 86_400),
        end_date_time: None,
    });
    tenant.users.push(eligible);
}
