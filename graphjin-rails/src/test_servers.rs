//! Throwaway `memcached` and `redis-server` processes for tests (feature `test-servers`).
//!
//! A [`StoreServer`] starts a real server (Debian packages `memcached` and `redis-server`) on
//! a free loopback port, waits until it listens, and kills and reaps it when dropped. It
//! panics when a binary is missing: the tests that use it need real servers.
//!
//! Not for production code: everything here panics on failure, as a test wants.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which session store a [`StoreServer`] runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// `memcached`, URL scheme `memcache://`.
    Memcache,
    /// `redis-server`, URL scheme `redis://`.
    Redis,
}

/// A store server process started by a test on 127.0.0.1; killed (and reaped) when dropped.
#[derive(Debug)]
pub struct StoreServer {
    kind: Kind,
    port: u16,
    password: Option<String>,
    child: Option<Child>,
}

/// `name` on `PATH` or in the usual system folders; panics (saying what to install) when
/// it is nowhere.
fn find_binary(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin".into(), "/usr/sbin".into(), "/usr/local/bin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` not found: the Rails session-store tests need real servers; install the \
                 Debian packages memcached and redis-server (apt-get install -y memcached redis-server)"
            )
        })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// A RESP (redis protocol) command of `args`.
fn resp(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

impl StoreServer {
    /// Starts a `kind` server on a free loopback port and waits (up to 10 s) until it
    /// listens. `password` is redis's `--requirepass` (memcached ignores it).
    pub fn start(kind: Kind, password: Option<&str>) -> StoreServer {
        let mut s = StoreServer {
            kind,
            port: free_port(),
            password: password.map(str::to_owned),
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
            let child = self.child.as_mut().expect("child");
            if let Some(status) = child.try_wait().expect("try_wait") {
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

    /// The loopback port it listens on (kept across [`restart`](Self::restart)).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server: the store goes away mid-run.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (empty: the data went with the process).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Sends `sig` (`"-STOP"` / `"-CONT"`) to the server and waits (up to 5 s) until the
    /// process state shows it: a stopped server accepts connections but never answers.
    pub fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("running").id().to_string();
        let ok = Command::new("kill")
            .args([sig, &pid])
            .status()
            .expect("kill runs")
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

    /// The store URL for `rails.url`: `memcache://127.0.0.1:PORT` or `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        match self.kind {
            Kind::Memcache => format!("memcache://127.0.0.1:{}", self.port),
            Kind::Redis => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// Stores `value` under `key` with a plain blocking client (authenticating first when
    /// the redis server has a password).
    pub fn put(&self, key: &str, value: &[u8]) {
        let mut conn = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to store");
        conn.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut reader = BufReader::new(conn.try_clone().expect("clone"));
        let mut line = String::new();
        match self.kind {
            Kind::Memcache => {
                conn.write_all(format!("set {key} 1 0 {}\r\n", value.len()).as_bytes())
                    .expect("write");
                conn.write_all(value).expect("write");
                conn.write_all(b"\r\n").expect("write");
                reader.read_line(&mut line).expect("read");
                assert_eq!(line, "STORED\r\n");
            }
            Kind::Redis => {
                if let Some(p) = &self.password {
                    conn.write_all(&resp(&[b"AUTH", p.as_bytes()]))
                        .expect("write");
                    reader.read_line(&mut line).expect("read");
                    assert_eq!(line, "+OK\r\n");
                    line.clear();
                }
                conn.write_all(&resp(&[b"SET", key.as_bytes(), value]))
                    .expect("write");
                reader.read_line(&mut line).expect("read");
                assert_eq!(line, "+OK\r\n");
            }
        }
    }

    /// Redis `INFO clients` `connected_clients` (including this probe).
    pub fn redis_clients(&self) -> usize {
        self.redis_info("clients")
            .lines()
            .find_map(|l| l.strip_prefix("connected_clients:"))
            .expect("connected_clients")
            .trim()
            .parse()
            .expect("a number")
    }

    /// How many times redis has run `command` (lower case, e.g. `mget`), from
    /// `INFO commandstats`.
    pub fn redis_calls(&self, command: &str) -> u64 {
        let prefix = format!("cmdstat_{command}:calls=");
        self.redis_info("commandstats")
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .map_or(0, |rest| {
                rest.split(',')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("a number of calls")
            })
    }

    /// The text of redis `INFO <section>` (without a password).
    fn redis_info(&self, section: &str) -> String {
        let mut conn = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to store");
        conn.write_all(&resp(&[b"INFO", section.as_bytes()]))
            .expect("write");
        let mut reader = BufReader::new(conn);
        let mut header = String::new();
        reader.read_line(&mut header).expect("read");
        let len: usize = header.trim()[1..].parse().expect("bulk length");
        let mut body = vec![0; len];
        reader.read_exact(&mut body).expect("read");
        String::from_utf8(body).expect("UTF-8")
    }
}

impl Drop for StoreServer {
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
