//! The connection pool against a real PostgreSQL: calls share a few connections (pipelined),
//! connections open only when the open ones are busy, quick calls avoid a connection stalled
//! by a slow statement, room is bounded by `max_size × pipeline_depth` with a wait timeout,
//! and closed connections are replaced.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use graphjin_runtime::{Auth, Db, Error, OpKind, Operation, Param, PoolOptions, RoleStatement};
use serde::{Deserialize, Serialize};

/// Sleeps `$1` seconds and answers with the backend's process id.
const NAP_SQL: &str =
    r#"SELECT json_build_object('pid', pg_backend_pid()) AS "__root" FROM pg_sleep($1::float8)"#;

static NAP: &[Operation] = &[Operation {
    name: "nap",
    kind: OpKind::Query,
    query: "query nap($seconds: Float!) { nap }",
    sha256: "",
    roles: &[RoleStatement {
        role: "anon",
        sql: NAP_SQL,
        params: &[Param {
            name: "seconds",
            pg_type: "float8",
            builtin: false,
            default: None,
        }],
    }],
    constraints: &[],
}];

#[derive(Serialize)]
struct Vars {
    seconds: f64,
}

#[derive(Deserialize)]
struct Nap {
    pid: i32,
}

async fn connect(max_size: usize, pipeline_depth: usize, wait: Duration) -> Db {
    let options = PoolOptions {
        max_size,
        pipeline_depth,
        wait_timeout: Some(wait),
        ..PoolOptions::default()
    };
    Db::connect(&pg().url(&fresh_database()), NAP, options)
        .await
        .expect("connect")
}

async fn nap(db: &Db, seconds: f64) -> Result<i32, Error> {
    let data: Nap = db.run(&NAP[0], &Auth::anon(), &Vars { seconds }).await?;
    Ok(data.pid)
}

#[tokio::test]
async fn calls_one_after_another_use_one_connection() {
    let db = connect(4, 8, Duration::from_secs(5)).await;
    let mut pids = Vec::new();
    for _ in 0..5 {
        pids.push(nap(&db, 0.0).await.expect("nap"));
    }
    pids.dedup();
    assert_eq!(pids.len(), 1, "an idle connection is reused: {pids:?}");
}

#[tokio::test]
async fn concurrent_calls_share_at_most_max_size_connections() {
    let db = connect(2, 8, Duration::from_secs(10)).await;
    let calls: Vec<_> = (0..12)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { nap(&db, 0.2).await })
        })
        .collect();
    let mut per_backend: HashMap<i32, usize> = HashMap::new();
    for call in calls {
        let pid = call.await.expect("task").expect("nap");
        *per_backend.entry(pid).or_default() += 1;
    }
    // 12 overlapping calls do not fit one connection's 8, and may not open a third.
    assert_eq!(per_backend.len(), 2, "max_size backends: {per_backend:?}");
    assert!(
        per_backend.values().all(|&n| n <= 8),
        "at most pipeline_depth calls on one connection at once: {per_backend:?}"
    );
    assert_eq!(per_backend.values().sum::<usize>(), 12);
}

#[tokio::test]
async fn quick_calls_do_not_queue_behind_a_slow_one() {
    let db = connect(2, 8, Duration::from_secs(5)).await;
    let slow = {
        let db = db.clone();
        tokio::spawn(async move { nap(&db, 1.5).await })
    };
    // Longer than the default stall_after (100 ms): the slow call's connection is stalled.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let quick = nap(&db, 0.0).await.expect("quick nap");
    let slow = slow.await.expect("task").expect("slow nap");
    assert_ne!(
        quick, slow,
        "the quick call went to another connection instead of queueing behind the slow one"
    );
}

#[tokio::test]
async fn a_full_pool_times_out_with_an_error_naming_its_limits() {
    let db = connect(1, 2, Duration::from_millis(200)).await;
    let long: Vec<_> = (0..2)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { nap(&db, 1.5).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let e = nap(&db, 0.0).await.expect_err("no room for a third call");
    let message = e.to_string();
    assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");
    assert!(
        message.contains("1 connections × 2 calls in flight"),
        "{message}"
    );
    for call in long {
        call.await
            .expect("task")
            .expect("the calls in flight finish");
    }
    nap(&db, 0.0).await.expect("room again once they end");
}

#[tokio::test]
async fn a_closed_connection_is_replaced() {
    let db = connect(1, 4, Duration::from_secs(5)).await;
    let first = nap(&db, 0.0).await.expect("nap");
    terminate(first);
    let mut replaced = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Ok(pid) = nap(&db, 0.0).await {
            replaced = Some(pid);
            break;
        }
    }
    let replaced = replaced.expect("a call succeeds on a new connection");
    assert_ne!(replaced, first);
}

#[tokio::test]
async fn a_call_cancelled_while_opening_leaves_the_room_free() {
    let db = connect(1, 1, Duration::from_secs(2)).await;
    let first = nap(&db, 0.0).await.expect("nap");
    terminate(first);
    // Wait until the pool sees the connection closed, then cancel a call while it opens
    // the replacement.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cancelled = tokio::time::timeout(Duration::from_micros(1), nap(&db, 0.0)).await;
    assert!(cancelled.is_err(), "the call was cancelled");
    // With max_size 1, a leaked "opening" count would leave no room to open: this would time out.
    let pid = nap(&db, 0.0)
        .await
        .expect("the pool opens a connection again");
    assert_ne!(pid, first);
}

/// Ends backend `pid` from another session.
fn terminate(pid: i32) {
    let out = pg()
        .run_sql("postgres", &format!("SELECT pg_terminate_backend({pid})"))
        .expect("terminate the backend");
    assert!(out.contains('t'), "terminated: {out}");
}
