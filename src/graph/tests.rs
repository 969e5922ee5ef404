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
    assert_eq!(r, Err(GraphError::SignInExpired));
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
    assert_eq!(r, Err(GraphError::SignInExpired));
}
