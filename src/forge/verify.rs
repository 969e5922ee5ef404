//! Proof that the admin saved the PFX: the file they pick back opens with the password they type
//! (the MAC verifies and the key bag decrypts), holds exactly the certificate about to be
//! uploaded, and holds the private key of that certificate.
//!
//! Once the tenant trusts the certificate, that file is the only copy of its key: a cancelled Save
//! dialog, a file saved half-way or a mistyped password would leave an app whose credential nobody
//! can use. So the page asks for the file and the password back and checks them here, before the
//! first write. Everything below is read-only parsing and decryption (RFC 7292 §4-§5, RFC 8018
//! PBES2, RFC 7292 Appendix C PBE-SHA1-3DES); nothing leaves this function but a yes or a reason.

use std::fmt;

use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, KeyIvInit};
use cms::content_info::ContentInfo;
use cms::encrypted_data::EncryptedData;
use der::asn1::{ContextSpecific, ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use hmac::{KeyInit, Mac};
use pkcs12::kdf::{Pkcs12KeyType, derive_key};
use pkcs12::pbe_params::{EncryptedPrivateKeyInfo, Pkcs12PbeParams};
use pkcs12::pfx::{Pfx, Version};
use pkcs12::{CertBag, SafeBag};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha1::Sha1;
use sha2::Sha256;
use spki::AlgorithmIdentifierOwned;
use zeroize::Zeroizing;

use super::Password;

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_ENCRYPTED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.6");
const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");

/// Why the picked file does not prove that the PFX was saved. Each message says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SavedPfxError {
    /// No password was typed.
    EmptyPassword,
    /// The file is not a PKCS#12 file at all (another file was picked).
    NotPfx,
    /// It starts like a PFX but cannot be read to its end: truncated or altered on disk.
    Damaged,
    /// The MAC does not verify or the key does not decrypt with this password.
    WrongPassword,
    /// A readable PFX that holds another certificate (an earlier one, or someone else's).
    /// Carries the SHA-1 thumbprint of what it holds, when it holds a certificate at all.
    OtherCertificate(Option<String>),
    /// The certificate is the right one but the private key in the file is not its key.
    KeyMismatch,
}

impl fmt::Display for SavedPfxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EmptyPassword => write!(
                f,
                "Type the PFX password (as shown above, or the one you chose) to check the file."
            ),
            Self::NotPfx => write!(
                f,
                "This file is not a PFX. Pick the .pfx file you just saved (not the .cer or .pem)."
            ),
            Self::Damaged => write!(
                f,
                "This PFX is damaged or incomplete (was the download finished?). Save the PFX \
                 again and pick the new file."
            ),
            Self::WrongPassword => write!(
                f,
                "The password does not open this PFX. Type (or paste) exactly the PFX password \
                 shown above; if it is right, you picked another PFX file."
            ),
            Self::OtherCertificate(Some(thumbprint)) => write!(
                f,
                "This PFX holds another certificate (thumbprint {thumbprint}), not the one about to \
                 be uploaded. Pick the PFX you saved for this certificate, or save it again."
            ),
            Self::OtherCertificate(None) => write!(
                f,
                "This PFX does not hold the certificate about to be uploaded. Pick the PFX you \
                 saved for this certificate, or save it again."
            ),
            Self::KeyMismatch => write!(
                f,
                "This PFX holds the certificate but not its private key. Save the PFX again from \
                 this page and pick the new file."
            ),
        }
    }
}

impl std::error::Error for SavedPfxError {}

/// Checks that `bytes` is a PFX that opens with `password`, holds exactly the certificate
/// `expected_cert_der` and that certificate's private key. The decrypted key and every derived
/// secret are wiped before returning; the caller wipes `bytes` and the password.
pub fn verify_saved_pfx(
    bytes: &[u8],
    password: &str,
    expected_cert_der: &[u8],
) -> Result<(), SavedPfxError> {
    let password = Password::new(password).map_err(|_| SavedPfxError::EmptyPassword)?;
    let pfx = Pfx::from_der(bytes).map_err(|_| unreadable(bytes))?;
    if pfx.version != Version::V3 || pfx.auth_safe.content_type != ID_DATA {
        return Err(SavedPfxError::NotPfx);
    }
    let auth_safe = pfx
        .auth_safe
        .content
        .decode_as::<OctetString>()
        .map_err(|_| SavedPfxError::Damaged)?;
    // The page's PFX files always carry a MAC; without one the password cannot be proven.
    let mac_data = pfx.mac_data.ok_or(SavedPfxError::OtherCertificate(None))?;
    verify_mac(&mac_data, &password, auth_safe.as_bytes())?;

    // The MAC proves the password and that the contents are as written; now read them.
    let infos =
        Vec::<ContentInfo>::from_der(auth_safe.as_bytes()).map_err(|_| SavedPfxError::Damaged)?;
    let mut certificates: Vec<Vec<u8>> = Vec::new();
    let mut keys: Vec<RsaPrivateKey> = Vec::new();
    for info in &infos {
        let safe_contents: Zeroizing<Vec<u8>> = if info.content_type == ID_DATA {
            let data = info
                .content
                .decode_as::<OctetString>()
                .map_err(|_| SavedPfxError::Damaged)?;
            Zeroizing::new(data.as_bytes().to_vec())
        } else if info.content_type == ID_ENCRYPTED_DATA {
            let encrypted = info
                .content
                .decode_as::<EncryptedData>()
                .map_err(|_| SavedPfxError::Damaged)?;
            let eci = encrypted.enc_content_info;
            let data = eci.encrypted_content.ok_or(SavedPfxError::Damaged)?;
            decrypt(&eci.content_enc_alg, &password, data.as_bytes())?
        } else {
            // Public-key-enveloped contents: never written by this page.
            return Err(SavedPfxError::OtherCertificate(None));
        };
        let bags = Vec::<SafeBag>::from_der(&safe_contents).map_err(|_| SavedPfxError::Damaged)?;
        for bag in bags {
            // SafeBag decoding keeps bagValue's `[0] EXPLICIT` wrapper (RFC 7292 §4.2).
            if bag.bag_id == pkcs12::PKCS_12_CERT_BAG_OID {
                let cert = ContextSpecific::<CertBag>::from_der(&bag.bag_value)
                    .map_err(|_| SavedPfxError::Damaged)?
                    .value;
                if cert.cert_id == pkcs12::PKCS_12_X509_CERT_OID {
                    certificates.push(cert.cert_value.as_bytes().to_vec());
                }
            } else if bag.bag_id == pkcs12::PKCS_12_PKCS8_KEY_BAG_OID {
                let shrouded = ContextSpecific::<EncryptedPrivateKeyInfo>::from_der(&bag.bag_value)
                    .map_err(|_| SavedPfxError::Damaged)?
                    .value;
                let pkcs8 = decrypt(
                    &shrouded.encryption_algorithm,
                    &password,
                    shrouded.encrypted_data.as_bytes(),
                )?;
                // Not RSA, or not a key: not a file this page made for this certificate.
                let key = RsaPrivateKey::from_pkcs8_der(&pkcs8)
                    .map_err(|_| SavedPfxError::KeyMismatch)?;
                keys.push(key);
            }
        }
    }

    if !certificates.iter().any(|c| c == expected_cert_der) {
        return Err(SavedPfxError::OtherCertificate(
            certificates.first().map(|c| sha1_hex(c)),
        ));
    }
    let expected_public = certificate_public_key(expected_cert_der)?;
    match keys.as_slice() {
        [key] if key.to_public_key() == expected_public => Ok(()),
        _ => Err(SavedPfxError::KeyMismatch),
    }
}

/// A file that does not decode: truncated or altered if it starts like a PFX (a DER SEQUENCE
/// whose first element is `INTEGER 3`, RFC 7292 §4), otherwise some other file.
fn unreadable(bytes: &[u8]) -> SavedPfxError {
    let starts_like_pfx = match bytes {
        [0x30, len, rest @ ..] => {
            let skip = if *len < 0x80 {
                0
            } else {
                usize::from(*len & 0x7f)
            };
            rest.get(skip..skip + 3) == Some(&[0x02, 0x01, 0x03][..])
        }
        _ => false,
    };
    if starts_like_pfx {
        SavedPfxError::Damaged
    } else {
        SavedPfxError::NotPfx
    }
}

/// RFC 7292 §5: HMAC over the AuthenticatedSafe, keyed by PKCS#12's KDF (ID 3) over the
/// BMPString password; compared in constant time.
fn verify_mac(
    mac_data: &pkcs12::MacData,
    password: &Password,
    auth_safe: &[u8],
) -> Result<(), SavedPfxError> {
    let bmp = password.pkcs12_bmp();
    let salt = mac_data.mac_salt.as_bytes();
    let rounds = mac_data.iterations;
    let digest = mac_data.mac.digest.as_bytes();
    if rounds < 1 {
        return Err(SavedPfxError::Damaged);
    }
    let oid = mac_data.mac.algorithm.oid;
    let verified = if oid == SHA1 {
        let key = Zeroizing::new(derive_key::<Sha1>(
            &bmp,
            salt,
            Pkcs12KeyType::Mac,
            rounds,
            20,
        ));
        let mut hmac =
            hmac::Hmac::<Sha1>::new_from_slice(&key).map_err(|_| SavedPfxError::Damaged)?;
        hmac.update(auth_safe);
        hmac.verify_slice(digest).is_ok()
    } else if oid == SHA256 {
        let key = Zeroizing::new(derive_key::<Sha256>(
            &bmp,
            salt,
            Pkcs12KeyType::Mac,
            rounds,
            32,
        ));
        let mut hmac =
            hmac::Hmac::<Sha256>::new_from_slice(&key).map_err(|_| SavedPfxError::Damaged)?;
        hmac.update(auth_safe);
        hmac.verify_slice(digest).is_ok()
    } else {
        // Another MAC digest (SHA-384/512): a PFX from another tool, not this page's.
        return Err(SavedPfxError::OtherCertificate(None));
    };
    if verified {
        Ok(())
    } else {
        Err(SavedPfxError::WrongPassword)
    }
}

/// Decrypts with the two schemes the page writes: PBE-SHA1-3DES (RFC 7292 Appendix C, key and
/// IV from PKCS#12's KDF over the BMPString password) and PBES2 (RFC 8018 §6.2, UTF-8 password).
/// The MAC has already proven the password, so a padding failure here means a damaged file.
fn decrypt(
    algorithm: &AlgorithmIdentifierOwned,
    password: &Password,
    data: &[u8],
) -> Result<Zeroizing<Vec<u8>>, SavedPfxError> {
    let params = algorithm
        .parameters
        .as_ref()
        .ok_or(SavedPfxError::Damaged)?;
    if algorithm.oid == pkcs12::PKCS_12_PBE_WITH_SHAAND3_KEY_TRIPLE_DES_CBC {
        let p: Pkcs12PbeParams = params.decode_as().map_err(|_| SavedPfxError::Damaged)?;
        if p.iterations < 1 {
            return Err(SavedPfxError::Damaged);
        }
        let bmp = password.pkcs12_bmp();
        let salt = p.salt.as_bytes();
        let key = Zeroizing::new(derive_key::<Sha1>(
            &bmp,
            salt,
            Pkcs12KeyType::EncryptionKey,
            p.iterations,
            24,
        ));
        let iv = derive_key::<Sha1>(&bmp, salt, Pkcs12KeyType::Iv, p.iterations, 8);
        cbc::Decryptor::<des::TdesEde3>::new_from_slices(&key, &iv)
            .map_err(|_| SavedPfxError::Damaged)?
            .decrypt_padded_vec::<Pkcs7>(data)
            .map(Zeroizing::new)
            .map_err(|_| SavedPfxError::WrongPassword)
    } else if algorithm.oid == pkcs5::pbes2::PBES2_OID {
        let p: pkcs5::pbes2::Parameters = params.decode_as().map_err(|_| SavedPfxError::Damaged)?;
        p.decrypt(password.expose().as_bytes(), data)
            .map(Zeroizing::new)
            .map_err(|_| SavedPfxError::WrongPassword)
    } else {
        // RC2, RC4 and other legacy schemes: not written by this page.
        Err(SavedPfxError::OtherCertificate(None))
    }
}

fn certificate_public_key(cert_der: &[u8]) -> Result<RsaPublicKey, SavedPfxError> {
    let cert = x509_cert::Certificate::from_der(cert_der)
        .map_err(|_| SavedPfxError::OtherCertificate(None))?;
    let spki = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .map_err(|_| SavedPfxError::OtherCertificate(None))?;
    RsaPublicKey::from_public_key_der(&spki).map_err(|_| SavedPfxError::KeyMismatch)
}

fn sha1_hex(der: &[u8]) -> String {
    <Sha1 as sha1::Digest>::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}
