//! Graph's OData query options as far as the product (and the Graph SDK) use them: `$filter`
//! clauses joined by `and` — `prop eq 'v'`, `startswith(prop,'v')`, `prop/any(x:x eq 'v')` —
//! matched against an object's JSON, and `$select` projection.

use serde_json::{Map, Value};

use crate::tenant::GraphError;

/// One `$filter` clause.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Clause {
    Eq(String, String),
    StartsWith(String, String),
    AnyEq(String, String),
}

/// A parsed `$filter`: every clause must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter(Vec<Clause>);

/// `'it''s'` → `it's`.
fn literal(text: &str) -> Option<String> {
    let inner = text.trim().strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.replace("''", "'"))
}

impl Filter {
    /// Parses `$filter`; `filterable` are the properties this collection supports by default
    /// (others answer Graph's "Unsupported query" 400 rather than silently matching nothing).
    pub fn parse(expr: &str, filterable: &[&str]) -> Result<Self, GraphError> {
        let unsupported = || GraphError::bad_request(format!("Unsupported query: {expr}"));
        let mut clauses = Vec::new();
        for part in expr.split(" and ") {
            let part = part.trim();
            let clause = if let Some(args) = part
                .strip_prefix("startswith(")
                .and_then(|r| r.strip_suffix(')'))
            {
                let (prop, value) = args.split_once(',').ok_or_else(unsupported)?;
                Clause::StartsWith(prop.trim().into(), literal(value).ok_or_else(unsupported)?)
            } else if let Some((prop, rest)) = part.split_once("/any(") {
                // `alternativeNames/any(x:x eq 'v')`
                let body = rest.strip_suffix(')').ok_or_else(unsupported)?;
                let (var, cond) = body.split_once(':').ok_or_else(unsupported)?;
                let value = cond
                    .trim()
                    .strip_prefix(var.trim())
                    .and_then(|c| c.trim().strip_prefix("eq "))
                    .and_then(literal)
                    .ok_or_else(unsupported)?;
                Clause::AnyEq(prop.trim().into(), value)
            } else {
                let (prop, value) = part.split_once(" eq ").ok_or_else(unsupported)?;
                Clause::Eq(prop.trim().into(), literal(value).ok_or_else(unsupported)?)
            };
            let prop = match &clause {
                Clause::Eq(p, _) | Clause::StartsWith(p, _) | Clause::AnyEq(p, _) => p,
            };
            if !filterable.contains(&prop.as_str()) {
                return Err(unsupported());
            }
            clauses.push(clause);
        }
        Ok(Self(clauses))
    }

    /// Whether `item` (an object's JSON) passes every clause. Graph compares strings without
    /// regard to case.
    pub fn matches(&self, item: &Value) -> bool {
        let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        self.0.iter().all(|clause| match clause {
            Clause::Eq(p, v) => item[p].as_str().is_some_and(|s| same(s, v)),
            Clause::StartsWith(p, v) => item[p]
                .as_str()
                .is_some_and(|s| s.to_lowercase().starts_with(&v.to_lowercase())),
            Clause::AnyEq(p, v) => item[p]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x.as_str().is_some_and(|s| same(s, v)))),
        })
    }
}

/// The properties named in `$select`, if any.
pub fn select(params: &std::collections::HashMap<String, String>) -> Option<Vec<String>> {
    params
        .get("$select")
        .map(|s| s.split(',').map(|p| p.trim().to_owned()).collect())
}

/// Keeps only the selected properties (Graph returns just those, `id` included only if asked).
pub fn project(value: Value, selected: Option<&[String]>) -> Value {
    match (value, selected) {
        (Value::Object(object), Some(props)) => {
            let kept: Map<String, Value> = object
                .into_iter()
                .filter(|(k, _)| props.iter().any(|p| p == k) || k.starts_with('@'))
                .collect();
            Value::Object(kept)
        }
        (value, _) => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn clauses_match_as_graph_does() {
        let sp = json!({"displayName": "Contoso-Automation", "servicePrincipalType": "ManagedIdentity",
                        "alternativeNames": ["isExplicit=False", "/subscriptions/x/a"]});
        let props = ["displayName", "servicePrincipalType", "alternativeNames"];
        let f = |e: &str| Filter::parse(e, &props).expect(e);
        assert!(
            f("servicePrincipalType eq 'ManagedIdentity' and startswith(displayName,'contoso')")
                .matches(&sp)
        );
        assert!(f("alternativeNames/any(x:x eq '/subscriptions/x/a')").matches(&sp));
        assert!(!f("alternativeNames/any(x:x eq '/subscriptions/y')").matches(&sp));
        assert!(f("displayName eq 'contoso-automation'").matches(&sp));
        assert!(!f("displayName eq 'other'").matches(&sp));
        assert!(Filter::parse("appOwnerOrganizationId eq 'x'", &props).is_err());
        assert!(Filter::parse("displayName eq contoso", &props).is_err());
        assert_eq!(
            Filter::parse("displayName eq 'it''s'", &props).expect("quote"),
            Filter(vec![Clause::Eq("displayName".into(), "it's".into())])
        );
    }

    #[test]
    fn select_keeps_only_what_was_asked() {
        let v = json!({"id": "1", "appId": "2", "displayName": "x"});
        let kept = project(v, Some(&["appId".to_owned()]));
        assert_eq!(kept, json!({"appId": "2"}));
    }
}
