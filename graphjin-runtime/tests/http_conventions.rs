//! HTTP conventions over a real listener and a real client: CORS from GraphJin's keys,
//! response compression, the `application/graphql-response+json` media type, liveness vs
//! readiness, and a graceful stop that finishes running requests and closes WebSockets.

mod common;

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use graphjin_runtime::{Config, Db, PoolOptions, Service};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const GQL: &str = "application/graphql-response+json";

/// A service over a fresh database, configured by `yaml`, on a real port.
async fn server_with(yaml: &str, pool: PoolOptions) -> (String, Db, String) {
    let name = fresh_database();
    let db = Db::connect(&pg().url(&name), operations(), pool)
        .await
        .expect("connect");
    let config = Config::from_yaml(yaml, Path::new("dev.yml")).expect("config");
    let service = Service::from_config(db.clone(), &config).expect("service");
    (serve(service).await, db, name)
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn preflight(base: &str, origin: &str) -> reqwest::Response {
    client()
        .request(reqwest::Method::OPTIONS, format!("{base}/api/v1/graphql"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type, authorization",
        )
        .send()
        .await
        .expect("preflight")
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().expect("ASCII header").to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_listed_origins_only() {
    let yaml = "cors_allowed_origins: [\"https://shop.example\", \"https://*.admin.example\"]\n";
    let (base, _, _) = server_with(yaml, small_pool()).await;

    for origin in ["https://shop.example", "https://ops.admin.example"] {
        let r = preflight(&base, origin).await;
        assert!(r.status().is_success(), "{origin}: {}", r.status());
        assert_eq!(
            header(&r, "access-control-allow-origin").as_deref(),
            Some(origin)
        );
        assert_eq!(
            header(&r, "access-control-allow-credentials").as_deref(),
            Some("true")
        );
        let methods = header(&r, "access-control-allow-methods").expect("methods");
        assert!(methods.contains("POST"), "{methods}");
        let headers = header(&r, "access-control-allow-headers")
            .expect("headers")
            .to_ascii_lowercase();
        assert!(
            headers.contains("content-type") && headers.contains("authorization"),
            "{headers}"
        );
    }

    // A refused origin: the preflight carries no allow-origin, so the browser refuses.
    let r = preflight(&base, "https://evil.example").await;
    assert_eq!(header(&r, "access-control-allow-origin"), None);

    // The actual request from an allowed origin is answered with the header too.
    let r = client()
        .post(format!("{base}/api/v1/graphql"))
        .header("origin", "https://shop.example")
        .header("content-type", "application/json")
        .body(r#"{"operationName":"getProduct","variables":{"id":1}}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("https://shop.example")
    );

    // `*`: any origin, without credentials; without the key: no CORS headers at all.
    let (any, _, _) = server_with("cors_allowed_origins: \"*\"\n", small_pool()).await;
    let r = preflight(&any, "https://anyone.example").await;
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("*")
    );
    assert_eq!(header(&r, "access-control-allow-credentials"), None);
    let (none, _, _) = server_with("{}\n", small_pool()).await;
    let r = preflight(&none, "https://shop.example").await;
    assert_eq!(header(&r, "access-control-allow-origin"), None);
}

/// The `getProducts` answer of the test database.
fn products() -> Value {
    json!({"data": {"products": [
        {"id": 1, "name": "Apple"}, {"id": 2, "name": "Banana"}, {"id": 3, "name": "Cherry"}
    ]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_are_compressed_when_accepted() {
    let (base, _, _) = server_with("{}\n", small_pool()).await;
    let url = format!("{base}/api/v1/graphql");
    let body = r#"{"operationName":"getProducts"}"#;
    let send = |encoding: &'static str| {
        client()
            .post(&url)
            .header("content-type", "application/json")
            .header("accept-encoding", encoding)
            .body(body)
            .send()
    };

    let r = send("gzip").await.expect("request");
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-encoding").as_deref(), Some("gzip"));
    assert_eq!(
        header(&r, "content-type").as_deref(),
        Some("application/json")
    );
    let compressed = r.bytes().await.expect("body");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_string(&mut text)
        .expect("valid gzip");
    assert_eq!(
        serde_json::from_str::<Value>(&text).expect("JSON"),
        products()
    );

    let r = send("br").await.expect("request");
    assert_eq!(header(&r, "content-encoding").as_deref(), Some("br"));

    let r = send("identity").await.expect("request");
    assert_eq!(header(&r, "content-encoding"), None);
    assert_eq!(
        header(&r, "vary").as_deref(),
        Some("accept-encoding"),
        "a cache must key the answer by Accept-Encoding"
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&r.bytes().await.expect("body")).expect("JSON"),
        products()
    );

    // A client that sends no Accept-Encoding skips the compressor, and its answer still
    // says it varies by Accept-Encoding, once.
    let r = client()
        .post(&url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(header(&r, "content-encoding"), None);
    let vary: Vec<_> = r.headers().get_all("vary").iter().collect();
    assert_eq!(vary, ["accept-encoding"], "{:?}", r.headers());
    assert_eq!(
        serde_json::from_slice::<Value>(&r.bytes().await.expect("body")).expect("JSON"),
        products()
    );
    // Too small to compress (under 32 bytes): no Vary either way.
    let small = client()
        .get(format!("{base}/health/live"))
        .send()
        .await
        .expect("request");
    assert_eq!(header(&small, "vary"), None, "{:?}", small.headers());

    // `http_compress: false` turns it off.
    let (plain, _, _) = server_with("http_compress: false\n", small_pool()).await;
    let r = client()
        .post(format!("{plain}/api/v1/graphql"))
        .header("content-type", "application/json")
        .header("accept-encoding", "gzip")
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(header(&r, "content-encoding"), None);
    assert_eq!(
        serde_json::from_slice::<Value>(&r.bytes().await.expect("body")).expect("JSON"),
        products()
    );

    // The WebSocket route still upgrades and streams through the compression layer.
    let ws_url = format!("{}/api/v1/graphql", base.replacen("http", "ws", 1));
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            ws_url.as_str(),
        )
        .expect("request");
    let headers = request.headers_mut();
    headers.insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    headers.insert("accept-encoding", "gzip, br".parse().unwrap());
    let (mut ws, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgrade");
    assert_eq!(response.headers().get("content-encoding"), None);
    ws.send(Message::text(
        json!({"type": "connection_init"}).to_string(),
    ))
    .await
    .unwrap();
    assert_eq!(ws_json(&mut ws).await, json!({"type": "connection_ack"}));
    ws.send(Message::text(
        json!({"id": "1", "type": "subscribe", "payload": {"operationName": "newProducts", "variables": {"after": 2}}})
            .to_string(),
    ))
    .await
    .unwrap();
    assert_eq!(
        ws_json(&mut ws).await,
        json!({"id": "1", "type": "next", "payload": {"data": {"products": [{"id": 3, "name": "Cherry"}]}}})
    );
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text message as JSON (pings skipped).
async fn ws_json(ws: &mut Ws) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message in time")
            .expect("socket open")
            .expect("message");
        match m {
            Message::Text(t) => return serde_json::from_str(t.as_str()).expect("JSON"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

async fn graphql(base: &str, accept: Option<&str>, body: &str, user: Option<&str>) -> Reply {
    let mut req = client()
        .post(format!("{base}/api/v1/graphql"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    if let Some(u) = user {
        req = req.header("x-test-user", u);
    }
    Reply::from(req.send().await.expect("request")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_response_json_media_type() {
    let base = server().await;
    let ok = r#"{"operationName":"getProducts"}"#;
    let accept = "application/graphql-response+json, application/json;q=0.9";

    // Success: 200 in the media type asked for.
    let r = graphql(&base, Some(accept), ok, None).await;
    assert_eq!((r.status, r.content_type.as_str()), (200, GQL));
    assert_eq!(r.json(), products());
    let r = graphql(&base, None, ok, None).await;
    assert_eq!(
        (r.status, r.content_type.as_str()),
        (200, "application/json")
    );
    let r = graphql(&base, Some("*/*"), ok, None).await;
    assert_eq!(
        (r.status, r.content_type.as_str()),
        (200, "application/json")
    );

    // A request error: 4xx, errors and no data.
    for (body, status, code) in [
        (r#"{"operationName":"nope"}"#, 400, "OPERATION_NOT_ALLOWED"),
        ("{not json", 400, "BAD_REQUEST"),
        (
            r#"{"operationName":"getProduct","variables":{"id":"x"}}"#,
            400,
            "BAD_USER_INPUT",
        ),
        (r#"{"operationName":"myProducts"}"#, 401, "UNAUTHENTICATED"),
    ] {
        let r = graphql(&base, Some(GQL), body, None).await;
        assert_eq!(
            (r.status, r.content_type.as_str()),
            (status, GQL),
            "{body}: {}",
            r.text
        );
        assert_eq!(r.error().1, code, "{body}");
        assert!(r.json().get("data").is_none(), "{}", r.text);
    }

    // GET follows the same negotiation (a mutation via GET is 405 under both).
    let r = Reply::from(
        client()
            .get(format!("{base}/api/v1/graphql"))
            .query(&[("operationName", "getProducts")])
            .header("accept", GQL)
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!((r.status, r.content_type.as_str()), (200, GQL));
    let r = Reply::from(
        client()
            .get(format!("{base}/api/v1/graphql"))
            .query(&[("operationName", "createProduct")])
            .header("accept", GQL)
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!((r.status, r.content_type.as_str()), (405, GQL));

    // An execution error (the write breaks a CHECK constraint): 200 with data null under
    // the new media type, 400 under application/json.
    let bad = r#"{"operationName":"createProduct","variables":{"name":"x","price":-1}}"#;
    let r = graphql(&base, Some(GQL), bad, Some("1")).await;
    assert_eq!(
        (r.status, r.content_type.as_str()),
        (200, GQL),
        "{}",
        r.text
    );
    assert_eq!(r.json()["data"], Value::Null);
    assert!(r.json().get("data").is_some());
    assert_eq!(r.error().1, "CONSTRAINT_VIOLATION");
    let r = graphql(&base, Some("application/json"), bad, Some("1")).await;
    assert_eq!(
        (r.status, r.content_type.as_str()),
        (400, "application/json")
    );
    assert!(r.json().get("data").is_none());

    // An Accept that allows neither: 406.
    for accept in ["text/html", "application/json;q=0, application/xml"] {
        let r = graphql(&base, Some(accept), ok, None).await;
        assert_eq!(r.status, 406, "{accept}");
        assert_eq!(r.error().1, "NOT_ACCEPTABLE");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveness_needs_no_database_readiness_does() {
    let pool = PoolOptions {
        max_size: 1,
        pipeline_depth: 1,
        health_timeout: Duration::from_millis(500),
        ..PoolOptions::default()
    };
    let (base, _db, name) = server_with("{}\n", pool).await;

    let live = get(&format!("{base}/health/live"), &[], None).await;
    assert_eq!(
        (live.status, live.text.as_str()),
        (200, r#"{"status":"ok"}"#)
    );
    let ready = get(&format!("{base}/health/ready"), &[], None).await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    let body = ready.json();
    assert_eq!(body["status"], "ready");
    assert_eq!(
        body["pool"],
        json!({"connections": 1, "in_flight": 0, "waiting": 0, "capacity": 1, "saturated": false, "stalled": 0})
    );

    // A saturated pool (its one call slot held by a request waiting on a lock) is ready.
    let (locker, conn) = tokio_postgres::connect(&pg().url(&name), tokio_postgres::NoTls)
        .await
        .expect("second connection");
    tokio::spawn(conn);
    locker
        .batch_execute("BEGIN; LOCK TABLE products IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let slow = tokio::spawn({
        let base = base.clone();
        async move {
            post_json(
                &format!("{base}/api/v1/graphql"),
                r#"{"operationName":"getProducts"}"#,
                None,
            )
            .await
        }
    });
    let mut saturated = Value::Null;
    for _ in 0..100 {
        // (A check that began just before the slot was taken waits for room and fails.)
        let r = get(&format!("{base}/health/ready"), &[], None).await;
        saturated = r.json();
        if r.status == 200 && saturated["pool"]["saturated"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(saturated["status"], "ready", "{saturated}");
    assert_eq!(saturated["pool"]["saturated"], true, "{saturated}");
    locker.batch_execute("COMMIT").await.expect("unlock");
    let done = slow.await.expect("request task");
    assert_eq!(done.status, 200, "{}", done.text);

    // The database goes away: readiness fails, liveness does not.
    drop(locker);
    pg().run_sql("postgres", &format!("DROP DATABASE {name} WITH (FORCE)"))
        .expect("drop");
    let ready = get(&format!("{base}/health/ready"), &[], None).await;
    assert_eq!(ready.status, 503, "{}", ready.text);
    assert_eq!(ready.json()["status"], "unavailable");
    let health = get(&format!("{base}/health"), &[], None).await;
    assert_eq!(
        (health.status, health.text.as_str()),
        (503, r#"{"status":"unavailable"}"#)
    );
    let live = get(&format!("{base}/health/live"), &[], None).await;
    assert_eq!(
        (live.status, live.text.as_str()),
        (200, r#"{"status":"ok"}"#)
    );
}

#[test]
fn listen_address_keys_and_environment() {
    let yaml = "host_port: 127.0.0.1:9000\nport: 9001\nshutdown_timeout: 3s\n";
    let config = Config::from_yaml(yaml, Path::new("dev.yml")).expect("config");
    assert_eq!(config.http.listen_addr().as_deref(), Some("127.0.0.1:9001"));
    assert_eq!(config.http.shutdown_deadline(), Duration::from_secs(3));
    let mut config = config;
    config
        .apply_env(|name| match name {
            "GJ_HOST_PORT" => Some("0.0.0.0:7000".to_owned()),
            "PORT" => Some("7001".to_owned()),
            _ => None,
        })
        .expect("env");
    assert_eq!(config.http.listen_addr().as_deref(), Some("0.0.0.0:7001"));
    let e = Config::from_yaml("host_port: 8080\n", Path::new("dev.yml")).unwrap_err();
    assert!(e.to_string().contains("host_port"), "{e}");
    let defaults = Config::from_yaml("{}\n", Path::new("dev.yml")).expect("config");
    assert!(defaults.http.http_compress);
    assert_eq!(defaults.http.listen_addr(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_until_finishes_requests_and_closes_sockets() {
    let name = fresh_database();
    let db = Db::connect(&pg().url(&name), operations(), small_pool())
        .await
        .expect("connect");
    let service = Service::new(db).shutdown_timeout(Duration::from_secs(10));
    let shutdown = service.shutdown_handle();
    let app = graphjin_runtime::router(service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(graphjin_runtime::http::serve_until(
        listener,
        app,
        shutdown,
        async move {
            let _ = stopped.await;
        },
    ));

    // An open subscription.
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            format!("ws://{addr}/api/v1/graphql").as_str(),
        )
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    ws.send(Message::text(
        json!({"type": "connection_init"}).to_string(),
    ))
    .await
    .unwrap();
    assert_eq!(ws_json(&mut ws).await, json!({"type": "connection_ack"}));

    // A running request, held by a lock.
    let (locker, conn) = tokio_postgres::connect(&pg().url(&name), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    locker
        .batch_execute("BEGIN; LOCK TABLE products IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let slow = tokio::spawn(async move {
        post_json(
            &format!("http://{addr}/api/v1/graphql"),
            r#"{"operationName":"getProducts"}"#,
            None,
        )
        .await
    });
    wait_for_lock_waiter(&locker).await;

    stop.send(()).unwrap();
    // The socket gets its close frame while the request still runs.
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => break frame,
            Ok(Some(Ok(_))) => continue,
            other => panic!("no close frame: {other:?}"),
        }
    };
    let frame = close.expect("a close frame with a code");
    assert_eq!(u16::from(frame.code), 1001);
    assert!(!slow.is_finished());
    assert!(!server.is_finished());

    locker.batch_execute("COMMIT").await.unwrap();
    let done = slow.await.unwrap();
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.json(), products());
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops")
        .unwrap()
        .expect("serve returns Ok");
}

/// Waits until some backend waits for a lock (the held request reached PostgreSQL).
async fn wait_for_lock_waiter(client: &tokio_postgres::Client) {
    for _ in 0..500 {
        let row = client
            .query_one("SELECT count(*) FROM pg_locks WHERE NOT granted", &[])
            .await
            .expect("pg_locks");
        if row.get::<_, i64>(0) > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no request waited for the lock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_until_gives_up_at_the_deadline() {
    let name = fresh_database();
    let db = Db::connect(&pg().url(&name), operations(), small_pool())
        .await
        .expect("connect");
    let service = Service::new(db).shutdown_timeout(Duration::from_millis(300));
    let shutdown = service.shutdown_handle();
    let app = graphjin_runtime::router(service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(graphjin_runtime::http::serve_until(
        listener,
        app,
        shutdown,
        async move {
            let _ = stopped.await;
        },
    ));
    let (locker, conn) = tokio_postgres::connect(&pg().url(&name), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    locker
        .batch_execute("BEGIN; LOCK TABLE products IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let _held = tokio::spawn(async move {
        post_json(
            &format!("http://{addr}/api/v1/graphql"),
            r#"{"operationName":"getProducts"}"#,
            None,
        )
        .await
    });
    wait_for_lock_waiter(&locker).await;
    stop.send(()).unwrap();
    // The request is still held when serve_until returns: it gave up waiting for it.
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve_until returns at its deadline")
        .unwrap()
        .expect("a stop past the deadline is still Ok");
    let waiting = locker
        .query_one("SELECT count(*) FROM pg_locks WHERE NOT granted", &[])
        .await
        .unwrap();
    assert_eq!(waiting.get::<_, i64>(0), 1, "the request was still running");
    locker.batch_execute("COMMIT").await.unwrap();
}
