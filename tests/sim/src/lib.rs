//! A simulated Microsoft tenant for the tests and the local sandbox: the identity platform (sign-in
//! with PKCE, client credentials, managed identities) and the Graph subset `unattended` uses,
//! with Graph's permission checks, faults on demand and inspection endpoints (see README.md).

pub mod access;
pub mod batch;
pub mod big;
pub mod challenge;
pub mod clock;
pub mod directory;
pub mod faults;
pub mod fixtures;
pub mod graph;
pub mod identity;
pub mod ids;
pub mod jwt;
pub mod keyed;
pub mod keys;
pub mod lifecycle;
pub mod paging;
pub mod platform;
pub mod query;
pub mod replica;
pub mod report;
pub mod signin;
pub mod tenant;

use std::sync::{Arc, Mutex};

/// Marks requests that arrived over the HTTPS listener when the simulator serves both (token
/// audiences and discovery URLs then use `https`).
#[derive(Debug, Clone, Copy)]
pub struct Https;

/// The router for a fixture, or `None` for an unknown fixture name. `https` says how clients
/// reach it (token audiences and discovery URLs are checked and written with that scheme).
pub fn app(
    fixture: &str,
    redirect_uris: &[String],
    https: bool,
    faults: faults::Faults,
) -> Option<axum::Router> {
    Some(graph::router(state(fixture, redirect_uris, https, faults)?))
}

/// The simulator's shared state for a fixture (one tenant behind any number of routers).
pub fn state(
    fixture: &str,
    redirect_uris: &[String],
    https: bool,
    faults: faults::Faults,
) -> Option<graph::Shared> {
    fixtures::prewarm();
    let mut tenant = fixtures::build(fixture, redirect_uris)?;
    tenant.replication_lag_secs = faults.replication_lag_secs;
    tenant.list_lag_secs = faults.list_lag_secs;
    tenant.stale_read_secs = faults.stale_read_secs;
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let key =
        unattended::forge::generate_key(unattended::forge::KeySize::Rsa2048, &mut rng).ok()?;
    Some(Arc::new(Mutex::new(graph::Sim {
        fixture: tenant.clone(),
        tenant,
        key,
        kid: ids::guid(),
        scheme: if https { "https" } else { "http" },
        faults,
        requests: 0,
        log: Vec::new(),
        codes: Default::default(),
        refresh_tokens: Default::default(),
        redirect_uris: redirect_uris.to_vec(),
    })))
}

#[cfg(test)]
mod big_tests;
#[cfg(test)]
mod ca_tests;
#[cfg(test)]
mod clock_tests;
#[cfg(test)]
mod faults_tests;
#[cfg(test)]
mod identity_tests;
#[cfg(test)]
mod keys_tests;
#[cfg(test)]
mod lifecycle_tests;
#[cfg(test)]
mod signin_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod upsert_tests;
