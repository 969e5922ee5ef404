//! Groups, role-assignable groups, PIM eligibility and custom role definitions: where a user's
//! Entra roles really come from. Graph's permission checks, `/me/transitiveMemberOf`, consent
//! and the `wids` claim use the *active* roles (direct assignments and assignments to a
//! role-assignable group the user is in; Learn: "Use Microsoft Entra groups to manage role
//! assignments"); an eligible (PIM) role counts for nothing until activated (Learn: "What is
//! Microsoft Entra Privileged Identity Management?").

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::tenant::{Tenant, User, roles};

/// A security group; only role-assignable ones can hold directory roles.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// Object id.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// `isAssignableToRole`.
    pub is_assignable_to_role: bool,
    /// Member user ids.
    pub members: Vec<String>,
    /// Role template ids actively assigned to the group.
    pub roles: Vec<String>,
}

/// A PIM eligibility (`unifiedRoleEligibilityScheduleInstance`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleEligibility {
    /// Opaque id.
    pub id: String,
    /// The eligible principal.
    pub principal_id: String,
    /// The role.
    pub role_definition_id: String,
    /// `/` for tenant-wide.
    pub directory_scope_id: String,
    /// `Direct` or `Group`.
    pub member_type: String,
    /// From.
    pub start_date_time: String,
    /// Until (null: permanently eligible).
    pub end_date_time: Option<String>,
}

/// A custom directory role definition (non-template id).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleDefinition {
    /// Id (a fresh GUID, not a template id).
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Always false here.
    pub is_built_in: bool,
}

/// Built-in role template ids the simulator accepts in role assignments.
pub const BUILT_IN: [&str; 16] = [
    roles::GLOBAL_ADMIN,
    roles::PRIVILEGED_ROLE_ADMIN,
    roles::APPLICATION_ADMIN,
    roles::CLOUD_APPLICATION_ADMIN,
    roles::EXCHANGE_ADMIN,
    roles::APPLICATION_DEVELOPER,
    roles::GLOBAL_READER,
    roles::SECURITY_ADMIN,
    roles::SECURITY_READER,
    roles::EXCHANGE_RECIPIENT_ADMIN,
    roles::HELPDESK_ADMIN,
    roles::COMPLIANCE_ADMIN,
    roles::REPORTS_READER,
    roles::SECURITY_OPERATOR,
    roles::SHAREPOINT_ADMIN,
    roles::TEAMS_ADMIN,
];

impl Tenant {
    /// The user's active roles: direct, and through role-assignable groups they belong to.
    pub fn active_roles(&self, user: &User) -> Vec<String> {
        let mut out = user.roles.clone();
        for group in self.groups_of(user) {
            if group.is_assignable_to_role {
                out.extend(group.roles.iter().cloned());
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// The user as authorisation sees them: `roles` = the active roles.
    pub fn with_active_roles(&self, user: &User) -> User {
        User {
            roles: self.active_roles(user),
            ..user.clone()
        }
    }

    fn groups_of<'a>(&'a self, user: &'a User) -> impl Iterator<Item = &'a Group> {
        self.groups
            .iter()
            .filter(move |g| g.members.contains(&user.id))
    }

    /// `/me/transitiveMemberOf`: the groups (in creation order), then the active directory
    /// roles as `#microsoft.graph.directoryRole`.
    pub fn member_of(&self, user: &User) -> Vec<Value> {
        let mut out: Vec<Value> = self
            .groups_of(user)
            .map(|g| {
                json!({
                    "@odata.type": "#microsoft.graph.group",
                    "id": g.id,
                    "displayName": g.display_name,
                    "isAssignableToRole": g.is_assignable_to_role,
                    "securityEnabled": true,
                    "mailEnabled": false,
                    "groupTypes": [],
                })
            })
            .collect();
        out.extend(crate::access::directory_roles(
            &self.with_active_roles(user),
        ));
        out
    }

    /// Whether a role definition id exists in the tenant (built-in template or custom).
    pub fn role_definition_exists(&self, id: &str) -> bool {
        BUILT_IN.contains(&id) || self.role_definitions.iter().any(|r| r.id == id)
    }
}
