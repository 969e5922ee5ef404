#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::*;

const CLIENT: &str = "3f1c2a6e-8d0b-4c55-9a1e-2b7f6d4c9e01";

fn json(client: &str, extra: &str) -> String {
    format!(r#"{{"clientId":"{client}","redirectUri":"https://tools.example/unattended/"{extra}}}"#)
}

#[test]
fn minimal_file_gets_microsoft_defaults() {
    let c = Config::from_json(&json(CLIENT, "")).expect("valid");
    assert_eq!(c.client_id, CLIENT);
    assert_eq!(
        c.authority.as_str(),
        "https://login.microsoftonline.com/organizations"
    );
    assert_eq!(
        c.graph_base_url.as_str(),
        "https://graph.microsoft.com/v1.0"
    );
    assert!(!c.is_sandbox());
    assert_eq!(
        c.connect_origins(),
        [
            "https://login.microsoftonline.com",
            "https://graph.microsoft.com",
            "https://management.azure.com"
        ]
    );
    assert_eq!(c.arm_base_url.as_str(), "https://management.azure.com/");
}

#[test]
fn client_id_is_normalised_and_checked() {
    let upper = CLIENT.to_ascii_uppercase();
    assert_eq!(
        Config::from_json(&json(&upper, ""))
            .expect("valid")
            .client_id,
        CLIENT
    );
    for bad in [
        "",
        "not-a-guid",
        "00000000-0000-0000-0000-000000000000",
        "3f1c2a6e8d0b4c559a1e2b7f6d4c9e01",
    ] {
        assert_eq!(
            Config::from_json(&json(bad, "")),
            Err(ConfigError::InvalidClientId(bad.into())),
            "{bad}"
        );
    }
}

#[test]
fn malformed_files_say_what_is_wrong() {
    for (text, needle) in [
        ("", "EOF"),
        ("{", "EOF"),
        ("[]", "JSON object"),
        ("not json", "not JSON"),
        (r#"{"clientId":"x"}"#, "missing field `redirectUri`"),
        (&json(CLIENT, r#","tenant":"x""#), "unknown field `tenant`"),
        (
            r#"{"clientId":1,"redirectUri":"https://a/"}"#,
            "invalid type",
        ),
    ] {
        match Config::from_json(text) {
            Err(ConfigError::Malformed(why)) => assert!(why.contains(needle), "{text}: {why}"),
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn plain_http_only_on_loopback_and_sandbox_detected() {
    let sandbox = json(
        CLIENT,
        r#","authority":"http://127.0.0.1:4010/organizations/","graphBaseUrl":"http://127.0.0.1:4010/v1.0/""#,
    );
    let c = Config::from_json(&sandbox).expect("loopback http is fine");
    assert!(c.is_sandbox());
    assert_eq!(c.authority.as_str(), "http://127.0.0.1:4010/organizations");
    // Azure Resource Manager keeps its default unless the file names another.
    assert_eq!(
        c.connect_origins(),
        ["http://127.0.0.1:4010", "https://management.azure.com"]
    );
    let arm = json(
        CLIENT,
        r#","authority":"http://127.0.0.1:4010/organizations","graphBaseUrl":"http://127.0.0.1:4010/v1.0","armBaseUrl":"http://127.0.0.1:4010/arm""#,
    );
    let c = Config::from_json(&arm).expect("loopback ARM is fine");
    assert_eq!(c.connect_origins(), ["http://127.0.0.1:4010"]);
    assert_eq!(c.arm_base_url.as_str(), "http://127.0.0.1:4010/arm");

    let remote = json(CLIENT, r#","graphBaseUrl":"http://graph.example/v1.0""#);
    assert!(matches!(
        Config::from_json(&remote),
        Err(ConfigError::Insecure {
            field: "graphBaseUrl",
            ..
        })
    ));
}

#[test]
fn authority_needs_one_tenant_segment_and_no_query() {
    for bad in [
        "https://login.microsoftonline.com",
        "https://login.microsoftonline.com/a/b",
        "https://login.microsoftonline.com/organizations?x=1",
        "login.microsoftonline.com/organizations",
        "ftp://login.microsoftonline.com/organizations",
    ] {
        let text = json(CLIENT, &format!(r#","authority":"{bad}""#));
        assert!(
            matches!(
                Config::from_json(&text),
                Err(ConfigError::InvalidUrl {
                    field: "authority",
                    ..
                })
            ),
            "{bad}"
        );
    }
}

#[test]
fn redirect_uri_must_be_this_page() {
    let c = Config::from_json(&json(CLIENT, "")).expect("valid");
    assert_eq!(
        c.check_served_from("https://tools.example/unattended/"),
        Ok(())
    );
    assert_eq!(
        c.check_served_from("https://tools.example/unattended/index.html"),
        Ok(())
    );
    assert_eq!(
        c.check_served_from("https://tools.example/unattended/#code=abc&state=x"),
        Ok(())
    );
    // The start page forwards a sign-in answer to its sibling app.html: the same page.
    assert_eq!(
        c.check_served_from("https://tools.example/unattended/app.html"),
        Ok(())
    );
    assert!(
        c.check_served_from("https://tools.example/unattended/sub/app.html")
            .is_err()
    );
    assert!(
        c.check_served_from("https://tools.example/unattended/other.html")
            .is_err()
    );
    assert!(matches!(
        c.check_served_from("https://other.example/unattended/"),
        Err(ConfigError::RedirectElsewhere { .. })
    ));
    assert!(
        c.check_served_from("http://tools.example/unattended/")
            .is_err()
    );
}

#[test]
fn every_message_tells_what_to_do() {
    let errors = [
        ConfigError::Missing,
        ConfigError::Unreachable("HTTP 500".into()),
        ConfigError::Malformed("EOF".into()),
        ConfigError::InvalidClientId("x".into()),
        ConfigError::Insecure {
            field: "authority",
            value: "http://a".into(),
        },
        ConfigError::RedirectElsewhere {
            configured: "https://a/".into(),
            page: "https://b/".into(),
        },
    ];
    for e in errors {
        let text = e.to_string();
        assert!(
            text.contains("config.json") || text.contains("redirectUri"),
            "{text}"
        );
        assert!(text.len() > 60, "too terse to act on: {text}");
    }
}

#[test]
fn a_national_cloud_brings_its_own_hosts_and_is_no_sandbox() {
    let c = Config::from_json(&json(CLIENT, r#","cloud":"gcchigh""#)).expect("valid");
    assert_eq!(c.cloud, Cloud::GccHigh);
    assert_eq!(
        c.authority.as_str(),
        "https://login.microsoftonline.us/organizations"
    );
    assert_eq!(c.graph_base_url.as_str(), "https://graph.microsoft.us/v1.0");
    assert!(!c.is_sandbox());
    assert_eq!(
        c.connect_origins(),
        [
            "https://login.microsoftonline.us",
            "https://graph.microsoft.us",
            "https://management.usgovcloudapi.net"
        ]
    );
    let dod = Config::from_json(&json(CLIENT, r#","cloud":"DoD""#)).expect("valid");
    assert_eq!(
        dod.graph_base_url.as_str(),
        "https://dod-graph.microsoft.us/v1.0"
    );
    // A worldwide authority under a national cloud is not that cloud: badged.
    let mixed = Config::from_json(&json(
        CLIENT,
        r#","cloud":"china","authority":"https://login.microsoftonline.com/organizations""#,
    ))
    .expect("valid");
    assert!(mixed.is_sandbox());
}

#[test]
fn an_unknown_cloud_says_which_names_work() {
    let e = Config::from_json(&json(CLIENT, r#","cloud":"germany""#)).expect_err("unknown");
    assert_eq!(e, ConfigError::UnknownCloud("germany".into()));
    let text = e.to_string();
    assert!(
        text.contains("gcchigh") && text.contains("worldwide"),
        "{text}"
    );
}

#[test]
fn hosts_the_built_policy_does_not_allow_are_named() {
    let csp = "default-src 'none'; script-src 'self'; connect-src 'self' https://login.microsoftonline.com https://graph.microsoft.com; base-uri 'none'";
    let worldwide = Config::from_json(&json(CLIENT, "")).expect("valid");
    assert!(worldwide.blocked_by(csp).is_empty());
    let high = Config::from_json(&json(CLIENT, r#","cloud":"gcchigh""#)).expect("valid");
    // Azure Resource Manager serves only the optional Automation card: not a reason to stop.
    assert_eq!(
        high.blocked_by(csp),
        [
            "https://login.microsoftonline.us",
            "https://graph.microsoft.us"
        ]
    );
    let text = ConfigError::NotAllowedByCsp {
        origins: high.blocked_by(csp),
    }
    .to_string();
    assert!(text.contains("cargo xtask build --config"), "{text}");
    assert!(high.blocked_by("default-src *").is_empty());
    assert!(high.blocked_by("script-src 'self'").is_empty());
    assert_eq!(high.blocked_by("default-src 'none'").len(), 2);
}
