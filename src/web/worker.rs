//! The forge worker's side of `postMessage`: decode a [`ToWorker`], do the work, post
//! [`FromWorker`] replies. It runs in the forge's own WebAssembly module (`src/bin/forge.rs`),
//! which the page fetched and compiled with its integrity hash and handed to the worker.

use getrandom::SysRng;
use rand_core::UnwrapErr;
use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use crate::forge::job::{FromWorker, ToWorker, check_pfx_job, find_prime_job, forge_job};

/// Starts answering the page. Called by the forge module's `worker_main` once it is
/// instantiated; says [`FromWorker::Ready`] when it listens.
pub fn serve() {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let replies = scope.clone();
    let handler = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let mut send = |message: FromWorker| post(&replies, &message);
        // A message is the request's JSON, or (to prove a saved PFX) an array of that JSON and
        // the file the admin picked.
        let data = event.data();
        let (text, file) = match data.dyn_ref::<js_sys::Array>() {
            Some(parts) => (
                parts.get(0).as_string(),
                parts.get(1).dyn_into::<web_sys::Blob>().ok(),
            ),
            None => (data.as_string(), None),
        };
        let request = text
            .ok_or_else(|| "the page sent a message the worker cannot read".to_owned())
            .and_then(|text| serde_json::from_str::<ToWorker>(&text).map_err(|e| e.to_string()));
        let mut rng = UnwrapErr(SysRng);
        match request {
            Ok(ToWorker::FindPrime { bits }) => {
                find_prime_job(bits, &mut rng, &super::now_ms, &mut send)
            }
            Ok(ToWorker::Forge(job)) => match forge_job(job, &mut rng, &super::now_ms) {
                Ok(forged) => send(FromWorker::Forged(Box::new(forged))),
                Err(e) => send(FromWorker::Failed {
                    message: e.to_string(),
                }),
            },
            Ok(ToWorker::CheckPfx(job)) => {
                let Some(file) = file else {
                    return send(FromWorker::Failed {
                        message: "the page sent no file to check".into(),
                    });
                };
                let replies = replies.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let reply = match read(&file).await {
                        Ok(bytes) => check_pfx_job(&bytes, job),
                        Err(refusal) => FromWorker::PfxChecked {
                            refusal: Some(refusal),
                        },
                    };
                    post(&replies, &reply);
                });
            }
            Err(message) => send(FromWorker::Failed { message }),
        }
    });
    scope.set_onmessage(Some(handler.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    handler.forget();
    post(&scope, &FromWorker::Ready);
}

/// The picked file's bytes, read with `Blob.arrayBuffer()` (File API; MDN "Blob: arrayBuffer()
/// method"). The copy in WebAssembly memory is wiped when dropped, and the browser's copy is
/// blanked at once (the ArrayBuffer belongs to this read only).
async fn read(file: &web_sys::Blob) -> Result<zeroize::Zeroizing<Vec<u8>>, String> {
    let buffer = wasm_bindgen_futures::JsFuture::from(file.array_buffer())
        .await
        .map_err(|_| "The file could not be read: pick it again.".to_owned())?;
    let view = js_sys::Uint8Array::new(&buffer);
    let bytes = zeroize::Zeroizing::new(view.to_vec());
    view.fill(0, 0, view.length());
    Ok(bytes)
}

fn post(scope: &DedicatedWorkerGlobalScope, message: &FromWorker) {
    if let Ok(text) = serde_json::to_string(message) {
        let _ = scope.post_message(&JsValue::from_str(&text));
    }
}
