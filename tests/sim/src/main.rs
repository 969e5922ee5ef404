//! `cargo run -p sim -- --port 4010 --fixture default --redirect-uri http://127.0.0.1:8080/
//! [--tls-dir DIR]` serves the simulated tenant on 127.0.0.1 only, logging one line per request.
//! `--port 0` picks a free port; the first line on stderr names the address. With `--tls-dir`
//! it serves HTTPS with a fresh self-signed certificate written to `DIR/sim-ca.pem`, for
//! clients that insist on HTTPS (point them at that file as their CA bundle); with
//! `--https-port N` as well, plain HTTP stays on `--port` and HTTPS serves the same tenant on N
//! (its address is announced on a later stderr line). Faults:
//! `--latency-ms N`, `--throttle-every N`, `--unavailable-every N`, `--retry-after SECS`,
//! `--replication-lag SECS`, `--drop-every N`, `--token-lifetime SECS` (also settable at run
//! time with `POST /_sim/faults`). `--cloud worldwide|gcchigh|dod|china` picks the cloud played
//! (token audiences, scope prefixes, the Exchange resource); `--issuer request|cloud` whether ID
//! token issuers carry the address called (default) or the real cloud's issuer host.

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let port: u16 = value("--port").and_then(|p| p.parse().ok()).unwrap_or(4010);
    let fixture = value("--fixture").unwrap_or_else(|| "default".into());
    let redirects: Vec<String> = value("--redirect-uri").into_iter().collect();
    let tls_dir = value("--tls-dir");
    let number = |name: &str| value(name).and_then(|v| v.parse::<u64>().ok());
    let faults = sim::faults::Faults {
        latency_ms: number("--latency-ms").unwrap_or(0),
        throttle_every: number("--throttle-every"),
        retry_after_secs: value("--retry-after")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1.0),
        unavailable_every: number("--unavailable-every"),
        replication_lag_secs: number("--replication-lag").map_or(0, |s| s as i64),
        drop_every: number("--drop-every"),
        token_lifetime_secs: number("--token-lifetime"),
        deny_path_contains: None,
        ..Default::default()
    };
    let https_port: Option<u16> = value("--https-port").and_then(|p| p.parse().ok());
    let https_only = tls_dir.is_some() && https_port.is_none();
    let cloud = match value("--cloud").map(|c| sim::cloud::Cloud::parse(&c).ok_or(c)) {
        None => sim::cloud::Cloud::Worldwide,
        Some(Ok(cloud)) => cloud,
        Some(Err(name)) => {
            eprintln!(
                "sim: unknown cloud {name}; known: {}",
                sim::cloud::NAMES.join(", ")
            );
            return ExitCode::FAILURE;
        }
    };
    let issuer = match value("--issuer").map(|i| sim::cloud::Issuer::parse(&i).ok_or(i)) {
        None => sim::cloud::Issuer::Request,
        Some(Ok(issuer)) => issuer,
        Some(Err(name)) => {
            eprintln!("sim: unknown issuer {name}; known: request, cloud");
            return ExitCode::FAILURE;
        }
    };
    let Some(state) = sim::state_in(&fixture, &redirects, https_only, faults, cloud, issuer) else {
        eprintln!(
            "sim: unknown fixture {fixture}; known: {}",
            sim::fixtures::NAMES.join(", ")
        );
        return ExitCode::FAILURE;
    };
    let app = sim::graph::router(state.clone()).layer(middleware::from_fn(log));
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let result = match (tls_dir, https_port) {
        // Both: the browser on HTTP, clients that insist on HTTPS (MSAL) on the other port,
        // one tenant behind both.
        (Some(dir), Some(https_port)) => {
            // A router of its own (layers on a clone would reach the HTTP one too).
            let secure = sim::graph::router(state)
                .layer(axum::Extension(sim::Https))
                .layer(middleware::from_fn(log));
            let https_address = SocketAddr::from(([127, 0, 0, 1], https_port));
            let fixture_name = fixture.clone();
            tokio::spawn(async move {
                if let Err(e) = serve_https(secure, https_address, &dir, &fixture_name).await {
                    eprintln!("sim: {e}");
                }
            });
            serve_http(app, address, &fixture).await
        }
        (Some(dir), None) => serve_https(app, address, &dir, &fixture).await,
        (None, _) => serve_http(app, address, &fixture).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sim: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve_http(app: axum::Router, address: SocketAddr, fixture: &str) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| format!("cannot listen on {address}: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    eprintln!("sim: tenant '{fixture}' on http://127.0.0.1:{port}");
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}

async fn serve_https(
    app: axum::Router,
    address: SocketAddr,
    dir: &str,
    fixture: &str,
) -> Result<(), String> {
    // Only one provider is compiled in; installing fails only if one is already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let made =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .map_err(|e| format!("cannot make the server certificate: {e}"))?;
    let (cert, key) = (made.cert.pem(), made.signing_key.serialize_pem());
    let ca = std::path::Path::new(dir).join("sim-ca.pem");
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&ca, &cert))
        .map_err(|e| format!("{}: {e}", ca.display()))?;
    let config =
        axum_server::tls_rustls::RustlsConfig::from_pem(cert.into_bytes(), key.into_bytes())
            .await
            .map_err(|e| e.to_string())?;
    let handle: axum_server::Handle<SocketAddr> = axum_server::Handle::new();
    let announce = handle.clone();
    let fixture = fixture.to_owned();
    tokio::spawn(async move {
        if let Some(bound) = announce.listening().await {
            eprintln!(
                "sim: tenant '{fixture}' on https://127.0.0.1:{}",
                bound.port()
            );
        }
    });
    axum_server::bind_rustls(address, config)
        .handle(handle)
        .serve(app.into_make_service())
        .await
        .map_err(|e| e.to_string())
}

async fn log(request: Request, next: Next) -> Response {
    let line = format!("{} {}", request.method(), request.uri());
    let response = next.run(request).await;
    eprintln!("sim: {line} -> {}", response.status().as_u16());
    response
}
