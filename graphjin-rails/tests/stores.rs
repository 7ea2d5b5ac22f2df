//! Cache-store sessions against real `memcached` and `redis-server` processes (Debian
//! packages `memcached` and `redis-server`), started here on free loopback ports and always
//! killed at the end.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use graphjin_rails::{RailsAuth, RailsConfig, RailsError};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Memcache,
    Redis,
}

/// A store server process; killed (and reaped) when dropped.
struct Server {
    kind: Kind,
    port: u16,
    password: Option<String>,
    child: Option<Child>,
}

fn find_binary(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin".into(), "/usr/sbin".into(), "/usr/local/bin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` not found: the store tests need real servers; install the Debian packages \
                 memcached and redis-server (apt-get install -y memcached redis-server)"
            )
        })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

impl Server {
    fn start(kind: Kind, password: Option<&str>) -> Server {
        let mut s = Server {
            kind,
            port: free_port(),
            password: password.map(str::to_string),
            child: None,
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none());
        let port = self.port.to_string();
        let mut cmd = match self.kind {
            Kind::Memcache => {
                let mut c = Command::new(find_binary("memcached"));
                c.args(["-l", "127.0.0.1", "-p", &port, "-U", "0"]);
                if running_as_root() {
                    c.args(["-u", "root"]);
                }
                c
            }
            Kind::Redis => {
                let mut c = Command::new(find_binary("redis-server"));
                c.args([
                    "--port",
                    &port,
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ]);
                if let Some(p) = &self.password {
                    c.args(["--requirepass", p]);
                }
                c
            }
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        self.child = Some(cmd.spawn().expect("store server starts"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("{:?} server exited at start: {status}", self.kind);
            }
            assert!(
                Instant::now() < deadline,
                "{:?} server did not listen",
                self.kind
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Sends SIGSTOP / SIGCONT: a server that accepts connections but never answers.
    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        let ok = Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} {pid}");
        // Signal delivery is asynchronous: wait until the process state shows it.
        let want_stopped = sig == "-STOP";
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat.rsplit(") ").next().and_then(|s| s.chars().next());
            if matches!(state, Some('T' | 't')) == want_stopped {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "process {pid} did not take {sig}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn url(&self) -> String {
        match self.kind {
            Kind::Memcache => format!("memcache://127.0.0.1:{}", self.port),
            Kind::Redis => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// Stores `value` under `key` with a plain blocking client.
    fn put(&self, key: &str, value: &[u8]) {
        let mut conn = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let mut line = String::new();
        match self.kind {
            Kind::Memcache => {
                conn.write_all(format!("set {key} 1 0 {}\r\n", value.len()).as_bytes())
                    .unwrap();
                conn.write_all(value).unwrap();
                conn.write_all(b"\r\n").unwrap();
                reader.read_line(&mut line).unwrap();
                assert_eq!(line, "STORED\r\n");
            }
            Kind::Redis => {
                if let Some(p) = &self.password {
                    conn.write_all(&resp(&[b"AUTH", p.as_bytes()])).unwrap();
                    reader.read_line(&mut line).unwrap();
                    assert_eq!(line, "+OK\r\n");
                    line.clear();
                }
                conn.write_all(&resp(&[b"SET", key.as_bytes(), value]))
                    .unwrap();
                reader.read_line(&mut line).unwrap();
                assert_eq!(line, "+OK\r\n");
            }
        }
    }

    /// Redis `INFO clients` connected_clients (including this probe).
    fn redis_clients(&self) -> usize {
        let mut conn = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        conn.write_all(&resp(&[b"INFO", b"clients"])).unwrap();
        let mut reader = BufReader::new(conn);
        let mut header = String::new();
        reader.read_line(&mut header).unwrap();
        let len: usize = header.trim()[1..].parse().unwrap();
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        let body = String::from_utf8(body).unwrap();
        body.lines()
            .find_map(|l| l.strip_prefix("connected_clients:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // A stopped process must be continued to die cleanly.
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
        }
        self.kill();
    }
}

fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn auth_for(server: &Server, tweak: impl FnOnce(&mut RailsConfig)) -> RailsAuth {
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
    let vectors = common::vectors("stores.json");
    assert!(!vectors.is_empty());
    let memcache = Server::start(Kind::Memcache, None);
    let redis = Server::start(Kind::Redis, None);
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
        let auth = RailsAuth::new(&common::config(v, Some(server.port))).unwrap();
        let got = auth.user_from_cookie_header(common::cookie_header(v)).await;
        let want = common::expected(v);
        let ok = match (&got, &want) {
            (Ok(Some(id)), Some(w)) => id == w,
            (Err(RailsError::SessionNotFound), None) => true,
            _ => false,
        };
        println!("{name}: {got:?}, want {want:?}");
        if ok {
            passed += 1;
        } else {
            failed += 1;
            println!("  FAILED: {name}");
        }
    }
    println!("store vectors: {passed} passed, {failed} failed");
    assert_eq!(failed, 0);
}

/// Kill the server mid-run: a clear error quickly, then recovery after a restart (the dead
/// pooled connection is dropped and a new one dialled).
async fn outage_and_recovery(kind: Kind) {
    let mut server = Server::start(kind, None);
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
            msg.contains(store) && msg.contains(&server.port.to_string()),
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
    let mut server = Server::start(kind, None);
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
    let server = Server::start(kind, None);
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
    let server = Server::start(Kind::Redis, Some("s3cr3t-pass"));
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
    let url = format!("redis://:s3cr3t-pass@127.0.0.1:{}", server.port);
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
    let server = Server::start(Kind::Memcache, None);
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
    let server = Server::start(Kind::Redis, None);
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
