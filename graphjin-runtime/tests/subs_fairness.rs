//! Subscribers share polls fairly: a poll split into several batch statements
//! (`subscriptions.batch_size`, run `poll_connections` at once) still reaches every
//! subscriber with every change, in order, and a subscriber that never reads is dropped
//! without holding up anyone else's results. No timings are asserted: every wait is
//! bounded, and the assertions are on what arrived and how many statements ran.

mod subs_common;

use std::time::Duration;

use graphjin_runtime::subs::{SubsOptions, Subscriptions};
use graphjin_runtime::{Auth, Error};
use serde_json::json;
use subs_common::*;

/// Products watched, one subscriber each.
const WATCHED: i64 = 30;

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f).await.expect("in time")
}

fn expect_stock(got: &[u8], id: i64, stock: i64) {
    let text = String::from_utf8_lossy(got);
    let want = format!(r#"{{"products" : {{"id" : {id}, "stock" : {stock}}}}}"#);
    assert_eq!(text, want, "subscriber of product {id}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_polls_reach_everyone_and_a_stuck_subscriber_holds_no_one_up() {
    let db = fresh_database();
    sql(
        &db,
        &format!(
            "INSERT INTO products SELECT g, 'p' || g, 0, 1 FROM generate_series(4, {WATCHED}) g;
             UPDATE products SET stock = 0;"
        ),
    )
    .await;
    let subs = Subscriptions::new(
        db_on(&db).await,
        SubsOptions {
            poll_every: Duration::from_millis(50),
            batch_size: 4,
            poll_connections: 2,
            send_queue: 2,
            ..SubsOptions::default()
        },
    );
    let watch = op_named("watchStock");
    let mut quick = Vec::new();
    for id in 1..=WATCHED {
        quick.push(subs.subscribe_raw(watch, &Auth::anon(), Some(&json!({ "id": id }))));
    }
    // One subscriber in the middle of the pack never reads after its first result.
    let mut stuck = subs.subscribe_raw(watch, &Auth::anon(), Some(&json!({ "id": 17 })));
    for (i, s) in quick.iter_mut().enumerate() {
        let first = within(s.recv()).await.expect("a first result").expect("ok");
        expect_stock(&first, i as i64 + 1, 0);
    }
    within(stuck.recv())
        .await
        .expect("a first result")
        .expect("ok");
    eventually(|| subs.stats().subscribers == WATCHED as usize + 1).await;

    let rounds = 5;
    for stock in 1..=rounds {
        sql(&db, &format!("UPDATE products SET stock = {stock}")).await;
        // Every quick subscriber gets this change, exactly once and in order, whichever
        // chunk its parameters fell in; the stuck one's full queue delays none of them.
        for (i, s) in quick.iter_mut().enumerate() {
            let got = within(s.recv()).await.expect("a result").expect("ok");
            expect_stock(&got, i as i64 + 1, stock);
        }
    }
    // 30 distinct parameter sets (the stuck subscriber shares product 17's), 4 per
    // statement: 8 statements per poll.
    let stats = subs.stats();
    assert_eq!(stats.last_poll_executions, 8, "{stats:?}");
    assert_eq!(stats.subscribers, WATCHED as usize, "{stats:?}");

    // The stuck subscriber kept what fit in its queue (room for 2: the first two
    // changes), then learns it was dropped.
    for stock in 1..=2 {
        let kept = within(stuck.recv())
            .await
            .expect("a queued result")
            .expect("ok");
        expect_stock(&kept, 17, stock);
    }
    let e = within(stuck.recv())
        .await
        .expect("the lag error")
        .unwrap_err();
    assert!(matches!(e, Error::Lagged { capacity: 2, .. }), "{e}");
    assert!(within(stuck.recv()).await.is_none());

    // Nothing more is pending for the others: each got exactly one result per change.
    sql(&db, "UPDATE products SET stock = 100").await;
    for (i, s) in quick.iter_mut().enumerate() {
        let got = within(s.recv()).await.expect("a result").expect("ok");
        expect_stock(&got, i as i64 + 1, 100);
    }
    subs.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_size_and_poll_connections_come_from_the_config() {
    let c = config(
        "poll_every_seconds: 0.5\nsubscriptions:\n  batch_size: 1000\n  poll_connections: 3\n",
    );
    let o = SubsOptions::from_config(&c);
    assert_eq!(o.poll_every, Duration::from_millis(500));
    assert_eq!(o.batch_size, 1000);
    assert_eq!(o.poll_connections, 3);
    let d = SubsOptions::from_config(&config("{}"));
    assert_eq!((d.batch_size, d.poll_connections), (5000, 2));
    // A zero is raised to the least that works rather than stalling polls.
    let zero = config("subscriptions:\n  batch_size: 0\n  poll_connections: 0\n");
    let subs = Subscriptions::new(
        db_on(&fresh_database()).await,
        SubsOptions::from_config(&zero),
    );
    assert_eq!(
        (subs.options().batch_size, subs.options().poll_connections),
        (1, 1)
    );
}
