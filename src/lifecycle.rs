//! Day two: every principal holding `Exchange.ManageAsApp` with its certificates, their expiry
//! and last use (`read`), and safe changes to them (`change`, carried out by `apply`).
//!
//! How the holders are found
//! (<https://learn.microsoft.com/graph/api/serviceprincipal-list-approleassignedto>): the
//! Exchange service principal's `appRoleAssignedTo`, every page, filtered on the client by app
//! role (the list cannot be filtered by `appRoleId`); then, a `$batch` at a time, each holder's
//! service principal and roles, and each app registration by `appId` as a single object, so its
//! certificates come with their `key` (subject, key size and thumbprint are read from the
//! certificate itself).

pub mod change;
pub mod export;
pub mod inventory;
pub mod reminders;
pub mod when;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::cloud::Cloud;
use crate::graph::models::{
    AppRoleAssignment, Application, Collection, RoleAssignment, ServicePrincipal,
};
use crate::graph::{BatchItem, Client, GraphError, Retry, Transport, batch_answer};
use crate::onboard::{KeyEdit, Tenant, edit_app, requests, tenant_wide};
use crate::wellknown::{MANAGE_AS_APP, roles};

pub use change::{Change, Refusal};
pub use inventory::{Inventory, Principal, Usage, UsageGap};

/// Roles that may read the sign-in activity report
/// (<https://learn.microsoft.com/graph/api/reportroot-list-appcredentialsigninactivities?view=graph-rest-beta>,
/// completed from the sign-in reports' list in
/// <https://learn.microsoft.com/entra/identity/monitoring-health/concept-sign-ins>).
pub const REPORT_READERS: [&str; 6] = [
    roles::GLOBAL_ADMIN,
    roles::GLOBAL_READER,
    roles::REPORTS_READER,
    roles::SECURITY_ADMIN,
    roles::SECURITY_OPERATOR,
    roles::SECURITY_READER,
];

/// The delegated Graph permission the last-use column needs (admin consent), named under the
/// cloud's Graph resource when asked for.
pub const AUDIT_SCOPE: &str = "AuditLog.Read.All";

/// What `appRoleAssignedTo` is read with.
const ASSIGNED_TO_SELECT: &str =
    "id,appRoleId,principalId,principalType,principalDisplayName,resourceId,createdDateTime";
/// What each app is read with: single object, so `key` is in every keyCredential.
const APP_SELECT: &str =
    "id,appId,displayName,keyCredentials,passwordCredentials,requiredResourceAccess";
const SP_SELECT: &str = "id,appId,displayName,servicePrincipalType,alternativeNames";
/// `$batch` takes at most 20 requests
/// (<https://learn.microsoft.com/graph/json-batching>).
const BATCH: usize = 20;

/// An assignment as `appRoleAssignedTo` lists it.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Holder {
    #[serde(flatten)]
    assignment: AppRoleAssignment,
    #[serde(default)]
    principal_type: Option<String>,
    #[serde(default)]
    created_date_time: Option<String>,
}

/// Reads the inventory of `tenant` (as `onboard::discover` read it) in `cloud` at `now` (Unix
/// seconds).
pub async fn read<T: Transport>(
    client: &Client<T>,
    tenant: &Tenant,
    cloud: Cloud,
    now: i64,
) -> Result<Inventory, GraphError> {
    let exchange = tenant.exchange().ok_or_else(|| {
        GraphError::NotFound(
            "the Office 365 Exchange Online service principal (this tenant has no Exchange Online)"
                .into(),
        )
    })?;
    let assigned = format!(
        "/servicePrincipals/{}/appRoleAssignedTo?$select={ASSIGNED_TO_SELECT}",
        exchange.id
    );
    let (holders, usage) = futures::join!(
        client.get_all::<Holder>(&assigned, Retry::Read),
        usage(client, tenant, cloud)
    );
    let holders = holders?;
    // One entry per principal (a principal may hold the role twice after a race: the earliest
    // grant counts).
    let mut granted: BTreeMap<String, String> = BTreeMap::new();
    for h in holders.items.into_iter().filter(|h| {
        h.assignment.app_role_id.eq_ignore_ascii_case(MANAGE_AS_APP)
            && h.principal_type
                .as_deref()
                .is_none_or(|t| t == "ServicePrincipal")
    }) {
        let at = h.created_date_time.unwrap_or_default();
        granted
            .entry(h.assignment.principal_id)
            .and_modify(|e| {
                if !at.is_empty() && (e.is_empty() || at < *e) {
                    e.clone_from(&at);
                }
            })
            .or_insert(at);
    }
    let ids: Vec<String> = granted.keys().cloned().collect();
    let mut principals = vec![];
    let mut complete = holders.complete;
    // Service principals and roles: two requests per holder per batch.
    for chunk in ids.chunks(BATCH / 2) {
        let items: Vec<BatchItem> = chunk
            .iter()
            .flat_map(|id| {
                [
                    BatchItem {
                        id: "sp",
                        url: format!("/servicePrincipals/{id}?$select={SP_SELECT}"),
                    },
                    BatchItem {
                        id: "roles",
                        url: requests::roles_of(id).path,
                    },
                ]
            })
            .collect();
        let answers = client.batch(&items).await?;
        let mut read = vec![];
        for pair in answers.chunks(2) {
            let sp: ServicePrincipal = batch_answer(&pair[0])?;
            let first: Collection<RoleAssignment> = batch_answer(&pair[1])?;
            let roles = client.rest_of(first, Retry::Read).await?;
            complete &= roles.complete;
            read.push((sp, tenant_wide(&roles.items)));
        }
        // Their app registrations, by appId; none for managed identities.
        let wanted: Vec<&(ServicePrincipal, Vec<String>)> = read
            .iter()
            .filter(|(sp, _)| sp.service_principal_type.as_deref() != Some("ManagedIdentity"))
            .collect();
        let mut apps: BTreeMap<String, Application> = BTreeMap::new();
        for part in wanted.chunks(BATCH) {
            let items: Vec<BatchItem> = part
                .iter()
                .map(|(sp, _)| BatchItem {
                    id: "app",
                    url: format!("/applications(appId='{}')?$select={APP_SELECT}", sp.app_id),
                })
                .collect();
            let answers = client.batch(&items).await?;
            for (answer, (sp, _)) in answers.iter().zip(part) {
                match batch_answer::<Application>(answer) {
                    Ok(app) => {
                        apps.insert(sp.app_id.clone(), app);
                    }
                    // Registered in another tenant: nothing here to read.
                    Err(GraphError::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        for (sp, roles) in read {
            let app = apps.remove(&sp.app_id);
            let at = granted.get(&sp.id).cloned().unwrap_or_default();
            principals.push(inventory::principal(&sp, app, roles, at, &usage, now));
        }
    }
    principals.sort_by_key(|p| (p.display_name.to_lowercase(), p.app_id.clone()));
    Ok(Inventory {
        principals,
        usage,
        max_certificate_days: tenant.max_certificate_days,
        complete,
        now,
    })
}

/// The sign-in activity report, or why it cannot be read. Graph's reporting APIs name the
/// reason in their 403's code
/// (<https://learn.microsoft.com/entra/identity/monitoring-health/howto-analyze-activity-logs-with-microsoft-graph>,
/// "Common errors"): the permission, the admin's role, or the tenant's licence. A bare
/// `Authorization_RequestDenied` is told apart by the roles the sign-in showed.
async fn usage<T: Transport>(client: &Client<T>, tenant: &Tenant, cloud: Cloud) -> Usage {
    if !cloud.has_credential_usage_report() {
        return Usage::Unavailable(UsageGap::NotInCloud(cloud.label().to_owned()));
    }
    let path = client.beta("/reports/appCredentialSignInActivities");
    let reads_reports = tenant
        .admin_roles
        .iter()
        .any(|r| REPORT_READERS.contains(&r.as_str()));
    match client
        .get_all::<inventory::Activity>(&path, Retry::Read)
        .await
    {
        Ok(all) if all.complete => Usage::Read(all.items),
        Ok(_) => Usage::Unavailable(UsageGap::Failed(
            "the report is longer than the page reads".into(),
        )),
        Err(GraphError::Rejected {
            status: 403, code, ..
        }) => Usage::Unavailable(match code.as_str() {
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant" => UsageGap::Licence,
            // Consent alone would not help an admin without a reading role: say the role.
            "Authentication_MSGraphPermissionMissing" if reads_reports => UsageGap::Consent,
            "Authentication_MSGraphPermissionMissing" => UsageGap::Role,
            "Authentication_RequestFromUnsupportedUserRole" => UsageGap::Role,
            other => UsageGap::Failed(format!("Graph refused with {other}")),
        }),
        Err(GraphError::Denied(_)) => Usage::Unavailable(if reads_reports {
            UsageGap::Consent
        } else {
            UsageGap::Role
        }),
        Err(e) => Usage::Unavailable(UsageGap::Failed(e.to_string())),
    }
}

/// Carries out a checked change on the app as the inventory read it: read-modify-write by
/// `keyId`, then read back until it shows (everything not removed kept verbatim, anything kept
/// that went missing put back). Returns the app as finally read, and whether anything was
/// written.
pub async fn apply<T: Transport>(
    client: &Client<T>,
    principal: &Principal,
    change: &Change,
    removing: &[String],
) -> Result<(Application, bool), GraphError> {
    let shown = principal.app.as_ref().ok_or_else(|| {
        GraphError::Unexpected(Refusal::NotAnApp(principal.display_name.clone()).to_string())
    })?;
    let added: Option<Value> = match change {
        Change::Rotate(kc) => Some(requests::identified(kc)),
        Change::Remove(_) => None,
    };
    edit_app(
        client,
        shown,
        KeyEdit {
            add: added.as_ref(),
            remove: removing,
            declare: &[],
        },
    )
    .await
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
