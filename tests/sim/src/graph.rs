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

use axum::http::HeaderMap;
use rsa::traits::PublicKeyParts;

use crate::identity::{self, Endpoint, TokenError};
use crate::tenant::{GraphError, Tenant};
use crate::{ids, jwt};

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
}

/// Shared, locked simulator state.
pub type Shared = Arc<Mutex<Sim>>;

/// All routes: Graph under `/v1.0`, inspection under `/_sim`.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/_sim/state", get(state_json))
        .route("/_sim/reset", post(reset))
        .route("/_sim/faults", post(crate::faults::set))
        .route("/v1.0/organization", get(organization))
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
        .route(
            "/v1.0/servicePrincipals/{id}/appRoleAssignedTo",
            post(assign_app_role),
        )
        .route(
            "/v1.0/servicePrincipals/{id}/appRoleAssignments",
            get(app_role_assignments),
        )
        .route(
            "/v1.0/roleManagement/directory/roleAssignments",
            get(role_assignments).post(assign_role),
        )
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(keys))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::faults::apply,
        ))
        .with_state(state)
}

type Params = Query<HashMap<String, String>>;

pub(crate) fn lock(state: &Shared) -> std::sync::MutexGuard<'_, Sim> {
    // A panicking handler must not take the whole simulator down with a poisoned lock.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn error(e: GraphError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(e.body(&ids::guid()))).into_response()
}

async fn state_json(State(state): State<Shared>) -> Json<Value> {
    Json(serde_json::to_value(&lock(&state).tenant).unwrap_or(Value::Null))
}

async fn reset(State(state): State<Shared>) -> StatusCode {
    let mut sim = lock(&state);
    sim.tenant = sim.fixture.clone();
    sim.faults = crate::faults::Faults::default();
    sim.requests = 0;
    StatusCode::NO_CONTENT
}

async fn organization(State(state): State<Shared>) -> Json<Value> {
    Json(lock(&state).tenant.organization())
}

/// `$filter=name eq 'value'` for the properties Graph supports by default.
fn filter(params: &HashMap<String, String>) -> Result<Option<(String, String)>, GraphError> {
    let Some(expr) = params.get("$filter") else {
        return Ok(None);
    };
    let (name, rest) = expr
        .split_once(" eq ")
        .ok_or_else(|| GraphError::bad_request(format!("Unsupported query: {expr}")))?;
    let value = rest
        .trim()
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .ok_or_else(|| GraphError::bad_request(format!("Invalid filter clause: {expr}")))?;
    Ok(Some((name.trim().to_owned(), value.replace("''", "'"))))
}

/// A Graph collection, `{"value": [...]}`, of the `items` that pass the request's `$filter`
/// (`name eq 'value'` on one of the two filterable `properties`), each shown by `render`.
fn collection<T>(
    params: &HashMap<String, String>,
    items: &[T],
    properties: impl Fn(&T) -> [(&'static str, String); 2],
    render: impl Fn(&T) -> Value,
) -> Response {
    let f = match filter(params) {
        Ok(f) => f,
        Err(e) => return error(e),
    };
    let value: Vec<Value> = items
        .iter()
        .filter(|item| {
            f.as_ref().is_none_or(|(name, value)| {
                properties(item)
                    .iter()
                    .any(|(p, v)| p == name && v == value)
            })
        })
        .map(render)
        .collect();
    Json(json!({ "value": value })).into_response()
}

async fn list_applications(State(state): State<Shared>, Query(params): Params) -> Response {
    let sim = lock(&state);
    collection(
        &params,
        &sim.tenant.applications,
        |a| {
            [
                ("appId", a.app_id.clone()),
                ("displayName", a.display_name.clone()),
            ]
        },
        // Lists never carry certificate bytes (`key` is null).
        |a| Tenant::application_json(a, false),
    )
}

async fn create_application(State(state): State<Shared>, Json(body): Json<Value>) -> Response {
    match lock(&state).tenant.create_application(&body) {
        Ok(app) => (
            StatusCode::CREATED,
            Json(Tenant::application_json(&app, true)),
        )
            .into_response(),
        Err(e) => error(e),
    }
}

async fn get_application(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Query(params): Params,
) -> Response {
    let sim = lock(&state);
    match sim.tenant.application(&id) {
        Ok(app) => {
            let with_keys = params
                .get("$select")
                .is_some_and(|s| s.split(',').any(|p| p.trim() == "keyCredentials"));
            Json(Tenant::application_json(app, with_keys)).into_response()
        }
        Err(e) => error(e),
    }
}

async fn update_application(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    match lock(&state).tenant.update_application(&id, &body) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error(e),
    }
}

async fn list_service_principals(State(state): State<Shared>, Query(params): Params) -> Response {
    let sim = lock(&state);
    collection(
        &params,
        &sim.tenant.service_principals,
        |sp| {
            [
                ("appId", sp.app_id.clone()),
                ("displayName", sp.display_name.clone()),
            ]
        },
        |sp| serde_json::to_value(sp).unwrap_or(Value::Null),
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
    Json(body): Json<Value>,
) -> Response {
    created(lock(&state).tenant.create_service_principal(&body))
}

async fn assign_app_role(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    created(lock(&state).tenant.assign_app_role(&id, &body))
}

async fn app_role_assignments(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let sim = lock(&state);
    if let Err(e) = sim.tenant.service_principal(&id) {
        return error(e);
    }
    let value: Vec<&crate::tenant::AppRoleAssignment> = sim
        .tenant
        .app_role_assignments
        .iter()
        .filter(|a| a.principal_id == id)
        .collect();
    Json(json!({ "value": value })).into_response()
}

async fn assign_role(State(state): State<Shared>, Json(body): Json<Value>) -> Response {
    created(lock(&state).tenant.assign_directory_role(&body))
}

async fn role_assignments(State(state): State<Shared>, Query(params): Params) -> Response {
    let sim = lock(&state);
    collection(
        &params,
        &sim.tenant.role_assignments,
        |r| {
            [
                ("principalId", r.principal_id.clone()),
                ("roleDefinitionId", r.role_definition_id.clone()),
            ]
        },
        |r| serde_json::to_value(r).unwrap_or(Value::Null),
    )
}

/// `scheme://host:port` the client addressed: the Host header (HTTP/1.1) or the request's
/// authority (HTTP/2 sends `:authority` instead of Host).
fn origin(scheme: &str, headers: &HeaderMap, uri: &axum::http::Uri) -> String {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(|a| a.as_str().to_owned()))
        .unwrap_or_else(|| "127.0.0.1".into());
    format!("{scheme}://{host}")
}

fn token_error(e: &TokenError) -> Response {
    let status = if e.error == "invalid_client" {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    (status, Json(e.body())).into_response()
}

async fn token(
    State(state): State<Shared>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    body: String,
) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let grant = form
        .iter()
        .find(|(k, _)| k == "grant_type")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    let sim = lock(&state);
    let origin = origin(sim.scheme, &headers, &uri);
    let result = match grant {
        "client_credentials" => identity::client_credentials(
            &sim.tenant,
            &Endpoint {
                origin: &origin,
                tenant: &tenant,
            },
            &form,
            ids::now(),
        ),
        other => Err(TokenError {
            error: "unsupported_grant_type",
            code: 70003,
            text: format!("The app requested an unsupported grant type '{other}'."),
        }),
    };
    match result {
        Ok(claims) => Json(json!({
            "token_type": "Bearer",
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": jwt::sign(&sim.key, &sim.kid, &claims),
        }))
        .into_response(),
        Err(e) => token_error(&e),
    }
}

async fn discovery(
    State(state): State<Shared>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let sim = lock(&state);
    let here = origin(sim.scheme, &headers, &uri);
    let base = format!("{here}/{tenant}");
    Json(json!({
        "issuer": format!("{here}/{}/v2.0", sim.tenant.id),
        "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{base}/oauth2/v2.0/token"),
        "jwks_uri": format!("{base}/discovery/v2.0/keys"),
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "tenant_region_scope": "EU",
    }))
    .into_response()
}

async fn keys(State(state): State<Shared>) -> Json<Value> {
    use base64::Engine;
    let sim = lock(&state);
    let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let public = sim.key.to_public_key();
    Json(json!({ "keys": [{
        "kty": "RSA", "use": "sig", "kid": sim.kid,
        "n": b64(public.n().to_be_bytes_trimmed_vartime().into_vec()),
        "e": b64(public.e().to_be_bytes_trimmed_vartime().into_vec()),
    }]}))
}
