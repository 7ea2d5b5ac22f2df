//! `statement_mode: unnamed` with a roles query: the role statement (its `$user_id` sent as
//! the type learned at start-up) and the one-round-trip statement for signed-in callers
//! are sent unnamed and answer what `prepared` answers, for every kind of caller. (The
//! example app, which `example-app/tests/pgbouncer.rs` runs behind PgBouncer, has no roles
//! query.)

use std::time::Duration;

use graphjin_runtime::{Auth, Db, PoolOptions, StatementMode};
use serde_json::{Value, json};

const CONFIG: &str = r#"
roles_query: "SELECT * FROM customers WHERE id = $user_id"
default_block: true
roles:
  - name: anon
    tables:
      - name: products
        query:
          limit: 5
          columns: [id, name, price]
  - name: user
    tables:
      - name: orders
        query:
          filters: ["{ customer_id: { eq: $user_id } }"]
      - name: products
        query:
          columns: [id, name, price]
  - name: admin
    match: "email = 'customer1@shop.test'"
    tables:
      - name: orders
        query:
          limit: 50
      - name: products
        query:
          columns: [id, name, price]
"#;

const ALLOW_LIST: &str = r#"
query orders {
  orders(order_by: { id: asc }, limit: 100) { id customer_id }
}

query ordersUpTo($n: Int) {
  orders(order_by: { id: asc }, limit: $n) { id customer_id }
}

query productsNamed($name: String) {
  products(where: { name: { ilike: $name } }, order_by: { id: asc }, limit: 3) { id name }
}
"#;

/// The project compiled at test time, connected with `mode`.
async fn connect(name: &str, url: &str, mode: StatementMode) -> Db {
    let dir = graphjin_tests::shop_config(name, ALLOW_LIST, CONFIG);
    let (_, compiled) = graphjin_tests::compile_project(&dir);
    let table = graphjin_tests::leak_compiled(&compiled);
    let options = PoolOptions {
        statement_mode: mode,
        ..PoolOptions::default()
    };
    Db::connect_with_roles(url, table.operations, table.role_query, options)
        .await
        .expect("connect")
}

async fn call(db: &Db, name: &str, who: &Auth, vars: Option<Value>) -> Value {
    let op = db.operation(name).expect("operation");
    let bytes = tokio::time::timeout(Duration::from_secs(20), db.execute(op, who, vars.as_ref()))
        .await
        .expect("answered in time")
        .unwrap_or_else(|e| panic!("{name} as {who:?}: {e}"));
    serde_json::from_slice(&bytes).expect("JSON")
}

/// Every kind of caller, each operation: the answers.
async fn answers(db: &Db) -> Vec<Value> {
    let mut out = Vec::new();
    let callers = [
        Auth::anon(),
        Auth::user("2"),
        Auth::user("1"),
        Auth::user("999999"),
        Auth::user("2").with_role("admin"),
    ];
    for who in &callers {
        out.push(call(db, "orders", who, None).await);
        out.push(call(db, "ordersUpTo", who, Some(json!({"n": 100}))).await);
        out.push(call(db, "productsNamed", who, Some(json!({"name": "%a%"}))).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unnamed_mode_answers_every_caller_as_prepared_does() {
    let url = graphjin_tests::shop_database("statement_mode");
    let prepared = connect("statement_mode_prepared", &url, StatementMode::Prepared).await;
    let unnamed = connect("statement_mode_unnamed", &url, StatementMode::Unnamed).await;

    let expected = answers(&prepared).await;
    // What each caller gets, so the comparison below is not between two empty answers.
    assert_eq!(expected[0]["orders"], Value::Null, "anon: orders blocked");
    let own = expected[3]["orders"].as_array().expect("user 2's orders");
    assert!(own.len() == 3 && own.iter().all(|o| o["customer_id"] == json!(2)));
    assert_eq!(
        expected[7]["orders"].as_array().map(Vec::len),
        Some(50),
        "admin"
    );
    assert_eq!(expected[9]["orders"], Value::Null, "no row: anon");

    // Concurrently, so calls share (pipeline on) the unnamed pool's connections.
    let runs: Vec<_> = (0..8)
        .map(|_| {
            let db = unnamed.clone();
            tokio::spawn(async move { answers(&db).await })
        })
        .collect();
    for run in runs {
        assert_eq!(run.await.expect("task"), expected);
    }
}
