//! Typed `Db::run()` against a raw tokio-postgres prepared-statement loop, on the same
//! throwaway PostgreSQL, in the same run. Prints throughput ratios; asserts nothing.
//!
//! `cargo bench -p graphjin-runtime --bench run_vs_raw` (set `BENCH_ITERS` to change the
//! number of calls per measurement; default 20000).

use std::time::{Duration, Instant};

use graphjin_runtime::types::{Numeric, RawJson};
use graphjin_runtime::{Auth, Db, OpKind, Operation, Param, PoolOptions, RoleStatement};
use serde::{Deserialize, Serialize};

const SQL: &str = r#"SELECT json_build_object('product', (SELECT json_build_object('id', t0."id", 'name', t0."name", 'price', t0."price") FROM "products" AS t0 WHERE t0."id" = $1::bigint LIMIT 1)) AS "__root""#;

static OPS: &[Operation] = &[Operation {
    name: "getProduct",
    kind: OpKind::Query,
    query: "query getProduct($id: Bigint!) { product(id: $id) { id name price } }",
    sha256: "",
    roles: &[RoleStatement {
        role: "anon",
        sql: SQL,
        params: &[Param {
            name: "id",
            pg_type: "bigint",
            builtin: false,
            default: None,
        }],
    }],
    constraints: &[],
}];

#[derive(Serialize)]
struct Vars {
    id: i64,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Data {
    product: Option<Product>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Product {
    id: i64,
    name: String,
    price: Numeric,
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

async fn raw_loop(client: &tokio_postgres::Client, n: usize, decode: bool) -> Duration {
    let stmt = client
        .prepare_typed(SQL, &[postgres_types::Type::TEXT])
        .await
        .unwrap();
    let start = Instant::now();
    for i in 0..n {
        let id = (1 + i % 100).to_string();
        let row = client.query_one(&stmt, &[&id]).await.unwrap();
        let json: RawJson<'_> = row.get(0);
        if decode {
            let data: Data = serde_json::from_slice(json.0).unwrap();
            std::hint::black_box(data);
        } else {
            std::hint::black_box(json);
        }
    }
    start.elapsed()
}

async fn run_loop(db: &Db, n: usize) -> Duration {
    let auth = Auth::anon();
    let start = Instant::now();
    for i in 0..n {
        let data: Data = db
            .run(
                &OPS[0],
                &auth,
                &Vars {
                    id: 1 + (i % 100) as i64,
                },
            )
            .await
            .unwrap();
        std::hint::black_box(data);
    }
    start.elapsed()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("BENCH_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let pg = graphjin_pg_tmp::shared().expect("throwaway PostgreSQL");
    pg.create_database("bench", None).unwrap();
    pg.run_sql(
        "bench",
        "CREATE TABLE products (id bigint PRIMARY KEY, name text NOT NULL, price numeric(20,2) NOT NULL);
         INSERT INTO products SELECT g, 'product ' || g, g * 1.25 FROM generate_series(1, 100) g;",
    )
    .unwrap();
    let url = pg.url("bench");

    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let db = Db::connect(
        &url,
        OPS,
        PoolOptions {
            max_size: 1,
            ..Default::default()
        },
    )
    .await
    .unwrap();

    // Warm up, then alternate short rounds so machine noise hits all sides alike, and
    // report the median of the per-round ratios.
    raw_loop(&client, n / 10, true).await;
    run_loop(&db, n / 10).await;
    let rounds = 15;
    let per_round = (n / 5).max(1);
    let (mut vs_typed, mut vs_bytes) = (Vec::new(), Vec::new());
    let (mut rb, mut rt, mut t) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for _ in 0..rounds {
        let bytes = raw_loop(&client, per_round, false).await;
        let raw_typed = raw_loop(&client, per_round, true).await;
        let typed = run_loop(&db, per_round).await;
        vs_typed.push(raw_typed.as_secs_f64() / typed.as_secs_f64());
        vs_bytes.push(bytes.as_secs_f64() / typed.as_secs_f64());
        (rb, rt, t) = (rb + bytes, rt + raw_typed, t + typed);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let total = rounds * per_round;
    println!("calls per side: {total} in {rounds} rounds, one connection each");
    println!(
        "raw prepared statement, bytes only : {:>9.0} calls/s",
        rate(total, rb)
    );
    println!(
        "raw prepared statement + serde     : {:>9.0} calls/s",
        rate(total, rt)
    );
    println!(
        "Db::run (typed)                    : {:>9.0} calls/s",
        rate(total, t)
    );
    println!(
        "median ratio run / raw+serde       : {:.3}",
        median(&mut vs_typed)
    );
    println!(
        "median ratio run / raw bytes       : {:.3}",
        median(&mut vs_bytes)
    );
}
