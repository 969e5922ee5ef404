//! The inventory, as data: every principal that holds `Exchange.ManageAsApp`, its roles, its
//! certificates (with expiry and last use) and its other credentials, built from what Graph
//! returned and the time. Pure, so every rule is tested natively.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use der::Decode;
use serde::Serialize;
use serde_json::Value;

use super::when::{self, DAY};
use crate::forge::Thumbprints;
use crate::graph::models::{Application, ServicePrincipal};

/// A certificate this close to its end is "expiring" (the window CIPP's expiry alert uses,
/// <https://docs.cipp.app/user-documentation/tenant/administration/alert-configuration>).
pub const EXPIRING_DAYS: i64 = 30;

/// A certificate used to sign in this recently is still in use somewhere: removing it needs an
/// explicit confirmation naming the date.
pub const RECENT_USE_DAYS: i64 = 14;

/// Where a certificate stands today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    /// Past its end: sign-ins with it fail (AADSTS700027).
    Expired,
    /// Ends within `EXPIRING_DAYS`.
    Expiring,
    /// Valid, with time to spare.
    Valid,
    /// Starts in the future.
    NotYetValid,
}

impl Status {
    /// How the page names it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::Expiring => "expiring",
            Self::Valid => "valid",
            Self::NotYetValid => "not yet valid",
        }
    }

    /// Whether a sign-in with it works today.
    pub fn usable(self) -> bool {
        matches!(self, Self::Valid | Self::Expiring)
    }

    fn of(start: Option<i64>, end: Option<i64>, now: i64) -> Self {
        match (start, end) {
            (_, Some(end)) if end <= now => Self::Expired,
            (Some(start), _) if start > now => Self::NotYetValid,
            (_, Some(end)) if end - now <= EXPIRING_DAYS * DAY => Self::Expiring,
            _ => Self::Valid,
        }
    }
}

/// When a certificate was last used to sign in, as far as the tenant tells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "at")]
pub enum LastUse {
    /// The sign-in activity report could not be read (see `Usage`).
    Unknown,
    /// The report has no sign-in with it.
    Never,
    /// The latest sign-in with it (ISO 8601, UTC).
    At(String),
}

impl LastUse {
    /// The date of the last use when it was within `days` of `now`.
    pub fn within(&self, days: i64, now: i64) -> Option<String> {
        match self {
            Self::At(at) => when::parse(at)
                .filter(|t| now - t <= days * DAY)
                .map(when::day),
            _ => None,
        }
    }

    /// As a cell: a date, "never" or "unknown".
    pub fn text(&self) -> String {
        match self {
            Self::Unknown => "unknown".into(),
            Self::Never => "never".into(),
            Self::At(at) => when::parse(at).map_or_else(|| at.clone(), when::day),
        }
    }
}

/// A certificate registered on an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Certificate {
    /// Graph's `keyId`, lower-case.
    pub key_id: String,
    /// Its `displayName` (often `CN=…`).
    pub display_name: String,
    /// SHA-1 thumbprint, upper-case hex (what `-CertificateThumbprint` takes).
    pub thumbprint: String,
    /// The certificate's subject, when the certificate itself was read.
    pub subject: Option<String>,
    /// RSA key size in bits, when the certificate was read and holds an RSA key.
    pub key_bits: Option<u32>,
    /// `startDateTime`.
    pub start: String,
    /// `endDateTime`.
    pub end: String,
    /// Whole days until `end` (negative once expired).
    pub days_left: i64,
    /// Expired, expiring, valid.
    pub status: Status,
    /// Its whole lifetime in days, from `start` to `end`.
    pub lifetime_days: i64,
    /// The last sign-in with it.
    pub last_used: LastUse,
}

/// A client secret on an app (never its value: Graph does not return it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    /// `keyId`.
    pub key_id: String,
    /// `displayName`.
    pub display_name: String,
    /// The first characters Graph shows (`hint`).
    pub hint: String,
    /// `endDateTime`.
    pub end: String,
    /// Whole days until `end`.
    pub days_left: i64,
    /// Expired or not.
    pub status: Status,
    /// The last sign-in with it.
    pub last_used: LastUse,
}

/// What kind of principal holds the permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    /// An app registration of this tenant.
    App,
    /// An app registered in another tenant (a vendor's multi-tenant app): its credentials are
    /// not this tenant's to see or rotate.
    OtherTenantApp,
    /// A managed identity (Azure Automation): no credential to rotate.
    ManagedIdentity,
}

impl Kind {
    /// How the page names it.
    pub fn label(self) -> &'static str {
        match self {
            Self::App => "app registration",
            Self::OtherTenantApp => "app of another tenant",
            Self::ManagedIdentity => "managed identity",
        }
    }
}

/// One principal holding `Exchange.ManageAsApp`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Principal {
    /// App, managed identity, or another tenant's app.
    pub kind: Kind,
    /// Name.
    pub display_name: String,
    /// Application (client) id.
    pub app_id: String,
    /// The app registration's object id (apps of this tenant only).
    pub app_object_id: Option<String>,
    /// The service principal's object id.
    pub service_principal_id: String,
    /// Entra roles held tenant-wide (template ids).
    pub roles: Vec<String>,
    /// When `Exchange.ManageAsApp` was granted.
    pub granted: String,
    /// Certificates, soonest end first.
    pub certificates: Vec<Certificate>,
    /// Client secrets.
    pub secrets: Vec<Secret>,
    /// The app as read (single object: every certificate's `key` present), for rotation; not
    /// exported.
    #[serde(skip)]
    pub app: Option<Application>,
}

impl Principal {
    /// The same principal with its app as read again (after a change): certificates recomputed
    /// at `now`, each keeping the last use known for it (a new one: never used, when the report
    /// was readable).
    pub fn refreshed(&self, app: Application, now: i64) -> Self {
        let sp = ServicePrincipal {
            id: self.service_principal_id.clone(),
            app_id: self.app_id.clone(),
            display_name: self.display_name.clone(),
            service_principal_type: Some("Application".into()),
            alternative_names: vec![],
            app_roles: vec![],
        };
        let known = self
            .certificates
            .iter()
            .any(|c| c.last_used != LastUse::Unknown);
        let usage = if known {
            Usage::Read(vec![])
        } else {
            Usage::Unavailable(UsageGap::Failed(String::new()))
        };
        let mut out = principal(
            &sp,
            Some(app),
            self.roles.clone(),
            self.granted.clone(),
            &usage,
            now,
        );
        for c in &mut out.certificates {
            if let Some(old) = self.certificates.iter().find(|o| o.key_id == c.key_id) {
                c.last_used = old.last_used.clone();
            }
        }
        for s in &mut out.secrets {
            if let Some(old) = self.secrets.iter().find(|o| o.key_id == s.key_id) {
                s.last_used = old.last_used.clone();
            }
        }
        out
    }

    /// The certificate statuses that matter most first: expired, then expiring, then valid.
    pub fn worst(&self) -> Option<Status> {
        self.certificates.iter().map(|c| c.status).min()
    }

    /// Certificates that work today.
    pub fn usable(&self) -> impl Iterator<Item = &Certificate> {
        self.certificates.iter().filter(|c| c.status.usable())
    }

    /// What the admin should know about this principal, each a sentence that says what to do.
    pub fn warnings(&self, max_certificate_days: Option<u32>) -> Vec<String> {
        let mut out = vec![];
        if self.kind == Kind::App && self.usable().next().is_none() {
            out.push(if self.certificates.is_empty() {
                "No certificate: nothing can sign in as this app for Exchange. Rotate to add one, or remove the grant if it is unused.".to_owned()
            } else {
                "No valid certificate: every script using this app fails to connect. Rotate now.".to_owned()
            });
        } else if self.kind == Kind::App && self.usable().all(|c| c.status == Status::Expiring) {
            out.push(format!(
                "Every valid certificate ends within {EXPIRING_DAYS} days: rotate before the scripts stop."
            ));
        }
        if !self.secrets.is_empty() {
            out.push(format!(
                "{} client secret{}: Exchange Online PowerShell cannot use a secret, so it only adds risk (anyone holding it can get tokens for this app's other permissions). Remove it in the Entra admin center (App registrations → the app → Certificates & secrets) once nothing else uses it.",
                self.secrets.len(),
                if self.secrets.len() == 1 { "" } else { "s" }
            ));
        }
        if let Some(max) = max_certificate_days {
            for c in &self.certificates {
                if c.lifetime_days > i64::from(max) && c.status != Status::Expired {
                    out.push(format!(
                        "Certificate {} is valid for {} days, longer than the {max} days the tenant's app-management policy allows for new ones: rotate to a certificate within the policy.",
                        c.thumbprint, c.lifetime_days
                    ));
                }
            }
        }
        if self.roles.is_empty() {
            out.push("No Entra role: Exchange Online refuses app-only sign-ins without one (assign Exchange Administrator or a narrower role).".to_owned());
        }
        out
    }
}

/// One row of the report that says when credentials were last used
/// (`GET /beta/reports/appCredentialSignInActivities`,
/// <https://learn.microsoft.com/graph/api/resources/appcredentialsigninactivity?view=graph-rest-beta>).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    /// The credential's `keyId`.
    #[serde(default)]
    pub key_id: String,
    /// The app's client id.
    #[serde(default)]
    pub app_id: String,
    /// Sign-in times.
    #[serde(default)]
    pub sign_in_activity: Option<SignInActivity>,
}

/// The times inside an `Activity`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInActivity {
    /// The latest sign-in, successful or not.
    #[serde(default)]
    pub last_sign_in_date_time: Option<String>,
    /// The latest successful sign-in.
    #[serde(default)]
    pub last_successful_sign_in_date_time: Option<String>,
}

impl Activity {
    fn latest(&self) -> Option<(i64, String)> {
        let a = self.sign_in_activity.as_ref()?;
        [
            &a.last_sign_in_date_time,
            &a.last_successful_sign_in_date_time,
        ]
        .into_iter()
        .flatten()
        .filter_map(|t| when::parse(t).map(|u| (u, t.clone())))
        .max_by_key(|(u, _)| *u)
    }
}

/// Why the last-use column is empty; each says what is missing and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "missing", content = "detail")]
pub enum UsageGap {
    /// The page's sign-in lacks the delegated `AuditLog.Read.All`.
    Consent,
    /// The admin holds no role that may read sign-in reports.
    Role,
    /// The tenant has no Microsoft Entra ID P1/P2 licence, which the report needs.
    Licence,
    /// The cloud's Microsoft Graph has no such report (national clouds).
    NotInCloud(String),
    /// Another failure, as Graph said it.
    Failed(String),
}

impl std::fmt::Display for UsageGap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Consent => f.write_str(
                "Last use is unknown: reading it needs the delegated permission AuditLog.Read.All, which this sign-in does not have. Press \"Allow reading last use\" to sign in again with it (an administrator consents once), or go on without it.",
            ),
            Self::Role => f.write_str(
                "Last use is unknown: reading sign-in reports needs one of the roles Reports Reader, Security Reader, Security Operator, Security Administrator, Global Reader or Global Administrator, and you hold none of them. Ask someone who does, or activate one in PIM and reload; the rest of the inventory is complete.",
            ),
            Self::Licence => f.write_str(
                "Last use is unknown: this tenant has no Microsoft Entra ID P1 or P2 licence, which the sign-in activity report needs. The rest of the inventory is complete; check each script's own logs before removing a certificate.",
            ),
            Self::NotInCloud(cloud) => write!(
                f,
                "Last use is not available in {cloud}: Microsoft Graph's credential sign-in activity report exists only in the worldwide service. The rest of the inventory is complete; check each script's own logs before removing a certificate."
            ),
            Self::Failed(why) => write!(
                f,
                "Last use is unknown: the sign-in activity report could not be read ({why}). The rest of the inventory is complete."
            ),
        }
    }
}

/// The sign-in activity report, or why it is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Usage {
    /// Read in full.
    Read(Vec<Activity>),
    /// Not available.
    Unavailable(UsageGap),
}

impl Usage {
    /// The last use of credential `key_id` of app `app_id`.
    pub fn of(&self, app_id: &str, key_id: &str) -> LastUse {
        match self {
            Self::Unavailable(_) => LastUse::Unknown,
            Self::Read(rows) => rows
                .iter()
                .filter(|r| {
                    r.key_id.eq_ignore_ascii_case(key_id)
                        && (r.app_id.is_empty() || r.app_id.eq_ignore_ascii_case(app_id))
                })
                .filter_map(Activity::latest)
                .max_by_key(|(u, _)| *u)
                .map_or(LastUse::Never, |(_, at)| LastUse::At(at)),
        }
    }

    /// Why it is missing, if it is.
    pub fn gap(&self) -> Option<&UsageGap> {
        match self {
            Self::Unavailable(g) => Some(g),
            Self::Read(_) => None,
        }
    }
}

/// What the DER of a certificate says about it: subject and RSA key size.
fn read_der(der: &[u8]) -> (Option<String>, Option<u32>) {
    let Ok(cert) = x509_cert::Certificate::from_der(der) else {
        return (None, None);
    };
    let tbs = cert.tbs_certificate();
    let subject = Some(tbs.subject().to_string());
    let spki = tbs.subject_public_key_info();
    // The RSA modulus's size (RFC 8017 §A.1.1), read from its DER INTEGER without big-number
    // arithmetic (the `rsa` crate's parser would bring the whole forge into the page's first
    // load); any other key type has no size here.
    let bits = (spki.algorithm.oid == RSA_ENCRYPTION)
        .then(|| spki.subject_public_key.as_bytes())
        .flatten()
        .and_then(|key| pkcs1::RsaPublicKey::<der::asn1::UintRef<'_>>::from_der(key).ok())
        .map(|key| significant_bits(key.modulus.as_bytes()));
    (subject, bits)
}

/// rsaEncryption (RFC 8017 §A.1).
const RSA_ENCRYPTION: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// Bits of a big-endian unsigned number, leading zeros not counted.
fn significant_bits(bytes: &[u8]) -> u32 {
    let bytes = match bytes.iter().position(|b| *b != 0) {
        Some(first) => &bytes[first..],
        None => return 0,
    };
    let len = u32::try_from(bytes.len()).unwrap_or(0);
    len * 8 - bytes[0].leading_zeros()
}

/// One certificate from a raw keyCredential.
pub fn certificate(raw: &Value, app_id: &str, usage: &Usage, now: i64) -> Certificate {
    let text = |k: &str| raw[k].as_str().unwrap_or_default().to_owned();
    // Only bytes that are a certificate count: anything else falls back to what Graph says.
    let der = raw["key"]
        .as_str()
        .and_then(|k| STANDARD.decode(k).ok())
        .filter(|d| x509_cert::Certificate::from_der(d).is_ok());
    let (subject, key_bits) = der.as_deref().map_or((None, None), read_der);
    // The certificate itself is the truth; `customKeyIdentifier` is whatever the uploader set
    // (Graph's default is the thumbprint).
    let thumbprint = der.as_deref().map_or_else(
        || {
            raw["customKeyIdentifier"]
                .as_str()
                .and_then(|c| STANDARD.decode(c).ok())
                .map(|b| b.iter().map(|x| format!("{x:02X}")).collect())
                .unwrap_or_default()
        },
        |d| Thumbprints::of(d).sha1_hex,
    );
    let (start, end) = (text("startDateTime"), text("endDateTime"));
    let (s, e) = (when::parse(&start), when::parse(&end));
    let key_id = text("keyId").to_ascii_lowercase();
    Certificate {
        last_used: usage.of(app_id, &key_id),
        key_id,
        display_name: text("displayName"),
        thumbprint,
        subject,
        key_bits,
        days_left: e.map_or(0, |e| when::days_between(now, e)),
        status: Status::of(s, e, now),
        lifetime_days: match (s, e) {
            (Some(s), Some(e)) => (e - s).div_euclid(DAY),
            _ => 0,
        },
        start,
        end,
    }
}

/// One client secret from a raw passwordCredential.
pub fn secret(raw: &Value, app_id: &str, usage: &Usage, now: i64) -> Secret {
    let text = |k: &str| raw[k].as_str().unwrap_or_default().to_owned();
    let end = text("endDateTime");
    let e = when::parse(&end);
    let key_id = text("keyId").to_ascii_lowercase();
    Secret {
        last_used: usage.of(app_id, &key_id),
        key_id,
        display_name: text("displayName"),
        hint: text("hint"),
        days_left: e.map_or(0, |e| when::days_between(now, e)),
        status: Status::of(when::parse(&text("startDateTime")), e, now),
        end,
    }
}

/// A principal from its service principal, its app registration (`None` for a managed identity
/// or another tenant's app), its roles and the grant's date.
pub fn principal(
    sp: &ServicePrincipal,
    app: Option<Application>,
    roles: Vec<String>,
    granted: String,
    usage: &Usage,
    now: i64,
) -> Principal {
    let kind = match (&app, sp.service_principal_type.as_deref()) {
        (_, Some("ManagedIdentity")) => Kind::ManagedIdentity,
        (None, _) => Kind::OtherTenantApp,
        (Some(_), _) => Kind::App,
    };
    let app = app.filter(|_| kind == Kind::App);
    let mut certificates: Vec<Certificate> = app
        .iter()
        .flat_map(|a| &a.key_credentials)
        .filter(|k| k["type"].as_str().is_none_or(|t| t == "AsymmetricX509Cert"))
        .filter(|k| k["usage"].as_str().is_none_or(|u| u == "Verify"))
        .map(|k| certificate(k, &sp.app_id, usage, now))
        .collect();
    certificates.sort_by(|a, b| a.days_left.cmp(&b.days_left).then(a.key_id.cmp(&b.key_id)));
    let secrets = app
        .iter()
        .flat_map(|a| &a.password_credentials)
        .map(|k| secret(k, &sp.app_id, usage, now))
        .collect();
    Principal {
        kind,
        display_name: app
            .as_ref()
            .map_or_else(|| sp.display_name.clone(), |a| a.display_name.clone()),
        app_id: sp.app_id.clone(),
        app_object_id: app.as_ref().map(|a| a.id.clone()),
        service_principal_id: sp.id.clone(),
        roles,
        granted,
        certificates,
        secrets,
        app,
    }
}

/// Every principal holding `Exchange.ManageAsApp`, read at one time.
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    /// By name.
    pub principals: Vec<Principal>,
    /// The sign-in activity report, or why it is missing.
    pub usage: Usage,
    /// The tenant's certificate lifetime cap, if its policy sets one.
    pub max_certificate_days: Option<u32>,
    /// Whether every page of every list was read.
    pub complete: bool,
    /// When it was read (Unix seconds): days left count from here.
    pub now: i64,
}

impl Inventory {
    /// The principal with this service principal id.
    pub fn principal(&self, service_principal_id: &str) -> Option<&Principal> {
        self.principals
            .iter()
            .find(|p| p.service_principal_id == service_principal_id)
    }

    /// Certificates across all apps: (principal, certificate), for the table, the exports and
    /// the reminders.
    pub fn certificates(&self) -> impl Iterator<Item = (&Principal, &Certificate)> {
        self.principals
            .iter()
            .flat_map(|p| p.certificates.iter().map(move |c| (p, c)))
    }
}

/// Columns the table sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    /// Principal name.
    Name,
    /// Days left of the principal's soonest-ending usable certificate (none first).
    DaysLeft,
    /// Status (worst first).
    Status,
    /// Most recent use first (unknown last).
    LastUse,
}

/// Which principals the table shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Text in the name, app id or a thumbprint (case-insensitive).
    pub text: String,
    /// Only principals with a certificate in this status (or, for `Expiring`, expired too).
    pub status: Option<Status>,
}

impl Filter {
    /// Whether `p` passes.
    pub fn passes(&self, p: &Principal) -> bool {
        let needle = self.text.trim().to_lowercase();
        let text_ok = needle.is_empty()
            || p.display_name.to_lowercase().contains(&needle)
            || p.app_id.to_lowercase().contains(&needle)
            || p.certificates
                .iter()
                .any(|c| c.thumbprint.to_lowercase().contains(&needle));
        let status_ok = match self.status {
            None => true,
            Some(Status::Expiring) => p.worst().is_some_and(|s| s <= Status::Expiring),
            Some(s) => p.certificates.iter().any(|c| c.status == s),
        };
        text_ok && status_ok
    }
}

/// The principals `filter` passes, ordered by `by` (ties by name).
pub fn view<'a>(inventory: &'a Inventory, filter: &Filter, by: SortBy) -> Vec<&'a Principal> {
    let mut out: Vec<&Principal> = inventory
        .principals
        .iter()
        .filter(|p| filter.passes(p))
        .collect();
    let name = |p: &Principal| p.display_name.to_lowercase();
    let soonest = |p: &Principal| {
        p.usable()
            .map(|c| c.days_left)
            .min()
            .unwrap_or(if p.kind == Kind::App {
                i64::MIN
            } else {
                i64::MAX
            })
    };
    let last = |p: &Principal| {
        std::cmp::Reverse(
            p.certificates
                .iter()
                .filter_map(|c| match &c.last_used {
                    LastUse::At(at) => when::parse(at),
                    _ => None,
                })
                .max()
                .unwrap_or(i64::MIN),
        )
    };
    match by {
        SortBy::Name => out.sort_by_key(|p| name(p)),
        SortBy::DaysLeft => out.sort_by_key(|p| (soonest(p), name(p))),
        SortBy::Status => {
            out.sort_by_key(|p| (p.worst().unwrap_or(Status::NotYetValid), name(p)));
        }
        SortBy::LastUse => out.sort_by_key(|p| (last(p), name(p))),
    }
    out
}
