//! Day two against the simulated tenant over real HTTP: the inventory of the `lifecycle` fixture
//! (exactly the principals holding Exchange.ManageAsApp, every page read, days left, statuses,
//! roles, last use), the report's three refusals (the inventory goes on), and every change
//! (rotate, remove old, clean up) keeping everything else byte for byte, under lost answers and
//! stale reads too.

mod common;

use common::{Sim, key_credential};
use serde_json::{Value, json};
use unattended::graph::{Client, Policy, Secret, Session};
use unattended::lifecycle::change::{self, Change, Refusal};
use unattended::lifecycle::inventory::{Kind, LastUse, Status};
use unattended::lifecycle::{self, Inventory, Principal, UsageGap};
use unattended::onboard;

const AUDIT: &str = "AuditLog.Read.All";
const FIVE: [&str; 5] = [
    "User.Read",
    "Application.ReadWrite.All",
    "AppRoleAssignment.ReadWrite.All",
    "RoleManagement.ReadWrite.Directory",
    "Policy.Read.All",
];

/// A client for `user` whose token carries `scopes`.
async fn client(sim: &Sim, user: &str, scopes: &[&str]) -> Client<common::Http> {
    let token = sim
        .post("/_sim/token", json!({"user": user, "scopes": scopes}))
        .await;
    let session = Session {
        access_token: Secret::new(token["access_token"].as_str().expect("token")),
        refresh_token: None,
        token_url: format!("{}/organizations/oauth2/v2.0/token", sim.base),
        client_id: sim::fixtures::SPA_CLIENT_ID.into(),
        scope: "openid".into(),
    };
    Client::new(
        sim.transport(),
        &format!("{}/v1.0", sim.base),
        session,
        Policy::default(),
    )
}

fn with_audit() -> Vec<&'static str> {
    let mut s = FIVE.to_vec();
    s.push(AUDIT);
    s
}

/// The simulator's clock, as the page's "now".
async fn now(sim: &Sim) -> i64 {
    let clock = sim.get("/_sim/clock").await;
    clock["nowMs"].as_i64().expect("clock") / 1000
}

async fn inventory(sim: &Sim, user: &str, scopes: &[&str]) -> Inventory {
    let client = client(sim, user, scopes).await;
    let tenant = onboard::discover(&client).await.expect("discover");
    lifecycle::read(
        &client,
        &tenant,
        unattended::cloud::Cloud::Worldwide,
        now(sim).await,
    )
    .await
    .expect("inventory")
}

fn named<'a>(inv: &'a Inventory, name: &str) -> &'a Principal {
    inv.principals
        .iter()
        .find(|p| p.display_name == name)
        .unwrap_or_else(|| panic!("{name} not in the inventory"))
}

fn app_state<'a>(state: &'a Value, name: &str) -> &'a Value {
    state["applications"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["displayName"] == name))
        .expect("app in state")
}

fn keys_of(app: &Value) -> Vec<Value> {
    app["keyCredentials"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn id_of(k: &Value) -> String {
    k["keyId"].as_str().unwrap_or_default().to_ascii_lowercase()
}

#[tokio::test]
async fn the_inventory_lists_exactly_the_holders_with_their_facts() {
    let sim = Sim::start("lifecycle").await;
    let facts = sim.get("/_sim/fixture").await;
    let inv = inventory(&sim, "admin", &with_audit()).await;
    assert!(inv.complete);
    assert_eq!(inv.usage.gap(), None, "the report was read");

    // Exactly the principals the fixture says hold the permission: decoys (declared only,
    // another Exchange role, 130 connectors) are not there; page 2 holders are.
    let mut expected: Vec<String> = facts["manageAsAppHolders"]
        .as_array()
        .expect("holders")
        .iter()
        .map(|h| h["displayName"].as_str().expect("name").to_owned())
        .collect();
    expected.sort();
    let mut got: Vec<String> = inv
        .principals
        .iter()
        .map(|p| p.display_name.clone())
        .collect();
    got.sort();
    assert_eq!(got, expected);
    assert!(
        facts["manageAsAppHolders"]
            .as_array()
            .expect("holders")
            .iter()
            .any(|h| h["page"].as_u64() == Some(2)),
        "a holder is on page 2: {facts}"
    );
    for decoy in [
        "Mailbox search (declared only)",
        "EWS mail sync",
        "Mail connector 001",
    ] {
        assert!(!got.iter().any(|g| g == decoy), "{decoy}");
    }

    // Kinds.
    assert_eq!(
        named(&inv, "contoso-automation").kind,
        Kind::ManagedIdentity
    );
    assert_eq!(
        named(&inv, "Fabrikam Mail Archiver").kind,
        Kind::OtherTenantApp
    );
    assert_eq!(named(&inv, "Payroll mailbox export").kind, Kind::App);

    // Every certificate: thumbprint, days left, status, last use as the tenant has them.
    let mut seen = 0;
    for app in facts["applications"].as_array().expect("apps") {
        let Some(p) = inv
            .principals
            .iter()
            .find(|p| p.app_id == app["appId"].as_str().unwrap_or_default())
        else {
            continue;
        };
        for c in app["certificates"].as_array().expect("certs") {
            let id = id_of(c);
            let mine = p
                .certificates
                .iter()
                .find(|x| x.key_id == id)
                .unwrap_or_else(|| panic!("{id} of {}", p.display_name));
            assert_eq!(Some(mine.thumbprint.as_str()), c["thumbprint"].as_str());
            // The simulator gives days to a tenth; the page counts whole days, rounded down.
            let exact = c["daysLeft"].as_f64().expect("days");
            let off = exact - mine.days_left as f64;
            assert!(
                (0.0..1.05).contains(&off),
                "{}: {exact} vs {}",
                p.display_name,
                mine.days_left
            );
            assert_eq!(mine.key_bits, Some(2048));
            assert!(
                mine.subject
                    .as_deref()
                    .is_some_and(|s| s.starts_with("CN="))
            );
            match c["lastUsedDateTime"].as_str() {
                Some(at) => assert_eq!(mine.last_used, LastUse::At(at.to_owned())),
                None => assert_eq!(mine.last_used, LastUse::Never),
            }
            let status = match exact {
                d if d <= 0.0 => Status::Expired,
                d if d <= 30.0 => Status::Expiring,
                _ => Status::Valid,
            };
            assert_eq!(mine.status, status);
            seen += 1;
        }
    }
    assert!(seen >= 7, "{seen} certificates compared");

    // Roles and warnings.
    let helpdesk = named(&inv, "Helpdesk automation");
    assert_eq!(helpdesk.secrets.len(), 1);
    assert!(
        helpdesk
            .warnings(inv.max_certificate_days)
            .iter()
            .any(|w| w.contains("client secret"))
    );
    let archive = named(&inv, "Archive exporter");
    assert!(
        archive
            .warnings(inv.max_certificate_days)
            .iter()
            .any(|w| w.contains("app-management policy"))
    );
    assert_eq!(
        named(&inv, "Nightly mailbox audit").worst(),
        Some(Status::Expiring)
    );
    assert_eq!(
        named(&inv, "Legacy EXO reports").worst(),
        Some(Status::Expired)
    );
    assert_eq!(
        named(&inv, "Payroll mailbox export").roles,
        vec![unattended::wellknown::roles::EXCHANGE_ADMIN.to_owned()]
    );
}

#[tokio::test]
async fn without_the_report_the_inventory_goes_on_and_says_why() {
    let sim = Sim::start("lifecycle").await;
    // No AuditLog.Read.All, but a role that may read: consent is what is missing.
    let inv = inventory(&sim, "admin", &FIVE).await;
    assert_eq!(inv.usage.gap(), Some(&UsageGap::Consent));
    assert!(inv.principals.len() >= 7);
    assert!(
        inv.certificates()
            .all(|(_, c)| c.last_used == LastUse::Unknown)
    );
    // A Cloud Application Administrator may not read sign-in reports, with or without consent.
    let inv = inventory(&sim, "appadmin", &with_audit()).await;
    assert_eq!(inv.usage.gap(), Some(&UsageGap::Role));
    let inv = inventory(&sim, "appadmin", &FIVE).await;
    assert_eq!(inv.usage.gap(), Some(&UsageGap::Role));
    // A tenant without Entra ID P1/P2.
    sim.faults(json!({"noPremiumLicence": true})).await;
    let inv = inventory(&sim, "admin", &with_audit()).await;
    assert_eq!(inv.usage.gap(), Some(&UsageGap::Licence));
    assert!(UsageGap::Licence.to_string().contains("P1 or P2"));
    assert!(inv.principals.len() >= 7 && inv.complete);
    // A change that needs confirmation when last use is unknown is refused without it.
    let nightly = named(&inv, "Nightly mailbox audit");
    let soon = nightly
        .certificates
        .iter()
        .find(|c| c.status == Status::Expiring)
        .expect("expiring");
    assert!(matches!(
        change::check(
            nightly,
            &Change::Remove(vec![soon.key_id.clone()]),
            &[],
            inv.now
        ),
        Err(Refusal::RecentlyUsed { on: None, .. })
    ));
}

#[tokio::test]
async fn rotate_then_remove_old_keeps_everything_else_byte_for_byte() {
    let sim = Sim::start("lifecycle").await;
    let inv = inventory(&sim, "admin", &with_audit()).await;
    let client = client(&sim, "admin", &with_audit()).await;
    let before = sim.state().await;
    let nightly = named(&inv, "Nightly mailbox audit").clone();
    let old_keys = keys_of(app_state(&before, "Nightly mailbox audit"));

    // Rotate: the new certificate appended, every old one verbatim.
    let kc = key_credential("nightly-2027");
    let rotate = Change::Rotate(kc.clone());
    assert_eq!(change::check(&nightly, &rotate, &[], inv.now), Ok(vec![]));
    let (after, wrote) = lifecycle::apply(&client, &nightly, &rotate, &[])
        .await
        .expect("rotate");
    assert!(wrote);
    assert_eq!(after.key_credentials.len(), old_keys.len() + 1);
    let state = sim.state().await;
    let now_keys = keys_of(app_state(&state, "Nightly mailbox audit"));
    for k in &old_keys {
        assert!(now_keys.contains(k), "kept verbatim: {}", id_of(k));
    }
    assert!(now_keys.iter().any(|k| k["key"] == kc["key"]));
    assert_eq!(
        app_state(&state, "Nightly mailbox audit")["requiredResourceAccess"],
        app_state(&before, "Nightly mailbox audit")["requiredResourceAccess"]
    );

    // Remove old: the expiring one was used yesterday, so it needs the confirmation naming
    // the date; removing both old ones leaves the new one, so it is not the last valid.
    let rotated = nightly.refreshed(after, inv.now);
    let olds: Vec<String> = old_keys.iter().map(id_of).collect();
    let remove = Change::Remove(olds.clone());
    let refused = change::check(&rotated, &remove, &[], inv.now);
    let Err(Refusal::RecentlyUsed { on: Some(day), .. }) = &refused else {
        panic!("{refused:?}");
    };
    assert!(
        refused
            .clone()
            .err()
            .expect("refusal")
            .to_string()
            .contains(day.as_str())
    );
    let removing = change::check(&rotated, &remove, &olds, inv.now).expect("confirmed");
    // The PATCH's answer is lost once: the change is read back and not repeated wrongly.
    sim.faults(json!({"writeFaults": [{"method": "PATCH", "pathContains": "/applications/", "nth": 1, "kind": "lost"}]}))
        .await;
    let (after, _) = lifecycle::apply(&client, &rotated, &remove, &removing)
        .await
        .expect("remove old");
    assert_eq!(after.key_credentials.len(), 1);
    assert_eq!(
        sim.get("/_sim/faults").await["writeFaults"][0]["fired"],
        true
    );
    let state = sim.state().await;
    let left = keys_of(app_state(&state, "Nightly mailbox audit"));
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["key"], kc["key"]);
    // Other apps untouched.
    for name in [
        "Payroll mailbox export",
        "Legacy EXO reports",
        "Helpdesk automation",
    ] {
        assert_eq!(app_state(&state, name), app_state(&before, name), "{name}");
    }
}

#[tokio::test]
async fn refusals_write_nothing_and_clean_up_keeps_the_valid_ones() {
    let sim = Sim::start("lifecycle").await;
    let inv = inventory(&sim, "admin", &with_audit()).await;
    let client = client(&sim, "admin", &with_audit()).await;
    let before = sim.state().await;

    // The last valid certificate.
    let payroll = named(&inv, "Payroll mailbox export");
    let only = payroll.certificates[0].key_id.clone();
    let refused = change::check(
        payroll,
        &Change::Remove(vec![only.clone()]),
        &[only],
        inv.now,
    );
    assert!(
        matches!(refused, Err(Refusal::LastValid { .. })),
        "{refused:?}"
    );
    // A managed identity has nothing to change.
    let mi = named(&inv, "contoso-automation");
    assert!(matches!(
        change::check(mi, &Change::Remove(vec![]), &[], inv.now),
        Err(Refusal::NotAnApp(_))
    ));
    assert_eq!(sim.state().await["applications"], before["applications"]);

    // Clean up the expired certificate of Legacy EXO reports, with a stale read after the
    // PATCH: the valid one stays verbatim.
    let legacy = named(&inv, "Legacy EXO reports");
    let expired = change::expired(legacy);
    assert_eq!(expired.len(), 1);
    let removing = change::check(legacy, &Change::Remove(expired.clone()), &[], inv.now)
        .expect("expired ones need no confirmation");
    sim.faults(json!({"staleReadSecs": 20})).await;
    lifecycle::apply(&client, legacy, &Change::Remove(expired.clone()), &removing)
        .await
        .expect("clean up");
    let state = sim.state().await;
    let old = keys_of(app_state(&before, "Legacy EXO reports"));
    let now_keys = keys_of(app_state(&state, "Legacy EXO reports"));
    let valid: Vec<&Value> = old
        .iter()
        .filter(|k| !expired.contains(&id_of(k)))
        .collect();
    assert_eq!(now_keys.iter().collect::<Vec<_>>(), valid);
}

#[tokio::test]
async fn in_a_national_cloud_the_inventory_says_last_use_is_not_offered_and_goes_on() {
    let sim = Sim::start("lifecycle").await;
    sim.post(
        "/_sim/reset",
        json!({"fixture": "lifecycle", "cloud": "gcchigh"}),
    )
    .await;
    let client = client(&sim, "admin", &with_audit()).await;
    let tenant = onboard::discover(&client).await.expect("discover");
    let inv = lifecycle::read(
        &client,
        &tenant,
        unattended::cloud::Cloud::GccHigh,
        now(&sim).await,
    )
    .await
    .expect("inventory");
    assert!(matches!(inv.usage.gap(), Some(UsageGap::NotInCloud(c)) if c.contains("GCC High")));
    assert!(inv.principals.len() >= 7 && inv.complete);
    let asked = sim.get("/_sim/requests").await;
    let beta = asked["requests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.starts_with("/beta")))
        .count();
    assert_eq!(beta, 0, "no request for a report the cloud does not have");
}
