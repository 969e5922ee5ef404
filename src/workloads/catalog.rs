//! The fixed lists behind the workloads: Graph presets for common jobs, what Teams needs, the
//! permissions that reach every mailbox or site, the Exchange role groups, and the cmdlets that
//! do not work app-only. Names only: ids are looked up in the tenant (`resolve`).

/// A preset: the least Graph application permissions for a common job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// Stable name (element ids).
    pub key: &'static str,
    /// On the page.
    pub label: &'static str,
    /// Why these and no more.
    pub why: &'static str,
    /// The permissions, by value.
    pub permissions: &'static [&'static str],
}

/// Presets, each the least that does its job (permission pages of each API:
/// <https://learn.microsoft.com/graph/permissions-reference>).
pub const GRAPH_PRESETS: [Preset; 5] = [
    Preset {
        key: "reports",
        label: "Mailbox and usage reports",
        why: "getMailboxUsageDetail and the other usage reports need Reports.Read.All and nothing else.",
        permissions: &["Reports.Read.All"],
    },
    Preset {
        key: "provisioning",
        label: "User provisioning",
        why: "Create, update and disable users; no groups, no mail.",
        permissions: &["User.ReadWrite.All"],
    },
    Preset {
        key: "groups",
        label: "Group membership",
        why: "Add and remove members of any group; GroupMember.ReadWrite.All cannot create or delete groups, Group.ReadWrite.All could.",
        permissions: &["GroupMember.ReadWrite.All"],
    },
    Preset {
        key: "audit",
        label: "Audit and sign-in logs",
        why: "Read the directory audit and sign-in logs (sign-in logs need an Entra ID P1 licence).",
        permissions: &["AuditLog.Read.All"],
    },
    Preset {
        key: "directory-read",
        label: "Read users and groups",
        why: "Inventory scripts: read users and groups, change nothing.",
        permissions: &["User.Read.All", "GroupMember.Read.All"],
    },
];

/// Teams' `*-Cs` cmdlets only
/// (<https://learn.microsoft.com/microsoftteams/teams-powershell-application-authentication>).
pub const TEAMS_POLICY_ONLY: [&str; 1] = ["Organization.Read.All"];

/// Every Teams cmdlet that works app-only (same page).
pub const TEAMS_ALL: [&str; 8] = [
    "Organization.Read.All",
    "User.Read.All",
    "Group.ReadWrite.All",
    "AppCatalog.ReadWrite.All",
    "TeamSettings.ReadWrite.All",
    "Channel.Delete.All",
    "ChannelSettings.ReadWrite.All",
    "ChannelMember.ReadWrite.All",
];

/// Teams cmdlets that do not work app-only (same page).
pub const TEAMS_UNSUPPORTED: [&str; 11] = [
    "New-Team",
    "[Get|Set|New|Sync]-CsOnlineApplicationInstance",
    "*PolicyPackage*",
    "*-CsTeamsShiftsConnection*",
    "*-CsBatchTeamsDeployment*",
    "[Get|Set]-CsTeamsSettingsCustomApp",
    "Get-MultiGeoRegion",
    "Get-AllM365TeamsApps",
    "[Get|Update]-M365TeamsApp",
    "Get-M365UnifiedCustomPendingApps",
    "[Get|Update]-M365UnifiedTenantSettings",
];

/// Microsoft Purview cmdlets that do not work app-only in Security & Compliance PowerShell,
/// "including but not limited to"
/// (<https://learn.microsoft.com/powershell/exchange/app-only-auth-powershell-v2>).
pub const COMPLIANCE_UNSUPPORTED: [&str; 7] = [
    "New-ComplianceSearch",
    "Start-ComplianceSearch",
    "Get-ComplianceSearchAction",
    "New-ComplianceSearchAction",
    "Invoke-HoldRemovalAction",
    "Invoke-ComplianceSecurityFilterAction",
    "Invoke-ComplianceSearchActionStep",
];

/// Permissions that reach every mailbox, file, site or the directory itself, with what they
/// hand out in words. Matched by value on any resource.
pub const BROAD: [(&str, &str); 16] = [
    (
        "Mail.ReadWrite",
        "reads, changes and deletes mail in every mailbox",
    ),
    ("Mail.Send", "sends mail as any user"),
    ("Mail.Read", "reads mail in every mailbox"),
    (
        "MailboxSettings.ReadWrite",
        "changes every mailbox's settings (forwarding rules too)",
    ),
    ("Calendars.ReadWrite", "changes every calendar"),
    ("Contacts.ReadWrite", "changes every user's contacts"),
    (
        "Files.ReadWrite.All",
        "changes every file in OneDrive and SharePoint",
    ),
    ("Sites.FullControl.All", "full control of every site"),
    ("Sites.ReadWrite.All", "changes every site's content"),
    (
        "Sites.Manage.All",
        "creates and deletes lists and libraries on every site",
    ),
    ("Directory.ReadWrite.All", "changes the whole directory"),
    (
        "Group.ReadWrite.All",
        "changes every group, team and its files and mail",
    ),
    ("User.ReadWrite.All", "changes every user"),
    (
        "Application.ReadWrite.All",
        "changes every app, including adding credentials to more privileged ones",
    ),
    (
        "AppRoleAssignment.ReadWrite.All",
        "grants any permission to any app, itself included",
    ),
    (
        "RoleManagement.ReadWrite.Directory",
        "assigns any directory role, Global Administrator included",
    ),
];

/// What a broad permission hands out, if it is one.
pub fn broad(value: &str) -> Option<&'static str> {
    BROAD
        .iter()
        .find(|(v, _)| v.eq_ignore_ascii_case(value))
        .map(|(_, why)| *why)
}

/// An Exchange role group offered for least privilege.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleGroup {
    /// The built-in group's name.
    pub name: &'static str,
    /// What members may do.
    pub gains: &'static str,
}

/// Built-in Exchange Online role groups that suit automation
/// (<https://learn.microsoft.com/exchange/permissions-exo/permissions-exo>).
pub const ROLE_GROUPS: [RoleGroup; 4] = [
    RoleGroup {
        name: "View-Only Organization Management",
        gains: "reads every Exchange setting and recipient, changes nothing",
    },
    RoleGroup {
        name: "Recipient Management",
        gains: "creates and changes mailboxes, contacts and groups",
    },
    RoleGroup {
        name: "Help Desk",
        gains: "resets and views user settings, read-only elsewhere",
    },
    RoleGroup {
        name: "Hygiene Management",
        gains: "anti-spam and anti-malware settings",
    },
];
