//! The made certificate: its names, the password (shown once), the files to save, and the proof
//! that the PFX was saved: the admin picks the file back and types its password, and the page
//! checks in WebAssembly that it opens and holds this certificate and its key.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use leptos::prelude::*;

use crate::forge::Password;
use crate::forge::job::Forged;
use crate::web::download;

/// Thumbprint, validity, password and download buttons for a finished credential. `pfx_saved`
/// becomes true only when the saved PFX is proven (see [`CheckSavedPfx`]), never on a click:
/// a browser does not tell the page whether a Save dialog was cancelled.
#[component]
pub fn Downloads(
    forged: Arc<Forged>,
    seconds: f64,
    password: Option<Password>,
    pfx_saved: Option<RwSignal<bool>>,
    /// Prefixes every element id (see `CertificatePanel`).
    prefix: &'static str,
) -> impl IntoView {
    let base = file_stem(&forged.subject);
    let (saved, set_saved) = signal(Vec::<String>::new());
    let (copied, set_copied) = signal(false);
    let file = {
        let forged = Arc::clone(&forged);
        move |ext: &'static str| -> (String, &'static str, Vec<u8>) {
            let name = format!("{base}.{ext}");
            match ext {
                "pfx" => (
                    name,
                    "application/x-pkcs12",
                    STANDARD.decode(&forged.pfx).unwrap_or_default(),
                ),
                "cer" => (
                    name,
                    "application/pkix-cert",
                    STANDARD.decode(&forged.cer).unwrap_or_default(),
                ),
                "pem" => (
                    name,
                    "application/x-pem-file",
                    forged.cert_pem.clone().into_bytes(),
                ),
                _ => (
                    name,
                    "application/x-pem-file",
                    forged.key_pem.clone().into_bytes(),
                ),
            }
        }
    };
    // Made: the focus goes to the first thing to do, saving the PFX.
    let save_pfx = NodeRef::<leptos::html::Button>::new();
    super::a11y::focus_when_shown(save_pfx);
    let button = move |ext: &'static str, label: &'static str, id: &'static str| {
        let file = file.clone();
        let node = if ext == "pfx" {
            save_pfx
        } else {
            NodeRef::new()
        };
        view! {
            <button id=format!("{prefix}{id}") node_ref=node on:click=move |_| {
                let (name, mime, bytes) = file(ext);
                if download::save(&name, mime, &bytes).is_ok() {
                    set_saved.update(|s| s.push(name));
                }
            }>{label}</button>
        }
    };
    let secret = password.map(|p| p.expose().to_owned()).unwrap_or_default();
    let secret_for_copy = secret.clone();
    view! {
        <section id=format!("{prefix}credential") class="card done"
            data-thumbprint=forged.thumbprint.clone()
            data-flavour=forged.flavour.clone()
            data-bits=forged.bits
            data-seconds=format!("{seconds:.3}")
            data-assemble-ms=format!("{:.1}", forged.assemble_ms)
            data-certificate-ms=format!("{:.1}", forged.certificate_ms)
            data-pfx-ms=format!("{:.1}", forged.pfx_ms)>
            <h2>"Certificate made in " {format!("{seconds:.1}")} " s"</h2>
            <dl class="facts">
                <dt>"Thumbprint (SHA-1)"</dt><dd><code id=format!("{prefix}thumbprint")>{forged.thumbprint.clone()}</code></dd>
                <dt>"Subject"</dt><dd>"CN=" {forged.subject.clone()}</dd>
                <dt>"Valid"</dt><dd>{forged.not_before.clone()} " to " {forged.not_after.clone()}</dd>
                <dt>"Key"</dt><dd>"RSA " {forged.bits} ", " {flavour_label(&forged.flavour)}</dd>
            </dl>
            <div class="password">
                <p>"PFX password: store it now in your password manager; this page forgets it when closed."</p>
                <code id=format!("{prefix}pfx-password")>{secret}</code>
                <button id=format!("{prefix}copy-password") on:click=move |_| {
                    let text = secret_for_copy.clone();
                    leptos::task::spawn_local(async move {
                        set_copied.set(download::copy(&text).await.is_ok());
                    });
                }>{move || if copied.get() { "Copied" } else { "Copy" }}</button>
            </div>
            <div class="actions">
                {button("pfx", "Save PFX (certificate + private key)", "save-pfx")}
                {button("cer", "Save .cer (public certificate)", "save-cer")}
                {button("pem", "Save certificate .pem", "save-pem")}
                {button("key.pem", "Save encrypted private key .pem", "save-key")}
            </div>
            <p class="status" role="status">
                {move || {
                    let s = saved.get();
                    if s.is_empty() { "Nothing saved yet.".to_owned() } else { format!("Offered for saving: {}", s.join(", ")) }
                }}
            </p>
            <CheckSavedPfx cer=forged.cer.clone() thumbprint=forged.thumbprint.clone() pfx_saved prefix />
        </section>
    }
}

/// Where the check of the saved PFX stands.
#[derive(Clone, PartialEq)]
enum Check {
    /// Nothing checked yet.
    Idle,
    /// Reading and opening the file.
    Checking,
    /// The file opens with the password and holds this certificate and its key.
    Proven(String),
    /// Refused, with what to do.
    Refused(String),
}

/// The admin picks the saved PFX back and types its password; the page proves, locally and in
/// WebAssembly ([`crate::forge::verify_saved_pfx`], in a forge worker of its own), that the file
/// opens with that password (MAC and key bag), holds exactly this certificate and the matching
/// private key. The file goes to that worker as the picked `Blob` and is read there, never sent
/// anywhere; the bytes and the password are wiped after the check, the worker ends, and the
/// fields are emptied.
#[component]
fn CheckSavedPfx(
    /// The certificate about to be uploaded, base64 DER.
    cer: String,
    thumbprint: String,
    pfx_saved: Option<RwSignal<bool>>,
    prefix: &'static str,
) -> impl IntoView {
    let file = StoredValue::new_local(None::<(web_sys::Blob, String)>);
    let (picked, set_picked) = signal(None::<String>);
    let (password, set_password) = signal(String::new());
    let (state, set_state) = signal(Check::Idle);
    let file_input = NodeRef::<leptos::html::Input>::new();
    let expected = StoredValue::new(cer);

    let on_pick = move |ev: leptos::ev::Event| {
        let chosen = ev.target().and_then(|target| first_file(&target));
        set_picked.set(chosen.as_ref().map(|(_, name)| name.clone()));
        file.set_value(chosen);
        set_state.set(Check::Idle);
    };
    let check = move |_| {
        let Some((blob, name)) = file.get_value() else {
            return;
        };
        // Move the password out of the signal: this copy is wiped when dropped, and the field
        // is emptied for the next attempt.
        let mut typed = zeroize::Zeroizing::new(String::new());
        set_password.update(|p| std::mem::swap(p, &mut *typed));
        set_state.set(Check::Checking);
        let thumbprint = thumbprint.clone();
        leptos::task::spawn_local(async move {
            let outcome = crate::web::keygen::check_saved_pfx(&blob, typed, &expected.get_value())
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
            // The picked file is forgotten either way; a new attempt picks it again.
            file.set_value(None);
            set_picked.set(None);
            if let Some(input) = file_input.get_untracked() {
                input.set_value("");
            }
            match outcome {
                Ok(()) => {
                    set_state.set(Check::Proven(format!(
                        "Checked: {name} opens with this password and holds this certificate \
                         ({thumbprint}) and its private key. Keep the file and the password \
                         safe: they are the only copy of the key."
                    )));
                    if let Some(flag) = pfx_saved {
                        flag.set(true);
                    }
                }
                Err(message) => {
                    set_state.set(Check::Refused(message));
                    if let Some(flag) = pfx_saved {
                        flag.set(false);
                    }
                }
            }
        });
    };
    // A verdict takes the focus (the button it came from is disabled until the next try); from
    // there, Tab goes on to Apply.
    let verdict = NodeRef::<leptos::html::P>::new();
    super::a11y::focus_when_shown(verdict);
    let checking = move || state.get() == Check::Checking;
    let ready = move || picked.get().is_some() && !password.get().is_empty() && !checking();

    view! {
        <div class="check-pfx" id=format!("{prefix}check-pfx-section")>
            <h3>"Prove the PFX is saved"</h3>
            <p>"Pick the PFX you saved and type (or paste) its password. The page opens the file \
                here, in this browser, and checks that it holds this certificate and its key; the \
                file is not sent anywhere."</p>
            <label class="field">
                <span>"Saved PFX file"</span>
                <input id=format!("{prefix}check-pfx-file") type="file" accept=".pfx,.p12,application/x-pkcs12"
                    node_ref=file_input on:change=on_pick disabled=checking />
            </label>
            <label class="field">
                <span>"Its password"</span>
                <input id=format!("{prefix}check-pfx-password") type="password" autocomplete="off"
                    prop:value=move || password.get() disabled=checking
                    on:input=move |ev| set_password.set(event_target_value(&ev)) />
            </label>
            <div class="actions">
                <button id=format!("{prefix}check-pfx") disabled=move || !ready() on:click=check>"Check the saved PFX"</button>
            </div>
            {move || match state.get() {
                Check::Idle => view! {
                    <p id=format!("{prefix}check-pfx-status") class="status" data-state="idle">
                        "Not checked yet: nothing is written to the tenant before this check passes."
                    </p>
                }.into_any(),
                Check::Checking => view! {
                    <p id=format!("{prefix}check-pfx-status") class="status" role="status" data-state="checking">"Opening the file…"</p>
                }.into_any(),
                Check::Proven(text) => view! {
                    <p id=format!("{prefix}check-pfx-status") class="status ok" role="status" data-state="proven" tabindex="-1" node_ref=verdict>{text}</p>
                }.into_any(),
                Check::Refused(text) => view! {
                    <p id=format!("{prefix}check-pfx-status") class="status error" role="alert" data-state="refused" tabindex="-1" node_ref=verdict>{text}</p>
                }.into_any(),
            }}
        </div>
    }
}

/// The first file of a file input's `files`, as a `Blob` with its name.
fn first_file(target: &web_sys::EventTarget) -> Option<(web_sys::Blob, String)> {
    use wasm_bindgen::JsCast;
    let files = js_sys::Reflect::get(target, &"files".into()).ok()?;
    let file = js_sys::Reflect::get(&files, &0.into()).ok()?;
    let name = js_sys::Reflect::get(&file, &"name".into())
        .ok()
        .and_then(|n| n.as_string())
        .unwrap_or_default();
    file.dyn_into::<web_sys::Blob>()
        .ok()
        .map(|blob| (blob, name))
}

/// A file name from the subject: spaces and anything unusual become `-`.
pub fn file_stem(subject: &str) -> String {
    subject
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn flavour_label(name: &str) -> &'static str {
    if name == "modern" {
        "modern PFX (AES-256)"
    } else {
        "Windows-compatible PFX (3DES)"
    }
}
