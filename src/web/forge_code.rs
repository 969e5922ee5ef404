//! The forge's code, fetched only when it is needed: the worker script and the forge's own
//! WebAssembly module, both checked against the hashes `cargo xtask` wrote into the page.
//!
//! The start screen and sign-in do not use the forge, so the page's first load does not carry
//! it. Once the admin is signed in (or opens the certificate panel), [`prefetch`] fetches and
//! compiles it in the background, so it is ready by the time a certificate is made; a prefetch
//! that failed (a lost network) is tried again when the code is actually needed.

use std::cell::RefCell;
use std::rc::Rc;

use futures::FutureExt;
use futures::future::{LocalBoxFuture, Shared};
use wasm_bindgen::JsCast;

use super::keygen::KeygenError;

/// The checked worker script (held as a `blob:` URL) and the compiled forge module.
pub struct ForgeCode {
    /// `blob:` URL of the worker script's verified bytes; revoked when dropped.
    pub script_url: String,
    /// The forge module, compiled once and posted to every worker.
    pub module: js_sys::WebAssembly::Module,
}

impl Drop for ForgeCode {
    fn drop(&mut self) {
        let _ = web_sys::Url::revoke_object_url(&self.script_url);
    }
}

type Loading = Shared<LocalBoxFuture<'static, Result<Rc<ForgeCode>, KeygenError>>>;

thread_local! {
    /// The one load of the forge's code for this page, and whether a prefetch started it.
    static LOADING: RefCell<Option<(Loading, bool)>> = const { RefCell::new(None) };
}

/// Starts fetching and compiling the forge in the background, once.
pub fn prefetch() {
    let (loading, _, started) = current(true);
    if started {
        wasm_bindgen_futures::spawn_local(async move {
            let _ = loading.await;
        });
    }
}

/// The forge's code, from the prefetch if there was one. A failed load is forgotten, so the next
/// attempt fetches again; a failed prefetch is retried here at once.
pub async fn forge_code() -> Result<Rc<ForgeCode>, KeygenError> {
    let (loading, prefetched, _) = current(false);
    match loading.await {
        Ok(code) => Ok(code),
        Err(error) => {
            forget();
            if !prefetched {
                return Err(error);
            }
            let (retry, ..) = current(false);
            let result = retry.await;
            if result.is_err() {
                forget();
            }
            result
        }
    }
}

/// The load under way or done, started now if there is none: with whether a prefetch started
/// it, and whether this call did.
fn current(prefetching: bool) -> (Loading, bool, bool) {
    LOADING.with(|slot| {
        let mut slot = slot.borrow_mut();
        let started = slot.is_none();
        let (loading, prefetched) =
            slot.get_or_insert_with(|| (load().boxed_local().shared(), prefetching));
        (loading.clone(), *prefetched, started)
    })
}

fn forget() {
    LOADING.with(|slot| slot.borrow_mut().take());
}

async fn load() -> Result<Rc<ForgeCode>, KeygenError> {
    let assets = Assets::named_by_the_page(FORGE_META)?;
    // Both downloads at once; each rejects on a hash mismatch.
    let (script, wasm) = futures::join!(
        fetch_verified(&assets.script, &assets.script_integrity, "worker script"),
        fetch_verified(&assets.wasm, &assets.wasm_integrity, "forge module"),
    );
    let (script, wasm) = (script?, wasm?);
    let module = wasm_bindgen_futures::JsFuture::from(js_sys::WebAssembly::compile(&wasm))
        .await
        .ok()
        .and_then(|m| m.dyn_into::<js_sys::WebAssembly::Module>().ok())
        .ok_or_else(|| {
            KeygenError::NoWorker("this browser could not compile the forge's WebAssembly".into())
        })?;
    let parts = js_sys::Array::of1(&script);
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("text/javascript");
    let held = || KeygenError::NoWorker("the worker script could not be held".into());
    let blob = web_sys::Blob::new_with_buffer_source_sequence_and_options(&parts, &options)
        .map_err(|_| held())?;
    let script_url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|_| held())?;
    Ok(Rc::new(ForgeCode { script_url, module }))
}

const FORGE_META: &str = "unattended-forge";
const APP_META: &str = "unattended-app";

/// What `cargo xtask` wrote into the page: `<meta name="unattended-forge" data-script="./…js"
/// data-script-integrity="sha384-…" data-wasm="./…wasm" data-wasm-integrity="sha384-…">`
/// (relative: fetched from beside the page, whatever path it is served under); the start page
/// names the app page's boot module and WebAssembly the same way (`unattended-app`).
struct Assets {
    script: String,
    script_integrity: String,
    wasm: String,
    wasm_integrity: String,
}

impl Assets {
    fn named_by_the_page(name: &str) -> Result<Self, KeygenError> {
        let meta = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| {
                d.query_selector(&format!("meta[name={name}]"))
                    .ok()
                    .flatten()
            })
            .ok_or_else(|| KeygenError::NoWorker(format!("the page does not name its {name}")))?;
        let get = |name: &str| meta.get_attribute(name).unwrap_or_default();
        let assets = Self {
            script: get("data-script"),
            script_integrity: get("data-script-integrity"),
            wasm: get("data-wasm"),
            wasm_integrity: get("data-wasm-integrity"),
        };
        let hashed =
            |url: &str, integrity: &str| !url.is_empty() && integrity.starts_with("sha384-");
        if !hashed(&assets.script, &assets.script_integrity)
            || !hashed(&assets.wasm, &assets.wasm_integrity)
        {
            return Err(KeygenError::NoWorker(
                "the forge's files have no integrity hash".into(),
            ));
        }
        Ok(assets)
    }
}

/// On the start page, once sign-in is possible: fetches the app page's boot module and
/// WebAssembly in the background, checked against the hashes the start page names, so the
/// sign-in's return to the app page finds them in the browser's cache rather than waiting for
/// them (the bytes are checked again there, by the app page's own integrity attributes). Not
/// when the browser asks to save data (`navigator.connection.saveData`, Network Information
/// API), and not twice.
pub fn prefetch_app() {
    thread_local! {
        static STARTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if STARTED.with(|s| s.replace(true)) || saves_data() {
        return;
    }
    let Ok(assets) = Assets::named_by_the_page(APP_META) else {
        return;
    };
    wasm_bindgen_futures::spawn_local(async move {
        // A failure costs nothing: the app page fetches (and checks) its files itself.
        let _ = futures::join!(
            fetch_verified(&assets.script, &assets.script_integrity, "app boot module"),
            fetch_verified(&assets.wasm, &assets.wasm_integrity, "app's module"),
        );
    });
}

fn saves_data() -> bool {
    let Some(window) = web_sys::window() else {
        return true;
    };
    let connection = js_sys::Reflect::get(&window.navigator(), &"connection".into());
    connection
        .and_then(|c| js_sys::Reflect::get(&c, &"saveData".into()))
        .is_ok_and(|v| v.is_truthy())
}

/// Fetches `url` with its Subresource Integrity hash and returns the body that was checked.
///
/// `new Worker(url)` has no integrity option (WHATWG HTML, "Dedicated workers"; MDN `Worker()`),
/// and a module worker's own `import`s carry none either. So the page fetches the worker script
/// with `fetch(url, {integrity})` (W3C Subresource Integrity §3.3.5: the fetch rejects on a
/// mismatch) and starts the workers from those very bytes through a `blob:` URL; the forge's
/// WebAssembly is fetched the same way, compiled once here and posted to each worker. What runs
/// next to the key is exactly what was checked, not a second download of the same address.
async fn fetch_verified(
    url: &str,
    integrity: &str,
    what: &str,
) -> Result<js_sys::ArrayBuffer, KeygenError> {
    // A `fetch` with `integrity` rejects alike on a mismatch and on a network error.
    let refused = || KeygenError::Tampered;
    let init = web_sys::RequestInit::new();
    init.set_integrity(integrity);
    let window = web_sys::window().ok_or(KeygenError::NoWorker("no window".into()))?;
    let response = wasm_bindgen_futures::JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await
        .map_err(|_| refused())?
        .dyn_into::<web_sys::Response>()
        .map_err(|_| refused())?;
    if !response.ok() {
        return Err(KeygenError::NoWorker(format!(
            "the {what} could not be loaded (HTTP {})",
            response.status()
        )));
    }
    // The body is read by the same fetch that checked the hash: a body that does not match
    // rejects here too.
    let body = response.array_buffer().map_err(|_| refused())?;
    wasm_bindgen_futures::JsFuture::from(body)
        .await
        .map_err(|_| refused())?
        .dyn_into::<js_sys::ArrayBuffer>()
        .map_err(|_| refused())
}
