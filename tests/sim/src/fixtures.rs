//! The tenants the simulator can start with (`--fixture NAME`).

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use unattended::forge::{self, Flavour, KeySize, Password, Request, UnixTime};

use crate::ids;
use crate::tenant::{
    Application, Domain, EXCHANGE_APP_ID, Home, KeyCredential, MANAGE_AS_APP, ServicePrincipal,
    Tenant, User, roles,
};

/// The page's own SPA registration in every fixture (what `config.json` names as clientId).
pub const SPA_CLIENT_ID: &str = "5b0c6a5e-2d4f-4b8e-9c1a-7e3f9d2b6a10";
/// The fixture tenant's id.
pub const TENANT_ID: &str = "8f2b6c1e-4a3d-4e5f-9b7a-1c2d3e4f5a6b";
/// Microsoft's own services tenant: `appOwnerOrganizationId` of first-party service principals
/// (Exchange Online) and of managed identities.
pub const MICROSOFT_SERVICES_TENANT: &str = "f8cdef31-a31e-4b4a-93e4-5f571e91255a";
/// The Automation account's managed identity: object (principal) id and client id differ.
pub const MI_OBJECT_ID: &str = "a1b2c3d4-0000-4000-8000-00000000a001";
/// The managed identity's client (application) id.
pub const MI_CLIENT_ID: &str = "a1b2c3d4-0000-4000-8000-00000000c001";
/// A user-assigned managed identity attached to the Automation account: object id.
pub const UAMI_OBJECT_ID: &str = "a1b2c3d4-0000-4000-8000-00000000b001";
/// The user-assigned identity's client id.
pub const UAMI_CLIENT_ID: &str = "a1b2c3d4-0000-4000-8000-00000000d001";
/// The existing app of the `existing-app` fixture.
pub const EXISTING_APP_ID: &str = "e0e0e0e0-1111-4222-8333-444455556666";

/// `consultant`: the second customer tenant, Fabrikam.
pub const FABRIKAM_TENANT_ID: &str = "fab1ca7e-0000-4000-8000-00000000fab1";
/// `consultant`: Fabrikam's Global Administrator, `admin@fabrikam.onmicrosoft.com`.
pub const FABRIKAM_ADMIN_ID: &str = "fab1ca7e-0000-4000-8000-00000000a001";
/// `consultant`: Fabrikam's user without a role, `user@fabrikam.onmicrosoft.com`.
pub const FABRIKAM_USER_ID: &str = "fab1ca7e-0000-4000-8000-00000000a002";
/// `consultant`: the consultant's own account, a member of Contoso without admin roles.
pub const CONSULTANT_HOME_ID: &str = "c0c0c0c0-0000-4000-8000-00000000c001";
/// `consultant`: the consultant's B2B guest object in Fabrikam (Global Administrator there).
pub const CONSULTANT_GUEST_ID: &str = "c0c0c0c0-0000-4000-8000-00000000f001";
/// The consultant's sign-in name (their home UPN in Contoso).
pub const CONSULTANT_UPN: &str = "consultant@partner.example";

/// Fixture names, for `--fixture` and the README.
pub const NAMES: [&str; 7] = [
    "default",
    "no-exchange",
    "existing-app",
    "capped-lifetime",
    "big",
    "lifecycle",
    "consultant",
];

/// Builds a fixture: its first tenant (Contoso, what `/organizations`, `/_sim/state` and the
/// test helpers address) and any further customer tenants (`consultant`: Fabrikam).
pub fn build_all(name: &str, redirect_uris: &[String]) -> Option<(Tenant, Vec<Tenant>)> {
    let (mut first, mut others) = if name == "consultant" {
        consultant(redirect_uris)
    } else {
        (build(name, redirect_uris)?, vec![])
    };
    // Every tenant holds Azure Resource Manager's API (`arm_fixtures.rs`).
    for t in std::iter::once(&mut first).chain(others.iter_mut()) {
        crate::arm_fixtures::install_api(t);
    }
    Some((first, others))
}

/// Builds a fixture's first tenant; `redirect_uris` are the page addresses registered on the
/// SPA app.
pub fn build(name: &str, redirect_uris: &[String]) -> Option<Tenant> {
    let mut tenant = contoso(redirect_uris);
    match name {
        "default" => {}
        "consultant" => return Some(consultant(redirect_uris).0),
        "no-exchange" => tenant
            .service_principals
            .retain(|sp| sp.app_id != EXCHANGE_APP_ID),
        "existing-app" => add_existing_app(&mut tenant),
        "capped-lifetime" => tenant.max_certificate_lifetime_days = Some(180),
        "big" => crate::big::enlarge(&mut tenant),
        "lifecycle" => crate::lifecycle::populate(&mut tenant),
        _ => return None,
    }
    Some(tenant)
}

pub(crate) fn user(name: &str, display: &str, roles: &[&str]) -> User {
    User {
        id: ids::guid(),
        user_principal_name: format!("{name}@contoso.onmicrosoft.com"),
        display_name: display.into(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        user_type: None,
        home: None,
    }
}

/// The Office 365 Exchange Online service principal as every tenant with Exchange has it.
fn exchange_sp() -> ServicePrincipal {
    ServicePrincipal {
        id: ids::guid(),
        app_id: EXCHANGE_APP_ID.into(),
        display_name: "Office 365 Exchange Online".into(),
        service_principal_type: "Application".into(),
        app_owner_organization_id: Some(MICROSOFT_SERVICES_TENANT.into()),
        alternative_names: vec![],
        oauth2_permission_scopes: vec![],
        app_roles: std::iter::once(json!({
            "id": MANAGE_AS_APP, "value": "Exchange.ManageAsApp", "isEnabled": true,
            "allowedMemberTypes": ["Application"], "displayName": "Manage Exchange As Application",
            "description": "Allows the app to manage the organization's Exchange environment without any user interaction."
        }))
        // Exchange's mail roles carry Graph's ids (kept apart from Graph's by resource).
        .chain(crate::resources::app_roles(crate::resources::EXCHANGE_MAIL_ROLES))
        .collect(),
    }
}

fn contoso(redirect_uris: &[String]) -> Tenant {
    let exchange = exchange_sp();
    let spa = Application {
        id: ids::guid(),
        app_id: SPA_CLIENT_ID.into(),
        display_name: "unattended (setup page)".into(),
        unique_name: None,
        sign_in_audience: "AzureADMultipleOrgs".into(),
        key_credentials: vec![],
        password_credentials: vec![],
        created_date_time: None,
        required_resource_access: vec![],
        spa: json!({ "redirectUris": redirect_uris }),
    };
    let spa_sp = ServicePrincipal {
        id: ids::guid(),
        app_id: SPA_CLIENT_ID.into(),
        display_name: spa.display_name.clone(),
        service_principal_type: "Application".into(),
        app_owner_organization_id: Some(TENANT_ID.into()),
        alternative_names: vec![],
        app_roles: vec![],
        oauth2_permission_scopes: vec![],
    };
    let automation = ServicePrincipal {
        id: MI_OBJECT_ID.into(),
        app_id: MI_CLIENT_ID.into(),
        display_name: "contoso-automation".into(),
        service_principal_type: "ManagedIdentity".into(),
        app_owner_organization_id: Some(MICROSOFT_SERVICES_TENANT.into()),
        alternative_names: vec![
            "isExplicit=False".into(),
            "/subscriptions/0a1b2c3d-0000-4000-8000-000000000001/resourcegroups/ops/providers/Microsoft.Automation/automationAccounts/contoso-automation".into(),
        ],
        app_roles: vec![],
        oauth2_permission_scopes: vec![],
    };
    let runbooks = ServicePrincipal {
        id: UAMI_OBJECT_ID.into(),
        app_id: UAMI_CLIENT_ID.into(),
        display_name: "ops-runbooks-identity".into(),
        service_principal_type: "ManagedIdentity".into(),
        app_owner_organization_id: Some(MICROSOFT_SERVICES_TENANT.into()),
        alternative_names: vec![
            "isExplicit=True".into(),
            "/subscriptions/0a1b2c3d-0000-4000-8000-000000000001/resourcegroups/ops/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ops-runbooks-identity".into(),
        ],
        app_roles: vec![],
        oauth2_permission_scopes: vec![],
    };
    let mut tenant = Tenant {
        id: TENANT_ID.into(),
        display_name: "Contoso".into(),
        domains: vec![
            Domain {
                name: "contoso.onmicrosoft.com".into(),
                is_initial: true,
                is_default: false,
            },
            Domain {
                name: "contoso.mail.onmicrosoft.com".into(),
                is_initial: false,
                is_default: false,
            },
            Domain {
                name: "contoso.com".into(),
                is_initial: false,
                is_default: true,
            },
        ],
        users: vec![
            user("admin", "Ada Admin", &[roles::GLOBAL_ADMIN]),
            user("pra", "Pat Privileged", &[roles::PRIVILEGED_ROLE_ADMIN]),
            user("appadmin", "Cam Cloud", &[roles::CLOUD_APPLICATION_ADMIN]),
            user("user", "Uma User", &[]),
            user("appdev", "Dev Developer", &[roles::APPLICATION_DEVELOPER]),
            // A Global Administrator with no more than Reader in Azure: Entra roles give no
            // Azure rights (https://learn.microsoft.com/azure/role-based-access-control/elevate-access-global-admin).
            user("gaonly", "Gil Global", &[roles::GLOBAL_ADMIN]),
        ],
        applications: vec![spa],
        service_principals: vec![
            exchange,
            spa_sp,
            automation,
            runbooks,
            crate::grants::graph_sp(),
        ],
        app_role_assignments: vec![],
        role_assignments: vec![],
        max_certificate_lifetime_days: None,
        policy_restrict_after: None,
        credential_sign_ins: vec![],
        consents: vec![],
        permission_grants: vec![],
        groups: vec![],
        role_eligibilities: vec![],
        role_definitions: vec![],
        replication_lag_secs: 0,
        created: Default::default(),
        clock: Default::default(),
        list_lag_secs: 0,
        stale_read_secs: 0,
        born: Default::default(),
        stale: Default::default(),
        sites: vec![],
    };
    // SharePoint Online and the Teams admin API, with Contoso's sites.
    crate::resources::install(&mut tenant);
    tenant
}

/// `consultant`: Contoso (the consultant's home tenant: `partner.example` is one of its verified
/// domains and `consultant@partner.example` a member without admin roles; the page's SPA
/// registration, multi-tenant, declares the page's delegated Graph permissions so
/// `…/.default` names them) and Fabrikam, a second customer tenant where the consultant is a
/// B2B guest holding Global Administrator, with its own admin and user, Exchange Online and no
/// service principal for the page yet (consent creates it).
fn consultant(redirect_uris: &[String]) -> (Tenant, Vec<Tenant>) {
    let mut contoso = contoso(redirect_uris);
    contoso.domains.push(Domain {
        name: "partner.example".into(),
        is_initial: false,
        is_default: false,
    });
    contoso.users.push(User {
        id: CONSULTANT_HOME_ID.into(),
        user_principal_name: CONSULTANT_UPN.into(),
        display_name: "Casey Consultant".into(),
        roles: vec![],
        user_type: None,
        home: None,
    });
    if let Some(spa) = contoso
        .applications
        .iter_mut()
        .find(|a| a.app_id == SPA_CLIENT_ID)
    {
        // Delegated permission ids from Learn's "Microsoft Graph permissions reference".
        spa.required_resource_access = vec![json!({
            "resourceAppId": crate::access::GRAPH_APP_ID,
            "resourceAccess": crate::signin::DELEGATED_IDS
                .iter()
                .map(|(id, _)| json!({ "id": id, "type": "Scope" }))
                .collect::<Vec<_>>(),
        })];
    }
    let person = |id: &str, upn: &str, display: &str, roles: &[&str]| User {
        id: id.into(),
        user_principal_name: upn.into(),
        display_name: display.into(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        user_type: None,
        home: None,
    };
    // A B2B guest's UPN in the resource tenant is the home address with `@` as `_`, then
    // `#EXT#@` and the resource tenant's initial domain (Learn: "Properties of a Microsoft Entra
    // B2B collaboration user": the UPN "contains an #EXT# identifier").
    let guest = User {
        user_type: Some("Guest".into()),
        home: Some(Home {
            tenant_id: TENANT_ID.into(),
            user_id: CONSULTANT_HOME_ID.into(),
            user_principal_name: CONSULTANT_UPN.into(),
        }),
        ..person(
            CONSULTANT_GUEST_ID,
            "consultant_partner.example#EXT#@fabrikam.onmicrosoft.com",
            "Casey Consultant (Partner)",
            &[roles::GLOBAL_ADMIN],
        )
    };
    let mut fabrikam = Tenant {
        id: FABRIKAM_TENANT_ID.into(),
        display_name: "Fabrikam".into(),
        domains: vec![Domain {
            name: "fabrikam.onmicrosoft.com".into(),
            is_initial: true,
            is_default: true,
        }],
        users: vec![
            person(
                FABRIKAM_ADMIN_ID,
                "admin@fabrikam.onmicrosoft.com",
                "Fiona Fabrikam",
                &[roles::GLOBAL_ADMIN],
            ),
            person(
                FABRIKAM_USER_ID,
                "user@fabrikam.onmicrosoft.com",
                "Felix User",
                &[],
            ),
            guest,
        ],
        applications: vec![],
        service_principals: vec![exchange_sp(), crate::grants::graph_sp()],
        ..contoso.clone()
    };
    crate::resources::install(&mut fabrikam);
    fabrikam.app_role_assignments.clear();
    fabrikam.role_assignments.clear();
    fabrikam.consents.clear();
    fabrikam.permission_grants.clear();
    (contoso, vec![fabrikam])
}

/// An app that already has two certificates and other permissions, which every run must keep.
fn add_existing_app(tenant: &mut Tenant) {
    let keys = existing_certificates()[..2]
        .iter()
        .map(|ExistingCert(der, start, end, name)| KeyCredential {
            key_id: Some(ids::guid()),
            kind: "AsymmetricX509Cert".into(),
            usage: "Verify".into(),
            key: Some(STANDARD.encode(der)),
            display_name: Some(format!("CN={name}")),
            start_date_time: Some(start.clone()),
            end_date_time: Some(end.clone()),
            custom_key_identifier: Some(crate::keys::thumbprint_b64(der)),
        })
        .collect();
    let app = Application {
        id: ids::guid(),
        app_id: EXISTING_APP_ID.into(),
        display_name: "Legacy EXO automation".into(),
        unique_name: None,
        sign_in_audience: "AzureADMyOrg".into(),
        key_credentials: keys,
        password_credentials: vec![],
        created_date_time: None,
        required_resource_access: vec![json!({
            "resourceAppId": "00000003-0000-0000-c000-000000000000",
            "resourceAccess": [
                { "id": "e1fe6dd8-ba31-4d61-89e7-88639da4683d", "type": "Scope" },
                { "id": "df021288-bdef-4463-88db-98f22de89214", "type": "Role" }
            ]
        })],
        spa: json!({ "redirectUris": [] }),
    };
    tenant.service_principals.push(ServicePrincipal {
        id: ids::guid(),
        app_id: EXISTING_APP_ID.into(),
        display_name: app.display_name.clone(),
        service_principal_type: "Application".into(),
        app_owner_organization_id: Some(TENANT_ID.into()),
        alternative_names: vec![],
        app_roles: vec![],
        oauth2_permission_scopes: vec![],
    });
    tenant.applications.push(app);
}

/// A certificate already registered on the existing app: DER, notBefore, notAfter, subject.
pub(crate) struct ExistingCert(pub Vec<u8>, pub String, pub String, pub String);

/// Three real certificates (made once per process with the product's forge): two for the
/// `existing-app` fixture, one for `big`'s "Ops EXO automation".
pub(crate) fn existing_certificates() -> &'static [ExistingCert; 3] {
    static CERTS: OnceLock<[ExistingCert; 3]> = OnceLock::new();
    CERTS.get_or_init(|| {
        let make = |name: &str, days: u32| {
            let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
            let request = Request {
                key_size: KeySize::Rsa2048,
                subject: name.into(),
                validity_days: days,
                flavour: Flavour::Modern,
                password: Password::generate(&mut rng),
            };
            let now = UnixTime(u64::try_from(ids::now()).unwrap_or(0));
            match forge::forge(&request, now, &mut rng) {
                Ok(c) => {
                    let cert = &c.certificate;
                    let times = (cert.not_before().rfc3339(), cert.not_after().rfc3339());
                    let (start, end) = (times.0.unwrap_or_default(), times.1.unwrap_or_default());
                    ExistingCert(cert.der().to_vec(), start, end, name.to_owned())
                }
                // The forge cannot fail on these fixed inputs; an empty key would show it.
                Err(_) => ExistingCert(Vec::new(), String::new(), String::new(), name.to_owned()),
            }
        };
        [
            make("legacy-2025", 365),
            make("legacy-2026", 200),
            make("ops-exo-automation", 300),
        ]
    })
}

/// Makes the fixture certificates in the background at start, so the first switch to a fixture
/// that has them (`/_sim/reset`) does not wait for RSA key generation.
pub fn prewarm() {
    std::thread::spawn(|| {
        let _ = existing_certificates();
    });
    std::thread::spawn(|| {
        let _ = crate::lifecycle::certificates();
    });
}
