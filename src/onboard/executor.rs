//! The executor: applies a plan step by step. Every step checks first and changes only what is
//! missing, so a re-run after any failure, or a second run, finishes without duplicates and
//! without touching anything else. Certificates are appended by read-modify-write from a
//! single-object `$select` read (existing ones re-sent verbatim); `requiredResourceAccess` is
//! merged, never replaced (reference §2.5–§2.8, §3.1).
//!
//! Round trips on a new app: create app (certificate and permission included), create service
//! principal, then the grant and the role at the same time, then one verification `$batch`.
//! Checks are skipped for objects this run created itself, and made after any lost answer.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::graph::models::{
    AppRoleAssignment, Application, Collection, RoleAssignment, ServicePrincipal,
};
use crate::graph::{Client, GraphError, Retry, Transport, encode, quote};
use crate::wellknown::{self, MANAGE_AS_APP};

use super::plan::{Choices, StepKind, Target, merged_permissions, new_app_body};
use super::{Tenant, has_grant, tenant_wide};

/// How a step is going, for the page.
#[derive(Debug, Clone, PartialEq)]
pub enum StepStatus {
    /// Working on it.
    Running,
    /// Finished; `changed` is false when it was already as wanted.
    Done {
        /// Whether anything was written.
        changed: bool,
    },
    /// Stopped; the message says what to do.
    Failed(String),
}

/// Receives step updates.
pub type Progress<'a> = &'a dyn Fn(StepKind, StepStatus);

/// The app this run works on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRef {
    /// Object id.
    pub id: String,
    /// Application (client) id.
    pub app_id: String,
}

/// What a run has done so far: kept across Retry, so nothing is repeated.
#[derive(Debug, Clone, Default)]
pub struct Run {
    /// The app, once known.
    pub app: Option<AppRef>,
    /// Its service principal's object id, once known.
    pub service_principal: Option<String>,
    /// Steps finished.
    pub done: BTreeSet<StepKind>,
    /// Steps whose write this run made (later steps need not check, but may wait for
    /// replication).
    created: BTreeSet<StepKind>,
    /// After a failure every step checks before writing.
    check_all: bool,
}

/// A step that stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct StepFailure {
    /// Which step.
    pub step: StepKind,
    /// The Graph failure.
    pub error: GraphError,
    /// What to tell the admin.
    pub message: String,
}

/// The result of a whole run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    /// The app.
    pub app: AppRef,
    /// Its service principal.
    pub service_principal_id: String,
    /// Read back after the writes: the grant is there.
    pub grant_verified: bool,
    /// Read back after the writes: the role is there.
    pub role_verified: bool,
}

/// How many times a step re-checks and retries after a lost answer.
const LOST_ANSWER_RETRIES: usize = 3;

fn failure(step: StepKind, error: GraphError, tenant: &Tenant, choices: &Choices) -> StepFailure {
    let role = wellknown::role_name(&choices.role_id);
    let who = &tenant.admin_upn;
    let message = match (&error, step) {
        (GraphError::Denied(_), StepKind::App | StepKind::ServicePrincipal) => format!(
            "{who} may not create or change app registrations: that needs Global Administrator, Application Administrator or Cloud Application Administrator. Ask one to run this page, or get the role, sign in again and press Retry."
        ),
        (GraphError::Denied(_), StepKind::Grant) => format!(
            "{who} may not grant Exchange.ManageAsApp: that needs Global Administrator, Privileged Role Administrator, Application Administrator or Cloud Application Administrator. Ask one to grant it (Entra admin center → App registrations → the app → API permissions → Grant admin consent), or sign in as one and press Retry."
        ),
        (GraphError::Denied(_), StepKind::Role) => format!(
            "{who} may not assign directory roles: assigning {role} needs Privileged Role Administrator or Global Administrator. Ask one to assign it (Entra admin center → Roles and administrators → {role} → Add assignments → the app), or sign in as one and press Retry."
        ),
        (GraphError::Rejected { code, .. }, StepKind::App) if code.contains("Lifetime") => format!(
            "The tenant's app-management policy refused the certificate's lifetime. Generate a certificate with a shorter validity{} and press Retry.",
            tenant
                .max_certificate_days
                .map(|d| format!(" (at most {d} days)"))
                .unwrap_or_default()
        ),
        _ => error.to_string(),
    };
    StepFailure {
        step,
        error,
        message,
    }
}

/// Applies the plan for `choices`, continuing `run`. `key_credential` is the forge's
/// keyCredential JSON for the new certificate (public certificate only).
pub async fn apply<T: Transport>(
    client: &Client<T>,
    tenant: &Tenant,
    choices: &Choices,
    key_credential: &Value,
    run: &mut Run,
    progress: Progress<'_>,
) -> Result<Applied, StepFailure> {
    let result = steps(client, tenant, choices, key_credential, run, progress).await;
    if let Err(f) = &result {
        run.check_all = true;
        progress(f.step, StepStatus::Failed(f.message.clone()));
    }
    result
}

async fn steps<T: Transport>(
    client: &Client<T>,
    tenant: &Tenant,
    choices: &Choices,
    key_credential: &Value,
    run: &mut Run,
    progress: Progress<'_>,
) -> Result<Applied, StepFailure> {
    let fail = |step, e| failure(step, e, tenant, choices);
    let exchange = tenant
        .exchange
        .as_ref()
        .map(|sp| sp.id.clone())
        .ok_or_else(|| {
            fail(
                StepKind::App,
                GraphError::NotFound("Office 365 Exchange Online service principal".into()),
            )
        })?;

    // A managed identity has no app to write: its service principal is the principal.
    if let Target::Identity(identity) = &choices.target {
        let sp = &identity.service_principal;
        run.app = Some(AppRef {
            id: sp.id.clone(),
            app_id: sp.app_id.clone(),
        });
        run.service_principal = Some(sp.id.clone());
        run.done.extend([StepKind::App, StepKind::ServicePrincipal]);
    }

    if !run.done.contains(&StepKind::App) {
        progress(StepKind::App, StepStatus::Running);
        let (app, changed) = app_step(client, choices, key_credential, run)
            .await
            .map_err(|e| fail(StepKind::App, e))?;
        run.app = Some(app);
        if changed && matches!(choices.target, Target::New { .. }) {
            run.created.insert(StepKind::App);
        }
        run.done.insert(StepKind::App);
        progress(StepKind::App, StepStatus::Done { changed });
    }
    let app = run
        .app
        .clone()
        .ok_or_else(|| fail(StepKind::App, GraphError::Unexpected("no app".into())))?;

    if !run.done.contains(&StepKind::ServicePrincipal) {
        progress(StepKind::ServicePrincipal, StepStatus::Running);
        let check = run.check_all || !run.created.contains(&StepKind::App);
        let after_create = run.created.contains(&StepKind::App);
        let (sp, changed) = service_principal_step(client, &app.app_id, check, after_create)
            .await
            .map_err(|e| fail(StepKind::ServicePrincipal, e))?;
        run.service_principal = Some(sp);
        if changed {
            run.created.insert(StepKind::ServicePrincipal);
        }
        run.done.insert(StepKind::ServicePrincipal);
        progress(StepKind::ServicePrincipal, StepStatus::Done { changed });
    }
    let sp = run.service_principal.clone().ok_or_else(|| {
        fail(
            StepKind::ServicePrincipal,
            GraphError::Unexpected("no service principal".into()),
        )
    })?;

    // The grant and the role depend only on the service principal: both at once.
    let check = run.check_all || !run.created.contains(&StepKind::ServicePrincipal);
    // Fresh also when a lost answer hid that this run made it: found by a check, still new.
    let after_create =
        run.created.contains(&StepKind::ServicePrincipal) || run.created.contains(&StepKind::App);
    let want_grant = !run.done.contains(&StepKind::Grant);
    let want_role = !run.done.contains(&StepKind::Role);
    if want_grant {
        progress(StepKind::Grant, StepStatus::Running);
    }
    if want_role {
        progress(StepKind::Role, StepStatus::Running);
    }
    let grant = async {
        if want_grant {
            Some(grant_step(client, tenant, &exchange, &sp, check, after_create).await)
        } else {
            None
        }
    };
    let role = async {
        if want_role {
            Some(role_step(client, &choices.role_id, &sp, check, after_create).await)
        } else {
            None
        }
    };
    let (grant, role) = futures::join!(grant, role);
    let mut first_failure = None;
    for (kind, outcome) in [(StepKind::Grant, grant), (StepKind::Role, role)] {
        match outcome {
            Some(Ok(changed)) => {
                run.done.insert(kind);
                progress(kind, StepStatus::Done { changed });
            }
            Some(Err(e)) => {
                let f = fail(kind, e);
                if first_failure.is_none() {
                    first_failure = Some(f);
                } else {
                    progress(kind, StepStatus::Failed(f.message));
                }
            }
            None => {}
        }
    }
    if let Some(f) = first_failure {
        return Err(f);
    }

    let (granted, roles) = super::grants(client, tenant, &sp)
        .await
        .map_err(|e| fail(StepKind::Role, e))?;
    Ok(Applied {
        app,
        service_principal_id: sp,
        grant_verified: granted,
        role_verified: roles.contains(&choices.role_id),
    })
}

fn read(after_create: bool) -> Retry {
    if after_create {
        Retry::ReadAfterCreate
    } else {
        Retry::Read
    }
}

/// Whether `list` (read with keys) already holds the certificate `key`.
fn holds(list: &[Value], key_credential: &Value) -> bool {
    let key = key_credential["key"].as_str();
    key.is_some() && list.iter().any(|k| k["key"].as_str() == key)
}

/// Creates the new app, or adds the certificate and permission to the existing one.
async fn app_step<T: Transport>(
    client: &Client<T>,
    choices: &Choices,
    key_credential: &Value,
    run: &Run,
) -> Result<(AppRef, bool), GraphError> {
    match &choices.target {
        Target::New { name } => {
            let mut check = run.check_all;
            for _ in 0..LOST_ANSWER_RETRIES {
                // Found with our certificate: an earlier attempt of this run made it.
                if check && let Some(found) = find_new_app(client, name, key_credential).await? {
                    return Ok((found, true));
                }
                match client
                    .post::<Application>(
                        "/applications",
                        &new_app_body(name.trim(), key_credential),
                        Retry::Write,
                    )
                    .await
                {
                    Ok(app) => {
                        return Ok((
                            AppRef {
                                id: app.id,
                                app_id: app.app_id,
                            },
                            true,
                        ));
                    }
                    // The create may have happened: look before creating again.
                    Err(GraphError::Network(_)) => check = true,
                    Err(e) => return Err(e),
                }
            }
            Err(GraphError::Network("the connection kept dropping".into()))
        }
        Target::Identity(identity) => Ok((
            AppRef {
                id: identity.service_principal.id.clone(),
                app_id: identity.service_principal.app_id.clone(),
            },
            false,
        )),
        Target::Existing(existing) => {
            let id = existing.app.id.clone();
            for _ in 0..LOST_ANSWER_RETRIES {
                // Single object + $select: `key` is present, so the PATCH re-sends every
                // existing certificate exactly as Graph holds it.
                let app: Application = client
                    .get(&format!(
                        "/applications/{id}?$select=id,appId,keyCredentials,requiredResourceAccess"
                    ))
                    .await?;
                let add_cert = !holds(&app.key_credentials, key_credential);
                let add_permission = !app.declares_manage_as_app();
                let reference = AppRef {
                    id: app.id.clone(),
                    app_id: app.app_id.clone(),
                };
                if !add_cert && !add_permission {
                    return Ok((reference, false));
                }
                let mut body = json!({});
                if add_cert {
                    let mut keys = app.key_credentials.clone();
                    keys.push(key_credential.clone());
                    body["keyCredentials"] = Value::Array(keys);
                }
                if add_permission {
                    body["requiredResourceAccess"] =
                        Value::Array(merged_permissions(&app.required_resource_access));
                }
                match client.patch(&format!("/applications/{id}"), &body).await {
                    Ok(()) => return Ok((reference, true)),
                    Err(GraphError::Network(_)) => continue,
                    Err(e) => return Err(e),
                }
            }
            Err(GraphError::Network("the connection kept dropping".into()))
        }
    }
}

/// An app named `name` that holds our certificate (made by an earlier attempt whose answer was
/// lost).
async fn find_new_app<T: Transport>(
    client: &Client<T>,
    name: &str,
    key_credential: &Value,
) -> Result<Option<AppRef>, GraphError> {
    let path = format!(
        "/applications?$filter={}&$select=id,appId,displayName",
        encode(&format!("displayName eq {}", quote(name.trim())))
    );
    let candidates: Collection<Application> = client.get(&path).await?;
    for candidate in candidates.value {
        let full: Application = client
            .get(&format!(
                "/applications/{}?$select=id,appId,keyCredentials",
                candidate.id
            ))
            .await?;
        if holds(&full.key_credentials, key_credential) {
            return Ok(Some(AppRef {
                id: full.id,
                app_id: full.app_id,
            }));
        }
    }
    Ok(None)
}

async fn find_service_principal<T: Transport>(
    client: &Client<T>,
    app_id: &str,
) -> Result<Option<String>, GraphError> {
    let path = format!(
        "/servicePrincipals?$filter={}&$select=id,appId",
        encode(&format!("appId eq {}", quote(app_id)))
    );
    let found: Collection<ServicePrincipal> = client.get(&path).await?;
    Ok(found.value.into_iter().next().map(|sp| sp.id))
}

async fn service_principal_step<T: Transport>(
    client: &Client<T>,
    app_id: &str,
    mut check: bool,
    after_create: bool,
) -> Result<(String, bool), GraphError> {
    let retry = if after_create {
        Retry::WriteAfterCreate
    } else {
        Retry::Write
    };
    for _ in 0..LOST_ANSWER_RETRIES {
        // Under an app this run made, whatever is found was made by this run too.
        if check && let Some(id) = find_service_principal(client, app_id).await? {
            return Ok((id, after_create));
        }
        match client
            .post::<ServicePrincipal>("/servicePrincipals", &json!({ "appId": app_id }), retry)
            .await
        {
            Ok(sp) => return Ok((sp.id, true)),
            Err(GraphError::Network(_)) => check = true,
            // Someone (or a lost answer) made it already.
            Err(GraphError::Rejected { status: 409, .. }) => check = true,
            Err(e) => return Err(e),
        }
    }
    Err(GraphError::Network("the connection kept dropping".into()))
}

/// An assignment made at most once: look (when told to, or after an unclear answer), then
/// create; Graph's "already exists" answers and lost answers lead to a look, never a blind
/// second create. `Ok(true)` when this call created it.
async fn ensure_assignment<L, C>(
    mut check: bool,
    look: impl Fn() -> L,
    create: impl Fn() -> C,
) -> Result<bool, GraphError>
where
    L: std::future::Future<Output = Result<bool, GraphError>>,
    C: std::future::Future<Output = Result<Value, GraphError>>,
{
    for _ in 0..LOST_ANSWER_RETRIES {
        if check && look().await? {
            return Ok(false);
        }
        match create().await {
            Ok(_) => return Ok(true),
            Err(GraphError::AlreadyExists(_) | GraphError::Network(_)) => check = true,
            Err(e) => return Err(e),
        }
    }
    Err(GraphError::Network("the connection kept dropping".into()))
}

fn write(after_create: bool) -> Retry {
    if after_create {
        Retry::WriteAfterCreate
    } else {
        Retry::Write
    }
}

async fn grant_step<T: Transport>(
    client: &Client<T>,
    tenant: &Tenant,
    exchange: &str,
    sp: &str,
    check: bool,
    after_create: bool,
) -> Result<bool, GraphError> {
    let body = json!({ "principalId": sp, "resourceId": exchange, "appRoleId": MANAGE_AS_APP });
    let grant_path = format!("/servicePrincipals/{exchange}/appRoleAssignedTo");
    ensure_assignment(
        check,
        || async {
            let path = format!("/servicePrincipals/{sp}/appRoleAssignments");
            let existing: Collection<AppRoleAssignment> =
                client.get_with(&path, read(after_create)).await?;
            Ok(has_grant(&existing.value, tenant))
        },
        || client.post::<Value>(&grant_path, &body, write(after_create)),
    )
    .await
}

async fn role_step<T: Transport>(
    client: &Client<T>,
    role_id: &str,
    sp: &str,
    check: bool,
    after_create: bool,
) -> Result<bool, GraphError> {
    let body = json!({
        "@odata.type": "#microsoft.graph.unifiedRoleAssignment",
        "roleDefinitionId": role_id, "principalId": sp, "directoryScopeId": "/",
    });
    ensure_assignment(
        check,
        || async {
            let path = format!(
                "/roleManagement/directory/roleAssignments?$filter={}",
                encode(&format!("principalId eq {}", quote(sp)))
            );
            let existing: Collection<RoleAssignment> =
                client.get_with(&path, read(after_create)).await?;
            Ok(tenant_wide(&existing.value).iter().any(|r| r == role_id))
        },
        || {
            client.post::<Value>(
                "/roleManagement/directory/roleAssignments",
                &body,
                write(after_create),
            )
        },
    )
    .await
}
