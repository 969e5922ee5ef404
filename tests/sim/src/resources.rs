//! The resource service principals the workloads need (Microsoft Graph, Office 365 SharePoint
//! Online, Skype and Teams Tenant Admin API, next to Office 365 Exchange Online), with the app
//! roles (application permissions) each offers, and which resource a client-credentials or
//! managed-identity token is for.
//!
//! Sources: application permission ids of Microsoft Graph from Learn "Microsoft Graph
//! permissions reference" (<https://learn.microsoft.com/graph/permissions-reference>, the
//! *Identifier* column; the same table is generated as
//! `concepts/includes/permissions-ids.md` in microsoftgraph/microsoft-graph-docs-contrib), with
//! their display names and descriptions in that reference's wording. Admin consent to an
//! application permission is an app role assignment on the resource's service principal (Learn:
//! "Grant or revoke API permissions programmatically",
//! <https://learn.microsoft.com/graph/permissions-grant-via-msgraph>). SharePoint's app roles
//! are those the "Office 365 SharePoint Online" service principal publishes in every tenant
//! (`GET /servicePrincipals(appId='00000003-0000-0ff1-ce00-000000000000')?$select=appRoles`);
//! `Sites.FullControl.All` = `678536fe-…` also appears in Learn "SharePoint Embedded
//! authentication and authorization"
//! (<https://learn.microsoft.com/sharepoint/dev/embedded/development/auth>), the others only in
//! published dumps of that service principal — **`Sites.Selected` = `20d37865-…` is not
//! confirmed by any Microsoft page** and is the simulator's choice. The Teams admin API's
//! appId is from Learn "Application-based authentication in Teams PowerShell Module"
//! (<https://learn.microsoft.com/microsoftteams/teams-powershell-application-authentication>);
//! its app roles are not published (the simulator offers none: Teams RBAC comes from the
//! directory role in `wids`).

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::access::GRAPH_APP_ID;
use crate::cloud::Cloud;
use crate::fixtures::MICROSOFT_SERVICES_TENANT;
use crate::ids;
use crate::tenant::{EXCHANGE_APP_ID, ServicePrincipal, Tenant};

/// Office 365 SharePoint Online's appId, the same in every tenant.
pub const SHAREPOINT_APP_ID: &str = "00000003-0000-0ff1-ce00-000000000000";
/// Skype and Teams Tenant Admin API (what Teams PowerShell asks tokens for).
pub const TEAMS_ADMIN_APP_ID: &str = "48ac35b8-9aa8-4d74-927d-1f4a14a0b239";
/// Microsoft Graph's application `Sites.FullControl.All`.
pub const GRAPH_SITES_FULL_CONTROL: &str = "a82116e5-55eb-4c41-a434-62fe8a61c773";
/// Microsoft Graph's application `Sites.Selected`.
pub const GRAPH_SITES_SELECTED: &str = "883ea226-0bf2-4a8f-9f9d-92c9162a727d";
/// Microsoft Graph's application `Mail.Send` (Exchange Online offers the same id).
pub const GRAPH_MAIL_SEND: &str = "b633e1c5-b582-4048-a93e-9f11b44c7e96";
/// SharePoint's application `Sites.FullControl.All` (a different id from Graph's).
pub const SHAREPOINT_SITES_FULL_CONTROL: &str = "678536fe-1083-478a-9c59-b99265e6b0d3";
/// SharePoint's application `Sites.Selected` (unconfirmed by Microsoft: the simulator's choice).
pub const SHAREPOINT_SITES_SELECTED: &str = "20d37865-089c-4dee-8c41-6967602d4ac8";
/// The delegated Graph `Sites.FullControl.All` (admin consent required).
pub const GRAPH_DELEGATED_SITES_FULL_CONTROL: &str = "5a54b8b3-347c-476d-8f8e-42d5c7424d29";

/// An app role: `value`, `id`, `displayName`, `description`.
pub type Role = (&'static str, &'static str, &'static str, &'static str);

/// Microsoft Graph application permissions the simulator's Graph service principal offers.
#[rustfmt::skip]
pub const GRAPH_APP_ROLES: &[Role] = &[
    ("AppCatalog.Read.All", "e12dae10-5a57-4817-b79d-dfbec5348930", "Read all app catalogs", "Allows the app to read apps in the app catalogs without a signed-in user."),
    ("AppCatalog.ReadWrite.All", "dc149144-f292-421e-b185-5953f2e98d7f", "Read and write to all app catalogs", "Allows the app to create, read, update, and delete apps in the app catalogs without a signed-in user."),
    ("Application.Read.All", "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30", "Read all applications", "Allows the app to read all applications and service principals without a signed-in user."),
    ("Application.ReadWrite.All", "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9", "Read and write all applications", "Allows the app to create, read, update and delete applications and service principals without a signed-in user. Does not allow management of consent grants."),
    ("Application.ReadWrite.OwnedBy", "18a4783c-866b-4cc7-a460-3d5e5662c884", "Manage apps that this app creates or owns", "Allows the app to create other applications, and fully manage those applications (read, update, update application secrets and delete), without a signed-in user. It cannot update any apps that it is not an owner of."),
    ("AppRoleAssignment.ReadWrite.All", "06b708a9-e830-4db3-a914-8e69da51d44f", "Manage app permission grants and app role assignments", "Allows the app to manage permission grants for application permissions to any API (including Microsoft Graph) and application assignments for any app, without a signed-in user."),
    ("AuditLog.Read.All", "b0afded3-3588-46d8-8b3d-9842eff778da", "Read all audit log data", "Allows the app to read and query your audit log activities, without a signed-in user."),
    ("Calendars.Read", "798ee544-9d2d-430c-a058-570e29e34338", "Read calendars in all mailboxes", "Allows the app to read events of all calendars without a signed-in user."),
    ("Calendars.ReadWrite", "ef54d2bf-783f-4e0f-bca1-3210c0444d99", "Read and write calendars in all mailboxes", "Allows the app to create, read, update, and delete events of all calendars without a signed-in user."),
    ("Channel.Create", "f3a65bd4-b703-46df-8f7e-0174fea562aa", "Create channels", "Create channels in any team, without a signed-in user."),
    ("Channel.Delete.All", "6a118a39-1227-45d4-af0c-ea7b40d210bc", "Delete channels", "Delete channels in any team, without a signed-in user."),
    ("Channel.ReadBasic.All", "59a6b24b-4225-4393-8165-ebaec5f55d7a", "Read the names and descriptions of all channels", "Read all channel names and channel descriptions, without a signed-in user."),
    ("ChannelMember.Read.All", "3b55498e-47ec-484f-8136-9013221c06a9", "Read the members of all channels", "Read the members of all channels, without a signed-in user."),
    ("ChannelMember.ReadWrite.All", "35930dcf-aceb-4bd1-b99a-8ffed403c974", "Add and remove members from all channels", "Add and remove members from all channels, without a signed-in user. Also allows changing a member's role, for example from owner to non-owner."),
    ("ChannelSettings.Read.All", "c97b873f-f59f-49aa-8a0e-52b32d762124", "Read the names, descriptions, and settings of all channels", "Read all channel names, channel descriptions, and channel settings, without a signed-in user."),
    ("ChannelSettings.ReadWrite.All", "243cded2-bd16-4fd6-a953-ff8177894c3d", "Read and write the names, descriptions, and settings of all channels", "Read and write the names, descriptions, and settings of all channels, without a signed-in user."),
    ("Contacts.Read", "089fe4d0-434a-44c5-8827-41ba8a0b17f5", "Read contacts in all mailboxes", "Allows the app to read all contacts in all mailboxes without a signed-in user."),
    ("Contacts.ReadWrite", "6918b873-d17a-4dc1-b314-35f528134491", "Read and write contacts in all mailboxes", "Allows the app to create, read, update, and delete all contacts in all mailboxes without a signed-in user."),
    ("DelegatedPermissionGrant.ReadWrite.All", "8e8e4742-1d95-4f68-9d56-6ee75648c72a", "Manage all delegated permission grants", "Allows the app to manage permission grants for delegated permissions exposed by any API (including Microsoft Graph), without a signed-in user."),
    ("Device.Read.All", "7438b122-aefc-4978-80ed-43db9fcc7715", "Read all devices", "Allows the app to read your organization's devices' configuration information without a signed-in user."),
    ("Directory.Read.All", "7ab1d382-f21e-4acd-a863-ba3e13f7da61", "Read directory data", "Allows the app to read data in your organization's directory, such as users, groups and apps, without a signed-in user."),
    ("Directory.ReadWrite.All", "19dbc75e-c2e2-444c-a770-ec69d8559fc7", "Read and write directory data", "Allows the app to read and write data in your organization's directory, such as users, and groups, without a signed-in user. Does not allow user or group deletion."),
    ("Domain.Read.All", "dbb9058a-0e50-45d7-ae91-66909b5d4664", "Read domains", "Allows the app to read all domain properties without a signed-in user."),
    ("Domain.ReadWrite.All", "7e05723c-0bb0-42da-be95-ae9f08a6e53c", "Read and write domains", "Allows the app to read and write all domain properties without a signed in user. Also allows the app to add, verify and remove domains."),
    ("Files.Read.All", "01d4889c-1287-42c6-ac1f-5d1e02578ef6", "Read files in all site collections", "Allows the app to read all files in all site collections without a signed in user."),
    ("Files.ReadWrite.All", "75359482-378d-4052-8f01-80520e7db3cd", "Read and write files in all site collections", "Allows the app to read, create, update and delete all files in all site collections without a signed in user."),
    ("Group.Create", "bf7b1a76-6e77-406b-b258-bf5c7720e98f", "Create groups", "Allows the app to create groups without a signed-in user."),
    ("Group.Read.All", "5b567255-7703-4780-807c-7be8301ae99b", "Read all groups", "Allows the app to read group properties and memberships, and read conversations for all groups, without a signed-in user."),
    ("Group.ReadWrite.All", "62a82d76-70ea-41e2-9197-370581804d09", "Read and write all groups", "Allows the app to create groups, read all group properties and memberships, update group properties and memberships, and delete groups. Also allows the app to read and write conversations. All of these operations can be performed by the app without a signed-in user."),
    ("GroupMember.Read.All", "98830695-27a2-44f7-8c18-0c3ebc9698f6", "Read all group memberships", "Allows the app to read memberships and basic group properties for all groups without a signed-in user."),
    ("GroupMember.ReadWrite.All", "dbaae8cf-10b5-4b86-a4a1-f871c94c6695", "Read and write all group memberships", "Allows the app to list groups, read basic properties, read and update the membership of the groups this app has access to without a signed-in user. Group properties and owners cannot be updated and groups cannot be deleted."),
    ("Mail.Read", "810c84a8-4a9e-49e6-bf7d-12d183f40d01", "Read mail in all mailboxes", "Allows the app to read mail in all mailboxes without a signed-in user."),
    ("Mail.ReadBasic", "6be147d2-ea4f-4b5a-a3fa-3eab6f3c140a", "Read basic mail in all mailboxes", "Allows the app to read basic mail properties in all mailboxes without a signed-in user. Includes all properties except body, previewBody, attachments and any extended properties."),
    ("Mail.ReadBasic.All", "693c5e45-0940-467d-9b8a-1022fb9d42ef", "Read basic mail in all mailboxes", "Allows the app to read basic mail properties in all mailboxes without a signed-in user. Includes all properties except body, previewBody, attachments and any extended properties."),
    ("Mail.ReadWrite", "e2a3a72e-5f79-4c64-b1b1-878b674786c9", "Read and write mail in all mailboxes", "Allows the app to create, read, update, and delete mail in all mailboxes without a signed-in user. Does not include permission to send mail."),
    ("Mail.Send", GRAPH_MAIL_SEND, "Send mail as any user", "Allows the app to send mail as any user without a signed-in user."),
    ("MailboxSettings.Read", "40f97065-369a-49f4-947c-6a255697ae91", "Read all user mailbox settings", "Allows the app to read user's mailbox settings without a signed-in user. Does not include permission to send mail."),
    ("MailboxSettings.ReadWrite", "6931bccd-447a-43d1-b442-00a195474933", "Read and write all user mailbox settings", "Allows the app to create, read, update, and delete user's mailbox settings without a signed-in user. Does not include permission to send mail."),
    ("Organization.Read.All", "498476ce-e0fe-48b0-b801-37ba7e2685c6", "Read organization information", "Allows the app to read the organization and related resources, without a signed-in user. Related resources include things like subscribed skus and tenant branding information."),
    ("Organization.ReadWrite.All", "292d869f-3427-49a8-9dab-8c70152b74e9", "Read and write organization information", "Allows the app to read and write the organization and related resources, without a signed-in user. Related resources include things like subscribed skus and tenant branding information."),
    ("People.Read.All", "b528084d-ad10-4598-8b93-929746b4d7d6", "Read all users' relevant people lists", "Allows the app to read any user's scored list of relevant people, without a signed-in user. The list can include local contacts, contacts from social networking, your organization's directory, and people from recent communications (such as email and Skype)."),
    ("Policy.Read.All", "246dd0d5-5bd0-4def-940b-0421030a5b68", "Read your organization's policies", "Allows the app to read all your organization's policies without a signed in user."),
    ("Policy.ReadWrite.ApplicationConfiguration", "be74164b-cff1-491c-8741-e671cb536e13", "Read and write your organization's application configuration policies", "Allows the app to read and write your organization's application configuration policies, without a signed-in user. This includes policies such as activityBasedTimeoutPolicy, claimsMappingPolicy, homeRealmDiscoveryPolicy, tokenIssuancePolicy and tokenLifetimePolicy."),
    ("Reports.Read.All", "230c1aed-a721-4c5d-9cb4-a90514e508ef", "Read all usage reports", "Allows an app to read all service usage reports without a signed-in user. Services that provide usage reports include Office 365 and Azure Active Directory."),
    ("RoleManagement.Read.Directory", "483bed4a-2ad3-4361-a73b-c83ccdbdc53c", "Read all directory RBAC settings", "Allows the app to read the role-based access control (RBAC) settings for your company's directory, without a signed-in user. This includes reading directory role templates, directory roles and memberships."),
    ("RoleManagement.ReadWrite.Directory", "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8", "Read and write all directory RBAC settings", "Allows the app to read and manage the role-based access control (RBAC) settings for your company's directory, without a signed-in user. This includes instantiating directory roles and managing directory role membership, and reading directory role templates, directory roles and memberships."),
    ("SecurityEvents.Read.All", "bf394140-e372-4bf9-a898-299cfc7564e5", "Read your organization's security events", "Allows the app to read your organization's security events without a signed-in user."),
    ("ServiceHealth.Read.All", "79c261e0-fe76-4144-aad5-bdc68fbe4037", "Read service health", "Allows the app to read your tenant's service health information, without a signed-in user. Health information may include service issues or service health overviews."),
    ("ServiceMessage.Read.All", "1b620472-6534-4fe6-9df2-4680e8aa28ec", "Read service messages", "Allows the app to read your tenant's service announcement messages, without a signed-in user. Messages may include information about new or changed features."),
    ("SharePointTenantSettings.Read.All", "83d4163d-a2d8-4d3b-9695-4ae3ca98f888", "Read SharePoint and OneDrive tenant settings", "Allows the application to read the tenant-level settings of SharePoint and OneDrive, without a signed-in user."),
    ("SharePointTenantSettings.ReadWrite.All", "19b94e34-907c-4f43-bde9-38b1909ed408", "Read and change SharePoint and OneDrive tenant settings", "Allows the application to read and change the tenant-level settings of SharePoint and OneDrive, without a signed-in user."),
    ("Sites.FullControl.All", GRAPH_SITES_FULL_CONTROL, "Have full control of all site collections", "Allows the app to have full control of all site collections without a signed in user."),
    ("Sites.Manage.All", "0c0bf378-bf22-4481-8f81-9e89a9b4960a", "Create, edit, and delete items and lists in all site collections", "Allows the app to create or delete document libraries and lists in all site collections without a signed in user."),
    ("Sites.Read.All", "332a536c-c7ef-4017-ab91-336970924f0d", "Read items in all site collections", "Allows the app to read documents and list items in all site collections without a signed in user."),
    ("Sites.ReadWrite.All", "9492366f-7969-46a4-8d15-ed1a20078fff", "Read and write items in all site collections", "Allows the app to create, read, update, and delete documents and list items in all site collections without a signed in user."),
    ("Sites.Selected", GRAPH_SITES_SELECTED, "Access selected site collections", "Allow the application to access a subset of site collections without a signed in user. The specific site collections and the permissions granted will be configured in SharePoint Online."),
    ("Team.Create", "23fc2474-f741-46ce-8465-674744c5c361", "Create teams", "Allows the app to create teams without a signed-in user."),
    ("Team.ReadBasic.All", "2280dda6-0bfd-44ee-a2f4-cb867cfc4c1e", "Get a list of all teams", "Get a list of all teams, without a signed-in user."),
    ("TeamMember.Read.All", "660b7406-55f1-41ca-a0ed-0b035e182f3e", "Read the members of all teams", "Read the members of all teams, without a signed-in user."),
    ("TeamMember.ReadWrite.All", "0121dc95-1b9f-4aed-8bac-58c5ac466691", "Add and remove members from all teams", "Add and remove members from all teams, without a signed-in user. Also allows changing a team member's role, for example from owner to non-owner."),
    ("TeamSettings.Read.All", "242607bd-1d2c-432c-82eb-bdb27baa23ab", "Read all teams' settings", "Read all team's settings, without a signed-in user."),
    ("TeamSettings.ReadWrite.All", "bdd80a03-d9bc-451d-b7c4-ce7c63fe3c8f", "Read and change all teams' settings", "Read and change all teams' settings, without a signed-in user."),
    ("TermStore.Read.All", "ea047cc2-df29-4f3e-83a3-205de61501ca", "Read all term store data", "Allows the app to read all term store data, without a signed-in user. This includes all sets, groups and terms in the term store."),
    ("User.Invite.All", "09850681-111b-4a89-9bed-3f2cae46d706", "Invite guest users to the organization", "Allows the app to invite guest users to the organization, without a signed-in user."),
    ("User.Read.All", "df021288-bdef-4463-88db-98f22de89214", "Read all users' full profiles", "Allows the app to read user profiles without a signed in user."),
    ("User.ReadBasic.All", "97235f07-e226-4f63-ace3-39588e11d3a1", "Read all users' basic profiles", "Allows the app to read a basic set of profile properties of other users in your organization without a signed-in user. Includes display name, first and last name, email address, open extensions, and photo."),
    ("User.ReadWrite.All", "741f803b-c850-494e-b5df-cde7c675a1ca", "Read and write all users' full profiles", "Allows the app to read and update user profiles without a signed in user."),
    ("UserAuthenticationMethod.Read.All", "38d9df27-64da-44fd-b7c5-a6fbac20248f", "Read all users' authentication methods", "Allows the app to read authentication methods of all users in your organization, without a signed-in user. Authentication methods include things like a user's phone numbers and Authenticator app settings. This does not allow the app to see secret information like passwords, or to sign-in or otherwise use the authentication methods."),
    ("UserAuthenticationMethod.ReadWrite.All", "50483e42-d915-4231-9639-7fdb7fd190e5", "Read and write all users' authentication methods", "Allows the application to read and write authentication methods of all users in your organization, without a signed-in user. Authentication methods include things like a user's phone numbers and Authenticator app settings. This does not allow the app to see secret information like passwords, or to sign-in or otherwise use the authentication methods."),
];

/// The Office 365 SharePoint Online service principal's app roles (its published `appRoles`;
/// `User.Read.All` and `User.ReadWrite.All` reuse Graph's ids, as the published ones do).
#[rustfmt::skip]
pub const SHAREPOINT_APP_ROLES: &[Role] = &[
    ("Sites.FullControl.All", SHAREPOINT_SITES_FULL_CONTROL, "Have full control of all site collections", "Allows the app to have full control of all site collections without a signed in user."),
    ("Sites.Manage.All", "9bff6588-13f2-4c48-bbf2-ddab62256b36", "Read and write items and lists in all site collections", "Allows the app to read, create, update, and delete document libraries and lists in all site collections without a signed in user."),
    ("Sites.Read.All", "d13f72ca-a275-4b96-b789-48ebcc4da984", "Read items in all site collections", "Allows the app to read documents and list items in all site collections without a signed in user."),
    ("Sites.ReadWrite.All", "fbcd29d2-fcca-4405-aded-518d457caae4", "Read and write items in all site collections", "Allows the app to create, read, update, and delete documents and list items in all site collections without a signed in user."),
    ("Sites.Selected", SHAREPOINT_SITES_SELECTED, "Access selected site collections", "Allow the application to access a subset of site collections without a signed in user. The specific site collections and the permissions granted will be configured in SharePoint Online."),
    ("TermStore.Read.All", "2a8d57a5-4090-4a41-bf1c-3c621d2ccad3", "Read managed metadata", "Allows the app to read enterprise managed metadata and to read basic site info without a signed in user."),
    ("TermStore.ReadWrite.All", "c8e3537c-ec53-43b9-bed3-b2bd3617ae97", "Read and write managed metadata", "Allows the app to write enterprise managed metadata and to read basic site info without a signed in user."),
    ("User.Read.All", "df021288-bdef-4463-88db-98f22de89214", "Read user profiles", "Allows the app to read user profiles without a signed in user."),
    ("User.ReadWrite.All", "741f803b-c850-494e-b5df-cde7c675a1ca", "Read and write user profiles", "Allows the app to read and update user profiles and to read basic site info without a signed in user."),
];

/// Mail app roles Office 365 Exchange Online offers besides `Exchange.ManageAsApp`, with the
/// same ids as Graph's (as Exchange Online's published `appRoles` have them): a grant on one
/// resource must never show in the other's tokens.
#[rustfmt::skip]
pub const EXCHANGE_MAIL_ROLES: &[Role] = &[
    ("Mail.Read", "810c84a8-4a9e-49e6-bf7d-12d183f40d01", "Read mail in all mailboxes", "Allows the app to read mail in all mailboxes without a signed-in user."),
    ("Mail.ReadWrite", "e2a3a72e-5f79-4c64-b1b1-878b674786c9", "Read and write mail in all mailboxes", "Allows the app to create, read, update, and delete mail in all mailboxes without a signed-in user. Does not include permission to send mail."),
    ("Mail.Send", GRAPH_MAIL_SEND, "Send mail as any user", "Allows the app to send mail as any user without a signed-in user."),
];

/// App roles as Graph returns them in `appRoles`.
pub fn app_roles(roles: &[Role]) -> Vec<Value> {
    roles
        .iter()
        .map(|(value, id, display, description)| {
            json!({
                "id": id, "value": value, "displayName": display, "description": description,
                "allowedMemberTypes": ["Application"], "isEnabled": true, "origin": "Application",
            })
        })
        .collect()
}

fn first_party(app_id: &str, name: &str, roles: Vec<Value>) -> ServicePrincipal {
    ServicePrincipal {
        id: ids::guid(),
        app_id: app_id.into(),
        display_name: name.into(),
        service_principal_type: "Application".into(),
        app_owner_organization_id: Some(MICROSOFT_SERVICES_TENANT.into()),
        alternative_names: vec![],
        app_roles: roles,
        oauth2_permission_scopes: vec![],
    }
}

/// Office 365 SharePoint Online's service principal.
pub fn sharepoint_sp() -> ServicePrincipal {
    first_party(
        SHAREPOINT_APP_ID,
        "Office 365 SharePoint Online",
        app_roles(SHAREPOINT_APP_ROLES),
    )
}

/// Skype and Teams Tenant Admin API's service principal (no app roles: the simulator's choice).
pub fn teams_admin_sp() -> ServicePrincipal {
    first_party(
        TEAMS_ADMIN_APP_ID,
        "Skype and Teams Tenant Admin API",
        vec![],
    )
}

/// The first label of the tenant's initial domain (`contoso` for `contoso.onmicrosoft.com`):
/// the SharePoint host prefix.
pub fn tenant_prefix(tenant: &Tenant) -> String {
    tenant
        .initial_domain()
        .and_then(|d| d.split('.').next())
        .unwrap_or("contoso")
        .to_ascii_lowercase()
}

/// Adds SharePoint's and the Teams admin API's service principals and the SharePoint sites to a
/// tenant (every fixture tenant has them).
pub fn install(tenant: &mut Tenant) {
    tenant.service_principals.push(sharepoint_sp());
    tenant.service_principals.push(teams_admin_sp());
    tenant.sites = crate::sites::fixture_sites(&tenant_prefix(tenant));
}

/// A stable GUID made from `seed` (site collection and web ids, the same after every reset).
pub fn stable_guid(seed: &str) -> String {
    let h = Sha256::digest(seed.as_bytes());
    let hex: String = h.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-4{}-8{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// The resource a client-credentials scope (without `/.default`) or a managed-identity
/// `resource` names: its appId and the `aud` its tokens carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience {
    /// The resource's appId (whose service principal must exist in the tenant).
    pub app_id: &'static str,
    /// The token's `aud`.
    pub aud: String,
}

/// Which resource `resource` names in this cloud, or `None` (another cloud's resource, an
/// unknown one). Exchange: the cloud's Exchange host or its appId (aud the host). Graph: the
/// cloud's Graph host or its appId (aud the host). SharePoint: `https://{prefix}.{suffix}`,
/// `https://{prefix}-admin.{suffix}`, `https://{prefix}-my.{suffix}` (aud that URL) or its
/// appId (aud the root host). Teams admin API: its appId (aud the appId).
pub fn resolve(tenant: &Tenant, resource: &str, cloud: Cloud) -> Option<Audience> {
    let resource = resource.trim_end_matches('/');
    let is = |a: &str| resource.eq_ignore_ascii_case(a);
    if is(cloud.exchange()) || resource == EXCHANGE_APP_ID {
        return Some(Audience {
            app_id: EXCHANGE_APP_ID,
            aud: cloud.exchange().to_owned(),
        });
    }
    if is(cloud.graph()) || resource == GRAPH_APP_ID {
        return Some(Audience {
            app_id: GRAPH_APP_ID,
            aud: cloud.graph().to_owned(),
        });
    }
    let prefix = tenant_prefix(tenant);
    let suffix = cloud.sharepoint_suffix();
    let root = format!("https://{prefix}.{suffix}");
    if resource == SHAREPOINT_APP_ID {
        return Some(Audience {
            app_id: SHAREPOINT_APP_ID,
            aud: root,
        });
    }
    for host in [
        root.clone(),
        format!("https://{prefix}-admin.{suffix}"),
        format!("https://{prefix}-my.{suffix}"),
    ] {
        if is(&host) {
            return Some(Audience {
                app_id: SHAREPOINT_APP_ID,
                aud: host,
            });
        }
    }
    if resource.eq_ignore_ascii_case(TEAMS_ADMIN_APP_ID) {
        return Some(Audience {
            app_id: TEAMS_ADMIN_APP_ID,
            aud: TEAMS_ADMIN_APP_ID.to_owned(),
        });
    }
    None
}

impl Tenant {
    /// Takes the service principals of these resource appIds out of the tenant (a tenant without
    /// that service: `/_sim/reset {"missingResources": [...]}`), with the app role assignments on
    /// them; without SharePoint Online the tenant has no sites either.
    pub fn remove_resources(&mut self, app_ids: &[String]) {
        let gone: Vec<String> = self
            .service_principals
            .iter()
            .filter(|sp| app_ids.iter().any(|a| a.eq_ignore_ascii_case(&sp.app_id)))
            .map(|sp| sp.id.clone())
            .collect();
        self.service_principals.retain(|sp| !gone.contains(&sp.id));
        self.app_role_assignments
            .retain(|a| !gone.contains(&a.resource_id));
        if app_ids
            .iter()
            .any(|a| a.eq_ignore_ascii_case(SHAREPOINT_APP_ID))
        {
            self.sites.clear();
        }
    }
}
