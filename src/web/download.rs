//! Saving files the page made (PFX, certificate, reminders) through the browser's download.
//! The bytes go from memory to the admin's disk: no storage, no network.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{Blob, BlobPropertyBag, HtmlAnchorElement, Url};

/// How long a download's object URL stays valid after the click.
///
/// `a.click()` only *starts* a download: the browser fetches the `blob:` URL afterwards, and
/// while a Save dialog is open (Firefox, Safari, Chromium with "Ask where to save") it may not
/// have read it yet. Revoking at once can then fail or cancel the download (MDN, "URL:
/// revokeObjectURL()": call it "when you've finished using an object URL"; FileSaver.js waits
/// 40 s for this reason). A minute covers every browser; the File API spec (W3C, "Lifetime of
/// blob URLs") also revokes every blob URL when the page unloads, so none outlives the tab.
const REVOKE_AFTER_MS: i32 = 60_000;

/// Offers `bytes` as a download named `name`. Returns a message when the browser refuses.
pub fn save(name: &str, mime: &str, bytes: &[u8]) -> Result<(), String> {
    let array = js_sys::Uint8Array::from(bytes);
    let parts = js_sys::Array::of1(&array);
    let options = BlobPropertyBag::new();
    options.set_type(mime);
    let blob = Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(describe)?;
    let url = Url::create_object_url_with_blob(&blob).map_err(describe)?;
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let anchor: HtmlAnchorElement = document
        .create_element("a")
        .map_err(describe)?
        .unchecked_into();
    anchor.set_href(&url);
    anchor.set_download(name);
    // In the document while clicked: older Firefox ignores clicks on detached anchors.
    let attached = document
        .body()
        .and_then(|body| body.append_child(&anchor).ok())
        .is_some();
    anchor.click();
    if attached {
        anchor.remove();
    }
    revoke_later(url);
    Ok(())
}

/// Revokes `url` after [`REVOKE_AFTER_MS`] (or when the page unloads, whichever comes first).
fn revoke_later(url: String) {
    let revoke = Closure::once_into_js(move || {
        let _ = Url::revoke_object_url(&url);
    });
    if let Some(window) = web_sys::window() {
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
            revoke.unchecked_ref(),
            REVOKE_AFTER_MS,
        );
    }
}

/// Copies text to the clipboard (the PFX password, PowerShell lines).
pub async fn copy(text: &str) -> Result<(), String> {
    let clipboard = web_sys::window()
        .ok_or("no window")?
        .navigator()
        .clipboard();
    wasm_bindgen_futures::JsFuture::from(clipboard.write_text(text))
        .await
        .map(|_| ())
        .map_err(describe)
}

fn describe(e: wasm_bindgen::JsValue) -> String {
    e.as_string()
        .or_else(|| {
            e.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| "the browser refused".into())
}
