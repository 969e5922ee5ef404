//! The HTTP face of the simulated Graph (v1.0 subset) and the test-only `/_sim` endpoints.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};

use crate::access::{self, Caller, Op};
use crate::paging::{MAX_PAGE, collection};
use crate::query;
use crate::signin::{Code, Refresh};
use crate::tenant::{GraphError, Tenant};
use crate::{ids, platform};

/// What the server shares between requests.
pub struct Sim {
    /// The tenant as it is now.
    pub tenant: Tenant,
    /// The tenant as the fixture made it (for `/_sim/reset`).
    pub fixture: Tenant,
    /// The key the simulated identity platform signs tokens with.
    pub key: rsa::RsaPrivateKey,
    /// Its key id in token headers and the JWKS.
    pub kid: String,
    /// `http` or `https`: how clients reach the simulator.
    pub scheme: &'static str,
    /// Failures on demand.
    pub faults: crate::faults::Faults,
    /// Requests counted for the faults since they were last set.
    pub requests: u64,
    /// Every request since the last reset: method, path, start and end (Unix ms), for tests
    /// and benchmarks that count round trips.
    pub log: Vec<crate::faults::Logged>,
    /// Authorization codes issued, and whether each was spent.
    pub codes: HashMap<String, (Code, bool)>,
    /// Refresh tokens issued.
    pub refresh_tokens: HashMap<String, Refresh>,
    /// The page addresses registered on the SPA app (kept for fixture switches).
    pub redirect_uris: Vec<String>,
    /// Further customer tenants of the fixture (`consultant`: Fabrikam), reachable at their id
    /// or domain; `tenant` is the first one (what `/organizations` and `/_sim/state` address).
    pub others: Vec<Tenant>,
    /// The further tenants as the fixture made them (for `/_sim/reset`).
    pub fixture_others: Vec<Tenant>,
    /// The cloud the simulator plays.
    pub cloud: crate::cloud::Cloud,
    /// Which origin ID token issuers carry.
    pub issuer: crate::cloud::Issuer,
    /// The cloud and issuer a reset without `cloud`/`issuer` returns to (the start options).
    pub start_cloud: (crate::cloud::Cloud, crate::cloud::Issuer),
    /// Azure Resource Manager's side (`arm.rs`), rebuilt from the tenant on every reset.
    pub arm: crate::arm_model::Arm,
}

impl Sim {
    /// The signed-in user a Graph request acts for, allowed to do `op`.
    fn allow(&self, headers: &HeaderMap, op: Op) -> Result<Caller, GraphError> {
        let caller = access::caller(
            &self.tenant,
            &self.key.to_public_key(),
            headers,
            self.tenant.clock.now(),
            self.cloud,
        )?;
        caller.may(op)?;
        Ok(caller)
    }

    /// Where the tenant a path segment or `tid` names is: `Ok(None)` the first tenant (also for
    /// `organizations`/`common`), `Ok(Some(i))` `others[i]`, `Err(())` no such tenant. Call it
    /// with the first tenant in place (not inside `within`).
    #[allow(clippy::result_unit_err)]
    pub fn locate(&self, segment: &str) -> Result<Option<usize>, ()> {
        if crate::signin::is_alias(segment) || crate::signin::names_tenant(&self.tenant, segment) {
            return Ok(None);
        }
        self.others
            .iter()
            .position(|t| crate::signin::names_tenant(t, segment))
            .map(Some)
            .ok_or(())
    }

    /// Runs `f` with the tenant `at` (from `locate`) in `self.tenant`, the first tenant parked in
    /// its place meanwhile. The simulated clock and the directory faults are the first tenant's
    /// (one clock for the whole simulator). The lock is held throughout, so no other request
    /// sees the swap; a panic inside `f` swaps back before it goes on.
    pub fn within<R>(&mut self, at: Option<usize>, f: impl FnOnce(&mut Sim) -> R) -> R {
        let Some(i) = at.filter(|i| *i < self.others.len()) else {
            return f(self);
        };
        {
            let (first, other) = (&self.tenant, &mut self.others[i]);
            other.clock = first.clock;
            other.replication_lag_secs = first.replication_lag_secs;
            other.list_lag_secs = first.list_lag_secs;
            other.stale_read_secs = first.stale_read_secs;
        }
        std::mem::swap(&mut self.tenant, &mut self.others[i]);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self)));
        std::mem::swap(&mut self.tenant, &mut self.others[i]);
        match result {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Every tenant of the fixture, in whatever arrangement `within` left them.
    pub fn tenants(&self) -> impl Iterator<Item = &Tenant> {
        std::iter::once(&self.tenant).chain(self.others.iter())
    }

    /// The application `client_id` names as seen from the current tenant: registered there, or a
    /// multi-tenant registration of another tenant (with that tenant's id, its home).
    pub fn client(&self, client_id: &str) -> Option<(crate::tenant::Application, String)> {
        if let Some(app) = self
            .tenant
            .applications
            .iter()
            .find(|a| a.app_id == client_id)
        {
            return Some((app.clone(), self.tenant.id.clone()));
        }
        self.tenants()
            .filter(|t| t.id != self.tenant.id)
            .find_map(|t| {
                t.applications
                    .iter()
                    .find(|a| a.app_id == client_id && a.sign_in_audience != "AzureADMyOrg")
                    .map(|a| (a.clone(), t.id.clone()))
            })
    }

    /// The tenant (as `locate` answers) where `user_id` is a member (not a guest): the home
    /// tenant `organizations` signs them in to.
    pub fn home_of(&self, user_id: &str) -> Option<Option<usize>> {
        let member = |t: &Tenant| t.users.iter().any(|u| u.id == user_id && u.home.is_none());
        if member(&self.tenant) {
            return Some(None);
        }
        self.others.iter().position(member).map(Some)
    }
}

/// Shared, locked simulator state.
pub type Shared = Arc<Mutex<Sim>>;

/// All routes: Graph under `/v1.0`, the identity platform under `/{tenant}`, the managed
/// identity endpoint, and inspection under `/_sim`.
pub fn router(state: Shared) -> Router {
    let graph = Router::new()
        .route("/v1.0/organization", get(organization))
        .route("/v1.0/me", get(me))
        .route("/v1.0/me/transitiveMemberOf", get(my_roles))
        .route(
            "/v1.0/applications",
            get(list_applications).post(create_application),
        )
        .route(
            "/v1.0/applications/{id}",
            get(get_application).patch(update_application),
        )
        .route(
            "/v1.0/servicePrincipals",
            get(list_service_principals).post(create_service_principal),
        )
        .route("/v1.0/servicePrincipals/{id}", get(get_service_principal))
        // `applications(uniqueName='…')`, `applications(appId='…')`, `servicePrincipals(appId='…')`.
        .route(
            "/v1.0/{keyed}",
            get(crate::keyed::get).patch(crate::keyed::upsert),
        )
        .route(
            "/v1.0/servicePrincipals/{id}/appRoleAssignedTo",
            post(assign_app_role).get(app_role_assigned_to),
        )
        .route(
            "/v1.0/servicePrincipals/{id}/appRoleAssignments",
            get(app_role_assignments).post(assign_app_role_from),
        )
        .route(
            "/v1.0/roleManagement/directory/roleAssignments",
            get(role_assignments).post(assign_role),
        )
        .route(
            "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances",
            get(role_eligibilities),
        )
        .route("/v1.0/oauth2PermissionGrants", post(crate::grants::create))
        // SharePoint sites and their per-app permissions (`sites.rs`).
        .route(
            "/v1.0/sites/{*rest}",
            get(crate::sites::get)
                .post(crate::sites::post)
                .patch(crate::sites::patch)
                .delete(crate::sites::delete),
        )
        .route(
            "/v1.0/policies/defaultAppManagementPolicy",
            get(app_management_policy),
        )
        .route(
            "/v1.0/reports/appCredentialSignInActivities",
            get(crate::report::not_in_v1),
        )
        .route(
            "/beta/reports/appCredentialSignInActivities",
            get(crate::report::list),
        );
    // Inner requests of a `$batch` meet the same throttling and outages (Graph evaluates them per
    // inner request), though never a dropped connection: the batch answers for them.
    let batch_target: Router = graph
        .clone()
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::faults::apply,
        ))
        .layer(axum::Extension(crate::batch::Inner))
        .with_state(state.clone());
    graph
        .route(
            "/v1.0/$batch",
            post(crate::batch::batch).layer(axum::Extension(batch_target)),
        )
        // Azure Resource Manager under `/arm` (`arm.rs`: its own CORS and faults).
        .merge(crate::arm::routes(state.clone()))
        .route("/_sim/state", get(state_json))
        .route("/_sim/reset", post(reset))
        .route(
            "/_sim/faults",
            get(crate::faults::get).post(crate::faults::set),
        )
        .route("/_sim/token", post(platform::test_token))
        .route("/_sim/requests", get(request_log))
        .route("/_sim/fixture", get(crate::lifecycle::facts))
        .route("/_sim/fixture/key/{key_id}", get(crate::lifecycle::key))
        .route(
            "/_sim/clock",
            get(crate::clock::now).post(crate::clock::advance),
        )
        .route(
            "/{tenant}/oauth2/v2.0/authorize",
            get(platform::authorize).post(platform::authorize_answer),
        )
        .route(
            "/{tenant}/oauth2/v2.0/token",
            post(platform::token).options(platform::token_preflight),
        )
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(platform::discovery),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(platform::keys))
        .route(
            "/{tenant}/v2.0/adminconsent",
            get(crate::consent::page).post(crate::consent::answer),
        )
        .route(
            "/metadata/identity/oauth2/token",
            get(platform::managed_identity_token),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::faults::apply,
        ))
        // Outside the faults, so Graph's errors (the faults' 429/503/403 too) stay readable by a
        // browser.
        .layer(axum::middleware::from_fn(graph_cors))
        // Outermost: every request, preflights included, gets the latency and is logged.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::faults::latency_and_log,
        ))
        .with_state(state)
}

/// Whether a path is Graph's (`/v1.0/…` or `/beta/…`, one host for both as on
/// graph.microsoft.com).
pub fn is_graph(path: &str) -> bool {
    path.starts_with("/v1.0/") || path.starts_with("/beta/")
}

/// Graph answers browsers from any origin (SPAs call it directly); preflights succeed without
/// authentication, and the headers a client needs for retries are readable.
async fn graph_cors(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if !is_graph(request.uri().path()) {
        return next.run(request).await;
    }
    let origin = request.headers().get(header::ORIGIN).cloned();
    let preflight = request.method() == Method::OPTIONS;
    let mut response = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    // Graph's answers are not to be cached (a browser must not serve a stale directory).
    if !preflight {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    if let Some(origin) = origin {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(
                "Retry-After, request-id, client-request-id, Location, WWW-Authenticate",
            ),
        );
        if preflight {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, PATCH, PUT, DELETE, OPTIONS"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(
                    "authorization, content-type, consistencylevel, prefer, client-request-id",
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

pub(crate) type Params = Query<HashMap<String, String>>;

pub(crate) fn lock(state: &Shared) -> std::sync::MutexGuard<'_, Sim> {
    // A panicking handler must not take the whole simulator down with a poisoned lock.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn error(e: GraphError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(e.body(&ids::guid()))).into_response()
}

/// Runs `f` for a caller allowed to do `op`, or answers with Graph's 401/403.
pub(crate) fn guarded(
    state: &Shared,
    headers: &HeaderMap,
    op: Op,
    f: impl FnOnce(&mut Sim, &Caller) -> Response,
) -> Response {
    let mut sim = lock(state);
    // Graph answers from the tenant of the token (`tid`); the checks then run against it.
    let at = access::token_tenant(headers).and_then(|tid| sim.locate(&tid).ok().flatten());
    sim.within(at, |sim| match sim.allow(headers, op) {
        Ok(caller) => f(sim, &caller),
        Err(e) => error(e),
    })
}

/// `GET /_sim/state[?tenant=<id|domain>]`: a tenant as JSON (the first one by default), with
/// the cloud played and, for guests, their home accounts.
async fn state_json(State(state): State<Shared>, Query(params): Params) -> Response {
    let mut sim = lock(&state);
    let at = match params.get("tenant").map(|t| sim.locate(t)) {
        None => None,
        Some(Ok(at)) => at,
        Some(Err(())) => {
            return (StatusCode::NOT_FOUND, "no such tenant in this fixture").into_response();
        }
    };
    let (cloud, issuer) = (sim.cloud, sim.issuer);
    let tenants: Vec<Value> = sim
        .tenants()
        .map(|t| json!({ "id": t.id, "displayName": t.display_name, "initialDomain": t.initial_domain() }))
        .collect();
    sim.within(at, |sim| {
        let mut value = serde_json::to_value(&sim.tenant).unwrap_or(Value::Null);
        // Each app role assignment also names its resource's appId and the role's value.
        if let Some(list) = value["appRoleAssignments"].as_array_mut() {
            for a in list {
                let resource = a["resourceId"].as_str().unwrap_or_default();
                let sp = sim.tenant.service_principal(resource).ok();
                a["resourceAppId"] = json!(sp.map(|sp| sp.app_id.clone()));
                a["appRoleValue"] = sp
                    .and_then(|sp| sp.app_roles.iter().find(|r| r["id"] == a["appRoleId"]))
                    .map_or(Value::Null, |r| r["value"].clone());
            }
        }
        value["codesIssued"] = json!(sim.codes.len());
        crate::arm::settle(sim);
        value["arm"] = crate::arm::state_json(sim);
        value["cloud"] = cloud.json(issuer);
        if tenants.len() > 1 {
            value["tenants"] = json!(tenants);
        }
        let guests: Vec<Value> = sim
            .tenant
            .users
            .iter()
            .filter_map(|u| {
                u.home
                    .as_ref()
                    .map(|h| json!({ "id": u.id, "userPrincipalName": u.user_principal_name, "home": h }))
            })
            .collect();
        if !guests.is_empty() {
            value["guests"] = json!(guests);
        }
        Json(value).into_response()
    })
}

/// `POST /_sim/reset` restores the fixture the simulator started with, or with
/// `{"fixture": NAME}` switches to another one (so one running simulator serves many tests).
async fn reset(State(state): State<Shared>, body: String) -> Response {
    let wanted: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let mut sim = lock(&state);
    let cloud = match wanted["cloud"].as_str() {
        None => sim.start_cloud.0,
        Some(name) => match crate::cloud::Cloud::parse(name) {
            Some(c) => c,
            None => {
                let known = crate::cloud::NAMES.join(", ");
                return (
                    StatusCode::BAD_REQUEST,
                    format!("unknown cloud {name}; known: {known}"),
                )
                    .into_response();
            }
        },
    };
    let issuer = match wanted["issuer"].as_str() {
        None => sim.start_cloud.1,
        Some(name) => match crate::cloud::Issuer::parse(name) {
            Some(i) => i,
            None => {
                return (
                    StatusCode::BAD_REQUEST,
                    format!("unknown issuer {name}; known: request, cloud"),
                )
                    .into_response();
            }
        },
    };
    if let Some(name) = wanted["fixture"].as_str() {
        let Some((tenant, others)) = crate::fixtures::build_all(name, &sim.redirect_uris) else {
            let known = crate::fixtures::NAMES.join(", ");
            return (
                StatusCode::BAD_REQUEST,
                format!("unknown fixture {name}; known: {known}"),
            )
                .into_response();
        };
        sim.fixture = tenant;
        sim.fixture_others = others;
    }
    // `missingResources`: appIds of resource service principals the (first) tenant lacks.
    let missing: Vec<String> = match &wanted["missingResources"] {
        Value::Null => vec![],
        Value::Array(list) if list.iter().all(Value::is_string) => list
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                "missingResources must be a list of appIds",
            )
                .into_response();
        }
    };
    sim.cloud = cloud;
    sim.issuer = issuer;
    sim.tenant = sim.fixture.clone();
    sim.others = sim.fixture_others.clone();
    sim.tenant.remove_resources(&missing);
    sim.arm = crate::arm_fixtures::build(&sim.tenant);
    sim.faults = crate::faults::Faults::default();
    // ARM's faults may come with the reset (`{"armModuleFailure": "…"}`).
    if let Ok(arm) = serde_json::from_value::<crate::arm::ArmFaults>(wanted.clone()) {
        sim.faults.arm = arm;
    }
    sim.tenant.replication_lag_secs = 0;
    sim.requests = 0;
    sim.log.clear();
    sim.codes.clear();
    sim.refresh_tokens.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn request_log(State(state): State<Shared>) -> Json<Value> {
    Json(json!({ "requests": lock(&state).log }))
}

async fn organization(State(state): State<Shared>, headers: HeaderMap) -> Response {
    guarded(&state, &headers, Op::ReadOrganization, |sim, _| {
        Json(sim.tenant.organization()).into_response()
    })
}

async fn me(State(state): State<Shared>, headers: HeaderMap, Query(params): Params) -> Response {
    guarded(&state, &headers, Op::ReadMe, |_, caller| {
        let user = serde_json::to_value(&caller.user).unwrap_or(Value::Null);
        Json(query::project(user, query::select(&params).as_deref())).into_response()
    })
}

async fn my_roles(
    State(state): State<Shared>,
    https: Https,
    headers: HeaderMap,
    uri: Uri,
    Query(params): Params,
) -> Response {
    guarded(&state, &headers, Op::ReadMe, |sim, caller| {
        let here = here(sim, &https, &headers, &uri);
        collection(
            &params,
            sim.tenant.member_of(&caller.user).into_iter(),
            &["id", "displayName"],
            &here,
            MAX_PAGE,
        )
    })
}

/// `scheme://host/path` of a request, for nextLinks.
fn here(
    sim: &Sim,
    https: &Option<axum::Extension<crate::Https>>,
    headers: &HeaderMap,
    uri: &Uri,
) -> String {
    let scheme = if https.is_some() { "https" } else { sim.scheme };
    crate::paging::here(scheme, headers, uri)
}

type Https = Option<axum::Extension<crate::Https>>;

async fn list_applications(
    State(state): State<Shared>,
    https: Https,
    headers: HeaderMap,
    uri: Uri,
    Query(params): Params,
) -> Response {
    guarded(&state, &headers, Op::ReadApplications, |sim, _| {
        let here = here(sim, &https, &headers, &uri);
        collection(
            &params,
            // Lists never carry certificate bytes (`key` is null).
            sim.tenant
                .readable_applications()
                .map(|a| Tenant::application_json(a, false)),
            &["appId", "displayName", "id", "uniqueName"],
            &here,
            MAX_PAGE,
        )
    })
}

async fn create_application(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    guarded(&state, &headers, Op::WriteApplications, |sim, _| match sim
        .tenant
        .create_application(&body)
    {
        Ok(app) => (
            StatusCode::CREATED,
            Json(Tenant::application_json(&app, true)),
        )
            .into_response(),
        Err(e) => error(e),
    })
}

async fn get_application(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Params,
) -> Response {
    guarded(&state, &headers, Op::ReadApplications, |sim, _| {
        match sim.tenant.readable_application(&id) {
            Ok(app) => {
                let selected = query::select(&params);
                let with_keys = selected
                    .as_ref()
                    .is_some_and(|s| s.iter().any(|p| p == "keyCredentials"));
                let value = Tenant::application_json(app, with_keys);
                Json(query::project(value, selected.as_deref())).into_response()
            }
            Err(e) => error(e),
        }
    })
}

async fn update_application(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    guarded(&state, &headers, Op::WriteApplications, |sim, _| match sim
        .tenant
        .update_application(&id, &body)
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error(e),
    })
}

async fn list_service_principals(
    State(state): State<Shared>,
    https: Https,
    headers: HeaderMap,
    uri: Uri,
    Query(params): Params,
) -> Response {
    guarded(&state, &headers, Op::ReadServicePrincipals, |sim, _| {
        let here = here(sim, &https, &headers, &uri);
        collection(
            &params,
            sim.tenant
                .service_principals
                .iter()
                .filter(|sp| sim.tenant.listed(&sp.id))
                .map(|sp| serde_json::to_value(sp).unwrap_or(Value::Null)),
            &[
                "appId",
                "displayName",
                "id",
                "servicePrincipalType",
                "alternativeNames",
            ],
            &here,
            MAX_PAGE,
        )
    })
}

async fn get_service_principal(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Params,
) -> Response {
    guarded(
        &state,
        &headers,
        Op::ReadServicePrincipals,
        |sim, _| match sim.tenant.visible_service_principal(&id) {
            Ok(sp) => {
                let value = serde_json::to_value(sp).unwrap_or(Value::Null);
                Json(query::project(value, query::select(&params).as_deref())).into_response()
            }
            Err(e) => error(e),
        },
    )
}

fn created<T: serde::Serialize>(result: Result<T, GraphError>) -> Response {
    match result {
        Ok(value) => (
            StatusCode::CREATED,
            Json(serde_json::to_value(value).unwrap_or(Value::Null)),
        )
            .into_response(),
        Err(e) => error(e),
    }
}

async fn create_service_principal(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    guarded(&state, &headers, Op::WriteServicePrincipals, |sim, _| {
        created(sim.tenant.create_service_principal(&body))
    })
}

async fn assign_app_role(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    guarded(&state, &headers, Op::GrantAppRole, |sim, caller| {
        if let Err(e) = may_grant_on(sim, caller, &id) {
            return error(e);
        }
        created(sim.tenant.assign_app_role(&id, &body))
    })
}

/// Microsoft Graph's own app roles only a Global or Privileged Role Administrator may grant;
/// (Cloud) Application Administrators may grant every other API's
/// (<https://learn.microsoft.com/entra/identity/enterprise-apps/grant-admin-consent>).
fn may_grant_on(
    sim: &Sim,
    caller: &crate::access::Caller,
    resource: &str,
) -> Result<(), GraphError> {
    use crate::tenant::roles::{GLOBAL_ADMIN, PRIVILEGED_ROLE_ADMIN};
    let graph = sim
        .tenant
        .service_principals
        .iter()
        .any(|sp| sp.id == resource && sp.app_id == crate::access::GRAPH_APP_ID);
    let privileged = caller
        .user
        .roles
        .iter()
        .any(|r| r == GLOBAL_ADMIN || r == PRIVILEGED_ROLE_ADMIN);
    if graph && !privileged {
        return Err(GraphError::denied());
    }
    Ok(())
}

async fn assign_app_role_from(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    guarded(&state, &headers, Op::GrantAppRole, |sim, caller| {
        let resource = body["resourceId"].as_str().unwrap_or_default();
        if let Err(e) = may_grant_on(sim, caller, resource) {
            return error(e);
        }
        created(sim.tenant.assign_app_role_from(&id, &body))
    })
}

async fn app_role_assignments(
    State(state): State<Shared>,
    https: Https,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    Query(params): Params,
) -> Response {
    assignments(&state, &https, &headers, &uri, &id, &params, held_by)
}

async fn app_role_assigned_to(
    State(state): State<Shared>,
    https: Https,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    Query(params): Params,
) -> Response {
    assignments(&state, &https, &headers, &uri, &id, &params, granted_on)
}

fn held_by(a: &crate::tenant::AppRoleAssignment) -> &str {
    &a.principal_id
}

fn granted_on(a: &crate::tenant::AppRoleAssignment) -> &str {
    &a.resource_id
}

/// The app role assignments whose `side` (principal or resource) is the service principal `id`,
/// as a paged collection.
fn assignments(
    state: &Shared,
    https: &Https,
    headers: &HeaderMap,
    uri: &Uri,
    id: &str,
    params: &HashMap<String, String>,
    side: fn(&crate::tenant::AppRoleAssignment) -> &str,
) -> Response {
    guarded(state, headers, Op::ReadAppRoleAssignments, |sim, _| {
        if let Err(e) = sim.tenant.visible_service_principal(id) {
            return error(e);
        }
        let here = here(sim, https, headers, uri);
        collection(
            params,
            sim.tenant
                .app_role_assignments
                .iter()
                .filter(|a| side(a) == id && sim.tenant.listed(&a.id))
                .map(|a| serde_json::to_value(a).unwrap_or(Value::Null)),
            &["id", "resourceId", "appRoleId", "principalId"],
            &here,
            MAX_PAGE,
        )
    })
}

async fn assign_role(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    guarded(&state, &headers, Op::AssignRole, |sim, _| {
        created(sim.tenant.assign_directory_role(&body))
    })
}

async fn role_assignments(
    State(state): State<Shared>,
    https: Https,
    headers: HeaderMap,
    uri: Uri,
    Query(params): Params,
) -> Response {
    guarded(&state, &headers, Op::ReadRoleAssignments, |sim, _| {
        let here = here(sim, &https, &headers, &uri);
        collection(
            &params,
            sim.tenant
                .role_assignments
                .iter()
                .filter(|r| sim.tenant.listed(&r.id))
                .map(|r| serde_json::to_value(r).unwrap_or(Value::Null)),
            &["principalId", "roleDefinitionId", "id"],
            &here,
            MAX_PAGE,
        )
    })
}

async fn role_eligibilities(
    State(state): State<Shared>,
    https: Https,
    headers: HeaderMap,
    uri: Uri,
    Query(params): Params,
) -> Response {
    guarded(&state, &headers, Op::ReadRoleEligibility, |sim, _| {
        let here = here(sim, &https, &headers, &uri);
        collection(
            &params,
            sim.tenant
                .role_eligibilities
                .iter()
                .map(|r| serde_json::to_value(r).unwrap_or(Value::Null)),
            &["principalId", "roleDefinitionId", "id"],
            &here,
            MAX_PAGE,
        )
    })
}

async fn app_management_policy(State(state): State<Shared>, headers: HeaderMap) -> Response {
    guarded(&state, &headers, Op::ReadPolicy, |sim, _| {
        Json(sim.tenant.app_management_policy()).into_response()
    })
}
