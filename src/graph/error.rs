//! Graph's answers that are not successes, as data
//! (<https://learn.microsoft.com/graph/errors>): the error JSON parsed once, classified by
//! `error.code`, `details[].code` and the well-known directory messages (the ones Microsoft's
//! own Terraform/Go SDKs use for control flow), never by localised text alone.

use std::fmt;

use serde::Deserialize;

/// Graph's `{"error": {...}}` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ErrorBody {
    /// `error.code`, e.g. `Request_BadRequest`.
    #[serde(default)]
    pub code: String,
    /// `error.message`.
    #[serde(default)]
    pub message: String,
    /// `error.details[].code`, e.g. `NoBackingApplicationObject`.
    #[serde(default)]
    pub details: Vec<Detail>,
}

/// One entry of `error.details`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Detail {
    /// The detail's code.
    #[serde(default)]
    pub code: String,
}

#[derive(Deserialize)]
struct Envelope {
    error: ErrorBody,
}

impl ErrorBody {
    /// Reads Graph's error JSON; anything else becomes a body with the raw text as message.
    pub fn parse(text: &str) -> Self {
        serde_json::from_str::<Envelope>(text)
            .map(|e| e.error)
            .unwrap_or_else(|_| Self {
                message: text.chars().take(300).collect(),
                ..Self::default()
            })
    }

    fn detail(&self, code: &str) -> bool {
        self.details.iter().any(|d| d.code == code)
    }
}

/// Why a Graph call failed, after the client's retries.
#[derive(Debug, Clone, PartialEq)]
pub enum GraphError {
    /// No answer: the network, a proxy, or a connection dropped mid-answer. A write may or may
    /// not have happened; the executor checks before trying again.
    Network(String),
    /// 429 until the retry budget ran out.
    Throttled,
    /// 500/502/503/504. For a read: until the retry budget ran out. For a write: at once, as
    /// the write may have happened (a gateway timeout often arrives after the backend acted).
    Unavailable(u16),
    /// The directory had not replicated a new object within the retry budget.
    Replicating(String),
    /// 401 that renewing could not cure: the admin must sign in again (popup), for the reason
    /// and with the claims given.
    SignInRequired(super::SignInRequired),
    /// 403 `Authorization_RequestDenied`: the signed-in admin's role or the page's consented
    /// permissions do not allow this call.
    Denied(String),
    /// 404 `Request_ResourceNotFound` (not replication: an object that is gone or never was).
    NotFound(String),
    /// An already-existing assignment (the duplicate answers to an app role grant and to a
    /// directory role assignment; Microsoft does not document them, the messages are the ones
    /// public SDKs match, e.g. <https://github.com/manicminer/hamilton> `odata/odata.go`).
    AlreadyExists(String),
    /// Refused for another reason Graph states (400/409/...).
    Rejected {
        /// HTTP status.
        status: u16,
        /// `error.code`, with `details[0].code` after a slash when present.
        code: String,
        /// Graph's message.
        message: String,
    },
    /// The tenant changed between the read the plan showed and the write (a certificate or
    /// permission shown as kept is gone): nothing is written until the admin has seen it.
    Drifted(String),
    /// An answer the page could not read.
    Unexpected(String),
}

/// Directory messages that mean "not replicated yet" right after a create
/// (<https://devblogs.microsoft.com/identity/designing-for-eventual-consistency-for-microsoft-entra/>;
/// `NoBackingApplicationObject`: <https://learn.microsoft.com/en-us/answers/questions/5883620/ms-graph-api-failing-to-create-service-principal-f>).
fn replicating(body: &ErrorBody) -> bool {
    body.detail("NoBackingApplicationObject")
        || body
            .message
            .contains("does not reference a valid application object")
}

impl GraphError {
    /// Classifies a non-success answer.
    pub fn from_response(status: u16, text: &str) -> Self {
        let body = ErrorBody::parse(text);
        let message = body.message.clone();
        match status {
            401 => Self::SignInRequired(super::SignInRequired {
                reason: super::SignInReason::Expired,
                code: None,
                claims: None,
            }),
            // A tenant without the licence a report needs answers 403 with its own code
            // (`Authentication_RequestFromNonPremiumTenantOrB2CTenant`): not a missing role.
            403 if body.code.starts_with("Authentication_") => Self::Rejected {
                status,
                code: body.code.clone(),
                message,
            },
            403 => Self::Denied(message),
            404 => Self::NotFound(message),
            429 => Self::Throttled,
            500 | 502 | 503 | 504 => Self::Unavailable(status),
            _ if replicating(&body) => Self::Replicating(message),
            _ if message.contains("already exists on the object")
                || message.contains("A conflicting object with one or more of the specified property values is present")
                || message.contains("added object references already exist") =>
            {
                Self::AlreadyExists(message)
            }
            _ => {
                let code = match body.details.first() {
                    Some(d) if !d.code.is_empty() => format!("{}/{}", body.code, d.code),
                    _ => body.code.clone(),
                };
                Self::Rejected {
                    status,
                    code,
                    message,
                }
            }
        }
    }

    /// Whether a later retry may succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Network(_) | Self::Throttled | Self::Unavailable(_) | Self::Replicating(_)
        )
    }
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Network(detail) => write!(
                f,
                "Microsoft Graph could not be reached ({detail}). Check the network connection and press Retry: every step checks what is already done first."
            ),
            Self::Throttled => f.write_str(
                "Microsoft Graph is throttling requests and kept doing so for several minutes. Wait a few minutes and press Retry.",
            ),
            Self::Unavailable(status) => write!(
                f,
                "Microsoft Graph is temporarily unavailable (HTTP {status}) and stayed so for several minutes. Press Retry later; nothing done so far is lost."
            ),
            Self::Replicating(detail) => write!(
                f,
                "Microsoft Entra has not finished replicating the new objects yet ({detail}). This usually settles within minutes: press Retry."
            ),
            Self::SignInRequired(why) => {
                use super::SignInReason::*;
                let code = why.code.map(|c| format!(" (AADSTS{c})")).unwrap_or_default();
                let what = match why.reason {
                    Expired => format!("Your sign-in session ended{code}"),
                    Mfa => format!("Microsoft Entra asks for multi-factor authentication again{code}"),
                    ConditionalAccess => format!(
                        "A Conditional Access policy asks you to sign in again{code}; if it blocks you, sign in from a device and location your policies allow, or ask your Entra admin"
                    ),
                    ClaimsChallenge => format!(
                        "Microsoft Graph asked for a fresh sign-in (continuous access evaluation: a policy or your session changed){code}"
                    ),
                    Interaction => format!("Microsoft Entra needs you to sign in again{code}"),
                };
                write!(
                    f,
                    "{what}. Press \"Sign in again\": a small window opens; this page, the certificate in memory and the work done so far stay as they are, and the run continues where it stopped."
                )
            }
            Self::Denied(detail) => write!(f, "Microsoft Graph refused the request: {detail}"),
            Self::NotFound(detail) => write!(f, "Microsoft Graph could not find an object: {detail}"),
            Self::AlreadyExists(detail) => write!(f, "It already exists: {detail}"),
            Self::Rejected {
                status,
                code,
                message,
            } => write!(f, "Microsoft Graph refused the request (HTTP {status}, {code}): {message}"),
            Self::Drifted(detail) => f.write_str(detail),
            Self::Unexpected(detail) => write!(
                f,
                "Microsoft Graph answered in a way this page does not understand: {detail}"
            ),
        }
    }
}

impl std::error::Error for GraphError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_errors_are_classified_by_code_details_and_known_messages() {
        let nobacking = r#"{"error":{"code":"Request_BadRequest","message":"The appId 'x' of the service principal does not reference a valid application object.","details":[{"code":"NoBackingApplicationObject","target":"appId"}]}}"#;
        assert!(matches!(
            GraphError::from_response(400, nobacking),
            GraphError::Replicating(_)
        ));
        let dup = r#"{"error":{"code":"Request_BadRequest","message":"Permission being assigned already exists on the object."}}"#;
        assert!(matches!(
            GraphError::from_response(400, dup),
            GraphError::AlreadyExists(_)
        ));
        let conflict = r#"{"error":{"code":"Request_BadRequest","message":"A conflicting object with one or more of the specified property values is present in the directory."}}"#;
        assert!(matches!(
            GraphError::from_response(400, conflict),
            GraphError::AlreadyExists(_)
        ));
        let policy = r#"{"error":{"code":"Request_BadRequest","message":"too long","details":[{"code":"KeyCredentialsLifetimeExceedsPolicy"}]}}"#;
        assert_eq!(
            GraphError::from_response(400, policy),
            GraphError::Rejected {
                status: 400,
                code: "Request_BadRequest/KeyCredentialsLifetimeExceedsPolicy".into(),
                message: "too long".into()
            }
        );
        assert_eq!(GraphError::from_response(429, "{}"), GraphError::Throttled);
        assert!(GraphError::from_response(503, "<html>").is_transient());
        assert!(
            matches!(GraphError::from_response(403, "{\"error\":{\"code\":\"Authorization_RequestDenied\",\"message\":\"Insufficient privileges to complete the operation.\"}}"), GraphError::Denied(m) if m.starts_with("Insufficient"))
        );
        assert!(!GraphError::from_response(401, "{}").is_transient());
        assert!(
            GraphError::Network("reset".into())
                .to_string()
                .contains("press Retry")
        );
    }
}
