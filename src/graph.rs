//! A typed Microsoft Graph client over a small transport trait (browser `fetch` in the page, a
//! native HTTP client in tests), with the reliability rules of the reference §3: `Retry-After`
//! honoured on 429/503/504, exponential backoff otherwise, directory replication waited out
//! after the page's own creates, all within one bounded budget; every wait is reported so the
//! page can show it. A 401 renews the access token once with the in-memory refresh token.

pub mod error;
pub mod models;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub use error::GraphError;

/// An HTTP request, as the transport sends it.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `GET`, `POST`, `PATCH`.
    pub method: &'static str,
    /// Absolute URL.
    pub url: String,
    /// Headers besides what the transport adds.
    pub headers: Vec<(String, String)>,
    /// Body, if any.
    pub body: Option<String>,
}

impl fmt::Debug for HttpRequest {
    // Never print headers: one of them is the bearer token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.url)
    }
}

/// What came back.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    /// HTTP status.
    pub status: u16,
    /// `Retry-After` in seconds, if sent (Graph sends fractions too).
    pub retry_after: Option<f64>,
    /// The body as text.
    pub body: String,
}

/// Sends requests and waits: the only two things the client needs from its platform.
pub trait Transport {
    /// Sends one request. `Err` means no complete answer arrived (network, dropped connection).
    fn send(&self, request: HttpRequest) -> impl Future<Output = Result<HttpResponse, String>>;
    /// Waits `ms` milliseconds.
    fn sleep(&self, ms: u64) -> impl Future<Output = ()>;
}

/// A secret string (token) that never shows in debug output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// The signed-in admin's tokens, in memory only.
#[derive(Debug, Clone)]
pub struct Session {
    /// Graph access token.
    pub access_token: Secret,
    /// Refresh token (SPA: ends 24 h after sign-in), if the platform gave one.
    pub refresh_token: Option<Secret>,
    /// The token endpoint, for renewal.
    pub token_url: String,
    /// The page's client id.
    pub client_id: String,
    /// The scopes to renew.
    pub scope: String,
}

/// Why the client is waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitReason {
    /// 429.
    Throttled,
    /// 503/504.
    Unavailable,
    /// A new object is not visible yet.
    Replication,
    /// No answer; trying again.
    Network,
}

/// A wait the page shows ("waiting 4 s for directory replication").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wait {
    /// Why.
    pub reason: WaitReason,
    /// How long, in seconds.
    pub seconds: f64,
}

/// How a request may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Safe to repeat on any transient failure (reads).
    Read,
    /// A write: repeated only when the server said it did nothing (429/503/504). After a lost
    /// answer the caller checks whether the write happened.
    Write,
    /// A write that depends on an object this run just created: also waits out replication.
    WriteAfterCreate,
    /// A read of (or under) an object this run just created: repeated on transient failures
    /// and while the object is not visible yet.
    ReadAfterCreate,
}

/// Retry limits: backoff from `first_ms` doubling to `cap_ms`, at most `budget_ms` of waiting
/// per request (reference §3.1: 2 s start, 15–20 s cap, about 3 minutes in all).
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// First backoff.
    pub first_ms: u64,
    /// Longest single backoff.
    pub cap_ms: u64,
    /// Total waiting allowed for one request.
    pub budget_ms: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            first_ms: 2_000,
            cap_ms: 16_000,
            budget_ms: 180_000,
        }
    }
}

/// One request of a `$batch`.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchItem {
    /// Id within the batch.
    pub id: &'static str,
    /// Relative URL, e.g. `/organization`.
    pub url: String,
}

/// The Graph client.
pub struct Client<T: Transport> {
    transport: T,
    base: String,
    session: RefCell<Session>,
    policy: Policy,
    on_wait: RefCell<Box<dyn Fn(Wait)>>,
    round_trips: Cell<u32>,
}

impl<T: Transport> Client<T> {
    /// A client for Graph at `base` (e.g. `https://graph.microsoft.com/v1.0`).
    pub fn new(transport: T, base: &str, session: Session, policy: Policy) -> Self {
        Self {
            transport,
            base: base.trim_end_matches('/').to_owned(),
            session: RefCell::new(session),
            policy,
            on_wait: RefCell::new(Box::new(|_| {})),
            round_trips: Cell::new(0),
        }
    }

    /// Calls `f` before every wait.
    pub fn on_wait(&self, f: impl Fn(Wait) + 'static) {
        *self.on_wait.borrow_mut() = Box::new(f);
    }

    /// Requests sent so far (Graph and token endpoint), retries included.
    pub fn round_trips(&self) -> u32 {
        self.round_trips.get()
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, String> {
        self.round_trips.set(self.round_trips.get() + 1);
        self.transport.send(request).await
    }

    fn graph_request(&self, method: &'static str, path: &str, body: Option<&Value>) -> HttpRequest {
        let mut headers = vec![(
            "Authorization".to_owned(),
            format!("Bearer {}", self.session.borrow().access_token.expose()),
        )];
        if body.is_some() {
            headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
        }
        HttpRequest {
            method,
            url: format!("{}{path}", self.base),
            headers,
            body: body.map(Value::to_string),
        }
    }

    /// Renews the access token with the refresh token; false when that is not possible.
    async fn renew(&self) -> bool {
        let (refresh, token_url, client_id, scope) = {
            let s = self.session.borrow();
            let Some(refresh) = s.refresh_token.clone() else {
                return false;
            };
            (
                refresh,
                s.token_url.clone(),
                s.client_id.clone(),
                s.scope.clone(),
            )
        };
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &client_id)
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", refresh.expose())
            .append_pair("scope", &scope)
            .finish();
        let request = HttpRequest {
            method: "POST",
            url: token_url,
            headers: vec![(
                "Content-Type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            )],
            body: Some(body),
        };
        let Ok(response) = self.send(request).await else {
            return false;
        };
        let Ok(tokens) = serde_json::from_str::<Value>(&response.body) else {
            return false;
        };
        let Some(access) = tokens["access_token"]
            .as_str()
            .filter(|_| response.status == 200)
        else {
            return false;
        };
        let mut s = self.session.borrow_mut();
        s.access_token = Secret::new(access);
        if let Some(rt) = tokens["refresh_token"].as_str() {
            s.refresh_token = Some(Secret::new(rt));
        }
        true
    }

    /// Sends with retries; returns the successful response or the classified failure.
    pub async fn call(
        &self,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
        retry: Retry,
    ) -> Result<HttpResponse, GraphError> {
        let mut waited = 0u64;
        let mut attempt = 0u32;
        let mut renewed = false;
        loop {
            let request = self.graph_request(method, path, body);
            let answer = self.send(request).await;
            // A 401 right after a renewal means renewing does not help; one later on (a long
            // wait outlived the new token) may renew again.
            if !matches!(&answer, Ok(r) if r.status == 401) {
                renewed = false;
            }
            let (failure, retry_after) = match answer {
                Ok(r) if (200..300).contains(&r.status) => return Ok(r),
                Ok(r) if r.status == 401 && !renewed => {
                    renewed = true;
                    if self.renew().await {
                        continue;
                    }
                    return Err(GraphError::SignInExpired);
                }
                Ok(r) => (GraphError::from_response(r.status, &r.body), r.retry_after),
                Err(e) => (GraphError::Network(e), None),
            };
            let reason = match (&failure, retry) {
                (GraphError::Throttled, _) => WaitReason::Throttled,
                (GraphError::Unavailable(_), _) => WaitReason::Unavailable,
                (GraphError::Network(_), Retry::Read | Retry::ReadAfterCreate) => {
                    WaitReason::Network
                }
                (
                    GraphError::Replicating(_) | GraphError::NotFound(_),
                    Retry::WriteAfterCreate | Retry::ReadAfterCreate,
                ) => WaitReason::Replication,
                _ => return Err(replication_exhausted(failure, retry)),
            };
            let backoff = self
                .policy
                .first_ms
                .saturating_mul(1 << attempt.min(10))
                .min(self.policy.cap_ms);
            let ms = retry_after.map_or(backoff, |s| (s.max(0.0) * 1000.0).ceil() as u64);
            if waited + ms > self.policy.budget_ms {
                return Err(replication_exhausted(failure, retry));
            }
            (self.on_wait.borrow())(Wait {
                reason,
                seconds: ms as f64 / 1000.0,
            });
            self.transport.sleep(ms).await;
            waited += ms;
            attempt += 1;
        }
    }

    /// `GET` and parse.
    pub async fn get<R: DeserializeOwned>(&self, path: &str) -> Result<R, GraphError> {
        self.get_with(path, Retry::Read).await
    }

    /// `GET` with a chosen retry rule (`ReadAfterCreate` under a new object).
    pub async fn get_with<R: DeserializeOwned>(
        &self,
        path: &str,
        retry: Retry,
    ) -> Result<R, GraphError> {
        let r = self.call("GET", path, None, retry).await?;
        parse(&r.body)
    }

    /// `POST` and parse the created object.
    pub async fn post<R: DeserializeOwned>(
        &self,
        path: &str,
        body: &Value,
        retry: Retry,
    ) -> Result<R, GraphError> {
        let r = self.call("POST", path, Some(body), retry).await?;
        parse(&r.body)
    }

    /// `PATCH` (Graph answers 204).
    pub async fn patch(&self, path: &str, body: &Value) -> Result<(), GraphError> {
        self.call("PATCH", path, Some(body), Retry::Write)
            .await
            .map(|_| ())
    }

    /// Reads in one `$batch` (at most 20); each answer parsed or classified, in the order given.
    /// Inner requests that were throttled or unavailable (Graph evaluates each on its own and
    /// SDKs do not retry them, reference §2.9) are sent again one by one after the longest
    /// `Retry-After`, each with the client's own retries.
    pub async fn batch(
        &self,
        items: &[BatchItem],
    ) -> Result<Vec<Result<Value, GraphError>>, GraphError> {
        let requests: Vec<Value> = items
            .iter()
            .map(|it| json!({"id": it.id, "method": "GET", "url": it.url}))
            .collect();
        let body = json!({ "requests": requests });
        let r = self
            .call("POST", "/$batch", Some(&body), Retry::Read)
            .await?;
        let parsed: Value = parse(&r.body)?;
        let mut answers: Vec<Option<Result<Value, GraphError>>> = vec![None; items.len()];
        let mut retry_after: Option<f64> = None;
        for response in parsed["responses"].as_array().into_iter().flatten() {
            let Some(i) = items.iter().position(|it| response["id"] == it.id) else {
                continue;
            };
            let status = response["status"].as_u64().unwrap_or(0) as u16;
            if matches!(status, 429 | 503 | 504) {
                let headers = &response["headers"];
                let after = headers["Retry-After"]
                    .as_str()
                    .or(headers["retry-after"].as_str())
                    .and_then(|s| s.parse::<f64>().ok());
                retry_after = Some(retry_after.unwrap_or(0.0).max(after.unwrap_or(2.0)));
                continue;
            }
            answers[i] = Some(if (200..300).contains(&status) {
                Ok(response["body"].clone())
            } else {
                Err(GraphError::from_response(
                    status,
                    &response["body"].to_string(),
                ))
            });
        }
        if let Some(seconds) = retry_after {
            let ms = (seconds.max(0.0) * 1000.0).ceil() as u64;
            (self.on_wait.borrow())(Wait {
                reason: WaitReason::Throttled,
                seconds: ms as f64 / 1000.0,
            });
            self.transport.sleep(ms).await;
        }
        let mut out = Vec::with_capacity(items.len());
        for (item, answer) in items.iter().zip(answers) {
            out.push(match answer {
                Some(a) => a,
                // Missing or throttled: on its own, with the usual retries.
                None => match self.call("GET", &item.url, None, Retry::Read).await {
                    Ok(r) => parse(&r.body),
                    Err(e) => Err(e),
                },
            });
        }
        Ok(out)
    }
}

/// A 404 after our own create that never cleared is replication that did not finish in time.
fn replication_exhausted(failure: GraphError, retry: Retry) -> GraphError {
    match (failure, retry) {
        (GraphError::NotFound(m), Retry::WriteAfterCreate | Retry::ReadAfterCreate) => {
            GraphError::Replicating(m)
        }
        (other, _) => other,
    }
}

/// Parses a JSON answer.
pub fn parse<R: DeserializeOwned>(body: &str) -> Result<R, GraphError> {
    serde_json::from_str(body).map_err(|e| GraphError::Unexpected(e.to_string()))
}

/// Reads one `$batch` answer as `R`.
pub fn batch_answer<R: DeserializeOwned>(
    answer: &Result<Value, GraphError>,
) -> Result<R, GraphError> {
    match answer {
        Ok(body) => {
            serde_json::from_value(body.clone()).map_err(|e| GraphError::Unexpected(e.to_string()))
        }
        Err(e) => Err(e.clone()),
    }
}

/// `'value'` quoted for `$filter` (single quotes doubled).
pub fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Percent-encodes a query value (spaces, quotes, `$`, `&`, `#`).
pub fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
