//! Which Microsoft 365 workloads one app (or identity) is for, and the least each needs: the
//! application permissions (by *value*, on the resource's own service principal) and the Entra
//! roles. Several workloads on one app share the certificate; their permissions and roles are
//! merged. Pure: the plan turns this into steps, `resolve` into permission ids for one tenant.
//!
//! Sources, per workload:
//! - Exchange Online and Security & Compliance PowerShell:
//!   <https://learn.microsoft.com/powershell/exchange/app-only-auth-powershell-v2>
//! - Microsoft Graph PowerShell:
//!   <https://learn.microsoft.com/powershell/microsoftgraph/app-only>
//! - Microsoft Teams PowerShell:
//!   <https://learn.microsoft.com/microsoftteams/teams-powershell-application-authentication>
//! - SharePoint Online:
//!   <https://learn.microsoft.com/sharepoint/dev/solution-guidance/security-apponly-azuread>,
//!   <https://learn.microsoft.com/graph/api/site-post-permissions>

pub mod catalog;
pub mod lines;
pub mod resolve;

pub use catalog::{
    BROAD, COMPLIANCE_UNSUPPORTED, GRAPH_PRESETS, Preset, ROLE_GROUPS, RoleGroup, TEAMS_ALL,
    TEAMS_POLICY_ONLY, TEAMS_UNSUPPORTED, broad,
};
pub use resolve::{Granted, Problem, resolve};

use crate::wellknown::{EXCHANGE_APP_ID, MANAGE_AS_APP_VALUE, roles};

/// An API whose app roles the app is granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Resource {
    /// Its application id, the same in every tenant.
    pub app_id: &'static str,
    /// Its display name.
    pub name: &'static str,
}

/// Office 365 Exchange Online: `Exchange.ManageAsApp` for both PowerShell modules.
pub const EXCHANGE: Resource = Resource {
    app_id: EXCHANGE_APP_ID,
    name: "Office 365 Exchange Online",
};
/// Microsoft Graph: the Graph PowerShell SDK's and the Teams module's permissions.
pub const GRAPH: Resource = Resource {
    app_id: crate::registration::GRAPH_APP_ID,
    name: "Microsoft Graph",
};
/// Office 365 SharePoint Online: what PnP PowerShell and `Connect-SPOService` use
/// (<https://learn.microsoft.com/sharepoint/dev/solution-guidance/security-apponly-azuread>).
pub const SHAREPOINT: Resource = Resource {
    app_id: "00000003-0000-0ff1-ce00-000000000000",
    name: "Office 365 SharePoint Online",
};
/// Skype and Teams Tenant Admin API: the resource the Teams module's `*-Cs` cmdlets get tokens
/// for; its authorization comes from the directory role in the token
/// (<https://learn.microsoft.com/microsoftteams/teams-powershell-application-authentication>).
pub const TEAMS: Resource = Resource {
    app_id: "48ac35b8-9aa8-4d74-927d-1f4a14a0b239",
    name: "Skype and Teams Tenant Admin API",
};
/// Every resource a workload may need, in the order the plan lists them.
pub const RESOURCES: [Resource; 4] = [EXCHANGE, GRAPH, SHAREPOINT, TEAMS];

/// A PowerShell module's app-only access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Workload {
    /// Exchange Online PowerShell (`Connect-ExchangeOnline`).
    Exchange,
    /// Security & Compliance PowerShell (`Connect-IPPSSession`).
    Compliance,
    /// Microsoft Graph PowerShell (`Connect-MgGraph`).
    Graph,
    /// Microsoft Teams PowerShell (`Connect-MicrosoftTeams`).
    Teams,
    /// SharePoint Online (`Connect-PnPOnline`, `Connect-SPOService`).
    SharePoint,
}

impl Workload {
    /// Every workload, in the order the page shows them.
    pub const ALL: [Self; 5] = [
        Self::Exchange,
        Self::Compliance,
        Self::Graph,
        Self::Teams,
        Self::SharePoint,
    ];

    /// Its name on the page.
    pub fn name(self) -> &'static str {
        match self {
            Self::Exchange => "Exchange Online PowerShell",
            Self::Compliance => "Security & Compliance PowerShell",
            Self::Graph => "Microsoft Graph PowerShell",
            Self::Teams => "Microsoft Teams PowerShell",
            Self::SharePoint => "SharePoint Online (PnP and SPO Management Shell)",
        }
    }

    /// A short stable name (element ids, the session summary).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exchange => "exchange",
            Self::Compliance => "compliance",
            Self::Graph => "graph",
            Self::Teams => "teams",
            Self::SharePoint => "sharepoint",
        }
    }

    /// The workload `as_str` named.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.as_str() == text)
    }
}

/// How the app is authorised inside Exchange Online.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExchangeRbac {
    /// An Entra role (template id), tenant-wide.
    EntraRole(String),
    /// No Entra role: an Exchange admin adds the app's service principal to this Exchange role
    /// group once, in Exchange PowerShell (`New-ServicePrincipal`, `Add-RoleGroupMember`).
    RoleGroup(String),
}

/// Which Teams cmdlets the app is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamsScope {
    /// Only the `*-Cs` (policy and voice) cmdlets: `Organization.Read.All` alone.
    PolicyOnly,
    /// Every cmdlet that works app-only.
    All,
}

/// A role on one SharePoint site (`POST /sites/{id}/permissions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteRole {
    /// Read.
    Read,
    /// Read and write.
    Write,
    /// Manage lists and libraries.
    Manage,
    /// Full control of the site.
    FullControl,
}

impl SiteRole {
    /// Every role, least first.
    pub const ALL: [Self; 4] = [Self::Read, Self::Write, Self::Manage, Self::FullControl];

    /// Graph's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Manage => "manage",
            Self::FullControl => "fullcontrol",
        }
    }

    /// The role Graph named.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(text))
    }

    /// PnP's `-Permissions` value for the same role.
    pub fn pnp(self) -> &'static str {
        match self {
            Self::Read => "Read",
            Self::Write => "Write",
            Self::Manage => "Manage",
            Self::FullControl => "FullControl",
        }
    }
}

/// What the app may do in SharePoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SharePointAccess {
    /// `Sites.FullControl.All`: every site (and `Connect-SPOService`, which needs it).
    FullControl,
    /// `Sites.Selected`: no site until one is granted; the page grants this one.
    Selected {
        /// The site's address, `https://{tenant}.sharepoint.com/sites/{name}`.
        site: String,
        /// The role on it.
        role: SiteRole,
    },
}

/// A permission wanted, by value, and the workloads that want it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// The API.
    pub resource: Resource,
    /// The app role's `value`, e.g. `User.Read.All`.
    pub value: String,
    /// Who wants it.
    pub workloads: Vec<Workload>,
}

/// What the app (or identity) is for: the workloads and each one's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// The chosen workloads, in `Workload::ALL` order, no repeats.
    pub workloads: Vec<Workload>,
    /// Exchange Online's authorisation.
    pub exchange: ExchangeRbac,
    /// Security & Compliance's Entra role (template id).
    pub compliance_role: String,
    /// Graph application permissions, by value.
    pub graph: Vec<String>,
    /// Teams.
    pub teams: TeamsScope,
    /// SharePoint.
    pub sharepoint: SharePointAccess,
}

/// The delegated Graph permission the page asks for, only when it grants an app a SharePoint
/// site (<https://learn.microsoft.com/graph/api/site-post-permissions>).
pub const SITES_SCOPE: &str = "Sites.FullControl.All";

/// Compliance Administrator, the default role for Security & Compliance PowerShell.
pub const COMPLIANCE_ADMIN: &str = "17315797-102d-40b4-93e0-432062caca18";

impl Access {
    /// Exchange Online only, with an Entra role: what the page did before workloads.
    pub fn exchange(role_id: &str) -> Self {
        Self {
            workloads: vec![Workload::Exchange],
            exchange: ExchangeRbac::EntraRole(role_id.to_owned()),
            compliance_role: COMPLIANCE_ADMIN.to_owned(),
            graph: vec![],
            teams: TeamsScope::All,
            sharepoint: SharePointAccess::FullControl,
        }
    }

    /// The same options with `workload` on or off (the list stays in order).
    pub fn with(mut self, workload: Workload, on: bool) -> Self {
        self.workloads.retain(|w| *w != workload);
        if on {
            self.workloads.push(workload);
            self.workloads.sort();
        }
        self
    }

    /// Whether `workload` is chosen.
    pub fn has(&self, workload: Workload) -> bool {
        self.workloads.contains(&workload)
    }

    /// The Exchange role group the admin adds the app to, when that is the choice.
    pub fn role_group(&self) -> Option<&str> {
        match &self.exchange {
            ExchangeRbac::RoleGroup(g) if self.has(Workload::Exchange) => Some(g),
            _ => None,
        }
    }

    /// The SharePoint site to grant, when `Sites.Selected` is the choice.
    pub fn site(&self) -> Option<(&str, SiteRole)> {
        match &self.sharepoint {
            SharePointAccess::Selected { site, role } if self.has(Workload::SharePoint) => {
                Some((site.as_str(), *role))
            }
            _ => None,
        }
    }

    /// Every permission wanted, once each, in resource order then as first wanted.
    pub fn wanted(&self) -> Vec<Wanted> {
        let mut out: Vec<Wanted> = Vec::new();
        let mut want = |resource: Resource, value: &str, workload: Workload| match out
            .iter_mut()
            .find(|w| w.resource == resource && w.value.eq_ignore_ascii_case(value))
        {
            Some(w) if !w.workloads.contains(&workload) => w.workloads.push(workload),
            Some(_) => {}
            None => out.push(Wanted {
                resource,
                value: value.to_owned(),
                workloads: vec![workload],
            }),
        };
        for &w in &self.workloads {
            match w {
                Workload::Exchange | Workload::Compliance => {
                    want(EXCHANGE, MANAGE_AS_APP_VALUE, w);
                }
                Workload::Graph => {
                    for value in &self.graph {
                        want(GRAPH, value.trim(), w);
                    }
                }
                Workload::Teams => {
                    let set: &[&str] = match self.teams {
                        TeamsScope::PolicyOnly => &TEAMS_POLICY_ONLY,
                        TeamsScope::All => &TEAMS_ALL,
                    };
                    for value in set {
                        want(GRAPH, value, w);
                    }
                }
                Workload::SharePoint => match self.sharepoint {
                    SharePointAccess::FullControl => want(SHAREPOINT, "Sites.FullControl.All", w),
                    SharePointAccess::Selected { .. } => want(SHAREPOINT, "Sites.Selected", w),
                },
            }
        }
        out.sort_by_key(|w| RESOURCES.iter().position(|r| *r == w.resource));
        out
    }

    /// The resources the chosen workloads need in the tenant (some carry no permission, like
    /// Teams' admin API, yet its tokens must be issuable).
    pub fn resources(&self) -> Vec<Resource> {
        let mut out: Vec<Resource> = self.wanted().iter().map(|w| w.resource).collect();
        if self.has(Workload::Teams) {
            out.push(TEAMS);
        }
        out.sort_by_key(|r| RESOURCES.iter().position(|x| x == r));
        out.dedup();
        out
    }

    /// The Entra roles to assign (template ids), once each, and the workloads wanting each.
    pub fn roles(&self) -> Vec<(String, Vec<Workload>)> {
        let mut out: Vec<(String, Vec<Workload>)> = Vec::new();
        let mut add = |role: &str, w: Workload| match out
            .iter_mut()
            .find(|(r, _)| r.eq_ignore_ascii_case(role))
        {
            Some((_, ws)) => ws.push(w),
            None => out.push((role.to_owned(), vec![w])),
        };
        for &w in &self.workloads {
            match w {
                Workload::Exchange => {
                    if let ExchangeRbac::EntraRole(r) = &self.exchange {
                        add(r, w);
                    }
                }
                Workload::Compliance => add(&self.compliance_role, w),
                Workload::Teams => add(roles::TEAMS_ADMIN, w),
                Workload::Graph | Workload::SharePoint => {}
            }
        }
        out
    }

    /// The role ids alone.
    pub fn role_ids(&self) -> Vec<String> {
        self.roles().into_iter().map(|(r, _)| r).collect()
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
