//! SharePoint sites as Graph v1.0 shows them, and their per-app permissions (the grants behind
//! `Sites.Selected`).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::access::GRAPH_APP_ID;
use crate::graph::{Shared, Sim, error, lock};
use crate::tenant::{GraphError, roles};

/// A site collection's root web.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Site {
    /// `{hostname},{siteCollectionId},{webId}`.
    pub id: String,
    /// `contoso.sharepoint.com`.
    pub hostname: String,
    /// Server-relative path: `/` for the root site, `/sites/Finance`.
    pub path: String,
    /// Display name.
    pub display_name: String,
    /// The last path segment (empty for the root site).
    pub name: String,
    /// `https://{hostname}{path}` (no trailing `/` for the root).
    pub web_url: String,
    /// Permissions granted to applications on this site.
    #[serde(default)]
    pub permissions: Vec<SitePermission>,
}

/// A permission granted to an application on a site.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SitePermission {
    /// Opaque id: base64 of `i:0i.t|ms.sp.ext|{appId}@{tenantId}` as Learn's examples' ids decode.
    pub id: String,
    /// `read`, `write`, `manage`, `fullcontrol`.
    pub roles: Vec<String>,
    /// The application's client id.
    pub app_id: String,
    /// The display name given when the grant was made.
    pub app_display_name: String,
}

/// A site of a tenant whose SharePoint hosts start with `prefix`.
pub fn site(prefix: &str, path: &str, display_name: &str) -> Site {
    let hostname = format!("{prefix}.sharepoint.com");
    let collection = crate::resources::stable_guid(&format!("site:{hostname}{path}"));
    let web = crate::resources::stable_guid(&format!("web:{hostname}{path}"));
    let name = path.rsplit('/').next().unwrap_or_default().to_owned();
    Site {
        id: format!("{hostname},{collection},{web}"),
        web_url: format!("https://{hostname}{}", path.trim_end_matches('/')),
        hostname,
        path: path.to_owned(),
        display_name: display_name.to_owned(),
        name,
        permissions: vec![],
    }
}

/// The sites every fixture tenant with SharePoint has: the root site, Finance and HR.
pub fn fixture_sites(prefix: &str) -> Vec<Site> {
    vec![
        site(prefix, "/", "Communication site"),
        site(prefix, "/sites/Finance", "Finance"),
        site(prefix, "/sites/HR", "HR"),
    ]
}

impl Site {
    /// The site as Graph returns it.
    pub fn json(&self) -> Value {
        let mut value = json!({
            "id": self.id,
            "name": self.name,
            "displayName": self.display_name,
            "webUrl": self.web_url,
            "siteCollection": { "hostname": self.hostname },
        });
        if self.path == "/" {
            value["root"] = json!({});
        }
        value
    }
}

// ---------------------------------------------------------------------------------------------
// Graph v1.0: `/sites/{hostname}:/{path}`, `/sites/{id}`, `/sites/{id}/permissions[/{permId}]`
// (Learn: "Get a site resource by path", <https://learn.microsoft.com/graph/api/site-getbypath>;
// "Create permission", <https://learn.microsoft.com/graph/api/site-post-permissions>; "List
// permissions", "Get permission", "Update permission", "Delete permission" on a site).

/// The roles a site permission may hold.
pub const SITE_ROLES: [&str; 4] = ["read", "write", "manage", "fullcontrol"];

/// Who calls: a signed-in user (delegated token) or an application (app-only token).
enum SiteCaller {
    User(crate::access::Caller),
    App {
        /// The application's client id.
        app_id: String,
        /// The token's `roles` (Graph application permissions).
        roles: Vec<String>,
    },
}

/// What a request addresses.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// The site itself.
    Site(String),
    /// Its permissions collection.
    Permissions(String),
    /// One permission.
    Permission(String, String),
}

/// `contoso.sharepoint.com:/sites/Finance[:][/permissions[/{id}]]`, `{siteId}[/permissions[/{id}]]`
/// or `root`: the site reference (an id, `root`, or `host:/path`) and what of it.
fn parse(rest: &str) -> Option<Target> {
    let rest = rest.trim_start_matches('/');
    let (site, tail) = match rest.split_once(":/") {
        // Path addressing: the server-relative path ends at the next `:` (or the end).
        Some((host, after)) => {
            let (path, tail) = after.split_once(':').unwrap_or((after, ""));
            (
                format!("{host}:/{path}"),
                tail.trim_start_matches('/').to_owned(),
            )
        }
        None => match rest.split_once('/') {
            Some((id, tail)) => (id.trim_end_matches(':').to_owned(), tail.to_owned()),
            None => (rest.trim_end_matches(':').to_owned(), String::new()),
        },
    };
    let parts: Vec<&str> = tail.split('/').filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [] => Some(Target::Site(site)),
        ["permissions"] => Some(Target::Permissions(site)),
        ["permissions", id] => Some(Target::Permission(site, (*id).to_owned())),
        _ => None,
    }
}

fn site_not_found() -> GraphError {
    GraphError {
        status: 404,
        code: "itemNotFound",
        message: "Requested site could not be found".into(),
        detail: None,
    }
}

fn permission_not_found() -> GraphError {
    GraphError {
        status: 404,
        code: "itemNotFound",
        message: "Item not found".into(),
        detail: None,
    }
}

fn access_denied() -> GraphError {
    GraphError {
        status: 403,
        code: "accessDenied",
        message: "Access denied".into(),
        detail: None,
    }
}

fn invalid(message: impl Into<String>) -> GraphError {
    GraphError {
        status: 400,
        code: "invalidRequest",
        message: message.into(),
        detail: None,
    }
}

fn unauthenticated(message: &str) -> GraphError {
    GraphError {
        status: 401,
        code: "InvalidAuthenticationToken",
        message: message.to_owned(),
        detail: None,
    }
}

/// The caller of a `/sites` request: app-only Graph tokens (`idtyp` `app`, from client
/// credentials or a managed identity) are honoured here, delegated ones as everywhere else.
fn site_caller(sim: &Sim, headers: &HeaderMap) -> Result<SiteCaller, GraphError> {
    let token = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or_default();
    let app_only = crate::jwt::decode(token).is_ok_and(|t| t.claims["idtyp"] == "app");
    if !app_only {
        return crate::access::caller(
            &sim.tenant,
            &sim.key.to_public_key(),
            headers,
            sim.tenant.clock.now(),
            sim.cloud,
        )
        .map(SiteCaller::User);
    }
    let jwt = crate::jwt::decode(token)
        .map_err(|_| unauthenticated("IDX14100: JWT is not well formed."))?;
    if !jwt.verify(&sim.key.to_public_key()) {
        return Err(unauthenticated(
            "Access token validation failure. Invalid signature.",
        ));
    }
    let claims = &jwt.claims;
    if claims["aud"] != sim.cloud.graph() && claims["aud"] != GRAPH_APP_ID {
        return Err(unauthenticated(
            "Access token validation failure. Invalid audience.",
        ));
    }
    let now = sim.tenant.clock.now();
    let (exp, nbf) = (
        claims["exp"].as_i64().unwrap_or(0),
        claims["nbf"].as_i64().unwrap_or(0),
    );
    if now >= exp || now + 300 < nbf {
        return Err(unauthenticated(
            "Lifetime validation failed, the token is expired.",
        ));
    }
    if claims["tid"] != sim.tenant.id.as_str() {
        return Err(unauthenticated(
            "Access token validation failure. Invalid issuer.",
        ));
    }
    let oid = claims["oid"].as_str().unwrap_or_default();
    if sim.tenant.service_principal(oid).is_err() {
        return Err(unauthenticated(
            "The service principal of this token no longer exists.",
        ));
    }
    Ok(SiteCaller::App {
        app_id: claims["appid"].as_str().unwrap_or_default().to_owned(),
        roles: claims["roles"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

fn has(list: &[String], any: &[&str]) -> bool {
    list.iter()
        .any(|s| any.iter().any(|a| a.eq_ignore_ascii_case(s)))
}

/// Reading a site: an app needs one of Graph's `Sites.*.All` roles, or `Sites.Selected` and a
/// permission on that site; a user a delegated `Sites.*` scope.
fn may_read(caller: &SiteCaller, site: &Site) -> Result<(), GraphError> {
    const ALL: [&str; 4] = [
        "Sites.Read.All",
        "Sites.ReadWrite.All",
        "Sites.Manage.All",
        "Sites.FullControl.All",
    ];
    let ok = match caller {
        SiteCaller::User(user) => has(&user.scopes, &ALL),
        SiteCaller::App { app_id, roles } => {
            has(roles, &ALL)
                || (has(roles, &["Sites.Selected"])
                    && site.permissions.iter().any(|p| &p.app_id == app_id))
        }
    };
    if ok { Ok(()) } else { Err(access_denied()) }
}

/// Managing a site's permissions: an app needs Graph's application `Sites.FullControl.All`; a
/// user the delegated `Sites.FullControl.All` *and* SharePoint Administrator or Global
/// Administrator (the simulator's choice: Learn lists delegated as not supported for the write
/// and notes an administrator role for delegated workflows).
fn may_manage(caller: &SiteCaller) -> Result<(), GraphError> {
    let ok = match caller {
        SiteCaller::User(user) => {
            has(&user.scopes, &["Sites.FullControl.All"])
                && user
                    .user
                    .roles
                    .iter()
                    .any(|r| r == roles::SHAREPOINT_ADMIN || r == roles::GLOBAL_ADMIN)
        }
        SiteCaller::App { roles, .. } => has(roles, &["Sites.FullControl.All"]),
    };
    if ok { Ok(()) } else { Err(access_denied()) }
}

impl crate::tenant::Tenant {
    /// The site a reference names: its id (`{host},{collection},{web}`), its hostname or `root`
    /// (the root site), or `host:/path` (case-insensitive, a trailing `/` ignored).
    fn site_index(&self, reference: &str) -> Option<usize> {
        let reference = reference.trim();
        let root = |host: &str| {
            self.sites
                .iter()
                .position(|s| s.path == "/" && s.hostname.eq_ignore_ascii_case(host))
        };
        if reference.eq_ignore_ascii_case("root") {
            return self.sites.iter().position(|s| s.path == "/");
        }
        if let Some((host, path)) = reference.split_once(":/") {
            let path = format!("/{}", path.trim_matches('/'));
            return self.sites.iter().position(|s| {
                s.hostname.eq_ignore_ascii_case(host) && s.path.eq_ignore_ascii_case(&path)
            });
        }
        self.sites
            .iter()
            .position(|s| s.id.eq_ignore_ascii_case(reference))
            .or_else(|| root(reference))
    }
}

/// A permission as Graph returns it.
fn permission_json(p: &SitePermission) -> Value {
    let identity =
        json!([{ "application": { "id": p.app_id, "displayName": p.app_display_name } }]);
    json!({
        "id": p.id,
        "@deprecated.GrantedToIdentities": "GrantedToIdentities has been deprecated. Refer to GrantedToIdentitiesV2",
        "roles": p.roles,
        "grantedToIdentities": identity,
        "grantedToIdentitiesV2": identity,
    })
}

/// `roles` of a request body, checked.
fn roles_of(body: &Value) -> Result<Vec<String>, GraphError> {
    let list = body["roles"]
        .as_array()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| invalid("The 'roles' property is required and must not be empty."))?;
    list.iter()
        .map(|r| match r.as_str() {
            Some(role) if SITE_ROLES.contains(&role) => Ok(role.to_owned()),
            _ => Err(invalid(format!(
                "Invalid value '{}' for 'roles'. Valid values are read, write, manage and fullcontrol.",
                r.as_str().unwrap_or_default()
            ))),
        })
        .collect()
}

type Https = Option<axum::Extension<crate::Https>>;

/// Runs `f` in the tenant of the token, for an authenticated caller.
fn with_caller(
    state: &Shared,
    headers: &HeaderMap,
    f: impl FnOnce(&mut Sim, &SiteCaller) -> Result<Response, GraphError>,
) -> Response {
    let mut sim = lock(state);
    let at = crate::access::token_tenant(headers).and_then(|tid| sim.locate(&tid).ok().flatten());
    sim.within(at, |sim| {
        site_caller(sim, headers)
            .and_then(|caller| f(sim, &caller))
            .unwrap_or_else(error)
    })
}

/// `GET /v1.0/sites/…`.
pub async fn get(
    State(state): State<Shared>,
    https: Https,
    headers: HeaderMap,
    uri: Uri,
    Path(rest): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let target = parse(&rest);
    with_caller(&state, &headers, |sim, caller| match target {
        None => Err(invalid("Unsupported segment in the request URL.")),
        Some(Target::Site(reference)) => {
            let i = sim
                .tenant
                .site_index(&reference)
                .ok_or_else(site_not_found)?;
            let site = &sim.tenant.sites[i];
            may_read(caller, site)?;
            let selected = crate::query::select(&params);
            Ok(Json(crate::query::project(site.json(), selected.as_deref())).into_response())
        }
        Some(Target::Permissions(reference)) => {
            may_manage(caller)?;
            let i = sim
                .tenant
                .site_index(&reference)
                .ok_or_else(site_not_found)?;
            let scheme = if https.is_some() { "https" } else { sim.scheme };
            let here = crate::paging::here(scheme, &headers, &uri);
            Ok(crate::paging::collection(
                &params,
                sim.tenant.sites[i].permissions.iter().map(permission_json),
                &["id"],
                &here,
                crate::paging::MAX_PAGE,
            ))
        }
        Some(Target::Permission(reference, id)) => {
            may_manage(caller)?;
            let i = sim
                .tenant
                .site_index(&reference)
                .ok_or_else(site_not_found)?;
            let p = sim.tenant.sites[i]
                .permissions
                .iter()
                .find(|p| p.id == id)
                .ok_or_else(permission_not_found)?;
            Ok(Json(permission_json(p)).into_response())
        }
    })
}

/// `POST /v1.0/sites/{site}/permissions`: grants an application roles on the site. A second
/// grant for the same application replaces the roles of its one permission (same id) — the
/// simulator's choice, see README.
pub async fn post(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(rest): Path<String>,
    body: String,
) -> Response {
    let target = parse(&rest);
    with_caller(&state, &headers, |sim, caller| {
        let Some(Target::Permissions(reference)) = target else {
            return Err(invalid("Unsupported segment in the request URL."));
        };
        may_manage(caller)?;
        let i = sim
            .tenant
            .site_index(&reference)
            .ok_or_else(site_not_found)?;
        let body: Value = serde_json::from_str(&body)
            .map_err(|_| invalid("The request body is not valid JSON."))?;
        let roles = roles_of(&body)?;
        let identities = body["grantedToIdentities"]
            .as_array()
            .or_else(|| body["grantedToIdentitiesV2"].as_array())
            .cloned()
            .unwrap_or_default();
        let [identity] = identities.as_slice() else {
            return Err(invalid(
                "Exactly one application must be given in 'grantedToIdentities'.",
            ));
        };
        let app_id = identity["application"]["id"].as_str().unwrap_or_default();
        if app_id.is_empty() {
            return Err(invalid(
                "'grantedToIdentities' must name an application by its id.",
            ));
        }
        // The application must be known to the tenant (have a service principal here).
        if !sim
            .tenant
            .service_principals
            .iter()
            .any(|sp| sp.app_id.eq_ignore_ascii_case(app_id))
        {
            return Err(invalid(format!(
                "The application '{app_id}' was not found in the tenant."
            )));
        }
        let display = identity["application"]["displayName"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let id = STANDARD.encode(format!("i:0i.t|ms.sp.ext|{app_id}@{}", sim.tenant.id));
        let site = &mut sim.tenant.sites[i];
        let permission = match site.permissions.iter_mut().find(|p| p.id == id) {
            Some(existing) => {
                existing.roles = roles;
                existing.app_display_name = display;
                existing.clone()
            }
            None => {
                let p = SitePermission {
                    id,
                    roles,
                    app_id: app_id.to_owned(),
                    app_display_name: display,
                };
                site.permissions.push(p.clone());
                p
            }
        };
        Ok((StatusCode::CREATED, Json(permission_json(&permission))).into_response())
    })
}

/// `PATCH /v1.0/sites/{site}/permissions/{id}` with `{"roles": [...]}`.
pub async fn patch(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(rest): Path<String>,
    body: String,
) -> Response {
    let target = parse(&rest);
    with_caller(&state, &headers, |sim, caller| {
        let Some(Target::Permission(reference, id)) = target else {
            return Err(invalid("Unsupported segment in the request URL."));
        };
        may_manage(caller)?;
        let i = sim
            .tenant
            .site_index(&reference)
            .ok_or_else(site_not_found)?;
        let body: Value = serde_json::from_str(&body)
            .map_err(|_| invalid("The request body is not valid JSON."))?;
        let roles = roles_of(&body)?;
        let p = sim.tenant.sites[i]
            .permissions
            .iter_mut()
            .find(|p| p.id == id)
            .ok_or_else(permission_not_found)?;
        p.roles = roles;
        Ok(Json(permission_json(p)).into_response())
    })
}

/// `DELETE /v1.0/sites/{site}/permissions/{id}`.
pub async fn delete(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(rest): Path<String>,
) -> Response {
    let target = parse(&rest);
    with_caller(&state, &headers, |sim, caller| {
        let Some(Target::Permission(reference, id)) = target else {
            return Err(invalid("Unsupported segment in the request URL."));
        };
        may_manage(caller)?;
        let i = sim
            .tenant
            .site_index(&reference)
            .ok_or_else(site_not_found)?;
        let site = &mut sim.tenant.sites[i];
        let before = site.permissions.len();
        site.permissions.retain(|p| p.id != id);
        if site.permissions.len() == before {
            return Err(permission_not_found());
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

#[cfg(test)]
mod parse_tests {
    use super::{Target, parse};

    #[test]
    fn path_and_id_addressing() {
        let t = |s: &str| parse(s);
        assert_eq!(
            t("contoso.sharepoint.com:/sites/Finance"),
            Some(Target::Site("contoso.sharepoint.com:/sites/Finance".into()))
        );
        assert_eq!(
            t("contoso.sharepoint.com:/sites/Finance:"),
            Some(Target::Site("contoso.sharepoint.com:/sites/Finance".into()))
        );
        assert_eq!(
            t("contoso.sharepoint.com:/sites/Finance:/permissions"),
            Some(Target::Permissions(
                "contoso.sharepoint.com:/sites/Finance".into()
            ))
        );
        assert_eq!(
            t("a,b,c/permissions/x"),
            Some(Target::Permission("a,b,c".into(), "x".into()))
        );
        assert_eq!(t("root"), Some(Target::Site("root".into())));
        assert_eq!(t("a,b,c/drives"), None);
    }
}
