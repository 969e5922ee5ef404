//! The workload choice on the plan screen (which PowerShell modules, each with its least
//! privilege) and, in the plan, what each workload is handed: API, permission by name and id,
//! role, and a flag on anything that reaches every mailbox or site. Rules live in
//! `crate::workloads`; this module only edits and shows an `Access`.

use std::rc::Rc;

use leptos::prelude::*;

use crate::onboard::{Plan, Tenant};
use crate::wellknown::{self, EXCHANGE_ROLES};
use crate::workloads::{
    self, Access, ExchangeRbac, GRAPH_PRESETS, ROLE_GROUPS, SharePointAccess, SiteRole, TeamsScope,
    Workload,
};

/// A Graph application permission the tenant offers, for the searchable list.
#[derive(Debug, Clone, PartialEq)]
struct Offered {
    value: String,
    name: String,
    description: String,
}

/// The Graph application permissions this tenant's Graph service principal offers, by value.
fn graph_offers(tenant: &Tenant) -> Vec<Offered> {
    let mut out: Vec<Offered> = tenant
        .resources
        .iter()
        .filter(|sp| sp.app_id.eq_ignore_ascii_case(workloads::GRAPH.app_id))
        .flat_map(|sp| sp.app_roles.iter())
        .filter(|r| r.is_enabled && r.for_applications())
        .filter_map(|r| {
            Some(Offered {
                value: r.value.clone()?,
                name: r.display_name.clone().unwrap_or_default(),
                description: r.description.clone().unwrap_or_default(),
            })
        })
        .collect();
    out.sort_by_key(|a| a.value.to_lowercase());
    out
}

/// How many matches the search shows at once (Graph offers hundreds).
const SHOWN: usize = 40;

/// The workloads and their options.
#[component]
pub fn WorkloadChoice(access: RwSignal<Access>, tenant: Rc<Tenant>) -> impl IntoView {
    let offers = StoredValue::new(graph_offers(&tenant));
    let toggle = move |w: Workload| {
        view! {
            <label class="choice workload">
                <input type="checkbox" id=format!("workload-{}", w.as_str())
                    prop:checked=move || access.with(|a| a.has(w))
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        access.update(|a| *a = a.clone().with(w, on));
                    } />
                <span>{w.name()}</span>
            </label>
        }
    };
    let shows = move |w: Workload| move || !access.with(|a| a.has(w));
    view! {
        <fieldset class="workloads" id="workloads">
            <legend>"What the app is for (one certificate; permissions and roles merged)"</legend>
            {toggle(Workload::Exchange)}
            <div class="workload-options" id="exchange-options" hidden=shows(Workload::Exchange)>
                <ExchangeOptions access />
            </div>
            {toggle(Workload::Compliance)}
            <div class="workload-options" id="compliance-options" hidden=shows(Workload::Compliance)>
                <label class="field">
                    <span>"Entra role for Security & Compliance"</span>
                    <select id="compliance-role" on:change=move |ev| {
                        let v = event_target_value(&ev);
                        access.update(|a| a.compliance_role = v);
                    }>
                        {EXCHANGE_ROLES.iter().filter(|r| r.compliance).map(|r| view! {
                            <option value=r.id selected=r.id == workloads::COMPLIANCE_ADMIN>{format!("{} — {}", r.name, r.meaning)}</option>
                        }).collect_view()}
                    </select>
                </label>
                <p class="hint">{format!(
                    "Microsoft Purview cmdlets do not work app-only, including {}.",
                    workloads::COMPLIANCE_UNSUPPORTED.join(", ")
                )}</p>
            </div>
            {toggle(Workload::Graph)}
            <div class="workload-options" id="graph-options" hidden=shows(Workload::Graph)>
                <GraphPicker access offers=offers.get_value() />
            </div>
            {toggle(Workload::Teams)}
            <div class="workload-options" id="teams-options" hidden=shows(Workload::Teams)>
                <label class="choice">
                    <input type="radio" name="teams-scope" id="teams-all"
                        prop:checked=move || access.with(|a| a.teams == TeamsScope::All)
                        on:change=move |_| access.update(|a| a.teams = TeamsScope::All) />
                    <span>{format!("Every cmdlet that works app-only: {}", workloads::TEAMS_ALL.join(", "))}</span>
                </label>
                <label class="choice">
                    <input type="radio" name="teams-scope" id="teams-policy"
                        prop:checked=move || access.with(|a| a.teams == TeamsScope::PolicyOnly)
                        on:change=move |_| access.update(|a| a.teams = TeamsScope::PolicyOnly) />
                    <span>"Only the *-Cs policy and voice cmdlets: Organization.Read.All"</span>
                </label>
                <p class="hint">{format!(
                    "Plus the Teams Administrator role. Not available app-only: {}.",
                    workloads::TEAMS_UNSUPPORTED.join(", ")
                )}</p>
            </div>
            {toggle(Workload::SharePoint)}
            <div class="workload-options" id="sharepoint-options" hidden=shows(Workload::SharePoint)>
                <SharePointOptions access />
            </div>
        </fieldset>
    }
}

#[component]
fn ExchangeOptions(access: RwSignal<Access>) -> impl IntoView {
    let (role, set_role) = signal(wellknown::roles::EXCHANGE_ADMIN.to_owned());
    let (group, set_group) = signal(ROLE_GROUPS[0].name.to_owned());
    let (custom, set_custom) = signal(String::new());
    let by_group = move || access.with(|a| matches!(a.exchange, ExchangeRbac::RoleGroup(_)));
    // The access follows whichever option is on.
    Effect::new(move |_| {
        let chosen = if by_group() {
            let g = group.get();
            ExchangeRbac::RoleGroup(if g.is_empty() {
                custom.get().trim().to_owned()
            } else {
                g
            })
        } else {
            ExchangeRbac::EntraRole(role.get())
        };
        if access.with_untracked(|a| a.exchange != chosen) {
            access.update(|a| a.exchange = chosen);
        }
    });
    view! {
        <label class="choice">
            <input type="radio" name="exchange-rbac" id="exchange-rbac-entra" prop:checked=move || !by_group()
                on:change=move |_| access.update(|a| a.exchange = ExchangeRbac::EntraRole(role.get_untracked())) />
            <span>"An Entra role (simplest: takes effect tenant-wide within minutes)"</span>
        </label>
        <super::apply::RoleSelect id="role" label="Entra role for the app" set=set_role />
        <label class="choice">
            <input type="radio" name="exchange-rbac" id="exchange-rbac-group" prop:checked=by_group
                on:change=move |_| access.update(|a| a.exchange = ExchangeRbac::RoleGroup(group.get_untracked())) />
            <span>"An Exchange role group, no Entra role (least privilege, can be scoped; costs one Exchange PowerShell step that the last screen gives you)"</span>
        </label>
        <label class="field">
            <span>"Role group"</span>
            <select id="role-group" on:change=move |ev| set_group.set(event_target_value(&ev))>
                {ROLE_GROUPS.iter().map(|g| view! {
                    <option value=g.name>{format!("{} — {}", g.name, g.gains)}</option>
                }).collect_view()}
                <option value="">"A custom group with a management scope (name it below)"</option>
            </select>
        </label>
        <input id="role-group-custom" type="text" maxlength="64" placeholder="Custom role group name" aria-label="Custom role group name"
            hidden=move || !group.get().is_empty()
            prop:value=move || custom.get() on:input=move |ev| set_custom.set(event_target_value(&ev)) />
    }
}

#[component]
fn GraphPicker(access: RwSignal<Access>, offers: Vec<Offered>) -> impl IntoView {
    let (search, set_search) = signal(String::new());
    let (typed, set_typed) = signal(String::new());
    let offers = StoredValue::new(offers);
    let add = move |value: String| {
        access.update(|a| {
            if !a.graph.iter().any(|v| v.eq_ignore_ascii_case(&value)) {
                a.graph.push(value);
            }
        })
    };
    let remove = move |value: String| access.update(|a| a.graph.retain(|v| *v != value));
    view! {
        <div class="presets" role="group" aria-label="Presets">
            {GRAPH_PRESETS.iter().map(|p| view! {
                <button type="button" id=format!("preset-{}", p.key) title=p.why
                    on:click=move |_| p.permissions.iter().for_each(|v| add((*v).to_owned()))>
                    {format!("{} ({})", p.label, p.permissions.join(", "))}
                </button>
            }).collect_view()}
        </div>
        <ul id="graph-chosen" class="chips" aria-label="Chosen Microsoft Graph permissions">
            {move || access.with(|a| a.graph.clone()).into_iter().map(|v| {
                let gone = v.clone();
                view! {
                    <li data-value=v.clone()>
                        <code>{v.clone()}</code>
                        {workloads::broad(&v).map(|why| view! { <span class="broad">{format!(" (broad: {why})")}</span> })}
                        <button type="button" class="remove" aria-label=format!("Remove {v}") on:click=move |_| remove(gone.clone())>"×"</button>
                    </li>
                }
            }).collect_view()}
        </ul>
        <label class="field">
            <span>"Search Microsoft Graph's application permissions in this tenant"</span>
            <input id="graph-search" type="search" placeholder="e.g. Mail, User.Read, reports"
                prop:value=move || search.get() on:input=move |ev| set_search.set(event_target_value(&ev)) />
        </label>
        <ul id="graph-offers" class="offers">
            {move || {
                let needle = search.get().trim().to_lowercase();
                if needle.is_empty() {
                    return ().into_any();
                }
                offers.with_value(|all| {
                    all.iter()
                        .filter(|o| o.value.to_lowercase().contains(&needle)
                            || o.name.to_lowercase().contains(&needle)
                            || o.description.to_lowercase().contains(&needle))
                        .take(SHOWN)
                        .map(|o| {
                            let value = o.value.clone();
                            let chosen = {
                                let value = value.clone();
                                move || access.with(|a| a.graph.iter().any(|v| v.eq_ignore_ascii_case(&value)))
                            };
                            let (on, off) = (value.clone(), value.clone());
                            view! {
                                <li>
                                    <label class="choice">
                                        <input type="checkbox" class="graph-offer" data-value=value.clone() prop:checked=chosen
                                            on:change=move |ev| if event_target_checked(&ev) { add(on.clone()) } else { remove(off.clone()) } />
                                        <span><code>{value.clone()}</code>" — " {o.name.clone()}
                                            {workloads::broad(&value).map(|_| view! { <span class="broad">" broad"</span> })}
                                            <br /><small>{o.description.clone()} " (needs admin consent)"</small></span>
                                    </label>
                                </li>
                            }
                        })
                        .collect_view()
                        .into_any()
                })
            }}
        </ul>
        <label class="field">
            <span>"Or add one by its exact name"</span>
            <input id="graph-add-name" type="text" placeholder="User.Read.All"
                prop:value=move || typed.get() on:input=move |ev| set_typed.set(event_target_value(&ev)) />
        </label>
        <button type="button" id="graph-add" on:click=move |_| {
            let v = typed.get_untracked().trim().to_owned();
            if !v.is_empty() {
                add(v);
                set_typed.set(String::new());
            }
        }>"Add"</button>
    }
}

#[component]
fn SharePointOptions(access: RwSignal<Access>) -> impl IntoView {
    let (site, set_site) = signal(String::new());
    let (role, set_role) = signal(SiteRole::Write);
    let selected =
        move || access.with(|a| matches!(a.sharepoint, SharePointAccess::Selected { .. }));
    let chosen = move || SharePointAccess::Selected {
        site: site.get(),
        role: role.get(),
    };
    Effect::new(move |_| {
        if selected() {
            let now = chosen();
            if access.with_untracked(|a| a.sharepoint != now) {
                access.update(|a| a.sharepoint = now);
            }
        }
    });
    view! {
        <label class="choice">
            <input type="radio" name="sharepoint" id="sp-full" prop:checked=move || !selected()
                on:change=move |_| access.update(|a| a.sharepoint = SharePointAccess::FullControl) />
            <span>"Sites.FullControl.All: every site, and Connect-SPOService (which needs it)"</span>
        </label>
        <label class="choice">
            <input type="radio" name="sharepoint" id="sp-selected" prop:checked=selected
                on:change=move |_| access.update(|a| a.sharepoint = SharePointAccess::Selected { site: site.get_untracked(), role: role.get_untracked() }) />
            <span>"Sites.Selected: only the site below (least privilege; PnP only)"</span>
        </label>
        <div hidden=move || !selected()>
            <label class="field">
                <span>"Site address"</span>
                <input id="sp-site" type="url" placeholder="https://contoso.sharepoint.com/sites/Finance"
                    prop:value=move || site.get() on:input=move |ev| set_site.set(event_target_value(&ev)) />
            </label>
            <label class="field">
                <span>"Role on the site"</span>
                <select id="sp-site-role" on:change=move |ev| {
                    if let Some(r) = SiteRole::parse(&event_target_value(&ev)) { set_role.set(r); }
                }>
                    {SiteRole::ALL.into_iter().map(|r| view! {
                        <option value=r.as_str() selected=r == SiteRole::Write>{r.pnp()}</option>
                    }).collect_view()}
                </select>
            </label>
            <p class="hint">
                "The page grants the site itself (POST /sites/{id}/permissions) when you are a SharePoint or Global Administrator and let it use Sites.FullControl.All; Microsoft's documentation does not settle whether a signed-in admin may make this grant, so if it is refused, the last screen gives the PnP line a SharePoint administrator runs instead."
            </p>
        </div>
    }
}

/// Per workload: the API, each permission by name and id, and the roles; broad ones flagged.
#[component]
pub fn AccessView(plan: Plan, #[prop(optional)] prefix: &'static str) -> impl IntoView {
    let rows: Vec<_> = plan
        .permissions
        .iter()
        .map(|g| {
            let who: Vec<&str> = g.workloads.iter().map(|w| w.name()).collect();
            view! {
                <tr class:broad=g.broad.is_some() data-value=g.value.clone() data-resource=g.resource.app_id>
                    <td>{who.join(", ")}</td>
                    <td>{g.resource.name}</td>
                    <td><code>{g.value.clone()}</code>" " <small>{g.display_name.clone()}</small></td>
                    <td><code class="id">{g.id.clone()}</code></td>
                    <td>{g.broad.map(|why| format!("⚠ {why}"))}</td>
                </tr>
            }
        })
        .collect();
    let roles: Vec<_> = plan
        .roles
        .iter()
        .map(|(id, ws)| {
            let who: Vec<&str> = ws.iter().map(|w| w.name()).collect();
            view! {
                <tr data-role=id.clone()>
                    <td>{who.join(", ")}</td>
                    <td>"Entra role"</td>
                    <td>{wellknown::role_name(id).to_owned()}</td>
                    <td><code class="id">{id.clone()}</code></td>
                    <td></td>
                </tr>
            }
        })
        .collect();
    view! {
        <table class="access" id=format!("{prefix}access")>
            <caption>"What the app is handed"</caption>
            <thead><tr><th scope="col">"For"</th><th scope="col">"API"</th><th scope="col">"Permission or role"</th><th scope="col">"Id in this tenant"</th><th scope="col">"Reach"</th></tr></thead>
            <tbody>{rows}{roles}</tbody>
        </table>
    }
}
