//! NULL parameters in batched polling: a subscriber whose variable is null, absent, or who
//! sent no variables at all gets the same answer from the batch statement (one `text[]`
//! per column, NULL elements for NULL) as from the single statement, in both statement
//! modes; null and absent share one batch row, and the whole poll is one execution (a
//! batch that failed would be retried one by one and count more).

mod subs_common;

use std::time::Duration;

use graphjin_runtime::subs::{SubsOptions, Subscriptions};
use graphjin_runtime::{
    Auth, Batch, Db, OpKind, Operation, Param, PoolOptions, RoleStatement, StatementMode,
};
use serde_json::{Value, json};
use subs_common::{WAIT, fresh_database, pg, sql};

/// Products of `$owner` (NULL: those without one) with at least `$min` in stock (NULL: any).
const SQL: &str = r#"SELECT json_build_object('products', (SELECT coalesce(json_agg(__sj."json"), '[]') FROM (SELECT json_build_object('id', t0."id", 'stock', t0."stock") AS "json" FROM "products" AS t0 WHERE t0."owner_id" IS NOT DISTINCT FROM $1::bigint AND t0."stock" >= coalesce($2::integer, 0) ORDER BY t0."id") AS __sj)) AS "__root""#;
const BATCH_SQL: &str = r#"SELECT __b."__sub" AS "sub", json_build_object('products', (SELECT coalesce(json_agg(__sj."json"), '[]') FROM (SELECT json_build_object('id', t0."id", 'stock', t0."stock") AS "json" FROM "products" AS t0 WHERE t0."owner_id" IS NOT DISTINCT FROM __b."p1"::bigint AND t0."stock" >= coalesce(__b."p2"::integer, 0) ORDER BY t0."id") AS __sj)) AS "__root" FROM unnest($1::text[], $2::text[], $3::text[]) AS __b("__sub", "p1", "p2")"#;

static OPS: &[Operation] = &[Operation {
    name: "ownerStock",
    kind: OpKind::Subscription,
    query: "subscription ownerStock { products(where: { owner_id: { eq: $owner }, stock: { gte: $min } }) { id stock } }",
    sha256: "",
    roles: &[RoleStatement {
        role: "anon",
        sql: SQL,
        params: &[
            Param {
                name: "owner",
                pg_type: "bigint",
                builtin: false,
                default: None,
            },
            Param {
                name: "min",
                pg_type: "integer",
                builtin: false,
                default: None,
            },
        ],
    }],
    constraints: &[],
}];

static BATCHES: &[Batch] = &[Batch {
    operation: "ownerStock",
    role: "anon",
    sql: BATCH_SQL,
}];

async fn db(name: &str, mode: StatementMode) -> Db {
    Db::builder(&pg().url(name), OPS)
        .batches(BATCHES)
        .options(PoolOptions {
            max_size: 4,
            statement_mode: mode,
            wait_timeout: Some(Duration::from_secs(2)),
            connect_timeout: Some(Duration::from_secs(2)),
            ..PoolOptions::default()
        })
        .connect()
        .await
        .expect("connect")
}

async fn next(stream: &mut graphjin_runtime::subs::Subscription<bytes::Bytes>) -> Value {
    let bytes = tokio::time::timeout(WAIT, stream.recv())
        .await
        .expect("a result in time")
        .expect("the stream is open")
        .expect("a result, not an error");
    serde_json::from_slice(&bytes).expect("JSON")
}

fn products(rows: &[(i64, i64)]) -> Value {
    let rows: Vec<Value> = rows
        .iter()
        .map(|(id, stock)| json!({"id": id, "stock": stock}))
        .collect();
    json!({ "products": rows })
}

async fn null_and_absent_batch_as_they_run_alone(mode: StatementMode) {
    let name = fresh_database();
    // A product without an owner: what a NULL `$owner` finds.
    sql(&name, "INSERT INTO products VALUES (4, 'Date', 40, NULL)").await;
    let subs = Subscriptions::new(
        db(&name, mode).await,
        SubsOptions {
            poll_every: Duration::from_millis(50),
            ..SubsOptions::default()
        },
    );
    let op = &OPS[0];
    // (variables, first result from the single statement, result after the change).
    let cases: Vec<(Option<Value>, Value, Value)> = vec![
        (
            Some(json!({"owner": null})),
            products(&[(4, 40)]),
            products(&[(4, 41)]),
        ),
        (Some(json!({})), products(&[(4, 40)]), products(&[(4, 41)])),
        (None, products(&[(4, 40)]), products(&[(4, 41)])),
        (
            Some(json!({"owner": 1})),
            products(&[(1, 10), (2, 20)]),
            products(&[(1, 11), (2, 21)]),
        ),
        (
            Some(json!({"owner": 1, "min": 15})),
            products(&[(2, 20)]),
            products(&[(2, 21)]),
        ),
        // NULL in the first parameter column, a value in the second.
        (
            Some(json!({"owner": null, "min": 41})),
            products(&[]),
            products(&[(4, 41)]),
        ),
    ];
    let mut streams = Vec::new();
    for (vars, first, _) in &cases {
        let mut s = subs.subscribe_raw(op, &Auth::anon(), vars.as_ref());
        assert_eq!(next(&mut s).await, *first, "first result for {vars:?}");
        streams.push(s);
    }
    sql(&name, "UPDATE products SET stock = stock + 1").await;
    for ((vars, _, changed), s) in cases.iter().zip(&mut streams) {
        assert_eq!(
            next(s).await,
            *changed,
            "batched result for {vars:?} ({mode:?})"
        );
        // The single statement, run now for a new subscriber, agrees.
        let mut alone = subs.subscribe_raw(op, &Auth::anon(), vars.as_ref());
        assert_eq!(
            next(&mut alone).await,
            *changed,
            "single statement for {vars:?}"
        );
    }
    // Null, absent and no variables share one row: 4 distinct parameter sets, one
    // statement per poll (a failed batch is retried set by set, which counts more).
    let stats = subs.stats();
    assert_eq!(stats.pollers, 1);
    assert_eq!(
        stats.last_poll_executions, 1,
        "one batch execution per poll ({mode:?})"
    );
    subs.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn null_and_absent_variables_batch_as_they_run_alone_prepared() {
    null_and_absent_batch_as_they_run_alone(StatementMode::Prepared).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn null_and_absent_variables_batch_as_they_run_alone_unnamed() {
    null_and_absent_batch_as_they_run_alone(StatementMode::Unnamed).await;
}
