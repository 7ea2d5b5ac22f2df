//! The real example-app binary stops on SIGTERM as on Ctrl-C: it stops accepting
//! connections, lets a running request finish (held by a table lock the test takes and
//! releases), ends an open subscription with a WebSocket close frame, and exits 0 within
//! its shutdown deadline.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use support::{Ws, config_dir, free_port, graphql_ws, shop_database, start_app};

/// The next text message as JSON (pings skipped).
async fn ws_json(ws: &mut Ws) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message in time")
            .expect("socket open")
            .expect("message");
        match m {
            Message::Text(t) => return serde_json::from_str(t.as_str()).expect("JSON"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_requests_closes_subscriptions_and_exits_zero() {
    let url = shop_database("shop_stop");
    // A config folder like the example's, with a short deadline.
    let dir = config_dir("shutdown", "shutdown_timeout: 8s");
    let addr = format!("127.0.0.1:{}", free_port());
    let mut running = start_app(&url, &addr, &dir).await;
    let pid = running.0.as_ref().expect("child").id();

    // An open subscription that has had its first result.
    let mut ws = graphql_ws(&addr).await.expect("websocket");
    ws.send(Message::text(
        json!({"type": "connection_init"}).to_string(),
    ))
    .await
    .expect("send");
    assert_eq!(ws_json(&mut ws).await, json!({"type": "connection_ack"}));
    ws.send(Message::text(
        json!({"id": "s", "type": "subscribe", "payload": {"operationName": "watchStock", "variables": {"id": 1}}})
            .to_string(),
    ))
    .await
    .expect("send");
    let first = ws_json(&mut ws).await;
    assert_eq!(first["type"], "next", "{first}");

    // A running request: held by a lock on products from a second connection.
    let (locker, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("second connection");
    tokio::spawn(conn);
    locker
        .batch_execute("BEGIN; LOCK TABLE products IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let slow = tokio::spawn({
        let addr = addr.clone();
        async move {
            let r = reqwest::Client::new()
                .post(format!("http://{addr}/api/v1/graphql"))
                .header("content-type", "application/json")
                .body(r#"{"operationName":"getProduct","variables":{"id":3}}"#)
                .send()
                .await
                .expect("request");
            let status = r.status().as_u16();
            let body = r.bytes().await.expect("body");
            (
                status,
                serde_json::from_slice::<Value>(&body).expect("JSON"),
            )
        }
    });
    let mut waiting = false;
    for _ in 0..500 {
        let row = locker
            .query_one(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'products'::regclass",
                &[],
            )
            .await
            .expect("pg_locks");
        if row.get::<_, i64>(0) > 0 {
            waiting = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(waiting, "the request never reached the lock");

    // SIGTERM.
    let sent = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());

    // The subscription ends with a close frame while the request still runs.
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => break frame,
            Ok(Some(Ok(_))) => continue,
            other => panic!("no close frame: {other:?}"),
        }
    };
    let frame = close.expect("a close frame with a code");
    assert_eq!(u16::from(frame.code), 1001, "{frame:?}");
    assert_eq!(frame.reason.as_str(), "the server is shutting down");
    assert!(!slow.is_finished(), "the request must still be held");

    // No new connections are taken.
    let refused = reqwest::Client::new()
        .get(format!("http://{addr}/health/live"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(refused.is_err(), "{refused:?}");

    // Release the lock: the running request completes normally.
    locker.batch_execute("COMMIT").await.expect("unlock");
    let (status, body) = slow.await.expect("request task");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["products"]["name"], "Mug 3", "{body}");

    // The process exits 0 within the deadline.
    let mut child = running.0.take().expect("child");
    let status = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(8);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .await
    .expect("wait task")
    .expect("the app exits within its shutdown deadline");
    assert!(status.success(), "exit status {status:?}");
    assert!(sent.elapsed() < Duration::from_secs(8 + 2));
    let _ = std::fs::remove_dir_all(&dir);
}
