//! An app's declared permissions (`requiredResourceAccess`): what it lists, and the list with
//! more added, everything already there kept as it is
//! (<https://learn.microsoft.com/graph/api/resources/requiredresourceaccess>).

use serde_json::{Value, json};

use crate::workloads::Granted;

/// One declared permission: the API's appId and the `resourceAccess` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Declared {
    /// The API's application id (lower-case).
    pub resource: String,
    /// `{ "id": …, "type": "Role" | "Scope" }`.
    pub access: Value,
}

impl Declared {
    /// An application permission (app role) of `resource_app_id`.
    pub fn role(resource_app_id: &str, id: &str) -> Self {
        Self {
            resource: resource_app_id.to_ascii_lowercase(),
            access: json!({ "id": id, "type": "Role" }),
        }
    }

    /// The declarations for resolved permissions.
    pub fn of(granted: &[Granted]) -> Vec<Self> {
        granted
            .iter()
            .map(|g| Self::role(g.resource.app_id, &g.id))
            .collect()
    }
}

/// Every permission a `requiredResourceAccess` list declares.
pub fn declared(list: &[Value]) -> Vec<Declared> {
    list.iter()
        .flat_map(|r| {
            let resource = r["resourceAppId"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase();
            r["resourceAccess"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |access| Declared {
                    resource: resource.clone(),
                    access,
                })
        })
        .collect()
}

/// Whether `list` declares `p` (same API, id and type).
pub fn declares(list: &[Value], p: &Declared) -> bool {
    declared(list).iter().any(|q| {
        q.resource == p.resource
            && q.access["type"] == p.access["type"]
            && q.access["id"].as_str().map(str::to_ascii_lowercase)
                == p.access["id"].as_str().map(str::to_ascii_lowercase)
    })
}

/// Whether `list` declares every one of `wanted`.
pub fn declares_all(list: &[Value], wanted: &[Declared]) -> bool {
    wanted.iter().all(|p| declares(list, p))
}

/// Adds `p` to a `requiredResourceAccess` list, under its API's entry when there is one.
pub fn add(list: &mut Vec<Value>, p: &Declared) {
    if declares(list, p) {
        return;
    }
    let entry = list.iter_mut().find(|r| {
        r["resourceAppId"]
            .as_str()
            .map(str::to_ascii_lowercase)
            .as_deref()
            == Some(&p.resource)
    });
    match entry {
        Some(entry) => match entry["resourceAccess"].as_array_mut() {
            Some(access) => access.push(p.access.clone()),
            None => entry["resourceAccess"] = Value::Array(vec![p.access.clone()]),
        },
        None => list.push(json!({ "resourceAppId": p.resource, "resourceAccess": [p.access] })),
    }
}

/// `existing` with every one of `wanted` added, everything else unchanged.
pub fn merged(existing: &[Value], wanted: &[Declared]) -> Vec<Value> {
    let mut list = existing.to_vec();
    for p in wanted {
        add(&mut list, p);
    }
    list
}

/// `Exchange.ManageAsApp` alone, for the day-two edits that declare it.
pub fn manage_as_app() -> Declared {
    Declared::role(
        crate::wellknown::EXCHANGE_APP_ID,
        crate::wellknown::MANAGE_AS_APP,
    )
}
