//! The Azure steps of a plan: the identity, the module, the runbook and (opt-in) the
//! certificate asset, each create / change / keep against what the account holds now, with the
//! exact requests. Pure.

use super::{
    Account, CertificateAsset, Connect, Module, Runtime, gallery_link, identity_on, import_module,
    publish, put_certificate, put_draft, put_runbook, read_certificate, read_module,
    read_runbook_content,
};
use crate::onboard::{Action, Step, StepKind};

/// What the admin chose for the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureChoices {
    /// The account.
    pub account: Account,
    /// The runbook's runtime.
    pub runtime: Runtime,
    /// What the runbook connects as.
    pub connect: Connect,
    /// The certificate asset's upload, only when the admin opted in: the certificate's SHA-1
    /// thumbprint (upper-case hex).
    pub upload_thumbprint: Option<String>,
}

/// What the account holds now, as read before the plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AzureState {
    /// The module for the chosen runtime, if any.
    pub module: Option<Module>,
    /// The published runbook's script, if the runbook is published.
    pub runbook: Option<String>,
    /// The certificate asset, if any.
    pub certificate: Option<CertificateAsset>,
}

/// Whether two scripts are the same, line endings and trailing space aside.
pub fn same_script(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.replace("\r\n", "\n")
            .lines()
            .map(str::trim_end)
            .collect::<Vec<_>>()
            .join("\n")
            .trim()
            .to_owned()
    };
    norm(a) == norm(b)
}

/// The Azure steps for `choices` against `state`; `script` is the runbook wanted.
pub fn steps(choices: &AzureChoices, state: &AzureState, script: &str) -> Vec<Step> {
    let account = &choices.account;
    let id = account.id.as_str();
    let mut out = Vec::new();
    if matches!(choices.connect, Connect::SystemIdentity) {
        out.push(match account.system_identity() {
            Some(principal) => Step {
                kind: StepKind::AzureIdentity,
                action: Action::Keep,
                summary: format!(
                    "\"{}\"'s system-assigned identity is on (object id {principal})",
                    account.name
                ),
                requests: vec![],
            },
            None => Step {
                kind: StepKind::AzureIdentity,
                action: Action::Change,
                summary: format!(
                    "Turn on \"{}\"'s system-assigned identity (it is off; user-assigned identities are kept)",
                    account.name
                ),
                requests: vec![identity_on(account).to_string()],
            },
        });
    }
    out.push(match state.module.as_ref() {
        Some(m) if m.usable() => Step {
            kind: StepKind::Module,
            action: Action::Keep,
            summary: format!(
                "{} {} is imported for {}",
                super::MODULE,
                m.properties.version.as_deref().unwrap_or(""),
                choices.runtime.label()
            ),
            requests: vec![],
        },
        existing => Step {
            kind: StepKind::Module,
            action: if existing.is_some() {
                Action::Change
            } else {
                Action::Create
            },
            summary: format!(
                "Import {} {} for {} from the PowerShell Gallery{}, and wait until Automation reports it imported",
                super::MODULE,
                super::MODULE_VERSION,
                choices.runtime.label(),
                if existing.is_some() {
                    " (replacing an older or failed import)"
                } else {
                    ""
                }
            ),
            requests: vec![
                import_module(id, choices.runtime).to_string(),
                format!("{} (until it succeeds or fails)", read_module(id, choices.runtime)),
                format!("(from {})", gallery_link()),
            ],
        },
    });
    out.push(match state.runbook.as_deref() {
        Some(published) if same_script(published, script) => Step {
            kind: StepKind::Runbook,
            action: Action::Keep,
            summary: format!("The runbook \"{}\" is published as wanted", super::RUNBOOK),
            requests: vec![],
        },
        existing => Step {
            kind: StepKind::Runbook,
            action: if existing.is_some() {
                Action::Change
            } else {
                Action::Create
            },
            summary: format!(
                "{} the {} runbook \"{}\" that connects and runs one read-only cmdlet, then publish it",
                if existing.is_some() { "Replace" } else { "Create" },
                choices.runtime.label(),
                super::RUNBOOK
            ),
            requests: vec![
                read_runbook_content(id).to_string(),
                put_runbook(account, choices.runtime).to_string(),
                format!("{} (text/powershell)\n{script}", put_draft(id)),
                format!("{} (then until the publish ends)", publish(id)),
            ],
        },
    });
    if let Some(thumbprint) = &choices.upload_thumbprint {
        out.push(match state.certificate.as_ref() {
            Some(c) if c.thumbprint().eq_ignore_ascii_case(thumbprint) => Step {
                kind: StepKind::CertificateAsset,
                action: Action::Keep,
                summary: format!(
                    "The certificate asset \"{}\" already holds this certificate",
                    super::CERTIFICATE_ASSET
                ),
                requests: vec![],
            },
            existing => Step {
                kind: StepKind::CertificateAsset,
                action: if existing.is_some() {
                    Action::Change
                } else {
                    Action::Create
                },
                summary: format!(
                    "Upload the PFX (with its key) as the certificate asset \"{}\" of \"{}\", not exportable: the one request that carries the private key, to this account only, over HTTPS",
                    super::CERTIFICATE_ASSET,
                    account.name
                ),
                requests: vec![
                    read_certificate(id).to_string(),
                    put_certificate(id, "<the PFX, base64: never shown>", "<its password: never shown>").to_string(),
                ],
            },
        });
    }
    out
}
