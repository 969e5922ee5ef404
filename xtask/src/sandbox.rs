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
    https: Option<(String, std::path::PathBuf)>,
}

impl Sandbox {
    /// Builds and starts the simulator on `port` (0 = any free port) with `redirect` registered
    /// as the page's `spa` redirect URI. `log` keeps its one-line-per-request log on stderr.
    /// With `tls_dir`, the same tenant is also served over HTTPS on a free port (for MSAL),
    /// its certificate written to `tls_dir/sim-ca.pem`.
    pub fn start(
        root: &Path,
        port: u16,
        redirect: &str,
        log: bool,
        tls_dir: Option<&Path>,
    ) -> Result<Self> {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(root)
            .args(["build", "--quiet", "--package", "sim"])
            .status()
            .map_err(|e| format!("cannot build the simulated tenant: {e}"))?;
        if !status.success() {
            return Err("building the simulated tenant failed".into());
        }
        let mut command = Command::new(root.join("target/debug/sim"));
        command.args(["--port", &port.to_string(), "--redirect-uri", redirect]);
        if let Some(dir) = tls_dir {
            command
                .arg("--tls-dir")
                .arg(dir)
                .args(["--https-port", "0"]);
        }
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the simulated tenant: {e}"))?;
        let stderr = child.stderr.take().ok_or("the simulator has no stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        // Announcements: "sim: tenant 'default' on http://127.0.0.1:PORT" (and https).
        let (mut url, mut https) = (None, None);
        while url.is_none() || (tls_dir.is_some() && https.is_none()) {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                return Err("the simulated tenant did not start".into());
            };
            match line.split(" on ").nth(1) {
                Some(u) if u.starts_with("https://") => https = Some(u.to_owned()),
                Some(u) if u.starts_with("http://") => url = Some(u.to_owned()),
                _ => {}
            }
        }
        let url = url.unwrap_or_default();
        let https = https.zip(tls_dir.map(|d| d.join("sim-ca.pem")));
        // Keep draining its log so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in lines.map_while(|l| l.ok()) {
                if log {
                    eprintln!("{line}");
                }
            }
        });
        Ok(Self { child, url, https })
    }

    /// The HTTPS address and the CA bundle that trusts it, when started with `tls_dir`.
    pub fn https(&self) -> Option<&(String, std::path::PathBuf)> {
        self.https.as_ref()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The page's config.json for this sandbox: its own client id, the simulator as authority,
    /// Graph and Azure Resource Manager (over HTTPS when the simulator serves it, since the page
    /// uploads a certificate asset only over HTTPS), `sandbox` so the page shows the badge.
    pub fn config(&self, page: &str) -> String {
        let arm = self.https.as_ref().map_or(self.url.as_str(), |(u, _)| u.as_str());
        serde_json::json!({
            "clientId": "5b0c6a5e-2d4f-4b8e-9c1a-7e3f9d2b6a10",
            "redirectUri": page,
            "authority": format!("{}/organizations", self.url),
            "graphBaseUrl": format!("{}/v1.0", self.url),
            "armBaseUrl": format!("{arm}/arm"),
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
