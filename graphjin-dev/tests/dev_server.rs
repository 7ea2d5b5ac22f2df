//! The development server over real HTTP and a real PostgreSQL: it runs any operation,
//! records named ones into allow.list (concurrently, leaving hand-written entries byte for
//! byte), refuses to record what fails, honours the auth config, and serves a playground
//! that works in a real headless Chromium.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use graphjin_codegen::allowlist;
use graphjin_dev::{DevOptions, DevServer};
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A copy of the example app's config folder, with development credentials in headers on.
fn config_copy(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gj-dev-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["allow.list", "db.graphql", "dev.yml", "prod.yml"] {
        std::fs::copy(root().join("example-app/config").join(f), dir.join(f)).unwrap();
    }
    let dev = std::fs::read_to_string(dir.join("dev.yml")).unwrap();
    std::fs::write(
        dir.join("dev.yml"),
        dev.replace(
            "auth:\n  type: jwt\n",
            "auth:\n  type: jwt\n  creds_in_header: true\n",
        ),
    )
    .unwrap();
    dir
}

fn database() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let pg = graphjin_pg_tmp::shared().expect("PostgreSQL");
    let name = format!("dev_shop_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    pg.create_database(&name, None).unwrap();
    pg.run_sql_file(&name, &root().join("example-app/db/schema.sql"))
        .unwrap();
    pg.run_sql_file(&name, &root().join("example-app/db/seed.sql"))
        .unwrap();
    pg.url(&name)
}

async fn start(dir: &Path) -> SocketAddr {
    let mut opts = DevOptions::new(dir, database());
    opts.schema_poll = None;
    let server = DevServer::start(opts).await.expect("dev server starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        graphjin_runtime::axum::serve(listener, server.router())
            .await
            .unwrap()
    });
    addr
}

async fn post(addr: SocketAddr, body: Value, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/graphql"))
        .header("content-type", "application/json")
        .body(body.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    (
        status,
        serde_json::from_slice(&res.bytes().await.unwrap()).expect("JSON"),
    )
}

fn entries(text: &str) -> Vec<String> {
    let list = allowlist::parse(text.as_bytes()).expect("allow.list parses");
    list.operations()
        .map(|o| text[o.span.clone()].to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_fifty_operations_from_eight_clients_keeping_hand_written_entries() {
    let dir = config_copy("fifty");
    let before = std::fs::read_to_string(dir.join("allow.list")).unwrap();
    let addr = start(&dir).await;
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            tokio::spawn(async move {
                for i in (t..50).step_by(8) {
                    let q = format!("query devOp{i:02}($min: Int) {{ products(where: {{ id: {{ gt: $min }} }}, order_by: {{ id: asc }}, limit: 2) {{ id }} }}");
                    let min = i % 40; // the shop has 40 products
                    let (status, v) = post(addr, json!({"query": q, "variables": {"min": min}}), &[]).await;
                    assert_eq!(status, 200, "{v}");
                    assert_eq!(v["data"]["products"][0]["id"], json!(min + 1));
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let after = std::fs::read_to_string(dir.join("allow.list")).unwrap();
    let list = allowlist::parse(after.as_bytes()).unwrap();
    for i in 0..50 {
        let name = format!("devOp{i:02}");
        assert_eq!(
            list.operations().filter(|o| o.name == name).count(),
            1,
            "{name} once"
        );
    }
    for entry in entries(&before) {
        assert!(
            after.contains(&entry),
            "a hand-written entry changed:\n{entry}"
        );
    }
    assert!(
        after.starts_with(&before[..before.find("# The catalogue page").unwrap()]),
        "the header comments changed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_operation_replaces_only_its_own_entry() {
    let dir = config_copy("changed");
    let before = std::fs::read_to_string(dir.join("allow.list")).unwrap();
    let addr = start(&dir).await;
    let q = "query searchProducts($pattern: String!) {\n  products(where: { name: { ilike: $pattern } }, limit: 2) { id name }\n}";
    let (status, v) = post(
        addr,
        json!({"query": q, "variables": {"pattern": "%mug%"}}),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let after = std::fs::read_to_string(dir.join("allow.list")).unwrap();
    let old = entries(&before)
        .into_iter()
        .find(|e| e.contains("query searchProducts"))
        .unwrap();
    let new = entries(&after)
        .into_iter()
        .find(|e| e.contains("query searchProducts"))
        .unwrap();
    assert!(
        new.starts_with("# Case-insensitive search by name.\n"),
        "its comment is kept:\n{new}"
    );
    assert!(new.contains("limit: 2"));
    assert_eq!(
        after,
        before.replacen(&old, &new, 1),
        "nothing else changed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_and_anonymous_operations_leave_the_file_untouched() {
    let dir = config_copy("failing");
    let before = std::fs::read_to_string(dir.join("allow.list")).unwrap();
    let addr = start(&dir).await;
    let (status, v) = post(
        addr,
        json!({"query": "query broken { prodcts { id } }"}),
        &[],
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `products`"),
        "{v}"
    );
    let (status, _) = post(addr, json!({"query": "query typed($id: ID!) { products(id: $id) { id } }", "variables": {"id": "x"}}), &[]).await;
    assert_eq!(status, 400, "a wrong variable type fails at run time");
    let (status, v) = post(
        addr,
        json!({"query": "{ categories(limit: 1) { name } }"}),
        &[],
    )
    .await;
    assert_eq!(
        (status, v["data"]["categories"][0]["name"].clone()),
        (200, json!("Coffee"))
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("allow.list")).unwrap(),
        before
    );
}

/// A compile error points into the query sent (`query:LINE:COL`), not into allow.list, while
/// allow.list's own operations keep being served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compile_errors_point_into_the_query_sent() {
    let dir = config_copy("located");
    let addr = start(&dir).await;
    let message = |v: &Value| {
        v["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };

    let (status, v) = post(
        addr,
        json!({"query": "query broken {\n  prodcts { id }\n}"}),
        &[],
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(
        message(&v),
        "query:2:3: unknown table `prodcts` (did you mean `products`?) (operation `broken`, role `anon`)"
    );

    let (status, v) = post(
        addr,
        json!({"query": "query broken { products(limit: ) { id } }"}),
        &[],
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(message(&v), "query:1:32: expected a value, found ')'");

    let (status, v) = post(
        addr,
        json!({"query": "query a { products { id } } query b { products { id } }"}),
        &[],
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(message(&v), "query:1:1: send exactly one operation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_auth_config_and_development_headers() {
    let dir = config_copy("auth");
    let addr = start(&dir).await;
    // creds_in_header is on in this dev.yml: X-User-ID signs in.
    let (status, v) = post(addr, json!({"query": "query mine { orders(where: { customer_id: { eq: $user_id } }, order_by: { id: asc }) { id } }"}), &[("x-user-id", "2")]).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["data"]["orders"],
        json!([{"id": 2}, {"id": 22}, {"id": 42}])
    );
    // auth_fail_block: a bad token is refused, as in production.
    let (status, _) = post(
        addr,
        json!({"query": "query mine2 { categories { id } }"}),
        &[("authorization", "Bearer nope")],
    )
    .await;
    assert_eq!(status, 401);
    // Role rules apply: anonymous callers may not write.
    let (status, _) = post(addr, json!({"query": "mutation rm($id: ID!) { reviews(id: $id, delete: true) { id } }", "variables": {"id": 1}}), &[]).await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_playground_runs_a_query_in_headless_chromium() {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let chromium = chromium
        .expect("Chromium is needed for this test: apt-get install chromium (.ci/run installs it)");
    let browser_dir = root().join("tests/browser");
    if !browser_dir.join("node_modules/playwright-core").exists() {
        let st = std::process::Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent"])
            .current_dir(&browser_dir)
            .status()
            .expect("npm");
        assert!(st.success(), "npm install in tests/browser failed");
    }
    let dir = config_copy("playground");
    let addr = start(&dir).await;
    let script = browser_dir.join("playground.mjs");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(script)
            .arg(format!("http://{addr}/playground"))
            .env("CHROMIUM", chromium)
            .output()
    })
    .await
    .expect("join")
    .expect("node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: Value =
        serde_json::from_str(stdout.trim()).expect("the script prints the page's result");
    assert_eq!(
        shown["result"]["data"]["categories"],
        json!([{"slug": "coffee"}, {"slug": "tea"}])
    );
    assert!(
        shown["operations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "playgroundQuery"),
        "{shown}"
    );
    assert!(
        std::fs::read_to_string(dir.join("allow.list"))
            .unwrap()
            .contains("query playgroundQuery")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_change_refreshes_db_graphql_and_is_served() {
    let dir = config_copy("schema");
    let url = database();
    let mut opts = DevOptions::new(&dir, url.clone());
    opts.schema_poll = None;
    let dev = DevServer::start(opts).await.expect("dev server");
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    assert!(
        !dev.reload_if_schema_changed().await.unwrap(),
        "nothing changed yet"
    );
    client
        .batch_execute("CREATE TABLE coupons (id BIGSERIAL PRIMARY KEY, code TEXT NOT NULL); INSERT INTO coupons (code) VALUES ('SAVE10')")
        .await
        .unwrap();
    assert!(
        dev.reload_if_schema_changed().await.unwrap(),
        "the new table is noticed"
    );
    assert!(
        std::fs::read_to_string(dir.join("db.graphql"))
            .unwrap()
            .contains("type coupons {")
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        graphjin_runtime::axum::serve(listener, dev.router())
            .await
            .unwrap()
    });
    let (status, v) = post(
        addr,
        json!({"query": "query coupons { coupons { code } }"}),
        &[],
    )
    .await;
    assert_eq!(
        (status, v["data"]["coupons"].clone()),
        (200, json!([{"code": "SAVE10"}]))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_request_with_query_text_is_compiled_and_recorded() {
    let dir = config_copy("get");
    let addr = start(&dir).await;
    let res = reqwest::Client::new()
        .get(format!("http://{addr}/api/v1/graphql"))
        .query(&[
            (
                "query",
                "query viaGet($n: Int) { categories(order_by: { id: asc }, limit: $n) { slug } }",
            ),
            ("variables", r#"{"n": 1}"#),
        ])
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 200);
    let v: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(v["data"]["categories"], json!([{"slug": "coffee"}]));
    assert!(
        std::fs::read_to_string(dir.join("allow.list"))
            .unwrap()
            .contains("query viaGet")
    );
}
