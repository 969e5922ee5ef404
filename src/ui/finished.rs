//! The final screen: what was made, how to connect, when to renew, and the run log.

use std::rc::Rc;
use std::sync::Arc;

use leptos::prelude::*;
use serde_json::{Value, json};

use crate::forge::job::Forged;
use crate::onboard::{Applied, Tenant};
use crate::snippets::{self, CertificateFacts};
use crate::web::download;
use crate::workloads::{Access, Workload, lines};

/// App id, tenant, thumbprint, expiry; the PowerShell lines; the reminder and the log.
#[component]
pub fn Finished(
    applied: Applied,
    forged: Arc<Forged>,
    tenant: Rc<Tenant>,
    /// The workloads, as applied.
    access: Access,
    /// The app's display name, for the reminder.
    app_name: String,
    log: Vec<Value>,
    round_trips: u32,
    /// The signed-in admin's Graph client (the Automation card derives its Azure client).
    client: Rc<crate::graph::Client<crate::web::fetch::Fetch>>,
) -> impl IntoView {
    let role_ids = access.role_ids();
    let compliance = role_ids
        .iter()
        .any(|r| crate::wellknown::exchange_role(r).is_some_and(|x| x.compliance));
    let facts = CertificateFacts {
        app_id: applied.app.app_id.clone(),
        organization: tenant.initial_domain.clone(),
        thumbprint: forged.thumbprint.clone(),
        pfx_file: format!("{}.pfx", super::downloads::file_stem(&forged.subject)),
        compliance,
        cloud: super::apply::cloud(),
    };
    let by_workload = lines::lines(
        &access,
        &lines::RunFacts {
            certificate: facts,
            tenant_id: tenant.id.clone(),
            service_principal_id: applied.service_principal_id.clone(),
            app_name: app_name.clone(),
        },
    );
    let names: Vec<&str> = access.workloads.iter().map(|w| w.name()).collect();
    let role_text = crate::onboard::plan::role_list(&role_ids);
    let exchange = access.has(Workload::Exchange) || access.has(Workload::Compliance);
    let reminder = {
        let not_after = forged.not_after.clone();
        // 30 days before expiry, as YYYYMMDD.
        let expiry = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(&not_after));
        let remind = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(
            expiry.get_time() - 30.0 * 86_400_000.0,
        ));
        let day = |d: &js_sys::Date| {
            format!(
                "{:04}{:02}{:02}",
                d.get_utc_full_year(),
                d.get_utc_month() + 1,
                d.get_utc_date()
            )
        };
        let now = js_sys::Date::new_0();
        let stamp = format!(
            "{}T{:02}{:02}{:02}Z",
            day(&now),
            now.get_utc_hours(),
            now.get_utc_minutes(),
            now.get_utc_seconds()
        );
        snippets::expiry_reminder(
            &app_name,
            &applied.app.app_id,
            &forged.thumbprint,
            &not_after,
            &day(&remind),
            &stamp,
        )
    };
    // The run log: identifiers and what happened, never a token, key, PFX or password.
    let run_log = json!({
        "tool": "unattended",
        "tenantId": tenant.id,
        "organization": tenant.initial_domain,
        "signedInAs": tenant.admin_upn,
        "app": applied.app,
        "servicePrincipalId": applied.service_principal_id,
        "workloads": access.workloads.iter().map(|w| w.as_str()).collect::<Vec<_>>(),
        "roles": role_ids,
        "roleGroup": access.role_group(),
        "certificate": { "thumbprint": forged.thumbprint, "subject": forged.subject, "notBefore": forged.not_before, "notAfter": forged.not_after, "bits": forged.bits },
        "verified": { "grant": applied.grant_verified, "role": applied.role_verified },
        "requests": round_trips,
        "events": log,
    });
    let run_log = serde_json::to_string_pretty(&run_log).unwrap_or_default();
    let file = super::downloads::file_stem(&forged.subject);
    let ics_name = format!("{file}-renewal.ics");
    let log_name = format!("{file}-run-log.json");
    super::session::record(crate::session::Row {
        at: super::session::now_iso(),
        tenant: tenant.name.clone(),
        tenant_id: tenant.id.clone(),
        domain: tenant.initial_domain.clone(),
        what: "certificate",
        name: app_name.clone(),
        app_id: applied.app.app_id.clone(),
        thumbprint: forged.thumbprint.clone(),
        expires: forged.not_after.clone(),
        log: log_name.clone(),
    });
    // The run is over: the focus goes to what to do next.
    let heading = NodeRef::<leptos::html::H2>::new();
    super::a11y::focus_when_shown(heading);
    view! {
        <section class="card done" id="finished">
            <h2 id="finished-title" tabindex="-1" node_ref=heading>{format!("Done: the app can now run {} unattended", names.join(", "))}</h2>
            <dl class="facts">
                <dt>"App (client) id"</dt><dd><code id="done-app-id">{applied.app.app_id.clone()}</code></dd>
                <dt>"Tenant"</dt><dd><code id="done-org">{tenant.initial_domain.clone()}</code> " (" {tenant.id.clone()} ")"</dd>
                <dt>"Certificate thumbprint"</dt><dd><code id="done-thumbprint">{forged.thumbprint.clone()}</code></dd>
                <dt>"Expires"</dt><dd id="done-expiry">{forged.not_after.clone()}</dd>
                <dt>"Tenant id"</dt><dd><code id="done-tenant-id">{tenant.id.clone()}</code></dd>
                <dt>"Service principal object id"</dt><dd><code id="done-sp-id">{applied.service_principal_id.clone()}</code></dd>
                <dt>"Entra roles"</dt><dd id="done-roles">{if role_text.is_empty() { "none".to_owned() } else { role_text }}</dd>
            </dl>
            {exchange.then(|| view! {
                <p class="status warning" id="propagation">
                    "Role assignments can take up to 15 minutes (occasionally longer) to reach Exchange Online: if the first "
                    "Connect-ExchangeOnline fails or cmdlets are missing, wait and try again. "
                    "Some cmdlets never work app-only (New-/Remove-UnifiedGroup, *-UnifiedGroupLinks, compliance searches)."
                </p>
            })}
            {by_workload.into_iter().map(|(w, snippets)| {
                // Exchange keeps the unprefixed ids its lines always had.
                let prefix: &'static str = match w {
                    Workload::Exchange => "",
                    Workload::Compliance => "compliance-",
                    Workload::Graph => "graph-",
                    Workload::Teams => "teams-",
                    Workload::SharePoint => "sharepoint-",
                };
                view! {
                    <section class="workload-lines" id=format!("lines-{}", w.as_str())>
                        <h3>{w.name()}</h3>
                        <super::apply::Snippets snippets prefix />
                    </section>
                }
            }).collect_view()}
            <super::automation::AutomationCard tenant=tenant.clone() client=client
                target=super::automation::For::Certificate { app_id: applied.app.app_id.clone(), pfx: forged.pfx.clone(), thumbprint: forged.thumbprint.clone() }
                prefix="cert-" />
            <div class="actions">
                <button id="save-ics" on:click=move |_| { let _ = download::save(&ics_name, "text/calendar", reminder.as_bytes()); }>
                    "Add an expiry reminder (.ics, 30 days before)"
                </button>
                <button id="save-log" on:click=move |_| { let _ = download::save(&log_name, "application/json", run_log.as_bytes()); }>
                    "Save the run log (JSON, no secrets)"
                </button>
            </div>
        </section>
    }
}
