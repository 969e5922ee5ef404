//! The HTTP face of the simulated identity platform: `/authorize` (a small sign-in page: pick a
//! fixture user, consent or cancel; `prompt=none` for a user with a session cookie), `/token`
//! (authorization code with PKCE, refresh token, client credentials; CORS only for a client's
//! registered `spa` origins), discovery and keys, a managed-identity token endpoint standing in
//! for the Azure instance metadata service, and the test-only `/_sim/token` shortcut.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};

use crate::graph::{Shared, Sim, lock};
use crate::identity::{self, Endpoint, TokenError};
use crate::jwt;
use crate::signin::{self, Authorize, Code, Redemption, Refresh, Refusal};
use crate::tenant::User;

/// The cookie that remembers who signed in on this browser (the simulator's SSO session).
const SESSION_COOKIE: &str = "sim_session";

type Params = Query<HashMap<String, String>>;

/// `scheme://host:port` the client addressed: the Host header (HTTP/1.1) or the request's
/// authority (HTTP/2 sends `:authority` instead of Host).
pub fn origin(scheme: &str, headers: &HeaderMap, uri: &axum::http::Uri) -> String {
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

fn found(location: &str) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// The account id the session cookie holds (the home account: a guest's session is theirs).
fn session_id(headers: &HeaderMap) -> Option<String> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    cookies.split(';').find_map(|c| {
        c.trim()
            .strip_prefix(SESSION_COOKIE)
            .and_then(|r| r.strip_prefix('='))
            .map(str::to_owned)
    })
}

/// The session's user in the current tenant: the account itself, or its B2B guest object here.
fn session_user<'a>(sim: &'a Sim, headers: &HeaderMap) -> Option<&'a User> {
    let id = session_id(headers)?;
    sim.tenant
        .users
        .iter()
        .find(|u| u.id == id || u.home.as_ref().is_some_and(|h| h.user_id == id))
}

/// Issues a code for `user` in the current tenant, remembers the session, and sends the
/// browser back.
fn issue_code(sim: &mut Sim, request: Authorize, user: &User) -> Response {
    let code = signin::opaque();
    let location = signin::redirect_url(&request, &[("code", &code)]);
    let session = user.home.as_ref().map_or(&user.id, |h| &h.user_id).clone();
    sim.codes.insert(
        code,
        (
            Code {
                request,
                tenant_id: sim.tenant.id.clone(),
                user_id: user.id.clone(),
                issued: sim.tenant.clock.now(),
            },
            false,
        ),
    );
    let mut response = found(&location);
    if let Ok(cookie) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={session}; Path=/; HttpOnly; SameSite=Lax"
    )) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

pub(crate) fn error_page(e: &TokenError) -> Response {
    let body = format!(
        "<!doctype html><meta charset=utf-8><title>Sign in</title><h1>Sorry, but we’re having trouble signing you in.</h1><p id=error>AADSTS{}: {}</p>",
        e.code,
        escape(&e.text)
    );
    (StatusCode::BAD_REQUEST, Html(body)).into_response()
}

pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /{tenant}/oauth2/v2.0/authorize`.
pub async fn authorize(
    State(state): State<Shared>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    Query(params): Params,
) -> Response {
    let mut sim = lock(&state);
    // `organizations`/`common` start in the first tenant; a silent sign-in there goes to the
    // home tenant of the session's account. A tenant id or domain picks that tenant.
    let at = match sim.locate(&tenant) {
        Ok(None)
            if signin::is_alias(&tenant) && params.get("prompt").is_some_and(|p| p == "none") =>
        {
            session_id(&headers)
                .and_then(|id| sim.home_of(&id))
                .flatten()
        }
        Ok(at) => at,
        Err(()) => return error_page(&unknown_tenant(&tenant)),
    };
    sim.within(at, |sim| {
        authorize_in(sim, &tenant, &headers, &uri, &params)
    })
}

/// AADSTS90002, as Entra answers a tenant it does not know.
pub(crate) fn unknown_tenant(segment: &str) -> TokenError {
    TokenError::new(
        "invalid_request",
        90002,
        format!("Tenant '{segment}' not found."),
    )
}

/// The application `client_id` names, seen from the current tenant.
fn client_app(sim: &Sim, params: &HashMap<String, String>) -> Option<crate::tenant::Application> {
    sim.client(
        params
            .get("client_id")
            .map(String::as_str)
            .unwrap_or_default(),
    )
    .map(|(app, _)| app)
}

fn authorize_in(
    sim: &mut Sim,
    tenant: &str,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    params: &HashMap<String, String>,
) -> Response {
    let client = client_app(sim, params);
    let request = match signin::authorize(&sim.tenant, client.as_ref(), tenant, params, sim.cloud) {
        Ok(r) => r,
        Err(Refusal::Page(e)) => return error_page(&e),
        Err(Refusal::Redirect(e)) => {
            // The redirect URI was checked before anything that redirects.
            let request = Authorize {
                redirect_uri: params.get("redirect_uri").cloned().unwrap_or_default(),
                fragment: params.get("response_mode").is_some_and(|m| m == "fragment"),
                state: params.get("state").cloned(),
                ..empty_request()
            };
            return found(&signin::error_redirect(&request, &e));
        }
    };
    if request.prompt.as_deref() == Some("none") {
        let user = session_user(sim, headers).cloned();
        let hint_ok = |u: &User| {
            request
                .login_hint
                .as_ref()
                .is_none_or(|h| h.eq_ignore_ascii_case(sign_in_name(u)))
        };
        let refusal = match &user {
            None => Some(TokenError::new(
                "login_required",
                50058,
                "A silent sign-in request was sent but no user is signed in.",
            )),
            Some(u) if !hint_ok(u) => Some(TokenError::new(
                "login_required",
                50058,
                "A silent sign-in request was sent but the signed-in user is not the one the login_hint names.",
            )),
            Some(u) if !signin::missing_consent(&sim.tenant.consents, &request, u).is_empty() => {
                Some(TokenError::new(
                    "consent_required",
                    65001,
                    "The user or administrator has not consented to use the application. Send an interactive authorization request for this user and resource.",
                ))
            }
            Some(_) => None,
        };
        return match (refusal, user) {
            (Some(e), _) => found(&signin::error_redirect(&request, &e)),
            (None, Some(u)) => issue_code(sim, request, &u),
            (None, None) => found(&signin::error_redirect(
                &request,
                &TokenError::new("login_required", 50058, "No user is signed in."),
            )),
        };
    }
    Html(sign_in_page(sim, &request, uri.query().unwrap_or_default())).into_response()
}

/// What a user types to sign in: their own UPN, or a guest's home address.
pub(crate) fn sign_in_name(user: &User) -> &str {
    user.home
        .as_ref()
        .map_or(&user.user_principal_name, |h| &h.user_principal_name)
}

/// The accounts a sign-in page offers: at `organizations`/`common` the members of every tenant
/// (each signs in to their home tenant), at a tenant its members and guests.
pub(crate) fn offered_users(sim: &Sim, alias: bool) -> Vec<(User, String)> {
    if alias {
        sim.tenants()
            .flat_map(|t| {
                t.users
                    .iter()
                    .filter(|u| u.home.is_none())
                    .map(|u| (t.with_active_roles(u), t.display_name.clone()))
            })
            .collect()
    } else {
        sim.tenant
            .users
            .iter()
            .map(|u| {
                (
                    sim.tenant.with_active_roles(u),
                    sim.tenant.display_name.clone(),
                )
            })
            .collect()
    }
}

/// The radio buttons of a sign-in page.
pub(crate) fn user_choices(sim: &Sim, alias: bool, login_hint: Option<&str>) -> String {
    let several = !sim.others.is_empty();
    offered_users(sim, alias)
        .iter()
        .enumerate()
        .map(|(i, (u, tenant))| {
            let roles: Vec<&str> = u.roles.iter().map(|r| crate::tenant::roles::name(r)).collect();
            let checked = login_hint.map_or(i == 0, |h| h.eq_ignore_ascii_case(sign_in_name(u)));
            let mut notes = Vec::new();
            if u.home.is_some() {
                notes.push("guest".to_owned());
            }
            if several {
                notes.push(tenant.clone());
            }
            notes.push(if roles.is_empty() { "no admin role".to_owned() } else { roles.join(", ") });
            format!(
                "<li><label><input type=radio name=user value=\"{}\"{}> {} &lt;{}&gt; <small>{}</small></label></li>",
                u.id,
                if checked { " checked" } else { "" },
                escape(&u.display_name),
                escape(sign_in_name(u)),
                escape(&notes.join(" · "))
            )
        })
        .collect()
}

fn empty_request() -> Authorize {
    Authorize {
        authority: String::new(),
        client_id: String::new(),
        redirect_uri: String::new(),
        fragment: false,
        graph_scopes: vec![],
        scope: String::new(),
        state: None,
        nonce: None,
        challenge: String::new(),
        prompt: None,
        login_hint: None,
        claims: None,
    }
}

fn sign_in_page(sim: &Sim, request: &Authorize, query: &str) -> String {
    let client = sim
        .client(&request.client_id)
        .map(|(a, _)| a.display_name)
        .unwrap_or_default();
    let alias = signin::is_alias(&request.authority);
    let users = user_choices(sim, alias, request.login_hint.as_deref());
    let scopes: String = request
        .graph_scopes
        .iter()
        .map(|s| format!("<li>{}</li>", escape(s)))
        .collect();
    format!(
        r#"<!doctype html><meta charset=utf-8><meta name=viewport content="width=device-width">
<title>Sign in to your account (simulated)</title>
<style>body{{font:16px system-ui;max-width:36rem;margin:2rem auto;padding:0 1rem}}li{{margin:.4rem 0;list-style:none}}button{{font:inherit;padding:.5rem 1rem;margin-right:.5rem}}</style>
<h1>Simulated Microsoft sign-in</h1>
<p>Tenant <b>{tenant}</b> · <b>{client}</b> asks to sign you in.</p>
<form method=post>
<input type=hidden name=request value="{query}">
<fieldset><legend>Pick an account</legend><ul>{users}</ul></fieldset>
<fieldset><legend>Permissions requested</legend><ul>{scopes}</ul>
<label><input type=checkbox name=org value=on checked> Consent on behalf of your organization</label></fieldset>
<p><button name=action value=accept id=accept>Accept</button><button name=action value=cancel id=cancel>Cancel</button></p>
</form>"#,
        tenant = escape(&sim.tenant.display_name),
        client = escape(&client),
        query = escape(query),
    )
}

/// A sign-in or consent page's posted form, and the original request it carries (`request`).
pub(crate) fn page_answer(body: &str) -> (HashMap<String, String>, HashMap<String, String>) {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let params = url::form_urlencoded::parse(
        form.get("request")
            .map(String::as_bytes)
            .unwrap_or_default(),
    )
    .into_owned()
    .collect();
    (form, params)
}

/// `POST /{tenant}/oauth2/v2.0/authorize`: the sign-in page's answer.
pub async fn authorize_answer(
    State(state): State<Shared>,
    Path(tenant): Path<String>,
    body: String,
) -> Response {
    let (form, params) = page_answer(&body);
    let mut sim = lock(&state);
    let picked = form.get("user").cloned().unwrap_or_default();
    // At `organizations`/`common` the picked account's home tenant is the one signed in to.
    let at = match sim.locate(&tenant) {
        Ok(None) if signin::is_alias(&tenant) => sim.home_of(&picked).flatten(),
        Ok(at) => at,
        Err(()) => return error_page(&unknown_tenant(&tenant)),
    };
    sim.within(at, |sim| answer_in(sim, &tenant, &params, &form))
}

fn answer_in(
    sim: &mut Sim,
    tenant: &str,
    params: &HashMap<String, String>,
    form: &HashMap<String, String>,
) -> Response {
    let client = client_app(sim, params);
    let request = match signin::authorize(&sim.tenant, client.as_ref(), tenant, params, sim.cloud) {
        Ok(r) => r,
        Err(Refusal::Page(e) | Refusal::Redirect(e)) => return error_page(&e),
    };
    if form.get("action").map(String::as_str) != Some("accept") {
        return found(&signin::error_redirect(
            &request,
            &TokenError::new(
                "access_denied",
                65004,
                "User declined to consent to access the app.",
            ),
        ));
    }
    let Some(user) = sim
        .tenant
        .users
        .iter()
        .find(|u| Some(&u.id) == form.get("user"))
        .map(|u| sim.tenant.with_active_roles(u))
    else {
        return error_page(&TokenError::new(
            "invalid_request",
            50034,
            "The user account does not exist in this directory.",
        ));
    };
    let missing = signin::missing_consent(&sim.tenant.consents, &request, &user);
    if !missing.is_empty() {
        let needs_admin = missing.iter().any(|s| signin::admin_only(s));
        let admin = signin::may_consent_for_org(&user);
        if needs_admin && !admin {
            return found(&signin::error_redirect(
                &request,
                &TokenError::new(
                    "consent_required",
                    90094,
                    "Need admin approval: the application needs permissions that only an administrator can grant. Ask an administrator to grant permission to this app before you can use it.",
                ),
            ));
        }
        let for_org = admin && form.get("org").map(String::as_str) == Some("on");
        ensure_client_principal(sim, &request.client_id);
        sim.tenant.consents.push(signin::Consent {
            client_id: request.client_id.clone(),
            user_id: (!for_org).then(|| user.id.clone()),
            scopes: missing,
        });
    }
    issue_code(sim, request, &user)
}

/// Consent to a multi-tenant application registered in another tenant creates its service
/// principal here (Learn: "Application and service principal objects in Microsoft Entra ID":
/// consent creates the service principal in each tenant where the app is used), owned by the
/// app's home tenant.
pub(crate) fn ensure_client_principal(sim: &mut Sim, client_id: &str) {
    if sim
        .tenant
        .service_principals
        .iter()
        .any(|sp| sp.app_id == client_id)
    {
        return;
    }
    let Some((app, home)) = sim.client(client_id) else {
        return;
    };
    let sp = crate::tenant::ServicePrincipal {
        id: crate::ids::guid(),
        app_id: app.app_id,
        display_name: app.display_name,
        service_principal_type: "Application".into(),
        app_owner_organization_id: Some(home),
        alternative_names: vec![],
        app_roles: vec![],
        oauth2_permission_scopes: vec![],
    };
    let now = sim.tenant.clock.now_ms();
    sim.tenant.created.insert(sp.id.clone(), now);
    sim.tenant.service_principals.push(sp);
}

/// Form fields of a token request.
fn form(body: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

/// CORS for the token endpoint: only a client's registered `spa` origins may read answers.
fn cors(mut response: Response, origin: Option<&str>, allowed: bool) -> Response {
    if let (Some(origin), true) = (origin, allowed)
        && let Ok(value) = HeaderValue::from_str(origin)
    {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    response
}

/// `OPTIONS /{tenant}/oauth2/v2.0/token` (a browser asking before a non-simple POST).
pub async fn token_preflight(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let sim = lock(&state);
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
    let allowed = origin.is_some_and(|o| {
        signin::any_spa_origin(sim.tenants().flat_map(|t| t.applications.iter()), o)
    });
    let mut response = StatusCode::NO_CONTENT.into_response();
    if allowed {
        let h = response.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type, client-request-id, x-client-sku, x-client-ver"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
    }
    cors(response, origin, allowed)
}

/// `POST /{tenant}/oauth2/v2.0/token`.
pub async fn token(
    State(state): State<Shared>,
    https: Option<axum::Extension<crate::Https>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    body: String,
) -> Response {
    let form = form(&body);
    let mut sim = lock(&state);
    let browser_origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
    let client_id = form.get("client_id").cloned().unwrap_or_default();
    let allowed = browser_origin.is_some_and(|o| {
        signin::spa_origin_allowed(sim.client(&client_id).map(|(a, _)| a).as_ref(), o)
    });
    let here = origin(
        if https.is_some() { "https" } else { sim.scheme },
        &headers,
        &uri,
    );
    let grant = form.get("grant_type").cloned().unwrap_or_default();
    let user_grant = grant == "authorization_code" || grant == "refresh_token";
    let located = sim.locate(&tenant);
    if user_grant && located.is_err() {
        return cors(
            token_error(&unknown_tenant(&tenant)),
            browser_origin,
            allowed,
        );
    }
    // A code or refresh token is answered in the tenant it was issued in; client credentials
    // in the tenant the path names (an unknown one is refused there, AADSTS90002).
    let issued_in = match grant.as_str() {
        "authorization_code" => form
            .get("code")
            .and_then(|c| sim.codes.get(c))
            .map(|(c, _)| c.tenant_id.clone()),
        "refresh_token" => form
            .get("refresh_token")
            .and_then(|r| sim.refresh_tokens.get(r))
            .map(|r| r.tenant_id.clone()),
        _ => None,
    };
    if grant == "refresh_token"
        && let (Some(tid), Ok(Some(_)) | Ok(None)) = (&issued_in, &located)
        && !signin::is_alias(&tenant)
        && sim.locate(tid) != located
    {
        return cors(
            token_error(&TokenError::new(
                "invalid_grant",
                700005,
                "Provided refresh token is intended to use against other tenant, thus rejected.",
            )),
            browser_origin,
            allowed,
        );
    }
    let at = match &issued_in {
        Some(tid) => sim.locate(tid).ok().flatten(),
        None => located.ok().flatten(),
    };
    let response = sim.within(at, |sim| {
        token_in(sim, &tenant, &grant, form, browser_origin, &here)
    });
    cors(response, browser_origin, allowed)
}

fn token_in(
    sim: &mut Sim,
    tenant: &str,
    grant: &str,
    form: HashMap<String, String>,
    browser_origin: Option<&str>,
    here: &str,
) -> Response {
    let client_id = form.get("client_id").cloned().unwrap_or_default();
    match grant {
        "authorization_code" | "refresh_token" => {
            user_tokens(sim, tenant, &form, browser_origin, here)
        }
        "client_credentials" if browser_origin.is_some() => token_error(&TokenError::new(
            "invalid_request",
            9002326,
            "Cross-origin token redemption is permitted only for the 'Single-Page Application' client-type; client credentials cannot be used from a browser.",
        )),
        "client_credentials" => {
            let pairs: Vec<(String, String)> = form.into_iter().collect();
            match identity::client_credentials(
                &sim.tenant,
                &Endpoint {
                    origin: here,
                    tenant,
                },
                &pairs,
                sim.tenant.clock.now(),
                sim.cloud,
            ) {
                Ok((claims, key_id, resource_app_id)) => {
                    // The credential usage report learns of the sign-in; Entra names each
                    // request in `x-ms-request-id`.
                    let request_id = crate::ids::guid();
                    let now = sim.tenant.clock.now();
                    sim.tenant.record_credential_sign_in(
                        &client_id,
                        &key_id,
                        resource_app_id,
                        now,
                        &request_id,
                    );
                    let mut response = Json(json!({
                        "token_type": "Bearer",
                        "expires_in": 3599,
                        "ext_expires_in": 3599,
                        "access_token": jwt::sign(&sim.key, &sim.kid, &claims),
                    }))
                    .into_response();
                    crate::report::request_id_header(&mut response, &request_id);
                    response
                }
                Err(e) => token_error(&e),
            }
        }
        other => token_error(&TokenError::new(
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{other}'."),
        )),
    }
}

fn user_tokens(
    sim: &mut Sim,
    authority: &str,
    form: &HashMap<String, String>,
    origin: Option<&str>,
    issuer_origin: &str,
) -> Response {
    let at = Redemption {
        authority,
        origin,
        now: sim.tenant.clock.now(),
    };
    let client_id = form.get("client_id").cloned().unwrap_or_default();
    if sim.client(&client_id).is_none() {
        return token_error(&TokenError::new(
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'.",
                sim.tenant.display_name
            ),
        ));
    }
    // The scopes the token is for: the request's, else (code redemption) what `/authorize` asked.
    let mut asked_scope = form.get("scope").cloned();
    let (user_id, nonce, openid, signed_in, offline) =
        if form.get("grant_type").map(String::as_str) == Some("authorization_code") {
            match signin::redeem(&mut sim.codes, form, &at) {
                Ok(code) => {
                    asked_scope.get_or_insert_with(|| code.request.scope.clone());
                    answer_challenge(sim, code.request.claims.as_deref(), at.now);
                    // What `/authorize` asked for decides the ID and refresh tokens.
                    let asked = |s: &str| code.request.scope.split(' ').any(|x| x == s);
                    let (openid, offline) = (asked("openid"), asked("offline_access"));
                    (code.user_id, code.request.nonce, openid, at.now, offline)
                }
                Err(e) => return token_error(&e),
            }
        } else {
            match signin::refresh(&sim.refresh_tokens, form, &at) {
                Ok(Refresh {
                    user_id, signed_in, ..
                }) => {
                    if let Some(refused) = refresh_refused(sim, signed_in) {
                        return refused;
                    }
                    (user_id, None, false, signed_in, true)
                }
                Err(e) => return token_error(&e),
            }
        };
    let Some(user) = sim
        .tenant
        .users
        .iter()
        .find(|u| u.id == user_id)
        .map(|u| sim.tenant.with_active_roles(u))
    else {
        return token_error(&TokenError::new(
            "invalid_grant",
            50034,
            "The user account does not exist in this directory.",
        ));
    };
    let lifetime = sim.faults.token_lifetime_secs.unwrap_or(3599) as i64;
    let issuer_origin = match sim.issuer {
        crate::cloud::Issuer::Request => issuer_origin,
        crate::cloud::Issuer::Cloud => sim.cloud.v2_issuer(),
    };
    let mut tokens = signin::tokens(
        &sim.tenant,
        &sim.tenant.consents,
        &user,
        &client_id,
        issuer_origin,
        nonce.as_deref(),
        openid,
        at.now,
        lifetime,
        sim.cloud,
    );
    // A scope naming Azure Resource Manager gets an ARM token instead (`arm.rs`).
    let strict = form.get("grant_type").map(String::as_str) == Some("refresh_token");
    if let Some(arm) = crate::arm::user_token(
        sim,
        &user,
        &client_id,
        asked_scope.as_deref().unwrap_or_default(),
        strict,
        at.now,
        lifetime,
    ) {
        match arm {
            Ok((access, scope)) => {
                tokens.access = access;
                tokens.scope = scope;
            }
            Err(e) => return token_error(&e),
        }
    }
    let mut body = json!({
        "token_type": "Bearer",
        "scope": tokens.scope,
        "expires_in": tokens.expires_in,
        "ext_expires_in": tokens.expires_in,
        "access_token": jwt::sign(&sim.key, &sim.kid, &tokens.access),
    });
    if let Some(id) = &tokens.id {
        body["id_token"] = json!(jwt::sign(&sim.key, &sim.kid, id));
    }
    if offline {
        let rt = signin::opaque();
        body["refresh_token"] = json!(rt);
        body["refresh_token_expires_in"] = json!(24 * 3600 - (at.now - signed_in));
        sim.refresh_tokens.insert(
            rt,
            Refresh {
                client_id,
                tenant_id: sim.tenant.id.clone(),
                user_id: user.id,
                signed_in,
            },
        );
    }
    Json(body).into_response()
}

/// A sign-in whose `/authorize` carried claims answering the pending challenge lifts it.
fn answer_challenge(sim: &mut Sim, claims: Option<&str>, now: i64) {
    if let Some(rule) = sim.faults.claims_challenge.as_mut()
        && let (Some(at), Some(claims)) = (rule.fired_at, claims)
        && crate::challenge::satisfies(claims, at)
    {
        rule.satisfied_at.get_or_insert(now);
    }
}

/// Conditional Access on refresh: the configured `refreshError`, or a claims challenge the
/// refresh token's sign-in predates (or that no sign-in answered yet).
fn refresh_refused(sim: &Sim, signed_in: i64) -> Option<Response> {
    if let Some(answer) = sim
        .faults
        .refresh_error
        .as_deref()
        .and_then(crate::challenge::refresh_error)
    {
        return Some(answer);
    }
    let rule = sim.faults.claims_challenge.as_ref()?;
    let at = rule.fired_at?;
    (signed_in < at || rule.satisfied_at.is_none()).then(crate::challenge::revoked_refresh)
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
pub async fn discovery(
    State(state): State<Shared>,
    https: Option<axum::Extension<crate::Https>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let sim = lock(&state);
    let here = origin(
        if https.is_some() { "https" } else { sim.scheme },
        &headers,
        &uri,
    );
    let base = format!("{here}/{tenant}");
    // The issuer of the tenant the path names (the first tenant for the aliases), at the
    // address called unless the simulator plays the real cloud's issuer.
    let tid = match sim.locate(&tenant) {
        Ok(Some(i)) => sim.others[i].id.clone(),
        _ => sim.tenant.id.clone(),
    };
    let issuer_origin = match sim.issuer {
        crate::cloud::Issuer::Request => here.clone(),
        crate::cloud::Issuer::Cloud => sim.cloud.v2_issuer().to_owned(),
    };
    let response = Json(json!({
        "issuer": format!("{issuer_origin}/{tid}/v2.0"),
        "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{base}/oauth2/v2.0/token"),
        "jwks_uri": format!("{base}/discovery/v2.0/keys"),
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "code_challenge_methods_supported": ["plain", "S256"],
        "tenant_region_scope": "EU",
    }))
    .into_response();
    any_origin(response)
}

/// Entra's discovery and keys answer any origin (every MSAL.js app fetches them from the page).
fn any_origin(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// `GET /{tenant}/discovery/v2.0/keys`.
pub async fn keys(State(state): State<Shared>) -> Response {
    use base64::Engine;
    let sim = lock(&state);
    let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let public = sim.key.to_public_key();
    let response = Json(json!({ "keys": [{
        "kty": "RSA", "use": "sig", "kid": sim.kid,
        "n": b64(public.n().to_be_bytes_trimmed_vartime().into_vec()),
        "e": b64(public.e().to_be_bytes_trimmed_vartime().into_vec()),
    }]}))
    .into_response();
    any_origin(response)
}

/// `GET /metadata/identity/oauth2/token`: what the Automation account's sandbox asks for its
/// managed identity (the Azure instance metadata service's shape). No `client_id`/`object_id`/
/// `mi_res_id`: the system-assigned identity; otherwise that user-assigned identity.
pub async fn managed_identity_token(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    let bad = |text: &str| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_request", "error_description": text})),
        )
            .into_response()
    };
    if headers.get("metadata").and_then(|v| v.to_str().ok()) != Some("true") {
        return bad("Required metadata header not specified");
    }
    let resource = params
        .get("resource")
        .map(String::as_str)
        .unwrap_or_default();
    let sim = lock(&state);
    // The resources client credentials know (this cloud's Exchange, Graph, SharePoint, the Teams
    // admin API), by URI or appId.
    let Some(audience) = crate::resources::resolve(&sim.tenant, resource, sim.cloud) else {
        return bad(&format!(
            "The simulator issues managed-identity tokens for {}, {}, SharePoint Online and the Teams admin API only.",
            sim.cloud.exchange(),
            sim.cloud.graph()
        ));
    };
    let identities: Vec<&crate::tenant::ServicePrincipal> = sim
        .tenant
        .service_principals
        .iter()
        .filter(|sp| sp.service_principal_type == "ManagedIdentity")
        .collect();
    let explicit = |sp: &&crate::tenant::ServicePrincipal| {
        sp.alternative_names.iter().any(|n| n == "isExplicit=True")
    };
    let chosen = if let Some(id) = params.get("client_id") {
        identities.iter().find(|sp| &sp.app_id == id)
    } else if let Some(id) = params
        .get("object_id")
        .or_else(|| params.get("principal_id"))
    {
        identities.iter().find(|sp| &sp.id == id)
    } else if let Some(res) = params.get("mi_res_id") {
        identities.iter().find(|sp| {
            sp.alternative_names
                .iter()
                .any(|n| n.eq_ignore_ascii_case(res))
        })
    } else {
        identities.iter().find(|sp| !explicit(sp))
    };
    let Some(sp) = chosen else {
        return bad("Identity not found");
    };
    let now = sim.tenant.clock.now();
    match identity::app_only_claims(
        &sim.tenant,
        &sp.id,
        &sp.app_id,
        &audience,
        now,
        86_399,
        sim.cloud,
    ) {
        Ok(claims) => Json(json!({
            "access_token": jwt::sign(&sim.key, &sim.kid, &claims),
            "client_id": sp.app_id,
            "expires_in": "86399",
            "expires_on": (now + 86_399).to_string(),
            "ext_expires_in": "86399",
            "not_before": now.to_string(),
            "resource": audience.aud,
            "token_type": "Bearer",
        }))
        .into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(e.body())).into_response(),
    }
}

/// `POST /_sim/token {"user": "admin", "scopes": [...], "lifetimeSecs": N}`: a Graph token for a
/// fixture user without the browser round trip, for tests of Graph itself (the interactive
/// flow has its own tests). `scopes` default to the five the page asks for.
pub async fn test_token(State(state): State<Shared>, Json(body): Json<Value>) -> Response {
    let mut sim = lock(&state);
    // `"tenant"`: a user of another tenant of the fixture (id or domain).
    let at = match body["tenant"].as_str().map(|t| sim.locate(t)) {
        None => None,
        Some(Ok(at)) => at,
        Some(Err(())) => {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"error": "no such tenant in this fixture"})),
            )
                .into_response();
        }
    };
    sim.within(at, |sim| test_token_in(sim, &body))
}

/// A fixture user by sign-in name or its part before `@`, with the roles active now.
pub(crate) fn fixture_user(sim: &Sim, name: &str) -> Option<crate::tenant::User> {
    sim.tenant
        .users
        .iter()
        .find(|u| {
            u.user_principal_name.eq_ignore_ascii_case(name)
                || u.user_principal_name.split('@').next() == Some(name)
        })
        .map(|u| sim.tenant.with_active_roles(u))
}

fn test_token_in(sim: &mut Sim, body: &Value) -> Response {
    let name = body["user"].as_str().unwrap_or("admin");
    let Some(user) = fixture_user(sim, name) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no fixture user {name}")})),
        )
            .into_response();
    };
    let scopes: Vec<String> = body["scopes"].as_array().map_or_else(
        || {
            unattended::auth::GRAPH_PERMISSIONS
                .iter()
                .map(|s| (*s).to_owned())
                .collect()
        },
        |a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        },
    );
    let consent = [signin::Consent {
        client_id: "_sim".into(),
        user_id: None,
        scopes,
    }];
    let lifetime = body["lifetimeSecs"].as_i64().unwrap_or(3599);
    let tokens = signin::tokens(
        &sim.tenant,
        &consent,
        &user,
        "_sim",
        "",
        None,
        false,
        sim.tenant.clock.now(),
        lifetime,
        sim.cloud,
    );
    Json(json!({ "access_token": jwt::sign(&sim.key, &sim.kid, &tokens.access), "expires_in": lifetime })).into_response()
}
