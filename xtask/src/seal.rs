//! Seals Trunk's output for a strict Content Security Policy and full Subresource Integrity.
//!
//! Trunk's own loader is an inline module script, which `script-src 'self'` forbids. `Trunk.toml`
//! makes Trunk emit a marker instead; here it becomes an external boot module that carries an
//! `integrity` attribute and fetches the WebAssembly with `fetch(…, {integrity})`, so every byte
//! of code the browser runs is checked. The CSP's `connect-src` is set to the origins of the
//! `config.json` being deployed (Microsoft's by default), and that file is copied beside the page.

use std::path::Path;

use base64::Engine;
use sha2::{Digest, Sha256, Sha384};
use unattended::auth::PENDING_SIGN_IN_KEY;
use unattended::config::{APP_PAGE, Config};

use crate::Result;

const MARKER: &str = r#"<meta name="unattended-boot""#;
const DEFAULT_CONNECT: &str = "https://login.microsoftonline.com https://graph.microsoft.com";
/// What Trunk writes for `<link data-trunk rel="rust" data-bin="forge" data-type="worker">`.
const FORGE_JS: &str = "forge.js";
const FORGE_WASM: &str = "forge_bg.wasm";
/// What Trunk writes for `<link data-trunk rel="rust" data-bin="start" data-type="worker">`.
const START_JS: &str = "start.js";
const START_WASM: &str = "start_bg.wasm";

pub fn seal(dist: &Path, config: Option<&Path>) -> Result<()> {
    let template = read(&dist.join("index.html"))?;

    let start = template
        .find(MARKER)
        .ok_or("index.html has no boot marker: was it built with Trunk.toml?")?;
    let end = start
        + template[start..]
            .find('>')
            .ok_or("unterminated boot marker")?
        + 1;
    let marker = template[start..end].to_owned();
    let js = js_path(&attr(&marker, "data-js")?).to_owned();
    let wasm = js_path(&attr(&marker, "data-wasm")?).to_owned();

    // Every URL is relative to the page, so one build serves any path (https://host/ and
    // https://user.github.io/repo/ alike): the boot modules sit beside the pages, and their
    // `fetch` resolves against the page.
    //
    // Each boot module is self-contained: the wasm-bindgen glue followed by the call that starts
    // the module, with no `import`, so the one integrity attribute on its <script> covers all the
    // JavaScript the page runs. Importing the glue as a module of its own is not checked in every
    // engine: WebKit (WebKitGTK 2.50) runs an `import`ed module that Trunk's integrity-carrying
    // modulepreload fetched, without checking that integrity (tests/e2e/engines.test.mjs).
    //
    // The app (Trunk's main module, src/main.rs) runs on app.html, after sign-in.
    let app_wasm = Named::existing(dist, &wasm)?;
    let app_boot = boot_script(&read(&dist.join(&js))?, &app_wasm, None)?;
    let app_boot = Named::write(dist, "app", "js", app_boot.into_bytes())?;
    // The start page's module (src/bin/start.rs, built by Trunk as a `web` worker) runs on
    // index.html; its boot module forwards a sign-in answer to app.html before loading it.
    let start_wasm = Named::renamed(dist, START_WASM, "start", "wasm")?;
    let start_boot = boot_script(&read(&dist.join(START_JS))?, &start_wasm, Some(APP_PAGE))?;
    std::fs::remove_file(dist.join(START_JS)).map_err(|e| format!("{START_JS}: {e}"))?;
    let start_boot = Named::write(dist, "boot", "js", start_boot.into_bytes())?;

    // The forge is a module of its own (src/bin/forge.rs), which Trunk builds as a worker
    // (index.html) and names after the binary. Only the workers run it, and the page fetches it
    // when a certificate is about to be made (src/web/forge_code.rs). `new Worker(url)` cannot
    // check integrity, so the worker script is self-contained, the forge's glue followed by the
    // worker's boot code: the page fetches it and the forge's WebAssembly with their hashes and
    // starts the workers from those verified bytes through a `blob:` URL.
    let worker = worker_script(&read(&dist.join(FORGE_JS))?)?;
    let worker = Named::write(dist, "worker", "js", worker.into_bytes())?;
    std::fs::remove_file(dist.join(FORGE_JS)).map_err(|e| format!("{FORGE_JS}: {e}"))?;
    // Content-named like every other file, so a cache never serves last build's forge.
    let forge_wasm = Named::renamed(dist, FORGE_WASM, "forge", "wasm")?;
    let forge_meta = assets_meta("unattended-forge", &worker, &forge_wasm);

    // The glue is inside the boot modules now: Trunk's modulepreload of it goes, and so does the
    // file, so nothing the page could load is left without an integrity check. Trunk's preload
    // of the app's WebAssembly goes too: only app.html preloads it.
    let mut template = template;
    template.replace_range(start..end, "");
    template = without_link(&template, "modulepreload", &js)?;
    template = without_link(&template, "preload", &wasm)?;
    std::fs::remove_file(dist.join(&js)).map_err(|e| format!("{js}: {e}"))?;
    // The start page names the app's files so it can fetch them (checked) once sign-in is
    // possible: the sign-in's return then finds them in the cache (src/web/forge_code.rs).
    let app_meta = assets_meta("unattended-app", &app_boot, &app_wasm);
    let index = page(
        &template,
        &[
            &forge_meta,
            &app_meta,
            &preload(&start_wasm),
            &boot_tag(&start_boot),
        ],
    )?;
    let app = page(
        &template,
        &[&forge_meta, &preload(&app_wasm), &boot_tag(&app_boot)],
    )?;

    let connect = match config {
        Some(path) => {
            let text = read(path)?;
            let parsed =
                Config::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            std::fs::write(dist.join("config.json"), &text).map_err(|e| e.to_string())?;
            parsed.connect_origins().join(" ")
        }
        None => {
            // A stale config.json from an earlier build would silently point the page elsewhere.
            let _ = std::fs::remove_file(dist.join("config.json"));
            DEFAULT_CONNECT.to_owned()
        }
    };
    for (name, html) in [("index.html", index), (APP_PAGE, app)] {
        write_page(dist, name, &set_connect_src(&html, &connect)?)?;
    }
    crate::hosting::write_static_web_app_config(dist)
}

/// Both pages a sealed build serves: the start page and the app page.
pub const PAGES: [&str; 2] = ["index.html", APP_PAGE];

/// A file of the sealed build, content-named, with its integrity hash.
pub struct Named {
    /// `./name`, as the pages write it.
    url: String,
    integrity: String,
}

impl Named {
    /// A file already content-named (by Trunk).
    fn existing(dist: &Path, name: &str) -> Result<Self> {
        let bytes = std::fs::read(dist.join(name)).map_err(|e| format!("{name}: {e}"))?;
        Ok(Self {
            url: format!("./{name}"),
            integrity: sri(&bytes),
        })
    }

    /// Writes `bytes` as `{stem}-{hash}.{ext}`, so a cache never serves last build's file.
    fn write(dist: &Path, stem: &str, ext: &str, bytes: Vec<u8>) -> Result<Self> {
        let name = format!("{stem}-{}.{ext}", &hex(&Sha256::digest(&bytes))[..16]);
        std::fs::write(dist.join(&name), &bytes).map_err(|e| format!("{name}: {e}"))?;
        Ok(Self {
            url: format!("./{name}"),
            integrity: sri(&bytes),
        })
    }

    /// Renames Trunk's `from` (named after its binary) to `{stem}-{hash}.{ext}`.
    fn renamed(dist: &Path, from: &str, stem: &str, ext: &str) -> Result<Self> {
        let bytes = std::fs::read(dist.join(from)).map_err(|e| format!("{from}: {e}"))?;
        std::fs::remove_file(dist.join(from)).map_err(|e| format!("{from}: {e}"))?;
        Self::write(dist, stem, ext, bytes)
    }
}

fn assets_meta(name: &str, script: &Named, wasm: &Named) -> String {
    format!(
        r#"<meta name="{name}" data-script="{}" data-script-integrity="{}" data-wasm="{}" data-wasm-integrity="{}">"#,
        script.url, script.integrity, wasm.url, wasm.integrity
    )
}

fn preload(wasm: &Named) -> String {
    format!(
        r#"<link rel="preload" href="{}" crossorigin="anonymous" integrity="{}" as="fetch" type="application/wasm">"#,
        wasm.url, wasm.integrity
    )
}

fn boot_tag(boot: &Named) -> String {
    format!(
        r#"<script type="module" src="{}" integrity="{}" crossorigin="anonymous"></script>"#,
        boot.url, boot.integrity
    )
}

/// The template with `tags` at the end of its `<head>`.
fn page(template: &str, tags: &[&str]) -> Result<String> {
    let head_end = template
        .find("</head>")
        .ok_or("index.html has no </head>")?;
    let mut html = template.to_owned();
    html.insert_str(head_end, &format!("{}\n", tags.join("\n")));
    Ok(html)
}

fn write_page(dist: &Path, name: &str, html: &str) -> Result<()> {
    check(html).map_err(|e| format!("{name}: {e}"))?;
    check_relative(html).map_err(|e| format!("{name}: {e}"))?;
    std::fs::write(dist.join(name), html).map_err(|e| format!("{name}: {e}"))
}

/// Points an already sealed build at another `config.json` (another tenant, simulator or
/// address): copies the file beside the page and sets the CSP's `connect-src` to its origins.
/// The code, and every integrity hash, stay as they are: the same build, configured elsewhere.
pub fn retarget(dist: &Path, config: &Path) -> Result<()> {
    let text = read(config)?;
    let parsed = Config::from_json(&text).map_err(|e| format!("{}: {e}", config.display()))?;
    std::fs::write(dist.join("config.json"), &text).map_err(|e| e.to_string())?;
    let connect = parsed.connect_origins().join(" ");
    for name in PAGES {
        let html = set_connect_src(&read(&dist.join(name))?, &connect)?;
        write_page(dist, name, &html)?;
    }
    crate::hosting::write_static_web_app_config(dist)
}

/// Every address the sealed page names (`src`, `href`, the forge's files) must be relative to
/// the page: a root-absolute `/x.js` would 404 under a sub-path such as a GitHub Pages project
/// site, and an absolute `https://…` would be another origin.
fn check_relative(html: &str) -> Result<()> {
    let mut urls: Vec<&str> = Vec::new();
    for key in [" src=\"", " href=\"", " data-script=\"", " data-wasm=\""] {
        for (i, _) in html.match_indices(key) {
            urls.push(html[i + key.len()..].split('"').next().unwrap_or_default());
        }
    }
    if !html.contains(r#"<meta name="unattended-forge" data-script=""#) {
        return Err("the sealed page does not name its forge".into());
    }
    match urls
        .iter()
        .find(|u| u.is_empty() || u.starts_with('/') || u.contains(':') || u.contains(".."))
    {
        Some(bad) => Err(format!(
            "the sealed page names `{bad}`: every address must be relative to the page (./name), \
             so the build works under any path (is Trunk.toml's public_url \"./\"?)"
        )),
        None => Ok(()),
    }
}

/// The glue's local names the boot and worker scripts call (`needs`), checked so that a
/// wasm-bindgen that renames them fails the build instead of the page; and it must import
/// nothing, so that the scripts it is copied into are self-contained.
fn check_glue(glue: &str, needs: &[&str]) -> Result<()> {
    if let Some(missing) = needs.iter().find(|name| !glue.contains(*name)) {
        return Err(format!(
            "the wasm-bindgen glue lacks `{missing}`: update xtask/src/seal.rs"
        ));
    }
    if glue
        .lines()
        .any(|l| l.trim_start().starts_with("import ") || l.contains("import("))
    {
        return Err(
            "the wasm-bindgen glue imports other modules (JS snippets?): the boot and worker \
             scripts must be self-contained; update xtask/src/seal.rs"
                .into(),
        );
    }
    Ok(())
}

/// A page's boot module: the wasm-bindgen glue, then the start of its module with the
/// WebAssembly fetched against its integrity hash; one module with no `import`, so its own
/// integrity attribute covers all of the page's JavaScript.
///
/// With `forward_to` (the start page's): before anything is loaded, a sign-in answer this tab
/// is waiting for goes on to that page, which finishes the sign-in (the identity platform
/// returns to the registered redirect URI, `index.html`). An answer with a `state` that no
/// sign-in of this tab waits for is a popup's, which the start page hands back to the page that
/// opened it (src/web/popup.rs); an error without `state` goes on too, to be explained there.
/// `location.replace` keeps the code out of the history, and a host that answers the app page
/// with this one (a partial upload under a navigation fallback) does not loop.
pub fn boot_script(glue: &str, wasm: &Named, forward_to: Option<&str>) -> Result<String> {
    check_glue(glue, &[INIT])?;
    let load = format!(
        "await __wbg_init({{ module_or_path: fetch(\"{}\", {{ integrity: \"{}\" }}) }});",
        wasm.url, wasm.integrity
    );
    let start = match forward_to {
        None => format!("{load}\n"),
        Some(page) => format!(
            "const answer = new URLSearchParams(location.hash.slice(1));\n\
             let waiting = true;\n\
             try {{ waiting = sessionStorage.getItem(\"{PENDING_SIGN_IN_KEY}\") !== null; }} catch {{}}\n\
             if ((answer.has(\"error\") || (answer.has(\"code\") && answer.has(\"state\")))\n\
             \x20   && (waiting || !answer.has(\"state\")) && !location.pathname.endsWith(\"/{page}\")) {{\n\
             \x20 location.replace(new URL(\"{page}\" + location.search + location.hash, location.href));\n\
             }} else {{\n\
             \x20 {load}\n\
             }}\n"
        ),
    };
    Ok(format!(
        "// Generated by `cargo xtask` (xtask/src/seal.rs): a page's boot module, self-contained\n\
         // (the wasm-bindgen glue, then the start of the page's module with its WebAssembly\n\
         // checked against the hash below), so the integrity attribute of its <script> covers it all.\n\
         {glue}\n\
         {start}"
    ))
}

/// `html` without Trunk's `<link rel="{rel}" href="./{file}" …>` (if it wrote one).
fn without_link(html: &str, rel: &str, file: &str) -> Result<String> {
    let Some(start) = html
        .match_indices(&format!("<link rel=\"{rel}\""))
        .map(|(i, _)| i)
        .find(|&i| {
            html[i..]
                .split('>')
                .next()
                .is_some_and(|tag| tag.contains(&format!("href=\"./{file}\"")))
        })
    else {
        return Ok(html.to_owned());
    };
    let end = start
        + html[start..]
            .find('>')
            .ok_or_else(|| format!("unterminated {rel} link"))?
        + 1;
    Ok(format!("{}{}", &html[..start], &html[end..]))
}

/// The forge worker's script: the forge module's wasm-bindgen glue and the boot code in one
/// module with no `import`, so the bytes the page checks are all the JavaScript the worker runs
/// (a `blob:` worker could not resolve a relative import anyway).
pub fn worker_script(glue: &str) -> Result<String> {
    check_glue(glue, &[INIT, "export function worker_main("])?;
    Ok(format!(
        "// Generated by `cargo xtask` (xtask/src/seal.rs): a forge worker, self-contained (the\n\
         // wasm-bindgen glue, then its boot code) so the page can check all of it with one\n\
         // integrity hash and start it from the checked bytes. It instantiates the forge's\n\
         // WebAssembly module, which the page compiled from its integrity-checked download and\n\
         // posted here as the first message.\n\
         {glue}\n\
         self.onmessage = async (event) => {{\n\
         \x20 self.onmessage = null;\n\
         \x20 await __wbg_init({{ module_or_path: event.data }});\n\
         \x20 worker_main();\n\
         }};\n"
    ))
}

/// How every wasm-bindgen glue (`--target web`) names its initialiser.
const INIT: &str = "__wbg_init as default";

/// `sha384-…`, the form of the `integrity` attribute.
pub fn sri(bytes: &[u8]) -> String {
    format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha384::digest(bytes))
    )
}

fn set_connect_src(html: &str, origins: &str) -> Result<String> {
    let key = "connect-src 'self'";
    let start = html
        .find(key)
        .ok_or("index.html's CSP has no connect-src 'self'")?
        + key.len();
    let end = start
        + html[start..]
            .find(';')
            .ok_or("connect-src is not terminated by ';'")?;
    Ok(format!("{} {origins}{}", &html[..start], &html[end..]))
}

/// The sealed page must have no inline script and an integrity attribute on every script, and
/// its policy must allow `blob:` for workers only.
fn check(html: &str) -> Result<()> {
    let key = r#"http-equiv="Content-Security-Policy" content=""#;
    let policy = html
        .find(key)
        .map(|i| html[i + key.len()..].split('"').next().unwrap_or_default())
        .ok_or("sealed index.html has no CSP")?;
    let directive = |name: &str| {
        policy
            .split(';')
            .map(str::trim)
            .find(|d| d.split_whitespace().next() == Some(name))
            .map(str::to_owned)
    };
    if directive("worker-src").as_deref() != Some("worker-src blob:") {
        return Err(format!(
            "the CSP must say exactly `worker-src blob:`: {policy}"
        ));
    }
    if directive("script-src").as_deref() != Some("script-src 'self' 'wasm-unsafe-eval'") {
        return Err(format!(
            "the CSP's script-src must stay 'self' 'wasm-unsafe-eval': {policy}"
        ));
    }
    for (i, _) in html.match_indices("<script") {
        let tag = &html[i..i + html[i..].find('>').unwrap_or(0)];
        if !tag.contains(" src=") || !tag.contains(" integrity=\"sha384-") {
            return Err(format!(
                "sealed index.html still has a script without src/integrity: {tag}"
            ));
        }
    }
    Ok(())
}

fn attr(tag: &str, name: &str) -> Result<String> {
    let key = format!("{name}=\"");
    let start = tag.find(&key).ok_or(format!("marker lacks {name}"))? + key.len();
    Ok(tag[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned())
}

/// `./unattended-abc.js` (as written in the page) → `unattended-abc.js` (inside dist).
fn js_path(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GLUE: &str = "let wasm;\nexport function worker_main() {}\nasync function __wbg_init(m) {}\n\
                        export { initSync, __wbg_init as default };\n// import.meta.url is fine\n";

    #[test]
    fn the_worker_script_is_the_glue_plus_boot_with_no_import() {
        let script = worker_script(GLUE).expect("worker");
        assert!(script.contains(GLUE));
        assert!(script.contains("await __wbg_init({ module_or_path: event.data });"));
        assert!(script.trim_end().ends_with("};"));
        let with_import = format!("import * as x from \"./snippets/a.js\";\n{GLUE}");
        assert!(worker_script(&with_import).is_err());
        assert!(worker_script("export default function init() {}").is_err());
    }

    fn wasm(url: &str) -> Named {
        Named {
            url: url.into(),
            integrity: "sha384-abc".into(),
        }
    }

    #[test]
    fn the_boot_module_is_the_glue_plus_the_start_with_no_import() {
        let boot = boot_script(GLUE, &wasm("./app_bg.wasm"), None).expect("boot");
        assert!(boot.contains(GLUE));
        assert!(boot.trim_end().ends_with(
            r#"await __wbg_init({ module_or_path: fetch("./app_bg.wasm", { integrity: "sha384-abc" }) });"#
        ));
        assert!(!boot.contains("location.replace"));
        assert!(!boot.lines().any(|l| l.trim_start().starts_with("import ")));
        let with_import = format!("import * as x from \"./snippets/a.js\";\n{GLUE}");
        assert!(boot_script(&with_import, &wasm("./a.wasm"), None).is_err());
    }

    #[test]
    fn the_start_boot_module_forwards_a_waited_for_answer_before_loading() {
        let boot = boot_script(GLUE, &wasm("./start-1.wasm"), Some("app.html")).expect("boot");
        let forward = boot
            .find("location.replace(new URL(\"app.html\"")
            .expect("forwards");
        let load = boot.find("await __wbg_init(").expect("loads");
        assert!(
            forward < load,
            "the answer goes on before this page's module loads"
        );
        // The key the pending sign-in is kept under (src/web/signin.rs) is the one read here.
        assert!(boot.contains(&format!(
            "sessionStorage.getItem(\"{PENDING_SIGN_IN_KEY}\")"
        )));
        assert!(boot.contains(r#"!location.pathname.endsWith("/app.html")"#));
        assert!(!boot.lines().any(|l| l.trim_start().starts_with("import ")));
    }

    #[test]
    fn the_glue_and_wasm_preloads_are_removed_and_nothing_else() {
        let html = r#"<link rel="stylesheet" href="./main.css"><link rel="modulepreload" href="./app-1.js" crossorigin="anonymous" integrity="sha384-g"><link rel="preload" href="./app_bg.wasm" as="fetch"></head>"#;
        assert_eq!(
            without_link(html, "modulepreload", "app-1.js").expect("html"),
            r#"<link rel="stylesheet" href="./main.css"><link rel="preload" href="./app_bg.wasm" as="fetch"></head>"#
        );
        assert_eq!(
            without_link(html, "preload", "app_bg.wasm").expect("html"),
            r#"<link rel="stylesheet" href="./main.css"><link rel="modulepreload" href="./app-1.js" crossorigin="anonymous" integrity="sha384-g"></head>"#
        );
        assert_eq!(
            without_link(html, "modulepreload", "other.js").expect("html"),
            html
        );
    }

    #[test]
    fn every_address_in_the_sealed_page_is_relative() {
        let worker = r#"<meta name="unattended-forge" data-script="./worker-1.js" data-script-integrity="sha384-x" data-wasm="./forge-1.wasm" data-wasm-integrity="sha384-y">"#;
        let good = format!(
            r#"<link rel="stylesheet" href="./main-1.css"><link rel="icon" href="favicon.svg">{worker}<script type="module" src="./boot-1.js"></script>"#
        );
        assert!(check_relative(&good).is_ok());
        for bad in [
            good.replace("./main-1.css", "/main-1.css"),
            good.replace("./boot-1.js", "https://cdn.example/boot-1.js"),
            good.replace("./boot-1.js", "//cdn.example/boot-1.js"),
            good.replace("./worker-1.js", "/worker-1.js"),
            good.replace("./forge-1.wasm", "https://cdn.example/forge-1.wasm"),
            good.replace("./main-1.css", "../main-1.css"),
            good.replace(worker, ""),
        ] {
            assert!(check_relative(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_policy_allows_blob_for_workers_only() {
        let page = |policy: &str| {
            format!(r#"<meta http-equiv="Content-Security-Policy" content="{policy}">"#)
        };
        let good = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src blob:; style-src 'self'";
        assert!(check(&page(good)).is_ok());
        for bad in [
            "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'",
            "default-src 'none'; script-src 'self' 'wasm-unsafe-eval' blob:; worker-src blob:",
            "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob: data:",
        ] {
            assert!(check(&page(bad)).is_err(), "{bad}");
        }
    }
}
