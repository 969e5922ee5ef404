//! Where one prime search of the page's key generation spends its time, and what the assembly
//! of a key from two primes costs: the same seeded searches every run, so two builds (opt-level,
//! target features, wasm-opt) are compared on identical work. It prints figures and asserts
//! nothing (beyond the decomposed search finding the same prime as the page's call).
//!
//! WebAssembly in headless Chromium:
//!   CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_TIMEOUT=900 \
//!     cargo test --release --target wasm32-unknown-unknown -p bench-rsa --test profile
//! Natively:
//!   cargo test --release -p bench-rsa --test profile -- --ignored --nocapture
//!
//! One search is taken apart exactly as `src/forge/key.rs` `find_prime_reporting` runs it
//! (`SmallFactorsSieveFactory` with `SetBits::TwoMsb`, then `is_prime(Flavor::Any, …)` =
//! Miller–Rabin base 2 + strong Lucas on each survivor), with the crate's own hazmat pieces:
//!   start    random odd start + `SmallFactorsSieve::new` (once per sieve; one sieve spans 2^32,
//!            so once per prime in practice)
//!   sieve    time inside the sieve's `next()` (residues of 2048 small primes, then stepping)
//!   mr-setup `MillerRabin::new` on survivors that turn out composite (Montgomery parameters)
//!   mr       `test_base_two` on those composites (one modular exponentiation each)
//!   prime    the full test on the prime found: setup + Miller–Rabin + Lucas
//! The same search with fixed-size `Uint<LIMBS>` (stack integers) instead of `BoxedUint` is
//! timed alongside: crypto-primes is generic over the integer type.
//! (Since then the page also drops candidates with a prime factor up to 2^20 before Miller–Rabin,
//! `src/forge/sieve.rs`; this profile keeps the crate's sieve alone, and `tests/sieve.rs` measures
//! the difference on the same seeds.)

use std::num::NonZeroU32;

use crypto_bigint::{BoxedUint, Odd, RandomBits, RandomMod, U1024, U2048, UnsignedWithMontyForm};
use crypto_primes::hazmat::{
    AStarBase, LucasCheck, MillerRabin, SetBits, SmallFactorsSieve, SmallFactorsSieveFactory,
    lucas_test, random_odd_integer,
};
use crypto_primes::{Flavor, is_prime, sieve_and_find};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use rsa010::traits::PublicKeyParts;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::{wasm_bindgen_test as test, wasm_bindgen_test_configure};
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test_configure!(run_in_browser);

#[macro_use]
mod shared;
use shared::{now_ms, yield_to_browser};

#[cfg(target_arch = "wasm32")]
#[test]
async fn prime_search_profile() {
    profile().await;
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
#[ignore = "a benchmark: run with --ignored"]
fn prime_search_profile() {
    shared::block_on(profile());
}

/// Times of one or more searches, in ms, and what they went through.
#[derive(Default, Clone, Copy)]
struct Parts {
    primes: u64,
    odd_candidates: u64,
    survivors: u64,
    lucas_rejects: u64,
    start: f64,
    sieve: f64,
    mr_setup: f64,
    mr: f64,
    prime_setup: f64,
    prime_mr: f64,
    prime_lucas: f64,
    total: f64,
}

impl Parts {
    fn add(&mut self, o: &Parts) {
        self.primes += o.primes;
        self.odd_candidates += o.odd_candidates;
        self.survivors += o.survivors;
        self.lucas_rejects += o.lucas_rejects;
        self.start += o.start;
        self.sieve += o.sieve;
        self.mr_setup += o.mr_setup;
        self.mr += o.mr;
        self.prime_setup += o.prime_setup;
        self.prime_mr += o.prime_mr;
        self.prime_lucas += o.prime_lucas;
        self.total += o.total;
    }
}

/// `find_prime_reporting`'s search, taken apart: the same random start, the same sieve, the same
/// tests in the same order, so it finds the same prime from the same seed.
fn decomposed<T>(rng: &mut ChaCha20Rng, bits: u32) -> (T, Parts)
where
    T: UnsignedWithMontyForm + RandomBits + RandomMod,
{
    let nz = NonZeroU32::new(bits).expect("bits");
    let mut p = Parts {
        primes: 1,
        ..Parts::default()
    };
    let t_all = now_ms();
    loop {
        let t = now_ms();
        let start = random_odd_integer::<T, _>(rng, nz, SetBits::TwoMsb)
            .expect("start")
            .get();
        let mut sieve = SmallFactorsSieve::new(start.clone(), nz, false).expect("sieve");
        p.start += now_ms() - t;
        loop {
            let t = now_ms();
            let Some(candidate) = sieve.next() else {
                break;
            };
            let t0 = now_ms();
            p.sieve += t0 - t;
            p.survivors += 1;
            let odd = Odd::new(candidate.clone()).into_option().expect("odd");
            let mr = MillerRabin::new(odd.clone());
            let t1 = now_ms();
            let composite = mr.test_base_two().is_composite();
            let t2 = now_ms();
            if composite {
                p.mr_setup += t1 - t0;
                p.mr += t2 - t1;
                continue;
            }
            let lucas = lucas_test(odd, AStarBase, LucasCheck::Bpsw21);
            let t3 = now_ms();
            p.prime_setup += t1 - t0;
            p.prime_mr += t2 - t1;
            p.prime_lucas += t3 - t2;
            if lucas.is_composite() {
                p.lucas_rejects += 1;
                continue;
            }
            let steps = candidate.wrapping_sub(&start);
            p.odd_candidates += steps.as_uint_ref().as_words()[0] as u64 / 2 + 1;
            p.total = now_ms() - t_all;
            return (candidate, p);
        }
        // A sieve spans 2^32 numbers; it running dry is practically impossible.
        p.odd_candidates += 1 << 31;
    }
}

/// Exactly the page's call (`find_prime_reporting`): the factory, a counting closure that would
/// report every 16 candidates, and `is_prime`.
fn as_the_page<T>(rng: &mut ChaCha20Rng, bits: u32, report: bool) -> T
where
    T: UnsignedWithMontyForm + RandomBits + RandomMod,
{
    let factory =
        SmallFactorsSieveFactory::<T>::new(Flavor::Any, bits, SetBits::TwoMsb).expect("factory");
    if !report {
        return sieve_and_find(rng, factory, |_, c| is_prime(Flavor::Any, c))
            .expect("search")
            .expect("prime");
    }
    let tested = std::cell::Cell::new(0u64);
    let reports = std::cell::Cell::new(0u64);
    let found = sieve_and_find(rng, factory, |_, c| {
        let n = tested.get() + 1;
        tested.set(n);
        if n.is_multiple_of(16) {
            reports.set(std::hint::black_box(reports.get() + 1));
        }
        is_prime(Flavor::Any, c)
    })
    .expect("search")
    .expect("prime");
    std::hint::black_box(reports.get());
    found
}

fn be_bytes<T: UnsignedWithMontyForm>(x: &T) -> Vec<u8> {
    // Limbs are little-endian words; write them out big-endian.
    let mut out = Vec::new();
    for w in x.as_uint_ref().as_words().iter().rev() {
        out.extend_from_slice(&w.to_be_bytes());
    }
    out
}

fn line(label: &str, bits: u32, p: &Parts) {
    let n = p.primes as f64;
    let composites = (p.survivors - p.primes - p.lucas_rejects) as f64;
    let parts = p.start + p.sieve + p.mr_setup + p.mr + p.prime_setup + p.prime_mr + p.prime_lucas;
    let pct = |x: f64| 100.0 * x / p.total;
    say!(
        "{label} {bits}-bit primes (n={}): per prime {:.1} ms | odd candidates {:.0}, survive sieve {:.1} ({:.1}%) | start {:.2} ms ({:.1}%), sieve {:.2} ms ({:.1}%), MR setup on composites {:.2} ms ({:.1}%), MR on composites {:.1} ms ({:.1}%), full test of the prime {:.1} ms ({:.1}%: setup {:.2} + MR {:.2} + Lucas {:.2}) | one MR on a composite {:.3} ms (+{:.3} setup), Lucas {:.2} ms | unaccounted {:.1}%",
        p.primes,
        p.total / n,
        p.odd_candidates as f64 / n,
        p.survivors as f64 / n,
        100.0 * p.survivors as f64 / p.odd_candidates as f64,
        p.start / n,
        pct(p.start),
        p.sieve / n,
        pct(p.sieve),
        p.mr_setup / n,
        pct(p.mr_setup),
        p.mr / n,
        pct(p.mr),
        (p.prime_setup + p.prime_mr + p.prime_lucas) / n,
        pct(p.prime_setup + p.prime_mr + p.prime_lucas),
        p.prime_setup / n,
        p.prime_mr / n,
        p.prime_lucas / n,
        p.mr / composites,
        p.mr_setup / composites,
        p.prime_lucas / n,
        100.0 - pct(parts),
    );
}

async fn profile_size<Fixed>(bits: u32, seeds: u8) -> Vec<Vec<u8>>
where
    Fixed: UnsignedWithMontyForm + RandomBits + RandomMod,
{
    let (mut boxed, mut fixed) = (Parts::default(), Parts::default());
    let (mut page, mut plain, mut page_fixed) = (0.0, 0.0, 0.0);
    let mut primes = Vec::new();
    for seed in 1..=seeds {
        let rng = || ChaCha20Rng::from_seed([seed; 32]);
        let (p, parts) = decomposed::<BoxedUint>(&mut rng(), bits);
        boxed.add(&parts);
        yield_to_browser().await;

        let t = now_ms();
        let q = as_the_page::<BoxedUint>(&mut rng(), bits, true);
        let page_ms = now_ms() - t;
        page += page_ms;
        yield_to_browser().await;
        let t = now_ms();
        let r = as_the_page::<BoxedUint>(&mut rng(), bits, false);
        plain += now_ms() - t;
        yield_to_browser().await;

        let (f, fixed_parts) = decomposed::<Fixed>(&mut rng(), bits);
        fixed.add(&fixed_parts);
        yield_to_browser().await;
        let t = now_ms();
        let g = as_the_page::<Fixed>(&mut rng(), bits, true);
        page_fixed += now_ms() - t;
        yield_to_browser().await;
        // The first search of a run also shows the engine's tier-up (compare with the page's
        // call, the same work a moment later).
        say!(
            "  seed {seed}: {} odd candidates, {} survivors; decomposed {:.1} ms, page's call {:.1} ms, Uint {:.1} ms",
            parts.odd_candidates,
            parts.survivors,
            parts.total,
            page_ms,
            fixed_parts.total
        );

        let bytes = be_bytes(&p);
        let same = p == q && q == r && be_bytes(&f) == bytes && be_bytes(&g) == bytes;
        if !same {
            say!("seed {seed}: the variants found different primes (not identical work)");
        }
        primes.push(bytes);
    }
    let n = f64::from(seeds);
    line("BoxedUint (as the page)", bits, &boxed);
    line("Uint<LIMBS> (fixed size)", bits, &fixed);
    say!(
        "{bits}-bit primes, whole search per prime: page's call (BoxedUint, counting closure) {:.1} ms; without the closure {:.1} ms; page's call with Uint<LIMBS> {:.1} ms (= {:.2}x faster); decomposed BoxedUint {:.1} ms, Uint {:.1} ms",
        page / n,
        plain / n,
        page_fixed / n,
        page / page_fixed,
        boxed.total / n,
        fixed.total / n,
    );
    primes
}

/// `assemble_key`'s steps, on the primes found above, paired (seed 1 with 2, 3 with 4, …).
async fn profile_assemble(bits: u32, primes: &[Vec<u8>]) {
    let (mut read, mut recheck, mut recheck_mr, mut from_p_q, mut validate, mut keys) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0u32);
    for pair in primes.chunks_exact(2) {
        let t = now_ms();
        let p = BoxedUint::from_be_slice(&pair[0], bits).expect("p");
        let q = BoxedUint::from_be_slice(&pair[1], bits).expect("q");
        let t1 = now_ms();
        let ok = p.bits() == bits && q.bits() == bits;
        let ok = ok && is_prime(Flavor::Any, &p) && is_prime(Flavor::Any, &q);
        let t2 = now_ms();
        let mr_only = [&p, &q].iter().all(|x| {
            let odd = Odd::new((*x).clone()).into_option().expect("odd");
            !MillerRabin::new(odd).test_base_two().is_composite()
        });
        let t3 = now_ms();
        let key =
            rsa010::RsaPrivateKey::from_p_q(p, q, BoxedUint::from(65_537u64)).expect("from_p_q");
        let t4 = now_ms();
        key.validate().expect("validate");
        let t5 = now_ms();
        assert!(ok && mr_only && key.n().bits() == 2 * bits);
        read += t1 - t;
        recheck += t2 - t1;
        recheck_mr += t3 - t2;
        from_p_q += t4 - t3;
        validate += t5 - t4;
        keys += 1;
        yield_to_browser().await;
    }
    let n = f64::from(keys);
    say!(
        "assemble RSA {} (n={keys}): read {:.2} ms, re-check both primes with is_prime {:.1} ms (MR base 2 only: {:.1} ms), from_p_q {:.1} ms, validate {:.1} ms; assemble_key total {:.1} ms",
        2 * bits,
        read / n,
        recheck / n,
        recheck_mr / n,
        from_p_q / n,
        validate / n,
        (read + recheck + from_p_q + validate) / n,
    );
}

async fn profile() {
    say!(
        "limb: {} bits (crypto-bigint Word); target {}",
        crypto_bigint::Limb::BITS,
        std::env::consts::ARCH
    );
    let t = now_ms();
    let primes = profile_size::<U1024>(1024, 8).await;
    profile_assemble(1024, &primes).await;
    let primes = profile_size::<U2048>(2048, 4).await;
    profile_assemble(2048, &primes).await;
    say!("profile run: {:.1} s", (now_ms() - t) / 1000.0);
}
