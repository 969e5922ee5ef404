//! The identity platform's token endpoint for app-only access: client credentials with a
//! certificate assertion, validated as
//! <https://learn.microsoft.com/entra/identity-platform/certificate-credentials> and
//! <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow> lay out,
//! each failure answered with the AADSTS code Entra uses.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use der::Decode;
use der::referenced::OwnedToRef;
use rsa::RsaPublicKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::cloud::Cloud;
use crate::tenant::{EXCHANGE_APP_ID, KeyCredential, Tenant};
use crate::{ids, jwt};

/// The assertion type every certificate credential uses.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Clock skew the platform tolerates on `nbf`/`exp`.
const SKEW: i64 = 300;

/// A token-endpoint failure: OAuth `error`, AADSTS number and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenError {
    /// `invalid_client`, `invalid_request`, …
    pub error: &'static str,
    /// The AADSTS number.
    pub code: u32,
    /// What went wrong.
    pub text: String,
}

impl TokenError {
    pub fn new(error: &'static str, code: u32, text: impl Into<String>) -> Self {
        Self {
            error,
            code,
            text: text.into(),
        }
    }

    /// The JSON body Entra sends (with trace and correlation ids).
    pub fn body(&self) -> Value {
        let (trace, correlation, now) = (ids::guid(), ids::guid(), ids::now_rfc3339());
        json!({
            "error": self.error,
            "error_description": format!("AADSTS{}: {} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {now}", self.code, self.text),
            "error_codes": [self.code],
            "timestamp": now,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        })
    }
}

/// What the request looked like beyond its form: the address it was sent to.
pub struct Endpoint<'a> {
    /// `{scheme}://{host}` the client used.
    pub origin: &'a str,
    /// The tenant segment of the path (id or domain).
    pub tenant: &'a str,
}

/// Resolves the path's tenant segment (tenant id or a verified domain).
fn tenant_matches(tenant: &Tenant, segment: &str) -> bool {
    segment == tenant.id
        || tenant
            .domains
            .iter()
            .any(|d| d.name.eq_ignore_ascii_case(segment))
}

/// Client credentials with a certificate: validates and returns the access token's claims, the
/// `keyId` of the registered certificate that signed the assertion and the resource's appId (trust comes from the
/// application's keyCredentials as they are now: a removed certificate is refused at once).
pub fn client_credentials(
    tenant: &Tenant,
    endpoint: &Endpoint<'_>,
    form: &[(String, String)],
    now: i64,
    cloud: Cloud,
) -> Result<(Value, String, &'static str), TokenError> {
    let get = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    if !tenant_matches(tenant, endpoint.tenant) {
        return Err(TokenError::new(
            "invalid_request",
            90002,
            format!("Tenant '{}' not found.", endpoint.tenant),
        ));
    }
    let client_id = get("client_id").unwrap_or_default();
    let app = tenant.applications.iter().find(|a| a.app_id == client_id).ok_or_else(|| {
        TokenError::new(
            "unauthorized_client",
            700016,
            format!("Application with identifier '{client_id}' was not found in the directory '{}'.", tenant.display_name),
        )
    })?;
    if !tenant
        .service_principals
        .iter()
        .any(|sp| sp.app_id == client_id)
    {
        return Err(TokenError::new(
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' has no service principal in the directory '{}'.",
                tenant.display_name
            ),
        ));
    }
    let assertion = match (get("client_assertion_type"), get("client_assertion")) {
        (Some(ASSERTION_TYPE), Some(a)) if !a.is_empty() => a,
        _ => {
            return Err(TokenError::new(
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            ));
        }
    };
    let token = jwt::decode(assertion).map_err(|e| {
        TokenError::new("invalid_client", 50027, format!("Invalid JWT token. {e:?}"))
    })?;

    // Which registered certificate signed it, by thumbprint.
    let (thumbprint, sha256) = match (
        token.header["x5t#S256"].as_str(),
        token.header["x5t"].as_str(),
    ) {
        (Some(t), _) => (t.trim_end_matches('='), true),
        (None, Some(t)) => (t.trim_end_matches('='), false),
        _ => {
            return Err(TokenError::new(
                "invalid_client",
                700027,
                "Client assertion failed signature validation: no certificate thumbprint (x5t or x5t#S256) in the header.",
            ));
        }
    };
    let registered: Vec<(&KeyCredential, Vec<u8>)> = app
        .key_credentials
        .iter()
        .filter(|k| k.kind == "AsymmetricX509Cert" && k.usage == "Verify")
        .filter_map(|k| Some((k, STANDARD.decode(k.key.as_deref()?).ok()?)))
        .collect();
    let (credential, der) = registered
        .into_iter()
        .find(|(_, der)| {
            let digest = if sha256 { Sha256::digest(der).to_vec() } else { Sha1::digest(der).to_vec() };
            URL_SAFE_NO_PAD.encode(digest) == thumbprint
        })
        .ok_or_else(|| {
            TokenError::new(
                "invalid_client",
                700027,
                format!("The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{thumbprint}']"),
            )
        })?;
    let in_dates = |s: &Option<String>, f: fn(i64, i64) -> bool| {
        s.as_deref()
            .and_then(ids::parse_rfc3339)
            .is_none_or(|t| f(t, now))
    };
    if !in_dates(&credential.start_date_time, |start, now| start <= now)
        || !in_dates(&credential.end_date_time, |end, now| now <= end)
    {
        return Err(TokenError::new(
            "invalid_client",
            700027,
            "Client assertion failed signature validation: the key is outside its validity dates (expired or not yet valid).",
        ));
    }
    let certificate = x509_cert::Certificate::from_der(&der).map_err(|e| {
        TokenError::new(
            "invalid_client",
            700027,
            format!("The registered certificate cannot be read: {e}"),
        )
    })?;
    let spki = certificate.tbs_certificate().subject_public_key_info();
    let key = RsaPublicKey::try_from(spki.owned_to_ref()).map_err(|e| {
        TokenError::new(
            "invalid_client",
            700027,
            format!("The registered key is not an RSA key: {e}"),
        )
    })?;
    if key.n().bits() < 2048 {
        return Err(TokenError::new(
            "invalid_client",
            700027,
            format!(
                "Client assertion failed signature validation. RSA key size {} is less than the minimum required 2048 bits.",
                key.n().bits()
            ),
        ));
    }
    if !token.verify(&key) {
        return Err(TokenError::new(
            "invalid_client",
            700027,
            "Client assertion contains an invalid signature.",
        ));
    }

    let claims = &token.claims;
    if claims["iss"] != client_id || claims["sub"] != client_id {
        return Err(TokenError::new(
            "invalid_client",
            50048,
            "Subject mismatches Issuer claim in the client assertion.",
        ));
    }
    let aud_ok = claims["aud"].as_str().is_some_and(|aud| {
        url::Url::parse(aud).is_ok_and(|u| {
            u.origin().ascii_serialization() == endpoint.origin
                && u.path()
                    .trim_end_matches('/')
                    .strip_suffix("/oauth2/v2.0/token")
                    .is_some_and(|t| tenant_matches(tenant, t.trim_start_matches('/')))
        })
    });
    if !aud_ok {
        return Err(TokenError::new(
            "invalid_client",
            50027,
            "Invalid JWT token: the audience is not this token endpoint.",
        ));
    }
    let nbf = seconds(&claims["nbf"])
        .or_else(|| seconds(&claims["iat"]))
        .unwrap_or(now);
    let exp = seconds(&claims["exp"]).unwrap_or(0);
    if nbf > now + SKEW || exp < now - SKEW {
        return Err(TokenError::new(
            "invalid_client",
            50027,
            "Invalid JWT token: the client assertion is not within its valid time range.",
        ));
    }

    let scope = get("scope").unwrap_or_default();
    let resource = scope.strip_suffix("/.default").filter(|r| !r.contains(' ')).ok_or_else(|| {
        TokenError::new("invalid_scope", 70011, "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).")
    })?;
    // Only this cloud's resources: another cloud's is not a resource here.
    let audience = crate::resources::resolve(tenant, resource, cloud)
        .ok_or_else(|| resource_missing(tenant, resource))?;
    let sp = tenant
        .service_principals
        .iter()
        .find(|sp| sp.app_id == client_id)
        .map(|sp| sp.id.clone())
        .unwrap_or_default();
    let key_id = credential.key_id.clone().unwrap_or_default();
    app_only_claims(tenant, &sp, client_id, &audience, now, 3599, cloud)
        .map(|claims| (claims, key_id, audience.app_id))
}

fn resource_missing(tenant: &Tenant, resource: &str) -> TokenError {
    TokenError::new(
        "invalid_resource",
        500011,
        format!(
            "The resource principal named {resource} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.",
            tenant.display_name
        ),
    )
}

/// An app-only access token for Exchange Online for the service principal `sp` (an app's or a
/// managed identity's): `roles` hold the Exchange app roles actually assigned to it, `wids`
/// the directory roles.
pub fn exchange_claims(
    tenant: &Tenant,
    sp: &str,
    app_id: &str,
    now: i64,
    lifetime: i64,
    cloud: Cloud,
) -> Result<Value, TokenError> {
    let exchange = crate::resources::Audience {
        app_id: EXCHANGE_APP_ID,
        aud: cloud.exchange().to_owned(),
    };
    app_only_claims(tenant, sp, app_id, &exchange, now, lifetime, cloud)
}

/// An app-only access token for `resource` for the service principal `sp` (an app's or a
/// managed identity's): `roles` hold the values of the app roles assigned to it *on that
/// resource's service principal* (ids of other resources' roles may be the same and never
/// count), left out when there are none; `wids` the built-in directory roles it holds; `aud`
/// the resource. A resource without a service principal in the tenant is AADSTS500011.
pub fn app_only_claims(
    tenant: &Tenant,
    sp: &str,
    app_id: &str,
    resource: &crate::resources::Audience,
    now: i64,
    lifetime: i64,
    cloud: Cloud,
) -> Result<Value, TokenError> {
    let resource_sp = tenant
        .service_principals
        .iter()
        .find(|s| s.app_id == resource.app_id)
        .ok_or_else(|| resource_missing(tenant, &resource.aud))?;
    let roles: Vec<Value> = tenant
        .app_role_assignments
        .iter()
        .filter(|a| a.principal_id == sp && a.resource_id == resource_sp.id)
        .filter_map(|a| {
            resource_sp
                .app_roles
                .iter()
                .find(|r| r["id"] == a.app_role_id.as_str())
                .map(|r| r["value"].clone())
        })
        .collect();
    let wids: Vec<&str> = tenant
        .role_assignments
        .iter()
        // `wids` names built-in roles only; custom role definitions never appear in it.
        .filter(|r| {
            r.principal_id == sp
                && !tenant
                    .role_definitions
                    .iter()
                    .any(|d| d.id == r.role_definition_id)
        })
        .map(|r| r.role_definition_id.as_str())
        .collect();
    let mut access = json!({
        "aud": resource.aud,
        "iss": format!("{}/{}/", cloud.v1_issuer(), tenant.id),
        "iat": now, "nbf": now, "exp": now + lifetime,
        "appid": app_id, "azp": app_id, "idtyp": "app",
        "oid": sp, "sub": sp, "tid": tenant.id, "ver": "1.0",
        "wids": wids, "uti": ids::uti(),
    });
    // Entra leaves `roles` out when nothing is granted.
    if !roles.is_empty() {
        access["roles"] = json!(roles);
    }
    Ok(access)
}

/// A NumericDate: MSAL for Python writes fractional seconds (`time.time() + 600`), others
/// integers; Entra accepts both.
fn seconds(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| value.as_f64().map(|f| f as i64))
}
