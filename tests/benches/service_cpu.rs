//! The router's own cost per request, against the hand-written handler (g) of the serving
//! bench, without sockets or an HTTP client: each request goes to the router as a `tower`
//! call (`oneshot`) on a one-thread runtime, so this process's CPU time is the router's
//! work plus tokio-postgres's (the same for both sides), and PostgreSQL runs in processes
//! of its own. The two sides alternate for `SERVICE_ROUNDS` rounds (default 4) of
//! `BENCH_SECONDS` (default 3) each, after a warm-up and a check that both answer alike.
//!
//! CPU time on a shared machine swings by more than the difference measured here. Run
//! under callgrind, it counts instructions instead, which do not depend on the machine's
//! speed: `SERVICE_ONLY=ours` (or `hand`) measures one side, and the instructions of
//! `service_cpu::run::{{closure}}::{{closure}}` divided by the printed request count are
//! one request's, response read included:
//!
//! ```text
//! cargo bench -p graphjin-tests --bench service_cpu --no-run
//! SERVICE_ONLY=ours SERVICE_ROUNDS=1 valgrind --tool=callgrind target/release/deps/service_cpu-<hash>
//! callgrind_annotate --inclusive=yes callgrind.out.<pid>
//! ```
//!
//! `SERVICE_THREADS=n` runs a multi-thread runtime with `n` workers instead.

#[path = "common/mod.rs"]
mod common;

use common::env::env_number;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::proc_cpu::{cluster_ticks, self_ticks};
use example_app as shop;
use graphjin_pg_tmp::TempPostgres;
use graphjin_runtime::axum::Router;
use graphjin_runtime::axum::body::Body;
use graphjin_runtime::axum::http::{Request, StatusCode, header};
use graphjin_runtime::{PoolOptions, Service};
use http_body_util::BodyExt;
use tokio_postgres::NoTls;
use tokio_postgres::types::Type;
use tower::ServiceExt;

/// The database the bench creates in the throwaway cluster.
const DATABASE: &str = "shop_cpu";
/// The GraphQL path of both routers.
const PATH: &str = "/api/v1/graphql";
/// Product ids cycle through `1..=ID_COUNT` (the seed has 40 products).
const ID_COUNT: usize = 40;
/// Concurrent request loops, as the serving bench's connections.
const TASKS: usize = 32;

fn main() {
    let seconds = env_number("BENCH_SECONDS", 3).max(1);
    let rounds = env_number("SERVICE_ROUNDS", 4) as usize;
    let threads = env_number("SERVICE_THREADS", 1).max(1) as usize;
    let only = std::env::var("SERVICE_ONLY").ok();
    let pg = TempPostgres::start().expect("start a throwaway PostgreSQL");
    pg.create_database(DATABASE, None).expect("create database");
    pg.run_sql(DATABASE, shop::SCHEMA_SQL).expect("load schema");
    pg.run_sql(DATABASE, shop::SEED_SQL).expect("load seed");
    let url = pg.url(DATABASE);
    let master = pg.postmaster_pid().expect("the postmaster's pid");
    let mut builder = match threads {
        1 => tokio::runtime::Builder::new_current_thread(),
        n => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(n);
            b
        }
    };
    let runtime = builder.enable_all().build().expect("tokio runtime");
    runtime.block_on(async {
        let options = PoolOptions::default();
        let conns = options.max_size;
        let db = shop::connect(&url, options)
            .await
            .expect("connect the pool");
        let ours = shop::router(Service::new(db.clone()));
        let theirs = handwritten(&url, conns).await;
        let bodies: Arc<[Bytes]> = (1..=ID_COUNT)
            .map(|id| {
                Bytes::from(format!(
                    r#"{{"operationName":"getProduct","variables":{{"id":{id}}}}}"#
                ))
            })
            .collect();
        let check: Arc<[Bytes]> = Arc::from(&bodies[2..3]);
        let (_, a) = run(&ours, &check, Duration::ZERO).await;
        let (_, b) = run(&theirs, &check, Duration::ZERO).await;
        assert_eq!(a, b, "the two routers answer differently");

        let sides = [("ours", &ours), ("hand", &theirs)];
        let wanted = |name: &str| only.as_deref().is_none_or(|o| o == name);
        let mut total = 0;
        for (name, router) in sides {
            if wanted(name) {
                total += run(router, &bodies, Duration::from_secs(1)).await.0;
            }
        }
        println!("side       requests   req/s  app µs/req  pg µs/req  moved");
        let mut gaps = Vec::new();
        for round in 0..rounds {
            let mut order = sides;
            if round % 2 == 1 {
                order.reverse();
            }
            let mut app = [None; 2];
            for (name, router) in order {
                if !wanted(name) {
                    continue;
                }
                let (before, pg_before) = (self_ticks(), cluster_ticks(master));
                let moved = db.pool_stats().moved_total;
                let start = Instant::now();
                let (n, _) = run(router, &bodies, Duration::from_secs(seconds)).await;
                total += n;
                let per = |ticks: u64| ticks as f64 * 10_000.0 / n as f64;
                let spent = per(self_ticks() - before);
                println!(
                    "{name:<8} {n:>10} {:>7.0} {spent:>11.2} {:>10.2} {:>6}",
                    n as f64 / start.elapsed().as_secs_f64(),
                    per(cluster_ticks(master) - pg_before),
                    db.pool_stats().moved_total - moved,
                );
                app[usize::from(name == "hand")] = Some(spent);
            }
            if let [Some(a), Some(b)] = app {
                gaps.push(a - b);
            }
        }
        if !gaps.is_empty() {
            gaps.sort_by(f64::total_cmp);
            let shown: Vec<String> = gaps.iter().map(|g| format!("{g:.2}")).collect();
            println!(
                "ours - hand, app µs/req, per round (sorted): {}",
                shown.join(", ")
            );
        }
        println!("requests in all: {total}");
    });
    pg.stop().expect("stop the throwaway PostgreSQL");
}

/// Requests from `TASKS` loops until `duration` is over (at least one each); how many,
/// and the last answer of the last loop.
async fn run(router: &Router, bodies: &Arc<[Bytes]>, duration: Duration) -> (usize, Bytes) {
    let until = Instant::now() + duration;
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(TASKS);
    for t in 0..TASKS {
        let router = router.clone();
        let bodies = bodies.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = t;
            loop {
                let request = Request::post(PATH)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(bodies[i % bodies.len()].clone()))
                    .expect("request");
                let response = router.clone().oneshot(request).await.expect("infallible");
                assert_eq!(response.status(), StatusCode::OK);
                let answer = response
                    .into_body()
                    .collect()
                    .await
                    .expect("body")
                    .to_bytes();
                done.fetch_add(1, Ordering::Relaxed);
                i += 1;
                if Instant::now() >= until {
                    break answer;
                }
            }
        }));
    }
    let mut last = Bytes::new();
    for t in tasks {
        last = t.await.expect("request loop");
    }
    (done.load(Ordering::Relaxed), last)
}

/// (g) on `n` connections of its own, `getProduct`'s statement prepared on each.
async fn handwritten(url: &str, n: usize) -> Router {
    let sql = shop::get_product::operation()
        .for_role("anon")
        .expect("getProduct is compiled for anon")
        .sql;
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
        tokio::spawn(connection);
        let statement = client
            .prepare_typed(sql, &[Type::TEXT])
            .await
            .expect("prepare getProduct");
        conns.push((client, statement));
    }
    common::handwritten::router(PATH, conns)
}
