//! Single-threaded RSA key generation, `rsa` 0.9 against the 0.10 line, in the same run: in
//! WebAssembly under headless Chromium (`cargo xtask bench`) and natively (`cargo test
//! --release -p bench-rsa -- --ignored --nocapture`). It prints figures and asserts nothing.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::{wasm_bindgen_test as test, wasm_bindgen_test_configure};
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test_configure!(run_in_browser);

#[macro_use]
mod shared;
use shared::{now_ms, yield_to_browser};

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let m = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[m]
    } else {
        (xs[m - 1] + xs[m]) / 2.0
    }
}

async fn time(n: usize, mut f: impl FnMut()) -> Vec<f64> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = now_ms();
        f();
        times.push(now_ms() - t);
        // Let the test runner talk to the page between runs: ChromeDriver gives up on a
        // renderer that stays busy for 30 s.
        yield_to_browser().await;
    }
    times
}

#[cfg(target_arch = "wasm32")]
#[test]
async fn rsa_09_vs_010_key_generation() {
    compare().await;
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
#[ignore = "a benchmark: run with --ignored"]
fn rsa_09_vs_010_key_generation() {
    shared::block_on(compare());
}

/// The same six keys every run (seeded), so two builds can be compared on identical work: this
/// is how the release profile's opt-level 3 for the crypto crates was chosen over opt-level z.
async fn seeded_rsa_010(bits: usize) -> f64 {
    use rand_core::SeedableRng;
    let mut total = 0.0;
    for seed in 1..=6u8 {
        let mut rng = rand_chacha::ChaCha20Rng::from_seed([seed; 32]);
        let t = now_ms();
        rsa010::RsaPrivateKey::new(&mut rng, bits).expect("seeded key");
        total += now_ms() - t;
        yield_to_browser().await;
    }
    total
}

async fn compare() {
    let seeded = seeded_rsa_010(2048).await;
    say!(
        "rsa 0.10, six seeded RSA 2048 keys (identical work in every build): {seeded:.0} ms in all"
    );
    for (bits, n) in [(2048usize, 8usize), (4096, 6)] {
        let old = time(n, || {
            let mut rng = rsa09::rand_core::OsRng;
            rsa09::RsaPrivateKey::new(&mut rng, bits).expect("rsa 0.9 key");
        })
        .await;
        let new = time(n, || {
            let mut rng = getrandom::rand_core::UnwrapErr(getrandom::SysRng);
            rsa010::RsaPrivateKey::new(&mut rng, bits).expect("rsa 0.10 key");
        })
        .await;
        let (mo, mn) = (median(old.clone()), median(new.clone()));
        say!(
            "RSA {bits} single-threaded: rsa 0.9 median {mo:.0} ms (min {:.0}, max {:.0}); rsa 0.10 median {mn:.0} ms (min {:.0}, max {:.0}); 0.9/0.10 = {:.1}x (n={n})",
            old.iter().cloned().fold(f64::MAX, f64::min),
            old.iter().cloned().fold(0.0, f64::max),
            new.iter().cloned().fold(f64::MAX, f64::min),
            new.iter().cloned().fold(0.0, f64::max),
            mo / mn
        );
    }
}
