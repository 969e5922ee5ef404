//! The Azure side of the fixtures: Contoso's subscriptions, resource groups, Automation accounts
//! and Azure role assignments (rebuilt from the tenant at start and on every `/_sim/reset`, so
//! user object ids match), and the Azure Service Management API's service principal that every
//! tenant holds (the resource of ARM's delegated `user_impersonation` permission).

use serde_json::{Value, json};

use crate::arm_model::{
    AUTOMATION_CONTRIBUTOR, Account, Arm, OWNER, READER, RoleAssignment, Subscription,
    SystemIdentity, UserIdentity, role,
};
use crate::fixtures::{
    MI_CLIENT_ID, MI_OBJECT_ID, MICROSOFT_SERVICES_TENANT, TENANT_ID, UAMI_CLIENT_ID,
    UAMI_OBJECT_ID,
};
use crate::ids;
use crate::tenant::{ServicePrincipal, Tenant};

/// The Azure Service Management API (Azure Resource Manager's resource), the same appId in
/// every tenant.
pub const ASM_APP_ID: &str = "797f4846-ba00-4fd7-ba43-dac1f8f63013";
/// Its delegated `user_impersonation` permission.
pub const USER_IMPERSONATION_ID: &str = "41094075-9dad-400e-a0bd-54e686782033";

/// "Contoso Production": the subscription of the Automation account whose managed identity the
/// Graph fixtures already hold (its id is in that service principal's `alternativeNames`).
pub const PROD_SUBSCRIPTION: &str = "0a1b2c3d-0000-4000-8000-000000000001";
/// "Contoso Development".
pub const DEV_SUBSCRIPTION: &str = "0a1b2c3d-0000-4000-8000-000000000002";
/// The resource group of `contoso-automation` (as in the managed identity's resource id).
pub const OPS_RG: &str = "ops";
/// The resource group of the other production accounts.
pub const AUTOMATION_RG: &str = "automation-rg";
/// Where the user-assigned identity `ops-runbooks-identity` lives.
pub const UAMI_RESOURCE_ID: &str = "/subscriptions/0a1b2c3d-0000-4000-8000-000000000001/resourcegroups/ops/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ops-runbooks-identity";

/// The Azure Service Management API's service principal (`oauth2PermissionScopes` with
/// `user_impersonation`, a permission users may consent to themselves).
pub fn asm_service_principal() -> ServicePrincipal {
    ServicePrincipal {
        id: ids::guid(),
        app_id: ASM_APP_ID.into(),
        display_name: "Windows Azure Service Management API".into(),
        service_principal_type: "Application".into(),
        app_owner_organization_id: Some(MICROSOFT_SERVICES_TENANT.into()),
        alternative_names: vec![],
        app_roles: vec![],
        oauth2_permission_scopes: vec![json!({
            "id": USER_IMPERSONATION_ID,
            "value": "user_impersonation",
            "type": "User",
            "isEnabled": true,
            "adminConsentDisplayName": "Access Azure Service Management as organization users (preview)",
            "adminConsentDescription": "Allows the application to access the Azure Management Service API acting as users in the organization.",
            "userConsentDisplayName": "Access Azure Service Management as you (preview)",
            "userConsentDescription": "Allows the application to access Azure Service Management as you.",
        })],
    }
}

/// Adds the Azure Service Management API's service principal to a fixture tenant (last, so the
/// order of what came before does not change).
pub fn install_api(tenant: &mut Tenant) {
    if !tenant
        .service_principals
        .iter()
        .any(|sp| sp.app_id == ASM_APP_ID)
    {
        tenant.service_principals.push(asm_service_principal());
    }
}

fn user_id(tenant: &Tenant, name: &str) -> Option<(String, String)> {
    tenant
        .users
        .iter()
        .find(|u| u.user_principal_name.split('@').next() == Some(name) && u.home.is_none())
        .map(|u| (u.id.clone(), u.user_principal_name.clone()))
}

fn account(sub: &str, rg: &str, name: &str, created: &str) -> Account {
    Account {
        subscription_id: sub.into(),
        resource_group: rg.into(),
        name: name.into(),
        location: "westeurope".into(),
        system_identity: None,
        user_identities: vec![],
        tags: json!({}),
        created: created.into(),
        modified: created.into(),
        modules: vec![],
        runbooks: vec![],
        jobs: vec![],
        certificates: vec![],
    }
}

/// The Azure side of the fixture whose first tenant is `tenant` (only Contoso has
/// subscriptions; other tenants have none).
pub fn build(tenant: &Tenant) -> Arm {
    if tenant.id != TENANT_ID {
        return Arm::default();
    }
    let created = "2024-03-04T09:15:00+00:00";
    let mut automation = account(PROD_SUBSCRIPTION, OPS_RG, "contoso-automation", created);
    // On only when the Graph fixture holds its service principal (it always does today).
    if tenant
        .service_principals
        .iter()
        .any(|sp| sp.id == MI_OBJECT_ID)
    {
        automation.system_identity = Some(SystemIdentity {
            principal_id: MI_OBJECT_ID.into(),
            client_id: MI_CLIENT_ID.into(),
        });
    }
    if tenant
        .service_principals
        .iter()
        .any(|sp| sp.id == UAMI_OBJECT_ID)
    {
        automation.user_identities = vec![UAMI_RESOURCE_ID.into()];
    }
    let reports = account(PROD_SUBSCRIPTION, AUTOMATION_RG, "contoso-reports", created);
    let mut uami_only = account(
        PROD_SUBSCRIPTION,
        AUTOMATION_RG,
        "contoso-uami-only",
        created,
    );
    uami_only.user_identities = vec![UAMI_RESOURCE_ID.into()];
    let dev = account(
        DEV_SUBSCRIPTION,
        "dev-rg",
        "contoso-dev-automation",
        created,
    );

    let mut arm = Arm {
        subscriptions: vec![
            Subscription {
                subscription_id: PROD_SUBSCRIPTION.into(),
                display_name: "Contoso Production".into(),
                tenant_id: tenant.id.clone(),
                resource_groups: vec![OPS_RG.into(), AUTOMATION_RG.into()],
            },
            Subscription {
                subscription_id: DEV_SUBSCRIPTION.into(),
                display_name: "Contoso Development".into(),
                tenant_id: tenant.id.clone(),
                resource_groups: vec!["dev-rg".into()],
            },
        ],
        accounts: vec![automation, reports, uami_only, dev],
        user_identities: vec![UserIdentity {
            resource_id: UAMI_RESOURCE_ID.into(),
            principal_id: UAMI_OBJECT_ID.into(),
            client_id: UAMI_CLIENT_ID.into(),
        }],
        role_assignments: vec![],
    };
    let prod = format!("/subscriptions/{PROD_SUBSCRIPTION}");
    let dev = format!("/subscriptions/{DEV_SUBSCRIPTION}");
    let grants = [
        ("admin", OWNER, prod.clone()),
        ("admin", OWNER, dev),
        ("appadmin", AUTOMATION_CONTRIBUTOR, prod.clone()),
        (
            "appdev",
            AUTOMATION_CONTRIBUTOR,
            format!("{prod}/resourceGroups/{AUTOMATION_RG}"),
        ),
        ("user", READER, prod.clone()),
        ("gaonly", READER, prod),
    ];
    for (who, role_id, scope) in grants {
        if let Some((id, upn)) = user_id(tenant, who) {
            arm.role_assignments
                .push(assignment(&id, &upn, role_id, &scope));
        }
    }
    arm
}

/// A role assignment record.
pub fn assignment(principal: &str, name: &str, role_id: &str, scope: &str) -> RoleAssignment {
    RoleAssignment {
        id: format!(
            "{scope}/providers/Microsoft.Authorization/roleAssignments/{}",
            ids::guid()
        ),
        principal_id: principal.into(),
        principal_name: name.into(),
        role_definition_id: role_id.into(),
        role_name: role(role_id).map_or("", |r| r.name).into(),
        scope: scope.into(),
    }
}

/// For `/_sim/fixture`-style documentation in tests: who holds what.
pub fn summary(arm: &Arm) -> Value {
    json!(
        arm.role_assignments
            .iter()
            .map(
                |a| json!({ "principal": a.principal_name, "role": a.role_name, "scope": a.scope })
            )
            .collect::<Vec<_>>()
    )
}
