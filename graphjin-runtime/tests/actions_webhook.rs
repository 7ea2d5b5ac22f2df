//! Webhook actions: the runtime forwards a call, signed, to a real handler (another axum
//! server in this test) that checks it with `VerifyAction` and reads it with
//! `SignedAction`; timeouts, failures and the handler's own refusals come back as clear
//! errors.

mod actions_common;
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actions_common::*;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use common::*;
use graphjin_runtime::actions::{SignedAction, VerifyAction};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

const SIGNING_SECRET: &str = "webhook-signing-secret-0123456789";
const ACTION_SECRET: &str = "action-header-secret-abcdef";
const JWT_SECRET: &str = "users-jwt-secret-0123456789abcdefgh";

/// The last request the handler received, before verification.
type Captured = Arc<Mutex<Option<(HeaderMap, Vec<u8>)>>>;

#[derive(serde::Deserialize)]
struct Welcome {
    email: String,
}

async fn echo(headers: HeaderMap, call: SignedAction) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    json_response(json!({
        "action": call.action,
        "input": call.input,
        "session": call.session,
        "request_id": header("x-request-id"),
        "static": header("x-static"),
        "authorization": header("authorization"),
    }))
}

async fn typed(call: SignedAction<Welcome>) -> Response {
    json_response(json!({"sent_to": call.input.email, "by": call.session.user_id}))
}

async fn slow() -> Response {
    tokio::time::sleep(Duration::from_secs(3)).await;
    json_response(json!({"late": true}))
}

async fn fail() -> StatusCode {
    StatusCode::INTERNAL_SERVER_ERROR
}

async fn invalid() -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        json_response(json!({"errors": [{"message": "email is taken", "extensions": {"code": "EMAIL_TAKEN"}}], "debug": "internal"})),
    )
        .into_response()
}

fn json_response(value: Value) -> Response {
    ([("content-type", "application/json")], value.to_string()).into_response()
}

async fn text() -> &'static str {
    "this is not JSON"
}

async fn capture(captured: Captured, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    *captured.lock().expect("lock") = Some((parts.headers.clone(), bytes.to_vec()));
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The handler server; returns its base URL and what it saw last.
async fn handler() -> (String, Captured) {
    let captured: Captured = Arc::default();
    let verify = VerifyAction::new(SIGNING_SECRET).secret_header("X-Action-Secret", ACTION_SECRET);
    let c = captured.clone();
    let app = axum::Router::new()
        .route("/echo", post(echo))
        .route("/typed", post(typed))
        .route("/slow", post(slow))
        .route("/fail", post(fail))
        .route("/invalid", post(invalid))
        .route("/text", post(text))
        .layer(verify)
        .route("/unverified", post(echo))
        .layer(axum::middleware::from_fn(move |req, next| {
            capture(c.clone(), req, next)
        }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    (format!("http://{addr}"), captured)
}

fn yaml(handler: &str) -> String {
    format!(
        r#"
auths:
  - name: users
    type: jwt
    jwt: {{secret: "{JWT_SECRET}"}}
  - name: public
    type: none
actions:
  - name: welcome
    url: {handler}/echo
    auth_name: users
    headers:
      - {{name: X-Action-Secret, value_from_env: ACTION_SECRET}}
      - {{name: X-Static, value: static-value}}
    forward_headers: [X-Request-Id]
  - name: welcome_typed
    url: {handler}/typed
    auth_name: users
    secret: "{SIGNING_SECRET}"
    headers: [{{name: X-Action-Secret, value: "{ACTION_SECRET}"}}]
  - name: slow
    url: {handler}/slow
    auth_name: public
    secret: "{SIGNING_SECRET}"
    headers: [{{name: X-Action-Secret, value: "{ACTION_SECRET}"}}]
    timeout: 300ms
  - name: broken
    url: {handler}/fail
    auth_name: public
    secret: "{SIGNING_SECRET}"
    headers: [{{name: X-Action-Secret, value: "{ACTION_SECRET}"}}]
  - name: refusing
    url: {handler}/invalid
    auth_name: public
    secret: "{SIGNING_SECRET}"
    headers: [{{name: X-Action-Secret, value: "{ACTION_SECRET}"}}]
  - name: chatty
    url: {handler}/text
    auth_name: public
    secret: "{SIGNING_SECRET}"
    headers: [{{name: X-Action-Secret, value: "{ACTION_SECRET}"}}]
  - name: unsigned_secret
    url: {handler}/echo
    auth_name: public
    secret: "not-the-handlers-secret"
    headers: [{{name: X-Action-Secret, value: "{ACTION_SECRET}"}}]
  - name: gone
    url: http://127.0.0.1:9/nothing-listens-here
    auth_name: public
    secret: "{SIGNING_SECRET}"
"#
    )
}

async fn setup() -> (String, String, Captured) {
    let (handler, captured) = handler().await;
    let (_, db) = action_db().await;
    let config = config(
        &yaml(&handler),
        &[
            ("GJ_ACTIONS_WELCOME_SECRET", SIGNING_SECRET),
            ("ACTION_SECRET", ACTION_SECRET),
        ],
    );
    (serve_actions(&config, db).await, handler, captured)
}

fn bearer(sub: &str) -> String {
    let token = jsonwebtoken::encode(
        &Header::default(),
        &json!({"sub": sub, "exp": 4_070_908_800u64}),
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .expect("sign");
    format!("Bearer {token}")
}

/// POSTs raw `body` with `headers` straight to the handler.
async fn post_handler(url: &str, headers: &HeaderMap, body: Vec<u8>) -> Reply {
    let r = reqwest::Client::new()
        .post(url)
        .headers(headers.clone())
        .body(body)
        .send()
        .await
        .expect("request");
    Reply::from(r).await
}

#[tokio::test]
async fn round_trip_to_a_verifying_handler() {
    let (base, handler, captured) = setup().await;
    let auth = bearer("42");
    let r = call(
        &base,
        "welcome",
        r#"{"email": "a@example.com"}"#,
        &[
            ("authorization", &auth),
            ("x-request-id", "req-1"),
            ("x-other", "not forwarded"),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({"data": {
            "action": "welcome",
            "input": {"email": "a@example.com"},
            "session": {"user_id": "42", "user_id_provider": null, "role": "user"},
            "request_id": "req-1",
            "static": "static-value",
            "authorization": null,
        }})
    );

    // What went over the wire: signed with the action's secret, timestamp now.
    let (headers, body) = captured.lock().expect("lock").clone().expect("a call");
    let ts: u64 = headers["x-timestamp"]
        .to_str()
        .expect("text")
        .parse()
        .expect("number");
    assert!(ts.abs_diff(now()) < 60);
    let body_text = String::from_utf8(body.clone()).expect("utf-8");
    assert_eq!(
        headers["x-signature"].to_str().expect("text"),
        signature(SIGNING_SECRET, ts, &body_text)
    );
    assert!(headers.get("x-other").is_none());
    assert_eq!(headers["content-type"], "application/json");

    // Replaying that exact request to the handler is refused, and so are altered ones.
    let url = format!("{handler}/echo");
    let r = post_handler(&url, &headers, body.clone()).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(r.error().0.contains("already used"), "{}", r.text);
    let tampered = body_text.replace("a@example.com", "b@example.com");
    let r = post_handler(&url, &headers, tampered.into_bytes()).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(r.error().0.contains("does not match"), "{}", r.text);
    let mut no_secret = headers.clone();
    no_secret.remove("x-action-secret");
    let r = post_handler(&url, &no_secret, body.clone()).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(r.error().0.contains("x-action-secret"), "{}", r.text);
    let mut wrong_secret = headers.clone();
    wrong_secret.insert("x-action-secret", "guess".parse().expect("value"));
    let r = post_handler(&url, &wrong_secret, body.clone()).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(!r.text.contains("guess") && !r.text.contains(ACTION_SECRET));

    // Signed with another key (the handler's secret header is right): refused by the
    // handler, which the runtime reports as a failed handler.
    let r = call(&base, "unsigned_secret", "{}", &[]).await;
    assert_eq!(r.status, 502, "{}", r.text);
    let (message, code) = r.error();
    assert_eq!(code, "ACTION_HANDLER_FAILED");
    assert!(message.contains("401"), "{message}");

    // Without the JWT the runtime refuses before calling anything.
    *captured.lock().expect("lock") = None;
    let r = call(&base, "welcome", "{}", &[]).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(captured.lock().expect("lock").is_none());
}

#[tokio::test]
async fn typed_extractor_and_unverified_routes() {
    let (base, handler, captured) = setup().await;
    let auth = bearer("7");
    let r = call(
        &base,
        "welcome_typed",
        r#"{"email": "x@example.com"}"#,
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({"data": {"sent_to": "x@example.com", "by": "7"}})
    );
    // Input that does not fit the handler's type: the handler's 400 reaches the client.
    let r = call(
        &base,
        "welcome_typed",
        r#"{"mail": 1}"#,
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.error().0.contains("email"), "{}", r.text);

    // SignedAction without VerifyAction refuses rather than trusting the call.
    let (headers, body) = captured.lock().expect("lock").clone().expect("a call");
    let r = post_handler(&format!("{handler}/unverified"), &headers, body).await;
    assert_eq!(r.status, 500, "{}", r.text);
}

#[tokio::test]
async fn timeouts_failures_and_refusals_are_clear() {
    let (base, _, _) = setup().await;
    let started = Instant::now();
    let r = call(&base, "slow", "{}", &[]).await;
    assert_eq!(r.status, 504, "{}", r.text);
    let (message, code) = r.error();
    assert_eq!(code, "ACTION_TIMEOUT");
    assert!(
        message.contains("slow") && message.contains("300ms"),
        "{message}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    let r = call(&base, "broken", "{}", &[]).await;
    assert_eq!(r.status, 502, "{}", r.text);
    let (message, code) = r.error();
    assert_eq!(code, "ACTION_HANDLER_FAILED");
    assert!(message.contains("500"), "{message}");

    let r = call(&base, "chatty", "{}", &[]).await;
    assert_eq!(r.status, 502, "{}", r.text);
    assert!(r.error().0.contains("not JSON"), "{}", r.text);

    let r = call(&base, "gone", "{}", &[]).await;
    assert_eq!(r.status, 502, "{}", r.text);
    let (message, code) = r.error();
    assert_eq!(code, "ACTION_HANDLER_FAILED");
    assert!(
        !message.contains("127.0.0.1"),
        "no handler address: {message}"
    );

    // The handler's own refusal, meant for the client, is relayed (errors only).
    let r = call(&base, "refusing", "{}", &[]).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({"errors": [{"message": "email is taken", "extensions": {"code": "EMAIL_TAKEN"}}]})
    );

    // Bodies that are not JSON never reach the handler.
    let r = call(&base, "broken", "{oops", &[]).await;
    assert_eq!(r.status, 400, "{}", r.text);
}
