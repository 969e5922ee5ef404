//! The Leptos user interface: one component per screen, no business logic.

mod certificate;
mod downloads;
mod start;

use leptos::prelude::*;

use crate::config::{Config, ConfigError};

pub use start::StartScreen;

/// What the page knows about its configuration while and after loading `config.json`.
pub type ConfigState = Option<Result<Config, ConfigError>>;

/// The whole page. Owns the top-level signals and hands them to the screens.
#[component]
pub fn App() -> impl IntoView {
    let config = LocalResource::new(load_config);
    let state = Signal::derive(move || config.get());
    let sandbox = move || matches!(state.get(), Some(Ok(c)) if c.is_sandbox());
    view! {
        <header class="topbar">
            <span class="brand">"unattended"</span>
            <Show when=sandbox>
                <span class="badge sandbox" title="This page talks to a simulated tenant on this computer, not to Microsoft">
                    "Sandbox"
                </span>
            </Show>
        </header>
        <main id="main">
            <StartScreen config=state />
        </main>
        <footer class="footer">
            <p>
                "Open source, a static page with no server of its own. Nothing you do here is stored: "
                "closing the tab forgets it."
            </p>
        </footer>
    }
}

async fn load_config() -> Result<Config, ConfigError> {
    crate::web::load_config().await
}
