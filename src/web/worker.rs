//! The forge worker's side of `postMessage`: decode a [`ToWorker`], do the work, post
//! [`FromWorker`] replies. The worker runs the same WebAssembly module as the page (compiled
//! once by the page from its integrity-checked download and handed over), started by the
//! `worker-*.js` boot script that `cargo xtask` writes.

use getrandom::SysRng;
use rand_core::UnwrapErr;
use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use crate::forge::job::{FromWorker, ToWorker, find_prime_job, forge_job};

/// Entry point called by the worker boot script once the module is instantiated.
#[wasm_bindgen]
pub fn worker_main() {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let replies = scope.clone();
    let handler = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let mut send = |message: FromWorker| post(&replies, &message);
        let request = event
            .data()
            .as_string()
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
            Err(message) => send(FromWorker::Failed { message }),
        }
    });
    scope.set_onmessage(Some(handler.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    handler.forget();
    post(&scope, &FromWorker::Ready);
}

fn post(scope: &DedicatedWorkerGlobalScope, message: &FromWorker) {
    if let Ok(text) = serde_json::to_string(message) {
        let _ = scope.post_message(&JsValue::from_str(&text));
    }
}
