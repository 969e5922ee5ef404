//! Browser entry point of the app page (`app.html`): mounts the whole app. Everything else lives
//! in the library so it can be tested.
//!
//! The start page (`index.html`) runs a smaller module of its own (`src/bin/start.rs`) and
//! forwards a sign-in answer here; the forge workers run a third (`src/bin/forge.rs`), which the
//! page fetches only when a certificate is about to be made.

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    unattended::ui::mount(unattended::ui::App);
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("unattended is a web page: build and serve it with `cargo xtask run`.");
}
