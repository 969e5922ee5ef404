//! Who may call what: Graph checks the delegated token's scopes *and* the signed-in user's Entra
//! roles (<https://learn.microsoft.com/graph/permissions-reference>,
//! <https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference>,
//! and each Graph API page's permissions section); either missing gives 403 `Authorization_RequestDenied`. A
//! missing, foreign or expired token gives 401 `InvalidAuthenticationToken`.

use axum::http::HeaderMap;
use serde_json::Value;

use crate::tenant::{GraphError, Tenant, User, roles};

/// A Graph operation, as far as permissions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `GET /organization`.
    ReadOrganization,
    /// `GET /me`, `/me/transitiveMemberOf`.
    ReadMe,
    /// Reading applications.
    ReadApplications,
    /// Creating or changing applications and their credentials.
    WriteApplications,
    /// Reading service principals.
    ReadServicePrincipals,
    /// Creating service principals.
    WriteServicePrincipals,
    /// Reading app role assignments.
    ReadAppRoleAssignments,
    /// Granting an app role (admin consent to an application permission).
    GrantAppRole,
    /// Reading directory role assignments.
    ReadRoleAssignments,
    /// Assigning a directory role.
    AssignRole,
    /// Reading the tenant app-management policy.
    ReadPolicy,
    /// Reading PIM role eligibilities.
    ReadRoleEligibility,
    /// Granting delegated permissions (`POST /oauth2PermissionGrants`); what each role may grant
    /// is checked by the operation itself (`grants.rs`).
    GrantDelegated,
}

/// A delegated scope set: every group must be met by at least one of its scopes.
fn scopes_for(op: Op) -> &'static [&'static [&'static str]] {
    const APP_READ: &[&str] = &[
        "Application.Read.All",
        "Application.ReadWrite.All",
        "Directory.Read.All",
    ];
    match op {
        Op::ReadOrganization => &[&["User.Read", "Organization.Read.All", "Directory.Read.All"]],
        Op::ReadMe => &[&["User.Read", "User.ReadBasic.All", "Directory.Read.All"]],
        Op::ReadApplications | Op::ReadServicePrincipals => &[APP_READ],
        Op::WriteApplications | Op::WriteServicePrincipals => &[&["Application.ReadWrite.All"]],
        Op::ReadAppRoleAssignments => &[&[
            "Application.Read.All",
            "Application.ReadWrite.All",
            "AppRoleAssignment.ReadWrite.All",
            "Directory.Read.All",
        ]],
        // The documented pair: the grant itself and reading the service principals
        // (<https://learn.microsoft.com/graph/api/serviceprincipal-post-approleassignedto>).
        Op::GrantAppRole => &[&["AppRoleAssignment.ReadWrite.All"], APP_READ],
        Op::ReadRoleAssignments => &[&[
            "RoleManagement.Read.Directory",
            "RoleManagement.ReadWrite.Directory",
            "Directory.Read.All",
        ]],
        Op::AssignRole => &[&["RoleManagement.ReadWrite.Directory"]],
        // <https://learn.microsoft.com/graph/api/oauth2permissiongrant-post>: least privileged
        // DelegatedPermissionGrant.ReadWrite.All, higher Directory.ReadWrite.All; earlier
        // revisions of the page also list Directory.AccessAsUser.All.
        Op::GrantDelegated => &[&[
            "DelegatedPermissionGrant.ReadWrite.All",
            "Directory.ReadWrite.All",
            "Directory.AccessAsUser.All",
        ]],
        Op::ReadRoleEligibility => &[&[
            "RoleManagement.Read.Directory",
            "RoleManagement.ReadWrite.Directory",
            "RoleEligibilitySchedule.Read.Directory",
            "RoleEligibilitySchedule.ReadWrite.Directory",
        ]],
        Op::ReadPolicy => &[&[
            "Policy.Read.All",
            "Policy.ReadWrite.ApplicationConfiguration",
        ]],
    }
}

/// The Entra roles that allow `op`, or `None` when any member of the tenant may (reads).
/// The simulated tenant has "Users can register applications" switched off, as hardened
/// tenants do, so app management needs an application role
/// (<https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference>).
pub fn roles_for(op: Op) -> Option<&'static [&'static str]> {
    use roles::*;
    match op {
        Op::ReadOrganization
        | Op::ReadMe
        | Op::ReadApplications
        | Op::ReadServicePrincipals
        | Op::ReadAppRoleAssignments
        | Op::ReadRoleAssignments
        | Op::ReadRoleEligibility => None,
        Op::WriteApplications | Op::WriteServicePrincipals => Some(&[
            GLOBAL_ADMIN,
            APPLICATION_ADMIN,
            CLOUD_APPLICATION_ADMIN,
            APPLICATION_DEVELOPER,
        ]),
        Op::GrantAppRole => Some(&[
            GLOBAL_ADMIN,
            PRIVILEGED_ROLE_ADMIN,
            APPLICATION_ADMIN,
            CLOUD_APPLICATION_ADMIN,
        ]),
        Op::AssignRole => Some(&[GLOBAL_ADMIN, PRIVILEGED_ROLE_ADMIN]),
        // The page's role list (those the simulator models; Directory Writers and User
        // Administrator are not), plus Global Administrator.
        Op::GrantDelegated => Some(&[
            GLOBAL_ADMIN,
            PRIVILEGED_ROLE_ADMIN,
            APPLICATION_ADMIN,
            CLOUD_APPLICATION_ADMIN,
            APPLICATION_DEVELOPER,
        ]),
        Op::ReadPolicy => Some(&[
            GLOBAL_ADMIN,
            GLOBAL_READER,
            SECURITY_ADMIN,
            SECURITY_READER,
            APPLICATION_ADMIN,
            CLOUD_APPLICATION_ADMIN,
        ]),
    }
}

/// The signed-in user a Graph request acts for, from its bearer token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user (as the tenant knows them now: role changes apply to the next call).
    pub user: User,
    /// The token's `scp`.
    pub scopes: Vec<String>,
}

impl Caller {
    /// Allows `op` or answers as Graph does.
    pub fn may(&self, op: Op) -> Result<(), GraphError> {
        let scoped = scopes_for(op).iter().all(|group| {
            group
                .iter()
                .any(|s| self.scopes.iter().any(|t| t.eq_ignore_ascii_case(s)))
        });
        let roled = roles_for(op).is_none_or(|allowed| {
            self.user
                .roles
                .iter()
                .any(|r| allowed.contains(&r.as_str()))
        });
        if scoped && roled {
            Ok(())
        } else {
            Err(GraphError::denied())
        }
    }
}

/// Reads and checks the bearer token: signed by this simulator, for Graph, not expired, for a
/// user of this tenant.
pub fn caller(
    tenant: &Tenant,
    key: &rsa::RsaPublicKey,
    headers: &HeaderMap,
    now: i64,
    cloud: crate::cloud::Cloud,
) -> Result<Caller, GraphError> {
    let unauthenticated = |message: &str| GraphError {
        status: 401,
        code: "InvalidAuthenticationToken",
        message: message.to_owned(),
        detail: None,
    };
    let header = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let token = header
        .strip_prefix("Bearer ")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| unauthenticated("Access token is empty."))?;
    let jwt = crate::jwt::decode(token)
        .map_err(|_| unauthenticated("IDX14100: JWT is not well formed."))?;
    if !jwt.verify(key) {
        return Err(unauthenticated(
            "Access token validation failure. Invalid signature.",
        ));
    }
    let claims = &jwt.claims;
    // This cloud's Graph only: a token for another cloud's Graph is refused like any foreign one.
    if claims["aud"] != cloud.graph() && claims["aud"] != GRAPH_APP_ID {
        return Err(unauthenticated(
            "Access token validation failure. Invalid audience.",
        ));
    }
    let exp = claims["exp"].as_i64().unwrap_or(0);
    let nbf = claims["nbf"].as_i64().unwrap_or(0);
    if now >= exp || now + 300 < nbf {
        return Err(unauthenticated(
            "Lifetime validation failed, the token is expired.",
        ));
    }
    if claims["tid"] != tenant.id.as_str() {
        return Err(unauthenticated(
            "Access token validation failure. Invalid issuer.",
        ));
    }
    let oid = claims["oid"].as_str().unwrap_or_default();
    let user = tenant
        .users
        .iter()
        .find(|u| u.id == oid)
        .map(|u| tenant.with_active_roles(u))
        .ok_or_else(|| unauthenticated("The user of this token no longer exists."))?;
    let scopes = claims["scp"]
        .as_str()
        .map(|s| s.split(' ').map(str::to_owned).collect())
        .unwrap_or_default();
    Ok(Caller { user, scopes })
}

/// The tenant id (`tid`) a bearer token names, read without checking it: which tenant a Graph
/// request is for (the checks then run against that tenant).
pub fn token_tenant(headers: &HeaderMap) -> Option<String> {
    let token = headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    let jwt = crate::jwt::decode(token).ok()?;
    jwt.claims["tid"].as_str().map(str::to_owned)
}

/// Microsoft Graph's application id (the `aud` of v2 Graph tokens).
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// The directory roles a user holds, as `/me/transitiveMemberOf` lists them.
pub fn directory_roles(user: &User) -> Vec<Value> {
    user.roles
        .iter()
        .map(|template| {
            serde_json::json!({
                "@odata.type": "#microsoft.graph.directoryRole",
                // Stable per role (a tenant's directoryRole objects do not change between reads).
                "id": template,
                "roleTemplateId": template,
                "displayName": roles::name(template),
                "description": null,
                "deletedDateTime": null,
            })
        })
        .collect()
}
