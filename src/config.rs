//! Runtime configuration, read from `config.json` beside `index.html`.
//!
//! The page is one static build that any host can serve, so everything that differs between
//! deployments (the page's own Entra app registration, the authority, the Graph endpoint, the
//! redirect URI registered as platform type `spa`) is read at run time instead of compiled in.
//! A missing or malformed file must never leave a blank page: every problem becomes a
//! [`ConfigError`] whose message says what to change.

use std::fmt;

use serde::Deserialize;
use url::Url;

pub use crate::cloud::Cloud;

/// The host of the global Microsoft identity platform; anything else is a sandbox or a mistake.
pub const MICROSOFT_LOGIN_HOST: &str = "login.microsoftonline.com";
/// The host of Microsoft Graph (global cloud).
pub const MICROSOFT_GRAPH_HOST: &str = "graph.microsoft.com";
/// The page that finishes a sign-in, beside `index.html`. The start page (`index.html`, which
/// the identity platform redirects to) carries only the start screen's code and forwards a
/// sign-in answer here, where the whole app's module is loaded: the first load stays small.
pub const APP_PAGE: &str = "app.html";

/// `config.json` exactly as written by the person deploying the page.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawConfig {
    client_id: String,
    #[serde(default)]
    cloud: Option<String>,
    #[serde(default)]
    authority: Option<String>,
    #[serde(default)]
    graph_base_url: Option<String>,
    #[serde(default)]
    arm_base_url: Option<String>,
    redirect_uri: String,
    #[serde(default)]
    sandbox: bool,
}

/// The validated runtime configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Application (client) id of the page's own `spa` app registration.
    pub client_id: String,
    /// Authority without a trailing slash, e.g. `https://login.microsoftonline.com/organizations`.
    pub authority: Url,
    /// Graph base URL without a trailing slash, e.g. `https://graph.microsoft.com/v1.0`.
    pub graph_base_url: Url,
    /// Azure Resource Manager's base URL (Automation accounts), e.g.
    /// `https://management.azure.com`.
    pub arm_base_url: Url,
    /// The redirect URI registered as platform type `spa` on the page's app registration.
    pub redirect_uri: Url,
    /// True when the page talks to the local simulated tenant instead of Microsoft's cloud.
    pub sandbox: bool,
    /// The cloud the tenants live in: its Graph resource names the scopes, its environment the
    /// final PowerShell lines; its hosts are the defaults of `authority` and `graphBaseUrl`.
    pub cloud: Cloud,
}

/// Why the configuration could not be used. Each message says what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The host answered 404 for `config.json`.
    Missing,
    /// The file could not be fetched at all (network, server error).
    Unreachable(String),
    /// The file is not valid JSON, or a field has the wrong type, or a field is missing/unknown.
    Malformed(String),
    /// `clientId` is not a GUID, or is still the all-zero placeholder.
    InvalidClientId(String),
    /// A URL field does not parse, or carries a query or fragment where none is allowed.
    InvalidUrl {
        /// The JSON field name.
        field: &'static str,
        /// What was written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A URL uses plain `http` on a host other than the loopback interface.
    Insecure {
        /// The JSON field name.
        field: &'static str,
        /// What was written.
        value: String,
    },
    /// `cloud` names no cloud the page knows.
    UnknownCloud(String),
    /// The page's Content-Security-Policy (sealed at build time) does not let it reach these
    /// origins, so every sign-in or Graph call would fail with an opaque "Failed to fetch".
    NotAllowedByCsp {
        /// The origins `config.json` needs that `connect-src` lacks.
        origins: Vec<String>,
    },
    /// `redirectUri` is not this page, so the identity platform would send the admin elsewhere.
    RedirectElsewhere {
        /// The configured redirect URI.
        configured: String,
        /// Where the page actually is.
        page: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => write!(
                f,
                "This page has no config.json yet. Put a config.json beside index.html with the \
                 client id of your own Entra app registration (see the README, \"Deploy\")."
            ),
            Self::Unreachable(why) => write!(
                f,
                "config.json could not be loaded ({why}). Check that the host serves it beside \
                 index.html, then reload the page."
            ),
            Self::Malformed(why) => write!(
                f,
                "config.json is not valid: {why}. It must be a JSON object with clientId and \
                 redirectUri (and optionally cloud, authority and graphBaseUrl); see the README."
            ),
            Self::InvalidClientId(value) => write!(
                f,
                "clientId in config.json is \"{value}\", which is not an application (client) id. \
                 Copy the GUID shown as \"Application (client) ID\" on your app registration's \
                 Overview page in the Entra admin center."
            ),
            Self::InvalidUrl {
                field,
                value,
                reason,
            } => {
                write!(
                    f,
                    "{field} in config.json (\"{value}\") is not usable: {reason}."
                )
            }
            Self::Insecure { field, value } => write!(
                f,
                "{field} in config.json (\"{value}\") uses plain http. Use https; plain http is \
                 only accepted for 127.0.0.1 or localhost (the local sandbox)."
            ),
            Self::UnknownCloud(value) => write!(
                f,
                "cloud in config.json is \"{value}\", which is not a cloud the page knows. Use \
                 \"worldwide\" (also for GCC), \"gcchigh\", \"dod\" or \"china\", or leave it out \
                 for worldwide."
            ),
            Self::NotAllowedByCsp { origins } => write!(
                f,
                "This build of the page may only connect to the hosts it was built for, and \
                 config.json needs {}. Rebuild with this config.json (cargo xtask build --config \
                 config.json), which writes its hosts into the page's Content-Security-Policy, or \
                 change config.json back to the hosts this build allows.",
                origins.join(" and ")
            ),
            Self::RedirectElsewhere { configured, page } => write!(
                f,
                "redirectUri in config.json is {configured}, but this page is served from {page}. \
                 Sign-in would return to the wrong place: set redirectUri to this page's address \
                 and register the same address as a \"Single-page application\" redirect URI."
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Parses and validates the text of `config.json`.
    pub fn from_json(text: &str) -> Result<Self, ConfigError> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| ConfigError::Malformed(format!("it is not JSON ({e})")))?;
        if !value.is_object() {
            return Err(ConfigError::Malformed(
                "it must hold one JSON object, {…}".into(),
            ));
        }
        let raw: RawConfig =
            serde_json::from_value(value).map_err(|e| ConfigError::Malformed(e.to_string()))?;
        let client_id = raw.client_id.trim().to_ascii_lowercase();
        if !is_guid(&client_id) || client_id == "00000000-0000-0000-0000-000000000000" {
            return Err(ConfigError::InvalidClientId(raw.client_id));
        }
        let cloud = match raw.cloud.as_deref() {
            None => Cloud::Worldwide,
            Some(name) => {
                Cloud::parse(name).ok_or_else(|| ConfigError::UnknownCloud(name.into()))?
            }
        };
        let raw_authority = raw.authority.unwrap_or_else(|| cloud.default_authority());
        let raw_graph = raw
            .graph_base_url
            .unwrap_or_else(|| cloud.default_graph_base_url());
        let authority = endpoint("authority", &raw_authority)?;
        if authority.path_segments().map_or(0, |s| s.count()) != 1 || authority.path() == "/" {
            return Err(ConfigError::InvalidUrl {
                field: "authority",
                value: raw_authority,
                reason: "it must name exactly one tenant segment, e.g. \
                         https://login.microsoftonline.com/organizations"
                    .into(),
            });
        }
        let graph_base_url = endpoint("graphBaseUrl", &raw_graph)?;
        let raw_arm = raw
            .arm_base_url
            .unwrap_or_else(|| cloud.default_arm_base_url());
        let arm_base_url = endpoint("armBaseUrl", &raw_arm)?;
        let redirect_uri = absolute("redirectUri", &raw.redirect_uri)?;
        if redirect_uri.fragment().is_some() {
            return Err(ConfigError::InvalidUrl {
                field: "redirectUri",
                value: raw.redirect_uri,
                reason: "a redirect URI cannot contain a fragment (#…)".into(),
            });
        }
        Ok(Self {
            client_id,
            authority,
            graph_base_url,
            arm_base_url,
            redirect_uri,
            sandbox: raw.sandbox,
            cloud,
        })
    }

    /// True when the page is not talking to Microsoft: either the file says so, or the
    /// authority is not the configured cloud's identity platform. The page then shows a
    /// *Sandbox* badge.
    pub fn is_sandbox(&self) -> bool {
        self.sandbox || self.authority.host_str() != Some(self.cloud.login_host())
    }

    /// The origins this configuration needs that a Content-Security-Policy's `connect-src` does
    /// not allow (exact origins, as the build writes them; `*` or a missing `connect-src` with a
    /// permissive `default-src` allow everything).
    pub fn blocked_by(&self, csp: &str) -> Vec<String> {
        let directive = |name: &str| {
            csp.split(';')
                .map(str::trim)
                .find_map(|d| d.strip_prefix(name).filter(|rest| rest.starts_with(' ')))
                .map(|rest| {
                    rest.split_whitespace()
                        .map(str::to_owned)
                        .collect::<Vec<_>>()
                })
        };
        let Some(allowed) = directive("connect-src").or_else(|| directive("default-src")) else {
            return vec![];
        };
        if allowed.iter().any(|a| a == "*") {
            return vec![];
        }
        // Azure Resource Manager serves only the optional Automation steps: a policy without it
        // still runs everything else, and the Automation card says what to add.
        let mut needed = self.sign_in_origins();
        needed.dedup();
        needed
            .into_iter()
            .filter(|o| !allowed.iter().any(|a| a.trim_end_matches('/') == o))
            .collect()
    }

    /// The origins sign-in and Graph need (a policy must allow these for the page to start).
    fn sign_in_origins(&self) -> Vec<String> {
        vec![
            self.authority.origin().ascii_serialization(),
            self.graph_base_url.origin().ascii_serialization(),
        ]
    }

    /// The origins the page must be allowed to `fetch` from (CSP `connect-src`), besides itself.
    pub fn connect_origins(&self) -> Vec<String> {
        let mut origins = vec![
            self.authority.origin().ascii_serialization(),
            self.graph_base_url.origin().ascii_serialization(),
            self.arm_base_url.origin().ascii_serialization(),
        ];
        origins.dedup();
        origins
    }

    /// Checks that `redirectUri` points at the page the admin has open (`page_url` is
    /// `location.href`). Query and fragment of the page are ignored: they carry sign-in results.
    pub fn check_served_from(&self, page_url: &str) -> Result<(), ConfigError> {
        let mismatch = || ConfigError::RedirectElsewhere {
            configured: self.redirect_uri.to_string(),
            page: page_url.to_string(),
        };
        let mut page = Url::parse(page_url).map_err(|_| mismatch())?;
        page.set_query(None);
        page.set_fragment(None);
        let mut expected = self.redirect_uri.clone();
        expected.set_query(None);
        // `/` and `/index.html` are the same page on every static host, and the start page
        // forwards a sign-in answer to its sibling `app.html` (APP_PAGE): all three are this page.
        for url in [&mut page, &mut expected] {
            let path = url.path();
            let stripped = path
                .strip_suffix("index.html")
                .or_else(|| path.strip_suffix(APP_PAGE))
                .map(str::to_owned);
            if let Some(stripped) = stripped {
                url.set_path(&stripped);
            }
        }
        if page == expected {
            Ok(())
        } else {
            Err(mismatch())
        }
    }
}

/// An endpoint URL (authority, Graph): absolute, secure, no query or fragment, no trailing `/`.
fn endpoint(field: &'static str, value: &str) -> Result<Url, ConfigError> {
    let mut url = absolute(field, value)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::InvalidUrl {
            field,
            value: value.into(),
            reason: "it must not contain a query (?…) or fragment (#…)".into(),
        });
    }
    let trimmed = url.path().trim_end_matches('/').to_owned();
    url.set_path(&trimmed);
    Ok(url)
}

fn absolute(field: &'static str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value.trim()).map_err(|e| ConfigError::InvalidUrl {
        field,
        value: value.into(),
        reason: format!("{e}; write a full address starting with https://"),
    })?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(ConfigError::Insecure {
            field,
            value: value.into(),
        }),
        other => Err(ConfigError::InvalidUrl {
            field,
            value: value.into(),
            reason: format!("the scheme {other}: is not supported; use https://"),
        }),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// `8-4-4-4-12` hexadecimal digits, the form Entra shows application ids in.
pub fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests;
