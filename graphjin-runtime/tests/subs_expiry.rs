//! Subscriptions end when the caller's credentials expire, through a real listening server,
//! a real WebSocket client and a real PostgreSQL: a JWT that expires a few seconds after
//! `connection_init` gets its socket closed with 4403 (both subprotocols) while other
//! connections of the same server go on; a token expired before `connection_init` is
//! refused; an in-process stream ends with `Error::CredentialsExpired`; and the JWT
//! authenticator reports the expiry validation uses (`exp` plus the 60 s leeway).

mod subs_common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use graphjin_runtime::auth::Authenticator;
use graphjin_runtime::config::AuthConfig;
use graphjin_runtime::subs::{SubsOptions, Subscriptions};
use graphjin_runtime::{Auth, Error};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use serde_json::{Value, json};
use subs_common::*;

/// The clock-skew leeway JWT validation allows past `exp`.
const LEEWAY: u64 = 60;

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// An HS256 token for user `sub` whose validity (with the leeway) ends about two seconds
/// from now; returns it with the instant validation stops accepting it at the earliest
/// (`exp` + leeway).
fn short_token(sub: &str) -> (String, SystemTime) {
    let exp = now_secs() + 2 - LEEWAY;
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": sub, "exp": exp}),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign");
    (token, UNIX_EPOCH + Duration::from_secs(exp + LEEWAY))
}

fn alice_stock(apple: i64) -> Value {
    json!({"products": [{"id": 1, "stock": apple}, {"id": 2, "stock": 20}]})
}

/// Reads until the server closes the socket, at most until `expires` plus 10 s; every
/// message before the close must be a `next` (legacy: `data`) for one of `ids`, or a legacy
/// `ka`. Checks the close (not before `expires`, code 4403, its reason) and that nothing
/// follows it.
async fn close_after_expiry(c: &mut Client, ids: &[&str], next: &str, expires: SystemTime) {
    let bound = expires + Duration::from_secs(10);
    loop {
        let left = bound
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        match c.within(left).await {
            Got::Json(m) if m["type"] == "ka" => {}
            Got::Json(m) => {
                assert_eq!(m["type"], next, "{m}");
                assert!(ids.iter().any(|id| m["id"] == *id), "{m}");
            }
            Got::Closed(code, reason) => {
                assert!(
                    SystemTime::now() >= expires,
                    "closed before the token expired: {code} {reason}"
                );
                assert_eq!(code, 4403, "{reason}");
                assert_eq!(
                    reason,
                    "the credentials expired: reconnect with a fresh token"
                );
                let after = c.within(Duration::from_millis(500)).await;
                assert!(
                    !matches!(after, Got::Json(_)),
                    "a message after the close: {after:?}"
                );
                return;
            }
            Got::Silence => panic!("the socket was not closed within 10 s of the token's expiry"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiring_token_closes_4403_others_go_on() {
    let s = server(DEV_CONFIG).await;

    // Connections whose credentials do not expire soon: a far-off JWT and a dev header.
    let far = hs256(SECRET, "1");
    let mut keeps =
        Client::init(&s.ws_url, json!({"Authorization": format!("Bearer {far}")})).await;
    keeps.subscribe("k", json!({"query": MY_STOCK})).await;
    assert_eq!(keeps.next().await, next_msg("k", alice_stock(10)));
    let mut dev = Client::init(&s.ws_url, json!({"X-User-ID": 1})).await;
    dev.subscribe("d", json!({"operationName": "myStock"}))
        .await;
    assert_eq!(dev.next().await, next_msg("d", alice_stock(10)));

    // The expiring one, with two subscriptions.
    let (token, expires) = short_token("1");
    let mut c = Client::init(
        &s.ws_url,
        json!({"Authorization": format!("Bearer {token}")}),
    )
    .await;
    c.subscribe("a", json!({"query": MY_STOCK})).await;
    assert_eq!(c.next().await, next_msg("a", alice_stock(10)));
    c.subscribe(
        "w",
        json!({"operationName": "watchStock", "variables": {"id": 2}}),
    )
    .await;
    let first = c.next().await;
    assert_eq!(
        first,
        next_msg("w", json!({"products": {"id": 2, "stock": 20}}))
    );
    eventually(|| s.subs.stats().subscribers == 4).await;

    close_after_expiry(&mut c, &["a", "w"], "next", expires).await;

    // Both of the connection's subscriptions left their pollers; the others did not.
    eventually(|| s.subs.stats().subscribers == 2).await;

    // Past the expiry, the other connections still get changes.
    assert!(SystemTime::now() >= expires);
    sql(&s.database, "UPDATE products SET stock = 11 WHERE id = 1").await;
    assert_eq!(keeps.next().await, next_msg("k", alice_stock(11)));
    assert_eq!(dev.next().await, next_msg("d", alice_stock(11)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiring_token_closes_4403_legacy_protocol() {
    let s = server(DEV_CONFIG).await;
    let (token, expires) = short_token("1");
    let mut c = Client::connect(&s.ws_url, Some("graphql-ws")).await;
    c.send(json!({"type": "connection_init", "payload": {"authToken": token}}))
        .await;
    assert_eq!(c.next().await, json!({"type": "connection_ack"}));
    assert_eq!(c.next().await, json!({"type": "ka"}));
    c.send(json!({"id": "1", "type": "start", "payload": {"query": MY_STOCK}}))
        .await;
    assert_eq!(
        c.next().await,
        json!({"id": "1", "type": "data", "payload": {"data": alice_stock(10)}})
    );
    close_after_expiry(&mut c, &["1"], "data", expires).await;
    eventually(|| s.subs.stats().subscribers == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_expired_before_init_is_refused() {
    let s = server(DEV_CONFIG).await;
    let exp = now_secs() - LEEWAY - 5;
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "1", "exp": exp}),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign");
    let mut c = Client::connect(&s.ws_url, Some("graphql-transport-ws")).await;
    c.send(
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}),
    )
    .await;
    let (code, reason) = c.closed().await;
    assert_eq!(code, 4401, "{reason}");
    assert!(reason.contains("expired"), "{reason}");
}

#[derive(Debug, PartialEq, Deserialize)]
struct Product {
    id: i64,
    stock: i32,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Mine {
    products: Vec<Product>,
}

fn alice(apple: i32) -> Mine {
    Mine {
        products: vec![
            Product {
                id: 1,
                stock: apple,
            },
            Product { id: 2, stock: 20 },
        ],
    }
}

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f).await.expect("in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_stream_ends_with_credentials_expired() {
    let database = fresh_database();
    let subs = Subscriptions::new(
        db_on(&database).await,
        SubsOptions {
            poll_every: Duration::from_millis(50),
            ..SubsOptions::default()
        },
    );
    let op = op_named("myStock");

    let expires = SystemTime::now() + Duration::from_secs(2);
    let mut ending = subs.subscribe::<_, Mine>(op, &Auth::user("1").with_expiry(expires), &());
    let mut raw = subs.subscribe_raw(op, &Auth::user("1").with_expiry(expires), None);
    let mut going = subs.subscribe::<_, Mine>(op, &Auth::user("1"), &());
    assert_eq!(within(ending.recv()).await.unwrap().unwrap(), alice(10));
    assert!(within(raw.recv()).await.unwrap().is_ok());
    assert_eq!(within(going.recv()).await.unwrap().unwrap(), alice(10));
    eventually(|| subs.stats().subscribers == 3).await;

    // Items (changes) may come before the expiry; then the one error, then the end.
    let bound = expires + Duration::from_secs(10);
    let e = loop {
        let left = bound
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        match tokio::time::timeout(left, ending.recv()).await {
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => break e,
            Ok(None) => panic!("the stream ended without an error"),
            Err(_) => panic!("no error within 10 s of the expiry"),
        }
    };
    assert!(SystemTime::now() >= expires, "ended too early: {e}");
    assert!(
        matches!(
            e,
            Error::CredentialsExpired {
                operation: "myStock"
            }
        ),
        "{e}"
    );
    assert_eq!(e.code(), "UNAUTHENTICATED");
    assert!(e.to_string().contains("fresh credentials"), "{e}");
    assert!(within(ending.recv()).await.is_none());

    let e = loop {
        match within(raw.recv()).await {
            Some(Ok(_)) => {}
            Some(Err(e)) => break e,
            None => panic!("the raw stream ended without an error"),
        }
    };
    assert!(matches!(e, Error::CredentialsExpired { .. }), "{e}");
    assert!(within(raw.recv()).await.is_none());

    // Both expired subscribers left; the third goes on past the expiry.
    eventually(|| subs.stats().subscribers == 1).await;
    sql(&database, "UPDATE products SET stock = 12 WHERE id = 1").await;
    assert_eq!(within(going.recv()).await.unwrap().unwrap(), alice(12));

    // Credentials already expired: the one error, and the subscription never starts.
    let started = subs.stats().first_results;
    let past = SystemTime::now() - Duration::from_secs(1);
    let mut late = subs.subscribe::<_, Mine>(op, &Auth::user("1").with_expiry(past), &());
    let e = within(late.recv()).await.unwrap().unwrap_err();
    assert!(matches!(e, Error::CredentialsExpired { .. }), "{e}");
    assert!(within(late.recv()).await.is_none());
    assert_eq!(subs.stats().first_results, started);
    assert_eq!(subs.stats().subscribers, 1);
}

#[tokio::test]
async fn jwt_auth_expires_with_exp_plus_leeway() {
    let auth = Authenticator::new(&AuthConfig::jwt_secret(SECRET)).expect("build");
    let exp = now_secs() + 3600;
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "9", "exp": exp}),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign");
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    let who = auth.require(&headers).await.expect("valid");
    assert_eq!(who.user_id.as_deref(), Some("9"));
    // Validation accepts the token through the whole second `exp + leeway`.
    assert_eq!(
        who.expires_at,
        Some(UNIX_EPOCH + Duration::from_secs(exp + LEEWAY + 1))
    );

    // Header auth has no expiry at hand.
    let header =
        Authenticator::new(&AuthConfig::header_value("x-api-key", "s3cret")).expect("build");
    let mut headers = axum::http::HeaderMap::new();
    headers.insert("x-api-key", "s3cret".parse().expect("header"));
    assert_eq!(
        header.require(&headers).await.expect("valid").expires_at,
        None
    );
}
