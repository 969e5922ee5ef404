//! Tests of the forge, run natively by `cargo test` and, compiled to WebAssembly, in headless
//! Chromium by `wasm-bindgen-test` (the `test` attribute below becomes theirs there). The interop
//! tests (OpenSSL, Python, Node, MSAL, Mono) live in `tests/interop`; these check structure and
//! round trips with RustCrypto's decoders.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use std::sync::OnceLock;

use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, KeyIvInit};
use der::asn1::{BmpString, ContextSpecific, OctetString};
use der::{Decode, Encode};
use hmac::{KeyInit, Mac};
use pkcs12::kdf::{Pkcs12KeyType, derive_key};
use pkcs12::pbe_params::{EncryptedPrivateKeyInfo, Pkcs12PbeParams};
use pkcs12::{CertBag, Pfx, SafeBag};
#[cfg(not(target_arch = "wasm32"))]
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier;
use rsa::traits::PublicKeyParts;
use sha1::Sha1;
use sha2::Sha256;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier,
};

use super::*;
#[cfg(not(target_arch = "wasm32"))]
use crypto_primes::{Flavor, is_prime};

const NOW: UnixTime = UnixTime(1_795_000_000); // 2026-11-18T11:06:40Z

fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

/// One key per size for the whole test run: generation is the slow part and not under test here.
fn key(size: KeySize) -> &'static RsaPrivateKey {
    static KEYS: [OnceLock<RsaPrivateKey>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let slot = KeySize::ALL.iter().position(|s| *s == size).unwrap_or(0);
    KEYS[slot].get_or_init(|| generate_key(size, &mut rng(slot as u8)).expect("key"))
}

fn request(flavour: Flavour, password: &str) -> Request {
    Request {
        key_size: KeySize::Rsa2048,
        subject: "Contoso EXO automation".into(),
        validity_days: 365,
        flavour,
        password: Password::new(password).expect("non-empty"),
    }
}

// ---------------------------------------------------------------------------------------------
// Keys

#[test]
fn generated_keys_have_the_requested_size_and_exponent() {
    // In the browser a test runs as one synchronous task, and ChromeDriver gives up on a page
    // busy for 20 s: the larger sizes are covered there by the e2e tests and the benchmark.
    let sizes: &[KeySize] = if cfg!(target_arch = "wasm32") {
        &[KeySize::Rsa2048]
    } else {
        &KeySize::ALL
    };
    for &size in sizes {
        let k = key(size);
        assert_eq!(k.n().bits() as usize, size.bits());
        assert_eq!(k.e(), &crypto_bigint::BoxedUint::from(65_537u64));
        k.validate().expect("valid key");
    }
}

#[test]
fn key_assembled_from_two_independently_found_primes_is_valid() {
    let size = KeySize::Rsa2048;
    let p = find_prime(size, &mut rng(10)).expect("p");
    let q = find_prime(size, &mut rng(11)).expect("q");
    let k = assemble_key(size, &p, &q).expect("assembled");
    assert_eq!(k.n().bits(), 2048);
    assert!(
        matches!(assemble_key(size, &p, &p), Err(Error::InvalidPrimes(_))),
        "equal primes"
    );
    let mut not_prime = p.to_bytes().to_vec();
    *not_prime.last_mut().expect("bytes") ^= 2; // still odd, almost surely composite
    assert!(assemble_key(size, &Prime::from_bytes(not_prime), &q).is_err());
    assert!(
        assemble_key(KeySize::Rsa3072, &p, &q).is_err(),
        "primes of the wrong size"
    );
}

// ---------------------------------------------------------------------------------------------
// The deep sieve (src/forge/sieve.rs): it drops exactly the candidates with a factor among its
// primes, never a prime, and the search still finds the very prime crypto-primes' own sieve
// leads to.

/// Whether `n` (odd) has an odd factor up to `bound` (other than itself), by trial division.
fn naive_has_factor_up_to(n: u64, bound: u64) -> bool {
    (3..=bound.min(n - 1))
        .step_by(2)
        .any(|d| n.is_multiple_of(d))
}

#[test]
fn the_deep_sieves_primes_are_the_odd_primes_above_the_crates_up_to_the_bound() {
    let primes = sieve::extra_primes(1 << 16);
    let expected: Vec<u32> = (17_865..=(1u32 << 16))
        .step_by(2)
        .filter(|&n| !naive_has_factor_up_to(u64::from(n), u64::from(n).isqrt()))
        .collect();
    assert_eq!(primes, expected);
    // π(2^20) = 82 025, less 2 and the crate's 2047 odd primes.
    let all = sieve::default_primes();
    assert_eq!(all.len(), 82_025 - 1 - 2047);
    assert_eq!(all.first(), Some(&17_881));
    assert_eq!(all.last(), Some(&1_048_573));
    assert!(all.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn remainders_by_small_primes_match_crypto_bigint() {
    use crypto_bigint::{Limb, NonZero, RandomBits, U1024};
    let mut r = rng(40);
    // Every extra prime, and some smaller and larger moduli (up to the largest 32-bit prime).
    let mut primes = sieve::default_primes().to_vec();
    primes.extend([3, 5, 7, 11, 13, 17_863, 8_388_593, 8_388_617, 4_294_967_291]);
    let mut numbers = vec![U1024::ZERO, U1024::MAX, U1024::ONE];
    numbers.extend((0..4).map(|_| U1024::random_bits(&mut r, 1024)));
    for x in numbers {
        let got = sieve::remainders(x.as_words(), &primes);
        for (&p, got) in primes.iter().zip(got) {
            let nz = NonZero::new(Limb::from(p)).expect("p > 0");
            assert_eq!(crypto_bigint::Word::from(got), x.rem_limb(nz).0, "mod {p}");
        }
    }
}

/// Runs the deep sieve from `start` and returns its candidates below `start + span`.
#[cfg(not(target_arch = "wasm32"))]
fn deep_sieve_below<T>(start: T, bits: u32, primes: &[u32], span: u64) -> Vec<T>
where
    T: crypto_bigint::Unsigned,
{
    let end = start.wrapping_add(&T::from(span));
    let bits = std::num::NonZeroU32::new(bits).expect("bits");
    sieve::DeepSieve::new(start, bits, primes)
        .expect("sieve")
        .take_while(|c| *c < end)
        .collect()
}

// Natively only: in WebAssembly the test harness runs the synchronous tests back to back without
// yielding, and WebDriver gives up on a page busy for about 20 s; these three (10 s together in
// a debug build) would tip the whole suite over. What differs in WebAssembly is the limb size,
// which only `remainders` sees (tested in both); the page's keys go through this sieve in the
// browser end-to-end tests and are checked by OpenSSL and friends in tests/interop.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn the_deep_sieve_keeps_exactly_the_numbers_free_of_factors_up_to_its_bound() {
    use crypto_bigint::U64;
    // 64-bit starts, so each candidate can be checked by plain trial division; a span of three
    // windows and more (2^13 odd numbers each), so window changes are crossed.
    let bound = 1u64 << 16;
    let primes = sieve::extra_primes(bound as u32);
    // The odd primes up to the bound, by trial division (not by the code under test).
    let divisors: Vec<u64> = (3..=bound)
        .step_by(2)
        .filter(|&d| !naive_has_factor_up_to(d, d.isqrt()))
        .collect();
    let span = 2 * (1 << 14) + 1_000;
    let mut r = rng(41);
    for _ in 0..2 {
        let start = u64::from(rand_core::Rng::next_u32(&mut r)) << 31 | 1 << 62 | 1;
        let got: Vec<u64> = deep_sieve_below(U64::from(start), 64, &primes, span)
            .iter()
            .map(|&c| u64::from(c))
            .collect();
        let expected: Vec<u64> = (start..start + span)
            .step_by(2)
            .filter(|&n| divisors.iter().all(|&d| !n.is_multiple_of(d)))
            .collect();
        assert_eq!(got, expected, "from {start}");
        // Among them every prime of the span (a prime is never dropped).
        let primes_in_span = (start..start + span)
            .step_by(2)
            .filter(|&n| is_prime(Flavor::Any, &U64::from(n)))
            .count();
        assert!(primes_in_span > 0);
        assert_eq!(
            got.iter()
                .filter(|&&n| is_prime(Flavor::Any, &U64::from(n)))
                .count(),
            primes_in_span
        );
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn the_deep_sieve_drops_multiples_of_its_primes_and_keeps_primes_at_rsa_sizes() {
    use crypto_bigint::{Limb, NonZero, U1024};
    let primes = sieve::default_primes();
    let mut r = rng(42);
    let span: u32 = (1 << 14) + 300;
    let bits = std::num::NonZeroU32::new(1024).expect("bits");
    let start = crypto_primes::hazmat::random_odd_integer::<U1024, _>(
        &mut r,
        bits,
        crypto_primes::hazmat::SetBits::TwoMsb,
    )
    .expect("start")
    .get();
    // The sieve's first candidates, and those where its first window (2^14 numbers) ends.
    let checked = |c: &U1024| {
        let at = |n: u32| start.wrapping_add(&U1024::from(n));
        *c < at(600) || (at((1 << 14) - 300) <= *c && *c < at(span))
    };
    let got: Vec<U1024> = deep_sieve_below(start, 1024, primes, span.into())
        .into_iter()
        .filter(checked)
        .collect();
    // Against the crate's sieve with a remainder by every extra prime.
    let end = start.wrapping_add(&U1024::from(span));
    let expected: Vec<U1024> = crypto_primes::hazmat::SmallFactorsSieve::new(start, bits, false)
        .expect("sieve")
        .take_while(|c| *c < end)
        .filter(checked)
        .filter(|c| {
            primes
                .iter()
                .all(|&p| c.rem_limb(NonZero::new(Limb::from(p)).expect("p")).0 != 0)
        })
        .collect();
    assert!(!got.is_empty());
    assert_eq!(got, expected);
    // A multiple of an extra prime placed in the span is dropped; primes in it are kept.
    for &p in [
        primes[0],
        primes[primes.len() / 2],
        primes[primes.len() - 1],
    ]
    .iter()
    {
        let pn = NonZero::new(Limb::from(p)).expect("p");
        let to_multiple = (u64::from(p) - start.rem_limb(pn).0 as u64) % u64::from(p);
        let multiple = start.wrapping_add(&U1024::from(to_multiple));
        let multiple = if multiple.is_odd().into() {
            multiple
        } else {
            multiple.wrapping_add(&U1024::from(p))
        };
        let from = multiple.wrapping_sub(&U1024::from(20u32));
        assert!(!deep_sieve_below(from, 1024, primes, 40).contains(&multiple));
    }
    for seed in 43..46 {
        let prime: U1024 = crypto_primes::random_prime(&mut rng(seed), Flavor::Any, 1024);
        let from = prime.wrapping_sub(&U1024::from(2 * 3_001u32));
        assert_eq!(
            deep_sieve_below(from, 1024, primes, 2 * 3_001 + 1).last(),
            Some(&prime)
        );
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn the_search_finds_the_prime_the_crates_own_sieve_leads_to() {
    use crypto_bigint::U1024;
    use crypto_primes::hazmat::{SetBits, SmallFactorsSieveFactory};
    for seed in 50..53 {
        let factory = SmallFactorsSieveFactory::<U1024>::new(Flavor::Any, 1024, SetBits::TwoMsb)
            .expect("factory");
        let theirs =
            crypto_primes::sieve_and_find(&mut rng(seed), factory, |_, c| is_prime(Flavor::Any, c))
                .expect("search")
                .expect("prime");
        let ours = find_prime(KeySize::Rsa2048, &mut rng(seed)).expect("prime");
        let theirs_bytes: Vec<u8> = theirs
            .as_words()
            .iter()
            .rev()
            .flat_map(|w| w.to_be_bytes())
            .collect();
        assert_eq!(ours.to_bytes(), theirs_bytes.as_slice());
    }
}

#[test]
fn key_sizes_are_the_offered_ones() {
    assert_eq!(KeySize::from_bits(3072), Ok(KeySize::Rsa3072));
    assert_eq!(
        KeySize::from_bits(1024),
        Err(Error::UnsupportedKeySize(1024))
    );
    assert_eq!(KeySize::default(), KeySize::Rsa2048);
}

// ---------------------------------------------------------------------------------------------
// Certificate

#[test]
fn certificate_has_the_profile_admins_and_entra_expect() {
    let k = key(KeySize::Rsa2048);
    let c = cert::self_signed(k, "Contoso EXO automation", NOW, 365, &mut rng(1)).expect("cert");
    let parsed = x509_cert::Certificate::from_der(c.der()).expect("DER parses");
    let tbs = parsed.tbs_certificate();
    assert_eq!(tbs.version(), x509_cert::certificate::Version::V3);
    assert_eq!(
        parsed.signature_algorithm().oid.to_string(),
        "1.2.840.113549.1.1.11",
        "sha256WithRSAEncryption"
    );
    assert_eq!(tbs.subject().to_string(), "CN=Contoso EXO automation");
    assert_eq!(tbs.issuer(), tbs.subject(), "self-signed");

    let serial = tbs.serial_number().as_bytes();
    assert_eq!(serial.len(), 16, "16-byte serial");
    assert!(
        serial[0] != 0 && serial[0] < 0x80,
        "positive, minimal encoding"
    );
    assert_eq!(c.serial_hex().len(), 32);

    let validity = tbs.validity();
    let secs = |t: &x509_cert::time::Time| t.to_unix_duration().as_secs();
    assert_eq!(
        secs(&validity.not_before),
        NOW.0 - 300,
        "five minutes in the past"
    );
    assert_eq!(secs(&validity.not_after), NOW.0 - 300 + 365 * 86_400);
    assert_eq!(
        (c.not_before(), c.not_after()),
        (UnixTime(NOW.0 - 300), UnixTime(NOW.0 - 300 + 365 * 86_400))
    );

    let ext = |oid: &str| {
        tbs.extensions()
            .and_then(|e| e.iter().find(|x| x.extn_id.to_string() == oid))
            .unwrap_or_else(|| panic!("extension {oid} missing"))
    };
    let bc = ext("2.5.29.19");
    assert!(bc.critical);
    assert!(
        !BasicConstraints::from_der(bc.extn_value.as_bytes())
            .expect("bc")
            .ca
    );
    let ku = ext("2.5.29.15");
    assert!(ku.critical);
    let usages = KeyUsage::from_der(ku.extn_value.as_bytes()).expect("ku");
    assert!(usages.digital_signature() && usages.key_encipherment() && !usages.key_cert_sign());
    let eku = ExtendedKeyUsage::from_der(ext("2.5.29.37").extn_value.as_bytes()).expect("eku");
    assert_eq!(
        eku.0.iter().map(|o| o.to_string()).collect::<Vec<_>>(),
        ["1.3.6.1.5.5.7.3.2"]
    );
    let ski = SubjectKeyIdentifier::from_der(ext("2.5.29.14").extn_value.as_bytes()).expect("ski");
    let aki =
        AuthorityKeyIdentifier::from_der(ext("2.5.29.35").extn_value.as_bytes()).expect("aki");
    assert_eq!(
        aki.key_identifier.as_ref(),
        Some(&ski.0),
        "AKI names the key itself"
    );

    // The self-signature verifies with the certificate's own key.
    let verifier = VerifyingKey::<Sha256>::new(k.to_public_key());
    let signature = Signature::try_from(parsed.signature().raw_bytes()).expect("sig");
    verifier
        .verify(&tbs.to_der().expect("tbs"), &signature)
        .expect("self-signature verifies");
}

#[test]
fn thumbprints_are_the_windows_and_jwt_forms() {
    let c = cert::self_signed(key(KeySize::Rsa2048), "t", NOW, 30, &mut rng(2)).expect("cert");
    let t = c.thumbprints();
    let sha1: Vec<u8> = <Sha1 as sha1::Digest>::digest(c.der()).to_vec();
    assert_eq!(
        t.sha1_hex,
        sha1.iter().map(|b| format!("{b:02X}")).collect::<String>()
    );
    assert_eq!(t.sha1_hex.len(), 40);
    assert!(
        t.sha1_hex
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    );
    assert_eq!(t.x5t.len(), 27, "base64url of 20 bytes, no padding");
    assert_eq!(t.x5t_s256.len(), 43, "base64url of 32 bytes, no padding");
    assert!(!t.x5t.contains(['=', '+', '/']));
}

#[test]
fn certificate_pem_is_the_der() {
    let c = cert::self_signed(key(KeySize::Rsa2048), "pem", NOW, 30, &mut rng(3)).expect("cert");
    let pem = c.pem();
    assert!(
        pem.starts_with("-----BEGIN CERTIFICATE-----\n")
            && pem.ends_with("-----END CERTIFICATE-----\n")
    );
    let (label, der) = der::pem::decode_vec(pem.as_bytes()).expect("pem");
    assert_eq!((label, der.as_slice()), ("CERTIFICATE", c.der()));
}

#[test]
fn bad_subjects_and_validities_are_refused_with_reasons() {
    let k = key(KeySize::Rsa2048);
    for bad in [
        "",
        "   ",
        "a,b",
        "CN=x",
        "x\"y",
        "tab\there",
        &"x".repeat(65),
    ] {
        let e = cert::self_signed(k, bad, NOW, 30, &mut rng(4)).expect_err(bad);
        assert!(matches!(e, Error::InvalidSubject(_)), "{bad}: {e:?}");
        assert!(
            e.to_string()
                .starts_with("The certificate name is not usable")
        );
    }
    for days in [0, MAX_DAYS + 1] {
        assert_eq!(
            cert::self_signed(k, "ok", NOW, days, &mut rng(4)).expect_err("days"),
            Error::InvalidValidity(days)
        );
    }
    cert::self_signed(k, "Ünïcødé-name (prod) @contoso.com", NOW, 1, &mut rng(4))
        .expect("unicode CN is fine");
}

const MAX_DAYS: u32 = cert::MAX_VALIDITY_DAYS;

// ---------------------------------------------------------------------------------------------
// PKCS#12

/// What a PFX holds, read back with RustCrypto's decoders and the same algorithms in reverse.
struct Opened {
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
    mac_oid: String,
    mac_iterations: i32,
    cert_alg: String,
    key_alg: String,
    key_attribute_oids: Vec<String>,
    csp_name: String,
    friendly_name: String,
}

fn bmp(password: &str) -> Vec<u8> {
    Password::new(password).expect("pw").pkcs12_bmp().to_vec()
}

fn decrypt(
    alg: &spki::AlgorithmIdentifierOwned,
    password: &str,
    data: &[u8],
) -> Result<Vec<u8>, String> {
    let params = alg.parameters.as_ref().ok_or("no params")?;
    match alg.oid.to_string().as_str() {
        "1.2.840.113549.1.12.1.3" => {
            let p: Pkcs12PbeParams = params.decode_as().map_err(|e: der::Error| e.to_string())?;
            let key = derive_key::<Sha1>(
                &bmp(password),
                p.salt.as_bytes(),
                Pkcs12KeyType::EncryptionKey,
                p.iterations,
                24,
            );
            let iv = derive_key::<Sha1>(
                &bmp(password),
                p.salt.as_bytes(),
                Pkcs12KeyType::Iv,
                p.iterations,
                8,
            );
            cbc::Decryptor::<des::TdesEde3>::new_from_slices(&key, &iv)
                .map_err(|e| e.to_string())?
                .decrypt_padded_vec::<Pkcs7>(data)
                .map_err(|e| e.to_string())
        }
        "1.2.840.113549.1.5.13" => {
            let p: pkcs5::pbes2::Parameters =
                params.decode_as().map_err(|e: der::Error| e.to_string())?;
            p.decrypt(password.as_bytes(), data)
                .map_err(|e| e.to_string())
        }
        other => Err(format!("unexpected algorithm {other}")),
    }
}

fn open(pfx_der: &[u8], password: &str) -> Result<Opened, String> {
    let pfx = Pfx::from_der(pfx_der).map_err(|e| e.to_string())?;
    let auth_safe = pfx
        .auth_safe
        .content
        .decode_as::<OctetString>()
        .map_err(|e| e.to_string())?;
    let mac = pfx.mac_data.ok_or("no MAC")?;
    let (salt, rounds) = (mac.mac_salt.as_bytes(), mac.iterations);
    let expected = match mac.mac.algorithm.oid.to_string().as_str() {
        "1.3.14.3.2.26" => {
            let k = derive_key::<Sha1>(&bmp(password), salt, Pkcs12KeyType::Mac, rounds, 20);
            let mut h = hmac::Hmac::<Sha1>::new_from_slice(&k).map_err(|e| e.to_string())?;
            h.update(auth_safe.as_bytes());
            h.finalize().into_bytes().to_vec()
        }
        "2.16.840.1.101.3.4.2.1" => {
            let k = derive_key::<Sha256>(&bmp(password), salt, Pkcs12KeyType::Mac, rounds, 32);
            let mut h = hmac::Hmac::<Sha256>::new_from_slice(&k).map_err(|e| e.to_string())?;
            h.update(auth_safe.as_bytes());
            h.finalize().into_bytes().to_vec()
        }
        other => return Err(format!("MAC algorithm {other}")),
    };
    if expected != mac.mac.digest.as_bytes() {
        return Err("MAC verification failed (wrong password?)".into());
    }
    let infos = Vec::<cms::content_info::ContentInfo>::from_der(auth_safe.as_bytes())
        .map_err(|e| e.to_string())?;
    assert_eq!(infos.len(), 2);
    let enc = infos[0]
        .content
        .decode_as::<cms::encrypted_data::EncryptedData>()
        .map_err(|e| e.to_string())?;
    let eci = enc.enc_content_info;
    let cert_safe = decrypt(
        &eci.content_enc_alg,
        password,
        eci.encrypted_content.ok_or("empty")?.as_bytes(),
    )?;
    let cert_bags = Vec::<SafeBag>::from_der(&cert_safe).map_err(|e| e.to_string())?;
    // SafeBag decoding keeps bagValue's `[0] EXPLICIT` wrapper (as the pkcs12 crate's tests show).
    let cert_bag = ContextSpecific::<CertBag>::from_der(&cert_bags[0].bag_value)
        .map_err(|e| e.to_string())?
        .value;

    let key_safe = infos[1]
        .content
        .decode_as::<OctetString>()
        .map_err(|e| e.to_string())?;
    let key_bags = Vec::<SafeBag>::from_der(key_safe.as_bytes()).map_err(|e| e.to_string())?;
    let shrouded = ContextSpecific::<EncryptedPrivateKeyInfo>::from_der(&key_bags[0].bag_value)
        .map_err(|e| e.to_string())?
        .value;
    let key_der = decrypt(
        &shrouded.encryption_algorithm,
        password,
        shrouded.encrypted_data.as_bytes(),
    )?;
    let attrs = key_bags[0].bag_attributes.clone().ok_or("no attributes")?;
    let value_of = |oid: &str| -> String {
        attrs
            .iter()
            .find(|a| a.oid.to_string() == oid)
            .and_then(|a| a.values.iter().next())
            .and_then(|v| v.decode_as::<BmpString>().ok())
            .map(|b| b.to_string())
            .unwrap_or_default()
    };
    Ok(Opened {
        cert_der: cert_bag.cert_value.as_bytes().to_vec(),
        key_der,
        mac_oid: mac.mac.algorithm.oid.to_string(),
        mac_iterations: rounds,
        cert_alg: eci.content_enc_alg.oid.to_string(),
        key_alg: shrouded.encryption_algorithm.oid.to_string(),
        key_attribute_oids: attrs.iter().map(|a| a.oid.to_string()).collect(),
        csp_name: value_of("1.3.6.1.4.1.311.17.1"),
        friendly_name: value_of("1.2.840.113549.1.9.20"),
    })
}

#[test]
fn compat_flavour_is_3des_with_sha1_mac_and_the_csp_attribute() {
    let k = key(KeySize::Rsa2048);
    let c = forge_with_key(
        k,
        &request(Flavour::WindowsCompatible, "pw"),
        NOW,
        &mut rng(5),
    )
    .expect("forge");
    let o = open(c.pfx.expose(), "pw").expect("opens");
    assert_eq!(o.mac_oid, "1.3.14.3.2.26");
    assert!(o.mac_iterations >= 2048);
    assert_eq!(o.cert_alg, "1.2.840.113549.1.12.1.3");
    assert_eq!(o.key_alg, "1.2.840.113549.1.12.1.3");
    assert_eq!(
        o.csp_name,
        "Microsoft Enhanced RSA and AES Cryptographic Provider"
    );
    assert_eq!(o.friendly_name, "Contoso EXO automation");
    assert!(
        o.key_attribute_oids
            .contains(&"1.2.840.113549.1.9.21".to_owned()),
        "localKeyId"
    );
    assert_eq!(o.cert_der, c.certificate.der());
    assert_eq!(o.key_der, k.to_pkcs8_der().expect("der").as_bytes());
}

// Native only: ~5 s in an unoptimised wasm build, and the whole wasm suite runs as one busy
// page that ChromeDriver drops after 20 s; the browser makes both flavours in forge.test.mjs.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn modern_flavour_is_pbes2_aes256_with_sha256_mac() {
    let k = key(KeySize::Rsa2048);
    let c = forge_with_key(k, &request(Flavour::Modern, "pw"), NOW, &mut rng(6)).expect("forge");
    let o = open(c.pfx.expose(), "pw").expect("opens");
    assert_eq!(o.mac_oid, "2.16.840.1.101.3.4.2.1");
    assert!(o.mac_iterations >= 10_000);
    assert_eq!(
        (o.cert_alg.as_str(), o.key_alg.as_str()),
        ("1.2.840.113549.1.5.13", "1.2.840.113549.1.5.13")
    );
    assert_eq!(o.csp_name, pfx::CSP_NAME);
    assert_eq!(o.key_der, k.to_pkcs8_der().expect("der").as_bytes());
}

#[test]
fn a_wrong_password_is_detected_by_the_mac() {
    for flavour in Flavour::ALL {
        let c = forge_with_key(
            key(KeySize::Rsa2048),
            &request(flavour, "right"),
            NOW,
            &mut rng(7),
        )
        .expect("forge");
        assert!(open(c.pfx.expose(), "wrong").is_err(), "{flavour:?}");
    }
}

#[test]
fn encrypted_pem_key_decrypts_to_the_key() {
    let k = key(KeySize::Rsa2048);
    let c = forge_with_key(
        k,
        &request(Flavour::WindowsCompatible, "pém✓"),
        NOW,
        &mut rng(8),
    )
    .expect("forge");
    let pem = std::str::from_utf8(c.encrypted_key_pem.expose()).expect("utf8");
    let (label, der) = der::pem::decode_vec(pem.as_bytes()).expect("pem");
    assert_eq!(label, "ENCRYPTED PRIVATE KEY");
    let info = EncryptedPrivateKeyInfo::from_der(&der).expect("epki");
    let plain = decrypt(
        &info.encryption_algorithm,
        "pém✓",
        info.encrypted_data.as_bytes(),
    )
    .expect("decrypts");
    assert_eq!(plain, k.to_pkcs8_der().expect("der").as_bytes());
}

#[test]
fn pkcs12_passwords_are_utf16_be_with_surrogates_and_terminator() {
    assert_eq!(bmp("A"), [0, 0x41, 0, 0]);
    assert_eq!(bmp("é"), [0, 0xe9, 0, 0]);
    assert_eq!(bmp("😀"), [0xd8, 0x3d, 0xde, 0x00, 0, 0]);
}

// ---------------------------------------------------------------------------------------------
// Passwords, secrets, keyCredential

#[test]
fn empty_password_is_refused_with_a_clear_message() {
    let e = Password::new("").expect_err("empty");
    assert_eq!(e, Error::EmptyPassword);
    assert_eq!(
        e.to_string(),
        "Choose a password for the PFX: it cannot be empty."
    );
    Password::new(" ").expect("a space is a password");
}

#[test]
fn generated_passwords_are_strong_and_unambiguous() {
    assert!(Password::generated_entropy_bits() >= 128.0);
    let mut seen = std::collections::HashSet::new();
    let mut r = rng(9);
    for _ in 0..200 {
        let p = Password::generate(&mut r);
        let s = p.expose();
        assert_eq!(s.len(), 27);
        assert_eq!(s.matches('-').count(), 3);
        assert!(!s.contains(['0', 'O', 'o', '1', 'l', 'I', 'i']), "{s}");
        assert!(s.chars().all(|c| c == '-' || c.is_ascii_alphanumeric()));
        assert!(seen.insert(s.to_owned()), "repeat");
    }
}

#[test]
fn secrets_never_print() {
    let p = Password::new("hunter2").expect("pw");
    assert_eq!(format!("{p:?}"), "Password([redacted])");
    let c = forge_with_key(
        key(KeySize::Rsa2048),
        &request(Flavour::Modern, "hunter2"),
        NOW,
        &mut rng(12),
    )
    .expect("forge");
    let shown = format!("{c:?} {:?}", request(Flavour::Modern, "hunter2"));
    assert!(!shown.contains("hunter2"));
    assert!(shown.contains("Secret([redacted;"));
    assert!(!shown.contains("ENCRYPTED"));
    assert_eq!(
        format!(
            "{:?}",
            find_prime(KeySize::Rsa2048, &mut rng(13)).expect("p")
        ),
        "Prime([redacted])"
    );
}

#[test]
fn key_credential_carries_only_the_certificate_with_its_dates() {
    let c = forge_with_key(
        key(KeySize::Rsa2048),
        &request(Flavour::Modern, "x"),
        NOW,
        &mut rng(14),
    )
    .expect("forge");
    let kc = KeyCredential::for_certificate(&c.certificate).expect("kc");
    let json = serde_json::to_value(&kc).expect("json");
    assert_eq!(json["type"], "AsymmetricX509Cert");
    assert_eq!(json["usage"], "Verify");
    assert_eq!(json["displayName"], "CN=Contoso EXO automation");
    let key_b64 = json["key"].as_str().expect("key");
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD
        .decode(key_b64)
        .expect("standard base64");
    assert_eq!(der, c.certificate.der());
    assert_eq!(
        json["startDateTime"],
        c.certificate.not_before().rfc3339().expect("t")
    );
    assert_eq!(
        json["endDateTime"],
        c.certificate.not_after().rfc3339().expect("t")
    );
    assert_eq!(
        UnixTime(0).rfc3339().expect("epoch"),
        "1970-01-01T00:00:00Z"
    );
    assert_eq!(
        UnixTime(1_795_000_000).rfc3339().expect("t"),
        "2026-11-18T11:06:40Z"
    );
    assert_eq!(
        json.as_object().map(|o| o.len()),
        Some(6),
        "no other fields"
    );
}

// Native only: ~5 s in an unoptimised wasm build, and the whole wasm suite runs as one busy
// page that ChromeDriver drops after 20 s; the browser makes both flavours in forge.test.mjs.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn worker_jobs_find_primes_and_forge_what_the_page_downloads() {
    let mut replies = Vec::new();
    let clock = || 0.0;
    for seed in [20, 21] {
        job::find_prime_job(2048, &mut rng(seed), &clock, &mut |m| replies.push(m));
    }
    let primes: Vec<String> = replies
        .into_iter()
        .filter_map(|m| match m {
            job::FromWorker::Prime { prime, .. } => Some(prime),
            _ => None,
        })
        .collect();
    assert_eq!(primes.len(), 2);
    let forge = |flavour: &str, p: &str, q: &str| {
        let job = job::ForgeJob {
            bits: 2048,
            p: p.into(),
            q: q.into(),
            subject: "worker job".into(),
            validity_days: 180,
            flavour: flavour.into(),
            password: "pw ✓".into(),
            now_ms: NOW.0 as f64 * 1000.0,
        };
        assert!(
            !format!("{job:?}").contains("pw ✓"),
            "the job's Debug hides the password"
        );
        job::forge_job(job, &mut rng(22), &clock)
    };
    let forged = forge("modern", &primes[0], &primes[1]).expect("forged");
    use base64::Engine;
    let pfx = base64::engine::general_purpose::STANDARD
        .decode(&forged.pfx)
        .expect("b64");
    let opened = open(&pfx, "pw ✓").expect("opens");
    assert_eq!(
        base64::engine::general_purpose::STANDARD.encode(&opened.cert_der),
        forged.cer
    );
    assert_eq!(forged.key_credential.key, forged.cer);
    assert_eq!(
        (
            forged.flavour.as_str(),
            forged.bits,
            forged.subject.as_str()
        ),
        ("modern", 2048, "worker job")
    );
    assert!(matches!(
        forge("modern", &primes[0], &primes[0]),
        Err(Error::InvalidPrimes(_))
    ));
    assert!(forge("rc4", &primes[0], &primes[1]).is_err());
}

// ---------------------------------------------------------------------------------------------
// The saved PFX, picked back by the admin: proven or refused with a reason. Native only: each
// forges several PFX files (the modern flavour runs 100 000 PBKDF2 iterations twice), which in
// an unoptimised WebAssembly build keeps the page busy past ChromeDriver's 20 s limit; the same
// check runs in the browser, on the release build, in tests/e2e/saved-pfx.test.mjs.

#[cfg(not(target_arch = "wasm32"))]
fn forged(flavour: Flavour, password: &str, seed: u8) -> Credential {
    forge_with_key(
        key(KeySize::Rsa2048),
        &request(flavour, password),
        NOW,
        &mut rng(seed),
    )
    .expect("forge")
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn the_saved_pfx_is_proven_in_both_flavours() {
    for (flavour, password) in [
        (Flavour::WindowsCompatible, "pw"),
        (Flavour::Modern, "pässwörd ✓ 𝄞"),
    ] {
        let c = forged(flavour, password, 20);
        assert_eq!(
            verify_saved_pfx(c.pfx.expose(), password, c.certificate.der()),
            Ok(()),
            "{flavour:?}"
        );
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn a_wrong_or_empty_password_is_refused_as_such() {
    for flavour in Flavour::ALL {
        let c = forged(flavour, "right", 21);
        let der = c.certificate.der();
        assert_eq!(
            verify_saved_pfx(c.pfx.expose(), "wrong", der),
            Err(SavedPfxError::WrongPassword)
        );
        // Not trimmed, not normalised: the password as typed is the password.
        assert_eq!(
            verify_saved_pfx(c.pfx.expose(), "right ", der),
            Err(SavedPfxError::WrongPassword)
        );
        assert_eq!(
            verify_saved_pfx(c.pfx.expose(), "", der),
            Err(SavedPfxError::EmptyPassword)
        );
    }
    assert!(
        SavedPfxError::WrongPassword
            .to_string()
            .contains("password")
    );
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn another_pfx_is_refused_with_its_thumbprint() {
    // Same key, same password, another certificate (another serial): an earlier run's file.
    let expected = forged(Flavour::WindowsCompatible, "pw", 22);
    for flavour in Flavour::ALL {
        let other = forged(flavour, "pw", 23);
        let found = other.certificate.thumbprints().sha1_hex.clone();
        let refusal = verify_saved_pfx(other.pfx.expose(), "pw", expected.certificate.der());
        assert_eq!(
            refusal,
            Err(SavedPfxError::OtherCertificate(Some(found.clone())))
        );
        let message = refusal.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("another certificate") && message.contains(&found),
            "{message}"
        );
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn random_bytes_and_other_files_are_not_a_pfx() {
    let c = forged(Flavour::WindowsCompatible, "pw", 24);
    let der = c.certificate.der();
    let mut random = vec![0u8; 4096];
    rand_core::Rng::fill_bytes(&mut rng(25), &mut random);
    for (what, bytes) in [
        ("random", random.as_slice()),
        ("empty", &[][..]),
        ("the .cer", der),
        ("the .pem", c.certificate.pem().as_bytes()),
        ("the encrypted key .pem", c.encrypted_key_pem.expose()),
    ] {
        assert_eq!(
            verify_saved_pfx(bytes, "pw", der),
            Err(SavedPfxError::NotPfx),
            "{what}"
        );
    }
    assert!(SavedPfxError::NotPfx.to_string().contains("not a PFX"));
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn a_truncated_or_altered_pfx_is_damaged() {
    for flavour in Flavour::ALL {
        let c = forged(flavour, "pw", 26);
        let (pfx, der) = (c.pfx.expose(), c.certificate.der());
        for cut in [pfx.len() - 1, pfx.len() / 2, 20] {
            assert_eq!(
                verify_saved_pfx(&pfx[..cut], "pw", der),
                Err(SavedPfxError::Damaged),
                "{flavour:?} cut at {cut}"
            );
        }
        // One flipped bit inside the authenticated contents: the MAC no longer verifies. PKCS#12
        // cannot tell this from a wrong password; either way the file is not proven.
        let mut altered = pfx.to_vec();
        let middle = altered.len() / 2;
        altered[middle] ^= 0x01;
        assert!(
            verify_saved_pfx(&altered, "pw", der).is_err(),
            "{flavour:?}"
        );
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn a_pfx_whose_key_is_not_the_certificates_is_refused() {
    let c = forged(Flavour::WindowsCompatible, "pw", 27);
    let stranger = key(KeySize::Rsa3072).to_pkcs8_der().expect("der");
    let pw = Password::new("pw").expect("pw");
    let pfx = pfx::build(
        &c.certificate,
        stranger.as_bytes(),
        &pw,
        Flavour::Modern,
        "x",
        &mut rng(28),
    )
    .expect("build");
    assert_eq!(
        verify_saved_pfx(&pfx, "pw", c.certificate.der()),
        Err(SavedPfxError::KeyMismatch)
    );
}

// ---------------------------------------------------------------------------------------------
// The worker pool's bookkeeping: late and stale messages never fail a generation.

mod pool_tests {
    use super::super::job::{Forged, FromWorker};
    use super::super::pool::{PrimeSearch, Step};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn prime(n: u8) -> FromWorker {
        FromWorker::Prime {
            prime: format!("prime-{n}"),
            ms: 1.0,
        }
    }

    fn forged() -> FromWorker {
        let json = serde_json::json!({
            "pfx": "", "cer": "", "certPem": "", "keyPem": "", "thumbprint": "AB", "x5t": "",
            "x5tS256": "", "serial": "01", "subject": "s", "notBefore": "", "notAfter": "",
            "flavour": "compat", "bits": 2048, "validityDays": 365,
            "keyCredential": { "type": "AsymmetricX509Cert", "usage": "Verify", "key": "",
                "displayName": "CN=s", "startDateTime": "", "endDateTime": "" },
            "assembleMs": 0.0, "certificateMs": 0.0, "pfxMs": 0.0,
        });
        FromWorker::Forged(Box::new(
            serde_json::from_value::<Forged>(json).expect("forged"),
        ))
    }

    fn failed(why: &str) -> FromWorker {
        FromWorker::Failed {
            message: why.into(),
        }
    }

    /// Drives a search of three workers up to the assembly by worker 1.
    fn building() -> PrimeSearch {
        let mut s = PrimeSearch::new(3);
        for w in 0..3 {
            assert!(matches!(s.on_message(w, FromWorker::Ready)[..], [Step::Search(i)] if i == w));
        }
        assert!(matches!(
            s.on_message(0, prime(1))[..],
            [Step::Progress { primes: 1, .. }, Step::Search(0)]
        ));
        match &s.on_message(1, prime(2))[..] {
            [Step::Assemble { worker: 1, p, q }] => {
                assert_eq!((p.as_str(), q.as_str()), ("prime-1", "prime-2"))
            }
            other => panic!("expected one assembly, got {other:?}"),
        }
        s
    }

    #[test]
    fn a_third_prime_during_assembly_is_ignored_not_a_failure() {
        let mut s = building();
        // Worker 2's prime was already queued when the page stopped it: no second assembly, no
        // "worker gone" failure; the credential still arrives.
        assert!(s.on_message(2, prime(3)).is_empty());
        assert!(
            s.on_message(0, prime(4)).is_empty(),
            "even from a worker that already gave one"
        );
        assert!(matches!(s.on_message(1, forged())[..], [Step::Finished(_)]));
        assert!(s.is_over());
    }

    #[test]
    fn late_messages_from_stopped_workers_are_ignored_while_building() {
        let mut s = building();
        assert!(s.on_message(2, FromWorker::Ready).is_empty());
        assert!(
            s.on_message(2, FromWorker::Progress { tested: 99 })
                .is_empty()
        );
        assert!(
            s.on_message(0, failed("a worker stopped: terminated"))
                .is_empty()
        );
        assert!(
            s.on_message(0, forged()).is_empty(),
            "only the builder's credential counts"
        );
        assert!(!s.is_over());
        assert!(matches!(s.on_message(1, forged())[..], [Step::Finished(_)]));
    }

    #[test]
    fn the_builders_failure_fails_once_and_nothing_after_it_counts() {
        let mut s = building();
        assert!(
            matches!(&s.on_message(1, failed("bad primes"))[..], [Step::Failed(m)] if m == "bad primes")
        );
        assert!(s.on_message(1, forged()).is_empty());
        assert!(s.on_message(2, failed("again")).is_empty());
        assert!(s.on_closed().is_none());
    }

    #[test]
    fn a_repeated_prime_is_not_used_twice() {
        let mut s = PrimeSearch::new(2);
        s.on_message(0, prime(7));
        assert!(matches!(
            s.on_message(1, prime(7))[..],
            [Step::Progress { primes: 1, .. }, Step::Search(1)]
        ));
        assert!(matches!(
            s.on_message(1, prime(8))[..],
            [Step::Assemble { worker: 1, .. }]
        ));
    }

    #[test]
    fn progress_sums_the_searchers_and_restarts_a_worker_after_its_prime() {
        let mut s = PrimeSearch::new(2);
        s.on_message(0, FromWorker::Progress { tested: 10 });
        assert!(matches!(
            s.on_message(1, FromWorker::Progress { tested: 5 })[..],
            [Step::Progress {
                tested: 15,
                primes: 0
            }]
        ));
        assert!(matches!(
            s.on_message(0, prime(1))[..],
            [
                Step::Progress {
                    tested: 5,
                    primes: 1
                },
                Step::Search(0)
            ]
        ));
    }

    #[test]
    fn a_failure_while_searching_or_closed_channels_fail_once() {
        let mut s = PrimeSearch::new(2);
        assert!(matches!(
            s.on_message(0, failed("no"))[..],
            [Step::Failed(_)]
        ));
        assert!(s.on_message(1, prime(1)).is_empty());
        let mut t = PrimeSearch::new(2);
        assert!(matches!(t.on_closed(), Some(Step::Failed(_))));
        assert!(t.on_closed().is_none());
        // Messages from an index the pool never started are ignored.
        assert!(PrimeSearch::new(1).on_message(5, prime(1)).is_empty());
    }

    #[test]
    fn primes_never_print() {
        let mut s = PrimeSearch::new(2);
        s.on_message(0, prime(1));
        assert!(!format!("{s:?}").contains("prime-1"));
        let steps = s.on_message(1, prime(2));
        assert!(!format!("{steps:?}").contains("prime-"));
    }
}

// ---------------------------------------------------------------------------------------------
// Properties: any size, any validity, any non-empty password, either flavour. (Native only:
// proptest's runner is not built for the browser; the fixed cases above run in both.)

#[cfg(not(target_arch = "wasm32"))]
proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_password_validity_and_size_round_trips(
        password in "\\PC{1,24}",
        days in 1u32..=MAX_DAYS,
        size in prop::sample::select(KeySize::ALL.to_vec()),
        modern in any::<bool>(),
        seed in any::<u8>(),
    ) {
        let flavour = if modern { Flavour::Modern } else { Flavour::WindowsCompatible };
        let k = key(size);
        let mut req = request(flavour, &password);
        req.validity_days = days;
        let c = forge_with_key(k, &req, NOW, &mut rng(seed)).expect("forge");
        let o = open(c.pfx.expose(), &password).expect("opens with the same password");
        let key_der = k.to_pkcs8_der().expect("der");
        prop_assert_eq!(o.key_der.as_slice(), key_der.as_bytes());
        prop_assert_eq!(o.cert_der.as_slice(), c.certificate.der());
        prop_assert_eq!(c.certificate.not_after().0 - c.certificate.not_before().0, u64::from(days) * 86_400);
        let parsed = x509_cert::Certificate::from_der(c.certificate.der()).expect("parses");
        prop_assert_eq!(parsed.tbs_certificate().validity().not_after.to_unix_duration().as_secs(), c.certificate.not_after().0);
    }
}
