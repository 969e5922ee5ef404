//! The inventory tab: every principal holding `Exchange.ManageAsApp`, its roles and
//! certificates (expiry, last use, warnings), sortable and filterable, exported as CSV, JSON and
//! an `.ics` of reminders; each app's Rotate, Remove old and Clean up open the change panel.

use std::rc::Rc;

use leptos::prelude::*;

use super::apply::{Account, role_names};
use super::change::{ChangePanel, Mode};
use crate::graph::Client;
use crate::lifecycle::inventory::{self, Filter, Kind, SortBy, Status};
use crate::lifecycle::{self, Inventory, Principal, UsageGap, export, reminders, when};
use crate::onboard::Tenant;
use crate::web::download;
use crate::web::fetch::Fetch;

fn now() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

/// Reads the inventory and shows it, with the change panel under it.
#[component]
pub fn InventoryTab(tenant: Rc<Tenant>, client: Rc<Client<Fetch>>) -> impl IntoView {
    let (version, set_version) = signal(0u32);
    let read = {
        let (client, tenant) = (client.clone(), tenant.clone());
        LocalResource::new(move || {
            version.track();
            let (client, tenant) = (client.clone(), tenant.clone());
            async move {
                lifecycle::read(&client, &tenant, super::apply::cloud(), now())
                    .await
                    .map(Rc::new)
            }
        })
    };
    let selected = RwSignal::new(None::<(Principal, Mode)>);
    let client_handle = StoredValue::new_local(client.clone());
    let tenant_handle = StoredValue::new_local(tenant.clone());
    let refresh = Callback::new(move |()| set_version.update(|v| *v += 1));
    view! {
        <section class="card" id="inventory">
            <h2>"Inventory: every credential that can run Exchange Online PowerShell unattended"</h2>
            {move || match read.get() {
                None => view! { <p id="inventory-status" role="status">"Reading every app and managed identity that holds Exchange.ManageAsApp…"</p> }.into_any(),
                Some(Err(e)) => view! {
                    <p id="inventory-error" class="status error" role="alert">{e.to_string()}</p>
                    <button on:click=move |_| refresh.run(())>"Read again"</button>
                }.into_any(),
                Some(Ok(inv)) => view! {
                    <Table inv selected refresh client=client_handle.get_value() />
                }.into_any(),
            }}
        </section>
        {move || selected.get().map(|(principal, mode)| view! {
            <ChangePanel principal mode selected refresh
                client=client_handle.get_value() tenant=tenant_handle.get_value() />
        })}
    }
}

/// How the page says how much is left.
fn days_text(days: i64, status: Status) -> String {
    match status {
        Status::Expired if days == -1 => "expired yesterday".into(),
        Status::Expired => format!("expired {} days ago", -days),
        _ if days == 1 => "1 day".into(),
        _ => format!("{days} days"),
    }
}

#[component]
fn Table(
    inv: Rc<Inventory>,
    selected: RwSignal<Option<(Principal, Mode)>>,
    refresh: Callback<()>,
    client: Rc<Client<Fetch>>,
) -> impl IntoView {
    let (filter_text, set_filter_text) = signal(String::new());
    let (status, set_status) = signal(None::<Status>);
    let (sort, set_sort) = signal(SortBy::DaysLeft);
    let inv_handle = StoredValue::new_local(inv.clone());
    let certificates = inv.certificates().count();
    let expired = inv
        .certificates()
        .filter(|(_, c)| c.status == Status::Expired)
        .count();
    let expiring = inv
        .certificates()
        .filter(|(_, c)| c.status == Status::Expiring)
        .count();
    let identities = inv
        .principals
        .iter()
        .filter(|p| p.kind == Kind::ManagedIdentity)
        .count();
    let summary = format!(
        "{} principal{} hold Exchange.ManageAsApp ({} app{}, {identities} managed identit{}); {certificates} certificate{}: {expired} expired, {expiring} expiring within {} days.",
        inv.principals.len(),
        if inv.principals.len() == 1 { "" } else { "s" },
        inv.principals.len() - identities,
        if inv.principals.len() - identities == 1 {
            ""
        } else {
            "s"
        },
        if identities == 1 { "y" } else { "ies" },
        if certificates == 1 { "" } else { "s" },
        inventory::EXPIRING_DAYS,
    );
    let gap = inv.usage.gap().cloned();
    let save = move |what: &'static str| {
        inv_handle.with_value(|inv| {
            let (name, mime, text) = match what {
                "csv" => (export::csv_file_name(inv.now), "text/csv", export::csv(inv)),
                "json" => (
                    export::json_file_name(inv.now),
                    "application/json",
                    export::json(inv),
                ),
                _ => (
                    reminders::file_name(inv.now),
                    "text/calendar",
                    reminders::calendar(inv, now()),
                ),
            };
            let _ = download::save(&name, mime, text.as_bytes());
        });
    };
    let rows = move || {
        let filter = Filter {
            text: filter_text.get(),
            status: status.get(),
        };
        inv_handle.with_value(|inv| {
            inventory::view(inv, &filter, sort.get())
                .into_iter()
                .map(|p| principal_rows(p.clone(), inv.max_certificate_days, selected))
                .collect_view()
        })
    };
    view! {
        <p id="inventory-summary" role="status">{summary}</p>
        {(!inv.complete).then(|| view! {
            <p id="inventory-incomplete" class="status warning">"Some lists were longer than the page reads: the inventory may miss principals or roles."</p>
        })}
        {gap.map(|g| view! { <UsageGapView gap=g refresh client=client.clone() /> })}
        <div class="controls" id="inventory-controls">
            <input id="inventory-filter" type="search" placeholder="Filter by name, app id or thumbprint"
                aria-label="Filter by name, app id or thumbprint"
                prop:value=move || filter_text.get() on:input=move |ev| set_filter_text.set(event_target_value(&ev)) />
            <label>"Status "
                <select id="inventory-status-filter" on:change=move |ev| set_status.set(match event_target_value(&ev).as_str() {
                    "expired" => Some(Status::Expired),
                    "expiring" => Some(Status::Expiring),
                    "valid" => Some(Status::Valid),
                    _ => None,
                })>
                    <option value="">"all"</option>
                    <option value="expired">"with an expired certificate"</option>
                    <option value="expiring">"expired or expiring"</option>
                    <option value="valid">"with a valid certificate"</option>
                </select>
            </label>
            <label>"Sort by "
                <select id="inventory-sort" on:change=move |ev| set_sort.set(match event_target_value(&ev).as_str() {
                    "name" => SortBy::Name,
                    "status" => SortBy::Status,
                    "lastUse" => SortBy::LastUse,
                    _ => SortBy::DaysLeft,
                })>
                    <option value="daysLeft">"days left"</option>
                    <option value="name">"name"</option>
                    <option value="status">"status"</option>
                    <option value="lastUse">"last use"</option>
                </select>
            </label>
            <button id="inventory-refresh" on:click=move |_| refresh.run(())>"Read again"</button>
        </div>
        <div class="actions" id="inventory-exports">
            <button id="export-csv" on:click=move |_| save("csv")>"Export CSV"</button>
            <button id="export-json" on:click=move |_| save("json")>"Export JSON"</button>
            <button id="export-ics" on:click=move |_| save("ics")>"Expiry reminders (.ics, 30 and 7 days before)"</button>
        </div>
        <p class="hint">"The exports hold names, ids, thumbprints and dates: no key, no secret."</p>
        <table id="inventory-table" class="inventory">
            <thead>
                <tr>
                    <th scope="col">"Thumbprint"</th>
                    <th scope="col">"Subject"</th>
                    <th scope="col">"Key"</th>
                    <th scope="col">"Start"</th>
                    <th scope="col">"End"</th>
                    <th scope="col">"Days left"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col">"Last used"</th>
                </tr>
            </thead>
            {rows}
        </table>
    }
}

/// A principal's header row (name, kind, ids, roles, warnings, actions) and one row per
/// certificate.
fn principal_rows(
    p: Principal,
    max_days: Option<u32>,
    selected: RwSignal<Option<(Principal, Mode)>>,
) -> impl IntoView {
    let warnings = p.warnings(max_days);
    let is_app = p.kind == Kind::App;
    let has_expired = p.certificates.iter().any(|c| c.status == Status::Expired);
    let removable = p.certificates.len() > 1;
    let (p1, p2, p3) = (p.clone(), p.clone(), p.clone());
    let certificates = p.certificates.clone();
    let secrets = p.secrets.clone();
    let granted = when::parse(&p.granted).map(when::day).unwrap_or_default();
    view! {
        <tbody class="principal" data-app-id=p.app_id.clone() data-kind=format!("{:?}", p.kind)>
            <tr class="principal-head">
                <th scope="rowgroup" colspan="8">
                    <span class="principal-name">{p.display_name.clone()}</span>
                    " · " <span class="kind">{p.kind.label()}</span>
                    " · app id " <code class="app-id">{p.app_id.clone()}</code>
                    " · roles: " <span class="roles">{role_names(&p.roles)}</span>
                    {(!granted.is_empty()).then(|| format!(" · granted {granted}"))}
                    {is_app.then(|| view! {
                        <span class="row-actions">
                            <button class="rotate" on:click=move |_| selected.set(Some((p1.clone(), Mode::Rotate)))>"Rotate"</button>
                            <button class="remove" disabled=!removable on:click=move |_| selected.set(Some((p2.clone(), Mode::Remove(vec![]))))>"Remove old…"</button>
                            {has_expired.then(|| view! {
                                <button class="cleanup" on:click=move |_| selected.set(Some((p3.clone(), Mode::CleanUp)))>"Clean up expired"</button>
                            })}
                        </span>
                    })}
                    {(!warnings.is_empty()).then(|| view! {
                        <ul class="warnings">{warnings.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}</ul>
                    })}
                    {(p.kind == Kind::ManagedIdentity).then(|| view! {
                        <p class="hint">"No certificate to rotate: Azure manages this identity's credentials."</p>
                    })}
                    {(p.kind == Kind::OtherTenantApp).then(|| view! {
                        <p class="hint">"Registered in another tenant: its certificates are its owner's to see and rotate. Check you still use it."</p>
                    })}
                </th>
            </tr>
            {certificates.into_iter().map(|c| view! {
                <tr class="cert" data-key-id=c.key_id.clone() data-status=c.status.label() data-thumbprint=c.thumbprint.clone()>
                    <td><code class="thumbprint">{c.thumbprint.clone()}</code></td>
                    <td class="subject">{c.subject.clone().unwrap_or_else(|| c.display_name.clone())}</td>
                    <td class="bits">{c.key_bits.map(|b| format!("RSA {b}")).unwrap_or_default()}</td>
                    <td class="start">{when::parse(&c.start).map(when::day).unwrap_or_default()}</td>
                    <td class="end">{when::parse(&c.end).map(when::day).unwrap_or_default()}</td>
                    <td class="days-left" data-days=c.days_left.to_string()>{days_text(c.days_left, c.status)}</td>
                    <td class="status-cell"><span class=format!("badge {}", c.status.label().replace(' ', "-"))>{c.status.label()}</span></td>
                    <td class="last-used">{c.last_used.text()}</td>
                </tr>
            }).collect_view()}
            {secrets.into_iter().map(|s| view! {
                <tr class="secret" data-key-id=s.key_id.clone()>
                    <td colspan="4">"client secret " <code>{format!("{}…", s.hint)}</code> " " {s.display_name.clone()}</td>
                    <td class="end">{when::parse(&s.end).map(when::day).unwrap_or_default()}</td>
                    <td class="days-left">{days_text(s.days_left, s.status)}</td>
                    <td><span class="badge warning">"secret"</span></td>
                    <td class="last-used">{s.last_used.text()}</td>
                </tr>
            }).collect_view()}
        </tbody>
    }
}

/// Why the last-use column is empty, and the way to fill it when it is only consent.
#[component]
fn UsageGapView(gap: UsageGap, refresh: Callback<()>, client: Rc<Client<Fetch>>) -> impl IntoView {
    let account = use_context::<StoredValue<Account, LocalStorage>>();
    let (error, set_error) = signal(None::<String>);
    let consent = gap == UsageGap::Consent;
    let client = StoredValue::new_local(client);
    let allow = move |_| {
        let Some(account) = account.map(|a| a.get_value()) else {
            return;
        };
        let client = client.get_value();
        set_error.set(None);
        leptos::task::spawn_local(async move {
            match super::apply::renew_in_popup(&client, &account, None, &[lifecycle::AUDIT_SCOPE])
                .await
            {
                Ok(()) => refresh.run(()),
                Err(e) => set_error.set(Some(e)),
            }
        });
    };
    view! {
        <div id="usage-gap" class="status warning" role="status" data-missing=format!("{gap:?}")>
            <p>{gap.to_string()}</p>
            {consent.then(|| view! {
                <button id="allow-last-use" on:click=allow>"Allow reading last use"</button>
                <p id="allow-last-use-error" class="status error" role="alert">{move || error.get()}</p>
            })}
        </div>
    }
}
