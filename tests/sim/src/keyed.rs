//! Objects addressed by alternate key, and upserts (Learn: "Upsert application",
//! "Upsert servicePrincipal"): `PATCH /applications(uniqueName='…')` and
//! `PATCH /servicePrincipals(appId='…')` with `Prefer: create-if-missing` create (201, the new
//! object) or update (204); without the header a missing object is a 404. GETs by the same keys.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::access::Op;
use crate::graph::{Params, Shared, error, guarded};
use crate::query;
use crate::tenant::{GraphError, Tenant};

/// An alternate-key address.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    AppByUniqueName(String),
    AppByAppId(String),
    SpByAppId(String),
}

/// Parses `applications(uniqueName='x')` and the like (the path segment, percent-decoded).
fn parse(segment: &str) -> Result<Key, GraphError> {
    let unknown = || GraphError {
        status: 400,
        code: "BadRequest",
        message: format!("Resource not found for the segment '{segment}'."),
        detail: None,
    };
    let (set, rest) = segment.split_once('(').ok_or_else(unknown)?;
    let inner = rest.strip_suffix(')').ok_or_else(unknown)?;
    let (prop, value) = inner.split_once('=').ok_or_else(unknown)?;
    let value = value
        .trim()
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .ok_or_else(unknown)?
        .replace("''", "'");
    match (set, prop.trim()) {
        ("applications", "uniqueName") => Ok(Key::AppByUniqueName(value)),
        ("applications", "appId") => Ok(Key::AppByAppId(value)),
        ("servicePrincipals", "appId") => Ok(Key::SpByAppId(value)),
        _ => Err(unknown()),
    }
}

fn not_found(key: &str) -> GraphError {
    GraphError::not_found(key)
}

impl Tenant {
    /// The application an alternate key names (the real one, as writes see it).
    fn app_by(&self, key: &Key) -> Option<&crate::tenant::Application> {
        self.applications.iter().find(|a| match key {
            Key::AppByUniqueName(n) => a
                .unique_name
                .as_deref()
                .is_some_and(|u| u.eq_ignore_ascii_case(n)),
            Key::AppByAppId(id) => a.app_id == *id,
            Key::SpByAppId(_) => false,
        })
    }
}

/// Whether the request asks to create a missing object.
fn create_if_missing(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("create-if-missing"))
}

/// `GET /applications(uniqueName='…')`, `/applications(appId='…')`,
/// `/servicePrincipals(appId='…')` (with `$select`).
pub async fn get(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(segment): Path<String>,
    Query(params): Params,
) -> Response {
    let key = match parse(&segment) {
        Ok(k) => k,
        Err(e) => return error(e),
    };
    let selected = query::select(&params);
    let op = match key {
        Key::SpByAppId(_) => Op::ReadServicePrincipals,
        _ => Op::ReadApplications,
    };
    guarded(&state, &headers, op, |sim, _| {
        let tenant = &sim.tenant;
        let value = match &key {
            Key::SpByAppId(app_id) => tenant
                .service_principals
                .iter()
                .find(|sp| sp.app_id == *app_id && tenant.listed(&sp.id))
                .map(|sp| serde_json::to_value(sp).unwrap_or(Value::Null)),
            _ => tenant
                .app_by(&key)
                .filter(|a| tenant.listed(&a.id))
                .map(|a| {
                    let with_keys = selected
                        .as_ref()
                        .is_some_and(|s| s.iter().any(|p| p == "keyCredentials"));
                    Tenant::application_json(tenant.as_read(a), with_keys)
                }),
        };
        match value {
            Some(v) => Json(query::project(v, selected.as_deref())).into_response(),
            None => error(not_found(&segment)),
        }
    })
}

/// `PATCH /applications(uniqueName='…')` / `(appId='…')`, `PATCH /servicePrincipals(appId='…')`.
pub async fn upsert(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(segment): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let key = match parse(&segment) {
        Ok(k) => k,
        Err(e) => return error(e),
    };
    let create = create_if_missing(&headers);
    match key {
        Key::SpByAppId(app_id) => {
            guarded(&state, &headers, Op::WriteServicePrincipals, |sim, _| {
                let exists = sim
                    .tenant
                    .service_principals
                    .iter()
                    .any(|sp| sp.app_id == app_id);
                if exists {
                    // Nothing the product writes on a service principal is modelled beyond its
                    // existence; an update changes nothing and answers as Graph does.
                    return StatusCode::NO_CONTENT.into_response();
                }
                if !create {
                    return error(not_found(&segment));
                }
                let mut request = body.clone();
                request["appId"] = json!(app_id);
                match sim.tenant.create_service_principal(&request) {
                    Ok(sp) => (
                        StatusCode::CREATED,
                        Json(serde_json::to_value(sp).unwrap_or(Value::Null)),
                    )
                        .into_response(),
                    Err(e) => error(e),
                }
            })
        }
        key => guarded(&state, &headers, Op::WriteApplications, |sim, _| {
            if let Some(id) = sim.tenant.app_by(&key).map(|a| a.id.clone()) {
                return match sim.tenant.update_application(&id, &body) {
                    Ok(()) => StatusCode::NO_CONTENT.into_response(),
                    Err(e) => error(e),
                };
            }
            if !create {
                return error(not_found(&segment));
            }
            let mut request = body.clone();
            match &key {
                Key::AppByUniqueName(name) => request["uniqueName"] = json!(name),
                // An appId is assigned by the directory; it cannot be chosen by an upsert.
                _ => {
                    return error(GraphError::bad_request(
                        "Upsert by appId is not supported; use uniqueName.",
                    ));
                }
            }
            match sim.tenant.create_application(&request) {
                Ok(app) => (
                    StatusCode::CREATED,
                    Json(Tenant::application_json(&app, true)),
                )
                    .into_response(),
                Err(e) => error(e),
            }
        }),
    }
}
