//! The executor: applies a plan step by step, and keeps two promises under every failure Graph
//! can produce (throttling, 5xx after the write happened, lost answers, replication lag on
//! lists and reads, concurrent edits):
//!
//! - **No duplicate.** The app and its service principal are made by upsert on an alternate key
//!   (`uniqueName`, `appId`), which is idempotent by construction, so they are simply sent again
//!   after an unclear answer. Assignments look before they write after any unclear answer, and
//!   Graph itself refuses a second identical assignment ("already exists"), which counts as done.
//! - **No certificate lost.** An existing app's certificates are compared by `keyId` with the
//!   read the plan showed before the PATCH (a missing one is waited for, then the admin is told
//!   and nothing is written), and read back after it (waiting out stale reads) to prove each kept
//!   certificate and permission is still there; one that is not is put back.
//!
//! Round trips on a new app: upsert app (certificate and permission included), upsert service
//! principal, then the grant and the role at the same time, then the verification `$batch`.

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::graph::models::{
    AppRoleAssignment, Application, RoleAssignment, ServicePrincipal, SitePermission, SiteRef,
};
use crate::graph::{Client, GraphError, HttpResponse, Retry, Transport, WaitReason, parse};
use crate::workloads::resolve::site_path;
use crate::workloads::{self, Granted, SiteRole};

use super::permissions::{self, Declared, declared, declares};
use super::plan::holds_permission;
use super::plan::{Choices, StepKind, Target};
use super::requests::{self, Call, key_id};
use super::{Tenant, tenant_wide};

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

impl Applied {
    /// Whether the final reads saw everything (else the directory is still propagating).
    pub fn verified(&self) -> bool {
        self.grant_verified && self.role_verified
    }
}

/// How many times a step looks and writes again after unclear answers (5xx, lost answers).
/// Each attempt looks first and each request has the client's own retry budget, so this only
/// bounds a service that keeps failing writes.
const LOST_ANSWER_RETRIES: usize = 8;

fn failure(step: StepKind, error: GraphError, tenant: &Tenant, choices: &Choices) -> StepFailure {
    let roles = super::plan::role_list(&choices.access.role_ids());
    let who = &tenant.admin_upn;
    let message = match (&error, step) {
        (GraphError::Denied(_), StepKind::App | StepKind::ServicePrincipal) => format!(
            "{who} may not create or change app registrations: that needs Global Administrator, Application Administrator or Cloud Application Administrator. Ask one to run this page, or get the role, sign in again and press Retry."
        ),
        (GraphError::Denied(_), StepKind::Grant) => format!(
            "{who} may not grant these application permissions: Exchange's and SharePoint's need Global Administrator, Privileged Role Administrator, Application Administrator or Cloud Application Administrator; Microsoft Graph's need Global Administrator or Privileged Role Administrator. Ask one to grant them (Entra admin center → App registrations → the app → API permissions → Grant admin consent), or sign in as one and press Retry."
        ),
        (GraphError::Denied(_), StepKind::Role) => format!(
            "{who} may not assign directory roles: assigning {roles} needs Privileged Role Administrator or Global Administrator. Ask one to assign it (Entra admin center → Roles and administrators → the role → Add assignments → the app), or sign in as one and press Retry."
        ),
        (GraphError::Denied(_), StepKind::Site) => format!(
            "The site grant was refused: it needs a SharePoint Administrator or Global Administrator who has let this page use Sites.FullControl.All. Press \"Allow site grants\" to consent in a popup and retry, or have a SharePoint administrator run the Grant-PnPEntraIDAppSitePermission line on the last screen. Everything else is done; {who}'s app already has Sites.Selected."
        ),
        (GraphError::NotFound(_), StepKind::Site) => format!(
            "No SharePoint site answers at {}. Check the address (as the browser shows it when the site is open), change it in the plan and press Retry.",
            choices.access.site().map_or("", |(s, _)| s)
        ),
        (GraphError::Drifted(detail), _) => format!(
            "{detail} Nothing was written to the app. Choose the app again under \"An existing app\" to read it as it is now, check the plan, and apply."
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

/// How long the executor re-reads an app whose certificates or permissions do not look as
/// expected yet (a lagging replica or a stale read after a PATCH), and how long the final
/// verification waits for new assignments to show.
const SETTLE_BUDGET_MS: u64 = 60_000;

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
    let key_credential = requests::identified(key_credential);
    let result = steps(client, tenant, choices, &key_credential, run, progress).await;
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
    // The plan refuses to apply with a problem; this is the same rule, kept where the writes are.
    let (permissions, problems) = workloads::resolve(&choices.access, &tenant.resources);
    if let Some(problem) = problems.first() {
        return Err(fail(
            StepKind::App,
            GraphError::NotFound(problem.to_string()),
        ));
    }
    let declared = Declared::of(&permissions);

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
    // An existing app's service principal, as the plan read it.
    if let Target::Existing(existing) = &choices.target
        && let Some(sp) = &existing.service_principal
        && run.done.insert(StepKind::ServicePrincipal)
    {
        run.service_principal = Some(sp.id.clone());
        progress(
            StepKind::ServicePrincipal,
            StepStatus::Done { changed: false },
        );
    }

    if !run.done.contains(&StepKind::App) {
        progress(StepKind::App, StepStatus::Running);
        let (app, changed) = app_step(client, choices, key_credential, &declared)
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
        let after_create = run.created.contains(&StepKind::App);
        let (sp, changed) = service_principal_step(client, &app.app_id, after_create)
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

    // The grants and the roles depend only on the service principal: all at once.
    let check = run.check_all || !run.created.contains(&StepKind::ServicePrincipal);
    let after_create =
        run.created.contains(&StepKind::ServicePrincipal) || run.created.contains(&StepKind::App);
    let want_grant = !run.done.contains(&StepKind::Grant);
    let want_role = !run.done.contains(&StepKind::Role);
    let role_ids = choices.access.role_ids();
    if want_grant {
        progress(StepKind::Grant, StepStatus::Running);
    }
    if want_role {
        progress(StepKind::Role, StepStatus::Running);
    }
    let grant = async {
        if !want_grant {
            return None;
        }
        let each = permissions
            .iter()
            .map(|g| grant_step(client, g, &sp, check, after_create));
        Some(all_of(futures::future::join_all(each).await))
    };
    let role = async {
        if !want_role {
            return None;
        }
        let each = role_ids
            .iter()
            .map(|r| role_step(client, r, &sp, check, after_create));
        Some(all_of(futures::future::join_all(each).await))
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

    if let Some((site, role)) = choices.access.site()
        && !run.done.contains(&StepKind::Site)
    {
        progress(StepKind::Site, StepStatus::Running);
        let changed = site_step(client, &app.app_id, &choices.target.name(), site, role)
            .await
            .map_err(|e| fail(StepKind::Site, e))?;
        run.done.insert(StepKind::Site);
        progress(StepKind::Site, StepStatus::Done { changed });
    }

    let (grant_verified, role_verified) = verify(client, &sp, &permissions, &role_ids)
        .await
        .map_err(|e| fail(StepKind::Role, e))?;
    Ok(Applied {
        app,
        service_principal_id: sp,
        grant_verified,
        role_verified,
    })
}

/// Whether any of several assignments changed something, or the first failure.
fn all_of(outcomes: Vec<Result<bool, GraphError>>) -> Result<bool, GraphError> {
    let mut changed = false;
    for o in outcomes {
        changed |= o?;
    }
    Ok(changed)
}

/// Sends one of the onboarding's requests.
async fn send<T: Transport>(
    client: &Client<T>,
    call: &Call,
    retry: Retry,
) -> Result<HttpResponse, GraphError> {
    client
        .call_with(
            call.method,
            &call.path,
            &call.headers(),
            call.body.as_ref(),
            retry,
        )
        .await
}

async fn read<T: Transport, R: DeserializeOwned>(
    client: &Client<T>,
    call: &Call,
    retry: Retry,
) -> Result<R, GraphError> {
    parse(&send(client, call, retry).await?.body)
}

fn read_retry(after_create: bool) -> Retry {
    if after_create {
        Retry::ReadAfterCreate
    } else {
        Retry::Read
    }
}

fn write_retry(after_create: bool) -> Retry {
    if after_create {
        Retry::WriteAfterCreate
    } else {
        Retry::Write
    }
}

/// Whether two keyCredentials are the same certificate registration: by `keyId`, or by the
/// certificate itself for an entry without one.
fn same_key(a: &Value, b: &Value) -> bool {
    match (key_id(a), key_id(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a["key"].as_str().is_some() && a["key"] == b["key"],
    }
}

/// Whether `list` holds the certificate `key_credential` (by keyId or by the certificate).
fn holds(list: &[Value], key_credential: &Value) -> bool {
    list.iter().any(|k| {
        same_key(k, key_credential) || (k["key"].is_string() && k["key"] == key_credential["key"])
    })
}

/// What an existing app must still hold after the run: every certificate and permission of the
/// read the plan showed and of the fresh read before the write (a concurrent addition is kept
/// too), each certificate in full (with `key`) so it can be put back.
#[derive(Debug, Default)]
struct Kept {
    keys: Vec<Value>,
    permissions: Vec<Declared>,
}

impl Kept {
    fn add(&mut self, app: &Application) {
        for k in &app.key_credentials {
            if !self.keys.iter().any(|x| same_key(x, k)) {
                self.keys.push(k.clone());
            }
        }
        for p in declared(&app.required_resource_access) {
            if !self.permissions.contains(&p) {
                self.permissions.push(p);
            }
        }
    }

    fn missing_keys(&self, app: &Application) -> Vec<&Value> {
        self.keys
            .iter()
            .filter(|k| !app.key_credentials.iter().any(|x| same_key(x, k)))
            .collect()
    }

    fn missing_permissions(&self, app: &Application) -> Vec<&Declared> {
        self.permissions
            .iter()
            .filter(|p| !declares(&app.required_resource_access, p))
            .collect()
    }

    fn complete_in(&self, app: &Application) -> bool {
        self.missing_keys(app).is_empty() && self.missing_permissions(app).is_empty()
    }

    fn describe_missing(&self, app: &Application) -> String {
        let mut parts: Vec<String> = self
            .missing_keys(app)
            .iter()
            .map(|k| {
                format!(
                    "certificate \"{}\" (key id {}, expires {})",
                    k["displayName"].as_str().unwrap_or("unnamed"),
                    k["keyId"].as_str().unwrap_or("?"),
                    k["endDateTime"].as_str().unwrap_or("?")
                )
            })
            .collect();
        parts.extend(self.missing_permissions(app).iter().map(|p| {
            format!(
                "permission {} of API {}",
                p.access["id"].as_str().unwrap_or("?"),
                p.resource
            )
        }));
        parts.join(", ")
    }
}

/// Reads `id` again and again (single object, keys present) until `ready` holds or the settle
/// budget runs out; the last read is returned either way, with whether it was ready.
async fn read_until<T: Transport>(
    client: &Client<T>,
    id: &str,
    ready: impl Fn(&Application) -> bool,
) -> Result<(Application, bool), GraphError> {
    let mut settling = Settling::default();
    loop {
        let app: Application = read(client, &requests::read_app(id), Retry::Read).await?;
        let ok = ready(&app);
        if ok || !settling.wait(client).await {
            return Ok((app, ok));
        }
    }
}

/// Waiting for replicas to catch up: 1 s doubling to 16 s, within the settle budget.
#[derive(Default)]
struct Settling {
    waited: u64,
}

impl Settling {
    /// Waits before the next read; false (without waiting) once the budget is spent.
    async fn wait<T: Transport>(&mut self, client: &Client<T>) -> bool {
        if self.waited >= SETTLE_BUDGET_MS {
            return false;
        }
        let pause = (self.waited + 1_000).min(16_000);
        client.pause(WaitReason::Replication, pause).await;
        self.waited += pause;
        true
    }
}

/// Creates the new app, or adds the certificate and permission to the existing one.
async fn app_step<T: Transport>(
    client: &Client<T>,
    choices: &Choices,
    key_credential: &Value,
    declared: &[Declared],
) -> Result<(AppRef, bool), GraphError> {
    match &choices.target {
        Target::New { name, unique_name } => {
            new_app(client, name.trim(), unique_name, key_credential, declared)
                .await
                .map(|app| (app, true))
        }
        Target::Identity(identity) => Ok((
            AppRef {
                id: identity.service_principal.id.clone(),
                app_id: identity.service_principal.app_id.clone(),
            },
            false,
        )),
        Target::Existing(existing) => {
            existing_app(client, &existing.app, key_credential, declared).await
        }
    }
}

/// The upsert makes the app once, however often it is sent; a 204 means an earlier attempt
/// whose answer was lost already made it, so it is read back by its `uniqueName`.
async fn new_app<T: Transport>(
    client: &Client<T>,
    name: &str,
    unique_name: &str,
    key_credential: &Value,
    declared: &[Declared],
) -> Result<AppRef, GraphError> {
    let upsert = requests::upsert_app(unique_name, name, key_credential, declared);
    let answer = send(client, &upsert, Retry::Upsert).await?;
    let app = match parse::<Application>(&answer.body) {
        Ok(app) if answer.status == 201 && !app.app_id.is_empty() => app,
        _ => {
            read(
                client,
                &requests::read_app_by_unique_name(unique_name),
                Retry::ReadAfterCreate,
            )
            .await?
        }
    };
    Ok(AppRef {
        id: app.id,
        app_id: app.app_id,
    })
}

/// What a read-modify-write of an app's certificates changes; everything else is kept.
#[derive(Debug, Clone, Copy)]
pub struct KeyEdit<'a> {
    /// A certificate to append (identified: `keyId` set).
    pub add: Option<&'a Value>,
    /// `keyId`s (lower-case) of certificates to remove.
    pub remove: &'a [String],
    /// Permissions that must be declared too (kept ones are never dropped).
    pub declare: &'a [Declared],
}

impl KeyEdit<'_> {
    fn removes(&self, key_credential: &Value) -> bool {
        key_id(key_credential).is_some_and(|id| self.remove.contains(&id))
    }

    /// Whether `app` shows the edit done: the addition there, the removals gone.
    fn shown_in(&self, app: &Application) -> bool {
        self.add.is_none_or(|k| holds(&app.key_credentials, k))
            && !app.key_credentials.iter().any(|k| self.removes(k))
            && permissions::declares_all(&app.required_resource_access, self.declare)
    }
}

/// Read-modify-write of an existing app, proven by a read afterwards.
async fn existing_app<T: Transport>(
    client: &Client<T>,
    shown: &Application,
    key_credential: &Value,
    declared: &[Declared],
) -> Result<(AppRef, bool), GraphError> {
    let edit = KeyEdit {
        add: Some(key_credential),
        remove: &[],
        declare: declared,
    };
    let (_, wrote) = edit_app(client, shown, edit).await?;
    Ok((
        AppRef {
            id: shown.id.clone(),
            app_id: shown.app_id.clone(),
        },
        wrote,
    ))
}

/// Changes an app's certificates (and declares the permission) by read-modify-write, keeping
/// every certificate and permission the admin was shown (or that appeared since) that the edit
/// does not remove, and proves it by reading the app back. Returns the app as last read and
/// whether anything was written.
pub async fn edit_app<T: Transport>(
    client: &Client<T>,
    shown: &Application,
    edit: KeyEdit<'_>,
) -> Result<(Application, bool), GraphError> {
    let id = shown.id.as_str();
    let mut kept = Kept::default();
    kept.add(shown);
    kept.keys.retain(|k| !edit.removes(k));
    // Before writing: everything the plan showed as kept must be in the read the PATCH is built
    // from; a lagging replica gets time, a real removal stops the run before any write.
    let (fresh, complete) = read_until(client, id, |app| kept.complete_in(app)).await?;
    if !complete {
        return Err(GraphError::Drifted(format!(
            "\"{}\" no longer has what the plan showed as kept: {}. Someone changed the app since the plan was read, or the directory has not caught up.",
            shown.display_name,
            kept.describe_missing(&fresh)
        )));
    }
    kept.add(&fresh);
    kept.keys.retain(|k| !edit.removes(k));
    let mut current = fresh;
    let mut wrote = false;
    for _ in 0..LOST_ANSWER_RETRIES {
        let add_cert = edit.add.filter(|k| !holds(&current.key_credentials, k));
        let removes = current.key_credentials.iter().any(|k| edit.removes(k));
        let adds_permission =
            !permissions::declares_all(&current.required_resource_access, edit.declare);
        let missing = !kept.complete_in(&current);
        if add_cert.is_none() && !removes && !adds_permission && !missing {
            return Ok((current, wrote));
        }
        let mut keys: Vec<Value> = current
            .key_credentials
            .iter()
            .filter(|k| !edit.removes(k))
            .cloned()
            .collect();
        for k in kept.missing_keys(&current) {
            keys.push(k.clone());
        }
        if let Some(k) = add_cert {
            keys.push(k.clone());
        }
        let mut permissions = permissions::merged(&current.required_resource_access, edit.declare);
        for p in kept.missing_permissions(&current) {
            permissions::add(&mut permissions, p);
        }
        let certificates_change =
            add_cert.is_some() || removes || !kept.missing_keys(&current).is_empty();
        let permissions_change = adds_permission || !kept.missing_permissions(&current).is_empty();
        let patch = requests::patch_app(
            id,
            certificates_change.then_some(keys),
            permissions_change.then_some(permissions),
        );
        match send(client, &patch, Retry::Write).await {
            Ok(_) => wrote = true,
            // The PATCH may or may not have happened: the read below tells, and a PATCH sent
            // again carries the same full collections, so it changes nothing more.
            Err(GraphError::Network(_) | GraphError::Unavailable(_)) => wrote = true,
            Err(e) => return Err(e),
        }
        // After the write: wait until the read shows it (a stale read still has the old
        // collections), then check every kept entry is there.
        let (after, _) = read_until(client, id, |app| edit.shown_in(app)).await?;
        current = after;
    }
    if kept.complete_in(&current) && edit.shown_in(&current) {
        return Ok((current, wrote));
    }
    Err(GraphError::Drifted(format!(
        "After writing, \"{}\" still lacks {}. Something else is changing the app at the same time.",
        shown.display_name,
        if edit.shown_in(&current) {
            kept.describe_missing(&current)
        } else {
            "the change (the new certificate, or the removal)".to_owned()
        }
    )))
}

/// The service principal, by upsert on the app's `appId`: one principal however often sent.
async fn service_principal_step<T: Transport>(
    client: &Client<T>,
    app_id: &str,
    after_create: bool,
) -> Result<(String, bool), GraphError> {
    let retry = if after_create {
        Retry::UpsertAfterCreate
    } else {
        Retry::Upsert
    };
    let answer = send(client, &requests::upsert_service_principal(app_id), retry).await?;
    match parse::<ServicePrincipal>(&answer.body) {
        Ok(sp) if answer.status == 201 && !sp.id.is_empty() => Ok((sp.id, true)),
        // 204: it existed (made by an earlier attempt whose answer was lost, or long ago).
        _ => {
            let sp: ServicePrincipal = read(
                client,
                &requests::read_service_principal(app_id),
                Retry::ReadAfterCreate,
            )
            .await?;
            Ok((sp.id, after_create))
        }
    }
}

/// An assignment made at most once: look (when told to, or after an unclear answer), then
/// create. After a 5xx or a lost answer the next attempt looks first; a look that misses a
/// fresh assignment (list lag) is harmless, because Graph refuses a second identical one with
/// "already exists", which counts as done. `Ok(true)` when this call (probably) created it.
async fn ensure_assignment<L, C>(
    mut check: bool,
    look: impl Fn() -> L,
    create: impl Fn() -> C,
) -> Result<bool, GraphError>
where
    L: std::future::Future<Output = Result<bool, GraphError>>,
    C: std::future::Future<Output = Result<HttpResponse, GraphError>>,
{
    let mut unclear = false;
    for _ in 0..LOST_ANSWER_RETRIES {
        if check && look().await? {
            return Ok(unclear);
        }
        match create().await {
            Ok(_) => return Ok(true),
            Err(GraphError::AlreadyExists(_)) => return Ok(unclear),
            Err(GraphError::Network(_) | GraphError::Unavailable(_)) => {
                check = true;
                unclear = true;
            }
            Err(e) => return Err(e),
        }
    }
    Err(GraphError::Network(
        "the answers kept getting lost; press Retry: every step looks before it writes".into(),
    ))
}

async fn grant_step<T: Transport>(
    client: &Client<T>,
    permission: &Granted,
    sp: &str,
    check: bool,
    after_create: bool,
) -> Result<bool, GraphError> {
    let call = requests::grant(&permission.resource_sp, sp, &permission.id);
    ensure_assignment(
        check,
        || async {
            Ok(holds_permission(
                &granted(client, sp, read_retry(after_create)).await?,
                permission,
            ))
        },
        || send(client, &call, write_retry(after_create)),
    )
    .await
}

async fn granted<T: Transport>(
    client: &Client<T>,
    sp: &str,
    retry: Retry,
) -> Result<Vec<AppRoleAssignment>, GraphError> {
    Ok(client
        .get_all(&requests::grants_of(sp).path, retry)
        .await?
        .items)
}

async fn assigned<T: Transport>(
    client: &Client<T>,
    sp: &str,
    retry: Retry,
) -> Result<Vec<String>, GraphError> {
    let all = client
        .get_all::<RoleAssignment>(&requests::roles_of(sp).path, retry)
        .await?;
    Ok(tenant_wide(&all.items))
}

async fn role_step<T: Transport>(
    client: &Client<T>,
    role_id: &str,
    sp: &str,
    check: bool,
    after_create: bool,
) -> Result<bool, GraphError> {
    let call = requests::assign_role(role_id, sp);
    ensure_assignment(
        check,
        || async {
            Ok(assigned(client, sp, read_retry(after_create))
                .await?
                .iter()
                .any(|r| r.eq_ignore_ascii_case(role_id)))
        },
        || send(client, &call, write_retry(after_create)),
    )
    .await
}

/// The final reads: the grants and the roles, read back until all show (assignments just made
/// can be missing from lists for a while) or the settle budget runs out.
async fn verify<T: Transport>(
    client: &Client<T>,
    sp: &str,
    permissions: &[Granted],
    role_ids: &[String],
) -> Result<(bool, bool), GraphError> {
    let mut settling = Settling::default();
    loop {
        // A principal or assignment that replicas do not show yet reads as not there yet.
        let (granted, role) = match super::grants(client, sp).await {
            Ok((assignments, roles)) => (
                permissions
                    .iter()
                    .all(|g| holds_permission(&assignments, g)),
                role_ids
                    .iter()
                    .all(|id| roles.iter().any(|r| r.eq_ignore_ascii_case(id))),
            ),
            Err(e) if e.is_transient() || matches!(e, GraphError::NotFound(_)) => (false, false),
            Err(e) => return Err(e),
        };
        if (granted && role) || !settling.wait(client).await {
            return Ok((granted, role));
        }
    }
}

/// The app's role on one SharePoint site (`Sites.Selected`): looked for first, changed when it
/// holds another role, made when it holds none. Every attempt looks first, because a second
/// `POST` for the same app may add a second entry rather than fail. `Ok(true)` when written.
async fn site_step<T: Transport>(
    client: &Client<T>,
    app_id: &str,
    app_name: &str,
    site: &str,
    role: SiteRole,
) -> Result<bool, GraphError> {
    let (host, path) = site_path(site).map_err(GraphError::Unexpected)?;
    let found: SiteRef = read(client, &requests::read_site(&host, &path), Retry::Read).await?;
    let mut wrote = false;
    for _ in 0..LOST_ANSWER_RETRIES {
        let all = client
            .get_all::<SitePermission>(&requests::site_permissions(&found.id).path, Retry::Read)
            .await?;
        let call = match all.items.iter().find(|p| p.is_for(app_id)) {
            Some(p) if p.roles.iter().any(|r| SiteRole::parse(r) == Some(role)) => {
                return Ok(wrote);
            }
            Some(p) => requests::change_site_grant(&found.id, &p.id, role),
            None => requests::grant_site(&found.id, app_id, app_name, role),
        };
        match send(client, &call, Retry::Write).await {
            Ok(_) => return Ok(true),
            Err(GraphError::Network(_) | GraphError::Unavailable(_)) => wrote = true,
            Err(e) => return Err(e),
        }
    }
    Err(GraphError::Network(
        "the answers kept getting lost; press Retry: the site grant looks before it writes".into(),
    ))
}
