//! Firebase ID tokens against a local stand-in for Google's certificate URL: X.509
//! certificates by key id, issuer derived from the project id (audience), Cache-Control
//! honoured.

mod auth_common;

use std::time::Duration;

use auth_common::*;
use graphjin_runtime::auth::Authenticator;
use graphjin_runtime::config::{AuthConfig, AuthType, JwtProvider};
use graphjin_runtime::{AuthError, Config};
use serde_json::json;

const PROJECT: &str = "shop-4711";

fn firebase(url: &str) -> AuthConfig {
    let mut c = AuthConfig::new(AuthType::Jwt);
    c.jwt.provider = JwtProvider::Firebase;
    c.jwt.audience = Some(PROJECT.to_owned());
    c.jwt.firebase_certs_url = Some(url.to_owned());
    c.jwt.jwks_min_refresh = Some(Duration::from_secs(1));
    c
}

fn id_token(key: &RsaKey, kid: &str, iss: &str, aud: &str, sub: &str) -> String {
    key.sign(
        Some(kid),
        &claims(
            sub,
            json!({"iss": iss, "aud": aud, "iat": 1_700_000_000u64, "auth_time": 1_700_000_000u64}),
        ),
    )
}

fn issuer() -> String {
    format!("https://securetoken.google.com/{PROJECT}")
}

#[tokio::test]
async fn firebase_tokens_verify_with_google_style_certificates() {
    let (k1, k2) = (rsa_key(2), rsa_key(3));
    let certs = json!({"kid-1": k1.certificate(), "kid-2": k2.certificate()}).to_string();
    let server = KeyServer::start(
        &certs,
        &[(
            "cache-control",
            "public, max-age=2, must-revalidate, no-transform",
        )],
    )
    .await;
    let auth = Authenticator::new(&firebase(&server.url("/x509"))).expect("build");

    let token = id_token(k1, "kid-1", &issuer(), PROJECT, "uid-abc");
    let who = auth
        .authenticate(&bearer(&token))
        .await
        .expect("valid")
        .expect("a user");
    assert_eq!(who.user_id.as_deref(), Some("uid-abc"));
    let token2 = id_token(k2, "kid-2", &issuer(), PROJECT, "uid-def");
    assert!(auth.authenticate(&bearer(&token2)).await.is_ok());
    assert_eq!(server.hits(), 1);

    // Wrong project, wrong issuer, a key signing under another key's id.
    let e = auth
        .authenticate(&bearer(&id_token(
            k1,
            "kid-1",
            &issuer(),
            "other-project",
            "u",
        )))
        .await
        .unwrap_err();
    assert_eq!(e, AuthError::WrongAudience);
    let e = auth
        .authenticate(&bearer(&id_token(
            k1,
            "kid-1",
            "https://securetoken.google.com/other-project",
            PROJECT,
            "u",
        )))
        .await
        .unwrap_err();
    assert_eq!(e, AuthError::WrongIssuer);
    let e = auth
        .authenticate(&bearer(&id_token(k1, "kid-2", &issuer(), PROJECT, "u")))
        .await
        .unwrap_err();
    assert_eq!(e, AuthError::BadSignature);
    assert_eq!(server.hits(), 1);

    // max-age=2: the certificates are downloaded again after two seconds, not before.
    tokio::time::sleep(Duration::from_millis(2300)).await;
    assert!(auth.authenticate(&bearer(&token)).await.is_ok());
    assert_eq!(server.hits(), 2);

    // Google rotates: kid-1 goes away, kid-3 (key 1 again) comes; known-kid tokens keep
    // working until the set is refreshed, a new kid triggers the refresh.
    let rotated = json!({"kid-2": k2.certificate(), "kid-3": k1.certificate()}).to_string();
    server.set(&rotated, &[("cache-control", "max-age=3600")]);
    let token3 = id_token(k1, "kid-3", &issuer(), PROJECT, "uid-xyz");
    let who = auth.authenticate(&bearer(&token3)).await.expect("valid");
    assert_eq!(who.and_then(|a| a.user_id).as_deref(), Some("uid-xyz"));
    assert_eq!(server.hits(), 3);
}

#[test]
fn firebase_needs_the_project_id() {
    let mut c = AuthConfig::new(AuthType::Jwt);
    c.jwt.provider = JwtProvider::Firebase;
    let e = Authenticator::new(&c).unwrap_err().to_string();
    assert!(e.contains("auth.jwt.audience"), "{e}");
    assert!(e.contains("project id"), "{e}");
}

#[tokio::test]
async fn firebase_from_yaml() {
    let k = rsa_key(2);
    let server = KeyServer::start(
        &json!({"k": k.certificate()}).to_string(),
        &[("cache-control", "max-age=600")],
    )
    .await;
    let yaml = format!(
        "auth:\n  type: jwt\n  jwt:\n    provider: firebase\n    audience: {PROJECT}\n    firebase_certs_url: {}\n",
        server.url("/certs")
    );
    let config = Config::from_yaml(&yaml, std::path::Path::new("dev.yml")).expect("parses");
    let auth = config.authenticator().expect("build");
    let token = id_token(k, "k", &issuer(), PROJECT, "u-1");
    let who = auth.require(&bearer(&token)).await.expect("valid");
    assert_eq!(who.user_id.as_deref(), Some("u-1"));
}
