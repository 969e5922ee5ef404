//! Signing the admin in: OAuth 2.0 authorization code flow with PKCE (RFC 7636) against the
//! Microsoft identity platform, the way MSAL.js does it for single-page apps
//! (`shared/reference/graph-and-identity.md` §1).
//!
//! Pure: this module builds the authorize URL and the token request, and reads what comes back;
//! the browser shell does the redirect and the `fetch`. What must survive the redirect (state,
//! PKCE verifier, nonce) is a [`Pending`] sign-in, kept in `sessionStorage` for the round trip
//! only and removed when the admin comes back. Tokens are never stored anywhere.

mod errors;
mod pkce;

use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::Config;
use crate::forge::Rng;

pub use errors::SignInError;
pub use pkce::{PkceChallenge, PkceVerifier, pkce_pair};

/// Delegated Microsoft Graph permissions the page asks for, each needed by one step (README,
/// "Deploy"): reading the tenant, creating the app and its certificate, granting
/// `Exchange.ManageAsApp`, assigning the Entra role, reading the app-management policy.
pub const GRAPH_SCOPES: [&str; 5] = [
    "https://graph.microsoft.com/User.Read",
    "https://graph.microsoft.com/Application.ReadWrite.All",
    "https://graph.microsoft.com/AppRoleAssignment.ReadWrite.All",
    "https://graph.microsoft.com/RoleManagement.ReadWrite.Directory",
    "https://graph.microsoft.com/Policy.Read.All",
];

/// A pending sign-in gets this long to come back (the code itself lives about 10 minutes).
pub const PENDING_LIFETIME_MS: f64 = 15.0 * 60_000.0;

/// What the page remembers across the redirect to the identity platform and back.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pending {
    /// Random, compared with the `state` that comes back (CSRF protection).
    pub state: String,
    /// Random, compared with the ID token's `nonce` (replay protection).
    pub nonce: String,
    /// The PKCE verifier; its challenge went out with the authorize request.
    pub verifier: PkceVerifier,
    /// `Date.now()` when the sign-in started.
    pub created_ms: f64,
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending")
            .field("created_ms", &self.created_ms)
            .finish_non_exhaustive()
    }
}

impl Pending {
    /// Starts a sign-in: fresh state, nonce and PKCE pair. Returns the pending sign-in to keep
    /// and the URL to send the admin to.
    pub fn start(
        config: &Config,
        rng: &mut impl Rng,
        now_ms: f64,
        login_hint: Option<&str>,
    ) -> (Self, Url) {
        let (challenge, verifier) = pkce_pair(rng);
        let pending = Self {
            state: random_token(rng),
            nonce: random_token(rng),
            verifier,
            created_ms: now_ms,
        };
        let url = authorize_url(config, &pending, &challenge, login_hint);
        (pending, url)
    }

    /// Checks what came back against this pending sign-in and returns the authorization code.
    pub fn accept(&self, redirect: Redirect, now_ms: f64) -> Result<String, SignInError> {
        if now_ms - self.created_ms > PENDING_LIFETIME_MS {
            return Err(SignInError::Expired);
        }
        match redirect {
            Redirect::Code { state, .. }
            | Redirect::Error {
                state: Some(state), ..
            } if state != self.state => Err(SignInError::StateMismatch),
            Redirect::Code { code, .. } => Ok(code),
            Redirect::Error {
                error, description, ..
            } => Err(SignInError::from_server(&error, &description)),
        }
    }
}

/// `https://{authority}/oauth2/v2.0/authorize?...` with PKCE S256, `response_mode=fragment` (the
/// code never reaches the static host's logs) and `prompt=select_account`.
pub fn authorize_url(
    config: &Config,
    pending: &Pending,
    challenge: &PkceChallenge,
    login_hint: Option<&str>,
) -> Url {
    let mut url = endpoint(config, "authorize");
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", &config.client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", config.redirect_uri.as_str())
            .append_pair("response_mode", "fragment")
            .append_pair("scope", &scope())
            .append_pair("state", &pending.state)
            .append_pair("nonce", &pending.nonce)
            .append_pair("code_challenge", challenge.as_str())
            .append_pair("code_challenge_method", "S256")
            .append_pair("prompt", "select_account");
        if let Some(hint) = login_hint {
            q.append_pair("login_hint", hint);
        }
    }
    url
}

/// The token endpoint of the configured authority.
pub fn token_url(config: &Config) -> Url {
    endpoint(config, "token")
}

/// The form body that redeems `code` (a public client: no secret, the verifier instead).
pub fn token_request_body(config: &Config, pending: &Pending, code: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", &config.client_id)
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", config.redirect_uri.as_str())
        .append_pair("code_verifier", pending.verifier.secret())
        .append_pair("scope", &scope())
        .finish()
}

/// `openid profile` plus the Graph permissions (one resource per token request).
pub fn scope() -> String {
    let mut scopes = vec!["openid", "profile"];
    scopes.extend(GRAPH_SCOPES);
    scopes.join(" ")
}

fn endpoint(config: &Config, name: &str) -> Url {
    let mut url = config.authority.clone();
    let path = format!("{}/oauth2/v2.0/{name}", url.path().trim_end_matches('/'));
    url.set_path(&path);
    url
}

/// What the identity platform put in the redirect's fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redirect {
    /// Success: an authorization code.
    Code {
        /// The code (single use, about 10 minutes).
        code: String,
        /// The state the page sent.
        state: String,
    },
    /// The identity platform refused; the AADSTS code is inside the description.
    Error {
        /// OAuth error, e.g. `access_denied`.
        error: String,
        /// Human text with the AADSTS code.
        description: String,
        /// The state, when echoed.
        state: Option<String>,
    },
}

impl Redirect {
    /// Reads `#code=…&state=…` or `#error=…`; `None` when the fragment is not a sign-in answer.
    pub fn parse(fragment: &str) -> Option<Self> {
        let fragment = fragment.trim_start_matches('#');
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(fragment.as_bytes())
            .into_owned()
            .collect();
        let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        if let Some(error) = get("error") {
            return Some(Self::Error {
                error,
                description: get("error_description").unwrap_or_default(),
                state: get("state"),
            });
        }
        Some(Self::Code {
            code: get("code")?,
            state: get("state")?,
        })
    }
}

/// 32 random bytes, base64url: state and nonce.
fn random_token(rng: &mut impl Rng) -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests;
