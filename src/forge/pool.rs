//! The bookkeeping of the worker pool, as a pure state machine: which worker searches, which
//! primes are in, who assembles the key, and which messages no longer matter.
//!
//! Workers run concurrently and `postMessage` delivers in order per worker only, so any message
//! can arrive after the page has moved on: a prime from a second worker while the first two are
//! already being assembled (the page stops that worker, but its message was already queued), a
//! `Ready` or a `Progress` from a worker just stopped, a failure report from a stopped worker
//! (terminating one can raise its `error` event). None of these may fail the generation or start
//! a second assembly. `web::keygen` only moves messages; every decision is made here, so it is
//! tested natively.

use std::fmt;

use zeroize::Zeroizing;

use super::job::{Forged, FromWorker};

/// Where the search stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Workers are searching for primes.
    Searching,
    /// Two primes are in; this worker assembles the key and builds the credential.
    Building(usize),
    /// Finished or failed: nothing more happens.
    Over,
}

/// What the page must do after a message.
pub enum Step {
    /// Ask this worker to search for (another) prime.
    Search(usize),
    /// Show progress: candidates tested by the searching workers, distinct primes found.
    Progress {
        /// Candidates tested.
        tested: u64,
        /// Primes found (0 or 1 while searching).
        primes: usize,
    },
    /// Both primes are in: stop every other worker and hand the two primes to `worker`.
    Assemble {
        /// The worker that found the second prime (it is idle now).
        worker: usize,
        /// First prime, base64.
        p: String,
        /// Second prime, base64.
        q: String,
    },
    /// The credential is made.
    Finished(Box<Forged>),
    /// Generation failed, with the reason.
    Failed(String),
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Search(worker) => write!(f, "Search({worker})"),
            Self::Progress { tested, primes } => write!(f, "Progress({tested}, {primes})"),
            // The primes are the private key: never printed.
            Self::Assemble { worker, .. } => write!(f, "Assemble({worker}, [redacted])"),
            Self::Finished(forged) => write!(f, "Finished({forged:?})"),
            Self::Failed(message) => write!(f, "Failed({message})"),
        }
    }
}

/// The pool's state between messages. Holds the first prime until the second arrives (wiped
/// when dropped or handed on); `Debug` never shows it.
pub struct PrimeSearch {
    phase: Phase,
    tested: Vec<u64>,
    primes: Vec<Zeroizing<String>>,
}

impl fmt::Debug for PrimeSearch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrimeSearch")
            .field("phase", &self.phase)
            .field("tested", &self.tested)
            .field("primes", &self.primes.len())
            .finish()
    }
}

impl PrimeSearch {
    /// A search over `workers` workers.
    pub fn new(workers: usize) -> Self {
        Self {
            phase: Phase::Searching,
            tested: vec![0; workers],
            primes: Vec::new(),
        }
    }

    /// Whether the search is over (finished or failed): every later message is ignored.
    pub fn is_over(&self) -> bool {
        self.phase == Phase::Over
    }

    /// Takes one message from worker `index` and says what to do.
    pub fn on_message(&mut self, index: usize, message: FromWorker) -> Vec<Step> {
        if index >= self.tested.len() {
            return Vec::new();
        }
        match (self.phase, message) {
            (Phase::Over, _) => Vec::new(),
            (Phase::Searching, FromWorker::Ready) => vec![Step::Search(index)],
            (Phase::Searching, FromWorker::Progress { tested }) => {
                self.tested[index] = tested;
                vec![self.progress()]
            }
            (Phase::Searching, FromWorker::Prime { prime, .. }) => {
                self.tested[index] = 0;
                // A repeated prime (astronomically unlikely) must not make a key with p = q.
                let prime = Zeroizing::new(prime);
                if !self.primes.contains(&prime) {
                    self.primes.push(prime);
                }
                if let [p, q] = self.primes.as_slice() {
                    let step = Step::Assemble {
                        worker: index,
                        p: p.to_string(),
                        q: q.to_string(),
                    };
                    self.phase = Phase::Building(index);
                    self.primes.clear();
                    vec![step]
                } else {
                    vec![self.progress(), Step::Search(index)]
                }
            }
            (Phase::Building(builder), FromWorker::Forged(forged)) if builder == index => {
                self.phase = Phase::Over;
                vec![Step::Finished(forged)]
            }
            (Phase::Searching, FromWorker::Failed { message }) => self.fail(message),
            (Phase::Building(builder), FromWorker::Failed { message }) if builder == index => {
                self.fail(message)
            }
            // While building, anything from the stopped searchers (a late third prime, Ready,
            // Progress, a failure caused by stopping it) is stale. A `Forged` while searching
            // cannot be an answer to anything asked.
            (Phase::Building(_), _)
            | (Phase::Searching, FromWorker::Forged(_) | FromWorker::PfxChecked { .. }) => {
                Vec::new()
            }
        }
    }

    /// The workers stopped without an answer (every channel closed).
    pub fn on_closed(&mut self) -> Option<Step> {
        (!self.is_over()).then(|| {
            self.phase = Phase::Over;
            Step::Failed("the workers stopped unexpectedly".into())
        })
    }

    fn fail(&mut self, message: String) -> Vec<Step> {
        self.phase = Phase::Over;
        vec![Step::Failed(message)]
    }

    fn progress(&self) -> Step {
        Step::Progress {
            tested: self.tested.iter().sum(),
            primes: self.primes.len(),
        }
    }
}
