//! The PKCS#12 (PFX) file, assembled from RustCrypto's ASN.1 types (no crate offers a builder
//! that can add the Microsoft CSP-name attribute) and encrypted with RustCrypto's ciphers and KDFs.
//!
//! ```text
//! PFX ::= SEQUENCE { version 3, authSafe ContentInfo (id-data), macData MacData }  RFC 7292 §4
//! AuthenticatedSafe ::= SEQUENCE OF ContentInfo
//!   [certificate] ContentInfo id-encryptedData: SafeContents { CertBag }
//!   [key]         ContentInfo id-data:          SafeContents { PKCS8ShroudedKeyBag }
//! ```
//! The layout OpenSSL and Windows write. Both bags carry friendlyName and localKeyId (the
//! certificate's SHA-1 thumbprint, so importers pair key and certificate); the key bag also
//! carries the Microsoft CSP-name attribute (OID 1.3.6.1.4.1.311.17.1, "Microsoft Enhanced RSA
//! and AES Cryptographic Provider"), as `openssl pkcs12 -CSP` writes it, so Windows imports the
//! key into that legacy CSP: Exchange refuses CNG keys for app-only authentication.

use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeEncrypt, KeyIvInit};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::encrypted_data::EncryptedData;
use cms::enveloped_data::EncryptedContentInfo;
use der::asn1::{Any, BmpString, Null, ObjectIdentifier, OctetString, SetOfVec};
use der::{Encode, pem::LineEnding};
use hmac::{KeyInit, Mac};
use pkcs12::kdf::{Pkcs12KeyType, derive_key};
use pkcs12::pbe_params::{EncryptedPrivateKeyInfo, Pkcs12PbeParams};
use pkcs12::pfx::{Pfx, Version};
use pkcs12::{CertBag, DigestInfo, MacData, SafeBag};
use sha1::Sha1;
use sha2::Sha256;
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::{Attribute, Attributes};
use zeroize::Zeroizing;

use super::{Certificate, Error, Password, Rng};

const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_ENCRYPTED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.6");
const FRIENDLY_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.20");
const LOCAL_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.21");
/// szOID_PKCS_12_KEY_PROVIDER_NAME_ATTR.
const MS_CSP_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.17.1");
const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// The legacy CSP that supports SHA-256 signatures (the "Enhanced" one does not).
pub const CSP_NAME: &str = "Microsoft Enhanced RSA and AES Cryptographic Provider";

/// How the PFX is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavour {
    /// PBE-SHA1-3DES for key and certificate, SHA-1 MAC, 2048 iterations: imports on every
    /// Windows, including Server 2016 and older, which refuse AES-encrypted PFX files ("the
    /// password is incorrect"), and Mono/.NET Framework. The default: the admin rarely knows
    /// which Windows the script will run on, and a PFX that fails to import is a dead end, while
    /// 3DES here protects a file whose generated password has 138 bits of entropy.
    #[default]
    WindowsCompatible,
    /// PBES2 (PBKDF2-HMAC-SHA256, 100 000 iterations, AES-256-CBC), SHA-256 MAC: OpenSSL 3,
    /// Windows 10 1709+ / Server 2019+, PowerShell 7 on any OS.
    Modern,
}

impl Flavour {
    /// Both, in the order offered.
    pub const ALL: [Flavour; 2] = [Self::WindowsCompatible, Self::Modern];

    /// Iterations of the KDFs (encryption and MAC).
    pub fn iterations(self) -> u32 {
        match self {
            Self::WindowsCompatible => 2048,
            Self::Modern => 100_000,
        }
    }

    /// Short name used on the command line and in the run log.
    pub fn name(self) -> &'static str {
        match self {
            Self::WindowsCompatible => "compat",
            Self::Modern => "modern",
        }
    }

    /// Parses [`Flavour::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// Builds the PFX for `certificate` and its private key (`key_pkcs8_der`, unencrypted PKCS#8).
pub fn build(
    certificate: &Certificate,
    key_pkcs8_der: &[u8],
    password: &Password,
    flavour: Flavour,
    friendly_name: &str,
    rng: &mut impl Rng,
) -> Result<Vec<u8>, Error> {
    let local_key_id = <Sha1 as sha1::Digest>::digest(certificate.der()).to_vec();
    let name = BmpString::from_utf8(friendly_name)?;
    let common = [
        attribute(FRIENDLY_NAME, Any::encode_from(&name)?)?,
        attribute(
            LOCAL_KEY_ID,
            Any::encode_from(&OctetString::new(local_key_id)?)?,
        )?,
    ];
    let mut key_attributes = common.to_vec();
    key_attributes.push(attribute(
        MS_CSP_NAME,
        Any::encode_from(&BmpString::from_utf8(CSP_NAME)?)?,
    )?);

    // The certificate, in an encrypted SafeContents (as OpenSSL and Windows write it).
    let cert_bag = CertBag {
        cert_id: pkcs12::PKCS_12_X509_CERT_OID,
        cert_value: OctetString::new(certificate.der())?,
    };
    let cert_safe = vec![SafeBag {
        bag_id: pkcs12::PKCS_12_CERT_BAG_OID,
        bag_value: cert_bag.to_der()?,
        bag_attributes: Some(set_of(common.to_vec())?),
    }]
    .to_der()?;
    let (algorithm, encrypted) = encrypt(flavour, password, &cert_safe, rng)?;
    let cert_info = ContentInfo {
        content_type: ID_ENCRYPTED_DATA,
        content: Any::encode_from(&EncryptedData {
            version: CmsVersion::V0,
            enc_content_info: EncryptedContentInfo {
                content_type: ID_DATA,
                content_enc_alg: algorithm,
                encrypted_content: Some(OctetString::new(encrypted)?),
            },
            unprotected_attrs: None,
        })?,
    };

    // The key, shrouded (encrypted PKCS#8) inside a plain SafeContents.
    let shrouded = shroud(flavour, password, key_pkcs8_der, rng)?;
    let key_safe = vec![SafeBag {
        bag_id: pkcs12::PKCS_12_PKCS8_KEY_BAG_OID,
        bag_value: shrouded.to_der()?,
        bag_attributes: Some(set_of(key_attributes)?),
    }]
    .to_der()?;
    let key_info = ContentInfo {
        content_type: ID_DATA,
        content: Any::encode_from(&OctetString::new(key_safe)?)?,
    };

    let auth_safe = vec![cert_info, key_info].to_der()?;
    let mac_data = mac(flavour, password, &auth_safe, rng)?;
    let pfx = Pfx {
        version: Version::V3,
        auth_safe: ContentInfo {
            content_type: ID_DATA,
            content: Any::encode_from(&OctetString::new(auth_safe)?)?,
        },
        mac_data: Some(mac_data),
    };
    Ok(pfx.to_der()?)
}

/// The private key as `-----BEGIN ENCRYPTED PRIVATE KEY-----` (PBES2, AES-256-CBC,
/// PBKDF2-HMAC-SHA256) for tools that do not read PFX files.
pub fn encrypted_pkcs8_pem(
    key_pkcs8_der: &[u8],
    password: &Password,
    rng: &mut impl Rng,
) -> Result<String, Error> {
    let shrouded = shroud(Flavour::Modern, password, key_pkcs8_der, rng)?;
    der::pem::encode_string("ENCRYPTED PRIVATE KEY", LineEnding::LF, &shrouded.to_der()?)
        .map_err(|e| Error::Encoding(e.to_string()))
}

fn shroud(
    flavour: Flavour,
    password: &Password,
    key_pkcs8_der: &[u8],
    rng: &mut impl Rng,
) -> Result<EncryptedPrivateKeyInfo, Error> {
    let (encryption_algorithm, encrypted) = encrypt(flavour, password, key_pkcs8_der, rng)?;
    Ok(EncryptedPrivateKeyInfo {
        encryption_algorithm,
        encrypted_data: OctetString::new(encrypted)?,
    })
}

/// Encrypts `plaintext` with the flavour's scheme; returns the AlgorithmIdentifier describing it.
fn encrypt(
    flavour: Flavour,
    password: &Password,
    plaintext: &[u8],
    rng: &mut impl Rng,
) -> Result<(AlgorithmIdentifierOwned, Vec<u8>), Error> {
    let iterations = flavour.iterations();
    match flavour {
        Flavour::WindowsCompatible => {
            // pbeWithSHAAnd3-KeyTripleDES-CBC (RFC 7292 Appendix C): key and IV from PKCS#12's
            // own KDF with SHA-1 over the BMPString password.
            let mut salt = [0u8; 8];
            rng.fill_bytes(&mut salt);
            let bmp = password.pkcs12_bmp();
            let rounds = iterations as i32;
            let key = Zeroizing::new(derive_key::<Sha1>(
                &bmp,
                &salt,
                Pkcs12KeyType::EncryptionKey,
                rounds,
                24,
            ));
            let iv = derive_key::<Sha1>(&bmp, &salt, Pkcs12KeyType::Iv, rounds, 8);
            let cipher = cbc::Encryptor::<des::TdesEde3>::new_from_slices(&key, &iv)
                .map_err(|e| Error::Encoding(e.to_string()))?;
            let params = Pkcs12PbeParams {
                salt: OctetString::new(salt)?,
                iterations: rounds,
            };
            let algorithm = AlgorithmIdentifierOwned {
                oid: pkcs12::PKCS_12_PBE_WITH_SHAAND3_KEY_TRIPLE_DES_CBC,
                parameters: Some(Any::encode_from(&params)?),
            };
            Ok((algorithm, cipher.encrypt_padded_vec::<Pkcs7>(plaintext)))
        }
        Flavour::Modern => {
            // PBES2 takes the password as UTF-8 bytes (RFC 8018), unlike PKCS#12's KDF.
            let mut salt = [0u8; 16];
            let mut iv = [0u8; 16];
            rng.fill_bytes(&mut salt);
            rng.fill_bytes(&mut iv);
            let params =
                pkcs5::pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(iterations, &salt, iv)
                    .map_err(|e| Error::Encoding(e.to_string()))?;
            let encrypted = params
                .encrypt(password.expose().as_bytes(), plaintext)
                .map_err(|e| Error::Encoding(e.to_string()))?;
            let algorithm = AlgorithmIdentifierOwned {
                oid: pkcs5::pbes2::PBES2_OID,
                parameters: Some(Any::encode_from(&params)?),
            };
            Ok((algorithm, encrypted))
        }
    }
}

/// The PFX integrity MAC (RFC 7292 §5): HMAC over the AuthenticatedSafe with a key from
/// PKCS#12's KDF (ID 3) over the BMPString password, SHA-1 or SHA-256 by flavour.
fn mac(
    flavour: Flavour,
    password: &Password,
    auth_safe: &[u8],
    rng: &mut impl Rng,
) -> Result<MacData, Error> {
    let mut salt = [0u8; 16];
    rng.fill_bytes(&mut salt);
    let bmp = password.pkcs12_bmp();
    let rounds = flavour.iterations() as i32;
    let (oid, digest) = match flavour {
        Flavour::WindowsCompatible => {
            let key = Zeroizing::new(derive_key::<Sha1>(
                &bmp,
                &salt,
                Pkcs12KeyType::Mac,
                rounds,
                20,
            ));
            let mut hmac = hmac::Hmac::<Sha1>::new_from_slice(&key)
                .map_err(|e| Error::Encoding(e.to_string()))?;
            hmac.update(auth_safe);
            (SHA1, hmac.finalize().into_bytes().to_vec())
        }
        Flavour::Modern => {
            let key = Zeroizing::new(derive_key::<Sha256>(
                &bmp,
                &salt,
                Pkcs12KeyType::Mac,
                rounds,
                32,
            ));
            let mut hmac = hmac::Hmac::<Sha256>::new_from_slice(&key)
                .map_err(|e| Error::Encoding(e.to_string()))?;
            hmac.update(auth_safe);
            (SHA256, hmac.finalize().into_bytes().to_vec())
        }
    };
    Ok(MacData {
        mac: DigestInfo {
            algorithm: AlgorithmIdentifierOwned {
                oid,
                parameters: Some(Any::encode_from(&Null)?),
            },
            digest: OctetString::new(digest)?,
        },
        mac_salt: OctetString::new(salt)?,
        iterations: rounds,
    })
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, Error> {
    let mut values = SetOfVec::new();
    values.insert(value)?;
    Ok(Attribute { oid, values })
}

fn set_of(attributes: Vec<Attribute>) -> Result<Attributes, Error> {
    Ok(SetOfVec::try_from(attributes)?)
}
