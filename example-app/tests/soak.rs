//! A soak: the real example-app binary under mixed load (anonymous and signed-in queries,
//! mutations, refused requests, subscriptions opened and closed) with its resident memory
//! sampled as it runs. After a warm-up quarter, memory must show no growth trend.
//!
//! CI runs a short soak (`SOAK_SECONDS`, default 20 s, a sample every 2 s). The operator's
//! soak is `SOAK_SECONDS=600 cargo test -p example-app --test soak -- --nocapture` (a
//! sample every 30 s); the samples are printed either way.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use support::{config_dir, free_port, graphql_ws, shop_database, start_app};

/// Counts of what the load saw, by kind of answer.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    refused: AtomicU64,
    subscriptions: AtomicU64,
    /// 5xx answers and transport errors: each one fails the test.
    failures: AtomicU64,
}

/// The process's resident set, in KiB, from /proc.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

fn token(customer: i64) -> String {
    let claims = json!({ "sub": customer.to_string(), "exp": 4_070_908_800u64 });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"webshop-demo-secret-change-me-0123456789"),
    )
    .expect("sign")
}

/// One HTTP worker: a fixed rotation of calls until `stop`.
async fn http_worker(n: u64, base: String, stop: Arc<AtomicBool>, tally: Arc<Tally>) {
    let client = reqwest::Client::new();
    let bearer = format!("Bearer {}", token(1 + (n % 20) as i64));
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let (path, body, auth): (&str, String, bool) = match i % 8 {
            0 | 1 => (
                "/api/v1/graphql",
                json!({"operationName": "listProducts", "variables": {"limit": 10, "offset": i % 30}}).to_string(),
                false,
            ),
            2 => (
                "/api/v1/rest/getProduct",
                json!({"id": 1 + i % 40}).to_string(),
                false,
            ),
            3 => ("/api/v1/rest/myOrders", "{}".to_owned(), true),
            4 => (
                "/api/v1/graphql",
                json!({"operationName": "createReview", "variables": {"data": {"product_id": 1 + i % 40, "rating": 4, "body": format!("soak {n}-{i}")}}}).to_string(),
                true,
            ),
            5 => (
                "/api/v1/graphql",
                json!({"operationName": "searchProducts", "variables": {"pattern": "%a%"}}).to_string(),
                false,
            ),
            // Refused: not in the allow list, and a bad variable.
            6 => (
                "/api/v1/graphql",
                r#"{"query":"query nope { users { id } }"}"#.to_owned(),
                false,
            ),
            _ => ("/api/v1/rest/getProduct", r#"{"id":"x"}"#.to_owned(), false),
        };
        let mut req = client
            .post(format!("{base}{path}"))
            .header("content-type", "application/json")
            .body(body);
        if auth {
            req = req.header("authorization", &bearer);
        }
        match req.send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                let _ = res.bytes().await;
                let counter = match status {
                    200 => &tally.ok,
                    400..=499 => &tally.refused,
                    _ => &tally.failures,
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                tally.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Opens a subscription, reads its first result, and closes the socket; again until `stop`.
async fn subscription_worker(addr: String, stop: Arc<AtomicBool>, tally: Arc<Tally>) {
    let mut id = 0u64;
    while !stop.load(Ordering::Relaxed) {
        id += 1;
        let Ok(mut ws) = graphql_ws(&addr).await else {
            tally.failures.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let init = json!({"type": "connection_init"}).to_string();
        let sub = json!({"id": "s", "type": "subscribe", "payload": {"operationName": "watchStock", "variables": {"id": 1 + id % 40}}}).to_string();
        let ok =
            ws.send(Message::text(init)).await.is_ok() && ws.send(Message::text(sub)).await.is_ok();
        let mut got = false;
        let deadline = Instant::now() + Duration::from_secs(10);
        while ok && !got && Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap_or_default();
                    got = v["type"] == "next";
                }
                Ok(Some(Ok(_))) => {}
                _ => break,
            }
        }
        let _ = ws.close(None).await;
        let counter = if got {
            &tally.subscriptions
        } else {
            &tally.failures
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The least-squares slope of `ys` over their index.
fn slope(ys: &[f64]) -> f64 {
    let n = ys.len() as f64;
    let mean_x = (n - 1.0) / 2.0;
    let mean_y = ys.iter().sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for (i, y) in ys.iter().enumerate() {
        let dx = i as f64 - mean_x;
        num += dx * (y - mean_y);
        den += dx * dx;
    }
    if den == 0.0 { 0.0 } else { num / den }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_load_shows_no_memory_growth() {
    let seconds: u64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
        .max(8);
    let interval = Duration::from_secs(if seconds >= 300 { 30 } else { 2 });

    let url = shop_database("shop_soak");
    let config = config_dir("soak", "");
    let addr = format!("127.0.0.1:{}", free_port());
    let mut running = start_app(&url, &addr, &config).await;
    let pid = running.0.as_ref().expect("child").id();

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let mut tasks = Vec::new();
    for n in 0..8 {
        tasks.push(tokio::spawn(http_worker(
            n,
            format!("http://{addr}"),
            stop.clone(),
            tally.clone(),
        )));
    }
    for _ in 0..2 {
        tasks.push(tokio::spawn(subscription_worker(
            addr.clone(),
            stop.clone(),
            tally.clone(),
        )));
    }

    let started = Instant::now();
    let mut samples: Vec<(f64, u64)> = Vec::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(interval).await;
        let kib = rss_kib(pid);
        let at = started.elapsed().as_secs_f64();
        println!(
            "soak t={at:6.1}s rss={:7.1} MiB ok={} refused={} subscriptions={} failures={}",
            kib as f64 / 1024.0,
            tally.ok.load(Ordering::Relaxed),
            tally.refused.load(Ordering::Relaxed),
            tally.subscriptions.load(Ordering::Relaxed),
            tally.failures.load(Ordering::Relaxed),
        );
        samples.push((at, kib));
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(30), t)
            .await
            .expect("workers stop")
            .expect("worker");
    }
    // The process is still alive and answering after the load.
    let res = reqwest::get(format!("http://{addr}/health/live"))
        .await
        .expect("live");
    assert_eq!(res.status().as_u16(), 200);
    if let Some(child) = running.0.as_mut() {
        assert!(child.try_wait().expect("wait").is_none(), "the app exited");
    }

    let ok = tally.ok.load(Ordering::Relaxed);
    let refused = tally.refused.load(Ordering::Relaxed);
    let subs = tally.subscriptions.load(Ordering::Relaxed);
    let failures = tally.failures.load(Ordering::Relaxed);
    assert_eq!(failures, 0, "5xx answers or transport errors under load");
    assert!(
        ok > 100 && refused > 10 && subs > 2,
        "too little load: {ok} ok, {refused} refused, {subs} subscriptions"
    );

    // After the warm-up quarter: the fitted growth over the measured window stays within
    // 10% of the mean (and 8 MiB), and the last sample is within 25% of the first.
    let warm = samples.len() / 4;
    let after: Vec<f64> = samples[warm..].iter().map(|(_, k)| *k as f64).collect();
    assert!(after.len() >= 3, "too few samples: {samples:?}");
    let mean = after.iter().sum::<f64>() / after.len() as f64;
    let growth = slope(&after) * (after.len() - 1) as f64;
    println!(
        "soak: mean rss {:.1} MiB after warm-up, fitted growth {:.2} MiB over {} samples",
        mean / 1024.0,
        growth / 1024.0,
        after.len()
    );
    assert!(
        growth < (mean * 0.10).max(8.0 * 1024.0),
        "resident memory grows: {:.1} MiB over the window (samples {samples:?})",
        growth / 1024.0
    );
    let (first, last) = (after[0], after[after.len() - 1]);
    assert!(
        last <= first * 1.25 + 8.0 * 1024.0,
        "resident memory grew from {first} KiB to {last} KiB"
    );
}
