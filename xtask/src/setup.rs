//! Installs, once and idempotently, what the build and the tests need on a fresh machine.
//!
//! Only the package registries are reachable here (crates.io, npm, PyPI, Debian), so every tool
//! comes from one of them at a pinned version, and Trunk runs `--offline` so it never tries to
//! download a tool of its own. Each step first checks whether the right version is present.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::{Result, root};

/// Trunk release used for builds; `Trunk.toml` pins the tools it calls.
const TRUNK_VERSION: &str = "0.22.1";
const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// geckodriver, which drives Debian's Firefox ESR in the cross-engine tests (crates.io: the
/// npm package downloads its binary from GitHub, which these machines cannot reach).
const GECKODRIVER_VERSION: &str = "0.37.1";

/// How much of the tool chain a command needs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Building the page: wasm target, Trunk, wasm-bindgen, wasm-opt.
    Build,
    /// Building and testing: also Chromium, ChromeDriver, Firefox ESR, geckodriver, WebKitGTK's
    /// WebDriver, Xvfb, Mono, OpenSSL and the Python tools (cryptography, MSAL) that check what
    /// the product makes.
    Everything,
}

pub fn all(need: Need) -> Result<()> {
    wasm_target()?;
    trunk()?;
    wasm_bindgen()?;
    npm_packages()?;
    if need == Need::Everything {
        debian_packages()?;
        geckodriver()?;
        python_packages()?;
    }
    Ok(())
}

/// A command with the project's tool directories first on `PATH` (cargo-installed binaries and
/// the npm `binaryen` package's `wasm-opt`, which is newer than Debian's).
pub fn command(program: &str) -> Command {
    let mut c = Command::new(program);
    c.env("PATH", path());
    c
}

fn path() -> String {
    let mut dirs = vec![root().join("tests/e2e/node_modules/.bin"), cargo_bin()];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn cargo_bin() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_default()
        .join("bin")
}

/// First line of `program --version`, if it runs.
fn version_of(program: &str) -> Option<String> {
    let out = command(program)
        .arg("--version")
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .to_owned()
    })
}

fn run(what: &str, cmd: &mut Command) -> Result<()> {
    eprintln!("xtask setup: {what}");
    let status = cmd
        .status()
        .map_err(|e| format!("{what}: cannot start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

fn wasm_target() -> Result<()> {
    let out = command("rustup")
        .args(["target", "list", "--installed"])
        .output();
    if out.is_ok_and(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .any(|l| l.trim() == WASM_TARGET)
    }) {
        return Ok(());
    }
    run(
        "rustup target add wasm32-unknown-unknown",
        command("rustup").args(["target", "add", WASM_TARGET]),
    )
}

fn trunk() -> Result<()> {
    if version_of("trunk").is_some_and(|v| v == format!("trunk {TRUNK_VERSION}")) {
        return Ok(());
    }
    // 0.22.x declares rust-version 1.96 but builds and works on 1.95.
    run(
        "cargo install trunk (pinned; about 15 minutes on 2 cores, once per machine)",
        command("cargo").args([
            "install",
            &format!("trunk@{TRUNK_VERSION}"),
            "--locked",
            "--ignore-rust-version",
        ]),
    )
}

/// The wasm-bindgen CLI must be exactly the version of the `wasm-bindgen` crate in `Cargo.lock`.
fn wasm_bindgen() -> Result<()> {
    let wanted = locked_version("wasm-bindgen")?;
    let have_cli =
        version_of("wasm-bindgen").is_some_and(|v| v == format!("wasm-bindgen {wanted}"));
    let have_runner = cargo_bin().join("wasm-bindgen-test-runner").exists();
    if have_cli && have_runner {
        return Ok(());
    }
    // No --locked: the CLI's own lockfile wants a crate version the registry no longer serves.
    run(
        &format!("cargo install wasm-bindgen-cli {wanted}"),
        command("cargo").args([
            "install",
            "wasm-bindgen-cli",
            "--force",
            "--version",
            &wanted,
        ]),
    )
}

/// The version of `package` recorded in the workspace's `Cargo.lock`.
pub fn locked_version(package: &str) -> Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock"))
        .map_err(|e| format!("Cargo.lock: {e}"))?;
    let needle = format!("name = \"{package}\"\nversion = \"");
    let start = lock
        .find(&needle)
        .ok_or(format!("{package} not in Cargo.lock"))?
        + needle.len();
    Ok(lock[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned())
}

/// Playwright (driver only, never a downloaded browser), selenium-webdriver (the WebDriver
/// client for Firefox and WebKitGTK) and binaryen's `wasm-opt`, from the committed lockfile. Re-installed only when the lockfile changes.
fn npm_packages() -> Result<()> {
    let dir = root().join("tests/e2e");
    let lock = std::fs::read(dir.join("package-lock.json"))
        .map_err(|e| format!("package-lock.json: {e}"))?;
    let stamp = dir.join("node_modules/.unattended-lock");
    let digest = format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(&lock));
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == digest) {
        return Ok(());
    }
    run(
        "npm ci (playwright-core, selenium-webdriver, binaryen)",
        command("npm")
            .current_dir(&dir)
            .args(["ci", "--no-audit", "--no-fund"])
            .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1"),
    )?;
    std::fs::write(&stamp, digest).map_err(|e| e.to_string())
}

/// Debian packages the tests use, each found by a file it installs: Chromium and ChromeDriver
/// (one version, matched by Debian), Firefox ESR, WebKitGTK's WebDriver, Xvfb (WebKitGTK needs
/// a display) and the WebKitGTK bindings for Python (the shell WebKitWebDriver starts, see
/// tests/e2e/lib/webkit-shell.py), Mono (stands in for .NET Framework when loading PFX files),
/// OpenSSL's command line.
fn debian_packages() -> Result<()> {
    const PACKAGES: [(&str, &[&str]); 9] = [
        ("/usr/bin/chromium", &["chromium"]),
        ("/usr/bin/chromedriver", &["chromium-driver"]),
        ("/usr/bin/firefox-esr", &["firefox-esr"]),
        ("/usr/bin/WebKitWebDriver", &["webkit2gtk-driver"]),
        ("/usr/bin/Xvfb", &["xvfb"]),
        (
            "/usr/lib/python3/dist-packages/gi/__init__.py",
            &["python3-gi"],
        ),
        // Found in the architecture's folder (below).
        (
            "girepository-1.0/WebKit2-4.1.typelib",
            &["gir1.2-webkit2-4.1"],
        ),
        (
            "/usr/bin/mcs",
            &[
                "mono-mcs",
                "mono-runtime",
                "libmono-system4.0-cil",
                "libmono-system-security4.0-cil",
            ],
        ),
        ("/usr/bin/openssl", &["openssl"]),
    ];
    let missing: Vec<&str> = PACKAGES
        .iter()
        .filter(|(file, _)| !installed(file))
        .flat_map(|(_, packages)| packages.iter().copied())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let sudo = if is_root() {
        vec![]
    } else {
        vec!["sudo", "-n"]
    };
    let apt = |args: &[&str]| {
        let mut all = sudo.clone();
        all.push("apt-get");
        all.extend_from_slice(args);
        let mut c = command(all[0]);
        c.args(&all[1..]).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    run("apt-get update", &mut apt(&["update", "-qq"]))?;
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    install.extend(&missing);
    run(
        &format!("apt-get install {}", missing.join(" ")),
        &mut apt(&install),
    )
}

/// Whether `file` exists; a relative path is looked for in each `/usr/lib/<triplet>/` (Debian's
/// per-architecture folders).
fn installed(file: &str) -> bool {
    let path = std::path::Path::new(file);
    if path.is_absolute() {
        return path.exists();
    }
    std::fs::read_dir("/usr/lib").is_ok_and(|dirs| {
        dirs.flatten().any(|d| {
            d.file_name().to_string_lossy().ends_with("-linux-gnu") && d.path().join(path).exists()
        })
    })
}

/// geckodriver from crates.io, built once (about 4 minutes on 2 cores); skipped when the pinned
/// version is on `PATH` or in cargo's bin folder.
fn geckodriver() -> Result<()> {
    if version_of("geckodriver")
        .is_some_and(|v| v.starts_with(&format!("geckodriver {GECKODRIVER_VERSION}")))
    {
        return Ok(());
    }
    run(
        &format!("cargo install geckodriver {GECKODRIVER_VERSION} (once per machine)"),
        command("cargo").args([
            "install",
            &format!("geckodriver@{GECKODRIVER_VERSION}"),
            "--locked",
        ]),
    )
}

/// A virtualenv with the pinned Python tools of `tests/interop/requirements.txt`; rebuilt only
/// when that file changes.
fn python_packages() -> Result<()> {
    let dir = root().join("tests/interop");
    let requirements = std::fs::read(dir.join("requirements.txt"))
        .map_err(|e| format!("requirements.txt: {e}"))?;
    let venv = dir.join(".venv");
    let stamp = venv.join(".unattended-requirements");
    let digest = format!(
        "{:x}",
        <sha2::Sha256 as sha2::Digest>::digest(&requirements)
    );
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == digest) {
        return Ok(());
    }
    run(
        "python3 -m venv tests/interop/.venv",
        command("python3").args(["-m", "venv"]).arg(&venv),
    )?;
    run(
        "pip install -r tests/interop/requirements.txt",
        command(&venv.join("bin/pip").to_string_lossy())
            .args(["install", "-q", "--disable-pip-version-check", "-r"])
            .arg(dir.join("requirements.txt")),
    )?;
    std::fs::write(&stamp, digest).map_err(|e| e.to_string())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
