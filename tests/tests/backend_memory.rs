//! PostgreSQL's backends keep the memory a call freed for the next call: a pooled
//! connection's backend does not unmap and fault its working memory back in on every
//! call (glibc's trim threshold, settled once per connection: see the runtime's
//! `pool/setup.rs`). Counted from the backends' own minor page faults in `/proc`, so the
//! test needs the database on this machine, as every test cluster here is.

// The futures of `Db::execute` nest deeply enough to need more than the default.
#![recursion_limit = "256"]

use std::time::Duration;

use graphjin_pg_tmp::{StartOptions, TempPostgres};
use graphjin_runtime::Auth;
use serde_json::json;

/// Minor page faults so far of every backend connected to `dbname` but the one asking.
fn backend_faults(pg: &TempPostgres, dbname: &str) -> u64 {
    let pids = pg
        .run_sql(
            "postgres",
            &format!(
                "SELECT pid FROM pg_stat_activity WHERE datname = '{dbname}' AND pid <> pg_backend_pid()"
            ),
        )
        .expect("pg_stat_activity");
    pids.lines()
        .filter_map(|l| l.trim().parse::<u32>().ok())
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .map(|stat| {
            // Field 10, minflt, counted after the command name's closing parenthesis.
            let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
            rest.split_whitespace()
                .nth(7)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum()
}

#[tokio::test]
async fn a_signed_in_call_does_not_fault_its_memory_back_in() {
    // A server started as from a UTF-8 login, as production servers are: under `LC_ALL=C`
    // (every other test cluster) the backend's allocations happened not to cross the line.
    let pg = TempPostgres::start_with(StartOptions {
        server_locale: Some("C.UTF-8".to_owned()),
        ..StartOptions::default()
    })
    .expect("start PostgreSQL");
    let dbname = "shop";
    pg.create_database(dbname, None).expect("create database");
    let sql = graphjin_tests::workspace_root().join("example-app/db");
    pg.run_sql_file(dbname, &sql.join("schema.sql"))
        .expect("schema");
    pg.run_sql_file(dbname, &sql.join("seed.sql"))
        .expect("seed");
    // A shop of production's shape: tables large enough for index scans, vacuumed.
    pg.run_sql(
        dbname,
        "INSERT INTO customers (id, email, full_name) SELECT i, 'c' || i || '@x.test', 'C ' || i FROM generate_series(21, 50000) i;
         INSERT INTO products (id, name, description, price, stock, category_id) SELECT i, 'P' || i, 'd', 1, 1, 1 + i % 4 FROM generate_series(41, 50000) i;
         INSERT INTO reviews (product_id, customer_id, rating, body) SELECT 41 + i % 49000, 21 + i % 49000, 1 + i % 5, 'b' FROM generate_series(1, 200000) i;
         VACUUM ANALYZE;",
    )
    .expect("grow the shop");
    let url = pg.url(dbname);
    // The example app's operations and roles, as the load test runs them
    // (example-app/config/loadtest.yml over dev.yml).
    let config = graphjin_tests::workspace_root().join("example-app/config");
    let read = |name: &str| std::fs::read_to_string(config.join(name)).expect("example config");
    let allow = read("allow.list");
    let dir = graphjin_tests::shop_config(
        "backend_memory",
        &allow,
        &read("loadtest.yml").replace("inherits: prod", "inherits: base"),
    );
    std::fs::write(dir.join("base.yml"), read("dev.yml")).expect("base.yml");
    let db = graphjin_tests::connect_project(&dir, &url)
        .await
        .expect("connect");
    let op = db.operation("getProduct").expect("getProduct");
    let call = |who: Auth, id: usize| {
        let vars = json!({ "id": id });
        let db = &db;
        async move {
            let bytes =
                tokio::time::timeout(Duration::from_secs(20), db.execute(op, &who, Some(&vars)))
                    .await
                    .expect("answered in time")
                    .expect("getProduct");
            let answer: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
            assert_eq!(answer["products"]["id"], json!(id), "{answer}");
        }
    };
    // Warm: the connections are open and their statements planned, anonymous calls
    // first, as the load test makes them.
    for id in 0..400 {
        call(Auth::anon(), id % 40 + 1).await;
    }
    for id in 1..=40 {
        call(Auth::user("2"), id).await;
    }
    const CALLS: u64 = 400;
    let before = backend_faults(&pg, dbname);
    for i in 0..CALLS {
        call(Auth::user("2"), usize::try_from(i % 40).expect("small") + 1).await;
    }
    let faults = backend_faults(&pg, dbname) - before;
    println!("page faults per signed-in call: {faults} in {CALLS} calls");
    // Unsettled, the backend faulted 7 pages back in on every call (2,800 in 400).
    assert!(
        faults < CALLS / 4,
        "{faults} page faults in {CALLS} calls: the backend returns its memory to the kernel after each call"
    );
}
