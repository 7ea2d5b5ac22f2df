//! SQL actions through a real server and a real PostgreSQL: a shared-secret header guard
//! (case-insensitive names, constant-time values), parameters bound from the body and the
//! session, rows as JSON and rows_affected, and the errors.

mod actions_common;
mod common;

use actions_common::*;
use common::*;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CRON: &str = "cron-secret-0123456789";
const JWT_SECRET: &str = "users-jwt-secret-0123456789abcdefgh";

const YAML: &str = r#"
auths:
  - name: cron
    type: header
    header:
      name: X-Cron-Secret
  - name: public
    type: none
  - name: users
    type: jwt
    jwt: {secret: "users-jwt-secret-0123456789abcdefgh"}
actions:
  - name: refresh_leaderboard
    sql: REFRESH MATERIALIZED VIEW CONCURRENTLY leaderboard;
    auth_name: cron
  - name: delete_scores
    sql: DELETE FROM scores WHERE user_id = $1
    auth_name: cron
    params: [{name: user_id, type: bigint, required: true}]
  - name: add_note
    sql: |
      INSERT INTO notes (body, mood, tags, author) VALUES ($1, $2, $3, $4)
      RETURNING id, body, mood, tags, author -- the new note
    auth_name: users
    params:
      - {name: body, type: text, required: true}
      - {name: mood, type: mood, default: happy}
      - {name: tags, type: "text[]"}
      - {name: author, type: text, from: user_id}
  - name: product_names
    sql: SELECT id, name FROM products WHERE id = ANY($1) ORDER BY id
    auth_name: public
    params: [{name: ids, type: "bigint[]", default: []}]
"#;

async fn setup() -> (String, String) {
    let (name, db) = action_db().await;
    let config = config(YAML, &[("GJ_AUTHS_CRON_HEADER_VALUE", CRON)]);
    (name, serve_actions(&config, db).await)
}

fn leaderboard(db: &str) -> String {
    pg().run_sql(
        db,
        "SELECT string_agg(user_id || ':' || total, ',' ORDER BY user_id) FROM leaderboard",
    )
    .expect("query")
}

fn token(sub: &str) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        &json!({"sub": sub, "exp": 4_070_908_800u64}),
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .expect("sign")
}

/// A request written by hand, so the header's case on the wire is exactly as given.
async fn raw_post(base: &str, path: &str, headers: &str) -> String {
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    response
}

#[tokio::test]
async fn header_secret_guards_the_refresh() {
    let (db, base) = setup().await;
    pg().run_sql(&db, "INSERT INTO scores VALUES (3, 7), (1, 1)")
        .expect("insert");
    assert_eq!(leaderboard(&db), "1:10,2:5");

    // No header: refused, and nothing ran.
    let r = call(&base, "refresh_leaderboard", "", &[]).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.error().1, "UNAUTHENTICATED");
    // A wrong value, a prefix of the right one, the right one with extra bytes: refused.
    for wrong in ["nope", &CRON[..CRON.len() - 1], &format!("{CRON}x")] {
        let r = call(
            &base,
            "refresh_leaderboard",
            "",
            &[("x-cron-secret", wrong)],
        )
        .await;
        assert_eq!(r.status, 401, "{}", r.text);
        let (message, code) = r.error();
        assert_eq!(code, "UNAUTHENTICATED");
        assert!(message.contains("x-cron-secret"), "{message}");
        assert!(
            !message.contains(wrong),
            "the value is not echoed: {message}"
        );
    }
    assert_eq!(leaderboard(&db), "1:10,2:5");

    // The right value, under the configured name spelled another way on the wire.
    let response = raw_post(
        &base,
        "/api/v1/actions/refresh_leaderboard",
        &format!("X-CRON-SECRET: {CRON}\r\n"),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.ends_with(r#"{"data":{"rows_affected":0}}"#),
        "{response}"
    );
    assert_eq!(leaderboard(&db), "1:11,2:5,3:7");

    // And as clients usually send it.
    pg().run_sql(&db, "INSERT INTO scores VALUES (2, 1)")
        .expect("insert");
    let r = call(&base, "refresh_leaderboard", "", &[("x-cron-secret", CRON)]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(leaderboard(&db), "1:11,2:6,3:7");
}

#[tokio::test]
async fn statements_without_rows_report_rows_affected() {
    let (db, base) = setup().await;
    let r = call(
        &base,
        "delete_scores",
        r#"{"user_id": 1}"#,
        &[("x-cron-secret", CRON)],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, r#"{"data":{"rows_affected":1}}"#);
    assert_eq!(
        pg().run_sql(&db, "SELECT count(*) FROM scores")
            .expect("count"),
        "1"
    );
    // A required parameter missing, or of the wrong type.
    let r = call(&base, "delete_scores", "{}", &[("x-cron-secret", CRON)]).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.error().1, "BAD_USER_INPUT");
    assert!(r.error().0.contains("\"user_id\""), "{}", r.text);
    let r = call(
        &base,
        "delete_scores",
        r#"{"user_id": "1; DROP TABLE scores"}"#,
        &[("x-cron-secret", CRON)],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        r.error(),
        (
            r#"variable "user_id" must be an integer (bigint), got a string"#.to_owned(),
            "BAD_USER_INPUT".to_owned()
        )
    );
    assert_eq!(
        pg().run_sql(&db, "SELECT count(*) FROM scores")
            .expect("count"),
        "1"
    );
}

#[tokio::test]
async fn rows_come_back_as_json_with_session_parameters() {
    let (db, base) = setup().await;
    let bearer = format!("Bearer {}", token("42"));
    let auth = [("authorization", bearer.as_str())];
    let r = call(
        &base,
        "add_note",
        r#"{"body": "hi \"there\"", "tags": ["a", "b \"q\"", null], "author": "mallory"}"#,
        &auth,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The author is the session's user id, never the body's.
    assert_eq!(
        r.json(),
        json!({"data": [{"id": 1, "body": "hi \"there\"", "mood": "happy", "tags": ["a", "b \"q\"", null], "author": "42"}]})
    );
    assert_eq!(
        pg().run_sql(&db, "SELECT body, mood, tags, author FROM notes")
            .expect("select"),
        r#"hi "there"|happy|{a,"b \"q\"",NULL}|42"#
    );

    // The enum checks its value in the database: a client error.
    let r = call(
        &base,
        "add_note",
        r#"{"body": "x", "mood": "angry"}"#,
        &auth,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.error().1, "BAD_USER_INPUT");

    // No token: refused.
    let r = call(&base, "add_note", r#"{"body": "x"}"#, &[]).await;
    assert_eq!(r.status, 401, "{}", r.text);
    // A body that is not an object, or not JSON at all.
    let r = call(&base, "add_note", "[1]", &auth).await;
    assert_eq!((r.status, r.error().1.as_str()), (400, "BAD_REQUEST"));
    let r = call(
        &base,
        "add_note",
        r#"{"body": "x"}"#,
        &[auth[0], ("content-type", "text/plain")],
    )
    .await;
    assert_eq!(r.status, 415, "{}", r.text);
    assert_eq!(
        pg().run_sql(&db, "SELECT count(*) FROM notes")
            .expect("count"),
        "1"
    );
}

#[tokio::test]
async fn public_actions_arrays_and_unknown_names() {
    let (_, base) = setup().await;
    let r = call(&base, "product_names", r#"{"ids": [3, 1]}"#, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.text,
        r#"{"data":[{"id":1,"name":"Apple"},{"id":3,"name":"Cherry"}]}"#
    );
    let r = call(&base, "product_names", "", &[]).await;
    assert_eq!(r.text, r#"{"data":[]}"#);
    let r = call(&base, "product_names", r#"{"ids": [1, "2"]}"#, &[]).await;
    assert_eq!((r.status, r.error().1.as_str()), (400, "BAD_USER_INPUT"));

    let r = call(&base, "no_such_action", "", &[]).await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.error().1, "ACTION_NOT_FOUND");
    let r = get(&format!("{base}/api/v1/actions/product_names"), &[], None).await;
    assert_eq!(r.status, 405, "{}", r.text);
    assert_eq!(r.error().1, "METHOD_NOT_ALLOWED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_share_the_prepared_statement() {
    // Each pooled connection prepares the action the first time it runs there; calls that
    // overlap on one connection (pipelined) and calls after them must all get their rows.
    let (_, base) = setup().await;
    let names = ["Apple", "Banana", "Cherry"];
    let calls: Vec<_> = (0..24)
        .map(|i| {
            let base = base.clone();
            tokio::spawn(async move {
                let id = i % 3 + 1;
                let r = call(
                    &base,
                    "product_names",
                    &format!(r#"{{"ids": [{id}]}}"#),
                    &[],
                )
                .await;
                (id, r.status, r.text)
            })
        })
        .collect();
    for call in calls {
        let (id, status, text) = call.await.expect("task");
        assert_eq!(status, 200, "{text}");
        let name = names[id - 1];
        assert_eq!(
            text,
            format!(r#"{{"data":[{{"id":{id},"name":"{name}"}}]}}"#)
        );
    }
}
