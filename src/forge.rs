//! The credential forge: the RSA key, the self-signed certificate and the PKCS#12 (PFX) file the
//! admin's script will authenticate with, made where the admin can see it — in this browser.
//!
//! Pure Rust with no browser types: the same code runs natively (tests, the `forge` example) and
//! in a Web Worker. Time and randomness come in as parameters, because `SystemTime::now()` panics
//! on `wasm32-unknown-unknown` and because tests want both fixed.
//!
//! What it makes, and why (keyCredential: https://learn.microsoft.com/graph/api/resources/keycredential; the certificate Exchange accepts: https://learn.microsoft.com/powershell/exchange/app-only-auth-powershell-v2):
//! - RSA 2048 (default), 3072 or 4096, e = 65537: Entra refuses keys under 2048 bits (AADSTS700027).
//! - A self-signed X.509 v3 certificate, sha256WithRSAEncryption, for client authentication.
//! - The PFX in two flavours ([`Flavour`]), with the Microsoft CSP-name attribute on the key so
//!   Windows imports the key into a legacy CSP: Exchange rejects CNG keys.
//! - The certificate alone (DER `.cer`, PEM) and the key as encrypted PKCS#8 PEM for other tools.
//! - The Graph `keyCredential` carrying only the public certificate.

mod cert;
pub mod job;
mod key;
mod keycredential;
mod password;
mod pfx;
pub mod pool;
mod sieve;
mod time;
mod verify;

use std::fmt;

use rsa::RsaPrivateKey;
use rsa::pkcs8::EncodePrivateKey;

pub use cert::{Certificate, MAX_VALIDITY_DAYS, Thumbprints, check_subject};
pub use key::{
    KeySize, Prime, REPORT_EVERY, assemble_key, find_prime, find_prime_reporting, generate_key,
};
pub use keycredential::KeyCredential;
pub use password::Password;
pub use pfx::Flavour;
pub use time::UnixTime;
pub use verify::{SavedPfxError, verify_saved_pfx};

/// A random source fit for keys: the OS or browser CSPRNG in the product, seeded in tests.
pub trait Rng: rand_core::CryptoRng {}
impl<T: rand_core::CryptoRng + ?Sized> Rng for T {}

/// What the admin chose.
#[derive(Debug, Clone)]
pub struct Request {
    /// Key size.
    pub key_size: KeySize,
    /// The certificate's common name (`CN=`), also its friendly name in the Windows store.
    pub subject: String,
    /// Days from notBefore to notAfter.
    pub validity_days: u32,
    /// Which PKCS#12 encryption to use.
    pub flavour: Flavour,
    /// The PFX password.
    pub password: Password,
}

/// Everything the forge makes from one key. Secret parts do not print in `Debug` and are wiped
/// from memory when dropped.
pub struct Credential {
    /// The certificate (public).
    pub certificate: Certificate,
    /// The PKCS#12 file: certificate and encrypted private key.
    pub pfx: Secret,
    /// The private key as encrypted PKCS#8 PEM (same password as the PFX).
    pub encrypted_key_pem: Secret,
    /// The flavour the PFX was made in.
    pub flavour: Flavour,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("certificate", &self.certificate)
            .field("pfx", &self.pfx)
            .field("encrypted_key_pem", &self.encrypted_key_pem)
            .field("flavour", &self.flavour)
            .finish()
    }
}

/// Bytes that must not be printed or kept: zeroized on drop, `Debug` shows only the length.
pub struct Secret(zeroize::Zeroizing<Vec<u8>>);

impl Secret {
    /// Wraps bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(zeroize::Zeroizing::new(bytes))
    }
    /// The bytes. Only for writing them where the admin asked (a download, a file).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret([redacted; {} bytes])", self.0.len())
    }
}

/// Why the forge could not make a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The password is empty.
    EmptyPassword,
    /// The common name is empty, too long, or has characters a distinguished name cannot carry.
    InvalidSubject(String),
    /// Validity outside 1 day ..= 10 years.
    InvalidValidity(u32),
    /// The key size is not one of 2048, 3072, 4096.
    UnsupportedKeySize(usize),
    /// The two primes do not make a valid key of the requested size (the search retries).
    InvalidPrimes(String),
    /// An encoding step failed (a bug, not a user error).
    Encoding(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyPassword => write!(f, "Choose a password for the PFX: it cannot be empty."),
            Self::InvalidSubject(why) => write!(f, "The certificate name is not usable: {why}."),
            Self::InvalidValidity(days) => write!(
                f,
                "A validity of {days} days is not possible: choose between 1 day and 10 years \
                 (12 months or less is recommended)."
            ),
            Self::UnsupportedKeySize(bits) => {
                write!(
                    f,
                    "RSA {bits} is not offered: choose 2048, 3072 or 4096 bits."
                )
            }
            Self::InvalidPrimes(why) => write!(f, "The key could not be assembled ({why})."),
            Self::Encoding(why) => write!(f, "Encoding the credential failed ({why})."),
        }
    }
}

impl std::error::Error for Error {}

impl From<der::Error> for Error {
    fn from(e: der::Error) -> Self {
        Self::Encoding(e.to_string())
    }
}

/// Makes certificate, PFX and PEM for `key`: everything after key generation.
/// `now` is the current time; notBefore is five minutes earlier to absorb clock skew.
pub fn forge_with_key(
    key: &RsaPrivateKey,
    request: &Request,
    now: UnixTime,
    rng: &mut impl Rng,
) -> Result<Credential, Error> {
    forge_timed(key, request, now, rng, &|| 0.0).map(|(credential, _)| credential)
}

/// Milliseconds spent in each step of [`forge_timed`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// Building and signing the certificate.
    pub certificate_ms: f64,
    /// Building the PFX and the encrypted PEM (dominated by the KDF iterations).
    pub pfx_ms: f64,
}

/// [`forge_with_key`], timing each step with `clock` (milliseconds).
pub fn forge_timed(
    key: &RsaPrivateKey,
    request: &Request,
    now: UnixTime,
    rng: &mut impl Rng,
    clock: &dyn Fn() -> f64,
) -> Result<(Credential, Timings), Error> {
    if request.password.expose().is_empty() {
        return Err(Error::EmptyPassword);
    }
    let t0 = clock();
    let certificate = cert::self_signed(key, &request.subject, now, request.validity_days, rng)?;
    let t1 = clock();
    let key_der = key
        .to_pkcs8_der()
        .map_err(|e| Error::Encoding(e.to_string()))?;
    let pfx = pfx::build(
        &certificate,
        key_der.as_bytes(),
        &request.password,
        request.flavour,
        &request.subject,
        rng,
    )?;
    let encrypted_key_pem = pfx::encrypted_pkcs8_pem(key_der.as_bytes(), &request.password, rng)?;
    let timings = Timings {
        certificate_ms: t1 - t0,
        pfx_ms: clock() - t1,
    };
    let credential = Credential {
        certificate,
        pfx: Secret::new(pfx),
        encrypted_key_pem: Secret::new(encrypted_key_pem.into_bytes()),
        flavour: request.flavour,
    };
    Ok((credential, timings))
}

/// Generates the key, then everything else: the one-call form for native use.
pub fn forge(request: &Request, now: UnixTime, rng: &mut impl Rng) -> Result<Credential, Error> {
    if request.password.expose().is_empty() {
        return Err(Error::EmptyPassword);
    }
    let key = generate_key(request.key_size, rng)?;
    forge_with_key(&key, request, now, rng)
}

#[cfg(test)]
mod tests;
