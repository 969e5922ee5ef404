//! The operations on one Automation account (the Automation REST API 2023-11-01, see `arm.rs`):
//! the account itself (read, `PATCH` its identity), modules for runtime 5.1 (`modules`) and 7.2
//! (`powerShell72Modules`), runbooks (definition, draft content, publish, published content),
//! jobs (start, status, output, streams) and certificate assets.
//!
//! Order of checks, as ARM: api-version, subscription (and the token's tenant), Azure RBAC at
//! the target's scope, then resource group, account and child existence, then the body.

// ARM answers are `Response`s; boxing them buys nothing in a test double.
#![allow(clippy::result_large_err)]

use axum::Json;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use der::Decode;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use crate::arm::{AUTOMATION_VERSIONS, Req, api_version, denied, error, subscription_for};
use crate::arm_model::{Certificate, Job, Module, Runbook, ms_rfc3339};
use crate::graph::Sim;
use crate::ids;

const AUTOMATION: &str = "Microsoft.Automation/automationAccounts";

/// The runbook types the Automation API takes (the spec's `RunbookTypeEnum`, open-ended, plus
/// the PowerShell 7 types real accounts hold).
pub const RUNBOOK_TYPES: [&str; 11] = [
    "Script",
    "Graph",
    "PowerShellWorkflow",
    "PowerShell",
    "GraphPowerShellWorkflow",
    "GraphPowerShell",
    "Python2",
    "Python3",
    "PowerShell7",
    "PowerShell72",
    "Python",
];

/// PowerShell Gallery packages the simulated gallery holds (name, versions).
pub const GALLERY: [(&str, &[&str]); 5] = [
    (
        "ExchangeOnlineManagement",
        &[
            "2.0.5", "2.0.6", "3.0.0", "3.1.0", "3.2.0", "3.3.0", "3.4.0", "3.5.0", "3.5.1",
            "3.6.0", "3.7.0", "3.7.1", "3.7.2", "3.8.0", "3.9.0",
        ],
    ),
    ("PackageManagement", &["1.4.7", "1.4.8.1"]),
    ("PowerShellGet", &["2.2.5"]),
    ("Microsoft.Graph.Authentication", &["2.25.0", "2.28.0"]),
    ("Az.Accounts", &["2.19.0", "3.0.4", "4.0.2"]),
];

fn canonical(coll: &str) -> Option<&'static str> {
    [
        "modules",
        "powerShell72Modules",
        "runbooks",
        "jobs",
        "certificates",
    ]
    .into_iter()
    .find(|c| c.eq_ignore_ascii_case(coll))
}

fn is(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The action a request needs and the scope suffix it targets (after the account id).
fn action_for(method: &Method, rest: &[&str]) -> Option<(String, String)> {
    let m = |r: &str, w: &str| {
        if method == Method::GET {
            r.to_owned()
        } else if method == Method::DELETE {
            "delete".to_owned()
        } else {
            w.to_owned()
        }
    };
    Some(match rest {
        [] => (
            format!("{AUTOMATION}/{}", m("read", "write")),
            String::new(),
        ),
        [coll] => {
            let c = canonical(coll)?;
            (format!("{AUTOMATION}/{c}/read"), format!("/{c}"))
        }
        [coll, name] => {
            let c = canonical(coll)?;
            (
                format!("{AUTOMATION}/{c}/{}", m("read", "write")),
                format!("/{c}/{name}"),
            )
        }
        [rb, name, content] if is(rb, "runbooks") && is(content, "content") => (
            format!("{AUTOMATION}/runbooks/readContent/action"),
            format!("/runbooks/{name}"),
        ),
        [rb, name, d, content]
            if is(rb, "runbooks") && is(d, "draft") && is(content, "content") =>
        {
            (
                if method == Method::GET {
                    format!("{AUTOMATION}/runbooks/draft/readContent/action")
                } else {
                    format!("{AUTOMATION}/runbooks/draft/writeContent/action")
                },
                format!("/runbooks/{name}"),
            )
        }
        [rb, name, p] if is(rb, "runbooks") && is(p, "publish") => (
            format!("{AUTOMATION}/runbooks/publish/action"),
            format!("/runbooks/{name}"),
        ),
        [rb, name, d, p] if is(rb, "runbooks") && is(d, "draft") && is(p, "publish") => (
            format!("{AUTOMATION}/runbooks/publish/action"),
            format!("/runbooks/{name}"),
        ),
        [rb, name, .., o, _] if is(rb, "runbooks") && is(o, "operationResults") => (
            format!("{AUTOMATION}/runbooks/read"),
            format!("/runbooks/{name}"),
        ),
        [j, name, out] if is(j, "jobs") && is(out, "output") => (
            format!("{AUTOMATION}/jobs/output/read"),
            format!("/jobs/{name}"),
        ),
        [j, name, st] if is(j, "jobs") && is(st, "streams") => (
            format!("{AUTOMATION}/jobs/streams/read"),
            format!("/jobs/{name}"),
        ),
        _ => return None,
    })
}

fn not_found(kind: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("{kind} not found."),
    )
}

fn bad(message: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, "BadRequest", message)
}

fn json_body(req: &Req) -> Result<Value, Response> {
    if req.body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(&req.body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContent",
            format!("The request content was invalid and could not be deserialized: '{e}'."),
        )
    })
}

/// Everything under `{account}`.
pub fn account_route(
    sim: &mut Sim,
    req: &Req,
    sub: &str,
    rg: &str,
    name: &str,
    rest: &[&str],
) -> Response {
    let kind = match rest.first().and_then(|c| canonical(c)) {
        Some(c) => format!("automationAccounts/{c}"),
        None => "automationAccounts".to_owned(),
    };
    let version = match api_version(req, &AUTOMATION_VERSIONS, Some(&kind)) {
        Ok(v) => v.to_owned(),
        Err(r) => return r,
    };
    if let Err(r) = subscription_for(sim, req, sub) {
        return r;
    }
    let Some((action, suffix)) = action_for(&req.method, rest) else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidResourceType",
            format!(
                "The resource type '{}' could not be found in the namespace 'Microsoft.Automation' for api version '{version}'.",
                rest.first().copied().unwrap_or_default()
            ),
        );
    };
    let account_scope =
        format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/{AUTOMATION}/{name}");
    let scope = format!("{account_scope}{suffix}");
    if !sim.arm.allowed(&req.caller.oid, &action, &scope) {
        return denied(&req.caller, &action, &scope);
    }
    if !sim
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
    let Some(ai) = sim.arm.account_index(sub, rg, name) else {
        return error(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!(
                "The Resource '{AUTOMATION}/{name}' under resource group '{rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
            ),
        );
    };
    let m = &req.method;
    match rest {
        [] if m == Method::GET => {
            let a = &sim.arm.accounts[ai];
            Json(a.json(&sim.tenant.id, &sim.arm.user_identities)).into_response()
        }
        [] if m == Method::PATCH => patch_account(sim, req, ai),
        [] => bad("The simulator does not create, replace or delete Automation accounts."),
        [coll] if m == Method::GET => list(sim, ai, canonical(coll).unwrap_or_default()),
        [coll, n] => {
            let c = canonical(coll).unwrap_or_default();
            match (c, m.as_str()) {
                ("modules" | "powerShell72Modules", "GET") => get_module(sim, ai, c, n),
                ("modules" | "powerShell72Modules", "PUT") => put_module(sim, req, ai, c, n),
                ("runbooks", "GET") => get_runbook(sim, ai, n),
                ("runbooks", "PUT") => put_runbook(sim, req, ai, n),
                ("jobs", "GET") => get_job(sim, ai, n),
                ("jobs", "PUT") => put_job(sim, req, ai, n),
                ("certificates", "GET") => get_certificate(sim, ai, n),
                ("certificates", "PUT") => put_certificate(sim, req, ai, n),
                (_, "DELETE") if c != "jobs" => delete_child(sim, ai, c, n),
                _ => method_not_allowed(),
            }
        }
        [_, n, c] if is(c, "content") && m == Method::GET => runbook_content(sim, ai, n, false),
        [_, n, _, c] if is(c, "content") && m == Method::GET => runbook_content(sim, ai, n, true),
        [_, n, _, c] if is(c, "content") && m == Method::PUT => put_draft(sim, req, ai, n),
        [_, n, p] | [_, n, _, p] if is(p, "publish") && m == Method::POST => {
            publish(sim, req, ai, n, &version)
        }
        [_, n, .., op] if m == Method::GET && rest.len() >= 4 => {
            publish_result(sim, req, ai, n, op, &version)
        }
        [_, n, o] if is(o, "output") && m == Method::GET => job_output(sim, ai, n),
        [_, n, s] if is(s, "streams") && m == Method::GET => job_streams(sim, ai, n),
        _ => method_not_allowed(),
    }
}

fn method_not_allowed() -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        "The requested resource does not support this HTTP method.",
    )
}

// ---------------------------------------------------------------------------------------------
// The account and its identity

/// `PATCH {account}` (AutomationAccount_Update): `tags` and `identity`. Turning the
/// system-assigned identity on makes a new managed-identity service principal in the tenant
/// (off deletes it); `identity.userAssignedIdentities` is the whole set of user-assigned
/// identities (entries `{}`; one left out or `null` is detached), and newly attached ones need
/// `…/userAssignedIdentities/*/assign/action` on the identity (`LinkedAuthorizationFailed`).
fn patch_account(sim: &mut Sim, req: &Req, ai: usize) -> Response {
    let body = match json_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut account = sim.arm.accounts[ai].clone();
    if let Some(tags) = body.get("tags").filter(|t| t.is_object()) {
        account.tags = tags.clone();
    }
    let mut turn_on = false;
    let mut turn_off = None;
    if let Some(identity) = body.get("identity").filter(|i| !i.is_null()) {
        let asked = identity["type"].as_str().unwrap_or_default();
        let (system, user) = match asked.replace(' ', "").to_ascii_lowercase().as_str() {
            "systemassigned" => (true, false),
            "userassigned" => (false, true),
            "systemassigned,userassigned" => (true, true),
            "none" => (false, false),
            _ => {
                return bad(format!(
                    "The identity type '{asked}' is invalid. The supported values are 'SystemAssigned', 'UserAssigned', 'SystemAssigned, UserAssigned' and 'None'."
                ));
            }
        };
        // The listed user-assigned identities are the set: one left out (or `null`) is
        // detached (Learn: "Disable system-assigned managed identity for Azure Automation
        // account": to retain them "you need to specify each user-assigned identity"). No list
        // at all keeps the current ones (choice).
        let users: Vec<String> = match identity["userAssignedIdentities"].as_object() {
            _ if !user => vec![],
            Some(map) => map
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(id, _)| id.clone())
                .collect(),
            None => account.user_identities.clone(),
        };
        if user && users.is_empty() {
            return bad(
                "The identity type 'UserAssigned' requires at least one entry in 'userAssignedIdentities'.",
            );
        }
        for id in users.iter().filter(|u| {
            !account
                .user_identities
                .iter()
                .any(|a| a.eq_ignore_ascii_case(u))
        }) {
            if !sim
                .arm
                .user_identities
                .iter()
                .any(|u| u.resource_id.eq_ignore_ascii_case(id))
            {
                return bad(format!("The user-assigned identity '{id}' was not found."));
            }
            let assign = "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action";
            if !sim.arm.allowed(&req.caller.oid, assign, id) {
                return error(
                    StatusCode::FORBIDDEN,
                    "LinkedAuthorizationFailed",
                    format!(
                        "The client '{}' with object id '{}' has permission to perform action '{AUTOMATION}/write' on scope '{}'; however, it does not have permission to perform action(s) '{assign}' on the linked scope(s) '{id}' (respectively) or the linked scope(s) are invalid.",
                        req.caller.name,
                        req.caller.oid,
                        account.id()
                    ),
                );
            }
        }
        account.user_identities = users;
        turn_on = system && account.system_identity.is_none();
        if !system {
            turn_off = account.system_identity.take();
        }
    }
    if turn_on {
        account.system_identity = Some(crate::arm::create_identity(sim, &account));
    }
    if let Some(old) = turn_off {
        crate::arm::delete_identity(sim, &old.principal_id);
    }
    account.modified = ms_rfc3339(sim.tenant.clock.now_ms());
    sim.arm.accounts[ai] = account;
    let a = &sim.arm.accounts[ai];
    Json(a.json(&sim.tenant.id, &sim.arm.user_identities)).into_response()
}

fn list(sim: &Sim, ai: usize, coll: &str) -> Response {
    let a = &sim.arm.accounts[ai];
    let id = a.id();
    let now = sim.tenant.clock.now_ms();
    let value: Vec<Value> = match coll {
        "modules" | "powerShell72Modules" => a
            .modules
            .iter()
            .filter(|m| m.collection == coll)
            .map(|m| m.json(&id, &a.location, now))
            .collect(),
        "runbooks" => a
            .runbooks
            .iter()
            .map(|r| r.json(&id, &a.location))
            .collect(),
        "jobs" => a.jobs.iter().map(|j| j.json(&id, now)).collect(),
        _ => a.certificates.iter().map(|c| c.json(&id)).collect(),
    };
    Json(json!({ "value": value })).into_response()
}

fn delete_child(sim: &mut Sim, ai: usize, coll: &str, name: &str) -> Response {
    let a = &mut sim.arm.accounts[ai];
    let before = a.modules.len() + a.runbooks.len() + a.certificates.len();
    match coll {
        "modules" | "powerShell72Modules" => a
            .modules
            .retain(|m| !(m.collection == coll && m.name.eq_ignore_ascii_case(name))),
        "runbooks" => a.runbooks.retain(|r| !r.name.eq_ignore_ascii_case(name)),
        _ => a
            .certificates
            .retain(|c| !c.name.eq_ignore_ascii_case(name)),
    }
    let after = a.modules.len() + a.runbooks.len() + a.certificates.len();
    if before == after {
        StatusCode::NO_CONTENT.into_response()
    } else {
        StatusCode::OK.into_response()
    }
}

// ---------------------------------------------------------------------------------------------
// Modules

fn get_module(sim: &Sim, ai: usize, coll: &str, name: &str) -> Response {
    let a = &sim.arm.accounts[ai];
    match a
        .modules
        .iter()
        .find(|m| m.collection == coll && m.name.eq_ignore_ascii_case(name))
    {
        Some(m) => Json(m.json(&a.id(), &a.location, sim.tenant.clock.now_ms())).into_response(),
        None => not_found("Module"),
    }
}

/// `https://www.powershellgallery.com/api/v2/package/{name}/{version}` → (name, version).
pub fn gallery_package(uri: &str) -> Option<(String, String)> {
    let url = url::Url::parse(uri).ok()?;
    if url.scheme() != "https"
        || !url
            .host_str()
            .is_some_and(|h| h.eq_ignore_ascii_case("www.powershellgallery.com"))
    {
        return None;
    }
    let segs: Vec<&str> = url.path_segments()?.filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        [api, v2, package, name, version]
            if is(api, "api") && is(v2, "v2") && is(package, "package") =>
        {
            Some(((*name).to_owned(), (*version).to_owned()))
        }
        _ => None,
    }
}

/// `PUT {account}/modules|powerShell72Modules/{name}`: starts an import from the PowerShell
/// Gallery that runs on the simulated clock (`provisioningState` Creating → … → Succeeded, or
/// Failed with `error.message`: a package or version the gallery does not hold, or the
/// `armModuleFailure` fault). A content link that is not a gallery package URL: 400 (choice).
fn put_module(sim: &mut Sim, req: &Req, ai: usize, coll: &str, name: &str) -> Response {
    let body = match json_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(uri) = body["properties"]["contentLink"]["uri"]
        .as_str()
        .filter(|u| !u.is_empty())
    else {
        return bad("The module content link (properties.contentLink.uri) is required.");
    };
    let Some((package, version)) = gallery_package(uri) else {
        return bad(format!(
            "The content link '{uri}' is not a PowerShell Gallery package URL (https://www.powershellgallery.com/api/v2/package/{{name}}/{{version}})."
        ));
    };
    if !package.eq_ignore_ascii_case(name) {
        return bad(format!(
            "The module name '{name}' does not match the package '{package}' the content link names."
        ));
    }
    let known = GALLERY
        .iter()
        .any(|(p, vs)| p.eq_ignore_ascii_case(&package) && vs.contains(&version.as_str()));
    let failure = if !known {
        Some(format!(
            "Error importing the module {name}. Import failed with the following error: The module content could not be downloaded from '{uri}': The remote server returned an error: (404) Not Found."
        ))
    } else {
        sim.faults.arm.arm_module_failure.clone()
    };
    let now = sim.tenant.clock.now_ms();
    let secs = sim.faults.arm.arm_module_import_secs.unwrap_or(6) as i64;
    let module = Module {
        name: GALLERY
            .iter()
            .find(|(p, _)| p.eq_ignore_ascii_case(name))
            .map_or(name, |(p, _)| p)
            .to_owned(),
        collection: coll.to_owned(),
        content_uri: uri.to_owned(),
        version,
        started_ms: now,
        duration_ms: secs * 1000,
        failure,
        created: ms_rfc3339(now),
    };
    let a = &mut sim.arm.accounts[ai];
    let existing = a
        .modules
        .iter()
        .position(|m| m.collection == coll && m.name.eq_ignore_ascii_case(name));
    let status = match existing {
        Some(i) => {
            let created = a.modules[i].created.clone();
            a.modules[i] = Module { created, ..module };
            StatusCode::OK
        }
        None => {
            a.modules.push(module);
            StatusCode::CREATED
        }
    };
    let a = &sim.arm.accounts[ai];
    let m = a
        .modules
        .iter()
        .find(|m| m.collection == coll && m.name.eq_ignore_ascii_case(name));
    match m {
        Some(m) => (status, Json(m.json(&a.id(), &a.location, now))).into_response(),
        None => not_found("Module"),
    }
}

// ---------------------------------------------------------------------------------------------
// Runbooks

fn runbook_index(sim: &Sim, ai: usize, name: &str) -> Option<usize> {
    sim.arm.accounts[ai]
        .runbooks
        .iter()
        .position(|r| r.name.eq_ignore_ascii_case(name))
}

fn get_runbook(sim: &Sim, ai: usize, name: &str) -> Response {
    let a = &sim.arm.accounts[ai];
    match runbook_index(sim, ai, name) {
        Some(i) => Json(a.runbooks[i].json(&a.id(), &a.location)).into_response(),
        None => not_found("Runbook"),
    }
}

/// `PUT {account}/runbooks/{name}` (Runbook_CreateOrUpdate): `properties.runbookType` is
/// required; an existing runbook keeps its draft and published content.
fn put_runbook(sim: &mut Sim, req: &Req, ai: usize, name: &str) -> Response {
    let body = match json_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if !name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return bad(format!(
            "The runbook name '{name}' is invalid: it must start with a letter and contain only letters, digits, '-' and '_'."
        ));
    }
    let p = &body["properties"];
    let Some(kind) = p["runbookType"].as_str() else {
        return bad("The runbook type (properties.runbookType) is required.");
    };
    let Some(kind) = RUNBOOK_TYPES.iter().find(|t| t.eq_ignore_ascii_case(kind)) else {
        return bad(format!("The runbook type '{kind}' is not supported."));
    };
    let now = ms_rfc3339(sim.tenant.clock.now_ms());
    let text = |k: &str| p[k].as_str().unwrap_or_default().to_owned();
    let flag = |k: &str| p[k].as_bool().unwrap_or(false);
    let existing = runbook_index(sim, ai, name);
    let a = &mut sim.arm.accounts[ai];
    let status = match existing {
        Some(i) => {
            let r = &mut a.runbooks[i];
            r.runbook_type = (*kind).to_owned();
            r.description = text("description");
            r.log_progress = flag("logProgress");
            r.log_verbose = flag("logVerbose");
            r.modified = now;
            StatusCode::OK
        }
        None => {
            a.runbooks.push(Runbook {
                name: name.to_owned(),
                runbook_type: (*kind).to_owned(),
                description: text("description"),
                log_progress: flag("logProgress"),
                log_verbose: flag("logVerbose"),
                draft: None,
                published: None,
                publishing: None,
                last_publish: None,
                created: now.clone(),
                modified: now,
                job_count: 0,
            });
            StatusCode::CREATED
        }
    };
    let i = existing.unwrap_or(a.runbooks.len() - 1);
    (status, Json(a.runbooks[i].json(&a.id(), &a.location))).into_response()
}

fn text_response(text: &str, kind: &'static str) -> Response {
    let mut response = (StatusCode::OK, text.to_owned()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    response
}

/// `GET …/runbooks/{name}/content` (the published script) or `…/draft/content` (the draft,
/// else the published one). Nothing there: 404 (choice).
fn runbook_content(sim: &Sim, ai: usize, name: &str, draft: bool) -> Response {
    let Some(i) = runbook_index(sim, ai, name) else {
        return not_found("Runbook");
    };
    let r = &sim.arm.accounts[ai].runbooks[i];
    let content = if draft {
        r.draft.as_ref().or(r.published.as_ref())
    } else {
        r.published.as_ref()
    };
    match content {
        Some(text) => text_response(text, "text/powershell"),
        None => not_found("Runbook content"),
    }
}

/// `PUT …/runbooks/{name}/draft/content` with `Content-Type: text/powershell` (the spec's only
/// media type; others 415, choice).
fn put_draft(sim: &mut Sim, req: &Req, ai: usize, name: &str) -> Response {
    if !req.content_type.starts_with("text/") {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!(
                "The content media type '{}' is not supported. The runbook content is sent as 'text/powershell'.",
                req.content_type
            ),
        );
    }
    let Some(i) = runbook_index(sim, ai, name) else {
        return not_found("Runbook");
    };
    let Ok(text) = String::from_utf8(req.body.to_vec()) else {
        return bad("The runbook content is not UTF-8 text.");
    };
    let now = ms_rfc3339(sim.tenant.clock.now_ms());
    let r = &mut sim.arm.accounts[ai].runbooks[i];
    r.draft = Some(text);
    r.modified = now;
    StatusCode::OK.into_response()
}

fn location(req: &Req, account: &str, runbook: &str, op: &str, version: &str) -> String {
    format!(
        "{}/arm{account}/runbooks/{runbook}/publish/operationResults/{op}?api-version={version}",
        req.origin
    )
}

/// `POST …/runbooks/{name}/publish` (and the 2015-10-31 path `…/draft/publish`): 202 with
/// `Location`; the draft becomes the published content when the operation ends
/// (`armPublishSecs`, default 2 s). No draft: 400 (choice).
fn publish(sim: &mut Sim, req: &Req, ai: usize, name: &str, version: &str) -> Response {
    let Some(i) = runbook_index(sim, ai, name) else {
        return not_found("Runbook");
    };
    let now = sim.tenant.clock.now_ms();
    let secs = sim.faults.arm.arm_publish_secs.unwrap_or(2) as i64;
    let account = sim.arm.accounts[ai].id();
    let r = &mut sim.arm.accounts[ai].runbooks[i];
    if r.draft.is_none() {
        return bad(format!(
            "The runbook '{}' has no draft content to publish.",
            r.name
        ));
    }
    let op = ids::guid();
    r.publishing = Some((op.clone(), now + secs * 1000));
    let mut response = StatusCode::ACCEPTED.into_response();
    if let Ok(v) = HeaderValue::from_str(&location(req, &account, &r.name, &op, version)) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// `GET …/publish/operationResults/{id}` (the `Location`): 202 with `Location` while the publish
/// runs, then 204.
fn publish_result(
    sim: &Sim,
    req: &Req,
    ai: usize,
    name: &str,
    op: &str,
    version: &str,
) -> Response {
    let Some(i) = runbook_index(sim, ai, name) else {
        return not_found("Runbook");
    };
    let account = sim.arm.accounts[ai].id();
    let r = &sim.arm.accounts[ai].runbooks[i];
    if r.publishing.as_ref().is_some_and(|(id, _)| id == op) {
        let mut response = StatusCode::ACCEPTED.into_response();
        if let Ok(v) = HeaderValue::from_str(&location(req, &account, &r.name, op, version)) {
            response.headers_mut().insert(header::LOCATION, v);
        }
        return response;
    }
    if r.last_publish.as_deref() == Some(op) {
        return StatusCode::NO_CONTENT.into_response();
    }
    not_found("Operation")
}

// ---------------------------------------------------------------------------------------------
// Jobs

fn job_index(sim: &Sim, ai: usize, name: &str) -> Option<usize> {
    sim.arm.accounts[ai]
        .jobs
        .iter()
        .position(|j| j.name.eq_ignore_ascii_case(name))
}

fn get_job(sim: &Sim, ai: usize, name: &str) -> Response {
    let a = &sim.arm.accounts[ai];
    match job_index(sim, ai, name) {
        Some(i) => Json(a.jobs[i].json(&a.id(), sim.tenant.clock.now_ms())).into_response(),
        None => not_found("Job"),
    }
}

/// `PUT {account}/jobs/{name}` (Job_Create): starts the published runbook in the Azure sandbox
/// (`runOn` empty; a hybrid worker group is refused: none exists). The job runs on the simulated
/// clock (`armJobSecs`, default 6 s): New → Activating → Running → Completed/Failed; what it does
/// is decided when it starts running (`arm_runbook.rs`). The same name again for the same
/// runbook answers the existing job (ARM's PUT is idempotent); for another runbook 409 (choice).
fn put_job(sim: &mut Sim, req: &Req, ai: usize, name: &str) -> Response {
    let body = match json_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let p = &body["properties"];
    let Some(runbook) = p["runbook"]["name"].as_str().filter(|n| !n.is_empty()) else {
        return bad("The runbook to start (properties.runbook.name) is required.");
    };
    let run_on = p["runOn"].as_str().unwrap_or_default();
    if !run_on.is_empty() {
        return bad(format!("The hybrid worker group '{run_on}' was not found."));
    }
    let now = sim.tenant.clock.now_ms();
    let account = sim.arm.accounts[ai].id();
    if let Some(j) = job_index(sim, ai, name) {
        let job = &sim.arm.accounts[ai].jobs[j];
        if job.runbook.eq_ignore_ascii_case(runbook) {
            return Json(job.json(&account, now)).into_response();
        }
        return error(
            StatusCode::CONFLICT,
            "Conflict",
            format!("A job named '{name}' already exists for another runbook."),
        );
    }
    let Some(ri) = runbook_index(sim, ai, runbook) else {
        return not_found("Runbook");
    };
    let secs = sim.faults.arm.arm_job_secs.unwrap_or(6) as i64;
    let r = &mut sim.arm.accounts[ai].runbooks[ri];
    let Some(script) = r.published.clone() else {
        return bad(format!(
            "The runbook '{}' is not published: publish it before starting a job.",
            r.name
        ));
    };
    r.job_count += 1;
    let job = Job {
        name: name.to_owned(),
        job_id: ids::guid(),
        runbook: r.name.clone(),
        runbook_type: r.runbook_type.clone(),
        script,
        run_on: String::new(),
        parameters: p["parameters"].clone(),
        created_ms: now,
        duration_ms: secs * 1000,
        outcome: None,
    };
    let value = job.json(&account, now);
    sim.arm.accounts[ai].jobs.push(job);
    (StatusCode::CREATED, Json(value)).into_response()
}

/// `GET …/jobs/{name}/output`: the Output stream as `text/plain` (empty until the job ends).
fn job_output(sim: &Sim, ai: usize, name: &str) -> Response {
    let Some(i) = job_index(sim, ai, name) else {
        return not_found("Job");
    };
    let job = &sim.arm.accounts[ai].jobs[i];
    text_response(&job.output(sim.tenant.clock.now_ms()), "text/plain")
}

/// `GET …/jobs/{name}/streams`: every stream record (Output, Error, …) once the job ends.
fn job_streams(sim: &Sim, ai: usize, name: &str) -> Response {
    let Some(i) = job_index(sim, ai, name) else {
        return not_found("Job");
    };
    let a = &sim.arm.accounts[ai];
    let job = &a.jobs[i];
    let now = sim.tenant.clock.now_ms();
    let ended = matches!(job.status(now), "Completed" | "Failed");
    let time = ms_rfc3339(job.created_ms + job.duration_ms);
    let value: Vec<Value> = job
        .outcome
        .iter()
        .filter(|_| ended)
        .flat_map(|o| o.streams.iter().enumerate())
        .map(|(n, line)| {
            let stream_id = format!("{}:{:020}", job.job_id, n + 1);
            json!({
                "id": format!("{}/jobs/{}/streams/{stream_id}", a.id(), job.name),
                "properties": {
                    "jobStreamId": stream_id,
                    "time": time,
                    "streamType": line.stream_type,
                    "streamText": line.text,
                    "summary": line.text.lines().next().unwrap_or_default(),
                    "value": {},
                },
            })
        })
        .collect();
    Json(json!({ "value": value })).into_response()
}

// ---------------------------------------------------------------------------------------------
// Certificates

fn get_certificate(sim: &Sim, ai: usize, name: &str) -> Response {
    let a = &sim.arm.accounts[ai];
    match a
        .certificates
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case(name))
    {
        Some(c) => Json(c.json(&a.id())).into_response(),
        None => not_found("Certificate"),
    }
}

fn sha1_hex(der: &[u8]) -> String {
    Sha1::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// The certificate's notAfter in ARM's format.
fn expiry_of(der: &[u8]) -> Option<String> {
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    let after = cert
        .tbs_certificate()
        .validity()
        .not_after
        .to_unix_duration();
    Some(ms_rfc3339(i64::try_from(after.as_millis()).ok()?))
}

/// A certificate the fixture's tenants know (an application's keyCredential) with this SHA-1
/// thumbprint: its DER.
fn known_der(sim: &Sim, thumbprint: &str) -> Option<Vec<u8>> {
    sim.tenants()
        .flat_map(|t| t.applications.iter())
        .flat_map(|a| a.key_credentials.iter())
        .filter_map(|k| STANDARD.decode(k.key.as_deref()?).ok())
        .find(|der| sha1_hex(der).eq_ignore_ascii_case(thumbprint))
}

/// `PUT {account}/certificates/{name}`: `base64Value` is a PFX opened with `password` by the
/// product's own PKCS#12 reader (`unattended::forge::verify_saved_pfx`) — or a bare DER
/// certificate (`.cer`) — and the asset keeps only the SHA-1 thumbprint, the expiry (read from
/// the certificate: a `.cer`, or a PFX whose certificate is registered on an application of the
/// fixture; otherwise null, choice) and `isExportable`. Not a certificate: 400 "Certificate
/// base64Value is invalid."; wrong password: 400 (wording: choice).
fn put_certificate(sim: &mut Sim, req: &Req, ai: usize, name: &str) -> Response {
    let body = match json_body(req) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let p = &body["properties"];
    let invalid = || bad("Certificate base64Value is invalid.");
    let Some(bytes) = p["base64Value"]
        .as_str()
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .filter(|b| !b.is_empty())
    else {
        return invalid();
    };
    let cer = x509_cert::Certificate::from_der(&bytes).is_ok();
    let (thumbprint, der) = if cer {
        (sha1_hex(&bytes), Some(bytes.clone()))
    } else {
        let password = p["password"].as_str().unwrap_or_default();
        use unattended::forge::SavedPfxError as E;
        match unattended::forge::verify_saved_pfx(&bytes, password, &[]) {
            Err(E::OtherCertificate(Some(tp))) => {
                let der = known_der(sim, &tp);
                (tp, der)
            }
            Err(E::EmptyPassword | E::WrongPassword) => {
                return bad(
                    "The certificate password is invalid: the PFX could not be opened with it.",
                );
            }
            _ => return invalid(),
        }
    };
    if let Some(given) = p["thumbprint"].as_str().filter(|t| !t.is_empty())
        && !given.eq_ignore_ascii_case(&thumbprint)
    {
        return bad(format!(
            "The thumbprint '{given}' does not match the certificate's thumbprint '{thumbprint}'."
        ));
    }
    let now = ms_rfc3339(sim.tenant.clock.now_ms());
    let cert = Certificate {
        name: name.to_owned(),
        thumbprint,
        expiry_time: der.as_deref().and_then(expiry_of),
        is_exportable: p["isExportable"].as_bool().unwrap_or(false),
        description: p["description"].as_str().unwrap_or_default().to_owned(),
        created: now.clone(),
        modified: now,
        has_private_key: !cer,
    };
    let a = &mut sim.arm.accounts[ai];
    let id = a.id();
    match a
        .certificates
        .iter_mut()
        .find(|c| c.name.eq_ignore_ascii_case(name))
    {
        Some(existing) => {
            *existing = Certificate {
                created: existing.created.clone(),
                ..cert
            };
            Json(existing.json(&id)).into_response()
        }
        None => {
            let value = cert.json(&id);
            a.certificates.push(cert);
            (StatusCode::CREATED, Json(value)).into_response()
        }
    }
}
