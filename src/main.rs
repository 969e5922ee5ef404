//! Browser entry point: mounts the app. Everything else lives in the library so it can be tested.

fn main() {
    #[cfg(target_arch = "wasm32")]
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(unattended::ui::App);
}
