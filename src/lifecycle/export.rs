//! The inventory as CSV and JSON, to keep or to open in a spreadsheet. Neither carries key
//! material: no certificate (`key`), no secret value, not even a secret's `hint` (its first
//! characters).
//!
//! CSV as RFC 4180 says (<https://www.rfc-editor.org/rfc/rfc4180>): CRLF after every record, a
//! header row, a field quoted when it holds `"`, `,`, CR or LF, quotes doubled inside. The file
//! starts with a UTF-8 byte order mark so Excel reads names beyond ASCII correctly. Text cells
//! that a spreadsheet would run as a formula get a leading `'` (OWASP, "CSV Injection",
//! <https://owasp.org/www-community/attacks/CSV_Injection>).

use serde_json::{Map, Value, json};

use super::inventory::{Inventory, Principal};
use super::when;
use crate::wellknown::role_name;

/// The columns, in order.
pub const COLUMNS: [&str; 20] = [
    "principal",
    "kind",
    "appId",
    "servicePrincipalId",
    "appObjectId",
    "roles",
    "granted",
    "credentialType",
    "keyId",
    "displayName",
    "thumbprint",
    "subject",
    "keyBits",
    "start",
    "end",
    "daysLeft",
    "lifetimeDays",
    "status",
    "lastUsed",
    "warnings",
];

/// Keys never written to the JSON, wherever they appear: a certificate (`key`), a secret's
/// value or its first characters.
const NEVER: [&str; 4] = ["key", "secretText", "hint", "value"];

/// The byte order mark the CSV starts with.
pub const BOM: &str = "\u{feff}";

/// A cell: text (guarded against formula injection) or a number (written as is, so a negative
/// count of days stays a number).
enum Cell {
    Text(String),
    Number(Option<i64>),
}

/// A text cell as a spreadsheet will not run it: a leading `=`, `+`, `-`, `@`, tab, CR or NUL
/// makes it a formula in Excel, LibreOffice and Google Sheets, so such a cell gets a `'`.
pub fn defuse(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r', '\0']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// One field as RFC 4180 §2 writes it.
pub fn field(text: &str) -> String {
    if text.contains(['"', ',', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn record(cells: &[Cell]) -> String {
    let mut line = cells
        .iter()
        .map(|c| match c {
            Cell::Text(t) => field(&defuse(t)),
            Cell::Number(n) => n.map(|n| n.to_string()).unwrap_or_default(),
        })
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

/// A Graph date-time as `YYYY-MM-DDTHH:MM:SSZ`, or as Graph wrote it when it cannot be read.
fn date(text: &str) -> String {
    when::parse(text).map_or_else(|| text.to_owned(), when::rfc3339)
}

/// What the principal's columns hold, shared by its rows.
fn principal_cells(p: &Principal, warnings: &str) -> (Vec<Cell>, Cell) {
    let roles = p
        .roles
        .iter()
        .map(|r| role_name(r))
        .collect::<Vec<_>>()
        .join("; ");
    (
        vec![
            Cell::Text(p.display_name.clone()),
            Cell::Text(p.kind.label().to_owned()),
            Cell::Text(p.app_id.clone()),
            Cell::Text(p.service_principal_id.clone()),
            Cell::Text(p.app_object_id.clone().unwrap_or_default()),
            Cell::Text(roles),
            Cell::Text(date(&p.granted)),
        ],
        Cell::Text(warnings.to_owned()),
    )
}

/// The inventory as CSV: one row per certificate, one per client secret, and one for each
/// principal that has neither (a managed identity, another tenant's app, an app with no
/// credential).
pub fn csv(inventory: &Inventory) -> String {
    let mut out = String::from(BOM);
    out.push_str(&record(&COLUMNS.map(|c| Cell::Text(c.to_owned()))));
    for p in &inventory.principals {
        let warnings = p.warnings(inventory.max_certificate_days).join(" | ");
        let row = |credential: Vec<Cell>| {
            let (mut cells, warn) = principal_cells(p, &warnings);
            cells.extend(credential);
            cells.push(warn);
            record(&cells)
        };
        for c in &p.certificates {
            out.push_str(&row(vec![
                Cell::Text("certificate".into()),
                Cell::Text(c.key_id.clone()),
                Cell::Text(c.display_name.clone()),
                Cell::Text(c.thumbprint.clone()),
                Cell::Text(c.subject.clone().unwrap_or_default()),
                Cell::Number(c.key_bits.map(i64::from)),
                Cell::Text(date(&c.start)),
                Cell::Text(date(&c.end)),
                Cell::Number(Some(c.days_left)),
                Cell::Number(Some(c.lifetime_days)),
                Cell::Text(c.status.label().to_owned()),
                Cell::Text(c.last_used.text()),
            ]));
        }
        for s in &p.secrets {
            out.push_str(&row(vec![
                Cell::Text("clientSecret".into()),
                Cell::Text(s.key_id.clone()),
                Cell::Text(s.display_name.clone()),
                Cell::Text(String::new()),
                Cell::Text(String::new()),
                Cell::Number(None),
                Cell::Text(String::new()),
                Cell::Text(date(&s.end)),
                Cell::Number(Some(s.days_left)),
                Cell::Number(None),
                Cell::Text(s.status.label().to_owned()),
                Cell::Text(s.last_used.text()),
            ]));
        }
        if p.certificates.is_empty() && p.secrets.is_empty() {
            out.push_str(&row(vec![
                Cell::Text("none".into()),
                Cell::Text(String::new()),
                Cell::Text(String::new()),
                Cell::Text(String::new()),
                Cell::Text(String::new()),
                Cell::Number(None),
                Cell::Text(String::new()),
                Cell::Text(String::new()),
                Cell::Number(None),
                Cell::Number(None),
                Cell::Text(String::new()),
                Cell::Text(String::new()),
            ]));
        }
    }
    out
}

/// Removes every key of `NEVER` at any depth.
fn scrub(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| !NEVER.contains(&k.as_str()));
            map.values_mut().for_each(scrub);
        }
        Value::Array(items) => items.iter_mut().for_each(scrub),
        _ => {}
    }
}

/// The inventory as pretty JSON: the tool, when it was read, whether every page was read, why
/// last use is missing (if it is), the tenant's certificate lifetime cap, and every principal
/// with its role names and warnings.
pub fn json(inventory: &Inventory) -> String {
    let principals: Vec<Value> = inventory
        .principals
        .iter()
        .map(|p| {
            let mut v = serde_json::to_value(p).unwrap_or_else(|_| Value::Object(Map::new()));
            if let Value::Object(m) = &mut v {
                m.insert("kindLabel".into(), json!(p.kind.label()));
                m.insert(
                    "roleNames".into(),
                    json!(p.roles.iter().map(|r| role_name(r)).collect::<Vec<_>>()),
                );
                m.insert(
                    "warnings".into(),
                    json!(p.warnings(inventory.max_certificate_days)),
                );
            }
            scrub(&mut v);
            v
        })
        .collect();
    let usage_gap = inventory.usage.gap().map(|g| {
        let mut v = serde_json::to_value(g).unwrap_or_else(|_| json!({}));
        if let Value::Object(m) = &mut v {
            m.insert("text".into(), json!(g.to_string()));
        }
        v
    });
    let doc = json!({
        "tool": "unattended",
        "toolVersion": env!("CARGO_PKG_VERSION"),
        "readAt": when::rfc3339(inventory.now),
        "complete": inventory.complete,
        "lastUseAvailable": usage_gap.is_none(),
        "usageGap": usage_gap,
        "maxCertificateDays": inventory.max_certificate_days,
        "principals": principals,
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

/// `unattended-inventory-YYYY-MM-DD.csv`, for an inventory read at `at`.
pub fn csv_file_name(at: i64) -> String {
    file_name(at, "csv")
}

/// `unattended-inventory-YYYY-MM-DD.json`, for an inventory read at `at`.
pub fn json_file_name(at: i64) -> String {
    file_name(at, "json")
}

fn file_name(at: i64, ext: &str) -> String {
    match when::day(at) {
        d if d.is_empty() => format!("unattended-inventory.{ext}"),
        d => format!("unattended-inventory-{d}.{ext}"),
    }
}
