//! The lifecycle rules, natively: the inventory built from realistic Graph JSON (statuses at
//! their boundaries, what a real certificate says, last use), the refusals and plans of changes,
//! and the exports and reminders. One RSA key for the whole run (generation is the slow part).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use rsa::RsaPrivateKey;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use super::change::{self, Change, Refusal};
use super::inventory::{
    self, Activity, Filter, Inventory, Kind, LastUse, Principal, SortBy, Status, Usage, UsageGap,
    view,
};
use super::when::{self, DAY};
use super::{export, reminders};
use crate::forge::{self, Flavour, KeyCredential, KeySize, Password, Request, UnixTime};
use crate::graph::models::{Application, ServicePrincipal};
use crate::wellknown::{EXCHANGE_APP_ID, MANAGE_AS_APP, roles};

/// 2026-12-02T12:00:00Z: when the inventory is read.
const NOW: i64 = 1_796_212_800;

const PAYROLL: &str = "a0000001-0000-4000-8000-000000000001";
const MAILBOX: &str = "a0000002-0000-4000-8000-000000000002";
const ARCHIVE: &str = "a0000003-0000-4000-8000-000000000003";
const EMPTY: &str = "a0000004-0000-4000-8000-000000000004";
const MI: &str = "a0000005-0000-4000-8000-000000000005";
const VENDOR: &str = "a0000006-0000-4000-8000-000000000006";
const ELSEWHERE: &str = "a0000099-0000-4000-8000-000000000099";

const KEY_A: &str = "c0000001-0000-4000-8000-00000000000a";
const KEY_B: &str = "c0000002-0000-4000-8000-00000000000b";
const KEY_C: &str = "c0000003-0000-4000-8000-00000000000c";
const KEY_M: &str = "c0000004-0000-4000-8000-00000000000d";
const KEY_O: &str = "c0000005-0000-4000-8000-00000000000e";
const SECRET_M: &str = "d0000001-0000-4000-8000-00000000000f";

// ---------------------------------------------------------------------------------------------
// Fixtures

/// The one key of the run.
fn key() -> &'static RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        forge::generate_key(KeySize::Rsa2048, &mut ChaCha20Rng::from_seed([11; 32])).expect("key")
    })
}

/// A real certificate (made by the forge) as Graph lists it on an app read as a single object:
/// with `key`, `keyId` and the thumbprint as `customKeyIdentifier`.
/// Each is made once per run (the PFX the forge also makes costs a few hundred milliseconds).
fn real(subject: &str, not_before: i64, days: u32, key_id: &str) -> (Value, forge::Certificate) {
    type Made = HashMap<(String, i64, u32, String), (Value, forge::Certificate)>;
    static MADE: OnceLock<Mutex<Made>> = OnceLock::new();
    let wanted = (subject.to_owned(), not_before, days, key_id.to_owned());
    let mut made = MADE
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    made.entry(wanted)
        .or_insert_with(|| make(subject, not_before, days, key_id))
        .clone()
}

fn make(subject: &str, not_before: i64, days: u32, key_id: &str) -> (Value, forge::Certificate) {
    let request = Request {
        key_size: KeySize::Rsa2048,
        subject: subject.into(),
        validity_days: days,
        flavour: Flavour::WindowsCompatible,
        password: Password::new("not under test").expect("password"),
    };
    let mut rng = ChaCha20Rng::from_seed([12; 32]);
    // The forge backdates notBefore by five minutes.
    let at = UnixTime(u64::try_from(not_before + 300).expect("positive"));
    let credential = forge::forge_with_key(key(), &request, at, &mut rng).expect("certificate");
    let mut kc = serde_json::to_value(
        KeyCredential::for_certificate(&credential.certificate).expect("keyCredential"),
    )
    .expect("json");
    kc["keyId"] = json!(key_id);
    kc["customKeyIdentifier"] =
        json!(STANDARD.encode(hex_bytes(&credential.certificate.thumbprints().sha1_hex)));
    (kc, credential.certificate)
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The thumbprint Graph's `customKeyIdentifier` carries for a certificate listed without `key`
/// (as on a collection read): here a SHA-1 of the keyId, to tell them apart.
fn thumb_of(key_id: &str) -> String {
    Sha1::digest(key_id.as_bytes())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// A keyCredential as Graph lists it without `key`.
fn listed(key_id: &str, name: &str, start: i64, end: i64) -> Value {
    json!({
        "customKeyIdentifier": STANDARD.encode(Sha1::digest(key_id.as_bytes())),
        "displayName": name,
        "endDateTime": when::rfc3339(end),
        "key": null,
        "keyId": key_id,
        "startDateTime": when::rfc3339(start),
        "type": "AsymmetricX509Cert",
        "usage": "Verify"
    })
}

fn secret_json(key_id: &str, name: &str, start: i64, end: i64) -> Value {
    json!({
        "customKeyIdentifier": null,
        "displayName": name,
        "endDateTime": when::rfc3339(end),
        "hint": "Q~x",
        "keyId": key_id,
        "secretText": "Q~xSHOULD-NEVER-LEAK",
        "startDateTime": when::rfc3339(start)
    })
}

fn app(
    object_id: &str,
    app_id: &str,
    name: &str,
    keys: Vec<Value>,
    secrets: Vec<Value>,
) -> Application {
    serde_json::from_value(json!({
        "id": object_id,
        "appId": app_id,
        "displayName": name,
        "keyCredentials": keys,
        "passwordCredentials": secrets,
        "requiredResourceAccess": [{
            "resourceAppId": EXCHANGE_APP_ID,
            "resourceAccess": [{ "id": MANAGE_AS_APP, "type": "Role" }]
        }]
    }))
    .expect("application")
}

fn sp(id: &str, app_id: &str, name: &str, kind: &str) -> ServicePrincipal {
    serde_json::from_value(json!({
        "id": id,
        "appId": app_id,
        "displayName": name,
        "servicePrincipalType": kind,
        "alternativeNames": if kind == "ManagedIdentity" {
            json!(["isExplicit=False", "/subscriptions/0000/resourcegroups/ops/providers/Microsoft.Automation/automationAccounts/ops"])
        } else {
            json!([])
        }
    }))
    .expect("service principal")
}

/// A row of `GET /beta/reports/appCredentialSignInActivities`, as Graph shapes it.
fn activity(app_id: &str, key_id: &str, last: Option<i64>, success: Option<i64>) -> Activity {
    serde_json::from_value(json!({
        "id": format!("{app_id}{key_id}"),
        "keyId": key_id,
        "keyType": "certificate",
        "keyUsage": "verify",
        "appId": app_id,
        "appObjectId": "00000000-0000-0000-0000-000000000000",
        "servicePrincipalObjectId": "00000000-0000-0000-0000-000000000000",
        "resourceId": "00000002-0000-0ff1-ce00-000000000000",
        "credentialOrigin": "application",
        "expirationDateTime": "2027-12-01T00:00:00Z",
        "createdDateTime": "2026-01-01T00:00:00Z",
        "signInActivity": {
            "lastSignInDateTime": last.map(when::rfc3339),
            "lastSignInRequestId": "r1",
            "lastSuccessfulSignInDateTime": success.map(when::rfc3339),
            "lastSuccessfulSignInRequestId": "r2"
        }
    }))
    .expect("activity")
}

/// The sign-in report of the fixture.
fn report() -> Usage {
    Usage::Read(vec![
        // B: a failed sign-in 3 days ago, a successful one 2 days ago; the row's keyId in
        // upper case.
        activity(
            PAYROLL,
            &KEY_B.to_uppercase(),
            Some(NOW - 3 * DAY),
            Some(NOW - 2 * DAY),
        ),
        // The same keyId on another app, used an hour ago: not Payroll's.
        activity(ELSEWHERE, KEY_B, Some(NOW - 3600), Some(NOW - 3600)),
        activity(PAYROLL, KEY_A, Some(NOW - 50 * DAY), None),
        // A row without an app id counts for the keyId.
        activity("", KEY_M, None, Some(NOW - 20 * DAY)),
        activity(ARCHIVE, KEY_O, Some(NOW - 60 * DAY), Some(NOW - 61 * DAY)),
        activity(MAILBOX, SECRET_M, Some(NOW - DAY), None),
    ])
}

/// Payroll sync: A expired 40 days ago (400-day lifetime), B expiring in 10 days, C a real
/// certificate valid for 400 days (over the tenant's 365), with 200 days left.
fn payroll(usage: &Usage) -> (Principal, forge::Certificate) {
    let (c, cert) = real("Payroll EXO", NOW - 200 * DAY, 400, KEY_C);
    let a = app(
        "o0000001",
        PAYROLL,
        "Payroll sync",
        vec![
            c,
            listed(
                KEY_B,
                "CN=Payroll EXO 2025",
                NOW - 355 * DAY,
                NOW + 10 * DAY,
            ),
            listed(
                KEY_A,
                "CN=Payroll EXO 2024",
                NOW - 440 * DAY,
                NOW - 40 * DAY,
            ),
        ],
        vec![],
    );
    let p = inventory::principal(
        &sp("s0000001", PAYROLL, "Payroll sync", "Application"),
        Some(a),
        vec![roles::EXCHANGE_ADMIN.to_owned()],
        "2025-11-01T08:00:00Z".into(),
        usage,
        NOW,
    );
    (p, cert)
}

fn fixture_with(usage: Usage) -> (Inventory, forge::Certificate) {
    let (payroll, cert) = payroll(&usage);
    let mailbox = inventory::principal(
        &sp("s0000002", MAILBOX, "Mailbox report", "Application"),
        Some(app(
            "o0000002",
            MAILBOX,
            "Mailbox report",
            vec![listed(
                KEY_M,
                "CN=Mailbox report",
                NOW - 65 * DAY,
                NOW + 300 * DAY,
            )],
            vec![secret_json(
                SECRET_M,
                "legacy",
                NOW - 100 * DAY,
                NOW + 100 * DAY,
            )],
        )),
        vec![],
        "2026-09-28T08:00:00Z".into(),
        &usage,
        NOW,
    );
    let archive = inventory::principal(
        &sp("s0000003", ARCHIVE, "Old archive", "Application"),
        Some(app(
            "o0000003",
            ARCHIVE,
            "Old archive",
            vec![listed(
                KEY_O,
                "CN=Old archive",
                NOW - 500 * DAY,
                NOW - 5 * DAY,
            )],
            vec![],
        )),
        vec![roles::EXCHANGE_ADMIN.to_owned()],
        "2025-07-01T08:00:00Z".into(),
        &usage,
        NOW,
    );
    let empty = inventory::principal(
        &sp("s0000004", EMPTY, "Empty app", "Application"),
        Some(app("o0000004", EMPTY, "Empty app", vec![], vec![])),
        vec![],
        String::new(),
        &usage,
        NOW,
    );
    let mi = inventory::principal(
        &sp("s0000005", MI, "Automation MI", "ManagedIdentity"),
        None,
        vec![roles::EXCHANGE_ADMIN.to_owned()],
        "2026-01-01T00:00:00Z".into(),
        &usage,
        NOW,
    );
    let vendor = inventory::principal(
        &sp("s0000006", VENDOR, "Vendor tool", "Application"),
        None,
        vec![],
        "2026-02-01T00:00:00Z".into(),
        &usage,
        NOW,
    );
    let mut principals = vec![payroll, mailbox, archive, empty, mi, vendor];
    principals.sort_by_key(|p| p.display_name.to_lowercase());
    (
        Inventory {
            principals,
            usage,
            max_certificate_days: Some(365),
            complete: true,
            now: NOW,
        },
        cert,
    )
}

fn fixture() -> (Inventory, forge::Certificate) {
    fixture_with(report())
}

fn named<'a>(inventory: &'a Inventory, name: &str) -> &'a Principal {
    inventory
        .principals
        .iter()
        .find(|p| p.display_name == name)
        .expect(name)
}

fn cert<'a>(p: &'a Principal, key_id: &str) -> &'a inventory::Certificate {
    p.certificates
        .iter()
        .find(|c| c.key_id == key_id)
        .expect(key_id)
}

/// A keyCredential with these dates, read at `NOW`.
fn at(start: Option<i64>, end: Option<i64>) -> inventory::Certificate {
    let mut raw = listed(KEY_A, "CN=t", 0, 0);
    raw["startDateTime"] = start.map_or(Value::Null, |s| json!(when::rfc3339(s)));
    raw["endDateTime"] = end.map_or(Value::Null, |e| json!(when::rfc3339(e)));
    inventory::certificate(&raw, PAYROLL, &Usage::Read(vec![]), NOW)
}

// ---------------------------------------------------------------------------------------------
// when

#[test]
fn the_fixed_time_is_what_it_says() {
    assert_eq!(when::rfc3339(NOW), "2026-12-02T12:00:00Z");
    assert_eq!(when::parse("2026-12-02T12:00:00Z"), Some(NOW));
    assert_eq!(when::parse("2026-12-02T07:00:00-05:00"), Some(NOW));
    assert_eq!(when::parse(" 2026-12-02T12:00:00.0000000Z "), Some(NOW));
    assert_eq!(when::parse("2026-12-02T12:00Z"), Some(NOW));
    assert_eq!(when::day(NOW), "2026-12-02");
    // Outside 1970–9999 nothing is made up.
    assert_eq!(when::rfc3339(-1), "");
    assert_eq!(when::day(253_402_300_800), "");
    assert_eq!(when::parse("2026-02-30T00:00:00Z"), None);
}

// ---------------------------------------------------------------------------------------------
// inventory: one certificate

#[test]
fn status_and_days_left_at_their_boundaries() {
    let exactly_30 = at(Some(NOW - DAY), Some(NOW + 30 * DAY));
    assert_eq!(
        (exactly_30.status, exactly_30.days_left),
        (Status::Expiring, 30)
    );
    let past_30 = at(Some(NOW - DAY), Some(NOW + 30 * DAY + 1));
    assert_eq!((past_30.status, past_30.days_left), (Status::Valid, 30));
    let later_today = at(Some(NOW - DAY), Some(NOW + DAY - 1));
    assert_eq!(
        (later_today.status, later_today.days_left),
        (Status::Expiring, 0)
    );
    let a_second_ago = at(Some(NOW - DAY), Some(NOW - 1));
    assert_eq!(
        (a_second_ago.status, a_second_ago.days_left),
        (Status::Expired, -1)
    );
    let ends_now = at(Some(NOW - DAY), Some(NOW));
    assert_eq!((ends_now.status, ends_now.days_left), (Status::Expired, 0));
    let tomorrow = at(Some(NOW + 1), Some(NOW + 100 * DAY));
    assert_eq!(tomorrow.status, Status::NotYetValid);
    assert!(!tomorrow.status.usable());
    assert!(Status::Expiring.usable() && Status::Valid.usable() && !Status::Expired.usable());
    assert_eq!(tomorrow.lifetime_days, 99);
    // Order used by "worst": expired, expiring, valid, not yet valid.
    assert!(Status::Expired < Status::Expiring && Status::Expiring < Status::Valid);
    assert!(Status::Valid < Status::NotYetValid);
    assert_eq!(Status::NotYetValid.label(), "not yet valid");
    // A certificate whose dates cannot be read is not guessed to be expired or expiring.
    let unreadable = at(None, None);
    assert_eq!((unreadable.days_left, unreadable.lifetime_days), (0, 0));
}

#[test]
fn a_real_certificate_is_read_for_thumbprint_subject_and_key_size() {
    let (raw, made) = real("Payroll EXO", NOW - 200 * DAY, 400, &KEY_C.to_uppercase());
    // A customKeyIdentifier that lies: the certificate itself is the truth.
    let mut lying = raw.clone();
    lying["customKeyIdentifier"] = json!(STANDARD.encode([0u8; 20]));
    for raw in [raw, lying] {
        let c = inventory::certificate(&raw, PAYROLL, &Usage::Read(vec![]), NOW);
        assert_eq!(c.thumbprint, made.thumbprints().sha1_hex);
        assert_eq!(c.thumbprint.len(), 40);
        assert_eq!(c.subject.as_deref(), Some("CN=Payroll EXO"));
        assert_eq!(c.key_bits, Some(2048));
        assert_eq!(c.key_id, KEY_C, "keyId lower-cased");
        assert_eq!(c.display_name, "CN=Payroll EXO");
        assert_eq!(c.lifetime_days, 400);
        assert_eq!(c.days_left, 200);
        assert_eq!(c.status, Status::Valid);
        assert_eq!(c.last_used, LastUse::Never);
    }
}

#[test]
fn without_its_key_the_thumbprint_comes_from_custom_key_identifier() {
    let c = inventory::certificate(
        &listed(KEY_B, "CN=B", NOW - DAY, NOW + 90 * DAY),
        PAYROLL,
        &Usage::Unavailable(UsageGap::Licence),
        NOW,
    );
    assert_eq!(c.thumbprint, thumb_of(KEY_B));
    assert_eq!((c.subject, c.key_bits), (None, None));
    assert_eq!(c.last_used, LastUse::Unknown);
    // Neither key nor customKeyIdentifier: an empty thumbprint, nothing invented.
    let mut bare = listed(KEY_B, "CN=B", NOW - DAY, NOW + 90 * DAY);
    bare.as_object_mut()
        .expect("object")
        .remove("customKeyIdentifier");
    let c = inventory::certificate(&bare, PAYROLL, &Usage::Read(vec![]), NOW);
    assert_eq!(c.thumbprint, "");
    // Bytes that are not a certificate: no subject or size is made up.
    let mut junk = listed(KEY_B, "CN=B", NOW - DAY, NOW + 90 * DAY);
    junk["key"] = json!(STANDARD.encode(b"not a certificate"));
    let c = inventory::certificate(&junk, PAYROLL, &Usage::Read(vec![]), NOW);
    assert_eq!((c.subject, c.key_bits), (None, None));
}

// ---------------------------------------------------------------------------------------------
// inventory: last use

#[test]
fn last_use_is_the_latest_date_of_this_apps_rows_for_the_key() {
    let usage = report();
    // Latest of the two dates, keyId case-insensitive, the other app's later row ignored.
    assert_eq!(
        usage.of(PAYROLL, KEY_B),
        LastUse::At(when::rfc3339(NOW - 2 * DAY))
    );
    assert_eq!(
        usage.of(&PAYROLL.to_uppercase(), &KEY_B.to_uppercase()),
        LastUse::At(when::rfc3339(NOW - 2 * DAY))
    );
    assert_eq!(
        usage.of(ELSEWHERE, KEY_B),
        LastUse::At(when::rfc3339(NOW - 3600))
    );
    // Only lastSignInDateTime, only lastSuccessfulSignInDateTime, a row without appId.
    assert_eq!(
        usage.of(PAYROLL, KEY_A),
        LastUse::At(when::rfc3339(NOW - 50 * DAY))
    );
    assert_eq!(
        usage.of(MAILBOX, KEY_M),
        LastUse::At(when::rfc3339(NOW - 20 * DAY))
    );
    assert_eq!(
        usage.of(ARCHIVE, KEY_O),
        LastUse::At(when::rfc3339(NOW - 60 * DAY))
    );
    // No row, or a row with no readable date: never.
    assert_eq!(usage.of(PAYROLL, KEY_C), LastUse::Never);
    let odd = Usage::Read(vec![
        serde_json::from_value(json!({"keyId": KEY_C, "appId": PAYROLL})).expect("row"),
        serde_json::from_value(json!({"keyId": KEY_C, "appId": PAYROLL,
            "signInActivity": {"lastSignInDateTime": "yesterday"}}))
        .expect("row"),
    ]);
    assert_eq!(odd.of(PAYROLL, KEY_C), LastUse::Never);
    assert_eq!(usage.gap(), None);
    // Unavailable: unknown, with the reason.
    let none = Usage::Unavailable(UsageGap::Role);
    assert_eq!(none.of(PAYROLL, KEY_B), LastUse::Unknown);
    assert_eq!(none.gap(), Some(&UsageGap::Role));
}

#[test]
fn last_use_as_cell_and_recency() {
    let used = LastUse::At("2026-11-30T12:00:00.1234567Z".into());
    assert_eq!(used.text(), "2026-11-30");
    assert_eq!(used.within(14, NOW).as_deref(), Some("2026-11-30"));
    assert_eq!(used.within(1, NOW), None);
    assert_eq!(
        LastUse::At(when::rfc3339(NOW - 14 * DAY))
            .within(14, NOW)
            .as_deref(),
        Some("2026-11-18")
    );
    assert_eq!(
        LastUse::At(when::rfc3339(NOW - 14 * DAY - 1)).within(14, NOW),
        None
    );
    assert_eq!(LastUse::Never.text(), "never");
    assert_eq!(LastUse::Unknown.text(), "unknown");
    assert_eq!(LastUse::Unknown.within(14, NOW), None);
    assert_eq!(LastUse::At("garbled".into()).text(), "garbled");
}

#[test]
fn every_gap_says_what_is_missing() {
    assert!(UsageGap::Consent.to_string().contains("AuditLog.Read.All"));
    assert!(UsageGap::Role.to_string().contains("Reports Reader"));
    assert!(UsageGap::Licence.to_string().contains("P1 or P2"));
    assert!(
        UsageGap::Failed("503 Service Unavailable".into())
            .to_string()
            .contains("(503 Service Unavailable)")
    );
}

// ---------------------------------------------------------------------------------------------
// inventory: principals

#[test]
fn the_fixture_reads_as_expected() {
    let (inv, made) = fixture();
    let p = named(&inv, "Payroll sync");
    assert_eq!(p.kind, Kind::App);
    assert_eq!(p.app_object_id.as_deref(), Some("o0000001"));
    assert_eq!(p.service_principal_id, "s0000001");
    // Soonest end first.
    let order: Vec<&str> = p.certificates.iter().map(|c| c.key_id.as_str()).collect();
    assert_eq!(order, [KEY_A, KEY_B, KEY_C]);
    let (a, b, c) = (cert(p, KEY_A), cert(p, KEY_B), cert(p, KEY_C));
    assert_eq!((a.status, a.days_left), (Status::Expired, -40));
    assert_eq!((b.status, b.days_left), (Status::Expiring, 10));
    assert_eq!((c.status, c.days_left), (Status::Valid, 200));
    assert_eq!(c.thumbprint, made.thumbprints().sha1_hex);
    assert_eq!(b.thumbprint, thumb_of(KEY_B));
    assert_eq!(b.last_used, LastUse::At(when::rfc3339(NOW - 2 * DAY)));
    assert_eq!(p.worst(), Some(Status::Expired));
    assert_eq!(p.usable().count(), 2);
    assert!(p.app.as_ref().is_some_and(|a| a.key_credentials.len() == 3));

    let m = named(&inv, "Mailbox report");
    assert_eq!(m.secrets.len(), 1);
    let s = &m.secrets[0];
    assert_eq!((s.key_id.as_str(), s.hint.as_str()), (SECRET_M, "Q~x"));
    assert_eq!((s.status, s.days_left), (Status::Valid, 100));
    assert_eq!(s.last_used, LastUse::At(when::rfc3339(NOW - DAY)));

    let mi = named(&inv, "Automation MI");
    assert_eq!(mi.kind, Kind::ManagedIdentity);
    assert_eq!(mi.kind.label(), "managed identity");
    assert!(mi.app.is_none() && mi.app_object_id.is_none() && mi.certificates.is_empty());
    assert_eq!(mi.worst(), None);

    let v = named(&inv, "Vendor tool");
    assert_eq!(v.kind, Kind::OtherTenantApp);
    assert!(v.app.is_none() && v.certificates.is_empty() && v.secrets.is_empty());

    assert_eq!(inv.certificates().count(), 5);
    assert_eq!(
        inv.principal("s0000003").map(|p| p.display_name.as_str()),
        Some("Old archive")
    );
    assert!(inv.principal("nope").is_none());
}

#[test]
fn kinds_follow_the_service_principal_and_the_app_found() {
    let usage = Usage::Read(vec![]);
    // A managed identity is one even if an app with its appId was somehow returned.
    let mi = inventory::principal(
        &sp("s9", MI, "MI", "ManagedIdentity"),
        Some(app(
            "o9",
            MI,
            "shadow",
            vec![listed(KEY_A, "x", NOW - DAY, NOW + DAY)],
            vec![],
        )),
        vec![],
        String::new(),
        &usage,
        NOW,
    );
    assert_eq!(mi.kind, Kind::ManagedIdentity);
    assert!(mi.app.is_none() && mi.certificates.is_empty());
    assert_eq!(mi.display_name, "MI");
    // The app's own name wins over the service principal's.
    let renamed = inventory::principal(
        &sp("s8", PAYROLL, "old name", "Application"),
        Some(app("o8", PAYROLL, "new name", vec![], vec![])),
        vec![],
        String::new(),
        &usage,
        NOW,
    );
    assert_eq!(
        (renamed.kind, renamed.display_name.as_str()),
        (Kind::App, "new name")
    );
    // Only X.509 verification keys are certificates here.
    let mixed = inventory::principal(
        &sp("s7", PAYROLL, "p", "Application"),
        Some(app(
            "o7",
            PAYROLL,
            "p",
            vec![
                listed(KEY_A, "ok", NOW - DAY, NOW + 90 * DAY),
                {
                    let mut k = listed(KEY_B, "sign", NOW - DAY, NOW + 90 * DAY);
                    k["usage"] = json!("Sign");
                    k
                },
                {
                    let mut k = listed(KEY_C, "sym", NOW - DAY, NOW + 90 * DAY);
                    k["type"] = json!("Symmetric");
                    k
                },
            ],
            vec![],
        )),
        vec![],
        String::new(),
        &usage,
        NOW,
    );
    assert_eq!(mixed.certificates.len(), 1);
}

#[test]
fn warnings_say_what_to_do() {
    let (inv, _) = fixture();
    let w = |name: &str| named(&inv, name).warnings(inv.max_certificate_days);
    let payroll = w("Payroll sync");
    assert_eq!(payroll.len(), 1, "{payroll:?}");
    let c = cert(named(&inv, "Payroll sync"), KEY_C);
    assert!(payroll[0].contains(&c.thumbprint));
    assert!(payroll[0].contains("valid for 400 days, longer than the 365 days"));
    // Expired A also lived 400 days, but expired certificates are not flagged.
    assert!(!payroll[0].contains(&thumb_of(KEY_A)));

    let mailbox = w("Mailbox report");
    assert_eq!(mailbox.len(), 2, "{mailbox:?}");
    assert!(mailbox[0].starts_with("1 client secret:"));
    assert!(mailbox[1].starts_with("No Entra role"));
    // 365 days exactly is within the policy.
    assert!(!mailbox.iter().any(|m| m.contains("policy")));

    assert_eq!(
        w("Old archive"),
        ["No valid certificate: every script using this app fails to connect. Rotate now."]
    );
    let empty = w("Empty app");
    assert!(empty[0].starts_with("No certificate:") && empty[1].starts_with("No Entra role"));
    assert!(w("Automation MI").is_empty());
    assert_eq!(w("Vendor tool").len(), 1);
    // Without a policy, no lifetime warning.
    assert!(named(&inv, "Payroll sync").warnings(None).is_empty());

    // Every usable certificate expiring; two secrets; only a not-yet-valid certificate.
    let usage = Usage::Read(vec![]);
    let expiring = inventory::principal(
        &sp("s1", PAYROLL, "p", "Application"),
        Some(app(
            "o1",
            PAYROLL,
            "p",
            vec![
                listed(KEY_A, "a", NOW - DAY, NOW + 5 * DAY),
                listed(KEY_B, "b", NOW - DAY, NOW + 29 * DAY),
                listed(KEY_C, "c", NOW - 400 * DAY, NOW - DAY),
            ],
            vec![
                secret_json(SECRET_M, "s1", NOW - DAY, NOW + DAY),
                secret_json(KEY_M, "s2", NOW - DAY, NOW + DAY),
            ],
        )),
        vec![roles::EXCHANGE_ADMIN.into()],
        String::new(),
        &usage,
        NOW,
    );
    let w = expiring.warnings(Some(365));
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].starts_with("Every valid certificate ends within 30 days"));
    assert!(w[1].starts_with("2 client secrets:"));
    let future = inventory::principal(
        &sp("s2", PAYROLL, "p", "Application"),
        Some(app(
            "o2",
            PAYROLL,
            "p",
            vec![listed(KEY_A, "a", NOW + DAY, NOW + 90 * DAY)],
            vec![],
        )),
        vec![roles::EXCHANGE_ADMIN.into()],
        String::new(),
        &usage,
        NOW,
    );
    assert!(future.warnings(None)[0].starts_with("No valid certificate"));
}

// ---------------------------------------------------------------------------------------------
// inventory: the table

fn names(list: &[&Principal]) -> Vec<String> {
    list.iter().map(|p| p.display_name.clone()).collect()
}

#[test]
fn the_table_sorts_by_each_column() {
    let (inv, _) = fixture();
    let all = Filter::default();
    assert_eq!(
        names(&view(&inv, &all, SortBy::Name)),
        [
            "Automation MI",
            "Empty app",
            "Mailbox report",
            "Old archive",
            "Payroll sync",
            "Vendor tool"
        ]
    );
    // Apps with no usable certificate first, then the soonest end; principals with nothing to
    // rotate last.
    assert_eq!(
        names(&view(&inv, &all, SortBy::DaysLeft)),
        [
            "Empty app",
            "Old archive",
            "Payroll sync",
            "Mailbox report",
            "Automation MI",
            "Vendor tool"
        ]
    );
    // Worst first; no certificates at all last.
    assert_eq!(
        names(&view(&inv, &all, SortBy::Status)),
        [
            "Old archive",
            "Payroll sync",
            "Mailbox report",
            "Automation MI",
            "Empty app",
            "Vendor tool"
        ]
    );
    // Most recent certificate use first (secrets do not count), never/unknown last.
    assert_eq!(
        names(&view(&inv, &all, SortBy::LastUse)),
        [
            "Payroll sync",
            "Mailbox report",
            "Old archive",
            "Automation MI",
            "Empty app",
            "Vendor tool"
        ]
    );
}

#[test]
fn the_table_filters_by_text_and_status() {
    let (inv, _) = fixture();
    let by = |text: &str, status: Option<Status>| {
        names(&view(
            &inv,
            &Filter {
                text: text.into(),
                status,
            },
            SortBy::Name,
        ))
    };
    assert_eq!(by("  PAYROLL ", None), ["Payroll sync"]);
    assert_eq!(by(&VENDOR[..13], None), ["Vendor tool"]);
    let thumb = cert(named(&inv, "Payroll sync"), KEY_C)
        .thumbprint
        .to_lowercase();
    assert_eq!(by(&thumb[..12], None), ["Payroll sync"]);
    assert_eq!(by(&thumb_of(KEY_M)[..12], None), ["Mailbox report"]);
    assert!(by("no such thing", None).is_empty());
    assert_eq!(
        by("", Some(Status::Expired)),
        ["Old archive", "Payroll sync"]
    );
    // "Expiring" shows the expired too: both need action.
    assert_eq!(
        by("", Some(Status::Expiring)),
        ["Old archive", "Payroll sync"]
    );
    assert_eq!(
        by("", Some(Status::Valid)),
        ["Mailbox report", "Payroll sync"]
    );
    assert!(by("", Some(Status::NotYetValid)).is_empty());
    assert_eq!(by("old", Some(Status::Expired)), ["Old archive"]);
    assert_eq!(by("", None).len(), 6);
}

// ---------------------------------------------------------------------------------------------
// change: refusals

#[test]
fn only_apps_of_this_tenant_can_be_changed() {
    let (inv, _) = fixture();
    for name in ["Automation MI", "Vendor tool"] {
        let p = named(&inv, name);
        for change in [Change::Remove(vec![]), Change::Rotate(json!({}))] {
            let refusal = change::check(p, &change, &[], NOW).expect_err(name);
            assert_eq!(refusal, Refusal::NotAnApp(name.into()));
            assert!(refusal.to_string().contains(name));
        }
    }
    let p = named(&inv, "Payroll sync");
    assert_eq!(
        change::check(p, &Change::Rotate(json!({})), &[], NOW),
        Ok(vec![])
    );
}

#[test]
fn nothing_or_unknown_key_ids_are_refused() {
    let (inv, _) = fixture();
    let p = named(&inv, "Payroll sync");
    for ids in [
        vec![],
        vec!["c0000000-0000-4000-8000-000000000000".to_owned()],
        vec![KEY_A.to_owned(), "nope".to_owned()],
        // A certificate of another app.
        vec![KEY_M.to_owned()],
    ] {
        let got = change::check(p, &Change::Remove(ids.clone()), &[], NOW);
        assert_eq!(got, Err(Refusal::NothingToRemove), "{ids:?}");
    }
    assert!(
        Refusal::NothingToRemove
            .to_string()
            .contains("read it again")
    );
}

#[test]
fn the_last_valid_certificate_is_never_removed() {
    let (inv, _) = fixture();
    let p = named(&inv, "Payroll sync");
    let (b, c) = (cert(p, KEY_B), cert(p, KEY_C));
    let everything: Vec<String> = [KEY_A, KEY_B, KEY_C].map(String::from).to_vec();
    let confirmed = everything.clone();
    for ids in [vec![KEY_B.to_owned(), KEY_C.to_owned()], everything] {
        let refusal = change::check(p, &Change::Remove(ids), &confirmed, NOW).expect_err("refused");
        let Refusal::LastValid { removing } = &refusal else {
            panic!("{refusal:?}")
        };
        assert!(removing.contains(&b.thumbprint) && removing.contains(&c.thumbprint));
        assert!(refusal.to_string().contains("Rotate first"));
    }
    // The only one: Mailbox report's single certificate.
    let m = named(&inv, "Mailbox report");
    assert!(matches!(
        change::check(m, &Change::Remove(vec![KEY_M.into()]), &[KEY_M.into()], NOW),
        Err(Refusal::LastValid { .. })
    ));
}

#[test]
fn expired_certificates_go_even_when_no_valid_one_is_left() {
    let (inv, _) = fixture();
    let archive = named(&inv, "Old archive");
    assert_eq!(change::expired(archive), [KEY_O]);
    // Used 60 days ago and expired: no confirmation needed.
    assert_eq!(
        change::check(
            archive,
            &Change::Remove(vec![KEY_O.to_uppercase()]),
            &[],
            NOW
        ),
        Ok(vec![KEY_O.to_owned()])
    );
    let p = named(&inv, "Payroll sync");
    assert_eq!(change::expired(p), [KEY_A]);
    assert_eq!(
        change::check(p, &Change::Remove(change::expired(p)), &[], NOW),
        Ok(vec![KEY_A.to_owned()])
    );
    assert!(change::expired(named(&inv, "Mailbox report")).is_empty());
}

#[test]
fn a_recently_used_certificate_needs_the_confirmation_naming_the_day() {
    let (inv, _) = fixture();
    let p = named(&inv, "Payroll sync");
    let b = cert(p, KEY_B);
    let remove_b = Change::Remove(vec![KEY_B.into()]);
    let refusal = change::check(p, &remove_b, &[], NOW).expect_err("needs confirmation");
    assert_eq!(
        refusal,
        Refusal::RecentlyUsed {
            thumbprint: b.thumbprint.clone(),
            on: Some("2026-11-30".into()),
        }
    );
    assert!(refusal.to_string().contains("2026-11-30"));
    assert_eq!(
        change::confirmation_text(b, NOW).as_deref(),
        Some(
            format!(
                "I know certificate {} was used to sign in on 2026-11-30; remove it anyway.",
                b.thumbprint
            )
            .as_str()
        )
    );
    // Confirming another certificate does not count; confirming this one (any case) does.
    assert!(change::check(p, &remove_b, &[KEY_C.into()], NOW).is_err());
    assert_eq!(
        change::check(p, &remove_b, &[KEY_B.to_uppercase()], NOW),
        Ok(vec![KEY_B.to_owned()])
    );
    // C was never used: no confirmation. A used 50 days ago and expired: none either.
    assert_eq!(change::confirmation_text(cert(p, KEY_C), NOW), None);
    assert_eq!(change::confirmation_text(cert(p, KEY_A), NOW), None);
    assert_eq!(
        change::check(p, &Change::Remove(vec![KEY_C.into()]), &[], NOW),
        Ok(vec![KEY_C.to_owned()])
    );
    // Used 20 days ago (Mailbox report's certificate): not recent, nothing to confirm.
    let m = named(&inv, "Mailbox report");
    assert_eq!(change::confirmation_text(&m.certificates[0], NOW), None);
}

#[test]
fn unknown_last_use_needs_confirmation_for_a_valid_certificate_only() {
    let (inv, _) = fixture_with(Usage::Unavailable(UsageGap::Licence));
    let p = named(&inv, "Payroll sync");
    let c = cert(p, KEY_C);
    assert_eq!(c.last_used, LastUse::Unknown);
    let remove_c = Change::Remove(vec![KEY_C.into()]);
    let refusal = change::check(p, &remove_c, &[], NOW).expect_err("unknown use");
    assert_eq!(
        refusal,
        Refusal::RecentlyUsed {
            thumbprint: c.thumbprint.clone(),
            on: None
        }
    );
    assert!(refusal.to_string().contains("unknown"));
    assert!(change::confirmation_text(c, NOW).is_some_and(|t| t.contains("last used is unknown")));
    assert_eq!(
        change::check(p, &remove_c, &[KEY_C.into()], NOW),
        Ok(vec![KEY_C.to_owned()])
    );
    // The expired one goes without a confirmation: nothing can sign in with it.
    assert_eq!(
        change::check(p, &Change::Remove(vec![KEY_A.into()]), &[], NOW),
        Ok(vec![KEY_A.to_owned()])
    );
    // A mix: the expired needs nothing, the valid one its confirmation.
    let both = Change::Remove(vec![KEY_A.into(), KEY_C.into()]);
    assert!(change::check(p, &both, &[], NOW).is_err());
    assert_eq!(
        change::check(p, &both, &[KEY_C.into()], NOW),
        Ok(vec![KEY_A.to_owned(), KEY_C.to_owned()])
    );
}

// ---------------------------------------------------------------------------------------------
// change: plans

#[test]
fn a_rotation_adds_one_and_keeps_everything() {
    let (inv, _) = fixture();
    let p = named(&inv, "Payroll sync");
    let (new, made) = real(
        "Payroll EXO 2027",
        NOW,
        365,
        "c0000009-0000-4000-8000-000000000009",
    );
    let change = Change::Rotate(new.clone());
    let removing = change::check(p, &change, &[], NOW).expect("allowed");
    let plan = change::plan(p, &change, &removing);
    let actions: Vec<&str> = plan.lines.iter().map(|l| l.action).collect();
    assert_eq!(actions, ["add", "keep", "keep", "keep", "keep"]);
    assert!(plan.lines[0].text.contains(&made.thumbprints().sha1_hex));
    assert!(plan.lines[0].text.contains("CN=Payroll EXO 2027"));
    assert!(plan.lines[1].text.contains(&thumb_of(KEY_A)));
    assert!(plan.lines[1].text.contains("expired"));
    assert!(plan.lines[2].text.contains("last used 2026-11-30"));
    assert!(plan.lines[3].text.contains("last used never"));
    assert_eq!(
        plan.lines[4].text,
        "1 declared API permission (unchanged, not sent)"
    );
    assert_eq!(plan.requests.len(), 3);
    assert!(plan.requests[0].starts_with("GET /applications/o0000001?$select="));
    let patch = &plan.requests[1];
    assert!(patch.starts_with("PATCH /applications/o0000001\n"));
    for k in [KEY_A, KEY_B, KEY_C] {
        assert!(patch.contains(k), "{k} kept");
    }
    assert!(patch.contains("<the new public certificate>"));
    // The plan shows placeholders, not the certificates themselves.
    let all = plan.requests.join("\n");
    assert!(!all.contains(new["key"].as_str().expect("key")));
}

#[test]
fn a_removal_removes_exactly_what_was_checked() {
    let (inv, _) = fixture();
    let p = named(&inv, "Payroll sync");
    let change = Change::Remove(vec![KEY_A.to_uppercase()]);
    let removing = change::check(p, &change, &[], NOW).expect("allowed");
    let plan = change::plan(p, &change, &removing);
    let actions: Vec<(&str, bool)> = plan
        .lines
        .iter()
        .map(|l| (l.action, l.text.contains(&thumb_of(KEY_A))))
        .collect();
    assert_eq!(
        actions,
        [
            ("remove", true),
            ("keep", false),
            ("keep", false),
            ("keep", false)
        ]
    );
    let patch = &plan.requests[1];
    assert!(!patch.contains(KEY_A));
    assert!(patch.contains(KEY_B) && patch.contains(KEY_C));
    assert!(!patch.contains("<the new public certificate>"));

    // Secrets and permissions are kept and said so.
    let m = named(&inv, "Mailbox report");
    let plan = change::plan(m, &Change::Rotate(real("M", NOW, 30, KEY_O).0), &[]);
    let kept: Vec<&str> = plan.lines.iter().map(|l| l.text.as_str()).collect();
    assert!(kept.contains(&"1 declared API permission (unchanged, not sent)"));
    assert!(
        kept.iter()
            .any(|t| t.starts_with("1 client secret(s) (not sent"))
    );
}

// ---------------------------------------------------------------------------------------------
// export: CSV

/// An RFC 4180 reader that fails on anything the RFC does not allow.
fn read_csv(text: &str) -> Vec<Vec<String>> {
    let text = text.strip_prefix(export::BOM).expect("BOM");
    let mut rows = vec![];
    let mut row = vec![];
    let mut field = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                    assert!(
                        matches!(chars.peek(), Some(',' | '\r') | None),
                        "text after a closing quote"
                    );
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                assert!(field.is_empty() && !was_quoted, "quote inside a field");
                quoted = true;
                was_quoted = true;
            }
            ',' => {
                row.push(std::mem::take(&mut field));
                was_quoted = false;
            }
            '\r' => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF");
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                was_quoted = false;
            }
            '\n' => panic!("LF without CR"),
            c => field.push(c),
        }
    }
    assert!(!quoted, "unterminated quote");
    assert!(
        field.is_empty() && row.is_empty(),
        "the last record ends with CRLF"
    );
    rows
}

fn as_maps(rows: &[Vec<String>]) -> Vec<std::collections::BTreeMap<String, String>> {
    rows[1..]
        .iter()
        .map(|r| {
            assert_eq!(r.len(), rows[0].len(), "{r:?}");
            rows[0].iter().cloned().zip(r.iter().cloned()).collect()
        })
        .collect()
}

#[test]
fn the_csv_has_a_row_per_credential_and_per_bare_principal() {
    let (inv, made) = fixture();
    let text = export::csv(&inv);
    let rows = read_csv(&text);
    assert_eq!(rows[0], export::COLUMNS);
    let maps = as_maps(&rows);
    // 5 certificates, 1 secret, 3 principals with neither.
    assert_eq!(maps.len(), 9);
    let kinds: Vec<(&str, &str)> = maps
        .iter()
        .map(|m| (m["principal"].as_str(), m["credentialType"].as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("Automation MI", "none"),
            ("Empty app", "none"),
            ("Mailbox report", "certificate"),
            ("Mailbox report", "clientSecret"),
            ("Old archive", "certificate"),
            ("Payroll sync", "certificate"),
            ("Payroll sync", "certificate"),
            ("Payroll sync", "certificate"),
            ("Vendor tool", "none"),
        ]
    );
    let c = maps.iter().find(|m| m["keyId"] == KEY_C).expect("C's row");
    assert_eq!(c["thumbprint"], made.thumbprints().sha1_hex);
    assert_eq!(c["subject"], "CN=Payroll EXO");
    assert_eq!(c["keyBits"], "2048");
    assert_eq!(c["daysLeft"], "200");
    assert_eq!(c["lifetimeDays"], "400");
    assert_eq!(c["status"], "valid");
    assert_eq!(c["lastUsed"], "never");
    assert_eq!(c["roles"], "Exchange Administrator");
    assert_eq!(c["appObjectId"], "o0000001");
    assert_eq!(c["kind"], "app registration");
    assert_eq!(c["granted"], "2025-11-01T08:00:00Z");
    assert_eq!(c["end"], when::rfc3339(made.not_after().0 as i64));
    assert!(c["warnings"].contains("longer than the 365 days"));
    // A negative number stays a number.
    let a = maps.iter().find(|m| m["keyId"] == KEY_A).expect("A's row");
    assert_eq!(
        (a["daysLeft"].as_str(), a["status"].as_str()),
        ("-40", "expired")
    );
    assert_eq!(a["lastUsed"], "2026-10-13");
    let s = maps
        .iter()
        .find(|m| m["credentialType"] == "clientSecret")
        .expect("secret row");
    assert_eq!(
        (s["keyId"].as_str(), s["displayName"].as_str()),
        (SECRET_M, "legacy")
    );
    assert_eq!((s["thumbprint"].as_str(), s["keyBits"].as_str()), ("", ""));
    assert_eq!(
        s["warnings"],
        maps.iter().find(|m| m["keyId"] == KEY_M).expect("m")["warnings"]
    );
    let mi = &maps[0];
    assert_eq!(
        (mi["kind"].as_str(), mi["appObjectId"].as_str()),
        ("managed identity", "")
    );
    assert_eq!(mi["roles"], "Exchange Administrator");
    // No key material, no secret text.
    assert!(!text.contains(&STANDARD.encode(made.der())[..40]));
    assert!(!text.contains("Q~x"));
    assert_eq!(
        export::csv_file_name(NOW),
        "unattended-inventory-2026-12-02.csv"
    );
    assert_eq!(
        export::json_file_name(NOW),
        "unattended-inventory-2026-12-02.json"
    );
}

#[test]
fn csv_fields_are_quoted_and_formulas_defused() {
    let (mut inv, _) = fixture();
    let hostile = [
        "=HYPERLINK(\"http://evil.example\",\"x\")",
        "+SUM(1,2)",
        "-2+3",
        "@SUM(A1)",
        "\tTabbed",
        "\rReturn",
        "Ops, \"nightly\"\r\nsecond line",
        "Plain – ünïcödé 名前",
    ];
    for (p, name) in inv.principals.iter_mut().zip(&hostile[..6]) {
        p.display_name = (*name).into();
    }
    // Payroll sync (now "\rReturn") and Mailbox report ("-2+3"), by position.
    inv.principals[4].certificates[0].display_name = hostile[6].into();
    inv.principals[4].certificates[1].display_name = hostile[7].into();
    inv.principals[2].certificates[0].display_name = "=cmd|' /C calc'!A0".into();
    let text = export::csv(&inv);
    let maps = as_maps(&read_csv(&text));
    let principals: BTreeSet<String> = maps.iter().map(|m| m["principal"].clone()).collect();
    for name in &hostile[..6] {
        assert!(principals.contains(&format!("'{name}")), "{name:?} defused");
    }
    let shown: BTreeSet<String> = maps.iter().map(|m| m["displayName"].clone()).collect();
    assert!(shown.contains(hostile[6]), "quoted, kept verbatim");
    assert!(shown.contains(hostile[7]));
    assert!(text.contains("\"Ops, \"\"nightly\"\"\r\nsecond line\""));
    assert!(text.contains("\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\""));
    assert!(
        maps.iter()
            .any(|m| m["displayName"] == "'=cmd|' /C calc'!A0")
    );
    // Numbers are not touched: -40 days left is a number, not text.
    assert!(maps.iter().any(|m| m["daysLeft"] == "-40"));
    // Every record ends with CRLF and the reader found the same number of fields on each.
    assert!(text.ends_with("\r\n"));
    assert_eq!(export::defuse("safe"), "safe");
    assert_eq!(export::defuse(""), "");
    assert_eq!(export::field("a\"b"), "\"a\"\"b\"");
    assert_eq!(export::field("a b"), "a b");
}

// ---------------------------------------------------------------------------------------------
// export: JSON

fn keys_anywhere(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                out.insert(k.clone());
                keys_anywhere(v, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| keys_anywhere(v, out)),
        _ => {}
    }
}

#[test]
fn the_json_carries_the_inventory_and_no_key_material() {
    let (inv, made) = fixture_with(Usage::Unavailable(UsageGap::Licence));
    let text = export::json(&inv);
    let doc: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(doc["tool"], "unattended");
    assert_eq!(doc["readAt"], "2026-12-02T12:00:00Z");
    assert_eq!(doc["complete"], true);
    assert_eq!(doc["maxCertificateDays"], 365);
    assert_eq!(doc["lastUseAvailable"], false);
    assert_eq!(doc["usageGap"]["missing"], "licence");
    assert_eq!(doc["usageGap"]["text"], UsageGap::Licence.to_string());
    let principals = doc["principals"].as_array().expect("principals");
    assert_eq!(principals.len(), 6);
    let payroll = principals
        .iter()
        .find(|p| p["displayName"] == "Payroll sync")
        .expect("payroll");
    assert_eq!(payroll["kind"], "app");
    assert_eq!(payroll["roleNames"], json!(["Exchange Administrator"]));
    assert_eq!(payroll["certificates"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        payroll["certificates"][2]["thumbprint"],
        made.thumbprints().sha1_hex
    );
    assert_eq!(payroll["certificates"][2]["keyBits"], 2048);
    assert_eq!(payroll["certificates"][2]["lastUsed"]["kind"], "unknown");
    assert_eq!(payroll["warnings"].as_array().map(Vec::len), Some(1));
    let mailbox = principals
        .iter()
        .find(|p| p["displayName"] == "Mailbox report")
        .expect("mailbox");
    assert_eq!(mailbox["secrets"][0]["keyId"], SECRET_M);

    // No key material anywhere: no `key`, no secret value or hint, no raw app, no DER.
    let mut keys = BTreeSet::new();
    keys_anywhere(&doc, &mut keys);
    for never in [
        "key",
        "secretText",
        "hint",
        "app",
        "keyCredentials",
        "passwordCredentials",
    ] {
        assert!(!keys.contains(never), "{never} in {keys:?}");
    }
    let der = STANDARD.encode(made.der());
    assert!(!text.contains(&der[..40]));
    assert!(!text.contains("MII"), "no base64 certificate");
    assert!(!text.contains("Q~x"));
    // With the report read, no gap.
    let (read, _) = fixture();
    let doc: Value = serde_json::from_str(&export::json(&read)).expect("JSON");
    assert_eq!(doc["usageGap"], Value::Null);
    assert_eq!(doc["lastUseAvailable"], true);
}

// ---------------------------------------------------------------------------------------------
// reminders

/// Physical lines (without CRLF), checking every line ends with CRLF.
fn physical(ics: &str) -> Vec<&str> {
    assert!(ics.ends_with("\r\n"));
    let lines: Vec<&str> = ics
        .strip_suffix("\r\n")
        .expect("CRLF")
        .split("\r\n")
        .collect();
    for l in &lines {
        assert!(!l.contains(['\r', '\n']), "bare CR or LF in {l:?}");
        assert!(l.len() <= 75, "{} octets: {l}", l.len());
    }
    lines
}

/// Content lines, unfolded (RFC 5545 §3.1).
fn unfolded(ics: &str) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for l in physical(ics) {
        match l.strip_prefix(' ') {
            Some(rest) => out
                .last_mut()
                .expect("continuation after a line")
                .push_str(rest),
            None => out.push(l.to_owned()),
        }
    }
    out
}

#[test]
fn the_calendar_has_an_event_per_certificate_with_two_alarms() {
    let (inv, made) = fixture();
    let ics = reminders::calendar(&inv, NOW);
    let lines = unfolded(&ics);
    let prodid = format!("PRODID:{}", reminders::PRODID);
    assert_eq!(
        lines[..5],
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            prodid.as_str(),
            "CALSCALE:GREGORIAN",
            "METHOD:PUBLISH"
        ]
    );
    assert_eq!(lines.last().map(String::as_str), Some("END:VCALENDAR"));
    let count = |l: &str| lines.iter().filter(|x| *x == l).count();
    assert_eq!(count("BEGIN:VEVENT"), inv.certificates().count());
    assert_eq!(count("BEGIN:VEVENT"), 5);
    assert_eq!(count("END:VEVENT"), 5);
    assert_eq!(count("BEGIN:VALARM"), 10);
    assert_eq!(count("TRIGGER:-P30D"), 5);
    assert_eq!(count("TRIGGER:-P7D"), 5);
    assert_eq!(count("ACTION:DISPLAY"), 10);
    assert_eq!(count("DTSTAMP:20261202T120000Z"), 5);
    // Every content line is NAME:value with a known name.
    for l in &lines {
        let name = l.split([':', ';']).next().expect("name");
        assert!(
            [
                "BEGIN",
                "END",
                "VERSION",
                "PRODID",
                "CALSCALE",
                "METHOD",
                "X-WR-CALNAME",
                "UID",
                "DTSTAMP",
                "DTSTART",
                "DURATION",
                "TRANSP",
                "SUMMARY",
                "DESCRIPTION",
                "ACTION",
                "TRIGGER"
            ]
            .contains(&name),
            "{l}"
        );
    }
    // Each event: UID, the certificate's end as DTSTART, summary and description.
    let uids: BTreeSet<&String> = lines.iter().filter(|l| l.starts_with("UID:")).collect();
    assert_eq!(uids.len(), 5);
    let payroll = named(&inv, "Payroll sync");
    let c = cert(payroll, KEY_C);
    let uid = format!("UID:{}", reminders::uid(payroll, c));
    assert_eq!(uid, format!("UID:{KEY_C}.{PAYROLL}@unattended"));
    let at = lines.iter().position(|l| *l == uid).expect("C's event");
    let event = &lines[at - 1..at + 18];
    assert_eq!(event[0], "BEGIN:VEVENT");
    assert_eq!(event[18], "END:VEVENT");
    let end = reminders::utc(made.not_after().0 as i64).expect("end");
    assert_eq!(event[3], format!("DTSTART:{end}"));
    assert_eq!(event[4], "DURATION:PT30M");
    assert_eq!(
        event[6],
        "SUMMARY:Payroll sync: Exchange automation certificate expires"
    );
    let description = &event[7];
    for needle in [
        made.thumbprints().sha1_hex.as_str(),
        PAYROLL,
        KEY_C,
        &when::rfc3339(made.not_after().0 as i64),
        "Inventory",
        "Rotate",
        "new thumbprint",
        "Remove old",
    ] {
        assert!(description.contains(needle), "{needle} in {description}");
    }
    // The expired one says so.
    let a_uid = format!("UID:{KEY_A}.{PAYROLL}@unattended");
    let a = lines.iter().position(|l| *l == a_uid).expect("A's event");
    assert!(
        lines[a + 5].starts_with("SUMMARY:Payroll sync: Exchange automation certificate expired")
    );
    // Stable: another day's export has the same UIDs (an import updates).
    let later = reminders::calendar(&inv, NOW + 7 * DAY);
    let later_uids: BTreeSet<String> = unfolded(&later)
        .into_iter()
        .filter(|l| l.starts_with("UID:"))
        .collect();
    assert_eq!(later_uids, uids.into_iter().cloned().collect());
    assert_eq!(
        reminders::file_name(NOW),
        "unattended-certificates-2026-12-02.ics"
    );
    // An inventory without certificates is still a valid, empty calendar.
    let empty = Inventory {
        principals: vec![],
        ..inv
    };
    assert_eq!(unfolded(&reminders::calendar(&empty, NOW)).len(), 7);
}

#[test]
fn calendar_text_is_escaped_and_folded() {
    assert_eq!(
        reminders::escape_text("a\\b;c,d\ne\r\nf\rg:\"h\"\u{7}\ti"),
        "a\\\\b\\;c\\,d\\ne\\nf\\ng:\"h\"\ti"
    );
    let (mut inv, _) = fixture();
    let name = "Ops; nightly, \\backup\\\nsecond line – 證書 ünïcödé ".repeat(3);
    let payroll = inv
        .principals
        .iter_mut()
        .find(|p| p.app_id == PAYROLL)
        .expect("payroll");
    payroll.display_name = name.clone();
    let ics = reminders::calendar(&inv, NOW);
    // Physical lines at most 75 octets, CRLF everywhere (checked by `physical`), and some lines
    // were folded — never inside a character (each physical line is valid UTF-8 on its own).
    let lines = physical(&ics);
    assert!(lines.iter().filter(|l| l.starts_with(' ')).count() > 10);
    for l in &lines {
        assert!(std::str::from_utf8(l.as_bytes()).is_ok());
    }
    let content = unfolded(&ics);
    let summary = format!(
        "SUMMARY:{}: Exchange automation certificate expires",
        reminders::escape_text(&name)
    );
    assert!(content.contains(&summary), "{summary}");
    assert!(summary.contains("Ops\\; nightly\\, \\\\backup\\\\\\nsecond line"));
    // Unfolding gives back exactly what was folded.
    let refolded: String = content.iter().map(|l| crate::snippets::fold(l)).collect();
    assert_eq!(refolded, ics);
}

/// Writes the exports of the fixture where `tests/e2e/lib/check_exports.py` can be tried on
/// them by hand: `target/lifecycle-samples/`.
#[test]
fn samples_for_the_python_checker() {
    let (mut inv, _) = fixture();
    inv.principals[0].display_name = "Automation MI, \"ops\" – 證書".into();
    let payroll = inv
        .principals
        .iter_mut()
        .find(|p| p.app_id == PAYROLL)
        .expect("payroll");
    payroll.display_name =
        "=Payroll; sync, nightly \\ ünïcödé 證書 with a long name to fold".into();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/lifecycle-samples");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("inventory.ics"), reminders::calendar(&inv, NOW)).expect("ics");
    std::fs::write(dir.join("inventory.csv"), export::csv(&inv)).expect("csv");
    std::fs::write(dir.join("inventory.json"), export::json(&inv)).expect("json");
}
