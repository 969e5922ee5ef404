//! A small static file server for the built page, on 127.0.0.1 only, with the security headers
//! the README asks real hosts to send, so local runs behave like a well-configured deployment.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use tiny_http::{Header, Response, Server as Http};

use crate::Result;

pub struct Server {
    http: Arc<Http>,
    port: u16,
    thread: JoinHandle<()>,
}

impl Server {
    /// Serves `dist` (which may not exist yet) on `127.0.0.1:port` (0 picks a free port) from a
    /// background thread, logging one line per request when `log` is set.
    pub fn start(dist: &Path, port: u16, log: bool) -> Result<Self> {
        let http = Arc::new(
            Http::http(("127.0.0.1", port))
                .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?,
        );
        let port = http
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .ok_or("no port")?;
        let (server, dist) = (Arc::clone(&http), dist.to_path_buf());
        let thread = std::thread::spawn(move || {
            for request in server.incoming_requests() {
                // Read per request: the server may start before the build it serves is sealed.
                let csp = page_csp(&dist).unwrap_or_else(|_| "default-src 'none'".into());
                let (status, response) = respond(&dist, request.url(), &csp);
                if log {
                    eprintln!("serve: {} {} -> {status}", request.method(), request.url());
                }
                let _ = request.respond(response);
            }
        });
        Ok(Self { http, port, thread })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    pub fn stop(self) {
        self.http.unblock();
        let _ = self.thread.join();
    }

    pub fn join(self) {
        let _ = self.thread.join();
    }
}

/// The policy in the sealed page's meta tag, plus what only a header can carry.
fn page_csp(dist: &Path) -> Result<String> {
    let html = std::fs::read_to_string(dist.join("index.html")).map_err(|e| e.to_string())?;
    let key = r#"http-equiv="Content-Security-Policy" content=""#;
    let start = html.find(key).ok_or("index.html has no CSP")? + key.len();
    let policy = html[start..].split('"').next().unwrap_or_default();
    Ok(format!("{policy}; frame-ancestors 'none'"))
}

fn respond(dist: &Path, url: &str, csp: &str) -> (u16, Response<std::io::Cursor<Vec<u8>>>) {
    let path = url.split(['?', '#']).next().unwrap_or("/");
    let file = resolve(dist, path);
    let (status, body, kind) = match file
        .as_ref()
        .and_then(|f| std::fs::read(f).ok().map(|b| (f, b)))
    {
        Some((f, body)) => (200, body, content_type(f)),
        None => (404, b"not found\n".to_vec(), "text/plain; charset=utf-8"),
    };
    // Hashed assets never change; the page and its config must always be fresh.
    let cache = if path == "/" || path.ends_with(".html") || path.ends_with(".json") {
        "no-cache"
    } else {
        "public, max-age=31536000, immutable"
    };
    let mut response = Response::from_data(body).with_status_code(status);
    for (name, value) in [
        ("Content-Type", kind),
        ("Cache-Control", cache),
        ("Content-Security-Policy", csp),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Cross-Origin-Resource-Policy", "same-origin"),
        (
            "Permissions-Policy",
            "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
        ),
    ] {
        if let Ok(h) = Header::from_bytes(name, value) {
            response.add_header(h);
        }
    }
    (status, response)
}

/// Maps a URL path inside `dist`, refusing anything that could climb out of it.
fn resolve(dist: &Path, path: &str) -> Option<PathBuf> {
    let rel = path.trim_start_matches('/');
    if rel.split('/').any(|s| s == ".." || s.contains('\\')) {
        return None;
    }
    let file = if rel.is_empty() || rel.ends_with('/') {
        dist.join(rel).join("index.html")
    } else {
        dist.join(rel)
    };
    file.is_file().then_some(file)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "ics" => "text/calendar",
        _ => "application/octet-stream",
    }
}
