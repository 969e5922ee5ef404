//! The tenant's directory as Graph sees it, and the Graph semantics the product depends on
//! (<https://learn.microsoft.com/graph/api/overview> for the operations,
//! <https://learn.microsoft.com/graph/errors> and <https://learn.microsoft.com/graph/throttling>
//! for the failures). Pure data and rules: the HTTP layer in
//! `graph.rs` only decodes requests and encodes answers.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::ids;

/// Office 365 Exchange Online's appId, the same in every tenant.
pub const EXCHANGE_APP_ID: &str = "00000002-0000-0ff1-ce00-000000000000";
/// `Exchange.ManageAsApp`.
pub const MANAGE_AS_APP: &str = "dc50a0fb-09a3-484d-be87-e023b12c6440";
/// `restrictForAppsCreatedAfterDateTime` when a fixture names none (2019-01-01): every app.
pub const POLICY_DEFAULT_AFTER: i64 = 1_546_300_800;
/// The default access role: an assignment to a resource that declares no app roles.
pub const DEFAULT_ACCESS_ROLE: &str = "00000000-0000-0000-0000-000000000000";
/// Graph's own default for `signInAudience` when a create does not set it.
pub const DEFAULT_AUDIENCE: &str = "AzureADandPersonalMicrosoftAccount";

/// Entra role template ids the simulator knows
/// (<https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference>).
pub mod roles {
    /// Global Administrator.
    pub const GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";
    /// Privileged Role Administrator.
    pub const PRIVILEGED_ROLE_ADMIN: &str = "e8611ab8-c189-46e8-94e1-60213ab1f814";
    /// Application Administrator.
    pub const APPLICATION_ADMIN: &str = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3";
    /// Cloud Application Administrator.
    pub const CLOUD_APPLICATION_ADMIN: &str = "158c047a-c907-4556-b7ef-446551a6b5f7";
    /// Exchange Administrator.
    pub const EXCHANGE_ADMIN: &str = "29232cdf-9323-42fd-ade2-1d097af3e4de";
    /// Application Developer.
    pub const APPLICATION_DEVELOPER: &str = "cf1c38e5-3621-4004-a7cb-879624dced7c";
    /// Global Reader.
    pub const GLOBAL_READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";
    /// Security Administrator.
    pub const SECURITY_ADMIN: &str = "194ae4cb-b126-40b2-bd5b-6091b380977d";
    /// Security Reader.
    pub const SECURITY_READER: &str = "5d6b6bb7-de71-4623-b4af-96380a352509";
    /// Exchange Recipient Administrator.
    pub const EXCHANGE_RECIPIENT_ADMIN: &str = "31392ffb-586c-42d1-9346-e59415a2cc4e";
    /// Helpdesk Administrator.
    pub const HELPDESK_ADMIN: &str = "729827e3-9c14-49f7-bb1b-9608f156bbb8";
    /// Compliance Administrator.
    pub const COMPLIANCE_ADMIN: &str = "17315797-102d-40b4-93e0-432062caca18";
    /// Reports Reader.
    pub const REPORTS_READER: &str = "4a5d8f65-41da-4de4-8968-e035b65339cf";
    /// Security Operator.
    pub const SECURITY_OPERATOR: &str = "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f";
    /// SharePoint Administrator.
    pub const SHAREPOINT_ADMIN: &str = "f28a1f50-f6e7-4571-818b-6a12f2af6b6c";
    /// Teams Administrator.
    pub const TEAMS_ADMIN: &str = "69091246-20e8-4a56-aa4d-066075b2a7a8";

    /// The display name of a role template the simulator knows.
    pub fn name(template: &str) -> &'static str {
        match template {
            GLOBAL_ADMIN => "Global Administrator",
            PRIVILEGED_ROLE_ADMIN => "Privileged Role Administrator",
            APPLICATION_ADMIN => "Application Administrator",
            CLOUD_APPLICATION_ADMIN => "Cloud Application Administrator",
            EXCHANGE_ADMIN => "Exchange Administrator",
            APPLICATION_DEVELOPER => "Application Developer",
            GLOBAL_READER => "Global Reader",
            SECURITY_ADMIN => "Security Administrator",
            SECURITY_READER => "Security Reader",
            EXCHANGE_RECIPIENT_ADMIN => "Exchange Recipient Administrator",
            HELPDESK_ADMIN => "Helpdesk Administrator",
            COMPLIANCE_ADMIN => "Compliance Administrator",
            REPORTS_READER => "Reports Reader",
            SECURITY_OPERATOR => "Security Operator",
            SHAREPOINT_ADMIN => "SharePoint Administrator",
            TEAMS_ADMIN => "Teams Administrator",
            _ => "Directory role",
        }
    }
}

/// A verified domain of the tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Domain {
    /// e.g. `contoso.onmicrosoft.com`.
    pub name: String,
    /// The `*.onmicrosoft.com` domain made with the tenant.
    pub is_initial: bool,
    /// The default domain for new users.
    pub is_default: bool,
}

/// A person who can sign in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Object id.
    pub id: String,
    /// Sign-in name.
    pub user_principal_name: String,
    /// Display name.
    pub display_name: String,
    /// Role template ids of the Entra roles the user holds.
    #[serde(skip_serializing)]
    pub roles: Vec<String>,
    /// Graph's `userType`: set (`Guest`) only on B2B guests, so other users read as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<String>,
    /// For a B2B guest: the account they sign in with, in their home tenant.
    #[serde(default, skip_serializing)]
    pub home: Option<Home>,
}

/// A B2B guest's home account (Learn: "Properties of a Microsoft Entra B2B collaboration user").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Home {
    /// The home tenant's id.
    pub tenant_id: String,
    /// The account's object id there.
    pub user_id: String,
    /// The sign-in name there (what the guest types, and `preferred_username`).
    pub user_principal_name: String,
}

/// A certificate registered on an application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyCredential {
    /// Server-assigned when the write does not name one.
    #[serde(default)]
    pub key_id: Option<String>,
    /// `AsymmetricX509Cert`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `Verify`.
    pub usage: String,
    /// Base64 DER certificate; Graph returns it only on `$select=keyCredentials` of one object.
    #[serde(default)]
    pub key: Option<String>,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Validity start.
    #[serde(default)]
    pub start_date_time: Option<String>,
    /// Validity end.
    #[serde(default)]
    pub end_date_time: Option<String>,
    /// Defaults to the certificate thumbprint.
    #[serde(default)]
    pub custom_key_identifier: Option<String>,
}

/// A client secret registered on an application (Learn: "passwordCredential resource type"):
/// reads carry `hint` (the first characters) but never `secretText`, which Graph returns only
/// once, when `addPassword` makes the secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordCredential {
    /// Id of the secret.
    pub key_id: String,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// The first three characters of the secret.
    #[serde(default)]
    pub hint: Option<String>,
    /// Validity start.
    pub start_date_time: String,
    /// Validity end.
    pub end_date_time: String,
    /// Always null for secrets made by `addPassword`.
    #[serde(default)]
    pub custom_key_identifier: Option<String>,
    /// The secret itself: kept by the simulator, never serialised (never on a read).
    #[serde(skip)]
    pub secret_text: Option<String>,
}

/// An app registration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    /// Object id.
    pub id: String,
    /// Application (client) id.
    pub app_id: String,
    /// Display name.
    pub display_name: String,
    /// Alternate key for upserts; immutable once set, unique in the tenant.
    #[serde(default)]
    pub unique_name: Option<String>,
    /// Who may sign in to it.
    pub sign_in_audience: String,
    /// Certificates.
    pub key_credentials: Vec<KeyCredential>,
    /// Client secrets (never with their `secretText`).
    #[serde(default)]
    pub password_credentials: Vec<PasswordCredential>,
    /// When the application was created (UTC, `Z`).
    #[serde(default)]
    pub created_date_time: Option<String>,
    /// Declared API permissions (kept as Graph's JSON: the simulator stores what it is sent).
    pub required_resource_access: Vec<Value>,
    /// `spa.redirectUris`.
    pub spa: Value,
}

/// A service principal (enterprise application, or managed identity).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipal {
    /// Object id: what `principalId` and `resourceId` take.
    pub id: String,
    /// The application's (client) id.
    pub app_id: String,
    /// Display name.
    pub display_name: String,
    /// `Application` or `ManagedIdentity`.
    pub service_principal_type: String,
    /// The tenant where the application object lives (another tenant for a multi-tenant
    /// vendor app; Microsoft's services tenant for first-party apps and managed identities).
    #[serde(default)]
    pub app_owner_organization_id: Option<String>,
    /// For managed identities: the Azure resource ids.
    pub alternative_names: Vec<String>,
    /// App roles this principal offers as a resource.
    pub app_roles: Vec<Value>,
    /// Delegated permissions this principal offers as a resource (`id`, `value`, `type`
    /// `Admin`/`User`, `adminConsentDisplayName`, `isEnabled`, …): Microsoft Graph's in every
    /// fixture, empty for others (Graph returns `[]` then too).
    #[serde(default)]
    pub oauth2_permission_scopes: Vec<Value>,
}

/// An application permission granted to a principal (admin consent).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRoleAssignment {
    /// Opaque id.
    pub id: String,
    /// The role granted.
    pub app_role_id: String,
    /// Who got it (service principal object id).
    pub principal_id: String,
    /// The principal's display name.
    pub principal_display_name: String,
    /// Always `ServicePrincipal` here.
    pub principal_type: String,
    /// When the grant was made (UTC, `Z`).
    #[serde(default)]
    pub created_date_time: Option<String>,
    /// The resource's service principal object id.
    pub resource_id: String,
    /// The resource's display name.
    pub resource_display_name: String,
}

/// A directory role held by a principal (unified RBAC).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignment {
    /// Opaque id.
    pub id: String,
    /// Role template id.
    pub role_definition_id: String,
    /// The principal's object id.
    pub principal_id: String,
    /// `/` for tenant-wide.
    pub directory_scope_id: String,
}

/// The whole simulated tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    /// Tenant id.
    pub id: String,
    /// Organisation name.
    pub display_name: String,
    /// Verified domains.
    pub domains: Vec<Domain>,
    /// People.
    pub users: Vec<User>,
    /// App registrations.
    pub applications: Vec<Application>,
    /// Service principals.
    pub service_principals: Vec<ServicePrincipal>,
    /// Application permissions granted.
    pub app_role_assignments: Vec<AppRoleAssignment>,
    /// Directory roles of service principals.
    pub role_assignments: Vec<RoleAssignment>,
    /// The tenant app-management policy's maximum certificate lifetime, if any.
    pub max_certificate_lifetime_days: Option<u32>,
    /// The policy's `restrictForAppsCreatedAfterDateTime` (Unix seconds): applications created
    /// before it are exempt. `None`: 2019-01-01, i.e. every application.
    #[serde(default)]
    pub policy_restrict_after: Option<i64>,
    /// Credential sign-ins the usage report is built from
    /// (`/beta/reports/appCredentialSignInActivities`).
    #[serde(default)]
    pub credential_sign_ins: Vec<crate::report::CredentialSignIn>,
    /// Security groups (role-assignable ones can hold directory roles).
    #[serde(default)]
    pub groups: Vec<crate::directory::Group>,
    /// PIM-eligible (not active) role assignments.
    #[serde(default)]
    pub role_eligibilities: Vec<crate::directory::RoleEligibility>,
    /// Custom directory role definitions.
    #[serde(default)]
    pub role_definitions: Vec<crate::directory::RoleDefinition>,
    /// Consent given to clients for delegated Graph permissions.
    #[serde(default)]
    pub consents: Vec<crate::signin::Consent>,
    /// SharePoint sites (with their per-app permissions), in tenants with SharePoint Online.
    #[serde(default)]
    pub sites: Vec<crate::sites::Site>,
    /// Delegated permission grants made through Graph (`POST /oauth2PermissionGrants`), as
    /// Graph returns them; each also recorded in `consents`.
    #[serde(default)]
    pub permission_grants: Vec<Value>,
    /// Seconds a newly created object stays invisible to dependent calls (directory
    /// replication,
    /// <https://devblogs.microsoft.com/identity/designing-for-eventual-consistency-for-microsoft-entra/>).
    /// A fault, off (0) unless asked for.
    #[serde(skip)]
    pub replication_lag_secs: i64,
    /// When each object created since start was created (appId or object id → Unix ms).
    #[serde(skip)]
    pub created: std::collections::HashMap<String, i64>,
    /// Seconds new objects stay out of collection and alternate-key reads (a fault).
    #[serde(skip)]
    pub list_lag_secs: i64,
    /// Seconds reads of a PATCHed application still see the version before it (a fault).
    #[serde(skip)]
    pub stale_read_secs: i64,
    /// When objects were created (object id → simulated Unix ms), for the list lag.
    #[serde(skip)]
    pub born: std::collections::HashMap<String, i64>,
    /// Applications as they were before their latest PATCH, and until when reads see that.
    #[serde(skip)]
    pub stale: std::collections::HashMap<String, (Application, i64)>,
    /// The simulated time (real time plus what tests advanced it by).
    #[serde(skip)]
    pub clock: crate::clock::Clock,
}

/// A Graph error: HTTP status, `error.code`, message, and directory `details` when Graph sends
/// them (<https://learn.microsoft.com/graph/errors>).
#[derive(Debug, Clone, PartialEq)]
pub struct GraphError {
    /// HTTP status.
    pub status: u16,
    /// `error.code`.
    pub code: &'static str,
    /// `error.message`.
    pub message: String,
    /// `error.details[0].code`, when present.
    pub detail: Option<&'static str>,
}

impl GraphError {
    /// 400 Request_BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            code: "Request_BadRequest",
            message: message.into(),
            detail: None,
        }
    }

    /// 404 Request_ResourceNotFound, Graph's wording.
    pub fn not_found(id: &str) -> Self {
        Self {
            status: 404,
            code: "Request_ResourceNotFound",
            message: format!(
                "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
            ),
            detail: None,
        }
    }

    /// 403 Authorization_RequestDenied.
    pub fn denied() -> Self {
        Self {
            status: 403,
            code: "Authorization_RequestDenied",
            message: "Insufficient privileges to complete the operation.".into(),
            detail: None,
        }
    }

    /// Graph's error body.
    pub fn body(&self, request_id: &str) -> Value {
        let mut error = json!({
            "code": self.code,
            "message": self.message,
            "innerError": { "date": ids::now_rfc3339(), "request-id": request_id, "client-request-id": request_id },
        });
        if let Some(detail) = self.detail {
            error["details"] =
                json!([{ "code": detail, "message": self.message, "target": "appId" }]);
        }
        json!({ "error": error })
    }
}

impl Tenant {
    /// Whether `id` was created so recently that replication has not reached the replica that
    /// serves dependent calls yet.
    fn replicating(&self, id: &str) -> bool {
        self.created
            .get(id)
            .is_some_and(|at| self.clock.now_ms() - at < self.replication_lag_secs * 1000)
    }

    /// The initial `*.onmicrosoft.com` domain.
    pub fn initial_domain(&self) -> Option<&str> {
        self.domains
            .iter()
            .find(|d| d.is_initial)
            .map(|d| d.name.as_str())
    }

    /// `GET /organization` (one organisation, with its verified domains).
    pub fn organization(&self) -> Value {
        json!({ "value": [{ "id": self.id, "displayName": self.display_name, "verifiedDomains": self.domains }] })
    }

    /// The Exchange Online service principal, if the tenant has Exchange Online.
    pub fn exchange(&self) -> Option<&ServicePrincipal> {
        self.service_principals
            .iter()
            .find(|sp| sp.app_id == EXCHANGE_APP_ID)
    }

    /// An application by object id.
    pub fn application(&self, id: &str) -> Result<&Application, GraphError> {
        self.applications
            .iter()
            .find(|a| a.id == id)
            .ok_or_else(|| GraphError::not_found(id))
    }

    /// An application by object id as a read sees it (list lag, stale reads).
    pub fn readable_application(&self, id: &str) -> Result<&Application, GraphError> {
        let app = self.application(id)?;
        if !self.listed(&app.id) {
            return Err(GraphError::not_found(id));
        }
        Ok(self.as_read(app))
    }

    /// A `uniqueName` another application already has.
    fn unique_name_taken(&self, name: &str, except: &str) -> Result<(), GraphError> {
        if self.applications.iter().any(|a| {
            a.id != except
                && a.unique_name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
        }) {
            return Err(GraphError::bad_request(
                "Another object with the same value for property uniqueName already exists.",
            ));
        }
        Ok(())
    }

    /// `POST /applications`: a new registration; `signInAudience` defaults as Graph's does.
    pub fn create_application(&mut self, body: &Value) -> Result<Application, GraphError> {
        let display_name = body["displayName"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| GraphError::bad_request("Property 'displayName' is required."))?;
        let key_credentials = self.key_credentials(&body["keyCredentials"], None)?;
        let unique_name = body["uniqueName"].as_str().map(str::to_owned);
        if let Some(name) = &unique_name {
            self.unique_name_taken(name, "")?;
        }
        let app = Application {
            id: ids::guid(),
            app_id: ids::guid(),
            display_name: display_name.to_owned(),
            unique_name,
            sign_in_audience: body["signInAudience"]
                .as_str()
                .unwrap_or(DEFAULT_AUDIENCE)
                .to_owned(),
            key_credentials,
            password_credentials: vec![],
            created_date_time: Some(ids::rfc3339(self.clock.now())),
            required_resource_access: array(&body["requiredResourceAccess"]),
            spa: body
                .get("spa")
                .cloned()
                .unwrap_or_else(|| json!({ "redirectUris": [] })),
        };
        self.created.insert(app.app_id.clone(), self.clock.now_ms());
        self.born(&app.id);
        self.applications.push(app.clone());
        Ok(app)
    }

    /// `PATCH /applications/{id}`: collections given in the body replace the stored ones whole,
    /// as Graph's PATCH does ("including only the new certificate will replace the existing").
    pub fn update_application(&mut self, id: &str, body: &Value) -> Result<(), GraphError> {
        let current = self.application(id)?.clone();
        let created = current
            .created_date_time
            .as_deref()
            .and_then(ids::parse_rfc3339);
        let key_credentials = match body.get("keyCredentials") {
            Some(list) => Some(self.key_credentials(list, created)?),
            None => None,
        };
        if let Some(name) = body["uniqueName"].as_str() {
            match &current.unique_name {
                Some(set) if set != name => {
                    return Err(GraphError::bad_request(
                        "Property 'uniqueName' cannot be changed once it is set.",
                    ));
                }
                Some(_) => {}
                None => self.unique_name_taken(name, id)?,
            }
        }
        self.before_patch(&current);
        let app = self
            .applications
            .iter_mut()
            .find(|a| a.id == id)
            .ok_or_else(|| GraphError::not_found(id))?;
        if app.unique_name.is_none()
            && let Some(name) = body["uniqueName"].as_str()
        {
            app.unique_name = Some(name.to_owned());
        }
        if let Some(list) = key_credentials {
            app.key_credentials = list;
        }
        if let Some(list) = body.get("requiredResourceAccess") {
            app.required_resource_access = array(list);
        }
        if let Some(name) = body["displayName"].as_str() {
            app.display_name = name.to_owned();
        }
        if let Some(audience) = body["signInAudience"].as_str() {
            app.sign_in_audience = audience.to_owned();
        }
        Ok(())
    }

    /// An application as Graph returns it: `key` is null unless this is a single-object read
    /// with `$select=keyCredentials`.
    pub fn application_json(app: &Application, with_keys: bool) -> Value {
        let mut value = serde_json::to_value(app).unwrap_or(Value::Null);
        if !with_keys && let Some(keys) = value["keyCredentials"].as_array_mut() {
            for key in keys {
                key["key"] = Value::Null;
            }
        }
        value
    }
}

fn array(value: &Value) -> Vec<Value> {
    value.as_array().cloned().unwrap_or_default()
}

impl Tenant {
    /// A service principal by object id.
    pub fn service_principal(&self, id: &str) -> Result<&ServicePrincipal, GraphError> {
        self.service_principals
            .iter()
            .find(|sp| sp.id == id)
            .ok_or_else(|| GraphError::not_found(id))
    }

    /// A service principal by object id, as a read right after its creation sees it.
    pub fn visible_service_principal(&self, id: &str) -> Result<&ServicePrincipal, GraphError> {
        if self.replicating(id) {
            return Err(GraphError::not_found(id));
        }
        self.service_principal(id)
    }

    /// `GET /policies/defaultAppManagementPolicy` (tenantAppManagementPolicy).
    pub fn app_management_policy(&self) -> Value {
        let keys: Vec<Value> = self
            .max_certificate_lifetime_days
            .map(|days| {
                json!({
                    "restrictionType": "asymmetricKeyLifetime",
                    "maxLifetime": format!("P{days}D"),
                    "restrictForAppsCreatedAfterDateTime": ids::rfc3339(self.policy_restrict_after.unwrap_or(POLICY_DEFAULT_AFTER)),
                })
            })
            .into_iter()
            .collect();
        json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#policies/defaultAppManagementPolicy/$entity",
            "id": "00000000-0000-0000-0000-000000000000",
            "displayName": "Default app management tenant policy",
            "description": "Default tenant policy that enforces app management restrictions on applications and service principals.",
            "isEnabled": !keys.is_empty(),
            "applicationRestrictions": { "passwordCredentials": [], "keyCredentials": keys },
            "servicePrincipalRestrictions": { "passwordCredentials": [], "keyCredentials": [] },
        })
    }

    /// `POST /servicePrincipals {"appId"}`: the app must exist in this tenant.
    pub fn create_service_principal(
        &mut self,
        body: &Value,
    ) -> Result<ServicePrincipal, GraphError> {
        let app_id = body["appId"].as_str().unwrap_or_default();
        let visible = !self.replicating(app_id);
        let app = self.applications.iter().find(|a| a.app_id == app_id && visible).ok_or_else(|| GraphError {
            status: 400,
            code: "Request_BadRequest",
            message: format!("The appId '{app_id}' of the service principal does not reference a valid application object."),
            detail: Some("NoBackingApplicationObject"),
        })?;
        if self.service_principals.iter().any(|sp| sp.app_id == app_id) {
            return Err(GraphError {
                status: 409,
                code: "Request_MultipleObjectsWithSameKeyValue",
                message: "The service principal cannot be created, updated, or restored because the service principal name is already in use.".into(),
                detail: None,
            });
        }
        let sp = ServicePrincipal {
            id: ids::guid(),
            app_id: app_id.to_owned(),
            display_name: app.display_name.clone(),
            service_principal_type: "Application".into(),
            app_owner_organization_id: Some(self.id.clone()),
            alternative_names: vec![],
            app_roles: vec![],
            oauth2_permission_scopes: vec![],
        };
        self.created.insert(sp.id.clone(), self.clock.now_ms());
        self.born(&sp.id);
        self.service_principals.push(sp.clone());
        Ok(sp)
    }

    /// `POST /servicePrincipals/{resource}/appRoleAssignedTo`: admin consent to an app role.
    pub fn assign_app_role(
        &mut self,
        resource: &str,
        body: &Value,
    ) -> Result<AppRoleAssignment, GraphError> {
        let text = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
        let (principal_id, resource_id, app_role_id) =
            (text("principalId"), text("resourceId"), text("appRoleId"));
        if resource_id != resource {
            return Err(GraphError::bad_request(
                "resourceId must be the service principal in the URL.",
            ));
        }
        let resource_sp = self.service_principal(resource)?.clone();
        if self.replicating(&principal_id) {
            return Err(GraphError::not_found(&principal_id));
        }
        let principal = self.service_principal(&principal_id)?.clone();
        // The role must be one the resource offers (the default access role, all zeros, only
        // when it offers none), on every resource alike.
        let offered = resource_sp
            .app_roles
            .iter()
            .any(|r| r["id"] == app_role_id.as_str())
            || (resource_sp.app_roles.is_empty() && app_role_id == DEFAULT_ACCESS_ROLE);
        if !offered {
            return Err(GraphError::bad_request(format!(
                "Permission being assigned was not found on application '{}'.",
                resource_sp.app_id
            )));
        }
        if self.app_role_assignments.iter().any(|a| {
            a.principal_id == principal_id
                && a.resource_id == resource_id
                && a.app_role_id == app_role_id
        }) {
            return Err(GraphError::bad_request(
                "Permission being assigned already exists on the object.",
            ));
        }
        let assignment = AppRoleAssignment {
            id: ids::opaque_id(),
            app_role_id,
            principal_id,
            principal_display_name: principal.display_name,
            principal_type: "ServicePrincipal".into(),
            created_date_time: Some(ids::rfc3339(self.clock.now())),
            resource_id,
            resource_display_name: resource_sp.display_name,
        };
        self.born(&assignment.id);
        self.app_role_assignments.push(assignment.clone());
        Ok(assignment)
    }

    /// `POST /servicePrincipals/{principal}/appRoleAssignments`: the same grant, addressed from
    /// the principal's side (its `principalId` must be the one in the URL).
    pub fn assign_app_role_from(
        &mut self,
        principal: &str,
        body: &Value,
    ) -> Result<AppRoleAssignment, GraphError> {
        if body["principalId"].as_str() != Some(principal) {
            return Err(GraphError::bad_request(
                "principalId must be the service principal in the URL.",
            ));
        }
        let resource = body["resourceId"].as_str().unwrap_or_default().to_owned();
        self.service_principal(principal)?;
        self.assign_app_role(&resource, body)
    }

    /// `POST /roleManagement/directory/roleAssignments`.
    pub fn assign_directory_role(&mut self, body: &Value) -> Result<RoleAssignment, GraphError> {
        let text = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
        let (role, principal, scope) = (
            text("roleDefinitionId"),
            text("principalId"),
            text("directoryScopeId"),
        );
        if scope.is_empty() {
            return Err(GraphError::bad_request(
                "Either directoryScopeId or appScopeId must be specified.",
            ));
        }
        // Graph answers an unknown role definition as an unknown resource (choice: 404
        // Request_ResourceNotFound, see README).
        if !self.role_definition_exists(&role) {
            return Err(GraphError::not_found(&role));
        }
        if self.replicating(&principal)
            || (self.service_principal(&principal).is_err()
                && !self.users.iter().any(|u| u.id == principal))
        {
            return Err(GraphError::not_found(&principal));
        }
        if self.role_assignments.iter().any(|r| {
            r.role_definition_id == role
                && r.principal_id == principal
                && r.directory_scope_id == scope
        }) {
            return Err(GraphError::bad_request(
                "A conflicting object with one or more of the specified property values is present in the directory.",
            ));
        }
        let assignment = RoleAssignment {
            id: ids::opaque_id(),
            role_definition_id: role,
            principal_id: principal,
            directory_scope_id: scope,
        };
        self.born(&assignment.id);
        self.role_assignments.push(assignment.clone());
        Ok(assignment)
    }
}
