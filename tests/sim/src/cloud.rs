//! The cloud the simulator plays (`--cloud`, `POST /_sim/reset {"cloud": …}`): worldwide (also
//! GCC), GCC High, DoD or China (21Vianet). Each cloud has its own Microsoft Graph resource (the
//! `aud` of Graph tokens and the prefix of delegated scopes), its own Exchange Online resource
//! (the `aud` of app-only Exchange tokens) and its own login host; tokens of one cloud are not
//! accepted by another.
//!
//! Sources: Learn "Microsoft Graph national cloud deployments"
//! (<https://learn.microsoft.com/graph/deployments>: Graph roots `graph.microsoft.com`,
//! `graph.microsoft.us` for L4/GCC High, `dod-graph.microsoft.us` for L5/DoD,
//! `microsoftgraph.chinacloudapi.cn`; login hosts `login.microsoftonline.com`,
//! `login.microsoftonline.us`, `login.chinacloudapi.cn`); Learn "National clouds"
//! (<https://learn.microsoft.com/entra/identity-platform/authentication-national-cloud>);
//! Learn "App-only authentication for unattended scripts in Exchange Online PowerShell"
//! (<https://learn.microsoft.com/powershell/exchange/app-only-auth-powershell-v2>:
//! `-ExchangeEnvironmentName` O365USGovGCCHigh / O365USGovDoD / O365China) and
//! "Connect-ExchangeOnline" (<https://learn.microsoft.com/powershell/module/exchange/connect-exchangeonline>);
//! Exchange hosts per cloud from Learn "Office 365 U.S. Government GCC High endpoints"
//! (`outlook.office365.us`), "Office 365 U.S. Government DoD endpoints" (`webmail.apps.mil`) and
//! "Microsoft 365 operated by 21Vianet endpoints" (`partner.outlook.cn`); token issuers per
//! cloud (v1 `sts.windows.net` worldwide and US Government, `sts.chinacloudapi.cn` China; v2
//! `login.microsoftonline.com`, `login.microsoftonline.us`, `login.partner.microsoftonline.cn`)
//! from Microsoft Q&A "What are the token issuers for the sovereign clouds"
//! (<https://learn.microsoft.com/answers/questions/1190472>).

use serde_json::{Value, json};

/// A Microsoft cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cloud {
    /// Worldwide (commercial), which GCC uses too.
    #[default]
    Worldwide,
    /// Microsoft 365 GCC High (US Government L4).
    GccHigh,
    /// Microsoft 365 DoD (US Government L5).
    Dod,
    /// Microsoft 365 operated by 21Vianet.
    China,
}

/// The four clouds, for error messages and the README.
pub const NAMES: [&str; 4] = ["worldwide", "gcchigh", "dod", "china"];

impl Cloud {
    /// `worldwide` (or `gcc`, `global`), `gcchigh`, `dod`, `china`.
    pub fn parse(name: &str) -> Option<Self> {
        match name
            .to_ascii_lowercase()
            .replace(['-', '_', ' '], "")
            .as_str()
        {
            "worldwide" | "global" | "gcc" | "commercial" => Some(Self::Worldwide),
            "gcchigh" | "usgovgcchigh" => Some(Self::GccHigh),
            "dod" | "usgovdod" => Some(Self::Dod),
            "china" | "21vianet" => Some(Self::China),
            _ => None,
        }
    }

    /// The name `--cloud` and `/_sim/reset` take.
    pub fn name(self) -> &'static str {
        match self {
            Self::Worldwide => "worldwide",
            Self::GccHigh => "gcchigh",
            Self::Dod => "dod",
            Self::China => "china",
        }
    }

    /// Every cloud.
    pub fn all() -> [Self; 4] {
        [Self::Worldwide, Self::GccHigh, Self::Dod, Self::China]
    }

    /// The Microsoft Graph resource: `aud` of Graph tokens, prefix of delegated scopes.
    pub fn graph(self) -> &'static str {
        match self {
            Self::Worldwide => "https://graph.microsoft.com",
            Self::GccHigh => "https://graph.microsoft.us",
            Self::Dod => "https://dod-graph.microsoft.us",
            Self::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }

    /// The Exchange Online resource app-only tokens are for (`{resource}/.default`).
    pub fn exchange(self) -> &'static str {
        match self {
            Self::Worldwide => "https://outlook.office365.com",
            Self::GccHigh => "https://outlook.office365.us",
            Self::Dod => "https://webmail.apps.mil",
            Self::China => "https://partner.outlook.cn",
        }
    }

    /// The domain SharePoint Online hosts live under (`{tenant}.{this}`, `{tenant}-admin.{this}`):
    /// Learn's Microsoft 365 endpoint lists for worldwide (`*.sharepoint.com`), GCC High
    /// (`*.sharepoint.us`), DoD (`*.sharepoint-mil.us`) and 21Vianet (`*.sharepoint.cn`).
    pub fn sharepoint_suffix(self) -> &'static str {
        match self {
            Self::Worldwide => "sharepoint.com",
            Self::GccHigh => "sharepoint.us",
            Self::Dod => "sharepoint-mil.us",
            Self::China => "sharepoint.cn",
        }
    }

    /// Azure Resource Manager (the `aud` of ARM tokens, the scope prefix of
    /// `{arm}/user_impersonation`): `management.azure.com`, `management.usgovcloudapi.net` for
    /// both US Government clouds, `management.chinacloudapi.cn` (Learn: "Azure Government
    /// developer guide", "Azure China developer guide"). The simulator serves it under `/arm`.
    pub fn arm(self) -> &'static str {
        match self {
            Self::Worldwide => "https://management.azure.com",
            Self::GccHigh | Self::Dod => "https://management.usgovcloudapi.net",
            Self::China => "https://management.chinacloudapi.cn",
        }
    }

    /// ARM's legacy resource (`https://management.core.windows.net/`), which ARM accepts as an
    /// audience too.
    pub fn arm_legacy(self) -> &'static str {
        match self {
            Self::Worldwide => "https://management.core.windows.net/",
            Self::GccHigh | Self::Dod => "https://management.core.usgovcloudapi.net/",
            Self::China => "https://management.core.chinacloudapi.cn/",
        }
    }

    /// The login host (the authority's origin).
    pub fn login(self) -> &'static str {
        match self {
            Self::Worldwide => "https://login.microsoftonline.com",
            Self::GccHigh | Self::Dod => "https://login.microsoftonline.us",
            Self::China => "https://login.chinacloudapi.cn",
        }
    }

    /// The origin of v2 ID token issuers in the real cloud (China's differs from its login host).
    pub fn v2_issuer(self) -> &'static str {
        match self {
            Self::Worldwide => "https://login.microsoftonline.com",
            Self::GccHigh | Self::Dod => "https://login.microsoftonline.us",
            Self::China => "https://login.partner.microsoftonline.cn",
        }
    }

    /// The origin of v1 access token issuers (`iss` = `{this}/{tid}/`).
    pub fn v1_issuer(self) -> &'static str {
        match self {
            Self::China => "https://sts.chinacloudapi.cn",
            _ => "https://sts.windows.net",
        }
    }

    /// `Connect-ExchangeOnline -ExchangeEnvironmentName`.
    pub fn exchange_environment_name(self) -> &'static str {
        match self {
            Self::Worldwide => "O365Default",
            Self::GccHigh => "O365USGovGCCHigh",
            Self::Dod => "O365USGovDoD",
            Self::China => "O365China",
        }
    }

    /// Whether `resource` (an origin-like URL, any trailing `/`) is the Graph of another cloud.
    pub fn foreign_graph(self, resource: &str) -> bool {
        let resource = resource.trim_end_matches('/');
        Self::all()
            .iter()
            .any(|c| *c != self && c.graph().eq_ignore_ascii_case(resource))
    }

    /// The facts `/_sim/state` shows.
    pub fn json(self, issuer: Issuer) -> Value {
        json!({
            "name": self.name(),
            "graph": self.graph(),
            "exchange": self.exchange(),
            "arm": self.arm(),
            "sharepointSuffix": self.sharepoint_suffix(),
            "login": self.login(),
            "v2IssuerOrigin": self.v2_issuer(),
            "v1IssuerOrigin": self.v1_issuer(),
            "exchangeEnvironmentName": self.exchange_environment_name(),
            "issuer": issuer.name(),
        })
    }
}

/// Which origin ID token issuers (and discovery's `issuer`) carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Issuer {
    /// The address the simulator was called at (`http://127.0.0.1:4010`), as Entra's issuer is
    /// the host it answers on: a client comparing `iss` with its authority's origin works.
    #[default]
    Request,
    /// The real cloud's issuer origin (`Cloud::v2_issuer`), whatever address was called: for
    /// proving a client copes with China's issuer host differing from its login host.
    Cloud,
}

impl Issuer {
    /// `request` or `cloud`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "request" => Some(Self::Request),
            "cloud" => Some(Self::Cloud),
            _ => None,
        }
    }

    /// The name reset and `--issuer` take.
    pub fn name(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Cloud => "cloud",
        }
    }
}
