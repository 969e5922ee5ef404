//! Sign-in failures, each with a message that says what to do. The identity platform puts the
//! AADSTS number in `error_description`; that number, not the localised text, decides the variant
//! (<https://learn.microsoft.com/entra/identity-platform/reference-error-codes>).

use std::fmt;

/// Why signing in did not work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInError {
    /// The admin pressed Cancel / Back on the sign-in page (`access_denied` without a code).
    Cancelled,
    /// AADSTS65004: the admin declined the consent screen.
    ConsentDeclined,
    /// AADSTS90094 / 90095: these permissions need an administrator's consent.
    AdminConsentRequired,
    /// AADSTS50011: the redirect URI in config.json is not registered on the app.
    RedirectUriMismatch,
    /// AADSTS700016: the client id in config.json is not an app in this tenant.
    AppNotFound,
    /// AADSTS50194: a single-tenant app used with the `organizations` authority.
    SingleTenantApp,
    /// AADSTS53003: blocked by Conditional Access.
    ConditionalAccess,
    /// AADSTS50076 / 50079: multi-factor authentication is required or must be registered.
    MfaRequired,
    /// AADSTS9002326: the redirect URI is registered, but not as a single-page application.
    NotSpaRedirect,
    /// `login_required` / `interaction_required` after a silent attempt.
    InteractionRequired,
    /// The `state` that came back is not the one sent (a forged or stale redirect).
    StateMismatch,
    /// The page has no record of starting a sign-in (opened from an old link, or another tab).
    NoPendingSignIn,
    /// The sign-in took longer than the page waits for.
    Expired,
    /// The ID token's nonce, audience or issuer do not match this sign-in.
    InvalidIdToken(String),
    /// The token endpoint could not be reached.
    Network(String),
    /// The browser blocked the sign-in window.
    PopupBlocked,
    /// A sign-in again came back as another account than the run's (its username).
    OtherAccount(String),
    /// Anything else the identity platform said.
    Server {
        /// OAuth error.
        error: String,
        /// AADSTS number, when present.
        code: Option<u32>,
        /// The platform's text.
        description: String,
    },
}

impl SignInError {
    /// Maps the identity platform's `error` and `error_description` to a variant.
    pub fn from_server(error: &str, description: &str) -> Self {
        let code = aadsts(description);
        match (error, code) {
            (_, Some(65004)) => Self::ConsentDeclined,
            (_, Some(90094 | 90095)) => Self::AdminConsentRequired,
            (_, Some(50011)) => Self::RedirectUriMismatch,
            (_, Some(700016)) => Self::AppNotFound,
            (_, Some(50194)) => Self::SingleTenantApp,
            (_, Some(53003)) => Self::ConditionalAccess,
            (_, Some(50076 | 50079)) => Self::MfaRequired,
            (_, Some(9002326)) => Self::NotSpaRedirect,
            ("login_required" | "interaction_required", _) => Self::InteractionRequired,
            ("access_denied", None) => Self::Cancelled,
            _ => Self::Server {
                error: error.to_owned(),
                code,
                description: description.to_owned(),
            },
        }
    }
}

/// The number in `AADSTS65004: …`.
pub fn aadsts(description: &str) -> Option<u32> {
    let start = description.find("AADSTS")? + "AADSTS".len();
    let digits: String = description[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

impl fmt::Display for SignInError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cancelled => write!(
                f,
                "Sign-in was cancelled. Nothing was changed; press Sign in to try again."
            ),
            Self::ConsentDeclined => write!(
                f,
                "The permissions were declined, so the page cannot set anything up. Sign in again and \
                 accept them, or ask a Global Administrator to grant admin consent to this page's app."
            ),
            Self::AdminConsentRequired => write!(
                f,
                "These permissions need an administrator's consent. Sign in as a Global Administrator \
                 (or Privileged Role Administrator) and accept for your organisation, or ask one to \
                 grant admin consent to this page's app in Enterprise applications."
            ),
            Self::RedirectUriMismatch => write!(
                f,
                "The app registration does not list this page as a redirect URI (AADSTS50011). Add the \
                 page's exact address as a \"Single-page application\" redirect URI, or fix redirectUri \
                 in config.json."
            ),
            Self::AppNotFound => write!(
                f,
                "Your tenant does not know the app in config.json (AADSTS700016). Check clientId, and for \
                 a single-tenant registration set authority to your own tenant; a multitenant one must \
                 be consented in your tenant first."
            ),
            Self::SingleTenantApp => write!(
                f,
                "The app in config.json is single-tenant, so it cannot use the \"organizations\" \
                 authority (AADSTS50194). Set authority to https://login.microsoftonline.com/<your \
                 tenant id>, or make the registration multitenant."
            ),
            Self::ConditionalAccess => write!(
                f,
                "A Conditional Access policy blocked this sign-in (AADSTS53003). Sign in from a device \
                 and location your policies allow, or ask your Entra admin for an exception."
            ),
            Self::MfaRequired => write!(
                f,
                "Multi-factor authentication is required. Complete (or register) MFA when asked, then \
                 press Sign in again."
            ),
            Self::NotSpaRedirect => write!(
                f,
                "The redirect URI is registered as \"Web\", not \"Single-page application\" \
                 (AADSTS9002326). Move it to the Single-page application platform in Authentication."
            ),
            Self::InteractionRequired => write!(
                f,
                "Please sign in again: the session needs your interaction."
            ),
            Self::StateMismatch => write!(
                f,
                "The sign-in answer does not belong to the sign-in this page started, so it was ignored. \
                 Press Sign in to start again."
            ),
            Self::NoPendingSignIn => write!(
                f,
                "This page did not start the sign-in it received (an old link, or another tab). Press \
                 Sign in to start again."
            ),
            Self::Expired => write!(
                f,
                "The sign-in took too long and expired. Press Sign in to start again."
            ),
            Self::InvalidIdToken(why) => write!(
                f,
                "The sign-in answer failed the page's checks ({why}), so it was not used. Press Sign in \
                 to start again."
            ),
            Self::Network(detail) => write!(
                f,
                "The sign-in service could not be reached ({detail}). Check the network and press \
                 Sign in again; nothing was changed."
            ),
            Self::PopupBlocked => write!(
                f,
                "The browser blocked the sign-in window. Allow pop-ups for this page (the icon at the \
                 right of the address bar), then press \"Sign in again\"; the run waits here."
            ),
            Self::OtherAccount(who) => write!(
                f,
                "That sign-in was with another account. Sign in again as {who}: the run was planned \
                 with that account's rights."
            ),
            Self::Server {
                error,
                code,
                description,
            } => match code {
                Some(code) => write!(f, "Sign-in failed (AADSTS{code}, {error}): {description}"),
                None => write!(f, "Sign-in failed ({error}): {description}"),
            },
        }
    }
}

impl std::error::Error for SignInError {}
