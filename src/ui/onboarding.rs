//! After sign-in: the tenant as read, the choices, the plan (a diff of the tenant and the exact
//! Graph requests), the certificate (saved before any write), apply with live step states, and
//! the final screen. Decisions live in `onboard`; this module only shows them.

use std::rc::Rc;

use leptos::prelude::*;
use serde_json::Value;

use super::apply::{Account, Apply, ApplyProgress, Applying, PlanView, role_names};
use super::certificate::{CertificatePanel, Generation};
use crate::auth::Identity;
use crate::config::Config;
use crate::graph::Client;
use crate::onboard::{self, Choices, Gate, Path, Target, Tenant};
use crate::web::fetch::Fetch;
use crate::wellknown::roles;
use crate::workloads::Access;

/// The signed-in admin's Graph client (tokens inside, in memory only).
#[derive(Clone)]
pub struct Signed {
    /// Graph client.
    pub client: Rc<Client<Fetch>>,
    /// Who signed in (a sign-in again must be the same account), `preferred_username` inside.
    pub who: Identity,
    /// The page's configuration, for a sign-in again.
    pub config: Config,
    /// The tenant typed on the start screen (domain or id), if any.
    pub asked_tenant: Option<String>,
}

/// A new app's alternate key (`uniqueName`): random, made once per page, so the create is an
/// upsert that cannot make a second app however often it is sent.
fn new_unique_name() -> String {
    let mut bytes = [0u8; 8];
    // A failure of the browser's generator leaves zeros: still one app per name and page.
    let _ = getrandom::fill(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("unattended-{hex}")
}

/// Reads the tenant, then runs the flow.
#[component]
pub fn Onboarding(signed: Signed) -> impl IntoView {
    // Signed in: fetch the forge now, in the background, so it is compiled by the time a
    // certificate is made (the start screen did not load it).
    crate::web::forge_code::prefetch();
    let client = signed.client.clone();
    let discovery = LocalResource::new(move || {
        let client = client.clone();
        async move { onboard::discover(&client).await }
    });
    provide_context(StoredValue::new_local(Account {
        who: signed.who.clone(),
        config: signed.config.clone(),
    }));
    // Views must be Send; the client (Rc, RefCell) stays on this thread behind a handle.
    let client = StoredValue::new_local(signed.client.clone());
    let asked = signed.asked_tenant.clone();
    // Back from the sign-in to a tenant that cannot be read: the focus (and a screen reader)
    // starts at why, and Retry is the next Tab stop.
    let failed = NodeRef::<leptos::html::P>::new();
    super::a11y::focus_when_shown(failed);
    view! {
        <section class="card" id="tenant">
            {move || match discovery.get() {
                // Every state of the screen has its level-one heading (the start screen's is gone).
                None => view! {
                    <h1 id="tenant-loading-title">"Reading your tenant"</h1>
                    <p id="tenant-status" role="status">"Signed in. Reading your tenant…"</p>
                }.into_any(),
                // The screen's own level-one heading: the start screen's is gone, and the
                // tenant's name that heads the next screen is what could not be read.
                Some(Err(e)) => view! {
                    <h1 id="tenant-error-title">"Your tenant could not be read"</h1>
                    <p id="tenant-error" class="status error" role="alert" tabindex="-1" node_ref=failed>{e.to_string()}</p>
                    <button id="tenant-retry" on:click=move |_| discovery.refetch()>"Retry"</button>
                }.into_any(),
                Some(Ok(tenant)) => view! { <Paths tenant=Rc::new(tenant) client=client.get_value() asked=asked.clone() /> }.into_any(),
            }}
        </section>
    }
}

/// The three tabs after sign-in, starting with the path chosen before it.
#[component]
fn Paths(tenant: Rc<Tenant>, client: Rc<Client<Fetch>>, asked: Option<String>) -> impl IntoView {
    let (tab, set_tab) =
        signal(crate::web::signin::take_chosen_path().unwrap_or(super::start::Path::Certificate));
    let (t1, c1) = (tenant.clone(), client.clone());
    let (t2, c2) = (tenant.clone(), client.clone());
    let tenant_card = tenant.clone();
    let tab_choice = move |value: Path, id: &'static str, title: &'static str| {
        view! {
            <label class="path" class:selected=move || tab.get() == value>
                <input type="radio" name="flow" id=id prop:checked=move || tab.get() == value
                    on:change=move |_| set_tab.set(value) />
                <span class="path-title">{title}</span>
            </label>
        }
    };
    // The inventory is read when its tab is first opened, then stays.
    let inventory_opened = RwSignal::new(false);
    Effect::new(move |_| {
        if tab.get() == Path::Inventory {
            inventory_opened.set(true);
        }
    });
    let inventory = StoredValue::new_local((t2, c2));
    // Back from the sign-in: the focus (and a screen reader) starts at the tenant read.
    let heading = NodeRef::<leptos::html::H1>::new();
    super::a11y::focus_when_shown(heading);
    view! {
        <h1 id="tenant-title" tabindex="-1" node_ref=heading>{format!("Tenant: {}", tenant_card.name)}</h1>
        {asked.filter(|a| !tenant_card.is(a)).map(|a| view! {
            <p id="tenant-mismatch" class="status error" role="alert">
                {format!("You asked for {a}, but this sign-in is to {} ({}): an account of that tenant, or one that cannot be a guest there, was used. Nothing is written unless you go on here; to work on {a}, reload and sign in with an account it knows.", tenant_card.name, tenant_card.initial_domain)}
            </p>
        })}
        <dl class="facts" id="tenant-facts">
            <dt>"Organization"</dt><dd id="tenant-name">{tenant_card.name.clone()}</dd>
            <dt>"Tenant id"</dt><dd><code id="tenant-id">{tenant_card.id.clone()}</code></dd>
            <dt>"Cloud"</dt><dd id="cloud">{super::apply::cloud().label()}</dd>
            <dt>"Initial domain"</dt><dd><code id="initial-domain">{tenant_card.initial_domain.clone()}</code></dd>
            <dt>"Signed in as"</dt><dd id="admin">{tenant_card.admin_upn.clone()} " (" {role_names(&tenant_card.admin_roles)} ")"</dd>
            <dt>"Certificate lifetime"</dt>
            <dd id="policy">{match (tenant_card.policy_known, tenant_card.max_certificate_days) {
                (true, Some(d)) => format!("limited to {d} days by the tenant's app-management policy"),
                (true, None) => "no limit set by policy".to_owned(),
                (false, _) => "the policy could not be read with your role; Microsoft Graph enforces it when the certificate is uploaded".to_owned(),
            }}</dd>
        </dl>

        <div class="paths tabs" role="radiogroup" aria-label="What to do">
            {tab_choice(Path::Certificate, "flow-certificate", "Certificate for scripts")}
            {tab_choice(Path::ManagedIdentity, "flow-identity", "Managed identity (Azure Automation)")}
            {tab_choice(Path::Inventory, "flow-inventory", "Inventory and rotation")}
        </div>
        // All stay mounted: switching tabs must not lose a plan or a certificate in progress.
        <div hidden=move || tab.get() != Path::Certificate><Flow tenant=t1 client=c1 /></div>
        <div hidden=move || tab.get() != Path::ManagedIdentity><super::identity::IdentityFlow tenant client /></div>
        <div hidden=move || tab.get() != Path::Inventory>
            {move || inventory_opened.get().then(|| {
                let (tenant, client) = inventory.get_value();
                view! { <super::inventory::InventoryTab tenant client /> }
            })}
        </div>
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    New,
    Existing,
}

#[component]
fn Flow(tenant: Rc<Tenant>, client: Rc<Client<Fetch>>) -> impl IntoView {
    let (mode, set_mode) = signal(Mode::New);
    let (name, set_name) = signal("EXO PowerShell automation".to_owned());
    let (existing_id, set_existing_id) = signal(None::<String>);
    let (filter, set_filter) = signal(String::new());
    let access = RwSignal::new(Access::exchange(roles::EXCHANGE_ADMIN));
    let unique_name = StoredValue::new(new_unique_name());
    let generation = RwSignal::new(Generation::Idle);
    let pfx_saved = RwSignal::new(false);
    let applying = Applying::new();
    let apply = applying.apply;
    let frozen = StoredValue::new_local(None::<(Choices, Value)>);
    let max_days = tenant.max_certificate_days;

    let inspected = {
        let client = client.clone();
        LocalResource::new(move || {
            let (client, id) = (client.clone(), existing_id.get());
            async move {
                match id {
                    Some(id) => Some(onboard::inspect(&client, &id).await),
                    None => None,
                }
            }
        })
    };
    let forged = move || match generation.get() {
        Generation::Done(f, _) => Some(f),
        _ => None,
    };
    let choices = move || -> Option<Choices> {
        let target = match mode.get() {
            Mode::New => Target::New {
                name: name.get(),
                unique_name: unique_name.get_value(),
            },
            Mode::Existing => match inspected.get().flatten() {
                Some(Ok(e)) => Target::Existing(Box::new(e)),
                _ => return None,
            },
        };
        Some(Choices {
            target,
            access: access.get(),
            validity_days: forged()
                .map_or_else(|| max_days.map_or(365, |m| m.min(365)), |f| f.validity_days),
        })
    };
    let tenant_handle = StoredValue::new_local(tenant.clone());
    let client_handle = StoredValue::new_local(client.clone());
    let plan = move || choices().map(|c| tenant_handle.with_value(|t| onboard::plan(t, &c)));
    let started = move || applying.started();

    let warnings = onboard::early_warnings(&tenant);

    let start_apply = {
        let (client, tenant) = (client.clone(), tenant.clone());
        move |_| {
            let Some(f) = forged() else { return };
            if frozen.with_value(Option::is_none) {
                let Some(c) = choices() else { return };
                let kc = serde_json::to_value(&f.key_credential).unwrap_or(Value::Null);
                frozen.set_value(Some((c, kc)));
            }
            let Some((choices, kc)) = frozen.get_value() else {
                return;
            };
            applying.start(client.clone(), tenant.clone(), choices, kc);
        }
    };

    let tenant_name = tenant.name.clone();
    let apps: Vec<(String, String, bool, usize)> = tenant
        .apps_for_choice()
        .into_iter()
        .map(|a| {
            (
                a.id.clone(),
                a.display_name.clone(),
                a.declares_manage_as_app(),
                a.key_credentials.len(),
            )
        })
        .collect();

    view! {
        {(!warnings.is_empty()).then(|| view! {
            <div id="warnings" class="status error" role="alert">
                {warnings.into_iter().map(|w| view! { <p>{w}</p> }).collect_view()}
            </div>
        })}

        <fieldset class="card" id="choose" disabled=started>
            <legend>"App and access"</legend>
            <label class="choice">
                <input type="radio" name="target" id="target-new" prop:checked=move || mode.get() == Mode::New
                    on:change=move |_| set_mode.set(Mode::New) />
                <span>"A new app registration named "</span>
            </label>
            <input id="app-name" type="text" maxlength="120" aria-label="Name of the new app registration" prop:value=move || name.get()
                on:input=move |ev| { set_name.set(event_target_value(&ev)); set_mode.set(Mode::New); } />
            <label class="choice">
                <input type="radio" name="target" id="target-existing" prop:checked=move || mode.get() == Mode::Existing
                    on:change=move |_| set_mode.set(Mode::Existing) disabled=apps.is_empty() />
                <span>"An existing app (its certificates and permissions are kept)"</span>
            </label>
            <input id="existing-filter" type="search" placeholder="Filter apps by name" aria-label="Filter apps by name"
                prop:value=move || filter.get() on:input=move |ev| set_filter.set(event_target_value(&ev)) />
            <select id="existing-app" aria-label="Existing app" on:change=move |ev| {
                let v = event_target_value(&ev);
                set_existing_id.set((!v.is_empty()).then_some(v));
                set_mode.set(Mode::Existing);
            }>
                <option value="">"Choose an app…"</option>
                {move || {
                    let needle = filter.get().to_lowercase();
                    apps.iter()
                        .filter(|(_, name, _, _)| name.to_lowercase().contains(&needle))
                        .map(|(id, name, has, certs)| {
                            let label = format!("{name}{} ({certs} certificate{})", if *has { " ✓ Exchange.ManageAsApp" } else { "" }, if *certs == 1 { "" } else { "s" });
                            let selected = existing_id.get_untracked().as_deref() == Some(id.as_str());
                            view! { <option value=id.clone() selected=selected>{label}</option> }
                        })
                        .collect_view()
                }}
            </select>
            {move || (mode.get() == Mode::Existing && existing_id.get().is_some()).then(|| match inspected.get().flatten() {
                None => view! { <p role="status">"Reading the app…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="status error" role="alert">{e.to_string()}</p> }.into_any(),
                Some(Ok(_)) => ().into_any(),
            })}
            <super::workloads::WorkloadChoice access tenant=tenant.clone() />
        </fieldset>

        <section class="card" id="plan">
            <h2>"Plan"</h2>
            <super::a11y::Announce id="plan-announce" text=Signal::derive(move || super::a11y::plan_summary(plan().as_ref())) />
            {move || plan().map(|p| view! { <PlanView plan=p /> })}
        </section>

        <section class="card" id="make">
            <h2>"Certificate (made here; save the PFX before anything is written)"</h2>
            <CertificatePanel generation pfx_saved max_days=Signal::derive(move || max_days)
                locked=Signal::derive(move || applying.started()) />
        </section>

        <section class="card" id="apply">
            <h2>"Apply"</h2>
            <p class="status" id="apply-gate">{move || {
                if matches!(apply.get(), Apply::Done(_)) { "Applied: what to do next is below.".to_owned() }
                else if matches!(apply.get(), Apply::Running) { "Applying…".to_owned() }
                else { Gate::of(plan().as_ref(), forged().is_some(), pfx_saved.get()).text(&tenant_name) }
            }}</p>
            <button id="apply-button" class="primary"
                disabled=move || {
                    matches!(apply.get(), Apply::Running | Apply::Done(_))
                        || Gate::of(plan().as_ref(), forged().is_some(), pfx_saved.get()) != Gate::Ready
                }
                on:click=start_apply>
                {move || if matches!(apply.get(), Apply::Failed(_)) { "Retry" } else { "Apply" }}
            </button>
            <ApplyProgress state=applying />
        </section>

        {move || match (apply.get(), forged()) {
            (Apply::Done(done), Some(f)) => view! {
                <super::finished::Finished applied=done forged=f tenant=tenant_handle.get_value() access=frozen.with_value(|f| f.as_ref().map(|(c, _)| c.access.clone())).unwrap_or_else(|| access.get_untracked()) app_name=frozen.with_value(|f| f.as_ref().map(|(c, _)| c.target.name()).unwrap_or_default()) log=applying.log.get_untracked() round_trips=client_handle.with_value(|c| c.round_trips()) client=client_handle.get_value() />
            }.into_any(),
            _ => ().into_any(),
        }}
    }
}
