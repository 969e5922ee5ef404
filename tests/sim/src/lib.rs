//! A simulated Microsoft tenant for the tests and the local sandbox: the identity platform (sign-in
//! with PKCE, client credentials, managed identities) and the Graph subset `unattended` uses,
//! with Graph's permission checks, faults on demand and inspection endpoints (see README.md).

pub mod access;
pub mod arm;
pub mod arm_fixtures;
pub mod arm_model;
pub mod arm_ops;
pub mod arm_runbook;
pub mod batch;
pub mod big;
pub mod challenge;
pub mod clock;
pub mod cloud;
pub mod consent;
pub mod directory;
pub mod faults;
pub mod fixtures;
pub mod grants;
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
pub mod resources;
pub mod signin;
pub mod sites;
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

/// The simulator's state playing `cloud` (`--cloud`) with ID token issuers from `issuer`
/// (`--issuer`); a reset without `cloud`/`issuer` comes back to these.
pub fn state_in(
    fixture: &str,
    redirect_uris: &[String],
    https: bool,
    faults: faults::Faults,
    cloud: cloud::Cloud,
    issuer: cloud::Issuer,
) -> Option<graph::Shared> {
    let shared = state(fixture, redirect_uris, https, faults)?;
    {
        let mut sim = graph::lock(&shared);
        sim.cloud = cloud;
        sim.issuer = issuer;
        sim.start_cloud = (cloud, issuer);
    }
    Some(shared)
}

/// The simulator's shared state for a fixture (one tenant behind any number of routers).
pub fn state(
    fixture: &str,
    redirect_uris: &[String],
    https: bool,
    faults: faults::Faults,
) -> Option<graph::Shared> {
    fixtures::prewarm();
    let (mut tenant, others) = fixtures::build_all(fixture, redirect_uris)?;
    tenant.replication_lag_secs = faults.replication_lag_secs;
    tenant.list_lag_secs = faults.list_lag_secs;
    tenant.stale_read_secs = faults.stale_read_secs;
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let key =
        unattended::forge::generate_key(unattended::forge::KeySize::Rsa2048, &mut rng).ok()?;
    let arm = arm_fixtures::build(&tenant);
    Some(Arc::new(Mutex::new(graph::Sim {
        arm,
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
        fixture_others: others.clone(),
        others,
        cloud: Default::default(),
        issuer: Default::default(),
        start_cloud: Default::default(),
    })))
}

#[cfg(test)]
mod arm_tests;
#[cfg(test)]
mod big_tests;
#[cfg(test)]
mod ca_tests;
#[cfg(test)]
mod clock_tests;
#[cfg(test)]
mod cloud_tests;
#[cfg(test)]
mod consultant_tests;
#[cfg(test)]
mod faults_tests;
#[cfg(test)]
mod identity_tests;
#[cfg(test)]
mod keys_tests;
#[cfg(test)]
mod lifecycle_tests;
#[cfg(test)]
mod resources_tests;
#[cfg(test)]
mod signin_tests;
#[cfg(test)]
mod sites_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod upsert_tests;
