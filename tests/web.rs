//! WebAssembly tests in headless Chromium (`cargo test --target wasm32-unknown-unknown`, run by
//! `cargo xtask test`): the same code the page ships, in the same browser engine admins use.

#![cfg(target_arch = "wasm32")]

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

use unattended::config::{Config, ConfigError};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn config_validation_behaves_the_same_in_wasm() {
    let ok =
        r#"{"clientId":"3F1C2A6E-8D0B-4C55-9A1E-2B7F6D4C9E01","redirectUri":"https://a.example/"}"#;
    let c = Config::from_json(ok).expect("valid config");
    assert_eq!(c.client_id, "3f1c2a6e-8d0b-4c55-9a1e-2b7f6d4c9e01");
    assert!(!c.is_sandbox());
    assert!(matches!(
        Config::from_json("[]"),
        Err(ConfigError::Malformed(_))
    ));
}

/// Mounts the real app in the test page. The runner serves no config.json, so the page must say
/// so and keep sign-in disabled instead of going blank or panicking.
#[wasm_bindgen_test]
async fn start_screen_explains_missing_config() {
    leptos::mount::mount_to_body(unattended::ui::App);
    let document = web_sys::window()
        .and_then(|w| w.document())
        .expect("document");
    let title = document
        .get_element_by_id("title")
        .expect("start screen rendered");
    assert!(
        title
            .text_content()
            .unwrap_or_default()
            .contains("Exchange Online PowerShell")
    );

    let status = document
        .get_element_by_id("sign-in-status")
        .expect("status line");
    let mut text = String::new();
    for _ in 0..100 {
        text = status.text_content().unwrap_or_default();
        if !text.starts_with("Loading") {
            break;
        }
        sleep_ms(50).await;
    }
    assert!(text.contains("no config.json"), "status was: {text}");
    let button: web_sys::HtmlButtonElement = document
        .get_element_by_id("sign-in")
        .expect("button")
        .dyn_into()
        .expect("a button");
    assert!(
        button.disabled(),
        "sign-in must stay disabled without config.json"
    );
}

async fn sleep_ms(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let window = web_sys::window().expect("window");
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
    });
    let _: Result<JsValue, JsValue> = wasm_bindgen_futures::JsFuture::from(promise).await;
}
