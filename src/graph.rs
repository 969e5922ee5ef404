//! A typed Microsoft Graph client over a small transport trait (browser `fetch` in the page, a
//! native HTTP client in tests), with Graph's reliability rules
//! (<https://learn.microsoft.com/graph/throttling>, <https://learn.microsoft.com/graph/errors>):
//! `Retry-After` honoured, exponential backoff otherwise, directory replication waited out after
//! the page's own creates, all within one bounded budget; every wait is reported so the page can
//! show it.
//!
//! A write is sent again without looking only when Graph said it did nothing (429). A 5xx or a
//! lost answer may come after the backend acted (a gateway timeout often does), so such a write
//! is handed back to the caller, which looks first, unless the write is an upsert
//! (`Retry::Upsert`), which is safe to repeat by construction.
//!
//! A 401 renews the access token with the in-memory refresh token. When the identity platform
//! wants the admin back (MFA, Conditional Access, a session limit, or Graph's claims challenge of
//! continuous access evaluation) the call fails with `GraphError::SignInRequired`, which carries
//! what the next sign-in must ask for; the page signs in again in a popup and continues.

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
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HttpResponse {
    /// HTTP status.
    pub status: u16,
    /// `Retry-After` in seconds, if sent (Graph sends fractions too).
    pub retry_after: Option<f64>,
    /// `WWW-Authenticate`, if sent (Graph's claims challenge travels in it).
    pub www_authenticate: Option<String>,
    /// Where an asynchronous Azure operation reports its progress: `Azure-AsyncOperation`,
    /// else `Location`, if sent
    /// (<https://learn.microsoft.com/azure/azure-resource-manager/management/async-operations>).
    pub operation: Option<String>,
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

/// A request body: JSON, or text of a content type.
#[derive(Debug, Clone, Copy)]
enum Payload<'a> {
    Json(&'a Value),
    Text(&'static str, &'a str),
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
    /// An asynchronous Azure operation (an import, a publish, a job) is still running.
    Operation,
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
    /// A write: repeated only when the server said it did nothing (429). After a 5xx or a lost
    /// answer the caller looks whether the write happened before writing again.
    Write,
    /// A write that depends on an object this run just created: also waits out replication.
    WriteAfterCreate,
    /// A read of (or under) an object this run just created: repeated on transient failures
    /// and while the object is not visible yet.
    ReadAfterCreate,
    /// An upsert (`Prefer: create-if-missing` on an alternate key): the same request twice
    /// leaves one object, so it is repeated after any transient failure.
    Upsert,
    /// An upsert that depends on an object this run just created.
    UpsertAfterCreate,
}

impl Retry {
    fn repeatable(self) -> bool {
        !matches!(self, Self::Write | Self::WriteAfterCreate)
    }

    fn after_create(self) -> bool {
        matches!(
            self,
            Self::WriteAfterCreate | Self::ReadAfterCreate | Self::UpsertAfterCreate
        )
    }
}

/// A collection read to its end (`@odata.nextLink` followed), or as far as the bound allowed.
#[derive(Debug, Clone, PartialEq)]
pub struct Paged<T> {
    /// The items read.
    pub items: Vec<T>,
    /// False when the page bound stopped the read before the last page.
    pub complete: bool,
}

/// Pages read at most per collection: 20 pages of 999 cover any tenant this page is for, and a
/// bound keeps a runaway `nextLink` chain from reading forever.
pub const MAX_PAGES: usize = 20;

/// Retry limits: backoff from `first_ms` doubling to `cap_ms`, at most `budget_ms` of waiting
/// per request (2 s start, 15–20 s cap, about 3 minutes in all, as long as the Azure CLI's
/// `az ad sp create-for-rbac` waits for a new service principal to replicate, 36 × 5 s;
/// <https://devblogs.microsoft.com/identity/designing-for-eventual-consistency-for-microsoft-entra/>).
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

/// What the identity platform wants before it gives the page another token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInReason {
    /// The refresh token ended (SPAs: 24 hours, AADSTS700084) or there is none.
    Expired,
    /// Multi-factor authentication (AADSTS50076 / 50079).
    Mfa,
    /// A Conditional Access policy (AADSTS53003 and its kin).
    ConditionalAccess,
    /// Graph's claims challenge (continuous access evaluation: a policy or session changed).
    ClaimsChallenge,
    /// Any other `interaction_required` / `login_required` / `consent_required`.
    Interaction,
}

/// The admin must sign in again; the run, the page and the key in memory are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInRequired {
    /// Why.
    pub reason: SignInReason,
    /// The AADSTS number, when the platform gave one.
    pub code: Option<u32>,
    /// The `claims` the next authorize request must carry (JSON), when challenged.
    pub claims: Option<String>,
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

    fn graph_request(
        &self,
        method: &'static str,
        path: &str,
        body: Option<Payload<'_>>,
    ) -> HttpRequest {
        let mut headers = vec![(
            "Authorization".to_owned(),
            format!("Bearer {}", self.session.borrow().access_token.expose()),
        )];
        let body = body.map(|b| {
            let (kind, text) = match b {
                Payload::Json(v) => ("application/json", v.to_string()),
                Payload::Text(kind, t) => (kind, t.to_owned()),
            };
            headers.push(("Content-Type".to_owned(), kind.to_owned()));
            text
        });
        HttpRequest {
            method,
            url: self.url_of(path),
            headers,
            body,
        }
    }

    /// The service root, without the version (`https://graph.microsoft.com`).
    fn root(&self) -> &str {
        self.base
            .rsplit_once('/')
            .map_or(self.base.as_str(), |(root, _)| root)
    }

    /// A path of the beta endpoint on the same Graph (`/reports/…` → `https://…/beta/reports/…`),
    /// for the few reads v1.0 does not offer
    /// (<https://learn.microsoft.com/graph/versioning-and-support>).
    pub fn beta(&self, path: &str) -> String {
        format!("{}/beta{path}", self.root())
    }

    /// A path under the configured base, or an address `beta` made (same service, same token).
    fn url_of(&self, path: &str) -> String {
        if path.starts_with(&format!("{}/", self.root())) {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    /// A client for another resource of the same sign-in (Azure Resource Manager at `base`,
    /// asking for `scope`), its first token redeemed from this one's refresh token
    /// (<https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow#refresh-the-access-token>).
    /// `Err(SignInRequired)` when the platform wants the admin first (consent to the scope).
    pub async fn for_resource(&self, base: &str, scope: &str) -> Result<Self, GraphError>
    where
        T: Clone,
    {
        let session = {
            let s = self.session.borrow();
            Session {
                access_token: Secret::new(""),
                refresh_token: s.refresh_token.clone(),
                token_url: s.token_url.clone(),
                client_id: s.client_id.clone(),
                scope: scope.to_owned(),
            }
        };
        let other = Self::new(self.transport.clone(), base, session, self.policy);
        other.renew(None).await?;
        Ok(other)
    }

    /// Replaces the tokens after the admin signed in again (popup), keeping everything else.
    pub fn replace_tokens(&self, access_token: Secret, refresh_token: Option<Secret>) {
        let mut s = self.session.borrow_mut();
        s.access_token = access_token;
        if refresh_token.is_some() {
            s.refresh_token = refresh_token;
        }
    }

    /// Renews the access token with the refresh token, asking for `claims` when Graph
    /// challenged. `Err` says why only the admin can continue (or that the network failed).
    async fn renew(&self, claims: Option<&str>) -> Result<(), GraphError> {
        let (refresh, token_url, client_id, scope) = {
            let s = self.session.borrow();
            let Some(refresh) = s.refresh_token.clone() else {
                return Err(GraphError::SignInRequired(SignInRequired {
                    reason: SignInReason::Expired,
                    code: None,
                    claims: claims.map(str::to_owned),
                }));
            };
            (
                refresh,
                s.token_url.clone(),
                s.client_id.clone(),
                s.scope.clone(),
            )
        };
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("client_id", &client_id)
            .append_pair("grant_type", "refresh_token")
            .append_pair("refresh_token", refresh.expose())
            .append_pair("scope", &scope);
        if let Some(claims) = claims {
            form.append_pair("claims", claims);
        }
        let request = HttpRequest {
            method: "POST",
            url: token_url,
            headers: vec![(
                "Content-Type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            )],
            body: Some(form.finish()),
        };
        let response = self.send(request).await.map_err(GraphError::Network)?;
        let tokens: Value = serde_json::from_str(&response.body).unwrap_or(Value::Null);
        match tokens["access_token"].as_str() {
            Some(access) if response.status == 200 => {
                let mut s = self.session.borrow_mut();
                s.access_token = Secret::new(access);
                if let Some(rt) = tokens["refresh_token"].as_str() {
                    s.refresh_token = Some(Secret::new(rt));
                }
                Ok(())
            }
            _ if response.status >= 500 => Err(GraphError::Unavailable(response.status)),
            _ => Err(GraphError::SignInRequired(token_error(&tokens, claims))),
        }
    }

    /// Sends with retries; returns the successful response or the classified failure.
    pub async fn call(
        &self,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
        retry: Retry,
    ) -> Result<HttpResponse, GraphError> {
        self.call_with(method, path, &[], body, retry).await
    }

    /// `call` with extra headers (e.g. `Prefer: create-if-missing`).
    pub async fn call_with(
        &self,
        method: &'static str,
        path: &str,
        extra_headers: &[(&str, &str)],
        body: Option<&Value>,
        retry: Retry,
    ) -> Result<HttpResponse, GraphError> {
        self.send_payload(method, path, extra_headers, body.map(Payload::Json), retry)
            .await
    }

    /// `call` with a text body of `content_type` (a runbook's script).
    pub async fn call_text(
        &self,
        method: &'static str,
        path: &str,
        content_type: &'static str,
        body: &str,
        retry: Retry,
    ) -> Result<HttpResponse, GraphError> {
        self.send_payload(
            method,
            path,
            &[],
            Some(Payload::Text(content_type, body)),
            retry,
        )
        .await
    }

    async fn send_payload(
        &self,
        method: &'static str,
        path: &str,
        extra_headers: &[(&str, &str)],
        body: Option<Payload<'_>>,
        retry: Retry,
    ) -> Result<HttpResponse, GraphError> {
        let mut waited = 0u64;
        let mut attempt = 0u32;
        let mut renewed = false;
        loop {
            let mut request = self.graph_request(method, path, body);
            request.headers.extend(
                extra_headers
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            );
            let answer = self.send(request).await;
            // A 401 right after a renewal means renewing does not help; one later on (a long
            // wait outlived the new token) may renew again.
            if !matches!(&answer, Ok(r) if r.status == 401) {
                renewed = false;
            }
            let (failure, retry_after) = match answer {
                Ok(r) if (200..300).contains(&r.status) => return Ok(r),
                Ok(r) if r.status == 401 => {
                    let claims = r.www_authenticate.as_deref().and_then(claims_challenge);
                    if renewed {
                        return Err(GraphError::SignInRequired(SignInRequired {
                            reason: if claims.is_some() {
                                SignInReason::ClaimsChallenge
                            } else {
                                SignInReason::Expired
                            },
                            code: None,
                            claims,
                        }));
                    }
                    renewed = true;
                    match self.renew(claims.as_deref()).await {
                        Ok(()) => continue,
                        Err(GraphError::SignInRequired(mut why)) => {
                            if claims.is_some() {
                                why.reason = SignInReason::ClaimsChallenge;
                                why.claims = claims;
                            }
                            return Err(GraphError::SignInRequired(why));
                        }
                        Err(e) => (e, None),
                    }
                }
                Ok(r) => (GraphError::from_response(r.status, &r.body), r.retry_after),
                Err(e) => (GraphError::Network(e), None),
            };
            let reason = match &failure {
                GraphError::Throttled => WaitReason::Throttled,
                GraphError::Unavailable(_) if retry.repeatable() => WaitReason::Unavailable,
                GraphError::Network(_) if retry.repeatable() => WaitReason::Network,
                GraphError::Replicating(_) | GraphError::NotFound(_) if retry.after_create() => {
                    WaitReason::Replication
                }
                _ => return Err(replication_exhausted(failure, retry)),
            };
            let backoff = self
                .policy
                .first_ms
                .saturating_mul(1 << attempt.min(10))
                .min(self.policy.cap_ms);
            let ms = retry_after.map_or(backoff, seconds_to_ms);
            if waited.saturating_add(ms) > self.policy.budget_ms {
                return Err(replication_exhausted(failure, retry));
            }
            (self.on_wait.borrow())(Wait {
                reason,
                seconds: ms as f64 / 1000.0,
            });
            self.transport.sleep(ms).await;
            waited = waited.saturating_add(ms);
            attempt = attempt.saturating_add(1);
        }
    }

    /// Waits `ms`, telling the page why (the executor's own waits: settling reads).
    pub async fn pause(&self, reason: WaitReason, ms: u64) {
        (self.on_wait.borrow())(Wait {
            reason,
            seconds: ms as f64 / 1000.0,
        });
        self.transport.sleep(ms).await;
    }

    /// Reads a whole collection: the first page at `path`, then every `@odata.nextLink`, at most
    /// `MAX_PAGES` pages.
    pub async fn get_all<R: DeserializeOwned>(
        &self,
        path: &str,
        retry: Retry,
    ) -> Result<Paged<R>, GraphError> {
        let first: models::Collection<R> = self.get_with(path, retry).await?;
        self.rest_of(first, retry).await
    }

    /// Follows the `@odata.nextLink`s of a first page already read (e.g. inside a `$batch`).
    pub async fn rest_of<R: DeserializeOwned>(
        &self,
        first: models::Collection<R>,
        retry: Retry,
    ) -> Result<Paged<R>, GraphError> {
        let mut items = first.value;
        let mut next = first.next_link;
        let mut pages = 1;
        while let Some(link) = next {
            if pages >= MAX_PAGES {
                return Ok(Paged {
                    items,
                    complete: false,
                });
            }
            let path = self.relative(&link)?;
            let page: models::Collection<R> = self.get_with(&path, retry).await?;
            items.extend(page.value);
            next = page.next_link;
            pages += 1;
        }
        Ok(Paged {
            items,
            complete: true,
        })
    }

    /// A `nextLink` as a path under the client's base. The bearer token goes only to the
    /// configured Graph: a link elsewhere is refused.
    fn relative(&self, link: &str) -> Result<String, GraphError> {
        let beta = self.beta("");
        link.strip_prefix(&self.base)
            .filter(|rest| rest.starts_with('/') || rest.starts_with('?'))
            .map(str::to_owned)
            .or_else(|| {
                link.strip_prefix(&beta)
                    .filter(|rest| rest.starts_with('/'))
                    .map(|_| link.to_owned())
            })
            .ok_or_else(|| {
                GraphError::Unexpected(format!(
                    "the next page of a list points outside {} ({link})",
                    self.base
                ))
            })
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
    /// SDKs do not retry them, <https://learn.microsoft.com/graph/throttling>,
    /// <https://learn.microsoft.com/graph/json-batching>) are sent again one by one after the longest
    /// `Retry-After`, each with the client's own retries.
    pub async fn batch(
        &self,
        items: &[BatchItem],
    ) -> Result<Vec<Result<Value, GraphError>>, GraphError> {
        // Graph refuses a batch whose ids repeat: a label used for many items (one per
        // principal) gets its position appended.
        let wire: Vec<String> = items
            .iter()
            .enumerate()
            .map(|(i, it)| {
                if items.iter().filter(|o| o.id == it.id).count() > 1 {
                    format!("{}-{i}", it.id)
                } else {
                    it.id.to_owned()
                }
            })
            .collect();
        let requests: Vec<Value> = items
            .iter()
            .zip(&wire)
            .map(|(it, id)| json!({"id": id, "method": "GET", "url": it.url}))
            .collect();
        let body = json!({ "requests": requests });
        let r = self
            .call("POST", "/$batch", Some(&body), Retry::Read)
            .await?;
        let parsed: Value = parse(&r.body)?;
        let mut answers: Vec<Option<Result<Value, GraphError>>> = vec![None; items.len()];
        let mut retry_after: Option<f64> = None;
        for response in parsed["responses"].as_array().into_iter().flatten() {
            let Some(i) = wire.iter().position(|id| response["id"] == id.as_str()) else {
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
            let ms = seconds_to_ms(seconds).min(self.policy.budget_ms);
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
    match failure {
        GraphError::NotFound(m) if retry.after_create() => GraphError::Replicating(m),
        other => other,
    }
}

/// `Retry-After` seconds (fractions allowed; negative, NaN or absurd values clamped) in ms.
fn seconds_to_ms(seconds: f64) -> u64 {
    if seconds.is_nan() || seconds <= 0.0 {
        return 0;
    }
    // Beyond a day is nonsense from a proxy; the budget refuses it anyway.
    (seconds.min(86_400.0) * 1000.0).ceil() as u64
}

/// The `claims` of a `WWW-Authenticate: Bearer … error="insufficient_claims", claims="…"`
/// challenge, decoded from base64 to JSON (continuous access evaluation,
/// <https://learn.microsoft.com/entra/identity-platform/claims-challenge>).
pub fn claims_challenge(header: &str) -> Option<String> {
    let param = |name: &str| -> Option<String> {
        let at = header.find(&format!("{name}=\""))? + name.len() + 2;
        let rest = &header[at..];
        Some(rest[..rest.find('"')?].to_owned())
    };
    if param("error")? != "insufficient_claims" {
        return None;
    }
    let encoded = param("claims")?;
    use base64::Engine as _;
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    engines
        .iter()
        .find_map(|e| e.decode(encoded.trim()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|json| serde_json::from_str::<Value>(json).is_ok())
}

/// Classifies a refused refresh (<https://learn.microsoft.com/entra/identity-platform/reference-error-codes>).
fn token_error(answer: &Value, claims: Option<&str>) -> SignInRequired {
    let description = answer["error_description"].as_str().unwrap_or_default();
    let code = answer["error_codes"]
        .as_array()
        .and_then(|codes| codes.first())
        .and_then(Value::as_u64)
        .and_then(|c| u32::try_from(c).ok())
        .or_else(|| crate::auth::aadsts(description));
    let reason = match (answer["error"].as_str().unwrap_or_default(), code) {
        (_, Some(50076 | 50079 | 50072 | 50074)) => SignInReason::Mfa,
        (_, Some(53000 | 53001 | 53002 | 53003 | 530003 | 530032)) => {
            SignInReason::ConditionalAccess
        }
        (_, Some(700082 | 700084 | 50173 | 50133 | 70043)) => SignInReason::Expired,
        ("invalid_grant", _) => SignInReason::Expired,
        _ => SignInReason::Interaction,
    };
    SignInRequired {
        reason,
        code,
        claims: answer["claims"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| claims.map(str::to_owned)),
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
