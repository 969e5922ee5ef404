//! Browser entry point: mounts the app. Everything else lives in the library so it can be tested.
//!
//! The forge workers run a module of their own (`src/bin/forge.rs`), which the page fetches only
//! when a certificate is about to be made: nothing of the forge's key generation, certificate or
//! PKCS#12 code is in this module.

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    let Some(window) = web_sys::window() else {
        return;
    };
    // Hosts that cannot send `frame-ancestors` (a meta CSP cannot carry it; GitHub Pages sends
    // no headers) would let another site frame the page and trick clicks on it: refuse to run
    // inside a frame (<https://cheatsheetseries.owasp.org/cheatsheets/Clickjacking_Defense_Cheat_Sheet.html>).
    let framed = window.top().ok().flatten().is_none_or(|top| top != window);
    if framed {
        use leptos::prelude::*;
        leptos::mount::mount_to_body(|| {
            view! {
                <main id="main"><p id="framed" role="alert">
                    "This page does not run inside a frame, so that no other site can trick clicks on it. Open it in its own tab."
                </p></main>
            }
        });
        return;
    }
    leptos::mount::mount_to_body(unattended::ui::App);
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("unattended is a web page: build and serve it with `cargo xtask run`.");
}
