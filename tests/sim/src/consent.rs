//! The v2 admin-consent endpoint, `GET /{tenant}/v2.0/adminconsent?client_id=…&redirect_uri=…
//! &state=…&scope=…` (Learn: "Admin consent on the Microsoft identity platform",
//! <https://learn.microsoft.com/entra/identity-platform/v2-admin-consent>): a small page where a
//! user of that tenant signs in and accepts or cancels; an administrator's Accept records
//! consent for the whole organisation (creating the client's service principal when the client
//! is a multi-tenant app registered elsewhere) and sends the browser to
//! `redirect_uri?admin_consent=True&tenant=<id>&scope=…&state=…`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};

use crate::graph::{Shared, Sim, lock};
use crate::identity::TokenError;
use crate::platform::{
    ensure_client_principal, error_page, escape, offered_users, unknown_tenant, user_choices,
};
use crate::signin;

/// A checked admin-consent request.
struct Request {
    client_id: String,
    client_name: String,
    redirect_uri: String,
    state: Option<String>,
    /// `scope` as sent (echoed in the answer).
    scope: String,
    /// The Graph permission names it stands for.
    graph_scopes: Vec<String>,
}

/// Why the request cannot go on.
enum Refusal {
    /// The redirect URI is not trusted (yet): Entra's own error page.
    Page(TokenError),
    /// Sent back to the redirect URI.
    Redirect(String),
}

/// `redirect_uri` with the answer's parameters (always in the query) and `state`.
fn back(redirect_uri: &str, pairs: &[(&str, &str)], state: Option<&str>) -> String {
    let mut all = pairs.to_vec();
    if let Some(state) = state {
        all.push(("state", state));
    }
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(all)
        .finish();
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{sep}{encoded}")
}

/// An error answer: `error`, `error_description` (AADSTS code first), `error_uri`, and
/// `admin_consent=True` as Learn's error example and observed answers carry it
/// (MicrosoftDocs/azure-docs issue 114009).
fn error_back(
    redirect_uri: &str,
    error: &str,
    subcode: Option<&str>,
    code: u32,
    text: &str,
    state: Option<&str>,
) -> String {
    let description = format!("AADSTS{code}: {text}");
    let uri = format!("https://login.microsoftonline.com/error?code={code}");
    let mut pairs = vec![("error", error)];
    if let Some(subcode) = subcode {
        pairs.push(("error_subcode", subcode));
    }
    pairs.extend([
        ("error_description", description.as_str()),
        ("error_uri", uri.as_str()),
        ("admin_consent", "True"),
    ]);
    back(redirect_uri, &pairs, state)
}

fn check(sim: &Sim, params: &HashMap<String, String>) -> Result<Request, Refusal> {
    let get = |k: &str| params.get(k).map(String::as_str).unwrap_or_default();
    let client_id = get("client_id");
    let Some((app, _)) = sim.client(client_id) else {
        return Err(Refusal::Page(TokenError::new(
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'.",
                sim.tenant.display_name
            ),
        )));
    };
    let redirect_uri = get("redirect_uri");
    if !signin::spa_redirects(Some(&app))
        .iter()
        .any(|r| r == redirect_uri)
    {
        return Err(Refusal::Page(TokenError::new(
            "invalid_request",
            50011,
            format!(
                "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal."
            ),
        )));
    }
    let state = params.get("state").cloned();
    let scope = get("scope").to_owned();
    let refuse = |error: &str, code: u32, text: &str| {
        Refusal::Redirect(error_back(
            redirect_uri,
            error,
            None,
            code,
            text,
            state.as_deref(),
        ))
    };
    if scope.trim().is_empty() {
        return Err(refuse(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        ));
    }
    // `{graph}/.default`: the delegated Graph permissions the registration declares
    // (`requiredResourceAccess`); other scopes as `/authorize` reads them.
    let default = format!("{}/.default", sim.cloud.graph());
    let mut graph_scopes = Vec::new();
    let mut rest = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if s.eq_ignore_ascii_case(&default) {
            graph_scopes.extend(declared(&app));
        } else {
            rest.push(s);
        }
    }
    let named = signin::graph_scopes(&rest.join(" "), sim.cloud)
        .map_err(|text| refuse("invalid_scope", 70011, &text))?;
    graph_scopes.extend(named);
    graph_scopes.sort();
    graph_scopes.dedup();
    Ok(Request {
        client_id: client_id.to_owned(),
        client_name: app.display_name,
        redirect_uri: redirect_uri.to_owned(),
        state,
        scope,
        graph_scopes,
    })
}

/// The delegated Graph permissions an application declares, by name.
fn declared(app: &crate::tenant::Application) -> Vec<String> {
    app.required_resource_access
        .iter()
        .filter(|r| r["resourceAppId"] == crate::access::GRAPH_APP_ID)
        .flat_map(|r| r["resourceAccess"].as_array().cloned().unwrap_or_default())
        .filter(|a| a["type"] == "Scope")
        .filter_map(|a| {
            a["id"]
                .as_str()
                .and_then(crate::grants::delegated_name)
                .map(str::to_owned)
        })
        .collect()
}

/// `GET /{tenant}/v2.0/adminconsent`.
pub async fn page(
    State(state): State<Shared>,
    Path(tenant): Path<String>,
    uri: axum::http::Uri,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let mut sim = lock(&state);
    let at = match sim.locate(&tenant) {
        Ok(at) => at,
        Err(()) => return error_page(&unknown_tenant(&tenant)),
    };
    sim.within(at, |sim| {
        let request = match check(sim, &params) {
            Ok(r) => r,
            Err(Refusal::Page(e)) => return error_page(&e),
            Err(Refusal::Redirect(location)) => return found(&location),
        };
        let users = user_choices(sim, signin::is_alias(&tenant), None);
        let scopes: String = request
            .graph_scopes
            .iter()
            .map(|s| format!("<li>{}</li>", escape(s)))
            .collect();
        Html(format!(
            r#"<!doctype html><meta charset=utf-8><meta name=viewport content="width=device-width">
<title>Permissions requested (simulated)</title>
<style>body{{font:16px system-ui;max-width:36rem;margin:2rem auto;padding:0 1rem}}li{{margin:.4rem 0;list-style:none}}button{{font:inherit;padding:.5rem 1rem;margin-right:.5rem}}</style>
<h1>Permissions requested</h1>
<p>Tenant <b>{tenant}</b> · <b>{client}</b> asks an administrator to accept these permissions for the whole organization.</p>
<form method=post>
<input type=hidden name=request value="{query}">
<fieldset><legend>Pick an account</legend><ul>{users}</ul></fieldset>
<fieldset><legend>Permissions requested</legend><ul>{scopes}</ul></fieldset>
<p><button name=action value=accept id=accept>Accept</button><button name=action value=cancel id=cancel>Cancel</button></p>
</form>"#,
            tenant = escape(&sim.tenant.display_name),
            client = escape(&request.client_name),
            query = escape(uri.query().unwrap_or_default()),
        ))
        .into_response()
    })
}

fn found(location: &str) -> Response {
    let mut response = axum::http::StatusCode::FOUND.into_response();
    if let Ok(value) = axum::http::HeaderValue::from_str(location) {
        response
            .headers_mut()
            .insert(axum::http::header::LOCATION, value);
    }
    response
}

/// `POST /{tenant}/v2.0/adminconsent`: the page's answer.
pub async fn answer(
    State(state): State<Shared>,
    Path(tenant): Path<String>,
    _headers: HeaderMap,
    body: String,
) -> Response {
    let (form, params) = crate::platform::page_answer(&body);
    let picked = form.get("user").cloned().unwrap_or_default();
    let mut sim = lock(&state);
    let at = match sim.locate(&tenant) {
        Ok(None) if signin::is_alias(&tenant) => sim.home_of(&picked).flatten(),
        Ok(at) => at,
        Err(()) => return error_page(&unknown_tenant(&tenant)),
    };
    sim.within(at, |sim| {
        let request = match check(sim, &params) {
            Ok(r) => r,
            Err(Refusal::Page(e)) => return error_page(&e),
            Err(Refusal::Redirect(location)) => return found(&location),
        };
        let state = request.state.as_deref();
        if form.get("action").map(String::as_str) != Some("accept") {
            // Cancel: `access_denied` with the `cancel` subcode (MicrosoftDocs/azure-docs issue
            // 41053) and AADSTS65004 (issue 114009; Learn: "Microsoft Entra authentication and
            // authorization error codes": "User declined to consent to access the app").
            return found(&error_back(
                &request.redirect_uri,
                "access_denied",
                Some("cancel"),
                65004,
                "User declined to consent to access the app.",
                state,
            ));
        }
        let Some(user) = offered_users(sim, signin::is_alias(&tenant))
            .into_iter()
            .map(|(u, _)| u)
            .find(|u| u.id == picked)
        else {
            return error_page(&TokenError::new(
                "invalid_request",
                50034,
                "The user account does not exist in this directory.",
            ));
        };
        if !signin::may_consent_for_org(&user) {
            // A user who may not consent for the organisation (choice, see README: the code
            // widely reported for this case, in Learn's error-response shape).
            return found(&error_back(
                &request.redirect_uri,
                "consent_required",
                None,
                90093,
                "Calling principal cannot consent due to lack of permissions.",
                state,
            ));
        }
        ensure_client_principal(sim, &request.client_id);
        sim.tenant.consents.push(signin::Consent {
            client_id: request.client_id.clone(),
            user_id: None,
            scopes: request.graph_scopes.clone(),
        });
        let tenant_id = sim.tenant.id.clone();
        found(&back(
            &request.redirect_uri,
            &[
                ("admin_consent", "True"),
                ("tenant", &tenant_id),
                ("scope", &request.scope),
            ],
            state,
        ))
    })
}
