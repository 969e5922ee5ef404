//! From permission names to this tenant's ids. App role ids repeat across APIs (Graph's and
//! Exchange's `Mail.Send` share one) and Microsoft's own documents disagree on SharePoint's, so
//! every id is read from the resource's own service principal by `value`
//! (<https://learn.microsoft.com/graph/permissions-grant-via-msgraph>), never from a table.

use std::fmt;

use super::{Access, Resource, Wanted, Workload, broad};
use crate::graph::models::ServicePrincipal;

/// A wanted permission as this tenant names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    /// The API.
    pub resource: Resource,
    /// The API's service principal in this tenant (the grant's `resourceId`).
    pub resource_sp: String,
    /// The app role's id there.
    pub id: String,
    /// Its value, e.g. `User.Read.All`.
    pub value: String,
    /// What the API calls it.
    pub display_name: String,
    /// What it allows, in the API's words.
    pub description: String,
    /// What it hands out when it reaches every mailbox, file or site.
    pub broad: Option<&'static str>,
    /// Who wants it.
    pub workloads: Vec<Workload>,
}

/// Why the chosen access cannot be set up in this tenant, before any write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No workload is chosen.
    NoWorkload,
    /// The Graph workload has no permission.
    NoGraphPermission,
    /// An API the workloads need has no service principal in the tenant.
    ResourceMissing {
        /// The API.
        resource: Resource,
        /// Who needs it.
        workloads: Vec<Workload>,
    },
    /// The API offers no application permission by that name.
    UnknownPermission {
        /// The API.
        resource: Resource,
        /// The name asked for.
        value: String,
    },
    /// The SharePoint site's address is not one.
    SiteAddress(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoWorkload => f.write_str("Choose at least one workload."),
            Self::NoGraphPermission => f.write_str(
                "Choose at least one Microsoft Graph permission (or a preset), or untick Microsoft Graph PowerShell.",
            ),
            Self::ResourceMissing { resource, workloads } => {
                let who: Vec<&str> = workloads.iter().map(|w| w.name()).collect();
                write!(
                    f,
                    "This tenant has no \"{}\" service principal (application id {}), which {} needs, so it cannot work here yet. Check that the tenant has the licence for it and that you signed in to the right tenant; nothing was changed.",
                    resource.name,
                    resource.app_id,
                    who.join(" and ")
                )
            }
            Self::UnknownPermission { resource, value } => write!(
                f,
                "{} offers no application permission named \"{value}\" in this tenant. Check the spelling (names are like User.Read.All) or pick one from the list.",
                resource.name
            ),
            Self::SiteAddress(text) => f.write_str(text),
        }
    }
}

/// The chosen access's permissions with this tenant's ids, or what stops it. `principals` are
/// the resources' service principals as read (with `appRoles`).
pub fn resolve(access: &Access, principals: &[ServicePrincipal]) -> (Vec<Granted>, Vec<Problem>) {
    let mut problems = Vec::new();
    if access.workloads.is_empty() {
        problems.push(Problem::NoWorkload);
    }
    if access.has(Workload::Graph) && access.graph.iter().all(|v| v.trim().is_empty()) {
        problems.push(Problem::NoGraphPermission);
    }
    if let Some((site, _)) = access.site()
        && let Err(e) = site_path(site)
    {
        problems.push(Problem::SiteAddress(e));
    }
    let wanted = access.wanted();
    for resource in access.resources() {
        if principal(principals, resource).is_none() {
            let mut workloads: Vec<Workload> = wanted
                .iter()
                .filter(|w| w.resource == resource)
                .flat_map(|w| w.workloads.clone())
                .collect();
            if resource == super::TEAMS {
                workloads.push(Workload::Teams);
            }
            workloads.sort();
            workloads.dedup();
            problems.push(Problem::ResourceMissing {
                resource,
                workloads,
            });
        }
    }
    let mut granted = Vec::new();
    for w in wanted.iter().filter(|w| !w.value.is_empty()) {
        let Some(sp) = principal(principals, w.resource) else {
            continue;
        };
        match lookup(sp, w) {
            Some(g) => granted.push(g),
            None => problems.push(Problem::UnknownPermission {
                resource: w.resource,
                value: w.value.clone(),
            }),
        }
    }
    (granted, problems)
}

fn principal(principals: &[ServicePrincipal], resource: Resource) -> Option<&ServicePrincipal> {
    principals
        .iter()
        .find(|sp| sp.app_id.eq_ignore_ascii_case(resource.app_id))
}

/// The enabled application role named `w.value` (exact value, case-insensitive as Entra
/// compares them).
fn lookup(sp: &ServicePrincipal, w: &Wanted) -> Option<Granted> {
    sp.app_roles
        .iter()
        .filter(|r| r.is_enabled && r.for_applications())
        .find(|r| {
            r.value
                .as_deref()
                .is_some_and(|v| v.eq_ignore_ascii_case(&w.value))
        })
        .map(|r| {
            let value = r.value.clone().unwrap_or_default();
            Granted {
                resource: w.resource,
                resource_sp: sp.id.clone(),
                id: r.id.to_ascii_lowercase(),
                broad: broad(&value),
                value,
                display_name: r.display_name.clone().unwrap_or_default(),
                description: r.description.clone().unwrap_or_default(),
                workloads: w.workloads.clone(),
            }
        })
}

/// `(hostname, server-relative path)` of a SharePoint site address, for
/// `GET /sites/{hostname}:/{path}` (<https://learn.microsoft.com/graph/api/site-getbypath>).
pub fn site_path(address: &str) -> Result<(String, String), String> {
    let bad = || {
        format!(
            "\"{}\" is not a SharePoint site address. Paste the site's address as the browser shows it, like https://contoso.sharepoint.com/sites/Finance.",
            address.trim()
        )
    };
    let url = url::Url::parse(address.trim()).map_err(|_| bad())?;
    let host = url.host_str().ok_or_else(bad)?.to_ascii_lowercase();
    let sharepoint = [
        ".sharepoint.com",
        ".sharepoint.us",
        ".sharepoint-mil.us",
        ".sharepoint.cn",
    ];
    if url.scheme() != "https" || !sharepoint.iter().any(|s| host.ends_with(s)) {
        return Err(bad());
    }
    let path = url.path().trim_end_matches('/');
    Ok((
        host,
        if path.is_empty() {
            "/".into()
        } else {
            path.to_owned()
        },
    ))
}
