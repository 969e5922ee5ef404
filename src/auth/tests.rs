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
    assert!(q["scope"].starts_with("openid profile https://graph.microsoft.com/User.Read "));
    assert!(q["scope"].contains("RoleManagement.ReadWrite.Directory"));
    assert!(
        !q["scope"].contains("offline_access"),
        "no refresh token is asked for"
    );
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
    let (pending, _) = Pending::start(&c, &mut rng(), 0.0, None);
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
    let (pending, _) = Pending::start(&config(), &mut rng(), 0.0, None);
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
