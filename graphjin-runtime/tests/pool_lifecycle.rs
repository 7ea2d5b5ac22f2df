//! The pool's lifecycle against a real PostgreSQL: connections older than `max_lifetime`
//! are replaced, idle ones close down to `min_idle`, each new connection runs its session
//! setup (`connection_setup`, `schema`, `statement_timeout`) before serving, PostgreSQL
//! cancels a statement over `statement_timeout`, and `Db::pool_stats` adds up. Waits are
//! bounded polling loops; nothing asserts how long anything took.

mod common;

use std::time::Duration;

use common::*;
use graphjin_runtime::{
    Auth, Db, Error, OpKind, Operation, Param, PoolOptions, PoolStats, RoleStatement,
};
use serde::{Deserialize, Serialize};

/// Sleeps `$1` seconds and answers with the backend's pid and session settings.
const SESSION_SQL: &str = r#"SELECT json_build_object(
    'pid', pg_backend_pid(),
    'lock_timeout', current_setting('lock_timeout'),
    'search_path', current_setting('search_path'),
    'statement_timeout', current_setting('statement_timeout')) AS "__root"
  FROM pg_sleep($1::float8)"#;

static OPS: &[Operation] = &[Operation {
    name: "session",
    kind: OpKind::Query,
    query: "query session($seconds: Float!) { session }",
    sha256: "",
    roles: &[RoleStatement {
        role: "anon",
        sql: SESSION_SQL,
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

#[derive(Deserialize, Debug)]
struct Session {
    pid: i32,
    lock_timeout: String,
    search_path: String,
    statement_timeout: String,
}

async fn session(db: &Db, seconds: f64) -> Result<Session, Error> {
    db.run(&OPS[0], &Auth::anon(), &Vars { seconds }).await
}

async fn connect(database: &str, options: PoolOptions) -> Db {
    Db::connect(&pg().url(database), OPS, options)
        .await
        .expect("connect")
}

/// Connections of `application_name` graphjin to `database`, as PostgreSQL counts them.
async fn backends(database: &str) -> i64 {
    let (client, conn) = tokio_postgres::connect(&pg().url(database), tokio_postgres::NoTls)
        .await
        .expect("observer connects");
    tokio::spawn(conn);
    let row = client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'graphjin'",
            &[&database],
        )
        .await
        .expect("counts");
    row.get(0)
}

/// Polls `check` every 50 ms, up to 15 s, until it holds; returns whether it did.
async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The counters agree with each other.
fn sane(s: &PoolStats) {
    assert!(s.connections <= s.max_size, "{s:?}");
    assert!(s.idle <= s.connections, "{s:?}");
    assert!(
        s.in_flight <= s.connections.saturating_mul(s.pipeline_depth),
        "{s:?}"
    );
    assert_eq!(
        s.opened_total - s.closed_total,
        s.connections as u64,
        "open = opened - closed: {s:?}"
    );
    assert!(
        s.wait_time_total.is_zero() == (s.waited_total == 0),
        "{s:?}"
    );
}

#[tokio::test]
async fn max_lifetime_replaces_old_connections() {
    let database = fresh_database();
    let db = connect(
        &database,
        PoolOptions {
            max_size: 2,
            max_lifetime: Some(Duration::from_millis(300)),
            ..PoolOptions::default()
        },
    )
    .await;
    let first = session(&db, 0.0).await.expect("runs").pid;
    let replaced =
        eventually(|| async { session(&db, 0.0).await.expect("runs").pid != first }).await;
    assert!(replaced, "backend {first} still serves past max_lifetime");
    let stats = db.pool_stats();
    assert!(
        stats.closed_total >= 1 && stats.opened_total >= 2,
        "{stats:?}"
    );
    sane(&stats);
    // The retired backend is gone from PostgreSQL too.
    let (client, conn) = tokio_postgres::connect(&pg().url(&database), tokio_postgres::NoTls)
        .await
        .expect("observer connects");
    tokio::spawn(conn);
    let gone = eventually(|| async {
        let row = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
                &[&first],
            )
            .await
            .expect("looks");
        row.get::<_, i64>(0) == 0
    })
    .await;
    assert!(gone, "backend {first} still connected");
}

#[tokio::test]
async fn idle_connections_close_down_to_min_idle() {
    let database = fresh_database();
    let db = connect(
        &database,
        PoolOptions {
            max_size: 4,
            pipeline_depth: 1,
            idle_timeout: Some(Duration::from_millis(200)),
            min_idle: 1,
            ..PoolOptions::default()
        },
    )
    .await;
    // Four calls at once, one connection each (pipeline_depth 1).
    let calls = (0..4).map(|_| session(&db, 0.3));
    let pids: Vec<i32> = futures_util::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.expect("runs").pid)
        .collect();
    let mut distinct = pids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "{pids:?}");
    let closed = eventually(|| async { backends(&database).await == 1 }).await;
    assert!(closed, "{} connections left", backends(&database).await);
    let stats = db.pool_stats();
    assert_eq!((stats.connections, stats.idle), (1, 1), "{stats:?}");
    assert!(stats.closed_total >= 3, "{stats:?}");
    sane(&stats);
    // The one kept still serves.
    session(&db, 0.0).await.expect("runs");
}

#[tokio::test]
async fn session_setup_runs_on_every_connection() {
    let database = fresh_database();
    pg().run_sql(&database, "CREATE SCHEMA app")
        .expect("schema");
    let db = connect(
        &database,
        PoolOptions {
            max_size: 2,
            pipeline_depth: 1,
            connection_setup: Some("SET lock_timeout = '1234ms'".to_owned()),
            schema: Some("app, public".to_owned()),
            statement_timeout: Some(Duration::from_secs(30)),
            ..PoolOptions::default()
        },
    )
    .await;
    // Two at once: both connections were set up.
    let (a, b) = tokio::join!(session(&db, 0.2), session(&db, 0.2));
    for s in [a.expect("runs"), b.expect("runs")] {
        assert_eq!(s.lock_timeout, "1234ms");
        assert_eq!(s.search_path, r#""app", "public""#);
        assert_eq!(s.statement_timeout, "30s");
    }
    // A setup statement that fails stops the connection with a clear error.
    let e = Db::connect(
        &pg().url(&database),
        OPS,
        PoolOptions {
            connection_setup: Some("SET no_such_setting = 1".to_owned()),
            ..PoolOptions::default()
        },
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("running database.connection_setup"), "{e}");
    assert!(e.contains("no_such_setting"), "{e}");
}

#[tokio::test]
async fn statement_timeout_cancels_a_long_statement() {
    let database = fresh_database();
    let db = connect(
        &database,
        PoolOptions {
            max_size: 1,
            statement_timeout: Some(Duration::from_millis(200)),
            ..PoolOptions::default()
        },
    )
    .await;
    // Thirty seconds of sleep against a 200 ms limit: the call ends at the limit (a 504)
    // and its statement is cancelled.
    let e = session(&db, 30.0).await.unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert!(e.to_string().contains("time limit of 200ms"), "{e}");
    // The connection is fine afterwards.
    let s = session(&db, 0.0).await.expect("runs");
    assert_eq!(s.statement_timeout, "200ms");
    sane(&db.pool_stats());
}
