//! Signing in again without leaving the page: when Conditional Access, MFA, a session limit or
//! Graph's claims challenge wants the admin back in the middle of a run, a redirect would reload
//! the page and lose the key held in memory, so the sign-in happens in a popup.
//!
//! The identity platform's pages send `Cross-Origin-Opener-Policy`, and so does this page, so
//! the opener cannot read the popup's address when it comes back. As msal-browser does, the
//! popup's answer travels back over a `BroadcastChannel` named after the request's `state`
//! (<https://developer.mozilla.org/docs/Web/API/BroadcastChannel>): the popup, which loads this
//! same page at the redirect URI, finds an answer in its address but no pending sign-in of its
//! own, posts the fragment on that channel and closes. The opener holds the PKCE verifier,
//! state and nonce in memory only, and checks and redeems the code itself, exactly as the first
//! sign-in does.

use futures::channel::oneshot;
use futures::future::{Either, select};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;

use crate::auth::{self, Identity, Pending, Redirect, SignInError, SignedIn};
use crate::config::Config;

const CHANNEL_PREFIX: &str = "unattended.sign-in.";

fn channel_name(state: &str) -> String {
    format!("{CHANNEL_PREFIX}{state}")
}

/// In the popup: hands the answer in the address to the page that opened the sign-in, if this
/// page did not start a sign-in itself. Returns whether it did (the page then only says so).
pub fn relay_answer(fragment: &str, own_pending: bool) -> bool {
    if own_pending {
        return false;
    }
    let state = match Redirect::parse(fragment) {
        Some(Redirect::Code { state, .. }) => state,
        Some(Redirect::Error {
            state: Some(state), ..
        }) => state,
        _ => return false,
    };
    let Ok(channel) = web_sys::BroadcastChannel::new(&channel_name(&state)) else {
        return false;
    };
    let sent = channel
        .post_message(&wasm_bindgen::JsValue::from_str(fragment))
        .is_ok();
    channel.close();
    // The code must not stay in this window's address or history.
    super::signin::clean_address();
    if sent && let Some(window) = web_sys::window() {
        let _ = window.close();
    }
    sent
}

/// In the page: opens the sign-in popup for `who` (the same account, in the same tenant),
/// asking for `claims` when challenged, and waits for its answer. Must be called from a click:
/// browsers open popups only for a user gesture.
pub async fn sign_in_again(
    config: &Config,
    who: &Identity,
    claims: Option<&str>,
    extra_scopes: &[&str],
) -> Result<SignedIn, SignInError> {
    let tenant = auth::tenant_config(config, &who.tenant_id);
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let (pending, url) = Pending::start_again(
        &tenant,
        &mut rng,
        js_sys::Date::now(),
        &who.username,
        claims,
        extra_scopes,
    );
    let signed = in_popup(&tenant, &pending, &url).await?;
    who.same_as(&signed.identity)?;
    Ok(signed)
}

/// In the page: a new sign-in in a popup (the consultant's next tenant, without reloading the
/// page and losing the session summary): any account (`prompt=select_account`), to `tenant`
/// when given. Returns the sign-in and its pending request (scopes, tenant asked for).
pub async fn sign_in_fresh(
    config: &Config,
    tenant: Option<&str>,
    extra_scopes: &[&str],
) -> Result<(SignedIn, Pending), SignInError> {
    let authority = auth::authority_for(config, tenant);
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let (mut pending, url) = Pending::start(
        &authority,
        &mut rng,
        js_sys::Date::now(),
        None,
        extra_scopes,
    );
    pending.tenant = tenant.map(str::to_owned);
    let signed = in_popup(&authority, &pending, &url).await?;
    Ok((signed, pending))
}

/// Opens `url` in the sign-in popup, waits for the answer on the request's channel (within the
/// pending sign-in's lifetime), then checks and redeems it at `authority`.
async fn in_popup(
    authority: &Config,
    pending: &Pending,
    url: &url::Url,
) -> Result<SignedIn, SignInError> {
    let window = web_sys::window().ok_or(SignInError::PopupBlocked)?;
    // Listen before opening, so no answer can arrive unheard.
    let channel = web_sys::BroadcastChannel::new(&channel_name(&pending.state))
        .map_err(|_| SignInError::Network("this browser has no BroadcastChannel".into()))?;
    let (send, answer) = oneshot::channel::<String>();
    let send = std::cell::RefCell::new(Some(send));
    let on_message =
        Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            if let (Some(text), Some(tx)) = (e.data().as_string(), send.borrow_mut().take()) {
                let _ = tx.send(text);
            }
        });
    channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    let opened = window
        .open_with_url_and_target_and_features(
            url.as_str(),
            "unattended-sign-in",
            "popup=yes,width=520,height=700",
        )
        .ok()
        .flatten();
    if opened.is_none() {
        channel.close();
        return Err(SignInError::PopupBlocked);
    }
    // The pending sign-in's own lifetime bounds the wait (no polling of a window we cannot see).
    let (expire, expired) = oneshot::channel::<()>();
    let expire = std::cell::RefCell::new(Some(expire));
    let on_timeout = Closure::<dyn Fn()>::new(move || {
        if let Some(tx) = expire.borrow_mut().take() {
            let _ = tx.send(());
        }
    });
    let timer = window.set_timeout_with_callback_and_timeout_and_arguments_0(
        on_timeout.as_ref().unchecked_ref(),
        auth::PENDING_LIFETIME_MS as i32,
    );
    let outcome = select(answer, expired).await;
    if let Ok(t) = timer {
        window.clear_timeout_with_handle(t);
    }
    channel.close();
    let fragment = match outcome {
        Either::Left((Ok(fragment), _)) => fragment,
        _ => return Err(SignInError::Expired),
    };
    let redirect = Redirect::parse(&fragment).ok_or(SignInError::StateMismatch)?;
    super::signin::redeem(authority, pending, redirect).await
}
