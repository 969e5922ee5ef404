//! JSON Web Tokens as the identity platform reads and writes them: the client assertions apps
//! sign with their certificate (RS256 + `x5t`, or PS256 + `x5t#S256`;
//! <https://learn.microsoft.com/entra/identity-platform/certificate-credentials>, RFC 7518 §3.3
//! and §3.5, RFC 7515 §4.1.7 and §4.1.8), and the
//! access tokens the simulator issues (RS256, signed with the simulator's own key).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1v15;
use rsa::pss;
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::Value;
use sha2::Sha256;

/// A token split into its decoded parts.
#[derive(Debug, Clone)]
pub struct Jwt {
    /// Decoded header.
    pub header: Value,
    /// Decoded claims.
    pub claims: Value,
    /// `base64url(header).base64url(claims)`: what the signature covers.
    pub signed: String,
    /// Raw signature bytes.
    pub signature: Vec<u8>,
}

/// Why a token could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtError {
    /// Not three base64url parts of JSON (padding `=` included: JWTs have none).
    Malformed(String),
}

/// Splits and decodes a compact JWT without verifying it.
pub fn decode(token: &str) -> Result<Jwt, JwtError> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(JwtError::Malformed("a JWT has three parts".into()));
    }
    let bytes = |p: &str| {
        URL_SAFE_NO_PAD
            .decode(p)
            .map_err(|e| JwtError::Malformed(e.to_string()))
    };
    let json = |p: &str| -> Result<Value, JwtError> {
        serde_json::from_slice(&bytes(p)?).map_err(|e| JwtError::Malformed(e.to_string()))
    };
    Ok(Jwt {
        header: json(parts[0])?,
        claims: json(parts[1])?,
        signed: format!("{}.{}", parts[0], parts[1]),
        signature: bytes(parts[2])?,
    })
}

impl Jwt {
    /// Verifies the signature with `key` under the header's `alg` (RS256 or PS256 only).
    pub fn verify(&self, key: &RsaPublicKey) -> bool {
        match self.header["alg"].as_str() {
            Some("RS256") => {
                pkcs1v15::Signature::try_from(self.signature.as_slice()).is_ok_and(|s| {
                    pkcs1v15::VerifyingKey::<Sha256>::new(key.clone())
                        .verify(self.signed.as_bytes(), &s)
                        .is_ok()
                })
            }
            Some("PS256") => pss::Signature::try_from(self.signature.as_slice()).is_ok_and(|s| {
                pss::VerifyingKey::<Sha256>::new(key.clone())
                    .verify(self.signed.as_bytes(), &s)
                    .is_ok()
            }),
            _ => false,
        }
    }
}

/// Signs `claims` as an RS256 JWT with the simulator's key.
pub fn sign(key: &RsaPrivateKey, kid: &str, claims: &Value) -> String {
    let header = serde_json::json!({ "typ": "JWT", "alg": "RS256", "kid": kid });
    let signed = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = pkcs1v15::SigningKey::<Sha256>::new(key.clone()).sign(signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}
