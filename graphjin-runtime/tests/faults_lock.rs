//! A lock on one table does not hold up the operations that do not touch it: while one
//! session holds `LOCK TABLE a IN ACCESS EXCLUSIVE MODE` for longer than `readA`'s time
//! limit, 32 clients keep reading table `b` with short latencies (a read queued behind a
//! blocked statement moves to another connection), `readA` answers 504 `TIMEOUT` naming
//! the operation and its limit, and readiness stays 200. Once the lock is gone, `readA`
//! answers again.

mod common;
mod faults_common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{get, pg, serve};
use faults_common::{OPS, fault_database, op};
use graphjin_runtime::{Auth, Db, PoolOptions, Service};

/// `readA`'s time limit.
const A_LIMIT: Duration = Duration::from_secs(1);
/// How long the lock is held: several times `readA`'s limit.
const LOCK_HELD: Duration = Duration::from_secs(4);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_on_one_table_does_not_hold_up_the_others() {
    let name = fault_database(pg());
    let url = pg().url(&name);
    let db = Db::builder(&url, OPS)
        .options(PoolOptions {
            max_size: 12,
            pipeline_depth: 8,
            statement_timeout: Some(Duration::from_secs(5)),
            health_timeout: Duration::from_millis(500),
            ..PoolOptions::default()
        })
        .operation_timeout("readA", A_LIMIT)
        .connect()
        .await
        .expect("connect");
    let base = serve(Service::new(db.clone())).await;

    let (locker, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("the locking session");
    tokio::spawn(conn);
    locker
        .batch_execute("BEGIN; LOCK TABLE a IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let locked_until = Instant::now() + LOCK_HELD;
    let locked = Arc::new(AtomicBool::new(true));

    // 32 clients reading b for as long as the lock is held.
    let readers: Vec<_> = (0..32)
        .map(|_| {
            let (db, locked) = (db.clone(), locked.clone());
            tokio::spawn(async move {
                let (mut calls, mut slowest) = (0usize, Duration::ZERO);
                while locked.load(Ordering::SeqCst) {
                    let started = Instant::now();
                    db.execute(op("readB"), &Auth::anon(), None)
                        .await
                        .expect("reading b is not held up by the lock on a");
                    slowest = slowest.max(started.elapsed());
                    calls += 1;
                }
                (calls, slowest)
            })
        })
        .collect();

    // Two clients calling readA over HTTP: each call ends at the limit with a 504.
    let a_callers: Vec<_> = (0..2)
        .map(|_| {
            let (base, locked) = (base.clone(), locked.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                while locked.load(Ordering::SeqCst) {
                    let started = Instant::now();
                    let r = get(&format!("{base}/api/v1/rest/readA"), &[], None).await;
                    answers.push((r.status, r.error(), started.elapsed()));
                }
                answers
            })
        })
        .collect();

    // Readiness is polled meanwhile.
    let mut health = Vec::new();
    while Instant::now() < locked_until {
        for path in ["/health", "/health/ready"] {
            let r = get(&format!("{base}{path}"), &[], None).await;
            health.push((path, r.status, r.text));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let stats = db.pool_stats();
    locked.store(false, Ordering::SeqCst);
    locker.batch_execute("COMMIT").await.expect("unlock");

    let mut total = 0;
    let mut slowest = Duration::ZERO;
    for reader in readers {
        let (calls, worst) = reader.await.expect("reader task");
        total += calls;
        slowest = slowest.max(worst);
    }
    eprintln!("reads of b: {total}, slowest {slowest:?}; pool during the lock: {stats:?}");
    assert!(total > 100, "the readers of b kept going: {total} calls");
    // Below readA's limit: no read of b waited for a readA call to time out.
    assert!(
        slowest < Duration::from_millis(900),
        "slowest read of b: {slowest:?} (pool: {stats:?})"
    );

    let mut timeouts = 0;
    for caller in a_callers {
        for (status, (message, code), took) in caller.await.expect("readA task") {
            // A call that began as the lock was released may succeed.
            if status == 200 {
                continue;
            }
            assert_eq!((status, code.as_str()), (504, "TIMEOUT"), "{message}");
            assert!(
                message.contains("\"readA\"") && message.contains("time limit of 1s"),
                "{message}"
            );
            assert!(
                took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
                "a readA call ended after {took:?}"
            );
            timeouts += 1;
        }
    }
    assert!(timeouts >= 4, "readA timed out {timeouts} times");

    assert!(!health.is_empty());
    for (path, status, body) in &health {
        assert_eq!(*status, 200, "{path} during the lock: {body}");
    }

    // The lock is gone: readA answers again (its connections recovered or were replaced).
    let mut answered = None;
    for _ in 0..50 {
        let r = get(&format!("{base}/api/v1/rest/readA"), &[], None).await;
        if r.status == 200 {
            answered = Some(r.json());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let data = answered.expect("readA answers once the lock is released");
    assert_eq!(data["data"]["rows"], 1, "{data}");
}

/// Preparing a statement needs the lock of the tables it reads, so a connection opened
/// during the lock defers `readA` (it runs unprepared there) instead of waiting: reads of
/// `b` that need new connections get them at once, and once the lock is gone `readA`
/// answers on those connections too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_open_during_a_lock_with_the_blocked_statements_deferred() {
    let name = fault_database(pg());
    let url = pg().url(&name);
    // One call per connection: each concurrent read needs a connection of its own.
    let db = Db::builder(&url, OPS)
        .options(PoolOptions {
            max_size: 6,
            pipeline_depth: 1,
            ..PoolOptions::default()
        })
        .operation_timeout("readA", A_LIMIT)
        .connect()
        .await
        .expect("connect");
    assert_eq!(db.pool_stats().opened_total, 1);

    let (locker, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("the locking session");
    tokio::spawn(conn);
    locker
        .batch_execute("BEGIN; LOCK TABLE a IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let blocked = {
        let db = db.clone();
        tokio::spawn(async move { db.execute(op("readA"), &Auth::anon(), None).await })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;

    let started = Instant::now();
    let reads: Vec<_> = (0..4)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move {
                for _ in 0..5 {
                    db.execute(op("readB"), &Auth::anon(), None)
                        .await
                        .expect("read b on a connection opened during the lock");
                }
            })
        })
        .collect();
    for read in reads {
        read.await.expect("read task");
    }
    let took = started.elapsed();
    let during = db.pool_stats();
    assert!(
        took < Duration::from_millis(900),
        "reads of b took {took:?} with a locked (pool: {during:?})"
    );
    // Connections opened (or began to) for them: on a busy machine the reads may all
    // be done on the first one opened before the others finish opening.
    assert!(
        during.opened_total + during.opening as u64 >= 3,
        "connections opened during the lock: {during:?}"
    );
    assert!(during.partial >= 1, "some with readA deferred: {during:?}");
    let e = blocked
        .await
        .expect("readA task")
        .expect_err("readA waits for the lock");
    assert_eq!(e.status().as_u16(), 504, "{e}");

    locker.batch_execute("COMMIT").await.expect("unlock");
    // readA on every connection, the ones opened during the lock included (where it
    // runs unprepared): all answer, with the right data.
    let reads: Vec<_> = (0..6)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { db.execute(op("readA"), &Auth::anon(), None).await })
        })
        .collect();
    for read in reads {
        let data = read.await.expect("task").expect("readA after the lock");
        let data: serde_json::Value = serde_json::from_slice(&data).expect("json");
        assert_eq!(data["rows"], 1, "{data}");
    }
}
