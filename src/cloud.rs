//! The Microsoft cloud a tenant lives in: worldwide (also GCC), US Government GCC High, US
//! Government DoD, or China operated by 21Vianet. Each has its own sign-in and Graph hosts, its
//! own Graph resource in scopes (tokens are not interchangeable across clouds), and its own
//! Exchange environment name
//! (<https://learn.microsoft.com/graph/deployments>,
//! <https://learn.microsoft.com/powershell/module/exchange/connect-exchangeonline>,
//! <https://learn.microsoft.com/powershell/exchange/app-only-auth-powershell-v2>).

use std::fmt;

/// A national or the worldwide cloud.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Cloud {
    /// The worldwide cloud, which GCC tenants use too.
    #[default]
    Worldwide,
    /// US Government GCC High.
    GccHigh,
    /// US Government DoD.
    DoD,
    /// China, operated by 21Vianet.
    China,
}

/// Every cloud, for lists and tests.
pub const CLOUDS: [Cloud; 4] = [Cloud::Worldwide, Cloud::GccHigh, Cloud::DoD, Cloud::China];

impl Cloud {
    /// The name `config.json` uses (`cloud`); `gcc` and a few common spellings are accepted too.
    pub fn parse(name: &str) -> Option<Self> {
        match name
            .trim()
            .to_ascii_lowercase()
            .replace([' ', '-', '_'], "")
            .as_str()
        {
            "worldwide" | "global" | "public" | "commercial" | "gcc" | "azurecloud" => {
                Some(Self::Worldwide)
            }
            "gcchigh" | "usgovgcchigh" | "usgov" | "azureusgovernment" => Some(Self::GccHigh),
            "dod" | "usgovdod" => Some(Self::DoD),
            "china" | "21vianet" | "azurechinacloud" => Some(Self::China),
            _ => None,
        }
    }

    /// The canonical name, as `config.json` writes it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Worldwide => "worldwide",
            Self::GccHigh => "gcchigh",
            Self::DoD => "dod",
            Self::China => "china",
        }
    }

    /// How the page names it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Worldwide => "Microsoft worldwide (also GCC)",
            Self::GccHigh => "US Government GCC High",
            Self::DoD => "US Government DoD",
            Self::China => "China (21Vianet)",
        }
    }

    /// The identity platform's host.
    pub fn login_host(self) -> &'static str {
        match self {
            Self::Worldwide => "login.microsoftonline.com",
            Self::GccHigh | Self::DoD => "login.microsoftonline.us",
            Self::China => "login.chinacloudapi.cn",
        }
    }

    /// The host in the `iss` of the v2 ID tokens the cloud issues: the login host, except in
    /// 21Vianet (<https://learn.microsoft.com/answers/questions/1190472>).
    pub fn issuer_host(self) -> &'static str {
        match self {
            Self::China => "login.partner.microsoftonline.cn",
            other => other.login_host(),
        }
    }

    /// Whether Microsoft Graph here offers the credential sign-in activity report the
    /// inventory's last-use column reads: the worldwide service only
    /// (<https://learn.microsoft.com/graph/api/appcredentialsigninactivity-get?view=graph-rest-beta>,
    /// "national cloud deployments").
    pub fn has_credential_usage_report(self) -> bool {
        self == Self::Worldwide
    }

    /// Microsoft Graph's host.
    pub fn graph_host(self) -> &'static str {
        match self {
            Self::Worldwide => "graph.microsoft.com",
            Self::GccHigh => "graph.microsoft.us",
            Self::DoD => "dod-graph.microsoft.us",
            Self::China => "microsoftgraph.chinacloudapi.cn",
        }
    }

    /// The Graph resource that scopes name and tokens are for (`https://{graph host}`).
    pub fn graph_resource(self) -> String {
        format!("https://{}", self.graph_host())
    }

    /// The default authority (`/organizations`).
    pub fn default_authority(self) -> String {
        format!("https://{}/organizations", self.login_host())
    }

    /// The default Graph base URL (`/v1.0`).
    pub fn default_graph_base_url(self) -> String {
        format!("https://{}/v1.0", self.graph_host())
    }

    /// Azure Resource Manager's endpoint
    /// (<https://learn.microsoft.com/azure/azure-government/compare-azure-government-global-azure>,
    /// <https://learn.microsoft.com/azure/china/resources-developer-guide>).
    pub fn default_arm_base_url(self) -> String {
        match self {
            Self::Worldwide => "https://management.azure.com",
            Self::GccHigh | Self::DoD => "https://management.usgovcloudapi.net",
            Self::China => "https://management.chinacloudapi.cn",
        }
        .to_owned()
    }

    /// The delegated scope for Azure Resource Manager with the admin's own Azure rights.
    pub fn arm_scope(self) -> String {
        format!("{}/user_impersonation", self.default_arm_base_url())
    }

    /// `-ExchangeEnvironmentName` for `Connect-ExchangeOnline`; `None` for the default
    /// (`O365Default`, which GCC uses too).
    pub fn exchange_environment(self) -> Option<&'static str> {
        match self {
            Self::Worldwide => None,
            Self::GccHigh => Some("O365USGovGCCHigh"),
            Self::DoD => Some("O365USGovDoD"),
            Self::China => Some("O365China"),
        }
    }

    /// Exchange Online's resource, which app-only tokens for Exchange PowerShell are for.
    pub fn exchange_resource(self) -> &'static str {
        match self {
            Self::Worldwide => "https://outlook.office365.com",
            Self::GccHigh => "https://outlook.office365.us",
            Self::DoD => "https://webmail.apps.mil",
            Self::China => "https://partner.outlook.cn",
        }
    }

    /// `-ConnectionUri` and `-AzureADAuthorizationEndpointUri` for `Connect-IPPSSession`;
    /// `None` where the defaults apply
    /// (<https://learn.microsoft.com/powershell/exchange/connect-to-scc-powershell>). For DoD,
    /// Microsoft's pages disagree (`l5.ps.compliance.protection.office365.us` there,
    /// `compliance.dod.microsoft.com` in the app-only guide): the cmdlet's own page is followed.
    pub fn compliance_endpoints(self) -> Option<(&'static str, &'static str)> {
        match self {
            Self::Worldwide => None,
            Self::GccHigh => Some((
                "https://ps.compliance.protection.office365.us/powershell-liveid/",
                "https://login.microsoftonline.us/organizations",
            )),
            Self::DoD => Some((
                "https://l5.ps.compliance.protection.office365.us/powershell-liveid/",
                "https://login.microsoftonline.us/organizations",
            )),
            Self::China => Some((
                "https://ps.compliance.protection.partner.outlook.cn/powershell-liveid",
                "https://login.chinacloudapi.cn/organizations",
            )),
        }
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_common_spellings_are_understood() {
        for c in CLOUDS {
            assert_eq!(Cloud::parse(c.name()), Some(c));
        }
        assert_eq!(Cloud::parse("GCC"), Some(Cloud::Worldwide));
        assert_eq!(Cloud::parse("GCC High"), Some(Cloud::GccHigh));
        assert_eq!(Cloud::parse("usgov-dod"), Some(Cloud::DoD));
        assert_eq!(Cloud::parse("21Vianet"), Some(Cloud::China));
        assert_eq!(Cloud::parse("germany"), None);
    }

    #[test]
    fn each_cloud_has_its_own_hosts_and_only_national_ones_name_an_environment() {
        let hosts: std::collections::HashSet<&str> =
            CLOUDS.iter().map(|c| c.graph_host()).collect();
        assert_eq!(hosts.len(), 4);
        assert_eq!(Cloud::Worldwide.exchange_environment(), None);
        assert_eq!(
            Cloud::GccHigh.exchange_environment(),
            Some("O365USGovGCCHigh")
        );
        assert_eq!(Cloud::DoD.login_host(), Cloud::GccHigh.login_host());
        assert_eq!(
            Cloud::China.default_graph_base_url(),
            "https://microsoftgraph.chinacloudapi.cn/v1.0"
        );
        assert!(Cloud::Worldwide.compliance_endpoints().is_none());
        for c in [Cloud::GccHigh, Cloud::DoD, Cloud::China] {
            let (uri, auth) = c.compliance_endpoints().expect("national");
            assert!(uri.starts_with("https://") && auth.ends_with("/organizations"));
            assert!(auth.contains(c.login_host()));
        }
    }
}
