//! RSA key generation, sequential or split into two independent prime searches.
//!
//! Why `rsa` 0.10 (release candidate) and not 0.9: measured on this project's machines, 0.10
//! generates keys 3–5× faster natively (2048: median 38 ms vs 157 ms; 4096: 1.28 s vs 4.0 s) and
//! its constant-time `crypto-bigint` arithmetic removes RUSTSEC-2023-0071 (Marvin), which 0.9
//! carries with no fix. The benchmark in `tests/bench` repeats that comparison in WebAssembly.
//!
//! Why primes separately: a 4096-bit key is two 2048-bit primes, and finding each is an
//! independent random search. The page runs one search per Web Worker and assembles the key
//! from the first two primes found, with the crate's own constructor and validation
//! ([`assemble_key`]); no arithmetic here is our own.

use crypto_bigint::{
    BoxedUint, Odd, RandomBits, RandomMod, U1024, U1536, U2048, UnsignedWithMontyForm,
};
use crypto_primes::hazmat::{MillerRabin, SetBits};
use crypto_primes::{Flavor, is_prime, sieve_and_find};
use rsa::RsaPrivateKey;
use rsa::traits::PublicKeyParts;
use zeroize::Zeroizing;

use super::sieve::{DeepSieveFactory, default_primes};
use super::{Error, Rng};

/// The public exponent every mainstream tool uses.
const PUBLIC_EXPONENT: u64 = 65_537;

/// The key sizes offered. Entra requires at least 2048 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeySize {
    /// RSA 2048: what Microsoft's own tools make; fast everywhere.
    #[default]
    Rsa2048,
    /// RSA 3072: about 128-bit security.
    Rsa3072,
    /// RSA 4096.
    Rsa4096,
}

impl KeySize {
    /// All sizes, smallest first.
    pub const ALL: [KeySize; 3] = [Self::Rsa2048, Self::Rsa3072, Self::Rsa4096];

    /// Modulus size in bits.
    pub fn bits(self) -> usize {
        match self {
            Self::Rsa2048 => 2048,
            Self::Rsa3072 => 3072,
            Self::Rsa4096 => 4096,
        }
    }

    /// Size of each of the two primes.
    pub fn prime_bits(self) -> u32 {
        // Every size is a multiple of 128, so the halves are whole 64-bit limbs.
        (self.bits() / 2) as u32
    }

    /// The size for a number of bits, if it is offered.
    pub fn from_bits(bits: usize) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|s| s.bits() == bits)
            .ok_or(Error::UnsupportedKeySize(bits))
    }
}

/// One prime of a key being made, big-endian. Secret: wiped on drop, never printed.
pub struct Prime(Zeroizing<Vec<u8>>);

impl Prime {
    /// Big-endian bytes, to hand a prime from a worker to the page.
    pub fn to_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Reads a prime handed over by a worker. Its primality is re-checked by [`assemble_key`].
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }
}

impl std::fmt::Debug for Prime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prime([redacted])")
    }
}

/// Generates a key in one go with the `rsa` crate's own generator.
pub fn generate_key(size: KeySize, rng: &mut impl Rng) -> Result<RsaPrivateKey, Error> {
    RsaPrivateKey::new_with_exp(rng, size.bits(), BoxedUint::from(PUBLIC_EXPONENT))
        .map_err(|e| Error::InvalidPrimes(e.to_string()))
}

/// Finds one prime for a key of `size` as the `rsa` crate's generator does: a sieve of
/// small factors over random odd candidates with the two top bits set (so the product of two
/// such primes has the full modulus size), each candidate then tested by `crypto-primes`
/// (Miller–Rabin base 2 plus a strong Lucas test). The sieve also drops candidates with a prime
/// factor up to 2^20 (`sieve.rs`), which changes which composites are tested, not the prime.
pub fn find_prime(size: KeySize, rng: &mut impl Rng) -> Result<Prime, Error> {
    find_prime_reporting(size, rng, &mut |_| {})
}

/// [`find_prime`], calling `report` with the number of candidates tested so far every
/// [`REPORT_EVERY`] candidates, so a worker can show that it is busy.
///
/// The search runs on fixed-size integers of exactly the prime's size rather than the `rsa`
/// crate's heap-allocated `BoxedUint`: with 32-bit limbs in WebAssembly (`.cargo/config.toml`)
/// that made each Miller–Rabin test 17–23% faster in Chromium (`tests/bench-rsa/tests/profile.rs`)
/// for the same candidates, the same sieve and the same primality test.
pub fn find_prime_reporting(
    size: KeySize,
    rng: &mut impl Rng,
    report: &mut dyn FnMut(u64),
) -> Result<Prime, Error> {
    match size {
        KeySize::Rsa2048 => search::<U1024>(size, rng, report),
        KeySize::Rsa3072 => search::<U1536>(size, rng, report),
        KeySize::Rsa4096 => search::<U2048>(size, rng, report),
    }
}

fn search<T>(size: KeySize, rng: &mut impl Rng, report: &mut dyn FnMut(u64)) -> Result<Prime, Error>
where
    T: UnsignedWithMontyForm + RandomBits + RandomMod,
{
    // crypto-primes' own sieve (`SmallFactorsSieveFactory`, the same random start), then one by
    // more primes (src/forge/sieve.rs): fewer composites reach Miller–Rabin, the same prime.
    let factory = DeepSieveFactory::<T>::new(size.prime_bits(), SetBits::TwoMsb, default_primes())
        .map_err(|e| Error::InvalidPrimes(format!("sieve: {e}")))?;
    // sieve_and_find takes an `Fn` predicate, so count through a Cell and report afterwards
    // from the same closure via a RefCell'd callback.
    let tested = std::cell::Cell::new(0u64);
    let report = std::cell::RefCell::new(report);
    let prime = sieve_and_find(rng, factory, |_, candidate| {
        let n = tested.get() + 1;
        tested.set(n);
        if n.is_multiple_of(REPORT_EVERY)
            && let Ok(mut r) = report.try_borrow_mut()
        {
            r(n);
        }
        is_prime(Flavor::Any, candidate)
    })
    .map_err(|e| Error::InvalidPrimes(format!("sieve: {e}")))?
    .ok_or_else(|| Error::InvalidPrimes("the sieve ran out of candidates".into()))?;
    // Limbs are little-endian words, each written out big-endian.
    let mut bytes = Zeroizing::new(Vec::with_capacity(size.prime_bits() as usize / 8));
    for word in prime.as_uint_ref().as_words().iter().rev() {
        bytes.extend_from_slice(&word.to_be_bytes());
    }
    Ok(Prime(bytes))
}

/// How often [`find_prime_reporting`] reports (in candidates surviving the sieve).
pub const REPORT_EVERY: u64 = 16;

/// Builds the key from two primes with the crate's constructor, then validates it. Fails (and
/// the caller searches again) when the primes are equal, not prime, of the wrong size, or make a
/// modulus of the wrong size, or when e is not invertible.
///
/// The primes come from [`find_prime`], which already ran the full test (Miller–Rabin base 2 and
/// a strong Lucas test, FIPS 186-5 B.3) on exactly these bytes; the check here guards the
/// hand-over from worker to page to worker, for which one Miller–Rabin round is ample (a
/// damaged or random composite of this size passes base 2 with negligible probability, and it
/// is no adversary's choice: the page's own worker made it). The full test again cost 47 ms of
/// a 2048-bit key and 315 ms of a 4096-bit key in Chromium; this costs 10 and 65
/// (`tests/bench-rsa/tests/profile.rs`).
pub fn assemble_key(size: KeySize, p: &Prime, q: &Prime) -> Result<RsaPrivateKey, Error> {
    let read = |prime: &Prime| {
        let value = BoxedUint::from_be_slice(prime.to_bytes(), size.prime_bits())
            .map_err(|_| Error::InvalidPrimes("a prime has the wrong size".into()))?;
        let composite = Odd::new(value.clone())
            .into_option()
            .is_none_or(|odd| MillerRabin::new(odd).test_base_two().is_composite());
        if value.bits() != size.prime_bits() || composite {
            return Err(Error::InvalidPrimes(
                "a candidate is not a prime of the right size".into(),
            ));
        }
        Ok(value)
    };
    let key = RsaPrivateKey::from_p_q(read(p)?, read(q)?, BoxedUint::from(PUBLIC_EXPONENT))
        .map_err(|e| Error::InvalidPrimes(e.to_string()))?;
    key.validate()
        .map_err(|e| Error::InvalidPrimes(e.to_string()))?;
    if key.n().bits() as usize != size.bits() {
        return Err(Error::InvalidPrimes(
            "the modulus has the wrong size".into(),
        ));
    }
    Ok(key)
}
