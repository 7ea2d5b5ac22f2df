//! Loading the run-time config: prod.yml else dev.yml, `inherits:`, environment overrides,
//! errors that name the file and key, key files relative to the config folder, and
//! secrets that never show up in logs, `Debug` output or error messages.

mod auth_common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use auth_common::*;
use graphjin_runtime::config::{AuthType, JwtProvider, PublicKeyType, Secret};
use graphjin_runtime::{AuthLayer, Config, ConfigError};
use serde_json::json;

/// A fresh folder under the target directory.
fn temp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("auth_config")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

fn write(dir: &Path, file: &str, text: &str) {
    std::fs::write(dir.join(file), text).expect("write");
}

const DEV: &str = r#"
# build-time keys this reader ignores
default_limit: 20
tables:
  - name: users
roles:
  - name: user
    tables:
      - name: products
auth_fail_block: true
auth:
  type: jwt
  creds_in_header: true
  jwt:
    secret: "dev-secret-0123456789abcdefghijklmn"
auths:
  - name: hooks
    type: header
    header: {name: X-Hook, value: "dev-hook"}
"#;

const PROD: &str = r#"
inherits: dev
production: true
auth:
  type: jwt
  jwt:
    provider: auth0
    public_key_file: keys/rsa_public.pem
    public_key_type: rsa
    issuer: https://issuer101.example.test/
    audience: client-101
"#;

#[test]
fn prod_inherits_dev_and_wins_at_the_top_level() {
    let dir = temp_dir("inherits");
    write(&dir, "dev.yml", DEV);
    write(&dir, "prod.yml", PROD);
    std::fs::create_dir_all(dir.join("keys")).expect("mkdir");
    std::fs::copy(
        fixture_key("rsa_public.pem"),
        dir.join("keys/rsa_public.pem"),
    )
    .expect("copy key");

    let config = Config::read_file(&dir.join("prod.yml")).expect("loads");
    assert_eq!(config.files, [dir.join("prod.yml"), dir.join("dev.yml")]);
    assert!(config.production, "from prod.yml");
    assert!(config.auth_fail_block, "inherited from dev.yml");
    // `auth` is replaced whole: no secret, no creds_in_header from dev.
    assert_eq!(config.auth.jwt.provider, JwtProvider::Auth0);
    assert_eq!(config.auth.jwt.public_key_type, Some(PublicKeyType::Rsa));
    assert_eq!(config.auth.jwt.secret, None);
    assert!(!config.auth.creds_in_header);
    assert_eq!(config.auths.len(), 1, "auths inherited");
    assert_eq!(config.dir.as_deref(), Some(dir.as_path()));

    // Config::load picks prod.yml; the key file resolves against the config folder.
    let loaded = Config::load(&dir).expect("loads");
    assert_eq!(loaded.files[0], dir.join("prod.yml"));
    let registry = loaded.auth_registry().expect("builds");
    assert!(registry.get("hooks").is_some());

    // Without prod.yml, dev.yml.
    std::fs::remove_file(dir.join("prod.yml")).expect("rm");
    let dev = Config::load(&dir).expect("loads");
    assert!(!dev.production);
    assert_eq!(
        dev.auth.jwt.secret,
        Some(Secret::new("dev-secret-0123456789abcdefghijklmn"))
    );
}

#[test]
fn missing_files_and_cycles() {
    let dir = temp_dir("missing");
    let e = Config::load(&dir).unwrap_err();
    assert!(matches!(e, ConfigError::NotFound { .. }));
    assert!(e.to_string().contains("prod.yml or dev.yml"), "{e}");

    write(&dir, "dev.yml", "inherits: base\n");
    write(&dir, "base.yml", "inherits: dev\n");
    let e = Config::load(&dir).unwrap_err();
    assert!(
        matches!(
            e,
            ConfigError::Read(graphjin_runtime::config::ReadError::InheritCycle { .. })
        ),
        "{e}"
    );

    write(&dir, "dev.yml", "inherits: nowhere\n");
    let e = Config::load(&dir).unwrap_err();
    assert!(e.to_string().contains("nowhere.yml"), "{e}");
}

#[test]
fn errors_name_the_file_and_the_key() {
    let dir = temp_dir("errors");
    write(
        &dir,
        "dev.yml",
        "auth:\n  type: jwt\n  jwt:\n    jwks_refresh: often\n",
    );
    write(&dir, "prod.yml", "inherits: dev\nproduction: true\n");
    let e = Config::load(&dir).unwrap_err().to_string();
    // The bad key lives in dev.yml, although prod.yml was loaded.
    assert!(
        e.starts_with(&dir.join("dev.yml").display().to_string()),
        "{e}"
    );
    assert!(e.contains("key `auth.jwt.jwks_refresh`"), "{e}");
    assert!(e.contains("not a duration"), "{e}");

    write(&dir, "prod.yml", "inherits: dev\nproduction: maybe\n");
    let e = Config::load(&dir).unwrap_err().to_string();
    assert!(e.contains("prod.yml: key `production`"), "{e}");

    write(&dir, "prod.yml", "auth:\n  type: jwt\n   bad: [\n");
    let e = Config::load(&dir).unwrap_err().to_string();
    assert!(e.contains("prod.yml"), "{e}");
    assert!(e.contains("line 3"), "{e}");

    let e = Config::from_yaml(
        "auth:\n  header:\n    exists: sometimes\n",
        Path::new("x.yml"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("auth.header.exists"), "{e}");
}

#[test]
fn key_file_errors() {
    let dir = temp_dir("keyfile");
    write(
        &dir,
        "dev.yml",
        "auth:\n  type: jwt\n  jwt:\n    public_key_file: keys/missing.pem\n",
    );
    let e = Config::load(&dir)
        .expect("loads")
        .authenticator()
        .unwrap_err();
    assert!(matches!(e, ConfigError::KeyFile { .. }), "{e}");
    let text = e.to_string();
    assert!(text.contains("auth.jwt.public_key_file"), "{text}");
    assert!(text.contains("missing.pem"), "{text}");

    // The type in the config must match the key in the file.
    std::fs::create_dir_all(dir.join("keys")).expect("mkdir");
    std::fs::copy(fixture_key("ec_public.pem"), dir.join("keys/ec.pem")).expect("copy");
    write(
        &dir,
        "dev.yml",
        "auth:\n  type: jwt\n  jwt:\n    public_key_file: keys/ec.pem\n    public_key_type: rsa\n",
    );
    let e = Config::load(&dir)
        .expect("loads")
        .authenticator()
        .unwrap_err();
    assert!(e.to_string().contains("holds an ecdsa key"), "{e}");

    // A private key is refused with a hint.
    write(&dir, "keys/private.pem", &rsa_key(0).pkcs8_pem());
    write(
        &dir,
        "dev.yml",
        "auth:\n  type: jwt\n  jwt:\n    public_key_file: keys/private.pem\n",
    );
    let e = Config::load(&dir)
        .expect("loads")
        .authenticator()
        .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("private key"), "{text}");
    assert!(
        !text.contains("MII"),
        "no key material in the message: {text}"
    );
}

#[test]
fn environment_overrides() {
    let mut config = Config::from_yaml(DEV, Path::new("dev.yml")).expect("parses");
    let env = [
        ("GJ_AUTH_JWT_SECRET", "from-env-secret-0123456789abcdefghij"),
        ("GJ_AUTH_JWT_ISSUER", "https://issuer.example/"),
        ("GJ_AUTH_FAIL_BLOCK", "false"),
        ("GJ_AUTHS_HOOKS_HEADER_VALUE", "env-hook"),
        ("GJ_AUTH_COOKIE", ""),
    ];
    config
        .apply_env(|k| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
        .expect("applies");
    assert_eq!(
        config.auth.jwt.secret,
        Some(Secret::new("from-env-secret-0123456789abcdefghij"))
    );
    assert_eq!(
        config.auth.jwt.issuer.as_deref(),
        Some("https://issuer.example/")
    );
    assert!(!config.auth_fail_block);
    assert_eq!(config.auths[0].header.value, Some(Secret::new("env-hook")));
    assert_eq!(config.auth.cookie, None, "empty variables count as unset");

    let e = config
        .apply_env(|k| (k == "GJ_AUTH_TYPE").then(|| "ldap".to_owned()))
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("environment variable GJ_AUTH_TYPE"),
        "{e}"
    );
    let e = config
        .apply_env(|k| (k == "GJ_PRODUCTION").then(|| "secret-ish".to_owned()))
        .unwrap_err();
    assert!(!e.to_string().contains("secret-ish"), "{e}");
    config
        .apply_env(|k| (k == "GJ_AUTH_TYPE").then(|| "Header".to_owned()))
        .expect("case-insensitive");
    assert_eq!(config.auth.kind, AuthType::Header);
}

/// Collects everything a tracing subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}

#[tokio::test] // current-thread runtime: the thread-local subscriber sees every event
async fn secrets_never_appear_in_logs_debug_or_errors() {
    const JWT_SECRET: &str = "SUPERSECRET-jwt-9f8e7d6c5b4a39281706";
    const HOOK_VALUE: &str = "SUPERSECRET-hook-5a5a5a";
    const SHORT: &str = "SUPERSECRET-short";
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let yaml = format!(
        r#"
auth_fail_block: true
auth:
  type: jwt
  creds_in_header: true
  jwt:
    secret: "{JWT_SECRET}"
auths:
  - name: hooks
    type: header
    header: {{name: X-Hook, value: "{HOOK_VALUE}"}}
  - name: short
    type: jwt
    jwt: {{secret: "{SHORT}"}}
  - name: remote
    type: jwt
    jwt:
      provider: jwks
      jwks_url: "http://keyuser:SUPERSECRET-pw@127.0.0.1:9/jwks.json?token=SUPERSECRET-q"
"#
    );
    let config = Config::from_yaml(&yaml, Path::new("prod.yml")).expect("parses");
    let registry = config.auth_registry().expect("builds");
    let layer = config.auth_layer().expect("builds");
    let mut seen = vec![
        format!("{config:?}"),
        format!("{config:#?}"),
        format!("{:?}", config.auth),
        format!("{:?}", config.auths),
        format!("{registry:?}"),
        format!("{layer:?}"),
        format!("{:?}", registry.get("hooks")),
    ];

    // Requests with bad credentials, through the layer and directly.
    let forged = hs256(
        "not-the-secret-0123456789abcdefghijk",
        &claims("1", json!({})),
    );
    let expired = hs256(JWT_SECRET, &json!({"sub": "1", "exp": 1_000_000_000}));
    let base = echo_app(layer).await;
    for token in [&forged, &expired] {
        let (status, body) = get_json(
            &format!("{base}/me"),
            &[("authorization", &format!("Bearer {token}"))],
        )
        .await;
        assert_eq!(status, 401);
        seen.push(body.to_string());
    }
    let hooks = registry.get("hooks").expect("hooks");
    let mut h = axum::http::HeaderMap::new();
    h.insert("x-hook", "guess".parse().expect("value"));
    let e = hooks.require(&h).await.unwrap_err();
    seen.push(e.to_string());
    seen.push(format!("{e:?}"));
    seen.push(e.public_message());
    for token in [&forged, &expired] {
        let e = registry
            .default_auth()
            .require(&bearer(token))
            .await
            .unwrap_err();
        seen.extend([e.to_string(), format!("{e:?}")]);
    }

    // A key set that cannot be downloaded: the URL's password and query stay out.
    let remote = registry.get("remote").expect("remote");
    seen.push(format!("{remote:?}"));
    let e = remote
        .require(&bearer(
            &rsa_key(0).sign(Some("k"), &claims("1", json!({}))),
        ))
        .await
        .unwrap_err();
    assert!(e.is_server_side(), "{e:?}");
    seen.extend([e.to_string(), format!("{e:?}"), e.public_message()]);

    // Config errors around secret values.
    let bad_type = Config::from_yaml(
        "auth:\n  jwt:\n    secret: 4815162342\n",
        Path::new("dev.yml"),
    )
    .unwrap_err();
    let bad_syntax = Config::from_yaml(
        &format!("auth:\n  jwt:\n    secret: \"{JWT_SECRET}\"\n   oops: [\n"),
        Path::new("dev.yml"),
    )
    .unwrap_err();
    let bad_env = config
        .clone()
        .apply_env(|k| (k == "GJ_AUTH_FAIL_BLOCK").then(|| JWT_SECRET.to_owned()))
        .unwrap_err();
    for e in [&bad_type, &bad_syntax, &bad_env] {
        seen.extend([e.to_string(), format!("{e:?}")]);
    }
    assert!(bad_syntax.to_string().contains("line 4"), "{bad_syntax}");

    let logs = captured.text();
    assert!(
        logs.contains("credential rejected"),
        "the log saw the rejections: {logs}"
    );
    assert!(logs.contains("shorter than 32 bytes"), "{logs}");
    assert!(logs.contains("creds_in_header is on"), "{logs}");
    assert!(logs.contains("could not download the key set"), "{logs}");
    assert!(
        logs.contains("http://***@127.0.0.1:9/jwks.json?***"),
        "{logs}"
    );
    seen.push(logs);
    for text in &seen {
        for secret in [
            JWT_SECRET,
            HOOK_VALUE,
            SHORT,
            "4815162342",
            &forged,
            &expired,
        ] {
            assert!(
                !text.contains(secret),
                "a secret or token leaked into: {text}"
            );
        }
        assert!(
            !text.contains("SUPERSECRET"),
            "a secret leaked into: {text}"
        );
    }
}

#[test]
fn auth_layer_debug_names_only_what_is_safe() {
    let layer = AuthLayer::new(
        graphjin_runtime::Authenticator::new(&graphjin_runtime::config::AuthConfig::header_value(
            "X-Key",
            "very-secret-value",
        ))
        .expect("build"),
    );
    let text = format!("{layer:?}");
    assert!(text.contains("x-key"), "{text}");
    assert!(!text.contains("very-secret-value"), "{text}");
}
