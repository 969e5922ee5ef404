//! The client's retry rules against a scripted transport.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use futures_executor::block_on;
use serde_json::json;

use super::*;

/// Answers from a script; records what was sent and how long it slept.
#[derive(Clone, Default)]
struct Script {
    answers: Rc<RefCell<VecDeque<Result<HttpResponse, String>>>>,
    sent: Rc<RefCell<Vec<HttpRequest>>>,
    slept: Rc<RefCell<Vec<u64>>>,
}

impl Script {
    fn new(answers: Vec<Result<HttpResponse, String>>) -> Self {
        let s = Self::default();
        s.answers.borrow_mut().extend(answers);
        s
    }
}

fn answer(status: u16, retry_after: Option<f64>, body: &str) -> Result<HttpResponse, String> {
    Ok(HttpResponse {
        status,
        retry_after,
        body: body.to_owned(),
        ..HttpResponse::default()
    })
}

fn expired_sign_in() -> GraphError {
    GraphError::SignInRequired(SignInRequired {
        reason: SignInReason::Expired,
        code: None,
        claims: None,
    })
}

impl Transport for Script {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, String> {
        self.sent.borrow_mut().push(request);
        self.answers
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| Err("script ended".into()))
    }
    async fn sleep(&self, ms: u64) {
        self.slept.borrow_mut().push(ms);
    }
}

fn client(script: &Script, refresh: bool) -> Client<Script> {
    Client::new(
        script.clone(),
        "https://graph.example/v1.0/",
        Session {
            access_token: Secret::new("at-1"),
            refresh_token: refresh.then(|| Secret::new("rt-1")),
            token_url: "https://login.example/organizations/oauth2/v2.0/token".into(),
            client_id: "client".into(),
            scope: "openid".into(),
        },
        Policy::default(),
    )
}

#[test]
fn retry_after_is_honoured_then_backoff_doubles() {
    let script = Script::new(vec![
        answer(429, Some(2.5), r#"{"error":{"code":"TooManyRequests"}}"#),
        answer(503, None, "{}"),
        answer(503, None, "{}"),
        answer(200, None, r#"{"value":[]}"#),
    ]);
    let c = client(&script, false);
    let waits = Rc::new(RefCell::new(Vec::new()));
    let seen = waits.clone();
    c.on_wait(move |w| seen.borrow_mut().push(w.reason));
    let out: models::Collection<Value> = block_on(c.get("/organization")).expect("ok");
    assert!(out.value.is_empty());
    assert_eq!(*script.slept.borrow(), vec![2500, 4000, 8000]);
    assert_eq!(
        *waits.borrow(),
        vec![
            WaitReason::Throttled,
            WaitReason::Unavailable,
            WaitReason::Unavailable
        ]
    );
    assert_eq!(c.round_trips(), 4);
    assert_eq!(
        script.sent.borrow()[0].url,
        "https://graph.example/v1.0/organization"
    );
}

#[test]
fn a_lost_answer_to_a_write_is_not_repeated_blindly() {
    let script = Script::new(vec![Err("connection reset".into())]);
    let c = client(&script, false);
    let r: Result<Value, _> = block_on(c.post("/applications", &json!({}), Retry::Write));
    assert_eq!(r, Err(GraphError::Network("connection reset".into())));
    assert_eq!(script.sent.borrow().len(), 1);
    // A read is repeated.
    let script = Script::new(vec![Err("reset".into()), answer(200, None, "{}")]);
    let c = client(&script, false);
    let r: Result<Value, _> = block_on(c.get("/me"));
    assert!(r.is_ok());
}

#[test]
fn replication_is_waited_out_only_after_our_own_create_and_within_the_budget() {
    let nobacking = r#"{"error":{"code":"Request_BadRequest","message":"The appId 'x' of the service principal does not reference a valid application object.","details":[{"code":"NoBackingApplicationObject"}]}}"#;
    let script = Script::new(vec![
        answer(400, None, nobacking),
        answer(
            404,
            None,
            r#"{"error":{"code":"Request_ResourceNotFound","message":"gone"}}"#,
        ),
        answer(201, None, r#"{"id":"sp"}"#),
    ]);
    let c = client(&script, false);
    let sp: Value = block_on(c.post("/servicePrincipals", &json!({}), Retry::WriteAfterCreate))
        .expect("created");
    assert_eq!(sp["id"], "sp");
    let script = Script::new((0..200).map(|_| answer(400, None, nobacking)).collect());
    let c = client(&script, false);
    let r: Result<Value, _> =
        block_on(c.post("/servicePrincipals", &json!({}), Retry::WriteAfterCreate));
    assert!(matches!(r, Err(GraphError::Replicating(_))));
    let total: u64 = script.slept.borrow().iter().sum();
    assert!(total <= Policy::default().budget_ms, "{total}");
}

#[test]
fn an_expired_token_is_renewed_once_with_the_refresh_token() {
    let expired = r#"{"error":{"code":"InvalidAuthenticationToken","message":"Lifetime validation failed, the token is expired."}}"#;
    let script = Script::new(vec![
        answer(401, None, expired),
        answer(
            200,
            None,
            r#"{"access_token":"at-2","refresh_token":"rt-2"}"#,
        ),
        answer(200, None, "{}"),
    ]);
    let c = client(&script, true);
    let _: Value = block_on(c.get("/me")).expect("renewed");
    let sent = script.sent.borrow();
    assert!(
        sent[1]
            .body
            .as_deref()
            .unwrap_or_default()
            .contains("grant_type=refresh_token")
    );
    assert!(
        sent[2]
            .headers
            .iter()
            .any(|(k, v)| k == "Authorization" && v == "Bearer at-2")
    );
    drop(sent);
    // Without a refresh token: a clear, retryable state.
    let script = Script::new(vec![answer(401, None, expired)]);
    let r: Result<Value, _> = block_on(client(&script, false).get("/me"));
    assert_eq!(r, Err(expired_sign_in()));
}

#[test]
fn batch_resends_only_the_throttled_reads_on_their_own() {
    let first = json!({"responses": [
        {"id": "org", "status": 200, "body": {"value": []}},
        {"id": "me", "status": 429, "headers": {"Retry-After": "1"}, "body": {}},
        {"id": "gone", "status": 404, "body": {"error": {"code": "Request_ResourceNotFound", "message": "x"}}},
    ]});
    let script = Script::new(vec![
        answer(200, None, &first.to_string()),
        answer(200, None, r#"{"id":"u"}"#),
    ]);
    let c = client(&script, false);
    let items = [
        BatchItem {
            id: "org",
            url: "/organization".into(),
        },
        BatchItem {
            id: "me",
            url: "/me".into(),
        },
        BatchItem {
            id: "gone",
            url: "/applications/x".into(),
        },
    ];
    let answers = block_on(c.batch(&items)).expect("batch");
    assert_eq!(answers[0], Ok(json!({"value": []})));
    assert_eq!(answers[1], Ok(json!({"id": "u"})));
    assert!(matches!(answers[2], Err(GraphError::NotFound(_))));
    let sent = script.sent.borrow();
    assert_eq!(
        (sent[1].method, sent[1].url.as_str()),
        ("GET", "https://graph.example/v1.0/me")
    );
    assert_eq!(*script.slept.borrow(), vec![1000]);
}

#[test]
fn debug_output_never_shows_tokens() {
    let c = client(&Script::default(), true);
    let s = format!(
        "{:?} {:?}",
        c.session.borrow(),
        c.graph_request("GET", "/me", None)
    );
    assert!(!s.contains("at-1") && !s.contains("rt-1"), "{s}");
}

#[test]
fn a_token_that_expires_again_during_a_long_wait_is_renewed_again() {
    let expired = r#"{"error":{"code":"InvalidAuthenticationToken","message":"expired"}}"#;
    let renewed = r#"{"access_token":"at-n","refresh_token":"rt-n"}"#;
    let script = Script::new(vec![
        answer(401, None, expired),
        answer(200, None, renewed),
        answer(429, Some(30.0), "{}"),
        answer(401, None, expired),
        answer(200, None, renewed),
        answer(200, None, "{}"),
    ]);
    let c = client(&script, true);
    let _: Value = block_on(c.get("/me")).expect("renewed twice");
    // But a 401 straight after a renewal is final.
    let script = Script::new(vec![
        answer(401, None, expired),
        answer(200, None, renewed),
        answer(401, None, expired),
    ]);
    let r: Result<Value, _> = block_on(client(&script, true).get("/me"));
    assert_eq!(r, Err(expired_sign_in()));
}

#[test]
fn a_write_after_a_5xx_is_handed_back_but_a_429_is_repeated() {
    // The gateway timed out after the backend may have acted: no second POST.
    for status in [500, 502, 503, 504] {
        let script = Script::new(vec![answer(status, None, "{}")]);
        let c = client(&script, false);
        let r: Result<Value, _> = block_on(c.post("/applications", &json!({}), Retry::Write));
        assert_eq!(r, Err(GraphError::Unavailable(status)));
        assert_eq!(script.sent.borrow().len(), 1, "{status}");
    }
    // 429 says nothing was done: repeated.
    let script = Script::new(vec![
        answer(429, Some(1.0), "{}"),
        answer(201, None, r#"{"id":"a"}"#),
    ]);
    let r: Result<Value, _> =
        block_on(client(&script, false).post("/x", &json!({}), Retry::WriteAfterCreate));
    assert!(r.is_ok());
    // An upsert is repeated after anything transient: the same request leaves one object.
    let script = Script::new(vec![
        answer(504, None, "{}"),
        Err("reset".into()),
        answer(204, None, ""),
    ]);
    let c = client(&script, false);
    let r = block_on(c.call_with(
        "PATCH",
        "/applications(uniqueName='u')",
        &[("Prefer", "create-if-missing")],
        Some(&json!({})),
        Retry::Upsert,
    ));
    assert_eq!(r.map(|r| r.status), Ok(204));
    assert!(
        script.sent.borrow()[2]
            .headers
            .contains(&("Prefer".into(), "create-if-missing".into()))
    );
}

#[test]
fn absurd_retry_after_values_neither_overflow_nor_wait_forever() {
    for after in [f64::MAX, f64::INFINITY, 1e300] {
        let script = Script::new(vec![answer(429, Some(after), "{}")]);
        let r: Result<Value, _> = block_on(client(&script, false).get("/me"));
        assert_eq!(r, Err(GraphError::Throttled));
        assert!(script.slept.borrow().is_empty());
    }
    let script = Script::new(vec![
        answer(429, Some(f64::NAN), "{}"),
        answer(429, Some(-3.0), "{}"),
        answer(200, None, "{}"),
    ]);
    let r: Result<Value, _> = block_on(client(&script, false).get("/me"));
    assert!(r.is_ok());
    assert_eq!(*script.slept.borrow(), vec![0, 0]);
}

#[test]
fn every_page_is_read_and_a_foreign_next_link_is_refused() {
    let script = Script::new(vec![
        answer(
            200,
            None,
            r#"{"value":[1,2],"@odata.nextLink":"https://graph.example/v1.0/applications?$skiptoken=a"}"#,
        ),
        answer(
            200,
            None,
            r#"{"value":[3],"@odata.nextLink":"https://graph.example/v1.0/applications?$skiptoken=b"}"#,
        ),
        answer(200, None, r#"{"value":[4]}"#),
    ]);
    let c = client(&script, false);
    let all: Paged<u32> = block_on(c.get_all("/applications?$top=2", Retry::Read)).expect("ok");
    assert_eq!(
        all,
        Paged {
            items: vec![1, 2, 3, 4],
            complete: true
        }
    );
    assert_eq!(
        script.sent.borrow()[2].url,
        "https://graph.example/v1.0/applications?$skiptoken=b"
    );
    // The token never follows a link to another host.
    let script = Script::new(vec![answer(
        200,
        None,
        r#"{"value":[1],"@odata.nextLink":"https://evil.example/v1.0/applications?$skiptoken=a"}"#,
    )]);
    let r = block_on(client(&script, false).get_all::<u32>("/applications", Retry::Read));
    assert!(matches!(r, Err(GraphError::Unexpected(m)) if m.contains("outside")));
    assert_eq!(script.sent.borrow().len(), 1);
    // A chain longer than the bound stops and says so.
    let endless = r#"{"value":[0],"@odata.nextLink":"https://graph.example/v1.0/x?$skiptoken=z"}"#;
    let script = Script::new(
        (0..MAX_PAGES + 5)
            .map(|_| answer(200, None, endless))
            .collect(),
    );
    let page = block_on(client(&script, false).get_all::<u32>("/x", Retry::Read)).expect("ok");
    assert!(!page.complete);
    assert_eq!(page.items.len(), MAX_PAGES);
}

#[test]
fn a_refused_renewal_says_why_and_what_the_next_sign_in_must_carry() {
    let expired = r#"{"error":{"code":"InvalidAuthenticationToken","message":"expired"}}"#;
    let cases = [
        (
            r#"{"error":"interaction_required","error_description":"AADSTS50076: Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication.","error_codes":[50076],"suberror":"basic_action"}"#,
            SignInReason::Mfa,
            Some(50076),
        ),
        (
            r#"{"error":"interaction_required","error_description":"AADSTS53003: Access has been blocked by Conditional Access policies.","error_codes":[53003]}"#,
            SignInReason::ConditionalAccess,
            Some(53003),
        ),
        (
            r#"{"error":"invalid_grant","error_description":"AADSTS700084: The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited lifetime of 1.00:00:00.","error_codes":[700084]}"#,
            SignInReason::Expired,
            Some(700084),
        ),
        (
            r#"{"error":"interaction_required","error_description":"AADSTS50058: silent sign-in"}"#,
            SignInReason::Interaction,
            Some(50058),
        ),
    ];
    for (refusal, reason, code) in cases {
        let script = Script::new(vec![answer(401, None, expired), answer(400, None, refusal)]);
        let r: Result<Value, _> = block_on(client(&script, true).get("/me"));
        let Err(GraphError::SignInRequired(why)) = r else {
            panic!("{r:?}")
        };
        assert_eq!((why.reason, why.code), (reason, code), "{refusal}");
        let text = GraphError::SignInRequired(why).to_string();
        assert!(
            text.contains("Sign in again") && text.contains("stay as they are"),
            "{text}"
        );
    }
    // Graph's claims challenge: renewal is tried with the claims, then the popup gets them.
    let claims = r#"{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}"#;
    use base64::Engine as _;
    let header = format!(
        r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000", error="insufficient_claims", claims="{}""#,
        base64::engine::general_purpose::STANDARD.encode(claims)
    );
    let challenge = Ok(HttpResponse {
        status: 401,
        www_authenticate: Some(header),
        operation: None,
        body: "{}".into(),
        ..HttpResponse::default()
    });
    let script = Script::new(vec![
        challenge,
        answer(
            400,
            None,
            r#"{"error":"interaction_required","error_description":"AADSTS50076: mfa","error_codes":[50076]}"#,
        ),
    ]);
    let r: Result<Value, _> = block_on(client(&script, true).get("/me"));
    let Err(GraphError::SignInRequired(why)) = r else {
        panic!("{r:?}")
    };
    assert_eq!(why.reason, SignInReason::ClaimsChallenge);
    assert_eq!(why.claims.as_deref(), Some(claims));
    let renewal = script.sent.borrow()[1].body.clone().unwrap_or_default();
    assert!(renewal.contains("claims="), "{renewal}");
    // A renewal that the platform grants continues the call with the new token.
    let script = Script::new(vec![
        answer(401, None, expired),
        answer(200, None, r#"{"access_token":"at-9"}"#),
        answer(200, None, "{}"),
    ]);
    let c = client(&script, true);
    assert!(block_on(c.get::<Value>("/me")).is_ok());
    c.replace_tokens(Secret::new("at-popup"), Some(Secret::new("rt-popup")));
    assert_eq!(c.session.borrow().access_token.expose(), "at-popup");
}
