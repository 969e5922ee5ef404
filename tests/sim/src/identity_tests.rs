//! Client credentials with certificates against the simulated token endpoint, and the grants
//! that decide what the issued Exchange token carries.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::RsaPrivateKey;
use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
use serde_json::{Value, json};
use sha2::Sha256;
use unattended::forge::{self, Flavour, KeyCredential, KeySize, Password, Request, UnixTime};

use super::tests::call;
use crate::fixtures::TENANT_ID;
use crate::tenant::{EXCHANGE_APP_ID, MANAGE_AS_APP, roles};

const HOST: &str = "http://127.0.0.1"; // what `call` sends as Host: none, so the default applies

fn rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

/// A key and its certificate made by the product's forge.
pub(crate) fn credential(bits: Option<usize>, days: u32) -> (RsaPrivateKey, forge::Certificate) {
    let key = match bits {
        None => forge::generate_key(KeySize::Rsa2048, &mut rng()).expect("key"),
        Some(bits) => RsaPrivateKey::new(&mut rng(), bits).expect("small key"),
    };
    let request = Request {
        key_size: KeySize::Rsa2048,
        subject: "sim-test".into(),
        validity_days: days,
        flavour: Flavour::Modern,
        password: Password::new("x").expect("pw"),
    };
    let now = UnixTime(u64::try_from(crate::ids::now()).expect("now"));
    let made = forge::forge_with_key(&key, &request, now, &mut rng()).expect("forge");
    (key, made.certificate)
}

pub(crate) fn assertion(
    key: &RsaPrivateKey,
    cert: &forge::Certificate,
    pss: bool,
    claims: Value,
) -> String {
    let t = cert.thumbprints();
    let header = if pss {
        json!({ "alg": "PS256", "typ": "JWT", "x5t#S256": t.x5t_s256 })
    } else {
        json!({ "alg": "RS256", "typ": "JWT", "x5t": t.x5t })
    };
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = if pss {
        rsa::pss::SigningKey::<Sha256>::new(key.clone())
            .sign_with_rng(&mut rng(), signed.as_bytes())
            .to_vec()
    } else {
        rsa::pkcs1v15::SigningKey::<Sha256>::new(key.clone())
            .sign(signed.as_bytes())
            .to_vec()
    };
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

pub(crate) fn claims(client: &str) -> Value {
    let now = crate::ids::now();
    json!({ "aud": format!("{HOST}/contoso.onmicrosoft.com/oauth2/v2.0/token"), "iss": client, "sub": client,
            "jti": crate::ids::guid(), "nbf": now, "exp": now + 600 })
}

pub(crate) async fn token(
    app: &axum::Router,
    client: &str,
    assertion: &str,
    scope: &str,
) -> (u16, Value) {
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", client)
        .append_pair("grant_type", "client_credentials")
        .append_pair("scope", scope)
        .append_pair(
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        )
        .append_pair("client_assertion", assertion)
        .finish();
    let (status, body) =
        super::tests::call_form(app, "/contoso.onmicrosoft.com/oauth2/v2.0/token", form).await;
    (status.as_u16(), body)
}

pub(crate) fn access_claims(body: &Value) -> Value {
    let token = body["access_token"].as_str().expect("access token");
    crate::jwt::decode(token).expect("jwt").claims
}

pub(crate) const EXO: &str = "https://outlook.office365.com/.default";

/// Registers an app with the certificate and its service principal; returns (appId, spId,
/// exoSpId), the last empty in a tenant without Exchange Online.
pub(crate) async fn register(
    app: &axum::Router,
    cert: &forge::Certificate,
) -> (String, String, String) {
    let kc = serde_json::to_value(KeyCredential::for_certificate(cert).expect("kc")).expect("json");
    let (_, created) = call(app, "POST", "/v1.0/applications",
        Some(json!({ "displayName": "exo", "signInAudience": "AzureADMyOrg", "keyCredentials": [kc] }))).await;
    let app_id = created["appId"].as_str().expect("appId").to_owned();
    let (_, sp) = call(
        app,
        "POST",
        "/v1.0/servicePrincipals",
        Some(json!({ "appId": app_id })),
    )
    .await;
    let (_, exo) = call(
        app,
        "GET",
        &format!("/v1.0/servicePrincipals?$filter=appId eq '{EXCHANGE_APP_ID}'"),
        None,
    )
    .await;
    (
        app_id,
        sp["id"].as_str().expect("sp").to_owned(),
        exo["value"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[tokio::test]
async fn exchange_token_carries_the_role_only_once_granted() {
    let app = super::tests::sim("default");
    let (key, cert) = credential(None, 30);
    let (client, sp, exo) = register(&app, &cert).await;

    let (status, body) = token(
        &app,
        &client,
        &assertion(&key, &cert, false, claims(&client)),
        EXO,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let before = access_claims(&body);
    assert!(before.get("roles").is_none(), "no roles before the grant");
    assert_eq!(
        (before["aud"].as_str(), before["tid"].as_str()),
        (Some("https://outlook.office365.com"), Some(TENANT_ID))
    );

    let grant = json!({ "principalId": sp, "resourceId": exo, "appRoleId": MANAGE_AS_APP });
    assert_eq!(
        call(
            &app,
            "POST",
            &format!("/v1.0/servicePrincipals/{exo}/appRoleAssignedTo"),
            Some(grant.clone())
        )
        .await
        .0,
        201
    );
    let (dup, dup_body) = call(
        &app,
        "POST",
        &format!("/v1.0/servicePrincipals/{exo}/appRoleAssignedTo"),
        Some(grant),
    )
    .await;
    assert_eq!(dup, 400);
    assert_eq!(
        dup_body["error"]["message"],
        "Permission being assigned already exists on the object."
    );
    let role = json!({ "roleDefinitionId": roles::EXCHANGE_ADMIN, "principalId": sp, "directoryScopeId": "/" });
    assert_eq!(
        call(
            &app,
            "POST",
            "/v1.0/roleManagement/directory/roleAssignments",
            Some(role.clone())
        )
        .await
        .0,
        201
    );
    let (dup, dup_body) = call(
        &app,
        "POST",
        "/v1.0/roleManagement/directory/roleAssignments",
        Some(role),
    )
    .await;
    assert_eq!(dup, 400);
    assert!(
        dup_body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("A conflicting object"))
    );

    // PS256 with x5t#S256, as current MSAL sends it.
    let (status, body) = token(
        &app,
        &client,
        &assertion(&key, &cert, true, claims(&client)),
        EXO,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let after = access_claims(&body);
    assert_eq!(after["roles"], json!(["Exchange.ManageAsApp"]));
    assert_eq!(after["wids"], json!([roles::EXCHANGE_ADMIN]));
    assert_eq!(after["oid"], sp.as_str());
}

#[tokio::test]
async fn every_assertion_failure_gets_entras_code() {
    let app = super::tests::sim("default");
    let (key, cert) = credential(None, 30);
    let (client, _, _) = register(&app, &cert).await;
    let code = |body: &Value| body["error_codes"][0].as_u64().unwrap_or(0);

    let (other_key, other_cert) = credential(None, 30);
    let (status, body) = token(
        &app,
        &client,
        &assertion(&other_key, &other_cert, false, claims(&client)),
        EXO,
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (401, 700027),
        "certificate not registered: {body}"
    );

    let forged = assertion(&other_key, &cert, false, claims(&client)); // right thumbprint, wrong key
    assert_eq!(code(&token(&app, &client, &forged, EXO).await.1), 700027);

    let mut wrong_sub = claims(&client);
    wrong_sub["sub"] = json!("someone-else");
    assert_eq!(
        code(
            &token(
                &app,
                &client,
                &assertion(&key, &cert, false, wrong_sub),
                EXO
            )
            .await
            .1
        ),
        50048
    );

    let mut wrong_aud = claims(&client);
    wrong_aud["aud"] =
        json!("https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token");
    assert_eq!(
        code(
            &token(
                &app,
                &client,
                &assertion(&key, &cert, false, wrong_aud),
                EXO
            )
            .await
            .1
        ),
        50027
    );

    let mut expired = claims(&client);
    expired["exp"] = json!(crate::ids::now() - 3600);
    assert_eq!(
        code(
            &token(&app, &client, &assertion(&key, &cert, false, expired), EXO)
                .await
                .1
        ),
        50027
    );

    let good = assertion(&key, &cert, false, claims(&client));
    let (status, body) = token(
        &app,
        &client,
        &good,
        "https://outlook.office365.com/Exchange.ManageAsApp",
    )
    .await;
    assert_eq!((status, code(&body)), (400, 70011));
    assert_eq!(
        code(
            &token(&app, "11111111-2222-3333-4444-555555555555", &good, EXO)
                .await
                .1
        ),
        700016
    );
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| d.starts_with("AADSTS70011:"))
    );
}

#[tokio::test]
async fn small_keys_and_missing_exchange_are_refused() {
    let app = super::tests::sim("default");
    let (key, cert) = credential(Some(1024), 30);
    let (client, _, _) = register(&app, &cert).await;
    let (status, body) = token(
        &app,
        &client,
        &assertion(&key, &cert, false, claims(&client)),
        EXO,
    )
    .await;
    assert_eq!(
        (status, body["error_codes"][0].as_u64()),
        (401, Some(700027))
    );
    assert!(body["error_description"].as_str().is_some_and(|d| {
        d.contains("RSA key size 1024 is less than the minimum required 2048 bits")
    }));

    let app = super::tests::sim("no-exchange");
    let (key, cert) = credential(None, 30);
    let (client, _, _) = register(&app, &cert).await;
    let (status, body) = token(
        &app,
        &client,
        &assertion(&key, &cert, true, claims(&client)),
        EXO,
    )
    .await;
    assert_eq!(
        (status, body["error_codes"][0].as_u64()),
        (400, Some(500011))
    );
}

#[tokio::test]
async fn service_principals_need_a_backing_application() {
    let app = super::tests::sim("default");
    let (status, body) = call(
        &app,
        "POST",
        "/v1.0/servicePrincipals",
        Some(json!({ "appId": crate::ids::guid() })),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"]["details"][0]["code"],
        "NoBackingApplicationObject"
    );
}
