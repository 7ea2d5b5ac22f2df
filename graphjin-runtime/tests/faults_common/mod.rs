//! Shared by the fault tests (`faults_*.rs`): a schema with tables `a`, `b` and `w`, an
//! operation table over them, a TCP proxy that can play a dead server, and freezing a
//! cluster with SIGSTOP (thawed on drop, so a failing test never leaves it stopped).

#![allow(dead_code)] // each test binary uses part of this

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use graphjin_pg_tmp::TempPostgres;
use graphjin_runtime::{OpKind, Operation, Param, RoleStatement};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

pub const SCHEMA: &str = r#"
CREATE TABLE a (id int PRIMARY KEY, v text);
CREATE TABLE b (id int PRIMARY KEY, v text);
CREATE TABLE w (id bigserial PRIMARY KEY, tag text NOT NULL);
INSERT INTO a VALUES (1, 'a');
INSERT INTO b SELECT g, 'b' || g FROM generate_series(1, 10) g;
"#;

const READ_A: &str = r#"SELECT json_build_object('rows', (SELECT count(*) FROM a)) AS "__root""#;
const READ_B: &str = r#"SELECT json_build_object('rows', (SELECT count(*) FROM b), 'pid', pg_backend_pid()) AS "__root""#;
const ADD_ROW: &str = r#"WITH ins AS (INSERT INTO w (tag) VALUES ($1::text) RETURNING id) SELECT json_build_object('id', (SELECT id FROM ins)) AS "__root""#;

/// `readA` (table `a`), `readB` (table `b`, with the backend's pid), and the mutation
/// `addRow($tag)` (a row in `w`).
pub static OPS: &[Operation] = &[
    Operation {
        name: "readA",
        kind: OpKind::Query,
        query: "query readA { a { id } }",
        sha256: "",
        roles: &[RoleStatement {
            role: "anon",
            sql: READ_A,
            params: &[],
        }],
        constraints: &[],
    },
    Operation {
        name: "readB",
        kind: OpKind::Query,
        query: "query readB { b { id } }",
        sha256: "",
        roles: &[RoleStatement {
            role: "anon",
            sql: READ_B,
            params: &[],
        }],
        constraints: &[],
    },
    Operation {
        name: "addRow",
        kind: OpKind::Mutation,
        query: "mutation addRow($tag: String!) { w(insert: {tag: $tag}) { id } }",
        sha256: "",
        roles: &[RoleStatement {
            role: "anon",
            sql: ADD_ROW,
            params: &[Param {
                name: "tag",
                pg_type: "text",
                builtin: false,
                default: None,
            }],
        }],
        constraints: &[],
    },
];

pub fn op(name: &str) -> &'static Operation {
    OPS.iter()
        .find(|o| o.name == name)
        .expect("a fault test operation")
}

/// A fresh database with [`SCHEMA`] on `pg`; returns its name.
pub fn fault_database(pg: &TempPostgres) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let name = format!("faults_{}", COUNTER.fetch_add(1, Ordering::Relaxed));
    pg.create_database(&name, None).expect("create database");
    pg.run_sql(&name, SCHEMA).expect("load schema");
    name
}

/// The cluster's server processes stopped with SIGSTOP; SIGCONT when dropped.
pub struct Frozen {
    pids: Vec<u32>,
    /// What started the postmaster (`runuser` when running as root): it stops itself
    /// when its child stops, and needs a SIGCONT too.
    parent: Option<u32>,
}

impl Frozen {
    /// Stops the postmaster of `pg`, then every process it started.
    pub fn freeze(pg: &TempPostgres) -> Frozen {
        let postmaster = pg.postmaster_pid().expect("the postmaster is running");
        let parent = parent_of(postmaster).filter(|p| *p != std::process::id() && *p > 1);
        signal("STOP", &[postmaster]);
        let mut pids = vec![postmaster];
        pids.extend(children(postmaster));
        let frozen = Frozen { pids, parent };
        signal("STOP", &frozen.pids[1..]);
        frozen
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        signal("CONT", &self.pids);
        if let Some(parent) = self.parent {
            signal("CONT", &[parent]);
        }
    }
}

fn signal(name: &str, pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .args(pids.iter().map(u32::to_string))
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pids:?}");
}

/// The processes whose parent is `parent`, from `/proc/*/stat`.
fn children(parent: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if parent_of(pid) == Some(parent) {
            found.push(pid);
        }
    }
    found
}

/// The parent of process `pid`, from `/proc/PID/stat`.
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(1))
        .and_then(|p| p.parse::<u32>().ok())
}

/// A TCP proxy to a PostgreSQL port that counts the connections it accepts and can play
/// a dead server: [`Proxy::down`] cuts every open connection and closes new ones at once.
pub struct Proxy {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    accepts: Arc<AtomicUsize>,
    pipes: Arc<Mutex<Vec<AbortHandle>>>,
    task: AbortHandle,
}

impl Proxy {
    pub async fn start(port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let up = Arc::new(AtomicBool::new(true));
        let accepts = Arc::new(AtomicUsize::new(0));
        let pipes: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let task = tokio::spawn({
            let (up, accepts, pipes) = (up.clone(), accepts.clone(), pipes.clone());
            async move {
                loop {
                    let Ok((mut client, _)) = listener.accept().await else {
                        continue;
                    };
                    accepts.fetch_add(1, Ordering::SeqCst);
                    if !up.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    let pipe = tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(("127.0.0.1", port)).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                    pipes.lock().unwrap().push(pipe.abort_handle());
                }
            }
        })
        .abort_handle();
        Proxy {
            addr,
            up,
            accepts,
            pipes,
            task,
        }
    }

    /// A URL for `dbname` through the proxy.
    pub fn url(&self, dbname: &str) -> String {
        format!("postgres://postgres@{}/{dbname}", self.addr)
    }

    /// Connections accepted so far (each a connection attempt of a client).
    pub fn accepts(&self) -> usize {
        self.accepts.load(Ordering::SeqCst)
    }

    /// Cuts every open connection; new ones are closed as soon as they are accepted.
    pub fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for pipe in self.pipes.lock().unwrap().drain(..) {
            pipe.abort();
        }
    }

    /// Forwards new connections again.
    pub fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.down();
    }
}
