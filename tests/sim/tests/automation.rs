//! The Azure Automation steps against the simulator's Azure Resource Manager at its unkindest:
//! throttling with `Retry-After`, writes whose answers are lost or fail after they happened,
//! a module import that fails; every step ends in the same account as a fault-free run, and a
//! second run writes nothing.

mod common;

use common::Sim;
use serde_json::{Value, json};
use unattended::azure::executor;
use unattended::azure::{self, Account, Connect, Runtime};
use unattended::cloud::Cloud;
use unattended::graph::{Client, GraphError, Policy, Retry, Secret, Session};

async fn arm(sim: &Sim, user: &str) -> Client<common::Http> {
    let token = sim.post("/_sim/arm/token", json!({ "user": user })).await;
    let session = Session {
        access_token: Secret::new(token["access_token"].as_str().expect("ARM token")),
        refresh_token: None,
        token_url: format!("{}/organizations/oauth2/v2.0/token", sim.base),
        client_id: sim::fixtures::SPA_CLIENT_ID.into(),
        scope: Cloud::Worldwide.arm_scope(),
    };
    Client::new(
        sim.transport(),
        &format!("{}/arm", sim.base),
        session,
        Policy::default(),
    )
}

async fn account(arm: &Client<common::Http>, name: &str) -> Account {
    let subscriptions = arm
        .get_all::<azure::Subscription>(&azure::list_subscriptions().path, Retry::Read)
        .await
        .expect("subscriptions");
    for s in subscriptions.items {
        let accounts = arm
            .get_all::<Account>(&azure::list_accounts(&s.subscription_id).path, Retry::Read)
            .await
            .expect("accounts");
        if let Some(a) = accounts.items.into_iter().find(|a| a.name == name) {
            return a;
        }
    }
    panic!("no account {name}");
}

/// The account as the tests compare it: identity on, modules, published runbooks.
fn shape(state: &Value, name: &str) -> Value {
    let a = state["arm"]["accounts"]
        .as_array()
        .and_then(|l| l.iter().find(|a| a["name"] == name))
        .cloned()
        .unwrap_or_default();
    json!({
        "identity": a["identity"]["type"],
        "modules": a["modules"].as_array().map(|m| m.iter().map(|m| json!([m["name"], m["runtime"], m["version"], m["provisioningState"]])).collect::<Vec<_>>()),
        "runbooks": a["runbooks"].as_array().map(|r| r.iter().map(|r| json!([r["name"], r["runbookType"], r["state"], r["published"]])).collect::<Vec<_>>()),
    })
}

/// Identity, module, runbook: `(changed, changed, changed)`.
async fn run(arm: &Client<common::Http>, name: &str) -> Result<(bool, bool, bool), GraphError> {
    let a = account(arm, name).await;
    let (_, identity) = executor::turn_identity_on(arm, &a).await?;
    let module = executor::import(arm, &a.id, Runtime::PowerShell72, &|_| {}).await?;
    let script = azure::runbook(
        &Connect::SystemIdentity,
        "contoso.onmicrosoft.com",
        Cloud::Worldwide,
    );
    let runbook = executor::runbook(arm, &a, Runtime::PowerShell72, &script).await?;
    Ok((identity, module, runbook))
}

#[tokio::test]
async fn every_write_fault_and_throttling_end_in_the_fault_free_account_and_a_rerun_writes_nothing()
{
    let clean = Sim::start("default").await;
    let client = arm(&clean, "admin").await;
    assert_eq!(
        run(&client, "contoso-reports").await.expect("run"),
        (true, true, true)
    );
    let expected = shape(&clean.state().await, "contoso-reports");
    assert_eq!(expected["identity"], "SystemAssigned");
    assert_eq!(
        run(&client, "contoso-reports").await.expect("again"),
        (false, false, false),
        "a second run writes nothing"
    );

    let writes = [
        ("PATCH", "/automationAccounts/contoso-reports?"),
        ("PUT", "/powerShell72Modules/"),
        ("PUT", "/runbooks/Connect-ExchangeOnline-Unattended?"),
        ("PUT", "/draft/content"),
        ("POST", "/publish"),
    ];
    let mut checked = 0;
    for (method, path) in writes {
        for kind in ["lost", "500", "504", "429", "503"] {
            let faulty = Sim::start("default").await;
            let client = arm(&faulty, "admin").await;
            faulty
                .faults(json!({
                    "armWriteFaults": [{"method": method, "pathContains": path, "nth": 1, "kind": kind}],
                    "armThrottleEvery": 4, "armRetryAfterSecs": 2,
                }))
                .await;
            let outcome = run(&client, "contoso-reports").await;
            // A 5xx after a write the client may not repeat blindly is handed back; Retry
            // (the same run again) then finds what was done.
            if let Err(e) = &outcome {
                assert!(e.is_transient(), "{method} {path} {kind}: {e:?}");
                run(&client, "contoso-reports")
                    .await
                    .unwrap_or_else(|e| panic!("{method} {path} {kind}, Retry: {e:?}"));
            }
            let fired = faulty.get("/_sim/faults").await;
            assert!(
                fired.to_string().contains("\"fired\":true"),
                "{method} {path} {kind}: the fault never hit: {fired}"
            );
            assert_eq!(
                shape(&faulty.state().await, "contoso-reports"),
                expected,
                "{method} {path} {kind}"
            );
            checked += 1;
        }
    }
    eprintln!("ARM fault matrix: {checked} runs, each ending in the fault-free account");
}

#[tokio::test]
async fn a_failed_import_says_why_and_retry_imports_again() {
    let sim = Sim::start("default").await;
    let client = arm(&sim, "admin").await;
    sim.faults(
        json!({"armModuleFailure": "Cannot import the module: the module structure was invalid."}),
    )
    .await;
    match run(&client, "contoso-reports").await {
        Err(GraphError::Rejected { code, message, .. }) => {
            assert_eq!(code, "ModuleImportFailed");
            assert!(
                message.contains("module structure was invalid"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    sim.faults(json!({})).await;
    let (_, module, runbook) = run(&client, "contoso-reports").await.expect("retry");
    assert!(module && runbook);
}

#[tokio::test]
async fn without_the_azure_role_the_write_is_refused_naming_action_and_scope() {
    let sim = Sim::start("default").await;
    let reader = arm(&sim, "gaonly").await;
    match run(&reader, "contoso-automation").await {
        Err(GraphError::Denied(message)) => {
            assert!(
                message.contains("does not have authorization to perform action"),
                "{message}"
            );
            assert!(
                message.contains("/automationAccounts/contoso-automation"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}
