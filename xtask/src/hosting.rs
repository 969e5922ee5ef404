//! What a host must do to serve the build, in one place: the security headers (sent by the local
//! server, `serve.rs`, and written for Azure Static Web Apps into `staticwebapp.config.json`),
//! and the one line `cargo xtask build` prints about where the result may be served.

use std::path::Path;

use serde_json::{Map, Value, json};

use crate::Result;

/// The name Azure Static Web Apps reads its configuration from (at the root of the upload).
pub const SWA_CONFIG: &str = "staticwebapp.config.json";

/// Extensions of the files a build holds; never rewritten to `index.html` by a host's fallback,
/// so a missing `config.json` is a plain 404 (which the page explains) and a missing asset is
/// never answered with HTML.
const ASSETS: &str = "js,wasm,css,svg,json";

/// The headers README §3 asks of every response (besides `Content-Type` and caching), with the
/// page's own policy `csp` (the meta tag's, which cannot carry `frame-ancestors`).
pub fn security_headers(csp: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "Content-Security-Policy",
            format!("{csp}; frame-ancestors 'none'"),
        ),
        ("X-Content-Type-Options", "nosniff".into()),
        ("Referrer-Policy", "no-referrer".into()),
        ("Cross-Origin-Opener-Policy", "same-origin".into()),
        ("Cross-Origin-Resource-Policy", "same-origin".into()),
        (
            "Permissions-Policy",
            "camera=(), microphone=(), geolocation=(), payment=(), usb=()".into(),
        ),
    ]
}

/// The policy in a sealed page's CSP meta tag.
pub fn page_policy(html: &str) -> Result<String> {
    let key = r#"http-equiv="Content-Security-Policy" content=""#;
    let start = html.find(key).ok_or("index.html has no CSP")? + key.len();
    Ok(html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned())
}

/// `staticwebapp.config.json` for the sealed page `html`: README §3's headers on every
/// response (plus HSTS: Static Web Apps is HTTPS only), `.wasm` as `application/wasm`, the pages
/// (`index.html`, `app.html`) and `config.json` never cached, and the navigation fallback (an
/// unknown address shows the page, which says where it expects to be; the build's own files are
/// excluded, so a missing `config.json` stays a 404).
pub fn static_web_app_config(html: &str) -> Result<Value> {
    let mut headers = Map::new();
    for (name, value) in security_headers(&page_policy(html)?) {
        headers.insert(name.into(), Value::String(value));
    }
    headers.insert(
        "Strict-Transport-Security".into(),
        "max-age=31536000".into(),
    );
    Ok(json!({
        "globalHeaders": headers,
        "mimeTypes": { ".wasm": "application/wasm" },
        "routes": [
            { "route": "/index.html", "headers": { "Cache-Control": "no-cache" } },
            { "route": "/app.html", "headers": { "Cache-Control": "no-cache" } },
            { "route": "/config.json", "headers": { "Cache-Control": "no-cache" } },
        ],
        "navigationFallback": {
            "rewrite": "/index.html",
            "exclude": [format!("/*.{{{ASSETS}}}")],
        },
    }))
}

/// Writes [`static_web_app_config`] beside the sealed `index.html` in `dist`.
pub fn write_static_web_app_config(dist: &Path) -> Result<()> {
    let html = std::fs::read_to_string(dist.join("index.html")).map_err(|e| e.to_string())?;
    let text =
        serde_json::to_string_pretty(&static_web_app_config(&html)?).map_err(|e| e.to_string())?;
    std::fs::write(dist.join(SWA_CONFIG), text + "\n").map_err(|e| e.to_string())
}

/// The line `cargo xtask build` ends with: where the build may be served and what the host
/// must do.
pub fn where_to_serve(dist: &Path, config: Option<&Path>) -> String {
    let address = config
        .and_then(|c| std::fs::read_to_string(c).ok())
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["redirectUri"].as_str().map(str::to_owned));
    let at = match address {
        Some(uri) => format!("this config.json expects it at {uri}"),
        None => "no config.json yet: put one beside index.html, its redirectUri = the \
                 folder's address"
            .into(),
    };
    format!(
        "xtask: {} may be served at any path (https://host/ or https://host/any/sub/path/, \
         every URL in it is relative; {at}): upload all of its files to that folder, served over \
         HTTPS with README §3's headers ({SWA_CONFIG} carries them for Azure Static Web Apps) and \
         .wasm as application/wasm",
        dist.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<meta http-equiv="Content-Security-Policy" content="default-src 'none'; connect-src 'self' https://login.microsoftonline.com">"#;

    #[test]
    fn the_static_web_app_config_sends_what_the_local_server_sends() {
        let config = static_web_app_config(PAGE).expect("config");
        let headers = config["globalHeaders"].as_object().expect("headers");
        for (name, value) in security_headers(&page_policy(PAGE).expect("policy")) {
            assert_eq!(headers[name], value, "{name}");
        }
        assert_eq!(
            headers["Content-Security-Policy"],
            "default-src 'none'; connect-src 'self' https://login.microsoftonline.com; frame-ancestors 'none'"
        );
        assert_eq!(headers["Strict-Transport-Security"], "max-age=31536000");
        assert_eq!(config["mimeTypes"][".wasm"], "application/wasm");
        assert_eq!(config["navigationFallback"]["rewrite"], "/index.html");
        assert_eq!(
            config["navigationFallback"]["exclude"],
            json!(["/*.{js,wasm,css,svg,json}"])
        );
    }

    /// README "Deploy for real" shows the file: its keys, headers and fallback are the ones
    /// the build writes (only the policy differs, which depends on config.json).
    #[test]
    fn the_readme_shows_the_file_the_build_writes() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
            .expect("README.md");
        let start = readme
            .find("```json\n{\n  \"globalHeaders\"")
            .expect("README shows staticwebapp.config.json");
        let block = &readme[start + "```json\n".len()..];
        let shown: Value =
            serde_json::from_str(&block[..block.find("```").expect("closed")]).expect("JSON");
        let mut built = static_web_app_config(PAGE).expect("config");
        built["globalHeaders"]["Content-Security-Policy"] =
            shown["globalHeaders"]["Content-Security-Policy"].clone();
        assert_eq!(shown, built);
        assert!(
            shown["globalHeaders"]["Content-Security-Policy"]
                .as_str()
                .is_some_and(|p| p.ends_with("; frame-ancestors 'none'"))
        );
    }

    #[test]
    fn the_build_line_names_the_address_config_json_expects() {
        let dir = std::env::temp_dir().join(format!("xtask-hosting-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let config = dir.join("config.json");
        std::fs::write(
            &config,
            r#"{"redirectUri": "https://user.github.io/repo/"}"#,
        )
        .expect("write");
        let line = where_to_serve(Path::new("site"), Some(&config));
        assert!(line.contains("any path"), "{line}");
        assert!(
            line.contains("expects it at https://user.github.io/repo/"),
            "{line}"
        );
        assert!(!line.contains('\n'));
        assert!(where_to_serve(Path::new("site"), None).contains("no config.json yet"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
