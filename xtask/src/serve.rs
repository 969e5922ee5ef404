//! A small static file server for the built page, on 127.0.0.1 only, with the security headers
//! the README asks real hosts to send, so local runs behave like a well-configured deployment.
//! It serves the build at `/` or under a sub-path (`Server::start_at(dist, port,
//! "/some/sub/path/")`, as a GitHub Pages project site would), answering 404 outside it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use tiny_http::{Header, Response, Server as Http};

use crate::{Result, hosting};

pub struct Server {
    http: Arc<Http>,
    port: u16,
    base: String,
    thread: JoinHandle<()>,
}

/// How a [`Server`] serves its folder.
#[derive(Debug, Clone)]
pub struct Site {
    /// The path the build is served under (`/`, or `/some/sub/path/`); anything outside it is a
    /// 404, and the folder's address without its `/` is redirected to it (as GitHub Pages does).
    pub base: String,
    /// README §3's headers (a well-configured host); without them the server is a plain host
    /// such as GitHub Pages, which cannot send any, and only the page's meta CSP applies.
    pub security_headers: bool,
    /// One line per request on stderr.
    pub log: bool,
}

impl Server {
    /// Serves `dist` (which may not exist yet) on `127.0.0.1:port` (0 picks a free port) from a
    /// background thread, logging one line per request when `log` is set.
    pub fn start(dist: &Path, port: u16, log: bool) -> Result<Self> {
        Self::start_with(
            dist,
            port,
            Site {
                base: "/".into(),
                security_headers: true,
                log,
            },
        )
    }

    /// Serves `dist` under the sub-path `base` (e.g. `/some/sub/path/`) with README §3's headers,
    /// answering 404 for anything outside it.
    #[allow(dead_code)]
    pub fn start_at(dist: &Path, port: u16, base: &str) -> Result<Self> {
        Self::start_with(
            dist,
            port,
            Site {
                base: base.into(),
                security_headers: true,
                log: false,
            },
        )
    }

    /// Serves `dist` as `site` says.
    pub fn start_with(dist: &Path, port: u16, site: Site) -> Result<Self> {
        let base = format!("/{}/", site.base.trim_matches('/')).replace("//", "/");
        let http = Arc::new(
            Http::http(("127.0.0.1", port))
                .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?,
        );
        let port = http
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .ok_or("no port")?;
        let (server, dist, prefix) = (Arc::clone(&http), dist.to_path_buf(), base.clone());
        let thread = std::thread::spawn(move || {
            for request in server.incoming_requests() {
                // Read per request: the server may start before the build it serves is sealed.
                let csp = site
                    .security_headers
                    .then(|| page_csp(&dist).unwrap_or_else(|_| "default-src 'none'".into()));
                let (status, response) = respond(&dist, &prefix, request.url(), csp.as_deref());
                if site.log {
                    eprintln!("serve: {} {} -> {status}", request.method(), request.url());
                }
                let _ = request.respond(response);
            }
        });
        Ok(Self {
            http,
            port,
            base,
            thread,
        })
    }

    /// The page's address: `http://127.0.0.1:PORT/` plus the sub-path it is served under.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}{}", self.port, self.base)
    }

    pub fn stop(self) {
        self.http.unblock();
        let _ = self.thread.join();
    }

    pub fn join(self) {
        let _ = self.thread.join();
    }
}

/// The policy in the sealed page's meta tag (the header adds what only a header can carry).
fn page_csp(dist: &Path) -> Result<String> {
    let html = std::fs::read_to_string(dist.join("index.html")).map_err(|e| e.to_string())?;
    hosting::page_policy(&html)
}

type Answer = Response<std::io::Cursor<Vec<u8>>>;

/// Answers `url` from `dist` served under `base`; with `csp`, README §3's headers too.
fn respond(dist: &Path, base: &str, url: &str, csp: Option<&str>) -> (u16, Answer) {
    let path = url.split(['?', '#']).next().unwrap_or("/");
    // The folder without its slash: where static hosts send the browser (relative URLs in the
    // page only resolve inside the folder with it).
    if base != "/" && path == base.trim_end_matches('/') {
        let query = &url[path.len()..];
        let mut response = Response::from_data(Vec::new()).with_status_code(301);
        if let Ok(h) = Header::from_bytes("Location", format!("{base}{query}")) {
            response.add_header(h);
        }
        return (301, response);
    }
    let file = path
        .strip_prefix(base)
        .and_then(|inside| resolve(dist, &format!("/{inside}")));
    let (status, body, kind) = match file
        .as_ref()
        .and_then(|f| std::fs::read(f).ok().map(|b| (f, b)))
    {
        Some((f, body)) => (200, body, content_type(f)),
        None => (404, b"not found\n".to_vec(), "text/plain; charset=utf-8"),
    };
    // Hashed assets never change; the page and its config must always be fresh.
    let cache = if path.ends_with('/') || path.ends_with(".html") || path.ends_with(".json") {
        "no-cache"
    } else {
        "public, max-age=31536000, immutable"
    };
    let mut response = Response::from_data(body).with_status_code(status);
    let mut headers = vec![
        ("Content-Type", kind.to_owned()),
        ("Cache-Control", cache.into()),
    ];
    if let Some(csp) = csp {
        headers.extend(hosting::security_headers(csp));
    }
    for (name, value) in headers {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-serve-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("index.html"), "<!doctype html>").expect("index");
        std::fs::write(dir.join("app.js"), "1").expect("js");
        dir
    }

    fn location(answer: &Answer) -> Option<String> {
        answer
            .headers()
            .iter()
            .find(|h| h.field.to_string().eq_ignore_ascii_case("Location"))
            .map(|h| h.value.to_string())
    }

    #[test]
    fn a_sub_path_serves_inside_it_and_nothing_outside() {
        let dist = dist("sub");
        let base = "/some/sub/path/";
        let status = |url: &str| respond(&dist, base, url, None).0;
        assert_eq!(status("/some/sub/path/"), 200);
        assert_eq!(status("/some/sub/path/?code=1#x"), 200);
        assert_eq!(status("/some/sub/path/index.html"), 200);
        assert_eq!(status("/some/sub/path/app.js"), 200);
        for outside in [
            "/",
            "/app.js",
            "/index.html",
            "/some/app.js",
            "/some/sub/app.js",
            "/some/sub/path/../app.js",
            "/some/sub/pathapp.js",
        ] {
            assert_eq!(status(outside), 404, "{outside}");
        }
        let (status, answer) = respond(&dist, base, "/some/sub/path?x=1", None);
        assert_eq!(status, 301);
        assert_eq!(location(&answer).as_deref(), Some("/some/sub/path/?x=1"));
        assert_eq!(respond(&dist, "/", "/app.js", None).0, 200);
        let _ = std::fs::remove_dir_all(dist);
    }

    #[test]
    fn start_at_listens_under_the_sub_path_only() {
        use std::io::{Read, Write};
        let dist = dist("listen");
        let server = Server::start_at(&dist, 0, "some/sub/path").expect("listen");
        assert!(
            server.url().ends_with("/some/sub/path/"),
            "{}",
            server.url()
        );
        let status = |path: &str| {
            let address = server
                .url()
                .trim_start_matches("http://")
                .split('/')
                .next()
                .map(str::to_owned);
            let mut stream =
                std::net::TcpStream::connect(address.expect("address")).expect("connect");
            write!(stream, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").expect("send");
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            answer
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(status("/some/sub/path/"), "200");
        assert_eq!(status("/some/sub/path/app.js"), "200");
        assert_eq!(status("/app.js"), "404");
        assert_eq!(status("/"), "404");
        assert_eq!(status("/some/sub/path"), "301");
        server.stop();
        let _ = std::fs::remove_dir_all(dist);
    }

    #[test]
    fn security_headers_only_when_asked() {
        let dist = dist("headers");
        let named = |answer: &Answer, name: &str| {
            answer
                .headers()
                .iter()
                .any(|h| h.field.to_string().eq_ignore_ascii_case(name))
        };
        let (_, plain) = respond(&dist, "/", "/", None);
        assert!(!named(&plain, "Content-Security-Policy"));
        assert!(named(&plain, "Content-Type"));
        let (_, secure) = respond(&dist, "/", "/", Some("default-src 'none'"));
        for (name, _) in hosting::security_headers("x") {
            assert!(named(&secure, name), "{name}");
        }
        let _ = std::fs::remove_dir_all(dist);
    }
}
