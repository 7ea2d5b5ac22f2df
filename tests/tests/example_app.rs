//! The example webshop end to end: its router on a real port, called with a real HTTP
//! client, against a real PostgreSQL with the app's own schema and seed. Every operation is
//! run over HTTP and through its typed `run()`, and both are checked against each other and
//! against independent SQL.

use std::net::SocketAddr;

use example_app as shop;
use graphjin_runtime::{Auth, Db, PoolOptions, Service};
use serde_json::{Value, json};

struct App {
    addr: SocketAddr,
    db: Db,
    client: reqwest::Client,
    dbname: String,
}

async fn start() -> App {
    let pg = graphjin_tests::pg();
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dbname = format!("shop_{n}");
    pg.create_database(&dbname, None)
        .expect("create shop database");
    pg.run_sql(&dbname, shop::SCHEMA_SQL).expect("schema");
    pg.run_sql(&dbname, shop::SEED_SQL).expect("seed");
    let db = shop::connect(&pg.url(&dbname), PoolOptions::default())
        .await
        .expect("connect");
    let app = shop::router(Service::new(db.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        graphjin_runtime::axum::serve(listener, app)
            .await
            .expect("serve");
    });
    App {
        addr,
        db,
        client: reqwest::Client::new(),
        dbname,
    }
}

impl App {
    async fn post(&self, path: &str, body: &str) -> (u16, Value) {
        let res = self
            .client
            .post(format!("http://{}{path}", self.addr))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        let bytes = res.bytes().await.expect("body");
        (
            status,
            serde_json::from_slice(&bytes).expect("JSON response"),
        )
    }

    /// Runs `name` over GraphQL-over-HTTP and returns `data`.
    async fn graphql(&self, name: &str, vars: Value) -> Value {
        let body = json!({ "operationName": name, "variables": vars }).to_string();
        let (status, v) = self.post("/api/v1/graphql", &body).await;
        assert_eq!(status, 200, "{name}: {v}");
        v["data"].clone()
    }

    /// Independent answer from SQL, as JSON.
    fn sql(&self, query: &str) -> Value {
        let out = graphjin_tests::pg()
            .run_sql(
                &self.dbname,
                &format!("SELECT coalesce(json_agg(x), '[]') FROM ({query}) x"),
            )
            .expect("oracle query");
        serde_json::from_str(&out).expect("oracle JSON")
    }
}

/// HTTP data and typed data agree (typed structs round-trip to the same JSON).
fn same<T: serde::Serialize>(http: &Value, typed: &T) {
    let typed = serde_json::to_value(typed).expect("typed data serializes");
    assert_eq!(http, &typed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_over_http_and_typed() {
    let app = start().await;
    let anon = Auth::anon();

    // listProducts
    let http = app.graphql("listProducts", json!({ "limit": 3 })).await;
    let vars = shop::list_products::Variables {
        limit: Some(3),
        offset: None,
    };
    let typed = shop::list_products::run(&app.db, &anon, &vars)
        .await
        .expect("typed listProducts");
    same(&http, &typed);
    let ids: Vec<i64> = typed.products.iter().map(|p| p.id).collect();
    let oracle = app.sql("SELECT id FROM products ORDER BY created_at DESC LIMIT 3");
    assert_eq!(
        json!(ids),
        oracle
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].clone())
            .collect::<Value>()
    );
    assert_eq!(
        typed.products[0].price.as_str(),
        "55.00",
        "numeric stays exact"
    );
    let cat = typed.products[0].category.as_ref().expect("category");
    assert_eq!(cat.slug, "grinders");

    // getProduct
    let http = app.graphql("getProduct", json!({ "id": 3 })).await;
    let vars = shop::get_product::Variables { id: 3 };
    let typed = shop::get_product::run(&app.db, &anon, &vars)
        .await
        .expect("typed getProduct");
    same(&http, &typed);
    let p = typed.products.expect("product 3 exists");
    assert_eq!(p.name, "Mug 3");
    assert_eq!(p.tags, vec!["organic".to_string(), "sale".to_string()]);
    let reviews = app.sql(
        "SELECT rating, body FROM reviews WHERE product_id = 3 ORDER BY created_at DESC LIMIT 5",
    );
    assert_eq!(p.reviews.len(), reviews.as_array().unwrap().len());
    assert_eq!(json!(p.reviews[0].body), reviews[0]["body"]);

    // searchProducts
    let http = app
        .graphql("searchProducts", json!({ "pattern": "%mug 1%" }))
        .await;
    let typed = shop::search_products::run(
        &app.db,
        &anon,
        &shop::search_products::Variables {
            pattern: "%mug 1%".into(),
        },
    )
    .await
    .expect("typed searchProducts");
    same(&http, &typed);
    let names: Vec<&str> = typed.products.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["Mug 11", "Mug 15", "Mug 19"]);

    // productsByCategory
    let http = app
        .graphql("productsByCategory", json!({ "slug": "tea" }))
        .await;
    let typed = shop::products_by_category::run(
        &app.db,
        &anon,
        &shop::products_by_category::Variables { slug: "tea".into() },
    )
    .await
    .expect("typed productsByCategory");
    same(&http, &typed);
    assert_eq!(typed.categories.len(), 1);
    assert_eq!(typed.categories[0].products.len(), 10);
    assert!(
        typed.categories[0]
            .products
            .windows(2)
            .all(|w| w[0].price.to_f64() <= w[1].price.to_f64())
    );

    // affordableProducts
    let http = app
        .graphql("affordableProducts", json!({ "max_price": 12 }))
        .await;
    assert_eq!(
        http["products"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].clone())
            .collect::<Value>(),
        app.sql(
            "SELECT id FROM products WHERE price <= 12 AND stock > 0 ORDER BY price, id LIMIT 10"
        )
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect::<Value>()
    );

    // productsWithTags
    let http = app
        .graphql("productsWithTags", json!({ "tags": ["organic", "sale"] }))
        .await;
    let vars = shop::products_with_tags::Variables {
        tags: vec!["organic".into(), "sale".into()],
    };
    let typed = shop::products_with_tags::run(&app.db, &anon, &vars)
        .await
        .expect("typed productsWithTags");
    same(&http, &typed);
    assert!(
        !typed.products.is_empty()
            && typed
                .products
                .iter()
                .all(|p| p.tags.contains(&"sale".to_string()))
    );

    // catalogueStats
    let http = app.graphql("catalogueStats", json!({})).await;
    let typed = shop::catalogue_stats::run(&app.db, &anon, &Default::default())
        .await
        .expect("typed stats");
    same(&http, &typed);
    assert_eq!(typed.products[0].count_id, 40);
    assert_eq!(
        typed.products[0].max_price.as_ref().map(|n| n.as_str()),
        Some("55.00")
    );

    // topReviews
    let http = app.graphql("topReviews", json!({})).await;
    let typed = shop::top_reviews::run(&app.db, &anon, &Default::default())
        .await
        .expect("typed topReviews");
    same(&http, &typed);
    assert!(typed.reviews.iter().all(|r| r.rating >= 4));

    // customerOrders
    let http = app
        .graphql("customerOrders", json!({ "customer_id": 5 }))
        .await;
    let typed = shop::customer_orders::run(
        &app.db,
        &anon,
        &shop::customer_orders::Variables { customer_id: 5 },
    )
    .await
    .expect("typed customerOrders");
    same(&http, &typed);
    assert_eq!(typed.orders.len(), 3);
    assert!(typed.orders.iter().all(|o| o.order_items.len() == 2));

    // myOrders: anonymous callers get null, a signed-in customer their own orders.
    let http = app.graphql("myOrders", json!({})).await;
    assert_eq!(http, json!({ "orders": null }));
    let mine = shop::my_orders::run(&app.db, &Auth::user("2"), &Default::default())
        .await
        .expect("typed myOrders");
    let ids: Vec<i64> = mine
        .orders
        .expect("orders for user 2")
        .iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(ids, [2, 22, 42]);

    // orderProducts (many-to-many through order_items)
    let http = app.graphql("orderProducts", json!({ "id": 2 })).await;
    let typed =
        shop::order_products::run(&app.db, &anon, &shop::order_products::Variables { id: 2 })
            .await
            .expect("typed orderProducts");
    same(&http, &typed);
    let expected = app.sql("SELECT DISTINCT p.id FROM order_items i JOIN products p ON p.id = i.product_id WHERE i.order_id = 2 ORDER BY p.id");
    let got: Vec<i64> = typed
        .orders
        .expect("order 2")
        .products
        .iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(
        json!(got),
        expected
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].clone())
            .collect::<Value>()
    );

    // categoryCounts
    let http = app.graphql("categoryCounts", json!({})).await;
    let typed = shop::category_counts::run(&app.db, &anon, &Default::default())
        .await
        .expect("typed counts");
    same(&http, &typed);
    assert!(
        typed
            .categories
            .iter()
            .all(|c| c.products[0].count_id == 10)
    );

    assert_eq!(
        shop::OPERATIONS.len(),
        17,
        "a new operation needs a check here or in `mutations_typed_and_refused_over_http`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals() {
    let app = start().await;
    // Not in the allow list: refused, naming it.
    let (status, v) = app
        .post(
            "/api/v1/graphql",
            r#"{"query":"query dropAll { users { id } }"}"#,
        )
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("dropAll"),
        "{v}"
    );
    // Same name, different text: refused.
    let body =
        json!({"operationName": "topReviews", "query": "query topReviews { reviews { body } }"})
            .to_string();
    let (status, v) = app.post("/api/v1/graphql", &body).await;
    assert_eq!(status, 400);
    assert_eq!(v["errors"][0]["extensions"]["code"], "QUERY_MISMATCH");
    // The listed text with other layout and comments: accepted.
    let text = "query topReviews { # best first\n reviews(where: {rating: {gte: 4}}, order_by: {rating: desc, id: asc}, limit: 5) { rating body product { name } customer { full_name } } }";
    let body = json!({"query": text}).to_string();
    let (status, v) = app.post("/api/v1/graphql", &body).await;
    assert_eq!(status, 200, "{v}");
    // Wrong variable type: 400 naming the variable and the type.
    let (status, v) = app
        .post("/api/v1/rest/getProduct", r#"{"id":"three"}"#)
        .await;
    assert_eq!(status, 400);
    let msg = v["errors"][0]["message"].as_str().unwrap();
    assert!(msg.contains("\"id\"") && msg.contains("bigint"), "{msg}");
    // A required variable (`$id: ID!`) missing or null: 400 naming it, before any SQL.
    for body in [r#"{}"#, r#"{"id":null}"#] {
        let (status, v) = app.post("/api/v1/rest/getProduct", body).await;
        assert_eq!(status, 400, "{body}: {v}");
        let msg = v["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(msg.contains("id"), "{body}: {msg}");
    }
    // A limit taken from a variable is capped by `default_limit` (20 in dev.yml), as in
    // GraphJin: anonymous callers cannot ask for the whole table (40 products).
    let all: i64 = app.sql("SELECT count(*) AS n FROM products")[0]["n"]
        .as_i64()
        .expect("count");
    assert!(all > 20, "the seed must have more products than the cap");
    let data = app.graphql("listProducts", json!({"limit": 1000})).await;
    assert_eq!(
        data["products"].as_array().map(Vec::len),
        Some(20),
        "{data}"
    );
    let data = app.graphql("listProducts", json!({"limit": 3})).await;
    assert_eq!(data["products"].as_array().map(Vec::len), Some(3), "{data}");
    // Malformed JSON and oversize bodies.
    let (status, _) = app.post("/api/v1/graphql", "{\"operationName\":").await;
    assert_eq!(status, 400);
    // A body announced over the limit is refused before any of it is read, and the server
    // closes the connection (the unread rest would make it unusable). Sent by hand, the
    // announced body never written: a client still writing 2 MB when the 413 and the close
    // arrive gets a broken pipe instead of the answer, depending on timing.
    let head = refuse_unsent_body(&app.addr.to_string(), 2 << 20).await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("\r\nconnection: close\r\n"),
        "{head}"
    );
    // Persisted query by hash.
    let op = shop::top_reviews::operation();
    let body = json!({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": op.sha256}}})
        .to_string();
    let (status, v) = app.post("/api/v1/graphql", &body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["reviews"].as_array().map(Vec::len), Some(5));
    // Health.
    let res = app
        .client
        .get(format!("http://{}/health", app.addr))
        .send()
        .await
        .expect("health");
    assert_eq!(res.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutations_typed_and_refused_over_http() {
    let app = start().await;
    let me = Auth::user("4");
    // A review: typed nested input, the preset makes it customer 4's.
    let vars = shop::create_review::Variables {
        data: Some(shop::create_review::DataInput {
            product_id: Some(7),
            rating: Some(5),
            body: Some("Lovely".into()),
        }),
    };
    let made = shop::create_review::run(&app.db, &me, &vars)
        .await
        .expect("createReview");
    let review = &made.reviews[0];
    assert_eq!((review.rating, review.body.as_deref()), (5, Some("Lovely")));
    assert_eq!(review.product.name, "Mug 7");
    let author = app.sql(&format!(
        "SELECT customer_id FROM reviews WHERE id = {}",
        review.id
    ));
    assert_eq!(author[0]["customer_id"], json!(4));

    // Someone else cannot edit or delete it; the author can.
    let edit = |id| shop::update_review::Variables {
        id,
        body: "Edited".into(),
    };
    let other = shop::update_review::run(&app.db, &Auth::user("5"), &edit(review.id))
        .await
        .expect("runs");
    assert!(
        other.reviews.is_none(),
        "a stranger's update touches nothing"
    );
    let mine = shop::update_review::run(&app.db, &me, &edit(review.id))
        .await
        .expect("runs");
    assert_eq!(
        mine.reviews.map(|r| r.body),
        Some(Some("Edited".to_string()))
    );
    let gone = shop::delete_review::run(
        &app.db,
        &me,
        &shop::delete_review::Variables { id: review.id },
    )
    .await
    .expect("delete");
    assert_eq!(gone.reviews.map(|r| r.id), Some(review.id));

    // An order with two lines in one statement.
    let line = |product_id, quantity| shop::place_order::DataOrderItemsInput {
        product_id: Some(product_id),
        quantity: Some(quantity),
        unit_price: Some("9.99".parse().expect("numeric")),
    };
    let vars = shop::place_order::Variables {
        data: Some(shop::place_order::DataInput {
            status: Some("pending".into()),
            order_items: Some(vec![line(1, 2), line(2, 1)]),
        }),
    };
    let order = shop::place_order::run(&app.db, &me, &vars)
        .await
        .expect("placeOrder");
    let items = &order.orders[0].order_items;
    assert_eq!(items.len(), 2);
    assert_eq!(
        (
            items[0].quantity,
            items[0].unit_price.as_str(),
            items[0].product.name.as_str()
        ),
        (2, "9.99", "Coffee 1")
    );

    // Anonymous callers may not write: 401 over HTTP.
    let body = json!({"operationName": "createReview", "variables": {"data": {"product_id": 1, "rating": 1, "body": "x"}}}).to_string();
    let (status, v) = app.post("/api/v1/graphql", &body).await;
    assert_eq!(status, 401, "{v}");
}

/// The example app as it runs: its config's auth and actions, served on a real port.
/// Returns the address and the database URL.
async fn serve_configured(prefix: &str) -> (SocketAddr, String) {
    let url = graphjin_tests::shop_database(prefix);
    let config =
        graphjin_runtime::Config::load(graphjin_tests::workspace_root().join("example-app/config"))
            .expect("example config");
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
    (addr, url)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_from_a_jwt_flows_into_user_id_over_http() {
    let (addr, url) = serve_configured("example_auth").await;
    let client = reqwest::Client::new();
    let call = |body: Value, bearer: Option<String>| {
        let mut req = client
            .post(format!("http://{addr}/api/v1/graphql"))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(t) = bearer {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        async move {
            let res = req.send().await.expect("request");
            let status = res.status().as_u16();
            (
                status,
                serde_json::from_slice::<Value>(&res.bytes().await.expect("body")).expect("JSON"),
            )
        }
    };
    // Signed in as customer 2: their orders.
    let (status, v) = call(json!({"operationName": "myOrders"}), Some(token(2))).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["data"]["orders"],
        json!([{"id": 2, "status": "shipped"}, {"id": 22, "status": "paid"}, {"id": 42, "status": "pending"}])
    );
    // A mutation as customer 6: the preset makes the review theirs.
    let body = json!({"operationName": "createReview", "variables": {"data": {"product_id": 9, "rating": 4, "body": "Solid"}}});
    let (status, v) = call(body, Some(token(6))).await;
    assert_eq!(status, 200, "{v}");
    let id = v["data"]["reviews"][0]["id"].as_i64().expect("review id");
    let owner = graphjin_tests::pg()
        .run_sql(
            url.rsplit('/').next().expect("db name"),
            &format!("SELECT customer_id FROM reviews WHERE id = {id}"),
        )
        .expect("owner");
    assert_eq!(owner, "6");
    // A forged token is refused (auth_fail_block), no token is anonymous.
    let forged = format!("{}x", token(2));
    let (status, v) = call(json!({"operationName": "myOrders"}), Some(forged)).await;
    assert_eq!(status, 401, "{v}");
    let (status, v) = call(json!({"operationName": "myOrders"}), None).await;
    assert_eq!((status, v["data"]["orders"].clone()), (200, Value::Null));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_restock_action_needs_the_cron_secret() {
    let (addr, url) = serve_configured("example_action").await;
    let dbname = url.rsplit('/').next().expect("db name").to_string();
    let low = || {
        graphjin_tests::pg()
            .run_sql(&dbname, "SELECT count(*) FROM products WHERE stock < 5")
            .expect("count")
    };
    let before = low();
    assert_ne!(before, "0", "the seed has products low on stock");
    let call = |secret: Option<&'static str>| {
        let mut req = reqwest::Client::new()
            .post(format!("http://{addr}/api/v1/actions/restock"))
            .header("content-type", "application/json")
            .body(r#"{"amount": 10}"#);
        if let Some(s) = secret {
            req = req.header("x-cron-secret", s);
        }
        async move { req.send().await.expect("request").status().as_u16() }
    };
    assert_eq!(call(None).await, 401);
    assert_eq!(call(Some("wrong")).await, 401);
    assert_eq!(low(), before, "refused calls change nothing");
    assert_eq!(call(Some("webshop-demo-cron-secret")).await, 200);
    assert_eq!(low(), "0", "every product low on stock was restocked");
}

/// Sends a GraphQL POST whose `Content-Length` announces `len` bytes, writes none of them,
/// and returns the response head the server sends back.
async fn refuse_unsent_body(addr: &str, len: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "POST /api/v1/graphql HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {len}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let read = async {
        loop {
            let n = stream.read(&mut buf).await.expect("read");
            head.extend_from_slice(&buf[..n]);
            if n == 0 || head.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("the server answers without waiting for the body");
    String::from_utf8_lossy(&head).into_owned()
}
