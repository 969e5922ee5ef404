//! A deeper sieve in front of the primality test of the prime search: the candidates that
//! `crypto-primes`' own sieve lets through, less those with a prime factor up to
//! [`DEEP_SIEVE_BOUND`].
//!
//! Why: Miller–Rabin on candidates that turn out composite is most of a prime search's time
//! (`tests/bench-rsa/tests/profile.rs`). `crypto-primes` sieves the candidates by its 2047 odd
//! primes up to 17 863, which leaves 11.5% of odd numbers (Mertens' third theorem: the odd
//! numbers free of odd prime factors up to B are about 2·e^−γ / ln B of them). Extending the bound
//! to 2^20 leaves 8.1%, so 29% fewer candidates reach Miller–Rabin; the price is one remainder of
//! the random start by each of the 79 977 extra primes, once per search.
//!
//! What it changes and what it does not: it only ever drops candidates that have a factor among
//! the extra primes, that is composites (every candidate is far larger than the bound), so the
//! search walks the same candidates from the same random start and returns the same prime,
//! tested by the same `is_prime`; the random start is drawn exactly as
//! `crypto_primes::hazmat::SmallFactorsSieveFactory` draws it. This module does no arithmetic on
//! the prime itself: it decides which candidates are not worth testing. Like the crate's sieve it
//! takes time that depends on the candidates; what it keeps about the start (its remainders,
//! which together determine it) is wiped when the search ends.

use std::num::NonZeroU32;
use std::sync::OnceLock;

use crypto_bigint::{RandomBits, Unsigned, Word};
use crypto_primes::Error;
use crypto_primes::hazmat::{SetBits, SieveFactory, SmallFactorsSieve, random_odd_integer};
use rand_core::CryptoRng;
use zeroize::Zeroize;

/// The largest prime factor the deep sieve looks for. Chosen with `tests/bench-rsa/tests/sieve.rs`
/// in Chromium: each doubling of the bound removes a smaller share of the Miller–Rabin tests
/// (2^18: −21%, 2^20: −29%, 2^22: −36% of what the crate's sieve leaves) while the remainders
/// cost grows with the number of primes (about 12 ms per search for 1024-bit candidates at 2^20,
/// where one Miller–Rabin test costs about 4). 2^20 is near the best for 1024-bit primes
/// (RSA 2048); for 2048-bit primes a larger bound would save about 3% more, too little to tell
/// from noise on the machines measured.
pub const DEEP_SIEVE_BOUND: u32 = 1 << 20;

/// The last of `crypto-primes`' own sieving primes (`hazmat::precomputed::SMALL_PRIMES`, not
/// public): the deep sieve starts above it. Were it wrong, some primes would be sieved twice or
/// not at all; no prime candidate would be dropped either way.
const CRATE_LAST_SMALL_PRIME: u32 = 17_863;

/// How many odd candidates one window of the sieve covers (one bit each). A search walks
/// about ln(2^bits)/2 odd candidates from its start (355 for 1024-bit primes, 710 for 2048), so
/// one window is nearly always enough; further windows are made as needed.
const WINDOW: u64 = 1 << 13;

/// The odd primes in (17 863, `bound`], by the sieve of Eratosthenes.
pub fn extra_primes(bound: u32) -> Vec<u32> {
    let bound = bound as usize;
    // composite[i] is for the odd number 2i + 1.
    let mut composite = vec![false; bound / 2 + 1];
    let mut i = 1;
    while (2 * i + 1) * (2 * i + 1) <= bound {
        if !composite[i] {
            let p = 2 * i + 1;
            let mut m = p * p;
            while m <= bound {
                composite[m / 2] = true;
                m += 2 * p;
            }
        }
        i += 1;
    }
    (1..composite.len())
        .filter(|&i| !composite[i] && 2 * i < bound)
        .map(|i| (2 * i + 1) as u32)
        .filter(|&p| p > CRATE_LAST_SMALL_PRIME)
        .collect()
}

/// The extra primes up to [`DEEP_SIEVE_BOUND`], made once per worker (80 thousand primes,
/// 320 KB; 7–30 ms in Chromium, 6–10 ms natively, in `tests/bench-rsa/tests/sieve.rs`).
pub fn default_primes() -> &'static [u32] {
    static PRIMES: OnceLock<Vec<u32>> = OnceLock::new();
    PRIMES.get_or_init(|| extra_primes(DEEP_SIEVE_BOUND))
}

/// A limb as a `u64`.
#[allow(
    clippy::useless_conversion,
    reason = "a limb is a u64 natively but a u32 in WebAssembly (.cargo/config.toml)"
)]
fn widen(w: Word) -> u64 {
    u64::from(w)
}

/// `n mod p` for each of `primes`, from `n`'s limbs (little-endian words), 32 bits at a time
/// (so each step's dividend, r·2^32 + chunk with r < p, fits a `u64`).
///
/// This is most of the deep sieve's cost. A division-free variant (quotients estimated in
/// double precision, four chunks folded per reduction) was measured in Chromium at 0.92x of
/// this time for 1024-bit numbers and 0.66x for 2048-bit ones, about 1% of a search: not worth
/// its proof.
pub fn remainders(words: &[Word], primes: &[u32]) -> Vec<u32> {
    // 32-bit chunks of n, most significant first.
    let mut chunks = Vec::with_capacity(words.len() * 2);
    for &w in words.iter().rev() {
        let w = widen(w);
        if Word::BITS == 64 {
            chunks.push(w >> 32);
        }
        chunks.push(w & 0xffff_ffff);
    }
    primes
        .iter()
        .map(|&p| {
            let p = u64::from(p);
            // The remainder is below p, a u32.
            chunks.iter().fold(0, |r, &c| ((r << 32) | c) % p) as u32
        })
        .collect()
}

/// Makes [`DeepSieve`]s: random odd starts with `set_bits` of `bits` bits, as
/// `SmallFactorsSieveFactory` with `Flavor::Any` makes them.
pub struct DeepSieveFactory<'a, T> {
    bits: NonZeroU32,
    set_bits: SetBits,
    primes: &'a [u32],
    _t: std::marker::PhantomData<T>,
}

impl<'a, T> DeepSieveFactory<'a, T>
where
    T: Unsigned + RandomBits,
{
    /// A factory sieving by `crypto-primes`' small primes and by `primes` (odd primes, each
    /// smaller than every candidate: the sieve cannot tell a prime from its multiples).
    pub fn new(bits: u32, set_bits: SetBits, primes: &'a [u32]) -> Result<Self, Error> {
        let bits = NonZeroU32::new(bits).ok_or(Error::BitLengthTooSmall {
            bit_length: bits,
            flavor: crypto_primes::Flavor::Any,
        })?;
        Ok(Self {
            bits,
            set_bits,
            primes,
            _t: std::marker::PhantomData,
        })
    }
}

impl<'a, T> SieveFactory for DeepSieveFactory<'a, T>
where
    T: Unsigned + RandomBits,
{
    type Item = T;
    type Sieve = DeepSieve<'a, T>;

    fn make_sieve<R>(
        &mut self,
        rng: &mut R,
        _previous: Option<&Self::Sieve>,
    ) -> Result<Option<Self::Sieve>, Error>
    where
        R: CryptoRng + ?Sized,
    {
        // The same two calls as `SmallFactorsSieveFactory::make_sieve`, so the same random start.
        let start = random_odd_integer::<T, _>(rng, self.bits, self.set_bits)?.get();
        Ok(Some(DeepSieve::new(start, self.bits, self.primes)?))
    }
}

/// `crypto-primes`' `SmallFactorsSieve`, less the candidates divisible by one of `primes`.
pub struct DeepSieve<'a, T: Unsigned> {
    inner: SmallFactorsSieve<T>,
    start: T,
    primes: &'a [u32],
    /// For each prime p, the index k (candidate = start + 2k) of its first multiple, mod p.
    first: Vec<u32>,
    /// Which window `composite` is for (`u64::MAX`: none yet).
    window: u64,
    /// Bit i: start + 2(window·WINDOW + i) has a factor among `primes`.
    composite: Vec<u64>,
}

impl<'a, T: Unsigned> DeepSieve<'a, T> {
    /// The odd numbers from `start` (odd) up to `bits` bits, less the multiples of
    /// `crypto-primes`' small primes (its `SmallFactorsSieve::new(start, bits, false)`) and of
    /// `primes`.
    pub fn new(mut start: T, bits: NonZeroU32, primes: &'a [u32]) -> Result<Self, Error> {
        // The crate's sieve makes an even start odd too; the offsets below count from an odd one.
        start.set_bit_vartime(0, true);
        let inner = SmallFactorsSieve::new(start.clone(), bits, false)?;
        // Candidates are start + 2k with k ≥ 0 and start odd. A prime as large as the start
        // would be dropped as its own multiple, so such primes (tiny starts: tests) are left out.
        let start_words = start.as_uint_ref().as_words();
        let usable = if start.bits_vartime() > 32 {
            primes
        } else {
            let low = widen(start_words[0]);
            &primes[..primes.partition_point(|&p| u64::from(p) < low)]
        };
        let first = usable
            .iter()
            .zip(remainders(start_words, usable))
            .map(|(&p, r)| {
                // start + 2k ≡ 0 (mod p)  ⇔  2k ≡ p − r (mod p): k is half of p − r or of
                // 2p − r, whichever is even (p is odd), and 0 when r is.
                match r {
                    0 => 0,
                    r if (p - r) % 2 == 0 => (p - r) / 2,
                    r => (2 * p - r) / 2,
                }
            })
            .collect();
        Ok(Self {
            inner,
            start,
            primes: usable,
            first,
            window: u64::MAX,
            composite: vec![0; (WINDOW / 64) as usize],
        })
    }

    /// Marks the multiples of the primes among the candidates of window `w`.
    fn fill(&mut self, w: u64) {
        self.composite.fill(0);
        let lo = w * WINDOW;
        for (&p, &first) in self.primes.iter().zip(&self.first) {
            let p = u64::from(p);
            // The first k ≥ lo with k ≡ first (mod p), as an offset into the window.
            let mut i = u64::from(first) + p - lo % p;
            if i >= p {
                i -= p;
            }
            while i < WINDOW {
                self.composite[(i / 64) as usize] |= 1 << (i % 64);
                i += p;
            }
        }
        self.window = w;
    }

    /// Whether `candidate` has a factor among the primes. `None` when it is too far from the
    /// start to say (more than 2^64 on: no search goes that far).
    fn has_factor(&mut self, candidate: &T) -> Option<bool> {
        let diff = candidate.wrapping_sub(&self.start);
        if diff.bits_vartime() > 64 {
            return None;
        }
        let words = diff.as_uint_ref().as_words();
        let mut d = 0u64;
        for &w in words.iter().take(64 / Word::BITS as usize).rev() {
            d = d.checked_shl(Word::BITS).unwrap_or(0) | widen(w);
        }
        let k = d / 2;
        let w = k / WINDOW;
        if w != self.window {
            self.fill(w);
        }
        let i = k % WINDOW;
        Some(self.composite[(i / 64) as usize] >> (i % 64) & 1 == 1)
    }
}

impl<T: Unsigned> Drop for DeepSieve<'_, T> {
    fn drop(&mut self) {
        self.first.zeroize();
        self.composite.zeroize();
    }
}

impl<T: Unsigned> Iterator for DeepSieve<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        loop {
            let candidate = self.inner.next()?;
            if self.has_factor(&candidate) != Some(true) {
                return Some(candidate);
            }
        }
    }
}
