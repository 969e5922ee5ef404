//! The page's own app registration in one step: the Microsoft Graph requests that register it
//! exactly as the page needs (a `spa` redirect URI equal to the page's address, the delegated
//! permissions looked up by value on Microsoft Graph's service principal, single- or
//! multi-tenant, optionally admin consent), and an Azure Cloud Shell script that sends those
//! same requests with `az rest` and prints the `config.json` to save. The requests are built
//! here once: the script renders them and the tests send them to the simulated tenant.
//! (<https://learn.microsoft.com/graph/api/application-post-applications>,
//! <https://learn.microsoft.com/graph/api/oauth2permissiongrant-post>,
//! <https://learn.microsoft.com/cli/azure/reference-index#az-rest>.)

use serde_json::{Value, json};
use url::Url;

use crate::auth::GRAPH_PERMISSIONS;
use crate::cloud::Cloud;

/// Microsoft Graph's application id, the same in every tenant and cloud.
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// How the page is to be registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The page's address (the `spa` redirect URI and `redirectUri` in `config.json`).
    pub page: Url,
    /// The cloud of the tenant.
    pub cloud: Cloud,
    /// Multi-tenant (`AzureADMultipleOrgs`), for a page hosted for many customers.
    pub multi_tenant: bool,
    /// Grant admin consent for the whole organisation at once (Global, Privileged Role,
    /// Application or Cloud Application Administrator,
    /// <https://learn.microsoft.com/entra/identity/enterprise-apps/grant-admin-consent>).
    pub admin_consent: bool,
    /// The registration's display name.
    pub name: String,
}

/// The delegated permissions the page asks for: the onboarding's and the inventory's.
pub fn permissions() -> Vec<&'static str> {
    let mut all = GRAPH_PERMISSIONS.to_vec();
    all.push(crate::lifecycle::AUDIT_SCOPE);
    all
}

/// `GET` of Graph's service principal with its delegated permissions (to look ids up by value).
pub fn graph_lookup_path() -> String {
    format!("/servicePrincipals(appId='{GRAPH_APP_ID}')?$select=id,oauth2PermissionScopes")
}

/// The ids of `permissions()` among a service principal's `oauth2PermissionScopes`, in order;
/// `Err` names the ones it does not offer.
pub fn scope_ids(graph_sp: &Value) -> Result<Vec<String>, String> {
    let offered = graph_sp["oauth2PermissionScopes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut ids = vec![];
    let mut missing = vec![];
    for p in permissions() {
        match offered
            .iter()
            .find(|s| s["value"].as_str() == Some(p))
            .and_then(|s| s["id"].as_str())
        {
            Some(id) => ids.push(id.to_owned()),
            None => missing.push(p),
        }
    }
    if missing.is_empty() {
        Ok(ids)
    } else {
        Err(format!(
            "Microsoft Graph in this tenant offers no delegated permission {}",
            missing.join(", ")
        ))
    }
}

/// The registration's alternate key: one per page address and tenancy, so the script can be run
/// again and finds the registration it made instead of making a second one.
pub fn unique_name(o: &Options) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{}|{}", o.page, o.multi_tenant));
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("unattended-page-{hex}")
}

/// `POST /applications`: the page's registration, with the permission ids looked up.
pub fn app_body(o: &Options, scope_ids: &[String]) -> Value {
    json!({
        "displayName": o.name,
        "uniqueName": unique_name(o),
        "signInAudience": if o.multi_tenant { "AzureADMultipleOrgs" } else { "AzureADMyOrg" },
        "spa": { "redirectUris": [o.page.as_str()] },
        "requiredResourceAccess": [{
            "resourceAppId": GRAPH_APP_ID,
            "resourceAccess": scope_ids.iter().map(|id| json!({"id": id, "type": "Scope"})).collect::<Vec<_>>(),
        }],
    })
}

/// `POST /servicePrincipals`: the registration's service principal in this tenant.
pub fn service_principal_body(app_id: &str) -> Value {
    json!({ "appId": app_id })
}

/// `POST /oauth2PermissionGrants`: admin consent for every user of the organisation.
pub fn consent_body(client_sp: &str, graph_sp: &str) -> Value {
    json!({
        "clientId": client_sp,
        "consentType": "AllPrincipals",
        "resourceId": graph_sp,
        "scope": permissions().join(" "),
    })
}

/// The `config.json` the page needs, for the registration made.
pub fn config_json(o: &Options, app_id: &str, tenant_id: &str) -> String {
    let mut config = json!({
        "clientId": app_id,
        "redirectUri": o.page.as_str(),
    });
    if o.cloud != Cloud::Worldwide {
        config["cloud"] = json!(o.cloud.name());
    }
    if !o.multi_tenant {
        config["authority"] = json!(format!("https://{}/{tenant_id}", o.cloud.login_host()));
    }
    serde_json::to_string_pretty(&config).unwrap_or_default()
}

/// The Azure CLI's name of the cloud (`az cloud set --name …`).
fn az_cloud(cloud: Cloud) -> &'static str {
    match cloud {
        Cloud::Worldwide => "AzureCloud",
        Cloud::GccHigh | Cloud::DoD => "AzureUSGovernment",
        Cloud::China => "AzureChinaCloud",
    }
}

/// PowerShell single-quoted.
fn ps(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The script for Azure Cloud Shell (PowerShell), where `az` is already signed in: the same
/// requests as above, bodies written to files for `az rest --body @file` (no shell quoting of
/// JSON), then the `config.json` printed.
pub fn cloud_shell_script(o: &Options) -> String {
    let graph = format!("{}/v1.0", o.cloud.graph_resource());
    let resource = o.cloud.graph_resource();
    let wanted: Vec<String> = permissions().iter().map(|p| ps(p)).collect();
    // The app body with a placeholder for the looked-up ids: the script fills them in.
    let template = app_body(o, &[]).to_string();
    let mut lines: Vec<String> = vec![
        "# Registers this page's own app in your tenant: run in Azure Cloud Shell (PowerShell).".into(),
        "# Running it again finds what it made instead of making it twice.".into(),
        format!("# Page: {}", o.page),
        "$ErrorActionPreference = 'Stop'".into(),
        format!("az cloud set --name {} | Out-Null", az_cloud(o.cloud)),
        format!("$graph = {}", ps(&graph)),
        format!("$resource = {}", ps(&resource)),
        "function Invoke-Graph($Method, $Path, $Body) {".into(),
        "  $azArgs = @('rest', '--method', $Method, '--uri', \"$graph$Path\", '--resource', $resource)".into(),
        "  if ($Body) { $file = New-TemporaryFile; $Body | ConvertTo-Json -Depth 10 | Set-Content -Path $file -Encoding utf8; $azArgs += @('--headers', 'Content-Type=application/json', '--body', \"@$file\") }".into(),
        "  $err = New-TemporaryFile".into(),
        "  $out = az @azArgs 2> $err".into(),
        "  if ($LASTEXITCODE -ne 0) { throw \"$Method $Path failed: $(Get-Content $err -Raw)\" }".into(),
        "  if ($out) { $out | ConvertFrom-Json }".into(),
        "}".into(),
        "# 1. Microsoft Graph's delegated permissions, looked up by value (ids differ by cloud).".into(),
        // Single quotes: `$select` stays literal.
        format!("$sp = Invoke-Graph GET {}", ps(&graph_lookup_path())),
        format!("$wanted = @({})", wanted.join(", ")),
        "$ids = foreach ($w in $wanted) { ($sp.oauth2PermissionScopes | Where-Object value -eq $w).id }".into(),
        "if (@($ids).Count -ne $wanted.Count) { throw 'Microsoft Graph here lacks one of the permissions the page needs' }".into(),
        "# 2. The app registration (spa redirect URI = the page's address), found again by its uniqueName.".into(),
        format!("$unique = {}", ps(&unique_name(o))),
        "$made = try { Invoke-Graph GET \"/applications(uniqueName='$unique')\" } catch { $null }".into(),
        "if (-not $made) {".into(),
        format!("  $app = {} | ConvertFrom-Json", ps(&template)),
        "  $app.requiredResourceAccess[0].resourceAccess = @($ids | ForEach-Object { @{ id = $_; type = 'Scope' } })".into(),
        "  $made = Invoke-Graph POST '/applications' $app".into(),
        "}".into(),
        "# 3. Its service principal (a new app takes seconds to replicate: tried again).".into(),
        "$client = try { Invoke-Graph GET \"/servicePrincipals(appId='$($made.appId)')\" } catch { $null }".into(),
        "for ($i = 0; -not $client -and $i -lt 6; $i++) {".into(),
        "  try { $client = Invoke-Graph POST '/servicePrincipals' @{ appId = $made.appId } } catch { Start-Sleep -Seconds 5 }".into(),
        "}".into(),
        "if (-not $client) { throw 'The service principal could not be made yet: run the script again in a minute (it finds the app it made).' }".into(),
        "$tenant = (Invoke-Graph GET '/organization?$select=id').value[0].id".into(),
    ];
    if o.admin_consent {
        lines.push(
            "# 4. Admin consent for the whole organisation (a refusal still prints config.json)."
                .into(),
        );
        lines.push(format!(
            "$grant = @{{ clientId = $client.id; consentType = 'AllPrincipals'; resourceId = $sp.id; scope = {} }}",
            ps(&permissions().join(" "))
        ));
        lines.push("$granted = $false".into());
        lines.push("for ($i = 0; -not $granted -and $i -lt 6; $i++) {".into());
        // Graph answers a second identical grant with a conflict: already consented.
        lines.push("  try { Invoke-Graph POST '/oauth2PermissionGrants' $grant | Out-Null; $granted = $true } catch { if (\"$_\" -match 'Conflict|already exists') { $granted = $true } else { Start-Sleep -Seconds 5 } }".into());
        lines.push("}".into());
        lines.push(format!(
            "if (-not $granted) {{ Write-Warning \"The app is registered, but admin consent was refused for this sign-in. Ask a Global, Privileged Role, Application or Cloud Application Administrator to open https://{}/$tenant/v2.0/adminconsent?client_id=$($made.appId)&scope={}/.default&redirect_uri={}\" }}",
            o.cloud.login_host(),
            resource,
            o.page
        ));
    }
    let mut config = format!(
        "@{{ clientId = $made.appId; redirectUri = {}",
        ps(o.page.as_str())
    );
    if o.cloud != Cloud::Worldwide {
        config.push_str(&format!("; cloud = {}", ps(o.cloud.name())));
    }
    if !o.multi_tenant {
        config.push_str(&format!(
            "; authority = \"https://{}/$tenant\"",
            o.cloud.login_host()
        ));
    }
    config.push_str(" }");
    lines.push("# Save this as config.json beside the page's index.html:".into());
    lines.push(format!("{config} | ConvertTo-Json"));
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(cloud: Cloud, multi_tenant: bool) -> Options {
        Options {
            page: Url::parse("https://tools.example.com/unattended/").expect("url"),
            cloud,
            multi_tenant,
            admin_consent: true,
            name: "unattended (setup page)".into(),
        }
    }

    fn graph_sp() -> Value {
        json!({"id": "g", "oauth2PermissionScopes": permissions().iter().enumerate()
            .map(|(i, p)| json!({"value": p, "id": format!("id-{i}")})).collect::<Vec<_>>()})
    }

    #[test]
    fn the_registration_is_a_spa_with_the_pages_permissions_looked_up_by_value() {
        let o = options(Cloud::Worldwide, false);
        let ids = scope_ids(&graph_sp()).expect("all offered");
        assert_eq!(ids.len(), 6);
        let body = app_body(&o, &ids);
        assert_eq!(
            body["spa"]["redirectUris"][0],
            "https://tools.example.com/unattended/"
        );
        assert_eq!(body["signInAudience"], "AzureADMyOrg");
        assert_eq!(
            body["requiredResourceAccess"][0]["resourceAppId"],
            GRAPH_APP_ID
        );
        assert_eq!(
            body["requiredResourceAccess"][0]["resourceAccess"][5]["id"],
            "id-5"
        );
        assert_eq!(
            app_body(&options(Cloud::Worldwide, true), &ids)["signInAudience"],
            "AzureADMultipleOrgs"
        );
        let mut partial = graph_sp();
        partial["oauth2PermissionScopes"]
            .as_array_mut()
            .expect("array")
            .pop();
        assert!(
            scope_ids(&partial)
                .expect_err("missing")
                .contains("AuditLog.Read.All")
        );
        assert_eq!(consent_body("c", "g")["scope"], permissions().join(" "));
    }

    #[test]
    fn config_json_names_the_cloud_and_a_single_tenants_authority() {
        let single: Value =
            serde_json::from_str(&config_json(&options(Cloud::GccHigh, false), "app", "tid"))
                .expect("json");
        assert_eq!(single["clientId"], "app");
        assert_eq!(single["cloud"], "gcchigh");
        assert_eq!(single["authority"], "https://login.microsoftonline.us/tid");
        let multi: Value =
            serde_json::from_str(&config_json(&options(Cloud::Worldwide, true), "app", "tid"))
                .expect("json");
        assert!(multi.get("authority").is_none() && multi.get("cloud").is_none());
        // What the page reads back is valid for it.
        let parsed = crate::config::Config::from_json(&config_json(
            &options(Cloud::GccHigh, false),
            "3f1c2a6e-8d0b-4c55-9a1e-2b7f6d4c9e01",
            "tid",
        ));
        assert!(parsed.is_ok(), "{parsed:?}");
    }

    #[test]
    fn the_script_sends_the_same_requests_in_the_chosen_cloud() {
        let s = cloud_shell_script(&options(Cloud::DoD, false));
        assert!(s.contains("az cloud set --name AzureUSGovernment"));
        assert!(s.contains("$graph = 'https://dod-graph.microsoft.us/v1.0'"));
        assert!(s.contains("'--resource', $resource"));
        assert!(s.contains(&ps(&graph_lookup_path())));
        for p in permissions() {
            assert!(s.contains(&format!("'{p}'")), "{p}");
        }
        // The app body is the one `app_body` makes (ids filled in by the script).
        assert!(s.contains(&app_body(&options(Cloud::DoD, false), &[]).to_string()));
        assert!(s.contains("consentType = 'AllPrincipals'"));
        // Run again, it finds its app by uniqueName; a refused consent still prints config.json.
        assert!(s.contains(&format!(
            "$unique = '{}'",
            unique_name(&options(Cloud::DoD, false))
        )));
        assert!(s.contains("/v2.0/adminconsent?client_id="));
        assert!(s.contains("-match 'Conflict|already exists'"));
        assert!(
            s.find("Write-Warning").expect("warning")
                < s.rfind("} | ConvertTo-Json").expect("config")
        );
        assert_ne!(
            unique_name(&options(Cloud::DoD, false)),
            unique_name(&options(Cloud::DoD, true))
        );
        assert!(s.contains("authority = \"https://login.microsoftonline.us/$tenant\""));
        let no_consent = cloud_shell_script(&Options {
            admin_consent: false,
            ..options(Cloud::Worldwide, true)
        });
        assert!(!no_consent.contains("oauth2PermissionGrants"));
        assert!(!no_consent.contains("authority ="));
    }
}
