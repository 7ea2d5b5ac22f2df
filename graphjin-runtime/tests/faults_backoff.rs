//! During an outage the pool does not try one connection per call: with the database
//! gone (a proxy in front of it cuts every connection and closes new ones), 200 calls
//! cause a handful of connection attempts (backing off from 100 ms, one at a time), each
//! call fails with a 503 within its wait, and once the database is back calls succeed
//! again without a restart.

mod common;
mod faults_common;

use std::time::{Duration, Instant};

use common::pg;
use faults_common::{OPS, Proxy, fault_database, op};
use graphjin_runtime::{Auth, Db, Error, PoolOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_costs_a_few_connection_attempts_not_one_per_call() {
    let name = fault_database(pg());
    let proxy = Proxy::start(pg().port()).await;
    let db = Db::connect(
        &proxy.url(&name),
        OPS,
        PoolOptions {
            max_size: 4,
            wait_timeout: Some(Duration::from_millis(500)),
            connect_timeout: Some(Duration::from_secs(1)),
            ..PoolOptions::default()
        },
    )
    .await
    .expect("connect");
    db.execute(op("readB"), &Auth::anon(), None)
        .await
        .expect("works before the outage");

    proxy.down();
    let before = proxy.accepts();
    let failed_before = db.pool_stats().failed_total;
    let started = Instant::now();
    // 200 calls over about two seconds, ten at a time.
    let mut outcomes = Vec::new();
    for _ in 0..20 {
        let batch: Vec<_> = (0..10)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move {
                    let started = Instant::now();
                    let result = db.execute(op("readB"), &Auth::anon(), None).await;
                    (started.elapsed(), result.map(drop))
                })
            })
            .collect();
        for call in batch {
            outcomes.push(call.await.expect("call task"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let outage = started.elapsed();
    let attempts = proxy.accepts() - before;
    let stats = db.pool_stats();

    assert_eq!(outcomes.len(), 200);
    for (took, result) in &outcomes {
        let e = result.as_ref().expect_err("the database is gone");
        assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");
        assert_eq!(e.status().as_u16(), 503);
        // Its wait (500 ms) plus scheduling at most; most fail at once.
        assert!(
            *took < Duration::from_millis(1300),
            "a call took {took:?}: {e}"
        );
    }
    let message = outcomes[199].1.as_ref().unwrap_err().to_string();
    assert!(message.contains("the pool tries again in"), "{message}");
    // Backing off from 100 ms, doubling: a handful over the outage, far fewer than 200.
    assert!(
        (1..=15).contains(&attempts),
        "{attempts} connection attempts in {outage:?} for 200 calls (pool: {stats:?})"
    );
    assert!(stats.failed_total > failed_before, "{stats:?}");
    assert!(
        stats.failed_total - failed_before <= 15,
        "failed attempts: {stats:?}"
    );

    // The database is back: calls succeed again, within the longest backoff.
    proxy.up();
    let back = Instant::now();
    let mut recovered = None;
    while back.elapsed() < Duration::from_secs(10) {
        if db.execute(op("readB"), &Auth::anon(), None).await.is_ok() {
            recovered = Some(back.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recovered = recovered.expect("calls succeed once the database is back");
    assert!(recovered < Duration::from_secs(6), "{recovered:?}");
    for _ in 0..20 {
        db.execute(op("readB"), &Auth::anon(), None)
            .await
            .expect("the pool is whole again");
    }
}
