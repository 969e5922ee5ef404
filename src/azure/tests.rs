//! The Azure steps' rules: the requests, the runbook's text, create / change / keep.

use serde_json::json;

use super::plan::{AzureChoices, AzureState, same_script, steps};
use super::*;
use crate::cloud::Cloud;
use crate::onboard::{Action, StepKind};

const ACCOUNT: &str = "/subscriptions/11111111-0000-4000-8000-000000000001/resourceGroups/automation-rg/providers/Microsoft.Automation/automationAccounts/contoso-reports";

fn account(identity: serde_json::Value) -> Account {
    serde_json::from_value(json!({
        "id": ACCOUNT, "name": "contoso-reports", "location": "westeurope", "identity": identity,
    }))
    .expect("account")
}

fn module(state: &str, version: &str) -> Module {
    serde_json::from_value(json!({"properties": {"provisioningState": state, "version": version,
        "error": {"message": "Orchestrator.Activities.ModuleImportException: PackageManagement is missing"}}}))
    .expect("module")
}

#[test]
fn accounts_tell_their_identity_group_and_subscription() {
    let off = account(json!({"type": "None"}));
    assert_eq!(off.system_identity(), None);
    assert_eq!(off.resource_group(), "automation-rg");
    assert_eq!(off.subscription(), "11111111-0000-4000-8000-000000000001");
    let on = account(json!({"type": "SystemAssigned", "principalId": "p-1"}));
    assert_eq!(on.system_identity(), Some("p-1"));
    let user_only =
        account(json!({"type": "UserAssigned", "userAssignedIdentities": {"/x/uami": {}}}));
    assert_eq!(user_only.system_identity(), None);
    // Turning the system identity on keeps the user-assigned ones.
    let call = identity_on(&user_only);
    assert_eq!(call.method, "PATCH");
    assert_eq!(call.path, format!("{ACCOUNT}?api-version=2023-11-01"));
    let body = call.body.expect("body");
    assert_eq!(body["identity"]["type"], "SystemAssigned, UserAssigned");
    assert!(body["identity"]["userAssignedIdentities"]["/x/uami"].is_object());
    assert_eq!(
        identity_on(&off).body.expect("body")["identity"],
        json!({"type": "SystemAssigned"})
    );
}

#[test]
fn requests_name_the_runtime_the_gallery_and_the_api_version() {
    let c = import_module(ACCOUNT, Runtime::PowerShell72);
    assert_eq!(c.method, "PUT");
    assert_eq!(
        c.path,
        format!("{ACCOUNT}/powerShell72Modules/ExchangeOnlineManagement?api-version=2023-11-01")
    );
    assert_eq!(
        c.body.expect("body")["properties"]["contentLink"]["uri"],
        format!(
            "https://www.powershellgallery.com/api/v2/package/ExchangeOnlineManagement/{MODULE_VERSION}"
        )
    );
    assert!(
        read_module(ACCOUNT, Runtime::PowerShell51)
            .path
            .contains("/modules/ExchangeOnlineManagement?")
    );
    assert_eq!(
        list_accounts("s").path,
        "/subscriptions/s/providers/Microsoft.Automation/automationAccounts?api-version=2023-11-01"
    );
    assert_eq!(
        list_subscriptions().path,
        "/subscriptions?api-version=2022-12-01"
    );
    let rb = put_runbook(&account(json!(null)), Runtime::PowerShell51);
    assert_eq!(
        rb.body.expect("body")["properties"]["runbookType"],
        "PowerShell"
    );
    assert!(
        start_job(ACCOUNT, "j-1").body.expect("body")["properties"]["runbook"]["name"] == RUNBOOK
    );
    let cert = put_certificate(ACCOUNT, "UEZY", "pw");
    assert_eq!(
        cert.body.expect("body")["properties"]["isExportable"],
        false
    );
}

#[test]
fn the_runbook_connects_as_chosen_and_reads_only() {
    let system = runbook(
        &Connect::SystemIdentity,
        "contoso.onmicrosoft.com",
        Cloud::Worldwide,
    );
    assert!(system.contains("Connect-ExchangeOnline -ManagedIdentity -Organization 'contoso.onmicrosoft.com' -ShowBanner:$false"));
    assert!(system.contains("Get-EXOMailbox -ResultSize 5"));
    let user = runbook(
        &Connect::UserIdentity("c-1".into()),
        "contoso.onmicrosoft.com",
        Cloud::GccHigh,
    );
    assert!(
        user.contains("-ExchangeEnvironmentName O365USGovGCCHigh -ManagedIdentityAccountId 'c-1'")
    );
    let cert = runbook(
        &Connect::Certificate {
            app_id: "a-1".into(),
        },
        "contoso.onmicrosoft.com",
        Cloud::Worldwide,
    );
    assert!(cert.contains("$cert = Get-AutomationCertificate -Name 'EXO-App'\nConnect-ExchangeOnline -AppId 'a-1' -Organization 'contoso.onmicrosoft.com' -Certificate $cert"));
    assert!(same_script(&system, &system.replace('\n', "\r\n")));
    assert!(!same_script(&system, &user));
}

#[test]
fn modules_are_usable_only_when_imported_at_3_or_later() {
    assert!(module("Succeeded", "3.7.1").usable());
    assert!(!module("Succeeded", "2.0.5").usable());
    assert!(!module("ContentDownloaded", "3.7.1").usable());
    assert_eq!(
        module("Failed", "3.7.1").state(),
        ImportState::Failed(
            "Orchestrator.Activities.ModuleImportException: PackageManagement is missing".into()
        )
    );
    assert_eq!(
        module("Creating", "3.7.1").state(),
        ImportState::Running("Creating".into())
    );
}

#[test]
fn the_plan_makes_what_is_missing_and_keeps_what_is_there() {
    let choices = AzureChoices {
        account: account(json!({"type": "None"})),
        runtime: Runtime::PowerShell72,
        connect: Connect::SystemIdentity,
        upload_thumbprint: None,
    };
    let script = runbook(
        &choices.connect,
        "contoso.onmicrosoft.com",
        Cloud::Worldwide,
    );
    let fresh = steps(&choices, &AzureState::default(), &script);
    let actions: Vec<(StepKind, Action)> = fresh.iter().map(|s| (s.kind, s.action)).collect();
    assert_eq!(
        actions,
        [
            (StepKind::AzureIdentity, Action::Change),
            (StepKind::Module, Action::Create),
            (StepKind::Runbook, Action::Create)
        ]
    );
    assert!(fresh[2].requests[2].contains("Connect-ExchangeOnline -ManagedIdentity"));

    let done = AzureChoices {
        account: account(json!({"type": "SystemAssigned", "principalId": "p-1"})),
        upload_thumbprint: Some("ABC".into()),
        connect: Connect::SystemIdentity,
        ..choices.clone()
    };
    let state = AzureState {
        module: Some(module("Succeeded", "3.7.1")),
        runbook: Some(script.replace('\n', "\r\n")),
        certificate: Some(
            serde_json::from_value(json!({"properties": {"thumbprint": "abc"}})).expect("asset"),
        ),
    };
    let again = steps(&done, &state, &script);
    assert!(again.iter().all(|s| s.action == Action::Keep), "{again:?}");
    assert_eq!(again.len(), 4);

    // The upload is the one step that carries the key: the plan never shows it.
    let upload = steps(&done, &AzureState::default(), &script);
    let asset = upload
        .iter()
        .find(|s| s.kind == StepKind::CertificateAsset)
        .expect("asset");
    assert!(asset.requests[1].contains("never shown"));
    assert!(
        asset
            .summary
            .contains("the one request that carries the private key")
    );
}
