//! Each workload's copy-ready PowerShell for a finished run, with the run's real values.
//! Sources: Connect-MgGraph
//! (<https://learn.microsoft.com/powershell/module/microsoft.graph.authentication/connect-mggraph>),
//! Connect-MicrosoftTeams
//! (<https://learn.microsoft.com/microsoftteams/teams-powershell-application-authentication>),
//! Connect-PnPOnline (<https://pnp.github.io/powershell/cmdlets/Connect-PnPOnline.html>),
//! Connect-SPOService
//! (<https://learn.microsoft.com/powershell/module/microsoft.online.sharepoint.powershell/connect-sposervice>),
//! New-ServicePrincipal and Add-RoleGroupMember
//! (<https://learn.microsoft.com/powershell/exchange/app-only-auth-powershell-v2>).

use super::{
    Access, COMPLIANCE_UNSUPPORTED, ExchangeRbac, ROLE_GROUPS, SharePointAccess, TEAMS_UNSUPPORTED,
    Workload,
};
use crate::cloud::Cloud;
use crate::snippets::{self, CertificateFacts, Snippet, quoted};

/// What every workload's lines need beyond the certificate's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFacts {
    /// The certificate and the app.
    pub certificate: CertificateFacts,
    /// Tenant id.
    pub tenant_id: String,
    /// The app's service principal's object id.
    pub service_principal_id: String,
    /// The app's display name.
    pub app_name: String,
}

/// The lines for each chosen workload, in the page's order.
pub fn lines(access: &Access, facts: &RunFacts) -> Vec<(Workload, Vec<Snippet>)> {
    access
        .workloads
        .iter()
        .map(|&w| {
            let s = match w {
                Workload::Exchange => exchange(access, facts),
                Workload::Compliance => compliance(facts),
                Workload::Graph => graph(facts),
                Workload::Teams => teams(facts),
                Workload::SharePoint => sharepoint(access, facts),
            };
            (w, s)
        })
        .collect()
}

/// Loading the PFX into an X509Certificate2 on any OS, for the cmdlets that take `-Certificate`.
fn load_pfx(facts: &CertificateFacts) -> String {
    format!(
        "$pw = Read-Host -AsSecureString 'PFX password'\n\
         $cert = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new({}, $pw)",
        quoted(&format!("C:\\secure\\{}", facts.pfx_file))
    )
}

fn exchange(access: &Access, facts: &RunFacts) -> Vec<Snippet> {
    // Security & Compliance's line stays with Exchange's (as it always was) unless it is a
    // workload of its own, which then brings its own lines.
    let mut out = if access.has(Workload::Compliance) {
        snippets::exchange_lines(&facts.certificate)
    } else {
        snippets::certificate(&facts.certificate)
    };
    if let ExchangeRbac::RoleGroup(group) = &access.exchange {
        out.push(role_group(group, facts));
    }
    out
}

/// The one-time Exchange PowerShell that gives the app its permissions through a role group
/// instead of an Entra role: Exchange's own pointer to the Entra service principal, then the
/// membership. A group that is not built in is made first, with a scope to adjust.
fn role_group(group: &str, facts: &RunFacts) -> Snippet {
    let app = quoted(&facts.certificate.app_id);
    let sp = quoted(&facts.service_principal_id);
    let name = quoted(&facts.app_name);
    let g = quoted(group);
    let custom = if ROLE_GROUPS
        .iter()
        .any(|r| r.name.eq_ignore_ascii_case(group))
    {
        String::new()
    } else {
        let scope = quoted(&format!("{group} scope"));
        format!(
            "# A custom group: adjust the roles and the filter to what the scripts must reach.\n\
             New-ManagementScope -Name {scope} -RecipientRestrictionFilter \"Department -eq 'Sales'\"\n\
             New-RoleGroup -Name {g} -Roles 'Mail Recipients' -CustomRecipientWriteScope {scope}\n"
        )
    };
    Snippet {
        title: "Once, by an Exchange administrator: put the app in the role group",
        text: format!(
            "# Connect as yourself first: Connect-ExchangeOnline -UserPrincipalName you@{org}\n\
             New-ServicePrincipal -AppId {app} -ObjectId {sp} -DisplayName {name}\n\
             {custom}Add-RoleGroupMember -Identity {g} -Member {sp}\n\
             # Role group changes can take up to an hour to reach new sessions.",
            org = facts.certificate.organization
        ),
    }
}

fn compliance(facts: &RunFacts) -> Vec<Snippet> {
    let c = &facts.certificate;
    let app = quoted(&c.app_id);
    let org = quoted(&c.organization);
    let endpoints = snippets::compliance_endpoints(c.cloud);
    vec![
        Snippet {
            title: "Security & Compliance PowerShell, with the PFX file",
            text: format!(
                "# ExchangeOnlineManagement 3.0 or later. Purview cmdlets such as {} do not work app-only.\n\
                 $pw = Read-Host -AsSecureString 'PFX password'\n\
                 Connect-IPPSSession -AppId {app} -Organization {org} `\n    -CertificateFilePath {} -CertificatePassword $pw{endpoints}",
                COMPLIANCE_UNSUPPORTED[..3].join(", "),
                quoted(&format!("C:\\secure\\{}", c.pfx_file)),
            ),
        },
        Snippet {
            title: "Security & Compliance PowerShell, Windows, by thumbprint",
            text: format!(
                "Connect-IPPSSession -AppId {app} -Organization {org} -CertificateThumbprint {}{endpoints}",
                quoted(&c.thumbprint)
            ),
        },
    ]
}

/// `-Environment` for Connect-MgGraph in a national cloud.
fn graph_environment(cloud: Cloud) -> &'static str {
    match cloud {
        Cloud::Worldwide => "",
        Cloud::GccHigh => " -Environment USGov",
        Cloud::DoD => " -Environment USGovDoD",
        Cloud::China => " -Environment China",
    }
}

fn graph(facts: &RunFacts) -> Vec<Snippet> {
    let c = &facts.certificate;
    let ids = format!(
        "-ClientId {} -TenantId {}{}",
        quoted(&c.app_id),
        quoted(&facts.tenant_id),
        graph_environment(c.cloud)
    );
    vec![
        Snippet {
            title: "Microsoft Graph PowerShell, any OS, with the PFX file",
            text: format!(
                "# Install-Module Microsoft.Graph.Authentication (2.x)\n{}\nConnect-MgGraph {ids} -Certificate $cert -NoWelcome\nGet-MgContext | Select-Object AppName, Scopes",
                load_pfx(c)
            ),
        },
        Snippet {
            title: "Microsoft Graph PowerShell, Windows, by thumbprint",
            text: format!(
                "Connect-MgGraph {ids} -CertificateThumbprint {} -NoWelcome",
                quoted(&c.thumbprint)
            ),
        },
    ]
}

fn teams(facts: &RunFacts) -> Vec<Snippet> {
    let c = &facts.certificate;
    let ids = format!(
        "-ApplicationId {} -TenantId {}",
        quoted(&c.app_id),
        quoted(&facts.tenant_id)
    );
    vec![
        Snippet {
            title: "Microsoft Teams PowerShell, with the PFX file",
            text: format!(
                "# MicrosoftTeams 4.9.2 or later for -Certificate. Not available app-only: {}.\n{}\nConnect-MicrosoftTeams {ids} -Certificate $cert",
                TEAMS_UNSUPPORTED.join(", "),
                load_pfx(c)
            ),
        },
        Snippet {
            title: "Microsoft Teams PowerShell, Windows, by thumbprint (certificate in the user's store)",
            text: format!(
                "Connect-MicrosoftTeams {ids} -CertificateThumbprint {}",
                quoted(&c.thumbprint)
            ),
        },
    ]
}

/// The tenant's SharePoint host, from its initial domain and cloud.
pub fn sharepoint_host(organization: &str, cloud: Cloud) -> String {
    let prefix = organization.split('.').next().unwrap_or(organization);
    let suffix = match cloud {
        Cloud::Worldwide => "sharepoint.com",
        Cloud::GccHigh => "sharepoint.us",
        Cloud::DoD => "sharepoint-mil.us",
        Cloud::China => "sharepoint.cn",
    };
    format!("{prefix}.{suffix}")
}

/// `-AzureEnvironment` for Connect-PnPOnline in a national cloud.
fn pnp_environment(cloud: Cloud) -> &'static str {
    match cloud {
        Cloud::Worldwide => "",
        Cloud::GccHigh => " -AzureEnvironment USGovernmentHigh",
        Cloud::DoD => " -AzureEnvironment USGovernmentDoD",
        Cloud::China => " -AzureEnvironment China",
    }
}

fn sharepoint(access: &Access, facts: &RunFacts) -> Vec<Snippet> {
    let c = &facts.certificate;
    let host = sharepoint_host(&c.organization, c.cloud);
    let app = quoted(&c.app_id);
    let pfx = quoted(&format!("C:\\secure\\{}", c.pfx_file));
    let org = quoted(&c.organization);
    let env = pnp_environment(c.cloud);
    match &access.sharepoint {
        SharePointAccess::FullControl => {
            let admin = host.replacen('.', "-admin.", 1);
            vec![
                Snippet {
                    title: "PnP PowerShell, any OS, with the PFX file",
                    text: format!(
                        "# PnP.PowerShell 2.x, with this app (the shared PnP app was retired in 2024)\n\
                         $pw = Read-Host -AsSecureString 'PFX password'\n\
                         Connect-PnPOnline -Url {} -ClientId {app} -Tenant {org}{env} `\n    -CertificatePath {pfx} -CertificatePassword $pw",
                        quoted(&format!("https://{host}"))
                    ),
                },
                Snippet {
                    title: "SharePoint Online Management Shell (module 16.0.26712 or later)",
                    text: format!(
                        "# Pass -Certificate: -CertificateThumbprint looks in the machine's store, not the user's.\n\
                         {}\n\
                         Connect-SPOService -Url {} -ClientId {app} -TenantId {} -Certificate $cert",
                        load_pfx(c),
                        quoted(&format!("https://{admin}")),
                        quoted(&facts.tenant_id)
                    ),
                },
            ]
        }
        SharePointAccess::Selected { site, role } => vec![
            Snippet {
                title: "PnP PowerShell on the granted site, with the PFX file",
                text: format!(
                    "# Sites.Selected: only the sites granted to this app; Connect-SPOService needs Sites.FullControl.All and does not work with it.\n\
                     $pw = Read-Host -AsSecureString 'PFX password'\n\
                     Connect-PnPOnline -Url {} -ClientId {app} -Tenant {org}{env} `\n    -CertificatePath {pfx} -CertificatePassword $pw",
                    quoted(site.trim())
                ),
            },
            Snippet {
                title: "Another site, or if the page could not grant this one: a SharePoint administrator runs",
                text: format!(
                    "Connect-PnPOnline -Url {} -Interactive -ClientId '<an app you sign in with>'\n\
                     Grant-PnPEntraIDAppSitePermission -AppId {app} -DisplayName {} -Site {} -Permissions {}",
                    quoted(site.trim()),
                    quoted(&facts.app_name),
                    quoted(site.trim()),
                    match role {
                        super::SiteRole::Read => "Read",
                        _ => "Write",
                    }
                ) + &if matches!(role, super::SiteRole::Manage | super::SiteRole::FullControl)
                {
                    format!(
                        "\n# then raise it: Set-PnPEntraIDAppSitePermission -Site {} -PermissionId <id from the grant> -Permissions {}",
                        quoted(site.trim()),
                        role.pnp()
                    )
                } else {
                    String::new()
                },
            },
        ],
    }
}
