//! The start page's own WebAssembly module (`index.html`): the start screen, sign-in and the
//! certificate-only panel, and nothing after sign-in, so every admin's first load carries only
//! what the start screen uses.
//!
//! The identity platform redirects back to `index.html`; the boot module `cargo xtask` writes
//! for this module (xtask/src/seal.rs) forwards a sign-in answer this tab waits for to
//! `app.html`, whose module (`src/main.rs`) finishes the sign-in and runs the onboarding.

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    unattended::ui::mount(unattended::ui::StartPage);
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("unattended is a web page: build and serve it with `cargo xtask run`.");
}
