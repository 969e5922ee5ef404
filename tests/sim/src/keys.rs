//! keyCredentials as Graph validates them on create, PATCH and upsert (Learn: "keyCredential
//! resource type", "Add a certificate to an app using Microsoft Graph"): `key` must be the
//! base64 of a DER X.509 certificate, the dates must lie within the certificate's own validity
//! (`KeyCredentialsInvalidStartDate` / `KeyCredentialsInvalidEndDate`), no certificate or
//! `keyId` twice, `customKeyIdentifier` defaults to the SHA-1 thumbprint, and the tenant's
//! app-management policy caps the lifetime.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use der::Decode;
use serde_json::Value;
use sha1::{Digest, Sha1};

use crate::ids;
use crate::tenant::{GraphError, KeyCredential, Tenant};

/// The certificate's SHA-1 thumbprint as Graph returns binary properties: base64 of the 20
/// bytes.
pub fn thumbprint_b64(der: &[u8]) -> String {
    STANDARD.encode(Sha1::digest(der))
}

fn invalid(message: impl Into<String>, detail: &'static str) -> GraphError {
    GraphError {
        status: 400,
        code: "Request_BadRequest",
        message: message.into(),
        detail: Some(detail),
    }
}

/// The certificate's DER and validity (Unix seconds), or Graph's 400.
fn certificate(key: &str) -> Result<(Vec<u8>, i64, i64), GraphError> {
    let bad = || GraphError::bad_request("Invalid certificate: Key value is invalid certificate");
    let der = STANDARD.decode(key.trim()).map_err(|_| bad())?;
    let cert = x509_cert::Certificate::from_der(&der).map_err(|_| bad())?;
    let validity = cert.tbs_certificate().validity();
    let secs =
        |t: &x509_cert::time::Time| i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(0);
    Ok((
        der.clone(),
        secs(&validity.not_before),
        secs(&validity.not_after),
    ))
}

impl Tenant {
    /// Validates written keyCredentials and fills what Graph fills. `created` is when the
    /// application was created (`None`: just now, or unknown): the tenant policy binds only
    /// applications created after its `restrictForAppsCreatedAfterDateTime` (Learn:
    /// "keyCredentialConfiguration resource type").
    pub(crate) fn key_credentials(
        &self,
        list: &Value,
        created: Option<i64>,
    ) -> Result<Vec<KeyCredential>, GraphError> {
        let restrict_after = self
            .policy_restrict_after
            .unwrap_or(crate::tenant::POLICY_DEFAULT_AFTER);
        let bound = created.is_none_or(|at| at > restrict_after);
        let mut out: Vec<KeyCredential> = Vec::new();
        let mut thumbprints: Vec<String> = Vec::new();
        for item in list.as_array().map(Vec::as_slice).unwrap_or_default() {
            let mut credential: KeyCredential = serde_json::from_value(item.clone())
                .map_err(|e| GraphError::bad_request(format!("Invalid keyCredential: {e}")))?;
            if credential.kind != "AsymmetricX509Cert" || credential.usage != "Verify" {
                return Err(GraphError::bad_request(
                    "Invalid value specified for property 'usage' of resource 'KeyCredential'. Acceptable values are Sign, Verify.",
                ));
            }
            let Some(key) = credential.key.as_deref().filter(|k| !k.is_empty()) else {
                return Err(GraphError::bad_request("Key credential 'key' is required."));
            };
            let (der, not_before, not_after) = certificate(key)?;
            let thumbprint = thumbprint_b64(&der);
            if thumbprints.contains(&thumbprint) {
                return Err(GraphError::bad_request(
                    "Duplicate certificate: the same certificate appears more than once in keyCredentials.",
                ));
            }
            thumbprints.push(thumbprint.clone());
            // Dates: UTC with `Z`; when given they must lie within the certificate's validity,
            // when absent they are the certificate's own.
            let date = |text: &Option<String>| -> Result<Option<i64>, GraphError> {
                text.as_deref()
                    .map(|t| {
                        ids::parse_rfc3339(t).ok_or_else(|| {
                            GraphError::bad_request(format!("Invalid date '{t}' in keyCredential."))
                        })
                    })
                    .transpose()
            };
            let start = date(&credential.start_date_time)?.unwrap_or(not_before);
            let end = date(&credential.end_date_time)?.unwrap_or(not_after);
            if start < not_before || start >= not_after {
                return Err(invalid(
                    "Key credential start date is invalid.",
                    "KeyCredentialsInvalidStartDate",
                ));
            }
            if end > not_after || end <= start {
                return Err(invalid(
                    "Key credential end date is invalid.",
                    "KeyCredentialsInvalidEndDate",
                ));
            }
            if let Some(max) = self.max_certificate_lifetime_days.filter(|_| bound)
                && (end - start) as f64 / 86_400.0 > f64::from(max)
            {
                return Err(invalid(
                    format!(
                        "Credential lifetime exceeds the max value allowed as per assigned policy ({max} days)."
                    ),
                    "KeyCredentialsLifetimeExceedsPolicy",
                ));
            }
            credential.start_date_time = Some(ids::rfc3339(start));
            credential.end_date_time = Some(ids::rfc3339(end));
            credential.custom_key_identifier.get_or_insert(thumbprint);
            let key_id = credential.key_id.get_or_insert_with(ids::guid).clone();
            if out
                .iter()
                .any(|k| k.key_id.as_deref() == Some(key_id.as_str()))
            {
                return Err(GraphError::bad_request(format!(
                    "Duplicate keyId '{key_id}' in keyCredentials: every credential needs its own keyId."
                )));
            }
            out.push(credential);
        }
        Ok(out)
    }
}
