//! A consultant's session: what each tenant's run made, one row per result, kept in memory only
//! while the page is open and offered as CSV (no token, key, PFX or password: ids, names,
//! thumbprints and dates).

use crate::lifecycle::export::{BOM, defuse, field};

/// One result of the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// When it finished (ISO 8601).
    pub at: String,
    /// Organisation name.
    pub tenant: String,
    /// Tenant id.
    pub tenant_id: String,
    /// Initial domain (what `-Organization` takes).
    pub domain: String,
    /// `certificate`, `managed identity` or `rotation`.
    pub what: &'static str,
    /// The app's or identity's name.
    pub name: String,
    /// Application (client) id.
    pub app_id: String,
    /// The certificate's thumbprint (none for a managed identity).
    pub thumbprint: String,
    /// The certificate's end (none for a managed identity).
    pub expires: String,
    /// The run log's file name, as offered for saving.
    pub log: String,
}

impl Row {
    /// Whether `other` records the same result (a screen shown twice records once).
    pub fn same(&self, other: &Self) -> bool {
        self.tenant_id == other.tenant_id
            && self.what == other.what
            && self.app_id == other.app_id
            && self.thumbprint == other.thumbprint
    }
}

/// The columns of the CSV.
pub const COLUMNS: [&str; 10] = [
    "at",
    "tenant",
    "tenantId",
    "domain",
    "what",
    "name",
    "appId",
    "thumbprint",
    "expires",
    "runLog",
];

/// The session as CSV (RFC 4180, CRLF; text cells defused against formula injection), with
/// the byte-order mark Excel needs to read UTF-8 names right, as the inventory's CSV.
pub fn csv(rows: &[Row]) -> String {
    let mut out = BOM.to_owned();
    out.push_str(&COLUMNS.join(","));
    out.push_str("\r\n");
    for r in rows {
        let cells = [
            &r.at,
            &r.tenant,
            &r.tenant_id,
            &r.domain,
            &r.what.to_owned(),
            &r.name,
            &r.app_id,
            &r.thumbprint,
            &r.expires,
            &r.log,
        ];
        let line: Vec<String> = cells.iter().map(|c| field(&defuse(c))).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(tenant: &str, name: &str) -> Row {
        Row {
            at: "2026-12-02T10:00:00Z".into(),
            tenant: tenant.into(),
            tenant_id: format!("{tenant}-id"),
            domain: format!("{}.onmicrosoft.com", tenant.to_lowercase()),
            what: "certificate",
            name: name.into(),
            app_id: "11111111-2222-4333-8444-555555555555".into(),
            thumbprint: "ABCDEF".into(),
            expires: "2027-12-02T10:00:00Z".into(),
            log: "run-log.json".into(),
        }
    }

    #[test]
    fn the_summary_lists_each_tenant_quoted_and_defused() {
        let text = csv(&[
            row("Contoso", "EXO, nightly"),
            row("Fabrikam", "=cmd|' /C calc'!A0"),
        ]);
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines[0], format!("{BOM}{}", COLUMNS.join(",")));
        assert!(lines[1].contains(",\"EXO, nightly\","));
        assert!(lines[2].contains(",'=cmd|' /C calc'!A0,"), "{}", lines[2]);
        assert_eq!(lines.len(), 4, "two rows and the final CRLF");
        assert!(row("A", "x").same(&row("A", "y")));
        assert!(!row("A", "x").same(&row("B", "x")));
    }
}
