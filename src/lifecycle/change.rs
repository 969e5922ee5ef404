//! Changes to an app's certificates on day two, planned before any write: rotate (append a new
//! certificate, keep the old), remove old, clean up expired. Pure: the refusals and the plan are
//! decided here and tested natively; `super::apply` carries them out through the onboarding's
//! executor (read-modify-write by `keyId`, re-read after the PATCH).

use serde_json::Value;

use super::inventory::{
    Certificate, LastUse, Principal, RECENT_USE_DAYS, Status, Usage, certificate,
};
use super::when;
use crate::onboard::requests::{self, APP_SELECT};

/// What the admin asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Append a new certificate (the forge's keyCredential, public part only); every existing
    /// one is kept.
    Rotate(Value),
    /// Remove these certificates (`keyId`s); every other one is kept.
    Remove(Vec<String>),
}

/// Why a change is refused before anything is written; each says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Only apps of this tenant have certificates the page may change.
    NotAnApp(String),
    /// Nothing was chosen, or what was chosen is not on the app (any more).
    NothingToRemove,
    /// The removal would leave the app without a certificate that works today.
    LastValid {
        /// The certificates that would go.
        removing: Vec<String>,
    },
    /// A certificate to remove was used to sign in recently, and the admin has not confirmed.
    RecentlyUsed {
        /// Its thumbprint.
        thumbprint: String,
        /// The day it was last used (`YYYY-MM-DD`), or `None` when the report could not be read.
        on: Option<String>,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotAnApp(name) => write!(
                f,
                "\"{name}\" has no certificates of this tenant to change: a managed identity has none, and another tenant's app is rotated by its owner."
            ),
            Self::NothingToRemove => f.write_str(
                "Choose at least one certificate of the app to remove (the app may have changed since the inventory was read: read it again).",
            ),
            Self::LastValid { removing } => write!(
                f,
                "Refused: removing {} would leave the app without a valid certificate, and every script using it would stop. Rotate first (add a new certificate), move the scripts to it, then remove the old one.",
                removing.join(", ")
            ),
            Self::RecentlyUsed { thumbprint, on: Some(day) } => write!(
                f,
                "Certificate {thumbprint} was used to sign in on {day}, within the last {RECENT_USE_DAYS} days: some script still uses it. Move that script to the new certificate first, or confirm below that you remove it anyway."
            ),
            Self::RecentlyUsed { thumbprint, on: None } => write!(
                f,
                "When certificate {thumbprint} was last used is unknown (the sign-in activity report could not be read): a script may still use it. Check your scripts, then confirm below that you remove it anyway."
            ),
        }
    }
}

/// The confirmation a removal of a recently used (or possibly used) certificate needs: the
/// admin ticks a box naming it and the day.
pub fn confirmation_text(c: &Certificate, now: i64) -> Option<String> {
    if !c.status.usable() {
        return None;
    }
    match (&c.last_used, c.last_used.within(RECENT_USE_DAYS, now)) {
        (_, Some(day)) => Some(format!(
            "I know certificate {} was used to sign in on {day}; remove it anyway.",
            c.thumbprint
        )),
        (LastUse::Unknown, _) => Some(format!(
            "I know when certificate {} was last used is unknown; remove it anyway.",
            c.thumbprint
        )),
        _ => None,
    }
}

/// Checks a change against the app as read. `confirmed` holds the `keyId`s whose confirmation
/// the admin gave. `Ok` carries the `keyId`s to remove (lower-case).
pub fn check(
    principal: &Principal,
    change: &Change,
    confirmed: &[String],
    now: i64,
) -> Result<Vec<String>, Refusal> {
    if principal.app.is_none() {
        return Err(Refusal::NotAnApp(principal.display_name.clone()));
    }
    let Change::Remove(ids) = change else {
        return Ok(vec![]);
    };
    let mut ids: Vec<String> = ids.iter().map(|i| i.to_ascii_lowercase()).collect();
    ids.sort();
    ids.dedup();
    let removing: Vec<&Certificate> = principal
        .certificates
        .iter()
        .filter(|c| ids.contains(&c.key_id))
        .collect();
    if removing.is_empty() || removing.len() != ids.len() {
        return Err(Refusal::NothingToRemove);
    }
    let takes_valid = removing.iter().any(|c| c.status.usable());
    let valid_left = principal.usable().any(|c| !ids.contains(&c.key_id));
    if takes_valid && !valid_left {
        return Err(Refusal::LastValid {
            removing: removing.iter().map(|c| c.thumbprint.clone()).collect(),
        });
    }
    for c in &removing {
        if confirmation_text(c, now).is_some()
            && !confirmed.iter().any(|k| k.eq_ignore_ascii_case(&c.key_id))
        {
            return Err(Refusal::RecentlyUsed {
                thumbprint: c.thumbprint.clone(),
                on: c.last_used.within(RECENT_USE_DAYS, now),
            });
        }
    }
    Ok(ids)
}

/// The expired certificates of an app: what Clean up removes.
pub fn expired(principal: &Principal) -> Vec<String> {
    principal
        .certificates
        .iter()
        .filter(|c| c.status == Status::Expired)
        .map(|c| c.key_id.clone())
        .collect()
}

/// One line of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// `add`, `remove` or `keep`.
    pub action: &'static str,
    /// In words.
    pub text: String,
}

/// The plan of a change: every certificate and what happens to it, and the exact requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Added, removed and kept certificates, then the permissions kept.
    pub lines: Vec<Line>,
    /// The Graph requests, in order (the new certificate's key shown as a placeholder).
    pub requests: Vec<String>,
}

fn name(c: &Certificate) -> &str {
    if c.display_name.is_empty() {
        "unnamed"
    } else {
        &c.display_name
    }
}

fn end_day(c: &Certificate) -> String {
    when::parse(&c.end).map_or_else(|| c.end.clone(), when::day)
}

/// A certificate in a few words: `THUMBPRINT (name, ends YYYY-MM-DD)`.
pub fn short(c: &Certificate) -> String {
    format!("{} ({}, ends {})", c.thumbprint, name(c), end_day(c))
}

fn describe(c: &Certificate) -> String {
    format!(
        "certificate {} ({}, {} {}, last used {})",
        c.thumbprint,
        name(c),
        if c.status == Status::Expired {
            "expired"
        } else {
            "ends"
        },
        end_day(c),
        c.last_used.text()
    )
}

/// The plan for `change` on `principal` (after `check` passed, with its `keyId`s to remove).
pub fn plan(principal: &Principal, change: &Change, removing: &[String]) -> Plan {
    let mut lines = vec![];
    if let Change::Rotate(new) = change {
        let c = certificate(new, &principal.app_id, &Usage::Read(vec![]), 0);
        lines.push(Line {
            action: "add",
            text: format!("new certificate {}", short(&c)),
        });
    }
    for c in &principal.certificates {
        let gone = removing.contains(&c.key_id);
        lines.push(Line {
            action: if gone { "remove" } else { "keep" },
            text: describe(c),
        });
    }
    if let Some(app) = &principal.app
        && !app.required_resource_access.is_empty()
    {
        let n: usize = app
            .required_resource_access
            .iter()
            .map(|r| r["resourceAccess"].as_array().map_or(0, Vec::len))
            .sum();
        lines.push(Line {
            action: "keep",
            text: format!(
                "{n} declared API permission{} (unchanged, not sent)",
                if n == 1 { "" } else { "s" }
            ),
        });
    }
    if !principal.secrets.is_empty() {
        lines.push(Line {
            action: "keep",
            text: format!(
                "{} client secret(s) (not sent; remove them in the Entra admin center)",
                principal.secrets.len()
            ),
        });
    }
    let id = principal.app_object_id.clone().unwrap_or_default();
    let kept: Vec<String> = principal
        .certificates
        .iter()
        .filter(|c| !removing.contains(&c.key_id))
        .map(|c| {
            format!(
                "    {{ keyId: {} … (sent back verbatim, key included) }}",
                c.key_id
            )
        })
        .collect();
    let mut body = kept;
    if matches!(change, Change::Rotate(_)) {
        body.push(
            "    { type: AsymmetricX509Cert, usage: Verify, key: <the new public certificate>, … }"
                .into(),
        );
    }
    let read = requests::read_app(&id);
    let requests = vec![
        format!(
            "GET {}   (the app as it is now: every certificate with its key)",
            read.path
        ),
        format!(
            "PATCH /applications/{id}\n{{ \"keyCredentials\": [\n{}\n] }}",
            body.join(",\n")
        ),
        format!(
            "GET /applications/{id}?$select={APP_SELECT}   (read back until the change shows; anything kept that is missing is put back)"
        ),
    ];
    Plan { lines, requests }
}
