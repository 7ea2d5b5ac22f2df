//! JWKS key sets against a real local HTTP server whose answers change mid-test: rotation,
//! cache headers, the refresh floor and fixed interval, unknown key ids (one rate-limited
//! refresh), and a server that goes down (the last good keys keep working).

mod auth_common;

use std::time::Duration;

use auth_common::*;
use graphjin_runtime::auth::Authenticator;
use graphjin_runtime::config::{AuthConfig, AuthType, JwtProvider};
use graphjin_runtime::{AuthError, AuthLayer};
use serde_json::json;

fn jwks_config(url: &str, tweak: impl FnOnce(&mut AuthConfig)) -> AuthConfig {
    let mut c = AuthConfig::new(AuthType::Jwt);
    c.jwt.provider = JwtProvider::Jwks;
    c.jwt.jwks_url = Some(url.to_owned());
    tweak(&mut c);
    c
}

async fn user(auth: &Authenticator, token: &str) -> Result<Option<String>, AuthError> {
    Ok(auth
        .authenticate(&bearer(token))
        .await?
        .and_then(|a| a.user_id))
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

#[tokio::test]
async fn rotation_new_kid_triggers_one_refresh() {
    let (a, b) = (rsa_key(0), rsa_key(1));
    let server = KeyServer::start(
        &jwks(&[a.jwk("a")]),
        &[("cache-control", "public, max-age=3600")],
    )
    .await;
    let auth = Authenticator::new(&jwks_config(&server.url("/jwks.json"), |_| {})).expect("build");
    assert_eq!(
        server.hits(),
        0,
        "keys are downloaded at first use, not at build"
    );

    let token_a = a.sign(Some("a"), &claims("alice", json!({})));
    assert_eq!(user(&auth, &token_a).await, Ok(Some("alice".into())));
    assert_eq!(server.hits(), 1);

    // The issuer rotates: key b appears. The first token signed with it causes one refresh.
    server.set(
        &jwks(&[a.jwk("a"), b.jwk("b")]),
        &[("cache-control", "public, max-age=3600")],
    );
    let token_b = b.sign(Some("b"), &claims("bob", json!({})));
    assert_eq!(user(&auth, &token_b).await, Ok(Some("bob".into())));
    assert_eq!(server.hits(), 2);
    for _ in 0..5 {
        assert_eq!(user(&auth, &token_b).await, Ok(Some("bob".into())));
        assert_eq!(user(&auth, &token_a).await, Ok(Some("alice".into())));
    }
    assert_eq!(server.hits(), 2, "known kids need no download");
}

#[tokio::test]
async fn cache_control_max_age_is_honoured() {
    let a = rsa_key(0);
    let server = KeyServer::start(&jwks(&[a.jwk("a")]), &[("cache-control", "max-age=2")]).await;
    let auth = Authenticator::new(&jwks_config(&server.url("/keys"), |c| {
        c.jwt.jwks_min_refresh = Some(secs(1.0));
    }))
    .expect("build");
    let token = a.sign(Some("a"), &claims("7", json!({})));
    for _ in 0..10 {
        assert_eq!(user(&auth, &token).await, Ok(Some("7".into())));
    }
    assert_eq!(server.hits(), 1, "no download before max-age");
    tokio::time::sleep(secs(2.3)).await;
    assert_eq!(user(&auth, &token).await, Ok(Some("7".into())));
    assert_eq!(server.hits(), 2, "one download once max-age has passed");
    assert_eq!(user(&auth, &token).await, Ok(Some("7".into())));
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn expires_header_is_honoured() {
    let a = rsa_key(0);
    let expires = httpdate::fmt_http_date(std::time::SystemTime::now() + secs(3.0));
    let server = KeyServer::start(&jwks(&[a.jwk("a")]), &[("expires", &expires)]).await;
    let auth = Authenticator::new(&jwks_config(&server.url("/keys"), |c| {
        c.jwt.jwks_min_refresh = Some(secs(0.5));
    }))
    .expect("build");
    let token = a.sign(Some("a"), &claims("7", json!({})));
    assert!(user(&auth, &token).await.is_ok());
    tokio::time::sleep(secs(0.8)).await;
    assert!(user(&auth, &token).await.is_ok());
    assert_eq!(server.hits(), 1, "Expires is later than the floor");
    // Expires has whole seconds: the set is stale between 2 and 3 s after the download.
    tokio::time::sleep(secs(2.6)).await;
    assert!(user(&auth, &token).await.is_ok());
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn min_refresh_is_a_floor_under_short_max_age() {
    let a = rsa_key(0);
    // max-age=0 and no jwks_min_refresh: the default floor (60 minutes) applies.
    let server = KeyServer::start(&jwks(&[a.jwk("a")]), &[("cache-control", "max-age=0")]).await;
    let auth = Authenticator::new(&jwks_config(&server.url("/keys"), |_| {})).expect("build");
    let token = a.sign(Some("a"), &claims("7", json!({})));
    for _ in 0..3 {
        assert!(user(&auth, &token).await.is_ok());
        tokio::time::sleep(secs(0.4)).await;
    }
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn fixed_refresh_overrides_cache_headers() {
    let a = rsa_key(0);
    let server = KeyServer::start(&jwks(&[a.jwk("a")]), &[("cache-control", "max-age=3600")]).await;
    let auth = Authenticator::new(&jwks_config(&server.url("/keys"), |c| {
        c.jwt.jwks_refresh = Some(secs(1.0));
    }))
    .expect("build");
    let token = a.sign(Some("a"), &claims("7", json!({})));
    assert!(user(&auth, &token).await.is_ok());
    assert!(user(&auth, &token).await.is_ok());
    assert_eq!(server.hits(), 1);
    tokio::time::sleep(secs(1.3)).await;
    assert!(user(&auth, &token).await.is_ok());
    assert_eq!(server.hits(), 2, "jwks_refresh beats max-age=3600");
}

#[tokio::test]
async fn unknown_kid_causes_at_most_one_rate_limited_refresh() {
    let (a, b) = (rsa_key(0), rsa_key(1));
    let server = KeyServer::start(&jwks(&[a.jwk("a")]), &[("cache-control", "max-age=3600")]).await;
    let auth = Authenticator::new(&jwks_config(&server.url("/keys"), |_| {})).expect("build");
    let good = a.sign(Some("a"), &claims("1", json!({})));
    assert!(user(&auth, &good).await.is_ok());
    assert_eq!(server.hits(), 1);

    let forged = a.sign(Some("nobody"), &claims("1", json!({})));
    assert_eq!(
        user(&auth, &forged).await,
        Err(AuthError::UnknownKey {
            kid: "nobody".into()
        })
    );
    assert_eq!(server.hits(), 2, "one refresh for the unknown kid");

    // More unknown kids, even many at once, download nothing within the interval.
    let mut tasks = Vec::new();
    for i in 0..20 {
        let auth = auth.clone();
        let token = a.sign(Some(&format!("forged-{i}")), &claims("1", json!({})));
        tasks.push(tokio::spawn(async move { user(&auth, &token).await }));
    }
    for t in tasks {
        assert!(matches!(
            t.await.expect("task"),
            Err(AuthError::UnknownKey { .. })
        ));
    }
    assert_eq!(server.hits(), 2, "rate-limited");

    // So a real rotation inside the interval waits for the schedule too.
    server.set(
        &jwks(&[a.jwk("a"), b.jwk("b")]),
        &[("cache-control", "max-age=3600")],
    );
    let token_b = b.sign(Some("b"), &claims("2", json!({})));
    assert!(matches!(
        user(&auth, &token_b).await,
        Err(AuthError::UnknownKey { .. })
    ));
    assert_eq!(server.hits(), 2);
    assert!(user(&auth, &good).await.is_ok());
}

#[tokio::test]
async fn concurrent_unknown_kids_share_one_refresh() {
    let a = rsa_key(0);
    let server = KeyServer::start(&jwks(&[a.jwk("a")]), &[("cache-control", "max-age=3600")]).await;
    let auth = Authenticator::new(&jwks_config(&server.url("/keys"), |_| {})).expect("build");
    // First use by many requests at once: one download.
    let good = a.sign(Some("a"), &claims("1", json!({})));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (auth, token) = (auth.clone(), good.clone());
        tasks.push(tokio::spawn(async move { user(&auth, &token).await }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("task"), Ok(Some("1".into())));
    }
    assert_eq!(server.hits(), 1);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let auth = auth.clone();
        let token = a.sign(Some(&format!("x{i}")), &claims("1", json!({})));
        tasks.push(tokio::spawn(async move { user(&auth, &token).await }));
    }
    for t in tasks {
        assert!(t.await.expect("task").is_err());
    }
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn server_down_keeps_the_last_good_keys() {
    let a = rsa_key(0);
    let server = KeyServer::start(&jwks(&[a.jwk("a")]), &[("cache-control", "max-age=1")]).await;
    let auth = Authenticator::new(&jwks_config(&server.url("/keys"), |c| {
        c.jwt.jwks_min_refresh = Some(secs(1.0));
    }))
    .expect("build");
    let token = a.sign(Some("a"), &claims("42", json!({})));
    assert_eq!(user(&auth, &token).await, Ok(Some("42".into())));
    assert_eq!(server.hits(), 1);

    server.stop();
    tokio::time::sleep(secs(1.3)).await;
    // Stale, the refresh fails (connection refused): the last good keys still verify.
    assert_eq!(user(&auth, &token).await, Ok(Some("42".into())));
    assert_eq!(user(&auth, &token).await, Ok(Some("42".into())));
    // An unknown kid cannot be looked up, and is refused.
    let other = a.sign(Some("other"), &claims("42", json!({})));
    assert!(matches!(
        user(&auth, &other).await,
        Err(AuthError::UnknownKey { .. })
    ));
}

#[tokio::test]
async fn server_errors_and_garbage_keep_the_last_good_keys() {
    let a = rsa_key(0);
    let server = KeyServer::start(&jwks(&[a.jwk("a")]), &[("cache-control", "max-age=1")]).await;
    let auth = Authenticator::new(&jwks_config(&server.url("/keys"), |c| {
        c.jwt.jwks_min_refresh = Some(secs(1.0));
    }))
    .expect("build");
    let token = a.sign(Some("a"), &claims("42", json!({})));
    assert!(user(&auth, &token).await.is_ok());
    server.set_status(503);
    tokio::time::sleep(secs(1.2)).await;
    assert!(user(&auth, &token).await.is_ok());
    assert_eq!(server.hits(), 2);
    server.set("<html>oops</html>", &[]);
    tokio::time::sleep(secs(1.2)).await;
    assert!(user(&auth, &token).await.is_ok());
    assert_eq!(server.hits(), 3);
    server.set(&jwks(&[]), &[]);
    tokio::time::sleep(secs(1.2)).await;
    assert!(
        user(&auth, &token).await.is_ok(),
        "an empty set is not taken"
    );
    assert_eq!(server.hits(), 4);
}

#[tokio::test]
async fn unreachable_from_the_start_is_a_server_side_failure() {
    let server = KeyServer::start("{}", &[]).await;
    let url = server.url("/keys");
    server.stop();
    tokio::time::sleep(secs(0.1)).await;
    let auth = Authenticator::new(&jwks_config(&url, |c| {
        c.jwt.jwks_min_refresh = Some(secs(1.0));
    }))
    .expect("build");
    let token = rsa_key(0).sign(Some("a"), &claims("1", json!({})));
    let err = user(&auth, &token).await.unwrap_err();
    assert!(matches!(err, AuthError::KeysUnavailable { .. }), "{err:?}");
    assert!(err.is_server_side());
    assert!(!err.public_message().contains("127.0.0.1"));

    // Through a layer with auth_fail_block: 401 with a generic message.
    let base = echo_app(AuthLayer::new(auth).fail_block(true)).await;
    let (status, body) = get_json(
        &format!("{base}/me"),
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    assert_eq!(
        body["errors"][0]["message"],
        "the credential could not be verified right now; try again later"
    );
}

#[tokio::test]
async fn algorithm_comes_from_the_key_not_the_token() {
    let a = rsa_key(0);
    let ec = EcKey::generate();
    let server = KeyServer::start(
        &jwks(&[a.jwk("a"), ec.jwk("e")]),
        &[("cache-control", "max-age=3600")],
    )
    .await;
    let auth = Authenticator::new(&jwks_config(&server.url("/keys"), |_| {})).expect("build");
    assert_eq!(
        user(&auth, &ec.sign(Some("e"), &claims("ec", json!({})))).await,
        Ok(Some("ec".into()))
    );
    // The RSA key's kid on an ES256 token, and an RS384 token for an RS256 key.
    assert!(matches!(
        user(&auth, &ec.sign(Some("a"), &claims("x", json!({})))).await,
        Err(AuthError::WrongAlgorithm { .. })
    ));
    let rs384 = sign(
        jsonwebtoken::Algorithm::RS384,
        Some("a"),
        &claims("x", json!({})),
        &a.encoding(),
    );
    assert!(matches!(
        user(&auth, &rs384).await,
        Err(AuthError::WrongAlgorithm { .. })
    ));
    // No kid at all.
    assert_eq!(
        user(&auth, &a.sign(None, &claims("x", json!({})))).await,
        Err(AuthError::NoKeyId)
    );
}

#[test]
fn jwks_needs_a_url() {
    let mut c = AuthConfig::new(AuthType::Jwt);
    c.jwt.provider = JwtProvider::Jwks;
    let e = Authenticator::new(&c).unwrap_err().to_string();
    assert!(e.contains("auth.jwt.jwks_url"), "{e}");
    c.jwt.jwks_url = Some("ftp://keys.example/jwks".into());
    let e = Authenticator::new(&c).unwrap_err().to_string();
    assert!(e.contains("http:// or https://"), "{e}");
}
