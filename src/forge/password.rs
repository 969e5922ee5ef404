//! The PFX password: whatever the admin types (any Unicode, never empty), or a generated one.

use std::fmt;

use zeroize::Zeroizing;

use super::{Error, Rng};

/// Characters of generated passwords: no look-alikes (0/O/o, 1/l/I/i) and nothing a shell or
/// PowerShell string treats specially, so the password survives being read aloud or pasted.
const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789";
/// Four groups of six: 24 characters of log2(55) ≈ 5.78 bits each, about 138 bits in all.
const GROUPS: usize = 4;
const GROUP_LEN: usize = 6;

/// A password. Wiped from memory on drop; `Debug` never shows it.
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Takes a typed password as is (no trimming, no normalisation: the admin will type it again
    /// elsewhere exactly as typed here). Empty passwords are refused.
    pub fn new(typed: impl Into<String>) -> Result<Self, Error> {
        let typed = Zeroizing::new(typed.into());
        if typed.is_empty() {
            return Err(Error::EmptyPassword);
        }
        Ok(Self(typed))
    }

    /// A fresh random password like `Kq7m2x-Rtw9bP-...`, uniformly drawn (rejection sampling).
    pub fn generate(rng: &mut impl Rng) -> Self {
        let mut out = Zeroizing::new(String::with_capacity(GROUPS * (GROUP_LEN + 1)));
        let limit = 256 - 256 % ALPHABET.len();
        let mut byte = [0u8; 1];
        for group in 0..GROUPS {
            if group > 0 {
                out.push('-');
            }
            let mut taken = 0;
            while taken < GROUP_LEN {
                rng.fill_bytes(&mut byte);
                if usize::from(byte[0]) < limit {
                    out.push(char::from(ALPHABET[usize::from(byte[0]) % ALPHABET.len()]));
                    taken += 1;
                }
            }
        }
        Self(out)
    }

    /// Bits of entropy of a generated password.
    pub fn generated_entropy_bits() -> f64 {
        (GROUPS * GROUP_LEN) as f64 * (ALPHABET.len() as f64).log2()
    }

    /// The password itself, for the KDFs and for showing it once to the admin.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// UTF-16 big-endian with a two-byte terminator: the BMPString form PKCS#12's own KDF
    /// (RFC 7292 Appendix B.1) takes. Characters beyond the BMP become surrogate pairs, as
    /// OpenSSL and Windows encode them.
    pub(crate) fn pkcs12_bmp(&self) -> Zeroizing<Vec<u8>> {
        let mut bytes = Zeroizing::new(Vec::with_capacity(self.0.len() * 2 + 2));
        for unit in self.0.encode_utf16() {
            bytes.extend_from_slice(&unit.to_be_bytes());
        }
        bytes.extend_from_slice(&[0, 0]);
        bytes
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}
