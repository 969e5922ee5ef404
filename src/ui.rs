//! The Leptos user interface: one component per screen, no business logic.

mod a11y;
mod apply;
mod automation;
mod certificate;
mod change;
mod downloads;
mod finished;
mod identity;
mod inventory;
mod onboarding;
mod registration;
mod session;
mod start;
mod workloads;

use leptos::prelude::*;

use crate::config::{Config, ConfigError};

pub use start::{Path, StartScreen};

/// What the page knows about its configuration while and after loading `config.json`.
pub type ConfigState = Option<Result<Config, ConfigError>>;

/// Mounts `page` on the body, unless the page is framed: hosts that cannot send
/// `frame-ancestors` (a meta CSP cannot carry it; GitHub Pages sends no headers) would let
/// another site frame the page and trick clicks on it, so it refuses to run inside a frame
/// (<https://cheatsheetseries.owasp.org/cheatsheets/Clickjacking_Defense_Cheat_Sheet.html>).
pub fn mount<F, N>(page: F)
where
    F: FnOnce() -> N + 'static,
    N: IntoView,
{
    let Some(window) = web_sys::window() else {
        return;
    };
    let framed = window.top().ok().flatten().is_none_or(|top| top != window);
    if framed {
        leptos::mount::mount_to_body(|| {
            view! {
                <main id="main"><p id="framed" role="alert">
                    "This page does not run inside a frame, so that no other site can trick clicks on it. Open it in its own tab."
                </p></main>
            }
        });
        return;
    }
    leptos::mount::mount_to_body(page);
}

/// The start page (`index.html`): the start screen and nothing after it, so the first load
/// carries only the code it uses. A sign-in this tab started comes back here and is forwarded
/// to the app page before this module loads (`cargo xtask`'s boot module, xtask/src/seal.rs);
/// a popup's answer is handed to the page that opened it, here, without loading the app.
#[component]
pub fn StartPage() -> impl IntoView {
    let config = LocalResource::new(load_config);
    let state = Signal::derive(move || config.get());
    let sign_in_error = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if matches!(state.get(), Some(Ok(_))) {
            crate::web::forge_code::prefetch_app();
        }
    });
    let relayed = relayed_here();
    let consent = if relayed {
        None
    } else {
        crate::web::signin::consent_answer_in_address()
    };
    view! {
        <header class="topbar"><Brand config=state /></header>
        <main id="main">
            {if relayed {
                Relayed().into_any()
            } else {
                view! { <StartScreen config=state sign_in_error consent next=None /> }.into_any()
            }}
        </main>
        <Footer />
    }
}

/// A sign-in again, answered in this window (the popup): hands the answer to the page that
/// opened it. Returns whether it did.
fn relayed_here() -> bool {
    crate::web::signin::fragment()
        .is_some_and(|f| crate::web::popup::relay_answer(&f, crate::web::signin::has_pending()))
}

/// What the popup says after handing its answer over (it closes itself).
#[component]
fn Relayed() -> impl IntoView {
    view! {
        <p id="relayed" role="status">"Signed in again. This window closes by itself; if it does not, close it and go back to the page that opened it."</p>
    }
}

/// The product's name, and the sandbox badge when the page talks to the simulated tenant.
#[component]
fn Brand(config: Signal<ConfigState>) -> impl IntoView {
    let sandbox = move || matches!(config.get(), Some(Ok(c)) if c.is_sandbox());
    view! {
        <span class="brand">"unattended"</span>
        <Show when=sandbox>
            <span class="badge sandbox" title="This page talks to a simulated tenant on this computer, not to Microsoft">
                "Sandbox"
            </span>
        </Show>
    }
}

#[component]
fn Footer() -> impl IntoView {
    view! {
        <footer class="footer">
            <p>
                "Open source, a static page with no server of its own. Nothing you do here is stored: "
                "closing the tab forgets it."
            </p>
        </footer>
    }
}

/// The whole page. Owns the top-level signals and hands them to the screens: the start screen
/// until a sign-in completes, then the onboarding.
#[component]
pub fn App() -> impl IntoView {
    let config = LocalResource::new(load_config);
    let state = Signal::derive(move || config.get());
    let signed = RwSignal::new_local(None::<onboarding::Signed>);
    let sign_in_error = RwSignal::new(None::<String>);
    // The consultant's session: every tenant done so far (no secrets), and whether a tenant was
    // already done in this page (the next sign-in then happens in a popup, keeping all this).
    let session: session::Session = RwSignal::new(vec![]);
    provide_context(session);
    let forgot = RwSignal::new(None::<String>);
    let signed_before = RwSignal::new(false);
    let next_tenant = move |_| {
        if let Some(s) = signed.get_untracked() {
            forgot.set(Some(format!(
                "Signed out of {} on this page: its tokens and any certificate and key made for it are gone from memory. The identity platform's own session stays, so the next sign-in asks which account to use.",
                s.who.username
            )));
        }
        signed.set(None);
        signed_before.set(true);
        sign_in_error.set(None);
    };
    let relayed = relayed_here();
    // Opened by the identity platform's redirect? Finish that sign-in once the config is in.
    let redirect = StoredValue::new_local(if relayed {
        None
    } else {
        crate::web::signin::redirect_in_address()
    });
    let completing = RwSignal::new(redirect.with_value(Option::is_some));
    // Opened by the admin-consent endpoint's answer (query string)? Read it once.
    let consent = StoredValue::new(if relayed {
        None
    } else {
        crate::web::signin::consent_answer_in_address()
    });
    Effect::new(move |_| {
        let Some(Ok(config)) = state.get() else {
            return;
        };
        let Some(answer) = redirect.get_value() else {
            return;
        };
        redirect.set_value(None);
        leptos::task::spawn_local(async move {
            match crate::web::signin::complete(&config, answer).await {
                Ok((client, who, asked)) => signed.set(Some(onboarding::Signed {
                    client: std::rc::Rc::new(client),
                    who: who.identity,
                    config,
                    asked_tenant: asked,
                })),
                Err(e) => sign_in_error.set(Some(e.to_string())),
            }
            completing.set(false);
        });
    });
    view! {
        <header class="topbar">
            <Brand config=state />
            {move || signed.get().map(|s| view! {
                <span class="who" id="who">{s.who.username}</span>
                <button id="next-tenant" class="small" on:click=next_tenant
                    title="Forget this tenant's tokens and keys and sign in to another, keeping the session summary">
                    "Next tenant"
                </button>
            })}
        </header>
        <main id="main">
            {relayed.then(Relayed)}
            <session::Summary session forgot />
            {move || match (signed.get(), completing.get()) {
                _ if relayed => ().into_any(),
                (Some(s), _) => view! { <onboarding::Onboarding signed=s /> }.into_any(),
                (None, true) => view! {
                    <h1 id="completing-title">"Signing in"</h1>
                    <p id="completing" role="status">"Finishing the sign-in…"</p>
                }.into_any(),
                (None, false) => view! {
                    <StartScreen config=state sign_in_error consent=consent.get_value()
                        next=signed_before.get_untracked().then_some(signed) />
                }.into_any(),
            }}
        </main>
        <Footer />
    }
}

async fn load_config() -> Result<Config, ConfigError> {
    crate::web::load_config().await
}
