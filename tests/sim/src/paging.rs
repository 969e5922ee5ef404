//! Graph's server-side paging (Learn: "Paging Microsoft Graph data in your app"): a page holds
//! `$top` items (default 100 here, at most 999 for directory objects, more is a 400), and every
//! page but the last carries `@odata.nextLink`, an absolute URL on the host the request came to
//! whose `$skiptoken` is opaque and carries the original query, so `$filter`/`$select` keep
//! applying on later pages. Lists are in creation order.

use std::collections::HashMap;

use axum::Json;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::graph::error;
use crate::query::{self, Filter};
use crate::tenant::GraphError;

/// Items on a page when the request names no `$top`.
pub const DEFAULT_PAGE: usize = 100;
/// The largest `$top` directory collections accept.
pub const MAX_PAGE: usize = 999;

/// Where a collection lives, for its nextLinks: `scheme://host/path`.
pub fn here(scheme: &str, headers: &HeaderMap, uri: &Uri) -> String {
    format!(
        "{}{}",
        crate::platform::origin(scheme, headers, uri),
        uri.path()
    )
}

fn bad_token() -> GraphError {
    GraphError::bad_request("The specified page token value has expired or is invalid.")
}

/// The query a page answers: the original one (from `$skiptoken`, if any) and the offset.
fn resolve(
    params: &HashMap<String, String>,
) -> Result<(HashMap<String, String>, usize), GraphError> {
    let Some(token) = params.get("$skiptoken") else {
        return Ok((params.clone(), 0));
    };
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad_token())?;
    let state: Value = serde_json::from_slice(&bytes).map_err(|_| bad_token())?;
    let offset = state["o"].as_u64().ok_or_else(bad_token)? as usize;
    let original: HashMap<String, String> = state["q"]
        .as_object()
        .ok_or_else(bad_token)?
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect();
    Ok((original, offset))
}

/// `$top`, checked against the collection's maximum.
fn page_size(params: &HashMap<String, String>, max: usize) -> Result<usize, GraphError> {
    match params.get("$top") {
        None => Ok(DEFAULT_PAGE.min(max)),
        Some(text) => match text.trim().parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(GraphError::bad_request(format!(
                "Invalid page size specified: '{text}'. Must be between 1 and {max} inclusive."
            ))),
        },
    }
}

fn next_link(here: &str, original: &HashMap<String, String>, offset: usize) -> String {
    let mut keys: Vec<&String> = original.keys().collect();
    keys.sort();
    let token = URL_SAFE_NO_PAD.encode(json!({ "o": offset, "q": original }).to_string());
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for k in keys {
        query.append_pair(k, &original[k]);
    }
    query.append_pair("$skiptoken", &token);
    format!("{here}?{}", query.finish())
}

/// A Graph collection page of the `items` (as JSON) that pass the request's `$filter` on the
/// `filterable` properties, projected by `$select`.
pub fn collection(
    params: &HashMap<String, String>,
    items: impl Iterator<Item = Value>,
    filterable: &[&str],
    here: &str,
    max: usize,
) -> Response {
    match page(params, items, filterable, here, max) {
        Ok(body) => Json(body).into_response(),
        Err(e) => error(e),
    }
}

/// The page as JSON, or Graph's 400.
pub fn page(
    params: &HashMap<String, String>,
    items: impl Iterator<Item = Value>,
    filterable: &[&str],
    here: &str,
    max: usize,
) -> Result<Value, GraphError> {
    let (original, offset) = resolve(params)?;
    let size = page_size(&original, max)?;
    let filter = match original.get("$filter") {
        None => Filter::default(),
        Some(f) => Filter::parse(f, filterable)?,
    };
    let selected = query::select(&original);
    let matching: Vec<Value> = items.filter(|item| filter.matches(item)).collect();
    let value: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(size)
        .map(|item| query::project(item.clone(), selected.as_deref()))
        .collect();
    let mut body = json!({ "value": value });
    if offset + size < matching.len() {
        body["@odata.nextLink"] = json!(next_link(here, &original, offset + size));
    }
    Ok(body)
}
