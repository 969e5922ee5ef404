//! The credential forge as its own WebAssembly module: what the key-making Web Workers run.
//!
//! The page's module (`src/main.rs`) carries the screens and sign-in; this one carries the RSA
//! key generation, the certificate and the PKCS#12 code. Only the workers load it, and only once
//! a certificate is about to be made (prefetched after sign-in), so the start screen does not
//! wait for code it does not use. `cargo xtask` wraps its wasm-bindgen glue into the worker
//! script and writes both files' integrity hashes into the page (xtask/src/seal.rs).

/// Called by the worker script once this module is instantiated: from then on the worker
/// answers the page's messages (`unattended::web::worker`).
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn worker_main() {
    unattended::web::worker::serve();
}

fn main() {
    // Nothing runs at instantiation: the worker script calls `worker_main` when it is ready.
}
