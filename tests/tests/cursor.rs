//! Cursor pagination end to end: operations paged with `first`/`last` and `after`/`before:
//! $cursor`, compiled from an allow list, served by the real router on a real port against
//! a real PostgreSQL, called with reqwest. Pages follow each other in order until an empty
//! page, the cursors are sealed as GraphJin seals them (`__gj/enc:`), and a cursor that was
//! changed, cut short, sealed under another `secret_key` or made by another operation is a
//! 400 naming `cursor`. A subscription paged with `first: 1, after: $cursor` moves on by
//! one row per result, as a typed stream and over WebSocket (graphql-transport-ws).

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::StreamExt;
use graphjin_runtime::{Auth, Batch, Db, Service, SubsOptions, Subscriptions};
use serde_json::{Value, json};

const ALLOW_LIST: &str = r#"
query pageByPrice {
  products(first: 3, after: $cursor, order_by: { price: desc }) {
    id
    price
  }
  products_cursor
}

query pageByDescription {
  products(first: 4, after: $cursor, order_by: { description: asc }) {
    id
    description
  }
}

query pageBackwards {
  items: products(last: 5, before: $cursor) {
    id
  }
  items_cursor
}

query nestedPages {
  categories(order_by: { id: asc }) {
    id
    products(first: 2, after: $cursor, order_by: { price: asc }) {
      id
      price
    }
    products_cursor
  }
}

query plainProducts {
  products(limit: 2, order_by: { id: asc }) {
    id
  }
}

subscription watchProducts {
  products(first: 1, after: $cursor) {
    id
    name
  }
}
"#;

/// Ties: prices repeat every 7 ids; every fifth description is NULL.
const TIES: &str = "UPDATE products SET price = 5 + (id % 7), description = CASE WHEN id % 5 = 0 THEN NULL ELSE 'd' || (id % 3) END";

/// The rows in the order GraphJin's cursor pages them, read straight from PostgreSQL.
async fn expected(url: &str, order: &str) -> Vec<i64> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
        .query(&format!("SELECT id FROM products ORDER BY {order}"), &[])
        .await
        .expect("order")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

async fn exec(url: &str, sql: &str) {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client.batch_execute(sql).await.expect("sql");
}

/// A config folder with the allow list and `secret_key`; the database with ties.
fn config(secret: &str) -> std::path::PathBuf {
    graphjin_tests::shop_config(
        "cursor",
        ALLOW_LIST,
        &format!("secret_key: {secret}\ndefault_limit: 100\n"),
    )
}

struct Server {
    addr: SocketAddr,
    db: Db,
    client: reqwest::Client,
}

impl Server {
    /// Compiles `dir`, connects with the config's pool options (which carry `secret_key`)
    /// and the subscriptions' batch statements, and serves the router on a real port.
    async fn start(dir: &std::path::Path, url: &str) -> Server {
        let (_, ops) = graphjin_tests::compile_project(dir);
        let config = graphjin_runtime::Config::load(dir).expect("config");
        let batches: Vec<Batch> = ops
            .iter()
            .flat_map(|op| {
                op.roles.iter().filter_map(|(role, q)| {
                    Some(Batch {
                        operation: leak(&op.name),
                        role: leak(role),
                        sql: leak(q.batch_sql.as_ref()?),
                    })
                })
            })
            .collect();
        let db = Db::builder(url, graphjin_tests::leak_operations(&ops))
            .batches(Box::leak(batches.into_boxed_slice()))
            .options(config.pool_options())
            .connect()
            .await
            .expect("connect");
        // Subscriptions over WebSocket poll often, so the tests move along quickly.
        let subs = SubsOptions {
            poll_every: Duration::from_millis(20),
            ..SubsOptions::from_config(&config)
        };
        let app = graphjin_runtime::router(
            Service::from_config(db.clone(), &config)
                .expect("service")
                .subs_options(subs),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            graphjin_runtime::axum::serve(listener, app)
                .await
                .expect("serve")
        });
        Server {
            addr,
            db,
            client: reqwest::Client::new(),
        }
    }

    /// `POST /api/v1/graphql` by operation name: (status, body).
    async fn call(&self, name: &str, vars: Value) -> (u16, Value) {
        let res = self
            .client
            .post(format!("http://{}/api/v1/graphql", self.addr))
            .header("content-type", "application/json")
            .body(json!({ "operationName": name, "variables": vars }).to_string())
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        (status, serde_json::from_str(&text).expect("JSON body"))
    }

    /// Pages `name` through to its empty page: the ids in order and the pages' sizes.
    async fn page_all(
        &self,
        name: &str,
        field: &str,
        cursor_field: &str,
    ) -> (Vec<i64>, Vec<usize>) {
        let mut ids = Vec::new();
        let mut sizes = Vec::new();
        let mut cursor = Value::Null;
        for _ in 0..100 {
            let (status, body) = self.call(name, json!({ "cursor": cursor })).await;
            assert_eq!(status, 200, "{body}");
            let data = &body["data"];
            let page = data[field].as_array().expect("a page");
            sizes.push(page.len());
            if page.is_empty() {
                assert_eq!(
                    data[cursor_field],
                    Value::Null,
                    "an empty page has no cursor"
                );
                return (ids, sizes);
            }
            ids.extend(page.iter().map(|p| p["id"].as_i64().expect("id")));
            let next = data[cursor_field].as_str().expect("a cursor");
            assert!(next.starts_with("__gj/enc:"), "sealed: {next}");
            assert!(
                !next.contains("gj/0") && !next.contains('['),
                "nothing readable: {next}"
            );
            cursor = Value::String(next.to_owned());
        }
        panic!("no empty page after 100 pages");
    }
}

/// The generated types of `tests/fixtures/cursor`: `Data` has `products_cursor`,
/// `Variables` has `cursor`.
mod typed {
    graphjin_macros::include_allowlist!("fixtures/cursor");
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_owned().into_boxed_str())
}

#[tokio::test]
async fn pages_follow_each_other_in_order() {
    let url = graphjin_tests::shop_database("cursor_pages");
    exec(&url, TIES).await;
    let server = Server::start(&config("cursor-test-secret"), &url).await;

    // Non-unique price, descending; ties by id ascending (GraphJin's tie-breaker for `first`).
    let (ids, sizes) = server
        .page_all("pageByPrice", "products", "products_cursor")
        .await;
    assert_eq!(ids, expected(&url, "price DESC, id ASC").await);
    assert_eq!(
        sizes.len(),
        15,
        "14 pages of 3 (the last of 1), then an empty one: {sizes:?}"
    );
    assert!(sizes[..13].iter().all(|s| *s == 3) && sizes[13] == 1 && sizes[14] == 0);

    // A nullable column: NULLs last, ascending, through the expanded condition.
    let (ids, _) = server
        .page_all("pageByDescription", "products", "products_cursor")
        .await;
    assert_eq!(
        ids,
        expected(&url, "description ASC NULLS LAST, id ASC").await
    );

    // `last` with `before`: the primary key descending, aliased field and cursor.
    let (ids, _) = server
        .page_all("pageBackwards", "items", "items_cursor")
        .await;
    assert_eq!(ids, expected(&url, "id DESC").await);
}

#[tokio::test]
async fn nested_selections_have_their_own_cursor() {
    let url = graphjin_tests::shop_database("cursor_nested");
    exec(&url, TIES).await;
    let server = Server::start(&config("cursor-test-secret"), &url).await;
    let (status, body) = server.call("nestedPages", json!({})).await;
    assert_eq!(status, 200, "{body}");
    let categories = body["data"]["categories"].as_array().expect("categories");
    assert_eq!(categories.len(), 4);
    for c in categories {
        assert_eq!(c["products"].as_array().map(Vec::len), Some(2), "{c}");
        assert!(
            c["products_cursor"]
                .as_str()
                .is_some_and(|s| s.starts_with("__gj/enc:")),
            "{c}"
        );
    }
    // The first category's cursor continues its own products; other categories start over
    // (one `$cursor` for every nested page, as in GraphJin).
    let cursor = categories[0]["products_cursor"].clone();
    let (status, next) = server
        .call("nestedPages", json!({ "cursor": cursor }))
        .await;
    assert_eq!(status, 200, "{next}");
    let first_page: Vec<i64> = categories[0]["products"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["id"].as_i64())
        .collect();
    let second_page: Vec<i64> = next["data"]["categories"][0]["products"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["id"].as_i64())
        .collect();
    assert_eq!(second_page.len(), 2);
    assert!(second_page.iter().all(|id| !first_page.contains(id)));
}

#[tokio::test]
async fn bad_cursors_are_400s_naming_cursor() {
    let url = graphjin_tests::shop_database("cursor_bad");
    let server = Server::start(&config("cursor-test-secret"), &url).await;
    let (_, body) = server.call("pageByPrice", json!({})).await;
    let good = body["data"]["products_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();

    // Changed in its last character, cut short, not a cursor at all.
    let mut flipped = good.clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).expect("ascii");
    // Another operation's cursor (same key, other marker).
    let (_, other) = server.call("pageBackwards", json!({})).await;
    let foreign = other["data"]["items_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    // The same page sealed by a server with another secret_key.
    let other_server = Server::start(&config("another-secret"), &url).await;
    let (_, body) = other_server.call("pageByPrice", json!({})).await;
    let other_key = body["data"]["products_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    assert_ne!(other_key, good, "another key seals differently");

    for bad in [
        flipped,
        good[..good.len() - 6].to_owned(),
        "__gj/enc:".to_owned(),
        "gj/0123456789abcdef:[1]".to_owned(),
        foreign,
        other_key,
    ] {
        let (status, body) = server.call("pageByPrice", json!({ "cursor": bad })).await;
        assert_eq!(status, 400, "{bad}: {body}");
        let error = &body["errors"][0];
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains("\"cursor\""), "{message}");
        assert!(!message.contains("SELECT"), "no SQL: {message}");
    }
    // The good one still works, and a cursor of the wrong JSON type is a 400 too.
    let (status, _) = server.call("pageByPrice", json!({ "cursor": good })).await;
    assert_eq!(status, 200);
    let (status, _) = server.call("pageByPrice", json!({ "cursor": 5 })).await;
    assert_eq!(status, 400);
    // Operations without cursors pass PostgreSQL's bytes through untouched (its own
    // `json` spacing shows they were not re-serialized).
    let res = server
        .client
        .post(format!("http://{}/api/v1/graphql", server.addr))
        .header("content-type", "application/json")
        .body(r#"{"operationName":"plainProducts"}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(
        res.text().await.expect("body"),
        r#"{"data":{"products" : [{"id" : 1}, {"id" : 2}]}}"#
    );
}

#[tokio::test]
async fn subscription_moves_on_row_by_row() {
    let url = graphjin_tests::shop_database("cursor_subs");
    let dir = config("cursor-test-secret");
    let server = Server::start(&dir, &url).await;
    let subs = Subscriptions::new(
        server.db.clone(),
        SubsOptions {
            poll_every: Duration::from_millis(20),
            ..SubsOptions::default()
        },
    );
    let op = server.db.operation("watchProducts").expect("op");
    let mut stream = subs.subscribe_raw(op, &Auth::anon(), Some(&json!({ "cursor": null })));
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let item = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("a result in time")
            .expect("stream open")
            .expect("a result");
        let data: Value = serde_json::from_slice(&item).expect("JSON");
        let page = data["products"].as_array().expect("page");
        assert_eq!(page.len(), 1, "{data}");
        assert!(
            data["products_cursor"]
                .as_str()
                .is_some_and(|c| c.starts_with("__gj/enc:")),
            "{data}"
        );
        seen.push(page[0]["id"].as_i64().expect("id"));
    }
    assert_eq!(seen, vec![1, 2, 3, 4, 5]);

    // Started from a cursor a query returned: it continues after that row.
    let (_, body) = server.call("pageByPrice", json!({})).await;
    assert_eq!(body["data"]["products"][0]["id"], 40);
    let mut from_cursor = subs.subscribe_raw(
        op,
        &Auth::anon(),
        Some(&json!({ "cursor": body["data"]["products_cursor"] })),
    );
    let item = tokio::time::timeout(Duration::from_secs(10), from_cursor.next())
        .await
        .expect("a result in time")
        .expect("stream open");
    // A cursor of another operation is refused, as over HTTP.
    let err = item.expect_err("pageByPrice's cursor does not fit watchProducts");
    assert!(err.to_string().contains("\"cursor\""), "{err}");
}

#[tokio::test]
async fn generated_types_carry_the_cursor() {
    let url = graphjin_tests::shop_database("cursor_typed");
    exec(&url, TIES).await;
    let dir = graphjin_tests::workspace_root().join("tests/fixtures/cursor");
    let config = graphjin_runtime::Config::load(&dir).expect("config");
    let db = typed::connect(&url, config.pool_options())
        .await
        .expect("connect");
    let mut vars = typed::page_by_price::Variables::default();
    let mut ids = Vec::new();
    loop {
        let data: typed::page_by_price::Data = typed::page_by_price::run(&db, &Auth::anon(), &vars)
            .await
            .expect("run");
        // The field's type is the point: an optional string beside `products`.
        let cursor: Option<String> = data.products_cursor;
        if data.products.is_empty() {
            assert_eq!(cursor, None);
            break;
        }
        ids.extend(data.products.iter().map(|p| p.id));
        assert!(
            cursor
                .as_deref()
                .is_some_and(|c| c.starts_with("__gj/enc:"))
        );
        vars.cursor = cursor;
    }
    assert_eq!(ids, expected(&url, "price DESC, id ASC").await);
}

#[test]
fn misuse_is_a_located_build_error() {
    for (op, wanted) in [
        (
            "query a {\n  products(first: 3, after: $page) { id }\n}\n",
            "allow.list:2:29: `after`/`before` take the variable `$cursor`",
        ),
        (
            "query b {\n  products(limit: 3) { id }\n  products_cursor\n}\n",
            "allow.list:3:3: `products_cursor` needs `products` paged with `first`",
        ),
        (
            "query c {\n  products(first: 3, last: 3) { id }\n}\n",
            "allow.list:2:22: give `first` or `last`, not both",
        ),
        (
            "query d {\n  products(first: 3, distinct: [price]) { id }\n}\n",
            "allow.list:2:12: cursor pagination does not combine with `distinct`",
        ),
    ] {
        let dir = graphjin_tests::shop_config("cursor-misuse", op, "");
        let project = graphjin_codegen::Project::load(&dir).expect("config loads");
        let errors = project.compile().expect_err(op);
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(text.iter().any(|e| e.starts_with(wanted)), "{op}: {text:?}");
    }
}

#[tokio::test]
async fn websocket_subscription_moves_on() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let url = graphjin_tests::shop_database("cursor_ws");
    let server = Server::start(&config("cursor-test-secret"), &url).await;
    let mut request = format!("ws://{}/api/v1/graphql", server.addr)
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket");
    let send = |v: Value| Message::Text(v.to_string().into());
    ws.send(send(json!({ "type": "connection_init" })))
        .await
        .expect("init");
    let mut ids = Vec::new();
    let mut acked = false;
    ws.send(send(json!({
        "id": "1",
        "type": "subscribe",
        "payload": { "operationName": "watchProducts", "variables": { "cursor": null } }
    })))
    .await
    .expect("subscribe");
    while ids.len() < 4 {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message in time")
            .expect("open")
            .expect("a frame");
        let Message::Text(text) = msg else { continue };
        let v: Value = serde_json::from_str(&text).expect("JSON message");
        match v["type"].as_str() {
            Some("connection_ack") => acked = true,
            Some("next") => {
                let data = &v["payload"]["data"];
                assert!(
                    data["products_cursor"]
                        .as_str()
                        .is_some_and(|c| c.starts_with("__gj/enc:")),
                    "{v}"
                );
                ids.push(data["products"][0]["id"].as_i64().expect("id"));
            }
            Some("ping") => {}
            _ => panic!("unexpected message {v}"),
        }
    }
    assert!(acked);
    assert_eq!(ids, vec![1, 2, 3, 4]);
}

#[test]
fn secret_key_from_the_file_or_gj_secret_key() {
    let dir = config("from-the-file");
    let mut config = graphjin_runtime::Config::load(&dir).expect("config");
    let from_file = config.pool_options().cursor_key;
    assert_eq!(
        from_file,
        Some(graphjin_runtime::CursorKey::from_secret("from-the-file"))
    );
    assert!(!format!("{config:?}").contains("from-the-file"), "redacted");
    config
        .apply_env(|name| (name == "GJ_SECRET_KEY").then(|| "from-the-env".to_owned()))
        .expect("env");
    assert_eq!(
        config.pool_options().cursor_key,
        Some(graphjin_runtime::CursorKey::from_secret("from-the-env"))
    );
    assert!(!format!("{:?}", config.pool_options()).contains("from-the-env"));
}
