//! The `lifecycle` fixture and day-two reads: the inventory's paged `appRoleAssignedTo`, the
//! `(appId=…)` reads with keys and secrets, the beta credential usage report (shape, paging,
//! refusals, recording and lag), rotation's PATCH and the refusal of a removed certificate.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs8::DecodePrivateKey;
use serde_json::{Value, json};

use super::identity_tests::{EXO, access_claims, assertion, claims, token};
use super::tests::{call, call_as, call_with, sim, token_for};
use crate::lifecycle::{DECLARED_ONLY, FULL_ACCESS_DECOY, VENDOR_APP, VENDOR_TENANT};
use crate::tenant::{EXCHANGE_APP_ID, MANAGE_AS_APP};

const REPORT: &str = "/beta/reports/appCredentialSignInActivities";
const SELECT_ARA: &str = "$select=id,appRoleId,principalId,principalType,principalDisplayName,resourceId,createdDateTime";
const SELECT_APP: &str = "$select=id,appId,displayName,keyCredentials,passwordCredentials,requiredResourceAccess,createdDateTime";

async fn facts(app: &axum::Router) -> Value {
    call(app, "GET", "/_sim/fixture", None).await.1
}

fn named<'a>(facts: &'a Value, name: &str) -> &'a Value {
    facts["applications"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["displayName"] == name))
        .unwrap_or_else(|| panic!("no application {name}"))
}

/// A Graph call with an explicit bearer token.
async fn with_token(app: &axum::Router, token: &str, uri: &str) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let (status, body) = call_with(app, "GET", uri, None, &[("authorization", &auth)]).await;
    (status.as_u16(), body)
}

/// The path and query of an absolute nextLink.
fn relative(link: &str) -> String {
    let url = url::Url::parse(link).expect("absolute nextLink");
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

/// Reads every page of a collection; returns the items and the page of each.
async fn all_pages(app: &axum::Router, token: &str, first: &str) -> Vec<(usize, Value)> {
    let mut out = Vec::new();
    let mut next = Some(first.to_owned());
    let mut page = 0;
    while let Some(uri) = next.take() {
        page += 1;
        let (status, body) = with_token(app, token, &uri).await;
        assert_eq!(status, 200, "{uri}: {body}");
        for item in body["value"].as_array().expect("value") {
            out.push((page, item.clone()));
        }
        next = body["@odata.nextLink"].as_str().map(relative);
    }
    out
}

#[tokio::test]
async fn exactly_the_real_holders_hold_manage_as_app_and_one_is_on_page_two() {
    let app = sim("lifecycle");
    let token = token_for(&app, "admin", None).await;
    let (_, exo) = with_token(
        &app,
        &token,
        &format!("/v1.0/servicePrincipals(appId='{EXCHANGE_APP_ID}')?$select=id"),
    )
    .await;
    let exo = exo["id"].as_str().expect("exchange sp").to_owned();
    let items = all_pages(
        &app,
        &token,
        &format!("/v1.0/servicePrincipals/{exo}/appRoleAssignedTo?{SELECT_ARA}"),
    )
    .await;
    assert!(items.len() > 100, "spans two pages at the default size");
    assert!(items.iter().all(|(_, a)| a["createdDateTime"].is_string()));
    let mut holders: Vec<(usize, String)> = items
        .iter()
        .filter(|(_, a)| {
            a["appRoleId"] == MANAGE_AS_APP && a["principalType"] == "ServicePrincipal"
        })
        .map(|(p, a)| {
            (
                *p,
                a["principalDisplayName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    holders.sort_by(|a, b| a.1.cmp(&b.1));
    let names: Vec<&str> = holders.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "Archive exporter",
            "Fabrikam Mail Archiver",
            "Helpdesk automation",
            "Legacy EXO reports",
            "Nightly mailbox audit",
            "Payroll mailbox export",
            "contoso-automation",
        ]
    );
    assert!(
        holders
            .iter()
            .any(|(p, n)| *p == 2 && n == "Nightly mailbox audit")
    );
    assert!(!names.contains(&DECLARED_ONLY) && !names.contains(&FULL_ACCESS_DECOY));
    // The decoys exist: one declares the permission, one holds another Exchange role.
    let f = facts(&app).await;
    named(&f, DECLARED_ONLY);
    assert!(
        items
            .iter()
            .any(|(_, a)| a["principalDisplayName"] == FULL_ACCESS_DECOY)
    );
    let holders_in_facts = f["manageAsAppHolders"].as_array().expect("holders");
    assert_eq!(holders_in_facts.len(), 7);
    let vendor = holders_in_facts
        .iter()
        .find(|h| h["displayName"] == VENDOR_APP)
        .expect("vendor");
    assert_eq!(vendor["localApplication"], false);
    assert_eq!(vendor["appOwnerOrganizationId"], VENDOR_TENANT);
}

#[tokio::test]
async fn fixture_certificates_have_the_promised_ages_and_usage() {
    let app = sim("lifecycle");
    let f = facts(&app).await;
    let days = |name: &str, i: usize| {
        named(&f, name)["certificates"][i]["daysLeft"]
            .as_f64()
            .expect("days")
    };
    let near = |d: f64, want: f64| (d - want).abs() < 1.0;
    assert!(near(days("Payroll mailbox export", 0), 300.0));
    assert!(near(days("Legacy EXO reports", 0), -20.0));
    assert!(near(days("Legacy EXO reports", 1), 200.0));
    assert!(near(days("Nightly mailbox audit", 0), 12.0));
    assert!(near(days("Nightly mailbox audit", 1), 340.0));
    assert!(days("Archive exporter", 0) > 365.0);
    assert!(named(&f, "Nightly mailbox audit")["certificates"][1]["lastUsedDateTime"].is_null());
    assert!(named(&f, "Nightly mailbox audit")["certificates"][0]["lastUsedDateTime"].is_string());
    assert_eq!(
        named(&f, "Helpdesk automation")["secrets"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(f["policyMaxCertificateLifetimeDays"], 365);
    let reader = f["users"].as_array().and_then(|u| {
        u.iter()
            .find(|x| x["userPrincipalName"] == "reader@contoso.onmicrosoft.com")
    });
    assert_eq!(reader.expect("reader")["mayReadCredentialReport"], true);
}

#[tokio::test]
async fn reads_by_app_id_carry_keys_and_secrets_without_their_text() {
    let app = sim("lifecycle");
    let f = facts(&app).await;
    let helpdesk = named(&f, "Helpdesk automation")["appId"]
        .as_str()
        .expect("appId")
        .to_owned();
    let uri = format!("/v1.0/applications(appId='{helpdesk}')?{SELECT_APP}");
    let (status, one) = call(&app, "GET", &uri, None).await;
    assert_eq!(status, 200, "{one}");
    assert!(
        one["keyCredentials"][0]["key"].is_string(),
        "single read: key present"
    );
    assert!(one["createdDateTime"].is_string());
    let secret = &one["passwordCredentials"][0];
    for field in [
        "keyId",
        "displayName",
        "hint",
        "startDateTime",
        "endDateTime",
    ] {
        assert!(secret[field].is_string(), "{field}: {secret}");
    }
    assert!(secret["customKeyIdentifier"].is_null());
    assert!(secret.get("secretText").is_none(), "never on a read");
    // Lists: secrets too, never the key.
    let (_, list) = call(
        &app,
        "GET",
        &format!("/v1.0/applications?$filter=appId eq '{helpdesk}'&$select=id,passwordCredentials,keyCredentials"),
        None,
    )
    .await;
    assert!(list["value"][0]["keyCredentials"][0]["key"].is_null());
    assert_eq!(
        list["value"][0]["passwordCredentials"][0]["hint"],
        secret["hint"]
    );
    // The same read in a $batch, and the vendor app (its application lives elsewhere): 404.
    let vendor = f["manageAsAppHolders"]
        .as_array()
        .and_then(|h| h.iter().find(|x| x["displayName"] == VENDOR_APP))
        .and_then(|x| x["appId"].as_str())
        .expect("vendor")
        .to_owned();
    let batch = json!({ "requests": [
        { "id": "1", "method": "GET", "url": format!("/applications(appId='{helpdesk}')?{SELECT_APP}") },
        { "id": "2", "method": "GET", "url": format!("/applications(appId='{vendor}')?{SELECT_APP}") },
    ]});
    let (status, answer) = call(&app, "POST", "/v1.0/$batch", Some(batch)).await;
    assert_eq!(status, 200);
    let responses = answer["responses"].as_array().expect("responses");
    let by = |id: &str| responses.iter().find(|r| r["id"] == id).expect("response");
    assert_eq!(by("1")["status"], 200);
    assert!(by("1")["body"]["keyCredentials"][0]["key"].is_string());
    assert_eq!(by("2")["status"], 404);
    assert_eq!(by("2")["body"]["error"]["code"], "Request_ResourceNotFound");
}

fn reader_scopes() -> Vec<&'static str> {
    vec!["User.Read", "Application.Read.All", "AuditLog.Read.All"]
}

#[tokio::test]
async fn the_report_has_graphs_shape_and_pages_under_beta() {
    let app = sim("lifecycle");
    let token = token_for(&app, "reader", Some(&reader_scopes())).await;
    let (status, body) = with_token(&app, &token, REPORT).await;
    assert_eq!(status, 200, "{body}");
    let entries = body["value"].as_array().expect("value");
    assert!(entries.len() >= 6, "{body}");
    for e in entries {
        for field in [
            "id",
            "keyId",
            "keyType",
            "keyUsage",
            "appId",
            "appObjectId",
            "servicePrincipalObjectId",
            "resourceId",
            "credentialOrigin",
        ] {
            assert!(e[field].is_string(), "{field} in {e}");
        }
        assert!(e["signInActivity"]["lastSignInDateTime"].is_string());
        assert!(e["signInActivity"]["lastSuccessfulSignInRequestId"].is_string());
    }
    assert!(entries.iter().any(|e| e["keyType"] == "clientSecret"));
    // Paging: absolute nextLinks under /beta that keep the filter.
    let f = facts(&app).await;
    let payroll = named(&f, "Payroll mailbox export")["appId"]
        .as_str()
        .expect("appId")
        .to_owned();
    let (_, first) = with_token(
        &app,
        &token,
        &format!("{REPORT}?$top=1&$filter=appId eq '{payroll}'"),
    )
    .await;
    let link = first["@odata.nextLink"].as_str().expect("nextLink");
    assert!(
        link.starts_with("http://")
            && link.contains("/beta/reports/appCredentialSignInActivities?"),
        "{link}"
    );
    let (_, second) = with_token(&app, &token, &relative(link)).await;
    assert_eq!(second["value"][0]["appId"], payroll.as_str());
    assert!(
        second.get("@odata.nextLink").is_none(),
        "two Payroll entries: current and removed"
    );
    // keyId filter.
    let nightly_old = named(&f, "Nightly mailbox audit")["certificates"][0]["keyId"]
        .as_str()
        .expect("keyId")
        .to_owned();
    let (_, one) = with_token(
        &app,
        &token,
        &format!("{REPORT}?$filter=keyId eq '{nightly_old}'"),
    )
    .await;
    assert_eq!(one["value"].as_array().map(Vec::len), Some(1));
    // Not in v1.0.
    let (status, v1) =
        with_token(&app, &token, "/v1.0/reports/appCredentialSignInActivities").await;
    assert_eq!(status, 400, "{v1}");
}

#[tokio::test]
async fn the_report_refuses_scope_then_role_then_licence() {
    let app = sim("lifecycle");
    // No AuditLog.Read.All in the token (the page's five onboarding scopes).
    let plain = token_for(&app, "admin", None).await;
    let (status, body) = with_token(&app, &plain, REPORT).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("Authentication_MSGraphPermissionMissing"))
    );
    // The scope, but a role that may not read reports.
    let appadmin = token_for(&app, "appadmin", Some(&reader_scopes())).await;
    let (status, body) = with_token(&app, &appadmin, REPORT).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("Authentication_RequestFromUnsupportedUserRole"))
    );
    // The tenant without P1/P2 refuses even the reader; the role check comes first.
    call(
        &app,
        "POST",
        "/_sim/faults",
        Some(json!({ "noPremiumLicence": true })),
    )
    .await;
    let reader = token_for(&app, "reader", Some(&reader_scopes())).await;
    let (status, body) = with_token(&app, &reader, REPORT).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (
            403,
            Some("Authentication_RequestFromNonPremiumTenantOrB2CTenant")
        )
    );
    let (status, body) = with_token(&app, &appadmin, REPORT).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("Authentication_RequestFromUnsupportedUserRole"))
    );
    // The reader may read, not write.
    let (status, _) = call_as(
        &app,
        "reader",
        "POST",
        "/v1.0/applications",
        Some(json!({"displayName": "x"})),
    )
    .await;
    assert_eq!(status, 403);
}

/// The fixture certificate's key and certificate, from the test-only endpoint.
async fn fixture_key(
    app: &axum::Router,
    key_id: &str,
) -> (rsa::RsaPrivateKey, unattended::forge::Certificate) {
    let (status, body) = call(app, "GET", &format!("/_sim/fixture/key/{key_id}"), None).await;
    assert_eq!(status, 200, "{body}");
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(body["privateKeyPem"].as_str().expect("pem"))
        .expect("key");
    let pem = body["certificatePem"].as_str().expect("cert");
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(b64).expect("der");
    let cert = crate::lifecycle::certificates()
        .iter()
        .find(|c| c.certificate.der() == der.as_slice())
        .expect("a fixture certificate")
        .certificate
        .clone();
    (key, cert)
}

#[tokio::test]
async fn a_certificate_sign_in_shows_in_the_report_after_the_lag() {
    let app = sim("lifecycle");
    let f = facts(&app).await;
    let nightly = named(&f, "Nightly mailbox audit");
    let client = nightly["appId"].as_str().expect("appId").to_owned();
    let fresh = nightly["certificates"][1]["keyId"]
        .as_str()
        .expect("keyId")
        .to_owned();
    assert!(nightly["certificates"][1]["lastUsedDateTime"].is_null());
    call(
        &app,
        "POST",
        "/_sim/faults",
        Some(json!({ "reportLagSecs": 3600 })),
    )
    .await;
    let (key, cert) = fixture_key(&app, &fresh).await;
    let (status, body) = token(
        &app,
        &client,
        &assertion(&key, &cert, true, claims(&client)),
        EXO,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        access_claims(&body)["roles"],
        json!(["Exchange.ManageAsApp"])
    );
    let reader = token_for(&app, "reader", Some(&reader_scopes())).await;
    let uri = format!("{REPORT}?$filter=keyId eq '{fresh}'");
    let (_, before) = with_token(&app, &reader, &uri).await;
    assert_eq!(before["value"], json!([]), "not yet: the report lags");
    call(
        &app,
        "POST",
        "/_sim/clock",
        Some(json!({ "advanceMs": 3_601_000 })),
    )
    .await;
    let reader = token_for(&app, "reader", Some(&reader_scopes())).await;
    let (_, after) = with_token(&app, &reader, &uri).await;
    let entry = &after["value"][0];
    assert_eq!(entry["keyType"], "certificate");
    assert_eq!(entry["appId"], client.as_str());
    assert!(entry["signInActivity"]["lastSignInDateTime"].is_string());
}

#[tokio::test]
async fn rotation_patches_the_full_array_and_a_removed_certificate_is_refused() {
    let app = sim("lifecycle");
    let f = facts(&app).await;
    let nightly = named(&f, "Nightly mailbox audit");
    let (client, id) = (
        nightly["appId"].as_str().expect("appId").to_owned(),
        nightly["id"].as_str().expect("id").to_owned(),
    );
    let old = nightly["certificates"][0]["keyId"]
        .as_str()
        .expect("old")
        .to_owned();
    let (old_key, old_cert) = fixture_key(&app, &old).await;
    let (status, _) = token(
        &app,
        &client,
        &assertion(&old_key, &old_cert, false, claims(&client)),
        EXO,
    )
    .await;
    assert_eq!(status, 200, "works before the removal");
    // Read (key included), drop the old entry, send the rest back verbatim.
    let (_, current) = call(
        &app,
        "GET",
        &format!("/v1.0/applications(appId='{client}')?{SELECT_APP}"),
        None,
    )
    .await;
    let kept: Vec<Value> = current["keyCredentials"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| k["keyId"] != old.as_str())
        .cloned()
        .collect();
    assert_eq!(kept.len(), 1);
    let (status, body) = call(
        &app,
        "PATCH",
        &format!("/v1.0/applications/{id}"),
        Some(json!({ "keyCredentials": kept })),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = token(
        &app,
        &client,
        &assertion(&old_key, &old_cert, false, claims(&client)),
        EXO,
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error_codes"], json!([700027]));
    let fresh = nightly["certificates"][1]["keyId"]
        .as_str()
        .expect("fresh")
        .to_owned();
    let (key, cert) = fixture_key(&app, &fresh).await;
    let (status, _) = token(
        &app,
        &client,
        &assertion(&key, &cert, false, claims(&client)),
        EXO,
    )
    .await;
    assert_eq!(status, 200, "the remaining certificate still works");
}

#[tokio::test]
async fn the_policy_binds_new_apps_only() {
    let app = sim("lifecycle");
    let f = facts(&app).await;
    // Archive exporter predates the policy: its two-year certificate goes back unchanged.
    let archive = named(&f, "Archive exporter");
    let (_, current) = call(
        &app,
        "GET",
        &format!(
            "/v1.0/applications/{}?$select=keyCredentials",
            archive["id"].as_str().expect("id")
        ),
        None,
    )
    .await;
    let (status, body) = call(
        &app,
        "PATCH",
        &format!("/v1.0/applications/{}", archive["id"].as_str().expect("id")),
        Some(json!({ "keyCredentials": current["keyCredentials"] })),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    // Payroll was created after it: a two-year certificate is refused.
    let payroll = named(&f, "Payroll mailbox export");
    let (_, mine) = call(
        &app,
        "GET",
        &format!(
            "/v1.0/applications/{}?$select=keyCredentials",
            payroll["id"].as_str().expect("id")
        ),
        None,
    )
    .await;
    let mut keys = mine["keyCredentials"].as_array().expect("keys").clone();
    let long = super::tests::test_cert((2026, 1, 1), (2028, 1, 1));
    keys.push(json!({ "type": "AsymmetricX509Cert", "usage": "Verify", "key": long }));
    let (status, body) = call(
        &app,
        "PATCH",
        &format!("/v1.0/applications/{}", payroll["id"].as_str().expect("id")),
        Some(json!({ "keyCredentials": keys })),
    )
    .await;
    assert_eq!(status, 400, "{body}");
}
