//! Azure Automation from the page: connect to Azure Resource Manager with the admin's own
//! rights (asked for only here), choose the Automation account, see the Azure steps planned
//! (identity, module, runbook, and the certificate asset only when opted in), apply them, and
//! start the runbook once to read its output. Rules live in `crate::azure`.

use std::collections::BTreeMap;
use std::rc::Rc;

use leptos::prelude::*;
use serde_json::Value;

use super::apply::{Account as Who, PlanView, cloud, renew_in_popup, wait_text};
use crate::azure::executor::{self, TestRun};
use crate::azure::plan::{AzureChoices, AzureState, steps};
use crate::azure::{self, Account, Connect, Runtime, Subscription};
use crate::graph::{Client, GraphError, Retry};
use crate::onboard::identity::{self, Query};
use crate::onboard::{self, Choices, Plan, StepKind, StepStatus, Target, Tenant};
use crate::web::fetch::Fetch;
use crate::workloads::Access;
use leptos::prelude::LocalStorage;

/// What the runbook will connect as.
#[derive(Clone)]
pub enum For {
    /// The account's system-assigned identity; the Graph part (grant and role) runs here too.
    Identity {
        /// The Entra role chosen for the identity.
        role: Signal<String>,
    },
    /// The app just made, with its certificate (PFX base64 and thumbprint; the password is
    /// typed again for the upload).
    Certificate {
        /// Application (client) id.
        app_id: String,
        /// The PFX, base64 (secret: sent only to the account's certificate endpoint, and only
        /// when the admin opts in).
        pfx: String,
        /// Its thumbprint.
        thumbprint: String,
    },
}

/// Where the card stands.
#[derive(Debug, Clone, PartialEq)]
enum Stage {
    /// Not connected to Azure yet.
    Idle,
    /// Connecting or listing.
    Busy,
    /// The platform wants the admin's consent to Azure access (popup from a click).
    NeedsConsent,
    /// Accounts listed.
    Listed,
}

fn azure_denied(e: &GraphError, scope: &str) -> String {
    match e {
        GraphError::Denied(detail) => format!(
            "Azure refused: {detail} This needs the {} role (or Contributor or Owner) on {scope}. Ask an Owner of the subscription to assign it (Azure portal → the Automation account → Access control (IAM) → Add role assignment), sign in again if you just got it, and press Retry. What Microsoft Entra already holds is kept.",
            azure::AUTOMATION_CONTRIBUTOR
        ),
        GraphError::Rejected { code, message, .. } if code == "ModuleImportFailed" => format!(
            "Automation could not import {}: {message}. Press Retry to import it again; if it keeps failing, import it by hand (Automation account → Modules → Add a module → Browse the gallery) and press Retry, which then finds it.",
            azure::MODULE
        ),
        other => other.to_string(),
    }
}

/// The card.
#[component]
pub fn AutomationCard(
    tenant: Rc<Tenant>,
    client: Rc<Client<Fetch>>,
    target: For,
    /// `""` on the identity path, `"cert-"` on the certificate's last screen.
    #[prop(optional)]
    prefix: &'static str,
) -> impl IntoView {
    let who = use_context::<StoredValue<Who, LocalStorage>>();
    let arm = StoredValue::new_local(None::<Rc<Client<Fetch>>>);
    let stage = RwSignal::new(Stage::Idle);
    let error = RwSignal::new(None::<String>);
    let accounts = RwSignal::new(Vec::<(String, Account)>::new());
    let chosen = RwSignal::new(None::<String>);
    let runtime = RwSignal::new(Runtime::PowerShell72);
    let upload = RwSignal::new(false);
    let password = RwSignal::new(String::new());
    let status = RwSignal::new(BTreeMap::<StepKind, StepStatus>::new());
    let waiting = RwSignal::new(None::<String>);
    let running = RwSignal::new(false);
    let applied = RwSignal::new(false);
    let test = RwSignal::new(None::<Result<TestRun, String>>);
    let testing = RwSignal::new(false);
    let graph = StoredValue::new_local(client);
    let tenant = StoredValue::new_local(tenant);
    let target = StoredValue::new_local(target);
    let job = StoredValue::new(new_job_id());
    let run_state = StoredValue::new_local(onboard::Run::default());
    let certificate = target.with_value(|t| matches!(t, For::Certificate { .. }));

    let config = move || who.map(|w| w.with_value(|w| w.config.clone()));
    let list = move || {
        let Some(config) = config() else { return };
        stage.set(Stage::Busy);
        error.set(None);
        let graph = graph.get_value();
        leptos::task::spawn_local(async move {
            let scope = format!("{} offline_access", config.cloud.arm_scope());
            let client = match graph
                .for_resource(config.arm_base_url.as_str(), &scope)
                .await
            {
                Ok(c) => Rc::new(c),
                Err(GraphError::SignInRequired(_)) => {
                    stage.set(Stage::NeedsConsent);
                    return;
                }
                Err(e) => {
                    error.set(Some(format!("Could not reach Azure Resource Manager: {e}")));
                    stage.set(Stage::Idle);
                    return;
                }
            };
            client.on_wait(move |w| waiting.set(Some(wait_text(&w))));
            arm.set_value(Some(client.clone()));
            match find_accounts(&client).await {
                Ok(found) => {
                    if found.len() == 1 {
                        chosen.set(Some(found[0].1.id.clone()));
                    }
                    if found.is_empty() {
                        error.set(Some("No Automation account is visible to you in any subscription. Create one (Azure portal → Automation Accounts → Create), or ask for Reader on its subscription, then press Find again.".into()));
                    }
                    accounts.set(found);
                    stage.set(Stage::Listed);
                }
                Err(e) => {
                    error.set(Some(azure_denied(&e, "the subscription")));
                    stage.set(Stage::Idle);
                }
            }
            waiting.set(None);
        });
    };
    let consent = move |_| {
        let (Some(w), Some(config)) = (who, config()) else {
            return;
        };
        let graph = graph.get_value();
        leptos::task::spawn_local(async move {
            let scope = config.cloud.arm_scope();
            match renew_in_popup(&graph, &w.get_value(), None, &[scope.as_str()]).await {
                Ok(()) => list(),
                Err(e) => error.set(Some(e)),
            }
        });
    };
    let account = move || {
        let id = chosen.get()?;
        accounts.with(|all| all.iter().find(|(_, a)| a.id == id).map(|(_, a)| a.clone()))
    };
    let connect = move || match target.get_value() {
        For::Identity { .. } => Connect::SystemIdentity,
        For::Certificate { app_id, .. } => Connect::Certificate { app_id },
    };
    let choices = move || {
        let account = account()?;
        let thumbprint = target.with_value(|t| match t {
            For::Certificate { thumbprint, .. } => Some(thumbprint.clone()),
            For::Identity { .. } => None,
        });
        Some(AzureChoices {
            connect: connect(),
            account,
            runtime: runtime.get(),
            upload_thumbprint: thumbprint.filter(|_| upload.get()),
        })
    };
    let script = move |c: &AzureChoices| {
        let organization = tenant.with_value(|t| t.initial_domain.clone());
        azure::runbook(&c.connect, &organization, cloud())
    };
    // What the account holds, read again whenever the choice changes.
    let state = LocalResource::new(move || {
        let c = choices();
        let client = arm.get_value();
        async move {
            match (c, client) {
                (Some(c), Some(client)) => Some(
                    executor::read_state(
                        &client,
                        &c.account.id,
                        c.runtime,
                        c.upload_thumbprint.is_some(),
                    )
                    .await
                    .map_err(|e| azure_denied(&e, &c.account.id)),
                ),
                _ => None,
            }
        }
    });
    let plan = move || -> Option<Plan> {
        let c = choices()?;
        let read = match state.get().flatten() {
            Some(Ok(s)) => s,
            Some(Err(_)) => AzureState::default(),
            None => return None,
        };
        Some(Plan {
            steps: steps(&c, &read, &script(&c)),
            kept: vec![],
            blockers: vec![],
            warnings: vec![],
            permissions: vec![],
            roles: vec![],
        })
    };

    let apply = move |_| {
        let (Some(c), Some(arm)) = (choices(), arm.get_value()) else {
            return;
        };
        let typed = password.get_untracked();
        if c.upload_thumbprint.is_some() && typed.is_empty() {
            error.set(Some(
                "Type the PFX's password: Automation needs it to store the certificate.".into(),
            ));
            return;
        }
        if c.upload_thumbprint.is_some()
            && config().is_none_or(|c| c.arm_base_url.scheme() != "https")
        {
            error.set(Some("The certificate is uploaded only over HTTPS: this page's Azure Resource Manager address is not HTTPS, so nothing was sent.".into()));
            return;
        }
        running.set(true);
        error.set(None);
        let script = script(&c);
        let progress = move |kind: StepKind, s: StepStatus| {
            waiting.set(None);
            status.update(|m| {
                m.insert(kind, s);
            });
        };
        let graph = graph.get_value();
        let tenant = tenant.get_value();
        let target = target.get_value();
        leptos::task::spawn_local(async move {
            let result = run(RunArgs {
                arm: &arm,
                graph: &graph,
                tenant: &tenant,
                choices: &c,
                target: &target,
                script: &script,
                password: &typed,
                run_state,
                progress: &progress,
                note: &move |s| waiting.set(Some(s)),
            })
            .await;
            running.set(false);
            waiting.set(None);
            match result {
                Ok(()) => applied.set(true),
                Err((kind, message)) => {
                    progress(kind, StepStatus::Failed(message.clone()));
                    error.set(Some(message));
                }
            }
            state.refetch();
        });
    };
    let start_test = move |_| {
        let (Some(c), Some(arm)) = (choices(), arm.get_value()) else {
            return;
        };
        testing.set(true);
        test.set(None);
        let id = job.get_value();
        leptos::task::spawn_local(async move {
            let outcome = executor::test_run(&arm, &c.account.id, &id, &move |s| {
                waiting.set(Some(format!("The job is {s}…")))
            })
            .await
            .map_err(|e| azure_denied(&e, &c.account.id));
            waiting.set(None);
            testing.set(false);
            // The next test run is a new job.
            job.set_value(new_job_id());
            test.set(Some(outcome));
        });
    };

    let id = move |x: &str| format!("{prefix}{x}");
    // The plan view's ids: one prefix per card (the identity path's, the certificate's).
    let plan_prefix: &'static str = if prefix.is_empty() { "aa-" } else { "cert-aa-" };
    view! {
        <section class="card" id=id("aa")>
            <h2>"Azure Automation (optional)"</h2>
            <p>{if certificate {
                "Run this app's certificate in an Azure Automation runbook: the page imports ExchangeOnlineManagement, creates and publishes a runbook that connects with the certificate asset, and can start it once so you see it connect."
            } else {
                "Set up the Automation account itself: turn on its system-assigned identity if it is off, grant the identity below, import ExchangeOnlineManagement, create and publish a runbook that connects with the identity, and start it once so you see it connect."
            }}</p>
            <p class="hint">{format!(
                "Uses your own Azure rights ({} or Owner on the account); Azure access is asked for only when you press Find.",
                azure::AUTOMATION_CONTRIBUTOR
            )}</p>
            <button id=id("aa-find") on:click=move |_| list() disabled=move || stage.get() == Stage::Busy>"Find my Automation accounts"</button>
            {move || (stage.get() == Stage::NeedsConsent).then(|| view! {
                <p class="status warning" role="status">"Microsoft Entra wants your consent before the page may use Azure Resource Manager for you."</p>
                <button id=id("aa-consent") class="primary" on:click=consent>"Allow Azure access"</button>
            })}
            <p id=id("aa-waiting") class="status" role="status">{move || waiting.get()}</p>
            <p id=id("aa-error") class="status error" role="alert">{move || error.get()}</p>
            <ul id=id("aa-accounts") class="results">
                {move || accounts.get().into_iter().map(|(subscription, a)| {
                    let value = a.id.clone();
                    let selected = a.id.clone();
                    let identity = match a.system_identity() {
                        Some(_) => "system-assigned identity on",
                        None => "system-assigned identity off",
                    };
                    view! {
                        <li>
                            <label class="choice">
                                <input type="radio" name=id("aa-account") value=value.clone()
                                    prop:checked=move || chosen.get().as_deref() == Some(selected.as_str())
                                    on:change=move |_| chosen.set(Some(value.clone())) />
                                <span><strong>{a.name.clone()}</strong>{format!(" — {}, {}, {identity}", a.resource_group(), a.location)}
                                    <br /><small>{format!("Subscription {subscription}")}</small></span>
                            </label>
                        </li>
                    }
                }).collect_view()}
            </ul>
            {move || chosen.get().is_some().then(|| view! {
                <label class="field">
                    <span>"Runbook runtime"</span>
                    <select id=id("aa-runtime") on:change=move |ev| runtime.set(if event_target_value(&ev) == "5.1" { Runtime::PowerShell51 } else { Runtime::PowerShell72 })>
                        <option value="7.2" selected=true>"PowerShell 7.2 (recommended)"</option>
                        <option value="5.1">"Windows PowerShell 5.1"</option>
                    </select>
                </label>
                {certificate.then(|| view! {
                    <div class="upload-choice">
                        <label class="choice">
                            <input type="checkbox" id=id("aa-upload") prop:checked=move || upload.get()
                                on:change=move |ev| upload.set(event_target_checked(&ev)) />
                            <span>"Upload the PFX to this Automation account as a certificate asset"</span>
                        </label>
                        <p class="status warning" id=id("aa-upload-why")>
                            "This is the one place the private key leaves your browser: the key goes to your Automation account, encrypted there, and to no one else. It is off unless you tick it; without it, upload the PFX yourself (Automation account → Certificates → Add a certificate, name EXO-App)."
                        </p>
                        <input id=id("aa-password") type="password" autocomplete="off" placeholder="The PFX's password" aria-label="The PFX's password"
                            hidden=move || !upload.get() prop:value=move || password.get()
                            on:input=move |ev| password.set(event_target_value(&ev)) />
                    </div>
                })}
                <div id=id("aa-plan")>
                    // An account the admin may not read in full is planned as if empty: the
                    // Entra part still runs, and each Azure step says what it lacks.
                    {move || match state.get().flatten() {
                        Some(Err(e)) => Some(view! { <p class="status error" role="alert" id=id("aa-read-error")>{e}</p> }),
                        _ => None,
                    }}
                    {move || match plan() {
                        Some(p) => view! { <PlanView plan=p prefix=plan_prefix /> }.into_any(),
                        None => view! { <p class="status" role="status">"Reading the account…"</p> }.into_any(),
                    }}
                </div>
                <button id=id("aa-apply") class="primary" on:click=apply disabled=move || running.get() || plan().is_none()>
                    {move || if error.get().is_some() { "Retry" } else { "Apply to Azure" }}
                </button>
                <super::apply::StepList steps=status id=id("aa-steps") />
                {move || applied.get().then(|| view! {
                    <p class="status" role="status" id=id("aa-done")>"The Automation account is set up. Start the runbook once to see it connect:"</p>
                    <button id=id("aa-test") on:click=start_test disabled=move || testing.get()>"Start the runbook once"</button>
                })}
                {move || test.get().map(|t| match t {
                    Ok(run) => view! {
                        <div id=id("aa-test-result") class=if run.completed { "status" } else { "status error" } data-status=run.status.clone()>
                            <p>{format!("Job {}.{}", run.status, run.exception.clone().map(|e| format!(" {e}")).unwrap_or_default())}</p>
                            <pre><code id=id("aa-output")>{run.output.clone()}</code></pre>
                        </div>
                    }.into_any(),
                    Err(e) => view! { <p id=id("aa-test-result") class="status error" role="alert">{e}</p> }.into_any(),
                })}
            })}
        </section>
    }
}

/// A random GUID (version 4) for a job, made by the page so that sending the start twice
/// starts one job.
fn new_job_id() -> String {
    let mut b = [0u8; 16];
    // A failure of the browser's generator leaves zeros: still one job per start.
    let _ = getrandom::fill(&mut b);
    crate::onboard::requests::guid(b, 4)
}

/// Every Automation account in every subscription the admin can see, with the subscription's
/// name.
async fn find_accounts(arm: &Client<Fetch>) -> Result<Vec<(String, Account)>, GraphError> {
    let subscriptions = arm
        .get_all::<Subscription>(&azure::list_subscriptions().path, Retry::Read)
        .await?;
    let mut out = Vec::new();
    for s in subscriptions.items {
        let accounts = arm
            .get_all::<Account>(&azure::list_accounts(&s.subscription_id).path, Retry::Read)
            .await?;
        out.extend(
            accounts
                .items
                .into_iter()
                .map(|a| (s.display_name.clone(), a)),
        );
    }
    Ok(out)
}

struct RunArgs<'a> {
    arm: &'a Client<Fetch>,
    graph: &'a Client<Fetch>,
    tenant: &'a Tenant,
    choices: &'a AzureChoices,
    target: &'a For,
    script: &'a str,
    password: &'a str,
    run_state: StoredValue<onboard::Run, LocalStorage>,
    progress: &'a dyn Fn(StepKind, StepStatus),
    /// Where a long Azure operation stands, in words.
    note: &'a dyn Fn(String),
}

/// The whole run: the identity (and the Graph grant and role for it), the module, the
/// runbook, the certificate asset. Each step reads first, so Retry and a second run repeat
/// nothing.
async fn run(a: RunArgs<'_>) -> Result<(), (StepKind, String)> {
    let account = &a.choices.account;
    let denied = |kind: StepKind| move |e: GraphError| (kind, azure_denied(&e, &account.id));
    if let For::Identity { role } = a.target {
        (a.progress)(StepKind::AzureIdentity, StepStatus::Running);
        let (principal, changed) = executor::turn_identity_on(a.arm, account)
            .await
            .map_err(denied(StepKind::AzureIdentity))?;
        (a.progress)(StepKind::AzureIdentity, StepStatus::Done { changed });
        // The identity's service principal, once the directory shows it.
        let sp = find_principal(a.graph, &principal)
            .await
            .map_err(|e| (StepKind::Grant, e))?;
        let identity = identity::inspect(a.graph, sp)
            .await
            .map_err(|e| (StepKind::Grant, e.to_string()))?;
        let choices = Choices {
            target: Target::Identity(Box::new(identity)),
            access: Access::exchange(&role.get_untracked()),
            validity_days: 0,
        };
        let mut state = a.run_state.get_value();
        let outcome = onboard::executor::apply(
            a.graph,
            a.tenant,
            &choices,
            &Value::Null,
            &mut state,
            a.progress,
        )
        .await;
        a.run_state.set_value(state);
        outcome.map_err(|f| (f.step, f.message))?;
    }
    (a.progress)(StepKind::Module, StepStatus::Running);
    let note = a.note;
    let changed = executor::import(a.arm, &account.id, a.choices.runtime, &move |s| {
        note(format!("Automation is importing {}: {s}…", azure::MODULE));
    })
    .await
    .map_err(denied(StepKind::Module))?;
    (a.progress)(StepKind::Module, StepStatus::Done { changed });
    (a.progress)(StepKind::Runbook, StepStatus::Running);
    let changed = executor::runbook(a.arm, account, a.choices.runtime, a.script)
        .await
        .map_err(denied(StepKind::Runbook))?;
    (a.progress)(StepKind::Runbook, StepStatus::Done { changed });
    if let (Some(thumbprint), For::Certificate { pfx, .. }) =
        (&a.choices.upload_thumbprint, a.target)
    {
        (a.progress)(StepKind::CertificateAsset, StepStatus::Running);
        let changed = executor::certificate(a.arm, &account.id, pfx, a.password, thumbprint)
            .await
            .map_err(denied(StepKind::CertificateAsset))?;
        (a.progress)(StepKind::CertificateAsset, StepStatus::Done { changed });
    }
    Ok(())
}

/// The managed identity's service principal by object id, waiting out replication (an identity
/// just turned on takes a while to reach the directory).
async fn find_principal(
    graph: &Client<Fetch>,
    principal: &str,
) -> Result<crate::graph::models::ServicePrincipal, String> {
    let query = Query::Id(principal.to_ascii_lowercase());
    let mut waited = 0u64;
    loop {
        match identity::find(graph, &query).await {
            Ok((found, _)) if !found.is_empty() => return Ok(found[0].clone()),
            Ok(_) | Err(_) if waited < 120_000 => {
                graph
                    .pause(crate::graph::WaitReason::Replication, 5_000)
                    .await;
                waited += 5_000;
            }
            Ok(_) => {
                return Err(format!(
                    "The identity {principal} is on in Azure but Microsoft Entra does not show it yet: press Retry in a minute."
                ));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}
