//! Shared by the subscription tests: a throwaway PostgreSQL with a small stock table, a
//! hand-written operation table and batch table in the shape the compiler emits, a real
//! server on 127.0.0.1, and a WebSocket client (tokio-tungstenite).

#![allow(dead_code)] // each test binary uses part of this

use graphjin_runtime::validate::{Constraint, Rule};
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use graphjin_runtime::{
    Batch, Config, Db, OpKind, Operation, Param, PoolOptions, RoleStatement, Service, Subscriptions,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const SCHEMA: &str = r#"
CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);
CREATE TABLE products (
    id bigint PRIMARY KEY,
    name text NOT NULL,
    stock integer NOT NULL,
    owner_id bigint REFERENCES users (id)
);
INSERT INTO users VALUES (1, 'alice@example.com'), (2, 'bob@example.com');
INSERT INTO products VALUES (1, 'Apple', 10, 1), (2, 'Banana', 20, 1), (3, 'Cherry', 30, 2);
"#;

pub const SECRET: &str = "subs-test-secret-0123456789abcdef";

pub const WATCH_STOCK: &str = "subscription watchStock($id: ID!) {
  products(id: $id) { id stock }
}";
pub const MY_STOCK: &str = "subscription myStock {
  products(where: { owner_id: { eq: $user_id } }) { id stock }
}";
pub const GET_STOCK: &str = "query getStock($id: ID!) {
  products(id: $id) { id stock }
}";

const WATCH_SQL: &str = r#"SELECT json_build_object('products', (SELECT json_build_object('id', t0."id", 'stock', t0."stock") AS "json" FROM "products" AS t0 WHERE t0."id" = $1::bigint LIMIT 1)) AS "__root""#;
const WATCH_BATCH: &str = r#"SELECT __b."__sub" AS "sub", json_build_object('products', (SELECT json_build_object('id', t0."id", 'stock', t0."stock") AS "json" FROM "products" AS t0 WHERE t0."id" = __b."p1"::bigint LIMIT 1)) AS "__root" FROM unnest($1::text[], $2::text[]) AS __b("__sub", "p1")"#;
const MINE_SQL: &str = r#"SELECT json_build_object('products', (SELECT coalesce(json_agg(__sj."json"), '[]') FROM (SELECT json_build_object('id', t0."id", 'stock', t0."stock") AS "json" FROM "products" AS t0 WHERE t0."owner_id" = $1::bigint ORDER BY t0."id") AS __sj)) AS "__root""#;
const MINE_BATCH: &str = r#"SELECT __b."__sub" AS "sub", json_build_object('products', (SELECT coalesce(json_agg(__sj."json"), '[]') FROM (SELECT json_build_object('id', t0."id", 'stock', t0."stock") AS "json" FROM "products" AS t0 WHERE t0."owner_id" = __b."p1"::bigint ORDER BY t0."id") AS __sj)) AS "__root" FROM unnest($1::text[], $2::text[]) AS __b("__sub", "p1")"#;

const ID: &[Param] = &[Param {
    name: "id",
    pg_type: "bigint",
    builtin: false,
    default: None,
}];
const USER_ID: &[Param] = &[Param {
    name: "user_id",
    pg_type: "bigint",
    builtin: true,
    default: None,
}];

/// The batch statements (what the build emits as `BATCHES`).
pub static BATCHES: &[Batch] = &[
    Batch {
        operation: "watchStock",
        role: "anon",
        sql: WATCH_BATCH,
    },
    Batch {
        operation: "watchStock",
        role: "user",
        sql: WATCH_BATCH,
    },
    Batch {
        operation: "myStock",
        role: "user",
        sql: MINE_BATCH,
    },
];

pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn op(name: &'static str, kind: OpKind, text: &str, roles: &'static [RoleStatement]) -> Operation {
    let query: &'static str = Box::leak(graphjin_normalize::normalize(text).into_boxed_str());
    Operation {
        name,
        kind,
        query,
        sha256: Box::leak(sha256_hex(query).into_boxed_str()),
        roles,
        constraints: &[],
    }
}

const WATCH_ROLES: &[RoleStatement] = &[
    RoleStatement {
        role: "anon",
        sql: WATCH_SQL,
        params: ID,
    },
    RoleStatement {
        role: "user",
        sql: WATCH_SQL,
        params: ID,
    },
];

/// The operation table (what the build emits as `OPERATIONS`).
pub fn operations() -> &'static [Operation] {
    static OPS: OnceLock<&'static [Operation]> = OnceLock::new();
    OPS.get_or_init(|| {
        let ops = vec![
            // `$id: ID!`: the build emits a non-null rule for it.
            Operation {
                constraints: &[Constraint {
                    variable: "id",
                    rule: Rule::NotNull,
                }],
                ..op("watchStock", OpKind::Subscription, WATCH_STOCK, WATCH_ROLES)
            },
            op(
                "myStock",
                OpKind::Subscription,
                MY_STOCK,
                &[RoleStatement {
                    role: "user",
                    sql: MINE_SQL,
                    params: USER_ID,
                }],
            ),
            op("getStock", OpKind::Query, GET_STOCK, WATCH_ROLES),
        ];
        Box::leak(ops.into_boxed_slice())
    })
}

pub fn op_named(name: &str) -> &'static Operation {
    operations()
        .iter()
        .find(|o| o.name == name)
        .expect("operation in the test table")
}

pub fn pg() -> &'static graphjin_pg_tmp::TempPostgres {
    graphjin_pg_tmp::shared().expect("start the throwaway PostgreSQL")
}

/// A fresh database with the schema and data; returns its name.
pub fn fresh_database() -> String {
    static TEMPLATE: OnceLock<()> = OnceLock::new();
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let pg = pg();
    TEMPLATE.get_or_init(|| {
        pg.create_database("subs_template", None)
            .expect("create template");
        pg.run_sql("subs_template", SCHEMA).expect("load schema");
    });
    let name = format!("subs_{}", COUNTER.fetch_add(1, Ordering::Relaxed));
    pg.create_database(&name, Some("subs_template"))
        .expect("create database");
    name
}

/// A connected executor with the batch statements on database `name`.
pub async fn db_on(name: &str) -> Db {
    Db::builder(&pg().url(name), operations())
        .batches(BATCHES)
        .options(PoolOptions {
            max_size: 4,
            wait_timeout: Some(Duration::from_secs(2)),
            connect_timeout: Some(Duration::from_secs(2)),
            ..PoolOptions::default()
        })
        .connect()
        .await
        .expect("connect")
}

/// Runs `sql` in database `name` over a fresh connection (not through the server).
pub async fn sql(name: &str, sql: &str) {
    let (client, conn) = tokio_postgres::connect(&pg().url(name), tokio_postgres::NoTls)
        .await
        .expect("connect for sql");
    let task = tokio::spawn(conn);
    client.batch_execute(sql).await.expect("run sql");
    drop(client);
    let _ = task.await;
}

/// The config used by most tests: HS256 JWT from `Authorization` or cookie `_jwt`, dev
/// headers and creds in vars allowed, `auth_fail_block`, polls every 100 ms.
pub const DEV_CONFIG: &str = r#"
auth_fail_block: true
poll_every_seconds: 0.1
auth:
  type: jwt
  cookie: _jwt
  creds_in_header: true
  subs_creds_in_vars: true
  jwt:
    secret: "subs-test-secret-0123456789abcdef"
"#;

pub fn config(yaml: &str) -> Config {
    Config::from_yaml(yaml, Path::new("dev.yml")).expect("config parses")
}

/// A running server.
pub struct Server {
    /// `ws://127.0.0.1:PORT/api/v1/graphql`.
    pub ws_url: String,
    /// `http://127.0.0.1:PORT`.
    pub http: String,
    /// The database's name.
    pub database: String,
    /// The service's subscription registry.
    pub subs: Subscriptions,
}

/// Serves a fresh database with `yaml` as the config.
pub async fn server(yaml: &str) -> Server {
    let database = fresh_database();
    let service = Service::from_config(db_on(&database).await, &config(yaml)).expect("service");
    serve(service, database).await
}

pub async fn serve(service: Service, database: String) -> Server {
    let subs = service.subscriptions().clone();
    let app = graphjin_runtime::router(service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    Server {
        ws_url: format!("ws://{addr}/api/v1/graphql"),
        http: format!("http://{addr}"),
        database,
        subs,
    }
}

pub fn hs256(secret: &str, sub: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": sub, "exp": 4_070_908_800u64}),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

/// How a test waits for a message that must come.
pub const WAIT: Duration = Duration::from_secs(10);

/// A WebSocket client speaking JSON messages.
pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What the server did next.
#[derive(Debug, PartialEq)]
pub enum Got {
    Json(Value),
    Closed(u16, String),
    Silence,
}

impl Client {
    /// Connects with subprotocol `protocol` (none when `None`).
    pub async fn connect(url: &str, protocol: Option<&str>) -> Client {
        let mut request = url.into_client_request().expect("request");
        if let Some(p) = protocol {
            request.headers_mut().insert(
                "sec-websocket-protocol",
                HeaderValue::from_str(p).expect("header"),
            );
        }
        let (ws, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket connect");
        if let Some(p) = protocol {
            assert_eq!(
                response
                    .headers()
                    .get("sec-websocket-protocol")
                    .and_then(|v| v.to_str().ok()),
                Some(p)
            );
        }
        Client { ws }
    }

    /// Connects with `graphql-transport-ws` and completes `connection_init` with `payload`.
    pub async fn init(url: &str, payload: Value) -> Client {
        let mut c = Client::connect(url, Some("graphql-transport-ws")).await;
        c.send(json!({"type": "connection_init", "payload": payload}))
            .await;
        assert_eq!(c.next().await, json!({"type": "connection_ack"}));
        c
    }

    pub async fn send(&mut self, message: Value) {
        self.send_text(&message.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::text(text.to_owned()))
            .await
            .expect("send");
    }

    /// Sends, telling whether the socket took it (the server may have closed it).
    pub async fn try_send_text(&mut self, text: &str) -> bool {
        self.ws.send(Message::text(text.to_owned())).await.is_ok()
    }

    /// Sends a frame, telling whether the socket took it.
    pub async fn try_send_raw(&mut self, message: Message) -> bool {
        self.ws.send(message).await.is_ok()
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.ws.send(message).await.expect("send");
    }

    /// The next message, close or silence within `wait` (pings are answered and skipped).
    pub async fn within(&mut self, wait: Duration) -> Got {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let frame = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return Got::Silence,
                Ok(frame) => frame,
            };
            match frame {
                Some(Ok(Message::Text(t))) => {
                    return Got::Json(serde_json::from_str(t.as_str()).expect("JSON message"));
                }
                Some(Ok(Message::Close(frame))) => {
                    return match frame {
                        Some(f) => Got::Closed(u16::from(f.code), f.reason.as_str().to_owned()),
                        None => Got::Closed(1005, String::new()),
                    };
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Got::Closed(0, format!("error: {e}")),
                None => return Got::Closed(0, "stream ended".to_owned()),
            }
        }
    }

    /// The next JSON message (panics on close or timeout).
    pub async fn next(&mut self) -> Value {
        match self.within(WAIT).await {
            Got::Json(v) => v,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// The close code and reason the server sends next (panics on a message).
    pub async fn closed(&mut self) -> (u16, String) {
        match self.within(WAIT).await {
            Got::Closed(code, reason) => (code, reason),
            other => panic!("expected the socket to close, got {other:?}"),
        }
    }

    /// Asserts nothing arrives for `wait`.
    pub async fn quiet(&mut self, wait: Duration) {
        let got = self.within(wait).await;
        assert_eq!(got, Got::Silence, "expected no message");
    }

    /// Subscribes with `payload` as id `id`.
    pub async fn subscribe(&mut self, id: &str, payload: Value) {
        self.send(json!({"id": id, "type": "subscribe", "payload": payload}))
            .await;
    }

    pub async fn complete(&mut self, id: &str) {
        self.send(json!({"id": id, "type": "complete"})).await;
    }
}

/// `{"id": id, "type": "next", "payload": {"data": data}}`.
pub fn next_msg(id: &str, data: Value) -> Value {
    json!({"id": id, "type": "next", "payload": {"data": data}})
}

/// The message and code of an `error` message for `id`.
pub fn error_of(message: &Value, id: &str) -> (String, String) {
    assert_eq!(message["type"], "error", "{message}");
    assert_eq!(message["id"], id, "{message}");
    let e = &message["payload"][0];
    (
        e["message"].as_str().unwrap_or_default().to_owned(),
        e["extensions"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// Waits (up to 10 s) until `check` holds.
pub async fn eventually(check: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met in time"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
