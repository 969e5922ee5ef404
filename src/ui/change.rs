//! The change panel of the inventory: Rotate (the onboarding's certificate panel, saved and
//! proven before any write, then the new certificate appended), Remove old and Clean up expired
//! (refusals and confirmations decided by `lifecycle::change`), each showing the plan with the
//! exact requests before the one PATCH, and the read-back after it.

use std::rc::Rc;

use leptos::prelude::*;
use serde_json::Value;

use super::apply::{Account, Snippets, renew_in_popup, wait_text};
use super::certificate::{CertificatePanel, Generation};
use crate::graph::{Client, GraphError, SignInRequired};
use crate::lifecycle::change::{self, Change, Refusal, short};
use crate::lifecycle::inventory::Certificate;
use crate::lifecycle::{self, Principal};
use crate::onboard::Tenant;
use crate::snippets::{self, CertificateFacts};
use crate::web::fetch::Fetch;
use crate::wellknown;

/// What the panel does.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Add a new certificate, keep the others.
    Rotate,
    /// Remove chosen certificates (these `keyId`s ticked to begin with).
    Remove(Vec<String>),
    /// Remove every expired certificate.
    CleanUp,
}

/// Where the change stands.
#[derive(Debug, Clone, PartialEq)]
enum Run {
    Idle,
    Running,
    Failed(String, Option<SignInRequired>),
    /// The app as read back, and whether anything was written.
    Done(Box<Principal>, bool),
}

fn now() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

/// The panel for one app and one kind of change.
#[component]
pub fn ChangePanel(
    principal: Principal,
    mode: Mode,
    selected: RwSignal<Option<(Principal, Mode)>>,
    refresh: Callback<()>,
    client: Rc<Client<Fetch>>,
    tenant: Rc<Tenant>,
) -> impl IntoView {
    let generation = RwSignal::new(Generation::Idle);
    let pfx_saved = RwSignal::new(false);
    let initial: Vec<String> = match &mode {
        Mode::Remove(ids) => ids.clone(),
        Mode::CleanUp => change::expired(&principal),
        Mode::Rotate => vec![],
    };
    let ticked = RwSignal::new(initial);
    let confirmed = RwSignal::new(Vec::<String>::new());
    let cleanup_ok = RwSignal::new(false);
    let run = RwSignal::new(Run::Idle);
    let waiting = RwSignal::new(None::<String>);
    let p = StoredValue::new(principal.clone());
    let client = StoredValue::new_local(client);
    let forged = move || match generation.get() {
        Generation::Done(f, _) => Some(f),
        _ => None,
    };
    let rotate = mode == Mode::Rotate;
    let cleanup = mode == Mode::CleanUp;
    // The change as it stands, with the forge's keyCredential (public certificate only).
    let wanted = move || -> Option<Change> {
        if rotate {
            let f = forged()?;
            Some(Change::Rotate(
                serde_json::to_value(&f.key_credential).unwrap_or(Value::Null),
            ))
        } else {
            Some(Change::Remove(ticked.get()))
        }
    };
    let checked = move || -> Option<Result<Vec<String>, Refusal>> {
        let c = wanted()?;
        Some(p.with_value(|p| change::check(p, &c, &confirmed.get(), now())))
    };
    let ready = move || {
        matches!(checked(), Some(Ok(_)))
            && (!rotate || pfx_saved.get())
            && (!cleanup || cleanup_ok.get())
            && !matches!(run.get(), Run::Running | Run::Done(..))
    };
    let gate = move || -> String {
        match (rotate, forged().is_some(), pfx_saved.get(), checked()) {
            (_, _, _, _) if matches!(run.get(), Run::Done(..)) => "Done: read back below.".into(),
            (true, false, _, _) => "Make the new certificate first.".into(),
            (true, true, false, _) => "Save the PFX, then pick the saved file back with its password: once the tenant trusts the certificate, that file is the only copy of its key.".into(),
            (_, _, _, Some(Err(r))) => r.to_string(),
            (false, _, _, Some(Ok(_))) if cleanup && !cleanup_ok.get() => "Confirm the clean-up above.".into(),
            _ => format!("Ready to change \"{}\".", p.with_value(|p| p.display_name.clone())),
        }
    };
    let refused = move || matches!(checked(), Some(Err(_)));
    let apply = move |_| {
        let Some(Ok(removing)) = checked() else {
            return;
        };
        let Some(c) = wanted() else { return };
        let client = client.get_value();
        let principal = p.get_value();
        run.set(Run::Running);
        client.on_wait(move |w| waiting.set(Some(wait_text(&w))));
        leptos::task::spawn_local(async move {
            let result = lifecycle::apply(&client, &principal, &c, &removing).await;
            waiting.set(None);
            match result {
                Ok((app, wrote)) => {
                    run.set(Run::Done(Box::new(principal.refreshed(app, now())), wrote));
                    refresh.run(());
                }
                Err(e) => {
                    let sign_in = match &e {
                        GraphError::SignInRequired(why) => Some(why.clone()),
                        _ => None,
                    };
                    let text = match &e {
                        GraphError::Denied(_) => "You may not change this app's certificates: that needs Application Administrator, Cloud Application Administrator or Global Administrator (or being its owner). Nothing was changed.".to_owned(),
                        GraphError::Drifted(d) => format!("{d} Nothing was removed that the plan kept. Read the inventory again and retry."),
                        e => format!("{e} Press Apply again: it reads the app first and changes only what is still to do."),
                    };
                    run.set(Run::Failed(text, sign_in));
                }
            }
        });
    };
    let account = use_context::<StoredValue<Account, LocalStorage>>();
    let sign_in_again = move |_| {
        let Some(account) = account.map(|a| a.get_value()) else {
            return;
        };
        let claims = match run.get_untracked() {
            Run::Failed(_, Some(why)) => why.claims,
            _ => None,
        };
        let client = client.get_value();
        leptos::task::spawn_local(async move {
            match renew_in_popup(&client, &account, claims.as_deref(), &[]).await {
                Ok(()) => run.set(Run::Idle),
                Err(e) => run.set(Run::Failed(e, None)),
            }
        });
    };

    let title = match &mode {
        Mode::Rotate => "Rotate",
        Mode::Remove(_) => "Remove old certificates",
        Mode::CleanUp => "Clean up expired certificates",
    };
    let name = principal.display_name.clone();
    let max_days = tenant.max_certificate_days;
    let certificates = principal.certificates.clone();
    let expired = change::expired(&principal).len();
    let organization = tenant.initial_domain.clone();
    let cloud = super::apply::cloud();
    let compliance = principal
        .roles
        .iter()
        .any(|r| wellknown::exchange_role(r).is_some_and(|x| x.compliance));
    // The panel opens below a table that may be long: take the focus there (and the screen
    // reader's attention), as a dialog would.
    let heading = NodeRef::<leptos::html::H2>::new();
    Effect::new(move |_| {
        if let Some(h) = heading.get() {
            let _ = h.focus();
        }
    });
    view! {
        <section class="card" id="change" data-mode=format!("{mode:?}") aria-labelledby="change-title">
            <h2 id="change-title" tabindex="-1" node_ref=heading>{title} ": " {name.clone()}</h2>
            <button id="change-close" class="close" on:click=move |_| selected.set(None)>"Close"</button>
            {rotate.then(|| view! {
                <p>"A new certificate is added; every certificate the app has now is kept until you say the scripts use the new one."</p>
                <CertificatePanel prefix="rotate-" generation pfx_saved max_days=Signal::derive(move || max_days)
                    locked=Signal::derive(move || !matches!(run.get(), Run::Idle | Run::Failed(..))) />
            })}
            {(!rotate).then(|| view! {
                <fieldset id="change-choose" disabled=move || matches!(run.get(), Run::Running | Run::Done(..))>
                    <legend>{if cleanup { format!("The {expired} expired certificate(s) to remove") } else { "Certificates to remove".to_owned() }}</legend>
                    {certificates.iter().map(|c| {
                        let id = c.key_id.clone();
                        let (id1, id2, id3, id4) = (id.clone(), id.clone(), id.clone(), id.clone());
                        let confirm = change::confirmation_text(c, now());
                        let label = format!("{} · {} · last used {}", short(c), c.status.label(), c.last_used.text());
                        view! {
                            <div class="remove-choice" data-key-id=id.clone()>
                                <label>
                                    <input type="checkbox" class="remove-key" data-key-id=id.clone()
                                        disabled=cleanup
                                        prop:checked=move || ticked.get().contains(&id1)
                                        on:change=move |ev| {
                                            let on = event_target_checked(&ev);
                                            ticked.update(|t| { t.retain(|k| *k != id2); if on { t.push(id2.clone()); } });
                                        } />
                                    " " {label}
                                </label>
                                {confirm.map(|text| view! {
                                    <label class="confirm" hidden={let id = id3.clone(); move || !ticked.get().contains(&id)}>
                                        <input type="checkbox" class="confirm-key" data-key-id=id3.clone()
                                            on:change=move |ev| {
                                                let on = event_target_checked(&ev);
                                                let id = id4.clone();
                                                confirmed.update(|t| { t.retain(|k| *k != id); if on { t.push(id.clone()); } });
                                            } />
                                        " " {text}
                                    </label>
                                })}
                            </div>
                        }
                    }).collect_view()}
                    {cleanup.then(|| view! {
                        <label class="confirm">
                            <input type="checkbox" id="cleanup-confirm" on:change=move |ev| cleanup_ok.set(event_target_checked(&ev)) />
                            " " {format!("Remove the {expired} expired certificate(s) of \"{name}\"; keep every other one.")}
                        </label>
                    })}
                </fieldset>
            })}
            <h3>"Plan"</h3>
            {move || {
                let c = wanted();
                let check = checked();
                match (c, check) {
                    (Some(c), Some(Ok(removing))) => {
                        let plan = p.with_value(|p| change::plan(p, &c, &removing));
                        view! {
                            <ul class="diff" id="change-diff">
                                {plan.lines.into_iter().map(|l| view! {
                                    <li class=l.action><span class="badge">{l.action}</span>" " {l.text}</li>
                                }).collect_view()}
                            </ul>
                            <details id="change-requests">
                                <summary>"The exact Microsoft Graph requests"</summary>
                                <pre>{plan.requests.join("\n\n")}</pre>
                            </details>
                        }.into_any()
                    }
                    _ => view! { <p class="hint">"The plan shows once the change is chosen."</p> }.into_any(),
                }
            }}
            <p id="change-gate" class="status" class:error=refused role="status">{gate}</p>
            <button id="change-apply" class="primary" disabled=move || !ready() on:click=apply>
                {move || if matches!(run.get(), Run::Failed(..)) { "Apply again" } else { "Apply" }}
            </button>
            <p id="change-waiting" class="status" role="status">{move || waiting.get()}</p>
            {move || match run.get() {
                Run::Failed(text, sign_in) => view! {
                    <p id="change-error" class="status error" role="alert">{text}</p>
                    {sign_in.map(|_| view! { <button id="change-sign-in-again" class="primary" on:click=sign_in_again>"Sign in again"</button> })}
                }.into_any(),
                Run::Done(after, wrote) => {
                    let before = p.get_value();
                    let added: Vec<Certificate> = after.certificates.iter().filter(|c| !before.certificates.iter().any(|o| o.key_id == c.key_id)).cloned().collect();
                    let removed: Vec<Certificate> = before.certificates.iter().filter(|c| !after.certificates.iter().any(|o| o.key_id == c.key_id)).cloned().collect();
                    let kept = after.certificates.len() - added.len();
                    let old_ids: Vec<String> = before.certificates.iter().map(|c| c.key_id.clone()).collect();
                    let next = (*after).clone();
                    let facts = forged().map(|f| CertificateFacts {
                        app_id: after.app_id.clone(),
                        organization: organization.clone(),
                        thumbprint: f.thumbprint.clone(),
                        pfx_file: format!("{}.pfx", super::downloads::file_stem(&f.subject)),
                        compliance,
                        cloud,
                    });
                    view! {
                        <div id="change-result" class="status" role="status">
                            <p>{if wrote { "Changed, and read back from Microsoft Graph:" } else { "Already as wanted (nothing written), read back from Microsoft Graph:" }}</p>
                            <ul>
                                {added.iter().map(|c| view! { <li class="added">"added " {short(c)}</li> }).collect_view()}
                                {removed.iter().map(|c| view! { <li class="removed">"removed " {short(c)}</li> }).collect_view()}
                                <li class="kept">{format!("{kept} other certificate(s) kept as they were")}</li>
                            </ul>
                        </div>
                        {facts.map(|facts| {
                            let snippets = snippets::certificate(&facts);
                            view! {
                                <h3>"The scripts' new lines (new thumbprint)"</h3>
                                <Snippets snippets prefix="change-" />
                                <p>"Update every script and Automation certificate asset to the new certificate, check one run, then remove the old certificate."</p>
                                <button id="scripts-moved" class="primary" on:click=move |_| selected.set(Some((next.clone(), Mode::Remove(old_ids.clone()))))>
                                    "The scripts use the new certificate: remove the old one…"
                                </button>
                            }
                        })}
                    }.into_any()
                }
                _ => ().into_any(),
            }}
        </section>
    }
}
