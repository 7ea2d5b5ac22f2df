//! Subscriptions in process: the typed stream generated `subscribe()` functions return,
//! its errors, a subscriber that falls behind, shutdown, grouping of equal parameters, and
//! polling without batch statements.

mod subs_common;

use std::time::Duration;

use futures_util::StreamExt;
use graphjin_runtime::subs::{SubsOptions, Subscriptions};
use graphjin_runtime::{Auth, Db, Error, PoolOptions};
use serde::{Deserialize, Serialize};
use serde_json::json;
use subs_common::*;

#[derive(Debug, Serialize)]
struct Vars {
    id: i64,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Product {
    id: i64,
    stock: i32,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Data {
    products: Option<Product>,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Mine {
    products: Vec<Product>,
}

fn fast() -> SubsOptions {
    SubsOptions {
        poll_every: Duration::from_millis(50),
        ..SubsOptions::default()
    }
}

async fn registry(options: SubsOptions) -> (Subscriptions, String) {
    let name = fresh_database();
    (Subscriptions::new(db_on(&name).await, options), name)
}

fn product(id: i64, stock: i32) -> Data {
    Data {
        products: Some(Product { id, stock }),
    }
}

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f).await.expect("in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_stream_first_result_then_changes() {
    let (subs, db) = registry(fast()).await;
    let mut watch =
        subs.subscribe::<_, Data>(op_named("watchStock"), &Auth::anon(), &Vars { id: 2 });
    assert_eq!(within(watch.recv()).await.unwrap().unwrap(), product(2, 20));
    sql(&db, "UPDATE products SET stock = 19 WHERE id = 2").await;
    assert_eq!(within(watch.next()).await.unwrap().unwrap(), product(2, 19));
    // Nothing else changed: nothing comes.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), watch.recv())
            .await
            .is_err()
    );

    // Builtins come from the caller.
    let mut mine = subs.subscribe::<_, Mine>(op_named("myStock"), &Auth::user("2"), &());
    assert_eq!(
        within(mine.recv()).await.unwrap().unwrap(),
        Mine {
            products: vec![Product { id: 3, stock: 30 }]
        }
    );

    // Dropping a stream leaves; the poller stops with its last subscriber.
    drop(watch);
    drop(mine);
    eventually(|| subs.stats().pollers == 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_end_the_stream() {
    let (subs, _) = registry(fast()).await;
    let mut bad = subs.subscribe_raw(
        op_named("watchStock"),
        &Auth::anon(),
        Some(&json!({"id": "x"})),
    );
    assert!(matches!(
        within(bad.recv()).await,
        Some(Err(Error::Variable { .. }))
    ));
    assert!(bad.recv().await.is_none());

    // Variable rules hold for subscriptions as for queries: checked before any SQL.
    let mut missing = subs.subscribe_raw(op_named("watchStock"), &Auth::anon(), Some(&json!({})));
    assert!(matches!(
        within(missing.recv()).await,
        Some(Err(Error::Validation { .. }))
    ));
    assert!(missing.recv().await.is_none());

    let mut query = subs.subscribe_raw(op_named("getStock"), &Auth::anon(), None);
    let e = within(query.recv()).await.unwrap().unwrap_err();
    assert!(
        matches!(e, Error::NotSubscription { kind: "query", .. }),
        "{e}"
    );

    let mut anon = subs.subscribe_raw(op_named("myStock"), &Auth::anon(), None);
    let e = within(anon.recv()).await.unwrap().unwrap_err();
    assert_eq!(e.code(), "UNAUTHENTICATED");

    let mut admin = subs.subscribe_raw(
        op_named("myStock"),
        &Auth::user("1").with_role("admin"),
        None,
    );
    let e = within(admin.recv()).await.unwrap().unwrap_err();
    assert_eq!(e.code(), "FORBIDDEN");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_falls_behind_is_dropped() {
    let (subs, db) = registry(SubsOptions {
        send_queue: 2,
        ..fast()
    })
    .await;
    let mut slow = subs.subscribe_raw(
        op_named("watchStock"),
        &Auth::anon(),
        Some(&json!({"id": 1})),
    );
    let mut quick = subs.subscribe_raw(
        op_named("watchStock"),
        &Auth::anon(),
        Some(&json!({"id": 1})),
    );
    within(slow.recv()).await.unwrap().unwrap();
    within(quick.recv()).await.unwrap().unwrap();
    for stock in 1..=4 {
        sql(
            &db,
            &format!("UPDATE products SET stock = {stock} WHERE id = 1"),
        )
        .await;
        // The quick one keeps up, and is not held up by the slow one.
        let got = within(quick.recv()).await.unwrap().unwrap();
        assert_eq!(
            got,
            format!(r#"{{"products" : {{"id" : 1, "stock" : {stock}}}}}"#)
        );
    }
    // The slow one got what fit in its queue, then the news that it was dropped.
    assert!(within(slow.recv()).await.unwrap().is_ok());
    assert!(within(slow.recv()).await.unwrap().is_ok());
    let e = within(slow.recv()).await.unwrap().unwrap_err();
    assert!(matches!(e, Error::Lagged { capacity: 2, .. }), "{e}");
    assert!(slow.recv().await.is_none());
    eventually(|| subs.stats().subscribers == 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_streams_and_refuses_new_ones() {
    let (subs, _) = registry(fast()).await;
    let mut watch = subs.subscribe_raw(
        op_named("watchStock"),
        &Auth::anon(),
        Some(&json!({"id": 1})),
    );
    within(watch.recv()).await.unwrap().unwrap();
    eventually(|| subs.stats().pollers == 1).await;
    subs.shutdown();
    assert!(within(watch.recv()).await.is_none());
    eventually(|| subs.stats().pollers == 0).await;
    let mut late = subs.subscribe_raw(
        op_named("watchStock"),
        &Auth::anon(),
        Some(&json!({"id": 1})),
    );
    assert_eq!(
        within(late.recv()).await.unwrap().unwrap_err().code(),
        "SERVICE_UNAVAILABLE"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn equal_parameters_share_a_row_and_no_batch_means_one_by_one() {
    // Without batch statements each distinct set of parameters is one execution.
    let name = fresh_database();
    let db = Db::connect(&pg().url(&name), operations(), PoolOptions::default())
        .await
        .expect("connect");
    let subs = Subscriptions::new(db, fast());
    let mut streams = Vec::new();
    for id in [1, 1, 1, 2] {
        let mut s = subs.subscribe_raw(
            op_named("watchStock"),
            &Auth::anon(),
            Some(&json!({"id": id})),
        );
        within(s.recv()).await.unwrap().unwrap();
        streams.push(s);
    }
    eventually(|| subs.stats().subscribers == 4).await;
    let before = subs.stats();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let after = subs.stats();
    let polls = after.polls - before.polls;
    assert!(polls >= 3);
    assert_eq!(after.executions - before.executions, 2 * polls);
    sql(&name, "UPDATE products SET stock = 0 WHERE id = 1").await;
    for s in &mut streams[..3] {
        assert_eq!(
            within(s.recv()).await.unwrap().unwrap(),
            r#"{"products" : {"id" : 1, "stock" : 0}}"#
        );
    }

    // With them: one execution per poll, whatever the subscribers.
    let (subs, _) = registry(fast()).await;
    let mut streams = Vec::new();
    for id in [1, 1, 2, 3] {
        let mut s = subs.subscribe_raw(
            op_named("watchStock"),
            &Auth::anon(),
            Some(&json!({"id": id})),
        );
        within(s.recv()).await.unwrap().unwrap();
        streams.push(s);
    }
    eventually(|| subs.stats().subscribers == 4).await;
    let before = subs.stats();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let after = subs.stats();
    assert_eq!(
        after.executions - before.executions,
        after.polls - before.polls
    );
}
