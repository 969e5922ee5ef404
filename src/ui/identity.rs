//! The managed-identity path: find the Automation account's identity, show it before anything
//! is written, plan and apply the grant and the role, then the runbook's first lines.

use std::rc::Rc;

use leptos::prelude::*;
use serde_json::Value;

use super::apply::{Apply, ApplyProgress, Applying, PlanView, RoleSelect, Snippets, role_names};
use crate::graph::Client;
use crate::graph::models::ServicePrincipal;
use crate::onboard::identity::{self, Query};
use crate::onboard::{self, Choices, Identity, Target, Tenant};
use crate::snippets;
use crate::web::download;
use crate::web::fetch::Fetch;
use crate::wellknown::{self, roles};

/// Search, choose, plan, apply, done.
#[component]
pub fn IdentityFlow(tenant: Rc<Tenant>, client: Rc<Client<Fetch>>) -> impl IntoView {
    let (query, set_query) = signal(String::new());
    let found = RwSignal::new(Vec::<ServicePrincipal>::new());
    let (note, set_note) = signal(None::<String>);
    let (error, set_error) = signal(None::<String>);
    let (searching, set_searching) = signal(false);
    let (chosen, set_chosen) = signal(None::<String>);
    let (role, set_role) = signal(roles::EXCHANGE_ADMIN.to_owned());
    let applying = Applying::new();
    let client_handle = StoredValue::new_local(client.clone());
    let tenant_handle = StoredValue::new_local(tenant.clone());

    let find_button = NodeRef::<leptos::html::Button>::new();
    let search = move || {
        let Some(q) = Query::parse(&query.get_untracked()) else {
            set_error.set(Some("Type a name, the Automation account's resource id (/subscriptions/…) or the identity's object id.".into()));
            return;
        };
        let client = client_handle.get_value();
        set_searching.set(true);
        set_error.set(None);
        set_note.set(None);
        set_chosen.set(None);
        leptos::task::spawn_local(async move {
            match identity::find(&client, &q).await {
                Ok((list, hint)) => {
                    if list.len() == 1 {
                        set_chosen.set(Some(list[0].id.clone()));
                    }
                    found.set(list);
                    set_note.set(hint.map(|h| h.to_string()));
                }
                Err(e) => {
                    found.set(Vec::new());
                    set_error.set(Some(e.to_string()));
                }
            }
            set_searching.set(false);
            super::a11y::refocus_if_lost(find_button);
        });
    };

    // What the chosen identity already holds.
    let inspected = LocalResource::new(move || {
        let client = client_handle.get_value();
        let sp = chosen
            .get()
            .and_then(|id| found.get_untracked().into_iter().find(|sp| sp.id == id));
        async move {
            match sp {
                Some(sp) => Some(identity::inspect(&client, sp).await),
                None => None,
            }
        }
    });
    let identity_now = move || match inspected.get().flatten() {
        Some(Ok(i)) => Some(i),
        _ => None,
    };
    let choices = move || {
        identity_now().map(|i| Choices {
            target: Target::Identity(Box::new(i)),
            access: crate::workloads::Access::exchange(&role.get()),
            validity_days: 0,
        })
    };
    let plan = move || choices().map(|c| tenant_handle.with_value(|t| onboard::plan(t, &c)));
    let start = move |_| {
        if let Some(c) = choices() {
            applying.start(
                client_handle.get_value(),
                tenant_handle.get_value(),
                c,
                Value::Null,
            );
        }
    };

    view! {
        <fieldset class="card" id="mi-find" disabled=move || applying.started()>
            <legend>"The Automation account's managed identity"</legend>
            <p>"Its name, the Automation account's resource id (/subscriptions/…), or the identity's Object (principal) ID from the account's Identity page."</p>
            <form on:submit=move |ev| { ev.prevent_default(); search(); }>
                <input id="mi-query" type="text" placeholder="contoso-automation" aria-label="Name, resource id or object id" prop:value=move || query.get()
                    on:input=move |ev| set_query.set(event_target_value(&ev)) />
                <button id="mi-search" type="submit" node_ref=find_button disabled=move || searching.get()>"Find"</button>
            </form>
            <p id="mi-note" class="status" role="status">{move || note.get()}</p>
            <p id="mi-error" class="status error" role="alert">{move || error.get()}</p>
            <ul id="mi-results" class="results">
                {move || found.get().into_iter().map(|sp| {
                    let id = sp.id.clone();
                    let explicit = sp.user_assigned();
                    let resource = sp.resource_id().unwrap_or_default().to_owned();
                    let selected = id.clone();
                    view! {
                        <li>
                            <label class="choice">
                                <input type="radio" name="identity" value=id.clone()
                                    prop:checked=move || chosen.get().as_deref() == Some(selected.as_str())
                                    on:change=move |_| set_chosen.set(Some(id.clone())) />
                                <span>
                                    <strong>{sp.display_name.clone()}</strong>
                                    {if explicit { " (user-assigned)" } else { " (system-assigned)" }}
                                    <br/>"Object (principal) id: " <code class="mi-object-id">{sp.id.clone()}</code>
                                    <br/>"Client (application) id: " <code class="mi-client-id">{sp.app_id.clone()}</code>
                                    <br/><small>{resource}</small>
                                </span>
                            </label>
                        </li>
                    }
                }).collect_view()}
            </ul>
            {move || identity_now().map(|i| view! {
                <p id="mi-holds" class="status">
                    {format!("It holds: {}; {}.",
                        if tenant_handle.with_value(|t| i.granted(t)) { "Exchange.ManageAsApp" } else { "no Exchange.ManageAsApp yet" },
                        role_names(&i.roles))}
                </p>
            })}
            <RoleSelect id="mi-role" label="Entra role for the identity" set=set_role />
        </fieldset>

        <super::automation::AutomationCard tenant=tenant_handle.get_value() client=client_handle.get_value()
            target=super::automation::For::Identity { role: role.into() } />

        <section class="card" id="mi-plan">
            <h2>"Plan"</h2>
            <super::a11y::Announce id="mi-plan-announce" text=Signal::derive(move || super::a11y::plan_summary(plan().as_ref())) />
            {move || match plan() {
                Some(p) => view! { <PlanView plan=p prefix="mi-" /> }.into_any(),
                None => view! { <p class="status">"Find and choose the identity first."</p> }.into_any(),
            }}
        </section>

        <section class="card" id="mi-apply">
            <h2>"Apply"</h2>
            <button id="mi-apply-button" class="primary"
                disabled=move || matches!(applying.apply.get(), Apply::Running | Apply::Done(_))
                    || plan().is_none_or(|p| !p.blockers.is_empty())
                on:click=start>
                {move || if matches!(applying.apply.get(), Apply::Failed(_)) { "Retry" } else { "Apply" }}
            </button>
            <ApplyProgress state=applying prefix="mi-" />
        </section>

        {move || match (applying.apply.get(), identity_now()) {
            (Apply::Done(_), Some(i)) => view! {
                <IdentityFinished identity=i organization=tenant_handle.with_value(|t| t.initial_domain.clone())
                    tenant=tenant_handle.with_value(|t| (t.name.clone(), t.id.clone()))
                    role=role.get_untracked() log=applying.log.get_untracked() />
            }.into_any(),
            _ => ().into_any(),
        }}
    }
}

/// The runbook's first lines for the identity.
#[component]
fn IdentityFinished(
    identity: Identity,
    organization: String,
    /// The tenant's name and id, for the session summary.
    tenant: (String, String),
    role: String,
    log: Vec<Value>,
) -> impl IntoView {
    let sp = identity.service_principal.clone();
    super::session::record(crate::session::Row {
        at: super::session::now_iso(),
        tenant: tenant.0,
        tenant_id: tenant.1,
        domain: organization.clone(),
        what: "managed identity",
        name: sp.display_name.clone(),
        app_id: sp.app_id.clone(),
        thumbprint: String::new(),
        expires: String::new(),
        log: String::new(),
    });
    let user_assigned = identity.user_assigned();
    let lines = snippets::managed_identity(
        &organization,
        user_assigned.then_some(sp.app_id.as_str()),
        super::apply::cloud(),
    );
    let run_log = serde_json::to_string_pretty(&serde_json::json!({
        "tool": "unattended", "organization": organization, "managedIdentity": {
            "displayName": sp.display_name, "objectId": sp.id, "clientId": sp.app_id,
            "userAssigned": user_assigned, "resourceId": identity.resource_id(),
        }, "role": role, "events": log,
    }))
    .unwrap_or_default();
    let heading = NodeRef::<leptos::html::H2>::new();
    super::a11y::focus_when_shown(heading);
    view! {
        <section class="card done" id="mi-finished">
            <h2 id="mi-finished-title" tabindex="-1" node_ref=heading>"Done: the runbook can connect to Exchange Online as its managed identity"</h2>
            <dl class="facts">
                <dt>"Identity"</dt><dd>{sp.display_name.clone()} {if user_assigned { " (user-assigned)" } else { " (system-assigned)" }}</dd>
                <dt>"Object (principal) id"</dt><dd><code>{sp.id.clone()}</code></dd>
                <dt>"Client id"</dt><dd><code id="mi-done-client-id">{sp.app_id.clone()}</code></dd>
                <dt>"Role"</dt><dd>{wellknown::role_name(&role).to_owned()}</dd>
            </dl>
            <p class="status warning" id="mi-propagation">
                "The role can take up to 15 minutes (occasionally longer) to reach Exchange Online: if the runbook's first "
                "Connect-ExchangeOnline fails or cmdlets are missing, wait and run it again."
            </p>
            <Snippets snippets=lines prefix="mi-" />
            <div class="actions">
                <button id="mi-save-log" on:click=move |_| { let _ = download::save("managed-identity-run-log.json", "application/json", run_log.as_bytes()); }>
                    "Save the run log (JSON)"
                </button>
            </div>
        </section>
    }
}
