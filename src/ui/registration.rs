//! When the page has no `config.json` yet: the script that registers the page's own app in one
//! step (Azure Cloud Shell), for this page's address, and the `config.json` it prints.

use leptos::prelude::*;
use url::Url;

use crate::cloud::{CLOUDS, Cloud};
use crate::registration::{Options, cloud_shell_script};

/// The page's address as a redirect URI: no query, no fragment.
fn page_address() -> Option<Url> {
    let mut url = Url::parse(&crate::web::page_url()).ok()?;
    url.set_query(None);
    url.set_fragment(None);
    Some(url)
}

/// The one-step registration, with its three choices.
#[component]
pub fn Registration() -> impl IntoView {
    let page = StoredValue::new(page_address());
    let (cloud, set_cloud) = signal(Cloud::Worldwide);
    let (multi, set_multi) = signal(false);
    let (consent, set_consent) = signal(true);
    let (copied, set_copied) = signal(false);
    let script = move || {
        page.get_value().map(|page| {
            cloud_shell_script(&Options {
                page,
                cloud: cloud.get(),
                multi_tenant: multi.get(),
                admin_consent: consent.get(),
                name: "unattended (setup page)".into(),
            })
        })
    };
    let copy = move |_| {
        if let Some(text) = script() {
            leptos::task::spawn_local(async move {
                set_copied.set(crate::web::download::copy(&text).await.is_ok());
            });
        }
    };
    view! {
        <section class="card" id="registration" aria-labelledby="registration-title">
            <h2 id="registration-title">"Register this page in one step"</h2>
            <p>
                "Open Azure Cloud Shell (PowerShell) in the tenant, signed in as a Global Administrator "
                "(or an Application Administrator, without admin consent), paste this script and run it. "
                "It registers this page's own app exactly as needed and prints the config.json to save beside index.html."
            </p>
            <div class="controls">
                <label>"Cloud "
                    <select id="registration-cloud" on:change=move |ev| {
                        if let Some(c) = Cloud::parse(&event_target_value(&ev)) { set_cloud.set(c); }
                    }>
                        {CLOUDS.iter().map(|c| view! { <option value=c.name()>{c.label()}</option> }).collect_view()}
                    </select>
                </label>
                <label><input type="checkbox" id="registration-multi" prop:checked=move || multi.get()
                    on:change=move |ev| set_multi.set(event_target_checked(&ev)) />
                    " For many customers' tenants (multi-tenant)"</label>
                <label><input type="checkbox" id="registration-consent" prop:checked=move || consent.get()
                    on:change=move |ev| set_consent.set(event_target_checked(&ev)) />
                    " Grant admin consent now"</label>
            </div>
            {move || match script() {
                Some(text) => view! {
                    <pre><code id="registration-script">{text}</code></pre>
                    <button id="registration-copy" on:click=copy>{move || if copied.get() { "Copied" } else { "Copy the script" }}</button>
                }.into_any(),
                None => view! { <p class="status error">"This page's address could not be read."</p> }.into_any(),
            }}
        </section>
    }
}
