//! The application credential usage report, `GET /beta/reports/appCredentialSignInActivities`
//! (Learn: "List appCredentialSignInActivities", "appCredentialSignInActivity resource type"):
//! one entry per credential (application and key id) that signed in, with when it last did so.
//!
//! Graph checks, in this order: the token's delegated scope (`AuditLog.Read.All`, or the higher
//! `Directory.Read.All`; otherwise 403 `Authentication_MSGraphPermissionMissing`), the signed-in
//! user's Entra role (one of the reporting roles the page lists; otherwise 403
//! `Authentication_RequestFromUnsupportedUserRole`, "User is not in the allowed roles" — Learn:
//! "How to analyze activity logs with Microsoft Graph", *Common errors*), and the tenant's
//! Microsoft Entra ID P1/P2 licence (otherwise 403
//! `Authentication_RequestFromNonPremiumTenantOrB2CTenant`, "Neither tenant is B2C or tenant
//! doesn't have premium license" — the same page, and Learn: "Microsoft Entra monitoring and
//! health licensing", which puts *Usage and insights* behind P1/P2).
//!
//! Sign-ins are recorded by the token endpoint when a certificate client assertion succeeds;
//! the report shows them only after the fault `reportLagSecs` (0 unless set: Microsoft
//! aggregates this data and it is not real time).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::graph::{Shared, error, lock};
use crate::ids;
use crate::paging::{MAX_PAGE, collection};
use crate::tenant::{EXCHANGE_APP_ID, GraphError, Tenant, roles};

/// One credential sign-in, as the report's source data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialSignIn {
    /// The credential's `keyId`.
    pub key_id: String,
    /// `certificate` or `clientSecret`.
    pub key_type: String,
    /// The application's client id.
    pub app_id: String,
    /// The application's object id.
    pub app_object_id: String,
    /// The service principal that signed in.
    pub service_principal_object_id: String,
    /// The resource the token was for (its appId).
    pub resource_id: String,
    /// The credential's `endDateTime` at the time.
    pub expiration_date_time: Option<String>,
    /// The credential's `startDateTime` (when it was added).
    pub created_date_time: Option<String>,
    /// When (simulated Unix seconds).
    pub at: i64,
    /// The sign-in's request id (also sent as `x-ms-request-id` by the token endpoint).
    pub request_id: String,
}

/// Roles that may read the report (Learn: "List appCredentialSignInActivities" names Reports
/// Reader, Security Reader and Security Administrator; the sign-in reports also admit Global
/// Reader and Security Operator; a Global Administrator may read everything).
pub const READER_ROLES: [&str; 6] = [
    roles::GLOBAL_ADMIN,
    roles::GLOBAL_READER,
    roles::REPORTS_READER,
    roles::SECURITY_ADMIN,
    roles::SECURITY_OPERATOR,
    roles::SECURITY_READER,
];

/// Delegated scopes that allow the read: the least privileged and the higher one.
pub const SCOPES: [&str; 2] = ["AuditLog.Read.All", "Directory.Read.All"];

impl Tenant {
    /// Records a successful sign-in of `app_id` with its credential `key_id` for `resource`.
    pub fn record_credential_sign_in(
        &mut self,
        app_id: &str,
        key_id: &str,
        resource: &str,
        at: i64,
        request_id: &str,
    ) {
        let Some(app) = self.applications.iter().find(|a| a.app_id == app_id) else {
            return;
        };
        let certificate = app
            .key_credentials
            .iter()
            .find(|k| k.key_id.as_deref() == Some(key_id));
        let secret = app.password_credentials.iter().find(|p| p.key_id == key_id);
        let (key_type, start, end) = match (certificate, secret) {
            (Some(k), _) => (
                "certificate",
                k.start_date_time.clone(),
                k.end_date_time.clone(),
            ),
            (None, Some(p)) => (
                "clientSecret",
                Some(p.start_date_time.clone()),
                Some(p.end_date_time.clone()),
            ),
            (None, None) => return,
        };
        let sp = self
            .service_principals
            .iter()
            .find(|sp| sp.app_id == app_id)
            .map(|sp| sp.id.clone())
            .unwrap_or_default();
        self.credential_sign_ins.push(CredentialSignIn {
            key_id: key_id.to_owned(),
            key_type: key_type.to_owned(),
            app_id: app_id.to_owned(),
            app_object_id: app.id.clone(),
            service_principal_object_id: sp,
            resource_id: resource.to_owned(),
            expiration_date_time: end,
            created_date_time: start,
            at,
            request_id: request_id.to_owned(),
        });
    }

    /// The report's entries as Graph returns them, from the sign-ins older than `lag` seconds:
    /// one per (application, key id), in the order their credentials first signed in.
    pub fn credential_report(&self, now: i64, lag: i64) -> Vec<Value> {
        let mut order: Vec<(String, String)> = Vec::new();
        let mut latest: HashMap<(String, String), &CredentialSignIn> = HashMap::new();
        for event in self
            .credential_sign_ins
            .iter()
            .filter(|e| e.at <= now - lag)
        {
            let key = (event.app_id.clone(), event.key_id.clone());
            match latest.get(&key) {
                None => {
                    order.push(key.clone());
                    latest.insert(key, event);
                }
                Some(seen) if seen.at <= event.at => {
                    latest.insert(key, event);
                }
                Some(_) => {}
            }
        }
        order
            .iter()
            .filter_map(|key| latest.get(key))
            .map(|e| entry(e))
            .collect()
    }
}

/// One `appCredentialSignInActivity`. `keyUsage` is `verify` for certificates (the
/// keyCredential's own usage) and `sign` for secrets; `id` is base64 of `keyId|application`,
/// the form of the examples on Learn.
fn entry(e: &CredentialSignIn) -> Value {
    let when = ids::rfc3339(e.at);
    json!({
        "id": STANDARD.encode(format!("{}|application", e.key_id)),
        "keyId": e.key_id,
        "keyType": e.key_type,
        "keyUsage": if e.key_type == "certificate" { "verify" } else { "sign" },
        "appId": e.app_id,
        "appObjectId": e.app_object_id,
        "servicePrincipalObjectId": e.service_principal_object_id,
        "resourceId": e.resource_id,
        "credentialOrigin": "application",
        "expirationDateTime": e.expiration_date_time,
        "createdDateTime": e.created_date_time,
        "signInActivity": {
            "lastSignInDateTime": when,
            "lastSignInRequestId": e.request_id,
            "lastNonInteractiveSignInDateTime": when,
            "lastNonInteractiveSignInRequestId": e.request_id,
            "lastSuccessfulSignInDateTime": when,
            "lastSuccessfulSignInRequestId": e.request_id,
        },
    })
}

fn forbidden(code: &'static str, message: &str) -> GraphError {
    GraphError {
        status: 403,
        code,
        message: message.to_owned(),
        detail: None,
    }
}

/// `GET /beta/reports/appCredentialSignInActivities` (`$filter` on `appId`/`keyId`, paged).
pub async fn list(
    State(state): State<Shared>,
    https: Option<axum::Extension<crate::Https>>,
    headers: HeaderMap,
    uri: Uri,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let mut sim = lock(&state);
    // Answered from the token's tenant, as every Graph call.
    let at = crate::access::token_tenant(&headers).and_then(|tid| sim.locate(&tid).ok().flatten());
    sim.within(at, |sim| list_in(sim, https, headers, uri, params))
}

fn list_in(
    sim: &mut crate::graph::Sim,
    https: Option<axum::Extension<crate::Https>>,
    headers: HeaderMap,
    uri: Uri,
    params: HashMap<String, String>,
) -> Response {
    let now = sim.tenant.clock.now();
    let caller = match crate::access::caller(
        &sim.tenant,
        &sim.key.to_public_key(),
        &headers,
        now,
        sim.cloud,
    ) {
        Ok(c) => c,
        Err(e) => return error(e),
    };
    let scoped = caller
        .scopes
        .iter()
        .any(|s| SCOPES.iter().any(|k| k.eq_ignore_ascii_case(s)));
    if !scoped {
        return error(forbidden(
            "Authentication_MSGraphPermissionMissing",
            "Calling principal does not have required MSGraph permissions AuditLog.Read.All",
        ));
    }
    if !caller
        .user
        .roles
        .iter()
        .any(|r| READER_ROLES.contains(&r.as_str()))
    {
        return error(forbidden(
            "Authentication_RequestFromUnsupportedUserRole",
            "User is not in the allowed roles",
        ));
    }
    if sim.faults.no_premium_licence {
        return error(forbidden(
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
            "Neither tenant is B2C or tenant doesn't have premium license",
        ));
    }
    let scheme = if https.is_some() { "https" } else { sim.scheme };
    let here = crate::paging::here(scheme, &headers, &uri);
    let lag = sim.faults.report_lag_secs;
    collection(
        &params,
        sim.tenant.credential_report(now, lag).into_iter(),
        &["appId", "keyId"],
        &here,
        MAX_PAGE,
    )
}

/// `GET /v1.0/reports/appCredentialSignInActivities`: the report exists in beta only, and
/// v1.0 answers an unknown segment as Graph does.
pub async fn not_in_v1() -> Response {
    error(GraphError {
        status: 400,
        code: "BadRequest",
        message: "Resource not found for the segment 'appCredentialSignInActivities'.".into(),
        detail: None,
    })
}

/// The resource an Exchange app-only token is for, as the report names it.
pub const EXCHANGE_RESOURCE: &str = EXCHANGE_APP_ID;

/// Answer headers for a successful token request: the request id the report records.
pub fn request_id_header(response: &mut Response, request_id: &str) {
    if let Ok(value) = axum::http::HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-ms-request-id", value);
    }
}
