//! Azure Automation over Azure Resource Manager, with the signed-in admin's own Azure rights:
//! find the Automation accounts, turn on the system-assigned identity, import
//! ExchangeOnlineManagement for the runbook's runtime, create and publish a starter runbook,
//! upload a certificate asset (only when the admin opts in), start a job and read its output.
//! Pure here (models, requests, the runbook's text, the plan); `executor` runs it over the same
//! retrying client as Graph (ARM's errors have Graph's shape; `Retry-After` on 429).
//!
//! Every call, its API version, the Azure role it needs and its sources: `azure/REFERENCE.md`.
//! Sources: Automation REST API 2023-11-01
//! (<https://learn.microsoft.com/rest/api/automation/>), subscriptions
//! (<https://learn.microsoft.com/rest/api/resources/subscriptions/list>), permissions
//! (<https://learn.microsoft.com/rest/api/authorization/permissions/list-for-resource>),
//! asynchronous operations
//! (<https://learn.microsoft.com/azure/azure-resource-manager/management/async-operations>),
//! Exchange with a managed identity
//! (<https://learn.microsoft.com/powershell/exchange/connect-exo-powershell-managed-identity>).

pub mod executor;
pub mod plan;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::onboard::requests::Call;

/// The Automation resource provider's API version.
pub const AUTOMATION_API: &str = "2023-11-01";
/// The subscriptions API version.
pub const SUBSCRIPTIONS_API: &str = "2022-12-01";
/// The permissions API version.
pub const PERMISSIONS_API: &str = "2022-04-01";
/// The module the runbook needs, and the version the page imports (3.x: app-only with a
/// managed identity needs 2.0.5 or later; 3.x runs on PowerShell 7).
pub const MODULE: &str = "ExchangeOnlineManagement";
/// The version imported from the PowerShell Gallery.
pub const MODULE_VERSION: &str = "3.7.1";
/// The starter runbook's name.
pub const RUNBOOK: &str = "Connect-ExchangeOnline-Unattended";
/// The certificate asset's name (certificate path, opt-in).
pub const CERTIFICATE_ASSET: &str = "EXO-App";
/// Automation Contributor: the least built-in role that does every step here
/// (<https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/management-and-governance#automation-contributor>).
pub const AUTOMATION_CONTRIBUTOR: &str = "Automation Contributor";

/// A PowerShell runtime of Azure Automation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// PowerShell 7.2 (the default: ExchangeOnlineManagement 3.x's home).
    PowerShell72,
    /// Windows PowerShell 5.1.
    PowerShell51,
}

impl Runtime {
    /// The runbook type ARM names.
    pub fn runbook_type(self) -> &'static str {
        match self {
            Self::PowerShell72 => "PowerShell72",
            Self::PowerShell51 => "PowerShell",
        }
    }

    /// The account's module collection for this runtime.
    pub fn modules(self) -> &'static str {
        match self {
            Self::PowerShell72 => "powerShell72Modules",
            Self::PowerShell51 => "modules",
        }
    }

    /// On the page.
    pub fn label(self) -> &'static str {
        match self {
            Self::PowerShell72 => "PowerShell 7.2",
            Self::PowerShell51 => "Windows PowerShell 5.1",
        }
    }
}

/// A subscription the admin can see.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// `/subscriptions/{id}`.
    pub id: String,
    /// The GUID.
    pub subscription_id: String,
    /// Its name.
    #[serde(default)]
    pub display_name: String,
}

/// An Automation account's identity block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountIdentity {
    /// `None`, `SystemAssigned`, `UserAssigned` or `SystemAssigned, UserAssigned`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// The system-assigned identity's service principal object id, when on.
    #[serde(default)]
    pub principal_id: Option<String>,
    /// User-assigned identities by resource id.
    #[serde(default)]
    pub user_assigned_identities: Option<serde_json::Map<String, Value>>,
}

/// An Automation account.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// Its resource id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its region.
    #[serde(default)]
    pub location: String,
    /// Its identity.
    #[serde(default)]
    pub identity: Option<AccountIdentity>,
}

impl Account {
    /// Whether the system-assigned identity is on.
    pub fn system_identity(&self) -> Option<&str> {
        let identity = self.identity.as_ref()?;
        identity
            .kind
            .as_deref()
            .is_some_and(|k| k.contains("SystemAssigned"))
            .then_some(identity.principal_id.as_deref())
            .flatten()
    }

    /// Its resource group, from the resource id.
    pub fn resource_group(&self) -> &str {
        segment_after(&self.id, "resourceGroups")
    }

    /// Its subscription id, from the resource id.
    pub fn subscription(&self) -> &str {
        segment_after(&self.id, "subscriptions")
    }
}

fn segment_after<'a>(id: &'a str, key: &str) -> &'a str {
    let mut parts = id.split('/');
    while let Some(p) = parts.next() {
        if p.eq_ignore_ascii_case(key) {
            return parts.next().unwrap_or_default();
        }
    }
    ""
}

/// A module as ARM reports it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Module {
    /// Its properties.
    #[serde(default)]
    pub properties: ModuleProperties,
}

/// A module's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModuleProperties {
    /// `Creating`, `ContentDownloaded`, …, `Succeeded`, `Failed`.
    #[serde(default)]
    pub provisioning_state: Option<String>,
    /// Its version.
    #[serde(default)]
    pub version: Option<String>,
    /// Why the import failed.
    #[serde(default)]
    pub error: Option<Value>,
}

impl Module {
    /// Where the import stands.
    pub fn state(&self) -> ImportState {
        match self.properties.provisioning_state.as_deref() {
            Some(s) if s.eq_ignore_ascii_case("Succeeded") => ImportState::Succeeded,
            Some(s) if s.eq_ignore_ascii_case("Failed") || s.eq_ignore_ascii_case("Cancelled") => {
                ImportState::Failed(
                    self.properties
                        .error
                        .as_ref()
                        .and_then(|e| e["message"].as_str())
                        .unwrap_or("Azure Automation did not say why")
                        .to_owned(),
                )
            }
            other => ImportState::Running(other.unwrap_or("Creating").to_owned()),
        }
    }

    /// Whether it is an ExchangeOnlineManagement the runbook can use (3.x).
    pub fn usable(&self) -> bool {
        self.state() == ImportState::Succeeded
            && self
                .properties
                .version
                .as_deref()
                .and_then(|v| v.split('.').next())
                .and_then(|m| m.parse::<u32>().ok())
                .is_some_and(|major| major >= 3)
    }
}

/// A module import's progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportState {
    /// Still importing, in this state.
    Running(String),
    /// Done.
    Succeeded,
    /// Failed, with Automation's reason.
    Failed(String),
}

/// A job's status.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// Its properties.
    #[serde(default)]
    pub properties: JobProperties,
}

/// A job's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobProperties {
    /// `New`, `Activating`, `Running`, `Completed`, `Failed`, `Stopped`, `Suspended`.
    #[serde(default)]
    pub status: Option<String>,
    /// Why it failed.
    #[serde(default)]
    pub exception: Option<String>,
}

impl Job {
    /// Whether the job has ended (and how).
    pub fn ended(&self) -> Option<bool> {
        match self.properties.status.as_deref() {
            Some("Completed") => Some(true),
            Some("Failed" | "Stopped" | "Suspended") => Some(false),
            _ => None,
        }
    }
}

/// A certificate asset, as ARM reports it (never the key).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateAsset {
    /// Its properties.
    #[serde(default)]
    pub properties: Value,
}

impl CertificateAsset {
    /// Its SHA-1 thumbprint, upper-case.
    pub fn thumbprint(&self) -> String {
        self.properties["thumbprint"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_uppercase()
    }
}

fn automation(path: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}api-version={AUTOMATION_API}")
}

/// Every subscription the admin can see.
pub fn list_subscriptions() -> Call {
    Call::get(format!("/subscriptions?api-version={SUBSCRIPTIONS_API}"))
}

/// The Automation accounts of one subscription.
pub fn list_accounts(subscription: &str) -> Call {
    Call::get(automation(&format!(
        "/subscriptions/{subscription}/providers/Microsoft.Automation/automationAccounts"
    )))
}

/// One account.
pub fn read_account(account: &str) -> Call {
    Call::get(automation(account))
}

/// The admin's actions on the account (to name the missing role before a write is refused).
pub fn permissions(account: &str) -> Call {
    Call::get(format!(
        "{account}/providers/Microsoft.Authorization/permissions?api-version={PERMISSIONS_API}"
    ))
}

/// Turns the system-assigned identity on, keeping any user-assigned ones.
pub fn identity_on(account: &Account) -> Call {
    let users = account
        .identity
        .as_ref()
        .and_then(|i| i.user_assigned_identities.clone())
        .filter(|m| !m.is_empty());
    let identity = match users {
        Some(users) => json!({
            "type": "SystemAssigned, UserAssigned",
            "userAssignedIdentities": users.keys().map(|k| (k.clone(), json!({}))).collect::<serde_json::Map<_, _>>(),
        }),
        None => json!({ "type": "SystemAssigned" }),
    };
    Call {
        method: "PATCH",
        path: automation(&account.id),
        upsert: false,
        body: Some(json!({ "identity": identity })),
    }
}

/// The module, for `runtime`.
pub fn read_module(account: &str, runtime: Runtime) -> Call {
    Call::get(automation(&format!(
        "{account}/{}/{MODULE}",
        runtime.modules()
    )))
}

/// The PowerShell Gallery package of the module's version.
pub fn gallery_link() -> String {
    format!("https://www.powershellgallery.com/api/v2/package/{MODULE}/{MODULE_VERSION}")
}

/// Imports the module from the PowerShell Gallery (asynchronous: read it back until it ends).
pub fn import_module(account: &str, runtime: Runtime) -> Call {
    Call {
        method: "PUT",
        path: read_module(account, runtime).path,
        upsert: false,
        body: Some(json!({
            "properties": { "contentLink": { "uri": gallery_link(), "version": MODULE_VERSION } }
        })),
    }
}

/// The runbook.
pub fn read_runbook(account: &str) -> Call {
    Call::get(automation(&format!("{account}/runbooks/{RUNBOOK}")))
}

/// The published runbook's script.
pub fn read_runbook_content(account: &str) -> Call {
    Call::get(automation(&format!("{account}/runbooks/{RUNBOOK}/content")))
}

/// Creates (or updates) the runbook's definition.
pub fn put_runbook(account: &Account, runtime: Runtime) -> Call {
    Call {
        method: "PUT",
        path: read_runbook(&account.id).path,
        upsert: false,
        body: Some(json!({
            "location": account.location,
            "properties": {
                "runbookType": runtime.runbook_type(),
                "description": "Connects to Exchange Online unattended; made by unattended.",
                "logProgress": false, "logVerbose": false,
            }
        })),
    }
}

/// The draft's script (sent as text, not JSON).
pub fn put_draft(account: &str) -> Call {
    Call {
        method: "PUT",
        path: automation(&format!("{account}/runbooks/{RUNBOOK}/draft/content")),
        upsert: false,
        body: None,
    }
}

/// Publishes the draft (asynchronous).
pub fn publish(account: &str) -> Call {
    Call {
        method: "POST",
        path: automation(&format!("{account}/runbooks/{RUNBOOK}/publish")),
        upsert: false,
        body: None,
    }
}

/// Starts the runbook as job `job` (a GUID the page makes, so sending it twice starts one job).
pub fn start_job(account: &str, job: &str) -> Call {
    Call {
        method: "PUT",
        path: automation(&format!("{account}/jobs/{job}")),
        upsert: false,
        body: Some(json!({ "properties": { "runbook": { "name": RUNBOOK }, "parameters": {} } })),
    }
}

/// A job's status.
pub fn read_job(account: &str, job: &str) -> Call {
    Call::get(automation(&format!("{account}/jobs/{job}")))
}

/// A job's output (text).
pub fn job_output(account: &str, job: &str) -> Call {
    Call::get(automation(&format!("{account}/jobs/{job}/output")))
}

/// The certificate asset.
pub fn read_certificate(account: &str) -> Call {
    Call::get(automation(&format!(
        "{account}/certificates/{CERTIFICATE_ASSET}"
    )))
}

/// The certificate asset's upload: the only request that carries the private key, to the
/// admin's own Automation account, which keeps it encrypted. `pfx_base64` and `password` are
/// not shown in the plan.
pub fn put_certificate(account: &str, pfx_base64: &str, password: &str) -> Call {
    Call {
        method: "PUT",
        path: read_certificate(account).path,
        upsert: false,
        body: Some(json!({
            "name": CERTIFICATE_ASSET,
            "properties": {
                "base64Value": pfx_base64, "password": password, "isExportable": false,
                "description": "Made by unattended; the key never left the admin's browser except to this account.",
            }
        })),
    }
}

/// What the runbook connects as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connect {
    /// The account's system-assigned identity.
    SystemIdentity,
    /// A user-assigned identity, by client id.
    UserIdentity(String),
    /// The app, with the certificate asset.
    Certificate {
        /// Application (client) id.
        app_id: String,
    },
}

/// The starter runbook: connect as `connect`, run one read-only cmdlet, disconnect.
pub fn runbook(connect: &Connect, organization: &str, cloud: crate::cloud::Cloud) -> String {
    let q = |t: &str| format!("'{}'", t.replace('\'', "''"));
    let env = cloud
        .exchange_environment()
        .map(|e| format!(" -ExchangeEnvironmentName {e}"))
        .unwrap_or_default();
    let org = q(organization);
    let line = match connect {
        Connect::SystemIdentity => {
            format!("Connect-ExchangeOnline -ManagedIdentity -Organization {org}{env}")
        }
        Connect::UserIdentity(client) => format!(
            "Connect-ExchangeOnline -ManagedIdentity -Organization {org}{env} -ManagedIdentityAccountId {}",
            q(client)
        ),
        Connect::Certificate { app_id } => format!(
            "$cert = Get-AutomationCertificate -Name {}\nConnect-ExchangeOnline -AppId {} -Organization {org}{env} -Certificate $cert",
            q(CERTIFICATE_ASSET),
            q(app_id)
        ),
    };
    format!(
        "# Made by unattended. Connects to Exchange Online with no stored password and runs one\n\
         # read-only cmdlet; replace the middle with your own work.\n\
         $ErrorActionPreference = 'Stop'\n\
         {line} -ShowBanner:$false\n\
         Get-EXOMailbox -ResultSize 5 | Select-Object DisplayName, PrimarySmtpAddress | Format-Table -AutoSize | Out-String\n\
         Disconnect-ExchangeOnline -Confirm:$false\n"
    )
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
