//! Signing the admin in: OAuth 2.0 authorization code flow with PKCE (RFC 7636) against the
//! Microsoft identity platform, the way MSAL.js does it for single-page apps
//! (<https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow>).
//!
//! Pure: this module builds the authorize URL and the token request, and reads what comes back;
//! the browser shell does the redirect and the `fetch`. What must survive the redirect (state,
//! PKCE verifier, nonce) is a [`Pending`] sign-in, kept in `sessionStorage` for the round trip
//! only and removed when the admin comes back. Tokens are never stored anywhere.

mod consent;
mod errors;
mod pkce;

use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

use rand_core::CryptoRng;

use crate::config::Config;

pub use consent::{ConsentAnswer, admin_consent_url};
pub use errors::{SignInError, aadsts};
pub use pkce::{PkceChallenge, PkceVerifier, pkce_pair};

/// Delegated Microsoft Graph permissions the page asks for, each needed by one step (README,
/// "Deploy"): reading the tenant, creating the app and its certificate, granting
/// `Exchange.ManageAsApp`, assigning the Entra role, reading the app-management policy. Scopes
/// name them under the cloud's Graph resource (`scope_for`): a token for one cloud's Graph is
/// refused by another's.
pub const GRAPH_PERMISSIONS: [&str; 5] = [
    "User.Read",
    "Application.ReadWrite.All",
    "AppRoleAssignment.ReadWrite.All",
    "RoleManagement.ReadWrite.Directory",
    "Policy.Read.All",
];

/// The `sessionStorage` key of the pending sign-in (state, nonce, PKCE verifier) while the
/// browser is away at the identity platform. The start page's boot module reads it too (written
/// in by `cargo xtask`): an answer this tab waits for is finished on the app page.
pub const PENDING_SIGN_IN_KEY: &str = "unattended.pending-sign-in";

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
    /// Graph permissions asked for beyond `GRAPH_PERMISSIONS` (incremental consent: the
    /// inventory's `AuditLog.Read.All`), asked for again when the code is redeemed.
    #[serde(default)]
    pub extra_scopes: Vec<String>,
    /// The Graph resource of the configured cloud, which the scopes name.
    #[serde(default = "worldwide_graph")]
    pub resource: String,
    /// The tenant the admin asked to sign in to (domain or id), when not the configured
    /// authority's: the code is redeemed at that tenant's token endpoint too.
    #[serde(default)]
    pub tenant: Option<String>,
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
        rng: &mut impl CryptoRng,
        now_ms: f64,
        login_hint: Option<&str>,
        extra_scopes: &[&str],
    ) -> (Self, Url) {
        let (mut pending, challenge) = Self::fresh(rng, now_ms);
        pending.extra_scopes = extra_scopes.iter().map(|s| (*s).to_owned()).collect();
        pending.resource = config.cloud.graph_resource();
        let url = authorize_url(config, &pending, &challenge, login_hint);
        (pending, url)
    }

    /// The scopes this sign-in's tokens are for: `scope_for` its cloud, plus its extra ones of
    /// the same resource.
    pub fn scope(&self) -> String {
        scope_for(&self.resource, &self.extra_scopes)
    }

    /// The scopes the authorize request asks consent for: `scope` plus other resources' (Azure
    /// Resource Manager's), which a token request may not mix with Graph's (AADSTS28000): their
    /// tokens come later from the refresh token, as MSAL's `extraScopesToConsent` does
    /// (<https://learn.microsoft.com/entra/identity-platform/msal-js-prompt-behavior>).
    pub fn consent_scope(&self) -> String {
        let mut all = vec![self.scope()];
        all.extend(
            self.extra_scopes
                .iter()
                .filter(|s| s.contains("://"))
                .cloned(),
        );
        all.join(" ")
    }

    /// Starts a sign-in again in the middle of a run (the popup): at the admin's own tenant
    /// (`tenant_config`), for the same account (`login_hint`), asking for the `claims` a
    /// Conditional Access or continuous access evaluation challenge named, with every check of
    /// the first sign-in. No `prompt`: the account is known, and the platform asks for what
    /// the claims need (MFA, a compliant device).
    pub fn start_again(
        tenant_config: &Config,
        rng: &mut impl CryptoRng,
        now_ms: f64,
        login_hint: &str,
        claims: Option<&str>,
        extra_scopes: &[&str],
    ) -> (Self, Url) {
        let (mut pending, challenge) = Self::fresh(rng, now_ms);
        pending.extra_scopes = extra_scopes.iter().map(|s| (*s).to_owned()).collect();
        pending.resource = tenant_config.cloud.graph_resource();
        let mut url = authorize_url(tenant_config, &pending, &challenge, Some(login_hint));
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .into_owned()
            .filter(|(k, _)| k != "prompt")
            .collect();
        {
            let mut q = url.query_pairs_mut();
            q.clear();
            for (k, v) in &pairs {
                q.append_pair(k, v);
            }
            if let Some(claims) = claims {
                q.append_pair("claims", claims);
            }
        }
        (pending, url)
    }

    fn fresh(rng: &mut impl CryptoRng, now_ms: f64) -> (Self, PkceChallenge) {
        let (challenge, verifier) = pkce_pair(rng);
        let pending = Self {
            state: random_token(rng),
            nonce: random_token(rng),
            verifier,
            created_ms: now_ms,
            extra_scopes: vec![],
            resource: worldwide_graph(),
            tenant: None,
        };
        (pending, challenge)
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
            .append_pair("scope", &pending.consent_scope())
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
        .append_pair("scope", &pending.scope())
        .finish()
}

fn worldwide_graph() -> String {
    crate::cloud::Cloud::Worldwide.graph_resource()
}

/// `openid profile offline_access` plus the Graph permissions (and `extra` ones) under
/// `resource`, the cloud's Graph (one resource per token request). `offline_access` brings a
/// refresh token, kept in memory only, so an access token that expires mid-run is renewed
/// without a redirect that would lose the key being uploaded.
pub fn scope_for(resource: &str, extra: &[String]) -> String {
    let resource = resource.trim_end_matches('/');
    let mut scopes: Vec<String> = ["openid", "profile", "offline_access"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    scopes.extend(
        GRAPH_PERMISSIONS
            .iter()
            .map(|p| (*p).to_owned())
            // Another resource's scope (a full URI) is asked for at consent only.
            .chain(extra.iter().filter(|p| !p.contains("://")).cloned())
            .map(|p| format!("{resource}/{p}")),
    );
    scopes.join(" ")
}

/// The worldwide scopes, without extras.
pub fn scope() -> String {
    scope_for(&worldwide_graph(), &[])
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

/// The token endpoint's answer to a code redemption.
#[derive(Deserialize)]
pub struct TokenResponse {
    /// Graph access token.
    pub access_token: Option<String>,
    /// Refresh token (with `offline_access`).
    pub refresh_token: Option<String>,
    /// ID token (with `openid`).
    pub id_token: Option<String>,
    /// OAuth error, on failure.
    pub error: Option<String>,
    /// With the AADSTS code inside, on failure.
    pub error_description: Option<String>,
}

/// Who signed in, from the ID token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Tenant id (`tid`): later token requests go to this tenant, not `organizations`.
    pub tenant_id: String,
    /// The account's object id (`oid`): a sign-in again must be the same person.
    pub object_id: String,
    /// `preferred_username`.
    pub username: String,
}

impl Identity {
    /// A sign-in again in the middle of a run must come back as the same account in the same
    /// tenant: the run's plan was made with that account's rights.
    pub fn same_as(&self, other: &Identity) -> Result<(), SignInError> {
        if self.tenant_id == other.tenant_id && self.object_id == other.object_id {
            Ok(())
        } else {
            Err(SignInError::OtherAccount(self.username.clone()))
        }
    }
}

/// Why a tenant typed on the start screen cannot be signed in to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantChoiceError(pub String);

impl fmt::Display for TenantChoiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\"{}\" is not a tenant: type its domain (contoso.onmicrosoft.com, contoso.com) or its tenant id (a GUID), or leave it empty to sign in to your own.",
            self.0
        )
    }
}

/// The tenant a guest, a GDAP partner or a consultant asks to sign in to: a verified domain or a
/// tenant id, lower-cased; `None` when left empty (the admin's home tenant through the
/// configured authority). Either form may stand in the authority's path
/// (<https://learn.microsoft.com/entra/identity-platform/msal-client-application-configuration#authority>).
pub fn tenant_choice(text: &str) -> Result<Option<String>, TenantChoiceError> {
    let t = text.trim().trim_end_matches('.').to_ascii_lowercase();
    if t.is_empty() {
        return Ok(None);
    }
    let refuse = || Err(TenantChoiceError(text.trim().to_owned()));
    if ["organizations", "common", "consumers"].contains(&t.as_str()) {
        return refuse();
    }
    let guid = t.len() == 36
        && t.char_indices().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        });
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let labels: Vec<&str> = t.split('.').collect();
    let domain = t.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| label_ok(l))
        && labels
            .last()
            .is_some_and(|tld| tld.chars().any(|c| c.is_ascii_alphabetic()));
    if guid || domain {
        Ok(Some(t))
    } else {
        refuse()
    }
}

/// The configuration pointed at `tenant` when one was asked for, else as configured.
pub fn authority_for(config: &Config, tenant: Option<&str>) -> Config {
    tenant.map_or_else(|| config.clone(), |t| tenant_config(config, t))
}

/// The configuration pointed at the admin's own tenant (for a sign-in again).
pub fn tenant_config(config: &Config, tenant_id: &str) -> Config {
    let mut c = config.clone();
    c.authority.set_path(&format!("/{tenant_id}"));
    c
}

/// The tokens of a completed sign-in.
pub struct SignedIn {
    /// Graph access token.
    pub access_token: String,
    /// Refresh token, if any.
    pub refresh_token: Option<String>,
    /// Who and which tenant.
    pub identity: Identity,
}

/// Reads the token endpoint's JSON and checks the ID token against this sign-in: `nonce` (replay),
/// `aud` (issued to this page's client id), `iss` (the configured identity platform, with the
/// token's own `tid`). The signature is not checked here: the token came straight from the
/// token endpoint over TLS, which is what OpenID Connect allows for the code flow.
pub fn complete(config: &Config, pending: &Pending, body: &str) -> Result<SignedIn, SignInError> {
    let response: TokenResponse = serde_json::from_str(body)
        .map_err(|e| SignInError::InvalidIdToken(format!("the token answer is not JSON: {e}")))?;
    if let Some(error) = response.error {
        return Err(SignInError::from_server(
            &error,
            response.error_description.as_deref().unwrap_or_default(),
        ));
    }
    let access_token = response
        .access_token
        .ok_or_else(|| SignInError::InvalidIdToken("no access token in the answer".into()))?;
    let id_token = response
        .id_token
        .ok_or_else(|| SignInError::InvalidIdToken("no ID token in the answer".into()))?;
    let claims = jwt_claims(&id_token)?;
    let text = |k: &str| claims[k].as_str().unwrap_or_default().to_owned();
    if text("nonce") != pending.nonce {
        return Err(SignInError::InvalidIdToken(
            "its nonce is not this sign-in's".into(),
        ));
    }
    if text("aud") != config.client_id {
        return Err(SignInError::InvalidIdToken(
            "it was issued to another app".into(),
        ));
    }
    let tenant_id = text("tid");
    if !crate::config::is_guid(&tenant_id) {
        return Err(SignInError::InvalidIdToken("it names no tenant".into()));
    }
    // The issuer is the identity platform signed in at, except where the cloud's token service
    // has its own host (21Vianet issues from login.partner.microsoftonline.cn while signing in
    // at login.chinacloudapi.cn).
    let issuer = format!(
        "{}/{tenant_id}/v2.0",
        config.authority.origin().ascii_serialization()
    );
    let cloud_issuer = format!("https://{}/{tenant_id}/v2.0", config.cloud.issuer_host());
    let iss = text("iss");
    if iss != issuer && (config.is_sandbox() || iss != cloud_issuer) {
        return Err(SignInError::InvalidIdToken(format!(
            "its issuer is not {issuer}"
        )));
    }
    Ok(SignedIn {
        access_token,
        refresh_token: response.refresh_token,
        identity: Identity {
            tenant_id,
            object_id: text("oid"),
            username: text("preferred_username"),
        },
    })
}

/// The token endpoint of the admin's own tenant (after sign-in, never `organizations`).
pub fn tenant_token_url(config: &Config, tenant_id: &str) -> Url {
    let mut url = config.authority.clone();
    url.set_path(&format!("/{tenant_id}/oauth2/v2.0/token"));
    url
}

fn jwt_claims(token: &str) -> Result<serde_json::Value, SignInError> {
    use base64::Engine;
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| SignInError::InvalidIdToken("not a JWT".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| SignInError::InvalidIdToken(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| SignInError::InvalidIdToken(e.to_string()))
}

/// 32 random bytes, base64url: state and nonce.
/// A random `state` for a request whose answer comes back to the page (admin consent).
pub fn random_state(rng: &mut impl CryptoRng) -> String {
    random_token(rng)
}

fn random_token(rng: &mut impl CryptoRng) -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests;
