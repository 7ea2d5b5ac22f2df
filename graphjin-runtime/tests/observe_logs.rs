//! Logs of a real server on a real PostgreSQL, captured as JSON lines through the writer
//! given to `observe::logging::init_with_writer`: every line of a request carries its
//! request id (the client's, echoed in the response), the closing line the operation, kind
//! and role; a JWT, a cookie and a variable's value appear in no line, at debug level.

mod common;

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use common::*;
use graphjin_runtime::observe::logging::{self, LogFormat, LogLevel, LogOptions};
use graphjin_runtime::{Config, Service};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

const SECRET: &str = "observe-logs-secret-0123456789abcdef";
const COOKIE_VALUE: &str = "cookie-value-that-must-not-be-logged-7f3a";
const VARIABLE_VALUE: i64 = 424_242_424;

/// A writer shared by every line; the test reads it back.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("capture lock")).into_owned()
    }

    fn lines(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
}

fn hs256(sub: &str) -> String {
    let claims = json!({"sub": sub, "exp": 4_000_000_000u64});
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign")
}

/// The lines whose span carries request id `id`.
fn lines_of<'a>(lines: &'a [Value], id: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|l| l["span"]["request_id"] == id)
        .collect()
}

#[tokio::test]
async fn request_lines_carry_the_id_and_never_a_credential() {
    let capture = Capture::default();
    let writer = capture.clone();
    let options = LogOptions {
        level: LogLevel::Debug,
        format: LogFormat::Json,
        ignore_env: true,
    };
    logging::init_with_writer(&options, move || writer.clone()).expect("install the logger");

    let config = Config::from_yaml(
        &format!("auth: {{type: jwt, cookie: _jwt, jwt: {{secret: {SECRET}}}}}\n"),
        Path::new("dev.yml"),
    )
    .expect("config");
    let service = Service::from_config(db().await, &config).expect("service");
    let app = graphjin_runtime::router(service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });

    let client = reqwest::Client::new();
    let token = hs256("1");
    let cookie_token = hs256("2");
    let sent_id = "client-chosen-id.42";
    let body = json!({"operationName": "getProduct", "variables": {"id": VARIABLE_VALUE}});
    let r = client
        .post(format!("{base}/api/v1/graphql"))
        .header("x-request-id", sent_id)
        .header("authorization", format!("Bearer {token}"))
        .header(
            "cookie",
            format!("_jwt={cookie_token}; other={COOKIE_VALUE}"),
        )
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-request-id"], sent_id);
    assert_eq!(
        r.text().await.expect("body"),
        r#"{"data":{"product" : null}}"#
    );

    // A request id that is not fit to log is replaced, and the new one is echoed.
    let r = client
        .get(format!("{base}/api/v1/rest/getProducts"))
        .header("x-request-id", "has spaces, not fit to log")
        .header("cookie", format!("_jwt={COOKIE_VALUE}"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let new_id = r.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(new_id.len(), 24, "{new_id}");

    // The closing line is written after the response's headers: give it a moment.
    let lines = wait_for(&capture, |lines| {
        lines_of(lines, sent_id)
            .iter()
            .chain(lines_of(lines, &new_id).iter())
            .filter(|l| l["message"] == "request finished")
            .count()
            == 2
    })
    .await;

    let first = lines_of(&lines, sent_id);
    assert!(first.len() >= 2, "started and finished: {first:#?}");
    for line in &first {
        assert_eq!(line["span"]["request_id"], sent_id, "{line}");
        assert_eq!(line["span"]["method"], "POST", "{line}");
        assert_eq!(line["span"]["path"], "/api/v1/graphql", "{line}");
    }
    let done = first
        .iter()
        .find(|l| l["message"] == "request finished")
        .expect("a closing line");
    assert_eq!(done["level"], "INFO");
    assert_eq!(done["status"], 200);
    assert_eq!(done["span"]["operation"], "getProduct", "{done}");
    assert_eq!(done["span"]["kind"], "query", "{done}");
    assert_eq!(done["span"]["role"], "user", "{done}");
    assert!(
        done["duration_ms"].as_f64().is_some_and(|d| d > 0.0),
        "{done}"
    );
    assert!(done["db_ms"].as_f64().is_some_and(|d| d > 0.0), "{done}");

    // The route, not the raw path; the rejected cookie is logged by kind, not by value.
    let second = lines_of(&lines, &new_id);
    assert!(
        second
            .iter()
            .all(|l| l["span"]["path"] == "/api/v1/rest/{operation}"),
        "{second:#?}"
    );
    let done = second
        .iter()
        .find(|l| l["message"] == "request finished")
        .expect("a closing line");
    assert_eq!(done["span"]["operation"], "getProducts", "{done}");
    assert_eq!(done["span"]["role"], "anon", "{done}");
    assert!(
        second.iter().any(|l| l["message"] == "credential rejected"),
        "{second:#?}"
    );

    let text = capture.text();
    if std::env::var_os("SHOW_LOGS").is_some() {
        eprintln!("{text}");
    }
    for secret in [
        token.as_str(),
        cookie_token.as_str(),
        COOKIE_VALUE,
        SECRET,
        &VARIABLE_VALUE.to_string(),
    ] {
        assert!(!text.contains(secret), "{secret} was logged:\n{text}");
    }
    // Signature parts alone (the most specific piece of a JWT) do not appear either.
    for t in [&token, &cookie_token] {
        let signature = t.rsplit('.').next().expect("signature");
        assert!(!text.contains(signature), "a JWT signature was logged");
    }
}

/// The captured lines once `done` holds (within a few seconds).
async fn wait_for(capture: &Capture, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..200 {
        let lines = capture.lines();
        if done(&lines) {
            return lines;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the expected lines never came:\n{}", capture.text());
}
