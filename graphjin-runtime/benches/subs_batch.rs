//! Batched subscription polling: 5,000 in-process subscribers of one operation, each with
//! its own user id (a builtin parameter, so 5,000 distinct batch rows), on a throwaway
//! PostgreSQL. Prints, per poll, the SQL executions (the poller's counter, cross-checked
//! with PostgreSQL's own statement log), the poll's wall time with and without changes,
//! and the memory per subscriber; and as a baseline, the same 5,000 results read with
//! 5,000 executions of the single statement on one connection (sequential and pipelined).
//! Asserts only that each poll is one execution.
//!
//! `cargo bench -p graphjin-runtime --bench subs_batch` (`BENCH_SUBSCRIBERS` changes the
//! count; default 5000).

use std::io::{Read, Seek, SeekFrom};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use graphjin_runtime::subs::{SubsOptions, SubsStats, Subscriptions};
use graphjin_runtime::types::RawJson;
use graphjin_runtime::{Auth, Batch, Db, OpKind, Operation, Param, PoolOptions, RoleStatement};

const SQL: &str = r#"SELECT json_build_object('products', (SELECT coalesce(json_agg(__sj."json"), '[]') FROM (SELECT json_build_object('id', t0."id", 'stock', t0."stock") AS "json" FROM "products" AS t0 WHERE t0."owner_id" = $1::bigint ORDER BY t0."id") AS __sj)) AS "__root""#;
const BATCH_SQL: &str = r#"SELECT __b."__sub" AS "sub", json_build_object('products', (SELECT coalesce(json_agg(__sj."json"), '[]') FROM (SELECT json_build_object('id', t0."id", 'stock', t0."stock") AS "json" FROM "products" AS t0 WHERE t0."owner_id" = __b."p1"::bigint ORDER BY t0."id") AS __sj)) AS "__root" FROM json_to_recordset($1::json) AS __b("__sub" text, "p1" text)"#;

static OPS: &[Operation] = &[Operation {
    name: "myStock",
    kind: OpKind::Subscription,
    query: "subscription myStock { products(where: {owner_id: {eq: $user_id}}) { id stock } }",
    sha256: "",
    roles: &[RoleStatement {
        role: "user",
        sql: SQL,
        params: &[Param {
            name: "user_id",
            pg_type: "bigint",
            builtin: true,
            default: None,
        }],
    }],
    constraints: &[],
}];

static BATCHES: &[Batch] = &[Batch {
    operation: "myStock",
    role: "user",
    sql: BATCH_SQL,
}];

/// Resident memory in bytes, from /proc/self/statm.
fn rss() -> u64 {
    let text = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = text
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Lines of the server log from `offset` on that contain `needle`.
fn log_count(path: &std::path::Path, offset: u64, needle: &str) -> usize {
    let mut f = std::fs::File::open(path).expect("server log");
    f.seek(SeekFrom::Start(offset)).expect("seek");
    let mut text = String::new();
    let _ = f.read_to_string(&mut text);
    text.lines().filter(|l| l.contains(needle)).count()
}

fn log_len(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Waits for the next poll to finish and returns the stats after it.
async fn next_poll(subs: &Subscriptions) -> SubsStats {
    let before = subs.stats().polls;
    loop {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let s = subs.stats();
        if s.polls > before {
            return s;
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("BENCH_SUBSCRIBERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    let pg = graphjin_pg_tmp::shared().expect("start PostgreSQL");
    pg.create_database("subs_bench", None).expect("create db");
    pg.run_sql(
        "subs_bench",
        &format!(
            "CREATE TABLE users (id bigint PRIMARY KEY);
             CREATE TABLE products (id bigint PRIMARY KEY, stock integer NOT NULL, owner_id bigint NOT NULL REFERENCES users (id));
             CREATE INDEX ON products (owner_id);
             INSERT INTO users SELECT g FROM generate_series(1, {n}) g;
             INSERT INTO products SELECT g, g % 100, 1 + (g - 1) % {n} FROM generate_series(1, {n} * 2) g;
             ANALYZE;
             ALTER DATABASE subs_bench SET log_statement = 'all';
             ALTER DATABASE subs_bench SET log_parameter_max_length = 0;"
        ),
    )
    .expect("load data");
    let url = pg.url("subs_bench");
    let db = Db::builder(&url, OPS)
        .batches(BATCHES)
        .options(PoolOptions {
            max_size: 8,
            ..PoolOptions::default()
        })
        .connect()
        .await
        .expect("connect");
    let every = Duration::from_millis(1000);
    let subs = Subscriptions::new(
        db,
        SubsOptions {
            poll_every: every,
            ..SubsOptions::default()
        },
    );

    // Subscribe everyone and take their first results.
    let rss_before = rss();
    let started = Instant::now();
    // 64 at a time, so the start-up futures of one batch reuse the last one's memory.
    let mut streams = Vec::with_capacity(n);
    let mut first_ok = 0;
    for chunk in (1..=n).collect::<Vec<_>>().chunks(64) {
        let mut batch: Vec<_> = chunk
            .iter()
            .map(|i| subs.subscribe_raw(&OPS[0], &Auth::user(i.to_string()), None))
            .collect();
        first_ok += join_all(batch.iter_mut().map(|s| s.recv()))
            .await
            .iter()
            .filter(|r| matches!(r, Some(Ok(_))))
            .count();
        streams.append(&mut batch);
    }
    let subscribe_time = started.elapsed();
    while subs.stats().subscribers < n {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let rss_after = rss();
    let per_sub = rss_after.saturating_sub(rss_before) as f64 / n as f64;

    // Polls without changes: one execution each, nothing sent.
    let log = pg.log_file().to_path_buf();
    next_poll(&subs).await; // skip a poll that may have started before everyone joined
    let offset = log_len(&log);
    let mut quiet = Vec::new();
    let mut executions = Vec::new();
    for _ in 0..3 {
        let s = next_poll(&subs).await;
        quiet.push(s.last_poll);
        executions.push(s.last_poll_executions);
    }
    // The server writes its log a moment after the statement.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logged = log_count(&log, offset, "json_to_recordset");

    // A change for everyone: one execution, n results queued.
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
        .batch_execute("UPDATE products SET stock = stock + 1")
        .await
        .expect("update");
    let changed = next_poll(&subs).await;
    let received = join_all(streams.iter_mut().map(|s| s.recv()))
        .await
        .iter()
        .filter(|r| matches!(r, Some(Ok(_))))
        .count();

    // Baseline: the single statement n times on one connection.
    let stmt = client
        .prepare_typed(SQL, &[postgres_types::Type::TEXT])
        .await
        .expect("prepare");
    let ids: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
    let t = Instant::now();
    for id in &ids {
        let row = client.query_one(&stmt, &[id]).await.expect("query");
        let json: RawJson<'_> = row.get(0);
        std::hint::black_box(json);
    }
    let sequential = t.elapsed();
    let t = Instant::now();
    let rows = join_all(ids.iter().map(|id| {
        let (client, stmt) = (&client, &stmt);
        async move { client.query_one(stmt, &[id]).await }
    }))
    .await;
    let pipelined = t.elapsed();
    assert!(rows.iter().all(Result::is_ok));

    let avg = |v: &[Duration]| v.iter().sum::<Duration>() / v.len().max(1) as u32;
    println!(
        "subs_batch: {n} subscribers of one subscription, distinct user ids, poll every {every:?}"
    );
    println!(
        "  subscribe + first result (single executions, 64 at a time): {:.0} ms ({first_ok}/{n} ok)",
        ms(subscribe_time)
    );
    println!(
        "  SQL executions per poll: poller counter {executions:?}; PostgreSQL's statement log: {logged} batch executions in those {} polls",
        quiet.len()
    );
    println!(
        "  poll wall time, nothing changed: avg {:.1} ms ({:?})",
        ms(avg(&quiet)),
        quiet
            .iter()
            .map(|d| format!("{:.1} ms", ms(*d)))
            .collect::<Vec<_>>()
    );
    println!(
        "  poll wall time, every result changed: {:.1} ms, {} execution(s), {received}/{n} results delivered",
        ms(changed.last_poll),
        changed.last_poll_executions
    );
    println!(
        "  baseline, the single statement {n}x on one connection: sequential {:.1} ms ({:.1}x the changed poll), pipelined {:.1} ms ({:.1}x)",
        ms(sequential),
        sequential.as_secs_f64() / changed.last_poll.as_secs_f64(),
        ms(pipelined),
        pipelined.as_secs_f64() / changed.last_poll.as_secs_f64()
    );
    println!(
        "  memory: RSS {:.1} MiB -> {:.1} MiB, {:.0} bytes per subscriber (stream, queue, poller entry)",
        rss_before as f64 / 1048576.0,
        rss_after as f64 / 1048576.0,
        per_sub
    );
    assert!(
        executions.iter().all(|e| *e == 1) && changed.last_poll_executions == 1,
        "expected exactly one execution per poll"
    );
    assert_eq!(
        logged,
        quiet.len(),
        "PostgreSQL saw one batch execution per poll"
    );
    subs.shutdown();
}
