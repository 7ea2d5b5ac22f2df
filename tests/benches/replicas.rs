//! Read replicas under a read-only load: the example webshop's `getProduct` (role `anon`)
//! through `example_app::get_product::run()`, first on the primary alone, then with one
//! streaming replica (made from the throwaway primary with `pg_basebackup -R`, started on a
//! second port) taking the reads, in one run and with the same concurrency.
//!
//! It prints requests/s, p50/p99 and errors per side, the ratio replica/primary, and how
//! many transactions the replica served during its side (from its `pg_stat_database`),
//! which shows the reads really went there. It asserts nothing about timing. On a machine
//! with few cores the primary, the replica and the load share the same CPUs, so the ratio
//! shows the cost of routing rather than the gain of a second server.
//!
//! `cargo bench -p graphjin-tests --bench replicas`; `BENCH_SECONDS` (default 5) and
//! `BENCH_CONNECTIONS` (default 32) change the duration and concurrency.

#[path = "../../graphjin-runtime/tests/replicas_common/mod.rs"]
mod replicas_common;

use std::time::{Duration, Instant};

use example_app as shop;
use graphjin_pg_tmp::TempPostgres;
use graphjin_runtime::{Auth, Db, PoolOptions};
use replicas_common::{Replica, sql, wait_for};

#[path = "common/env.rs"]
mod env;
use env::env_number;

/// The database both servers hold (the replica helper connects to `app`).
const DATABASE: &str = "app";
/// Product ids cycle through `1..=ID_COUNT` (the seed has 40 products).
const ID_COUNT: i64 = 40;

fn main() {
    let seconds = env_number("BENCH_SECONDS", 5).max(1);
    let connections = env_number("BENCH_CONNECTIONS", 32).max(1) as usize;
    let pg = TempPostgres::start().expect("start a throwaway PostgreSQL");
    pg.create_database(DATABASE, None).expect("create database");
    pg.run_sql(DATABASE, shop::SCHEMA_SQL).expect("load schema");
    pg.run_sql(DATABASE, shop::SEED_SQL).expect("load seed");
    let replica = Replica::start(&pg);
    let url = pg.url(DATABASE);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let duration = Duration::from_secs(seconds);
        let warmup = Duration::from_secs(1);

        let alone = shop::connect(&url, PoolOptions::default())
            .await
            .expect("connect the primary");
        load(&alone, connections, warmup).await;
        let primary = load(&alone, connections, duration).await;
        drop(alone);

        let with_replica = shop::db_builder(&url)
            .read_replica(&replica.url(), None)
            .options(PoolOptions::default())
            .connect()
            .await
            .expect("connect the primary and the replica");
        wait_for("the replica in use", Duration::from_secs(20), || async {
            with_replica.replica_status().first().is_some_and(|r| r.in_use)
        })
        .await;
        load(&with_replica, connections, warmup).await;
        let served = "SELECT xact_commit FROM pg_stat_database WHERE datname = 'app'";
        let before = count(sql(&replica.url(), served).await);
        let replicated = load(&with_replica, connections, duration).await;
        // The statistics collector reports with a delay: give it a moment.
        tokio::time::sleep(Duration::from_millis(700)).await;
        let after = count(sql(&replica.url(), served).await);

        println!(
            "read replicas: getProduct (anon) via get_product::run(), {connections} tasks, {seconds} s per side"
        );
        println!(
            "{:<34} {:>10} {:>10} {:>10} {:>8}",
            "side", "req/s", "p50", "p99", "errors"
        );
        primary.print("primary alone");
        replicated.print("primary + 1 replica (reads there)");
        println!(
            "replica/primary: {:.2}x; transactions the replica served in its side: {}",
            replicated.rate / primary.rate,
            after.saturating_sub(before)
        );
    });
    drop(runtime);
    drop(replica);
    pg.stop().expect("stop the throwaway PostgreSQL");
}

/// What one side measured.
struct Side {
    rate: f64,
    p50: Duration,
    p99: Duration,
    errors: usize,
}

impl Side {
    fn print(&self, name: &str) {
        println!(
            "{name:<34} {:>10.0} {:>8.2}ms {:>8.2}ms {:>8}",
            self.rate,
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3,
            self.errors
        );
    }
}

/// `connections` tasks calling `getProduct` on `db` for `duration`.
async fn load(db: &Db, connections: usize, duration: Duration) -> Side {
    let start = Instant::now();
    let until = start + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|t| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(64 * 1024);
                let mut errors = 0;
                let mut i = t as i64;
                while Instant::now() < until {
                    let vars = shop::get_product::Variables {
                        id: i % ID_COUNT + 1,
                    };
                    let began = Instant::now();
                    match shop::get_product::run(&db, &Auth::anon(), &vars).await {
                        Ok(data) if data.products.is_some() => latencies.push(began.elapsed()),
                        _ => errors += 1,
                    }
                    i += 1;
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await.expect("load task");
        latencies.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies
            .get(((latencies.len().saturating_sub(1)) as f64 * q).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    Side {
        rate: (latencies.len() + errors) as f64 / elapsed.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
        errors,
    }
}

fn count(text: Option<String>) -> u64 {
    text.and_then(|t| t.parse().ok()).unwrap_or(0)
}
