//! The messages between the page and its forge workers, and the work each message asks for.
//!
//! The page starts one worker per core; each searches for a prime ([`ToWorker::FindPrime`]).
//! The first two primes found make the key: the page hands both to one worker
//! ([`ToWorker::Forge`]), which assembles the key with the `rsa` crate's constructor and
//! validation and builds certificate, PFX and PEM. Everything here is plain data, so it runs
//! and is tested natively; `web::worker` only moves these messages across `postMessage`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::{
    Error, Flavour, KeyCredential, KeySize, Password, Prime, Request, Rng, UnixTime, assemble_key,
    find_prime_reporting, forge_timed,
};

/// A message from the page to a worker.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ToWorker {
    /// Find one prime for a key of `bits` bits.
    FindPrime {
        /// Modulus size.
        bits: usize,
    },
    /// Assemble the key from two primes and build everything from it.
    Forge(ForgeJob),
    /// Prove a saved PFX. Its bytes are not in this message: the page posts the file the admin
    /// picked (a `Blob`) beside it, and the worker reads it, so the file's contents and the
    /// decrypted key are only ever in the worker's memory, which ends with the worker.
    CheckPfx(CheckPfx),
}

/// What a worker needs to prove a saved PFX, besides the file. Carries the password: never
/// logged, wiped when dropped.
#[derive(Serialize, Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
#[serde(rename_all = "camelCase")]
pub struct CheckPfx {
    /// The password the admin typed.
    pub password: String,
    /// The certificate about to be uploaded, DER, base64.
    pub certificate: String,
}

impl std::fmt::Debug for CheckPfx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckPfx").finish_non_exhaustive()
    }
}

/// What a worker needs to build the credential. Carries secrets: never logged.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForgeJob {
    /// Modulus size.
    pub bits: usize,
    /// First prime, base64 big-endian.
    pub p: String,
    /// Second prime.
    pub q: String,
    /// Certificate common name.
    pub subject: String,
    /// Validity in days.
    pub validity_days: u32,
    /// `compat` or `modern`.
    pub flavour: String,
    /// PFX password.
    pub password: String,
    /// `Date.now()` on the page.
    pub now_ms: f64,
}

impl std::fmt::Debug for ForgeJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForgeJob")
            .field("bits", &self.bits)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// A message from a worker to the page.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum FromWorker {
    /// The worker has loaded the WebAssembly and listens for jobs.
    Ready,
    /// Still searching: candidates tested so far by this worker.
    Progress {
        /// Candidates that survived the sieve and were tested.
        tested: u64,
    },
    /// A prime, base64 big-endian.
    Prime {
        /// The prime.
        prime: String,
        /// Milliseconds the search took.
        ms: f64,
    },
    /// The finished credential.
    Forged(Box<Forged>),
    /// The verdict on a saved PFX: `None` when it is proven, else what to tell the admin.
    PfxChecked {
        /// Why the file was refused, in words for the admin.
        refusal: Option<String>,
    },
    /// Something went wrong; the message is for the admin.
    Failed {
        /// What happened and what to do.
        message: String,
    },
}

/// Everything the page offers for download and needs later, as the worker hands it back.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Forged {
    /// The PFX, base64. Secret.
    pub pfx: String,
    /// The certificate, DER, base64 (the `.cer` file).
    pub cer: String,
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The key, encrypted PKCS#8 PEM. Secret.
    pub key_pem: String,
    /// SHA-1 thumbprint, uppercase hex.
    pub thumbprint: String,
    /// x5t.
    pub x5t: String,
    /// x5t#S256.
    pub x5t_s256: String,
    /// Serial, hex.
    pub serial: String,
    /// The certificate's subject CN.
    pub subject: String,
    /// notBefore, RFC 3339.
    pub not_before: String,
    /// notAfter, RFC 3339.
    pub not_after: String,
    /// `compat` or `modern`.
    pub flavour: String,
    /// Modulus size.
    pub bits: usize,
    /// Days of validity asked for (checked against the tenant's policy).
    pub validity_days: u32,
    /// The Graph keyCredential for the certificate.
    pub key_credential: KeyCredential,
    /// Milliseconds spent assembling and validating the key.
    pub assemble_ms: f64,
    /// Milliseconds spent building and signing the certificate.
    pub certificate_ms: f64,
    /// Milliseconds spent building PFX and PEM.
    pub pfx_ms: f64,
}

impl std::fmt::Debug for Forged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forged")
            .field("thumbprint", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

/// Runs one prime search, reporting progress through `send`.
pub fn find_prime_job(
    bits: usize,
    rng: &mut impl Rng,
    clock: &dyn Fn() -> f64,
    send: &mut dyn FnMut(FromWorker),
) {
    let started = clock();
    let reply = KeySize::from_bits(bits)
        .and_then(|size| {
            find_prime_reporting(size, rng, &mut |tested| {
                send(FromWorker::Progress { tested })
            })
        })
        .map(|prime| FromWorker::Prime {
            prime: STANDARD.encode(prime.to_bytes()),
            ms: clock() - started,
        });
    send(reply.unwrap_or_else(|e| FromWorker::Failed {
        message: e.to_string(),
    }));
}

/// Assembles the key from the two primes and builds the credential. `clock` gives
/// milliseconds (for the timings the benchmark reports).
pub fn forge_job(
    job: ForgeJob,
    rng: &mut impl Rng,
    clock: &dyn Fn() -> f64,
) -> Result<Forged, Error> {
    let size = KeySize::from_bits(job.bits)?;
    let flavour = Flavour::from_name(&job.flavour)
        .ok_or_else(|| Error::Encoding(format!("unknown flavour {}", job.flavour)))?;
    let prime = |b64: &str| {
        STANDARD
            .decode(b64)
            .map(Prime::from_bytes)
            .map_err(|_| Error::InvalidPrimes("unreadable prime".into()))
    };
    let t0 = clock();
    let key = assemble_key(size, &prime(&job.p)?, &prime(&job.q)?)?;
    let t1 = clock();
    let request = Request {
        key_size: size,
        subject: job.subject,
        validity_days: job.validity_days,
        flavour,
        password: Password::new(job.password)?,
    };
    let (credential, timings) = forge_timed(
        &key,
        &request,
        UnixTime::from_millis(job.now_ms),
        rng,
        clock,
    )?;
    let cert = &credential.certificate;
    let thumbprints = cert.thumbprints();
    Ok(Forged {
        pfx: STANDARD.encode(credential.pfx.expose()),
        cer: STANDARD.encode(cert.der()),
        cert_pem: cert.pem(),
        key_pem: String::from_utf8_lossy(credential.encrypted_key_pem.expose()).into_owned(),
        thumbprint: thumbprints.sha1_hex.clone(),
        x5t: thumbprints.x5t.clone(),
        x5t_s256: thumbprints.x5t_s256.clone(),
        serial: cert.serial_hex().to_owned(),
        subject: cert.subject().to_owned(),
        not_before: cert.not_before().rfc3339()?,
        not_after: cert.not_after().rfc3339()?,
        flavour: flavour.name().to_owned(),
        bits: size.bits(),
        validity_days: job.validity_days,
        key_credential: KeyCredential::for_certificate(cert)?,
        assemble_ms: t1 - t0,
        certificate_ms: timings.certificate_ms,
        pfx_ms: timings.pfx_ms,
    })
}

/// Proves a saved PFX (see [`super::verify_saved_pfx`]); the job, password and all, is wiped
/// when this returns.
pub fn check_pfx_job(pfx: &[u8], job: CheckPfx) -> FromWorker {
    let refusal = match STANDARD.decode(&job.certificate) {
        Ok(certificate) => super::verify_saved_pfx(pfx, &job.password, &certificate)
            .err()
            .map(|e| e.to_string()),
        Err(_) => Some("The page could not read its own certificate: reload the page.".into()),
    };
    FromWorker::PfxChecked { refusal }
}
