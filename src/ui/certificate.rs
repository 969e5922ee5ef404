//! The certificate: options, generation in workers with visible progress, and the downloads.

use std::sync::Arc;

use leptos::prelude::*;

use crate::forge::job::Forged;
use crate::forge::{Flavour, KeySize, Password};

/// Where generation stands.
#[derive(Clone)]
pub enum Generation {
    /// Nothing made yet.
    Idle,
    /// Workers are busy; the text says how far they are.
    Running(String),
    /// Made: the credential and the seconds it took.
    Done(Arc<Forged>, f64),
    /// Failed or cancelled, with what to do.
    Failed(String),
}

/// How the PFX password is chosen.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PasswordChoice {
    Generated,
    Typed,
}

/// Options, the Generate button, progress and downloads. In the onboarding the parent owns
/// `generation` (to upload the result) and `pfx_saved` (no write before the saved PFX is proven:
/// picked back, opened with its password, holding this certificate and its key), and
/// `max_days` caps the validity at the tenant's app-management policy.
#[component]
pub fn CertificatePanel(
    #[prop(optional)] generation: Option<RwSignal<Generation>>,
    #[prop(optional)] pfx_saved: Option<RwSignal<bool>>,
    #[prop(optional, into)] max_days: Option<Signal<Option<u32>>>,
    #[prop(optional, into)] locked: Option<Signal<bool>>,
    /// Prefixes every element id, for a second panel on the page (the inventory's rotation).
    #[prop(optional)]
    prefix: &'static str,
) -> impl IntoView {
    // Once the tenant is being changed, the certificate is the one being uploaded: no remaking.
    let locked = move || locked.is_some_and(|l| l.get());
    let cap = move || max_days.and_then(|m| m.get());
    let (size, set_size) = signal(KeySize::Rsa2048);
    let (days, set_days) = signal(
        max_days
            .and_then(|m| m.get_untracked())
            .map_or(365u32, |m| m.min(365)),
    );
    let (subject, set_subject) = signal(default_subject());
    let (flavour, set_flavour) = signal(Flavour::WindowsCompatible);
    let (choice, set_choice) = signal(PasswordChoice::Generated);
    let generated = StoredValue::new(generate_password());
    let (typed, set_typed) = signal(String::new());
    let (confirm, set_confirm) = signal(String::new());
    let generation = generation.unwrap_or_else(|| RwSignal::new(Generation::Idle));
    let abort = StoredValue::new(None::<futures::future::AbortHandle>);
    // What a screen reader hears while the key is made: the stage, not every count.
    let stage = RwSignal::new(String::new());
    // While the key is made the fieldset and this button are disabled: the focus goes to
    // Cancel, and back to the button when cancelled or failed (Cancel is gone then).
    let generate_button = NodeRef::<leptos::html::Button>::new();
    let cancel_button = NodeRef::<leptos::html::Button>::new();
    super::a11y::focus_when_shown(cancel_button);
    Effect::new(move |_| {
        if matches!(generation.get(), Generation::Failed(_)) {
            super::a11y::refocus_if_lost(generate_button);
        }
    });

    let password = move || -> Result<Password, String> {
        match choice.get() {
            PasswordChoice::Generated => Ok(generated.get_value()),
            PasswordChoice::Typed if typed.get() != confirm.get() => {
                Err("The two passwords differ: type the same password twice.".into())
            }
            PasswordChoice::Typed => Password::new(typed.get()).map_err(|e| e.to_string()),
        }
    };
    let problem = move || {
        crate::forge::check_subject(&subject.get())
            .err()
            .map(|e| e.to_string())
            .or_else(|| password().err())
    };
    let running = move || matches!(generation.get(), Generation::Running(_));

    let start = move |_| {
        let Ok(password) = password() else { return };
        // A new certificate needs its own PFX proven again.
        if let Some(flag) = pfx_saved {
            flag.set(false);
        }
        let options = crate::web::keygen::Options {
            key_size: size.get_untracked(),
            subject: subject.get_untracked().trim().to_owned(),
            validity_days: days.get_untracked(),
            flavour: flavour.get_untracked(),
            password,
        };
        run_generation(options, generation, abort, stage);
    };
    let cancel = move |_| {
        if let Some(handle) = abort.get_value() {
            handle.abort();
        }
    };

    view! {
        <fieldset class="card certificate" disabled=move || running() || locked()>
            <legend>"Certificate"</legend>
            <label class="field">
                <span>"Name (certificate subject, CN)"</span>
                <input id=format!("{prefix}cert-subject") type="text" maxlength="64" prop:value=move || subject.get()
                    on:input=move |ev| set_subject.set(event_target_value(&ev)) />
            </label>
            <div class="row">
                <label class="field">
                    <span>"Key"</span>
                    <select id=format!("{prefix}cert-size") on:change=move |ev| {
                        let bits = event_target_value(&ev).parse().unwrap_or(2048);
                        set_size.set(KeySize::from_bits(bits).unwrap_or_default());
                    }>
                        <option value="2048" selected>"RSA 2048 (default)"</option>
                        <option value="3072">"RSA 3072"</option>
                        <option value="4096">"RSA 4096 (slower to make)"</option>
                    </select>
                </label>
                <label class="field">
                    <span>"Valid for"</span>
                    <select id=format!("{prefix}cert-days") on:change=move |ev| set_days.set(event_target_value(&ev).parse().unwrap_or(365))>
                        {move || {
                            let cap = cap();
                            let mut choices: Vec<(u32, String)> = [(90, "3 months"), (180, "6 months"), (365, "12 months (recommended)"), (730, "24 months")]
                                .into_iter()
                                .filter(|(d, _)| cap.is_none_or(|c| *d <= c))
                                .map(|(d, t)| (d, t.to_owned()))
                                .collect();
                            if let Some(c) = cap && !choices.iter().any(|(d, _)| *d == c) {
                                choices.push((c, format!("{c} days (your tenant's maximum)")));
                            }
                            choices
                                .into_iter()
                                .map(|(d, t)| view! { <option value=d.to_string() selected=move || days.get() == d>{t}</option> })
                                .collect_view()
                        }}
                    </select>
                </label>
            </div>
            <FlavourChoice flavour set_flavour prefix />
            <PasswordFields choice set_choice generated typed set_typed confirm set_confirm prefix />
        </fieldset>
        <div class="actions">
            <button id=format!("{prefix}generate") class="primary" node_ref=generate_button disabled=move || running() || locked() || problem().is_some() on:click=start>
                "Make the certificate"
            </button>
            <Show when=running>
                <button id=format!("{prefix}cancel-generate") node_ref=cancel_button on:click=cancel>"Cancel"</button>
            </Show>
        </div>
        <p class="status error" role="alert">{problem}</p>
        <super::a11y::Announce id=format!("{prefix}generate-announce") text=stage />
        <GenerationStatus generation password=Signal::derive(move || password().ok()) pfx_saved prefix />
    }
}

#[component]
fn FlavourChoice(
    flavour: ReadSignal<Flavour>,
    set_flavour: WriteSignal<Flavour>,
    prefix: &'static str,
) -> impl IntoView {
    let option = move |value: Flavour, title: &'static str, detail: &'static str| {
        view! {
            <label class="choice">
                <input type="radio" name=format!("{prefix}flavour") prop:checked=move || flavour.get() == value
                    on:change=move |_| set_flavour.set(value) />
                <span><strong>{title}</strong>" " {detail}</span>
            </label>
        }
    };
    view! {
        <div class="field" role="radiogroup" aria-label="PFX encryption">
            <span>"PFX encryption"</span>
            {option(Flavour::WindowsCompatible, "Windows-compatible (default):",
                "3DES, imports on every Windows including Server 2016 and older.")}
            {option(Flavour::Modern, "Modern:",
                "AES-256; Windows 10 1709+ / Server 2019+, PowerShell 7, OpenSSL 3.")}
        </div>
    }
}

#[component]
fn PasswordFields(
    choice: ReadSignal<PasswordChoice>,
    set_choice: WriteSignal<PasswordChoice>,
    #[allow(unused_variables)] generated: StoredValue<Password>,
    typed: ReadSignal<String>,
    set_typed: WriteSignal<String>,
    confirm: ReadSignal<String>,
    set_confirm: WriteSignal<String>,
    prefix: &'static str,
) -> impl IntoView {
    view! {
        <div class="field" role="radiogroup" aria-label="PFX password">
            <span>"PFX password"</span>
            <label class="choice">
                <input type="radio" name=format!("{prefix}pw") prop:checked=move || choice.get() == PasswordChoice::Generated
                    on:change=move |_| set_choice.set(PasswordChoice::Generated) />
                <span>"Generate a strong one (about 138 bits); shown once when the certificate is made"</span>
            </label>
            <label class="choice">
                <input id=format!("{prefix}pw-own") type="radio" name=format!("{prefix}pw") prop:checked=move || choice.get() == PasswordChoice::Typed
                    on:change=move |_| set_choice.set(PasswordChoice::Typed) />
                <span>"Use my own"</span>
            </label>
            <Show when=move || choice.get() == PasswordChoice::Typed>
                <input id=format!("{prefix}pw-typed") type="password" autocomplete="new-password" placeholder="Password"
                    prop:value=move || typed.get() on:input=move |ev| set_typed.set(event_target_value(&ev)) />
                <input id=format!("{prefix}pw-confirm") type="password" autocomplete="new-password" placeholder="Same password again"
                    prop:value=move || confirm.get() on:input=move |ev| set_confirm.set(event_target_value(&ev)) />
            </Show>
        </div>
    }
}

#[component]
fn GenerationStatus(
    generation: RwSignal<Generation>,
    password: Signal<Option<Password>>,
    pfx_saved: Option<RwSignal<bool>>,
    prefix: &'static str,
) -> impl IntoView {
    move || {
        match generation.get() {
        Generation::Idle => ().into_any(),
        Generation::Running(text) => view! {
            <div class="progress">
                <progress aria-labelledby=format!("{prefix}generate-progress")></progress>
                <span id=format!("{prefix}generate-progress")>{text}</span>
            </div>
        }
        .into_any(),
        Generation::Failed(text) => {
            view! { <p id=format!("{prefix}generate-error") class="status error" role="alert">{text}</p> }.into_any()
        }
        Generation::Done(forged, seconds) => view! {
            <super::downloads::Downloads forged seconds password=password.get_untracked() pfx_saved prefix />
        }
        .into_any(),
    }
    }
}

/// Starts the workers; progress and the result land in `generation`.
fn run_generation(
    options: crate::web::keygen::Options,
    generation: RwSignal<Generation>,
    abort: StoredValue<Option<futures::future::AbortHandle>>,
    stage: RwSignal<String>,
) {
    use crate::web::keygen::{Event, forge_in_workers, worker_count};
    let workers = worker_count();
    let started = crate::web::now_ms();
    generation.set(Generation::Running(format!("Starting {workers} workers…")));
    stage.set(format!("Making the key on {workers} workers…"));
    let on_event = move |event: Event| {
        stage.set(match &event {
            Event::Searching { primes, .. } => format!("Making the key: {primes} of 2 primes found"),
            Event::Building => "Both primes found: assembling the key, the certificate and the PFX".into(),
        });
        let text = match event {
            Event::Searching { tested, primes, workers } => format!(
                "Searching for the two primes on {workers} workers: {primes} of 2 found, {tested} candidates tested ({:.1} s)",
                (crate::web::now_ms() - started) / 1000.0
            ),
            Event::Building => "Both primes found: assembling the key, signing the certificate, encrypting the PFX…".into(),
        };
        generation.set(Generation::Running(text));
    };
    let (task, handle) = futures::future::abortable(forge_in_workers(options, workers, on_event));
    abort.set_value(Some(handle));
    leptos::task::spawn_local(async move {
        let outcome = match task.await {
            Ok(Ok(forged)) => Generation::Done(Arc::new(forged), (crate::web::now_ms() - started) / 1000.0),
            Ok(Err(e)) => Generation::Failed(e.to_string()),
            Err(_) => Generation::Failed("Cancelled: nothing was kept. Press \u{201c}Make the certificate\u{201d} to start again.".into()),
        };
        abort.set_value(None);
        stage.set(match &outcome {
            Generation::Done(_, seconds) => format!("Certificate made in {seconds:.0} seconds: save the PFX, then prove it"),
            // A failure is said by its own alert.
            _ => String::new(),
        });
        generation.set(outcome);
    });
}

fn generate_password() -> Password {
    Password::generate(&mut rand_core::UnwrapErr(getrandom::SysRng))
}

/// `EXO-Automation-2026-11`: recognisable in the portal's certificate list, no personal data.
fn default_subject() -> String {
    let date = js_sys::Date::new_0();
    format!(
        "EXO-Automation-{:04}-{:02}",
        date.get_utc_full_year(),
        date.get_utc_month() + 1
    )
}
