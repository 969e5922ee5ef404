//! Finding an Azure Automation managed identity
//! (<https://learn.microsoft.com/powershell/exchange/connect-exo-powershell-managed-identity>):
//! by name, by the Automation
//! account's (or user-assigned identity's) resource id through `alternativeNames`, or by object
//! (principal) id — and telling apart the object id (what Graph's `principalId` takes) from the
//! client id (what `-ManagedIdentityAccountId` takes).

use std::fmt;

use crate::graph::models::ServicePrincipal;
use crate::graph::{Client, GraphError, Retry, Transport, encode, quote};

use super::{Identity, grants};

const SELECT: &str = "id,appId,displayName,servicePrincipalType,alternativeNames";

/// What the admin typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// `/subscriptions/…`: a resource id.
    ResourceId(String),
    /// A GUID: an object id (or, by mistake, a client id).
    Id(String),
    /// Anything else: the start of a name.
    Name(String),
}

impl Query {
    /// Classifies the admin's input.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.is_empty() {
            None
        } else if text.to_ascii_lowercase().starts_with("/subscriptions/") {
            Some(Self::ResourceId(text.trim_end_matches('/').to_owned()))
        } else if crate::config::is_guid(text) {
            Some(Self::Id(text.to_ascii_lowercase()))
        } else {
            Some(Self::Name(text.to_owned()))
        }
    }
}

/// Why no identity could be used.
#[derive(Debug, Clone, PartialEq)]
pub enum LookupError {
    /// Nothing matched.
    NotFound(String),
    /// The id is a client id; the identity's object id is given.
    ClientIdGiven {
        /// The identity found by client id.
        name: String,
        /// Its object (principal) id.
        object_id: String,
    },
    /// A service principal that is not a managed identity.
    NotManagedIdentity {
        /// Its name.
        name: String,
        /// Its type.
        kind: String,
    },
    /// Graph failed.
    Graph(GraphError),
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound(what) => write!(
                f,
                "No managed identity matches {what}. In the Azure portal, open the Automation account → Identity and copy the Object (principal) ID, or the account's resource id from its Properties (/subscriptions/…)."
            ),
            Self::ClientIdGiven { name, object_id } => write!(
                f,
                "That is the client (application) id of \"{name}\". Grants need its object (principal) id, {object_id}: it has been used instead."
            ),
            Self::NotManagedIdentity { name, kind } => write!(
                f,
                "\"{name}\" is a service principal of type {kind}, not a managed identity. For an app registration, use the certificate path; for Azure Automation, give the Automation account's identity."
            ),
            Self::Graph(e) => e.fmt(f),
        }
    }
}

fn is_identity(sp: &ServicePrincipal) -> bool {
    sp.service_principal_type.as_deref() == Some("ManagedIdentity")
}

fn checked(sp: ServicePrincipal) -> Result<ServicePrincipal, LookupError> {
    if is_identity(&sp) {
        Ok(sp)
    } else {
        Err(LookupError::NotManagedIdentity {
            kind: sp
                .service_principal_type
                .clone()
                .unwrap_or_else(|| "unknown".into()),
            name: sp.display_name,
        })
    }
}

async fn filtered<T: Transport>(
    client: &Client<T>,
    filter: &str,
) -> Result<Vec<ServicePrincipal>, LookupError> {
    let path = format!(
        "/servicePrincipals?$filter={}&$select={SELECT}&$top=999",
        encode(filter)
    );
    client
        .get_all::<ServicePrincipal>(&path, Retry::Read)
        .await
        .map(|all| all.items)
        .map_err(LookupError::Graph)
}

/// The managed identities matching `query`. A name search lists every match (for the admin to
/// pick); an id or resource id gives one, or says why not. For a client id, the identity is
/// returned together with the note that its object id is what counts.
pub async fn find<T: Transport>(
    client: &Client<T>,
    query: &Query,
) -> Result<(Vec<ServicePrincipal>, Option<LookupError>), LookupError> {
    match query {
        Query::Name(name) => {
            // The type is filtered by Graph (servicePrincipalType supports `eq`,
            // <https://learn.microsoft.com/graph/api/resources/serviceprincipal>), so apps that
            // share the name's prefix cannot crowd the identity out of the answer; every page
            // is read, and the type is checked again here.
            let found: Vec<ServicePrincipal> = filtered(
                client,
                &format!(
                    "servicePrincipalType eq 'ManagedIdentity' and startswith(displayName,{})",
                    quote(name)
                ),
            )
            .await?
            .into_iter()
            .filter(is_identity)
            .collect();
            if found.is_empty() {
                return Err(LookupError::NotFound(format!(
                    "a name starting with \"{name}\""
                )));
            }
            Ok((found, None))
        }
        Query::ResourceId(resource) => {
            let found = filtered(
                client,
                &format!("alternativeNames/any(x:x eq {})", quote(resource)),
            )
            .await?;
            match found.into_iter().next() {
                Some(sp) => Ok((vec![checked(sp)?], None)),
                None => Err(LookupError::NotFound(format!("the resource id {resource}"))),
            }
        }
        Query::Id(id) => match client
            .get::<ServicePrincipal>(&format!("/servicePrincipals/{id}?$select={SELECT}"))
            .await
        {
            Ok(sp) => Ok((vec![checked(sp)?], None)),
            Err(GraphError::NotFound(_)) => {
                let by_client = filtered(client, &format!("appId eq {}", quote(id))).await?;
                match by_client.into_iter().next() {
                    Some(sp) => {
                        let sp = checked(sp)?;
                        let note = LookupError::ClientIdGiven {
                            name: sp.display_name.clone(),
                            object_id: sp.id.clone(),
                        };
                        Ok((vec![sp], Some(note)))
                    }
                    None => Err(LookupError::NotFound(format!("the id {id}"))),
                }
            }
            Err(e) => Err(LookupError::Graph(e)),
        },
    }
}

/// The identity with what it already holds.
pub async fn inspect<T: Transport>(
    client: &Client<T>,
    sp: ServicePrincipal,
) -> Result<Identity, GraphError> {
    let (assignments, roles) = grants(client, &sp.id).await?;
    Ok(Identity {
        service_principal: sp,
        assignments,
        roles,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_is_classified() {
        assert_eq!(Query::parse("  "), None);
        assert!(
            matches!(Query::parse("/subscriptions/x/resourceGroups/r/providers/Microsoft.Automation/automationAccounts/a/"), Some(Query::ResourceId(r)) if !r.ends_with('/'))
        );
        assert_eq!(
            Query::parse("A1B2C3D4-0000-4000-8000-00000000A001"),
            Some(Query::Id("a1b2c3d4-0000-4000-8000-00000000a001".into()))
        );
        assert_eq!(
            Query::parse("contoso-auto"),
            Some(Query::Name("contoso-auto".into()))
        );
    }
}
