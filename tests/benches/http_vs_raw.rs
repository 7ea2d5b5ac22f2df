//! The example webshop's `getProduct` (role `anon`) five ways, in one run, against one
//! throwaway PostgreSQL loaded with the app's schema and seed:
//!
//! - (a) raw: the exact SQL the runtime prepares, as a tokio-postgres prepared statement,
//!   one connection per task, reading the `json` column as raw bytes;
//! - (b) typed: `example_app::get_product::run()` on the runtime's pool with its default
//!   settings (a few connections, calls pipelined on each);
//! - (c) HTTP: the app's router on that pool, served by `axum::serve` on `127.0.0.1:0` in
//!   this process, loaded by keep-alive HTTP/1.1 connections (one hyper
//!   `client::conn::http1` connection per task, no pool in between) posting
//!   `{"operationName":"getProduct",...}`;
//! - (d) `pgbench -M prepared` with the same SQL and as many clients, when pgbench is
//!   found: a second baseline that shares nothing with this process;
//! - (e) raw pipelined: as (a), but the tasks share as many connections as the pool may
//!   open, so tokio-postgres pipelines their calls as the runtime's pool does: the same
//!   trick by hand, the strictest baseline;
//! - (f) HTTP observed: as (c), measured right after it on the same pool, with the log
//!   subscriber installed at `info` writing JSON lines (one per request) to a sink, and
//!   metrics on (a second server whose service has a metrics endpoint); afterwards its
//!   `graphjin_requests_total` must count every request it answered. (c) runs with no
//!   subscriber and no metrics, so (f)/(c) is the cost of observability (goal >= 0.9);
//! - (g) hand-written axum: what one would write without GraphJin, served and loaded over
//!   HTTP exactly as (c): an axum handler that reads the id from the same JSON body, runs
//!   the same prepared statement on as many tokio-postgres connections as the pool may
//!   open (taken in turn, so calls pipeline on each) and answers `{"data":` + PostgreSQL's
//!   JSON text + `}`, byte for byte (c)'s answer. (c)/(g) is what the runtime costs over a
//!   server that knows only this one query (goal >= 0.97).
//!
//! Each side gets a warm-up, then the same duration and concurrency; ids cycle `1..=40`.
//! Every response is checked (HTTP: status 200 and a `{"data":` body). It prints requests/s,
//! p50/p99 latency, errors and CPU time per request (this process: load generator and
//! server; PostgreSQL: the bench's cluster) per side, the ratios HTTP/raw and typed/raw against their
//! goals (0.8 and 0.95), both against (e), and HTTP against (g). It asserts nothing about
//! timing.
//!
//! After them, (c) and (g) are measured again in `BENCH_HTTP_ROUNDS` more rounds (default
//! 2, so 3 in all), the side measured first alternating, and (c)/(g) is printed per round
//! with its median and spread: one run gives the spread the ratio has on this machine.
//!
//! `BENCH_ROUNDS_ONLY=1` measures only (c) against (g), in `1 + BENCH_HTTP_ROUNDS` rounds:
//! the quick way to compare two builds of the runtime on this one figure. The interleaved
//! rounds last `BENCH_SECONDS` after the same warm-up as the main sides unless
//! `BENCH_ROUND_MS` and `BENCH_ROUND_WARMUP_MS` say otherwise: many short rounds expose
//! both sides alike to the machine's slower and faster spells.
//!
//! `cargo bench -p graphjin-tests --bench http_vs_raw`; `BENCH_SECONDS` (default 10) and
//! `BENCH_CONNECTIONS` (default 32) change the duration and concurrency;
//! `BENCH_POOL_SIZE` and `BENCH_PIPELINE_DEPTH` change the pool's `max_size` and
//! `pipeline_depth` (default: `PoolOptions::default()`), and `HAND_CONNS` the connections
//! (g) takes in turn (default: the pool's `max_size`). `PGBENCH` names the pgbench
//! binary (else `$PG_BIN_DIR/pgbench`, the newest `/usr/lib/postgresql/*/bin/pgbench`, or
//! `pgbench` on `PATH`).

use std::fmt::Write as _;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::handwritten::JsonBytes;
use example_app as shop;
use graphjin_pg_tmp::TempPostgres;
use graphjin_runtime::{Auth, Db, PoolOptions, Service};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue};
use hyper_util::rt::TokioIo;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, NoTls, Statement};

#[path = "common/mod.rs"]
mod common;

use common::env::env_number;

/// Counts allocations, so each side's allocations per request can be printed.
#[global_allocator]
static ALLOCATOR: cpu::Counting = cpu::Counting;

/// The database the bench creates in the throwaway cluster.
const DATABASE: &str = "shop_bench";
/// Product ids cycle through `1..=ID_COUNT` (the seed has 40 products).
const ID_COUNT: usize = 40;
/// A hard bound on the requests of one task in one measurement, besides the time.
const MAX_REQUESTS_PER_TASK: usize = 1_000_000;
/// The GraphQL endpoint of the app's router.
const GRAPHQL_PATH: &str = "/api/v1/graphql";
/// The goals, as fractions of the raw rate.
const HTTP_GOAL: f64 = 0.8;
const TYPED_GOAL: f64 = 0.95;
/// The goal for logs and metrics on, as a fraction of HTTP with both off.
const OBSERVED_GOAL: f64 = 0.9;
/// The goal for HTTP, as a fraction of the hand-written axum server (g).
const HANDWRITTEN_GOAL: f64 = 0.97;

fn main() {
    let settings = Settings::from_env();
    let pg = TempPostgres::start().expect("start a throwaway PostgreSQL");
    pg.create_database(DATABASE, None).expect("create database");
    pg.run_sql(DATABASE, shop::SCHEMA_SQL).expect("load schema");
    pg.run_sql(DATABASE, shop::SEED_SQL).expect("load seed");
    let url = pg.url(DATABASE);
    if let Some(pid) = pg.postmaster_pid() {
        cpu::watch_cluster(pid);
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if settings.rounds_only {
        let (http, handwritten, rounds) = runtime.block_on(rounds_only(&url, &settings));
        print_rounds(&http, &handwritten, &rounds);
        drop(runtime);
        pg.stop().expect("stop the throwaway PostgreSQL");
        return;
    }
    let mut sides = runtime.block_on(in_process(&url, &settings));
    // Everything in this process stops before pgbench runs.
    drop(runtime);
    match pgbench_binary() {
        Some(bin) => match pgbench(&bin, &pg, &settings) {
            Ok(row) => sides.pgbench = Some(row),
            Err(e) => println!("(d) pgbench failed: {e}"),
        },
        None => println!("(d) pgbench not found: skipped"),
    }

    print_report(&sides, &settings);
    pg.stop().expect("stop the throwaway PostgreSQL");
}

/// Duration and concurrency, from the environment.
struct Settings {
    seconds: u64,
    warmup_seconds: u64,
    connections: usize,
    pool: PoolOptions,
    /// Extra interleaved rounds of (c) against (g).
    rounds: usize,
    /// Only (c) against (g): no other side.
    rounds_only: bool,
    /// Each interleaved round's length and warm-up (the servers and pool are warm by
    /// then; only the client's connections are new).
    round_ms: u64,
    round_warmup: Duration,
    /// The connections (g) takes in turn.
    hand_conns: usize,
}

impl Settings {
    fn from_env() -> Settings {
        let seconds = env_number("BENCH_SECONDS", 10).max(1);
        let warmup_seconds = (seconds / 5).clamp(1, 3);
        let d = PoolOptions::default();
        let pool = PoolOptions {
            max_size: env_number("BENCH_POOL_SIZE", d.max_size as u64) as usize,
            pipeline_depth: env_number("BENCH_PIPELINE_DEPTH", d.pipeline_depth as u64) as usize,
            ..d
        };
        Settings {
            seconds,
            warmup_seconds,
            connections: env_number("BENCH_CONNECTIONS", 32).max(1) as usize,
            rounds: env_number("BENCH_HTTP_ROUNDS", 2) as usize,
            rounds_only: env_number("BENCH_ROUNDS_ONLY", 0) != 0,
            round_ms: env_number("BENCH_ROUND_MS", seconds * 1000).max(100),
            round_warmup: Duration::from_millis(env_number(
                "BENCH_ROUND_WARMUP_MS",
                warmup_seconds * 1000,
            )),
            hand_conns: env_number("HAND_CONNS", pool.max_size as u64).max(1) as usize,
            pool,
        }
    }

    fn duration(&self) -> Duration {
        Duration::from_secs(self.seconds)
    }

    fn round(&self) -> Duration {
        Duration::from_millis(self.round_ms)
    }

    fn warmup(&self) -> Duration {
        Duration::from_secs(self.warmup_seconds)
    }
}

/// One measured side: what the table prints.
struct Row {
    name: String,
    requests: usize,
    rate: f64,
    p50: Duration,
    p99: Duration,
    errors: usize,
    first_error: Option<String>,
    /// CPU time per request: this process (load generator and server), PostgreSQL's.
    cpu: Option<CpuPerRequest>,
}

/// Every side's row.
struct Sides {
    raw: Row,
    typed: Row,
    http: Row,
    pgbench: Option<Row>,
    pipelined: Row,
    observed: Row,
    handwritten: Row,
    /// (c) and (g) again, in alternating order: one pair per round.
    rounds: Vec<(Row, Row)>,
}

/// The sides measured in this process: raw, typed, HTTP and raw pipelined.
async fn in_process(url: &str, settings: &Settings) -> Sides {
    let raw = raw_workers(url, get_product_sql(), settings.connections).await;
    let options = settings.pool.clone();
    let db = shop::connect(url, options).await.expect("connect the pool");
    let addr = serve(db.clone()).await;
    check_same_data(&raw[0], addr).await;

    let raw_row = measure_side("(a) raw tokio-postgres prepared", raw, settings).await;
    let typed = (0..settings.connections)
        .map(|_| TypedWorker { db: db.clone() })
        .collect();
    let moved = db.pool_stats().moved_total;
    let typed_row = measure_side("(b) typed get_product::run()", typed, settings).await;
    let http = http_workers(addr, settings.connections).await;
    let http_row = measure_side("(c) HTTP POST, hyper http1 client", http, settings).await;
    let moved = db.pool_stats().moved_total - moved;
    println!(
        "(b, c): {moved} reads moved off a lagging connection (run twice) in {} requests",
        typed_row.requests + http_row.requests
    );
    let (handwritten_row, handwritten_addr) = measure_handwritten(url, addr, settings).await;
    let rounds = interleave(addr, handwritten_addr, settings).await;
    let observed_row = measure_observed(db.clone(), settings).await;
    let shared: Vec<Arc<RawWorker>> = raw_workers(url, get_product_sql(), settings.pool.max_size)
        .await
        .into_iter()
        .map(Arc::new)
        .collect();
    let pipelined = (0..settings.connections)
        .map(|i| PipelinedWorker(shared[i % shared.len()].clone()))
        .collect();
    let name = format!("(e) raw pipelined on {} conns", shared.len());
    let pipelined_row = measure_side(&name, pipelined, settings).await;
    Sides {
        raw: raw_row,
        typed: typed_row,
        http: http_row,
        pgbench: None,
        pipelined: pipelined_row,
        observed: observed_row,
        handwritten: handwritten_row,
        rounds,
    }
}

/// `BENCH_ROUNDS_ONLY`: (c), (g), then the interleaved rounds, and nothing else.
async fn rounds_only(url: &str, settings: &Settings) -> (Row, Row, Vec<(Row, Row)>) {
    let db = shop::connect(url, settings.pool.clone())
        .await
        .expect("connect the pool");
    let addr = serve(db.clone()).await;
    let raw = raw_workers(url, get_product_sql(), 1).await;
    check_same_data(&raw[0], addr).await;
    let moved = db.pool_stats().moved_total;
    let http = http_workers(addr, settings.connections).await;
    let http_row = measure_side("(c) HTTP POST, hyper http1 client", http, settings).await;
    let (handwritten_row, handwritten_addr) = measure_handwritten(url, addr, settings).await;
    let rounds = interleave(addr, handwritten_addr, settings).await;
    let stats = db.pool_stats();
    let moved = stats.moved_total - moved;
    let requests: usize = http_row.requests + rounds.iter().map(|(c, _)| c.requests).sum::<usize>();
    println!(
        "(c): {moved} reads moved off a lagging connection (run twice) in {requests} requests; \
         {} connections open, {} opened in all",
        stats.connections, stats.opened_total
    );
    (http_row, handwritten_row, rounds)
}

/// (g): the hand-written axum server on its own connections, checked to answer what the
/// runtime answers, then loaded like (c).
async fn measure_handwritten(
    url: &str,
    ours: SocketAddr,
    settings: &Settings,
) -> (Row, SocketAddr) {
    let conns = raw_workers(url, get_product_sql(), settings.hand_conns).await;
    let addr = handwritten::serve(conns).await;
    let mut theirs = http_workers(addr, 1).await.remove(0);
    let mut mine = http_workers(ours, 1).await.remove(0);
    for id in [1, 3, ID_COUNT] {
        let (a, b) = (mine.post(id).await, theirs.post(id).await);
        assert_eq!(
            a, b,
            "the runtime and the hand-written server answer differently"
        );
    }
    let http = http_workers(addr, settings.connections).await;
    let name = format!("(g) hand-written axum, {} conns", settings.hand_conns);
    (measure_side(&name, http, settings).await, addr)
}

/// (c) against (g) `settings.rounds` more times, the one measured first alternating
/// (the main run measured (c) first), each on fresh connections: the spread of their ratio
/// within one run, on the same servers and pool.
async fn interleave(ours: SocketAddr, theirs: SocketAddr, settings: &Settings) -> Vec<(Row, Row)> {
    let mut rounds = Vec::with_capacity(settings.rounds);
    for round in 0..settings.rounds {
        let g_first = round % 2 == 0;
        let order = if g_first {
            [theirs, ours]
        } else {
            [ours, theirs]
        };
        let mut rows = Vec::with_capacity(2);
        for addr in order {
            let name = if addr == ours { "(c)" } else { "(g)" };
            let workers = http_workers(addr, settings.connections).await;
            let row = measure_after(name, workers, settings.round_warmup, settings.round()).await;
            rows.push(row);
        }
        let (second, first) = (
            rows.pop().expect("two sides"),
            rows.pop().expect("two sides"),
        );
        let (c, g) = if g_first {
            (second, first)
        } else {
            (first, second)
        };
        rounds.push((c, g));
    }
    rounds
}

/// (g): the hand-written server, served on a free loopback port in the background.
mod handwritten {
    use std::net::SocketAddr;

    use super::{GRAPHQL_PATH, RawWorker};

    /// Serves the handler on `conns`.
    pub(super) async fn serve(conns: Vec<RawWorker>) -> SocketAddr {
        let conns = conns.into_iter().map(|w| (w.client, w.statement)).collect();
        let app = super::common::handwritten::router(GRAPHQL_PATH, conns);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        tokio::spawn(async move {
            graphjin_runtime::axum::serve(listener, app)
                .await
                .expect("serve");
        });
        addr
    }
}

/// (f): logs at `info` as JSON to a sink, and metrics on; then checks the metrics counted
/// every request answered.
async fn measure_observed(db: Db, settings: &Settings) -> Row {
    use graphjin_runtime::observe::logging::{self, LogFormat, LogLevel, LogOptions};
    use graphjin_runtime::observe::{Metrics, MetricsEndpoint};
    let options = LogOptions {
        level: LogLevel::Info,
        format: LogFormat::Json,
        ignore_env: true,
    };
    logging::init_with_writer(&options, std::io::sink).expect("install the log subscriber");
    let endpoint = MetricsEndpoint::new(Metrics::new(), "/metrics");
    let addr = serve_service(Service::new(db).metrics(Some(endpoint))).await;
    let http = http_workers(addr, settings.connections).await;
    let row = measure_side("(f) HTTP, info JSON logs + metrics", http, settings).await;

    let text = scrape(addr).await;
    let counted: f64 = text
        .lines()
        .filter(|l| l.starts_with("graphjin_requests_total{operation=\"getProduct\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    // The warm-up's requests count too.
    assert!(
        counted >= row.requests as f64,
        "metrics counted {counted} requests, the side made {}:\n{text}",
        row.requests
    );
    row
}

/// `GET /metrics` of the server at `addr`.
async fn scrape(addr: SocketAddr) -> String {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the server");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(connection);
    let request = hyper::Request::get("/metrics")
        .header(HOST, addr.to_string())
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = sender.send_request(request).await.expect("scrape");
    assert_eq!(response.status(), hyper::StatusCode::OK);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("metrics body")
        .to_bytes();
    String::from_utf8_lossy(&body).into_owned()
}

/// The statement the runtime prepares for `getProduct` as `anon`.
fn get_product_sql() -> &'static str {
    let statement = shop::get_product::operation()
        .for_role("anon")
        .expect("getProduct is compiled for anon");
    assert_eq!(statement.params.len(), 1, "getProduct takes one parameter");
    statement.sql
}

/// Before measuring: the HTTP answer is `{"data":` + the raw statement's bytes + `}`, so
/// the sides do the same work.
async fn check_same_data(raw: &RawWorker, addr: SocketAddr) {
    let row = raw
        .client
        .query_one(&raw.statement, &[&"3"])
        .await
        .expect("raw getProduct");
    let data: JsonBytes<'_> = row.get(0);
    let expected = [b"{\"data\":", data.0, b"}"].concat();
    let mut http = http_workers(addr, 1).await.remove(0);
    let body = http.post(3).await.expect("HTTP getProduct");
    assert_eq!(
        String::from_utf8_lossy(&body),
        String::from_utf8_lossy(&expected),
        "HTTP and raw answers differ"
    );
}

/// One request loop's state: a connection (or a pool handle) of its own.
trait Worker: Send + 'static {
    /// Asks for product `id` and checks the answer; `Err` says what was wrong.
    fn call(&mut self, id: usize) -> impl Future<Output = Result<(), String>> + Send;
}

/// (a): one connection, the statement prepared on it, the ids' bind texts ready.
struct RawWorker {
    client: Client,
    statement: Statement,
}

impl Worker for RawWorker {
    async fn call(&mut self, id: usize) -> Result<(), String> {
        self.call_shared(id).await
    }
}

/// (e): a task's handle on a connection that other tasks share.
struct PipelinedWorker(Arc<RawWorker>);

impl Worker for PipelinedWorker {
    async fn call(&mut self, id: usize) -> Result<(), String> {
        self.0.call_shared(id).await
    }
}

impl RawWorker {
    /// Runs the statement for `id` on this connection (tokio-postgres pipelines concurrent
    /// calls on one client).
    async fn call_shared(&self, id: usize) -> Result<(), String> {
        let id = ID_TEXT[id - 1];
        let row = self
            .client
            .query_one(&self.statement, &[&id])
            .await
            .map_err(|e| e.to_string())?;
        let json: JsonBytes<'_> = row.try_get(0).map_err(|e| e.to_string())?;
        if json.0.is_empty() {
            return Err("empty json".to_owned());
        }
        std::hint::black_box(json);
        Ok(())
    }
}

/// The bind texts of ids `1..=40`, as the runtime sends them.
const ID_TEXT: [&str; ID_COUNT] = [
    "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16", "17",
    "18", "19", "20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "30", "31", "32", "33",
    "34", "35", "36", "37", "38", "39", "40",
];

async fn raw_workers(url: &str, sql: &str, n: usize) -> Vec<RawWorker> {
    let mut workers = Vec::with_capacity(n);
    for _ in 0..n {
        let (client, connection) = tokio_postgres::connect(url, NoTls)
            .await
            .expect("raw connection");
        tokio::spawn(connection);
        let statement = client
            .prepare_typed(sql, &[Type::TEXT])
            .await
            .expect("prepare getProduct");
        workers.push(RawWorker { client, statement });
    }
    workers
}

/// (b): the generated typed call on a shared pool.
struct TypedWorker {
    db: Db,
}

impl Worker for TypedWorker {
    async fn call(&mut self, id: usize) -> Result<(), String> {
        let vars = shop::get_product::Variables { id: id as i64 };
        let data = shop::get_product::run(&self.db, &Auth::anon(), &vars)
            .await
            .map_err(|e| e.to_string())?;
        match data.products {
            Some(product) => {
                std::hint::black_box(product);
                Ok(())
            }
            None => Err(format!("product {id} not found")),
        }
    }
}

/// Serves the app's router on a free loopback port, in the background.
async fn serve(db: Db) -> SocketAddr {
    serve_service(Service::new(db)).await
}

/// Serves the app's router for `service` on a free loopback port, in the background.
async fn serve_service(service: Service) -> SocketAddr {
    let app = shop::router(service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        graphjin_runtime::axum::serve(listener, app)
            .await
            .expect("serve");
    });
    addr
}

/// (c): one keep-alive HTTP/1.1 connection, the request bodies ready.
struct HttpWorker {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
    bodies: Arc<[Bytes]>,
}

impl HttpWorker {
    /// Posts `getProduct` for `id`; the body if the status is 200 and it carries `data`.
    async fn post(&mut self, id: usize) -> Result<Bytes, String> {
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let request = hyper::Request::post(GRAPHQL_PATH)
            .header(HOST, self.host.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(self.bodies[id - 1].clone()))
            .map_err(|e| e.to_string())?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        if status != hyper::StatusCode::OK || !body.starts_with(b"{\"data\":") {
            return Err(format!("{status}: {}", String::from_utf8_lossy(&body)));
        }
        Ok(body)
    }
}

impl Worker for HttpWorker {
    async fn call(&mut self, id: usize) -> Result<(), String> {
        self.post(id).await.map(drop)
    }
}

async fn http_workers(addr: SocketAddr, n: usize) -> Vec<HttpWorker> {
    let bodies: Arc<[Bytes]> = (1..=ID_COUNT)
        .map(|id| {
            Bytes::from(format!(
                r#"{{"operationName":"getProduct","variables":{{"id":{id}}}}}"#
            ))
        })
        .collect();
    let host = HeaderValue::from_str(&addr.to_string()).expect("host header");
    let mut workers = Vec::with_capacity(n);
    for _ in 0..n {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connect to the server");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("HTTP/1.1 handshake");
        tokio::spawn(connection);
        workers.push(HttpWorker {
            sender,
            host: host.clone(),
            bodies: bodies.clone(),
        });
    }
    workers
}

/// A warm-up, then the measurement, with one task per worker.
async fn measure_side<W: Worker>(name: &str, workers: Vec<W>, settings: &Settings) -> Row {
    measure_after(name, workers, settings.warmup(), settings.duration()).await
}

/// `warmup`, then `duration` measured, with one task per worker.
async fn measure_after<W: Worker>(
    name: &str,
    workers: Vec<W>,
    warmup: Duration,
    duration: Duration,
) -> Row {
    let (workers, _) = measure(workers, warmup).await;
    let before = cpu::Sample::now();
    let (_, run) = measure(workers, duration).await;
    let spent = cpu::Sample::now().since(&before);
    let mut row = run.into_row(name);
    row.cpu = Some(spent.per_request(row.requests));
    row
}

pub(crate) use cpu::CpuPerRequest;

/// CPU time spent during a measurement, from `/proc`: this process's, and that of the
/// bench's own PostgreSQL cluster (its postmaster and the processes it started; the
/// backends live as long as the side's connections). Unlike req/s, CPU per request does not depend on what else the
/// machine runs, so it shows where a side's cost is even on a busy machine.
#[allow(unsafe_code)] // The counting allocator.
mod cpu {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    /// The bench cluster's postmaster.
    static POSTMASTER: OnceLock<u32> = OnceLock::new();

    /// Counts the processes of the cluster whose postmaster is `pid` as PostgreSQL's.
    pub(crate) fn watch_cluster(pid: u32) {
        let _ = POSTMASTER.set(pid);
    }

    /// Ticks of `utime + stime` per second (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
    const TICKS_PER_SECOND: u64 = 100;

    /// CPU time, this process and PostgreSQL's.
    pub(crate) struct Sample {
        app: u64,
        postgres: u64,
        allocations: u64,
    }

    /// CPU per request of a side.
    #[derive(Clone, Copy)]
    pub(crate) struct CpuPerRequest {
        pub(crate) app: Duration,
        pub(crate) postgres: Duration,
        /// Heap allocations in this process per request.
        pub(crate) allocations: f64,
    }

    /// Allocations made so far in this process.
    static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

    /// The system allocator, counting allocations (one relaxed add each, for every side
    /// alike).
    pub(crate) struct Counting;

    // SAFETY: every call is passed on to the system allocator unchanged.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            // SAFETY: the caller's contract is passed on.
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: the caller's contract is passed on.
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            // SAFETY: the caller's contract is passed on.
            unsafe { System.alloc_zeroed(layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            // SAFETY: the caller's contract is passed on.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    impl Sample {
        pub(crate) fn now() -> Sample {
            Sample {
                app: super::common::proc_cpu::self_ticks(),
                postgres: POSTMASTER
                    .get()
                    .map_or(0, |&master| super::common::proc_cpu::cluster_ticks(master)),
                allocations: ALLOCATIONS.load(Ordering::Relaxed),
            }
        }

        pub(crate) fn since(&self, before: &Sample) -> Sample {
            Sample {
                app: self.app.saturating_sub(before.app),
                postgres: self.postgres.saturating_sub(before.postgres),
                allocations: self.allocations.saturating_sub(before.allocations),
            }
        }

        pub(crate) fn per_request(&self, requests: usize) -> CpuPerRequest {
            let per = |ticks: u64| {
                Duration::from_secs_f64(
                    ticks as f64 / TICKS_PER_SECOND as f64 / requests.max(1) as f64,
                )
            };
            CpuPerRequest {
                app: per(self.app),
                postgres: per(self.postgres),
                allocations: self.allocations as f64 / requests.max(1) as f64,
            }
        }
    }
}

/// Per-request latencies and failures of one measurement, merged over tasks.
#[derive(Default)]
struct Log {
    latencies: Vec<Duration>,
    errors: usize,
    first_error: Option<String>,
    elapsed: Duration,
}

impl Log {
    fn merge(&mut self, other: Log) {
        self.latencies.extend(other.latencies);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    fn into_row(mut self, name: &str) -> Row {
        self.latencies.sort_unstable();
        let requests = self.latencies.len() + self.errors;
        Row {
            name: name.to_owned(),
            requests,
            rate: requests as f64 / self.elapsed.as_secs_f64(),
            p50: percentile(&self.latencies, 0.50),
            p99: percentile(&self.latencies, 0.99),
            errors: self.errors,
            first_error: self.first_error,
            cpu: None,
        }
    }
}

/// The `q` quantile of sorted `values` (zero when empty).
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Runs every worker in its own task for `duration`; gives the workers back.
async fn measure<W: Worker>(workers: Vec<W>, duration: Duration) -> (Vec<W>, Log) {
    let start = Instant::now();
    let until = start + duration;
    let tasks: Vec<_> = workers
        .into_iter()
        .enumerate()
        .map(|(i, w)| tokio::spawn(request_loop(w, i, until)))
        .collect();
    let mut workers = Vec::with_capacity(tasks.len());
    let mut log = Log::default();
    for task in tasks {
        let (w, task_log) = task.await.expect("request task panicked");
        workers.push(w);
        log.merge(task_log);
    }
    log.elapsed = start.elapsed();
    (workers, log)
}

/// Calls `worker` until `until` (or the request bound), ids cycling from `offset`.
async fn request_loop<W: Worker>(mut worker: W, offset: usize, until: Instant) -> (W, Log) {
    let mut log = Log {
        latencies: Vec::with_capacity(64 * 1024),
        ..Log::default()
    };
    for i in offset..offset + MAX_REQUESTS_PER_TASK {
        let start = Instant::now();
        if start >= until {
            break;
        }
        match worker.call(i % ID_COUNT + 1).await {
            Ok(()) => log.latencies.push(start.elapsed()),
            Err(e) => {
                log.errors += 1;
                log.first_error.get_or_insert(e);
            }
        }
    }
    (worker, log)
}

/// pgbench: `$PGBENCH`, `$PG_BIN_DIR/pgbench`, the newest packaged one, or `PATH`'s.
fn pgbench_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PGBENCH") {
        return Some(PathBuf::from(p));
    }
    if let Some(dir) = std::env::var_os("PG_BIN_DIR") {
        return Some(Path::new(&dir).join("pgbench"));
    }
    let mut packaged: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin/pgbench");
            bin.is_file().then_some((version, bin))
        })
        .collect();
    packaged.sort();
    if let Some((_, bin)) = packaged.pop() {
        return Some(bin);
    }
    let on_path = Command::new("pgbench").arg("--version").output();
    on_path
        .is_ok_and(|o| o.status.success())
        .then(|| PathBuf::from("pgbench"))
}

/// (d): `pgbench -M prepared` with the same SQL (random ids in `1..=40`), a warm-up, then
/// the measured run with per-transaction logs for the percentiles.
fn pgbench(bin: &Path, pg: &TempPostgres, settings: &Settings) -> Result<Row, String> {
    let dir = std::env::temp_dir().join(format!("http_vs_raw_pgbench_{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let result = pgbench_in(&dir, bin, pg, settings);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn pgbench_in(
    dir: &Path,
    bin: &Path,
    pg: &TempPostgres,
    settings: &Settings,
) -> Result<Row, String> {
    let script = dir.join("get_product.sql");
    let sql = get_product_sql().replace("$1", ":id");
    let text = format!("\\set id random(1, {ID_COUNT})\n{sql};\n");
    std::fs::write(&script, text).map_err(|e| e.to_string())?;

    run_pgbench(
        dir,
        bin,
        pg,
        &script,
        settings,
        settings.warmup_seconds,
        false,
    )?;
    let stdout = run_pgbench(dir, bin, pg, &script, settings, settings.seconds, true)?;
    let rate = stdout
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next()?.parse::<f64>().ok())
        .ok_or_else(|| format!("no tps in pgbench's output:\n{stdout}"))?;

    let mut log = Log::default();
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("pgbench_log"))
        {
            read_pgbench_log(&path, &mut log)?;
        }
    }
    log.elapsed = Duration::from_secs(settings.seconds);
    let mut row = log.into_row("(d) pgbench -M prepared");
    row.rate = rate;
    Ok(row)
}

/// Runs pgbench for `seconds` in `dir`; its standard output.
fn run_pgbench(
    dir: &Path,
    bin: &Path,
    pg: &TempPostgres,
    script: &Path,
    settings: &Settings,
    seconds: u64,
    log: bool,
) -> Result<String, String> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir)
        .args(["-n", "-M", "prepared", "-h", pg.host(), "-U", "postgres"])
        .args(["-p", &pg.port().to_string()])
        .args(["-c", &settings.connections.to_string()])
        .args(["-j", &threads.min(settings.connections).to_string()])
        .args(["-T", &seconds.to_string()])
        .arg("-f")
        .arg(script);
    if log {
        cmd.arg("-l");
    }
    let out = cmd
        .arg(DATABASE)
        .output()
        .map_err(|e| format!("running {}: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} exited with {}: {}",
            bin.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Adds one pgbench per-transaction log (`client_id txn_no time_us script_no ...`).
fn read_pgbench_log(path: &Path, log: &mut Log) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    for line in text.lines() {
        match line.split_whitespace().nth(2).and_then(|t| t.parse().ok()) {
            Some(micros) => log.latencies.push(Duration::from_micros(micros)),
            None => {
                log.errors += 1;
                log.first_error.get_or_insert_with(|| line.to_owned());
            }
        }
    }
    Ok(())
}

fn print_report(sides: &Sides, settings: &Settings) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!();
    println!(
        "getProduct (anon), ids 1..={ID_COUNT}: {} connections per side, {} s each after a {} s warm-up",
        settings.connections, settings.seconds, settings.warmup_seconds
    );
    println!(
        "runtime pool (b, c): max_size {}, pipeline_depth {}",
        settings.pool.max_size, settings.pool.pipeline_depth
    );
    println!(
        "{:<36} {:>10} {:>10} {:>9} {:>9} {:>7} {:>12} {:>11} {:>11}",
        "side",
        "requests",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "app µs/req",
        "pg µs/req",
        "allocs/req"
    );
    let rows = [&sides.raw, &sides.typed, &sides.http]
        .into_iter()
        .chain(&sides.pgbench)
        .chain([&sides.pipelined, &sides.observed, &sides.handwritten]);
    for r in rows {
        let (app, pg, allocs) = match r.cpu {
            Some(c) => (
                format!("{:.1}", c.app.as_secs_f64() * 1e6),
                format!("{:.1}", c.postgres.as_secs_f64() * 1e6),
                format!("{:.1}", c.allocations),
            ),
            None => ("-".to_owned(), "-".to_owned(), "-".to_owned()),
        };
        println!(
            "{:<36} {:>10} {:>10.0} {:>9.3} {:>9.3} {:>7} {:>12} {:>11} {:>11}",
            r.name,
            r.requests,
            r.rate,
            r.p50.as_secs_f64() * 1e3,
            r.p99.as_secs_f64() * 1e3,
            r.errors,
            app,
            pg,
            allocs
        );
        if let Some(e) = &r.first_error {
            println!("    first error: {e}");
        }
    }
    println!();
    let Sides {
        raw,
        typed,
        http,
        pgbench,
        pipelined,
        observed,
        handwritten,
        rounds,
    } = sides;
    println!("{}", ratio("HTTP / raw ", http, raw, Some(HTTP_GOAL)));
    println!("{}", ratio("typed / raw", typed, raw, Some(TYPED_GOAL)));
    println!("{}", ratio("HTTP / raw pipelined ", http, pipelined, None));
    println!("{}", ratio("typed / raw pipelined", typed, pipelined, None));
    println!(
        "{}",
        ratio("HTTP observed / HTTP", observed, http, Some(OBSERVED_GOAL))
    );
    println!(
        "{}",
        ratio(
            "HTTP / hand-written axum",
            http,
            handwritten,
            Some(HANDWRITTEN_GOAL)
        )
    );
    if let Some(pgbench) = pgbench {
        println!("{}", ratio("HTTP / pgbench", http, pgbench, None));
        println!("{}", ratio("raw / pgbench", raw, pgbench, None));
        println!(
            "{}",
            ratio("hand-written axum / pgbench", handwritten, pgbench, None)
        );
    }
    if !rounds.is_empty() {
        print_rounds(http, handwritten, rounds);
    }
    println!(
        "note: this machine has {cores} cores, shared by the load generator, the server and \
         PostgreSQL; the ratios compare sides under that same contention."
    );
}

/// (c) against (g) in each round (the main run first), then the ratio's median and spread.
fn print_rounds(http: &Row, handwritten: &Row, rounds: &[(Row, Row)]) {
    println!();
    println!("HTTP (c) against hand-written axum (g), round by round (same servers, same pool):");
    let app_us = |r: &Row| r.cpu.map_or(f64::NAN, |c| c.app.as_secs_f64() * 1e6);
    let pg_us = |r: &Row| r.cpu.map_or(f64::NAN, |c| c.postgres.as_secs_f64() * 1e6);
    let mut ratios = Vec::with_capacity(rounds.len() + 1);
    let all = std::iter::once((http, handwritten)).chain(rounds.iter().map(|(c, g)| (c, g)));
    for (i, (c, g)) in all.enumerate() {
        let r = c.rate / g.rate;
        ratios.push(r);
        let first = if i % 2 == 0 { "(c) first" } else { "(g) first" };
        println!(
            "  round {}, {first}: (c) {:.0} req/s, {:.1} app + {:.1} pg µs/req; (g) {:.0} req/s, {:.1} app + {:.1} pg µs/req; (c)/(g) = {r:.3}",
            i + 1,
            c.rate,
            app_us(c),
            pg_us(c),
            g.rate,
            app_us(g),
            pg_us(g),
        );
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    let verdict = if median >= HANDWRITTEN_GOAL {
        "met"
    } else {
        "NOT met"
    };
    println!(
        "HTTP / hand-written axum over {} rounds: median {median:.3}, min {:.3}, max {:.3}  (goal >= {HANDWRITTEN_GOAL:.2}: {verdict})",
        ratios.len(),
        ratios[0],
        ratios[ratios.len() - 1],
    );
}

fn ratio(label: &str, side: &Row, base: &Row, goal: Option<f64>) -> String {
    let r = side.rate / base.rate;
    let mut line = format!("{label} = {r:.3}");
    if let Some(goal) = goal {
        let verdict = if r >= goal { "met" } else { "NOT met" };
        let _ = write!(line, "  (goal >= {goal:.2}: {verdict})");
    }
    line
}
