//! The product's Graph client, discovery, plan and executor against the simulated tenant over
//! real HTTP: new app, existing app with two certificates, second run, resume after a failure,
//! and the faults (throttling, outages, replication lag, dropped connections, token expiry).

mod common;

use common::{Sim, key_credential};
use serde_json::{Value, json};
use unattended::graph::{Client, Policy, Secret, Session};
use unattended::onboard::{self, Choices, StepKind, Target};
use unattended::wellknown::{MANAGE_AS_APP, roles};

fn choices(target: Target) -> Choices {
    Choices {
        target,
        access: unattended::workloads::Access::exchange(roles::EXCHANGE_ADMIN),
        validity_days: 180,
    }
}

fn no_progress() -> impl Fn(StepKind, onboard::StepStatus) {
    |_, _| {}
}

/// Checks the tenant holds exactly one app named `name` with the certificate, one service
/// principal, one grant, one role assignment.
fn assert_onboarded(state: &Value, name: &str, key: &str) -> String {
    let apps: Vec<&Value> = state["applications"]
        .as_array()
        .expect("apps")
        .iter()
        .filter(|a| a["displayName"] == name)
        .collect();
    assert_eq!(apps.len(), 1, "exactly one app named {name}");
    let app = apps[0];
    assert_eq!(app["signInAudience"], "AzureADMyOrg");
    assert!(
        app["keyCredentials"]
            .as_array()
            .expect("keys")
            .iter()
            .any(|k| k["key"] == key)
    );
    let sps: Vec<&Value> = state["servicePrincipals"]
        .as_array()
        .expect("sps")
        .iter()
        .filter(|s| s["appId"] == app["appId"])
        .collect();
    assert_eq!(sps.len(), 1, "one service principal");
    let sp = sps[0]["id"].as_str().expect("sp id").to_owned();
    let grants = state["appRoleAssignments"]
        .as_array()
        .expect("grants")
        .iter()
        .filter(|g| g["principalId"] == sp.as_str() && g["appRoleId"] == MANAGE_AS_APP)
        .count();
    assert_eq!(grants, 1, "one grant");
    let roles_held = state["roleAssignments"]
        .as_array()
        .expect("roles")
        .iter()
        .filter(|r| r["principalId"] == sp.as_str())
        .count();
    assert_eq!(roles_held, 1, "one role assignment");
    sp
}

#[tokio::test]
async fn a_new_app_is_onboarded_in_six_round_trips_and_a_second_run_changes_nothing() {
    let sim = Sim::start("default").await;
    let client = sim.client("admin").await;
    let tenant = onboard::discover(&client).await.expect("discover");
    assert_eq!(tenant.initial_domain, "contoso.onmicrosoft.com");
    assert_eq!(tenant.admin_roles, [roles::GLOBAL_ADMIN]);
    assert!(tenant.exchange().is_some() && tenant.policy_known);
    let choice = choices(Target::New {
        name: "EXO automation".into(),
        unique_name: "unattended-test-exo".into(),
    });
    let plan = onboard::plan(&tenant, &choice);
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    let kc = key_credential("exo-automation");
    let mut run = onboard::Run::default();
    let applied =
        onboard::executor::apply(&client, &tenant, &choice, &kc, &mut run, &no_progress())
            .await
            .expect("apply");
    assert!(applied.grant_verified && applied.role_verified);
    // discovery batch + app + service principal + (grant ‖ role) = 4 sequential, 5 requests,
    // + verification batch = 6 requests.
    assert_eq!(client.round_trips(), 6);
    let state = sim.state().await;
    assert_onboarded(&state, "EXO automation", kc["key"].as_str().expect("key"));

    // Second run, choosing the app it made: nothing is written.
    let tenant = onboard::discover(&client).await.expect("discover");
    let app = tenant
        .apps
        .iter()
        .find(|a| a.display_name == "EXO automation")
        .expect("listed")
        .id
        .clone();
    let existing = onboard::inspect(&client, &app).await.expect("inspect");
    assert!(
        existing.granted(&tenant) && existing.roles.contains(&roles::EXCHANGE_ADMIN.to_owned())
    );
    let again = choices(Target::Existing(Box::new(existing)));
    let steps = std::cell::RefCell::new(Vec::new());
    let record = |kind, status| steps.borrow_mut().push((kind, status));
    onboard::executor::apply(
        &client,
        &tenant,
        &again,
        &kc,
        &mut onboard::Run::default(),
        &record,
    )
    .await
    .expect("re-run");
    assert!(
        steps
            .borrow()
            .iter()
            .all(|(_, s)| !matches!(s, onboard::StepStatus::Done { changed: true })),
        "{:?}",
        steps.borrow()
    );
    assert_eq!(sim.state().await["applications"], state["applications"]);
    assert_onboarded(
        &sim.state().await,
        "EXO automation",
        kc["key"].as_str().expect("key"),
    );
}

#[tokio::test]
async fn an_existing_app_keeps_its_certificates_and_permissions() {
    let sim = Sim::start("existing-app").await;
    let client = sim.client("admin").await;
    let tenant = onboard::discover(&client).await.expect("discover");
    let before = sim.state().await;
    let legacy = before["applications"]
        .as_array()
        .expect("apps")
        .iter()
        .find(|a| a["displayName"] == "Legacy EXO automation")
        .expect("legacy")
        .clone();
    let existing = onboard::inspect(&client, legacy["id"].as_str().expect("id"))
        .await
        .expect("inspect");
    assert_eq!(existing.app.key_credentials.len(), 2);
    let choice = choices(Target::Existing(Box::new(existing)));
    let kc = key_credential("legacy-2027");
    onboard::executor::apply(
        &client,
        &tenant,
        &choice,
        &kc,
        &mut onboard::Run::default(),
        &no_progress(),
    )
    .await
    .expect("apply");
    let after = sim.state().await;
    let app = after["applications"]
        .as_array()
        .expect("apps")
        .iter()
        .find(|a| a["id"] == legacy["id"])
        .expect("app");
    let keys = app["keyCredentials"].as_array().expect("keys");
    assert_eq!(keys.len(), 3);
    for old in legacy["keyCredentials"].as_array().expect("old keys") {
        assert!(keys.contains(old), "kept verbatim: {old}");
    }
    let rra = app["requiredResourceAccess"].as_array().expect("rra");
    for old in legacy["requiredResourceAccess"]
        .as_array()
        .expect("old rra")
    {
        assert!(rra.contains(old), "kept: {old}");
    }
    assert!(unattended::graph::models::declares_manage_as_app(rra));
    assert_onboarded(
        &after,
        "Legacy EXO automation",
        kc["key"].as_str().expect("key"),
    );
}

#[tokio::test]
async fn faults_end_in_success_without_duplicates() {
    let sim = Sim::start("default").await;
    let client = sim.client("admin").await;
    let tenant = onboard::discover(&client).await.expect("discover");
    sim.faults(json!({"throttleEvery": 3, "unavailableEvery": 5, "retryAfterSecs": 0.2, "replicationLagSecs": 2, "dropEvery": 4})).await;
    let choice = choices(Target::New {
        name: "Faulty".into(),
        unique_name: "unattended-test-faulty".into(),
    });
    let kc = key_credential("faulty");
    let mut run = onboard::Run::default();
    let mut result =
        onboard::executor::apply(&client, &tenant, &choice, &kc, &mut run, &no_progress()).await;
    // A retryable stop is acceptable; pressing Retry must finish the job.
    for _ in 0..3 {
        match &result {
            Ok(_) => break,
            Err(f) => {
                assert!(f.error.is_transient(), "{f:?}");
                result = onboard::executor::apply(
                    &client,
                    &tenant,
                    &choice,
                    &kc,
                    &mut run,
                    &no_progress(),
                )
                .await;
            }
        }
    }
    result.expect("finished");
    sim.faults(json!({})).await;
    assert_onboarded(
        &sim.state().await,
        "Faulty",
        kc["key"].as_str().expect("key"),
    );
}

#[tokio::test]
async fn a_failure_mid_apply_resumes_without_duplicates() {
    let sim = Sim::start("default").await;
    let client = sim.client("admin").await;
    let tenant = onboard::discover(&client).await.expect("discover");
    let choice = choices(Target::New {
        name: "Resumed".into(),
        unique_name: "unattended-test-resumed".into(),
    });
    let kc = key_credential("resumed");
    // Replication that outlasts the budget: the service principal step stops, retryably.
    sim.faults(json!({"replicationLagSecs": 120})).await;
    let short = Client::new(
        sim.transport(),
        &format!("{}/v1.0", sim.base),
        Session {
            access_token: Secret::new(
                sim.post("/_sim/token", json!({"user": "admin"})).await["access_token"]
                    .as_str()
                    .expect("token"),
            ),
            refresh_token: None,
            token_url: String::new(),
            client_id: String::new(),
            scope: String::new(),
        },
        Policy {
            first_ms: 100,
            cap_ms: 200,
            budget_ms: 600,
        },
    );
    let mut run = onboard::Run::default();
    let stopped = onboard::executor::apply(&short, &tenant, &choice, &kc, &mut run, &no_progress())
        .await
        .expect_err("stops");
    assert_eq!(stopped.step, StepKind::ServicePrincipal);
    assert!(
        stopped.message.contains("replicating"),
        "{}",
        stopped.message
    );
    sim.faults(json!({})).await;
    onboard::executor::apply(&client, &tenant, &choice, &kc, &mut run, &no_progress())
        .await
        .expect("resumed");
    assert_onboarded(
        &sim.state().await,
        "Resumed",
        kc["key"].as_str().expect("key"),
    );
}

#[tokio::test]
async fn an_expired_token_stops_in_a_retryable_state_and_denials_name_the_role() {
    let sim = Sim::start("default").await;
    let client = sim.client("admin").await;
    let tenant = onboard::discover(&client).await.expect("discover");
    let expired = sim
        .post("/_sim/token", json!({"user": "admin", "lifetimeSecs": -1}))
        .await;
    let stale = Client::new(
        sim.transport(),
        &format!("{}/v1.0", sim.base),
        Session {
            access_token: Secret::new(expired["access_token"].as_str().expect("t")),
            refresh_token: None,
            token_url: String::new(),
            client_id: String::new(),
            scope: String::new(),
        },
        Policy::default(),
    );
    let choice = choices(Target::New {
        name: "Later".into(),
        unique_name: "unattended-test-later".into(),
    });
    let kc = key_credential("later");
    let mut run = onboard::Run::default();
    let stopped = onboard::executor::apply(&stale, &tenant, &choice, &kc, &mut run, &no_progress())
        .await
        .expect_err("expired");
    assert!(
        stopped.message.contains("Sign in again"),
        "{}",
        stopped.message
    );
    onboard::executor::apply(&client, &tenant, &choice, &kc, &mut run, &no_progress())
        .await
        .expect("after signing in again");

    // The Cloud Application Administrator gets everything but the role, with a clear message.
    let cloud = sim.client("appadmin").await;
    let tenant = onboard::discover(&cloud).await.expect("discover");
    let choice = choices(Target::New {
        name: "Half".into(),
        unique_name: "unattended-test-half".into(),
    });
    let stopped = onboard::executor::apply(
        &cloud,
        &tenant,
        &choice,
        &key_credential("half"),
        &mut onboard::Run::default(),
        &no_progress(),
    )
    .await
    .expect_err("no role");
    assert_eq!(stopped.step, StepKind::Role);
    assert!(
        stopped.message.contains("Privileged Role Administrator"),
        "{}",
        stopped.message
    );
}

async fn mi_token(sim: &Sim, query: &str) -> Value {
    let r = sim
        .http
        .get(format!("{}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://outlook.office365.com/{query}", sim.base))
        .header("Metadata", "true")
        .send()
        .await
        .expect("imds");
    let body: Value = r.json().await.expect("json");
    let payload = body["access_token"]
        .as_str()
        .expect("token")
        .split('.')
        .nth(1)
        .expect("jwt")
        .to_owned();
    use base64::Engine;
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("b64"),
    )
    .expect("claims")
}

#[tokio::test]
async fn managed_identities_are_found_by_name_resource_id_or_object_id_and_granted() {
    use unattended::onboard::identity::{self, LookupError, Query};
    let sim = Sim::start("default").await;
    let client = sim.client("pra").await;
    let tenant = onboard::discover(&client).await.expect("discover");

    let (by_name, _) = identity::find(&client, &Query::parse("contoso").expect("q"))
        .await
        .expect("by name");
    assert_eq!(by_name.len(), 1);
    assert_eq!(by_name[0].id, sim::fixtures::MI_OBJECT_ID);
    let resource = "/subscriptions/0a1b2c3d-0000-4000-8000-000000000001/resourcegroups/ops/providers/Microsoft.Automation/automationAccounts/contoso-automation";
    let (by_resource, _) = identity::find(&client, &Query::parse(resource).expect("q"))
        .await
        .expect("by resource id");
    assert_eq!(by_resource[0].id, sim::fixtures::MI_OBJECT_ID);
    let (by_client, note) = identity::find(
        &client,
        &Query::parse(sim::fixtures::MI_CLIENT_ID).expect("q"),
    )
    .await
    .expect("by client id");
    assert_eq!(
        by_client[0].id,
        sim::fixtures::MI_OBJECT_ID,
        "the object id is what is used"
    );
    assert!(matches!(note, Some(LookupError::ClientIdGiven { .. })));
    let missing = identity::find(
        &client,
        &Query::parse("11111111-2222-4333-8444-555555555555").expect("q"),
    )
    .await;
    assert!(matches!(missing, Err(LookupError::NotFound(_))));
    let spa_sp = tenant
        .apps
        .iter()
        .find(|a| a.app_id == sim::fixtures::SPA_CLIENT_ID)
        .map(|a| a.app_id.clone())
        .expect("spa");
    let not_mi = identity::find(&client, &Query::parse(&spa_sp).expect("q")).await;
    assert!(
        matches!(not_mi, Err(LookupError::NotManagedIdentity { .. })),
        "{not_mi:?}"
    );

    // A Privileged Role Administrator alone grants a system-assigned identity.
    let before = mi_token(&sim, "").await;
    assert!(before.get("roles").is_none());
    let found = identity::inspect(&client, by_name[0].clone())
        .await
        .expect("inspect");
    let choice = choices(Target::Identity(Box::new(found)));
    assert!(onboard::plan(&tenant, &choice).blockers.is_empty());
    let applied = onboard::executor::apply(
        &client,
        &tenant,
        &choice,
        &Value::Null,
        &mut onboard::Run::default(),
        &no_progress(),
    )
    .await
    .expect("granted");
    assert_eq!(applied.service_principal_id, sim::fixtures::MI_OBJECT_ID);
    assert!(applied.grant_verified && applied.role_verified);
    let after = mi_token(&sim, "").await;
    assert_eq!(after["roles"], json!(["Exchange.ManageAsApp"]));
    assert_eq!(after["wids"], json!([roles::EXCHANGE_ADMIN]));

    // A second run changes nothing.
    let again = identity::inspect(&client, by_name[0].clone())
        .await
        .expect("inspect");
    assert!(again.granted(&tenant));
    let state = sim.state().await;
    let steps = std::cell::RefCell::new(Vec::new());
    let record = |kind, status| steps.borrow_mut().push((kind, status));
    onboard::executor::apply(
        &client,
        &tenant,
        &choices(Target::Identity(Box::new(again))),
        &Value::Null,
        &mut onboard::Run::default(),
        &record,
    )
    .await
    .expect("re-run");
    assert!(
        steps
            .borrow()
            .iter()
            .all(|(_, s)| !matches!(s, onboard::StepStatus::Done { changed: true }))
    );
    assert_eq!(
        sim.state().await["appRoleAssignments"],
        state["appRoleAssignments"]
    );
    assert_eq!(
        sim.state().await["roleAssignments"],
        state["roleAssignments"]
    );
}

#[tokio::test]
async fn a_user_assigned_identity_that_already_has_the_app_role_gets_only_the_role() {
    use unattended::onboard::identity::{self, Query};
    let sim = Sim::start("default").await;
    let admin = sim.client("admin").await;
    let tenant = onboard::discover(&admin).await.expect("discover");
    let exchange = tenant.exchange().expect("exchange").id.clone();
    let granted: Value = admin
        .post(
            &format!("/servicePrincipals/{exchange}/appRoleAssignedTo"),
            &json!({"principalId": sim::fixtures::UAMI_OBJECT_ID, "resourceId": exchange, "appRoleId": MANAGE_AS_APP}),
            unattended::graph::Retry::Write,
        )
        .await
        .expect("pre-grant");
    let (found, _) = identity::find(&admin, &Query::parse("ops-runbooks").expect("q"))
        .await
        .expect("found");
    let identity = identity::inspect(&admin, found[0].clone())
        .await
        .expect("inspect");
    assert!(identity.granted(&tenant) && identity.user_assigned());
    let choice = choices(Target::Identity(Box::new(identity)));
    let plan = onboard::plan(&tenant, &choice);
    assert_eq!(
        plan.steps.iter().map(|s| s.action).collect::<Vec<_>>(),
        [onboard::Action::Keep, onboard::Action::Create]
    );
    onboard::executor::apply(
        &admin,
        &tenant,
        &choice,
        &Value::Null,
        &mut onboard::Run::default(),
        &no_progress(),
    )
    .await
    .expect("role");
    let state = sim.state().await;
    let grants: Vec<&Value> = state["appRoleAssignments"]
        .as_array()
        .expect("grants")
        .iter()
        .filter(|g| g["principalId"] == sim::fixtures::UAMI_OBJECT_ID)
        .collect();
    assert_eq!(grants.len(), 1, "kept, not duplicated");
    assert_eq!(grants[0]["id"], granted["id"]);
    let token = mi_token(
        &sim,
        &format!("&client_id={}", sim::fixtures::UAMI_CLIENT_ID),
    )
    .await;
    assert_eq!(token["roles"], json!(["Exchange.ManageAsApp"]));
    assert_eq!(token["wids"], json!([roles::EXCHANGE_ADMIN]));
}

#[tokio::test]
async fn discovery_resends_throttled_inner_requests_until_all_are_answered() {
    let sim = Sim::start("default").await;
    let client = sim.client("admin").await;
    sim.faults(json!({"throttleEvery": 2, "retryAfterSecs": 0.1}))
        .await;
    let tenant = onboard::discover(&client)
        .await
        .expect("discovery despite throttling");
    assert_eq!(tenant.initial_domain, "contoso.onmicrosoft.com");
    assert!(tenant.exchange().is_some() && tenant.policy_known);
    assert!(client.round_trips() > 1, "throttled reads were sent again");
}
