//! The auth layer on routes of one's own (with the `Auth` extractor): header auth, named
//! auths from `auths:`, development headers (allowed, not allowed, production), and
//! `auth_fail_block` on and off.

mod auth_common;

use std::path::Path;

use auth_common::*;
use graphjin_runtime::auth::{AuthOptions, Authenticator};
use graphjin_runtime::config::{AuthConfig, AuthType};
use graphjin_runtime::{Auth, AuthError, AuthLayer, Config, ConfigError};
use serde_json::{Value, json};

const SECRET: &str = "layer-test-secret-0123456789abcdef";

fn who(body: &Value) -> (Value, Value, Value) {
    (
        body["user_id"].clone(),
        body["user_id_provider"].clone(),
        body["role"].clone(),
    )
}

fn anon() -> (Value, Value, Value) {
    (Value::Null, Value::Null, json!("anon"))
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn auth_fail_block_on_and_off() {
    let auth = Authenticator::new(&AuthConfig::jwt_secret(SECRET)).expect("build");
    let good = hs256(SECRET, &claims("11", json!({})));
    let bad = hs256(
        "another-secret-entirely-0123456789",
        &claims("11", json!({})),
    );
    let expired = hs256(SECRET, &json!({"sub": "11", "exp": 1_000_000_000}));

    let blocking = echo_app(AuthLayer::new(auth.clone()).fail_block(true)).await;
    let open = echo_app(AuthLayer::new(auth)).await;
    for base in [&blocking, &open] {
        let (status, body) = get_json(
            &format!("{base}/me"),
            &[("authorization", &format!("Bearer {good}"))],
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(who(&body), (json!("11"), Value::Null, json!("user")));
        // A missing credential is always anon.
        let (status, body) = get_json(&format!("{base}/me"), &[]).await;
        assert_eq!((status, who(&body)), (200, anon()));
    }
    for token in [&bad, &expired, &"not-a-token".to_owned()] {
        let header = format!("Bearer {token}");
        let (status, body) =
            get_json(&format!("{blocking}/me"), &[("authorization", &header)]).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(code(&body), "UNAUTHENTICATED");
        let (status, body) = get_json(&format!("{open}/me"), &[("authorization", &header)]).await;
        assert_eq!((status, who(&body)), (200, anon()), "runs as anon");
    }
    // Routes outside the layer are not checked.
    let (status, body) = get_json(
        &format!("{blocking}/open"),
        &[("authorization", &format!("Bearer {bad}"))],
    )
    .await;
    assert_eq!((status, who(&body)), (200, anon()));
}

#[tokio::test]
async fn cookie_token() {
    let mut config = AuthConfig::jwt_secret(SECRET);
    config.cookie = Some("_session_jwt".into());
    let base =
        echo_app(AuthLayer::new(Authenticator::new(&config).expect("build")).fail_block(true))
            .await;
    let token = hs256(SECRET, &claims("c-1", json!({})));
    let (status, body) = get_json(
        &format!("{base}/me"),
        &[("cookie", &format!("theme=dark; _session_jwt={token}"))],
    )
    .await;
    assert_eq!((status, body["user_id"].clone()), (200, json!("c-1")));
    // Another cookie's name is no credential.
    let (status, body) = get_json(
        &format!("{base}/me"),
        &[("cookie", &format!("jwt={token}"))],
    )
    .await;
    assert_eq!((status, who(&body)), (200, anon()));
}

#[tokio::test]
async fn header_auth_value_and_exists() {
    let by_value =
        Authenticator::new(&AuthConfig::header_value("X-Api-Key", "k3y-value")).expect("build");
    let ok = [("x-api-key", "k3y-value")];
    let wrong = [("x-api-key", "k3y-valuf")];
    assert_eq!(
        by_value.authenticate(&headers(&ok)).await,
        Ok(Some(Auth::anon()))
    );
    assert_eq!(
        by_value.authenticate(&headers(&wrong)).await,
        Err(AuthError::HeaderMismatch {
            header: "x-api-key".into()
        })
    );
    assert_eq!(by_value.authenticate(&headers(&[])).await, Ok(None));
    assert_eq!(
        by_value.require(&headers(&[])).await,
        Err(AuthError::Missing)
    );
    // Different lengths are just wrong, too.
    assert!(
        by_value
            .authenticate(&headers(&[("x-api-key", "k")]))
            .await
            .is_err()
    );

    let base = echo_app(AuthLayer::new(by_value.clone()).fail_block(true)).await;
    assert_eq!(get_json(&format!("{base}/me"), &ok).await.0, 200);
    assert_eq!(get_json(&format!("{base}/me"), &wrong).await.0, 401);
    assert_eq!(
        get_json(&format!("{base}/me"), &[]).await.0,
        200,
        "missing: anon"
    );
    let required = echo_app(AuthLayer::new(by_value).require_credential(true)).await;
    let (status, body) = get_json(&format!("{required}/me"), &[]).await;
    assert_eq!((status, code(&body)), (401, "UNAUTHENTICATED"));
    assert_eq!(get_json(&format!("{required}/me"), &ok).await.0, 200);

    let mut exists = AuthConfig::new(AuthType::Header);
    exists.header.name = Some("X-Forwarded-User".into());
    exists.header.exists = true;
    let exists = Authenticator::new(&exists).expect("build");
    assert!(
        exists
            .require(&headers(&[("x-forwarded-user", "anything")]))
            .await
            .is_ok()
    );
    assert_eq!(exists.require(&headers(&[])).await, Err(AuthError::Missing));
}

#[test]
fn header_auth_config_errors() {
    let e = Authenticator::new(&AuthConfig::new(AuthType::Header)).unwrap_err();
    assert!(e.to_string().contains("auth.header.name"), "{e}");
    let mut c = AuthConfig::new(AuthType::Header);
    c.header.name = Some("X-Key".into());
    let e = Authenticator::new(&c).unwrap_err().to_string();
    assert!(e.contains("auth.header.value"), "{e}");
    assert!(e.contains("GJ_AUTH_HEADER_VALUE"), "{e}");
    c.header.name = Some("bad header".into());
    c.header.exists = true;
    assert!(Authenticator::new(&c).is_err());
}

fn headers(pairs: &[(&str, &str)]) -> axum::http::HeaderMap {
    let mut h = axum::http::HeaderMap::new();
    for (k, v) in pairs {
        h.insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
            v.parse().expect("value"),
        );
    }
    h
}

#[tokio::test]
async fn dev_headers_allowed_disallowed_and_production() {
    let dev = [
        ("x-user-id", "7"),
        ("x-user-id-provider", "github"),
        ("x-user-role", "admin"),
    ];
    let mut config = AuthConfig::new(AuthType::None);
    config.creds_in_header = true;
    let allowed = Authenticator::new(&config).expect("build");
    assert!(allowed.dev_headers());
    let base = echo_app(AuthLayer::new(allowed)).await;
    let (_, body) = get_json(&format!("{base}/me"), &dev).await;
    assert_eq!(who(&body), (json!("7"), json!("github"), json!("admin")));
    let (_, body) = get_json(&format!("{base}/me"), &[("x-user-role", "bot")]).await;
    assert_eq!(who(&body), (Value::Null, Value::Null, json!("bot")));

    // creds_in_header off: ignored.
    let off = Authenticator::new(&AuthConfig::new(AuthType::None)).expect("build");
    let base = echo_app(AuthLayer::new(off)).await;
    assert_eq!(who(&get_json(&format!("{base}/me"), &dev).await.1), anon());

    // production: ignored although the config asks for it.
    let prod = Authenticator::with_options(&config, &AuthOptions::default().production(true))
        .expect("build");
    assert!(!prod.dev_headers());
    let base = echo_app(AuthLayer::new(prod)).await;
    assert_eq!(who(&get_json(&format!("{base}/me"), &dev).await.1), anon());

    // With JWT: the headers add to (and override) the token's identity in development.
    let mut jwt = AuthConfig::jwt_secret(SECRET);
    jwt.creds_in_header = true;
    let base = echo_app(AuthLayer::new(Authenticator::new(&jwt).expect("build"))).await;
    let token = hs256(SECRET, &claims("1", json!({})));
    let (_, body) = get_json(
        &format!("{base}/me"),
        &[
            ("authorization", &format!("Bearer {token}")),
            ("x-user-role", "admin"),
        ],
    )
    .await;
    assert_eq!(who(&body), (json!("1"), Value::Null, json!("admin")));
}

#[tokio::test]
async fn dev_headers_from_yaml_respect_production() {
    let yaml = "auth:\n  type: none\n  creds_in_header: true\n";
    let dev = Config::from_yaml(yaml, Path::new("dev.yml")).expect("parses");
    assert!(dev.authenticator().expect("build").dev_headers());
    let prod = Config::from_yaml(&format!("production: true\n{yaml}"), Path::new("prod.yml"))
        .expect("parses");
    assert!(!prod.authenticator().expect("build").dev_headers());
    let mut env_prod = dev.clone();
    env_prod
        .apply_env(|k| (k == "GJ_PRODUCTION").then(|| "true".to_owned()))
        .expect("env");
    assert!(!env_prod.authenticator().expect("build").dev_headers());
}

const NAMED: &str = r#"
auth_fail_block: true
auth:
  type: jwt
  jwt:
    secret: "default-secret-0123456789abcdefghij"
auths:
  - name: hooks
    type: header
    header:
      name: X-Hook-Key
      value: "hook-secret"
  - name: admin
    type: jwt
    cookie: admin_jwt
    jwt:
      provider: auth0
      secret: "admin-secret-0123456789abcdefghijk"
"#;

#[tokio::test]
async fn named_auths_for_actions_and_routes() {
    let config = Config::from_yaml(NAMED, Path::new("dev.yml")).expect("parses");
    let registry = config.auth_registry().expect("build");
    let mut names: Vec<&str> = registry.names().collect();
    names.sort();
    assert_eq!(names, ["admin", "hooks"]);
    assert!(registry.get("nope").is_none());
    assert_eq!(registry.default_auth().kind(), AuthType::Jwt);

    // An action checks its named auth with the request's headers.
    let hooks = registry.get("hooks").expect("hooks");
    assert!(
        hooks
            .require(&headers(&[("x-hook-key", "hook-secret")]))
            .await
            .is_ok()
    );
    assert!(
        hooks
            .require(&headers(&[("x-hook-key", "nope")]))
            .await
            .is_err()
    );
    assert_eq!(hooks.require(&headers(&[])).await, Err(AuthError::Missing));

    // Each auth has its own key: an admin token does not pass the default auth.
    let admin = registry.get("admin").expect("admin");
    let admin_token = hs256(
        "admin-secret-0123456789abcdefghijk",
        &claims("github|77", json!({})),
    );
    let who_admin = admin.require(&bearer(&admin_token)).await.expect("valid");
    // Valid until `exp` plus the 60 s leeway (through that whole second).
    let until = std::time::UNIX_EPOCH + std::time::Duration::from_secs(FAR + 61);
    assert_eq!(
        who_admin,
        Auth::user("77").with_provider("github").with_expiry(until)
    );
    assert_eq!(
        registry.default_auth().require(&bearer(&admin_token)).await,
        Err(AuthError::BadSignature)
    );

    // A route of one's own guarded by a named auth.
    let base = echo_app(AuthLayer::new(admin.clone()).require_credential(true)).await;
    let (status, body) = get_json(
        &format!("{base}/me"),
        &[("cookie", &format!("admin_jwt={admin_token}"))],
    )
    .await;
    assert_eq!(
        (status, who(&body)),
        (200, (json!("77"), json!("github"), json!("user")))
    );
    assert_eq!(get_json(&format!("{base}/me"), &[]).await.0, 401);

    // The default layer carries auth_fail_block.
    let layer = config.auth_layer().expect("layer");
    let base = echo_app(layer).await;
    let (status, _) = get_json(
        &format!("{base}/me"),
        &[("authorization", &format!("Bearer {admin_token}"))],
    )
    .await;
    assert_eq!(status, 401);
}

#[test]
fn named_auth_errors() {
    let e = Config::from_yaml("auths:\n  - type: none\n", Path::new("dev.yml"))
        .expect("parses")
        .auth_registry()
        .unwrap_err();
    assert!(e.to_string().contains("auths[0].name"), "{e}");
    let e = Config::from_yaml(
        "auths:\n  - {name: a, type: none}\n  - {name: a, type: none}\n",
        Path::new("dev.yml"),
    )
    .expect("parses")
    .auth_registry()
    .unwrap_err();
    assert!(matches!(e, ConfigError::DuplicateAuth { .. }), "{e}");
    let e = Config::from_yaml(
        "auths:\n  - {name: hooks, type: header}\n",
        Path::new("dev.yml"),
    )
    .expect("parses")
    .auth_registry()
    .unwrap_err();
    assert!(e.to_string().contains("auths[hooks].header.name"), "{e}");
}

#[tokio::test]
async fn an_outer_identity_is_kept_without_a_credential() {
    async fn outer(
        mut req: axum::extract::Request,
        next: axum::middleware::Next,
    ) -> axum::response::Response {
        req.extensions_mut().insert(Auth::user("outer"));
        next.run(req).await
    }
    let auth = Authenticator::new(&AuthConfig::jwt_secret(SECRET)).expect("build");
    async fn me(auth: Auth) -> String {
        auth.user_id.unwrap_or_default()
    }
    let app = axum::Router::new()
        .route("/me", axum::routing::get(me))
        .layer(AuthLayer::new(auth))
        .layer(axum::middleware::from_fn(outer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    let client = reqwest::Client::new();
    let text = client
        .get(format!("http://{addr}/me"))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("body");
    assert_eq!(text, "outer");
    let token = hs256(SECRET, &claims("inner", json!({})));
    let text = client
        .get(format!("http://{addr}/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("body");
    assert_eq!(text, "inner");
}

#[test]
fn rails_is_parsed_and_built() {
    let config = Config::from_yaml(
        "auth:\n  type: rails\n  cookie: _app_session\n  rails:\n    version: 7.0\n    secret_key_base: abc\n",
        Path::new("dev.yml"),
    )
    .expect("parses");
    assert_eq!(config.auth.kind, AuthType::Rails);
    // Rails auth is supported now (tests/auth_rails*.rs); without a cookie name it says so.
    assert!(config.authenticator().is_ok());
    let mut no_cookie = config.clone();
    no_cookie.auth.cookie = None;
    let e = no_cookie.authenticator().unwrap_err();
    assert!(matches!(e, ConfigError::Invalid { .. }), "{e:?}");
    assert!(e.to_string().contains("auth.cookie"), "{e}");
}

#[test]
fn jwt_needs_a_key() {
    let e = Authenticator::new(&AuthConfig::new(AuthType::Jwt))
        .unwrap_err()
        .to_string();
    assert!(e.contains("GJ_AUTH_JWT_SECRET"), "{e}");
    assert!(e.contains("public_key_file"), "{e}");
}
