//! Read replicas on real servers: a throwaway primary and a streaming replica made from it
//! with `pg_basebackup -R`. Reads run on the replica (its answer says it is in recovery),
//! writes on the primary; a replica stopped under load fails no read and comes back after
//! its restart; a replica whose replay is paused is taken out once it lags more than
//! `max_replica_lag`, and put back when it catches up; read-your-writes sends a writer's
//! reads to the primary.

mod replicas_common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use graphjin_runtime::{Auth, Db, PoolOptions, Service};
use replicas_common::{OPS, Replica, primary, sql, wait_for};
use serde_json::{Value, json};

/// Fast checks and a 1 s lag limit, so the tests take seconds.
fn options() -> PoolOptions {
    PoolOptions {
        max_size: 4,
        replica_check_interval: Duration::from_millis(100),
        max_replica_lag: Duration::from_secs(1),
        connect_backoff_max: Duration::from_millis(200),
        health_timeout: Duration::from_secs(1),
        statement_timeout: Some(Duration::from_secs(10)),
        ..PoolOptions::default()
    }
}

/// Connects in a spawned task: the connect future must be `Send` (servers spawn it).
async fn connect(primary: &str, replica: &str, options: PoolOptions) -> Db {
    let builder = Db::builder(primary, OPS)
        .read_replica(replica, None)
        .options(options);
    tokio::spawn(builder.connect())
        .await
        .expect("connect task")
        .expect("connect")
}

fn in_use(db: &Db) -> bool {
    db.replica_status().first().is_some_and(|r| r.in_use)
}

async fn read(db: &Db, auth: &Auth) -> Value {
    let op = db.operation("readW").expect("readW");
    db.run(op, auth, &()).await.expect("read")
}

async fn write(db: &Db, auth: &Auth, tag: &str) {
    let op = db.operation("addRow").expect("addRow");
    let _: Value = db
        .run(op, auth, &json!({ "tag": tag }))
        .await
        .expect("write");
}

fn has_tag(v: &Value, tag: &str) -> bool {
    v["tags"]
        .as_array()
        .is_some_and(|t| t.iter().any(|x| x == tag))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_run_on_the_replica_and_writes_on_the_primary() {
    let pg = primary();
    let replica = Replica::start(&pg);
    let db = connect(&pg.url("app"), &replica.url(), options()).await;
    wait_for("the replica in use", Duration::from_secs(10), || async {
        in_use(&db)
    })
    .await;

    // The write runs on the primary (the replica refuses writes: it is read-only) ...
    write(&db, &Auth::user("7"), "first").await;
    // ... and the row comes back from a read the replica answered.
    let seen = Arc::new(Mutex::new(Value::Null));
    wait_for(
        "the row read on the replica",
        Duration::from_secs(10),
        || {
            let (db, seen) = (db.clone(), seen.clone());
            async move {
                let v = read(&db, &Auth::anon()).await;
                let found = has_tag(&v, "first");
                *seen.lock().expect("lock") = v;
                found
            }
        },
    )
    .await;
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(
        seen["replica"], true,
        "answered by a server in recovery: {seen}"
    );
    let on_replica = sql(
        &replica.url(),
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'graphjin'",
    )
    .await;
    assert!(
        on_replica.is_some_and(|n| n != "0"),
        "the runtime's pool is connected to the replica"
    );

    // Readiness is the primary's, and says which replicas are in use.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = graphjin_runtime::router(Service::new(db.clone()));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let body = reqwest::Client::new()
        .get(format!("http://{addr}/health/ready"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("GET /health/ready")
        .text()
        .await
        .expect("body");
    let ready: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(ready["status"], "ready", "{ready}");
    let replicas = ready["replicas"].as_array().expect("replicas listed");
    assert_eq!(replicas.len(), 1, "{ready}");
    assert_eq!(replicas[0]["in_use"], true, "{ready}");
    assert!(
        replicas[0]["target"]
            .as_str()
            .is_some_and(|t| t.contains(&replica.url()[11..])),
        "{ready}"
    );
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_your_writes_sends_a_writers_reads_to_the_primary() {
    let pg = primary();
    let replica = Replica::start(&pg);
    let options = PoolOptions {
        read_your_writes: Some(Duration::from_secs(60)),
        ..options()
    };
    let db = connect(&pg.url("app"), &replica.url(), options).await;
    wait_for("the replica in use", Duration::from_secs(10), || async {
        in_use(&db)
    })
    .await;
    // Pause replay, so only the primary can have the write.
    sql(&replica.url(), "SELECT pg_wal_replay_pause()").await;
    let writer = Auth::user("8");
    write(&db, &writer, "mine").await;
    let theirs = read(&db, &writer).await;
    assert_eq!(theirs["replica"], false, "{theirs}");
    assert!(
        has_tag(&theirs, "mine"),
        "the writer sees the write: {theirs}"
    );
    // Someone else still reads on the replica (it has not been out for long enough).
    let other = read(&db, &Auth::user("9")).await;
    assert_eq!(other["replica"], true, "{other}");
    assert!(!has_tag(&other, "mine"), "replay is paused: {other}");
    sql(&replica.url(), "SELECT pg_wal_replay_resume()").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_stopped_under_load_fails_no_read_and_comes_back() {
    let pg = primary();
    let replica = Replica::start(&pg);
    let db = connect(&pg.url("app"), &replica.url(), options()).await;
    wait_for("the replica in use", Duration::from_secs(10), || async {
        in_use(&db)
    })
    .await;

    let stop = Arc::new(AtomicBool::new(false));
    let on_replica = Arc::new(AtomicUsize::new(0));
    let on_primary = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let (db, stop) = (db.clone(), stop.clone());
            let (on_replica, on_primary) = (on_replica.clone(), on_primary.clone());
            let errors = errors.clone();
            tokio::spawn(async move {
                let op = db.operation("readW").expect("readW");
                while !stop.load(Ordering::Relaxed) {
                    match db.run::<_, Value>(op, &Auth::anon(), &()).await {
                        Ok(v) if v["replica"] == true => on_replica.fetch_add(1, Ordering::Relaxed),
                        Ok(_) => on_primary.fetch_add(1, Ordering::Relaxed),
                        Err(e) => {
                            errors.lock().expect("lock").push(e.to_string());
                            0
                        }
                    };
                }
            })
        })
        .collect();
    let count = |c: &Arc<AtomicUsize>| c.load(Ordering::Relaxed);
    wait_for("reads on the replica", Duration::from_secs(10), || async {
        count(&on_replica) > 50
    })
    .await;

    // Stopped under load: the reads in flight there run again on the primary.
    let mut replica = tokio::task::spawn_blocking(move || {
        let mut replica = replica;
        replica.stop();
        replica
    })
    .await
    .expect("stop the replica");
    assert!(!in_use(&db), "taken out: {:?}", db.replica_status());
    let before = count(&on_primary);
    wait_for("reads on the primary", Duration::from_secs(10), || async {
        count(&on_primary) > before + 50
    })
    .await;

    // Restarted: the check puts it back and reads return to it.
    replica = tokio::task::spawn_blocking(move || {
        replica.start_again();
        replica
    })
    .await
    .expect("start the replica again");
    wait_for(
        "the replica back in use",
        Duration::from_secs(20),
        || async { in_use(&db) },
    )
    .await;
    let before = count(&on_replica);
    wait_for(
        "reads back on the replica",
        Duration::from_secs(20),
        || async { count(&on_replica) > before + 50 },
    )
    .await;

    stop.store(true, Ordering::Relaxed);
    for r in readers {
        tokio::time::timeout(Duration::from_secs(15), r)
            .await
            .expect("readers stop")
            .expect("reader");
    }
    let errors = errors.lock().expect("lock");
    assert!(
        errors.is_empty(),
        "{} reads failed, e.g. {:?}\n{}",
        errors.len(),
        errors.first(),
        replica.log_tail()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_replica_is_taken_out_and_put_back() {
    let pg = primary();
    let replica = Replica::start(&pg);
    let db = connect(&pg.url("app"), &replica.url(), options()).await;
    wait_for("the replica in use", Duration::from_secs(10), || async {
        in_use(&db)
    })
    .await;

    // An idle primary is no lag: longer than max_replica_lag without a write, still in.
    let idle_until = tokio::time::Instant::now() + Duration::from_millis(1500);
    while tokio::time::Instant::now() < idle_until {
        assert!(in_use(&db), "idle, still in use: {:?}", db.replica_status());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    sql(&replica.url(), "SELECT pg_wal_replay_pause()").await;
    write(&db, &Auth::anon(), "while paused").await;
    wait_for(
        "the lagging replica taken out",
        Duration::from_secs(10),
        || async { !in_use(&db) },
    )
    .await;
    let status = db.replica_status();
    let reason = status[0].reason.clone().unwrap_or_default();
    assert!(reason.contains("lags"), "{reason}");
    assert!(status[0].lag_ms.is_some_and(|l| l >= 1000), "{status:?}");
    let v = read(&db, &Auth::anon()).await;
    assert_eq!(v["replica"], false, "reads go to the primary: {v}");
    assert!(has_tag(&v, "while paused"), "{v}");

    sql(&replica.url(), "SELECT pg_wal_replay_resume()").await;
    wait_for(
        "the replica back once caught up",
        Duration::from_secs(10),
        || async { in_use(&db) },
    )
    .await;
    let v = read(&db, &Auth::anon()).await;
    assert_eq!(v["replica"], true, "{v}");
    assert!(has_tag(&v, "while paused"), "caught up: {v}");
}
