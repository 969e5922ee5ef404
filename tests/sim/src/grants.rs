//! Microsoft Graph's service principal with its delegated permissions (what a script looks
//! permission ids up on: Learn, "Microsoft Graph permissions reference", reads them with
//! `GET /servicePrincipals(appId='00000003-0000-0000-c000-000000000000')?$select=id,oauth2PermissionScopes`),
//! and delegated permission grants, `POST /oauth2PermissionGrants` (Learn: "Create
//! oAuth2PermissionGrant"), recorded as the consent the sign-in page records, so a later sign-in
//! of that client needs no consent for the granted scopes.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::access::{Caller, GRAPH_APP_ID, Op};
use crate::graph::{Shared, error, guarded};
use crate::ids;
use crate::signin::Consent;
use crate::tenant::{GraphError, ServicePrincipal, Tenant, roles};

/// Delegated permissions Microsoft Graph's service principal offers in the simulator: `value`,
/// `id`, `type` (`Admin`: only an administrator may consent; `User`: users may too) and
/// `adminConsentDisplayName`. The ids are the same in every tenant (Learn: "Microsoft Graph
/// permissions reference", *Identifier* column, delegated side; the display names and types as
/// Graph's service principal publishes them).
pub const GRAPH_DELEGATED: [(&str, &str, &str, &str); 12] = [
    (
        "User.Read",
        "e1fe6dd8-ba31-4d61-89e7-88639da4683d",
        "User",
        "Sign in and read user profile",
    ),
    (
        "Application.Read.All",
        "c79f8feb-a9db-4090-85f9-90d820caa0eb",
        "Admin",
        "Read applications",
    ),
    (
        "Application.ReadWrite.All",
        "bdfbf15f-ee85-4955-8675-146e8e5296b5",
        "Admin",
        "Read and write all applications",
    ),
    (
        "AppRoleAssignment.ReadWrite.All",
        "84bccea3-f856-4a8a-967b-dbe0a3d53a64",
        "Admin",
        "Manage app permission grants and app role assignments",
    ),
    (
        "RoleManagement.ReadWrite.Directory",
        "d01b97e9-cbc0-49fe-810a-750afd5527a3",
        "Admin",
        "Read and write directory RBAC settings",
    ),
    (
        "Policy.Read.All",
        "572fea84-0151-49b2-9301-11cb16974376",
        "Admin",
        "Read your organization's policies",
    ),
    (
        "AuditLog.Read.All",
        "e4c9e354-4dc5-45b8-9e7c-e1393b0b1a20",
        "Admin",
        "Read audit log data",
    ),
    (
        "DelegatedPermissionGrant.ReadWrite.All",
        "41ce6ca6-6826-4807-84f1-1c82854f7ee5",
        "Admin",
        "Manage all delegated permission grants",
    ),
    (
        "Directory.Read.All",
        "06da0dbc-49e2-44d2-8312-53f166ab848a",
        "Admin",
        "Read directory data",
    ),
    (
        "Directory.ReadWrite.All",
        "c5366453-9fb0-48a5-a156-24f0c49a4b84",
        "Admin",
        "Read and write directory data",
    ),
    (
        "Directory.AccessAsUser.All",
        "0e263e50-5827-48a4-b97c-d940288653c7",
        "Admin",
        "Access directory as the signed in user",
    ),
    // What a page may ask for to grant per-site access (`POST /sites/{id}/permissions`).
    (
        "Sites.FullControl.All",
        crate::resources::GRAPH_DELEGATED_SITES_FULL_CONTROL,
        "Admin",
        "Have full control of all site collections",
    ),
];

/// The name of a delegated Graph permission id the simulator knows.
pub fn delegated_name(id: &str) -> Option<&'static str> {
    GRAPH_DELEGATED
        .iter()
        .find(|(_, known, _, _)| known.eq_ignore_ascii_case(id))
        .map(|(name, ..)| *name)
}

/// Microsoft Graph's service principal as every tenant has it: owned by Microsoft's services
/// tenant, offering `GRAPH_DELEGATED` and the application permissions of
/// `resources::GRAPH_APP_ROLES`.
pub fn graph_sp() -> ServicePrincipal {
    ServicePrincipal {
        id: ids::guid(),
        app_id: GRAPH_APP_ID.into(),
        display_name: "Microsoft Graph".into(),
        service_principal_type: "Application".into(),
        app_owner_organization_id: Some(crate::fixtures::MICROSOFT_SERVICES_TENANT.into()),
        alternative_names: vec![],
        app_roles: crate::resources::app_roles(crate::resources::GRAPH_APP_ROLES),
        oauth2_permission_scopes: GRAPH_DELEGATED
            .iter()
            .map(|(value, id, kind, display)| {
                json!({
                    "id": id,
                    "value": value,
                    "type": kind,
                    "adminConsentDisplayName": display,
                    "isEnabled": true,
                })
            })
            .collect(),
    }
}

/// Roles whose permission-grant policy covers tenant-wide consent to any delegated permission of
/// any API, Microsoft Graph's included (Learn: "Grant tenant-wide admin consent to an
/// application", prerequisites; "Least privileged roles by task": "Consent to any delegated
/// permissions — Cloud Application Administrator, Application Administrator").
const TENANT_WIDE: [&str; 4] = [
    roles::GLOBAL_ADMIN,
    roles::PRIVILEGED_ROLE_ADMIN,
    roles::APPLICATION_ADMIN,
    roles::CLOUD_APPLICATION_ADMIN,
];

fn invalid(property: &str) -> GraphError {
    GraphError::bad_request(format!(
        "Invalid value specified for property '{property}' of resource 'OAuth2PermissionGrant'."
    ))
}

impl Tenant {
    /// `POST /oauth2PermissionGrants` for `caller` (whose scopes and roles already allow the
    /// operation): checks the body and who may grant what, then records the grant and the
    /// consent it stands for.
    pub fn grant_delegated(&mut self, caller: &Caller, body: &Value) -> Result<Value, GraphError> {
        let text = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
        let (client_id, consent_type, resource_id, scope) = (
            text("clientId"),
            text("consentType"),
            text("resourceId"),
            text("scope"),
        );
        let principal_id = body["principalId"].as_str().map(str::to_owned);
        // Objects created moments ago may not have reached the replica yet (as reads).
        let client = self
            .visible_service_principal(&client_id)
            .map_err(|_| invalid("clientId"))?
            .clone();
        let resource = self
            .visible_service_principal(&resource_id)
            .map_err(|_| invalid("resourceId"))?
            .clone();
        match (consent_type.as_str(), &principal_id) {
            ("AllPrincipals", None) => {}
            ("Principal", Some(p)) if self.users.iter().any(|u| &u.id == p) => {}
            ("AllPrincipals" | "Principal", _) => return Err(invalid("principalId")),
            _ => return Err(invalid("consentType")),
        }
        let names: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
        let offered = |name: &str| {
            resource.oauth2_permission_scopes.iter().find(|s| {
                s["value"]
                    .as_str()
                    .is_some_and(|v| v.eq_ignore_ascii_case(name))
            })
        };
        if names.is_empty() || names.iter().any(|n| offered(n).is_none()) {
            return Err(invalid("scope"));
        }
        let roles = &caller.user.roles;
        let tenant_wide = roles.iter().any(|r| TENANT_WIDE.contains(&r.as_str()));
        // Anyone else the operation allows (Application Developer) grants only for themselves,
        // and only what users may consent to (the default user consent policy).
        let for_self = principal_id.as_deref() == Some(caller.user.id.as_str())
            && names
                .iter()
                .all(|n| offered(n).is_some_and(|s| s["type"] == "User"));
        if !tenant_wide && !for_self {
            return Err(GraphError::denied());
        }
        if self.permission_grants.iter().any(|g| {
            g["clientId"] == client_id.as_str()
                && g["resourceId"] == resource_id.as_str()
                && g["consentType"] == consent_type.as_str()
                && g["principalId"].as_str() == principal_id.as_deref()
        }) {
            return Err(GraphError {
                status: 409,
                code: "Request_MultipleObjectsWithSameKeyValue",
                message: "Permission entry already exists.".into(),
                detail: None,
            });
        }
        let grant = json!({
            "id": ids::opaque_id(),
            "clientId": client_id,
            "consentType": consent_type,
            "principalId": principal_id,
            "resourceId": resource_id,
            "scope": scope,
        });
        self.permission_grants.push(grant.clone());
        // Consent as the sign-in page records it (Graph permissions by name), so `/authorize`
        // and the token's `scp` honour the grant.
        // A grant of Azure Resource Manager's `user_impersonation` is ARM consent (`arm.rs`).
        if resource.app_id == crate::arm_fixtures::ASM_APP_ID {
            self.consents.push(Consent {
                client_id: client.app_id.clone(),
                user_id: principal_id.clone(),
                scopes: vec![crate::arm::CONSENT.to_owned()],
            });
        }
        if resource.app_id == GRAPH_APP_ID {
            self.consents.push(Consent {
                client_id: client.app_id.clone(),
                user_id: principal_id,
                scopes: names
                    .iter()
                    .filter_map(|n| offered(n).and_then(|s| s["value"].as_str()))
                    .map(str::to_owned)
                    .collect(),
            });
        }
        Ok(grant)
    }
}

/// `POST /v1.0/oauth2PermissionGrants`.
pub async fn create(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    guarded(
        &state,
        &headers,
        Op::GrantDelegated,
        |sim, caller| match sim.tenant.grant_delegated(caller, &body) {
            Ok(mut grant) => {
                grant["@odata.context"] = json!(format!(
                    "{}/v1.0/$metadata#oauth2PermissionGrants/$entity",
                    sim.cloud.graph()
                ));
                (StatusCode::CREATED, Json(grant)).into_response()
            }
            Err(e) => error(e),
        },
    )
}
