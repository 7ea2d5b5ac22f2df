//! Cache-store sessions against real `memcached` and `redis-server` processes (Debian
//! packages `memcached` and `redis-server`), started here on free loopback ports and always
//! killed at the end (by `graphjin_rails::test_servers`).

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use graphjin_rails::test_servers::{Kind, StoreServer};
use graphjin_rails::{RailsAuth, RailsConfig, RailsError};

fn auth_for(server: &StoreServer, tweak: impl FnOnce(&mut RailsConfig)) -> RailsAuth {
    let mut cfg = RailsConfig {
        cookie: "_app_session".into(),
        url: Some(server.url()),
        connect_timeout_ms: Some(500),
        read_timeout_ms: Some(500),
        ..Default::default()
    };
    tweak(&mut cfg);
    RailsAuth::new(&cfg).unwrap()
}

/// A Marshal session for user `id` (as Rails' cache store writes it).
fn session_for(id: u8) -> Vec<u8> {
    let mut v = b"\x04\x08{\x06I\"\x19warden.user.user.key\x06:\x06ET[\x07[\x06i".to_vec();
    v.push(id + 5);
    v.extend_from_slice(b"I\"\x09salt\x06;\x00T");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_vectors() {
    let Some(vectors) = common::vectors("stores.json") else {
        return;
    };
    assert!(!vectors.is_empty());
    let memcache = StoreServer::start(Kind::Memcache, None);
    let redis = StoreServer::start(Kind::Redis, None);
    let (mut passed, mut failed) = (0, 0);
    for v in &vectors {
        let name = v["name"].as_str().unwrap();
        let server = match v["store"].as_str().unwrap() {
            "memcache" => &memcache,
            "redis" => &redis,
            other => panic!("{name}: unknown store {other}"),
        };
        if let (Some(key), Some(value)) = (v["key"].as_str(), v["value_base64"].as_str()) {
            server.put(key, &STANDARD.decode(value).unwrap());
        }
        let auth = RailsAuth::new(&common::config(v, Some(server.port()))).unwrap();
        let got = auth.user_from_cookie_header(common::cookie_header(v)).await;
        let want = common::expected(v);
        // A refusal fails for the vector's reason.
        let kind = v["expect"]["error_kind"].as_str().unwrap_or("");
        let ok = match (&got, &want) {
            (Ok(Some(id)), Some(w)) => id == w,
            (Err(RailsError::SessionNotFound), None) => kind == "no_session",
            (Err(RailsError::NotSignedIn), None) => kind == "no_user",
            (Err(RailsError::BadSignature), None) => kind == "tampered",
            _ => false,
        };
        println!(
            "{name} ({}): {got:?}, want {want:?} {kind}",
            v["convention"]["key_scheme"]
        );
        if ok {
            passed += 1;
        } else {
            failed += 1;
            println!("  FAILED: {name}");
        }
    }
    println!("store vectors: {passed} passed, {failed} failed");
    assert!(
        vectors.len() >= 28,
        "the vector file shrank: {}",
        vectors.len()
    );
    assert_eq!(failed, 0);
}

/// Kill the server mid-run: a clear error quickly, then recovery after a restart (the dead
/// pooled connection is dropped and a new one dialled).
async fn outage_and_recovery(kind: Kind) {
    let mut server = StoreServer::start(kind, None);
    let auth = auth_for(&server, |_| {});
    server.put("session:aaaa", &session_for(7));
    let header = "_app_session=aaaa";
    assert_eq!(
        auth.user_from_cookie_header(header)
            .await
            .unwrap()
            .as_deref(),
        Some("7")
    );

    server.kill();
    for _ in 0..3 {
        let start = Instant::now();
        let err = auth.user_from_cookie_header(header).await.unwrap_err();
        let took = start.elapsed();
        println!("{kind:?} down: {err} ({took:?})");
        assert!(err.is_unavailable(), "{err:?}");
        let msg = err.to_string();
        let store = if kind == Kind::Memcache {
            "memcache"
        } else {
            "redis"
        };
        assert!(
            msg.contains(store) && msg.contains(&server.port().to_string()),
            "{msg}"
        );
        assert!(msg.contains("refused") || msg.contains("closed"), "{msg}");
        assert!(took < Duration::from_millis(1500), "took {took:?}");
    }

    server.restart();
    server.put("session:aaaa", &session_for(8));
    assert_eq!(
        auth.user_from_cookie_header(header)
            .await
            .unwrap()
            .as_deref(),
        Some("8")
    );
    assert_eq!(
        auth.user_from_cookie_header(header)
            .await
            .unwrap()
            .as_deref(),
        Some("8")
    );
}

#[tokio::test]
async fn memcache_outage_and_recovery() {
    outage_and_recovery(Kind::Memcache).await;
}

#[tokio::test]
async fn redis_outage_and_recovery() {
    outage_and_recovery(Kind::Redis).await;
}

/// A server restarted between two requests: the stale pooled connection is replaced
/// transparently (the first request after the restart succeeds).
async fn restart_between_requests(kind: Kind) {
    let mut server = StoreServer::start(kind, None);
    let auth = auth_for(&server, |_| {});
    server.put("session:bbbb", &session_for(3));
    assert_eq!(
        auth.user_from_cookie_header("_app_session=bbbb")
            .await
            .unwrap()
            .as_deref(),
        Some("3")
    );
    server.restart();
    server.put("session:bbbb", &session_for(4));
    assert_eq!(
        auth.user_from_cookie_header("_app_session=bbbb")
            .await
            .unwrap()
            .as_deref(),
        Some("4")
    );
}

#[tokio::test]
async fn memcache_restart_between_requests() {
    restart_between_requests(Kind::Memcache).await;
}

#[tokio::test]
async fn redis_restart_between_requests() {
    restart_between_requests(Kind::Redis).await;
}

/// A server that accepts but never answers (SIGSTOP): a timeout error, not a hang.
async fn hung_server_times_out(kind: Kind) {
    let server = StoreServer::start(kind, None);
    let auth = auth_for(&server, |_| {});
    server.put("session:cccc", &session_for(5));
    assert!(
        auth.user_from_cookie_header("_app_session=cccc")
            .await
            .is_ok()
    );
    server.signal("-STOP");
    let start = Instant::now();
    let err = auth
        .user_from_cookie_header("_app_session=cccc")
        .await
        .unwrap_err();
    let took = start.elapsed();
    println!("{kind:?} hung: {err} ({took:?})");
    assert!(matches!(err, RailsError::StoreTimeout { .. }), "{err:?}");
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    server.signal("-CONT");
    assert_eq!(
        auth.user_from_cookie_header("_app_session=cccc")
            .await
            .unwrap()
            .as_deref(),
        Some("5")
    );
}

#[tokio::test]
async fn memcache_hung_server_times_out() {
    hung_server_times_out(Kind::Memcache).await;
}

#[tokio::test]
async fn redis_hung_server_times_out() {
    hung_server_times_out(Kind::Redis).await;
}

#[tokio::test]
async fn redis_password() {
    let server = StoreServer::start(Kind::Redis, Some("s3cr3t-pass"));
    server.put("session:dddd", &session_for(9));
    let header = "_app_session=dddd";

    let auth = auth_for(&server, |c| c.password = Some("s3cr3t-pass".into()));
    assert_eq!(
        auth.user_from_cookie_header(header)
            .await
            .unwrap()
            .as_deref(),
        Some("9")
    );

    // The password in the URL works too.
    let url = format!("redis://:s3cr3t-pass@127.0.0.1:{}", server.port());
    let auth = auth_for(&server, |c| c.url = Some(url));
    assert_eq!(
        auth.user_from_cookie_header(header)
            .await
            .unwrap()
            .as_deref(),
        Some("9")
    );

    let auth = auth_for(&server, |c| c.password = Some("wrong-pass".into()));
    let err = auth.user_from_cookie_header(header).await.unwrap_err();
    println!("wrong password: {err}");
    let msg = err.to_string();
    assert!(
        err.is_unavailable() && msg.contains("rails.password"),
        "{msg}"
    );
    assert!(!msg.contains("wrong-pass"), "{msg}");

    let auth = auth_for(&server, |_| {});
    let err = auth.user_from_cookie_header(header).await.unwrap_err();
    println!("no password: {err}");
    assert!(err.to_string().contains("NOAUTH"), "{err}");
}

#[tokio::test]
async fn key_prefix_and_missing_session() {
    let server = StoreServer::start(Kind::Memcache, None);
    server.put("myapp:eeee", &session_for(11));
    let auth = auth_for(&server, |c| c.key_prefix = Some("myapp:".into()));
    assert_eq!(
        auth.user_from_cookie_header("_app_session=eeee")
            .await
            .unwrap()
            .as_deref(),
        Some("11")
    );
    assert!(matches!(
        auth.user_from_cookie_header("_app_session=ffff").await,
        Err(RailsError::SessionNotFound)
    ));
    // Not a session id (would break the protocol): refused before reaching the store.
    assert!(matches!(
        auth.user_from_cookie_header("_app_session=a%0D%0Aflush_all")
            .await,
        Err(RailsError::NotRailsCookie)
    ));
    // A stored value that is not a session.
    server.put("myapp:gggg", b"\x04\x08o:\x08Foo\x00");
    let err = auth
        .user_from_cookie_header("_app_session=gggg")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("0x6f"), "{err}");
}

/// Many concurrent requests through a small pool all succeed, and no more than `max_idle`
/// connections stay open afterwards (the bound on open connections is tested in the pool's
/// unit test).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_is_bounded() {
    let server = StoreServer::start(Kind::Redis, None);
    server.put("session:hhhh", &session_for(12));
    let before = server.redis_clients();
    let auth = std::sync::Arc::new(auth_for(&server, |c| {
        c.max_active = Some(2);
        c.max_idle = Some(1);
    }));
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let auth = auth.clone();
        tasks.push(tokio::spawn(async move {
            auth.user_from_cookie_header("_app_session=hhhh").await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().as_deref(), Some("12"));
    }
    // Idle connections kept: at most max_idle (the server may take a moment to notice closes).
    std::thread::sleep(Duration::from_millis(100));
    let after = server.redis_clients();
    assert!(after <= before + 1, "{before} -> {after}");
}

/// Whichever convention holds the session, a lookup is one request to the store: one
/// `MGET` of every candidate key (counted by redis itself), never a `GET` per key.
#[tokio::test]
async fn one_round_trip_per_lookup() {
    let server = StoreServer::start(Kind::Redis, None);
    let id = "0123456789abcdef0123456789abcdef";
    // The last key tried: Rails' CacheStore namespace, public id.
    server.put(&format!("_session_id:{id}"), &session_for(21));
    let auth = auth_for(&server, |_| {});
    let header = format!("_app_session={id}");
    let before = server.redis_calls("mget");
    for _ in 0..5 {
        let user = auth.user_from_cookie_header(&header).await.unwrap();
        assert_eq!(user.as_deref(), Some("21"));
    }
    assert!(matches!(
        auth.user_from_cookie_header("_app_session=ffffffffffffffffffffffffffffffff")
            .await,
        Err(RailsError::SessionNotFound)
    ));
    assert_eq!(server.redis_calls("mget") - before, 6);
    assert_eq!(server.redis_calls("get"), 0);
}

/// A configured namespace (or redis-store's `/db/namespace` URL) is the only one looked in.
#[tokio::test]
async fn configured_namespace_only() {
    let server = StoreServer::start(Kind::Redis, None);
    let id = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
    server.put(&format!("session:{id}"), &session_for(31));
    server.put(&format!("shop:{id}"), &session_for(32));
    let header = format!("_app_session={id}");
    let conventional = auth_for(&server, |_| {});
    let named = auth_for(&server, |c| c.namespace = Some("shop".into()));
    let in_url = auth_for(&server, |c| {
        c.url = Some(format!("redis://127.0.0.1:{}/0/shop", server.port()));
    });
    for (auth, want) in [(&conventional, "31"), (&named, "32"), (&in_url, "32")] {
        let user = auth.user_from_cookie_header(&header).await.unwrap();
        assert_eq!(user.as_deref(), Some(want));
    }
    let other = auth_for(&server, |c| c.namespace = Some("blog".into()));
    assert!(matches!(
        other.user_from_cookie_header(&header).await,
        Err(RailsError::SessionNotFound)
    ));
}
