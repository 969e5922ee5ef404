//! The plan: from the tenant as read and the admin's choices to the list of changes, before any
//! write. Pure: no I/O, so every rule here is tested natively.

use serde_json::json;

use crate::graph::models::{AppRoleAssignment, Application, CertificateView, ServicePrincipal};
use crate::wellknown::{self, roles};
use crate::workloads::{self, Access, Granted, Problem, Workload};

use super::Tenant;
use super::permissions::{self, Declared};
use super::requests;

/// Which app the credential is for.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A new app registration with this name.
    New {
        /// Display name.
        name: String,
        /// The alternate key the app is made under (`PATCH /applications(uniqueName=…)`), chosen
        /// once per plan so that sending the create again can never make a second app.
        unique_name: String,
    },
    /// An app that exists, as read (with its service principal and grants, see `Existing`).
    Existing(Box<Existing>),
    /// A managed identity (Azure Automation): no app, no certificate; only the grant and the
    /// role on its service principal.
    Identity(Box<Identity>),
}

impl Target {
    /// The app's (or identity's) display name.
    pub fn name(&self) -> String {
        match self {
            Self::New { name, .. } => name.trim().to_owned(),
            Self::Existing(e) => e.app.display_name.clone(),
            Self::Identity(i) => i.service_principal.display_name.clone(),
        }
    }
}

/// A managed identity and what it already has.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// Its service principal (`servicePrincipalType` `ManagedIdentity`).
    pub service_principal: ServicePrincipal,
    /// Every application permission it holds.
    pub assignments: Vec<AppRoleAssignment>,
    /// Directory roles it holds (template ids, tenant-wide).
    pub roles: Vec<String>,
}

impl Identity {
    /// Whether it holds `Exchange.ManageAsApp` on this tenant's Exchange.
    pub fn granted(&self, tenant: &Tenant) -> bool {
        super::has_grant(&self.assignments, tenant)
    }

    /// Whether it is user-assigned (then `-ManagedIdentityAccountId` needs its client id).
    pub fn user_assigned(&self) -> bool {
        self.service_principal.user_assigned()
    }

    /// The Azure resource id of the identity.
    pub fn resource_id(&self) -> Option<&str> {
        self.service_principal.resource_id()
    }
}

/// An existing app and what it already has.
#[derive(Debug, Clone, PartialEq)]
pub struct Existing {
    /// The app, with `keyCredentials` read by a single-object `$select` (keys present).
    pub app: Application,
    /// Its service principal, if it has one.
    pub service_principal: Option<ServicePrincipal>,
    /// Every application permission that service principal holds.
    pub assignments: Vec<AppRoleAssignment>,
    /// Directory roles it holds (template ids, tenant-wide).
    pub roles: Vec<String>,
}

impl Existing {
    /// Whether its service principal holds `Exchange.ManageAsApp` on this tenant's Exchange.
    pub fn granted(&self, tenant: &Tenant) -> bool {
        super::has_grant(&self.assignments, tenant)
    }
}

/// What the admin chose.
#[derive(Debug, Clone, PartialEq)]
pub struct Choices {
    /// New or existing app.
    pub target: Target,
    /// The workloads, their permissions and roles.
    pub access: Access,
    /// Certificate validity in days.
    pub validity_days: u32,
}

/// A change the apply will make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum StepKind {
    /// Create the app with its certificate and the permission, or add them to an existing one.
    App,
    /// Create the app's service principal.
    ServicePrincipal,
    /// Grant the application permissions (admin consent).
    Grant,
    /// Assign the Entra roles.
    Role,
    /// Grant the app a role on one SharePoint site (`Sites.Selected`).
    Site,
    /// Turn on an Automation account's system-assigned identity.
    AzureIdentity,
    /// Import ExchangeOnlineManagement into the Automation account.
    Module,
    /// Create and publish the starter runbook.
    Runbook,
    /// Upload the PFX as the Automation account's certificate asset (opt-in).
    CertificateAsset,
}

/// Create, change or keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// A new object.
    Create,
    /// An existing object changes (only by addition).
    Change,
    /// Already as wanted: nothing is sent.
    Keep,
}

/// One line of the plan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Step {
    /// Which step.
    pub kind: StepKind,
    /// What happens.
    pub action: Action,
    /// In words.
    pub summary: String,
    /// The Graph requests it sends, for audit (the new certificate shown as a placeholder).
    pub requests: Vec<String>,
}

/// Why the plan cannot be applied as chosen; each says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocker {
    /// The tenant has no Office 365 Exchange Online service principal.
    NoExchange,
    /// The tenant's app-management policy caps certificate lifetime below the choice.
    LifetimeTooLong {
        /// Chosen.
        chosen: u32,
        /// Allowed.
        max: u32,
    },
    /// A new app's name is empty or taken.
    Name(String),
    /// The chosen workloads cannot be set up here (a missing API, an unknown permission).
    Access(Problem),
}

impl std::fmt::Display for Blocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoExchange => f.write_str(
                "This tenant has no Exchange Online (the \"Office 365 Exchange Online\" service principal is missing), so Exchange Online PowerShell cannot work here. Check that the tenant has Exchange Online licences and that you signed in to the right tenant; nothing was changed.",
            ),
            Self::LifetimeTooLong { chosen, max } => write!(
                f,
                "This tenant's app-management policy allows certificates of at most {max} days; you chose {chosen}. Choose {max} days or fewer (the longest allowed is offered)."
            ),
            Self::Name(text) => f.write_str(text),
            Self::Access(problem) => problem.fmt(f),
        }
    }
}

/// The plan: steps in order, what is kept, what blocks it and what may stop it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Steps, in order.
    pub steps: Vec<Step>,
    /// What exists and stays (certificates, permissions, assignments), for the diff.
    pub kept: Vec<String>,
    /// Reasons it cannot be applied.
    pub blockers: Vec<Blocker>,
    /// What may make it stop, though Graph decides: roles the admin seems to lack (a role
    /// held in a way the page cannot see still works, and Graph's refusal names the step).
    pub warnings: Vec<String>,
    /// Every permission the workloads want, with this tenant's ids.
    pub permissions: Vec<Granted>,
    /// Every Entra role they want (template id) and the workloads wanting it.
    pub roles: Vec<(String, Vec<Workload>)>,
}

/// Whether Apply may be pressed, and if not, what comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// No plan yet (the app is still being chosen or read).
    ChooseFirst,
    /// A blocker stands.
    Blocked,
    /// The certificate is not made yet.
    MakeCertificate,
    /// The PFX has not been proven saved yet.
    SavePfx,
    /// Ready.
    Ready,
}

impl Gate {
    /// The gate for a plan (if any), whether the certificate exists, and whether its PFX was
    /// picked back and proven to open with its password.
    pub fn of(plan: Option<&Plan>, certificate_made: bool, pfx_proven: bool) -> Self {
        match plan {
            None => Self::ChooseFirst,
            Some(p) if !p.blockers.is_empty() => Self::Blocked,
            Some(_) if !certificate_made => Self::MakeCertificate,
            Some(_) if !pfx_proven => Self::SavePfx,
            Some(_) => Self::Ready,
        }
    }

    /// What the page says about it.
    pub fn text(self, tenant_name: &str) -> String {
        match self {
            Self::ChooseFirst => "Choose the app first.".into(),
            Self::Blocked => "The plan cannot be applied as it stands: see above.".into(),
            Self::MakeCertificate => "Make the certificate first.".into(),
            Self::SavePfx => "Save the PFX, then pick the saved file back with its password: once the tenant trusts the certificate, that file is the only copy of its key.".into(),
            Self::Ready => format!("Ready to apply to {tenant_name}."),
        }
    }
}

/// What the page warns about as soon as the tenant is read, before any choice: no Exchange,
/// roles the admin seems to lack for a new app (or holds only as PIM-eligible), and lists that
/// were too long to read in full.
pub fn early_warnings(tenant: &Tenant) -> Vec<String> {
    let stand_in = Choices {
        target: Target::New {
            name: "x".into(),
            unique_name: "x".into(),
        },
        access: Access::exchange(roles::EXCHANGE_ADMIN),
        validity_days: 1,
    };
    let p = plan(tenant, &stand_in);
    let mut out: Vec<String> = p
        .blockers
        .iter()
        .filter(|b| !matches!(b, Blocker::Name(_) | Blocker::LifetimeTooLong { .. }))
        .map(ToString::to_string)
        .collect();
    out.extend(p.warnings);
    if !tenant.apps_complete {
        out.push(format!(
            "This tenant has more app registrations than the page reads ({} shown). Filter by name to find yours; a new app's name is checked for clashes among those read only.",
            tenant.apps.len()
        ));
    }
    out
}

impl Plan {
    /// Whether `kind` has work to do.
    pub fn changes(&self, kind: StepKind) -> bool {
        needs(&self.steps, kind)
    }
}

const APP_WRITERS: [&str; 3] = [
    roles::GLOBAL_ADMIN,
    roles::APPLICATION_ADMIN,
    roles::CLOUD_APPLICATION_ADMIN,
];
const GRANTERS: [&str; 4] = [
    roles::GLOBAL_ADMIN,
    roles::PRIVILEGED_ROLE_ADMIN,
    roles::APPLICATION_ADMIN,
    roles::CLOUD_APPLICATION_ADMIN,
];
const ROLE_ASSIGNERS: [&str; 2] = [roles::GLOBAL_ADMIN, roles::PRIVILEGED_ROLE_ADMIN];
/// Who may grant an app a site: a SharePoint or Global Administrator (Microsoft's page on the
/// call does not settle the delegated case; these are the roles that administer every site).
const SITE_GRANTERS: [&str; 2] = [roles::GLOBAL_ADMIN, roles::SHAREPOINT_ADMIN];
/// Every role that lets the admin do at least one step.
pub const WRITER_ROLES: [&str; 4] = GRANTERS;

fn has_any(held: &[String], wanted: &[&str]) -> bool {
    held.iter().any(|r| wanted.contains(&r.as_str()))
}

fn names(ids: &[&str]) -> String {
    let names: Vec<&str> = ids.iter().map(|id| wellknown::role_name(id)).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => names.join(""),
    }
}

/// Whether a step of `kind` has work to do.
fn needs(steps: &[Step], kind: StepKind) -> bool {
    steps
        .iter()
        .any(|s| s.kind == kind && s.action != Action::Keep)
}

/// What the signed-in admin lacks for `steps` (the roles each Graph API page lists as least
/// privileged; <https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference>;
/// Microsoft Graph's own app roles only Global and Privileged Role Administrators may grant,
/// <https://learn.microsoft.com/entra/identity/enterprise-apps/grant-admin-consent>), as one
/// actionable message.
pub fn missing_roles(
    tenant: &Tenant,
    steps: &[Step],
    grants_graph: bool,
    app_name: &str,
    role_names: &str,
) -> Option<String> {
    let held = &tenant.admin_roles;
    let granters: &[&str] = if grants_graph {
        &ROLE_ASSIGNERS
    } else {
        &GRANTERS
    };
    let mut lacking = Vec::new();
    if (needs(steps, StepKind::App) || needs(steps, StepKind::ServicePrincipal))
        && !has_any(held, &APP_WRITERS)
    {
        lacking.push(format!(
            "creating or changing the app registration needs {}",
            names(&APP_WRITERS)
        ));
    }
    if needs(steps, StepKind::Grant) && !has_any(held, granters) {
        lacking.push(format!(
            "granting {} needs {}",
            if grants_graph {
                "Microsoft Graph application permissions"
            } else {
                "the application permissions"
            },
            names(granters)
        ));
    }
    if needs(steps, StepKind::Role) && !has_any(held, &ROLE_ASSIGNERS) {
        lacking.push(format!(
            "assigning {role_names} to {app_name} needs {}",
            names(&ROLE_ASSIGNERS)
        ));
    }
    if needs(steps, StepKind::Site) && !has_any(held, &SITE_GRANTERS) {
        lacking.push(format!(
            "granting the app a SharePoint site needs {}",
            names(&SITE_GRANTERS)
        ));
    }
    if lacking.is_empty() {
        return None;
    }
    let who = &tenant.admin_upn;
    let needed: Vec<&str> = APP_WRITERS
        .iter()
        .chain(&GRANTERS)
        .chain(&ROLE_ASSIGNERS)
        .chain(&SITE_GRANTERS)
        .copied()
        .collect();
    let eligible: Vec<&str> = tenant
        .admin_eligible_roles
        .iter()
        .map(String::as_str)
        .filter(|r| needed.contains(r))
        .collect();
    let pim = if eligible.is_empty() {
        String::new()
    } else {
        format!(
            " You are eligible for {} in Privileged Identity Management but it is not active: activate it (Entra admin center → My roles), then sign in again.",
            names(&eligible)
        )
    };
    let partial = if tenant.admin_roles_complete {
        ""
    } else {
        " (Your memberships were too many to read in full, so a role may be held where the page did not look.)"
    };
    Some(format!(
        "{who} seems to lack a role for this: {}.{pim}{partial} If you do hold it (through a group, say), apply anyway: Microsoft Graph decides, and a refused step says what it needs. Otherwise sign in as a Global Administrator, or as someone who is both Privileged Role Administrator and (Cloud) Application Administrator.",
        lacking.join("; ")
    ))
}

/// The names of role template ids, joined for a sentence.
pub fn role_list(ids: &[String]) -> String {
    let names: Vec<&str> = ids.iter().map(|id| wellknown::role_name(id)).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.join(""),
    }
}

/// Permissions as the plan names them: Exchange's by name alone (`Exchange.ManageAsApp`),
/// every other API's with the API (`User.Read.All (Microsoft Graph)`), since names repeat.
fn permission_names(granted: &[&Granted]) -> String {
    let names: Vec<String> = granted
        .iter()
        .map(|g| {
            if g.resource == workloads::EXCHANGE {
                g.value.clone()
            } else {
                format!("{} ({})", g.value, g.resource.name)
            }
        })
        .collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.join(""),
    }
}

/// `is` or `are`, for a list of `n`.
fn is_are(n: usize) -> &'static str {
    if n == 1 { "is" } else { "are" }
}

/// `the X role` or `the X and Y roles`.
fn roles_phrase(ids: &[String]) -> String {
    format!(
        "the {} role{}",
        role_list(ids),
        if ids.len() == 1 { "" } else { "s" }
    )
}

/// Whether `assignments` hold `g` on its resource.
pub fn holds_permission(assignments: &[AppRoleAssignment], g: &Granted) -> bool {
    assignments.iter().any(|a| {
        a.app_role_id.eq_ignore_ascii_case(&g.id)
            && a.resource_id.eq_ignore_ascii_case(&g.resource_sp)
    })
}

/// Computes the plan. `placeholder` stands for the new keyCredential in the audit text.
pub fn plan(tenant: &Tenant, choices: &Choices) -> Plan {
    let placeholder = json!({
        "type": "AsymmetricX509Cert", "usage": "Verify",
        "key": "<the new certificate: base64 DER, public part only>",
        "displayName": "CN=<subject>", "startDateTime": "<notBefore>", "endDateTime": "<notAfter>",
        "keyId": "<key id derived from the certificate>", "customKeyIdentifier": "<SHA-1 thumbprint>",
    });
    let access = &choices.access;
    let (permissions, problems) = workloads::resolve(access, &tenant.resources);
    let declared = Declared::of(&permissions);
    let wanted_roles = access.roles();
    let role_ids: Vec<String> = wanted_roles.iter().map(|(r, _)| r.clone()).collect();
    let mut steps = Vec::new();
    let mut kept = Vec::new();
    let mut blockers: Vec<Blocker> = problems
        .into_iter()
        .map(|p| match p {
            Problem::ResourceMissing { resource, .. } if resource == workloads::EXCHANGE => {
                Blocker::NoExchange
            }
            other => Blocker::Access(other),
        })
        .collect();
    let what = if permissions.len() == 1 {
        format!("the {} permission", permissions[0].value)
    } else {
        format!("{} permissions", permissions.len())
    };
    let app_name;
    let sp_ref;
    match &choices.target {
        Target::New { name, unique_name } => {
            app_name = name.trim().to_owned();
            if app_name.is_empty() || app_name.chars().count() > 120 {
                blockers.push(Blocker::Name(
                    "Give the new app a name (1–120 characters).".into(),
                ));
            } else if tenant
                .apps
                .iter()
                .any(|a| a.display_name.eq_ignore_ascii_case(&app_name))
            {
                blockers.push(Blocker::Name(format!(
                    "An app named \"{app_name}\" already exists. Choose it under \"Existing app\" or pick another name."
                )));
            }
            steps.push(Step {
                kind: StepKind::App,
                action: Action::Create,
                summary: format!("Create the app registration \"{app_name}\" (this organization only) with the new certificate and {what}"),
                requests: vec![requests::upsert_app(unique_name, &app_name, &placeholder, &declared).to_string()],
            });
            steps.push(Step {
                kind: StepKind::ServicePrincipal,
                action: Action::Create,
                summary: "Create its service principal (enterprise application)".into(),
                requests: vec![requests::upsert_service_principal("<new app id>").to_string()],
            });
            sp_ref = "<new service principal id>".to_owned();
        }
        Target::Identity(identity) => {
            let sp = &identity.service_principal;
            app_name = sp.display_name.clone();
            kept.push(format!(
                "Managed identity \"{}\" ({}, object id {}, client id {})",
                sp.display_name,
                if identity.user_assigned() {
                    "user-assigned"
                } else {
                    "system-assigned"
                },
                sp.id,
                sp.app_id
            ));
            sp_ref = sp.id.clone();
        }
        Target::Existing(existing) => {
            let app = &existing.app;
            app_name = app.display_name.clone();
            for raw in &app.key_credentials {
                let c = CertificateView::of(raw);
                kept.push(format!(
                    "Certificate \"{}\" (expires {}, key id {})",
                    c.display_name, c.end, c.key_id
                ));
            }
            for resource in &app.required_resource_access {
                let n = resource["resourceAccess"].as_array().map_or(0, Vec::len);
                kept.push(format!(
                    "{n} permission(s) of API {}",
                    resource["resourceAppId"].as_str().unwrap_or("?")
                ));
            }
            let to_declare: Vec<&Granted> = permissions
                .iter()
                .filter(|g| {
                    !permissions::declares(
                        &app.required_resource_access,
                        &Declared::role(g.resource.app_id, &g.id),
                    )
                })
                .collect();
            let patch = requests::patch_app(
                &app.id,
                Some(vec![
                    json!("<every existing certificate, re-sent exactly as read>"),
                    placeholder.clone(),
                ]),
                (!to_declare.is_empty()).then(|| {
                    let mut list = vec![json!("<every existing permission, unchanged>")];
                    list.extend(permissions::merged(
                        &[],
                        &to_declare
                            .iter()
                            .map(|g| Declared::role(g.resource.app_id, &g.id))
                            .collect::<Vec<_>>(),
                    ));
                    list
                }),
            );
            steps.push(Step {
                kind: StepKind::App,
                action: Action::Change,
                summary: format!(
                    "Add the new certificate to \"{app_name}\" (keeping its {} existing one(s)){}",
                    app.key_credentials.len(),
                    if to_declare.is_empty() {
                        String::new()
                    } else {
                        format!(" and declare {}", permission_names(&to_declare))
                    }
                ),
                requests: vec![
                    format!(
                        "{} (compared by keyId with what is shown as kept here)",
                        requests::read_app(&app.id)
                    ),
                    patch.to_string(),
                    format!(
                        "{} (again, to prove every kept certificate and permission is still there)",
                        requests::read_app(&app.id)
                    ),
                ],
            });
            match &existing.service_principal {
                Some(sp) => {
                    kept.push(format!("Service principal {}", sp.id));
                    steps.push(Step {
                        kind: StepKind::ServicePrincipal,
                        action: Action::Keep,
                        summary: "Its service principal exists".into(),
                        requests: vec![],
                    });
                    sp_ref = sp.id.clone();
                }
                None => {
                    steps.push(Step {
                        kind: StepKind::ServicePrincipal,
                        action: Action::Create,
                        summary: "Create its service principal (enterprise application)".into(),
                        requests: vec![requests::upsert_service_principal(&app.app_id).to_string()],
                    });
                    sp_ref = "<new service principal id>".into();
                }
            }
        }
    }
    let (assignments, held_roles): (&[AppRoleAssignment], &[String]) = match &choices.target {
        Target::Existing(e) => (&e.assignments, &e.roles),
        Target::Identity(i) => (&i.assignments, &i.roles),
        Target::New { .. } => (&[], &[]),
    };
    let (have, missing): (Vec<&Granted>, Vec<&Granted>) = permissions
        .iter()
        .partition(|g| holds_permission(assignments, g));
    // Every other permission the principal holds is kept as it is: the page only adds.
    for a in assignments {
        if !have
            .iter()
            .any(|g| g.id.eq_ignore_ascii_case(&a.app_role_id))
        {
            kept.push(format!(
                "Application permission {}",
                assignment_name(tenant, a)
            ));
        }
    }
    if !have.is_empty() {
        kept.push(format!(
            "{} grant{}",
            permission_names(&have),
            if have.len() == 1 { "" } else { "s" }
        ));
    }
    steps.push(if missing.is_empty() {
        Step {
            kind: StepKind::Grant,
            action: Action::Keep,
            summary: if have.is_empty() {
                "No application permission to grant".into()
            } else {
                format!(
                    "{} {} already granted",
                    permission_names(&have),
                    is_are(have.len())
                )
            },
            requests: vec![],
        }
    } else {
        Step {
            kind: StepKind::Grant,
            action: Action::Create,
            summary: format!("Grant {} (admin consent)", permission_names(&missing)),
            requests: missing
                .iter()
                .map(|g| requests::grant(&g.resource_sp, &sp_ref, &g.id).to_string())
                .collect(),
        }
    });
    let (roles_have, roles_missing): (Vec<String>, Vec<String>) = role_ids
        .iter()
        .cloned()
        .partition(|r| held_roles.iter().any(|h| h.eq_ignore_ascii_case(r)));
    if !roles_have.is_empty() {
        kept.push(format!("{} role assignment", role_list(&roles_have)));
    }
    steps.push(if roles_missing.is_empty() {
        Step {
            kind: StepKind::Role,
            action: Action::Keep,
            summary: if let Some(group) = access.role_group().filter(|_| role_ids.is_empty()) {
                format!("No Entra role: Exchange permissions come from the \"{group}\" role group (the lines to run once are on the last screen)")
            } else if roles_have.is_empty() {
                "No Entra role is needed".into()
            } else {
                format!(
                    "The {} role{} {} already assigned",
                    role_list(&roles_have),
                    if roles_have.len() == 1 { "" } else { "s" },
                    is_are(roles_have.len())
                )
            },
            requests: vec![],
        }
    } else {
        Step {
            kind: StepKind::Role,
            action: Action::Create,
            summary: format!("Assign {}, tenant-wide", roles_phrase(&roles_missing)),
            requests: roles_missing
                .iter()
                .map(|r| requests::assign_role(r, &sp_ref).to_string())
                .collect(),
        }
    });
    if let Some((site, role)) = access.site() {
        let (host, path) = workloads::resolve::site_path(site).unwrap_or_default();
        steps.push(Step {
            kind: StepKind::Site,
            action: Action::Create,
            summary: format!(
                "Grant the app \"{}\" on {} (unless it already has it; asks you to consent to Sites.FullControl.All for this page first)",
                role.as_str(),
                site.trim()
            ),
            requests: vec![
                requests::read_site(&host, &path).to_string(),
                requests::site_permissions("<site id>").to_string(),
                requests::grant_site("<site id>", "<app id>", &app_name, role).to_string(),
            ],
        });
    }
    let grants_graph = missing.iter().any(|g| g.resource == workloads::GRAPH);
    let warnings = missing_roles(
        tenant,
        &steps,
        grants_graph,
        &app_name,
        &roles_phrase(&roles_missing),
    )
    .into_iter()
    .collect();
    if let Some(max) = tenant.max_certificate_days
        && choices.validity_days > max
        && !matches!(choices.target, Target::Identity(_))
    {
        blockers.push(Blocker::LifetimeTooLong {
            chosen: choices.validity_days,
            max,
        });
    }
    Plan {
        steps,
        kept,
        blockers,
        warnings,
        permissions,
        roles: wanted_roles,
    }
}

/// An assignment as the admin knows it: the permission's name on its API, when the page read
/// that API; else its ids.
fn assignment_name(tenant: &Tenant, a: &AppRoleAssignment) -> String {
    tenant
        .resources
        .iter()
        .find(|sp| sp.id.eq_ignore_ascii_case(&a.resource_id))
        .and_then(|sp| {
            sp.app_roles
                .iter()
                .find(|r| r.id.eq_ignore_ascii_case(&a.app_role_id))
                .map(|r| {
                    format!(
                        "{} ({})",
                        r.value.clone().unwrap_or_default(),
                        sp.display_name
                    )
                })
        })
        .unwrap_or_else(|| format!("{} on {}", a.app_role_id, a.resource_id))
}
