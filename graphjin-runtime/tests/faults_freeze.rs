//! A server that does not answer: start-up against a listener that accepts and never
//! writes fails within the connect timeout with a clear message; a PostgreSQL frozen with
//! SIGSTOP under load bounds every call by its deadline (each fails with a 503 or 504,
//! none waits for the server), readiness says 503, and after SIGCONT everything resumes.
//! The cluster is this test's own (freezing the shared one would stall the other tests),
//! and a guard sends SIGCONT even when an assertion fails.

mod common;
mod faults_common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{get, serve};
use faults_common::{Frozen, OPS, fault_database, op};
use graphjin_pg_tmp::TempPostgres;
use graphjin_runtime::{Auth, Db, Error, PoolOptions, Service};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(1);
const CONNECT: Duration = Duration::from_millis(500);

fn options() -> PoolOptions {
    PoolOptions {
        max_size: 4,
        statement_timeout: Some(LIMIT),
        connect_timeout: Some(CONNECT),
        health_timeout: Duration::from_millis(500),
        wait_timeout: Some(Duration::from_secs(1)),
        ..PoolOptions::default()
    }
}

#[tokio::test]
async fn start_up_against_a_silent_server_fails_within_the_connect_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    // Accepts, keeps the sockets open, never writes a byte.
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let started = Instant::now();
    let e = Db::connect(&format!("postgres://app@{addr}/shop"), OPS, options())
        .await
        .expect_err("nothing answers");
    let took = started.elapsed();
    silent.abort();
    assert!(took < Duration::from_secs(2), "failed after {took:?}");
    assert!(matches!(e, Error::Connect { .. }), "{e:?}");
    let message = e.to_string();
    assert!(
        message.contains(&format!("postgres://app@{addr}/shop"))
            && message.contains("no answer within the connect timeout (500 ms)"),
        "{message}"
    );
}

/// What one call under load ended with, and how long it took.
struct Outcome {
    took: Duration,
    result: Result<(), Error>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_server_bounds_every_call_and_everything_resumes() {
    let pg = TempPostgres::start().expect("a cluster of this test's own");
    let name = fault_database(&pg);
    let url = pg.url(&name);
    let db = Db::connect(&url, OPS, options()).await.expect("connect");
    let base = serve(Service::new(db.clone())).await;

    let running = Arc::new(AtomicBool::new(true));
    let load: Vec<_> = (0..12)
        .map(|i| {
            let (db, running) = (db.clone(), running.clone());
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                let mut n = 0;
                while running.load(Ordering::SeqCst) {
                    let started = Instant::now();
                    let result = if i % 4 == 0 {
                        n += 1;
                        let vars = json!({ "tag": format!("w{i}-{n}") });
                        db.execute(op("addRow"), &Auth::anon(), Some(&vars)).await
                    } else {
                        db.execute(op("readB"), &Auth::anon(), None).await
                    };
                    let failed = result.is_err();
                    outcomes.push(Outcome {
                        took: started.elapsed(),
                        result: result.map(drop),
                    });
                    if failed {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                outcomes
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    {
        let frozen = Frozen::freeze(&pg);
        // Long enough for the calls' deadline (1 s) and the grace after the cancel (2 s):
        // the silent connections get closed, and new ones fail to open.
        let thaw_at = Instant::now() + Duration::from_secs(4);

        // Start-up against the frozen server: bounded by the connect timeout.
        let started = Instant::now();
        let e = Db::connect(&url, OPS, options())
            .await
            .expect_err("a frozen server does not answer");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert!(e.to_string().contains("connect timeout"), "{e}");

        // Readiness says so within its timeout.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        let r = get(&format!("{base}/health/ready"), &[], None).await;
        assert_eq!(r.status, 503, "{}", r.text);
        assert!(started.elapsed() < Duration::from_millis(1500));

        tokio::time::sleep_until(thaw_at.into()).await;
        drop(frozen);
    }

    // Everything resumes: reads and writes succeed again, readiness is back.
    let thawed = Instant::now();
    let mut resumed = false;
    while thawed.elapsed() < Duration::from_secs(10) {
        let read = db.execute(op("readB"), &Auth::anon(), None).await;
        let write = db
            .execute(op("addRow"), &Auth::anon(), Some(&json!({"tag": "after"})))
            .await;
        if read.is_ok() && write.is_ok() {
            resumed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "resumed {:?} after SIGCONT: {:?}",
        thawed.elapsed(),
        db.pool_stats()
    );
    assert!(resumed, "calls succeed again after SIGCONT");
    let r = get(&format!("{base}/health/ready"), &[], None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    running.store(false, Ordering::SeqCst);

    let (mut ok, mut failed) = (0, 0);
    for task in load {
        for o in task.await.expect("load task") {
            // The call's deadline (1 s) plus scheduling: none waited for the server.
            assert!(
                o.took < LIMIT + Duration::from_millis(800),
                "a call took {:?}: {:?}",
                o.took,
                o.result
            );
            match o.result {
                Ok(()) => ok += 1,
                Err(e) => {
                    let status = e.status().as_u16();
                    assert!(matches!(status, 503 | 504), "{status}: {e}");
                    failed += 1;
                }
            }
        }
    }
    eprintln!("under load: {ok} calls succeeded, {failed} failed");
    assert!(
        ok > 0 && failed > 0,
        "{ok} calls succeeded, {failed} failed"
    );
    let stats = db.pool_stats();
    assert!(
        stats.closed_total >= 1,
        "silent connections were closed: {stats:?}"
    );
    assert!(
        stats.failed_total >= 1,
        "openings failed while frozen: {stats:?}"
    );
    drop(db);
    pg.stop().expect("the cluster stops cleanly after SIGCONT");
}
