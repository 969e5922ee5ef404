//! Key generation off the main thread: a pool of forge workers searching for primes in
//! parallel, then one of them assembling the key and building the credential.
//!
//! Dropping the future returned by [`forge_in_workers`] cancels: the pool terminates every
//! worker, so nothing keeps computing (or keeps key material) after the admin presses Cancel.

use std::fmt;

use futures::StreamExt;
use futures::channel::mpsc;
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, Worker, WorkerOptions, WorkerType};

use crate::forge::job::{ForgeJob, Forged, FromWorker, ToWorker};
use crate::forge::pool::{PrimeSearch, Step};
use crate::forge::{Flavour, KeySize, Password};

/// What the admin chose for the certificate.
#[derive(Debug, Clone)]
pub struct Options {
    /// Key size.
    pub key_size: KeySize,
    /// Common name.
    pub subject: String,
    /// Days of validity.
    pub validity_days: u32,
    /// PFX flavour.
    pub flavour: Flavour,
    /// PFX password.
    pub password: Password,
}

/// Progress for the UI.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// The workers are searching: candidates tested so far (all workers), primes found (0–2).
    Searching {
        /// Candidates tested.
        tested: u64,
        /// Primes found so far.
        primes: usize,
        /// Workers searching.
        workers: usize,
    },
    /// Both primes are there; the key, certificate and PFX are being built.
    Building,
}

/// Why the credential could not be made in the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeygenError {
    /// The page was built without its worker (not through `cargo xtask`), or the browser
    /// refused to start one.
    NoWorker(String),
    /// The worker script is not verifiably the one the page was built with: its integrity check
    /// failed (a `fetch` with `integrity` rejects alike on a mismatch and a network error).
    Tampered,
    /// A worker failed.
    Worker(String),
}

impl fmt::Display for KeygenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoWorker(why) => write!(
                f,
                "The key cannot be made in a background worker here ({why}). Reload the page; if \
                 it persists, the site was not built with `cargo xtask build`."
            ),
            Self::Tampered => write!(
                f,
                "The worker script failed its integrity check or could not be loaded: it is not \
                 verifiably the code this page was built with, so no key is made with it. Reload \
                 the page; if it persists, tell whoever hosts this page."
            ),
            Self::Worker(why) => write!(
                f,
                "Making the key failed: {why}. Press Generate to try again."
            ),
        }
    }
}

/// How many workers search in parallel: one per core the browser reports (so the two primes
/// are found side by side on any multi-core machine), at most eight.
pub fn worker_count() -> usize {
    let cores = web_sys::window().map_or(2.0, |w| w.navigator().hardware_concurrency());
    (cores as usize).clamp(1, 8)
}

/// Makes the credential in workers. `on_event` gets progress; dropping the future cancels.
pub async fn forge_in_workers(
    options: Options,
    workers: usize,
    on_event: impl Fn(Event),
) -> Result<Forged, KeygenError> {
    let (script, integrity) = worker_script()?;
    let source = VerifiedScript::fetch(&script, &integrity).await?;
    let (tx, mut rx) = mpsc::unbounded::<(usize, FromWorker)>();
    let mut pool = Pool::start(source, workers, tx)?;
    let bits = options.key_size.bits();
    let find = ToWorker::FindPrime { bits };

    // Every decision (who searches, which primes count, which late messages to ignore) is the
    // pure state machine's, tested natively in `forge::pool`.
    let mut search = PrimeSearch::new(workers);
    while let Some((index, message)) = rx.next().await {
        for step in search.on_message(index, message) {
            match step {
                Step::Search(worker) => pool.send(worker, &find)?,
                Step::Progress { tested, primes } => on_event(Event::Searching {
                    tested,
                    primes,
                    workers,
                }),
                Step::Assemble { worker, p, q } => {
                    // The worker that found the second prime is idle: it builds; the rest stop.
                    on_event(Event::Building);
                    pool.keep_only(worker);
                    let job = ForgeJob {
                        bits,
                        p,
                        q,
                        subject: options.subject.clone(),
                        validity_days: options.validity_days,
                        flavour: options.flavour.name().to_owned(),
                        password: options.password.expose().to_owned(),
                        now_ms: js_sys::Date::now(),
                    };
                    pool.send(worker, &ToWorker::Forge(job))?;
                }
                Step::Finished(forged) => return Ok(*forged),
                Step::Failed(message) => return Err(KeygenError::Worker(message)),
            }
        }
    }
    match search.on_closed() {
        Some(Step::Failed(message)) => Err(KeygenError::Worker(message)),
        _ => Err(KeygenError::Worker(
            "the workers stopped unexpectedly".into(),
        )),
    }
}

/// The worker script and its integrity, which `cargo xtask` writes into the page as
/// `<meta name="unattended-worker" content="./worker-….js" data-integrity="sha384-…">`
/// (relative: fetched from beside the page, whatever path the page is served under).
fn worker_script() -> Result<(String, String), KeygenError> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or(KeygenError::NoWorker("no document".into()))?;
    let meta = document
        .query_selector("meta[name=unattended-worker]")
        .ok()
        .flatten()
        .ok_or_else(|| KeygenError::NoWorker("the page does not name its worker script".into()))?;
    let script = meta.get_attribute("content").unwrap_or_default();
    let integrity = meta.get_attribute("data-integrity").unwrap_or_default();
    if script.is_empty() || !integrity.starts_with("sha384-") {
        return Err(KeygenError::NoWorker(
            "the worker script has no integrity hash".into(),
        ));
    }
    Ok((script, integrity))
}

/// The worker's code, fetched with its Subresource Integrity hash and held as a `blob:` URL.
///
/// `new Worker(url)` has no integrity option (WHATWG HTML, "Dedicated workers"; MDN `Worker()`),
/// and a module worker's own `import`s carry none either. So the page fetches the one
/// self-contained worker script (the wasm-bindgen glue and the boot code in one file, written by
/// `cargo xtask`) with `fetch(url, {integrity})` (W3C Subresource Integrity §3.3.5: the fetch
/// rejects on a mismatch), and starts the workers from those very bytes through a `blob:` URL:
/// what runs next to the key is exactly what was checked, not a second download of the same
/// address. The WebAssembly they run is the module the page compiled from its own
/// integrity-checked download, posted to each worker. The CSP allows `blob:` in `worker-src`
/// only (never in `script-src`).
struct VerifiedScript {
    url: String,
}

impl VerifiedScript {
    async fn fetch(script: &str, integrity: &str) -> Result<Self, KeygenError> {
        let refused = || KeygenError::Tampered;
        let init = web_sys::RequestInit::new();
        init.set_integrity(integrity);
        let window = web_sys::window().ok_or(KeygenError::NoWorker("no window".into()))?;
        let response =
            wasm_bindgen_futures::JsFuture::from(window.fetch_with_str_and_init(script, &init))
                .await
                .map_err(|_| refused())?
                .dyn_into::<web_sys::Response>()
                .map_err(|_| refused())?;
        if !response.ok() {
            return Err(KeygenError::NoWorker(format!(
                "the worker script could not be loaded (HTTP {})",
                response.status()
            )));
        }
        // The body is read by the same fetch that checked the hash: a body that does not match
        // rejects here too.
        let body = response.array_buffer().map_err(|_| refused())?;
        let bytes = wasm_bindgen_futures::JsFuture::from(body)
            .await
            .map_err(|_| refused())?;
        let parts = js_sys::Array::of1(&bytes);
        let options = web_sys::BlobPropertyBag::new();
        options.set_type("text/javascript");
        let blob = web_sys::Blob::new_with_buffer_source_sequence_and_options(&parts, &options)
            .map_err(|_| KeygenError::NoWorker("the worker script could not be held".into()))?;
        let url = web_sys::Url::create_object_url_with_blob(&blob)
            .map_err(|_| KeygenError::NoWorker("the worker script could not be held".into()))?;
        Ok(Self { url })
    }
}

impl Drop for VerifiedScript {
    fn drop(&mut self) {
        let _ = web_sys::Url::revoke_object_url(&self.url);
    }
}

/// Running workers and the closures that receive their messages. Dropping it terminates them.
struct Pool {
    workers: Vec<Option<Worker>>,
    /// Kept until the pool ends: the workers were started from it.
    _source: VerifiedScript,
    _handlers: Vec<Closure<dyn FnMut(MessageEvent)>>,
    _error_handlers: Vec<Closure<dyn FnMut(web_sys::ErrorEvent)>>,
}

impl Pool {
    fn start(
        source: VerifiedScript,
        count: usize,
        tx: mpsc::UnboundedSender<(usize, FromWorker)>,
    ) -> Result<Self, KeygenError> {
        let options = WorkerOptions::new();
        options.set_type(WorkerType::Module);
        let module = wasm_bindgen::module();
        let mut pool = Pool {
            workers: Vec::new(),
            _source: source,
            _handlers: Vec::new(),
            _error_handlers: Vec::new(),
        };
        for index in 0..count {
            let worker = Worker::new_with_options(&pool._source.url, &options).map_err(|_| {
                KeygenError::NoWorker("the browser refused to start a worker".into())
            })?;
            let messages = tx.clone();
            let handler = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                let parsed = event
                    .data()
                    .as_string()
                    .and_then(|text| serde_json::from_str::<FromWorker>(&text).ok());
                let message = parsed.unwrap_or(FromWorker::Failed {
                    message: "a worker sent an unreadable reply".into(),
                });
                let _ = messages.unbounded_send((index, message));
            });
            let errors = tx.clone();
            let on_error = Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(
                move |event: web_sys::ErrorEvent| {
                    let message = format!("a worker stopped: {}", event.message());
                    let _ = errors.unbounded_send((index, FromWorker::Failed { message }));
                },
            );
            worker.set_onmessage(Some(handler.as_ref().unchecked_ref()));
            worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            // The compiled module goes first; the boot script instantiates it and says Ready.
            worker.post_message(&module).map_err(|_| {
                KeygenError::NoWorker(
                    "the WebAssembly module could not be handed to a worker".into(),
                )
            })?;
            pool.workers.push(Some(worker));
            pool._handlers.push(handler);
            pool._error_handlers.push(on_error);
        }
        Ok(pool)
    }

    fn send(&self, index: usize, message: &ToWorker) -> Result<(), KeygenError> {
        let worker = self
            .workers
            .get(index)
            .and_then(Option::as_ref)
            .ok_or(KeygenError::Worker("worker gone".into()))?;
        let text =
            serde_json::to_string(message).map_err(|e| KeygenError::Worker(e.to_string()))?;
        worker
            .post_message(&JsValue::from_str(&text))
            .map_err(|_| KeygenError::Worker("postMessage failed".into()))
    }

    /// Stops every worker but one (the others are still searching and no longer needed).
    fn keep_only(&mut self, keep: usize) {
        for (index, slot) in self.workers.iter_mut().enumerate() {
            if index != keep
                && let Some(worker) = slot.take()
            {
                stop(&worker);
            }
        }
    }
}

/// Terminates a worker after detaching the page's handlers, so a message or error it had
/// already queued can never reach a closure that is about to be dropped.
fn stop(worker: &Worker) {
    worker.set_onmessage(None);
    worker.set_onerror(None);
    worker.terminate();
}

impl Drop for Pool {
    fn drop(&mut self) {
        for worker in self.workers.iter_mut().filter_map(Option::take) {
            stop(&worker);
        }
    }
}
