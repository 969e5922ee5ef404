//! What the deep sieve of `src/forge/sieve.rs` buys one prime search: the same seeded searches
//! with `crypto-primes`' own sieve alone (the search before it) and with the deep sieve at
//! several bounds, on fixed-size integers as `src/forge/key.rs` runs them. Every variant walks
//! the same candidates from the same random start and must find the same prime (asserted); what
//! differs is how many composites reach Miller–Rabin and what the sieving costs. It prints
//! figures and asserts nothing about time.
//!
//! WebAssembly in headless Chromium:
//!   CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_TIMEOUT=900 \
//!     cargo test --release --target wasm32-unknown-unknown -p bench-rsa --test sieve
//! Natively:
//!   cargo test --release -p bench-rsa --test sieve -- --ignored --nocapture

use std::num::NonZeroU32;

use crypto_bigint::{Odd, RandomBits, RandomMod, U1024, U2048, UnsignedWithMontyForm};
use crypto_primes::hazmat::{
    AStarBase, LucasCheck, MillerRabin, SetBits, SmallFactorsSieve, SmallFactorsSieveFactory,
    lucas_test, random_odd_integer,
};
use crypto_primes::{Flavor, is_prime, sieve_and_find};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::{wasm_bindgen_test as test, wasm_bindgen_test_configure};
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test_configure!(run_in_browser);

#[macro_use]
mod shared;
use shared::{now_ms, yield_to_browser};

/// The page's sieve module itself, not a copy.
#[path = "../../../src/forge/sieve.rs"]
#[allow(dead_code)]
mod sieve;

#[cfg(target_arch = "wasm32")]
#[test]
async fn deep_sieve() {
    run().await;
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
#[ignore = "a benchmark: run with --ignored"]
fn deep_sieve() {
    shared::block_on(run());
}

#[derive(Default, Clone, Copy)]
struct Parts {
    searches: u64,
    survivors: u64,
    start: f64,
    sieve: f64,
    mr: f64,
    prime_test: f64,
    total: f64,
}

/// One search as `find_prime_reporting` runs it, with `primes` = None for `crypto-primes`' sieve
/// alone: the random start, the sieve, then Miller–Rabin base 2 and Lucas on each candidate.
fn search<T>(rng: &mut ChaCha20Rng, bits: u32, primes: Option<&[u32]>, p: &mut Parts) -> T
where
    T: UnsignedWithMontyForm + RandomBits + RandomMod,
{
    let nz = NonZeroU32::new(bits).expect("bits");
    let t_all = now_ms();
    p.searches += 1;
    let t = now_ms();
    let start = random_odd_integer::<T, _>(rng, nz, SetBits::TwoMsb)
        .expect("start")
        .get();
    let mut sieve: Box<dyn Iterator<Item = T>> = match primes {
        None => Box::new(SmallFactorsSieve::new(start, nz, false).expect("sieve")),
        Some(primes) => Box::new(sieve::DeepSieve::new(start, nz, primes).expect("sieve")),
    };
    p.start += now_ms() - t;
    loop {
        let t = now_ms();
        let candidate = sieve.next().expect("a sieve spans 2^32 numbers");
        let t0 = now_ms();
        p.sieve += t0 - t;
        p.survivors += 1;
        let odd = Odd::new(candidate.clone()).into_option().expect("odd");
        let composite = MillerRabin::new(odd.clone()).test_base_two().is_composite();
        let t1 = now_ms();
        if composite {
            p.mr += t1 - t0;
            continue;
        }
        let lucas = lucas_test(odd, AStarBase, LucasCheck::Bpsw21);
        p.prime_test += now_ms() - t0;
        if lucas.is_composite() {
            continue;
        }
        p.total += now_ms() - t_all;
        return candidate;
    }
}

fn words<T: UnsignedWithMontyForm>(x: &T) -> Vec<crypto_bigint::Word> {
    x.as_uint_ref().as_words().to_vec()
}

async fn size<T>(bits: u32, seeds: u8, tables: &[(u32, Vec<u32>)])
where
    T: UnsignedWithMontyForm + RandomBits + RandomMod,
{
    let mut base = Parts::default();
    let mut deep = vec![Parts::default(); tables.len()];
    let (mut page_old, mut page_new) = (0.0, 0.0);
    let default = tables
        .iter()
        .position(|(b, _)| *b == sieve::DEEP_SIEVE_BOUND)
        .expect("the default bound is measured");
    // Warming: the engine compiles the hot code in tiers; seed 0 is searched and not counted.
    let mut warm = Parts::default();
    search::<T>(&mut ChaCha20Rng::from_seed([0; 32]), bits, None, &mut warm);
    search::<T>(
        &mut ChaCha20Rng::from_seed([0; 32]),
        bits,
        Some(&tables[0].1),
        &mut warm,
    );
    yield_to_browser().await;
    for seed in 1..=seeds {
        let rng = || ChaCha20Rng::from_seed([seed; 32]);
        let found = search::<T>(&mut rng(), bits, None, &mut base);
        yield_to_browser().await;
        for ((_, primes), parts) in tables.iter().zip(deep.iter_mut()) {
            let p = search::<T>(&mut rng(), bits, Some(primes), parts);
            assert!(
                p == found,
                "seed {seed}: the deep sieve found another prime"
            );
            yield_to_browser().await;
        }
        // The page's call before and after: `sieve_and_find` with each factory and `is_prime`.
        let t = now_ms();
        let factory =
            SmallFactorsSieveFactory::<T>::new(Flavor::Any, bits, SetBits::TwoMsb).expect("f");
        let old: T = sieve_and_find(&mut rng(), factory, |_, c| is_prime(Flavor::Any, c))
            .expect("search")
            .expect("prime");
        page_old += now_ms() - t;
        yield_to_browser().await;
        let t = now_ms();
        let factory = sieve::DeepSieveFactory::<T>::new(bits, SetBits::TwoMsb, &tables[default].1)
            .expect("f");
        let new: T = sieve_and_find(&mut rng(), factory, |_, c| is_prime(Flavor::Any, c))
            .expect("search")
            .expect("prime");
        page_new += now_ms() - t;
        assert!(words(&old) == words(&found) && words(&new) == words(&found));
        yield_to_browser().await;
    }
    let n = f64::from(seeds);
    let line = |label: &str, p: &Parts| {
        say!(
            "{bits}-bit, {label}: per prime {:.1} ms ({:.2}x of the crate's sieve) | MR candidates {:.1} ({:.1}% fewer) | start+residues {:.2} ms, sieve {:.2} ms, MR on composites {:.1} ms, test of the prime {:.1} ms",
            p.total / n,
            p.total / base.total,
            p.survivors as f64 / n,
            100.0 * (1.0 - p.survivors as f64 / base.survivors as f64),
            p.start / n,
            p.sieve / n,
            p.mr / n,
            p.prime_test / n,
        );
    };
    line("crypto-primes' sieve (primes < 17 864)", &base);
    for ((bound, primes), p) in tables.iter().zip(&deep) {
        line(
            &format!(
                "deep sieve to 2^{} ({} more primes)",
                bound.ilog2(),
                primes.len()
            ),
            p,
        );
    }
    // Expected figures, from this run's unit costs: a search walks ln(2^bits)/2 odd candidates
    // on average (the mean distance to the next prime), and a fraction Π(1 − 1/p) over the odd
    // sieving primes of them survives the sieve (Mertens).
    let composites = |p: &Parts| (p.survivors - p.searches) as f64;
    let mr_each = (base.mr + deep.iter().map(|p| p.mr).sum::<f64>())
        / (composites(&base) + deep.iter().map(composites).sum::<f64>());
    let walk = f64::from(bits) * std::f64::consts::LN_2 / 2.0;
    let survive = |primes: &[u32]| -> f64 {
        let odd_primes =
            (3u32..=17_863).filter(|&n| (2..n).take_while(|d| d * d <= n).all(|d| n % d != 0));
        odd_primes
            .chain(primes.iter().copied())
            .map(|p| 1.0 - 1.0 / f64::from(p))
            .product()
    };
    let f0 = survive(&[]);
    say!(
        "{bits}-bit, expected per prime: {walk:.0} odd candidates, {:.1} reach Miller–Rabin with the crate's sieve; one MR on a composite {mr_each:.2} ms (this run)",
        walk * f0
    );
    for ((bound, primes), p) in tables.iter().zip(&deep) {
        let fewer = walk * (f0 - survive(primes));
        let residues = p.start / n;
        say!(
            "{bits}-bit, expected with the deep sieve to 2^{}: {:.1} fewer MR ({:.1}%) = {:.0} ms saved, less {:.1} ms of residues = {:.0} ms net per prime",
            bound.ilog2(),
            fewer,
            100.0 * fewer / (walk * f0),
            fewer * mr_each,
            residues,
            fewer * mr_each - residues,
        );
    }
    say!(
        "{bits}-bit, the page's call (sieve_and_find + is_prime): crate's sieve {:.1} ms, deep sieve to 2^{} {:.1} ms per prime = {:.2}x",
        page_old / n,
        sieve::DEEP_SIEVE_BOUND.ilog2(),
        page_new / n,
        page_new / page_old,
    );
}

async fn run() {
    say!(
        "limb: {} bits; target {}",
        crypto_bigint::Limb::BITS,
        std::env::consts::ARCH
    );
    let mut tables = Vec::new();
    for log in [18, 20, 22] {
        let t = now_ms();
        let primes = sieve::extra_primes(1 << log);
        say!(
            "table of primes to 2^{log}: {} primes in {:.1} ms",
            primes.len(),
            now_ms() - t
        );
        tables.push((1u32 << log, primes));
    }
    let t = now_ms();
    size::<U1024>(1024, 16, &tables).await;
    size::<U2048>(2048, 6, &tables).await;
    say!("sieve run: {:.1} s", (now_ms() - t) / 1000.0);
}
