//! Shared fixture: a throwaway PostgreSQL with a small shop schema, a hand-written operation
//! table in the shape the compiler emits, and a real server on 127.0.0.1.

#![allow(dead_code)] // each test binary uses part of this

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use graphjin_runtime::{Auth, Db, OpKind, Operation, Param, PoolOptions, RoleStatement, Service};
use sha2::{Digest, Sha256};

pub const SCHEMA: &str = r#"
CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL UNIQUE, full_name text);
CREATE TABLE products (
    id bigserial PRIMARY KEY,
    name varchar(20) NOT NULL,
    price numeric(20, 2) NOT NULL CHECK (price >= 0),
    owner_id bigint REFERENCES users (id)
);
INSERT INTO users VALUES (1, 'alice@example.com', 'Alice'), (2, 'bob@example.com', 'Bob');
INSERT INTO products (id, name, price, owner_id) VALUES
    (1, 'Apple', 1.50, 1), (2, 'Banana', 0.25, 1), (3, 'Cherry', 123456789012345678.99, 2);
SELECT setval('products_id_seq', 100);
"#;

/// The allow list's text of each operation (normalized when the table is built).
pub const GET_PRODUCTS: &str = "query getProducts($after: Bigint) {
  products(where: { id: { gt: $after } }, order_by: { id: asc }, limit: 20) {
    id
    name
  }
}";
pub const GET_PRODUCT: &str = "query getProduct($id: Bigint!) {
  product(id: $id) { id name price }
}";
pub const MY_PRODUCTS: &str = "query myProducts {
  products(where: { owner_id: { eq: $user_id } }) { id name }
}";
pub const CREATE_PRODUCT: &str = "mutation createProduct($name: String!, $price: Numeric!) {
  product(insert: { name: $name, price: $price, owner_id: $user_id }) { id name price owner_id }
}";
pub const PRODUCTS_BY_IDS: &str = "query productsByIds($ids: [Bigint!]!) {
  products(where: { id: { in: $ids } }, order_by: { id: asc }) { id }
}";
pub const NEW_PRODUCTS: &str = "subscription newProducts($after: Bigint) {
  products(where: { id: { gt: $after } }) { id name }
}";

const LIST_SQL: &str = r#"SELECT json_build_object('products', (SELECT coalesce(json_agg(__sj."json"), '[]') FROM (SELECT json_build_object('id', t0."id", 'name', t0."name") AS "json" FROM "products" AS t0 WHERE t0."id" > $1::bigint ORDER BY t0."id" LIMIT 20) AS __sj)) AS "__root""#;
const ONE_SQL: &str = r#"SELECT json_build_object('product', (SELECT json_build_object('id', t0."id", 'name', t0."name", 'price', t0."price") FROM "products" AS t0 WHERE t0."id" = $1::bigint LIMIT 1)) AS "__root""#;
const MINE_SQL: &str = r#"SELECT json_build_object('products', (SELECT coalesce(json_agg(__sj."json"), '[]') FROM (SELECT json_build_object('id', t0."id", 'name', t0."name") AS "json" FROM "products" AS t0 WHERE t0."owner_id" = $1::bigint ORDER BY t0."id" LIMIT 20) AS __sj)) AS "__root""#;
const CREATE_SQL: &str = r#"WITH ins AS (INSERT INTO "products" ("name", "price", "owner_id") VALUES ($1::text, $2::numeric, $3::bigint) RETURNING *) SELECT json_build_object('product', (SELECT json_build_object('id', ins."id", 'name', ins."name", 'price', ins."price", 'owner_id', ins."owner_id") FROM ins)) AS "__root""#;
const BY_IDS_SQL: &str = r#"SELECT json_build_object('products', (SELECT coalesce(json_agg(__sj."json"), '[]') FROM (SELECT json_build_object('id', t0."id") AS "json" FROM "products" AS t0 WHERE t0."id" = ANY(ARRAY(SELECT json_array_elements_text($1::json))::bigint[]) ORDER BY t0."id" LIMIT 20) AS __sj)) AS "__root""#;

const AFTER: &[Param] = &[Param {
    name: "after",
    pg_type: "bigint",
    builtin: false,
    default: Some("0"),
}];
const ID: &[Param] = &[Param {
    name: "id",
    pg_type: "bigint",
    builtin: false,
    default: None,
}];
const USER_ID: Param = Param {
    name: "user_id",
    pg_type: "bigint",
    builtin: true,
    default: None,
};

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

fn both(sql: &'static str, params: &'static [Param]) -> &'static [RoleStatement] {
    Box::leak(Box::new([
        RoleStatement {
            role: "anon",
            sql,
            params,
        },
        RoleStatement {
            role: "user",
            sql,
            params,
        },
    ]))
}

/// The operation table (what `include_allowlist!()` will generate).
pub fn operations() -> &'static [Operation] {
    static OPS: OnceLock<&'static [Operation]> = OnceLock::new();
    OPS.get_or_init(|| {
        let ops = vec![
            op(
                "getProducts",
                OpKind::Query,
                GET_PRODUCTS,
                both(LIST_SQL, AFTER),
            ),
            op("getProduct", OpKind::Query, GET_PRODUCT, both(ONE_SQL, ID)),
            op(
                "myProducts",
                OpKind::Query,
                MY_PRODUCTS,
                &[RoleStatement {
                    role: "user",
                    sql: MINE_SQL,
                    params: &[USER_ID],
                }],
            ),
            op(
                "createProduct",
                OpKind::Mutation,
                CREATE_PRODUCT,
                &[RoleStatement {
                    role: "user",
                    sql: CREATE_SQL,
                    params: &[
                        Param {
                            name: "name",
                            pg_type: "text",
                            builtin: false,
                            default: None,
                        },
                        Param {
                            name: "price",
                            pg_type: "numeric",
                            builtin: false,
                            default: None,
                        },
                        USER_ID,
                    ],
                }],
            ),
            op(
                "productsByIds",
                OpKind::Query,
                PRODUCTS_BY_IDS,
                both(
                    BY_IDS_SQL,
                    &[Param {
                        name: "ids",
                        pg_type: "bigint[]",
                        builtin: false,
                        default: None,
                    }],
                ),
            ),
            op(
                "newProducts",
                OpKind::Subscription,
                NEW_PRODUCTS,
                both(LIST_SQL, AFTER),
            ),
        ];
        Box::leak(ops.into_boxed_slice())
    })
}

/// The operation called `name` in [`operations`].
pub fn op_named(name: &str) -> &'static Operation {
    operations()
        .iter()
        .find(|o| o.name == name)
        .expect("operation in the test table")
}

pub fn pg() -> &'static graphjin_pg_tmp::TempPostgres {
    graphjin_pg_tmp::shared().expect("start the throwaway PostgreSQL")
}

/// A fresh database with the shop schema and data; returns its name.
pub fn fresh_database() -> String {
    static TEMPLATE: OnceLock<()> = OnceLock::new();
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let pg = pg();
    TEMPLATE.get_or_init(|| {
        pg.create_database("shop_template", None)
            .expect("create template");
        pg.run_sql("shop_template", SCHEMA).expect("load schema");
    });
    let name = format!("shop_{}", COUNTER.fetch_add(1, Ordering::Relaxed));
    pg.create_database(&name, Some("shop_template"))
        .expect("create database");
    name
}

pub fn small_pool() -> PoolOptions {
    PoolOptions {
        max_size: 4,
        ..PoolOptions::default()
    }
}

/// A connected executor on a fresh database.
pub async fn db() -> Db {
    let name = fresh_database();
    Db::connect(&pg().url(&name), operations(), small_pool())
        .await
        .expect("connect")
}

/// Test-only auth: `x-test-user: ID` makes the caller user ID (role `user`).
async fn header_auth(
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if let Some(id) = req
        .headers()
        .get("x-test-user")
        .and_then(|v| v.to_str().ok())
    {
        let auth = Auth::user(id);
        req.extensions_mut().insert(auth);
    }
    next.run(req).await
}

/// Serves `service` on 127.0.0.1 at a free port; returns `http://127.0.0.1:PORT`.
pub async fn serve(service: Service) -> String {
    let app = graphjin_runtime::router(service).layer(axum::middleware::from_fn(header_auth));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    format!("http://{addr}")
}

/// A server on a fresh database with a 64 KiB body limit.
pub async fn server() -> String {
    serve(Service::new(db().await).body_limit(64 * 1024)).await
}

/// A response's status, content type and body parsed as JSON.
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Reply {
    pub async fn from(r: reqwest::Response) -> Reply {
        Reply {
            status: r.status().as_u16(),
            content_type: r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned(),
            headers: r.headers().clone(),
            text: r.text().await.expect("body"),
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// The first error's message and code.
    pub fn error(&self) -> (String, String) {
        let j = self.json();
        let e = &j["errors"][0];
        (
            e["message"].as_str().unwrap_or_default().to_owned(),
            e["extensions"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    }
}

pub async fn post_json(url: &str, body: &str, user: Option<&str>) -> Reply {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(u) = user {
        req = req.header("x-test-user", u);
    }
    Reply::from(req.send().await.expect("request")).await
}

pub async fn get(url: &str, query: &[(&str, &str)], user: Option<&str>) -> Reply {
    let mut req = reqwest::Client::new().get(url).query(query);
    if let Some(u) = user {
        req = req.header("x-test-user", u);
    }
    Reply::from(req.send().await.expect("request")).await
}
