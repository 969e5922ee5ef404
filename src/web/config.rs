//! Loading `config.json` from beside the page.

use gloo_net::http::Request;
use web_sys::RequestCache;

use crate::config::{Config, ConfigError};

use super::page_url;

/// Fetches `config.json` from beside `index.html` and validates it against the page's address.
pub async fn load_config() -> Result<Config, ConfigError> {
    // Relative URL: resolves against the page, so the same build works under any path.
    let response = Request::get("config.json")
        .cache(RequestCache::NoStore)
        .send()
        .await
        .map_err(|e| ConfigError::Unreachable(e.to_string()))?;
    let is_html = response
        .headers()
        .get("content-type")
        .is_some_and(|t| t.starts_with("text/html"));
    // Many static hosts answer unknown paths with index.html (single-page-app fallback).
    if response.status() == 404 || (response.ok() && is_html) {
        return Err(ConfigError::Missing);
    }
    if !response.ok() {
        return Err(ConfigError::Unreachable(format!(
            "HTTP {}",
            response.status()
        )));
    }
    let text = response
        .text()
        .await
        .map_err(|e| ConfigError::Unreachable(e.to_string()))?;
    let config = Config::from_json(&text)?;
    config.check_served_from(&page_url())?;
    // The build sealed the hosts of its own config.json into the page's policy: a config.json
    // changed since (another cloud, another Graph) would fail later with "Failed to fetch".
    if let Some(csp) = page_policy() {
        let origins = config.blocked_by(&csp);
        if !origins.is_empty() {
            return Err(ConfigError::NotAllowedByCsp { origins });
        }
    }
    Ok(config)
}

/// The Content-Security-Policy of the page's `<meta http-equiv>` (a header's policy, which
/// hosts may add, cannot be read by the page; the meta one is the build's).
fn page_policy() -> Option<String> {
    web_sys::window()?
        .document()?
        .query_selector(r#"meta[http-equiv="Content-Security-Policy"]"#)
        .ok()??
        .get_attribute("content")
}
