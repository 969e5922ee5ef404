//! The promises where the tenant is at its largest and most changeable: every page read (an
//! app beyond the first 999, a role that arrives through a group on a later page, an identity
//! behind 120 look-alikes), a PIM-eligible admin told what to do, a concurrent edit between the
//! plan and the write (a certificate added is kept; one removed stops the run before any write;
//! one removed after the write is put back), and a claims challenge that stops the run in a
//! state the popup can resume.

mod common;

use common::{Http, Sim, key_credential};
use serde_json::{Value, json};
use unattended::graph::{Client, GraphError, HttpRequest, HttpResponse, SignInReason, Transport};
use unattended::onboard::identity::{self, Query};
use unattended::onboard::{self, Choices, Target};
use unattended::wellknown::roles;

fn choices(target: Target) -> Choices {
    Choices {
        target,
        access: unattended::workloads::Access::exchange(roles::EXCHANGE_ADMIN),
        validity_days: 180,
    }
}

fn app_in<'a>(state: &'a Value, name: &str) -> &'a Value {
    state["applications"]
        .as_array()
        .and_then(|apps| apps.iter().find(|a| a["displayName"] == name))
        .expect("app")
}

fn key_ids(app: &Value) -> Vec<String> {
    app["keyCredentials"]
        .as_array()
        .map(|keys| {
            keys.iter()
                .filter_map(|k| k["keyId"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn every_page_is_read_in_a_large_tenant() {
    let sim = Sim::start("big").await;
    // Global Administrator only through a role-assignable group, listed on page 2.
    let client = sim.client("groupadmin").await;
    let tenant = onboard::discover(&client).await.expect("discover");
    assert!(tenant.admin_roles_complete);
    assert!(
        tenant.admin_roles.contains(&roles::GLOBAL_ADMIN.to_owned()),
        "{:?}",
        tenant.admin_roles
    );
    assert!(onboard::early_warnings(&tenant).is_empty());
    // The app beyond the first 999, chosen and onboarded.
    assert!(tenant.apps.len() > 2_500 && tenant.apps_complete);
    let ops = tenant
        .apps
        .iter()
        .find(|a| a.display_name == "Ops EXO automation")
        .expect("the app beyond the first 999");
    let existing = onboard::inspect(&client, &ops.id).await.expect("inspect");
    let choice = choices(Target::Existing(Box::new(existing)));
    assert!(onboard::plan(&tenant, &choice).blockers.is_empty());
    let kc = key_credential("ops-2027");
    onboard::executor::apply(
        &client,
        &tenant,
        &choice,
        &kc,
        &mut onboard::Run::default(),
        &|_, _| {},
    )
    .await
    .expect("applied");
    assert_eq!(
        key_ids(app_in(&sim.state().await, "Ops EXO automation")).len(),
        2
    );
    // A new app whose name is taken far down the list is refused before any write.
    let clash = onboard::plan(
        &tenant,
        &choices(Target::New {
            name: "ops exo automation".into(),
            unique_name: "unattended-clash".into(),
        }),
    );
    assert!(matches!(clash.blockers[0], onboard::Blocker::Name(_)));
    // The identity, behind 120 service principals that share its name's prefix.
    let (found, _) = identity::find(&client, &Query::parse("contoso-automation").expect("q"))
        .await
        .expect("found");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, sim::fixtures::MI_OBJECT_ID);
}

#[tokio::test]
async fn a_pim_eligible_admin_is_told_to_activate_the_role() {
    let sim = Sim::start("big").await;
    let client = sim.client("eligible").await;
    let tenant = onboard::discover(&client).await.expect("discover");
    assert!(tenant.admin_roles.is_empty());
    assert_eq!(tenant.admin_eligible_roles, [roles::GLOBAL_ADMIN]);
    let warnings = onboard::early_warnings(&tenant).join(" ");
    assert!(
        warnings.contains("eligible for Global Administrator in Privileged Identity Management")
            && warnings.contains("sign in again"),
        "{warnings}"
    );
}

/// Meddles with the app between the executor's steps, as another admin in the portal would.
#[derive(Clone)]
struct Meddler {
    inner: Http,
    /// Graph base, to meddle with.
    graph: String,
    admin_token: String,
    /// Remove the first certificate right after the product's first PATCH of the app.
    after_patch: std::rc::Rc<std::cell::Cell<bool>>,
}

impl Transport for Meddler {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, String> {
        let patched = request.method == "PATCH" && request.url.contains("/applications/");
        let answer = self.inner.send(request.clone()).await;
        if patched && self.after_patch.replace(false) {
            let id = request
                .url
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            let app: Value = self
                .inner
                .http
                .get(format!(
                    "{}/applications/{id}?$select=keyCredentials",
                    self.graph
                ))
                .bearer_auth(&self.admin_token)
                .send()
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            let mut keys = app["keyCredentials"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            keys.remove(0);
            self.inner
                .http
                .patch(format!("{}/applications/{id}", self.graph))
                .bearer_auth(&self.admin_token)
                .json(&json!({ "keyCredentials": keys }))
                .send()
                .await
                .map_err(|e| e.to_string())?;
        }
        answer
    }

    async fn sleep(&self, ms: u64) {
        self.inner.sleep(ms).await;
    }
}

async fn legacy(client: &Client<impl Transport>) -> (onboard::Tenant, Choices) {
    let tenant = onboard::discover(client).await.expect("discover");
    let id = tenant
        .apps
        .iter()
        .find(|a| a.display_name == "Legacy EXO automation")
        .expect("legacy")
        .id
        .clone();
    let existing = onboard::inspect(client, &id).await.expect("inspect");
    (tenant, choices(Target::Existing(Box::new(existing))))
}

#[tokio::test]
async fn a_concurrent_edit_never_costs_a_certificate() {
    // Added between the plan and the apply: kept.
    let sim = Sim::start("existing-app").await;
    let client = sim.client("admin").await;
    let (tenant, choice) = legacy(&client).await;
    let id = app_in(&sim.state().await, "Legacy EXO automation")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let full: Value = client
        .get(&format!("/applications/{id}?$select=keyCredentials"))
        .await
        .expect("read");
    let mut keys = full["keyCredentials"].as_array().cloned().expect("keys");
    let concurrent = key_credential("added-in-the-portal");
    keys.push(concurrent.clone());
    client
        .patch(
            &format!("/applications/{id}"),
            &json!({ "keyCredentials": keys }),
        )
        .await
        .expect("portal edit");
    let kc = key_credential("ours");
    onboard::executor::apply(
        &client,
        &tenant,
        &choice,
        &kc,
        &mut onboard::Run::default(),
        &|_, _| {},
    )
    .await
    .expect("applied");
    let after = app_in(&sim.state().await, "Legacy EXO automation").clone();
    let held: Vec<&Value> = after["keyCredentials"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| &k["key"])
        .collect();
    assert_eq!(held.len(), 4, "two old, the portal's, ours");
    assert!(held.contains(&&concurrent["key"]) && held.contains(&&kc["key"]));

    // Removed between the plan and the apply: the run stops before any write and says which.
    let sim = Sim::start("existing-app").await;
    let client = sim.client("admin").await;
    let (tenant, choice) = legacy(&client).await;
    let before = app_in(&sim.state().await, "Legacy EXO automation").clone();
    let mut keys = before["keyCredentials"].as_array().cloned().expect("keys");
    let gone = keys.remove(1);
    let id = before["id"].as_str().expect("id").to_owned();
    client
        .patch(
            &format!("/applications/{id}"),
            &json!({ "keyCredentials": keys }),
        )
        .await
        .expect("portal removal");
    let stopped = onboard::executor::apply(
        &client,
        &tenant,
        &choice,
        &key_credential("ours"),
        &mut onboard::Run::default(),
        &|_, _| {},
    )
    .await
    .expect_err("stops");
    assert!(
        matches!(stopped.error, GraphError::Drifted(_)),
        "{stopped:?}"
    );
    assert!(
        stopped
            .message
            .contains(gone["keyId"].as_str().expect("key id"))
            && stopped.message.contains("Nothing was written"),
        "{}",
        stopped.message
    );
    assert_eq!(
        key_ids(app_in(&sim.state().await, "Legacy EXO automation")).len(),
        1,
        "nothing written"
    );

    // Removed right after the product's PATCH: the read-back sees it and puts it back.
    let sim = Sim::start("existing-app").await;
    let token = sim.post("/_sim/token", json!({"user": "admin"})).await["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let meddler = Meddler {
        inner: sim.transport(),
        graph: format!("{}/v1.0", sim.base),
        admin_token: token.clone(),
        after_patch: std::rc::Rc::new(std::cell::Cell::new(true)),
    };
    let client = Client::new(
        meddler,
        &format!("{}/v1.0", sim.base),
        unattended::graph::Session {
            access_token: unattended::graph::Secret::new(token),
            refresh_token: None,
            token_url: String::new(),
            client_id: String::new(),
            scope: String::new(),
        },
        unattended::graph::Policy::default(),
    );
    let (tenant, choice) = legacy(&client).await;
    let before = key_ids(app_in(&sim.state().await, "Legacy EXO automation"));
    let kc = key_credential("ours");
    onboard::executor::apply(
        &client,
        &tenant,
        &choice,
        &kc,
        &mut onboard::Run::default(),
        &|_, _| {},
    )
    .await
    .expect("applied");
    let after = key_ids(app_in(&sim.state().await, "Legacy EXO automation"));
    for k in &before {
        assert!(after.contains(k), "{k} put back: {after:?}");
    }
    assert_eq!(after.len(), 3);
}

#[tokio::test]
async fn a_claims_challenge_mid_run_stops_for_the_popup_with_the_claims() {
    let sim = Sim::start("default").await;
    let client = sim.client("admin").await;
    let tenant = onboard::discover(&client).await.expect("discover");
    // Revocation compares whole seconds of `iat`: the challenge comes a second after sign-in.
    sim.post("/_sim/clock", json!({"advanceMs": 1500})).await;
    sim.faults(json!({"claimsChallenge": {"pathContains": "/roleManagement/directory/roleAssignments", "nth": 1}}))
        .await;
    let choice = choices(Target::New {
        name: "Challenged".into(),
        unique_name: "unattended-challenged".into(),
    });
    let mut run = onboard::Run::default();
    let stopped = onboard::executor::apply(
        &client,
        &tenant,
        &choice,
        &key_credential("c"),
        &mut run,
        &|_, _| {},
    )
    .await
    .expect_err("challenged");
    let GraphError::SignInRequired(why) = &stopped.error else {
        panic!("{stopped:?}")
    };
    assert_eq!(why.reason, SignInReason::ClaimsChallenge);
    let claims: Value = serde_json::from_str(why.claims.as_deref().expect("claims")).expect("json");
    assert!(
        claims["access_token"]["nbf"]["essential"] == true,
        "{claims}"
    );
    assert!(
        stopped.message.contains("Sign in again"),
        "{}",
        stopped.message
    );
    // What was done before the challenge is kept for the resumed run.
    assert!(run.app.is_some() && run.service_principal.is_some());
}
