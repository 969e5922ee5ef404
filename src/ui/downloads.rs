//! The made certificate: its names, the password (shown once), and the files to save.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use leptos::prelude::*;

use crate::forge::Password;
use crate::forge::job::Forged;
use crate::web::download;

/// Thumbprint, validity, password and download buttons for a finished credential.
#[component]
pub fn Downloads(
    forged: Arc<Forged>,
    seconds: f64,
    password: Option<Password>,
    pfx_saved: Option<RwSignal<bool>>,
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
    let button = move |ext: &'static str, label: &'static str, id: &'static str| {
        let file = file.clone();
        view! {
            <button id=id on:click=move |_| {
                let (name, mime, bytes) = file(ext);
                if download::save(&name, mime, &bytes).is_ok() {
                    if ext == "pfx" && let Some(flag) = pfx_saved {
                        flag.set(true);
                    }
                    set_saved.update(|s| s.push(name));
                }
            }>{label}</button>
        }
    };
    let secret = password.map(|p| p.expose().to_owned()).unwrap_or_default();
    let secret_for_copy = secret.clone();
    view! {
        <section id="credential" class="card done"
            data-thumbprint=forged.thumbprint.clone()
            data-flavour=forged.flavour.clone()
            data-bits=forged.bits
            data-seconds=format!("{seconds:.3}")
            data-assemble-ms=format!("{:.1}", forged.assemble_ms)
            data-certificate-ms=format!("{:.1}", forged.certificate_ms)
            data-pfx-ms=format!("{:.1}", forged.pfx_ms)>
            <h2>"Certificate made in " {format!("{seconds:.1}")} " s"</h2>
            <dl class="facts">
                <dt>"Thumbprint (SHA-1)"</dt><dd><code id="thumbprint">{forged.thumbprint.clone()}</code></dd>
                <dt>"Subject"</dt><dd>"CN=" {forged.subject.clone()}</dd>
                <dt>"Valid"</dt><dd>{forged.not_before.clone()} " to " {forged.not_after.clone()}</dd>
                <dt>"Key"</dt><dd>"RSA " {forged.bits} ", " {flavour_label(&forged.flavour)}</dd>
            </dl>
            <div class="password">
                <p>"PFX password: store it now in your password manager; this page forgets it when closed."</p>
                <code id="pfx-password">{secret}</code>
                <button id="copy-password" on:click=move |_| {
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
                    if s.is_empty() { "Nothing saved yet.".to_owned() } else { format!("Saved: {}", s.join(", ")) }
                }}
            </p>
        </section>
    }
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
