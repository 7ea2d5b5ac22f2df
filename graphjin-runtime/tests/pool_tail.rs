//! The pool's steadier tail against a real PostgreSQL: a read pipelined behind a slow
//! statement moves to another connection once its connection has lagged several times the
//! pace at which it answered before, long before `stall_after` (here 30 s).

mod common;

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

async fn nap(db: &Db, seconds: f64) -> Result<i32, Error> {
    let data: Nap = db.run(&NAP[0], &Auth::anon(), &Vars { seconds }).await?;
    Ok(data.pid)
}

/// Whether a statement of database `name` is sleeping in `pg_sleep` right now.
fn sleeping_in(name: &str) -> bool {
    let out = pg()
        .run_sql(
            "postgres",
            &format!(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = '{name}' \
                 AND state = 'active' AND query LIKE '%pg_sleep%'"
            ),
        )
        .expect("pg_stat_activity");
    out.lines().any(|l| l.trim() == "1")
}

#[tokio::test]
async fn a_read_behind_a_slow_head_moves_long_before_stall_after() {
    let name = fresh_database();
    let options = PoolOptions {
        max_size: 2,
        pipeline_depth: 8,
        wait_timeout: Some(Duration::from_secs(5)),
        stall_after: Duration::from_secs(30),
        ..PoolOptions::default()
    };
    let db = Db::connect(&pg().url(&name), NAP, options)
        .await
        .expect("connect");
    // Calls one after another: one connection, answering at a quick pace.
    for _ in 0..20 {
        nap(&db, 0.0).await.expect("quick nap");
    }
    assert_eq!(db.pool_stats().connections, 1, "{:?}", db.pool_stats());

    let slow = {
        let db = db.clone();
        tokio::spawn(async move { nap(&db, 3.0).await })
    };
    // Until PostgreSQL runs the slow statement (bounded).
    let mut running = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if sleeping_in(&name) {
            running = true;
            break;
        }
    }
    assert!(
        running,
        "the slow statement never showed in pg_stat_activity"
    );

    // The only open connection has room and is not stalled (30 s): the read is pipelined
    // behind the slow statement, and a second connection starts opening.
    let quick = tokio::time::timeout(Duration::from_millis(2500), nap(&db, 0.0))
        .await
        .expect("the read waited for the slow statement instead of moving")
        .expect("quick nap");
    assert!(
        !slow.is_finished(),
        "the read came back before the slow statement ended"
    );
    let stats = db.pool_stats();
    assert!(stats.moved_total >= 1, "the read moved: {stats:?}");
    let slow = slow.await.expect("task").expect("slow nap");
    assert_ne!(
        quick, slow,
        "the read's answer came from another connection"
    );
}
