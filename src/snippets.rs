//! What the admin takes away from a finished run: copy-ready PowerShell
//! (<https://learn.microsoft.com/powershell/exchange/app-only-auth-powershell-v2>,
//! <https://learn.microsoft.com/powershell/exchange/connect-exo-powershell-managed-identity>)
//! and an expiry reminder. Pure text from the run's facts.

use crate::cloud::Cloud;

/// A titled block of PowerShell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    /// Where it applies.
    pub title: &'static str,
    /// The lines.
    pub text: String,
}

/// The facts a certificate snippet needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    /// Application (client) id.
    pub app_id: String,
    /// The initial `*.onmicrosoft.com` domain.
    pub organization: String,
    /// SHA-1 thumbprint, uppercase hex.
    pub thumbprint: String,
    /// The PFX file name as saved.
    pub pfx_file: String,
    /// Whether the role also covers Security & Compliance PowerShell.
    pub compliance: bool,
    /// The cloud (national clouds add `-ExchangeEnvironmentName` and the SCC endpoints).
    pub cloud: Cloud,
}

/// ` -ExchangeEnvironmentName …` for a national cloud, nothing for worldwide.
fn environment(cloud: Cloud) -> String {
    cloud
        .exchange_environment()
        .map(|e| format!(" -ExchangeEnvironmentName {e}"))
        .unwrap_or_default()
}

/// ` -ConnectionUri … -AzureADAuthorizationEndpointUri …` for a national cloud.
pub(crate) fn compliance_endpoints(cloud: Cloud) -> String {
    cloud
        .compliance_endpoints()
        .map(|(uri, auth)| {
            format!(
                " `\n    -ConnectionUri {} -AzureADAuthorizationEndpointUri {}",
                quoted(uri),
                quoted(auth)
            )
        })
        .unwrap_or_default()
}

/// PowerShell quoting: single quotes, doubled inside.
pub(crate) fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `Connect-ExchangeOnline` for a certificate: PowerShell 7 on any OS with the PFX file, Windows
/// with the thumbprint after importing once, and an Azure Automation certificate asset.
pub fn certificate(facts: &CertificateFacts) -> Vec<Snippet> {
    let mut out = exchange_lines(facts);
    out.push(compliance_line(facts));
    out
}

/// The three `Connect-ExchangeOnline` blocks of `certificate`.
pub fn exchange_lines(facts: &CertificateFacts) -> Vec<Snippet> {
    let app = quoted(&facts.app_id);
    let org = quoted(&facts.organization);
    let thumb = quoted(&facts.thumbprint);
    let pfx = quoted(&format!("C:\\secure\\{}", facts.pfx_file));
    let env = environment(facts.cloud);
    vec![
        Snippet {
            title: "Any OS (PowerShell 7) or Windows PowerShell 5.1, with the PFX file",
            text: format!(
                "# Requires the ExchangeOnlineManagement module 3.x: Install-Module ExchangeOnlineManagement\n\
                 $pw = Read-Host -AsSecureString 'PFX password'\n\
                 Connect-ExchangeOnline -AppId {app} -Organization {org}{env} `\n    -CertificateFilePath {pfx} -CertificatePassword $pw"
            ),
        },
        Snippet {
            title: "Windows: import once into the user's store, then connect by thumbprint",
            text: format!(
                "# Once, as the account that runs the scheduled task:\n\
                 Import-PfxCertificate -FilePath {pfx} -CertStoreLocation Cert:\\CurrentUser\\My -Password (Read-Host -AsSecureString 'PFX password')\n\
                 # In the script:\n\
                 Connect-ExchangeOnline -AppId {app} -Organization {org}{env} -CertificateThumbprint {thumb}"
            ),
        },
        Snippet {
            title: "Azure Automation: upload the PFX as a certificate asset, then in the runbook",
            text: format!(
                "# Automation account → Certificates → Add a certificate: the PFX, its password, name 'EXO-App'\n\
                 $cert = Get-AutomationCertificate -Name 'EXO-App'\n\
                 Connect-ExchangeOnline -AppId {app} -Organization {org}{env} -Certificate $cert"
            ),
        },
    ]
}

/// `Connect-IPPSSession` with the same certificate, with a caveat when the role does not cover
/// Security & Compliance.
fn compliance_line(facts: &CertificateFacts) -> Snippet {
    let app = quoted(&facts.app_id);
    let org = quoted(&facts.organization);
    let thumb = quoted(&facts.thumbprint);
    let caveat = if facts.compliance {
        ""
    } else {
        "# Needs a role that covers Security & Compliance (Compliance Administrator, Security\n\
         # Administrator/Reader or Global Reader): the role chosen here does not.\n"
    };
    Snippet {
        title: "Security & Compliance PowerShell (same certificate)",
        text: format!(
            "{caveat}Connect-IPPSSession -AppId {app} -Organization {org} -CertificateThumbprint {thumb}{}",
            compliance_endpoints(facts.cloud)
        ),
    }
}

/// The first lines of a runbook for a managed identity: the module requirement, then
/// `Connect-ExchangeOnline -ManagedIdentity` (with `-ManagedIdentityAccountId`, the *client* id,
/// for a user-assigned identity), as the first command of the runbook
/// (<https://learn.microsoft.com/powershell/exchange/connect-exo-powershell-managed-identity>).
pub fn managed_identity(
    organization: &str,
    user_assigned_client_id: Option<&str>,
    cloud: Cloud,
) -> Vec<Snippet> {
    let org = quoted(organization);
    let env = environment(cloud);
    let connect = match user_assigned_client_id {
        Some(client_id) => format!(
            "Connect-ExchangeOnline -ManagedIdentity -Organization {org}{env} -ManagedIdentityAccountId {}",
            quoted(client_id)
        ),
        None => format!("Connect-ExchangeOnline -ManagedIdentity -Organization {org}{env}"),
    };
    vec![
        Snippet {
            title: "Once, in the Automation account",
            text: "# Automation account → Shared resources → Modules → Add a module → Browse the gallery:\n\
                   # ExchangeOnlineManagement (3.x), for the runtime version the runbook uses (PowerShell 7.2+ or 5.1)."
                .to_owned(),
        },
        Snippet {
            title: "The runbook's first lines",
            text: format!("{connect}\n# Example:\nGet-EXOMailbox -ResultSize 5 | Select-Object DisplayName, PrimarySmtpAddress"),
        },
    ]
}

/// An iCalendar reminder 30 days before the certificate expires (all-day event, with an alarm).
/// `not_after` is `YYYY-MM-DDTHH:MM:SSZ`; `remind_on` is the reminder's `YYYYMMDD`.
pub fn expiry_reminder(
    app_name: &str,
    app_id: &str,
    thumbprint: &str,
    not_after: &str,
    remind_on: &str,
    stamp: &str,
) -> String {
    let escape = |s: &str| {
        s.replace('\\', "\\\\")
            .replace(';', "\\;")
            .replace(',', "\\,")
            .replace('\n', "\\n")
    };
    let lines = [
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//unattended//certificate reminder//EN".to_owned(),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:{thumbprint}@unattended"),
        format!("DTSTAMP:{stamp}"),
        format!("DTSTART;VALUE=DATE:{remind_on}"),
        format!(
            "SUMMARY:{}",
            escape(&format!(
                "Renew the Exchange automation certificate of {app_name}"
            ))
        ),
        format!(
            "DESCRIPTION:{}",
            escape(&format!(
                "The certificate {thumbprint} of app {app_id} expires {not_after}. Make a new one with the same page (choose the existing app: the old certificate is kept until you remove it), update the scripts, then remove the old certificate."
            ))
        ),
        "BEGIN:VALARM".to_owned(),
        "ACTION:DISPLAY".to_owned(),
        "TRIGGER:-PT0M".to_owned(),
        "DESCRIPTION:Certificate expires in 30 days".to_owned(),
        "END:VALARM".to_owned(),
        "END:VEVENT".to_owned(),
        "END:VCALENDAR".to_owned(),
    ];
    lines.iter().map(|l| fold(l)).collect::<String>()
}

/// One content line folded as RFC 5545 §3.1 says: at most 75 octets per physical line, each
/// continuation starting with a space, never splitting a UTF-8 character; CRLF after each.
pub fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut used = 0;
    for c in line.chars() {
        let width = c.len_utf8();
        if used + width > 75 {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += width;
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_carry_the_real_values_safely_quoted() {
        let facts = CertificateFacts {
            app_id: "11111111-2222-4333-8444-555555555555".into(),
            organization: "contoso.onmicrosoft.com".into(),
            thumbprint: "83213AEAC56D61C97AEE5C1528F4AC5EBA7321C1".into(),
            pfx_file: "O'Brien.pfx".into(),
            compliance: false,
            cloud: Cloud::Worldwide,
        };
        let s = certificate(&facts);
        assert_eq!(s.len(), 4);
        assert!(
            s[3].text
                .starts_with("# Needs a role that covers Security & Compliance")
        );
        assert!(s[0].text.contains(
            "-AppId '11111111-2222-4333-8444-555555555555' -Organization 'contoso.onmicrosoft.com'"
        ));
        assert!(
            s[0].text.contains("'C:\\secure\\O''Brien.pfx'"),
            "{}",
            s[0].text
        );
        assert!(
            s[1].text
                .contains("-CertificateThumbprint '83213AEAC56D61C97AEE5C1528F4AC5EBA7321C1'")
        );
        assert!(s[1].text.contains("Cert:\\CurrentUser\\My"));
        assert!(s[2].text.contains("Get-AutomationCertificate"));
        let scc = CertificateFacts {
            compliance: true,
            ..facts
        };
        let with_scc = certificate(&scc);
        assert!(with_scc[3].text.starts_with("Connect-IPPSSession -AppId"));
        assert!(!s.iter().any(|x| x.text.contains("ExchangeEnvironmentName")));
        // A national cloud names its environment on every Exchange line, and the SCC endpoints.
        let high = certificate(&CertificateFacts {
            cloud: Cloud::GccHigh,
            ..scc
        });
        for x in &high[..3] {
            assert!(
                x.text
                    .contains(" -ExchangeEnvironmentName O365USGovGCCHigh"),
                "{}",
                x.text
            );
        }
        assert!(high[3].text.contains(
            "-ConnectionUri 'https://ps.compliance.protection.office365.us/powershell-liveid/' -AzureADAuthorizationEndpointUri 'https://login.microsoftonline.us/organizations'"
        ));
    }

    #[test]
    fn managed_identity_lines_use_the_client_id_only_for_user_assigned() {
        let system = managed_identity("contoso.onmicrosoft.com", None, Cloud::Worldwide);
        assert!(system[1].text.starts_with(
            "Connect-ExchangeOnline -ManagedIdentity -Organization 'contoso.onmicrosoft.com'\n"
        ));
        assert!(system[0].text.contains("ExchangeOnlineManagement"));
        let user = managed_identity(
            "contoso.onmicrosoft.com",
            Some("a1b2c3d4-0000-4000-8000-00000000d001"),
            Cloud::China,
        );
        assert!(
            user[1]
                .text
                .contains(" -ExchangeEnvironmentName O365China ")
        );
        assert!(
            user[1]
                .text
                .contains("-ManagedIdentityAccountId 'a1b2c3d4-0000-4000-8000-00000000d001'")
        );
    }

    #[test]
    fn the_reminder_is_valid_icalendar() {
        let ics = expiry_reminder(
            "EXO, nightly",
            "app",
            "ABC",
            "2027-11-22T10:00:00Z",
            "20271023",
            "20261122T100000Z",
        );
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
        assert!(ics.contains("DTSTART;VALUE=DATE:20271023\r\n"));
        assert!(ics.contains("EXO\\, nightly"));
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
    }

    #[test]
    fn calendar_lines_are_folded_at_75_octets_without_splitting_characters() {
        let long = format!("SUMMARY:{}", "Renew ünïcödé 證書 ".repeat(12));
        let folded = fold(&long);
        for physical in folded.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(
                physical.len() <= 75,
                "{} octets: {physical}",
                physical.len()
            );
        }
        // Unfolding (remove CRLF + one space) gives the line back.
        assert_eq!(folded.replace("\r\n ", ""), format!("{long}\r\n"));
        assert_eq!(fold("SHORT"), "SHORT\r\n");
        let ics = expiry_reminder(
            &"A very long app name, with; separators ".repeat(4),
            "11111111-2222-4333-8444-555555555555",
            "83213AEAC56D61C97AEE5C1528F4AC5EBA7321C1",
            "2027-12-01T00:00:00Z",
            "20271101",
            "20261202T000000Z",
        );
        assert!(ics.split("\r\n").all(|l| l.len() <= 75));
        assert!(ics.contains("A very long app name\\, with\\; separators"));
    }
}
