//! What both paths (certificate and managed identity) share once the choice is made: the plan
//! view (the diff and the exact requests), the role choice, the apply run with its live steps,
//! waits, stops (what is already made, the run log, a sign-in again in a popup) and the
//! copy-ready PowerShell blocks.

use std::collections::BTreeMap;
use std::rc::Rc;

use leptos::prelude::*;
use serde_json::{Value, json};

use crate::auth::Identity;
use crate::config::Config;
use crate::graph::{Client, GraphError, Secret, SignInRequired, Wait, WaitReason};
use crate::onboard::{self, Action, Applied, Choices, Plan, Run, StepKind, StepStatus, Tenant};
use crate::web::fetch::Fetch;
use crate::wellknown::{self, EXCHANGE_ROLES, roles};
use crate::workloads::SITES_SCOPE;
use leptos::prelude::LocalStorage;

/// What a sign-in again needs, for every apply run under this sign-in.
#[derive(Clone)]
pub(super) struct Account {
    pub(super) who: Identity,
    pub(super) config: Config,
}

/// The cloud of this sign-in (the final lines name its environment).
pub(super) fn cloud() -> crate::cloud::Cloud {
    use_context::<StoredValue<Account, LocalStorage>>()
        .map(|a| a.with_value(|a| a.config.cloud))
        .unwrap_or_default()
}

/// Signs the same admin in again in a popup (with `claims` when challenged, `extra` scopes
/// when more are wanted) and puts the new tokens in `client`; the message says why not.
pub(super) async fn renew_in_popup(
    client: &Client<Fetch>,
    account: &Account,
    claims: Option<&str>,
    extra: &[&str],
) -> Result<(), String> {
    let signed = crate::web::popup::sign_in_again(&account.config, &account.who, claims, extra)
        .await
        .map_err(|e| e.to_string())?;
    client.replace_tokens(
        Secret::new(signed.access_token),
        signed.refresh_token.map(Secret::new),
    );
    Ok(())
}

/// Where applying stands.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Apply {
    NotStarted,
    Running,
    Failed(String),
    Done(Applied),
}

/// What one apply run was started with, to resume it after a sign-in again.
type Started = (Rc<Client<Fetch>>, Rc<Tenant>, Choices, Value);

/// The signals of one apply run, shared by both paths.
#[derive(Clone, Copy)]
pub(super) struct Applying {
    pub(super) apply: RwSignal<Apply>,
    steps: RwSignal<BTreeMap<StepKind, StepStatus>>,
    waiting: RwSignal<Option<String>>,
    pub(super) log: RwSignal<Vec<Value>>,
    run: StoredValue<Run, LocalStorage>,
    /// What is already made (ids), shown when a run stops.
    made: RwSignal<Vec<String>>,
    /// Set when the identity platform wants the admin back (popup).
    sign_in: RwSignal<Option<SignInRequired>>,
    sign_in_error: RwSignal<Option<String>>,
    started: StoredValue<Option<Started>, LocalStorage>,
}

impl Applying {
    pub(super) fn new() -> Self {
        Self {
            apply: RwSignal::new(Apply::NotStarted),
            steps: RwSignal::new(BTreeMap::new()),
            waiting: RwSignal::new(None),
            log: RwSignal::new(Vec::new()),
            run: StoredValue::new_local(Run::default()),
            made: RwSignal::new(Vec::new()),
            sign_in: RwSignal::new(None),
            sign_in_error: RwSignal::new(None),
            started: StoredValue::new_local(None),
        }
    }

    /// Signs in again in a popup (from the click that calls this), with `extra` scopes when
    /// the stopped step needs more, puts the new tokens in the client and resumes the run where
    /// it stopped.
    fn sign_in_again(self, account: Account, extra: &'static [&'static str]) {
        let Some((client, ..)) = self.started.get_value() else {
            return;
        };
        let claims = self.sign_in.get_untracked().and_then(|s| s.claims);
        self.sign_in_error.set(None);
        leptos::task::spawn_local(async move {
            match renew_in_popup(&client, &account, claims.as_deref(), extra).await {
                Ok(()) => {
                    self.sign_in.set(None);
                    self.log.update(|l| l.push(json!({"signedInAgain": true})));
                    if let Some((client, tenant, choices, kc)) = self.started.get_value() {
                        self.start(client, tenant, choices, kc);
                    }
                }
                Err(e) => self.sign_in_error.set(Some(e)),
            }
        });
    }

    pub(super) fn started(self) -> bool {
        self.apply.get() != Apply::NotStarted
    }

    /// Runs (or, after a failure, resumes) the executor; every change lands in the signals.
    pub(super) fn start(
        self,
        client: Rc<Client<Fetch>>,
        tenant: Rc<Tenant>,
        choices: Choices,
        key_credential: Value,
    ) {
        self.started.set_value(Some((
            client.clone(),
            tenant.clone(),
            choices.clone(),
            key_credential.clone(),
        )));
        let Self {
            apply,
            steps,
            waiting,
            log,
            run,
            made,
            sign_in,
            ..
        } = self;
        apply.set(Apply::Running);
        sign_in.set(None);
        let now = || js_sys::Date::new_0().to_iso_string().as_string();
        client.on_wait(move |w| {
            waiting.set(Some(wait_text(&w)));
            log.update(|l| {
                l.push(
                    json!({"at": now(), "wait": format!("{:?}", w.reason), "seconds": w.seconds}),
                )
            });
        });
        leptos::task::spawn_local(async move {
            let progress = move |kind: StepKind, status: StepStatus| {
                waiting.set(None);
                log.update(|l| {
                    l.push(json!({"at": now(), "step": kind, "status": format!("{status:?}")}))
                });
                steps.update(|s| {
                    s.insert(kind, status);
                });
            };
            let mut state = run.get_value();
            let result = onboard::executor::apply(
                &client,
                &tenant,
                &choices,
                &key_credential,
                &mut state,
                &progress,
            )
            .await;
            made.set(
                [
                    state.app.as_ref().map(|a| {
                        format!(
                            "App registration: object id {}, application (client) id {}",
                            a.id, a.app_id
                        )
                    }),
                    state
                        .service_principal
                        .as_ref()
                        .map(|sp| format!("Service principal: object id {sp}")),
                ]
                .into_iter()
                .flatten()
                .collect(),
            );
            run.set_value(state);
            waiting.set(None);
            apply.set(match result {
                Ok(done) => Apply::Done(done),
                Err(f) => {
                    if let GraphError::SignInRequired(why) = &f.error {
                        sign_in.set(Some(why.clone()));
                    }
                    log.update(|l| l.push(json!({"stopped": f.message})));
                    Apply::Failed(f.message)
                }
            });
        });
    }
}

/// What the page says while the client waits before trying again.
pub(super) fn wait_text(w: &Wait) -> String {
    let why = match w.reason {
        WaitReason::Throttled => "Microsoft Graph asked to slow down",
        WaitReason::Unavailable => "Microsoft Graph is briefly unavailable",
        WaitReason::Replication => "waiting for the directory to replicate the change",
        WaitReason::Network => "the network failed",
        WaitReason::Operation => "Azure is still working on it",
    };
    format!("{why}: trying again in {:.1} s…", w.seconds)
}

/// The live steps, the current wait and the failure of an apply run.
#[component]
pub(super) fn ApplyProgress(
    state: Applying,
    #[prop(optional)] prefix: &'static str,
) -> impl IntoView {
    let news = step_news(state.steps);
    let error = NodeRef::<leptos::html::P>::new();
    super::a11y::focus_when_shown(error);
    view! {
        <super::a11y::Announce id=format!("{prefix}steps-announce") text=news />
        <StepList steps=state.steps id=format!("{prefix}steps") />
        <p id=format!("{prefix}waiting") class="status" role="status">{move || state.waiting.get()}</p>
        {move || match state.apply.get() {
            Apply::Failed(m) => {
                let account = use_context::<StoredValue<Account, LocalStorage>>();
                let site_refused = state.steps.with(|s| matches!(s.get(&StepKind::Site), Some(StepStatus::Failed(_))));
                let made = state.made.get();
                let log = serde_json::to_string_pretty(&json!({"tool": "unattended", "made": made, "events": state.log.get()})).unwrap_or_default();
                view! {
                    <p id=format!("{prefix}apply-error") class="status error" role="alert" tabindex="-1" node_ref=error>{m}</p>
                    {state.sign_in.get().map(|_| view! {
                        <button id=format!("{prefix}sign-in-again") class="primary" on:click=move |_| {
                            if let Some(a) = account { state.sign_in_again(a.get_value(), &[]); }
                        }>"Sign in again"</button>
                        <p id=format!("{prefix}sign-in-again-error") class="status error" role="alert">{move || state.sign_in_error.get()}</p>
                    })}
                    {site_refused.then(|| view! {
                        <button id=format!("{prefix}allow-site-grants") class="primary" on:click=move |_| {
                            if let Some(a) = account { state.sign_in_again(a.get_value(), &[SITES_SCOPE]); }
                        }>"Allow site grants"</button>
                        <p id=format!("{prefix}allow-site-grants-error") class="status error" role="alert">{move || state.sign_in_error.get()}</p>
                    })}
                    {(!made.is_empty()).then(|| view! {
                        <div id=format!("{prefix}made") class="status">
                            <p>"Already made (kept, and found again by Retry; nothing is made twice):"</p>
                            <ul>{made.into_iter().map(|m| view! { <li><code>{m}</code></li> }).collect_view()}</ul>
                        </div>
                    })}
                    <button id=format!("{prefix}save-failed-log") on:click=move |_| {
                        let _ = crate::web::download::save("unattended-run-log.json", "application/json", log.as_bytes());
                    }>"Save the run log (JSON, no secrets)"</button>
                }.into_any()
            }
            Apply::Done(done) if !done.verified() => view! {
                <p id=format!("{prefix}verification") class="status warning" role="status">
                    "Applied, but the final read-back does not show everything yet ("
                    {if done.grant_verified { "" } else { "every permission grant" }}
                    {if !done.grant_verified && !done.role_verified { " and " } else { "" }}
                    {if done.role_verified { "" } else { "every role" }}
                    "): the directory is still propagating. Nothing needs to be redone: check again in a few minutes, or apply again, which only looks."
                </p>
            }.into_any(),
            Apply::Done(_) => view! {
                <p id=format!("{prefix}verification") class="status" role="status">"Verified: every permission and role read back from Microsoft Graph."</p>
            }.into_any(),
            _ => ().into_any(),
        }}
    }
}

/// The Entra roles Exchange accepts app-only, each with its one-line meaning.
#[component]
pub(super) fn RoleSelect(
    id: &'static str,
    label: &'static str,
    set: WriteSignal<String>,
) -> impl IntoView {
    view! {
        <label class="field">
            <span>{label}</span>
            <select id=id on:change=move |ev| set.set(event_target_value(&ev))>
                {EXCHANGE_ROLES.iter().map(|r| view! {
                    <option value=r.id selected=r.id == roles::EXCHANGE_ADMIN>{format!("{} — {}", r.name, r.meaning)}</option>
                }).collect_view()}
            </select>
        </label>
    }
}

/// Copy-ready PowerShell blocks, with ids `{prefix}snippet-N` for tests and assistive tech.
#[component]
pub(super) fn Snippets(
    snippets: Vec<crate::snippets::Snippet>,
    prefix: &'static str,
) -> impl IntoView {
    snippets.into_iter().enumerate().map(|(i, s)| {
        let text = s.text.clone();
        let (copied, set_copied) = signal(false);
        view! {
            <div class="snippet">
                <h3>{s.title}</h3>
                <pre><code id=format!("{prefix}snippet-{i}")>{s.text}</code></pre>
                <button on:click=move |_| {
                    let text = text.clone();
                    leptos::task::spawn_local(async move { set_copied.set(crate::web::download::copy(&text).await.is_ok()); });
                }>{move || if copied.get() { "Copied" } else { "Copy" }}</button>
            </div>
        }
    }).collect_view()
}

pub(super) fn role_names(ids: &[String]) -> String {
    if ids.is_empty() {
        return "no admin role".into();
    }
    ids.iter()
        .map(|id| wellknown::role_name(id).to_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Each step of a run with where it stands (the Graph run's and the Azure card's).
#[component]
pub(super) fn StepList(
    steps: RwSignal<BTreeMap<StepKind, StepStatus>>,
    id: String,
) -> impl IntoView {
    view! {
        <ol class="steps" id=id>
            {move || steps.get().into_iter().map(|(kind, status)| {
                let (class, text) = match &status {
                    StepStatus::Running => ("running", "working…".to_owned()),
                    StepStatus::Done { changed: true } => ("done", "done".to_owned()),
                    StepStatus::Done { changed: false } => ("done", "already in place, unchanged".to_owned()),
                    StepStatus::Failed(m) => ("failed", m.clone()),
                };
                view! { <li class=class data-step=format!("{kind:?}")><strong>{step_title(kind)}</strong>": " {text}</li> }
            }).collect_view()}
        </ol>
    }
}

fn step_title(kind: StepKind) -> &'static str {
    match kind {
        StepKind::App => "App registration and certificate",
        StepKind::ServicePrincipal => "Service principal",
        StepKind::Grant => "Application permissions",
        StepKind::Role => "Entra roles",
        StepKind::Site => "SharePoint site",
        StepKind::AzureIdentity => "Automation account identity",
        StepKind::Module => "ExchangeOnlineManagement module",
        StepKind::Runbook => "Runbook",
        StepKind::CertificateAsset => "Certificate asset",
    }
}

#[component]
pub(super) fn PlanView(plan: Plan, #[prop(optional)] prefix: &'static str) -> impl IntoView {
    let blockers: Vec<String> = plan.blockers.iter().map(ToString::to_string).collect();
    let warnings = plan.warnings.clone();
    view! {
        {(!blockers.is_empty()).then(|| view! {
            <div id=format!("{prefix}blockers") class="status error" role="alert">
                {blockers.into_iter().map(|b| view! { <p>{b}</p> }).collect_view()}
            </div>
        })}
        {(!warnings.is_empty()).then(|| view! {
            <div id=format!("{prefix}plan-warnings") class="status warning" role="status">
                {warnings.into_iter().map(|w| view! { <p>{w}</p> }).collect_view()}
            </div>
        })}
        {(!plan.permissions.is_empty() || !plan.roles.is_empty()).then(|| view! { <super::workloads::AccessView plan=plan.clone() prefix /> })}
        <ul class="diff" id=format!("{prefix}diff")>
            {plan.steps.iter().map(|s| {
                let (class, badge) = match s.action {
                    Action::Create => ("create", "create"),
                    Action::Change => ("change", "change"),
                    Action::Keep => ("keep", "keep"),
                };
                view! { <li class=class><span class="badge">{badge}</span>" " {s.summary.clone()}</li> }
            }).collect_view()}
            {plan.kept.iter().map(|k| view! { <li class="keep"><span class="badge">"kept"</span>" " {k.clone()}</li> }).collect_view()}
        </ul>
        <details id=format!("{prefix}requests")>
            <summary>"The exact Microsoft Graph requests"</summary>
            <pre>{plan.steps.iter().flat_map(|s| s.requests.clone()).collect::<Vec<_>>().join("\n\n")}</pre>
        </details>
    }
}

/// What a screen reader says as the run goes: each step whose state changed, in words (the
/// list of steps is rebuilt on every change, so it cannot be the live region itself).
fn step_news(steps: RwSignal<BTreeMap<StepKind, StepStatus>>) -> RwSignal<String> {
    let said = StoredValue::new(BTreeMap::<StepKind, StepStatus>::new());
    let news = RwSignal::new(String::new());
    Effect::new(move |_| {
        let now = steps.get();
        let changed: Vec<String> = now
            .iter()
            .filter(|(kind, status)| said.with_value(|s| s.get(kind) != Some(status)))
            .map(|(kind, status)| {
                let text = match status {
                    StepStatus::Running => "working…",
                    StepStatus::Done { changed: true } => "done",
                    StepStatus::Done { changed: false } => "already in place, unchanged",
                    StepStatus::Failed(m) => m,
                };
                format!("{}: {text}", step_title(*kind))
            })
            .collect();
        said.set_value(now);
        if !changed.is_empty() {
            news.set(changed.join(". "));
        }
    });
    news
}
