//! The run-time keys read GraphJin's documented YAML forms (the weak typing of viper and
//! mapstructure), take a `GJ_` variable for every key without a hand-kept list, and name
//! the key path (or the variable) in errors.

use std::path::Path;
use std::time::Duration;

use graphjin_runtime::config::{AuthType, ParamSource, Secret};
use graphjin_runtime::{Config, ConfigError};

fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

#[test]
fn graphjin_forms_of_the_runtime_keys() {
    let yaml = r#"
Production: "false"
auth_fail_block: "1"
poll_every_seconds: "0.5"
Auth:
  Type: JWT
  creds_in_header: "true"
  JWT:
    Secret: "0123456789abcdef0123456789abcdef"
    jwks_refresh: "5"
  rails:
    max_idle: "8"
    version: 7.0
subscriptions:
  - max_per_connection: "3"
  - keepalive_seconds: "2.5"
auths:
  name: hooks
  type: header
  header: {name: X-Hook, exists: "yes"}
actions:
  - name: archive
    sql: UPDATE products SET archived = true WHERE id = $1
    auth_name: hooks
    params: {name: id, type: bigint, required: "true", from: USER_ID}
    forward_headers: X-Request-Id
"#;
    let c = Config::from_yaml(yaml, Path::new("dev.yml")).expect("GraphJin's forms parse");
    assert!(!c.production);
    assert!(c.auth_fail_block);
    assert_eq!(c.poll_every, Some(Duration::from_millis(500)));
    assert_eq!(c.auth.kind, AuthType::Jwt);
    assert!(c.auth.creds_in_header);
    assert_eq!(
        c.auth.jwt.secret,
        Some(Secret::new("0123456789abcdef0123456789abcdef"))
    );
    assert_eq!(c.auth.jwt.jwks_refresh, Some(Duration::from_secs(300)));
    assert_eq!(c.auth.rails.max_idle, Some(8));
    assert_eq!(c.auth.rails.version.as_deref(), Some("7.0"));
    assert_eq!(c.subscriptions.max_per_connection, Some(3));
    assert_eq!(c.subscriptions.keepalive_seconds, Some(2.5));
    assert_eq!(c.auths.len(), 1, "a single entry is a list of one");
    assert!(c.auths[0].header.exists);
    let action = &c.actions[0];
    assert_eq!(action.params.len(), 1);
    assert!(action.params[0].required);
    assert_eq!(action.params[0].from, ParamSource::UserId);
    assert_eq!(action.forward_headers, ["X-Request-Id"]);
}

#[test]
fn every_key_takes_a_gj_variable() {
    let yaml = "auths:\n  - name: admin-api\n    type: jwt\nactions:\n  - name: send_welcome\n    url: https://hooks.example/a\n    auth_name: admin-api\n";
    let mut c = Config::from_yaml(yaml, Path::new("prod.yml")).expect("parses");
    c.apply_env(env(&[
        ("GJ_AUTH_JWT_ISSUER", "https://issuer.example/"),
        ("GJ_AUTH_JWT_AUDIENCE", "my-api"),
        ("GJ_AUTH_SUBS_CREDS_IN_VARS", "true"),
        ("GJ_SUBSCRIPTIONS_MAX_PER_CONNECTION", "7"),
        ("GJ_SUBSCRIPTIONS_INIT_TIMEOUT_SECONDS", "1.5"),
        ("GJ_POLL_EVERY_SECONDS", "2"),
        (
            "GJ_AUTHS_ADMIN_API_JWT_SECRET",
            "s-0123456789abcdef0123456789abcdef",
        ),
        ("GJ_AUTHS_ADMIN_API_JWT_PROVIDER", "Auth0"),
        ("GJ_ACTIONS_SEND_WELCOME_TIMEOUT", "3s"),
        (
            "GJ_ACTIONS_SEND_WELCOME_FORWARD_HEADERS",
            "X-Request-Id, X-Trace",
        ),
        ("GJ_ACTIONS_SEND_WELCOME_SECRET", "hook-secret"),
    ]))
    .expect("applies");
    assert_eq!(
        c.auth.jwt.issuer.as_deref(),
        Some("https://issuer.example/")
    );
    assert_eq!(c.auth.jwt.audience.as_deref(), Some("my-api"));
    assert!(c.auth.subs_creds_in_vars);
    assert_eq!(c.subscriptions.max_per_connection, Some(7));
    assert_eq!(c.subscriptions.init_timeout_seconds, Some(1.5));
    assert_eq!(c.poll_every, Some(Duration::from_secs(2)));
    assert_eq!(
        c.auths[0].jwt.secret,
        Some(Secret::new("s-0123456789abcdef0123456789abcdef"))
    );
    assert_eq!(
        c.auths[0].jwt.provider,
        graphjin_runtime::config::JwtProvider::Auth0
    );
    let action = &c.actions[0];
    assert_eq!(action.timeout, Some(Duration::from_secs(3)));
    assert_eq!(action.forward_headers, ["X-Request-Id", "X-Trace"]);
    assert_eq!(action.secret, Some(Secret::new("hook-secret")));
    assert_eq!(c.files, [Path::new("prod.yml")], "where it was read stays");

    // The list of variables comes from the types: a key added to a config struct gets one.
    let vars = graphjin_runtime::config::env_vars();
    for var in [
        "GJ_AUTH_JWT_ISSUER",
        "GJ_AUTH_JWT_FIREBASE_CERTS_URL",
        "GJ_SUBSCRIPTIONS_SEND_QUEUE",
        "GJ_SUBS_POLL_DURATION",
        "GJ_AUTHS_<NAME>_HMAC_REPLAY_CACHE",
        "GJ_ACTIONS_<NAME>_SIGNATURE_HEADER",
    ] {
        assert!(vars.iter().any(|v| v == var), "{var}: {vars:?}");
    }
}

#[test]
fn environment_applies_when_loading_a_file_too() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("config_forms")
        .join(format!("load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(
        dir.join("dev.yml"),
        "auth:\n  type: header\n  header: {name: X-Key}\n",
    )
    .expect("write");
    std::fs::write(dir.join("prod.yml"), "Inherits: dev\nproduction: true\n").expect("write");
    // No variable is set in this test's environment, so load equals read.
    let loaded = Config::load(&dir).expect("loads");
    let read = Config::read_file(&dir.join("prod.yml")).expect("reads");
    assert_eq!(loaded, read);
    assert!(loaded.production);
    assert_eq!(loaded.auth.kind, AuthType::Header);
    let mut c = read.clone();
    c.apply_env(env(&[("GJ_AUTH_HEADER_VALUE", "v")]))
        .expect("applies");
    assert_eq!(c.auth.header.value, Some(Secret::new("v")));
    assert_eq!(c.auth.header.name.as_deref(), Some("X-Key"));
    assert_eq!(c.files, read.files);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn errors_carry_the_key_path_or_the_variable() {
    let e = Config::from_yaml(
        "auths:\n  - name: a\n    type: jwt\n  - name: b\n    type: jwt\n    jwt: {jwks_refresh: [1]}\n",
        Path::new("config/dev.yml"),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("config/dev.yml: key `auths[1].jwt.jwks_refresh`: "),
        "{e}"
    );
    let e = Config::from_yaml(
        "actions:\n  - name: a\n    params:\n      - {name: id, type: bigint, required: often}\n",
        Path::new("config/dev.yml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("config/dev.yml: key `actions[0].params[0].required`: invalid value"),
        "{e}"
    );

    let mut c =
        Config::from_yaml("auths: [{name: a, type: jwt}]\n", Path::new("dev.yml")).expect("parses");
    let e = c
        .apply_env(env(&[("GJ_SUBSCRIPTIONS_SEND_QUEUE", "hunter2-queue")]))
        .unwrap_err();
    assert!(
        matches!(
            e,
            ConfigError::Read(graphjin_runtime::config::ReadError::Env { .. })
        ),
        "{e}"
    );
    let text = e.to_string();
    assert!(
        text.starts_with("environment variable GJ_SUBSCRIPTIONS_SEND_QUEUE: "),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
    let e = c
        .apply_env(env(&[("GJ_AUTHS_A_TYPE", "kerberos")]))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("environment variable GJ_AUTHS_A_TYPE: "),
        "{e}"
    );
    assert!(!e.contains("kerberos"), "{e}");
}
