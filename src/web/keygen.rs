//! Key generation off the main thread: a pool of forge workers searching for primes in
//! parallel, then one of them assembling the key and building the credential.
//!
//! Dropping the future returned by [`forge_in_workers`] cancels: the pool terminates every
//! worker, so nothing keeps computing (or keeps key material) after the admin presses Cancel.

use std::fmt;
use std::rc::Rc;

use futures::StreamExt;
use futures::channel::mpsc;
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, Worker, WorkerOptions, WorkerType};

use super::forge_code::{ForgeCode, forge_code};
use crate::forge::job::{CheckPfx, ForgeJob, Forged, FromWorker, ToWorker};
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
    /// The worker script or the forge module is not verifiably what the page was built with:
    /// an integrity check failed (a `fetch` with `integrity` rejects alike on a mismatch and a
    /// network error).
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
                "The key-making code (the worker script or the forge's WebAssembly) failed its \
                 integrity check or could not be loaded: it is not verifiably the code this page \
                 was built with, so no key is made with it. Check the network and try again; if \
                 it persists, tell whoever hosts this page."
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
    let code = forge_code().await?;
    let (tx, mut rx) = mpsc::unbounded::<(usize, FromWorker)>();
    let mut pool = Pool::start(code, workers, tx)?;
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

/// Proves a saved PFX in a worker of its own (see [`crate::forge::verify_saved_pfx`]): the page
/// hands over the picked file itself, so its bytes and the key decrypted from it exist only in
/// that worker, which is terminated as soon as it answers. `Ok(Err(why))` is the verdict
/// refusing the file; `Err` means the check could not run.
pub async fn check_saved_pfx(
    file: &web_sys::Blob,
    password: zeroize::Zeroizing<String>,
    certificate_b64: &str,
) -> Result<Result<(), String>, KeygenError> {
    let code = forge_code().await?;
    let (tx, mut rx) = mpsc::unbounded::<(usize, FromWorker)>();
    let pool = Pool::start(code, 1, tx)?;
    let job = ToWorker::CheckPfx(CheckPfx {
        password: password.to_string(),
        certificate: certificate_b64.to_owned(),
    });
    drop(password);
    let mut job = Some(job);
    while let Some((_, message)) = rx.next().await {
        match message {
            FromWorker::Ready => {
                if let Some(job) = job.take() {
                    pool.post(0, &job, Some(file))?;
                }
            }
            FromWorker::PfxChecked { refusal } => return Ok(refusal.map_or(Ok(()), Err)),
            FromWorker::Failed { message } => return Err(KeygenError::Worker(message)),
            _ => {}
        }
    }
    Err(KeygenError::Worker(
        "the worker stopped unexpectedly".into(),
    ))
}

/// Running workers and the closures that receive their messages. Dropping it terminates them.
struct Pool {
    workers: Vec<Option<Worker>>,
    /// Kept until the pool ends: the workers were started from it.
    _code: Rc<ForgeCode>,
    _handlers: Vec<Closure<dyn FnMut(MessageEvent)>>,
    _error_handlers: Vec<Closure<dyn FnMut(web_sys::ErrorEvent)>>,
}

impl Pool {
    fn start(
        code: Rc<ForgeCode>,
        count: usize,
        tx: mpsc::UnboundedSender<(usize, FromWorker)>,
    ) -> Result<Self, KeygenError> {
        let options = WorkerOptions::new();
        options.set_type(WorkerType::Module);
        let mut pool = Pool {
            workers: Vec::new(),
            _code: code.clone(),
            _handlers: Vec::new(),
            _error_handlers: Vec::new(),
        };
        for index in 0..count {
            let worker = Worker::new_with_options(&code.script_url, &options).map_err(|_| {
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
            worker.post_message(&code.module).map_err(|_| {
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
        self.post(index, message, None)
    }

    /// Sends `message`, with `file` beside it if given (`[json, file]`): a `Blob` is
    /// structured-cloned to the worker, which reads the file itself.
    fn post(
        &self,
        index: usize,
        message: &ToWorker,
        file: Option<&web_sys::Blob>,
    ) -> Result<(), KeygenError> {
        let worker = self
            .workers
            .get(index)
            .and_then(Option::as_ref)
            .ok_or(KeygenError::Worker("worker gone".into()))?;
        // The JSON may carry a password (a PFX check): wiped once posted.
        let text = zeroize::Zeroizing::new(
            serde_json::to_string(message).map_err(|e| KeygenError::Worker(e.to_string()))?,
        );
        let text = JsValue::from_str(&text);
        let data = match file {
            Some(file) => js_sys::Array::of2(&text, file).into(),
            None => text,
        };
        worker
            .post_message(&data)
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
