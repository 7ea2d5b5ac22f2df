//! `database.statement_mode`: the example webshop's `getProduct` (role `anon`) over HTTP
//! with `prepared` and with `unnamed` statements, in one run, against one throwaway
//! PostgreSQL loaded with the app's schema and seed:
//!
//! - (a) prepared, direct: the default; every statement prepared on every connection, a
//!   call binds and executes it;
//! - (b) unnamed, direct: each call sends its SQL as the unnamed statement with typed
//!   parameters (PostgreSQL parses and plans it every time);
//! - (c) prepared behind PgBouncer in `session` pooling mode, when `/usr/sbin/pgbouncer` is
//!   there: what a PgBouncer set-up that keeps prepared statements costs;
//! - (d) unnamed behind PgBouncer in `transaction` pooling mode: the set-up `unnamed` is
//!   for.
//!
//! Each side is the app's router served by `axum::serve` on `127.0.0.1:0` in this process,
//! loaded by keep-alive HTTP/1.1 connections (one hyper `client::conn::http1` connection
//! per task) posting `{"operationName":"getProduct",...}`, as in `http_vs_raw`. Each gets a
//! warm-up, then the same duration and concurrency; ids cycle `1..=40`; every response is
//! checked (status 200, a `{"data":` body, the same bytes as side (a) gives for that id).
//! It prints requests/s, p50/p99 and errors per side and the ratios unnamed/prepared
//! ((b)/(a), and (d)/(c)). It asserts nothing about timing.
//!
//! `cargo bench -p graphjin-tests --bench statement_mode`; `BENCH_SECONDS` (default 10) and
//! `BENCH_CONNECTIONS` (default 32) change the duration and concurrency.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use example_app as shop;
use graphjin_pg_tmp::TempPostgres;
use graphjin_runtime::{PoolOptions, Service, StatementMode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue};
use hyper_util::rt::TokioIo;

#[path = "common/env.rs"]
mod env;
use env::env_number;

/// The database the bench creates in the throwaway cluster.
const DATABASE: &str = "shop_bench";
/// Product ids cycle through `1..=ID_COUNT` (the seed has 40 products).
const ID_COUNT: usize = 40;
/// The GraphQL endpoint of the app's router.
const GRAPHQL_PATH: &str = "/api/v1/graphql";
/// PgBouncer as Debian installs it.
const PGBOUNCER: &str = "/usr/sbin/pgbouncer";

fn main() {
    let seconds = env_number("BENCH_SECONDS", 10).max(1);
    let connections = env_number("BENCH_CONNECTIONS", 32).max(1) as usize;
    let warmup = Duration::from_secs((seconds / 5).clamp(1, 3));
    let duration = Duration::from_secs(seconds);

    let pg = TempPostgres::start().expect("start a throwaway PostgreSQL");
    pg.create_database(DATABASE, None).expect("create database");
    pg.run_sql(DATABASE, shop::SCHEMA_SQL).expect("load schema");
    pg.run_sql(DATABASE, shop::SEED_SQL).expect("load seed");
    let direct = pg.url(DATABASE);
    let bouncers = match std::path::Path::new(PGBOUNCER).exists() {
        true => Some((
            Bouncer::start("session", pg.port()),
            Bouncer::start("transaction", pg.port()),
        )),
        false => {
            println!("(c), (d): {PGBOUNCER} not found (Debian package pgbouncer): skipped");
            None
        }
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let rows = runtime.block_on(async {
        let mut sides = vec![
            (
                "(a) prepared, direct",
                direct.clone(),
                StatementMode::Prepared,
            ),
            (
                "(b) unnamed, direct",
                direct.clone(),
                StatementMode::Unnamed,
            ),
        ];
        if let Some((session, transaction)) = &bouncers {
            sides.push((
                "(c) prepared, PgBouncer session",
                session.url(DATABASE),
                StatementMode::Prepared,
            ));
            sides.push((
                "(d) unnamed, PgBouncer transaction",
                transaction.url(DATABASE),
                StatementMode::Unnamed,
            ));
        }
        let mut expected: Option<Arc<Vec<Bytes>>> = None;
        let mut rows = Vec::new();
        for (name, url, mode) in sides {
            let options = PoolOptions {
                statement_mode: mode,
                ..PoolOptions::default()
            };
            let db = shop::connect(&url, options)
                .await
                .expect("connect the pool");
            let addr = serve(Service::new(db)).await;
            let mut workers = http_workers(addr, connections).await;
            let answers = Arc::new(answers(&mut workers[0]).await);
            let expected = expected.get_or_insert_with(|| answers.clone()).clone();
            assert_eq!(answers, expected, "{name} answers differently from (a)");
            let (workers, _) = measure(workers, &expected, warmup).await;
            let (_, log) = measure(workers, &expected, duration).await;
            rows.push(log.into_row(name));
        }
        rows
    });
    drop(runtime);
    drop(bouncers);

    println!();
    println!(
        "getProduct (anon) over HTTP, ids 1..={ID_COUNT}: {connections} connections per side, {seconds} s each after a {} s warm-up; pool: PoolOptions::default() but statement_mode",
        warmup.as_secs()
    );
    println!(
        "{:<36} {:>10} {:>10} {:>9} {:>9} {:>7}",
        "side", "requests", "req/s", "p50 ms", "p99 ms", "errors"
    );
    for r in &rows {
        println!(
            "{:<36} {:>10} {:>10.0} {:>9.3} {:>9.3} {:>7}",
            r.name,
            r.requests,
            r.rate,
            r.p50.as_secs_f64() * 1e3,
            r.p99.as_secs_f64() * 1e3,
            r.errors
        );
        if let Some(e) = &r.first_error {
            println!("    first error: {e}");
        }
    }
    println!();
    println!(
        "unnamed / prepared, direct           = {:.3}",
        rows[1].rate / rows[0].rate
    );
    if rows.len() == 4 {
        println!(
            "unnamed txn pool / prepared session  = {:.3}",
            rows[3].rate / rows[2].rate
        );
        println!(
            "unnamed txn pool / prepared direct   = {:.3}",
            rows[3].rate / rows[0].rate
        );
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "note: this machine has {cores} cores, shared by the load generator, the server, PgBouncer and PostgreSQL; the ratios compare sides under that same contention."
    );
    pg.stop().expect("stop the throwaway PostgreSQL");
}

/// A PgBouncer process on a free port, killed (and its folder removed) on drop.
struct Bouncer {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Bouncer {
    /// PgBouncer with `pool_mode` in front of the cluster on `pg_port`, trusting `postgres`.
    fn start(pool_mode: &str, pg_port: u16) -> Bouncer {
        let dir = std::env::temp_dir().join(format!(
            "statement_mode_pgbouncer_{pool_mode}_{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("pgbouncer dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let auth = dir.join("users.txt");
        std::fs::write(&auth, "\"postgres\" \"\"\n").expect("auth file");
        let ini = dir.join("pgbouncer.ini");
        std::fs::write(
            &ini,
            format!(
                "[databases]\n* = host=127.0.0.1 port={pg_port}\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\nauth_type = trust\nauth_file = {}\npool_mode = {pool_mode}\ndefault_pool_size = 20\nmax_client_conn = 500\n",
                auth.display()
            ),
        )
        .expect("pgbouncer.ini");
        let mut cmd = Command::new(PGBOUNCER);
        let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .is_some_and(|v| v.split_whitespace().next() == Some("0"))
        });
        if root {
            // PgBouncer refuses to run as root; it drops to the postgresql package's user.
            cmd.args(["-u", "postgres"]);
        }
        let child = cmd
            .arg(&ini)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run pgbouncer");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "pgbouncer did not listen in 10 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Bouncer { child, port, dir }
    }

    fn url(&self, dbname: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{dbname}", self.port)
    }
}

/// Serves the app's router for `service` on a free loopback port, in the background.
async fn serve(service: Service) -> SocketAddr {
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

/// One keep-alive HTTP/1.1 connection, the request bodies ready.
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

/// Every id's answer, in order.
async fn answers(worker: &mut HttpWorker) -> Vec<Bytes> {
    let mut all = Vec::with_capacity(ID_COUNT);
    for id in 1..=ID_COUNT {
        all.push(worker.post(id).await.expect("getProduct"));
    }
    all
}

/// Per-request latencies and failures of one measurement, merged over tasks.
#[derive(Default)]
struct Log {
    latencies: Vec<Duration>,
    errors: usize,
    first_error: Option<String>,
    elapsed: Duration,
}

/// One measured side.
struct Row {
    name: String,
    requests: usize,
    rate: f64,
    p50: Duration,
    p99: Duration,
    errors: usize,
    first_error: Option<String>,
}

impl Log {
    fn into_row(mut self, name: &str) -> Row {
        self.latencies.sort_unstable();
        let requests = self.latencies.len() + self.errors;
        let at = |q: f64| match self.latencies.len() {
            0 => Duration::ZERO,
            n => self.latencies[((n - 1) as f64 * q).round() as usize],
        };
        Row {
            name: name.to_owned(),
            requests,
            rate: requests as f64 / self.elapsed.as_secs_f64(),
            p50: at(0.50),
            p99: at(0.99),
            errors: self.errors,
            first_error: self.first_error,
        }
    }
}

/// Runs every worker in its own task for `duration`; gives the workers back.
async fn measure(
    workers: Vec<HttpWorker>,
    expected: &Arc<Vec<Bytes>>,
    duration: Duration,
) -> (Vec<HttpWorker>, Log) {
    let start = Instant::now();
    let until = start + duration;
    let tasks: Vec<_> = workers
        .into_iter()
        .enumerate()
        .map(|(i, w)| tokio::spawn(request_loop(w, i, until, expected.clone())))
        .collect();
    let mut workers = Vec::with_capacity(tasks.len());
    let mut log = Log::default();
    for task in tasks {
        let (w, task_log) = task.await.expect("request task panicked");
        workers.push(w);
        log.latencies.extend(task_log.latencies);
        log.errors += task_log.errors;
        if log.first_error.is_none() {
            log.first_error = task_log.first_error;
        }
    }
    log.elapsed = start.elapsed();
    (workers, log)
}

/// Calls `worker` until `until`, ids cycling from `offset`; each answer checked.
async fn request_loop(
    mut worker: HttpWorker,
    offset: usize,
    until: Instant,
    expected: Arc<Vec<Bytes>>,
) -> (HttpWorker, Log) {
    let mut log = Log {
        latencies: Vec::with_capacity(64 * 1024),
        ..Log::default()
    };
    let mut i = offset;
    loop {
        let start = Instant::now();
        if start >= until {
            break;
        }
        let id = i % ID_COUNT + 1;
        i += 1;
        match worker.post(id).await {
            Ok(body) if body == expected[id - 1] => log.latencies.push(start.elapsed()),
            Ok(body) => {
                log.errors += 1;
                log.first_error.get_or_insert_with(|| {
                    format!(
                        "id {id}: a different answer: {}",
                        String::from_utf8_lossy(&body)
                    )
                });
            }
            Err(e) => {
                log.errors += 1;
                log.first_error.get_or_insert(e);
            }
        }
    }
    (worker, log)
}
