//! Subscriptions over WebSocket (`graphql-transport-ws`), through a real listening server,
//! a real WebSocket client and a real PostgreSQL: each credential kind in
//! `connection_init`, the first result, an update after a change in the database, silence
//! while nothing changes, `complete`, refusals, and the close codes.

mod subs_common;

use std::time::Duration;

use serde_json::{Value, json};
use subs_common::*;

/// A few poll periods (100 ms each).
const QUIET: Duration = Duration::from_millis(600);

fn alice_stock(apple: i64) -> Value {
    json!({"products": [{"id": 1, "stock": apple}, {"id": 2, "stock": 20}]})
}

fn bob_stock(cherry: i64) -> Value {
    json!({"products": [{"id": 3, "stock": cherry}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_jwt_first_result_update_silence_complete() {
    let s = server(DEV_CONFIG).await;
    let token = hs256(SECRET, "1");
    let mut c = Client::init(
        &s.ws_url,
        json!({"Authorization": format!("Bearer {token}")}),
    )
    .await;
    c.subscribe("a", json!({"query": MY_STOCK})).await;
    assert_eq!(c.next().await, next_msg("a", alice_stock(10)));

    // Nothing changed: nothing is sent, poll after poll.
    c.quiet(QUIET).await;

    sql(&s.database, "UPDATE products SET stock = 11 WHERE id = 1").await;
    assert_eq!(c.next().await, next_msg("a", alice_stock(11)));
    c.quiet(QUIET).await;

    // A change to someone else's row is not this subscriber's.
    sql(&s.database, "UPDATE products SET stock = 31 WHERE id = 3").await;
    c.quiet(QUIET).await;

    c.complete("a").await;
    sql(&s.database, "UPDATE products SET stock = 12 WHERE id = 1").await;
    c.quiet(QUIET).await;
    // The poller stopped with its last subscriber.
    eventually(|| s.subs.stats().pollers == 0 && s.subs.stats().subscribers == 0).await;

    // ping / pong.
    c.send(json!({"type": "ping"})).await;
    assert_eq!(c.next().await, json!({"type": "pong"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_credential() {
    let s = server(DEV_CONFIG).await;
    let token = hs256(SECRET, "2");
    let mut c = Client::init(
        &s.ws_url,
        json!({"Cookie": format!("theme=dark; _jwt={token}")}),
    )
    .await;
    c.subscribe("b", json!({"operationName": "myStock"})).await;
    assert_eq!(c.next().await, next_msg("b", bob_stock(30)));
    sql(&s.database, "UPDATE products SET stock = 29 WHERE id = 3").await;
    assert_eq!(c.next().await, next_msg("b", bob_stock(29)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_headers_where_allowed_only() {
    let s = server(DEV_CONFIG).await;
    let mut c = Client::init(&s.ws_url, json!({"X-User-ID": 2})).await;
    c.subscribe("m", json!({"operationName": "myStock"})).await;
    assert_eq!(c.next().await, next_msg("m", bob_stock(30)));

    // The same payload where the config is production: ignored, so the caller is anon.
    let prod = server(&format!("production: true\n{DEV_CONFIG}")).await;
    let mut c = Client::init(&prod.ws_url, json!({"X-User-ID": 2})).await;
    c.subscribe("m", json!({"operationName": "myStock"})).await;
    assert_eq!(
        error_of(&c.next().await, "m"),
        (
            "operation \"myStock\" needs a signed-in user".to_owned(),
            "UNAUTHENTICATED".to_owned()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creds_in_vars_where_allowed_only() {
    let s = server(DEV_CONFIG).await;
    let mut c = Client::init(&s.ws_url, json!({})).await;
    c.subscribe(
        "v",
        json!({"operationName": "myStock", "variables": {"X-User-ID": "1"}}),
    )
    .await;
    assert_eq!(c.next().await, next_msg("v", alice_stock(10)));

    // Not without the key...
    let no_key = DEV_CONFIG.replace("  subs_creds_in_vars: true\n", "");
    let s = server(&no_key).await;
    let mut c = Client::init(&s.ws_url, json!({})).await;
    c.subscribe(
        "v",
        json!({"operationName": "myStock", "variables": {"X-User-ID": "1"}}),
    )
    .await;
    assert_eq!(error_of(&c.next().await, "v").1, "UNAUTHENTICATED");

    // ...and never in production.
    let s = server(&format!("production: true\n{DEV_CONFIG}")).await;
    let mut c = Client::init(&s.ws_url, json!({})).await;
    c.subscribe(
        "v",
        json!({"operationName": "myStock", "variables": {"X-User-ID": "1"}}),
    )
    .await;
    assert_eq!(error_of(&c.next().await, "v").1, "UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_close_4401_under_auth_fail_block() {
    let s = server(DEV_CONFIG).await;
    let forged = hs256("another-secret-entirely-0123456789", "1");
    for payload in [
        json!({"Authorization": format!("Bearer {forged}")}),
        json!({"Authorization": "Bearer not-a-token"}),
        json!({"Cookie": format!("_jwt={forged}")}),
        json!({"authToken": forged}),
    ] {
        let mut c = Client::connect(&s.ws_url, Some("graphql-transport-ws")).await;
        c.send(json!({"type": "connection_init", "payload": payload}))
            .await;
        let (code, reason) = c.closed().await;
        assert_eq!(code, 4401, "{reason}");
        assert!(reason.starts_with("Unauthorized"), "{reason}");
    }

    // Without auth_fail_block the same credential makes the connection anonymous.
    let open = server(&DEV_CONFIG.replace("auth_fail_block: true", "auth_fail_block: false")).await;
    let mut c = Client::init(
        &open.ws_url,
        json!({"Authorization": format!("Bearer {forged}")}),
    )
    .await;
    c.subscribe(
        "w",
        json!({"operationName": "watchStock", "variables": {"id": 2}}),
    )
    .await;
    assert_eq!(
        c.next().await,
        next_msg("w", json!({"products": {"id": 2, "stock": 20}}))
    );
    c.subscribe("m", json!({"operationName": "myStock"})).await;
    assert_eq!(error_of(&c.next().await, "m").1, "UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_error_messages_with_the_http_texts() {
    let s = server(DEV_CONFIG).await;
    let mut c = Client::init(&s.ws_url, json!({})).await;

    c.subscribe("1", json!({"operationName": "stealStock"}))
        .await;
    assert_eq!(
        error_of(&c.next().await, "1"),
        (
            "operation \"stealStock\" is not in the allow list".to_owned(),
            "OPERATION_NOT_ALLOWED".to_owned()
        )
    );

    c.subscribe(
        "2",
        json!({"query": "subscription { products { id email } }"}),
    )
    .await;
    assert_eq!(
        error_of(&c.next().await, "2").1,
        "OPERATION_NOT_ALLOWED".to_owned()
    );

    c.subscribe(
        "3",
        json!({"query": "subscription watchStock($id: ID!) { products(id: $id) { id stock name } }"}),
    )
    .await;
    assert_eq!(
        error_of(&c.next().await, "3"),
        (
            "the query text for watchStock differs from the allow list's".to_owned(),
            "QUERY_MISMATCH".to_owned()
        )
    );

    c.subscribe(
        "4",
        json!({"operationName": "getStock", "variables": {"id": 1}}),
    )
    .await;
    let (message, code) = error_of(&c.next().await, "4");
    assert_eq!(code, "BAD_REQUEST");
    assert!(message.contains("is a query"), "{message}");

    c.subscribe(
        "5",
        json!({"operationName": "watchStock", "variables": {"id": "one"}}),
    )
    .await;
    assert_eq!(
        error_of(&c.next().await, "5"),
        (
            "variable \"id\" must be an integer (bigint), got a string".to_owned(),
            "BAD_USER_INPUT".to_owned()
        )
    );

    c.subscribe(
        "6",
        json!({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "00ff"}}}),
    )
    .await;
    assert_eq!(
        error_of(&c.next().await, "6").1,
        "PERSISTED_QUERY_NOT_FOUND"
    );

    // A persisted-query hash and a listed text both work.
    let hash = op_named("watchStock").sha256;
    c.subscribe(
        "7",
        json!({"variables": {"id": 3}, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": hash}}}),
    )
    .await;
    assert_eq!(
        c.next().await,
        next_msg("7", json!({"products": {"id": 3, "stock": 30}}))
    );
    let reformatted =
        "# watch\nsubscription watchStock($id: ID!) {\n  products(id: $id) {\n id, stock } }";
    c.subscribe("8", json!({"query": reformatted, "variables": {"id": 1}}))
        .await;
    assert_eq!(
        c.next().await,
        next_msg("8", json!({"products": {"id": 1, "stock": 10}}))
    );

    // A subscription over plain HTTP is still refused there, with the WebSocket hint.
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/graphql", s.http))
        .header("content-type", "application/json")
        .body(r#"{"operationName":"watchStock","variables":{"id":1}}"#)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 400);
    let body: Value = serde_json::from_str(&r.text().await.expect("body")).expect("json");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "SUBSCRIPTION_OVER_HTTP"
    );
    // And a plain GET on the same path is still GraphQL over HTTP.
    let r = reqwest::Client::new()
        .get(format!("{}/api/v1/graphql", s.http))
        .query(&[("operationName", "getStock"), ("variables", r#"{"id":2}"#)])
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    let body: Value = serde_json::from_str(&r.text().await.expect("body")).expect("json");
    assert_eq!(body, json!({"data": {"products": {"id": 2, "stock": 20}}}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_close_codes() {
    let s = server(DEV_CONFIG).await;

    // subscribe before connection_ack.
    let mut c = Client::connect(&s.ws_url, Some("graphql-transport-ws")).await;
    c.subscribe(
        "x",
        json!({"operationName": "watchStock", "variables": {"id": 1}}),
    )
    .await;
    assert_eq!(c.closed().await.0, 4401);

    // A second connection_init.
    let mut c = Client::init(&s.ws_url, json!({})).await;
    c.send(json!({"type": "connection_init"})).await;
    assert_eq!(
        c.closed().await,
        (4429, "Too many initialisation requests".to_owned())
    );

    // A running id used again.
    let mut c = Client::init(&s.ws_url, json!({})).await;
    let sub = json!({"operationName": "watchStock", "variables": {"id": 1}});
    c.subscribe("dup", sub.clone()).await;
    assert_eq!(
        c.next().await,
        next_msg("dup", json!({"products": {"id": 1, "stock": 10}}))
    );
    c.subscribe("dup", sub).await;
    assert_eq!(
        c.closed().await,
        (4409, "Subscriber for dup already exists".to_owned())
    );

    // No connection_init in time.
    let quick = server(&format!(
        "subscriptions:\n  init_timeout_seconds: 0.2\n{DEV_CONFIG}"
    ))
    .await;
    let mut c = Client::connect(&quick.ws_url, Some("graphql-transport-ws")).await;
    assert_eq!(
        c.closed().await,
        (4408, "Connection initialisation timeout".to_owned())
    );

    // A subprotocol this server does not speak: the handshake names none, which clients
    // refuse (one that goes on anyway is closed with 4406).
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            s.ws_url.as_str(),
        )
        .expect("request");
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "mqtt".parse().expect("header"));
    let refused = tokio_tungstenite::connect_async(request).await;
    assert!(
        matches!(
            refused,
            Err(tokio_tungstenite::tungstenite::Error::Protocol(
                tokio_tungstenite::tungstenite::error::ProtocolError::SecWebSocketSubProtocolError(
                    _
                )
            ))
        ),
        "{refused:?}"
    );

    // No subprotocol at all: graphql-transport-ws.
    let mut c = Client::connect(&s.ws_url, None).await;
    c.send(json!({"type": "connection_init"})).await;
    assert_eq!(c.next().await, json!({"type": "connection_ack"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_per_connection_are_limited() {
    let s = server(&format!(
        "subscriptions:\n  max_per_connection: 2\n{DEV_CONFIG}"
    ))
    .await;
    let mut c = Client::init(&s.ws_url, json!({})).await;
    for (id, product) in [("p1", 1), ("p2", 2)] {
        c.subscribe(
            id,
            json!({"operationName": "watchStock", "variables": {"id": product}}),
        )
        .await;
        assert_eq!(c.next().await["id"], id);
    }
    c.subscribe(
        "p3",
        json!({"operationName": "watchStock", "variables": {"id": 3}}),
    )
    .await;
    let (message, code) = error_of(&c.next().await, "p3");
    assert_eq!(code, "TOO_MANY_SUBSCRIPTIONS");
    assert!(message.contains("at most 2"), "{message}");
    // Completing one frees a place.
    c.complete("p1").await;
    c.subscribe(
        "p3",
        json!({"operationName": "watchStock", "variables": {"id": 3}}),
    )
    .await;
    assert_eq!(
        c.next().await,
        next_msg("p3", json!({"products": {"id": 3, "stock": 30}}))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_subscribers_of_an_operation_and_role_share_one_execution_per_poll() {
    let s = server(DEV_CONFIG).await;
    let mut clients = Vec::new();
    for product in 1..=3 {
        for _ in 0..3 {
            let mut c = Client::init(&s.ws_url, json!({})).await;
            c.subscribe(
                "w",
                json!({"operationName": "watchStock", "variables": {"id": product}}),
            )
            .await;
            assert_eq!(
                c.next().await,
                next_msg(
                    "w",
                    json!({"products": {"id": product, "stock": product * 10}})
                )
            );
            clients.push((product, c));
        }
    }
    eventually(|| s.subs.stats().subscribers == 9).await;
    let before = s.subs.stats();
    assert_eq!(before.pollers, 1);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let after = s.subs.stats();
    let polls = after.polls - before.polls;
    assert!(polls >= 3, "{before:?} {after:?}");
    assert_eq!(
        after.executions - before.executions,
        polls,
        "one execution per poll"
    );

    sql(&s.database, "UPDATE products SET stock = 21 WHERE id = 2").await;
    for (product, c) in &mut clients {
        if *product == 2 {
            assert_eq!(
                c.next().await,
                next_msg("w", json!({"products": {"id": 2, "stock": 21}}))
            );
        } else {
            c.quiet(Duration::from_millis(300)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_is_reported_and_polling_resumes() {
    let s = server(DEV_CONFIG).await;
    let mut c = Client::init(&s.ws_url, json!({})).await;
    c.subscribe(
        "w",
        json!({"operationName": "watchStock", "variables": {"id": 1}}),
    )
    .await;
    assert_eq!(
        c.next().await,
        next_msg("w", json!({"products": {"id": 1, "stock": 10}}))
    );

    let db = s.database.clone();
    let kick = format!(
        "ALTER DATABASE {db} ALLOW_CONNECTIONS false; \
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}';"
    );
    sql("postgres", &kick).await;
    let message = c.next().await;
    assert_eq!(message["id"], "w");
    assert_eq!(message["type"], "next", "{message}");
    assert_eq!(
        message["payload"]["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE",
        "{message}"
    );
    // Reported once, not every poll.
    c.quiet(QUIET).await;

    sql(
        "postgres",
        &format!("ALTER DATABASE {db} ALLOW_CONNECTIONS true"),
    )
    .await;
    // Back: the result comes again (it is unchanged, but the client was told of an error).
    assert_eq!(
        c.next().await,
        next_msg("w", json!({"products": {"id": 1, "stock": 10}}))
    );
    sql(&db, "UPDATE products SET stock = 9 WHERE id = 1").await;
    assert_eq!(
        c.next().await,
        next_msg("w", json!({"products": {"id": 1, "stock": 9}}))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_graphql_ws_protocol() {
    let s = server(DEV_CONFIG).await;
    let mut c = Client::connect(&s.ws_url, Some("graphql-ws")).await;
    c.send(json!({"type": "connection_init", "payload": {"X-User-ID": "1"}}))
        .await;
    assert_eq!(c.next().await, json!({"type": "connection_ack"}));
    assert_eq!(c.next().await, json!({"type": "ka"}));
    c.send(json!({"id": "1", "type": "start", "payload": {"operationName": "myStock"}}))
        .await;
    assert_eq!(
        c.next().await,
        json!({"id": "1", "type": "data", "payload": {"data": alice_stock(10)}})
    );
    sql(&s.database, "UPDATE products SET stock = 5 WHERE id = 1").await;
    assert_eq!(
        c.next().await,
        json!({"id": "1", "type": "data", "payload": {"data": alice_stock(5)}})
    );
    c.send(json!({"id": "1", "type": "stop"})).await;
    c.send(json!({"id": "2", "type": "start", "payload": {"operationName": "nope"}}))
        .await;
    let e = c.next().await;
    assert_eq!(
        (
            e["id"].clone(),
            e["type"].clone(),
            e["payload"]["message"].clone()
        ),
        (
            json!("2"),
            json!("error"),
            json!("operation \"nope\" is not in the allow list")
        )
    );
    c.send(json!({"type": "connection_terminate"})).await;
    assert_eq!(c.closed().await.0, 1000);

    // A refused credential: connection_error, then 4401.
    let mut c = Client::connect(&s.ws_url, Some("graphql-ws")).await;
    c.send(json!({"type": "connection_init", "payload": {"Authorization": "Bearer x"}}))
        .await;
    assert_eq!(c.next().await["type"], "connection_error");
    assert_eq!(c.closed().await.0, 4401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_sockets_and_stops_pollers() {
    let s = server(DEV_CONFIG).await;
    let mut c = Client::init(&s.ws_url, json!({})).await;
    c.subscribe(
        "w",
        json!({"operationName": "watchStock", "variables": {"id": 1}}),
    )
    .await;
    c.next().await;
    eventually(|| s.subs.stats().pollers == 1).await;
    s.subs.shutdown();
    assert_eq!(c.closed().await.0, 1001);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(s.subs.stats().pollers, 0);
    // New connections are turned away the same way.
    let mut c = Client::connect(&s.ws_url, Some("graphql-transport-ws")).await;
    assert_eq!(c.closed().await.0, 1001);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalive_pings_and_idle_clients_are_closed() {
    let s = server(&format!(
        "subscriptions:\n  keepalive_seconds: 0.1\n  idle_timeout_seconds: 0.5\n{DEV_CONFIG}"
    ))
    .await;
    // A client that reads answers the pings (tungstenite does) and stays.
    let mut live = Client::init(&s.ws_url, json!({})).await;
    live.quiet(Duration::from_millis(1200)).await;
    live.send(json!({"type": "ping"})).await;
    assert_eq!(live.next().await, json!({"type": "pong"}));

    // One that reads nothing sends no pong and is closed.
    let mut dead = Client::init(&s.ws_url, json!({})).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (code, reason) = dead.closed().await;
    assert_eq!(code, 1001);
    assert!(reason.starts_with("idle timeout"), "{reason}");
}
