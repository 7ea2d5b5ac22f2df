//! HMAC-signed action calls through a real server: accepted when signed, refused when the
//! body was altered, the timestamp is stale (either way) or the call is replayed.
//! Signatures are made with an HMAC written from SHA-256 in the test's own helpers.

mod actions_common;
mod common;

use actions_common::*;
use common::*;

const SECRET: &str = "hmac-secret-0123456789abcdef";

const YAML: &str = r#"
auths:
  - name: signed
    type: hmac
    hmac:
      max_age: 60
  - name: signed_custom
    type: HMAC
    hmac:
      secret: "custom-secret"
      signature_header: X-Hub-Signature-256
      timestamp_header: X-Hub-Time
actions:
  - name: bump
    sql: UPDATE scores SET points = points + $2 WHERE user_id = $1 RETURNING user_id, points
    auth_name: signed
    params:
      - {name: user_id, type: bigint, required: true}
      - {name: by, type: int, default: 1}
  - name: count_scores
    sql: SELECT count(*) AS n FROM scores
    auth_name: signed_custom
"#;

async fn setup() -> (String, String) {
    let (name, db) = action_db().await;
    let config = config(YAML, &[("GJ_AUTHS_SIGNED_HMAC_SECRET", SECRET)]);
    (name, serve_actions(&config, db).await)
}

fn points(db: &str) -> String {
    pg().run_sql(db, "SELECT points FROM scores WHERE user_id = 1")
        .expect("query")
}

#[test]
fn hmac_helper_matches_rfc_4231() {
    // Test case 2.
    assert_eq!(
        hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    // Test case 6: a key longer than the block.
    assert_eq!(
        hex(&hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First"
        )),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    );
    // The runtime's signer agrees with it.
    assert_eq!(
        graphjin_runtime::actions::sign(b"k3y", 1_700_000_000, b"{\"a\":1}"),
        signature("k3y", 1_700_000_000, "{\"a\":1}")
    );
}

#[tokio::test]
async fn signed_calls_are_accepted_once() {
    let (db, base) = setup().await;
    let body = r#"{"user_id": 1, "by": 5}"#;
    let ts = now();
    let sig = signature(SECRET, ts, body);
    let ts_text = ts.to_string();
    let headers = [
        ("x-timestamp", ts_text.as_str()),
        ("x-signature", sig.as_str()),
    ];

    let r = call(&base, "bump", body, &headers).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, r#"{"data":[{"user_id":1,"points":15}]}"#);
    assert_eq!(points(&db), "15");

    // The same call again: a replay.
    let r = call(&base, "bump", body, &headers).await;
    assert_eq!(r.status, 401, "{}", r.text);
    let (message, code) = r.error();
    assert_eq!(code, "UNAUTHENTICATED");
    assert!(message.contains("already used"), "{message}");
    // Also with the signature spelled differently (bare, upper-case hex).
    let bare = sig.trim_start_matches("sha256=").to_ascii_uppercase();
    let r = call(
        &base,
        "bump",
        body,
        &[
            ("x-timestamp", ts_text.as_str()),
            ("x-signature", bare.as_str()),
        ],
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(r.error().0.contains("already used"), "{}", r.text);
    assert_eq!(points(&db), "15");

    // A new signature for the same body (another second) is a new call.
    let ts2 = ts + 1;
    let sig2 = signature(SECRET, ts2, body);
    let bare2 = sig2.trim_start_matches("sha256=").to_owned();
    let r = call(
        &base,
        "bump",
        body,
        &[("X-Timestamp", &ts2.to_string()), ("X-Signature", &bare2)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(points(&db), "20");
}

#[tokio::test]
async fn tampered_stale_and_unsigned_calls_are_refused() {
    let (db, base) = setup().await;
    let body = r#"{"user_id": 1, "by": 5}"#;
    let ts = now();
    let sig = signature(SECRET, ts, body);
    let ts_text = ts.to_string();

    let refused = |r: &Reply, needle: &str| {
        assert_eq!(r.status, 401, "{}", r.text);
        let (message, code) = r.error();
        assert_eq!(code, "UNAUTHENTICATED");
        assert!(message.contains(needle), "{message} should say {needle}");
    };

    // The body changed after signing (one byte, or only whitespace).
    let r = call(
        &base,
        "bump",
        r#"{"user_id": 1, "by": 500}"#,
        &[("x-timestamp", &ts_text), ("x-signature", &sig)],
    )
    .await;
    refused(&r, "does not match");
    let r = call(
        &base,
        "bump",
        r#"{"user_id": 1,  "by": 5}"#,
        &[("x-timestamp", &ts_text), ("x-signature", &sig)],
    )
    .await;
    refused(&r, "does not match");
    // The timestamp changed after signing.
    let r = call(
        &base,
        "bump",
        body,
        &[
            ("x-timestamp", &(ts + 1).to_string()),
            ("x-signature", &sig),
        ],
    )
    .await;
    refused(&r, "does not match");
    // Signed with another secret.
    let other = signature("another-secret", ts, body);
    let r = call(
        &base,
        "bump",
        body,
        &[("x-timestamp", &ts_text), ("x-signature", &other)],
    )
    .await;
    refused(&r, "does not match");
    // Properly signed, but too old or too far ahead (max_age: 60 s).
    for stale in [ts - 120, ts + 120] {
        let s = signature(SECRET, stale, body);
        let r = call(
            &base,
            "bump",
            body,
            &[("x-timestamp", &stale.to_string()), ("x-signature", &s)],
        )
        .await;
        refused(&r, "timestamp");
    }
    // Missing or malformed headers.
    let r = call(&base, "bump", body, &[("x-signature", &sig)]).await;
    refused(&r, "x-timestamp");
    let r = call(&base, "bump", body, &[("x-timestamp", &ts_text)]).await;
    refused(&r, "x-signature");
    let r = call(
        &base,
        "bump",
        body,
        &[("x-timestamp", "yesterday"), ("x-signature", &sig)],
    )
    .await;
    refused(&r, "unix seconds");
    let r = call(
        &base,
        "bump",
        body,
        &[("x-timestamp", &ts_text), ("x-signature", "sha256=abc")],
    )
    .await;
    refused(&r, "64 hex digits");
    assert_eq!(points(&db), "10", "no refused call ran");

    // After all that, the genuine call still goes through.
    let r = call(
        &base,
        "bump",
        body,
        &[("x-timestamp", &ts_text), ("x-signature", &sig)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(points(&db), "15");
}

#[tokio::test]
async fn custom_headers_and_empty_bodies() {
    let (_, base) = setup().await;
    let ts = now();
    let sig = signature("custom-secret", ts, "");
    let r = call(
        &base,
        "count_scores",
        "",
        &[
            ("X-Hub-Time", &ts.to_string()),
            ("X-Hub-Signature-256", &sig),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, r#"{"data":[{"n":2}]}"#);
    // The default headers mean nothing to this auth.
    let sig = signature("custom-secret", ts + 1, "");
    let r = call(
        &base,
        "count_scores",
        "",
        &[
            ("x-timestamp", &(ts + 1).to_string()),
            ("x-signature", &sig),
        ],
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);
}
