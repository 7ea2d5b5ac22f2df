//! Batched subscription polling: 10,000 in-process subscribers of one operation, each with
//! its own user id (a builtin parameter, so 10,000 distinct batch rows), on a throwaway
//! PostgreSQL. Runs the same subscribers under two settings, one after the other: one
//! statement for the whole poll on one connection (`batch_size` = subscribers), then the
//! default split (`batch_size` 5,000, `poll_connections` 2), or what `BENCH_BATCH_SIZE` and
//! `BENCH_POLL_CONNECTIONS` ask. For each it prints the SQL executions per poll (the
//! poller's counter, cross-checked with PostgreSQL's own statement log), the poll's wall
//! time with and without changes over several polls (min, median, max), and the memory per
//! subscriber; and as a baseline, the same results read with one execution of the single
//! statement per subscriber on one connection (sequential and pipelined). Asserts only the
//! executions per poll and that every subscriber received every change.
//!
//! `cargo bench -p graphjin-runtime --bench subs_batch` (`BENCH_SUBSCRIBERS` changes the
//! count; default 10000).

use std::io::{Read, Seek, SeekFrom};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use graphjin_runtime::subs::{SubsOptions, SubsStats, Subscriptions};
use graphjin_runtime::types::RawJson;
use graphjin_runtime::{Auth, Batch, Db, OpKind, Operation, Param, PoolOptions, RoleStatement};

const SQL: &str = r#"SELECT json_build_object('products', (SELECT coalesce(json_agg(__sj."json"), '[]') FROM (SELECT json_build_object('id', t0."id", 'stock', t0."stock") AS "json" FROM "products" AS t0 WHERE t0."owner_id" = $1::bigint ORDER BY t0."id") AS __sj)) AS "__root""#;
const BATCH_SQL: &str = r#"SELECT __b."__sub" AS "sub", json_build_object('products', (SELECT coalesce(json_agg(__sj."json"), '[]') FROM (SELECT json_build_object('id', t0."id", 'stock', t0."stock") AS "json" FROM "products" AS t0 WHERE t0."owner_id" = __b."p1"::bigint ORDER BY t0."id") AS __sj)) AS "__root" FROM unnest($1::text[], $2::text[]) AS __b("__sub", "p1")"#;

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

/// What one setting measured.
struct Measured {
    quiet: Vec<Duration>,
    changed: Vec<Duration>,
    executions: u64,
    logged: usize,
    polls: usize,
    per_sub: f64,
    subscribe: Duration,
}

fn spread(v: &[Duration]) -> String {
    let mut v: Vec<f64> = v.iter().map(|d| ms(*d)).collect();
    v.sort_by(f64::total_cmp);
    match (v.first(), v.get(v.len() / 2), v.last()) {
        (Some(lo), Some(mid), Some(hi)) => {
            format!(
                "min {lo:.1} ms, median {mid:.1} ms, max {hi:.1} ms ({} polls)",
                v.len()
            )
        }
        _ => "no polls".to_owned(),
    }
}

/// Subscribes `n` users under `options`, measures quiet and changed polls, unsubscribes.
async fn scenario(
    db: &Db,
    pg: &graphjin_pg_tmp::TempPostgres,
    client: &tokio_postgres::Client,
    n: usize,
    options: SubsOptions,
) -> Measured {
    let chunks = n.div_ceil(options.batch_size) as u64;
    client
        .batch_execute("VACUUM ANALYZE products")
        .await
        .expect("vacuum");
    let subs = Subscriptions::new(db.clone(), options);
    let rss_before = rss();
    let started = Instant::now();
    // 64 at a time, so the start-up futures of one batch reuse the last one's memory.
    let mut streams = Vec::with_capacity(n);
    for chunk in (1..=n).collect::<Vec<_>>().chunks(64) {
        let mut batch: Vec<_> = chunk
            .iter()
            .map(|i| subs.subscribe_raw(&OPS[0], &Auth::user(i.to_string()), None))
            .collect();
        let ok = join_all(batch.iter_mut().map(|s| s.recv()))
            .await
            .iter()
            .filter(|r| matches!(r, Some(Ok(_))))
            .count();
        assert_eq!(ok, batch.len(), "every first result arrives");
        streams.append(&mut batch);
    }
    let subscribe = started.elapsed();
    while subs.stats().subscribers < n {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let per_sub = rss().saturating_sub(rss_before) as f64 / n as f64;

    // Polls without changes: nothing sent.
    let log = pg.log_file().to_path_buf();
    next_poll(&subs).await; // skip a poll that may have started before everyone joined
    let offset = log_len(&log);
    let mut quiet = Vec::new();
    let mut executions = 0;
    for _ in 0..7 {
        let s = next_poll(&subs).await;
        quiet.push(s.last_poll);
        assert_eq!(s.last_poll_executions, chunks, "one execution per chunk");
        executions = s.last_poll_executions;
    }
    // The server writes its log a moment after the statement.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let logged = log_count(&log, offset, "FROM unnest(");

    // A change for everyone, three times: every subscriber gets each.
    let mut changed = Vec::new();
    for _ in 0..3 {
        // Right after a poll, so the next one sees the change in all its chunks.
        next_poll(&subs).await;
        // Vacuumed at once, so the polls measure delivering changes rather than index
        // entries of dead rows piling up (autovacuum would catch up later).
        client
            .batch_execute("UPDATE products SET stock = stock + 1")
            .await
            .expect("update");
        client
            .batch_execute("VACUUM products")
            .await
            .expect("vacuum");
        let s = next_poll(&subs).await;
        changed.push(s.last_poll);
        let received = join_all(streams.iter_mut().map(|s| s.recv()))
            .await
            .iter()
            .filter(|r| matches!(r, Some(Ok(_))))
            .count();
        assert_eq!(received, n, "every subscriber got the change");
    }
    subs.shutdown();
    drop(streams);
    Measured {
        quiet,
        changed,
        executions,
        logged,
        polls: 7,
        per_sub,
        subscribe,
    }
}

#[tokio::main]
async fn main() {
    let env = |key: &str| {
        std::env::var(key)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
    };
    let n = env("BENCH_SUBSCRIBERS").unwrap_or(10_000);
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
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    let every = Duration::from_millis(500);
    let defaults = SubsOptions::default();
    let split = SubsOptions {
        poll_every: every,
        batch_size: env("BENCH_BATCH_SIZE").unwrap_or(defaults.batch_size),
        poll_connections: env("BENCH_POLL_CONNECTIONS").unwrap_or(defaults.poll_connections),
        ..SubsOptions::default()
    };
    let single = SubsOptions {
        poll_every: every,
        batch_size: n,
        poll_connections: 1,
        ..SubsOptions::default()
    };
    println!(
        "subs_batch: {n} subscribers of one subscription, distinct user ids, poll every {every:?}"
    );
    let mut first = true;
    for (label, options) in [("one statement per poll", single), ("split", split)] {
        let (size, conns) = (options.batch_size, options.poll_connections);
        let m = scenario(&db, pg, &client, n, options).await;
        println!("  {label}: batch_size {size}, poll_connections {conns}");
        println!(
            "    subscribe + first result (single executions, 64 at a time): {:.0} ms",
            ms(m.subscribe)
        );
        println!(
            "    SQL executions per poll: poller counter {}; PostgreSQL's statement log: {} batch executions in {} polls (and the start of the next, if it began)",
            m.executions, m.logged, m.polls
        );
        println!("    poll wall time, nothing changed: {}", spread(&m.quiet));
        println!(
            "    poll wall time, every result changed (all {n} delivered each time): {}",
            spread(&m.changed)
        );
        if first {
            println!(
                "    memory: {:.0} bytes per subscriber (stream, queue, poller entry)",
                m.per_sub
            );
            first = false;
        }
        // The log is read a moment after the last poll; the next may have begun.
        let (least, most) = (m.polls, m.polls + 1);
        assert!(
            (least * m.executions as usize..=most * m.executions as usize).contains(&m.logged),
            "PostgreSQL saw the poller's executions"
        );
    }

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
    println!(
        "  baseline, the single statement {n}x on one connection: sequential {:.1} ms, pipelined {:.1} ms",
        ms(sequential),
        ms(pipelined),
    );
}
