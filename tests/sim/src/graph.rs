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

use crate::ids;
use crate::tenant::{GraphError, Tenant};

/// What the server shares between requests.
pub struct Sim {
    /// The tenant as it is now.
    pub tenant: Tenant,
    /// The tenant as the fixture made it (for `/_sim/reset`).
    pub fixture: Tenant,
}

/// Shared, locked simulator state.
pub type Shared = Arc<Mutex<Sim>>;

/// All routes: Graph under `/v1.0`, inspection under `/_sim`.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/_sim/state", get(state_json))
        .route("/_sim/reset", post(reset))
        .route("/v1.0/organization", get(organization))
        .route(
            "/v1.0/applications",
            get(list_applications).post(create_application),
        )
        .route(
            "/v1.0/applications/{id}",
            get(get_application).patch(update_application),
        )
        .route("/v1.0/servicePrincipals", get(list_service_principals))
        .with_state(state)
}

type Params = Query<HashMap<String, String>>;

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, Sim> {
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

async fn list_applications(State(state): State<Shared>, Query(params): Params) -> Response {
    let f = match filter(&params) {
        Ok(f) => f,
        Err(e) => return error(e),
    };
    let sim = lock(&state);
    let value: Vec<Value> = sim
        .tenant
        .applications
        .iter()
        .filter(|a| match &f {
            None => true,
            Some((name, v)) if name == "appId" => &a.app_id == v,
            Some((name, v)) if name == "displayName" => &a.display_name == v,
            Some(_) => false,
        })
        // Lists never carry certificate bytes (`key` is null).
        .map(|a| Tenant::application_json(a, false))
        .collect();
    Json(json!({ "value": value })).into_response()
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
    let f = match filter(&params) {
        Ok(f) => f,
        Err(e) => return error(e),
    };
    let sim = lock(&state);
    let value: Vec<Value> = sim
        .tenant
        .service_principals
        .iter()
        .filter(|sp| match &f {
            None => true,
            Some((name, v)) if name == "appId" => &sp.app_id == v,
            Some((name, v)) if name == "displayName" => &sp.display_name == v,
            Some(_) => false,
        })
        .filter_map(|sp| serde_json::to_value(sp).ok())
        .collect();
    Json(json!({ "value": value })).into_response()
}
