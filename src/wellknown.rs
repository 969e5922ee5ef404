//! Microsoft's fixed identifiers, each in one place with its source
//! (from Microsoft Learn).

/// Office 365 Exchange Online's application id, the same in every tenant
/// (<https://learn.microsoft.com/powershell/exchange/app-only-auth-powershell-v2>,
/// <https://learn.microsoft.com/powershell/exchange/connect-exo-powershell-managed-identity>).
pub const EXCHANGE_APP_ID: &str = "00000002-0000-0ff1-ce00-000000000000";
/// The `Exchange.ManageAsApp` app role, "the same in every organization"
/// (<https://learn.microsoft.com/powershell/exchange/connect-exo-powershell-managed-identity>).
pub const MANAGE_AS_APP: &str = "dc50a0fb-09a3-484d-be87-e023b12c6440";
/// What `Exchange.ManageAsApp` is called in app role listings.
pub const MANAGE_AS_APP_VALUE: &str = "Exchange.ManageAsApp";

/// Entra built-in role template ids
/// (<https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference>);
/// `roleDefinitionId` accepts them
/// (<https://learn.microsoft.com/graph/api/rbacapplication-post-roleassignments>).
pub mod roles {
    /// Global Administrator.
    pub const GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";
    /// Privileged Role Administrator.
    pub const PRIVILEGED_ROLE_ADMIN: &str = "e8611ab8-c189-46e8-94e1-60213ab1f814";
    /// Application Administrator.
    pub const APPLICATION_ADMIN: &str = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3";
    /// Cloud Application Administrator.
    pub const CLOUD_APPLICATION_ADMIN: &str = "158c047a-c907-4556-b7ef-446551a6b5f7";
    /// Exchange Administrator.
    pub const EXCHANGE_ADMIN: &str = "29232cdf-9323-42fd-ade2-1d097af3e4de";
    /// Reports Reader.
    pub const REPORTS_READER: &str = "4a5d8f65-41da-4de4-8968-e035b65339cf";
    /// Global Reader.
    pub const GLOBAL_READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";
    /// Security Administrator.
    pub const SECURITY_ADMIN: &str = "194ae4cb-b126-40b2-bd5b-6091b380977d";
    /// Security Operator.
    pub const SECURITY_OPERATOR: &str = "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f";
    /// Security Reader.
    pub const SECURITY_READER: &str = "5d6b6bb7-de71-4623-b4af-96380a352509";
    /// Teams Administrator.
    pub const TEAMS_ADMIN: &str = "69091246-20e8-4a56-aa4d-066075b2a7a8";
    /// SharePoint Administrator.
    pub const SHAREPOINT_ADMIN: &str = "f28a1f50-f6e7-4571-818b-6a12f2af6b6c";
}

/// An Entra role Exchange Online accepts for app-only PowerShell
/// (<https://learn.microsoft.com/powershell/exchange/app-only-auth-powershell-v2>).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExchangeRole {
    /// Role template id.
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// What it allows, in one line.
    pub meaning: &'static str,
    /// Whether it also works for Security & Compliance PowerShell (`Connect-IPPSSession`).
    pub compliance: bool,
}

/// The roles to choose from, the default first. Global Administrator is left out on purpose:
/// Microsoft's own guidance is to avoid it for apps.
pub const EXCHANGE_ROLES: [ExchangeRole; 7] = [
    ExchangeRole {
        id: roles::EXCHANGE_ADMIN,
        name: "Exchange Administrator",
        meaning: "Every Exchange Online PowerShell task (the usual choice for automation).",
        compliance: false,
    },
    ExchangeRole {
        id: "31392ffb-586c-42d1-9346-e59415a2cc4e",
        name: "Exchange Recipient Administrator",
        meaning: "Mailboxes, contacts and groups only: least privilege for provisioning scripts.",
        compliance: false,
    },
    ExchangeRole {
        id: "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
        name: "Global Reader",
        meaning: "Read-only everywhere: reports and audits that change nothing.",
        compliance: true,
    },
    ExchangeRole {
        id: "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        name: "Helpdesk Administrator",
        meaning: "Helpdesk tasks on non-admin users.",
        compliance: false,
    },
    ExchangeRole {
        id: "17315797-102d-40b4-93e0-432062caca18",
        name: "Compliance Administrator",
        meaning: "Compliance features in Exchange and in Security & Compliance PowerShell.",
        compliance: true,
    },
    ExchangeRole {
        id: "194ae4cb-b126-40b2-bd5b-6091b380977d",
        name: "Security Administrator",
        meaning: "Security settings; not recipient management or anti-spam.",
        compliance: true,
    },
    ExchangeRole {
        id: "5d6b6bb7-de71-4623-b4af-96380a352509",
        name: "Security Reader",
        meaning: "Read-only security reports and settings.",
        compliance: true,
    },
];

/// The role with `id`, if it is one Exchange accepts.
pub fn exchange_role(id: &str) -> Option<&'static ExchangeRole> {
    EXCHANGE_ROLES.iter().find(|r| r.id == id)
}

/// A display name for any role template the page may meet.
pub fn role_name(id: &str) -> &str {
    match id {
        roles::GLOBAL_ADMIN => "Global Administrator",
        roles::PRIVILEGED_ROLE_ADMIN => "Privileged Role Administrator",
        roles::APPLICATION_ADMIN => "Application Administrator",
        roles::CLOUD_APPLICATION_ADMIN => "Cloud Application Administrator",
        roles::REPORTS_READER => "Reports Reader",
        roles::SECURITY_OPERATOR => "Security Operator",
        roles::TEAMS_ADMIN => "Teams Administrator",
        roles::SHAREPOINT_ADMIN => "SharePoint Administrator",
        other => exchange_role(other).map_or(other, |r| r.name),
    }
}
