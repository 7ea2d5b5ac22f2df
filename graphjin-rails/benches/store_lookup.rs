//! Rails session-store authentication per request against a real redis-server: the best
//! case (the session under the first key tried, `session:2::<sha256>`) against the worst
//! (the last key tried, `_session_id:<public id>`), each as sequential lookups through
//! `RailsAuth::user_from_cookie_header`. Prints median and p99 per case.
//!
//! `cargo bench -p graphjin-rails --bench store_lookup` (needs `redis-server` installed).

use std::time::{Duration, Instant};

use graphjin_rails::test_servers::{Kind, StoreServer};
use graphjin_rails::{RailsAuth, RailsConfig};
use sha2::Digest;

const LOOKUPS: usize = 20_000;

/// `{"warden.user.user.key" => [[7], "salt"]}` as Marshal.
const SESSION: &[u8] =
    b"\x04\x08{\x06I\"\x19warden.user.user.key\x06:\x06ET[\x07[\x06i\x0cI\"\x09salt\x06;\x00T";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

async fn measure(auth: &RailsAuth, id: &str) -> (Duration, Duration) {
    let header = format!("_app_session={id}");
    for _ in 0..500 {
        assert_eq!(
            auth.user_from_cookie_header(&header)
                .await
                .unwrap()
                .as_deref(),
            Some("7")
        );
    }
    let mut times = Vec::with_capacity(LOOKUPS);
    for _ in 0..LOOKUPS {
        let start = Instant::now();
        let user = auth.user_from_cookie_header(&header).await;
        times.push(start.elapsed());
        assert!(user.is_ok());
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let server = StoreServer::start(Kind::Redis, None);
    let best = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0";
    let worst = "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1";
    let private = hex(&sha2::Sha256::digest(best.as_bytes()));
    server.put(&format!("session:2::{private}"), SESSION);
    server.put(&format!("_session_id:{worst}"), SESSION);
    let auth = RailsAuth::new(&RailsConfig {
        cookie: "_app_session".into(),
        url: Some(server.url()),
        ..Default::default()
    })
    .expect("config");
    let mget_before = server.redis_calls("mget");
    let (b50, b99) = measure(&auth, best).await;
    let (w50, w99) = measure(&auth, worst).await;
    let calls = server.redis_calls("mget") - mget_before;
    println!("rails store lookup, redis on loopback, {LOOKUPS} sequential lookups per case");
    println!("  best  (session:2::<sha256>, first key):  p50 {b50:?}  p99 {b99:?}");
    println!("  worst (_session_id:<id>, sixth key):     p50 {w50:?}  p99 {w99:?}");
    #[allow(clippy::cast_precision_loss)]
    let ratio = w50.as_secs_f64() / b50.as_secs_f64();
    println!("  worst/best p50: {ratio:.2}");
    println!(
        "  redis MGETs per lookup: {:.2}",
        calls as f64 / (2 * (LOOKUPS + 500)) as f64
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
