//! The interactive side of the identity platform for the page's own SPA registration
//! (<https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow>,
//! <https://learn.microsoft.com/entra/identity-platform/reference-error-codes>): `/authorize` checks, consent, authorization codes bound to
//! client, redirect URI, authority and PKCE challenge, their single-use redemption with the SPA
//! Origin rule, refresh tokens (24 h for SPAs), and the ID and access tokens they yield.
//! Pure rules; `platform.rs` does the HTTP.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::cloud::Cloud;
use crate::identity::TokenError;
use crate::ids;
use crate::tenant::{Application, Tenant, User, roles};

/// Scopes that are about the sign-in itself, not an API.
const OIDC: [&str; 4] = ["openid", "profile", "email", "offline_access"];
/// The Graph delegated permissions the simulator knows; all but `User.Read` need an admin's
/// consent.
pub const GRAPH_SCOPES: [&str; 13] = [
    "User.Read",
    "Organization.Read.All",
    "Directory.Read.All",
    "Application.Read.All",
    "Application.ReadWrite.All",
    "AppRoleAssignment.ReadWrite.All",
    "RoleManagement.Read.Directory",
    "RoleManagement.ReadWrite.Directory",
    "Policy.Read.All",
    "RoleEligibilitySchedule.Read.Directory",
    "RoleEligibilitySchedule.ReadWrite.Directory",
    // The credential usage report (Learn: "List appCredentialSignInActivities").
    "AuditLog.Read.All",
    // Per-site grants (Learn: "Create permission" on a site, site-post-permissions).
    "Sites.FullControl.All",
];
/// Delegated Graph permission ids by name (Learn: "Microsoft Graph permissions reference"), for
/// reading an app's `requiredResourceAccess` when `…/.default` is asked for.
pub const DELEGATED_IDS: [(&str, &str); 5] = [
    ("e1fe6dd8-ba31-4d61-89e7-88639da4683d", "User.Read"),
    (
        "bdfbf15f-ee85-4955-8675-146e8e5296b5",
        "Application.ReadWrite.All",
    ),
    (
        "84bccea3-f856-4a8a-967b-dbe0a3d53a64",
        "AppRoleAssignment.ReadWrite.All",
    ),
    (
        "d01b97e9-cbc0-49fe-810a-750afd5527a3",
        "RoleManagement.ReadWrite.Directory",
    ),
    ("572fea84-0151-49b2-9301-11cb16974376", "Policy.Read.All"),
];
/// How long a code may wait for redemption ("about 10 minutes").
const CODE_LIFETIME: i64 = 600;
/// SPA refresh tokens end 24 hours after sign-in, however often they are used.
const SPA_REFRESH_LIFETIME: i64 = 24 * 3600;

/// Who may grant consent for the organisation to delegated Graph permissions.
const CONSENTING_ROLES: [&str; 4] = [
    roles::GLOBAL_ADMIN,
    roles::PRIVILEGED_ROLE_ADMIN,
    roles::APPLICATION_ADMIN,
    roles::CLOUD_APPLICATION_ADMIN,
];

/// A consent grant to a client: the whole organisation (`user` None) or one user.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Consent {
    /// The client it was given to.
    pub client_id: String,
    /// `None`: on behalf of the organisation.
    pub user_id: Option<String>,
    /// Graph permission names.
    pub scopes: Vec<String>,
}

/// A checked `/authorize` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorize {
    /// Path segment (`organizations`, tenant id, domain).
    pub authority: String,
    /// The client.
    pub client_id: String,
    /// Registered `spa` redirect URI.
    pub redirect_uri: String,
    /// `query` or `fragment`.
    pub fragment: bool,
    /// Graph permission names asked for (without the resource prefix).
    pub graph_scopes: Vec<String>,
    /// All requested scopes as sent.
    pub scope: String,
    /// Echoed back.
    pub state: Option<String>,
    /// Put into the ID token.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub challenge: String,
    /// `none`, `login`, `consent`, `select_account`.
    pub prompt: Option<String>,
    /// The user the app expects.
    pub login_hint: Option<String>,
    /// The `claims` request (JSON), e.g. answering a claims challenge.
    pub claims: Option<String>,
}

/// Why `/authorize` cannot go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The redirect URI cannot be trusted: Entra shows its own error page.
    Page(TokenError),
    /// Sent back to the app's redirect URI.
    Redirect(TokenError),
}

/// Whether `segment` is a tenant id or verified domain of `tenant` (not an alias).
pub fn names_tenant(tenant: &Tenant, segment: &str) -> bool {
    segment.eq_ignore_ascii_case(&tenant.id)
        || tenant
            .domains
            .iter()
            .any(|d| d.name.eq_ignore_ascii_case(segment))
}

/// `organizations` or `common`: the user's home tenant decides.
pub fn is_alias(segment: &str) -> bool {
    segment.eq_ignore_ascii_case("organizations") || segment.eq_ignore_ascii_case("common")
}

/// Whether the authority segment addresses this tenant (or a multi-tenant alias).
pub fn authority_fits(tenant: &Tenant, segment: &str) -> bool {
    segment.eq_ignore_ascii_case("organizations")
        || segment.eq_ignore_ascii_case("common")
        || segment == tenant.id
        || tenant
            .domains
            .iter()
            .any(|d| d.name.eq_ignore_ascii_case(segment))
}

/// The `spa` redirect URIs of an application.
pub fn spa_redirects(app: Option<&Application>) -> Vec<String> {
    app.and_then(|a| a.spa["redirectUris"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// Whether `origin` is the origin of a registered `spa` redirect URI of `app`.
pub fn spa_origin_allowed(app: Option<&Application>, origin: &str) -> bool {
    spa_redirects(app)
        .iter()
        .any(|r| url::Url::parse(r).is_ok_and(|u| u.origin().ascii_serialization() == origin))
}

/// Any client's registered `spa` origin (for CORS preflights, which carry no client id).
pub fn any_spa_origin<'a>(mut apps: impl Iterator<Item = &'a Application>, origin: &str) -> bool {
    apps.any(|a| spa_origin_allowed(Some(a), origin))
}

/// Checks an `/authorize` query addressed to `tenant` (the first tenant for `organizations`);
/// `client` is the application `client_id` names, registered in that tenant or a multi-tenant
/// one registered elsewhere.
pub fn authorize(
    tenant: &Tenant,
    client: Option<&Application>,
    segment: &str,
    params: &HashMap<String, String>,
    cloud: Cloud,
) -> Result<Authorize, Refusal> {
    let get = |k: &str| params.get(k).map(String::as_str).unwrap_or_default();
    let page = |code, text: String| Refusal::Page(TokenError::new("invalid_request", code, text));
    if segment.eq_ignore_ascii_case("consumers") || !authority_fits(tenant, segment) {
        return Err(page(90002, format!("Tenant '{segment}' not found.")));
    }
    let client_id = get("client_id");
    let Some(app) = client.filter(|a| a.app_id == client_id) else {
        return Err(page(
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.",
                tenant.display_name
            ),
        ));
    };
    if app.sign_in_audience == "AzureADMyOrg"
        && (segment.eq_ignore_ascii_case("common") || segment.eq_ignore_ascii_case("organizations"))
    {
        return Err(page(
            50194,
            format!(
                "Application '{client_id}'({}) is not configured as a multi-tenant application. Usage of the /common endpoint is not supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant.",
                app.display_name
            ),
        ));
    }
    let redirect_uri = get("redirect_uri");
    if !spa_redirects(Some(app)).iter().any(|r| r == redirect_uri) {
        return Err(page(
            50011,
            format!(
                "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal."
            ),
        ));
    }
    let redirect =
        |error, code, text: &str| Refusal::Redirect(TokenError::new(error, code, text.to_owned()));
    let fragment = match params.get("response_mode").map(String::as_str) {
        None | Some("query") => false,
        Some("fragment") => true,
        Some(other) => {
            return Err(redirect(
                "invalid_request",
                900144,
                &format!("The simulator supports response_mode query and fragment, not '{other}'."),
            ));
        }
    };
    if get("response_type") != "code" {
        return Err(redirect(
            "unsupported_response_type",
            700054,
            "response_type must be 'code' for this application (implicit grant is not enabled).",
        ));
    }
    let challenge = get("code_challenge");
    if challenge.is_empty() {
        return Err(redirect(
            "invalid_request",
            9002325,
            "Proof Key for Code Exchange is required for cross-origin authorization code redemption.",
        ));
    }
    if get("code_challenge_method") != "S256" {
        return Err(redirect(
            "invalid_request",
            50149,
            "The code_challenge_method must be S256 for this application.",
        ));
    }
    if challenge.len() != 43 || URL_SAFE_NO_PAD.decode(challenge).is_err() {
        return Err(redirect(
            "invalid_request",
            50147,
            "The code_challenge has an invalid size or encoding (a S256 challenge is 43 base64url characters).",
        ));
    }
    let scope = get("scope").to_owned();
    let graph_scopes =
        graph_scopes(&scope, cloud).map_err(|text| redirect("invalid_scope", 70011, &text))?;
    Ok(Authorize {
        authority: segment.to_owned(),
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        fragment,
        graph_scopes,
        scope,
        state: params.get("state").cloned(),
        nonce: params.get("nonce").cloned(),
        challenge: challenge.to_owned(),
        prompt: params.get("prompt").cloned(),
        login_hint: params.get("login_hint").cloned(),
        claims: params.get("claims").cloned(),
    })
}

/// Graph permission names in a scope string, bare (`User.Read`) or prefixed with this cloud's
/// Graph resource (`https://graph.microsoft.us/User.Read`); another cloud's Graph, other
/// resources and unknown names are refused (tokens are not interchangeable across clouds —
/// Learn: "Microsoft Graph national cloud deployments").
pub fn graph_scopes(scope: &str, cloud: Cloud) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let prefix = format!("{}/", cloud.graph());
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if OIDC.contains(&s) {
            continue;
        }
        // Azure Resource Manager's `user_impersonation` (`arm.rs`), recorded as one consent.
        if crate::arm::names_arm(s, cloud) {
            out.push(crate::arm::CONSENT.to_owned());
            continue;
        }
        let name = match s.get(..prefix.len()) {
            Some(head) if head.eq_ignore_ascii_case(&prefix) => &s[prefix.len()..],
            _ => s,
        };
        match GRAPH_SCOPES.iter().find(|k| k.eq_ignore_ascii_case(name)) {
            Some(known) => out.push((*known).to_owned()),
            None => {
                return Err(format!(
                    "The provided value for the input parameter 'scope' is not valid. The scope '{s}' is not valid."
                ));
            }
        }
    }
    Ok(out)
}

/// Whether `user` may consent for the whole organisation.
pub fn may_consent_for_org(user: &User) -> bool {
    user.roles
        .iter()
        .any(|r| CONSENTING_ROLES.contains(&r.as_str()))
}

/// The Graph scopes `user` has consent for on `client_id` (own or organisation-wide).
pub fn consented(consents: &[Consent], client_id: &str, user: &User) -> Vec<String> {
    let mut out: Vec<String> = consents
        .iter()
        .filter(|c| c.client_id == client_id && c.user_id.as_ref().is_none_or(|u| *u == user.id))
        .flat_map(|c| c.scopes.iter().cloned())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The scopes of `request` that still need consent.
pub fn missing_consent(consents: &[Consent], request: &Authorize, user: &User) -> Vec<String> {
    let have = consented(consents, &request.client_id, user);
    request
        .graph_scopes
        .iter()
        .filter(|s| !have.contains(s))
        .cloned()
        .collect()
}

/// Whether a scope needs an administrator to consent.
pub fn admin_only(scope: &str) -> bool {
    // ARM's `user_impersonation` is a permission users may consent to (type `User`).
    scope != "User.Read" && scope != crate::arm::CONSENT
}

/// A code waiting for redemption.
#[derive(Debug, Clone)]
pub struct Code {
    /// The `/authorize` request it answers.
    pub request: Authorize,
    /// The tenant signed in to (its tokens carry this `tid`).
    pub tenant_id: String,
    /// Who signed in.
    pub user_id: String,
    /// When it was issued (Unix seconds).
    pub issued: i64,
}

/// A refresh token's grant.
#[derive(Debug, Clone)]
pub struct Refresh {
    /// The client.
    pub client_id: String,
    /// The tenant signed in to.
    pub tenant_id: String,
    /// Who signed in.
    pub user_id: String,
    /// When the first sign-in happened (SPA refresh tokens end 24 h after it).
    pub signed_in: i64,
}

/// The URL the browser is sent back to with `params`.
pub fn redirect_url(request: &Authorize, params: &[(&str, &str)]) -> String {
    let mut all: Vec<(&str, &str)> = params.to_vec();
    if let Some(state) = &request.state {
        all.push(("state", state));
    }
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(all)
        .finish();
    let sep = if request.fragment {
        "#"
    } else if request.redirect_uri.contains('?') {
        "&"
    } else {
        "?"
    };
    format!("{}{sep}{encoded}", request.redirect_uri)
}

/// An error sent back to the app, AADSTS code inside `error_description` and `error_uri`.
pub fn error_redirect(request: &Authorize, e: &TokenError) -> String {
    let description = format!("AADSTS{}: {}", e.code, e.text);
    let uri = format!("https://login.microsoftonline.com/error?code={}", e.code);
    redirect_url(
        request,
        &[
            ("error", e.error),
            ("error_description", &description),
            ("error_uri", &uri),
        ],
    )
}

/// What a token request needs besides its form.
pub struct Redemption<'a> {
    /// The path's tenant segment.
    pub authority: &'a str,
    /// The request's `Origin` header.
    pub origin: Option<&'a str>,
    /// Now (Unix seconds).
    pub now: i64,
}

/// `grant_type=authorization_code`: checks the code and returns whom it is for.
pub fn redeem(
    codes: &mut HashMap<String, (Code, bool)>,
    form: &HashMap<String, String>,
    at: &Redemption<'_>,
) -> Result<Code, TokenError> {
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if form.contains_key("client_secret") || form.contains_key("client_assertion") {
        return Err(TokenError::new(
            "invalid_request",
            700025,
            "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
        ));
    }
    let Some((code, used)) = codes.get_mut(get("code")) else {
        return Err(TokenError::new(
            "invalid_grant",
            9002313,
            "Invalid request. Request is malformed or invalid: the authorization code is not one this tenant issued.",
        ));
    };
    if *used {
        return Err(TokenError::new(
            "invalid_grant",
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
        ));
    }
    // Any attempt past this point spends the code, as a guessed verifier must not get a second try.
    *used = true;
    let code = code.clone();
    if at.now - code.issued > CODE_LIFETIME {
        return Err(TokenError::new(
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
        ));
    }
    if get("client_id") != code.request.client_id {
        return Err(TokenError::new(
            "invalid_grant",
            70000,
            "Provided grant is invalid or malformed: the code was issued to another client.",
        ));
    }
    if get("redirect_uri") != code.request.redirect_uri {
        return Err(TokenError::new(
            "invalid_grant",
            500112,
            "The reply address provided does not match the reply address provided when requesting the authorization code.",
        ));
    }
    if !at.authority.eq_ignore_ascii_case(&code.request.authority) {
        return Err(TokenError::new(
            "invalid_grant",
            700005,
            "Provided Authorization Code is intended to use against other tenant, thus rejected. The code must be redeemed against the same tenant it was acquired for (/common or /{tenant-ID} as appropriate).",
        ));
    }
    let verifier = get("code_verifier");
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if verifier.is_empty() || computed != code.request.challenge {
        return Err(TokenError::new(
            "invalid_grant",
            50148,
            "The code_verifier does not match the code_challenge supplied in the authorization request for PKCE.",
        ));
    }
    spa_origin(at.origin)?;
    Ok(code)
}

/// A `spa` redirect URI may only be redeemed cross-origin, that is with an `Origin` header.
pub fn spa_origin(origin: Option<&str>) -> Result<(), TokenError> {
    if origin.is_none_or(str::is_empty) {
        return Err(TokenError::new(
            "invalid_request",
            9002327,
            "Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin requests.",
        ));
    }
    Ok(())
}

/// `grant_type=refresh_token`: checks the token and returns its grant.
pub fn refresh(
    tokens: &HashMap<String, Refresh>,
    form: &HashMap<String, String>,
    at: &Redemption<'_>,
) -> Result<Refresh, TokenError> {
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    let grant = tokens.get(get("refresh_token")).ok_or_else(|| {
        TokenError::new(
            "invalid_grant",
            9002313,
            "Invalid request. Request is malformed or invalid: unknown refresh token.",
        )
    })?;
    if grant.client_id != get("client_id") {
        return Err(TokenError::new(
            "invalid_grant",
            70000,
            "Provided grant is invalid or malformed: the refresh token was issued to another client.",
        ));
    }
    if at.now - grant.signed_in > SPA_REFRESH_LIFETIME {
        return Err(TokenError::new(
            "invalid_grant",
            700084,
            "The refresh token was issued to a single page app (SPA), and therefore has a fixed, limited lifetime of 1.00:00:00, which cannot be extended. It is now expired and a new sign in request must be sent by the SPA to the sign in page.",
        ));
    }
    spa_origin(at.origin)?;
    Ok(grant.clone())
}

/// What a successful sign-in yields, before signing.
pub struct Tokens {
    /// Claims of the Graph access token.
    pub access: Value,
    /// Claims of the ID token, when `openid` was asked for.
    pub id: Option<Value>,
    /// Seconds the access token lives.
    pub expires_in: i64,
    /// The granted scopes, as the response's `scope` names them.
    pub scope: String,
}

/// The tokens for `user` on `client_id`: `scp` is what the user has consent for.
#[allow(clippy::too_many_arguments)]
pub fn tokens(
    tenant: &Tenant,
    consents: &[Consent],
    user: &User,
    client_id: &str,
    issuer_origin: &str,
    nonce: Option<&str>,
    openid: bool,
    now: i64,
    lifetime: i64,
    cloud: Cloud,
) -> Tokens {
    // Graph's permissions only: ARM's consent is for ARM tokens (`arm.rs`).
    let scopes: Vec<String> = consented(consents, client_id, user)
        .into_iter()
        .filter(|s| s != crate::arm::CONSENT)
        .collect();
    let pairwise = URL_SAFE_NO_PAD.encode(Sha256::digest(format!("{}{client_id}", user.id)));
    let mut access = json!({
        "aud": cloud.graph(),
        "iss": format!("{}/{}/", cloud.v1_issuer(), tenant.id),
        "iat": now, "nbf": now, "exp": now + lifetime,
        "appid": client_id, "idtyp": "user", "ver": "1.0",
        "oid": user.id, "sub": pairwise, "tid": tenant.id,
        "upn": user.user_principal_name, "name": user.display_name,
        "scp": scopes.join(" "),
        "wids": user.roles,
        "uti": ids::uti(),
    });
    // A B2B guest's tokens in the resource tenant (Learn: "Understand user tokens in Microsoft
    // Entra B2B collaboration"): `tid` and `oid` are the resource tenant's, there is no `upn`
    // but `unique_name` and `email` with the home address, and `idp` names the home tenant's
    // issuer; the ID token's `preferred_username` is the home sign-in name (Learn: "ID token
    // claims reference": `idp` differs from `iss` "such as guests").
    let home_idp = user
        .home
        .as_ref()
        .map(|h| format!("{}/{}/", cloud.v1_issuer(), h.tenant_id));
    let sign_in_name = user
        .home
        .as_ref()
        .map_or(&user.user_principal_name, |h| &h.user_principal_name);
    if let (Some(idp), Some(claims)) = (&home_idp, access.as_object_mut()) {
        claims.remove("upn");
        claims.insert("unique_name".into(), json!(sign_in_name));
        claims.insert("email".into(), json!(sign_in_name));
        claims.insert("idp".into(), json!(idp));
    }
    let id = openid.then(|| {
        let mut claims = json!({
            "aud": client_id,
            "iss": format!("{issuer_origin}/{}/v2.0", tenant.id),
            "iat": now, "nbf": now, "exp": now + 3600,
            "name": user.display_name, "preferred_username": sign_in_name,
            "oid": user.id, "sub": pairwise, "tid": tenant.id, "ver": "2.0",
            "uti": ids::uti(),
        });
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        if let Some(idp) = &home_idp {
            claims["idp"] = json!(idp);
        }
        claims
    });
    let prefix = format!("{}/", cloud.graph());
    let mut scope: Vec<String> = scopes.iter().map(|s| format!("{prefix}{s}")).collect();
    if openid {
        scope.extend(["openid".into(), "profile".into()]);
    }
    Tokens {
        access,
        id,
        expires_in: lifetime,
        scope: scope.join(" "),
    }
}

/// A random, unguessable token (codes, refresh tokens).
pub fn opaque() -> String {
    format!("{}.{}", ids::opaque_id(), ids::opaque_id())
}
