//! The start screen: what the page does, the trust promise, the two paths and sign-in.

use leptos::prelude::*;

use super::ConfigState;
use crate::config::{MICROSOFT_GRAPH_HOST, MICROSOFT_LOGIN_HOST};

pub use crate::onboard::Path;

/// The first screen every admin sees.
#[component]
pub fn StartScreen(
    config: Signal<ConfigState>,
    /// The admin-consent endpoint's answer the page was opened with, if any: the answer,
    /// whether this tab asked for it, the tenant asked for.
    consent: Option<(crate::auth::ConsentAnswer, bool, Option<String>)>,
    sign_in_error: RwSignal<Option<String>>,
    /// After a tenant is done in this page: sign in to the next one in a popup and hand it here,
    /// so the session summary stays (a redirect would reload the page).
    next: Option<RwSignal<Option<super::onboarding::Signed>, LocalStorage>>,
) -> impl IntoView {
    let (path, set_path) = signal(Path::Certificate);
    let (tenant, set_tenant) = signal(String::new());
    let consent_state = StoredValue::new(crate::web::signin::consent_state());
    let hosts = move || match config.get() {
        Some(Ok(c)) => (
            c.authority.host_str().unwrap_or_default().to_owned(),
            c.graph_base_url.host_str().unwrap_or_default().to_owned(),
        ),
        _ => (
            MICROSOFT_LOGIN_HOST.to_owned(),
            MICROSOFT_GRAPH_HOST.to_owned(),
        ),
    };
    let consent_view = consent.map(|(answer, ours, asked)| {
        let granted = matches!(answer, crate::auth::ConsentAnswer::Granted { .. });
        let other = asked.as_deref().is_some_and(|a| answer.other_tenant(a));
        let mut text = answer.to_string();
        if other {
            text.push_str(&format!(
                " That is not the tenant asked for ({}): check which account consented.",
                asked.unwrap_or_default()
            ));
        }
        if !ours {
            text.push_str(
                " (This answer was not started from this browser: shown for information only.)",
            );
        }
        view! {
            <p id="admin-consent-result" class="status" class:error=!granted || other role="status"
                data-outcome=if granted { "granted" } else { "not-granted" }>{text}</p>
        }
    });
    view! {
        {consent_view}
        <section class="intro" aria-labelledby="title">
            <h1 id="title">"Unattended Exchange Online PowerShell, set up from your browser"</h1>
            <p class="lead">
                "Sign in once as an admin and this page creates everything a script needs to run "
                "Exchange Online PowerShell with no one present: an app registration with a "
                "certificate, the Exchange.ManageAsApp permission and an Entra role. "
                "Or grant the same to an Azure Automation managed identity, with no certificate at all."
            </p>
        </section>
        <section class="promise" aria-labelledby="promise-title">
            <h2 id="promise-title">"Your key stays with you"</h2>
            <ul>
                <li>"The private key and the PFX are made here, in this browser, and never leave it."</li>
                <li>
                    "This page talks only to " <strong>{move || hosts().0}</strong> " (sign-in) and "
                    <strong>{move || hosts().1}</strong> " (Microsoft Graph); only the public certificate is uploaded."
                </li>
                <li>"Nothing already in your tenant is removed: existing certificates and permissions are kept."</li>
            </ul>
        </section>
        <fieldset class="paths">
            <legend>"What should run unattended?"</legend>
            <PathChoice
                value=Path::Certificate
                current=path
                set=set_path
                title="Certificate for scripts"
                detail="Scheduled tasks, an Azure Automation certificate asset, or PowerShell 7 on Linux and macOS."
            />
            <PathChoice
                value=Path::ManagedIdentity
                current=path
                set=set_path
                title="Managed identity (Azure Automation)"
                detail="A runbook connects with -ManagedIdentity: nothing to store, nothing to renew."
            />
            <PathChoice
                value=Path::Inventory
                current=path
                set=set_path
                title="Inventory and rotation (day two)"
                detail="Every credential that runs Exchange unattended: expiry, last use, rotation without downtime. Also asks to read sign-in activity (AuditLog.Read.All)."
            />
        </fieldset>
        <details class="card tenant-choice" open=move || !tenant.get().is_empty()>
            <summary>"Sign in to another tenant (guest, GDAP partner, consultant)"</summary>
            <label class="field">
                <span>"The customer's tenant: a domain or the tenant id"</span>
                <input id="tenant-choice" type="text" autocomplete="off" spellcheck="false"
                    placeholder="contoso.onmicrosoft.com"
                    aria-describedby="tenant-choice-status"
                    prop:value=move || tenant.get()
                    on:input=move |ev| set_tenant.set(event_target_value(&ev)) />
            </label>
            {move || match (crate::auth::tenant_choice(&tenant.get()), config.get()) {
                (Ok(Some(t)), Some(Ok(c))) => {
                    let state = consent_state.get_value();
                    let link = crate::auth::admin_consent_url(&c, &t, &state).to_string();
                    let remember = move |_| crate::web::signin::remember_consent(&state, &t);
                    view! {
                        <p class="hint" id="admin-consent-hint">
                            "First time in this tenant with a page hosted for many customers? Its administrator consents once: "
                            <a id="admin-consent" href=link.clone() on:click=remember>"open the consent page"</a>
                            ", or send them this link: "
                            <code id="admin-consent-link">{link}</code>
                        </p>
                    }.into_any()
                }
                _ => ().into_any(),
            }}
            <p id="tenant-choice-status" class="status" class:error=move || crate::auth::tenant_choice(&tenant.get()).is_err()>
                {move || match crate::auth::tenant_choice(&tenant.get()) {
                    Ok(None) => "Empty: you sign in to your own (home) tenant.".to_owned(),
                    Ok(Some(t)) => format!("You sign in to {t}; the page shows which tenant that is before anything is written."),
                    Err(e) => e.to_string(),
                }}
            </p>
        </details>
        <SignIn config error=sign_in_error path tenant=tenant.into() next />
        <Show when=move || matches!(config.get(), Some(Err(crate::config::ConfigError::Missing)))>
            <super::registration::Registration />
        </Show>
        <Show when=move || path.get() == Path::Certificate>
            // Opened: the forge will be needed, so start fetching it.
            <details class="card offline" on:toggle=|_| crate::web::forge_code::prefetch()>
                <summary>"Only make a certificate, without signing in"</summary>
                <super::certificate::CertificatePanel />
            </details>
        </Show>
    }
}

#[component]
fn PathChoice(
    value: Path,
    current: ReadSignal<Path>,
    set: WriteSignal<Path>,
    title: &'static str,
    detail: &'static str,
) -> impl IntoView {
    view! {
        <label class="path" class:selected=move || current.get() == value>
            <input
                type="radio"
                name="path"
                prop:checked=move || current.get() == value
                on:change=move |_| set.set(value)
            />
            <span class="path-title">{title}</span>
            <span class="path-detail">{detail}</span>
        </label>
    }
}

/// The sign-in button: enabled once a valid `config.json` is loaded; otherwise disabled with the
/// reason. A failed sign-in's message shows below it.
#[component]
fn SignIn(
    config: Signal<ConfigState>,
    error: RwSignal<Option<String>>,
    path: ReadSignal<Path>,
    tenant: Signal<String>,
    next: Option<RwSignal<Option<super::onboarding::Signed>, LocalStorage>>,
) -> impl IntoView {
    let (busy, set_busy) = signal(false);
    let explanation = move || match (config.get(), error.get()) {
        (None, _) => "Loading config.json…".to_owned(),
        (Some(Err(e)), _) => e.to_string(),
        (Some(Ok(_)), Some(e)) => e,
        (Some(Ok(c)), None) => format!(
            "You will sign in at {}. Needed: Global Administrator, or Privileged Role Administrator together with (Cloud) Application Administrator.",
            c.authority.host_str().unwrap_or_default()
        ),
    };
    let click = move |_| {
        let Ok(chosen) = crate::auth::tenant_choice(&tenant.get_untracked()) else {
            return;
        };
        if let (Some(Ok(c)), Some(signed)) = (config.get_untracked(), next) {
            set_busy.set(true);
            let path = path.get_untracked();
            crate::web::signin::remember_path(path);
            leptos::task::spawn_local(async move {
                let extra = crate::web::signin::extra_scopes(path, c.cloud);
                match crate::web::popup::sign_in_fresh(&c, chosen.as_deref(), extra).await {
                    Ok((who, pending)) => {
                        let client = crate::web::signin::client_for(&c, &who, &pending);
                        signed.set(Some(super::onboarding::Signed {
                            client: std::rc::Rc::new(client),
                            who: who.identity,
                            config: c,
                            asked_tenant: pending.tenant,
                        }));
                    }
                    Err(e) => {
                        set_busy.set(false);
                        error.set(Some(e.to_string()));
                    }
                }
            });
            return;
        }
        if let Some(Ok(c)) = config.get_untracked() {
            set_busy.set(true);
            if let Err(e) = crate::web::signin::start(&c, path.get_untracked(), chosen.as_deref()) {
                set_busy.set(false);
                leptos::logging::warn!("sign-in could not start: {e}");
            }
        }
    };
    view! {
        <div class="signin">
            <button id="sign-in" class="primary" on:click=click
                disabled=move || busy.get() || !matches!(config.get(), Some(Ok(_))) || crate::auth::tenant_choice(&tenant.get()).is_err()
                aria-describedby="sign-in-status">
                "Sign in with Microsoft"
            </button>
            <p id="sign-in-status" class="status"
                class:error=move || matches!(config.get(), Some(Err(_))) || error.get().is_some()
                role="status">
                {explanation}
            </p>
        </div>
    }
}
