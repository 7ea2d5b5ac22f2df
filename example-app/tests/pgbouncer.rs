//! The real example-app binary behind a real PgBouncer (`/usr/sbin/pgbouncer`, the Debian
//! package) in `pool_mode = transaction`, with fewer server connections than the app opens,
//! so consecutive transactions of one app connection run on different server connections.
//!
//! - `statement_mode: unnamed`: every example operation (queries, signed-in queries,
//!   mutations, the SQL action, the subscription) works over HTTP under 32 concurrent
//!   clients, each read answering exactly what the same app connected directly answers.
//! - `statement_mode: prepared` (the default) behind the same PgBouncer: prepared
//!   statements go missing (SQLSTATE 26000); a call that meets one answers 503 with a
//!   message naming `statement_mode`, never a 500 and never a wrong answer.

mod support;

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use support::{Running, Ws, config_dir, free_port, graphql_ws, shop_database, start_app};

/// Concurrent HTTP clients.
const CLIENTS: usize = 32;
/// Server connections PgBouncer keeps per database and user: fewer than the app's pool.
const SERVER_POOL: usize = 3;

/// A PgBouncer process, killed (and its folder removed) on drop.
struct Bouncer {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Bouncer {
    /// PgBouncer in transaction pooling mode on a free port, in front of the throwaway
    /// cluster (`pg_port`), trusting user `postgres` as the cluster does.
    fn start(name: &str, pg_port: u16) -> Bouncer {
        let dir = support::workspace_root()
            .join("target/tmp")
            .join(format!("pgbouncer-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("pgbouncer dir");
        let port = free_port();
        std::fs::write(dir.join("users.txt"), "\"postgres\" \"\"\n").expect("auth file");
        let ini = format!(
            "[databases]\n\
             * = host=127.0.0.1 port={pg_port}\n\
             [pgbouncer]\n\
             listen_addr = 127.0.0.1\n\
             listen_port = {port}\n\
             unix_socket_dir =\n\
             auth_type = trust\n\
             auth_file = {auth}\n\
             pool_mode = transaction\n\
             default_pool_size = {SERVER_POOL}\n\
             max_client_conn = 500\n\
             server_reset_query =\n\
             ignore_startup_parameters = extra_float_digits\n",
            auth = dir.join("users.txt").display(),
        );
        let ini_path = dir.join("pgbouncer.ini");
        std::fs::write(&ini_path, ini).expect("pgbouncer.ini");
        let mut cmd = Command::new("/usr/sbin/pgbouncer");
        // PgBouncer refuses to run as root; it drops to `postgres` (the postgresql
        // package's user, which the throwaway clusters run as too).
        if is_root() {
            cmd.args(["-u", "postgres"]);
        }
        let child = cmd
            .arg(&ini_path)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run /usr/sbin/pgbouncer (Debian package pgbouncer)");
        let mut bouncer = Bouncer { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = bouncer.child.try_wait() {
                let mut err = String::new();
                if let Some(mut stderr) = bouncer.child.stderr.take() {
                    let _ = stderr.read_to_string(&mut err);
                }
                panic!("pgbouncer exited with {status}: {err}");
            }
            assert!(
                Instant::now() < deadline,
                "pgbouncer did not listen in 10 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        bouncer
    }

    /// The URL of database `dbname` through PgBouncer.
    fn url(&self, dbname: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{dbname}", self.port)
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|v| v.split_whitespace().next() == Some("0"))
        })
        .unwrap_or(false)
}

/// A config folder like the example's, with `statement_mode` set under `database:` and
/// quick subscription polls.
fn config_with_mode(name: &str, mode: &str) -> PathBuf {
    let dir = config_dir(name, "poll_every_seconds: 0.2");
    let dev = dir.join("dev.yml");
    let text = std::fs::read_to_string(&dev).expect("dev.yml");
    assert!(
        text.contains("\n  pool_size: 10\n"),
        "dev.yml changed shape"
    );
    let text = text.replace(
        "\n  pool_size: 10\n",
        &format!("\n  pool_size: 10\n  statement_mode: {mode}\n"),
    );
    std::fs::write(&dev, text).expect("write dev.yml");
    dir
}

/// A token as the example's config expects (HS256, demo secret, `sub` = customer id).
fn token(customer: i64) -> String {
    let claims = json!({ "sub": customer.to_string(), "exp": 4_070_908_800u64 });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"webshop-demo-secret-change-me-0123456789"),
    )
    .expect("sign")
}

/// One read: an operation, its variables, and the customer it is signed in as.
#[derive(Clone)]
struct Read {
    operation: &'static str,
    variables: Value,
    customer: Option<i64>,
}

/// Every query of the example (myOrders signed in as well as anonymous).
fn reads() -> Vec<Read> {
    let read = |operation, variables, customer| Read {
        operation,
        variables,
        customer,
    };
    vec![
        read("listProducts", json!({"limit": 5, "offset": 2}), None),
        read("getProduct", json!({"id": 3}), None),
        read("searchProducts", json!({"pattern": "%mug 1%"}), None),
        read("productsByCategory", json!({"slug": "tea"}), None),
        read("affordableProducts", json!({"max_price": 12}), None),
        read(
            "productsWithTags",
            json!({"tags": ["organic", "sale"]}),
            None,
        ),
        read("catalogueStats", json!({}), None),
        read("topReviews", json!({}), None),
        read("customerOrders", json!({"customer_id": 5}), None),
        read("myOrders", json!({}), None),
        read("myOrders", json!({}), Some(2)),
        read("orderProducts", json!({"id": 2}), None),
        read("categoryCounts", json!({}), None),
    ]
}

/// An HTTP answer: status and JSON body.
async fn post(
    client: &reqwest::Client,
    addr: &str,
    path: &str,
    body: &Value,
    headers: &[(&str, String)],
) -> (u16, Value) {
    let mut req = client
        .post(format!("http://{addr}{path}"))
        .header("content-type", "application/json")
        .timeout(Duration::from_secs(20))
        .body(body.to_string());
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let bytes = res.bytes().await.expect("body");
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| json!({"raw": String::from_utf8_lossy(&bytes)}));
    (status, v)
}

/// Runs `read` over GraphQL-over-HTTP.
async fn call(client: &reqwest::Client, addr: &str, read: &Read) -> (u16, Value) {
    let body = json!({"operationName": read.operation, "variables": read.variables});
    let headers: Vec<(&str, String)> = read
        .customer
        .map(|c| ("authorization", format!("Bearer {}", token(c))))
        .into_iter()
        .collect();
    post(client, addr, "/api/v1/graphql", &body, &headers).await
}

/// Each read's answer from the app connected directly to PostgreSQL.
async fn oracle(addr: &str) -> Vec<Value> {
    let client = reqwest::Client::new();
    let mut answers = Vec::new();
    for read in reads() {
        let (status, v) = call(&client, addr, &read).await;
        assert_eq!(status, 200, "direct {}: {v}", read.operation);
        assert!(v.get("errors").is_none(), "direct {}: {v}", read.operation);
        answers.push(v);
    }
    answers
}

/// What the concurrent reads saw: counts by status, and the first unexpected answers.
#[derive(Default, Debug)]
struct Outcome {
    by_status: HashMap<u16, usize>,
    wrong: Vec<String>,
    unavailable_messages: Vec<String>,
}

/// `CLIENTS` tasks, each running every read `rounds` times (starting at a different
/// one), every answer compared with `expected`.
async fn hammer(addr: &str, expected: Arc<Vec<Value>>, rounds: usize) -> Outcome {
    let reads = Arc::new(reads());
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let addr = addr.to_owned();
            let (reads, expected) = (reads.clone(), expected.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut out = Outcome::default();
                for n in 0..rounds * reads.len() {
                    let k = (i + n) % reads.len();
                    let (status, v) = call(&client, &addr, &reads[k]).await;
                    *out.by_status.entry(status).or_default() += 1;
                    match status {
                        200 if v == expected[k] => {}
                        503 => out.unavailable_messages.push(
                            v["errors"][0]["message"]
                                .as_str()
                                .unwrap_or_default()
                                .to_owned(),
                        ),
                        _ => out.wrong.push(format!(
                            "{} ({status}): {v}, expected {}",
                            reads[k].operation, expected[k]
                        )),
                    }
                }
                out
            })
        })
        .collect();
    let mut all = Outcome::default();
    for task in tasks {
        let out = tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("the clients finish within 60 s")
            .expect("client task");
        for (status, n) in out.by_status {
            *all.by_status.entry(status).or_default() += n;
        }
        all.wrong.extend(out.wrong);
        all.unavailable_messages.extend(out.unavailable_messages);
    }
    all
}

/// The app twice on one shop database: directly (`prepared`, the oracle) and behind a
/// fresh PgBouncer with `mode`.
struct Setup {
    _direct: Running,
    _behind: Running,
    bouncer: Bouncer,
    direct_addr: String,
    addr: String,
    dbname: String,
}

async fn setup(name: &str, mode: &str) -> Setup {
    let url = shop_database(name);
    let dbname = url.rsplit('/').next().expect("db name").to_owned();
    let pg = graphjin_pg_tmp::shared().expect("throwaway PostgreSQL");
    let bouncer = Bouncer::start(name, pg.port());
    let direct_addr = format!("127.0.0.1:{}", free_port());
    let direct = start_app(
        &url,
        &direct_addr,
        &config_dir(&format!("{name}-direct"), ""),
    )
    .await;
    let addr = format!("127.0.0.1:{}", free_port());
    let behind = start_app(
        &bouncer.url(&dbname),
        &addr,
        &config_with_mode(&format!("{name}-{mode}"), mode),
    )
    .await;
    Setup {
        _direct: direct,
        _behind: behind,
        bouncer,
        direct_addr,
        addr,
        dbname,
    }
}

/// The next text message as JSON (pings skipped), within 10 s.
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

/// A signed-in customer's writes: a review created, edited and deleted, and an order.
async fn writes(client: &reqwest::Client, addr: &str, customer: i64) -> Result<(), String> {
    let auth = [("authorization", format!("Bearer {}", token(customer)))];
    let gql = |operation: &str, variables: Value| json!({"operationName": operation, "variables": variables});
    let body = format!("pgbouncer {customer}");
    let (status, v) = post(
        client,
        addr,
        "/api/v1/graphql",
        &gql(
            "createReview",
            json!({"data": {"product_id": 1 + customer % 40, "rating": 4, "body": body}}),
        ),
        &auth,
    )
    .await;
    let review = &v["data"]["reviews"][0];
    if status != 200 || review["body"] != json!(body) {
        return Err(format!("createReview: {status} {v}"));
    }
    let id = review["id"].clone();
    let (status, v) = post(
        client,
        addr,
        "/api/v1/graphql",
        &gql("updateReview", json!({"id": id, "body": "edited"})),
        &auth,
    )
    .await;
    if status != 200 || v["data"]["reviews"]["body"] != "edited" {
        return Err(format!("updateReview: {status} {v}"));
    }
    let (status, v) = post(
        client,
        addr,
        "/api/v1/graphql",
        &gql("deleteReview", json!({"id": id})),
        &auth,
    )
    .await;
    if status != 200 || v["data"]["reviews"]["id"] != id {
        return Err(format!("deleteReview: {status} {v}"));
    }
    let order = json!({"data": {"status": "pending", "order_items": [
        {"product_id": 1, "quantity": 2, "unit_price": 9.99},
        {"product_id": 2, "quantity": 1, "unit_price": 4.5}
    ]}});
    let (status, v) = post(
        client,
        addr,
        "/api/v1/graphql",
        &gql("placeOrder", order),
        &auth,
    )
    .await;
    let items = &v["data"]["orders"][0]["order_items"];
    if status != 200 || items.as_array().map(Vec::len) != Some(2) {
        return Err(format!("placeOrder: {status} {v}"));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unnamed_mode_serves_every_operation_through_transaction_pooling() {
    let s = setup("pgb_unnamed", "unnamed").await;
    let expected = Arc::new(oracle(&s.direct_addr).await);

    // Every query, 32 clients at once, each answer exactly the direct app's.
    let out = hammer(&s.addr, expected, 2).await;
    println!(
        "unnamed behind PgBouncer (transaction): {:?}",
        out.by_status
    );
    assert!(out.wrong.is_empty(), "wrong answers: {:#?}", &out.wrong);
    assert_eq!(
        out.by_status.keys().copied().collect::<Vec<_>>(),
        [200],
        "{out:?}"
    );

    // The subscription: its first result, then the change a SQL action makes.
    let pg = graphjin_pg_tmp::shared().expect("throwaway PostgreSQL");
    let low = pg
        .run_sql(
            &s.dbname,
            "SELECT id FROM products WHERE stock < 5 ORDER BY id LIMIT 1",
        )
        .expect("a product low on stock");
    let low: i64 = low.trim().parse().expect("an id");
    let mut ws = graphql_ws(&s.addr).await.expect("websocket");
    ws.send(Message::text(
        json!({"type": "connection_init"}).to_string(),
    ))
    .await
    .expect("send");
    assert_eq!(ws_json(&mut ws).await, json!({"type": "connection_ack"}));
    ws.send(Message::text(
        json!({"id": "s", "type": "subscribe", "payload": {"operationName": "watchStock", "variables": {"id": low}}})
            .to_string(),
    ))
    .await
    .expect("send");
    let first = ws_json(&mut ws).await;
    assert_eq!(first["type"], "next", "{first}");
    let before = first["payload"]["data"]["products"]["stock"]
        .as_i64()
        .expect("stock");

    // Writes, 32 signed-in customers at once, and the restock action.
    let client = reqwest::Client::new();
    let tasks: Vec<_> = (0..CLIENTS as i64)
        .map(|c| {
            let (client, addr) = (client.clone(), s.addr.clone());
            tokio::spawn(async move { writes(&client, &addr, 1 + c % 20).await })
        })
        .collect();
    for task in tasks {
        let done = tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("writes finish within 60 s")
            .expect("task");
        assert_eq!(done, Ok(()));
    }
    let (status, v) = post(
        &client,
        &s.addr,
        "/api/v1/actions/restock",
        &json!({"amount": 10}),
        &[("x-cron-secret", "webshop-demo-cron-secret".to_owned())],
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert!(v["data"]["rows_affected"].as_i64().unwrap_or(0) > 0, "{v}");
    let next = ws_json(&mut ws).await;
    assert_eq!(next["type"], "next", "{next}");
    assert_eq!(
        next["payload"]["data"]["products"]["stock"].as_i64(),
        Some(before + 10),
        "{next}"
    );
    drop(s.bouncer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_mode_behind_transaction_pooling_answers_503_naming_statement_mode() {
    let s = setup("pgb_prepared", "prepared").await;
    let expected = Arc::new(oracle(&s.direct_addr).await);
    let out = hammer(&s.addr, expected, 2).await;
    println!(
        "prepared behind PgBouncer (transaction): {:?}",
        out.by_status
    );
    assert!(
        out.wrong.is_empty(),
        "wrong answers or other statuses: {:#?}",
        &out.wrong
    );
    assert!(
        out.by_status.get(&503).copied().unwrap_or(0) > 0,
        "statements prepared on one server connection were found missing on another: {out:?}"
    );
    assert!(
        out.unavailable_messages
            .iter()
            .all(|m| m.contains("statement_mode: unnamed")),
        "every 503 names statement_mode: {:?}",
        out.unavailable_messages
    );
    drop(s.bouncer);
}

/// Whether `path` exists (the harness needs PgBouncer from the Debian package).
#[test]
fn pgbouncer_is_installed() {
    assert!(
        Path::new("/usr/sbin/pgbouncer").exists(),
        "install the Debian package pgbouncer (CI does, see .ci/run)"
    );
}
