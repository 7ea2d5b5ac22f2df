//! Replays refused across instances: two servers built from one config share a real
//! redis-server (`hmac.replay_store`), so a signed call accepted by one is refused by the
//! other. With redis gone (killed, or stopped so it never answers) signed calls are refused
//! with 503 and Retry-After and no statement runs; the outage is logged once, without the
//! password or a signature. The same through two `VerifyAction` layers sharing a
//! `ReplayStore`.

mod actions_common;
mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actions_common::*;
use axum::Router;
use axum::routing::post;
use common::*;
use graphjin_rails::test_servers::{Kind, StoreServer};
use graphjin_runtime::actions::{Actions, CLOCK_SKEW, ReplayStore, VerifyAction};
use graphjin_runtime::{Db, Service};
use sha2::{Digest, Sha256};

const SECRET: &str = "hmac-secret-0123456789abcdef";
const REDIS_PASSWORD: &str = "replay-pw-5ecret";
const MAX_AGE: u64 = 60;

const YAML: &str = r#"
production: true
auths:
  - name: signed
    type: hmac
    hmac:
      max_age: 60
      replay_key_prefix: "test:replay:"
  - name: local
    type: hmac
    hmac: {secret: "local-secret"}
actions:
  - name: bump
    sql: UPDATE scores SET points = points + $2 WHERE user_id = $1 RETURNING user_id, points
    auth_name: signed
    params:
      - {name: user_id, type: bigint, required: true}
      - {name: by, type: int, default: 1}
"#;

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

/// One RESP command on a fresh blocking connection (AUTH first); the reply's first line.
fn redis(port: u16, args: &[&str]) -> String {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("connect to redis");
    conn.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut send = |args: &[&str]| {
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        conn.write_all(out.as_bytes()).expect("write");
        let mut line = String::new();
        reader.read_line(&mut line).expect("reply");
        line.trim_end().to_owned()
    };
    assert_eq!(send(&["AUTH", REDIS_PASSWORD]), "+OK");
    assert_eq!(send(&["SELECT", "2"]), "+OK");
    send(args)
}

/// The redis key of a signature: prefix, auth name, SHA-256 hex of the signature's bytes.
fn replay_key(signature: &str) -> String {
    let hex = signature.trim_start_matches("sha256=");
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect();
    format!(
        "test:replay:signed:{}",
        actions_common::hex(&Sha256::digest(bytes))
    )
}

/// A signed call to `bump` at `ts`: user 1's points go up by 5.
async fn bump(base: &str, ts: u64) -> (Reply, String) {
    let body = r#"{"user_id": 1, "by": 5}"#;
    let sig = signature(SECRET, ts, body);
    let ts = ts.to_string();
    let r = call(
        base,
        "bump",
        body,
        &[("x-timestamp", &ts), ("x-signature", &sig)],
    )
    .await;
    (r, sig)
}

fn points(db: &str) -> String {
    pg().run_sql(db, "SELECT points FROM scores WHERE user_id = 1")
        .expect("query")
}

fn refused_as_replay(r: &Reply) {
    assert_eq!(r.status, 401, "{}", r.text);
    let (message, code) = r.error();
    assert_eq!(code, "UNAUTHENTICATED");
    assert!(message.contains("already used"), "{message}");
}

fn unavailable(r: &Reply) {
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.error().1, "SERVICE_UNAVAILABLE", "{}", r.text);
    assert_eq!(
        r.headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1"),
        "{:?}",
        r.headers
    );
}

/// An instance: its own database pool and actions (so its own redis connections), built
/// from the shared config, on its own port.
async fn instance(db_name: &str, config: &graphjin_runtime::Config) -> String {
    let db = Db::connect(&pg().url(db_name), operations(), small_pool())
        .await
        .expect("connect");
    let actions = Actions::from_config(config, &db)
        .await
        .expect("actions build");
    serve(Service::new(db).actions(actions)).await
}

#[tokio::test] // current-thread runtime: the thread-local subscriber sees both servers' events
async fn replays_are_refused_across_instances_and_redis_down_fails_closed() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut server = StoreServer::start(Kind::Redis, Some(REDIS_PASSWORD));
    let url = format!("redis://:{REDIS_PASSWORD}@127.0.0.1:{}/2", server.port());
    let (db, _) = action_db().await;
    let config = config(
        YAML,
        &[
            ("GJ_AUTHS_SIGNED_HMAC_SECRET", SECRET),
            ("GJ_AUTHS_SIGNED_HMAC_REPLAY_STORE", &url),
        ],
    );
    let a = instance(&db, &config).await;
    let b = instance(&db, &config).await;

    // Start-up: production warns about the auth without a shared store, and names the key.
    let logs = captured.text();
    assert!(
        logs.contains("auths[local].hmac.replay_store")
            && logs.contains("GJ_AUTHS_LOCAL_HMAC_REPLAY_STORE"),
        "{logs}"
    );
    assert!(!logs.contains("auths[signed].hmac.replay_store"), "{logs}");

    // Accepted by A, then refused by B and by A again; the statement ran once.
    let ts = now();
    let (r, sig) = bump(&a, ts).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, r#"{"data":[{"user_id":1,"points":15}]}"#);
    refused_as_replay(&bump(&b, ts).await.0);
    refused_as_replay(&bump(&a, ts).await.0);
    assert_eq!(points(&db), "15");

    // The record: under the prefix, auth name and hashed signature, living until the
    // timestamp is stale plus the clock skew (not shorter, not much longer).
    let pttl: i64 = redis(server.port(), &["PTTL", &replay_key(&sig)])
        .trim_start_matches(':')
        .parse()
        .expect("PTTL is a number");
    let most = (MAX_AGE + 1 + CLOCK_SKEW.as_secs()) * 1000;
    assert!(
        pttl > i64::try_from(most).unwrap() - 5000 && pttl <= i64::try_from(most).unwrap(),
        "PTTL {pttl}, expected about {most}"
    );

    // A fresh signature (another second) is accepted by B, then refused by A.
    let (r, _) = bump(&b, ts + 1).await;
    assert_eq!(r.status, 200, "{}", r.text);
    refused_as_replay(&bump(&a, ts + 1).await.0);
    assert_eq!(points(&db), "20");

    // Redis gone: refused with 503 quickly, on both instances, and nothing runs; the outage
    // is logged once per instance however many calls fail.
    server.kill();
    for _ in 0..3 {
        let started = Instant::now();
        unavailable(&bump(&a, ts + 2).await.0);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    unavailable(&bump(&b, ts + 3).await.0);
    assert_eq!(points(&db), "20");
    let logs = captured.text();
    assert_eq!(
        logs.matches("the replay store cannot be reached").count(),
        2,
        "{logs}"
    );

    // Back (empty): the call refused during the outage goes through on retry.
    server.restart();
    let (r, _) = bump(&a, ts + 2).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(points(&db), "25");
    assert!(captured.text().contains("the replay store answers again"));

    // A redis that accepts connections but never answers: 503 within the 2 s timeout.
    server.signal("-STOP");
    let started = Instant::now();
    unavailable(&bump(&a, ts + 4).await.0);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    server.signal("-CONT");
    assert_eq!(points(&db), "25");

    // Neither the redis password nor a signature reached the logs.
    let logs = captured.text();
    assert!(!logs.contains(REDIS_PASSWORD), "{logs}");
    assert!(!logs.contains(sig.trim_start_matches("sha256=")), "{logs}");

    // In the same test, not a second one: a test running on another thread at the same time
    // can leave tracing's callsite cache blind to this thread's subscriber.
    verify_action_layers_share_a_replay_store().await;
}

async fn ok() -> &'static str {
    "ok"
}

/// A handler behind a `VerifyAction` layer recording replays in `store`.
async fn handler_instance(store: ReplayStore) -> String {
    let app: Router = Router::new()
        .route("/hook", post(ok))
        .layer(VerifyAction::new(SECRET).replay_store(store));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    format!("http://{addr}")
}

async fn signed_post(base: &str, ts: u64) -> Reply {
    let body = r#"{"action":"hook","input":null}"#;
    let sig = signature(SECRET, ts, body);
    let r = reqwest::Client::new()
        .post(format!("{base}/hook"))
        .header("x-timestamp", ts.to_string())
        .header("x-signature", sig)
        .body(body)
        .send()
        .await
        .expect("request");
    Reply::from(r).await
}

/// Two handler instances behind `VerifyAction` layers, each with its own `ReplayStore`
/// client of one redis: a call accepted by one is refused by the other; redis gone is 503.
async fn verify_action_layers_share_a_replay_store() {
    let mut server = StoreServer::start(Kind::Redis, Some(REDIS_PASSWORD));
    let url = format!("redis://:{REDIS_PASSWORD}@127.0.0.1:{}/2", server.port());
    // Two handler instances, each with its own client (its own connections).
    let one = handler_instance(ReplayStore::redis(&url).expect("url").key_prefix("hooks:")).await;
    let two = handler_instance(ReplayStore::redis(&url).expect("url").key_prefix("hooks:")).await;

    let ts = now();
    let r = signed_post(&one, ts).await;
    assert_eq!((r.status, r.text.as_str()), (200, "ok"));
    let r = signed_post(&two, ts).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(r.error().0.contains("already used"), "{}", r.text);
    let r = signed_post(&two, ts + 1).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(redis(server.port(), &["DBSIZE"]), ":2");

    server.kill();
    unavailable(&signed_post(&one, ts + 2).await);
}
