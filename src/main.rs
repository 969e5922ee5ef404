//! Browser entry point: mounts the app. Everything else lives in the library so it can be tested.
//!
//! The same WebAssembly module also runs inside the forge workers, where this start function
//! runs too: there is no window there, and the worker boot script calls `worker_main` instead.

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    if web_sys::window().is_some() {
        leptos::mount::mount_to_body(unattended::ui::App);
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("unattended is a web page: build and serve it with `cargo xtask run`.");
}
