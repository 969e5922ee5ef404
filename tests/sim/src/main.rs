//! `cargo run -p sim -- --port 4010 --fixture default --redirect-uri http://127.0.0.1:8080/`
//! serves the simulated tenant on 127.0.0.1 only, logging one line per request.

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
    let Some(app) = sim::app(&fixture, &redirects) else {
        eprintln!(
            "sim: unknown fixture {fixture}; known: {}",
            sim::fixtures::NAMES.join(", ")
        );
        return ExitCode::FAILURE;
    };
    let app = app.layer(middleware::from_fn(log));
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("sim: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("sim: tenant '{fixture}' on http://127.0.0.1:{port}");
    match axum::serve(listener, app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sim: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn log(request: Request, next: Next) -> Response {
    let line = format!("{} {}", request.method(), request.uri());
    let response = next.run(request).await;
    eprintln!("sim: {line} -> {}", response.status().as_u16());
    response
}
