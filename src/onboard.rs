//! Onboarding: read the tenant (`discover`, one `$batch`), compute the plan (`plan`, pure), and
//! apply it (`executor`, idempotent steps over the Graph client).

pub mod executor;
pub mod identity;
pub mod permissions;
pub mod plan;
pub mod requests;

use crate::graph::models::{
    AppManagementPolicy, AppRoleAssignment, Application, Collection, Me, Membership, Organization,
    RoleAssignment, ServicePrincipal,
};
use crate::graph::{BatchItem, Client, GraphError, Retry, Transport, batch_answer, encode, quote};
use crate::wellknown::{EXCHANGE_APP_ID, MANAGE_AS_APP};
use crate::workloads;

pub use executor::{Applied, KeyEdit, Progress, Run, StepFailure, StepStatus, edit_app};
pub use plan::{
    Action, Blocker, Choices, Existing, Gate, Identity, Plan, Step, StepKind, Target,
    early_warnings, plan,
};

/// Which kind of unattended access the admin wants to set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// An app registration with a certificate, for scheduled tasks and scripts on any OS.
    Certificate,
    /// An Azure Automation managed identity: no certificate at all.
    ManagedIdentity,
    /// Day two: every credential holding Exchange.ManageAsApp, its expiry and last use, and
    /// rotation.
    Inventory,
}

impl Path {
    /// A short name, to carry the choice across the sign-in redirect.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Certificate => "certificate",
            Self::ManagedIdentity => "identity",
            Self::Inventory => "inventory",
        }
    }

    /// The path `as_str` named.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Certificate, Self::ManagedIdentity, Self::Inventory]
            .into_iter()
            .find(|p| p.as_str() == text)
    }
}

/// The tenant as the signed-in admin sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    /// Tenant id.
    pub id: String,
    /// Organisation name.
    pub name: String,
    /// The initial `*.onmicrosoft.com` domain.
    pub initial_domain: String,
    /// Every verified domain (lower-case), to recognise a tenant asked for by domain.
    pub domains: Vec<String>,
    /// The admin's sign-in name.
    pub admin_upn: String,
    /// The admin's object id.
    pub admin_id: String,
    /// The admin's active directory roles (template ids), directly or through groups.
    pub admin_roles: Vec<String>,
    /// Whether every page of the admin's memberships was read.
    pub admin_roles_complete: bool,
    /// Roles the admin is eligible for in Privileged Identity Management but has not activated
    /// (read only when the active ones seem not to suffice: `eligible_roles`).
    pub admin_eligible_roles: Vec<String>,
    /// The service principals (with `appRoles`) of every API a workload may need that this
    /// tenant has: Exchange Online, Microsoft Graph, SharePoint Online, Teams' admin API.
    pub resources: Vec<ServicePrincipal>,
    /// The app-management policy's certificate lifetime cap; `None` also when unreadable
    /// (a 403 for roles that may not read policies: Graph then enforces it at write time).
    pub max_certificate_days: Option<u32>,
    /// Whether the policy could be read.
    pub policy_known: bool,
    /// App registrations (keys not included: lists never carry them).
    pub apps: Vec<Application>,
    /// Whether every page of the app list was read (false past the page bound).
    pub apps_complete: bool,
}

impl Tenant {
    /// Whether this is the tenant asked for on the start screen (by id or verified domain).
    pub fn is(&self, asked: &str) -> bool {
        self.id.eq_ignore_ascii_case(asked)
            || self.domains.iter().any(|d| d.eq_ignore_ascii_case(asked))
    }

    /// The Exchange Online service principal, if the tenant has Exchange Online.
    pub fn exchange(&self) -> Option<&ServicePrincipal> {
        self.resources
            .iter()
            .find(|sp| sp.app_id.eq_ignore_ascii_case(EXCHANGE_APP_ID))
    }

    /// Apps that already declare `Exchange.ManageAsApp` first, then by name.
    pub fn apps_for_choice(&self) -> Vec<&Application> {
        let mut apps: Vec<&Application> = self.apps.iter().collect();
        apps.sort_by_key(|a| (!a.declares_manage_as_app(), a.display_name.to_lowercase()));
        apps
    }
}

fn filter_path(collection: &str, filter: &str, select: &str) -> String {
    format!("/{collection}?$filter={}&$select={select}", encode(filter))
}

/// Reads everything the page needs to plan, in one round trip.
pub async fn discover<T: Transport>(client: &Client<T>) -> Result<Tenant, GraphError> {
    let items = [
        BatchItem { id: "org", url: "/organization?$select=id,displayName,verifiedDomains".into() },
        BatchItem { id: "me", url: "/me?$select=id,displayName,userPrincipalName".into() },
        // Groups come first and a role held through a role-assignable group may be on a later
        // page: every page is read.
        BatchItem { id: "roles", url: "/me/transitiveMemberOf?$select=id,roleTemplateId".into() },
        BatchItem { id: "policy", url: "/policies/defaultAppManagementPolicy".into() },
        BatchItem {
            id: "apps",
            url: "/applications?$select=id,appId,displayName,requiredResourceAccess,keyCredentials&$top=999".into(),
        },
    ];
    // Each API's principal with its app roles, to look permission ids up by value.
    let items: Vec<BatchItem> = items
        .into_iter()
        .chain(workloads::RESOURCES.iter().map(|r| BatchItem {
            id: r.app_id,
            url: filter_path(
                "servicePrincipals",
                &format!("appId eq {}", quote(r.app_id)),
                "id,appId,displayName,appRoles",
            ),
        }))
        .collect();
    let answers = client.batch(&items).await?;
    let org: Collection<Organization> = batch_answer(&answers[0])?;
    let org = org
        .value
        .into_iter()
        .next()
        .ok_or_else(|| GraphError::Unexpected("no organization in this tenant".into()))?;
    let me: Me = batch_answer(&answers[1])?;
    let roles: Collection<Membership> = batch_answer(&answers[2])?;
    let policy: Result<AppManagementPolicy, GraphError> = batch_answer(&answers[3]);
    let apps: Collection<Application> = batch_answer(&answers[4])?;
    let mut resources = Vec::new();
    for answer in &answers[5..] {
        let found: Collection<ServicePrincipal> = batch_answer(answer)?;
        resources.extend(found.value);
    }
    // The rest of the pages of the two lists that can be long, both at once.
    let (roles, apps) = futures::join!(
        client.rest_of(roles, Retry::Read),
        client.rest_of(apps, Retry::Read)
    );
    let (roles, apps) = (roles?, apps?);
    let (admin_roles_complete, apps_complete) = (roles.complete, apps.complete);
    let mut tenant = Tenant {
        initial_domain: org.initial_domain().unwrap_or_default().to_owned(),
        domains: org
            .verified_domains
            .iter()
            .map(|d| d.name.to_ascii_lowercase())
            .collect(),
        id: org.id,
        name: org.display_name.unwrap_or_default(),
        admin_upn: me.user_principal_name,
        admin_id: me.id,
        admin_roles: roles
            .items
            .into_iter()
            .filter(|m| m.odata_type.as_deref() == Some("#microsoft.graph.directoryRole"))
            .filter_map(|m| m.role_template_id)
            .collect(),
        admin_roles_complete,
        admin_eligible_roles: vec![],
        resources,
        max_certificate_days: policy
            .as_ref()
            .ok()
            .and_then(AppManagementPolicy::max_certificate_days),
        policy_known: policy.is_ok(),
        apps: apps.items,
        apps_complete,
    };
    // Only when no role that writes anything is active: is one merely eligible in PIM?
    if !tenant
        .admin_roles
        .iter()
        .any(|r| plan::WRITER_ROLES.contains(&r.as_str()))
    {
        tenant.admin_eligible_roles = eligible_roles(client, &tenant).await;
    }
    Ok(tenant)
}

/// The admin's roles that are eligible in Privileged Identity Management but not active
/// (<https://learn.microsoft.com/graph/api/rbacapplication-list-roleeligibilityscheduleinstances>).
/// Read only when the active roles seem not to suffice, to say "activate it in PIM" instead of
/// "you lack it"; a tenant without PIM, or a refusal, gives an empty list.
pub async fn eligible_roles<T: Transport>(client: &Client<T>, tenant: &Tenant) -> Vec<String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Eligibility {
        role_definition_id: String,
        #[serde(default)]
        directory_scope_id: Option<String>,
    }
    let path = filter_path(
        "roleManagement/directory/roleEligibilityScheduleInstances",
        &format!("principalId eq {}", quote(&tenant.admin_id)),
        "id,roleDefinitionId,principalId,directoryScopeId",
    );
    match client.get_all::<Eligibility>(&path, Retry::Read).await {
        Ok(all) => all
            .items
            .into_iter()
            .filter(|e| e.directory_scope_id.as_deref().is_none_or(|s| s == "/"))
            .map(|e| e.role_definition_id)
            .filter(|r| !tenant.admin_roles.contains(r))
            .collect(),
        Err(_) => vec![],
    }
}

/// Reads an existing app in full: its certificates (with `key`, single-object `$select`), its
/// service principal, and that principal's grant and roles.
pub async fn inspect<T: Transport>(
    client: &Client<T>,
    app_object_id: &str,
) -> Result<Existing, GraphError> {
    let app: Application = client
        .get(&format!("/applications/{app_object_id}?$select=id,appId,displayName,keyCredentials,requiredResourceAccess"))
        .await?;
    let sps: Collection<ServicePrincipal> = client
        .get(&filter_path(
            "servicePrincipals",
            &format!("appId eq {}", quote(&app.app_id)),
            "id,appId,displayName",
        ))
        .await?;
    let Some(sp) = sps.value.into_iter().next() else {
        return Ok(Existing {
            app,
            service_principal: None,
            assignments: vec![],
            roles: vec![],
        });
    };
    let (assignments, roles) = grants(client, &sp.id).await?;
    Ok(Existing {
        app,
        service_principal: Some(sp),
        assignments,
        roles,
    })
}

/// The application permissions `principal` holds, and its tenant-wide directory roles.
pub async fn grants<T: Transport>(
    client: &Client<T>,
    principal: &str,
) -> Result<(Vec<AppRoleAssignment>, Vec<String>), GraphError> {
    let items = [
        BatchItem {
            id: "grants",
            url: requests::grants_of(principal).path,
        },
        BatchItem {
            id: "roles",
            url: requests::roles_of(principal).path,
        },
    ];
    let answers = client.batch(&items).await?;
    let assignments: Collection<AppRoleAssignment> = batch_answer(&answers[0])?;
    let roles: Collection<RoleAssignment> = batch_answer(&answers[1])?;
    let (assignments, roles) = futures::join!(
        client.rest_of(assignments, Retry::Read),
        client.rest_of(roles, Retry::Read)
    );
    Ok((assignments?.items, tenant_wide(&roles?.items)))
}

/// Whether the assignments include `Exchange.ManageAsApp` on this tenant's Exchange.
pub fn has_grant(assignments: &[AppRoleAssignment], tenant: &Tenant) -> bool {
    let exchange = tenant.exchange().map(|sp| sp.id.as_str());
    assignments.iter().any(|a| {
        a.app_role_id.eq_ignore_ascii_case(MANAGE_AS_APP)
            && Some(a.resource_id.as_str()) == exchange
    })
}

/// Role template ids assigned tenant-wide.
pub fn tenant_wide(assignments: &[RoleAssignment]) -> Vec<String> {
    assignments
        .iter()
        .filter(|r| r.directory_scope_id.as_deref().is_none_or(|s| s == "/"))
        .map(|r| r.role_definition_id.clone())
        .collect()
}

#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) mod tests;
