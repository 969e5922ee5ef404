//! The Graph objects the page reads, as far as it reads them. Collections the page must write
//! back unchanged (`keyCredentials`, `requiredResourceAccess`) stay raw JSON, so nothing Graph
//! sent is lost on the way back (existing certificates re-sent verbatim, as a PATCH replaces the
//! whole collection: <https://learn.microsoft.com/graph/applications-how-to-add-certificate>).

use serde::Deserialize;
use serde_json::Value;

/// `{"value": [...], "@odata.nextLink": "..."}`: one page of a collection
/// (<https://learn.microsoft.com/graph/paging>).
#[derive(Debug, Clone, Deserialize)]
pub struct Collection<T> {
    /// The items.
    pub value: Vec<T>,
    /// The next page's absolute URL, when there is one.
    #[serde(rename = "@odata.nextLink", alias = "nextLink", default)]
    pub next_link: Option<String>,
}

/// `GET /organization`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    /// Tenant id.
    pub id: String,
    /// Organisation name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Verified domains.
    #[serde(default)]
    pub verified_domains: Vec<VerifiedDomain>,
}

impl Organization {
    /// The initial `*.onmicrosoft.com` domain (`isInitial`), what `-Organization` wants.
    pub fn initial_domain(&self) -> Option<&str> {
        self.verified_domains
            .iter()
            .find(|d| d.is_initial)
            .map(|d| d.name.as_str())
    }
}

/// A verified domain.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedDomain {
    /// e.g. `contoso.onmicrosoft.com`.
    pub name: String,
    /// Made with the tenant.
    #[serde(default)]
    pub is_initial: bool,
}

/// `GET /me`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    /// Object id.
    pub id: String,
    /// Name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Sign-in name.
    pub user_principal_name: String,
}

/// An entry of `/me/transitiveMemberOf`: a group or a directory role.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Membership {
    /// `#microsoft.graph.directoryRole`, `#microsoft.graph.group`, …
    #[serde(rename = "@odata.type", default)]
    pub odata_type: Option<String>,
    /// For directory roles: the role template id.
    #[serde(default)]
    pub role_template_id: Option<String>,
}

/// An app registration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    /// Object id (what `/applications/{id}` takes).
    pub id: String,
    /// Application (client) id (what `-AppId` takes).
    #[serde(default)]
    pub app_id: String,
    /// Name.
    #[serde(default)]
    pub display_name: String,
    /// Certificates, raw (with `key` only on a single-object `$select=keyCredentials`).
    #[serde(default)]
    pub key_credentials: Vec<Value>,
    /// Declared API permissions, raw.
    #[serde(default)]
    pub required_resource_access: Vec<Value>,
    /// Client secrets, raw (Graph never returns their values on reads).
    #[serde(default)]
    pub password_credentials: Vec<Value>,
}

impl Application {
    /// Whether it declares `Exchange.ManageAsApp`.
    pub fn declares_manage_as_app(&self) -> bool {
        declares_manage_as_app(&self.required_resource_access)
    }
}

/// Whether a `requiredResourceAccess` list declares `Exchange.ManageAsApp` as an app role.
pub fn declares_manage_as_app(list: &[Value]) -> bool {
    list.iter().any(|r| {
        r["resourceAppId"] == crate::wellknown::EXCHANGE_APP_ID
            && r["resourceAccess"].as_array().is_some_and(|a| {
                a.iter().any(|x| {
                    x["id"]
                        .as_str()
                        .is_some_and(|id| id.eq_ignore_ascii_case(crate::wellknown::MANAGE_AS_APP))
                        && x["type"] == "Role"
                })
            })
    })
}

/// A certificate registered on an app, as shown to the admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateView {
    /// Its name (often the subject).
    pub display_name: String,
    /// `keyId`.
    pub key_id: String,
    /// `endDateTime`.
    pub end: String,
}

impl CertificateView {
    /// Reads the fields worth showing from a raw keyCredential.
    pub fn of(raw: &Value) -> Self {
        let text = |k: &str| raw[k].as_str().unwrap_or_default().to_owned();
        Self {
            display_name: text("displayName"),
            key_id: text("keyId"),
            end: text("endDateTime"),
        }
    }
}

/// A service principal (an app's, Exchange's, or a managed identity).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipal {
    /// Object id: what `principalId` and `resourceId` take.
    pub id: String,
    /// The application (client) id.
    #[serde(default)]
    pub app_id: String,
    /// Name.
    #[serde(default)]
    pub display_name: String,
    /// `Application`, `ManagedIdentity`, …
    #[serde(default)]
    pub service_principal_type: Option<String>,
    /// For managed identities: the Azure resource ids.
    #[serde(default)]
    pub alternative_names: Vec<String>,
    /// App roles it offers as a resource.
    #[serde(default)]
    pub app_roles: Vec<AppRole>,
}

impl ServicePrincipal {
    /// User-assigned managed identities carry `isExplicit=True` among their alternative names.
    pub fn user_assigned(&self) -> bool {
        self.alternative_names
            .iter()
            .any(|n| n.eq_ignore_ascii_case("isExplicit=True"))
    }

    /// A managed identity's Azure resource id, among its alternative names.
    pub fn resource_id(&self) -> Option<&str> {
        self.alternative_names
            .iter()
            .find(|n| n.starts_with("/subscriptions/"))
            .map(String::as_str)
    }
}

/// An app role a resource offers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRole {
    /// Role id.
    pub id: String,
    /// e.g. `Exchange.ManageAsApp`.
    #[serde(default)]
    pub value: Option<String>,
    /// What the API calls it.
    #[serde(default)]
    pub display_name: Option<String>,
    /// What it allows.
    #[serde(default)]
    pub description: Option<String>,
    /// `Application` for an application permission, `User` for an app role users get.
    #[serde(default)]
    pub allowed_member_types: Vec<String>,
    /// A disabled role can no longer be granted.
    #[serde(default = "enabled")]
    pub is_enabled: bool,
}

fn enabled() -> bool {
    true
}

impl AppRole {
    /// Whether it can be granted to an app (an application permission); a listing without
    /// member types is taken as one.
    pub fn for_applications(&self) -> bool {
        self.allowed_member_types.is_empty()
            || self
                .allowed_member_types
                .iter()
                .any(|t| t.eq_ignore_ascii_case("Application"))
    }
}

/// An application permission granted to a principal.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRoleAssignment {
    /// Assignment id.
    #[serde(default)]
    pub id: String,
    /// The role.
    pub app_role_id: String,
    /// Who holds it.
    pub principal_id: String,
    /// The resource's service principal.
    pub resource_id: String,
}

/// A SharePoint site, as `GET /sites/{host}:/{path}` gives it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteRef {
    /// `{host},{site collection id},{web id}`.
    pub id: String,
    /// Its address.
    #[serde(default)]
    pub web_url: Option<String>,
}

/// An app's role on a site (<https://learn.microsoft.com/graph/api/resources/permission>).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SitePermission {
    /// Permission id.
    pub id: String,
    /// `read`, `write`, `manage`, `fullcontrol`.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Who holds it (the older shape).
    #[serde(default)]
    pub granted_to_identities: Vec<Value>,
    /// Who holds it (the newer shape).
    #[serde(default, rename = "grantedToIdentitiesV2")]
    pub granted_to_identities_v2: Vec<Value>,
}

impl SitePermission {
    /// Whether it is held by the app `app_id`.
    pub fn is_for(&self, app_id: &str) -> bool {
        self.granted_to_identities
            .iter()
            .chain(&self.granted_to_identities_v2)
            .any(|i| {
                i["application"]["id"]
                    .as_str()
                    .is_some_and(|id| id.eq_ignore_ascii_case(app_id))
            })
    }
}

/// A directory role held by a principal.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleAssignment {
    /// Assignment id.
    #[serde(default)]
    pub id: String,
    /// Role template/definition id.
    pub role_definition_id: String,
    /// Who holds it.
    pub principal_id: String,
    /// `/` for tenant-wide.
    #[serde(default)]
    pub directory_scope_id: Option<String>,
}

/// `GET /policies/defaultAppManagementPolicy`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppManagementPolicy {
    /// Whether the restrictions are enforced.
    #[serde(default)]
    pub is_enabled: bool,
    /// Restrictions on applications.
    #[serde(default)]
    pub application_restrictions: Option<Restrictions>,
}

/// Restrictions of a policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Restrictions {
    /// Certificate restrictions.
    #[serde(default)]
    pub key_credentials: Vec<KeyRestriction>,
}

/// One certificate restriction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRestriction {
    /// `asymmetricKeyLifetime`, …
    #[serde(default)]
    pub restriction_type: String,
    /// ISO 8601 duration, e.g. `P180D`.
    #[serde(default)]
    pub max_lifetime: Option<String>,
}

impl AppManagementPolicy {
    /// The longest certificate lifetime the policy allows, in whole days.
    pub fn max_certificate_days(&self) -> Option<u32> {
        if !self.is_enabled {
            return None;
        }
        self.application_restrictions
            .as_ref()?
            .key_credentials
            .iter()
            .filter(|r| r.restriction_type == "asymmetricKeyLifetime")
            .filter_map(|r| r.max_lifetime.as_deref().and_then(duration_days))
            .min()
    }
}

/// Whole days in an ISO 8601 duration (`P1Y`, `P6M`, `P180D`, `P4DT12H`), rounded down, with
/// years as 365 and months as 30 days so the result never exceeds what the policy allows.
pub fn duration_days(text: &str) -> Option<u32> {
    let body = text.strip_prefix('P')?;
    let (date, time) = body.split_once('T').unwrap_or((body, ""));
    let mut days = 0f64;
    let mut number = String::new();
    for c in date.chars() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let n: f64 = number.parse().ok()?;
        number.clear();
        days += n * match c {
            'Y' => 365.0,
            'M' => 30.0,
            'W' => 7.0,
            'D' => 1.0,
            _ => return None,
        };
    }
    for c in time.chars() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let n: f64 = number.parse().ok()?;
        number.clear();
        days += n / match c {
            'H' => 24.0,
            'M' => 1440.0,
            'S' => 86_400.0,
            _ => return None,
        };
    }
    if !number.is_empty() {
        return None;
    }
    Some(days.floor() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_down_to_days() {
        assert_eq!(duration_days("P180D"), Some(180));
        assert_eq!(duration_days("P1Y"), Some(365));
        assert_eq!(duration_days("P6M"), Some(180));
        assert_eq!(duration_days("P4DT12H30M5S"), Some(4));
        assert_eq!(duration_days("P2W"), Some(14));
        assert_eq!(duration_days("180D"), None);
        assert_eq!(duration_days("P180"), None);
    }

    #[test]
    fn the_policy_cap_is_the_smallest_enabled_key_lifetime() {
        let policy: AppManagementPolicy = serde_json::from_str(
            r#"{"isEnabled":true,"applicationRestrictions":{"keyCredentials":[
                {"restrictionType":"asymmetricKeyLifetime","maxLifetime":"P180D"},
                {"restrictionType":"trustedCertificateAuthority"}]}}"#,
        )
        .expect("policy");
        assert_eq!(policy.max_certificate_days(), Some(180));
        let off = AppManagementPolicy {
            is_enabled: false,
            ..policy
        };
        assert_eq!(off.max_certificate_days(), None);
    }

    #[test]
    fn manage_as_app_is_recognised_only_as_an_exchange_app_role() {
        let yes = serde_json::json!([{"resourceAppId": crate::wellknown::EXCHANGE_APP_ID,
            "resourceAccess": [{"id": crate::wellknown::MANAGE_AS_APP, "type": "Role"}]}]);
        let scope = serde_json::json!([{"resourceAppId": crate::wellknown::EXCHANGE_APP_ID,
            "resourceAccess": [{"id": crate::wellknown::MANAGE_AS_APP, "type": "Scope"}]}]);
        assert!(declares_manage_as_app(
            yes.as_array().map(Vec::as_slice).unwrap_or_default()
        ));
        assert!(!declares_manage_as_app(
            scope.as_array().map(Vec::as_slice).unwrap_or_default()
        ));
    }
}
