//! What a job does: a minimal reading of the runbook's PowerShell, enough to make the job's
//! output reflect the tenant as it is when the job starts running (the simulator's choice of
//! interpretation; no PowerShell is executed).
//!
//! Understood, statement by statement (backtick continuations joined, `#` comment lines and
//! `<# … #>` blocks skipped):
//! - `$x = Get-AutomationCertificate -Name '<asset>'` (the asset must exist), `$x = '<text>'`;
//! - `Import-Module ExchangeOnlineManagement`;
//! - `Connect-ExchangeOnline` with `-ManagedIdentity [-ManagedIdentityAccountId <client id>]`,
//!   or `-AppId <id>` with `-Certificate $x|(Get-AutomationCertificate -Name '<asset>')` or
//!   `-CertificateThumbprint <thumbprint of an asset>`, plus `-Organization` and
//!   `-ExchangeEnvironmentName`;
//! - `Get-EXOMailbox`/`Get-Mailbox [-ResultSize N|Unlimited]` (a table of the tenant's member
//!   users), `Write-Output '<text>'` or a bare string, `Disconnect-ExchangeOnline`;
//! - anything else is ignored.
//!
//! Exchange's checks are the identity platform's (`identity::exchange_claims`): the principal
//! must hold `Exchange.ManageAsApp` on Office 365 Exchange Online and one of the Entra roles
//! Exchange accepts for app-only access (Learn: "App-only authentication for unattended scripts
//! in Exchange Online PowerShell"; "Use Azure managed identities to connect to Exchange Online
//! PowerShell"). The first failure ends the job `Failed` with that error as `exception`.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha1::{Digest, Sha1};

use crate::arm_model::{Outcome, StreamLine};
use crate::graph::Sim;
use crate::tenant::{Tenant, roles};

/// Entra roles Exchange Online accepts for app-only PowerShell.
fn supported_role(id: &str) -> bool {
    id == roles::GLOBAL_ADMIN || unattended::wellknown::exchange_role(id).is_some()
}

/// A value in the script.
#[derive(Debug, Clone)]
enum Val {
    Text(String),
    /// A certificate asset read with `Get-AutomationCertificate`.
    Cert(String),
}

/// Joins continuation lines and drops comments.
fn statements(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut in_block = false;
    for raw in script.replace("\r\n", "\n").lines() {
        let mut line = raw.trim().to_owned();
        if in_block {
            if let Some(end) = line.find("#>") {
                line = line[end + 2..].trim().to_owned();
                in_block = false;
            } else {
                continue;
            }
        }
        if let Some(start) = line.find("<#") {
            if let Some(end) = line[start..].find("#>") {
                line = format!("{}{}", &line[..start], &line[start + end + 2..]);
            } else {
                line = line[..start].trim().to_owned();
                in_block = true;
            }
        }
        if line.starts_with('#') {
            continue;
        }
        if let Some(body) = line.strip_suffix('`') {
            current.push_str(body);
            current.push(' ');
            continue;
        }
        current.push_str(&line);
        let done = std::mem::take(&mut current);
        if !done.trim().is_empty() {
            out.push(done.trim().to_owned());
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_owned());
    }
    out
}

/// PowerShell-ish tokens: quoted strings (quotes kept), `(…)` groups, `|`, words.
fn tokens(statement: &str) -> Vec<String> {
    let chars: Vec<char> = statement.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if c == '|' || c == '=' && out.len() == 1 {
            out.push(c.to_string());
            i += 1;
            continue;
        }
        if c == '(' {
            let mut depth = 0;
            while i < chars.len() {
                match chars[i] {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            i += 1;
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        } else {
            // A word, possibly with quoted parts (`-Organization:'x'`).
            while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '|' {
                if chars[i] == '\'' || chars[i] == '"' {
                    let q = chars[i];
                    i += 1;
                    while i < chars.len() {
                        if chars[i] == q {
                            if chars.get(i + 1) == Some(&q) {
                                i += 2;
                                continue;
                            }
                            break;
                        }
                        i += 1;
                    }
                }
                i += 1;
            }
        }
        out.push(chars[start..i.min(chars.len())].iter().collect());
    }
    out
}

/// A literal's text (`'a''b'` → `a'b`), a variable's value, or the word itself.
fn value_of(token: &str, vars: &HashMap<String, Val>) -> Option<Val> {
    let t = token.trim();
    if let Some(name) = t.strip_prefix('$') {
        return vars.get(&name.to_ascii_lowercase()).cloned();
    }
    if let Some(inner) = t.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        let toks = tokens(inner);
        if toks
            .first()
            .is_some_and(|c| c.eq_ignore_ascii_case("Get-AutomationCertificate"))
        {
            let args = parse_args(&toks[1..]);
            return named(&args, "Name", vars).map(Val::Cert);
        }
        return None;
    }
    Some(Val::Text(unquote(t)))
}

fn unquote(t: &str) -> String {
    if t.len() >= 2 && t.starts_with('\'') && t.ends_with('\'') {
        t[1..t.len() - 1].replace("''", "'")
    } else if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
        t[1..t.len() - 1].replace("\"\"", "\"")
    } else {
        t.to_owned()
    }
}

/// `-Name value`, `-Name:value`, `-Switch` → lower-case name → raw value (`None` for switches).
fn parse_args(toks: &[String]) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        if t == "|" {
            break;
        }
        if let Some(p) = t.strip_prefix('-') {
            if let Some((name, value)) = p.split_once(':') {
                out.push((name.to_ascii_lowercase(), Some(value.to_owned())));
                i += 1;
                continue;
            }
            let next = toks.get(i + 1).filter(|n| !n.starts_with('-') && *n != "|");
            // Switches the cmdlets here know take no value.
            let switch = [
                "managedidentity",
                "showbanner",
                "confirm",
                "skiploadingformatdata",
            ]
            .contains(&p.to_ascii_lowercase().as_str());
            match next {
                Some(v) if !switch => {
                    out.push((p.to_ascii_lowercase(), Some(v.clone())));
                    i += 2;
                }
                _ => {
                    out.push((p.to_ascii_lowercase(), None));
                    i += 1;
                }
            }
        } else {
            out.push((String::new(), Some(t.clone())));
            i += 1;
        }
    }
    out
}

fn has(args: &[(String, Option<String>)], name: &str) -> bool {
    args.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
}

fn raw<'a>(args: &'a [(String, Option<String>)], name: &str) -> Option<&'a str> {
    args.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_deref())
}

fn named(
    args: &[(String, Option<String>)],
    name: &str,
    vars: &HashMap<String, Val>,
) -> Option<String> {
    match value_of(raw(args, name)?, vars)? {
        Val::Text(t) | Val::Cert(t) => Some(t),
    }
}

struct Run<'a> {
    sim: &'a Sim,
    ai: usize,
    runtime72: bool,
    vars: HashMap<String, Val>,
    connected: bool,
    streams: Vec<StreamLine>,
}

type Step = Result<(), String>;

impl Run<'_> {
    fn tenant(&self) -> &Tenant {
        &self.sim.tenant
    }

    fn out(&mut self, text: impl Into<String>) {
        self.streams.push(StreamLine {
            stream_type: "Output".into(),
            text: text.into(),
        });
    }

    /// The ExchangeOnlineManagement module imported (Succeeded) for the runbook's runtime.
    fn exo_module(&self) -> Option<&crate::arm_model::Module> {
        let coll = if self.runtime72 {
            "powerShell72Modules"
        } else {
            "modules"
        };
        let now = self.tenant().clock.now_ms();
        self.sim.arm.accounts[self.ai].modules.iter().find(|m| {
            m.collection == coll
                && m.name.eq_ignore_ascii_case("ExchangeOnlineManagement")
                && m.succeeded(now)
        })
    }

    fn not_recognized(&self, cmdlet: &str) -> String {
        if self.runtime72 {
            format!(
                "The term '{cmdlet}' is not recognized as a name of a cmdlet, function, script file, or executable program.\nCheck the spelling of the name, or if a path was included, verify that the path is correct and try again."
            )
        } else {
            format!(
                "The term '{cmdlet}' is not recognized as the name of a cmdlet, function, script file, or operable program. Check the spelling of the name, or if a path was included, verify that the path is correct and try again."
            )
        }
    }

    fn asset(&self, name: &str) -> Result<crate::arm_model::Certificate, String> {
        self.sim.arm.accounts[self.ai]
            .certificates
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
            .cloned()
            .ok_or_else(|| format!("Certificate asset '{name}' was not found."))
    }

    fn statement(&mut self, text: &str) -> Step {
        let toks = tokens(text);
        if toks.is_empty() {
            return Ok(());
        }
        // `$x = …`
        if toks.len() >= 3 && toks[0].starts_with('$') && toks[1] == "=" {
            let var = toks[0][1..].to_ascii_lowercase();
            let rest = &toks[2..];
            if rest[0].eq_ignore_ascii_case("Get-AutomationCertificate") {
                let args = parse_args(&rest[1..]);
                let name = named(&args, "Name", &self.vars)
                    .or_else(|| named(&args, "", &self.vars))
                    .unwrap_or_default();
                self.asset(&name)?;
                self.vars.insert(var, Val::Cert(name));
            } else if let Some(v) = value_of(&rest[0], &self.vars).filter(|_| rest.len() == 1) {
                self.vars.insert(var, v);
            }
            return Ok(());
        }
        let cmd = toks[0].to_ascii_lowercase();
        let args = parse_args(&toks[1..]);
        match cmd.as_str() {
            "import-module" => {
                let name = named(&args, "Name", &self.vars)
                    .or_else(|| named(&args, "", &self.vars))
                    .unwrap_or_default();
                if name.eq_ignore_ascii_case("ExchangeOnlineManagement")
                    && self.exo_module().is_none()
                {
                    return Err("The specified module 'ExchangeOnlineManagement' was not loaded because no valid module file was found in any module directory.".into());
                }
                Ok(())
            }
            "connect-exchangeonline" => self.connect(&args),
            "get-exomailbox" | "get-mailbox" => {
                if self.exo_module().is_none() {
                    return Err(self.not_recognized(&toks[0]));
                }
                if !self.connected {
                    return Err(
                        "You must call the Connect-ExchangeOnline cmdlet before calling any other cmdlets."
                            .into(),
                    );
                }
                let size = raw(&args, "ResultSize").map(unquote);
                let limit = match size.as_deref() {
                    None => 1000,
                    Some(s) if s.eq_ignore_ascii_case("Unlimited") => usize::MAX,
                    Some(s) => s.parse().unwrap_or(1000),
                };
                let rows: Vec<(String, String)> = self
                    .tenant()
                    .users
                    .iter()
                    .filter(|u| u.home.is_none())
                    .take(limit)
                    .map(|u| (u.display_name.clone(), u.user_principal_name.clone()))
                    .collect();
                self.out(table(&rows));
                Ok(())
            }
            "disconnect-exchangeonline" => {
                self.connected = false;
                Ok(())
            }
            "write-output" | "echo" => {
                let text: Vec<String> = args
                    .iter()
                    .filter_map(|(_, v)| v.as_deref())
                    .filter_map(|v| match value_of(v, &self.vars) {
                        Some(Val::Text(t)) => Some(t),
                        _ => None,
                    })
                    .collect();
                self.out(text.join(" "));
                Ok(())
            }
            _ if toks.len() == 1 && (cmd.starts_with('\'') || cmd.starts_with('"')) => {
                self.out(unquote(&toks[0]));
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// `Connect-ExchangeOnline`: as the managed identity or as an app with a certificate asset.
    fn connect(&mut self, args: &[(String, Option<String>)]) -> Step {
        let Some(module) = self.exo_module() else {
            return Err(self.not_recognized("Connect-ExchangeOnline"));
        };
        let major = module.major().unwrap_or(0);
        let cloud = self.sim.cloud;
        let tenant = self.tenant();
        let env = named(args, "ExchangeEnvironmentName", &self.vars)
            .unwrap_or_else(|| "O365Default".into());
        let wanted = crate::cloud::Cloud::all()
            .into_iter()
            .find(|c| c.exchange_environment_name().eq_ignore_ascii_case(&env));
        if wanted != Some(cloud) {
            let host = wanted.map_or("an unknown environment", |c| c.exchange());
            return Err(format!(
                "AADSTS500011: The resource principal named {host} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
                tenant.display_name
            ));
        }
        let Some(org) = named(args, "Organization", &self.vars) else {
            return Err(
                "The Organization parameter is required for app-only (certificate or managed identity) authentication."
                    .into(),
            );
        };
        let initial = tenant.initial_domain().unwrap_or_default();
        if !org.eq_ignore_ascii_case(initial) && !org.eq_ignore_ascii_case(&tenant.id) {
            return Err(format!(
                "UnAuthorized (simulator: -Organization '{org}' is not the tenant's initial domain '{initial}')"
            ));
        }
        let (sp, app_id, who) = if has(args, "ManagedIdentity") {
            if major < 3 {
                return Err(
                    "A parameter cannot be found that matches parameter name 'ManagedIdentity'."
                        .into(),
                );
            }
            self.managed_identity(args)?
        } else if has(args, "AppId") {
            self.application(args)?
        } else {
            return Err(
                "The simulator's sandbox cannot sign in interactively: use -ManagedIdentity or -AppId with a certificate."
                    .into(),
            );
        };
        let tenant = self.tenant();
        let lag = tenant.replication_lag_secs * 1000;
        let young = tenant
            .created
            .get(&sp)
            .is_some_and(|at| tenant.clock.now_ms() - at < lag);
        if young || tenant.service_principal(&sp).is_err() {
            return Err(format!(
                "UnAuthorized (simulator: the service principal {sp} has not reached Exchange Online yet)"
            ));
        }
        let claims =
            crate::identity::exchange_claims(tenant, &sp, &app_id, tenant.clock.now(), 3599, cloud)
                .map_err(|e| format!("AADSTS{}: {}", e.code, e.text))?;
        let granted = claims["roles"]
            .as_array()
            .is_some_and(|r| r.iter().any(|v| v == "Exchange.ManageAsApp"));
        if !granted {
            return Err(format!(
                "UnAuthorized (simulator: {who} does not hold Exchange.ManageAsApp on Office 365 Exchange Online)"
            ));
        }
        let roles: Vec<&str> = claims["wids"]
            .as_array()
            .map(|w| w.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        let supported: Vec<&str> = roles
            .iter()
            .copied()
            .filter(|r| supported_role(r))
            .map(unattended::wellknown::role_name)
            .collect();
        if supported.is_empty() {
            return Err(format!(
                "The role assigned to application {app_id} isn't supported in this scenario. Please check online documentation for assigning correct Directory Roles to Azure AD Application for EXO App-Only Authentication."
            ));
        }
        self.connected = true;
        self.out(format!(
            "Connected to Exchange Online as {who} (roles: {})",
            supported.join(", ")
        ));
        Ok(())
    }

    /// The system-assigned identity, or the user-assigned one `-ManagedIdentityAccountId` names
    /// by client id: (service principal id, client id, description).
    fn managed_identity(
        &self,
        args: &[(String, Option<String>)],
    ) -> Result<(String, String, String), String> {
        let account = &self.sim.arm.accounts[self.ai];
        let not_found = "Failed to get a token for the managed identity: the managed identity endpoint answered 400 Identity not found.";
        if let Some(client) = named(args, "ManagedIdentityAccountId", &self.vars) {
            let attached = self.sim.arm.user_identities.iter().filter(|u| {
                account
                    .user_identities
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(&u.resource_id))
            });
            let mut by_object = false;
            for u in attached {
                if u.client_id.eq_ignore_ascii_case(&client) {
                    let name = u.resource_id.rsplit('/').next().unwrap_or_default();
                    return Ok((
                        u.principal_id.clone(),
                        u.client_id.clone(),
                        format!(
                            "{name} (user-assigned managed identity, client id {})",
                            u.client_id
                        ),
                    ));
                }
                by_object |= u.principal_id.eq_ignore_ascii_case(&client);
            }
            let hint = if by_object {
                " (simulator: that is the identity's object id; -ManagedIdentityAccountId takes its client id)"
            } else {
                " (simulator: no user-assigned identity with that client id is attached to the Automation account)"
            };
            return Err(format!("{not_found}{hint}"));
        }
        match &account.system_identity {
            Some(s) => Ok((
                s.principal_id.clone(),
                s.client_id.clone(),
                format!(
                    "{} (system-assigned managed identity, client id {})",
                    account.name, s.client_id
                ),
            )),
            None => Err(format!(
                "{not_found} (simulator: the Automation account's system-assigned identity is off)"
            )),
        }
    }

    /// `-AppId` with `-Certificate` (an asset read with `Get-AutomationCertificate`) or
    /// `-CertificateThumbprint` (an asset's thumbprint: Automation puts assets in the sandbox's
    /// certificate store).
    fn application(
        &self,
        args: &[(String, Option<String>)],
    ) -> Result<(String, String, String), String> {
        let app_id = named(args, "AppId", &self.vars).unwrap_or_default();
        let tenant = self.tenant();
        let cert = if let Some(token) = raw(args, "Certificate") {
            match value_of(token, &self.vars) {
                Some(Val::Cert(name)) => self.asset(&name)?,
                _ => {
                    return Err(
                        "Cannot bind parameter 'Certificate': the value is not an X509Certificate2 (read the asset with Get-AutomationCertificate)."
                            .into(),
                    );
                }
            }
        } else if let Some(tp) = named(args, "CertificateThumbprint", &self.vars) {
            self.sim.arm.accounts[self.ai]
                .certificates
                .iter()
                .find(|c| c.thumbprint.eq_ignore_ascii_case(&tp))
                .cloned()
                .ok_or_else(|| {
                    format!(
                        "No certificate with thumbprint {tp} was found in the certificate store."
                    )
                })?
        } else if has(args, "CertificateFilePath") {
            return Err(
                "The simulator's sandbox has no certificate files: use a certificate asset.".into(),
            );
        } else {
            return Err("Specify -Certificate or -CertificateThumbprint with -AppId.".into());
        };
        if !cert.has_private_key {
            return Err(format!(
                "The certificate asset '{}' has no private key (a .cer was uploaded): it cannot sign the client assertion.",
                cert.name
            ));
        }
        let Some(app) = tenant
            .applications
            .iter()
            .find(|a| a.app_id.eq_ignore_ascii_case(&app_id))
        else {
            return Err(format!(
                "AADSTS700016: Application with identifier '{app_id}' was not found in the directory '{}'.",
                tenant.display_name
            ));
        };
        let now = tenant.clock.now();
        let registered = app.key_credentials.iter().any(|k| {
            let Some(der) = k.key.as_deref().and_then(|b| STANDARD.decode(b).ok()) else {
                return false;
            };
            let tp: String = Sha1::digest(&der)
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect();
            let in_dates = |s: &Option<String>, ok: fn(i64, i64) -> bool| {
                s.as_deref()
                    .and_then(crate::ids::parse_rfc3339)
                    .is_none_or(|t| ok(t, now))
            };
            tp.eq_ignore_ascii_case(&cert.thumbprint)
                && in_dates(&k.start_date_time, |s, n| s <= n)
                && in_dates(&k.end_date_time, |e, n| n <= e)
        });
        if !registered {
            return Err(format!(
                "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{}']",
                cert.thumbprint
            ));
        }
        let Some(sp) = tenant
            .service_principals
            .iter()
            .find(|s| s.app_id == app.app_id)
        else {
            return Err(format!(
                "AADSTS7000229: The client application {app_id} is missing service principal in the tenant {}.",
                tenant.id
            ));
        };
        Ok((
            sp.id.clone(),
            app.app_id.clone(),
            format!("{} (app id {})", app.display_name, app.app_id),
        ))
    }
}

/// `DisplayName`/`PrimarySmtpAddress` as `Format-Table -AutoSize` prints them.
fn table(rows: &[(String, String)]) -> String {
    let w = rows
        .iter()
        .map(|(d, _)| d.chars().count())
        .max()
        .unwrap_or(0)
        .max("DisplayName".len());
    let mut out = format!(
        "{:<w$} PrimarySmtpAddress\n{:<w$} ------------------\n",
        "DisplayName", "-----------"
    );
    for (d, m) in rows {
        out.push_str(&format!("{d:<w$} {m}\n"));
    }
    out.trim_end().to_owned()
}

/// Runs job `ji` of account `ai` against the current tenant.
pub fn run(sim: &Sim, ai: usize, ji: usize) -> Outcome {
    let job = &sim.arm.accounts[ai].jobs[ji];
    let kind = job.runbook_type.to_ascii_lowercase();
    let runtime72 = kind.starts_with("powershell7");
    if !(runtime72 || kind == "powershell") {
        return Outcome {
            completed: false,
            streams: vec![],
            exception: Some(format!(
                "The simulator runs PowerShell runbooks only, not '{}'.",
                job.runbook_type
            )),
        };
    }
    let mut run = Run {
        sim,
        ai,
        runtime72,
        vars: HashMap::new(),
        connected: false,
        streams: vec![],
    };
    for statement in statements(&job.script) {
        if let Err(message) = run.statement(&statement) {
            run.streams.push(StreamLine {
                stream_type: "Error".into(),
                text: message.clone(),
            });
            return Outcome {
                completed: false,
                streams: run.streams,
                exception: Some(message),
            };
        }
    }
    Outcome {
        completed: true,
        streams: run.streams,
        exception: None,
    }
}
