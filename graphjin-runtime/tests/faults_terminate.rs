//! PostgreSQL ends the pool's sessions under load (`pg_terminate_backend`, what a fast
//! restart or an administrator does): no response is a 500. Reads whose connection died
//! run again on another (or answer 503); writes answer 503 `SERVICE_UNAVAILABLE` with
//! `Retry-After: 1` and are never applied twice: every acknowledged row is in the table,
//! no tag is there twice, and there are no more rows than attempts.

mod common;
mod faults_common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{get, pg, post_json, serve};
use faults_common::{OPS, fault_database};
use graphjin_runtime::{Db, PoolOptions, Service};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_sessions_answer_503_or_are_retried_and_writes_never_run_twice() {
    let name = fault_database(pg());
    let url = pg().url(&name);
    let db = Db::connect(
        &url,
        OPS,
        PoolOptions {
            max_size: 4,
            statement_timeout: Some(Duration::from_secs(5)),
            ..PoolOptions::default()
        },
    )
    .await
    .expect("connect");
    let base = serve(Service::new(db.clone())).await;
    let running = Arc::new(AtomicBool::new(true));

    let readers: Vec<_> = (0..12)
        .map(|_| {
            let (base, running) = (base.clone(), running.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                while running.load(Ordering::SeqCst) {
                    let r = get(&format!("{base}/api/v1/rest/readB"), &[], None).await;
                    let retry_after = r.headers.get("retry-after").cloned();
                    answers.push((r.status, r.text, retry_after));
                }
                answers
            })
        })
        .collect();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (base, running) = (base.clone(), running.clone());
            tokio::spawn(async move {
                let mut attempts = Vec::new();
                let mut n = 0;
                while running.load(Ordering::SeqCst) {
                    n += 1;
                    let tag = format!("w{w}-{n}");
                    let body = format!(r#"{{"tag":"{tag}"}}"#);
                    let r = post_json(&format!("{base}/api/v1/rest/addRow"), &body, None).await;
                    let retry_after = r.headers.get("retry-after").cloned();
                    attempts.push((tag, r.status, r.text, retry_after));
                }
                attempts
            })
        })
        .collect();

    // Terminate every session of the pool, again and again.
    let (killer, conn) = tokio_postgres::connect(&pg().url("postgres"), tokio_postgres::NoTls)
        .await
        .expect("the killing session");
    tokio::spawn(conn);
    let kill = format!(
        "SELECT count(pg_terminate_backend(pid))::int FROM pg_stat_activity \
         WHERE datname = '{name}' AND application_name = 'graphjin'"
    );
    let mut terminated = 0;
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let row = killer
            .query_one(kill.as_str(), &[])
            .await
            .expect("terminate");
        terminated += row.get::<_, i32>(0);
    }
    // A moment without terminations: everything works again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    running.store(false, Ordering::SeqCst);
    assert!(terminated >= 10, "sessions terminated: {terminated}");

    let (mut read_ok, mut read_503) = (0, 0);
    for task in readers {
        for (status, text, retry_after) in task.await.expect("reader") {
            match status {
                200 => read_ok += 1,
                503 => {
                    assert!(text.contains("SERVICE_UNAVAILABLE"), "{text}");
                    assert_eq!(retry_after.as_ref().map(|v| v.as_bytes()), Some(&b"1"[..]));
                    read_503 += 1;
                }
                other => panic!("a read answered {other}: {text}"),
            }
        }
    }
    eprintln!("{terminated} sessions terminated; reads: {read_ok} ok, {read_503} 503");
    assert!(read_ok > 100, "reads: {read_ok} ok, {read_503} 503");

    let mut acknowledged = HashSet::new();
    let mut attempted = 0;
    let mut write_503 = 0;
    for task in writers {
        for (tag, status, text, retry_after) in task.await.expect("writer") {
            attempted += 1;
            match status {
                200 => {
                    acknowledged.insert(tag);
                }
                503 => {
                    assert!(text.contains("SERVICE_UNAVAILABLE"), "{text}");
                    assert_eq!(retry_after.as_ref().map(|v| v.as_bytes()), Some(&b"1"[..]));
                    write_503 += 1;
                }
                other => panic!("a write answered {other}: {text}"),
            }
        }
    }
    eprintln!("writes: {} ok, {write_503} 503", acknowledged.len());
    assert!(
        acknowledged.len() > 20,
        "writes: {} ok, {write_503} 503",
        acknowledged.len()
    );

    // Read back: each acknowledged row is there, none twice, no more rows than attempts.
    let rows = pg()
        .run_sql(&name, "SELECT tag FROM w ORDER BY tag")
        .expect("read back");
    let tags: Vec<&str> = rows.lines().collect();
    let unique: HashSet<&str> = tags.iter().copied().collect();
    assert_eq!(unique.len(), tags.len(), "a write was applied twice");
    for tag in &acknowledged {
        assert!(
            unique.contains(tag.as_str()),
            "acknowledged {tag} is missing"
        );
    }
    assert!(
        tags.len() <= attempted,
        "{} rows for {attempted} attempts",
        tags.len()
    );
    assert!(tags.len() >= acknowledged.len());
}
