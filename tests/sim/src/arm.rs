//! A stand-in for Azure Resource Manager, served under `/arm` (standing for
//! `https://management.azure.com` and the national clouds' ARM hosts, `Cloud::arm`): the
//! subscriptions, Automation accounts and Azure RBAC the page's Azure Automation steps meet
//! (sources below).
//!
//! Every request needs a delegated ARM token from the simulator's token endpoint (`aud` the
//! cloud's ARM resource, `scp` `user_impersonation`); ARM's 401s otherwise. Then Azure RBAC:
//! the caller's role assignments at the resource's scope or above must grant the action, else
//! 403 `AuthorizationFailed` in ARM's words. Long operations run on the simulator's clock
//! (module imports, publishes, jobs), and faults (`armThrottleEvery`, `armWriteFaults`, …) make
//! ARM as unreliable as the real one.
//!
//! Sources: Automation REST API 2023-11-01
//! (<https://github.com/Azure/azure-rest-api-specs/tree/main/specification/automation/resource-manager/Microsoft.Automation/stable/2023-11-01>),
//! <https://learn.microsoft.com/azure/azure-resource-manager/management/async-operations>,
//! <https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling>,
//! <https://learn.microsoft.com/rest/api/resources/subscriptions/list>,
//! <https://learn.microsoft.com/rest/api/authorization/permissions>,
//! <https://learn.microsoft.com/azure/role-based-access-control/troubleshooting>.

// ARM answers are `Response`s; boxing them buys nothing in a test double.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::arm_model::{Account, Arm, Certificate, Job, Runbook, SystemIdentity, ms_rfc3339};
use crate::cloud::Cloud;
use crate::faults::WriteFault;
use crate::graph::{Shared, Sim, lock};
use crate::identity::TokenError;
use crate::tenant::{ServicePrincipal, User};
use crate::{ids, jwt, signin};

/// The consent the sign-in page records for ARM's delegated `user_impersonation` (kept with
/// the Graph permission names in `consents`; never part of a Graph token's `scp`).
pub const CONSENT: &str = "AzureServiceManagement/user_impersonation";
/// The Automation api-versions the simulated provider serves (those the specs repository
/// publishes for `Microsoft.Automation`).
pub const AUTOMATION_VERSIONS: [&str; 8] = [
    "2015-10-31",
    "2018-06-30",
    "2019-06-01",
    "2020-01-13-preview",
    "2022-08-08",
    "2023-05-15-preview",
    "2023-11-01",
    "2024-10-23",
];
/// `GET /subscriptions` api-versions.
pub const SUBSCRIPTION_VERSIONS: [&str; 5] = [
    "2016-06-01",
    "2019-06-01",
    "2020-01-01",
    "2021-01-01",
    "2022-12-01",
];
/// `Microsoft.Authorization/permissions` api-versions.
pub const PERMISSION_VERSIONS: [&str; 3] = ["2015-07-01", "2018-01-01-preview", "2022-04-01"];
/// Automation accounts on one page of a list (small, so the fixture's production subscription
/// pages).
pub const ACCOUNT_PAGE: usize = 2;
const AUTOMATION: &str = "Microsoft.Automation/automationAccounts";

/// ARM's faults (flattened into `/_sim/faults` and accepted in the `/_sim/reset` body).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ArmFaults {
    /// Every Nth ARM request answers 429 `SubscriptionRequestsThrottled` with `Retry-After`.
    pub arm_throttle_every: Option<u64>,
    /// Every Nth ARM request answers 503 `ServiceUnavailable` with `Retry-After`.
    pub arm_unavailable_every: Option<u64>,
    /// The `Retry-After` of those (seconds; 1 when unset).
    pub arm_retry_after_secs: f64,
    /// Requests aimed at, as Graph's `writeFaults` (`method`, `pathContains`, `nth`, `kind`:
    /// `lost`, `500`, `502`, `504` after the write, `429`, `503` before it).
    pub arm_write_faults: Vec<WriteFault>,
    /// Module imports started while this is set end `Failed` with this `error.message`.
    pub arm_module_failure: Option<String>,
    /// Seconds a module import takes (default 6).
    pub arm_module_import_secs: Option<u64>,
    /// Seconds a job takes from creation to its end (default 6).
    pub arm_job_secs: Option<u64>,
    /// Seconds a publish takes (default 2).
    pub arm_publish_secs: Option<u64>,
    /// ARM requests counted since the faults were set.
    #[serde(skip)]
    pub arm_requests: u64,
}

// ---------------------------------------------------------------------------------------------
// Tokens (the identity platform's side)

/// Whether a scope names this cloud's ARM: `{arm}/user_impersonation`, `{arm}/.default`, the
/// legacy `https://management.core.windows.net/` forms or the API's appId. Another cloud's ARM
/// is not (it is refused as an unknown resource).
pub fn names_arm(scope: &str, cloud: Cloud) -> bool {
    let Some(resource) = scope
        .strip_suffix("user_impersonation")
        .or_else(|| scope.strip_suffix(".default"))
    else {
        return false;
    };
    let resource = resource.trim_end_matches('/');
    [
        cloud.arm(),
        cloud.arm_legacy().trim_end_matches('/'),
        crate::arm_fixtures::ASM_APP_ID,
    ]
    .iter()
    .any(|r| r.eq_ignore_ascii_case(resource))
}

/// The ARM token a user-token request (`authorization_code`, `refresh_token`) asks for, when its
/// `scope` names ARM: the access token's claims and the answer's `scope`; `None` when the scope
/// names no ARM permission (a Graph token then, as before). One resource per request
/// (AADSTS28000), and the user needs consent for ARM on the client (AADSTS65001) (Learn:
/// "Microsoft identity platform and OAuth 2.0 authorization code flow", refreshing for another
/// resource).
///
/// `strict` (refresh tokens): every scope must be ARM's. Otherwise (code redemption, whose
/// `/authorize` may have asked consent for several resources) the first scope's resource wins.
pub fn user_token(
    sim: &Sim,
    user: &User,
    client_id: &str,
    scope: &str,
    strict: bool,
    now: i64,
    lifetime: i64,
) -> Option<Result<(Value, String), TokenError>> {
    let asked: Vec<&str> = scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .filter(|s| !["openid", "profile", "email", "offline_access"].contains(s))
        .collect();
    if !strict && !asked.first().is_some_and(|s| names_arm(s, sim.cloud)) {
        return None;
    }
    let arm: Vec<&&str> = asked.iter().filter(|s| names_arm(s, sim.cloud)).collect();
    let first = arm.first()?;
    if strict && arm.len() != asked.len() {
        return Some(Err(TokenError::new(
            "invalid_scope",
            28000,
            "Provided value for the input parameter scope is not valid because it contains more than one resource. Scope "
                .to_owned()
                + scope
                + " is not valid.",
        )));
    }
    if !signin::consented(&sim.tenant.consents, client_id, user)
        .iter()
        .any(|s| s == CONSENT)
    {
        let name = sim
            .client(client_id)
            .map(|(a, _)| a.display_name)
            .unwrap_or_default();
        return Some(Err(TokenError::new(
            "invalid_grant",
            65001,
            format!(
                "The user or administrator has not consented to use the application with ID '{client_id}' named '{name}'. Send an interactive authorization request for this user and resource."
            ),
        )));
    }
    let legacy = first
        .to_ascii_lowercase()
        .starts_with(&sim.cloud.arm_legacy().to_ascii_lowercase());
    let aud = if legacy {
        sim.cloud.arm_legacy()
    } else {
        sim.cloud.arm()
    };
    let claims = claims(sim, user, client_id, aud, now, lifetime);
    Some(Ok((
        claims,
        format!("{}/user_impersonation", sim.cloud.arm()),
    )))
}

/// An ARM access token's claims for `user` (a v1 token as ARM gets them: `aud` the resource,
/// `scp` `user_impersonation`, `oid`, `tid`, `upn`, `wids`).
fn claims(sim: &Sim, user: &User, client_id: &str, aud: &str, now: i64, lifetime: i64) -> Value {
    let mut c = json!({
        "aud": aud,
        "iss": format!("{}/{}/", sim.cloud.v1_issuer(), sim.tenant.id),
        "iat": now, "nbf": now, "exp": now + lifetime,
        "appid": client_id, "appidacr": "0", "idtyp": "user", "ver": "1.0",
        "oid": user.id, "sub": user.id, "tid": sim.tenant.id,
        "upn": user.user_principal_name, "name": user.display_name,
        "scp": "user_impersonation", "wids": user.roles, "uti": ids::uti(),
    });
    if let (Some(home), Some(map)) = (&user.home, c.as_object_mut()) {
        map.remove("upn");
        map.insert("unique_name".into(), json!(home.user_principal_name));
        map.insert(
            "idp".into(),
            json!(format!("{}/{}/", sim.cloud.v1_issuer(), home.tenant_id)),
        );
    }
    c
}

/// `POST /_sim/arm/token {"user": "admin", "tenant"?: id|domain, "lifetimeSecs"?, "audience"?}`:
/// an ARM token for a fixture user without the browser round trip and without consent (tests
/// of ARM itself; the token endpoint has its own tests).
async fn test_token(State(state): State<Shared>, Json(body): Json<Value>) -> Response {
    let mut sim = lock(&state);
    let at = match body["tenant"].as_str().map(|t| sim.locate(t)) {
        None => None,
        Some(Ok(at)) => at,
        Some(Err(())) => {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"error": "no such tenant"})),
            )
                .into_response();
        }
    };
    sim.within(at, |sim| {
        let name = body["user"].as_str().unwrap_or("admin");
        let Some(user) = crate::platform::fixture_user(sim, name) else {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"error": format!("no fixture user {name}")})),
            )
                .into_response();
        };
        let lifetime = body["lifetimeSecs"].as_i64().unwrap_or(3599);
        let aud = body["audience"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| sim.cloud.arm().to_owned());
        let now = sim.tenant.clock.now();
        let c = claims(sim, &user, "_sim", &aud, now, lifetime);
        Json(json!({ "access_token": jwt::sign(&sim.key, &sim.kid, &c), "expires_in": lifetime }))
            .into_response()
    })
}

// ---------------------------------------------------------------------------------------------
// HTTP

/// ARM's routes: everything under `/arm`, and the test-only token shortcut.
pub fn routes(state: Shared) -> Router<Shared> {
    Router::new()
        .route("/arm", any(dispatch))
        .route("/arm/{*rest}", any(dispatch))
        .route("/_sim/arm/token", post(test_token))
        .layer(axum::middleware::from_fn_with_state(state, faults))
        .layer(axum::middleware::from_fn(cors))
}

/// ARM answers browsers from any origin; preflights need no token; the headers a client needs
/// to follow operations and back off are readable.
async fn cors(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/arm") {
        return next.run(request).await;
    }
    let origin = request.headers().get(header::ORIGIN).cloned();
    let preflight = request.method() == Method::OPTIONS;
    let mut response = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    if let Some(origin) = origin {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(
                "Location, Azure-AsyncOperation, Retry-After, x-ms-request-id, x-ms-correlation-request-id, WWW-Authenticate",
            ),
        );
        if preflight {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, OPTIONS"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(
                    "authorization, content-type, x-ms-client-request-id, x-ms-command-name",
                ),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("3600"),
            );
        }
    }
    response
}

/// ARM's error body, `{"error": {"code", "message"}}`, with ARM's request id headers.
pub fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let mut response = (
        status,
        Json(json!({ "error": { "code": code, "message": message.into() } })),
    )
        .into_response();
    if let Ok(id) = HeaderValue::from_str(&ids::guid()) {
        response.headers_mut().insert("x-ms-request-id", id.clone());
        response
            .headers_mut()
            .insert("x-ms-correlation-request-id", id);
    }
    response
}

fn with_retry_after(mut response: Response, secs: f64) -> Response {
    let secs = if secs > 0.0 { secs } else { 1.0 };
    let text = if secs.fract() == 0.0 {
        format!("{}", secs as i64)
    } else {
        format!("{secs}")
    };
    if let Ok(v) = HeaderValue::from_str(&text) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// Throttling, outages and aimed faults for ARM requests (the `/_sim` shortcut excepted).
async fn faults(State(state): State<Shared>, request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/arm") || request.method() == Method::OPTIONS {
        return next.run(request).await;
    }
    let target = crate::faults::percent_decoded(
        &request
            .uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
    );
    let write = request.method() != Method::GET;
    let (f, n, aimed) = {
        let mut sim = lock(&state);
        sim.faults.arm.arm_requests += 1;
        let n = sim.faults.arm.arm_requests;
        let method = request.method().as_str().to_owned();
        let mut aimed = None;
        for rule in &mut sim.faults.arm.arm_write_faults {
            if rule.fired
                || !rule.method.eq_ignore_ascii_case(&method)
                || !target.contains(rule.path_contains.as_str())
            {
                continue;
            }
            rule.seen += 1;
            if aimed.is_none() && rule.seen >= rule.nth.max(1) {
                rule.fired = true;
                aimed = Some(rule.kind.clone());
            }
        }
        (sim.faults.arm.clone(), n, aimed)
    };
    let every = |k: Option<u64>| k.is_some_and(|k| k > 0 && n % k == 0);
    let throttled = || {
        let kind = if write { "write" } else { "read" };
        let secs = if f.arm_retry_after_secs > 0.0 {
            f.arm_retry_after_secs
        } else {
            1.0
        };
        with_retry_after(
            error(
                StatusCode::TOO_MANY_REQUESTS,
                "SubscriptionRequestsThrottled",
                format!(
                    "Number of '{kind}' requests for subscription actor exceeded. Please try again after '{}' seconds after additional tasks are completed.",
                    secs.ceil() as i64
                ),
            ),
            secs,
        )
    };
    let unavailable = || {
        with_retry_after(
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "The service is currently unavailable. Please try again later.",
            ),
            f.arm_retry_after_secs,
        )
    };
    if every(f.arm_throttle_every) || aimed.as_deref() == Some("429") {
        return throttled();
    }
    if every(f.arm_unavailable_every) || aimed.as_deref() == Some("503") {
        return unavailable();
    }
    let response = next.run(request).await;
    match aimed.as_deref() {
        Some("lost") => dropped(response),
        Some("500") => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            format!(
                "Encountered internal server error. Diagnostic information: timestamp '{}', tracking id '{}'.",
                ids::now_rfc3339(),
                ids::guid()
            ),
        ),
        Some("502") => error(
            StatusCode::BAD_GATEWAY,
            "BadGateway",
            "The gateway did not receive a response from 'Microsoft.Automation' within the specified time period.",
        ),
        Some("504") => error(
            StatusCode::GATEWAY_TIMEOUT,
            "GatewayTimeout",
            "The gateway did not receive a response from 'Microsoft.Automation' within the specified time period.",
        ),
        _ => response,
    }
}

/// The answer's head goes out, then the connection breaks: the write happened, the client saw
/// a network error.
fn dropped(response: Response) -> Response {
    let (parts, _) = response.into_parts();
    let broken = futures_util::stream::once(async {
        Err::<bytes::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection dropped by the simulator (fault)",
        ))
    });
    Response::from_parts(parts, axum::body::Body::from_stream(broken))
}

/// Who calls, from a checked ARM token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub oid: String,
    /// `upn` (a guest: `unique_name`), what `AuthorizationFailed` names the client by.
    pub name: String,
    pub tid: String,
}

fn unauthenticated(code: &str, message: impl Into<String>) -> Response {
    let mut response = error(StatusCode::UNAUTHORIZED, code, message);
    let www = format!(
        "Bearer authorization_uri=\"https://login.windows.net/\", error=\"invalid_token\", error_description=\"{code}\""
    );
    if let Ok(v) = HeaderValue::from_str(&www) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    response
}

/// Reads and checks the bearer token: signed by the simulator, for this cloud's ARM, alive,
/// for a user of a tenant of the fixture, with `user_impersonation`.
fn authenticate(sim: &Sim, headers: &HeaderMap) -> Result<(Caller, Option<usize>), Response> {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    if header.is_empty() {
        return Err(unauthenticated(
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
        ));
    }
    let Some(token) = header.strip_prefix("Bearer ").filter(|t| !t.is_empty()) else {
        return Err(unauthenticated(
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is provided in an invalid format.",
        ));
    };
    let invalid = || unauthenticated("InvalidAuthenticationToken", "The access token is invalid.");
    let jwt = jwt::decode(token).map_err(|_| invalid())?;
    if !jwt.verify(&sim.key.to_public_key()) {
        return Err(unauthenticated(
            "InvalidAuthenticationToken",
            "The access token has an invalid signature.",
        ));
    }
    let c = &jwt.claims;
    let aud = c["aud"].as_str().unwrap_or_default();
    let arm = sim.cloud.arm();
    let legacy = sim.cloud.arm_legacy().trim_end_matches('/');
    let allowed = [arm, legacy];
    if !allowed
        .iter()
        .any(|a| a.eq_ignore_ascii_case(aud.trim_end_matches('/')))
    {
        return Err(unauthenticated(
            "InvalidAuthenticationTokenAudience",
            format!(
                "The access token has been obtained for wrong audience or resource '{aud}'. It should exactly match with one of the allowed audiences '{legacy}/','{legacy}','{arm}/','{arm}'."
            ),
        ));
    }
    let now = sim.tenant.clock.now();
    let exp = c["exp"].as_i64().unwrap_or(0);
    if now >= exp {
        return Err(unauthenticated(
            "ExpiredAuthenticationToken",
            format!(
                "The access token expiry UTC time '{}' is earlier than current UTC time '{}'.",
                ids::rfc3339(exp),
                ids::rfc3339(now)
            ),
        ));
    }
    if !c["scp"]
        .as_str()
        .is_some_and(|s| s.split(' ').any(|x| x == "user_impersonation"))
    {
        return Err(unauthenticated(
            "InvalidAuthenticationToken",
            "The access token does not carry the 'user_impersonation' scope.",
        ));
    }
    let tid = c["tid"].as_str().unwrap_or_default().to_owned();
    let at = sim.locate(&tid).map_err(|()| invalid())?;
    let tenant = match at {
        Some(i) => &sim.others[i],
        None => &sim.tenant,
    };
    if tenant.id != tid {
        return Err(invalid());
    }
    let oid = c["oid"].as_str().unwrap_or_default().to_owned();
    let Some(user) = tenant.users.iter().find(|u| u.id == oid) else {
        return Err(unauthenticated(
            "InvalidAuthenticationToken",
            "The user of the access token no longer exists.",
        ));
    };
    let name = user
        .home
        .as_ref()
        .map_or(&user.user_principal_name, |h| &h.user_principal_name)
        .clone();
    Ok((Caller { oid, name, tid }, at))
}

/// One ARM request, decoded.
pub struct Req {
    pub method: Method,
    /// Path segments after `/arm`.
    pub segs: Vec<String>,
    pub params: HashMap<String, String>,
    pub body: Bytes,
    pub content_type: String,
    /// `{scheme}://{host}` the request came to (for `Location` and `nextLink`).
    pub origin: String,
    pub caller: Caller,
}

async fn dispatch(
    State(state): State<Shared>,
    https: Option<axum::Extension<crate::Https>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut sim = lock(&state);
    let (caller, at) = match authenticate(&sim, &headers) {
        Ok(c) => c,
        Err(response) => return response,
    };
    let scheme = if https.is_some() { "https" } else { sim.scheme };
    let params: HashMap<String, String> =
        url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let segs: Vec<String> = uri
        .path()
        .trim_start_matches("/arm")
        .split('/')
        .filter(|s| !s.is_empty())
        .map(crate::faults::percent_decoded)
        .collect();
    let req = Req {
        method,
        segs,
        params,
        body,
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase(),
        origin: crate::platform::origin(scheme, &headers, &uri),
        caller,
    };
    sim.within(at, |sim| {
        settle(sim);
        route(sim, &req)
    })
}

fn is(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

pub(crate) fn api_version<'a>(
    req: &'a Req,
    known: &[&str],
    automation: Option<&str>,
) -> Result<&'a str, Response> {
    let Some(v) = req.params.get("api-version") else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    };
    if known.contains(&v.as_str()) {
        return Ok(v);
    }
    let list = known.join(", ");
    Err(match automation {
        Some(kind) => error(
            StatusCode::BAD_REQUEST,
            "NoRegisteredProviderFound",
            format!(
                "No registered resource provider found for location 'westeurope' and API version '{v}' for type '{kind}'. The supported api-versions are '{list}'. The supported locations are 'westeurope, northeurope, eastus, eastus2, westus2, uksouth'."
            ),
        ),
        None => error(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersionParameter",
            format!("The api-version '{v}' is invalid. The supported versions are '{list}'."),
        ),
    })
}

pub(crate) fn denied(caller: &Caller, action: &str, scope: &str) -> Response {
    error(
        StatusCode::FORBIDDEN,
        "AuthorizationFailed",
        format!(
            "The client '{}' with object id '{}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.",
            caller.name, caller.oid
        ),
    )
}

/// The subscription `id`, checked against the token's tenant (ARM's 404 and 401).
pub(crate) fn subscription_for(sim: &Sim, req: &Req, id: &str) -> Result<(), Response> {
    let Some(sub) = sim.arm.subscription(id) else {
        return Err(error(
            StatusCode::NOT_FOUND,
            "SubscriptionNotFound",
            format!("The subscription '{id}' could not be found."),
        ));
    };
    if sub.tenant_id != req.caller.tid {
        return Err(unauthenticated(
            "InvalidAuthenticationTokenTenant",
            format!(
                "The access token is from the wrong issuer '{}/{}/'. It must match the tenant '{}/{}/' associated with this subscription. Please use the authority (URL) '{}/{}' to get the token. Note, if the subscription is transferred to another tenant there is no impact to the services, but information about new tenant could take time to propagate (up to an hour). If you just transferred your subscription and see this error message, please try back later.",
                sim.cloud.v1_issuer(),
                req.caller.tid,
                sim.cloud.v1_issuer(),
                sub.tenant_id,
                sim.cloud.login(),
                sub.tenant_id
            ),
        ));
    }
    Ok(())
}

fn route(sim: &mut Sim, req: &Req) -> Response {
    let s: Vec<&str> = req.segs.iter().map(String::as_str).collect();
    let n = s.len();
    // `{scope}/providers/Microsoft.Authorization/permissions`
    if n >= 3
        && is(s[n - 3], "providers")
        && is(s[n - 2], "Microsoft.Authorization")
        && is(s[n - 1], "permissions")
    {
        return permissions(sim, req, &s[..n - 3]);
    }
    match s.as_slice() {
        [sub] if is(sub, "subscriptions") && req.method == Method::GET => {
            list_subscriptions(sim, req)
        }
        [sub, id] if is(sub, "subscriptions") && req.method == Method::GET => {
            get_subscription(sim, req, id)
        }
        [sub, id, p, ns, kind]
            if is(sub, "subscriptions")
                && is(p, "providers")
                && is(ns, "Microsoft.Automation")
                && is(kind, "automationAccounts") =>
        {
            list_accounts(sim, req, id, None)
        }
        [sub, id, g, rg, p, ns, kind]
            if is(sub, "subscriptions")
                && is(g, "resourceGroups")
                && is(p, "providers")
                && is(ns, "Microsoft.Automation")
                && is(kind, "automationAccounts") =>
        {
            list_accounts(sim, req, id, Some(rg))
        }
        [sub, id, g, rg, p, ns, kind, name, rest @ ..]
            if is(sub, "subscriptions")
                && is(g, "resourceGroups")
                && is(p, "providers")
                && is(ns, "Microsoft.Automation")
                && is(kind, "automationAccounts") =>
        {
            crate::arm_ops::account_route(sim, req, id, rg, name, rest)
        }
        _ => error(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!(
                "The simulator does not serve '{} /{}'.",
                req.method,
                req.segs.join("/")
            ),
        ),
    }
}

fn list_subscriptions(sim: &Sim, req: &Req) -> Response {
    if let Err(r) = api_version(req, &SUBSCRIPTION_VERSIONS, None) {
        return r;
    }
    let value: Vec<Value> = sim
        .arm
        .subscriptions
        .iter()
        .filter(|s| s.tenant_id == req.caller.tid)
        .filter(|s| sim.arm.has_any_role(&req.caller.oid, &s.scope()))
        .map(|s| s.json())
        .collect();
    let count = value.len();
    Json(json!({ "value": value, "count": { "type": "Total", "value": count } })).into_response()
}

fn get_subscription(sim: &Sim, req: &Req, id: &str) -> Response {
    if let Err(r) = api_version(req, &SUBSCRIPTION_VERSIONS, None) {
        return r;
    }
    if let Err(r) = subscription_for(sim, req, id) {
        return r;
    }
    let Some(sub) = sim.arm.subscription(id) else {
        return error(StatusCode::NOT_FOUND, "SubscriptionNotFound", "");
    };
    if !sim.arm.has_any_role(&req.caller.oid, &sub.scope()) {
        return denied(
            &req.caller,
            "Microsoft.Resources/subscriptions/read",
            &sub.scope(),
        );
    }
    Json(sub.json()).into_response()
}

/// `GET {scope}/providers/Microsoft.Authorization/permissions`: one entry per role that applies
/// to the caller there (Learn: "Permissions - List For Resource"). A caller with no role there
/// gets an empty list (choice).
fn permissions(sim: &Sim, req: &Req, scope: &[&str]) -> Response {
    if req.method != Method::GET {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "Only GET.",
        );
    }
    if let Err(r) = api_version(req, &PERMISSION_VERSIONS, None) {
        return r;
    }
    let path = format!("/{}", scope.join("/"));
    if let [sub, id, ..] = scope
        && is(sub, "subscriptions")
        && let Err(r) = subscription_for(sim, req, id)
    {
        return r;
    }
    let value: Vec<Value> = sim
        .arm
        .roles_at(&req.caller.oid, &path)
        .iter()
        .map(|r| {
            json!({
                "actions": r.actions,
                "notActions": r.not_actions,
                "dataActions": [],
                "notDataActions": [],
            })
        })
        .collect();
    Json(json!({ "value": value })).into_response()
}

/// `GET /subscriptions/{sub}[/resourceGroups/{rg}]/providers/Microsoft.Automation/automationAccounts`,
/// `ACCOUNT_PAGE` per page with `nextLink`. A caller with no role anywhere in the scope: 403;
/// one with roles on part of it sees the accounts they may read (choice).
fn list_accounts(sim: &Sim, req: &Req, sub: &str, rg: Option<&str>) -> Response {
    if req.method != Method::GET {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "Only GET.",
        );
    }
    let version = match api_version(req, &AUTOMATION_VERSIONS, Some("automationAccounts")) {
        Ok(v) => v.to_owned(),
        Err(r) => return r,
    };
    if let Err(r) = subscription_for(sim, req, sub) {
        return r;
    }
    let scope = match rg {
        Some(rg) => format!("/subscriptions/{sub}/resourceGroups/{rg}"),
        None => format!("/subscriptions/{sub}"),
    };
    let action = format!("{AUTOMATION}/read");
    if !sim.arm.allowed(&req.caller.oid, &action, &scope)
        && !sim.arm.has_any_role(&req.caller.oid, &scope)
    {
        return denied(&req.caller, &action, &scope);
    }
    if let Some(rg) = rg
        && !sim
            .arm
            .subscription(sub)
            .is_some_and(|s| s.resource_groups.iter().any(|g| g.eq_ignore_ascii_case(rg)))
    {
        return error(
            StatusCode::NOT_FOUND,
            "ResourceGroupNotFound",
            format!("Resource group '{rg}' could not be found."),
        );
    }
    let tenant_id = sim.tenant.id.clone();
    let all: Vec<Value> = sim
        .arm
        .accounts
        .iter()
        .filter(|a| a.subscription_id.eq_ignore_ascii_case(sub))
        .filter(|a| rg.is_none_or(|rg| a.resource_group.eq_ignore_ascii_case(rg)))
        .filter(|a| sim.arm.allowed(&req.caller.oid, &action, &a.id()))
        .map(|a| a.json(&tenant_id, &sim.arm.user_identities))
        .collect();
    let offset = match req.params.get("$skiptoken").map(|t| t.parse::<usize>()) {
        None => 0,
        Some(Ok(o)) => o,
        Some(Err(_)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidSkipToken",
                "The provided skip token is invalid.",
            );
        }
    };
    let page: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(ACCOUNT_PAGE)
        .cloned()
        .collect();
    let mut body = json!({ "value": page });
    if offset + ACCOUNT_PAGE < all.len() {
        body["nextLink"] = json!(format!(
            "{}/arm{scope}/providers/{AUTOMATION}?api-version={version}&$skiptoken={}",
            req.origin,
            offset + ACCOUNT_PAGE
        ));
    }
    Json(body).into_response()
}

// ---------------------------------------------------------------------------------------------
// Time passing

/// What became due since the last request: publishes complete, jobs that started running get
/// their outcome (decided against the tenant as it is at that moment).
pub fn settle(sim: &mut Sim) {
    let now = sim.tenant.clock.now_ms();
    let tenant_id = sim.tenant.id.clone();
    let mine: Vec<usize> = sim
        .arm
        .accounts
        .iter()
        .enumerate()
        .filter(|(_, a)| {
            sim.arm
                .subscription(&a.subscription_id)
                .is_some_and(|s| s.tenant_id == tenant_id)
        })
        .map(|(i, _)| i)
        .collect();
    for &ai in &mine {
        for rb in &mut sim.arm.accounts[ai].runbooks {
            if let Some((op, done)) = rb.publishing.clone()
                && now >= done
            {
                rb.published = rb.draft.clone();
                rb.publishing = None;
                rb.last_publish = Some(op);
                rb.modified = ms_rfc3339(done);
            }
        }
        let due: Vec<usize> = sim.arm.accounts[ai]
            .jobs
            .iter()
            .enumerate()
            .filter(|(_, j)| j.outcome.is_none() && now >= j.running_at())
            .map(|(i, _)| i)
            .collect();
        for ji in due {
            let outcome = crate::arm_runbook::run(sim, ai, ji);
            sim.arm.accounts[ai].jobs[ji].outcome = Some(outcome);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Identity ↔ Graph

/// Makes the service principal of an account's system-assigned identity in the current tenant
/// (Learn: "What are managed identities for Azure resources?": a `ManagedIdentity` service
/// principal, named after the resource, whose `alternativeNames` hold `isExplicit=False` and
/// the resource id). It reaches Graph after the replication and list lags.
pub fn create_identity(sim: &mut Sim, account: &Account) -> SystemIdentity {
    let sp = ServicePrincipal {
        id: ids::guid(),
        app_id: ids::guid(),
        display_name: account.name.clone(),
        service_principal_type: "ManagedIdentity".into(),
        app_owner_organization_id: Some(crate::fixtures::MICROSOFT_SERVICES_TENANT.into()),
        alternative_names: vec!["isExplicit=False".into(), account.alternative_name()],
        app_roles: vec![],
        oauth2_permission_scopes: vec![],
    };
    let now = sim.tenant.clock.now_ms();
    sim.tenant.created.insert(sp.id.clone(), now);
    sim.tenant.created.insert(sp.app_id.clone(), now);
    sim.tenant.born(&sp.id);
    let identity = SystemIdentity {
        principal_id: sp.id.clone(),
        client_id: sp.app_id.clone(),
    };
    sim.tenant.service_principals.push(sp);
    identity
}

/// Turning a system-assigned identity off deletes its service principal, and with it what it
/// was granted.
pub fn delete_identity(sim: &mut Sim, principal: &str) {
    let t = &mut sim.tenant;
    t.service_principals.retain(|sp| sp.id != principal);
    t.app_role_assignments
        .retain(|a| a.principal_id != principal);
    t.role_assignments.retain(|a| a.principal_id != principal);
}

// ---------------------------------------------------------------------------------------------
// Inspection

/// `/_sim/state` → `arm`: the current tenant's subscriptions, accounts (identity, modules with
/// their state, runbooks with draft and published scripts, jobs with status and output,
/// certificates with thumbprints — never a PFX or password) and role assignments.
pub fn state_json(sim: &Sim) -> Value {
    let now = sim.tenant.clock.now_ms();
    let tenant_id = &sim.tenant.id;
    let subs: Vec<&crate::arm_model::Subscription> = sim
        .arm
        .subscriptions
        .iter()
        .filter(|s| &s.tenant_id == tenant_id)
        .collect();
    let in_tenant = |sub: &str| {
        subs.iter()
            .any(|s| s.subscription_id.eq_ignore_ascii_case(sub))
    };
    let accounts: Vec<Value> = sim
        .arm
        .accounts
        .iter()
        .filter(|a| in_tenant(&a.subscription_id))
        .map(|a| account_state(a, tenant_id, &sim.arm, now))
        .collect();
    let assignments: Vec<Value> = sim
        .arm
        .role_assignments
        .iter()
        .filter(|r| r.scope.split('/').nth(2).is_some_and(&in_tenant))
        .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
        .collect();
    json!({
        "subscriptions": subs.iter().map(|s| json!({
            "subscriptionId": s.subscription_id, "displayName": s.display_name,
            "tenantId": s.tenant_id, "resourceGroups": s.resource_groups,
        })).collect::<Vec<_>>(),
        "accounts": accounts,
        "userAssignedIdentities": sim.arm.user_identities,
        "roleAssignments": assignments,
        "faults": sim.faults.arm,
    })
}

fn account_state(a: &Account, tenant_id: &str, arm: &Arm, now: i64) -> Value {
    let id = a.id();
    let mut v = a.json(tenant_id, &arm.user_identities);
    v["modules"] = json!(
        a.modules
            .iter()
            .map(|m| json!({
                "name": m.name, "runtime": if m.collection == "powerShell72Modules" { "7.2" } else { "5.1" },
                "collection": m.collection, "version": m.version, "contentLink": m.content_uri,
                "provisioningState": m.state(now), "error": m.failure,
            }))
            .collect::<Vec<_>>()
    );
    v["runbooks"] = json!(
        a.runbooks
            .iter()
            .map(|r: &Runbook| json!({
                "name": r.name, "runbookType": r.runbook_type, "state": r.state(),
                "draft": r.draft, "published": r.published,
                "publishing": r.publishing.as_ref().map(|(op, _)| op),
            }))
            .collect::<Vec<_>>()
    );
    v["jobs"] = json!(
        a.jobs
            .iter()
            .map(|j: &Job| json!({
                "name": j.name, "jobId": j.job_id, "runbook": j.runbook, "runbookType": j.runbook_type,
                "status": j.status(now), "output": j.output(now),
                "exception": j.outcome.as_ref().and_then(|o| o.exception.clone()),
                "streams": j.outcome.as_ref().map(|o| o.streams.clone()),
            }))
            .collect::<Vec<_>>()
    );
    v["certificates"] = json!(
        a.certificates
            .iter()
            .map(|c: &Certificate| c.json(&id)["properties"].clone())
            .zip(a.certificates.iter())
            .map(|(mut p, c)| {
                p["name"] = json!(c.name);
                p
            })
            .collect::<Vec<_>>()
    );
    v
}
