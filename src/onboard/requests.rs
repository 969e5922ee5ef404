//! Every Graph request the onboarding writes or reads back, built in one place: the plan shows
//! exactly these values (with placeholders for what does not exist yet) and the executor sends
//! exactly these values, so the audit text cannot drift from what is sent.
//!
//! Sources: upsert by alternate key
//! (<https://learn.microsoft.com/graph/api/application-upsert>,
//! <https://learn.microsoft.com/graph/api/serviceprincipal-upsert>), keyCredentials
//! (<https://learn.microsoft.com/graph/api/resources/keycredential>), admin consent through
//! an app role assignment
//! (<https://learn.microsoft.com/graph/api/serviceprincipal-post-approleassignedto>), and the
//! unified role assignment
//! (<https://learn.microsoft.com/graph/api/rbacapplication-post-roleassignments>).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha1::Digest as _;

use super::permissions::Declared;
use crate::graph::{encode, quote};
use crate::workloads::SiteRole;

/// The properties of an app the executor reads back, single object (so `key` is present).
pub const APP_SELECT: &str = "id,appId,displayName,keyCredentials,requiredResourceAccess";

/// One Graph request: method, path under the Graph base, the `Prefer` header when it upserts,
/// and the JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// `GET`, `POST`, `PATCH`.
    pub method: &'static str,
    /// Path and query under the Graph base URL.
    pub path: String,
    /// `Prefer: create-if-missing` for upserts.
    pub upsert: bool,
    /// The JSON body, if any.
    pub body: Option<Value>,
}

impl Call {
    /// A `GET` of `path`, no body.
    pub fn get(path: String) -> Self {
        Self {
            method: "GET",
            path,
            upsert: false,
            body: None,
        }
    }

    /// The extra headers it needs.
    pub fn headers(&self) -> Vec<(&'static str, &'static str)> {
        if self.upsert {
            vec![("Prefer", "create-if-missing")]
        } else {
            vec![]
        }
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)?;
        if self.upsert {
            f.write_str(" (Prefer: create-if-missing)")?;
        }
        if let Some(body) = &self.body {
            write!(f, " {body}")?;
        }
        Ok(())
    }
}

/// The JSON of a new app: one request carries the name, the single-tenant audience (Graph's
/// own default would also admit personal accounts), the permissions and the certificate.
pub fn new_app_body(name: &str, key_credential: &Value, permissions: &[Declared]) -> Value {
    json!({
        "displayName": name,
        "signInAudience": "AzureADMyOrg",
        "requiredResourceAccess": super::permissions::merged(&[], permissions),
        "keyCredentials": [key_credential],
    })
}

/// `PATCH /applications(uniqueName='…')` with `Prefer: create-if-missing`: 201 when it made the
/// app, 204 when an earlier attempt of this run already had. Sent twice, it still makes one app.
pub fn upsert_app(
    unique_name: &str,
    name: &str,
    key_credential: &Value,
    permissions: &[Declared],
) -> Call {
    Call {
        method: "PATCH",
        path: format!("/applications(uniqueName={})", quote(unique_name)),
        upsert: true,
        body: Some(new_app_body(name, key_credential, permissions)),
    }
}

/// The app made by `upsert_app`, read by its alternate key.
pub fn read_app_by_unique_name(unique_name: &str) -> Call {
    Call::get(format!(
        "/applications(uniqueName={})?$select={APP_SELECT}",
        quote(unique_name)
    ))
}

/// An app, single object with `$select`, so every certificate's `key` is present and can be
/// re-sent verbatim.
pub fn read_app(id: &str) -> Call {
    Call::get(format!("/applications/{id}?$select={APP_SELECT}"))
}

/// `PATCH /applications/{id}`: each collection given replaces Graph's whole collection, so the
/// caller passes every existing entry with the additions.
pub fn patch_app(
    id: &str,
    key_credentials: Option<Vec<Value>>,
    permissions: Option<Vec<Value>>,
) -> Call {
    let mut body = json!({});
    if let Some(keys) = key_credentials {
        body["keyCredentials"] = Value::Array(keys);
    }
    if let Some(permissions) = permissions {
        body["requiredResourceAccess"] = Value::Array(permissions);
    }
    Call {
        method: "PATCH",
        path: format!("/applications/{id}"),
        upsert: false,
        body: Some(body),
    }
}

/// `PATCH /servicePrincipals(appId='…')` with `Prefer: create-if-missing`: the app's service
/// principal, made once however often it is sent.
pub fn upsert_service_principal(app_id: &str) -> Call {
    Call {
        method: "PATCH",
        path: format!("/servicePrincipals(appId={})", quote(app_id)),
        upsert: true,
        body: Some(json!({})),
    }
}

/// The service principal of `app_id`, by its alternate key.
pub fn read_service_principal(app_id: &str) -> Call {
    Call::get(format!(
        "/servicePrincipals(appId={})?$select=id,appId,displayName",
        quote(app_id)
    ))
}

/// Admin consent for one application permission: an app role assignment on the resource's
/// service principal (<https://learn.microsoft.com/graph/api/serviceprincipal-post-approleassignedto>).
pub fn grant(resource: &str, principal: &str, app_role_id: &str) -> Call {
    Call {
        method: "POST",
        path: format!("/servicePrincipals/{resource}/appRoleAssignedTo"),
        upsert: false,
        body: Some(
            json!({ "principalId": principal, "resourceId": resource, "appRoleId": app_role_id }),
        ),
    }
}

/// The app role assignments `principal` holds.
pub fn grants_of(principal: &str) -> Call {
    Call::get(format!("/servicePrincipals/{principal}/appRoleAssignments"))
}

/// The Entra role, tenant-wide.
pub fn assign_role(role_id: &str, principal: &str) -> Call {
    Call {
        method: "POST",
        path: "/roleManagement/directory/roleAssignments".into(),
        upsert: false,
        body: Some(json!({
            "@odata.type": "#microsoft.graph.unifiedRoleAssignment",
            "roleDefinitionId": role_id, "principalId": principal, "directoryScopeId": "/",
        })),
    }
}

/// The directory roles `principal` holds.
pub fn roles_of(principal: &str) -> Call {
    Call::get(format!(
        "/roleManagement/directory/roleAssignments?$filter={}&$select=id,roleDefinitionId,principalId,directoryScopeId",
        encode(&format!("principalId eq {}", quote(principal)))
    ))
}

/// A SharePoint site by its address (<https://learn.microsoft.com/graph/api/site-getbypath>).
pub fn read_site(host: &str, path: &str) -> Call {
    Call::get(format!(
        "/sites/{host}:{path}?$select=id,webUrl,displayName"
    ))
}

/// The apps granted on a site (<https://learn.microsoft.com/graph/api/site-list-permissions>).
pub fn site_permissions(site_id: &str) -> Call {
    Call::get(format!("/sites/{site_id}/permissions"))
}

/// A role on one site for the app (`Sites.Selected`)
/// (<https://learn.microsoft.com/graph/api/site-post-permissions>).
pub fn grant_site(site_id: &str, app_id: &str, app_name: &str, role: SiteRole) -> Call {
    Call {
        method: "POST",
        path: format!("/sites/{site_id}/permissions"),
        upsert: false,
        body: Some(json!({
            "roles": [role.as_str()],
            "grantedToIdentities": [{ "application": { "id": app_id, "displayName": app_name } }],
        })),
    }
}

/// A different role on a site permission the app already has
/// (<https://learn.microsoft.com/graph/api/site-update-permission>).
pub fn change_site_grant(site_id: &str, permission_id: &str, role: SiteRole) -> Call {
    Call {
        method: "PATCH",
        path: format!("/sites/{site_id}/permissions/{permission_id}"),
        upsert: false,
        body: Some(json!({ "roles": [role.as_str()] })),
    }
}

/// The new certificate's keyCredential with a `keyId` and `customKeyIdentifier` made by the page,
/// so the executor can tell it (and every kept one) apart by id after each write. Both derive
/// from the certificate: the same certificate always gets the same ids, however often a run is
/// retried. `customKeyIdentifier` is the SHA-1 thumbprint, which is Graph's own default for it.
pub fn identified(key_credential: &Value) -> Value {
    let mut out = key_credential.clone();
    let der = key_credential["key"]
        .as_str()
        .and_then(|k| STANDARD.decode(k).ok())
        .unwrap_or_default();
    if out.get("keyId").is_none_or(Value::is_null) {
        out["keyId"] = Value::String(key_id_for(&der));
    }
    if out.get("customKeyIdentifier").is_none_or(Value::is_null) {
        out["customKeyIdentifier"] = Value::String(STANDARD.encode(sha1::Sha1::digest(&der)));
    }
    out
}

/// A GUID from the certificate's SHA-256 (RFC 9562 version 8: "custom", name-derived).
fn key_id_for(der: &[u8]) -> String {
    let mut b: [u8; 16] = [0; 16];
    b.copy_from_slice(&sha2::Sha256::digest(der)[..16]);
    guid(b, 8)
}

/// 16 bytes as an RFC 9562 GUID of `version` (its version and variant bits set).
pub fn guid(mut b: [u8; 16], version: u8) -> String {
    b[6] = (b[6] & 0x0f) | (version << 4);
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The `keyId` of a keyCredential, lower-cased.
pub fn key_id(key_credential: &Value) -> Option<String> {
    key_credential["keyId"]
        .as_str()
        .map(str::to_ascii_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_its_certificate_the_same_way_every_time() {
        let kc = json!({"type": "AsymmetricX509Cert", "usage": "Verify", "key": STANDARD.encode(b"certificate bytes")});
        let a = identified(&kc);
        assert_eq!(a, identified(&kc));
        assert_eq!(identified(&a), a);
        let id = key_id(&a).unwrap_or_default();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "8");
        assert_eq!(
            a["customKeyIdentifier"],
            STANDARD.encode(sha1::Sha1::digest(b"certificate bytes"))
        );
        // A keyId already given is kept.
        let given = identified(&json!({"key": "AA==", "keyId": "K"}));
        assert_eq!(given["keyId"], "K");
    }

    #[test]
    fn upserts_carry_prefer_and_quote_the_key() {
        let c = upsert_app("it's", "n", &json!({}), &[]);
        assert_eq!(c.path, "/applications(uniqueName='it''s')");
        assert_eq!(c.headers(), vec![("Prefer", "create-if-missing")]);
        assert!(
            c.to_string().starts_with(
                "PATCH /applications(uniqueName='it''s') (Prefer: create-if-missing) {"
            )
        );
        assert!(grant("e", "p", "r").headers().is_empty());
    }
}
