//! The example app's OpenAPI document against the running app: one REST call per
//! allow-listed query and mutation (and the action), as the document describes them, each
//! response checked against the document's schema for its status by ajv (JSON Schema
//! 2020-12), and the variables sent against the request schema. Then the generated
//! TypeScript module, compiled by tsc, calls the same app with `call()`: numerics arrive as
//! their exact text. Last, a copy of the example with an operation that breaks one of its
//! compliance rules fails real `cargo check` at that operation's field.
//!
//! The npm packages are installed once into `target/tmp/npm-locked-api` (see
//! `graphjin-dev/tests/locked_api/npm.rs`); without node and npm the npm checks print a
//! skip line and pass, unless `CI` is set.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;

use example_app as shop;
use graphjin_codegen::Project;
use graphjin_codegen::tools::openapi::{OpenApiOptions, document};
use graphjin_codegen::tools::surface::ApiConfig;
use graphjin_runtime::{PoolOptions, Service};
use serde_json::{Value, json};

#[path = "../../graphjin-dev/tests/locked_api/npm.rs"]
mod npm;

fn config_dir() -> PathBuf {
    graphjin_tests::workspace_root().join("example-app/config")
}

/// The example app as it runs: its config's auth and actions, on a real port.
async fn serve() -> SocketAddr {
    let url = graphjin_tests::shop_database("locked_api");
    let config = graphjin_runtime::Config::load(config_dir()).expect("example config");
    let db = shop::connect(&url, PoolOptions::default())
        .await
        .expect("connect");
    let actions = graphjin_runtime::actions::Actions::from_config(&config, &db)
        .await
        .expect("actions");
    let app = shop::router(
        Service::from_config(db, &config)
            .expect("config")
            .actions(actions),
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
    addr
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

/// One call as the checker reads it.
struct Caller {
    addr: SocketAddr,
    client: reqwest::Client,
    calls: Vec<Value>,
}

impl Caller {
    /// `GET /api/v1/rest/{name}?variables=...`.
    async fn get(&mut self, name: &str, vars: Value, bearer: Option<&str>) -> (u16, Value) {
        let path = format!("/api/v1/rest/{name}");
        let mut req = self
            .client
            .get(format!("http://{}{path}", self.addr))
            .query(&[("variables", vars.to_string())]);
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        self.send(req, path, "get", vars).await
    }

    /// `POST {path}` with `body` (the variables object on the REST route).
    async fn post(&mut self, path: &str, body: Value, headers: &[(&str, String)]) -> (u16, Value) {
        let mut req = self
            .client
            .post(format!("http://{}{path}", self.addr))
            .header("content-type", "application/json")
            .body(body.to_string());
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        self.send(req, path.to_string(), "post", body).await
    }

    async fn send(
        &mut self,
        req: reqwest::RequestBuilder,
        path: String,
        method: &str,
        sent: Value,
    ) -> (u16, Value) {
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        let body: Value = serde_json::from_slice(&res.bytes().await.expect("body"))
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON: {e}"));
        self.calls.push(json!({
            "path": path, "method": method, "status": status, "sent": sent, "body": body
        }));
        (status, body)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_operation_over_rest_fits_the_openapi_document() {
    let project = Project::load(&config_dir()).expect("example config");
    let ops = project.compile().expect("example compiles");
    let api = ApiConfig::load(&config_dir()).expect("runtime keys");
    let doc = document(&project, &ops, &api, &OpenApiOptions::default());
    // The document the example's build.rs wrote, which its binary serves, is the same.
    let built: Value = serde_json::from_str(shop::OPENAPI_JSON).expect("build-time document");
    assert_eq!(built, doc);

    let addr = serve().await;
    let mut c = Caller {
        addr,
        client: reqwest::Client::new(),
        calls: Vec::new(),
    };
    let me = token(6);
    let bearer = [("authorization", format!("Bearer {me}"))];

    // Every query by GET, as the document's `variables` parameter describes.
    for (name, vars) in [
        ("listProducts", json!({ "limit": 3 })),
        ("getProduct", json!({ "id": 3 })),
        ("searchProducts", json!({ "pattern": "%mug 1%" })),
        ("productsByCategory", json!({ "slug": "tea" })),
        ("affordableProducts", json!({ "max_price": 12 })),
        ("productsWithTags", json!({ "tags": ["organic"] })),
        ("catalogueStats", json!({})),
        ("topReviews", json!({})),
        ("customerOrders", json!({ "customer_id": 2 })),
        ("orderProducts", json!({ "id": 2 })),
        ("categoryCounts", json!({})),
    ] {
        let (status, v) = c.get(name, vars, None).await;
        assert_eq!(status, 200, "{name}: {v}");
    }
    let (status, v) = c.get("myOrders", json!({}), Some(&me)).await;
    assert_eq!(status, 200, "{v}");
    assert!(v["data"]["orders"].is_array(), "{v}");
    // A query by POST too, the body being the variables.
    let (status, v) = c
        .post("/api/v1/rest/getProduct", json!({ "id": 4 }), &[])
        .await;
    assert_eq!(status, 200, "{v}");

    // The mutations, signed in.
    let (status, v) = c
        .post(
            "/api/v1/rest/createReview",
            json!({ "data": { "product_id": 1, "rating": 5, "body": "Great" } }),
            &bearer,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let review = v["data"]["reviews"][0]["id"].as_i64().expect("review id");
    let (status, v) = c
        .post(
            "/api/v1/rest/updateReview",
            json!({ "id": review, "body": "Still great" }),
            &bearer,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = c
        .post(
            "/api/v1/rest/deleteReview",
            json!({ "id": review }),
            &bearer,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = c
        .post(
            "/api/v1/rest/placeOrder",
            json!({ "data": { "status": "pending", "order_items": [
                { "product_id": 1, "quantity": 2, "unit_price": 9.99 }
            ] } }),
            &bearer,
        )
        .await;
    assert_eq!(status, 200, "{v}");

    // Documented failures: anonymous callers may not write (401), a variable of the wrong
    // type (400).
    let (status, _) = c
        .post(
            "/api/v1/rest/createReview",
            json!({ "data": { "product_id": 1, "rating": 1, "body": "x" } }),
            &[],
        )
        .await;
    assert_eq!(status, 401);
    let path = "/api/v1/rest/getProduct";
    let res = c
        .client
        .get(format!("http://{addr}{path}"))
        .query(&[("variables", r#"{"id":"three"}"#)])
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 400);
    let body: Value = serde_json::from_slice(&res.bytes().await.expect("body")).expect("JSON");
    c.calls
        .push(json!({ "path": path, "method": "get", "status": 400, "body": body }));

    // The action, with and without its secret header.
    let cron = [("x-cron-secret", "webshop-demo-cron-secret".to_string())];
    let (status, v) = c
        .post("/api/v1/actions/restock", json!({ "amount": 1 }), &cron)
        .await;
    assert_eq!(status, 200, "{v}");
    let (status, _) = c
        .post("/api/v1/actions/restock", json!({ "amount": 1 }), &[])
        .await;
    assert_eq!(status, 401);

    // Every path of the document was called.
    let documented: BTreeSet<&str> = doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(String::as_str)
        .collect();
    let called: BTreeSet<&str> = c.calls.iter().filter_map(|c| c["path"].as_str()).collect();
    assert_eq!(documented, called);
    let listed: BTreeSet<String> = ops
        .iter()
        .filter(|o| o.kind != graphjin_codegen::gql::ast::OpKind::Subscription)
        .map(|o| format!("/api/v1/rest/{}", o.name))
        .collect();
    assert!(listed.iter().all(|p| called.contains(p.as_str())));

    let Some(npm) = npm::tools() else { return };
    let doc_file = npm.dir.join("http-openapi.json");
    let calls_file = npm.dir.join("http-calls.json");
    std::fs::write(&doc_file, doc.to_string()).unwrap();
    std::fs::write(&calls_file, Value::Array(c.calls.clone()).to_string()).unwrap();
    let (ok, out) = npm.node(
        "check_responses.mjs",
        &[doc_file.to_str().unwrap(), calls_file.to_str().unwrap()],
    );
    assert!(ok, "calls that do not fit the document:\n{out}");
    assert!(
        out.contains(&format!("{} calls fit the document", c.calls.len())),
        "{out}"
    );

    // The checker is real: a response with a field the operation does not select, or a
    // wrong type, does not fit.
    let mut wrong = c.calls[0].clone();
    wrong["body"]["data"]["products"][0]["description"] = json!("not selected");
    let mut wrong_type = c.calls[1].clone();
    wrong_type["body"]["data"]["products"]["name"] = json!(3);
    std::fs::write(&calls_file, json!([wrong, wrong_type]).to_string()).unwrap();
    let (ok, out) = npm.node(
        "check_responses.mjs",
        &[doc_file.to_str().unwrap(), calls_file.to_str().unwrap()],
    );
    assert!(!ok, "{out}");
    assert!(out.contains("must NOT have additional properties"), "{out}");
    assert!(out.contains("must be string"), "{out}");
}

/// Runs the compiled TypeScript module's `call()` against the app.
const RUNNER: &str = r#"const api = require("./out/api.js");
const [base, token] = process.argv.slice(2);
(async () => {
  const out = {};
  const list = await api.call("listProducts", { limit: 3 }, { baseUrl: base });
  out.price = list.products[0].price;
  out.priceType = typeof list.products[0].price;
  const cheap = await api.call("affordableProducts", { max_price: "12.00" }, { baseUrl: base });
  out.cheap = cheap.products.map((p) => p.id);
  const stats = await api.call("catalogueStats", undefined, { baseUrl: base, sendQuery: true });
  out.avg = stats.products[0].avg_price;
  try {
    await api.call("createReview", { data: { product_id: 1, rating: 1, body: "x" } }, { baseUrl: base });
  } catch (e) {
    out.anonymous = [e.name, e.status, e.code];
  }
  const order = await api.call(
    "placeOrder",
    { data: { status: "pending", order_items: [{ product_id: 2, quantity: 1, unit_price: "9.90" }] } },
    { baseUrl: base, headers: { Authorization: `Bearer ${token}` } },
  );
  out.unitPrice = order.orders[0].order_items[0].unit_price;
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typescript_caller_runs_the_example_with_exact_numerics() {
    let project = Project::load(&config_dir()).expect("example config");
    let ops = project.compile().expect("example compiles");
    let ts = graphjin_codegen::tools::typescript::module(&project, &ops);
    let Some(npm) = npm::tools() else { return };
    let addr = serve().await;

    let dir = npm.dir.join("ts-run");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("api.ts"), ts).unwrap();
    std::fs::write(dir.join("runner.cjs"), RUNNER).unwrap();
    let (ok, out) = npm.tsc_with(&dir, &["api.ts"], &["--outDir", "out"]);
    assert!(ok, "tsc:\n{out}");

    let me = token(3);
    let base = format!("http://{addr}/api");
    let dir2 = dir.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .current_dir(&dir2)
            .args(["runner.cjs", &base, &me])
            .output()
            .expect("node")
    })
    .await
    .expect("join");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).expect("runner JSON");
    // The exact text of numerics, as the Rust side keeps it ("55.00", not 55).
    assert_eq!(got["price"], "55.00");
    assert_eq!(got["priceType"], "string");
    // Sent as the Numeric "9.90" (written as the JSON number 9.90), read back as "9.90".
    assert_eq!(got["unitPrice"], "9.90");
    assert!(
        got["avg"].as_str().is_some_and(|a| a.contains('.')),
        "{got}"
    );
    assert_eq!(
        got["anonymous"],
        json!(["GraphJinError", 401, "UNAUTHENTICATED"])
    );
    assert!(!got["cheap"].as_array().expect("ids").is_empty(), "{got}");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The example app, copied into a crate of its own with an operation added to its
/// allow.list that breaks the example's `no-emails` rule: real `cargo check` fails in
/// `build.rs` at that operation's field.
#[test]
fn a_compliance_violation_fails_cargo_build_of_the_example() {
    let ws = graphjin_tests::workspace_root();
    let dir = std::env::temp_dir().join(format!("gj-compliance-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["src", "config", "db"] {
        copy_dir(&ws.join("example-app").join(sub), &dir.join(sub));
    }
    std::fs::copy(ws.join("example-app/build.rs"), dir.join("build.rs")).unwrap();
    std::fs::copy(ws.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let w = ws.display();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"gj-compliance-app\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n\n\
             [lib]\nname = \"example_app\"\n\n[features]\ndev = []\n\n\
             [dependencies]\ngraphjin-runtime = {{ path = \"{w}/graphjin-runtime\" }}\n\
             graphjin-pg-tmp = {{ path = \"{w}/graphjin-pg-tmp\" }}\n\
             tokio = {{ version = \"1\", features = [\"rt-multi-thread\", \"macros\", \"net\", \"signal\"] }}\n\n\
             [build-dependencies]\ngraphjin-codegen = {{ path = \"{w}/graphjin-codegen\" }}\n"
        ),
    )
    .unwrap();
    let list = dir.join("config/allow.list");
    let mut text = std::fs::read_to_string(&list).unwrap();
    let line = text.lines().count() + 1;
    text.push_str(
        "\n# Who wrote the best reviews, and how to reach them.\nquery reviewerEmails {\n  reviews(limit: 5) {\n    customer {\n      email\n    }\n  }\n}\n",
    );
    std::fs::write(&list, text).unwrap();

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(&cargo)
        .current_dir(&dir)
        .args(["check", "--offline", "--quiet"])
        .env("CARGO_TARGET_DIR", ws.join("target/user-crates"))
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo check");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the build passed:\n{stderr}");
    // `email` is on the fifth line of the added text, column 7.
    let expected = format!(
        "error: config/allow.list:{}:7: breaks compliance[0] `no-emails` (never_reads customers.email): reads `customers.email` (operation `reviewerEmails`, role `anon`)",
        line + 5
    );
    assert!(stderr.contains(&expected), "{expected}\nnot in:\n{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}
