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
    verify_script(&script, &integrity).await?;
    let (tx, mut rx) = mpsc::unbounded::<(usize, FromWorker)>();
    let mut pool = Pool::start(&script, workers, tx)?;
    let bits = options.key_size.bits();
    let find = ToWorker::FindPrime { bits };

    let mut tested = vec![0u64; workers];
    let mut primes: Vec<String> = Vec::new();
    while let Some((index, message)) = rx.next().await {
        match message {
            FromWorker::Ready => pool.send(index, &find)?,
            FromWorker::Progress { tested: n } => {
                tested[index] = n;
                on_event(Event::Searching {
                    tested: tested.iter().sum(),
                    primes: primes.len(),
                    workers,
                });
            }
            FromWorker::Prime { prime, .. } => {
                if !primes.contains(&prime) {
                    primes.push(prime);
                }
                if primes.len() < 2 {
                    tested[index] = 0;
                    on_event(Event::Searching {
                        tested: tested.iter().sum(),
                        primes: primes.len(),
                        workers,
                    });
                    pool.send(index, &find)?;
                    continue;
                }
                // The worker that found the second prime is idle: it builds; the rest stop.
                on_event(Event::Building);
                pool.keep_only(index);
                let job = ForgeJob {
                    bits,
                    p: primes[0].clone(),
                    q: primes[1].clone(),
                    subject: options.subject.clone(),
                    validity_days: options.validity_days,
                    flavour: options.flavour.name().to_owned(),
                    password: options.password.expose().to_owned(),
                    now_ms: js_sys::Date::now(),
                };
                pool.send(index, &ToWorker::Forge(job))?;
            }
            FromWorker::Forged(forged) => return Ok(*forged),
            FromWorker::Failed { message } => return Err(KeygenError::Worker(message)),
        }
    }
    Err(KeygenError::Worker(
        "the workers stopped unexpectedly".into(),
    ))
}

/// The worker boot script and its integrity, which `cargo xtask` writes into the page as
/// `<meta name="unattended-worker" content="/worker-….js" data-integrity="sha384-…">`.
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

/// `new Worker()` cannot check integrity, so fetch the script with its hash first: the browser
/// refuses it if it was altered, and the worker then loads the verified copy from the cache
/// (served immutable, like every hashed asset).
async fn verify_script(script: &str, integrity: &str) -> Result<(), KeygenError> {
    let init = web_sys::RequestInit::new();
    init.set_integrity(integrity);
    let window = web_sys::window().ok_or(KeygenError::NoWorker("no window".into()))?;
    let response =
        wasm_bindgen_futures::JsFuture::from(window.fetch_with_str_and_init(script, &init))
            .await
            .map_err(|_| {
                KeygenError::NoWorker("the worker script failed its integrity check".into())
            })?;
    let ok = response
        .dyn_into::<web_sys::Response>()
        .is_ok_and(|r| r.ok());
    if ok {
        Ok(())
    } else {
        Err(KeygenError::NoWorker(
            "the worker script could not be loaded".into(),
        ))
    }
}

/// Running workers and the closures that receive their messages. Dropping it terminates them.
struct Pool {
    workers: Vec<Option<Worker>>,
    _handlers: Vec<Closure<dyn FnMut(MessageEvent)>>,
    _error_handlers: Vec<Closure<dyn FnMut(web_sys::ErrorEvent)>>,
}

impl Pool {
    fn start(
        script: &str,
        count: usize,
        tx: mpsc::UnboundedSender<(usize, FromWorker)>,
    ) -> Result<Self, KeygenError> {
        let options = WorkerOptions::new();
        options.set_type(WorkerType::Module);
        let module = wasm_bindgen::module();
        let mut pool = Pool {
            workers: Vec::new(),
            _handlers: Vec::new(),
            _error_handlers: Vec::new(),
        };
        for index in 0..count {
            let worker = Worker::new_with_options(script, &options).map_err(|_| {
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
                worker.terminate();
            }
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for worker in self.workers.iter_mut().filter_map(Option::take) {
            worker.terminate();
        }
    }
}
