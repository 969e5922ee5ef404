//! Signing in, in the browser: the pending sign-in crosses the redirect in `sessionStorage`
//! (state, nonce, PKCE verifier; no token, no key) and is removed as soon as the page is back;
//! the fragment is wiped from the address bar before the code is redeemed; tokens stay in memory.

use gloo_net::http::Request;

use crate::auth::{self, Pending, Redirect, SignInError, SignedIn};
use crate::config::Config;
use crate::graph::{Client, Policy, Secret, Session};
use crate::onboard::Path;

use super::fetch::Fetch;

const PENDING_KEY: &str = auth::PENDING_SIGN_IN_KEY;
/// The path chosen on the start screen, carried across the sign-in redirect (not a secret).
const PATH_KEY: &str = "unattended.path";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Remembers the path chosen on the start screen for the screen after sign-in.
pub fn remember_path(path: Path) {
    if let Some(store) = storage() {
        let _ = store.set_item(PATH_KEY, path.as_str());
    }
}

/// The Graph permissions a path asks for beyond the onboarding's: the inventory's last-use
/// column needs AuditLog.Read.All, asked for only on that path (incremental consent) and only
/// where the report exists.
pub fn extra_scopes(path: Path, cloud: crate::cloud::Cloud) -> &'static [&'static str] {
    if path == Path::Inventory && cloud.has_credential_usage_report() {
        &[crate::lifecycle::AUDIT_SCOPE]
    } else {
        &[]
    }
}

/// The path chosen before signing in, read once and forgotten.
pub fn take_chosen_path() -> Option<Path> {
    let store = storage()?;
    let value = store.get_item(PATH_KEY).ok().flatten();
    let _ = store.remove_item(PATH_KEY);
    Path::parse(value.as_deref()?)
}

/// Whether a sign-in this page started is waiting for its answer (else an answer in the
/// address belongs to the page that opened this one as a popup).
pub fn has_pending() -> bool {
    storage().is_some_and(|s| s.get_item(PENDING_KEY).ok().flatten().is_some())
}

/// Starts a sign-in: remembers the pending one (and the chosen path) and sends the browser to
/// the identity platform: the configured authority, or the tenant the admin typed (a guest, a
/// GDAP partner or a consultant signs in to the customer's tenant, not their home one).
pub fn start(config: &Config, path: Path, tenant: Option<&str>) -> Result<(), String> {
    remember_path(path);
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let extra = extra_scopes(path, config.cloud);
    let authority = auth::authority_for(config, tenant);
    let (mut pending, url) = Pending::start(&authority, &mut rng, now_ms(), None, extra);
    pending.tenant = tenant.map(str::to_owned);
    let text = serde_json::to_string(&pending).map_err(|e| e.to_string())?;
    storage()
        .ok_or("this browser blocks sessionStorage, which the sign-in needs for one redirect")?
        .set_item(PENDING_KEY, &text)
        .map_err(|_| "sessionStorage is full or blocked".to_owned())?;
    web_sys::window()
        .ok_or("no window")?
        .location()
        .assign(url.as_str())
        .map_err(|_| "the browser refused to open the sign-in page".to_owned())
}

/// The sign-in answer in the address bar's fragment, if the page was opened by one.
pub fn redirect_in_address() -> Option<Redirect> {
    Redirect::parse(&fragment()?)
}

/// The address's fragment (`#…`).
pub fn fragment() -> Option<String> {
    web_sys::window()?.location().hash().ok()
}

/// Removes the fragment (code or error) from the address bar and history.
pub fn clean_address() {
    cut_address(&['#']);
}

/// Replaces the address in the bar and history with itself up to the first of `at`.
fn cut_address(at: &[char]) {
    if let Some(window) = web_sys::window()
        && let Ok(history) = window.history()
    {
        let url = crate::web::page_url();
        let clean = url.split(at).next().unwrap_or_default();
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(clean));
    }
}

/// Checks a sign-in answer against its pending sign-in, redeems the code at `config`'s token
/// endpoint (from the page, so the browser adds `Origin`, which a SPA's redemption needs) and
/// checks the ID token.
pub async fn redeem(
    config: &Config,
    pending: &Pending,
    redirect: Redirect,
) -> Result<SignedIn, SignInError> {
    let code = pending.accept(redirect, now_ms())?;
    let body = auth::token_request_body(config, pending, &code);
    let response = Request::post(auth::token_url(config).as_str())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .map_err(|e| SignInError::Network(e.to_string()))?
        .send()
        .await
        .map_err(|e| SignInError::Network(e.to_string()))?;
    let text = response
        .text()
        .await
        .map_err(|e| SignInError::Network(e.to_string()))?;
    auth::complete(config, pending, &text)
}

/// Finishes the sign-in the page came back from: checks state, redeems the code (the browser
/// adds `Origin`), checks the ID token, and returns a Graph client for the admin's tenant.
/// Also returns the tenant the admin asked for, if any, to compare with the one signed in to.
pub async fn complete(
    config: &Config,
    redirect: Redirect,
) -> Result<(Client<Fetch>, SignedIn, Option<String>), SignInError> {
    clean_address();
    let store = storage();
    let pending = store
        .as_ref()
        .and_then(|s| s.get_item(PENDING_KEY).ok().flatten())
        .and_then(|text| serde_json::from_str::<Pending>(&text).ok());
    // Single use: whatever happens next, this pending sign-in is spent.
    if let Some(s) = &store {
        let _ = s.remove_item(PENDING_KEY);
    }
    let pending = pending.ok_or(SignInError::NoPendingSignIn)?;
    // The code goes back to the token endpoint of the tenant it was issued for.
    let authority = auth::authority_for(config, pending.tenant.as_deref());
    let signed = redeem(&authority, &pending, redirect).await?;
    let client = client_for(config, &signed, &pending);
    Ok((client, signed, pending.tenant))
}

/// The Graph client of a completed sign-in: tokens in memory, renewed at the signed-in
/// tenant's token endpoint with the sign-in's own scopes.
pub fn client_for(config: &Config, signed: &SignedIn, pending: &Pending) -> Client<Fetch> {
    let session = Session {
        access_token: Secret::new(signed.access_token.clone()),
        refresh_token: signed.refresh_token.clone().map(Secret::new),
        token_url: auth::tenant_token_url(config, &signed.identity.tenant_id).to_string(),
        client_id: config.client_id.clone(),
        scope: pending.scope(),
    };
    Client::new(
        Fetch,
        config.graph_base_url.as_str(),
        session,
        Policy::default(),
    )
}

const CONSENT_KEY: &str = "unattended.admin-consent";

/// A random `state` for this page's admin-consent links (one per start screen).
pub fn consent_state() -> String {
    auth::random_state(&mut rand_core::UnwrapErr(getrandom::SysRng))
}

/// Remembers, as the admin opens the consent link, the `state` and tenant it carries, so the
/// answer that comes back to this tab is checked.
pub fn remember_consent(state: &str, tenant: &str) {
    if let Some(store) = storage() {
        let _ = store.set_item(CONSENT_KEY, &format!("{state} {tenant}"));
    }
}

/// The admin-consent endpoint's answer in the address, if the page was opened by one: the
/// answer, whether this tab asked for it (else it is shown for information only), and the
/// tenant asked for. The query is removed from the address and history at once.
pub fn consent_answer_in_address() -> Option<(auth::ConsentAnswer, bool, Option<String>)> {
    let window = web_sys::window()?;
    let query = window.location().search().ok()?;
    // Most loads carry no answer: storage is touched only when one is there.
    auth::ConsentAnswer::parse(&query, None)?;
    let remembered = storage().and_then(|s| {
        let v = s.get_item(CONSENT_KEY).ok().flatten();
        let _ = s.remove_item(CONSENT_KEY);
        v
    });
    let (state, asked) = match remembered.as_deref().and_then(|r| r.split_once(' ')) {
        Some((s, t)) => (Some(s.to_owned()), Some(t.to_owned())),
        None => (None, None),
    };
    let answer = auth::ConsentAnswer::parse(&query, state.as_deref())?;
    cut_address(&['?', '#']);
    Some((answer, state.is_some(), asked))
}
