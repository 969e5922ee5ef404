//! SharePoint sites as Graph v1.0 shows them, and their per-app permissions (the grants behind
//! `Sites.Selected`).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

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
