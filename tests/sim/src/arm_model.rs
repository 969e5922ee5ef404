//! The simulated Azure Resource Manager's data: subscriptions, Automation accounts with their
//! identities, modules, runbooks, jobs and certificate assets, and Azure RBAC (role definitions
//! and assignments on scopes). Pure data and rules; `arm.rs` does the HTTP.
//!
//! Shapes follow the Automation REST API 2023-11-01
//! (<https://github.com/Azure/azure-rest-api-specs/tree/main/specification/automation/resource-manager/Microsoft.Automation/stable/2023-11-01>)
//! and the built-in roles of
//! <https://learn.microsoft.com/azure/role-based-access-control/built-in-roles>.

use serde::Serialize;
use serde_json::{Value, json};

use crate::ids;

/// Owner (<https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/general#owner>).
pub const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
/// Contributor.
pub const CONTRIBUTOR: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";
/// Reader.
pub const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
/// Automation Contributor
/// (<https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/management-and-governance#automation-contributor>).
pub const AUTOMATION_CONTRIBUTOR: &str = "f353d9bd-d4a6-484e-a77a-8050b599b867";
/// Automation Operator.
pub const AUTOMATION_OPERATOR: &str = "d3881f73-407a-4167-8283-e981cbba0404";
/// Managed Identity Operator (assigns user-assigned identities).
pub const MANAGED_IDENTITY_OPERATOR: &str = "f1a07417-d97a-45cb-824c-7a7467783830";

/// A built-in role: id, name, actions, notActions.
pub struct RoleDefinition {
    pub id: &'static str,
    pub name: &'static str,
    pub actions: &'static [&'static str],
    pub not_actions: &'static [&'static str],
}

/// The built-in roles the simulator knows (Learn's definitions, abridged where noted).
pub const ROLES: [RoleDefinition; 6] = [
    RoleDefinition {
        id: OWNER,
        name: "Owner",
        actions: &["*"],
        not_actions: &[],
    },
    RoleDefinition {
        id: CONTRIBUTOR,
        name: "Contributor",
        actions: &["*"],
        not_actions: &[
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
            "Microsoft.Blueprint/blueprintAssignments/write",
            "Microsoft.Blueprint/blueprintAssignments/delete",
            "Microsoft.Compute/galleries/share/action",
            "Microsoft.Purview/consents/write",
            "Microsoft.Purview/consents/delete",
        ],
    },
    RoleDefinition {
        id: READER,
        name: "Reader",
        actions: &["*/read"],
        not_actions: &[],
    },
    RoleDefinition {
        id: AUTOMATION_CONTRIBUTOR,
        name: "Automation Contributor",
        actions: &[
            "Microsoft.Automation/automationAccounts/*",
            "Microsoft.Authorization/*/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
            "Microsoft.Insights/ActionGroups/*",
            "Microsoft.Insights/ActivityLogAlerts/*",
            "Microsoft.Insights/MetricAlerts/*",
            "Microsoft.Insights/ScheduledQueryRules/*",
            "Microsoft.Insights/diagnosticSettings/*",
            "Microsoft.OperationalInsights/workspaces/sharedKeys/action",
        ],
        not_actions: &[],
    },
    RoleDefinition {
        id: AUTOMATION_OPERATOR,
        name: "Automation Operator",
        actions: &[
            "Microsoft.Authorization/*/read",
            "Microsoft.Automation/automationAccounts/hybridRunbookWorkerGroups/read",
            "Microsoft.Automation/automationAccounts/jobs/read",
            "Microsoft.Automation/automationAccounts/jobs/resume/action",
            "Microsoft.Automation/automationAccounts/jobs/stop/action",
            "Microsoft.Automation/automationAccounts/jobs/streams/read",
            "Microsoft.Automation/automationAccounts/jobs/suspend/action",
            "Microsoft.Automation/automationAccounts/jobs/write",
            "Microsoft.Automation/automationAccounts/jobs/output/read",
            "Microsoft.Automation/automationAccounts/jobSchedules/read",
            "Microsoft.Automation/automationAccounts/jobSchedules/write",
            "Microsoft.Automation/automationAccounts/read",
            "Microsoft.Automation/automationAccounts/runbooks/read",
            "Microsoft.Automation/automationAccounts/schedules/read",
            "Microsoft.Automation/automationAccounts/schedules/write",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Support/*",
        ],
        not_actions: &[],
    },
    RoleDefinition {
        id: MANAGED_IDENTITY_OPERATOR,
        name: "Managed Identity Operator",
        actions: &[
            "Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
            "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
            "Microsoft.Authorization/*/read",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Support/*",
        ],
        not_actions: &[],
    },
];

/// The role definition with `id`.
pub fn role(id: &str) -> Option<&'static RoleDefinition> {
    ROLES.iter().find(|r| r.id.eq_ignore_ascii_case(id))
}

/// `pattern` (RBAC action syntax: `*` matches any run of characters) against `action`,
/// case-insensitively.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    fn go(p: &[u8], a: &[u8]) -> bool {
        match p.split_first() {
            None => a.is_empty(),
            Some((b'*', rest)) => (0..=a.len()).any(|i| go(rest, &a[i..])),
            Some((c, rest)) => a
                .split_first()
                .is_some_and(|(d, tail)| c.eq_ignore_ascii_case(d) && go(rest, tail)),
        }
    }
    go(pattern.as_bytes(), action.as_bytes())
}

/// Whether `scope` is `ancestor` or lies under it (ARM scopes are case-insensitive paths).
pub fn within_scope(scope: &str, ancestor: &str) -> bool {
    let (s, a) = (scope.to_ascii_lowercase(), ancestor.to_ascii_lowercase());
    let a = a.trim_end_matches('/');
    s == a || s.starts_with(&format!("{a}/"))
}

/// An Azure role assignment.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignment {
    pub id: String,
    pub principal_id: String,
    /// For `/_sim/state`: whom it names.
    pub principal_name: String,
    pub role_definition_id: String,
    pub role_name: String,
    pub scope: String,
}

/// A subscription.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub subscription_id: String,
    pub display_name: String,
    pub tenant_id: String,
    pub resource_groups: Vec<String>,
}

impl Subscription {
    /// `/subscriptions/{id}`.
    pub fn scope(&self) -> String {
        format!("/subscriptions/{}", self.subscription_id)
    }

    /// As `GET /subscriptions` lists it (Learn: "Subscriptions - List", 2022-12-01).
    pub fn json(&self) -> Value {
        json!({
            "id": self.scope(),
            "authorizationSource": "RoleBased",
            "managedByTenants": [],
            "subscriptionId": self.subscription_id,
            "tenantId": self.tenant_id,
            "displayName": self.display_name,
            "state": "Enabled",
            "subscriptionPolicies": {
                "locationPlacementId": "Public_2014-09-01",
                "quotaId": "PayAsYouGo_2014-09-01",
                "spendingLimit": "Off",
            },
            "tags": {},
        })
    }
}

/// A user-assigned managed identity (a `Microsoft.ManagedIdentity/userAssignedIdentities`
/// resource) the accounts can attach.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    pub resource_id: String,
    pub principal_id: String,
    pub client_id: String,
}

/// The system-assigned identity of an account, when on.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemIdentity {
    /// The service principal's object id (`identity.principalId`).
    pub principal_id: String,
    /// Its client (application) id.
    pub client_id: String,
}

/// A module import (runtime 5.1 `modules` or 7.2 `powerShell72Modules`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Module {
    pub name: String,
    /// `modules` or `powerShell72Modules`.
    pub collection: String,
    pub content_uri: String,
    /// The version the content link names.
    pub version: String,
    /// When the import started (simulated ms).
    pub started_ms: i64,
    /// How long it takes (ms).
    pub duration_ms: i64,
    /// `Some(message)`: the import ends Failed with it.
    pub failure: Option<String>,
    pub created: String,
}

/// The states an import walks through (the `ModuleProvisioningState` enum), before the end.
const IMPORT_STAGES: [&str; 6] = [
    "Creating",
    "ContentDownloaded",
    "ContentValidated",
    "ContentStored",
    "ModuleDataStored",
    "ActivitiesStored",
];

impl Module {
    /// `Succeeded`, `Failed` or the stage reached at `now_ms`.
    pub fn state(&self, now_ms: i64) -> &'static str {
        let elapsed = now_ms - self.started_ms;
        if elapsed >= self.duration_ms {
            return if self.failure.is_some() {
                "Failed"
            } else {
                "Succeeded"
            };
        }
        let step = (self.duration_ms / IMPORT_STAGES.len() as i64).max(1);
        let i = usize::try_from(elapsed.max(0) / step).unwrap_or(0);
        IMPORT_STAGES[i.min(IMPORT_STAGES.len() - 1)]
    }

    /// Whether it ended well.
    pub fn succeeded(&self, now_ms: i64) -> bool {
        self.state(now_ms) == "Succeeded"
    }

    /// The major version, when it parses.
    pub fn major(&self) -> Option<u32> {
        self.version.split('.').next()?.parse().ok()
    }

    /// As ARM answers it (example `createOrUpdatePowerShell72Module.json`).
    pub fn json(&self, account_id: &str, location: &str, now_ms: i64) -> Value {
        let state = self.state(now_ms);
        let done = state == "Succeeded";
        let (kind, segment) = if self.collection == "powerShell72Modules" {
            (
                "Microsoft.Automation/AutomationAccounts/PowerShell72Modules",
                "powershell72modules",
            )
        } else {
            ("Microsoft.Automation/AutomationAccounts/Modules", "modules")
        };
        let error = match (&self.failure, state) {
            (Some(message), "Failed") => json!({ "code": null, "message": message }),
            _ => json!({ "code": null, "message": null }),
        };
        json!({
            "id": format!("{account_id}/{segment}/{}", self.name),
            "name": self.name,
            "type": kind,
            "location": location,
            "tags": {},
            "etag": null,
            "properties": {
                "isGlobal": false,
                "version": if done { json!(self.version) } else { Value::Null },
                "sizeInBytes": if done { 4_718_592 } else { 0 },
                "activityCount": if done { 56 } else { 0 },
                "provisioningState": state,
                "contentLink": { "uri": self.content_uri, "version": self.version },
                "creationTime": self.created,
                "lastModifiedTime": self.created,
                "error": error,
                "isComposite": false,
            },
        })
    }
}

/// A runbook.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Runbook {
    pub name: String,
    /// `PowerShell72`, `PowerShell`, …
    pub runbook_type: String,
    pub description: String,
    pub log_progress: bool,
    pub log_verbose: bool,
    /// The draft's script, if one was written.
    pub draft: Option<String>,
    /// The published script.
    pub published: Option<String>,
    /// A publish under way: operation id and when it completes (simulated ms).
    pub publishing: Option<(String, i64)>,
    /// The last publish that completed (its operation id).
    pub last_publish: Option<String>,
    pub created: String,
    pub modified: String,
    pub job_count: u32,
}

impl Runbook {
    /// `New` (never published), `Edit` (a draft differs), `Published`.
    pub fn state(&self) -> &'static str {
        match (&self.published, &self.draft) {
            (None, _) => "New",
            (Some(p), Some(d)) if p != d => "Edit",
            _ => "Published",
        }
    }

    pub fn json(&self, account_id: &str, location: &str) -> Value {
        json!({
            "id": format!("{account_id}/runbooks/{}", self.name),
            "name": self.name,
            "type": "Microsoft.Automation/AutomationAccounts/Runbooks",
            "location": location,
            "tags": {},
            "etag": format!("\"{}\"", ids::opaque_id()),
            "properties": {
                "runbookType": self.runbook_type,
                "state": self.state(),
                "provisioningState": "Succeeded",
                "logVerbose": self.log_verbose,
                "logProgress": self.log_progress,
                "logActivityTrace": 0,
                "jobCount": self.job_count,
                "parameters": {},
                "outputTypes": [],
                "description": self.description,
                "creationTime": self.created,
                "lastModifiedTime": self.modified,
            },
        })
    }
}

/// One line of a job's streams.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamLine {
    /// `Output`, `Error`, `Warning`, `Verbose`.
    pub stream_type: String,
    pub text: String,
}

/// How a job ended (decided when it starts running).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub completed: bool,
    pub streams: Vec<StreamLine>,
    pub exception: Option<String>,
}

/// A job.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub name: String,
    pub job_id: String,
    pub runbook: String,
    pub runbook_type: String,
    /// The published script when the job was created.
    #[serde(skip)]
    pub script: String,
    pub run_on: String,
    pub parameters: Value,
    pub created_ms: i64,
    pub duration_ms: i64,
    pub outcome: Option<Outcome>,
}

impl Job {
    /// When it leaves `New`, then `Activating` (ms after creation).
    fn marks(&self) -> (i64, i64) {
        let d = self.duration_ms.max(3);
        (d / 6, d / 2)
    }

    /// When it starts running (simulated ms): the moment its outcome is decided.
    pub fn running_at(&self) -> i64 {
        self.created_ms + self.marks().1
    }

    /// Its status at `now_ms`.
    pub fn status(&self, now_ms: i64) -> &'static str {
        let elapsed = now_ms - self.created_ms;
        let (new, activating) = self.marks();
        if elapsed < new {
            "New"
        } else if elapsed < activating || self.outcome.is_none() {
            "Activating"
        } else if elapsed < self.duration_ms {
            "Running"
        } else if self.outcome.as_ref().is_some_and(|o| o.completed) {
            "Completed"
        } else {
            "Failed"
        }
    }

    /// The Output stream as text (`GET …/jobs/{name}/output`).
    pub fn output(&self, now_ms: i64) -> String {
        if !matches!(self.status(now_ms), "Completed" | "Failed") {
            return String::new();
        }
        self.outcome
            .as_ref()
            .map(|o| {
                o.streams
                    .iter()
                    .filter(|l| l.stream_type == "Output")
                    .map(|l| format!("{}\n", l.text))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn json(&self, account_id: &str, now_ms: i64) -> Value {
        let status = self.status(now_ms);
        let ended = matches!(status, "Completed" | "Failed");
        let (_, activating) = self.marks();
        let start = (status != "New" && status != "Activating")
            .then(|| ms_rfc3339(self.created_ms + activating));
        let end = ended.then(|| ms_rfc3339(self.created_ms + self.duration_ms));
        let exception = if status == "Failed" {
            self.outcome.as_ref().and_then(|o| o.exception.clone())
        } else {
            None
        };
        json!({
            "id": format!("{account_id}/jobs/{}", self.name),
            "name": self.name,
            "type": "Microsoft.Automation/AutomationAccounts/Jobs",
            "properties": {
                "jobId": self.job_id,
                "runbook": { "name": self.runbook },
                "provisioningState": if ended { if status == "Completed" { "Succeeded" } else { "Failed" } } else { "Processing" },
                "creationTime": ms_rfc3339(self.created_ms),
                "startTime": start,
                "endTime": end,
                "exception": exception,
                "lastModifiedTime": ms_rfc3339(now_ms.min(self.created_ms + self.duration_ms)),
                "lastStatusModifiedTime": ms_rfc3339(now_ms.min(self.created_ms + self.duration_ms)),
                "status": status,
                "statusDetails": "None",
                "parameters": self.parameters,
                "runOn": self.run_on,
                "startedBy": null,
            },
        })
    }
}

/// A certificate asset (the PFX and its password are never kept).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Certificate {
    pub name: String,
    /// SHA-1, upper-case hex.
    pub thumbprint: String,
    pub expiry_time: Option<String>,
    pub is_exportable: bool,
    pub description: String,
    pub created: String,
    pub modified: String,
    /// Whether it came with its private key (a PFX) or not (a `.cer`).
    pub has_private_key: bool,
}

impl Certificate {
    pub fn json(&self, account_id: &str) -> Value {
        json!({
            "id": format!("{account_id}/certificates/{}", self.name),
            "name": self.name,
            "type": "Microsoft.Automation/AutomationAccounts/Certificates",
            "properties": {
                "thumbprint": self.thumbprint,
                "expiryTime": self.expiry_time,
                "isExportable": self.is_exportable,
                "description": self.description,
                "creationTime": self.created,
                "lastModifiedTime": self.modified,
            },
        })
    }
}

/// An Automation account.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub subscription_id: String,
    pub resource_group: String,
    pub name: String,
    pub location: String,
    pub system_identity: Option<SystemIdentity>,
    /// Resource ids of the attached user-assigned identities.
    pub user_identities: Vec<String>,
    pub tags: Value,
    pub created: String,
    pub modified: String,
    pub modules: Vec<Module>,
    pub runbooks: Vec<Runbook>,
    pub jobs: Vec<Job>,
    pub certificates: Vec<Certificate>,
}

impl Account {
    /// Its resource id (ARM's casing).
    pub fn id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Automation/automationAccounts/{}",
            self.subscription_id, self.resource_group, self.name
        )
    }

    /// How its system-assigned identity's service principal names it in `alternativeNames`
    /// (lower-case `resourcegroups`, as Graph shows managed identities).
    pub fn alternative_name(&self) -> String {
        format!(
            "/subscriptions/{}/resourcegroups/{}/providers/Microsoft.Automation/automationAccounts/{}",
            self.subscription_id, self.resource_group, self.name
        )
    }

    /// `identity.type`.
    pub fn identity_type(&self) -> &'static str {
        match (
            self.system_identity.is_some(),
            !self.user_identities.is_empty(),
        ) {
            (true, true) => "SystemAssigned, UserAssigned",
            (true, false) => "SystemAssigned",
            (false, true) => "UserAssigned",
            (false, false) => "None",
        }
    }

    pub fn json(&self, tenant_id: &str, identities: &[UserIdentity]) -> Value {
        let mut identity = json!({ "type": self.identity_type() });
        if let Some(system) = &self.system_identity {
            identity["principalId"] = json!(system.principal_id);
            identity["tenantId"] = json!(tenant_id);
        }
        if !self.user_identities.is_empty() {
            let map: serde_json::Map<String, Value> = self
                .user_identities
                .iter()
                .map(|id| {
                    let known = identities
                        .iter()
                        .find(|u| u.resource_id.eq_ignore_ascii_case(id));
                    (
                        id.clone(),
                        json!({
                            "principalId": known.map(|u| u.principal_id.clone()),
                            "clientId": known.map(|u| u.client_id.clone()),
                        }),
                    )
                })
                .collect();
            identity["userAssignedIdentities"] = Value::Object(map);
        }
        json!({
            "id": self.id(),
            "name": self.name,
            "type": "Microsoft.Automation/AutomationAccounts",
            "location": self.location,
            "tags": self.tags,
            "etag": null,
            "identity": identity,
            "properties": {
                "sku": { "name": "Basic", "family": null, "capacity": null },
                "state": "Ok",
                "creationTime": self.created,
                "lastModifiedTime": self.modified,
                "lastModifiedBy": null,
                "publicNetworkAccess": true,
                "disableLocalAuth": false,
                "encryption": { "keySource": "Microsoft.Automation", "identity": {} },
            },
        })
    }
}

/// The simulated ARM: everything above, for every tenant of the fixture.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Arm {
    pub subscriptions: Vec<Subscription>,
    pub accounts: Vec<Account>,
    pub user_identities: Vec<UserIdentity>,
    pub role_assignments: Vec<RoleAssignment>,
}

impl Arm {
    /// Whether `principal` may do `action` at `scope`: some assignment at the scope or above it
    /// grants the action and its role does not exclude it.
    pub fn allowed(&self, principal: &str, action: &str, scope: &str) -> bool {
        self.role_assignments.iter().any(|a| {
            a.principal_id == principal
                && within_scope(scope, &a.scope)
                && role(&a.role_definition_id).is_some_and(|r| {
                    r.actions.iter().any(|p| action_matches(p, action))
                        && !r.not_actions.iter().any(|p| action_matches(p, action))
                })
        })
    }

    /// Whether `principal` holds any role at or under `scope` (or above it).
    pub fn has_any_role(&self, principal: &str, scope: &str) -> bool {
        self.role_assignments.iter().any(|a| {
            a.principal_id == principal
                && (within_scope(&a.scope, scope) || within_scope(scope, &a.scope))
        })
    }

    /// The roles that apply to `principal` at `scope` (assigned there or above).
    pub fn roles_at(&self, principal: &str, scope: &str) -> Vec<&'static RoleDefinition> {
        self.role_assignments
            .iter()
            .filter(|a| a.principal_id == principal && within_scope(scope, &a.scope))
            .filter_map(|a| role(&a.role_definition_id))
            .collect()
    }

    pub fn subscription(&self, id: &str) -> Option<&Subscription> {
        self.subscriptions
            .iter()
            .find(|s| s.subscription_id.eq_ignore_ascii_case(id))
    }

    /// The index of the account, by subscription, resource group and name (case-insensitive).
    pub fn account_index(&self, sub: &str, rg: &str, name: &str) -> Option<usize> {
        self.accounts.iter().position(|a| {
            a.subscription_id.eq_ignore_ascii_case(sub)
                && a.resource_group.eq_ignore_ascii_case(rg)
                && a.name.eq_ignore_ascii_case(name)
        })
    }
}

/// Simulated ms as RFC 3339 with ARM's `+00:00` offset.
pub fn ms_rfc3339(ms: i64) -> String {
    ids::rfc3339(ms.div_euclid(1000)).replace('Z', "+00:00")
}
