//! The `lifecycle` fixture: the default tenant on "day two", with apps whose certificates are
//! healthy, expired, about to expire, longer than the tenant's policy, or joined by a client
//! secret; usage history in the credential report; decoys that touch Exchange Online without
//! holding `Exchange.ManageAsApp`; enough other grants on the Exchange service principal that
//! `appRoleAssignedTo` spans two pages; a multi-tenant vendor app; and users who may or may not
//! read the report. `GET /_sim/fixture` lists the facts tests need, `GET
//! /_sim/fixture/key/{keyId}` hands a fixture certificate's private key to tests (never to the
//! page).

use std::sync::OnceLock;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::RsaPrivateKey;
use rsa::pkcs8::EncodePrivateKey;
use serde_json::{Value, json};
use unattended::forge::{self, Flavour, KeySize, Password, Request, UnixTime};

use crate::fixtures::{MI_OBJECT_ID, TENANT_ID, user};
use crate::graph::{Shared, lock};
use crate::ids;
use crate::report::CredentialSignIn;
use crate::tenant::{
    AppRoleAssignment, Application, EXCHANGE_APP_ID, KeyCredential, MANAGE_AS_APP,
    PasswordCredential, RoleAssignment, ServicePrincipal, Tenant, roles,
};

/// `full_access_as_app` (EWS full access) on Office 365 Exchange Online: an Exchange app role
/// that is not `Exchange.ManageAsApp`.
pub const FULL_ACCESS_AS_APP: &str = "dc890d15-9560-4a4c-9b7f-a736ec74ec40";
/// The vendor's home tenant (a multi-tenant app whose application object lives there).
pub const VENDOR_TENANT: &str = "3c1f5e7a-9b2d-4c6e-8f0a-1b2c3d4e5f60";
/// "Mail connector NNN" service principals holding `full_access_as_app`.
pub const CONNECTORS: usize = 130;
const DAY: i64 = 86_400;

/// One fixture certificate: who has it, its subject, how long ago it was made and for how many
/// days.
struct Spec {
    subject: &'static str,
    made_days_ago: i64,
    validity_days: u32,
}

const SPECS: [Spec; 7] = [
    // 0: Payroll mailbox export, 300 days left.
    Spec {
        subject: "payroll-mailbox-export",
        made_days_ago: 60,
        validity_days: 360,
    },
    // 1: Legacy EXO reports, expired 20 days ago.
    Spec {
        subject: "legacy-exo-reports-2024",
        made_days_ago: 385,
        validity_days: 365,
    },
    // 2: Legacy EXO reports, 200 days left, never used.
    Spec {
        subject: "legacy-exo-reports-2025",
        made_days_ago: 160,
        validity_days: 360,
    },
    // 3: Nightly mailbox audit, 12 days left, used yesterday.
    Spec {
        subject: "nightly-mailbox-audit-old",
        made_days_ago: 348,
        validity_days: 360,
    },
    // 4: Nightly mailbox audit, 340 days left, never used.
    Spec {
        subject: "nightly-mailbox-audit-new",
        made_days_ago: 20,
        validity_days: 360,
    },
    // 5: Helpdesk automation, 200 days left.
    Spec {
        subject: "helpdesk-automation",
        made_days_ago: 100,
        validity_days: 300,
    },
    // 6: Archive exporter, two years (longer than the tenant's 365-day policy).
    Spec {
        subject: "archive-exporter",
        made_days_ago: 30,
        validity_days: 730,
    },
];

/// A fixture certificate with its key (kept for tests that sign client assertions).
pub struct Cert {
    /// The RSA key.
    pub key: RsaPrivateKey,
    /// The certificate.
    pub certificate: forge::Certificate,
}

/// The fixture certificates, made once per process with the product's forge (in the background
/// at start, see `fixtures::prewarm`).
pub fn certificates() -> &'static [Cert] {
    static CERTS: OnceLock<Vec<Cert>> = OnceLock::new();
    CERTS.get_or_init(|| {
        SPECS
            .iter()
            .filter_map(|spec| {
                let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
                let key = forge::generate_key(KeySize::Rsa2048, &mut rng).ok()?;
                let request = Request {
                    key_size: KeySize::Rsa2048,
                    subject: spec.subject.into(),
                    validity_days: spec.validity_days,
                    flavour: Flavour::Modern,
                    password: Password::generate(&mut rng),
                };
                let made = ids::now() - spec.made_days_ago * DAY;
                let now = UnixTime(u64::try_from(made).unwrap_or(0));
                let credential = forge::forge_with_key(&key, &request, now, &mut rng).ok()?;
                Some(Cert {
                    key,
                    certificate: credential.certificate,
                })
            })
            .collect()
    })
}

/// The fixed `keyId` of fixture certificate `i`.
pub fn key_id(i: usize) -> String {
    format!("c0de0000-0000-4000-8000-{:012x}", i + 1)
}

/// A fixed object id: `kind` 1 applications, 2 service principals, 3 appIds.
fn fixed(kind: u32, n: usize) -> String {
    format!("1f0e{kind:04x}-0000-4000-8000-{n:012x}")
}

fn key_credential(i: usize) -> Option<KeyCredential> {
    let cert = &certificates().get(i)?.certificate;
    Some(KeyCredential {
        key_id: Some(key_id(i)),
        kind: "AsymmetricX509Cert".into(),
        usage: "Verify".into(),
        key: Some(STANDARD.encode(cert.der())),
        display_name: Some(format!("CN={}", SPECS[i].subject)),
        start_date_time: cert.not_before().rfc3339().ok(),
        end_date_time: cert.not_after().rfc3339().ok(),
        custom_key_identifier: Some(crate::keys::thumbprint_b64(cert.der())),
    })
}

/// An app of the fixture: name, certificates (indexes into `SPECS`), a client secret, days since
/// creation, the Entra role its service principal holds, and when each credential was last used
/// (days ago, `None`: never).
struct App {
    name: &'static str,
    certs: &'static [(usize, Option<i64>)],
    secret: Option<i64>,
    created_days_ago: i64,
    role: &'static str,
}

const PAYROLL: App = App {
    name: "Payroll mailbox export",
    certs: &[(0, Some(3))],
    secret: None,
    created_days_ago: 60,
    role: roles::EXCHANGE_ADMIN,
};
const LEGACY: App = App {
    name: "Legacy EXO reports",
    certs: &[(1, Some(25)), (2, None)],
    secret: None,
    created_days_ago: 400,
    role: roles::EXCHANGE_ADMIN,
};
const HELPDESK: App = App {
    name: "Helpdesk automation",
    certs: &[(5, Some(2))],
    secret: Some(5),
    created_days_ago: 100,
    role: roles::EXCHANGE_RECIPIENT_ADMIN,
};
const NIGHTLY: App = App {
    name: "Nightly mailbox audit",
    certs: &[(3, Some(1)), (4, None)],
    secret: None,
    created_days_ago: 350,
    role: roles::EXCHANGE_ADMIN,
};
const ARCHIVE: App = App {
    name: "Archive exporter",
    certs: &[(6, Some(7))],
    secret: None,
    created_days_ago: 420,
    role: roles::GLOBAL_READER,
};

/// The vendor app's display name (service principal only; its application is in another
/// tenant).
pub const VENDOR_APP: &str = "Fabrikam Mail Archiver";
/// The decoy that declares `Exchange.ManageAsApp` but was never granted it.
pub const DECLARED_ONLY: &str = "Mailbox search (declared only)";
/// The decoy holding `full_access_as_app` instead.
pub const FULL_ACCESS_DECOY: &str = "EWS mail sync";
/// The secret's keyId on "Helpdesk automation".
pub const HELPDESK_SECRET_KEY_ID: &str = "5ec0e700-0000-4000-8000-000000000001";
/// The keyId of a certificate "Payroll mailbox export" had until 40 days ago: the report still
/// lists its last use (the report outlives the credential).
pub const REMOVED_KEY_ID: &str = "c0de0000-0000-4000-8000-0000000000ff";

struct Builder<'a> {
    tenant: &'a mut Tenant,
    now: i64,
    exchange: String,
    n: usize,
}

impl Builder<'_> {
    fn days_ago(&self, days: i64) -> i64 {
        self.now - days * DAY
    }

    fn grant(&mut self, sp: &ServicePrincipal, role: &str, days_ago: i64) {
        self.tenant.app_role_assignments.push(AppRoleAssignment {
            id: ids::opaque_id(),
            app_role_id: role.into(),
            principal_id: sp.id.clone(),
            principal_display_name: sp.display_name.clone(),
            principal_type: "ServicePrincipal".into(),
            created_date_time: Some(ids::rfc3339(self.days_ago(days_ago))),
            resource_id: self.exchange.clone(),
            resource_display_name: "Office 365 Exchange Online".into(),
        });
    }

    fn role(&mut self, principal: &str, role: &str) {
        self.tenant.role_assignments.push(RoleAssignment {
            id: ids::opaque_id(),
            role_definition_id: role.into(),
            principal_id: principal.into(),
            directory_scope_id: "/".into(),
        });
    }

    fn sp(&mut self, app_id: &str, name: &str, owner: &str) -> ServicePrincipal {
        self.n += 1;
        let sp = ServicePrincipal {
            id: fixed(2, self.n),
            app_id: app_id.into(),
            display_name: name.into(),
            service_principal_type: "Application".into(),
            app_owner_organization_id: Some(owner.into()),
            alternative_names: vec![],
            app_roles: vec![],
            oauth2_permission_scopes: vec![],
        };
        self.tenant.service_principals.push(sp.clone());
        sp
    }

    /// An application with its service principal (not yet granted anything).
    fn app(&mut self, spec: &App, declares: bool) -> ServicePrincipal {
        self.n += 1;
        let app_id = fixed(3, self.n);
        let created = self.days_ago(spec.created_days_ago);
        let mut app = Application {
            id: fixed(1, self.n),
            app_id: app_id.clone(),
            display_name: spec.name.into(),
            unique_name: None,
            sign_in_audience: "AzureADMyOrg".into(),
            key_credentials: spec
                .certs
                .iter()
                .filter_map(|(i, _)| key_credential(*i))
                .collect(),
            password_credentials: vec![],
            created_date_time: Some(ids::rfc3339(created)),
            required_resource_access: vec![],
            spa: json!({ "redirectUris": [] }),
        };
        if declares {
            app.required_resource_access = vec![json!({
                "resourceAppId": EXCHANGE_APP_ID,
                "resourceAccess": [{ "id": MANAGE_AS_APP, "type": "Role" }]
            })];
        }
        if let Some(used) = spec.secret {
            let start = self.days_ago(spec.created_days_ago);
            app.password_credentials.push(PasswordCredential {
                key_id: HELPDESK_SECRET_KEY_ID.into(),
                display_name: Some("helpdesk-runbook".into()),
                hint: Some("Hd8".into()),
                start_date_time: ids::rfc3339(start),
                end_date_time: ids::rfc3339(start + 365 * DAY),
                custom_key_identifier: None,
                secret_text: Some("Hd8~simulated.client.secret.not-for-use".into()),
            });
            self.used(&app, HELPDESK_SECRET_KEY_ID, "clientSecret", used);
        }
        for (i, used) in spec.certs {
            if let Some(days) = used {
                self.used(&app, &key_id(*i), "certificate", *days);
            }
        }
        self.tenant.applications.push(app);
        let sp = self.sp(&app_id, spec.name, TENANT_ID);
        // The report's entries name the service principal: fill it in now that it exists.
        for e in &mut self.tenant.credential_sign_ins {
            if e.app_id == app_id {
                e.service_principal_object_id = sp.id.clone();
            }
        }
        sp
    }

    /// A past sign-in of `app` with credential `key_id`, `days` ago.
    fn used(&mut self, app: &Application, key_id: &str, key_type: &str, days: i64) {
        let (start, end) = app
            .key_credentials
            .iter()
            .find(|k| k.key_id.as_deref() == Some(key_id))
            .map(|k| (k.start_date_time.clone(), k.end_date_time.clone()))
            .or_else(|| {
                app.password_credentials
                    .iter()
                    .find(|p| p.key_id == key_id)
                    .map(|p| {
                        (
                            Some(p.start_date_time.clone()),
                            Some(p.end_date_time.clone()),
                        )
                    })
            })
            .unwrap_or((None, None));
        self.tenant.credential_sign_ins.push(CredentialSignIn {
            key_id: key_id.into(),
            key_type: key_type.into(),
            app_id: app.app_id.clone(),
            app_object_id: app.id.clone(),
            service_principal_object_id: String::new(),
            resource_id: EXCHANGE_APP_ID.into(),
            expiration_date_time: end,
            created_date_time: start,
            at: self.days_ago(days),
            request_id: ids::guid(),
        });
    }
}

/// Adds the `lifecycle` content to the default tenant.
pub fn populate(tenant: &mut Tenant) {
    let now = ids::now();
    tenant.max_certificate_lifetime_days = Some(365);
    // After "Archive exporter" and "Legacy EXO reports" were made, before "Payroll mailbox
    // export": the two older apps are exempt (Learn: "keyCredentialConfiguration resource type",
    // restrictForAppsCreatedAfterDateTime).
    tenant.policy_restrict_after = Some(now - 300 * DAY);
    tenant
        .users
        .push(user("reader", "Rey Reader", &[roles::REPORTS_READER]));
    let exchange = match tenant
        .service_principals
        .iter_mut()
        .find(|sp| sp.app_id == EXCHANGE_APP_ID)
    {
        Some(sp) => {
            sp.app_roles.push(json!({
                "id": FULL_ACCESS_AS_APP, "value": "full_access_as_app", "isEnabled": true,
                "allowedMemberTypes": ["Application"], "displayName": "Use Exchange Web Services with full access to all mailboxes",
                "description": "Allows the app to have full access via Exchange Web Services to all mailboxes without a signed-in user."
            }));
            sp.id.clone()
        }
        None => return,
    };
    let mut b = Builder {
        tenant,
        now,
        exchange,
        n: 0,
    };
    // Page 1 of appRoleAssignedTo (creation order): three apps, the managed identity, the
    // full-access decoy and the first 95 connectors.
    let mut holders = Vec::new();
    for spec in [&PAYROLL, &LEGACY, &HELPDESK] {
        let sp = b.app(spec, true);
        b.grant(&sp, MANAGE_AS_APP, spec.created_days_ago - 1);
        b.role(&sp.id, spec.role);
        holders.push(sp);
    }
    if let Some(mi) = b
        .tenant
        .service_principals
        .iter()
        .find(|sp| sp.id == MI_OBJECT_ID)
        .cloned()
    {
        b.grant(&mi, MANAGE_AS_APP, 90);
        b.role(MI_OBJECT_ID, roles::EXCHANGE_ADMIN);
    }
    let declared = App {
        name: DECLARED_ONLY,
        certs: &[],
        secret: None,
        created_days_ago: 30,
        role: "",
    };
    b.app(&declared, true);
    let full = App {
        name: FULL_ACCESS_DECOY,
        certs: &[],
        secret: None,
        created_days_ago: 200,
        role: "",
    };
    let full_sp = b.app(&full, false);
    b.grant(&full_sp, FULL_ACCESS_AS_APP, 199);
    for i in 1..=CONNECTORS {
        let sp = b.sp(
            &ids::guid(),
            &format!("Mail connector {i:03}"),
            VENDOR_TENANT,
        );
        b.grant(&sp, FULL_ACCESS_AS_APP, 150);
    }
    // Page 2: the rest of the real holders.
    for spec in [&NIGHTLY, &ARCHIVE] {
        let sp = b.app(spec, true);
        b.grant(&sp, MANAGE_AS_APP, spec.created_days_ago - 1);
        b.role(&sp.id, spec.role);
    }
    let vendor = b.sp(&fixed(3, 999), VENDOR_APP, VENDOR_TENANT);
    b.grant(&vendor, MANAGE_AS_APP, 45);
    b.role(&vendor.id, roles::EXCHANGE_ADMIN);
    // A certificate Payroll no longer has still shows in the report.
    if let Some(payroll) = b
        .tenant
        .applications
        .iter()
        .find(|a| a.display_name == PAYROLL.name)
        .cloned()
    {
        let sp = holders.first().map(|s| s.id.clone()).unwrap_or_default();
        b.tenant.credential_sign_ins.insert(
            0,
            CredentialSignIn {
                key_id: REMOVED_KEY_ID.into(),
                key_type: "certificate".into(),
                app_id: payroll.app_id.clone(),
                app_object_id: payroll.id.clone(),
                service_principal_object_id: sp,
                resource_id: EXCHANGE_APP_ID.into(),
                expiration_date_time: Some(ids::rfc3339(now - 35 * DAY)),
                created_date_time: Some(ids::rfc3339(now - 400 * DAY)),
                at: now - 45 * DAY,
                request_id: ids::guid(),
            },
        );
    }
}

/// Days from `now` to an RFC 3339 time, one decimal.
fn days_left(end: Option<&str>, now: i64) -> Value {
    end.and_then(ids::parse_rfc3339).map_or(Value::Null, |t| {
        json!(((t - now) as f64 / 8_640.0).round() / 10.0)
    })
}

/// `GET /_sim/fixture`: what the current fixture holds, for tests — every application with its
/// credentials (keyId, SHA-1 thumbprint in hex, dates, days left, last use from the report's
/// data), service principals holding `Exchange.ManageAsApp` and their roles, and users with
/// their roles. Never key material.
pub async fn facts(State(state): State<Shared>) -> Json<Value> {
    let sim = lock(&state);
    let tenant = &sim.fixture;
    let now = sim.tenant.clock.now();
    let last_used = |app_id: &str, key: &str| {
        tenant
            .credential_sign_ins
            .iter()
            .filter(|e| e.app_id == app_id && e.key_id == key)
            .map(|e| e.at)
            .max()
            .map(ids::rfc3339)
    };
    let hex = |b64: Option<&str>| {
        b64.and_then(|t| STANDARD.decode(t).ok())
            .map(|b| b.iter().map(|x| format!("{x:02X}")).collect::<String>())
    };
    let applications: Vec<Value> = tenant
        .applications
        .iter()
        .map(|a| {
            let sp = tenant
                .service_principals
                .iter()
                .find(|s| s.app_id == a.app_id);
            let certificates: Vec<Value> = a
                .key_credentials
                .iter()
                .map(|k| {
                    let id = k.key_id.clone().unwrap_or_default();
                    json!({
                        "keyId": id,
                        "displayName": k.display_name,
                        "thumbprint": hex(k.custom_key_identifier.as_deref()),
                        "startDateTime": k.start_date_time,
                        "endDateTime": k.end_date_time,
                        "daysLeft": days_left(k.end_date_time.as_deref(), now),
                        "lastUsedDateTime": last_used(&a.app_id, &id),
                        "privateKeyAvailable": certificates_index(&id).is_some(),
                    })
                })
                .collect();
            let secrets: Vec<Value> = a
                .password_credentials
                .iter()
                .map(|p| {
                    json!({
                        "keyId": p.key_id,
                        "displayName": p.display_name,
                        "endDateTime": p.end_date_time,
                        "daysLeft": days_left(Some(&p.end_date_time), now),
                        "lastUsedDateTime": last_used(&a.app_id, &p.key_id),
                    })
                })
                .collect();
            json!({
                "displayName": a.display_name,
                "id": a.id,
                "appId": a.app_id,
                "createdDateTime": a.created_date_time,
                "servicePrincipalId": sp.map(|s| s.id.clone()),
                "certificates": certificates,
                "secrets": secrets,
            })
        })
        .collect();
    let exchange = tenant.exchange().map(|e| e.id.clone()).unwrap_or_default();
    let holders: Vec<Value> = tenant
        .app_role_assignments
        .iter()
        .enumerate()
        .filter(|(_, a)| a.resource_id == exchange && a.app_role_id == MANAGE_AS_APP)
        .filter_map(|(i, a)| {
            let position = tenant.app_role_assignments[..i]
                .iter()
                .filter(|x| x.resource_id == exchange)
                .count();
            let sp = tenant.service_principal(&a.principal_id).ok()?;
            let roles: Vec<&str> = tenant
                .role_assignments
                .iter()
                .filter(|r| r.principal_id == sp.id)
                .map(|r| crate::tenant::roles::name(&r.role_definition_id))
                .collect();
            Some(json!({
                "displayName": sp.display_name,
                "servicePrincipalId": sp.id,
                "appId": sp.app_id,
                "servicePrincipalType": sp.service_principal_type,
                "appOwnerOrganizationId": sp.app_owner_organization_id,
                "localApplication": tenant.applications.iter().any(|x| x.app_id == sp.app_id),
                "roles": roles,
                "page": position / crate::paging::DEFAULT_PAGE + 1,
            }))
        })
        .collect();
    let users: Vec<Value> = tenant
        .users
        .iter()
        .map(|u| {
            let active = tenant.active_roles(u);
            json!({
                "userPrincipalName": u.user_principal_name,
                "roles": active.iter().map(|r| crate::tenant::roles::name(r)).collect::<Vec<_>>(),
                "mayReadCredentialReport": active.iter().any(|r| crate::report::READER_ROLES.contains(&r.as_str())),
            })
        })
        .collect();
    Json(json!({
        "tenantId": tenant.id,
        "nowMs": sim.tenant.clock.now_ms(),
        "policyMaxCertificateLifetimeDays": tenant.max_certificate_lifetime_days,
        "applications": applications,
        "manageAsAppHolders": holders,
        "users": users,
    }))
}

fn certificates_index(key: &str) -> Option<usize> {
    (0..SPECS.len()).find(|i| key_id(*i) == key)
}

/// `GET /_sim/fixture/key/{keyId}`: a `lifecycle` certificate's private key (unencrypted PKCS#8
/// PEM), certificate (PEM) and thumbprints, so a test can sign client assertions as that app
/// (MSAL, the product's own tests). Test-only; the page never needs it.
pub async fn key(Path(key): Path<String>) -> Response {
    let Some(cert) = certificates_index(&key).and_then(|i| certificates().get(i)) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no private key for keyId {key} (only lifecycle certificates have one)") })),
        )
            .into_response();
    };
    let Ok(pem) = cert.key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let t = cert.certificate.thumbprints();
    Json(json!({
        "keyId": key,
        "privateKeyPem": pem.as_str(),
        "certificatePem": cert.certificate.pem(),
        "thumbprint": t.sha1_hex,
        "x5t": t.x5t,
        "x5tS256": t.x5t_s256,
    }))
    .into_response()
}
