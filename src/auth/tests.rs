#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use super::*;

fn config() -> Config {
    Config::from_json(
        r#"{"clientId":"5b0c6a5e-2d4f-4b8e-9c1a-7e3f9d2b6a10","redirectUri":"https://tools.example/unattended/"}"#,
    )
    .expect("config")
}

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::from_seed([7; 32])
}

#[test]
fn pkce_matches_rfc_7636_appendix_b() {
    let verifier = pkce::verifier_for_tests("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    assert_eq!(
        PkceChallenge::of(&verifier).as_str(),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
}

#[test]
fn pkce_pairs_are_fresh_43_character_verifiers() {
    let mut r = rng();
    let (c1, v1) = pkce_pair(&mut r);
    let (c2, v2) = pkce_pair(&mut r);
    assert_eq!(v1.secret().len(), 43);
    assert_ne!(v1, v2);
    assert_ne!(c1, c2);
    assert_eq!(PkceChallenge::of(&v1), c1);
    assert_eq!(format!("{v1:?}"), "PkceVerifier([redacted])");
}

#[test]
fn authorize_url_carries_everything_entra_needs_and_no_secret() {
    let (pending, url) = Pending::start(
        &config(),
        &mut rng(),
        1000.0,
        Some("admin@contoso.onmicrosoft.com"),
        &[],
    );
    assert_eq!(
        url.origin().ascii_serialization(),
        "https://login.microsoftonline.com"
    );
    assert_eq!(url.path(), "/organizations/oauth2/v2.0/authorize");
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], "5b0c6a5e-2d4f-4b8e-9c1a-7e3f9d2b6a10");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["response_mode"], "fragment");
    assert_eq!(q["redirect_uri"], "https://tools.example/unattended/");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(
        q["code_challenge"],
        PkceChallenge::of(&pending.verifier).as_str()
    );
    assert_eq!(q["state"], pending.state);
    assert_eq!(q["nonce"], pending.nonce);
    assert_eq!(q["login_hint"], "admin@contoso.onmicrosoft.com");
    assert!(
        q["scope"]
            .starts_with("openid profile offline_access https://graph.microsoft.com/User.Read ")
    );
    assert!(q["scope"].contains("RoleManagement.ReadWrite.Directory"));
    assert!(
        !url.as_str().contains(pending.verifier.secret()),
        "the verifier stays home"
    );
    assert_ne!(pending.state, pending.nonce);
    assert!(!format!("{pending:?}").contains(&pending.state));
}

#[test]
fn token_request_redeems_with_the_verifier_at_the_same_authority() {
    let c = config();
    let (pending, _) = Pending::start(&c, &mut rng(), 0.0, None, &[]);
    assert_eq!(
        token_url(&c).as_str(),
        "https://login.microsoftonline.com/organizations/oauth2/v2.0/token"
    );
    let body: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(token_request_body(&c, &pending, "the-code").as_bytes())
            .into_owned()
            .collect();
    assert_eq!(body["grant_type"], "authorization_code");
    assert_eq!(body["code"], "the-code");
    assert_eq!(body["code_verifier"], pending.verifier.secret());
    assert_eq!(body["redirect_uri"], "https://tools.example/unattended/");
    assert!(!body.contains_key("client_secret") && !body.contains_key("client_assertion"));
}

#[test]
fn redirects_are_read_and_checked_against_the_pending_sign_in() {
    let (pending, _) = Pending::start(&config(), &mut rng(), 0.0, None, &[]);
    let ok = Redirect::parse(&format!(
        "#code=abc%2Bdef&state={}&session_state=x",
        pending.state
    ))
    .expect("answer");
    assert_eq!(pending.accept(ok.clone(), 1000.0), Ok("abc+def".into()));
    assert_eq!(
        pending.accept(ok, PENDING_LIFETIME_MS + 1.0),
        Err(SignInError::Expired)
    );
    let forged = Redirect::parse("code=abc&state=someone-elses").expect("answer");
    assert_eq!(pending.accept(forged, 1.0), Err(SignInError::StateMismatch));
    assert_eq!(Redirect::parse("#/settings"), None, "not a sign-in answer");
    assert_eq!(Redirect::parse(""), None);
    let denied = Redirect::parse(&format!(
        "error=access_denied&error_description=AADSTS65004%3A+User+declined+to+consent&state={}",
        pending.state
    ))
    .expect("answer");
    assert_eq!(
        pending.accept(denied, 1.0),
        Err(SignInError::ConsentDeclined)
    );
}

#[test]
fn every_documented_sign_in_error_has_its_own_message() {
    let cases = [
        (
            "access_denied",
            "the user canceled the authentication",
            SignInError::Cancelled,
        ),
        (
            "access_denied",
            "AADSTS65004: User declined to consent",
            SignInError::ConsentDeclined,
        ),
        (
            "access_denied",
            "AADSTS90094: Admin consent is required",
            SignInError::AdminConsentRequired,
        ),
        (
            "invalid_request",
            "AADSTS50011: The redirect URI does not match",
            SignInError::RedirectUriMismatch,
        ),
        (
            "unauthorized_client",
            "AADSTS700016: Application not found",
            SignInError::AppNotFound,
        ),
        (
            "invalid_request",
            "AADSTS50194: not configured as multitenant",
            SignInError::SingleTenantApp,
        ),
        (
            "access_denied",
            "AADSTS53003: Access has been blocked by Conditional Access",
            SignInError::ConditionalAccess,
        ),
        (
            "interaction_required",
            "AADSTS50076: MFA required",
            SignInError::MfaRequired,
        ),
        (
            "invalid_request",
            "AADSTS9002326: Cross-origin token redemption",
            SignInError::NotSpaRedirect,
        ),
        (
            "login_required",
            "AADSTS50058: no session",
            SignInError::InteractionRequired,
        ),
    ];
    let mut messages = std::collections::HashSet::new();
    for (error, description, expected) in cases {
        let got = SignInError::from_server(error, description);
        assert_eq!(got, expected, "{description}");
        assert!(
            messages.insert(got.to_string()),
            "distinct message for {description}"
        );
    }
    let other = SignInError::from_server(
        "server_error",
        "AADSTS90033: A transient error has occurred",
    );
    assert_eq!(
        other.to_string(),
        "Sign-in failed (AADSTS90033, server_error): AADSTS90033: A transient error has occurred"
    );
    assert_eq!(errors::aadsts("no number here"), None);
}

fn id_token(claims: serde_json::Value) -> String {
    use base64::Engine;
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    format!(
        "{}.{}.sig",
        b64(&serde_json::json!({"alg": "RS256"})),
        b64(&claims)
    )
}

#[test]
fn the_id_token_must_be_for_this_sign_in_client_and_authority() {
    let config = config();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let (pending, _) = Pending::start(&config, &mut rng, 0.0, None, &[]);
    let tid = "8f2b6c1e-4a3d-4e5f-9b7a-1c2d3e4f5a6b";
    let good = serde_json::json!({"nonce": pending.nonce, "aud": config.client_id, "tid": tid,
        "iss": format!("https://login.microsoftonline.com/{tid}/v2.0"), "preferred_username": "ada@contoso.com"});
    let answer = |claims: serde_json::Value| {
        serde_json::json!({"access_token": "at", "refresh_token": "rt", "id_token": id_token(claims)}).to_string()
    };
    let signed = complete(&config, &pending, &answer(good.clone())).expect("valid");
    assert_eq!(signed.identity.tenant_id, tid);
    assert_eq!(signed.refresh_token.as_deref(), Some("rt"));
    assert_eq!(
        tenant_token_url(&config, tid).as_str(),
        format!("https://login.microsoftonline.com/{tid}/oauth2/v2.0/token")
    );
    for (field, value) in [
        ("nonce", "replayed"),
        ("aud", "someone-else"),
        ("iss", "https://evil.example/x/v2.0"),
        ("tid", ""),
    ] {
        let mut bad = good.clone();
        bad[field] = serde_json::json!(value);
        assert!(
            matches!(
                complete(&config, &pending, &answer(bad)),
                Err(SignInError::InvalidIdToken(_))
            ),
            "{field}"
        );
    }
    let refused = r#"{"error":"invalid_request","error_description":"AADSTS9002326: Cross-origin token redemption is permitted only for the 'Single-Page Application' client-type."}"#;
    assert_eq!(
        complete(&config, &pending, refused).err(),
        Some(SignInError::NotSpaRedirect)
    );
}

#[test]
fn a_sign_in_again_goes_to_the_admins_tenant_for_the_same_account_with_the_claims() {
    let tenant = "9e2c7a31-4b5d-4f60-8a1b-2c3d4e5f6a7b";
    let claims = r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#;
    let (pending, url) = Pending::start_again(
        &tenant_config(&config(), tenant),
        &mut rng(),
        0.0,
        "admin@contoso.onmicrosoft.com",
        Some(claims),
        &[],
    );
    assert_eq!(url.path(), format!("/{tenant}/oauth2/v2.0/authorize"));
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["claims"], claims);
    assert_eq!(q["login_hint"], "admin@contoso.onmicrosoft.com");
    assert!(!q.contains_key("prompt"));
    assert_eq!(q["state"], pending.state);
    assert_eq!(
        q["code_challenge"],
        PkceChallenge::of(&pending.verifier).as_str()
    );
    // The code is redeemed at the same tenant's token endpoint.
    assert_eq!(
        token_url(&tenant_config(&config(), tenant)).path(),
        format!("/{tenant}/oauth2/v2.0/token")
    );
    let who = |tid: &str, oid: &str| Identity {
        tenant_id: tid.into(),
        object_id: oid.into(),
        username: "admin@contoso.onmicrosoft.com".into(),
    };
    assert!(who(tenant, "a").same_as(&who(tenant, "a")).is_ok());
    let other = who(tenant, "a").same_as(&who(tenant, "b"));
    assert!(
        matches!(&other, Err(SignInError::OtherAccount(u)) if u == "admin@contoso.onmicrosoft.com")
    );
    assert!(who(tenant, "a").same_as(&who("other", "a")).is_err());
}

#[test]
fn extra_scopes_are_asked_for_at_authorize_and_at_redemption() {
    let audit = "AuditLog.Read.All";
    let c = config();
    let (pending, url) = Pending::start(&c, &mut rng(), 0.0, None, &[audit]);
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert!(q["scope"].starts_with(&scope()));
    assert!(q["scope"].ends_with(" https://graph.microsoft.com/AuditLog.Read.All"));
    let body: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(token_request_body(&c, &pending, "code").as_bytes())
            .into_owned()
            .collect();
    assert_eq!(body["scope"], q["scope"]);
    // Carried across the redirect in sessionStorage: an older pending sign-in without the
    // field still reads.
    let text = serde_json::to_string(&pending).expect("json");
    let back: Pending = serde_json::from_str(&text).expect("back");
    assert_eq!(back.scope(), pending.scope());
    let (plain, _) = Pending::start(&c, &mut rng(), 0.0, None, &[]);
    let mut old: serde_json::Value = serde_json::to_value(&plain).expect("json");
    old.as_object_mut().expect("object").remove("extraScopes");
    let old: Pending = serde_json::from_value(old).expect("old form");
    assert_eq!(old.scope(), scope());

    // Azure Resource Manager's scope is consented at authorize but never mixed into a token
    // request with Graph's (one resource per token).
    let arm = "https://management.azure.com/user_impersonation";
    let (pending, url) = Pending::start(&c, &mut rng(), 0.0, None, &[arm]);
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["scope"], format!("{} {arm}", scope()));
    let body: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(token_request_body(&c, &pending, "code").as_bytes())
            .into_owned()
            .collect();
    assert_eq!(body["scope"], scope());
}

#[test]
fn a_tenant_is_chosen_by_domain_or_id_and_anything_else_is_refused_with_what_to_type() {
    assert_eq!(tenant_choice("  "), Ok(None));
    assert_eq!(
        tenant_choice(" Contoso.OnMicrosoft.com. "),
        Ok(Some("contoso.onmicrosoft.com".into()))
    );
    assert_eq!(
        tenant_choice("9E2C7A31-4B5D-4F60-8A1B-2C3D4E5F6A7B"),
        Ok(Some("9e2c7a31-4b5d-4f60-8a1b-2c3d4e5f6a7b".into()))
    );
    assert_eq!(
        tenant_choice("mail.fabrikam.co.uk"),
        Ok(Some("mail.fabrikam.co.uk".into()))
    );
    for bad in [
        "contoso",
        "organizations",
        "common",
        "https://login.microsoftonline.com/contoso.com",
        "conto so.com",
        "-contoso.com",
        "contoso.123",
        "9e2c7a31-4b5d-4f60-8a1b-2c3d4e5f6a7",
        "admin@contoso.com",
    ] {
        let e = tenant_choice(bad).expect_err(bad);
        assert!(e.to_string().contains("tenant id"), "{e}");
    }
}

#[test]
fn a_chosen_tenant_is_the_authority_and_travels_with_the_pending_sign_in() {
    let c = tenant_config(&config(), "contoso.onmicrosoft.com");
    let (mut pending, url) = Pending::start(&c, &mut rng(), 0.0, None, &[]);
    assert_eq!(url.path(), "/contoso.onmicrosoft.com/oauth2/v2.0/authorize");
    assert_eq!(
        token_url(&c).path(),
        "/contoso.onmicrosoft.com/oauth2/v2.0/token"
    );
    pending.tenant = Some("contoso.onmicrosoft.com".into());
    let back: Pending =
        serde_json::from_str(&serde_json::to_string(&pending).expect("json")).expect("back");
    assert_eq!(back.tenant.as_deref(), Some("contoso.onmicrosoft.com"));
}

#[test]
fn each_cloud_asks_for_its_own_graph() {
    for cloud in crate::cloud::CLOUDS {
        let mut c = config();
        c.cloud = cloud;
        let (pending, url) = Pending::start(&c, &mut rng(), 0.0, None, &["AuditLog.Read.All"]);
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        let resource = cloud.graph_resource();
        for s in q["scope"].split(' ').skip(3) {
            assert!(s.starts_with(&format!("{resource}/")), "{cloud:?}: {s}");
        }
        assert!(q["scope"].contains(&format!("{resource}/AuditLog.Read.All")));
        let body: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(token_request_body(&c, &pending, "code").as_bytes())
                .into_owned()
                .collect();
        assert_eq!(body["scope"], q["scope"]);
    }
}

#[test]
fn the_admin_consent_link_asks_for_every_permission_of_the_page_at_the_customers_tenant() {
    let url = admin_consent_url(&config(), "fabrikam.onmicrosoft.com", "st4te");
    assert_eq!(url.path(), "/fabrikam.onmicrosoft.com/v2.0/adminconsent");
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], config().client_id);
    assert_eq!(q["redirect_uri"], config().redirect_uri.as_str());
    assert_eq!(q["state"], "st4te");
    for p in GRAPH_PERMISSIONS.iter().chain(["AuditLog.Read.All"].iter()) {
        assert!(
            q["scope"].contains(&format!("https://graph.microsoft.com/{p}")),
            "{p}"
        );
    }
}

#[test]
fn admin_consent_answers_are_read_and_checked_against_the_state_sent() {
    let ok = "?admin_consent=True&tenant=9e2c7a31-4b5d-4f60-8a1b-2c3d4e5f6a7b&scope=x&state=s1";
    assert_eq!(
        ConsentAnswer::parse(ok, Some("s1")),
        Some(ConsentAnswer::Granted {
            tenant: "9e2c7a31-4b5d-4f60-8a1b-2c3d4e5f6a7b".into()
        })
    );
    assert_eq!(
        ConsentAnswer::parse(ok, Some("other")),
        Some(ConsentAnswer::StateMismatch)
    );
    // Opened in another browser (the customer's admin): read, for information.
    assert!(matches!(
        ConsentAnswer::parse(ok, None),
        Some(ConsentAnswer::Granted { .. })
    ));
    let granted = ConsentAnswer::parse(ok, Some("s1")).expect("answer");
    assert!(granted.other_tenant("00000000-1111-4222-8333-444444444444"));
    assert!(!granted.other_tenant("9E2C7A31-4B5D-4F60-8A1B-2C3D4E5F6A7B"));
    assert!(!granted.other_tenant("fabrikam.onmicrosoft.com"));
    let cancel = "error=access_denied&error_subcode=cancel&error_description=AADSTS65004%3A+User+declined&state=s1";
    assert_eq!(
        ConsentAnswer::parse(cancel, Some("s1")),
        Some(ConsentAnswer::Declined)
    );
    let other = "error=invalid_request&error_description=AADSTS90094%3A+admin&state=s1";
    let failed = ConsentAnswer::parse(other, Some("s1")).expect("answer");
    assert!(matches!(failed, ConsentAnswer::Failed { .. }));
    assert!(failed.to_string().contains("AADSTS90094"));
    assert_eq!(ConsentAnswer::parse("?code=abc&state=s1", Some("s1")), None);
    assert_eq!(ConsentAnswer::parse("", Some("s1")), None);
}

#[test]
fn a_21vianet_id_token_is_issued_from_its_own_host() {
    let mut config = config();
    config.cloud = crate::cloud::Cloud::China;
    config.authority =
        url::Url::parse("https://login.chinacloudapi.cn/organizations").expect("url");
    assert!(!config.is_sandbox());
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(8);
    let (pending, _) = Pending::start(&config, &mut rng, 0.0, None, &[]);
    let tid = "8f2b6c1e-4a3d-4e5f-9b7a-1c2d3e4f5a6b";
    let answer = |iss: String| {
        let claims = serde_json::json!({"nonce": pending.nonce, "aud": config.client_id, "tid": tid, "iss": iss});
        serde_json::json!({"access_token": "at", "id_token": id_token(claims)}).to_string()
    };
    for host in ["login.partner.microsoftonline.cn", "login.chinacloudapi.cn"] {
        assert!(
            complete(
                &config,
                &pending,
                &answer(format!("https://{host}/{tid}/v2.0"))
            )
            .is_ok(),
            "{host}"
        );
    }
    // Another cloud's issuer is not this one's.
    assert!(
        complete(
            &config,
            &pending,
            &answer(format!("https://login.microsoftonline.us/{tid}/v2.0"))
        )
        .is_err()
    );
}
