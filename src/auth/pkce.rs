//! PKCE (RFC 7636) with S256, as the identity platform requires for single-page apps: a random
//! verifier stays in the browser, its SHA-256 (the challenge) goes out with the authorize request.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use rand_core::CryptoRng;

/// The verifier: 32 random bytes, base64url (43 characters, as MSAL.js makes it). One use only:
/// it is not `Clone`, and `Debug` hides it.
#[derive(Serialize, Deserialize, PartialEq, Eq)]
pub struct PkceVerifier(String);

impl PkceVerifier {
    /// The verifier, for the token request.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PkceVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PkceVerifier([redacted])")
    }
}

/// `BASE64URL(SHA256(ASCII(verifier)))`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkceChallenge(String);

impl PkceChallenge {
    /// The challenge as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The challenge of a verifier.
    pub fn of(verifier: &PkceVerifier) -> Self {
        Self(URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.0.as_bytes())))
    }
}

/// A fresh (challenge, verifier) pair: made together so they cannot be mixed up.
pub fn pkce_pair(rng: &mut impl CryptoRng) -> (PkceChallenge, PkceVerifier) {
    let mut bytes = [0u8; 32];
    rng.fill_bytes(&mut bytes);
    let verifier = PkceVerifier(URL_SAFE_NO_PAD.encode(bytes));
    (PkceChallenge::of(&verifier), verifier)
}

#[cfg(test)]
pub(crate) fn verifier_for_tests(value: &str) -> PkceVerifier {
    PkceVerifier(value.to_owned())
}
