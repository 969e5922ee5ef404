//! The consultant's session on screen: *Next tenant* forgets the tenant just done (tokens, the
//! certificate and its key held in memory) and the summary of every tenant done so far, kept in
//! memory and saved as CSV on request.

use leptos::prelude::*;

use crate::session::{Row, csv};

/// The session's rows, shared by every screen.
pub type Session = RwSignal<Vec<Row>>;

/// Records a finished result once (a screen shown again records nothing more).
pub fn record(row: Row) {
    if let Some(session) = use_context::<Session>() {
        session.update(|rows| {
            if !rows.iter().any(|r| r.same(&row)) {
                rows.push(row);
            }
        });
    }
}

/// Now, ISO 8601.
pub fn now_iso() -> String {
    js_sys::Date::new_0()
        .to_iso_string()
        .as_string()
        .unwrap_or_default()
}

/// The summary table and its CSV download, once anything is done.
#[component]
pub fn Summary(session: Session, forgot: RwSignal<Option<String>>) -> impl IntoView {
    let save = move |_| {
        let text = csv(&session.get_untracked());
        let name = format!(
            "unattended-session-{}.csv",
            now_iso().get(..10).unwrap_or("today")
        );
        let _ = crate::web::download::save(&name, "text/csv", text.as_bytes());
    };
    view! {
        {move || forgot.get().map(|text| view! { <p id="forgot" class="status" role="status">{text}</p> })}
        <Show when=move || !session.get().is_empty()>
            <section class="card" id="session" aria-labelledby="session-title">
                <h2 id="session-title">"This session"</h2>
                <table class="inventory" id="session-table">
                    <thead><tr>
                        <th scope="col">"Tenant"</th><th scope="col">"What"</th><th scope="col">"Name"</th>
                        <th scope="col">"App (client) id"</th><th scope="col">"Thumbprint"</th><th scope="col">"Expires"</th>
                    </tr></thead>
                    <tbody>
                        {move || session.get().into_iter().map(|r| view! {
                            <tr class="session-row" data-tenant-id=r.tenant_id.clone()>
                                <td>{r.tenant.clone()} " (" <code>{r.domain.clone()}</code> ")"</td>
                                <td>{r.what}</td>
                                <td>{r.name.clone()}</td>
                                <td><code>{r.app_id.clone()}</code></td>
                                <td><code class="thumbprint">{r.thumbprint.clone()}</code></td>
                                <td>{r.expires.get(..10).unwrap_or_default().to_owned()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
                <button id="session-csv" on:click=save>"Save the session summary (CSV, no secrets)"</button>
            </section>
        </Show>
    }
}
