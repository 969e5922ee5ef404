//! The project's commands, so a fresh machine needs only `cargo`:
//!
//! - `cargo xtask run [--port N] [--sim-port N] [--config FILE] [--base /PATH/]`: install what is
//!   missing, build the page and serve it on `http://127.0.0.1:N` (under `/PATH/` only with
//!   `--base`); without `--config`, start the simulated tenant too and point the page at it (the
//!   sandbox).
//! - `cargo xtask test`: install what is missing, then run every test: native `cargo test`, the
//!   WebAssembly tests in headless Chromium, and the browser end-to-end tests.
//! - `cargo xtask e2e [--skip-setup] [FILES…]`: only the browser end-to-end tests (all, or the
//!   named files of `tests/e2e`), against a fresh release build and simulated tenant.
//! - `cargo xtask build [--config FILE] [--out DIR]`: a release build ready to deploy.

mod hosting;
mod sandbox;
mod seal;
mod serve;
mod setup;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

type Result<T, E = String> = std::result::Result<T, E>;

const USAGE: &str = "usage: cargo xtask <run|test|build> [options]
  run   [--port N] [--sim-port N] [--config FILE] [--base /PATH/]
                                     build the page and serve it on http://127.0.0.1:N (default 8080),
                                     under /PATH/ only with --base (as a sub-path host would);
                                     without --config, with the simulated tenant on --sim-port (default 4010)
  test  [--skip-setup]               run every test (native, wasm in Chromium, browser end to end)
  e2e   [--skip-setup] [FILES...]    only the browser end-to-end tests (tests/e2e), all or the named
                                     files (e.g. onboard.test.mjs), against a fresh release build
  build [--config FILE] [--out DIR]  release build for deployment (default out: dist)
  bench [--quick] [NAME…]            benchmarks, all or the named: keygen (the page's forge vs WebCrypto
                                     vs OpenSSL), load (first-load and whole-flow transfer sizes, time to a
                                     usable start screen), onboard, inventory, rsa (0.9 vs 0.10, profile)
                                     and a whole onboarding against the simulated tenant at 100 ms per request
  setup                              install the tools the other commands need, and nothing else";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let started = Instant::now();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("test") => test(&args[1..]),
        Some("e2e") => e2e(&args[1..]),
        Some("build") => build_cmd(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("setup") => setup::all(setup::Need::Everything),
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => {
            eprintln!("xtask: done in {:.1} s", started.elapsed().as_secs_f64());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of this crate's manifest directory).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn run(args: &[String]) -> Result<()> {
    let number = |name: &str, default: &str| -> Result<u16> {
        flag(args, name)
            .unwrap_or(default)
            .parse()
            .map_err(|_| format!("bad {name}"))
    };
    let (port, sim_port) = (number("--port", "8080")?, number("--sim-port", "4010")?);
    setup::all(setup::Need::Build)?;
    let root = root();
    let dist = root.join("dist");
    // `--base /unattended/` serves the page under that folder only, as a sub-path host would.
    let base = flag(args, "--base").unwrap_or("/");
    if !base.starts_with('/') || base.contains("..") || base.contains(['?', '#', '\\']) {
        return Err(format!("bad --base {base}: a path such as /unattended/"));
    }
    let base = format!("/{}/", base.trim_matches('/')).replace("//", "/");
    let page = format!("http://127.0.0.1:{port}{base}");
    // A real tenant's config, or the sandbox: the simulated tenant beside the page.
    let (config, sandbox) = match flag(args, "--config") {
        Some(file) => (PathBuf::from(file), None),
        None => {
            let sim = sandbox::Sandbox::start(&root, sim_port, &page, true, None)?;
            let file = root.join("target").join("sandbox-config.json");
            std::fs::write(&file, sim.config(&page)).map_err(|e| e.to_string())?;
            (file, Some(sim))
        }
    };
    build(&dist, Some(&config))?;
    let server = serve::Server::start_with(
        &dist,
        port,
        serve::Site {
            base,
            security_headers: true,
            log: true,
        },
    )?;
    match &sandbox {
        Some(sim) => eprintln!(
            "xtask: sandbox: simulated tenant 'Contoso' at {} (sign in as admin@contoso.onmicrosoft.com; \
             other users: pra, appadmin, user)",
            sim.url()
        ),
        None => eprintln!("xtask: using {}", config.display()),
    }
    eprintln!(
        "xtask: serving {} at {} (Ctrl-C to stop)",
        dist.display(),
        server.url()
    );
    server.join();
    Ok(())
}

fn build_cmd(args: &[String]) -> Result<()> {
    setup::all(setup::Need::Build)?;
    let out = flag(args, "--out")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("dist"));
    let config = flag(args, "--config").map(Path::new);
    build(&out, config)?;
    eprintln!("{}", hosting::where_to_serve(&out, config));
    Ok(())
}

/// `trunk build --release --offline`, then seal the output (CSP, boot module, SRI, config).
fn build(dist: &Path, config: Option<&Path>) -> Result<()> {
    let t = Instant::now();
    let status = setup::command("trunk")
        .current_dir(root())
        .args(["build", "--release", "--offline", "--dist"])
        .arg(dist)
        .status()
        .map_err(|e| format!("cannot start trunk: {e}"))?;
    if !status.success() {
        return Err("trunk build failed".into());
    }
    seal::seal(dist, config)?;
    eprintln!("xtask: release build in {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}

fn test(args: &[String]) -> Result<()> {
    if !args.iter().any(|a| a == "--skip-setup") {
        setup::all(setup::Need::Everything)?;
    }
    let root = root();
    step("native tests", cargo(&root).args(["test", "--workspace"]))?;
    step(
        "WebAssembly tests in headless Chromium",
        cargo(&root)
            .args([
                "test",
                "--package",
                "unattended",
                "--target",
                "wasm32-unknown-unknown",
                // Not the examples: they are native command-line programs.
                "--lib",
                "--tests",
            ])
            .env("CHROMEDRIVER", "/usr/bin/chromedriver"),
    )?;
    let artefacts = root.join("target").join("browser-artefacts");
    browser_tests(&root, &artefacts, &[])?;
    // The simulated tenant as a program, for the clients that talk to it over HTTP(S).
    step(
        "build the simulated tenant",
        cargo(&root).args(["build", "--package", "sim"]),
    )?;
    step(
        "interop: OpenSSL, Python cryptography, Node, MSAL (also against the simulated tenant), Mono",
        Command::new(root.join("tests/interop/.venv/bin/python"))
            .current_dir(root.join("tests/interop"))
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .env("FORGE_BIN", root.join("target/debug/examples/forge"))
            .env("SIM_BIN", root.join("target/debug/sim"))
            .env("BROWSER_ARTEFACTS", &artefacts),
    )
}

/// `cargo xtask e2e [--skip-setup] [FILES…]`: the browser end-to-end tests alone, as
/// `cargo xtask test` runs them (same build, simulated tenant and environment).
fn e2e(args: &[String]) -> Result<()> {
    if !args.iter().any(|a| a == "--skip-setup") {
        setup::all(setup::Need::Everything)?;
    }
    let root = root();
    let files: Vec<String> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(|a| {
            // Accept `onboard.test.mjs`, `tests/e2e/onboard.test.mjs` or an absolute path.
            let name = Path::new(a)
                .file_name()
                .map_or(a.clone(), |n| n.to_string_lossy().into_owned());
            if root.join("tests/e2e").join(&name).is_file() {
                Ok(name)
            } else {
                Err(format!("no such end-to-end test: tests/e2e/{name}"))
            }
        })
        .collect::<Result<_>>()?;
    let artefacts = root.join("target").join("browser-artefacts");
    browser_tests(&root, &artefacts, &files)
}

/// Builds and serves the test page beside a simulated tenant, runs `node --test` on `files` (all
/// of `tests/e2e` when empty), then stops both. Downloads land in `artefacts` (emptied first).
/// The same build is also served under a sub-path (see [`serve_under_sub_path`]).
fn browser_tests(root: &Path, artefacts: &Path, files: &[String]) -> Result<()> {
    let (server, dist, sim) = serve_test_build(root)?;
    let sub = serve_under_sub_path(root, &dist)?;
    let _ = std::fs::remove_dir_all(artefacts);
    let result = step(
        "browser end-to-end tests (Chromium via Playwright; Firefox ESR and WebKitGTK via WebDriver)",
        Command::new("node")
            .current_dir(root.join("tests/e2e"))
            .args(["--test", "--test-concurrency=1"])
            .args(files)
            .env("BASE_URL", server.url())
            .env("SIM_URL", sim.url())
            .env(
                "SIM_HTTPS_URL",
                sim.https().map(|h| h.0.clone()).unwrap_or_default(),
            )
            .env(
                "SIM_CA",
                sim.https().map(|h| h.1.clone()).unwrap_or_default(),
            )
            .env("SUBPATH_BASE_URL", sub.server.url())
            .env("SUBPATH_SIM_URL", sub.sim.url())
            .env("PYTHON", root.join("tests/interop/.venv/bin/python"))
            .env("DIST_DIR", &dist)
            .env("BROWSER_ARTEFACTS", artefacts),
    );
    server.stop();
    sub.server.stop();
    drop(sim);
    drop(sub.sim);
    result
}

/// The test build again, served as a GitHub Pages project site would serve it: under
/// `/some/sub/path/` only (404 outside it), with no security headers (Pages cannot send any).
struct SubPath {
    server: serve::Server,
    sim: sandbox::Sandbox,
}

/// Serves a copy of the sealed test build under `/some/sub/path/` on a port of its own, beside a
/// second simulated tenant whose page app has that address as its SPA redirect URI (the
/// simulator registers one address). The copy differs from `dist` only in `config.json` and
/// the CSP's `connect-src` that follows from it: the code and every integrity hash are the
/// same bytes, not a second build.
fn serve_under_sub_path(root: &Path, dist: &Path) -> Result<SubPath> {
    let copy = root.join("target").join("e2e-dist-subpath");
    let _ = std::fs::remove_dir_all(&copy);
    copy_dir(dist, &copy)?;
    let server = serve::Server::start_with(
        &copy,
        0,
        serve::Site {
            base: "/some/sub/path/".into(),
            security_headers: false,
            log: false,
        },
    )?;
    let sim = sandbox::Sandbox::start(root, 0, &server.url(), false, None)?;
    let config = root.join("target").join("e2e-subpath-config.json");
    std::fs::write(&config, sim.config(&server.url())).map_err(|e| e.to_string())?;
    seal::retarget(&copy, &config)?;
    Ok(SubPath { server, sim })
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    for entry in std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
        let entry = entry.map_err(|e| e.to_string())?;
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .map_err(|e| format!("{}: {e}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// Builds the release page for the browser tests and benchmarks, pointed at a simulated tenant
/// (started here), and serves it on a free port.
fn serve_test_build(root: &Path) -> Result<(serve::Server, PathBuf, sandbox::Sandbox)> {
    let dist = root.join("target").join("e2e-dist");
    // Listen first: the page's redirectUri (registered on the simulated SPA app) must name the
    // port the tests will use.
    let server = serve::Server::start(&dist, 0, false)?;
    let tls = root.join("target").join("e2e-sim-tls");
    let sim = sandbox::Sandbox::start(root, 0, &server.url(), false, Some(&tls))?;
    let config = root.join("target").join("e2e-config.json");
    std::fs::write(&config, sim.config(&server.url())).map_err(|e| e.to_string())?;
    build(&dist, Some(&config))?;
    Ok((server, dist, sim))
}

/// The benchmarks, all or those named (`keygen`, `load`, `onboard`, `inventory`, `rsa`). Each
/// prints figures and asserts nothing (timings are never test assertions).
fn bench(args: &[String]) -> Result<()> {
    const ALL: [&str; 5] = ["keygen", "load", "onboard", "inventory", "rsa"];
    let quick = args.iter().any(|a| a == "--quick");
    let named: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if let Some(unknown) = named.iter().find(|n| !ALL.contains(n)) {
        return Err(format!(
            "no benchmark `{unknown}`: choose from {}",
            ALL.join(", ")
        ));
    }
    let wanted = |name: &str| named.is_empty() || named.contains(&name);
    setup::all(setup::Need::Everything)?;
    let root = root();
    // The benchmarks that run in the page, against one build and simulated tenant.
    let pages: Vec<_> = [
        (
            "keygen",
            "keygen.mjs",
            "key generation in the page vs WebCrypto vs OpenSSL",
        ),
        (
            "load",
            "load.mjs",
            "first load and whole flow: transfer sizes, time to a usable start screen",
        ),
        (
            "onboard",
            "onboard.mjs",
            "a whole onboarding against the simulated tenant, 100 ms per request",
        ),
        (
            "inventory",
            "inventory.mjs",
            "the day-two inventory against the simulated tenant, 100 ms per request",
        ),
    ]
    .into_iter()
    .filter(|(name, ..)| wanted(name))
    .collect();
    if !pages.is_empty() {
        let (server, dist, sim) = serve_test_build(&root)?;
        let mut result = Ok(());
        for (_, script, title) in pages {
            let mut node = Command::new("node");
            node.current_dir(root.join("tests/e2e"))
                .arg(format!("../bench/{script}"))
                .env("BASE_URL", server.url())
                .env("SIM_URL", sim.url())
                .env("DIST_DIR", &dist);
            if quick {
                node.arg("--quick");
            }
            result = result.and_then(|()| step(title, &mut node));
        }
        server.stop();
        result?;
    }
    if !wanted("rsa") {
        return Ok(());
    }
    step(
        "rsa 0.9 vs 0.10 and the prime search's profile, single-threaded, WebAssembly in Chromium",
        cargo(&root)
            .args([
                "test",
                "-p",
                "bench-rsa",
                "--release",
                "--target",
                "wasm32-unknown-unknown",
                "--",
                "--nocapture",
            ])
            .env("CHROMEDRIVER", "/usr/bin/chromedriver")
            .env("WASM_BINDGEN_TEST_TIMEOUT", "900"),
    )?;
    step(
        "rsa 0.9 vs 0.10 and the prime search's profile, single-threaded, native",
        cargo(&root).args([
            "test",
            "-p",
            "bench-rsa",
            "--release",
            "--",
            "--ignored",
            "--nocapture",
        ]),
    )
}

fn cargo(root: &Path) -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root);
    c
}

fn step(name: &str, cmd: &mut Command) -> Result<()> {
    eprintln!("\nxtask: ── {name} ──");
    let t = Instant::now();
    let status = cmd
        .status()
        .map_err(|e| format!("{name}: cannot start: {e}"))?;
    eprintln!("xtask: {name}: {:.1} s", t.elapsed().as_secs_f64());
    if status.success() {
        Ok(())
    } else {
        Err(format!("{name} failed ({status})"))
    }
}
