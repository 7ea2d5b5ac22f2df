//! A signed-in caller's query is one statement: the role statement (`roles_query` +
//! `match`) and the operation's statement for every role it can choose run as one, so a
//! JWT with a roles query costs the same round trip as an anonymous call. Counted with
//! PostgreSQL's own `pg_stat_statements` on a cluster of the test's own, and checked for
//! the answers each role gets (the role suite, `roles.rs`, covers the rules in depth).

use std::time::Duration;

use graphjin_pg_tmp::{StartOptions, TempPostgres};
use graphjin_runtime::{Auth, Db};
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

/// A cluster of this test's own with `pg_stat_statements` loaded, the shop in `shop`.
fn cluster() -> TempPostgres {
    let pg = TempPostgres::start_with(StartOptions {
        settings: vec![
            (
                "shared_preload_libraries".to_owned(),
                "pg_stat_statements".to_owned(),
            ),
            ("pg_stat_statements.track".to_owned(), "all".to_owned()),
        ],
        ..StartOptions::default()
    })
    .expect("start PostgreSQL");
    pg.create_database("shop", None).expect("create database");
    let db = graphjin_tests::workspace_root().join("example-app/db");
    pg.run_sql_file("shop", &db.join("schema.sql"))
        .expect("schema");
    pg.run_sql_file("shop", &db.join("seed.sql")).expect("seed");
    pg.run_sql("shop", "CREATE EXTENSION pg_stat_statements")
        .expect("pg_stat_statements");
    pg
}

async fn call(db: &Db, name: &str, who: &Auth, vars: Option<Value>) -> Value {
    let op = db.operation(name).expect("operation");
    let bytes = tokio::time::timeout(Duration::from_secs(20), db.execute(op, who, vars.as_ref()))
        .await
        .expect("answered in time")
        .unwrap_or_else(|e| panic!("{name} as {who:?}: {e}"));
    serde_json::from_slice(&bytes).expect("JSON")
}

/// Executions per statement text since the last reset: the operations' and role
/// statements (not a new connection's session set-up).
fn executions(pg: &TempPostgres) -> Vec<(i64, String)> {
    let out = pg
        .run_sql(
            "shop",
            "SELECT calls || E'\\t' || regexp_replace(query, '\\s+', ' ', 'g') FROM pg_stat_statements \
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'shop') \
             AND (query LIKE '%json_build_object%' OR query LIKE '%__gj_role%') ORDER BY calls DESC",
        )
        .expect("read pg_stat_statements");
    out.lines()
        .filter_map(|l| {
            let (n, q) = l.split_once('\t')?;
            Some((n.trim().parse().ok()?, q.to_owned()))
        })
        .collect()
}

#[tokio::test]
async fn a_signed_in_query_is_one_statement() {
    let pg = cluster();
    let dir = graphjin_tests::shop_config("signed_in", ALLOW_LIST, CONFIG);
    let db = graphjin_tests::connect_project(&dir, &pg.url("shop"))
        .await
        .expect("connect");
    pg.run_sql("shop", "SELECT pg_stat_statements_reset()")
        .expect("reset");

    // Who gets what: customer 2 is `user` (their own 3 orders), customer 1 matches
    // `admin` (every order, the role's limit caps $n), and an id the roles query finds no
    // row for is `anon` (orders blocked: null), as GraphJin's rolestmt.go decides.
    const ROUNDS: usize = 10;
    for _ in 0..ROUNDS {
        let own = call(&db, "orders", &Auth::user("2"), None).await;
        let own = own["orders"].as_array().expect("user's orders");
        assert_eq!(own.len(), 3, "{own:?}");
        assert!(own.iter().all(|o| o["customer_id"] == json!(2)));

        let all = call(&db, "ordersUpTo", &Auth::user("1"), Some(json!({"n": 100}))).await;
        assert_eq!(all["orders"].as_array().map(Vec::len), Some(50), "admin");

        let nobody = call(&db, "orders", &Auth::user("999999"), None).await;
        assert_eq!(nobody["orders"], Value::Null, "no row: anon, blocked");

        let named = call(
            &db,
            "productsNamed",
            &Auth::user("2"),
            Some(json!({"name": "%a%"})),
        )
        .await;
        assert!(named["products"].as_array().is_some_and(|p| p.len() <= 3));
    }
    // Anonymous calls never ask for a role.
    let anon = call(
        &db,
        "productsNamed",
        &Auth::anon(),
        Some(json!({"name": "%"})),
    )
    .await;
    assert_eq!(anon["products"].as_array().map(Vec::len), Some(3));

    let ran = executions(&pg);
    let total: i64 = ran.iter().map(|(n, _)| n).sum();
    let calls = i64::try_from(4 * ROUNDS + 1).expect("small");
    println!("statements per call: {total} for {calls} calls");
    for (n, q) in &ran {
        println!("  {n:>4}  {}", q.chars().take(120).collect::<String>());
    }
    assert_eq!(
        total, calls,
        "one statement per call, signed-in or not: {ran:#?}"
    );
    assert!(
        !ran.iter()
            .any(|(_, q)| q.starts_with("SELECT COALESCE((SELECT \"__gj_role\"")),
        "the role statement never ran on its own: {ran:#?}"
    );
}

/// The roles query runs once per call, however many times the statement reads the role
/// it chose: PostgreSQL would otherwise copy it wherever the role is read (each `WHEN` of
/// the `CASE` it tests, and the reported role column), three runs here.
#[test]
fn the_roles_query_runs_once_per_call() {
    let pg = cluster();
    let dir = graphjin_tests::shop_config("signed_in_once", ALLOW_LIST, CONFIG);
    let (_, compiled) = graphjin_tests::compile_project(&dir);
    let op = compiled
        .operations()
        .iter()
        .find(|op| op.name == "orders")
        .expect("orders");
    let statement = op.signed_in.as_ref().expect("a one-round-trip statement");
    // Every parameter is the user id `2` here: `orders` reads only `$user_id`.
    let args = vec!["'2'"; statement.params - 1].join(", ");
    let plan = pg
        .run_sql(
            "shop",
            &format!(
                "PREPARE once AS {};\nEXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE once(2{}{args});",
                statement.sql,
                if args.is_empty() { "" } else { ", " },
            ),
        )
        .expect("explain");
    // The operation reads `orders`; only the roles query reads `customers`.
    let lookups: Vec<&str> = plan
        .lines()
        .filter(|l| l.contains(" on customers"))
        .collect();
    assert_eq!(
        lookups.len(),
        1,
        "the roles query once in the plan:\n{plan}"
    );
    assert!(lookups[0].contains("loops=1"), "and run once:\n{plan}");
}

#[tokio::test]
async fn a_role_change_in_the_database_is_seen_by_the_next_call() {
    let pg = cluster();
    let dir = graphjin_tests::shop_config("signed_in_change", ALLOW_LIST, CONFIG);
    let db = graphjin_tests::connect_project(&dir, &pg.url("shop"))
        .await
        .expect("connect");
    let seen = |v: Value| v["orders"].as_array().map(Vec::len);
    assert_eq!(
        seen(call(&db, "orders", &Auth::user("2"), None).await),
        Some(3)
    );
    // Customer 2 takes customer 1's address, and so the admin role: no role is cached.
    pg.run_sql(
        "shop",
        "UPDATE customers SET email = 'old1@shop.test' WHERE id = 1; \
         UPDATE customers SET email = 'customer1@shop.test' WHERE id = 2",
    )
    .expect("update");
    assert_eq!(
        seen(call(&db, "orders", &Auth::user("2"), None).await),
        Some(60)
    );
    assert_eq!(
        seen(call(&db, "orders", &Auth::user("1"), None).await),
        Some(3)
    );
}

/// With `role_cache_ttl`, a role read once is reused for that long: the calls after the
/// first run the role's own statement (no role lookup at all), and a role changed in the
/// database is seen once the time is up, not later.
#[tokio::test]
async fn a_cached_role_is_reused_until_its_ttl_then_read_again() {
    const TTL: Duration = Duration::from_millis(1500);
    let pg = cluster();
    let dir = graphjin_tests::shop_config("signed_in_cache", ALLOW_LIST, CONFIG);
    let options = graphjin_runtime::PoolOptions {
        role_cache_ttl: Some(TTL),
        ..Default::default()
    };
    let db = graphjin_tests::connect_project_with(&dir, &pg.url("shop"), options)
        .await
        .expect("connect");
    pg.run_sql("shop", "SELECT pg_stat_statements_reset()")
        .expect("reset");
    let seen = |v: Value| v["orders"].as_array().map(Vec::len);

    let read_at = std::time::Instant::now();
    for _ in 0..5 {
        assert_eq!(
            seen(call(&db, "orders", &Auth::user("2"), None).await),
            Some(3)
        );
    }
    let ran = executions(&pg);
    let total: i64 = ran.iter().map(|(n, _)| n).sum();
    let looked_up: i64 = ran
        .iter()
        .filter(|(_, q)| q.contains("__gj_role"))
        .map(|(n, _)| n)
        .sum();
    println!("5 calls with the role cache: {total} statements, {looked_up} reading the role");
    assert_eq!(total, 5, "one statement per call: {ran:#?}");
    assert_eq!(
        looked_up, 1,
        "the role was read once, then reused: {ran:#?}"
    );

    // Customer 2 becomes admin in the database.
    pg.run_sql(
        "shop",
        "UPDATE customers SET email = 'old1@shop.test' WHERE id = 1; \
         UPDATE customers SET email = 'customer1@shop.test' WHERE id = 2",
    )
    .expect("update");
    if read_at.elapsed() < TTL / 2 {
        // Within the TTL the cached role still answers (what the setting trades).
        assert_eq!(
            seen(call(&db, "orders", &Auth::user("2"), None).await),
            Some(3),
            "within the TTL the cached role answers"
        );
    }
    tokio::time::sleep(TTL.saturating_sub(read_at.elapsed()) + Duration::from_millis(300)).await;
    assert_eq!(
        seen(call(&db, "orders", &Auth::user("2"), None).await),
        Some(60),
        "after the TTL the new role is read"
    );
}

#[tokio::test]
async fn a_role_set_by_a_trusted_layer_is_used_as_it_is() {
    let pg = cluster();
    let dir = graphjin_tests::shop_config("signed_in_trusted", ALLOW_LIST, CONFIG);
    let db = graphjin_tests::connect_project(&dir, &pg.url("shop"))
        .await
        .expect("connect");
    // Customer 2 is `user` by the roles query; a trusted layer says `admin`.
    let all = call(&db, "orders", &Auth::user("2").with_role("admin"), None).await;
    assert_eq!(all["orders"].as_array().map(Vec::len), Some(60));
}
