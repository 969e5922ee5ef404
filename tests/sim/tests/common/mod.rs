//! What the product-against-simulator tests share: reqwest as the Graph transport, an in-process
//! simulated tenant on a free port, a forged certificate, and the tenant's state reduced to what
//! the promises are about (ids left out, so two runs can be compared).

#![allow(dead_code)]

use std::net::SocketAddr;

use serde_json::{Value, json};
use unattended::forge::{self, Flavour, KeySize, Password, Request, UnixTime};
use unattended::graph::{Client, HttpRequest, HttpResponse, Policy, Secret, Session, Transport};

/// reqwest as the transport (the page uses the browser's fetch). Waiting advances the
/// simulator's clock instead of sleeping: a 30-second replication lag costs no real time.
#[derive(Clone)]
pub struct Http {
    pub http: reqwest::Client,
    /// The simulator whose clock `sleep` advances.
    pub sim: String,
}

impl Transport for Http {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, String> {
        // Logged per request: shown only when a test fails, which is when it is needed.
        let label = format!("{} {}", request.method, request.url);
        let method =
            reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|e| e.to_string())?;
        let mut builder = self.http.request(method, &request.url);
        for (k, v) in &request.headers {
            builder = builder.header(k, v);
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let response = builder.send().await.map_err(|e| {
            eprintln!("{label} -> {e}");
            e.to_string()
        })?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let retry_after = header("retry-after").and_then(|v| v.parse().ok());
        let www_authenticate = header("www-authenticate");
        let operation = header("azure-asyncoperation").or_else(|| header("location"));
        // A dropped connection shows here: the status arrived, the body did not.
        let body = response
            .text()
            .await
            .map_err(|e| format!("answer lost: {e}"))?;
        eprintln!("{label} -> {status}");
        Ok(HttpResponse {
            status,
            retry_after,
            www_authenticate,
            operation,
            body,
        })
    }

    async fn sleep(&self, ms: u64) {
        let advanced = self
            .http
            .post(format!("{}/_sim/clock", self.sim))
            .json(&json!({ "advanceMs": ms }))
            .send()
            .await;
        assert!(advanced.is_ok_and(|r| r.status().is_success()), "clock");
    }
}

/// A simulated tenant served in this process.
pub struct Sim {
    pub base: String,
    pub http: reqwest::Client,
}

impl Sim {
    pub async fn start(fixture: &str) -> Self {
        let app = sim::app(
            fixture,
            &["http://127.0.0.1:8080/".into()],
            false,
            Default::default(),
        )
        .expect("fixture");
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("listen");
        let port = listener.local_addr().expect("address").port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("sim");
        r.json().await.unwrap_or(Value::Null)
    }

    pub async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("sim")
            .json()
            .await
            .expect("json")
    }

    pub async fn state(&self) -> Value {
        self.get("/_sim/state").await
    }

    pub async fn faults(&self, faults: Value) {
        self.post("/_sim/faults", faults).await;
    }

    pub fn transport(&self) -> Http {
        Http {
            http: self.http.clone(),
            sim: self.base.clone(),
        }
    }

    /// A Graph client for a fixture user.
    pub async fn client_with(&self, user: &str, policy: Policy) -> Client<Http> {
        let token = self.post("/_sim/token", json!({"user": user})).await;
        let session = Session {
            access_token: Secret::new(token["access_token"].as_str().expect("token")),
            refresh_token: None,
            token_url: format!("{}/organizations/oauth2/v2.0/token", self.base),
            client_id: sim::fixtures::SPA_CLIENT_ID.into(),
            scope: "openid".into(),
        };
        Client::new(
            self.transport(),
            &format!("{}/v1.0", self.base),
            session,
            policy,
        )
    }

    /// A Graph client with the page's own retry policy (waits cost no real time here).
    pub async fn client(&self, user: &str) -> Client<Http> {
        self.client_with(user, Policy::default()).await
    }
}

/// A forged certificate's keyCredential (public part only).
pub fn key_credential(subject: &str) -> Value {
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let request = Request {
        key_size: KeySize::Rsa2048,
        subject: subject.into(),
        validity_days: 180,
        flavour: Flavour::default(),
        password: Password::generate(&mut rng),
    };
    let now = UnixTime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    );
    let credential = forge::forge(&request, now, &mut rng).expect("forge");
    serde_json::to_value(
        forge::KeyCredential::for_certificate(&credential.certificate).expect("kc"),
    )
    .expect("json")
}

/// The tenant as the promises see it: every app (name, audience, certificates, permissions),
/// service principal, grant and role assignment, described by names rather than generated
/// ids and sorted, so the states after two runs compare equal exactly when the same objects,
/// certificates, permissions, grants and roles exist, nothing extra and nothing lost.
pub fn shape(state: &Value) -> Value {
    let list = |key: &str| state[key].as_array().cloned().unwrap_or_default();
    let apps = list("applications");
    let sps = list("servicePrincipals");
    let sp_name = |id: &Value| -> String {
        sps.iter()
            .find(|s| s["id"] == *id)
            .map(|s| {
                format!(
                    "{}#{}",
                    s["displayName"].as_str().unwrap_or("?"),
                    s["servicePrincipalType"].as_str().unwrap_or("")
                )
            })
            .unwrap_or_else(|| format!("unknown principal {id}"))
    };
    let app_name = |app_id: &Value| -> String {
        apps.iter()
            .find(|a| a["appId"] == *app_id)
            .and_then(|a| a["displayName"].as_str())
            .unwrap_or("(no application)")
            .to_owned()
    };
    let mut app_shapes: Vec<Value> = apps
        .iter()
        .map(|a| {
            let mut keys: Vec<Value> = a["keyCredentials"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                // Not the keyId: a fixture's are new GUIDs at every start.
                .map(|k| json!([k["key"], k["customKeyIdentifier"], k["startDateTime"], k["endDateTime"], k["displayName"], k["keyId"].is_string()]))
                .collect();
            keys.sort_by_key(|k| k.to_string());
            json!({
                "name": a["displayName"], "audience": a["signInAudience"], "uniqueName": a["uniqueName"],
                "keys": keys, "permissions": a["requiredResourceAccess"],
            })
        })
        .collect();
    app_shapes.sort_by_key(|a| a.to_string());
    let mut sp_shapes: Vec<Value> = sps
        .iter()
        .map(|s| {
            json!([
                s["displayName"],
                s["servicePrincipalType"],
                app_name(&s["appId"])
            ])
        })
        .collect();
    sp_shapes.sort_by_key(|s| s.to_string());
    let mut grants: Vec<Value> = list("appRoleAssignments")
        .iter()
        .map(|g| {
            json!([
                sp_name(&g["principalId"]),
                sp_name(&g["resourceId"]),
                g["appRoleId"]
            ])
        })
        .collect();
    grants.sort_by_key(|g| g.to_string());
    let mut roles: Vec<Value> = list("roleAssignments")
        .iter()
        .map(|r| {
            json!([
                sp_name(&r["principalId"]),
                r["roleDefinitionId"],
                r["directoryScopeId"]
            ])
        })
        .collect();
    roles.sort_by_key(|r| r.to_string());
    json!({ "apps": app_shapes, "servicePrincipals": sp_shapes, "grants": grants, "roles": roles })
}
