//! Expiry reminders as one iCalendar file (RFC 5545, <https://www.rfc-editor.org/rfc/rfc5545>):
//! an event at the end of every certificate of the inventory, with two alarms (30 and 7 days
//! before), to import into Outlook, Google Calendar or Apple Calendar.
//!
//! - Each event's `UID` is made of the certificate's `keyId` and the app's client id, so
//!   importing a newer file updates the events instead of duplicating them (RFC 5545 §3.8.4.7;
//!   the later `DTSTAMP` wins, RFC 5546 §2.1.5).
//! - `METHOD:PUBLISH` (RFC 5546 §3.2.1): a calendar to import, not an invitation.
//! - TEXT values are escaped as §3.3.11 says, content lines folded at 75 octets as §3.1 says
//!   (never inside a UTF-8 character), every line ends with CRLF.

use super::inventory::{Certificate, Inventory, Principal, Status};
use super::when;
use crate::snippets::fold;

/// The `PRODID` (RFC 5545 §3.7.3).
pub const PRODID: &str = "-//unattended//Exchange automation certificates//EN";

/// Days before the end each alarm fires.
pub const ALARM_DAYS: [u32; 2] = [30, 7];

/// `YYYYMMDDTHHMMSSZ` (RFC 5545 §3.3.5, UTC form) of Unix seconds; `None` outside 1970–9999.
pub fn utc(unix: i64) -> Option<String> {
    let t = when::rfc3339(unix);
    (!t.is_empty()).then(|| t.replace(['-', ':'], ""))
}

/// A TEXT value escaped as RFC 5545 §3.3.11 says: backslash, semicolon and comma get a
/// backslash, a line break (CRLF, CR or LF) becomes `\n`; other control characters, which TEXT
/// cannot carry, are dropped (a tab is kept).
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The `UID` of a certificate's event: stable across exports, unique across apps (the same
/// certificate may be registered on two apps, each with its own `keyId`).
pub fn uid(principal: &Principal, certificate: &Certificate) -> String {
    format!(
        "{}.{}@unattended",
        certificate.key_id.to_ascii_lowercase(),
        principal.app_id.to_ascii_lowercase()
    )
}

/// The name the reminders are saved under: `unattended-certificates-YYYY-MM-DD.ics`.
pub fn file_name(at: i64) -> String {
    match when::day(at) {
        d if d.is_empty() => "unattended-certificates.ics".to_owned(),
        d => format!("unattended-certificates-{d}.ics"),
    }
}

fn name_of(principal: &Principal) -> &str {
    if principal.display_name.trim().is_empty() {
        &principal.app_id
    } else {
        &principal.display_name
    }
}

/// The content lines (unfolded) of one certificate's event; none when its end cannot be read.
fn event(principal: &Principal, c: &Certificate, stamp: &str) -> Option<Vec<String>> {
    let end = when::parse(&c.end)?;
    let start = utc(end)?;
    let name = name_of(principal);
    let day = when::day(end);
    let at = when::rfc3339(end);
    let summary = if c.status == Status::Expired {
        format!("{name}: Exchange automation certificate expired (remove it: Inventory, Clean up)")
    } else {
        format!("{name}: Exchange automation certificate expires")
    };
    let subject = c
        .subject
        .as_deref()
        .map(|s| format!("Subject: {s}\n"))
        .unwrap_or_default();
    let description = format!(
        "The certificate that scripts and runbooks use to connect to Exchange Online as \"{name}\" {verb} on {at}. After that every Connect-ExchangeOnline with it fails.\n\
         \n\
         App: {name}\n\
         Application (client) id: {app_id}\n\
         Thumbprint: {thumbprint}\n\
         {subject}\
         keyId: {key_id}\n\
         Ends: {at}\n\
         \n\
         What to do: open the unattended page, sign in, open Inventory, choose this app and press Rotate (the new certificate is added, this one is kept). Move every script to the new thumbprint (or the new PFX file). Then press Remove old.",
        verb = if c.status == Status::Expired {
            "expired"
        } else {
            "expires"
        },
        app_id = principal.app_id,
        thumbprint = c.thumbprint,
        key_id = c.key_id,
    );
    let mut lines = vec![
        "BEGIN:VEVENT".to_owned(),
        format!("UID:{}", escape_text(&uid(principal, c))),
        format!("DTSTAMP:{stamp}"),
        format!("DTSTART:{start}"),
        "DURATION:PT30M".to_owned(),
        // A reminder, not a meeting: it does not make the admin busy.
        "TRANSP:TRANSPARENT".to_owned(),
        format!("SUMMARY:{}", escape_text(&summary)),
        format!("DESCRIPTION:{}", escape_text(&description)),
    ];
    for days in ALARM_DAYS {
        lines.extend([
            "BEGIN:VALARM".to_owned(),
            "ACTION:DISPLAY".to_owned(),
            format!("TRIGGER:-P{days}D"),
            format!(
                "DESCRIPTION:{}",
                escape_text(&format!(
                    "{name}: the Exchange automation certificate {} ends in {days} days ({day}). Rotate it on the unattended page (Inventory, Rotate).",
                    c.thumbprint
                ))
            ),
            "END:VALARM".to_owned(),
        ]);
    }
    lines.push("END:VEVENT".to_owned());
    Some(lines)
}

/// One calendar with an event per certificate of `inventory` (expired ones included, their
/// summary says so), stamped `stamp` (Unix seconds, normally now).
pub fn calendar(inventory: &Inventory, stamp: i64) -> String {
    let stamp = utc(stamp).unwrap_or_else(|| "19700101T000000Z".to_owned());
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        format!("PRODID:{PRODID}"),
        "CALSCALE:GREGORIAN".to_owned(),
        "METHOD:PUBLISH".to_owned(),
        // The calendar's name in clients that show one (a widely read extension).
        "X-WR-CALNAME:Exchange automation certificates".to_owned(),
    ];
    for (p, c) in inventory.certificates() {
        lines.extend(event(p, c, &stamp).into_iter().flatten());
    }
    lines.push("END:VCALENDAR".to_owned());
    lines.iter().map(|l| fold(l)).collect()
}
