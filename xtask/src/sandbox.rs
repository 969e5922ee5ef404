//! The simulated tenant (`tests/sim`) as a child process: the local sandbox of `cargo xtask run`
//! and the tenant the browser tests sign in to.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::Result;

/// A running simulator; stopped when dropped.
pub struct Sandbox {
    child: Child,
    url: String,
}

impl Sandbox {
    /// Builds and starts the simulator on `port` (0 = any free port) with `redirect` registered
    /// as the page's `spa` redirect URI. `log` keeps its one-line-per-request log on stderr.
    pub fn start(root: &Path, port: u16, redirect: &str, log: bool) -> Result<Self> {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(root)
            .args(["build", "--quiet", "--package", "sim"])
            .status()
            .map_err(|e| format!("cannot build the simulated tenant: {e}"))?;
        if !status.success() {
            return Err("building the simulated tenant failed".into());
        }
        let mut child = Command::new(root.join("target/debug/sim"))
            .args(["--port", &port.to_string(), "--redirect-uri", redirect])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the simulated tenant: {e}"))?;
        let stderr = child.stderr.take().ok_or("the simulator has no stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        // The first line names the address ("sim: tenant 'default' on http://127.0.0.1:PORT").
        let first = lines.next().and_then(|l| l.ok()).unwrap_or_default();
        let Some(url) = first.split(" on ").nth(1).map(str::to_owned) else {
            let _ = child.kill();
            return Err(format!("the simulated tenant did not start: {first}"));
        };
        // Keep draining its log so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in lines.map_while(|l| l.ok()) {
                if log {
                    eprintln!("{line}");
                }
            }
        });
        Ok(Self { child, url })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The page's config.json for this sandbox: its own client id, the simulator as authority
    /// and Graph, `sandbox` so the page shows the badge.
    pub fn config(&self, page: &str) -> String {
        serde_json::json!({
            "clientId": "5b0c6a5e-2d4f-4b8e-9c1a-7e3f9d2b6a10",
            "redirectUri": page,
            "authority": format!("{}/organizations", self.url),
            "graphBaseUrl": format!("{}/v1.0", self.url),
            "sandbox": true,
        })
        .to_string()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
