//! The browser side: the only place besides `ui` that touches browser APIs. Everything here is a
//! thin shell over the pure core (`config`, `forge`).

mod config;
pub mod download;
pub mod fetch;
pub mod forge_code;
pub mod keygen;
pub mod popup;
pub mod signin;
pub mod worker;

pub use config::load_config;

/// `location.href`, or an empty string when there is no window (never the case in a page).
pub fn page_url() -> String {
    web_sys::window()
        .and_then(|w| w.location().href().ok())
        .unwrap_or_default()
}

/// `performance.now()` in the page or in a worker (milliseconds), 0 when unavailable.
pub fn now_ms() -> f64 {
    use wasm_bindgen::JsCast;
    let global = js_sys::global();
    if let Some(window) = global.dyn_ref::<web_sys::Window>() {
        return window.performance().map_or(0.0, |p| p.now());
    }
    global
        .dyn_ref::<web_sys::WorkerGlobalScope>()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}
