//! `unattended`: a static page that gives Microsoft 365 admins app-only (unattended) access to
//! Exchange Online PowerShell, with the private key made in, and never leaving, the browser.
//!
//! Layout (see `DESIGN.md` of the project): the pure core (`config`, later `forge`, `auth`,
//! `graph`, `onboard`) has no browser types and is tested natively with `cargo test`; `ui` is the
//! thin Leptos shell and `web` the only place that touches the browser's APIs.

#![forbid(unsafe_code)]
#![warn(missing_docs, clippy::unwrap_used, clippy::mod_module_files)]

pub mod auth;
pub mod azure;
pub mod cloud;
pub mod config;
pub mod forge;
pub mod graph;
pub mod lifecycle;
pub mod onboard;
pub mod registration;
pub mod session;
pub mod snippets;
pub mod wellknown;
pub mod workloads;
#[cfg(all(test, target_arch = "wasm32"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[cfg(target_arch = "wasm32")]
pub mod ui;
#[cfg(target_arch = "wasm32")]
pub mod web;
