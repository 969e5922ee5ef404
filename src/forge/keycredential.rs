//! The Graph `keyCredential` that registers the certificate on the app (public part only).
//!
//! Graph: "The type and usage must be AsymmetricX509Cert and Verify"; `key` is the base64 DER
//! certificate; start and end are the certificate's own validity in UTC, else Graph answers
//! `KeyCredentialsInvalidEndDate` (https://learn.microsoft.com/graph/applications-how-to-add-certificate).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::{Certificate, Error};

/// Graph truncates longer display names.
const MAX_DISPLAY_NAME: usize = 90;

/// A `microsoft.graph.keyCredential` for an X.509 certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyCredential {
    /// Always `AsymmetricX509Cert`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Always `Verify`: Entra verifies client assertions with it.
    pub usage: String,
    /// Standard base64 of the certificate's DER: never any private key material.
    pub key: String,
    /// `CN=<subject>`, as the portal shows it.
    pub display_name: String,
    /// The certificate's notBefore, `YYYY-MM-DDTHH:MM:SSZ`.
    pub start_date_time: String,
    /// The certificate's notAfter.
    pub end_date_time: String,
}

impl KeyCredential {
    /// The keyCredential for a certificate the forge made.
    pub fn for_certificate(certificate: &Certificate) -> Result<Self, Error> {
        Ok(Self {
            kind: "AsymmetricX509Cert".into(),
            usage: "Verify".into(),
            key: STANDARD.encode(certificate.der()),
            display_name: format!("CN={}", certificate.subject())
                .chars()
                .take(MAX_DISPLAY_NAME)
                .collect(),
            start_date_time: certificate.not_before().rfc3339()?,
            end_date_time: certificate.not_after().rfc3339()?,
        })
    }
}
