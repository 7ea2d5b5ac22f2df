//! Subscriptions through the development server over a real WebSocket
//! (graphql-transport-ws, tokio-tungstenite) against a real PostgreSQL: a new named
//! subscription is compiled, gets its first result, follows a change in the database, and
//! is then found in allow.list; one that does not compile is an `error` message and is not
//! recorded; a second new subscription on the same socket works too; the legacy
//! `graphql-ws` protocol; credentials in `connection_init` reach the runtime, and its close
//! codes (4401) reach the client; the subscribers of one subscription are polled with one
//! batch statement, as in a production build.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use graphjin_dev::{DevOptions, DevServer};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A copy of the example app's config folder, polling subscriptions every 100 ms.
fn config_copy(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gj-devsubs-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["allow.list", "db.graphql", "dev.yml", "prod.yml"] {
        std::fs::copy(root().join("example-app/config").join(f), dir.join(f)).unwrap();
    }
    let dev = std::fs::read_to_string(dir.join("dev.yml")).unwrap();
    std::fs::write(
        dir.join("dev.yml"),
        format!("{dev}\npoll_every_seconds: 0.1\n"),
    )
    .unwrap();
    dir
}

fn database() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let pg = graphjin_pg_tmp::shared().expect("PostgreSQL");
    let name = format!("devsubs_shop_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    pg.create_database(&name, None).unwrap();
    pg.run_sql_file(&name, &root().join("example-app/db/schema.sql"))
        .unwrap();
    pg.run_sql_file(&name, &root().join("example-app/db/seed.sql"))
        .unwrap();
    pg.url(&name)
}

async fn start(dir: &Path, url: &str) -> SocketAddr {
    start_server(dir, url).await.0
}

/// [`start`], keeping a handle on the server (for its subscription counters).
async fn start_server(dir: &Path, url: &str) -> (SocketAddr, DevServer) {
    let mut opts = DevOptions::new(dir, url);
    opts.schema_poll = None;
    let server = DevServer::start(opts).await.expect("dev server starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = server.router();
    tokio::spawn(async move {
        graphjin_runtime::axum::serve(listener, router)
            .await
            .unwrap()
    });
    (addr, server)
}

async fn open(addr: SocketAddr) -> Socket {
    let mut request = format!("ws://{addr}/api/v1/graphql")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket");
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "graphql-transport-ws"
    );
    send(&mut ws, json!({"type": "connection_init", "payload": {}})).await;
    assert_eq!(next(&mut ws).await, json!({"type": "connection_ack"}));
    ws
}

async fn send(ws: &mut Socket, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// The next JSON message (30 s at most: a hang fails rather than blocks).
async fn next(ws: &mut Socket) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .expect("a message within 30 s")
            .expect("the socket is open")
            .expect("a frame");
        match m {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Close(f) => panic!("closed: {f:?}"),
            _ => continue,
        }
    }
}

fn allow_list(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("allow.list")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_subscription_runs_follows_changes_and_is_recorded() {
    let dir = config_copy("new");
    let url = database();
    let addr = start(&dir, &url).await;
    assert!(!allow_list(&dir).contains("newestProduct"));
    let mut ws = open(addr).await;
    let text =
        "subscription newestProduct {\n  products(order_by: { id: desc }, limit: 1) { id name }\n}";
    send(
        &mut ws,
        json!({"id": "1", "type": "subscribe", "payload": {"query": text}}),
    )
    .await;
    let first = next(&mut ws).await;
    assert_eq!(first["id"], "1", "{first}");
    assert_eq!(first["type"], "next", "{first}");
    assert_eq!(first["payload"]["data"]["products"][0]["id"], 40, "{first}");
    let recorded = allow_list(&dir);
    assert!(
        recorded.contains("subscription newestProduct {"),
        "recorded after its first result:\n{recorded}"
    );

    // The runtime's poller follows the database.
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute("INSERT INTO products (id, name, price, stock, tags) VALUES (41, 'Kettle', 30, 5, '{}')")
        .await
        .unwrap();
    let changed = next(&mut ws).await;
    assert_eq!(
        changed["payload"]["data"]["products"][0],
        json!({"id": 41, "name": "Kettle"}),
        "{changed}"
    );

    // A second new subscription on the same socket (the runtime was rebuilt for it).
    let cats =
        "subscription firstCategory { categories(order_by: { id: asc }, limit: 1) { slug } }";
    send(
        &mut ws,
        json!({"id": "2", "type": "subscribe", "payload": {"query": cats}}),
    )
    .await;
    let got = next(&mut ws).await;
    assert_eq!(
        (
            got["id"].clone(),
            got["payload"]["data"]["categories"][0]["slug"].clone()
        ),
        (json!("2"), json!("coffee")),
        "{got}"
    );
    assert!(allow_list(&dir).contains("subscription firstCategory"));

    // The first subscription still runs, and `complete` ends it.
    client
        .batch_execute("INSERT INTO products (id, name, price, stock, tags) VALUES (42, 'Teapot', 25, 3, '{}')")
        .await
        .unwrap();
    let later = next(&mut ws).await;
    assert_eq!(later["id"], "1", "{later}");
    assert_eq!(later["payload"]["data"]["products"][0]["id"], 42, "{later}");
    send(&mut ws, json!({"id": "1", "type": "complete"})).await;
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next(&mut ws).await, json!({"type": "pong"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_of_one_subscription_are_polled_with_one_statement() {
    let dir = config_copy("batched");
    let url = database();
    let (addr, dev) = start_server(&dir, &url).await;
    // A new subscription (compiled on the fly), five sockets, a different product each.
    let text =
        "subscription stockOf($id: ID!) {\n  products(where: { id: { eq: $id } }) { id stock }\n}";
    let ids = 1..=5_i64;
    let mut sockets = Vec::new();
    for id in ids.clone() {
        let mut ws = open(addr).await;
        send(
            &mut ws,
            json!({"id": "s", "type": "subscribe",
                   "payload": {"query": text, "variables": {"id": id}}}),
        )
        .await;
        let first = next(&mut ws).await;
        assert_eq!(first["type"], "next", "{first}");
        assert_eq!(
            first["payload"]["data"]["products"][0]["id"], id,
            "subscriber of product {id}: {first}"
        );
        sockets.push(ws);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while dev.subscription_stats().await.subscribers < 5 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "five subscribers in time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A change reaches every subscriber with its own product's data.
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute("UPDATE products SET stock = 100 + id WHERE id <= 5")
        .await
        .unwrap();
    for (ws, id) in sockets.iter_mut().zip(ids) {
        let changed = next(ws).await;
        assert_eq!(
            changed["payload"]["data"]["products"],
            json!([{"id": id, "stock": 100 + id}]),
            "subscriber of product {id}: {changed}"
        );
    }
    // One poller for the operation and role, and each of its polls is one statement for
    // all five parameter sets: the batch statement, as in a production build (polled one
    // by one, a poll would run five).
    let stats = dev.subscription_stats().await;
    assert_eq!(stats.subscribers, 5, "{stats:?}");
    assert_eq!(stats.pollers, 1, "{stats:?}");
    assert!(stats.polls > 0, "{stats:?}");
    assert_eq!(stats.last_poll_executions, 1, "{stats:?}");
    assert_eq!(
        stats.executions, stats.polls,
        "every poll ran one statement: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_that_does_not_compile_is_an_error_and_not_recorded() {
    let dir = config_copy("bad");
    let url = database();
    let addr = start(&dir, &url).await;
    let before = allow_list(&dir);
    let mut ws = open(addr).await;
    let text = "subscription badOne { products { id nmae } }";
    send(
        &mut ws,
        json!({"id": "a", "type": "subscribe", "payload": {"query": text}}),
    )
    .await;
    let error = next(&mut ws).await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["id"], "a");
    assert_eq!(
        error["payload"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{error}"
    );
    assert!(
        error["payload"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nmae"),
        "{error}"
    );
    // A query over the socket is refused by the runtime, and not recorded either.
    let query = "query notASubscription { categories(limit: 1) { slug } }";
    send(
        &mut ws,
        json!({"id": "b", "type": "subscribe", "payload": {"query": query}}),
    )
    .await;
    let refused = next(&mut ws).await;
    assert_eq!(
        (refused["id"].clone(), refused["type"].clone()),
        (json!("b"), json!("error")),
        "{refused}"
    );
    // The socket still works.
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next(&mut ws).await, json!({"type": "pong"}));
    assert_eq!(allow_list(&dir), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_legacy_graphql_ws_protocol_works_too() {
    let dir = config_copy("legacy");
    let url = database();
    let addr = start(&dir, &url).await;
    let mut request = format!("ws://{addr}/api/v1/graphql")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-ws".parse().unwrap());
    let (mut ws, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "graphql-ws");
    send(&mut ws, json!({"type": "connection_init", "payload": {}})).await;
    assert_eq!(next(&mut ws).await["type"], "connection_ack");
    let text = "subscription legacyStock { products(where: { id: { eq: 1 } }) { id stock } }";
    send(
        &mut ws,
        json!({"id": "x", "type": "start", "payload": {"query": text}}),
    )
    .await;
    let mut data = next(&mut ws).await;
    while data["type"] == "ka" {
        data = next(&mut ws).await;
    }
    assert_eq!(data["type"], "data", "{data}");
    assert_eq!(data["payload"]["data"]["products"][0]["id"], 1, "{data}");
    assert!(allow_list(&dir).contains("subscription legacyStock"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_in_connection_init_reach_the_runtime_and_its_close_codes_come_back() {
    let dir = config_copy("auth");
    let dev = std::fs::read_to_string(dir.join("dev.yml")).unwrap();
    std::fs::write(
        dir.join("dev.yml"),
        dev.replace(
            "auth:\n  type: jwt\n",
            "auth:\n  type: jwt\n  creds_in_header: true\n",
        ),
    )
    .unwrap();
    let url = database();
    let addr = start(&dir, &url).await;
    let connect = || async {
        let mut request = format!("ws://{addr}/api/v1/graphql")
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        tokio_tungstenite::connect_async(request).await.unwrap().0
    };
    // The caller named in connection_init is the one the subscription runs as.
    let mut ws = connect().await;
    send(
        &mut ws,
        json!({"type": "connection_init", "payload": {"X-User-ID": "3"}}),
    )
    .await;
    assert_eq!(next(&mut ws).await, json!({"type": "connection_ack"}));
    let text = "subscription whoAmI { customers(where: { id: { eq: $user_id } }) { id } }";
    send(
        &mut ws,
        json!({"id": "me", "type": "subscribe", "payload": {"query": text}}),
    )
    .await;
    let got = next(&mut ws).await;
    assert_eq!(
        got["payload"]["data"]["customers"],
        json!([{"id": 3}]),
        "{got}"
    );

    // A refused credential (auth_fail_block) closes the client socket with the runtime's code.
    let mut ws = connect().await;
    send(
        &mut ws,
        json!({"type": "connection_init", "payload": {"Authorization": "Bearer not-a-jwt"}}),
    )
    .await;
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .expect("a close within 30 s")
        {
            Some(Ok(Message::Close(Some(frame)))) => break u16::from(frame.code),
            Some(Ok(_)) => continue,
            other => panic!("no close frame: {other:?}"),
        }
    };
    assert_eq!(code, 4401);
}
