//! Admin consent for a customer's tenant, when the page is hosted for many customers with a
//! multi-tenant registration: the customer's administrator opens the v2 admin-consent endpoint
//! once, and the identity platform sends the answer back to the page in its query string
//! (<https://learn.microsoft.com/entra/identity-platform/v2-admin-consent>).

use std::fmt;

use url::Url;

use super::{GRAPH_PERMISSIONS, aadsts};
use crate::config::Config;

/// `https://{login}/{tenant}/v2.0/adminconsent?client_id=…&scope=…&redirect_uri=…&state=…`:
/// every permission the page uses (including the inventory's), under the cloud's Graph.
pub fn admin_consent_url(config: &Config, tenant: &str, state: &str) -> Url {
    let mut url = config.authority.clone();
    url.set_path(&format!("/{tenant}/v2.0/adminconsent"));
    let resource = config.cloud.graph_resource();
    let scope: Vec<String> = GRAPH_PERMISSIONS
        .iter()
        .chain(std::iter::once(&crate::lifecycle::AUDIT_SCOPE))
        .map(|p| format!("{resource}/{p}"))
        .collect();
    url.query_pairs_mut()
        .append_pair("client_id", &config.client_id)
        .append_pair("scope", &scope.join(" "))
        .append_pair("redirect_uri", config.redirect_uri.as_str())
        .append_pair("state", state);
    url
}

/// What the admin-consent endpoint answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentAnswer {
    /// Granted for `tenant` (its id).
    Granted {
        /// The tenant that consented.
        tenant: String,
    },
    /// The administrator pressed Cancel.
    Declined,
    /// Something else went wrong, as the identity platform said.
    Failed {
        /// `error`.
        error: String,
        /// `error_description`.
        description: String,
    },
    /// The answer's `state` is not the one this page sent: ignored (it may be forged).
    StateMismatch,
}

impl ConsentAnswer {
    /// Reads the page's query string after the admin-consent endpoint; `None` when the query is
    /// not such an answer. `expected_state` is the state this browser sent; `None` when the
    /// link was opened elsewhere (a consultant sends it to the customer's admin), and the
    /// answer is then read for information only.
    pub fn parse(query: &str, expected_state: Option<&str>) -> Option<Self> {
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
                .into_owned()
                .collect();
        let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let consent = get("admin_consent");
        let error = get("error");
        if consent.is_none() && error.is_none() {
            return None;
        }
        if expected_state.is_some() && get("state").as_deref() != expected_state {
            return Some(Self::StateMismatch);
        }
        if let Some(error) = error {
            let description = get("error_description").unwrap_or_default();
            let cancelled = get("error_subcode").as_deref() == Some("cancel")
                || aadsts(&description) == Some(65004);
            return Some(if error == "access_denied" && cancelled {
                Self::Declined
            } else {
                Self::Failed { error, description }
            });
        }
        match (consent.as_deref(), get("tenant")) {
            (Some(c), Some(tenant)) if c.eq_ignore_ascii_case("true") => {
                Some(Self::Granted { tenant })
            }
            _ => Some(Self::Failed {
                error: "admin_consent".into(),
                description: "the answer did not say consent was granted".into(),
            }),
        }
    }

    /// Whether the tenant that answered is not the one asked for (by id; a domain asked for is
    /// checked after sign-in, when the tenant's domains are known).
    pub fn other_tenant(&self, asked: &str) -> bool {
        let is_id = asked.len() == 36 && asked.chars().filter(|c| *c == '-').count() == 4;
        matches!(self, Self::Granted { tenant } if is_id && !tenant.eq_ignore_ascii_case(asked))
    }
}

impl fmt::Display for ConsentAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Granted { tenant } => write!(
                f,
                "Admin consent granted for tenant {tenant}: its administrators can now sign in here and set up unattended access."
            ),
            Self::Declined => f.write_str(
                "Admin consent was declined, so nothing was granted. The page cannot work in that tenant until an administrator consents: open the consent link again when ready.",
            ),
            Self::Failed { error, description } => write!(
                f,
                "Admin consent did not complete ({error}: {description}). Only a Global Administrator, Privileged Role Administrator, or (Cloud) Application Administrator of the customer's tenant may consent; check the account used and open the link again."
            ),
            Self::StateMismatch => f.write_str(
                "An admin-consent answer arrived that this page did not ask for; it was ignored. If you opened a consent link, open it again from this page.",
            ),
        }
    }
}
