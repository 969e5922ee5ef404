//! The page's own registration in one step (issue 13): exactly the Graph requests
//! `unattended::registration` builds — the ones its Azure Cloud Shell script sends with
//! `az rest` — run against the simulated tenant, then a sign-in with the new client as the page
//! makes it (PKCE S256 at `/authorize`, the code redeemed at `/token` with an `Origin`), so
//! what the script asks Graph for is tested where PowerShell is not available.
//!
//! The Graph token stands in for the one `az rest --resource https://graph.microsoft.com` gets in
//! Cloud Shell (Azure CLI's first-party client, pre-authorized for a broad but fixed set of
//! delegated Graph scopes): it carries exactly what the requests need, Application.ReadWrite.All
//! (the lookup, the application and its service principal) and
//! DelegatedPermissionGrant.ReadWrite.All (the grant, Learn: "Create oAuth2PermissionGrant").

mod common;

use common::Sim;
use serde_json::{Value, json};
use unattended::auth::{self, Pending, Redirect};
use unattended::cloud::Cloud;
use unattended::config::Config;
use unattended::registration::{self, Options};
use url::Url;

const PAGE: &str = "https://tools.example.com/unattended/";
const ORIGIN: &str = "https://tools.example.com";
/// What the test token carries (see the module comment).
const SCRIPT_SCOPES: [&str; 2] = [
    "Application.ReadWrite.All",
    "DelegatedPermissionGrant.ReadWrite.All",
];

fn options(multi_tenant: bool, admin_consent: bool) -> Options {
    hosted_at(PAGE, multi_tenant, admin_consent)
}

/// The page at another address: another registration (its uniqueName derives from the page).
fn hosted_at(page: &str, multi_tenant: bool, admin_consent: bool) -> Options {
    Options {
        page: Url::parse(page).expect("url"),
        cloud: Cloud::Worldwide,
        multi_tenant,
        admin_consent,
        name: "unattended (setup page)".into(),
    }
}

/// A client that shows redirects instead of following them (the browser's part is ours).
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn token(sim: &Sim, user: &str, scopes: &[&str]) -> String {
    let t = sim
        .post("/_sim/token", json!({ "user": user, "scopes": scopes }))
        .await;
    t["access_token"].as_str().expect("token").to_owned()
}

/// One Graph request as `az rest` sends it: the path under `…/v1.0`, JSON body.
async fn graph(
    sim: &Sim,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = sim
        .http
        .request(method, format!("{}/v1.0{path}", sim.base))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("graph");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// What the script made: the registration's appId, its service principal, Graph's.
struct Made {
    app_id: String,
    client_sp: String,
    graph_sp: String,
    /// The answer to the consent step, when the script has one.
    consent: Option<(u16, Value)>,
}

/// The script's steps, in its order, with its request values.
async fn register(sim: &Sim, user: &str, scopes: &[&str], o: &Options) -> Made {
    let token = token(sim, user, scopes).await;
    // 1. Graph's delegated permissions, looked up by value.
    let (status, sp) = graph(sim, &token, "GET", &registration::graph_lookup_path(), None).await;
    assert_eq!(status, 200, "{sp}");
    let ids = registration::scope_ids(&sp).expect("Graph offers every permission the page needs");
    // 2. The app registration: found again by its uniqueName when the script runs again.
    let by_name = format!(
        "/applications(uniqueName='{}')",
        registration::unique_name(o)
    );
    let (found, existing) = graph(sim, &token, "GET", &by_name, None).await;
    let app = if found == 200 {
        existing
    } else {
        let (status, app) = graph(
            sim,
            &token,
            "POST",
            "/applications",
            Some(&registration::app_body(o, &ids)),
        )
        .await;
        assert_eq!(status, 201, "{app}");
        app
    };
    let app_id = app["appId"].as_str().expect("appId").to_owned();
    // 3. Its service principal (looked up first, as the script does).
    let (found, existing) = graph(
        sim,
        &token,
        "GET",
        &format!("/servicePrincipals(appId='{app_id}')"),
        None,
    )
    .await;
    let client = if found == 200 {
        existing
    } else {
        let (status, client) = graph(
            sim,
            &token,
            "POST",
            "/servicePrincipals",
            Some(&registration::service_principal_body(&app_id)),
        )
        .await;
        assert_eq!(status, 201, "{client}");
        client
    };
    let client_sp = client["id"].as_str().expect("id").to_owned();
    let graph_sp = sp["id"].as_str().expect("Graph's id").to_owned();
    // 4. Admin consent for the organisation.
    let consent = if o.admin_consent {
        Some(
            graph(
                sim,
                &token,
                "POST",
                "/oauth2PermissionGrants",
                Some(&registration::consent_body(&client_sp, &graph_sp)),
            )
            .await,
        )
    } else {
        None
    };
    Made {
        app_id,
        client_sp,
        graph_sp,
        consent,
    }
}

async fn tenant_id(sim: &Sim) -> String {
    sim.state().await["id"].as_str().expect("tid").to_owned()
}

async fn user_id(sim: &Sim, name: &str) -> String {
    let state = sim.state().await;
    state["users"]
        .as_array()
        .and_then(|users| {
            users.iter().find(|u| {
                u["userPrincipalName"]
                    .as_str()
                    .is_some_and(|p| p.starts_with(&format!("{name}@")))
            })
        })
        .and_then(|u| u["id"].as_str())
        .expect("user")
        .to_owned()
}

/// The page's `config.json` for what was made, read as the page reads it, then pointed at the
/// simulator (which stands in for the cloud's login host and Graph).
async fn page_config(sim: &Sim, o: &Options, app_id: &str) -> Config {
    let tid = tenant_id(sim).await;
    let text = registration::config_json(o, app_id, &tid);
    let mut config = Config::from_json(&text).expect("the page accepts the printed config.json");
    assert_eq!(config.client_id, app_id);
    assert_eq!(config.redirect_uri.as_str(), o.page.as_str());
    let segment = if o.multi_tenant {
        assert_eq!(
            config.authority.as_str(),
            "https://login.microsoftonline.com/organizations"
        );
        "organizations".to_owned()
    } else {
        assert_eq!(
            config.authority.as_str(),
            format!("https://login.microsoftonline.com/{tid}")
        );
        tid
    };
    config.authority = Url::parse(&format!("{}/{segment}", sim.base)).expect("authority");
    config.graph_base_url = Url::parse(&format!("{}/v1.0", sim.base)).expect("graph");
    config
}

fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64)
}

/// The page's sign-in: `/authorize` with PKCE, the simulator's sign-in page answered as `user`
/// (Accept, *Consent on behalf of your organization* unticked), the redirect's fragment read
/// as the page reads it. `Err` carries the identity platform's refusal.
async fn sign_in(sim: &Sim, config: &Config, user: &str) -> Result<auth::SignedIn, String> {
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let (pending, url) = Pending::start(
        config,
        &mut rng,
        now_ms(),
        None,
        &[unattended::lifecycle::AUDIT_SCOPE],
    );
    let b = browser();
    let page = b.get(url.as_str()).send().await.expect("authorize");
    let status = page.status().as_u16();
    let html = page.text().await.expect("page");
    if status != 200 {
        return Err(html);
    }
    assert!(html.contains("name=user"), "the sign-in page: {html}");
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("request", url.query().unwrap_or_default())
        .append_pair("user", &user_id(sim, user).await)
        .append_pair("action", "accept")
        .finish();
    let answer = b
        .post(format!("{}{}", sim.base, url.path()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("answer");
    assert_eq!(answer.status().as_u16(), 302, "{:?}", answer.text().await);
    let location = answer.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let back = Url::parse(&location).expect("redirect");
    assert_eq!(&location[..PAGE.len()], PAGE, "back to the page");
    let redirect = Redirect::parse(back.fragment().unwrap_or_default()).expect("an answer");
    let code = pending
        .accept(redirect, now_ms())
        .map_err(|e| format!("{e:?}"))?;
    let redeemed = b
        .post(auth::token_url(config).as_str())
        .header("origin", ORIGIN)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(auth::token_request_body(config, &pending, &code))
        .send()
        .await
        .expect("token");
    assert_eq!(
        redeemed
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some(ORIGIN),
        "the page's origin may read the answer"
    );
    let body = redeemed.text().await.expect("body");
    auth::complete(config, &pending, &body).map_err(|e| format!("{e:?}: {body}"))
}

fn claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).expect("payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64");
    serde_json::from_slice(&bytes).expect("claims")
}

fn scp(signed_in: &auth::SignedIn) -> Vec<String> {
    let mut scopes: Vec<String> = claims(&signed_in.access_token)["scp"]
        .as_str()
        .unwrap_or_default()
        .split(' ')
        .map(str::to_owned)
        .collect();
    scopes.sort();
    scopes
}

fn page_permissions() -> Vec<String> {
    let mut all: Vec<String> = registration::permissions()
        .iter()
        .map(|p| (*p).to_owned())
        .collect();
    all.sort();
    all
}

#[tokio::test]
async fn graph_offers_the_pages_permissions_with_their_real_ids_in_every_fixture() {
    let sim = Sim::start("default").await;
    // Every fixture's tenant starts from the default one, which holds Graph's service principal
    // (none removes it); `existing-app`, `big` and `lifecycle` forge RSA keys at first use
    // (seconds in a debug build), so they are left to the tests that use them anyway.
    for fixture in sim::fixtures::NAMES
        .into_iter()
        .filter(|f| !["existing-app", "big", "lifecycle"].contains(f))
    {
        sim.post("/_sim/reset", json!({ "fixture": fixture })).await;
        let token = token(&sim, "admin", &["Application.Read.All"]).await;
        let (status, sp) = graph(
            &sim,
            &token,
            "GET",
            &registration::graph_lookup_path(),
            None,
        )
        .await;
        assert_eq!(status, 200, "{fixture}: {sp}");
        // `$select=id,oauth2PermissionScopes`: those two and nothing else.
        let keys: Vec<&String> = sp.as_object().expect("object").keys().collect();
        assert_eq!(keys.len(), 2, "{fixture}: {keys:?}");
        let ids = registration::scope_ids(&sp).expect("all offered");
        // Learn, "Microsoft Graph permissions reference" (delegated identifiers).
        assert_eq!(
            ids,
            [
                "e1fe6dd8-ba31-4d61-89e7-88639da4683d", // User.Read
                "bdfbf15f-ee85-4955-8675-146e8e5296b5", // Application.ReadWrite.All
                "84bccea3-f856-4a8a-967b-dbe0a3d53a64", // AppRoleAssignment.ReadWrite.All
                "d01b97e9-cbc0-49fe-810a-750afd5527a3", // RoleManagement.ReadWrite.Directory
                "572fea84-0151-49b2-9301-11cb16974376", // Policy.Read.All
                "e4c9e354-4dc5-45b8-9e7c-e1393b0b1a20", // AuditLog.Read.All
            ],
            "{fixture}"
        );
        for s in sp["oauth2PermissionScopes"].as_array().expect("scopes") {
            assert!(
                s["isEnabled"] == true && s["adminConsentDisplayName"].is_string(),
                "{s}"
            );
            let kind = if s["value"] == "User.Read" {
                "User"
            } else {
                "Admin"
            };
            assert_eq!(s["type"], kind, "{s}");
        }
    }
    // The second customer tenant has Graph too.
    sim.post("/_sim/reset", json!({ "fixture": "consultant" }))
        .await;
    let t = sim
        .post(
            "/_sim/token",
            json!({ "user": "admin@fabrikam.onmicrosoft.com", "tenant": "fabrikam.onmicrosoft.com", "scopes": ["Application.Read.All"] }),
        )
        .await;
    let (status, sp) = graph(
        &sim,
        t["access_token"].as_str().expect("token"),
        "GET",
        &registration::graph_lookup_path(),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(registration::scope_ids(&sp).is_ok());
}

#[tokio::test]
async fn the_scripts_requests_make_an_app_the_page_signs_in_with_without_a_consent_prompt() {
    let sim = Sim::start("default").await;
    let o = options(false, true);
    let made = register(&sim, "admin", &SCRIPT_SCOPES, &o).await;
    let (status, grant) = made.consent.clone().expect("consent step");
    assert_eq!(status, 201, "{grant}");
    assert!(grant["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(grant["clientId"], made.client_sp.as_str());
    assert_eq!(grant["resourceId"], made.graph_sp.as_str());
    assert_eq!(grant["consentType"], "AllPrincipals");
    assert_eq!(grant["principalId"], Value::Null);
    assert_eq!(grant["scope"], registration::permissions().join(" "));

    // What was registered is what the page needs.
    let state = sim.state().await;
    let app = state["applications"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["appId"] == made.app_id.as_str()))
        .expect("registered");
    assert_eq!(app["signInAudience"], "AzureADMyOrg");
    assert_eq!(app["spa"]["redirectUris"], json!([PAGE]));
    let consents_before = state["consents"].as_array().map_or(0, Vec::len);

    let config = page_config(&sim, &o, &made.app_id).await;
    // A user without any admin role: without the grant they could not consent to these
    // admin-only permissions (AADSTS90094), so getting a code at all shows none was asked.
    let signed_in = sign_in(&sim, &config, "user").await.expect("signed in");
    assert_eq!(scp(&signed_in), page_permissions());
    // And the admin, as the page's own user.
    let signed_in = sign_in(&sim, &config, "admin").await.expect("signed in");
    assert_eq!(scp(&signed_in), page_permissions());
    assert_eq!(
        claims(&signed_in.access_token)["appid"],
        made.app_id.as_str()
    );
    // The sign-ins recorded no consent of their own: the grant was enough.
    let consents = sim.state().await["consents"].clone();
    assert_eq!(consents.as_array().map_or(0, Vec::len), consents_before);

    // The registration is single-tenant: `/organizations` refuses it (AADSTS50194), as Entra does.
    let mut elsewhere = config.clone();
    elsewhere.authority = Url::parse(&format!("{}/organizations", sim.base)).expect("url");
    let refused = sign_in(&sim, &elsewhere, "admin")
        .await
        .err()
        .expect("single-tenant");
    assert!(refused.contains("AADSTS50194"), "{refused}");
}

#[tokio::test]
async fn without_the_consent_step_a_user_needs_an_admin_and_a_multi_tenant_app_signs_in_at_organizations()
 {
    let sim = Sim::start("default").await;
    let o = options(true, false);
    let made = register(&sim, "admin", &SCRIPT_SCOPES, &o).await;
    assert!(made.consent.is_none());
    let config = page_config(&sim, &o, &made.app_id).await;
    let refused = sign_in(&sim, &config, "user")
        .await
        .err()
        .expect("no consent");
    assert!(refused.contains("AdminConsentRequired"), "{refused}");

    // With the grant (the script's consent step), the same user signs in at `/organizations`.
    let token = token(&sim, "admin", &SCRIPT_SCOPES).await;
    let (status, grant) = graph(
        &sim,
        &token,
        "POST",
        "/oauth2PermissionGrants",
        Some(&registration::consent_body(&made.client_sp, &made.graph_sp)),
    )
    .await;
    assert_eq!(status, 201, "{grant}");
    let signed_in = sign_in(&sim, &config, "user").await.expect("signed in");
    assert_eq!(scp(&signed_in), page_permissions());
}

#[tokio::test]
async fn who_may_grant_and_what_graph_refuses() {
    let sim = Sim::start("default").await;
    // An Application Developer registers the app but may not consent for the organisation.
    let o = options(false, true);
    let made = register(&sim, "appdev", &SCRIPT_SCOPES, &o).await;
    let (status, refused) = made.consent.clone().expect("consent step");
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["error"]["code"], "Authorization_RequestDenied");
    assert!(
        sim.state().await["consents"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );

    // A Cloud Application Administrator may: "Consent to any delegated permissions" is theirs
    // (Learn: "Least privileged roles by task", "Grant tenant-wide admin consent").
    let made = register(&sim, "appadmin", &SCRIPT_SCOPES, &o).await;
    assert_eq!(made.consent.clone().expect("consent").0, 201);
    // A Privileged Role Administrator may grant, but not register (no application role).
    let pra = token(&sim, "pra", &SCRIPT_SCOPES).await;
    let (status, _) = graph(
        &sim,
        &pra,
        "POST",
        "/applications",
        Some(&registration::app_body(&o, &[])),
    )
    .await;
    assert_eq!(status, 403);

    let admin = token(&sim, "admin", &SCRIPT_SCOPES).await;
    let fresh_page = format!("{PAGE}fresh/");
    let fresh = register(
        &sim,
        "admin",
        &SCRIPT_SCOPES,
        &hosted_at(&fresh_page, false, false),
    )
    .await;
    let body = registration::consent_body(&fresh.client_sp, &fresh.graph_sp);
    let post = |token: String, body: Value| {
        let sim = &sim;
        async move { graph(sim, &token, "POST", "/oauth2PermissionGrants", Some(&body)).await }
    };
    // Without DelegatedPermissionGrant.ReadWrite.All (or Directory.ReadWrite.All) in the token.
    let narrow = token(&sim, "admin", &["Application.ReadWrite.All"]).await;
    let (status, e) = post(narrow, body.clone()).await;
    assert_eq!(
        (status, e["error"]["code"].clone()),
        (403, json!("Authorization_RequestDenied"))
    );
    // Graph's validation: consentType, principalId, client, resource, scope.
    for (field, value) in [
        ("consentType", json!("Everyone")),
        ("principalId", json!(user_id(&sim, "user").await)),
        ("clientId", json!("00000000-0000-0000-0000-000000000001")),
        ("resourceId", json!(fresh.client_sp)),
        ("scope", json!("User.Read Mail.Send.Everything")),
    ] {
        let mut wrong = body.clone();
        wrong[field] = value;
        let (status, e) = post(admin.clone(), wrong).await;
        assert_eq!(status, 400, "{field}: {e}");
        assert!(
            e["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("OAuth2PermissionGrant")),
            "{e}"
        );
    }
    // One grant per client, resource and consent type.
    assert_eq!(post(admin.clone(), body.clone()).await.0, 201);
    let (status, e) = post(admin.clone(), body.clone()).await;
    assert_eq!(status, 409, "{e}");
    // A grant for one user (consentType Principal) covers that user only.
    let other_page = format!("{PAGE}other/");
    let other = register(
        &sim,
        "admin",
        &SCRIPT_SCOPES,
        &hosted_at(&other_page, false, false),
    )
    .await;
    let mut single = registration::consent_body(&other.client_sp, &other.graph_sp);
    single["consentType"] = json!("Principal");
    single["principalId"] = json!(user_id(&sim, "user").await);
    assert_eq!(post(admin.clone(), single).await.0, 201);
    let config = page_config(&sim, &hosted_at(&other_page, false, false), &other.app_id).await;
    assert!(sign_in(&sim, &config, "user").await.is_ok());
    let refused = sign_in(&sim, &config, "appdev")
        .await
        .err()
        .expect("not granted to them");
    assert!(refused.contains("AdminConsentRequired"), "{refused}");
}

#[test]
fn the_script_names_the_step_that_failed() {
    // `az rest` prints Graph's error; the script then stops with the step's method and path,
    // and Graph's own words.
    let script = registration::cloud_shell_script(&options(false, true));
    assert!(script.contains("$ErrorActionPreference = 'Stop'"));
    assert!(script.contains("throw \"$Method $Path failed: $(Get-Content $err -Raw)\""));
    assert!(script.contains("Invoke-Graph POST '/oauth2PermissionGrants'"));
}

#[tokio::test]
async fn running_the_script_again_finds_what_it_made() {
    let sim = Sim::start("default").await;
    let o = options(false, true);
    let first = register(&sim, "admin", &SCRIPT_SCOPES, &o).await;
    assert_eq!(first.consent.clone().expect("consent").0, 201);
    let again = register(&sim, "admin", &SCRIPT_SCOPES, &o).await;
    assert_eq!(again.app_id, first.app_id, "the same registration");
    assert_eq!(
        again.client_sp, first.client_sp,
        "the same service principal"
    );
    // The grant exists already: Graph answers 409 "Conflict", which the script takes as
    // consented; the organisation's consent from the first run stands.
    let apps = sim.state().await["applications"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|x| x["uniqueName"] == registration::unique_name(&o))
                .count()
        })
        .unwrap_or_default();
    assert_eq!(apps, 1);
}
