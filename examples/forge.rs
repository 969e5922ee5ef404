//! The forge as a command, for scripted use and for the interop tests:
//!
//! ```text
//! cargo run --release --example forge -- --bits 2048 --days 365 --cn NAME \
//!     --flavour compat|modern --password PW --out DIR
//! ```
//! Writes `DIR/NAME.pfx`, `DIR/NAME.cer` (DER), `DIR/NAME.pem` (certificate) and
//! `DIR/NAME.key.pem` (encrypted PKCS#8), then prints one JSON line describing the certificate.
//! Without `--password` a strong password is generated and included in the JSON line.

use std::path::PathBuf;
use std::process::ExitCode;

use getrandom::SysRng;
use rand_core::UnwrapErr;
use unattended::forge::{self, Flavour, KeySize, Password, Request, UnixTime};

fn main() -> ExitCode {
    match run() {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("forge: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<String, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let bits: usize = value("--bits")
        .unwrap_or_else(|| "2048".into())
        .parse()
        .map_err(|_| "--bits: a number")?;
    let days: u32 = value("--days")
        .unwrap_or_else(|| "365".into())
        .parse()
        .map_err(|_| "--days: a number")?;
    let cn = value("--cn").ok_or("--cn NAME is required")?;
    let flavour_name = value("--flavour").unwrap_or_else(|| "compat".into());
    let flavour = Flavour::from_name(&flavour_name).ok_or("--flavour: compat or modern")?;
    let out = PathBuf::from(value("--out").ok_or("--out DIR is required")?);

    let mut rng = UnwrapErr(SysRng);
    let generated = value("--password").is_none();
    let password = match value("--password") {
        Some(p) => Password::new(p).map_err(|e| e.to_string())?,
        None => Password::generate(&mut rng),
    };
    let request = Request {
        key_size: KeySize::from_bits(bits).map_err(|e| e.to_string())?,
        subject: cn.clone(),
        validity_days: days,
        flavour,
        password: password.clone(),
    };
    let credential =
        forge::forge(&request, UnixTime::now(), &mut rng).map_err(|e| e.to_string())?;

    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let cert = &credential.certificate;
    let write = |ext: &str, bytes: &[u8]| {
        let path = out.join(format!("{cn}.{ext}"));
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))
    };
    write("pfx", credential.pfx.expose())?;
    write("cer", cert.der())?;
    write("pem", cert.pem().as_bytes())?;
    write("key.pem", credential.encrypted_key_pem.expose())?;

    let t = cert.thumbprints();
    let mut line = serde_json::json!({
        "thumbprint": t.sha1_hex,
        "x5t": t.x5t,
        "x5tS256": t.x5t_s256,
        "serial": cert.serial_hex(),
        "notBefore": cert.not_before().rfc3339().map_err(|e| e.to_string())?,
        "notAfter": cert.not_after().rfc3339().map_err(|e| e.to_string())?,
        "flavour": flavour.name(),
        "bits": bits,
        "subject": cert.subject(),
    });
    if generated {
        line["password"] = password.expose().into();
    }
    Ok(line.to_string())
}
