//! Introspection in the development server, over real HTTP against a real PostgreSQL: the
//! standard `IntrospectionQuery` (graphql-js's text, committed as a fixture) is answered
//! without being compiled or recorded; graphql-js builds a valid client schema from the
//! answer and validates queries against it; the playground lists the schema in a real
//! headless Chromium.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use graphjin_dev::{DevOptions, DevServer};
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A copy of the example app's config folder.
fn config_copy(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gj-intro-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["allow.list", "db.graphql", "dev.yml", "prod.yml"] {
        std::fs::copy(root().join("example-app/config").join(f), dir.join(f)).unwrap();
    }
    dir
}

fn database() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let pg = graphjin_pg_tmp::shared().expect("PostgreSQL");
    let name = format!("intro_shop_{}", NEXT.fetch_add(1, Ordering::Relaxed));
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

async fn post(addr: SocketAddr, body: Value) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/graphql"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    (
        status,
        serde_json::from_slice(&res.bytes().await.unwrap()).expect("JSON"),
    )
}

fn works(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// graphql-js, installed once into the target folder; `None` without node and npm.
fn graphql_js() -> Option<PathBuf> {
    if !works("node") || !works("npm") {
        assert!(
            std::env::var("CI").is_err(),
            "CI is set, and this test needs node and npm: apt-get install nodejs npm"
        );
        println!("skipped: the graphql-js checks need node and npm");
        return None;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("npm-graphql");
    std::fs::create_dir_all(&dir).unwrap();
    if !dir.join("node_modules/graphql/package.json").exists() {
        let out = Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--prefix",
            ])
            .arg(&dir)
            .arg("graphql@16.11.0")
            .output()
            .expect("npm");
        assert!(
            out.status.success(),
            "npm install graphql failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::copy(
        fixture("introspection_client.mjs"),
        dir.join("introspection_client.mjs"),
    )
    .unwrap();
    Some(dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standard_introspection_query_is_answered_and_never_recorded() {
    let dir = config_copy("standard");
    let before = std::fs::read_to_string(dir.join("allow.list")).unwrap();
    let addr = start(&dir).await;
    let text = std::fs::read_to_string(fixture("introspection_query.graphql")).unwrap();
    let (status, v) = post(
        addr,
        json!({"query": text, "operationName": "IntrospectionQuery"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let schema = &v["data"]["__schema"];
    assert_eq!(
        schema["queryType"],
        json!({"name": "Query", "kind": "OBJECT"})
    );
    assert_eq!(schema["mutationType"]["name"], "Mutation");
    assert_eq!(schema["subscriptionType"]["name"], "Subscription");
    let types = schema["types"].as_array().unwrap();
    let get = |n: &str| {
        types
            .iter()
            .find(|t| t["name"] == n)
            .unwrap_or_else(|| panic!("type {n}"))
    };
    let query_fields: Vec<&str> = get("Query")["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    for table in ["categories", "customers", "orders", "products", "reviews"] {
        assert!(query_fields.contains(&table), "{table} in {query_fields:?}");
    }
    assert_eq!(get("productsWhereInput")["kind"], "INPUT_OBJECT");
    assert_eq!(get("OrderDirection")["kind"], "ENUM");
    // The same answer over GET, as GraphiQL's fetcher may send it.
    let res = reqwest::Client::new()
        .get(format!("http://{addr}/api/v1/graphql"))
        .query(&[("query", "{ __type(name: \"products\") { name kind } }")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let got: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(
        got["data"]["__type"],
        json!({"name": "products", "kind": "OBJECT"})
    );
    // A query in the same server still compiles and is recorded; introspection is not.
    let (status, v) = post(
        addr,
        json!({"query": "query introNeighbour { categories(limit: 1) { slug } }"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let after = std::fs::read_to_string(dir.join("allow.list")).unwrap();
    assert!(
        !after.contains("IntrospectionQuery"),
        "introspection was recorded"
    );
    assert!(!after.contains("__schema") && !after.contains("__type"));
    assert!(after.contains("query introNeighbour"));
    assert_eq!(
        after.matches("query ").count(),
        before.matches("query ").count() + 1,
        "one operation recorded:\n{after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_js_builds_a_valid_client_schema_from_the_answer() {
    let Some(npm) = graphql_js() else { return };
    let dir = config_copy("graphql-js");
    let addr = start(&dir).await;
    let query = "query q($min: Float, $cursor: Cursor) { products(where: { price: { greaterThan: $min } }, order_by: { price: desc }, first: 2, after: $cursor) { id name price tags category { slug } reviews(limit: 1) { rating } } products_cursor }";
    let url = format!("http://{addr}/api/v1/graphql");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .current_dir(&npm)
            .args(["introspection_client.mjs", &url, query])
            .output()
    })
    .await
    .unwrap()
    .expect("node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: Value = serde_json::from_str(stdout.trim()).expect("the script prints JSON");
    assert_eq!(
        shown["errors"],
        json!([]),
        "graphql-js finds the schema invalid"
    );
    assert_eq!(
        shown["queryErrors"],
        json!([]),
        "graphql-js refuses a valid query"
    );
    let sdl = shown["sdl"].as_str().unwrap();
    for needle in [
        "type Query {",
        "type Mutation {",
        "type Subscription {",
        "type products {",
        "  price(includeIf: productsWhereInput, skipIf: productsWhereInput): Float!",
        "  tags(includeIf: productsWhereInput, skipIf: productsWhereInput): [String]!",
        "  category(\n",
        "  reviews(\n",
        "input productsWhereInput {",
        "input insertproductsInput {",
        "where: productsWhereInput",
        "order_by: productsOrderByInput",
        "enum OrderDirection {",
    ] {
        assert!(sdl.contains(needle), "`{needle}` in the schema:\n{sdl}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_playground_lists_the_schema_in_headless_chromium() {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("Chromium is needed for this test: apt-get install chromium (.ci/run installs it)");
    let browser_dir = root().join("tests/browser");
    if !browser_dir.join("node_modules/playwright-core").exists() {
        let st = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent"])
            .current_dir(&browser_dir)
            .status()
            .expect("npm");
        assert!(st.success(), "npm install in tests/browser failed");
    }
    // The script next to a link to tests/browser's node_modules, so its import resolves.
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("playground-schema");
    std::fs::create_dir_all(&work).unwrap();
    let link = work.join("node_modules");
    if std::fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink(browser_dir.join("node_modules"), &link).unwrap();
    }
    let script = work.join("playground_schema.mjs");
    std::fs::copy(fixture("playground_schema.mjs"), &script).unwrap();
    let dir = config_copy("playground");
    let addr = start(&dir).await;
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .arg(format!("http://{addr}/playground"))
            .env("CHROMIUM", chromium)
            .output()
    })
    .await
    .unwrap()
    .expect("node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: Value = serde_json::from_str(stdout.trim()).expect("the script prints JSON");
    let tables: Vec<&str> = shown["tables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for t in ["categories", "products", "orders", "customers"] {
        assert!(tables.contains(&t), "{t} listed: {shown}");
    }
    let fields = shown["productFields"].to_string();
    assert!(
        fields.contains("price Float!") && fields.contains("category categories"),
        "{shown}"
    );
    assert_eq!(
        shown["visible"], true,
        "opening `products` shows its fields"
    );
}
