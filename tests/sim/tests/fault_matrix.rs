//! The promises as properties: for every write of a new-app, an existing-app and a
//! managed-identity run, and for every way Graph fails a write (the answer lost, 500/502/504
//! after the write happened, 429 and 503 before it), plus replication lag on lists and stale
//! reads after a PATCH, the run completes (or stops retryably and completes on Retry) and the
//! tenant ends exactly as after the fault-free run: the same objects, certificates,
//! permissions, grants and roles, nothing extra and nothing lost.
//!
//! Each case runs against its own simulated tenant in this process; waits advance the
//! simulator's clock, so the whole matrix takes seconds.

mod common;

use common::{Sim, key_credential, shape};
use serde_json::{Value, json};
use unattended::onboard::identity::{self, Query};
use unattended::onboard::{self, Choices, Target};
use unattended::wellknown::roles;
use unattended::workloads::{Access, Workload};

#[derive(Debug, Clone, Copy)]
enum Scenario {
    NewApp,
    ExistingApp,
    Identity,
    /// The existing app given every workload: permissions of three APIs merged into its
    /// declarations, five grants and three roles made at once.
    EveryWorkload,
}

impl Scenario {
    fn fixture(self) -> &'static str {
        match self {
            Self::NewApp | Self::Identity => "default",
            Self::ExistingApp | Self::EveryWorkload => "existing-app",
        }
    }

    fn user(self) -> &'static str {
        match self {
            Self::Identity => "pra",
            _ => "admin",
        }
    }

    /// The writes of the fault-free run, as `(method, part of the path)`.
    fn writes(self) -> &'static [(&'static str, &'static str)] {
        const GRANT: (&str, &str) = ("POST", "/appRoleAssignedTo");
        const ROLE: (&str, &str) = ("POST", "/roleManagement/directory/roleAssignments");
        match self {
            Self::NewApp => &[
                ("PATCH", "/applications(uniqueName="),
                ("PATCH", "/servicePrincipals(appId="),
                GRANT,
                ROLE,
            ],
            Self::ExistingApp | Self::EveryWorkload => {
                &[("PATCH", "/v1.0/applications/"), GRANT, ROLE]
            }
            Self::Identity => &[GRANT, ROLE],
        }
    }
}

const KINDS: [&str; 6] = ["lost", "500", "502", "504", "429", "503"];

/// The choices of a scenario, read from its tenant as the page reads them.
async fn choices(
    scenario: Scenario,
    client: &unattended::graph::Client<common::Http>,
    tenant: &onboard::Tenant,
) -> Choices {
    let target = match scenario {
        Scenario::NewApp => Target::New {
            name: "Matrix automation".into(),
            unique_name: "unattended-matrix".into(),
        },
        Scenario::ExistingApp | Scenario::EveryWorkload => {
            let legacy = tenant
                .apps
                .iter()
                .find(|a| a.display_name == "Legacy EXO automation")
                .expect("legacy app");
            Target::Existing(Box::new(
                onboard::inspect(client, &legacy.id).await.expect("inspect"),
            ))
        }
        Scenario::Identity => {
            let (found, _) =
                identity::find(client, &Query::parse("contoso-automation").expect("query"))
                    .await
                    .expect("identity");
            Target::Identity(Box::new(
                identity::inspect(client, found[0].clone())
                    .await
                    .expect("inspect"),
            ))
        }
    };
    let mut access = Access::exchange(roles::EXCHANGE_ADMIN);
    if matches!(scenario, Scenario::EveryWorkload) {
        for w in Workload::ALL {
            access = access.with(w, true);
        }
        access.graph = vec!["Reports.Read.All".into(), "Mail.Send".into()];
    }
    Choices {
        target,
        access,
        validity_days: 180,
    }
}

/// One run under `faults` (set after the plan was read, so they hit the apply), pressing Retry
/// while the stop is retryable; returns the tenant's shape and the faults as the simulator
/// reports them afterwards (to prove the aimed fault fired).
async fn run(scenario: Scenario, kc: &Value, faults: Value) -> (Value, Value) {
    let sim = Sim::start(scenario.fixture()).await;
    let client = sim.client(scenario.user()).await;
    let tenant = onboard::discover(&client).await.expect("discover");
    let choices = choices(scenario, &client, &tenant).await;
    let certificate = if matches!(scenario, Scenario::Identity) {
        Value::Null
    } else {
        kc.clone()
    };
    sim.faults(faults.clone()).await;
    let mut state = onboard::Run::default();
    let mut outcome = None;
    for _ in 0..3 {
        match onboard::executor::apply(
            &client,
            &tenant,
            &choices,
            &certificate,
            &mut state,
            &|_, _| {},
        )
        .await
        {
            Ok(applied) => {
                outcome = Some(applied);
                break;
            }
            Err(f) => assert!(
                f.error.is_transient(),
                "{scenario:?} under {faults}: a stop that Retry cannot cure: {f:?}"
            ),
        }
    }
    let fired = sim.get("/_sim/faults").await;
    assert!(
        outcome.is_some(),
        "{scenario:?} under {faults}: not finished after three Retries"
    );
    sim.faults(json!({})).await;
    (shape(&sim.state().await), fired)
}

#[tokio::test]
async fn every_write_failing_every_way_ends_in_the_fault_free_tenant() {
    let mut checked = 0;
    for scenario in [
        Scenario::NewApp,
        Scenario::ExistingApp,
        Scenario::Identity,
        Scenario::EveryWorkload,
    ] {
        let kc = key_credential("matrix");
        let (expected, _) = run(scenario, &kc, json!({})).await;
        if matches!(scenario, Scenario::EveryWorkload) {
            // Twelve distinct permissions on three APIs (Exchange.ManageAsApp once for both
            // Exchange modules, User.Read.All once for Graph and Teams) and three roles.
            let legacy = |list: &str| {
                expected[list]
                    .as_array()
                    .map(|l| {
                        l.iter()
                            .filter(|g| g[0] == "Legacy EXO automation#Application")
                            .count()
                    })
                    .unwrap_or(0)
            };
            assert_eq!((legacy("grants"), legacy("roles")), (12, 3), "{expected}");
        }
        for (method, path) in scenario.writes() {
            for kind in KINDS {
                let rule = json!({"method": method, "pathContains": path, "nth": 1, "kind": kind});
                let (got, fired) = run(
                    scenario,
                    &kc,
                    json!({"writeFaults": [rule], "retryAfterSecs": 1}),
                )
                .await;
                assert_eq!(
                    fired["writeFaults"][0]["fired"], true,
                    "{scenario:?}: the fault {rule} never hit a request"
                );
                assert_eq!(got, expected, "{scenario:?} with {rule}");
                checked += 1;
            }
        }
        // Directory replication at its unkindest: new objects missing from lists and reads,
        // reads after a PATCH showing the old collections, new apps invisible to their
        // service principal.
        let lag = json!({"listLagSecs": 30, "staleReadSecs": 30, "replicationLagSecs": 10});
        let (got, _) = run(scenario, &kc, lag.clone()).await;
        assert_eq!(got, expected, "{scenario:?} with {lag}");
        // And every write failing once under that lag.
        let mut all = lag.clone();
        all["writeFaults"] = scenario
            .writes()
            .iter()
            .map(|(method, path)| json!({"method": method, "pathContains": path, "nth": 1, "kind": "504"}))
            .collect();
        let (got, _) = run(scenario, &kc, all.clone()).await;
        assert_eq!(got, expected, "{scenario:?} with {all}");
        checked += 2;
    }
    eprintln!("fault matrix: {checked} runs, each ending in the fault-free tenant");
}
