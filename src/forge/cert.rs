//! The self-signed X.509 v3 certificate for client authentication, and its thumbprints.
//!
//! ```text
//! Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }   RFC 5280 §4.1
//! ```
//! Profile (RFC 5280 §4.2; https://learn.microsoft.com/powershell/exchange/app-only-auth-powershell-v2): basicConstraints
//! CA:FALSE (critical), keyUsage digitalSignature + keyEncipherment (critical), extendedKeyUsage
//! clientAuth, subjectKeyIdentifier (SHA-1 of the key, method 1), authorityKeyIdentifier equal
//! to it (self-signed). keyEncipherment is what `New-SelfSignedCertificate -KeySpec KeyExchange`
//! sets, which Microsoft's Exchange app-only guide uses.

use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use der::{Encode, pem::LineEnding};
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use super::{Error, Rng, UnixTime};

/// Five minutes of clock skew between the admin's machine, Entra and the script's machine.
const BACKDATE_SECONDS: i64 = 5 * 60;
/// RFC 5280's upper bound for a common name (ub-common-name).
const MAX_CN_CHARS: usize = 64;
/// Ten years: longer makes no sense for a credential that should be rotated.
pub const MAX_VALIDITY_DAYS: u32 = 3650;
/// OID 1.3.6.1.5.5.7.3.2, id-kp-clientAuth.
const CLIENT_AUTH: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");

/// A certificate made by the forge, with what the rest of the product needs to know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    subject: String,
    serial_hex: String,
    not_before: UnixTime,
    not_after: UnixTime,
    thumbprints: Thumbprints,
}

/// The names a certificate goes by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbprints {
    /// SHA-1 of the DER, uppercase hex: what `-CertificateThumbprint` and the Windows store show.
    pub sha1_hex: String,
    /// `x5t`: base64url (no padding) of the SHA-1, as in RS256 client assertions.
    pub x5t: String,
    /// `x5t#S256`: base64url (no padding) of the SHA-256, as in PS256 client assertions.
    pub x5t_s256: String,
}

impl Thumbprints {
    /// Computes all three from the certificate's DER.
    pub fn of(der: &[u8]) -> Self {
        let sha1 = Sha1::digest(der);
        Self {
            sha1_hex: sha1.iter().map(|b| format!("{b:02X}")).collect(),
            x5t: URL_SAFE_NO_PAD.encode(sha1),
            x5t_s256: URL_SAFE_NO_PAD.encode(Sha256::digest(der)),
        }
    }
}

impl Certificate {
    /// The certificate, DER-encoded (the `.cer` file; what Graph's keyCredential carries).
    pub fn der(&self) -> &[u8] {
        &self.der
    }
    /// PEM (`-----BEGIN CERTIFICATE-----`).
    pub fn pem(&self) -> String {
        // Encoding bytes we just produced into PEM cannot fail; an empty string would show it.
        der::pem::encode_string("CERTIFICATE", LineEnding::LF, &self.der).unwrap_or_default()
    }
    /// The common name.
    pub fn subject(&self) -> &str {
        &self.subject
    }
    /// Serial number, lowercase hex.
    pub fn serial_hex(&self) -> &str {
        &self.serial_hex
    }
    /// notBefore.
    pub fn not_before(&self) -> UnixTime {
        self.not_before
    }
    /// notAfter.
    pub fn not_after(&self) -> UnixTime {
        self.not_after
    }
    /// Thumbprints.
    pub fn thumbprints(&self) -> &Thumbprints {
        &self.thumbprints
    }
}

/// Checks a common name an admin typed: 1–64 characters of letters, digits, spaces and `-_.@()`.
/// The narrow set keeps the name identical in every tool's display (no escaping rules apply).
pub fn check_subject(cn: &str) -> Result<&str, Error> {
    let cn = cn.trim();
    let count = cn.chars().count();
    if count == 0 {
        return Err(Error::InvalidSubject("it is empty".into()));
    }
    if count > MAX_CN_CHARS {
        return Err(Error::InvalidSubject(format!(
            "it has {count} characters; at most {MAX_CN_CHARS} fit"
        )));
    }
    if let Some(bad) = cn
        .chars()
        .find(|c| !(c.is_alphanumeric() || " -_.@()".contains(*c)))
    {
        return Err(Error::InvalidSubject(format!(
            "\"{bad}\" cannot be used; use letters, digits, spaces and - _ . @ ( )"
        )));
    }
    Ok(cn)
}

/// Makes and signs the certificate for `key`. Validity runs from five minutes before `now` for
/// `days` days.
pub fn self_signed(
    key: &RsaPrivateKey,
    cn: &str,
    now: UnixTime,
    days: u32,
    rng: &mut impl Rng,
) -> Result<Certificate, Error> {
    let cn = check_subject(cn)?;
    if !(1..=MAX_VALIDITY_DAYS).contains(&days) {
        return Err(Error::InvalidValidity(days));
    }
    let not_before = now.add_seconds(-BACKDATE_SECONDS);
    let not_after = not_before.add_seconds(i64::from(days) * 86_400);
    let validity = Validity::new(
        Time::from(not_before.date_time()?),
        Time::from(not_after.date_time()?),
    );

    // 16 random bytes, first byte non-zero with the top bit clear: a positive 128-bit integer
    // whose DER encoding is exactly 16 bytes.
    let mut serial = [0u8; 16];
    rng.fill_bytes(&mut serial);
    serial[0] = (serial[0] & 0x7f).max(1);

    let signer = SigningKey::<Sha256>::new(key.clone());
    let spki = SubjectPublicKeyInfoOwned::from_key(key.as_public_key())
        .map_err(|e| Error::Encoding(e.to_string()))?;
    let subject = Name::from_str(&format!("CN={cn}"))?;
    let builder = CertificateBuilder::new(
        ClientAuth { subject },
        SerialNumber::new(&serial)?,
        validity,
        spki,
    )
    .map_err(|e| Error::Encoding(e.to_string()))?;
    let cert = builder
        .build::<_, rsa::pkcs1v15::Signature>(&signer)
        .map_err(|e| Error::Encoding(e.to_string()))?;
    let der = cert.to_der()?;
    Ok(Certificate {
        thumbprints: Thumbprints::of(&der),
        der,
        subject: cn.to_owned(),
        serial_hex: serial.iter().map(|b| format!("{b:02x}")).collect(),
        not_before,
        not_after,
    })
}

/// The certificate profile: self-signed, end entity, client authentication.
struct ClientAuth {
    subject: Name,
}

impl BuilderProfile for ClientAuth {
    fn get_issuer(&self, subject: &Name) -> Name {
        subject.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let mut extensions: Vec<Extension> = Vec::new();
        let subject = tbs.subject();

        let mut basic = BasicConstraints {
            ca: false,
            path_len_constraint: None,
        }
        .to_extension(subject, &extensions)?;
        // RFC 5280 §4.2.1.9 allows either; critical is what Windows and OpenSSL emit for end entities.
        basic.critical = true;
        extensions.push(basic);

        let usage = KeyUsage(KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment);
        extensions.push(usage.to_extension(subject, &extensions)?);
        extensions.push(ExtendedKeyUsage(vec![CLIENT_AUTH]).to_extension(subject, &extensions)?);

        let ski = SubjectKeyIdentifier::try_from(spk)?;
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(ski.0.clone()),
            ..Default::default()
        };
        extensions.push(ski.to_extension(subject, &extensions)?);
        extensions.push(aki.to_extension(subject, &extensions)?);
        Ok(extensions)
    }
}
