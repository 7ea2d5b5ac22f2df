//! Shared by the read-replica tests: a throwaway primary, a streaming replica made from
//! it with `pg_basebackup -R` and started on a second port with `pg_ctl`, and an operation
//! table whose read says which server answered (`pg_is_in_recovery()`).

#![allow(dead_code)] // each test binary uses part of this

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use graphjin_pg_tmp::TempPostgres;
use graphjin_runtime::{OpKind, Operation, Param, RoleStatement};

pub const SCHEMA: &str = "CREATE TABLE w (id bigserial PRIMARY KEY, tag text NOT NULL);";

/// Every tag written, and whether the server answering is a replica.
const READ_W: &str = r#"SELECT json_build_object('tags', (SELECT coalesce(json_agg(tag ORDER BY id), '[]') FROM w), 'replica', pg_is_in_recovery()) AS "__root""#;
const ADD_ROW: &str = r#"WITH ins AS (INSERT INTO w (tag) VALUES ($1::text) RETURNING id) SELECT json_build_object('id', (SELECT id FROM ins)) AS "__root""#;
const TAG: &[Param] = &[Param {
    name: "tag",
    pg_type: "text",
    builtin: false,
    default: None,
}];

/// `readW` (the tags, and `replica`: whether a replica answered) and the mutation
/// `addRow($tag)`, for roles `anon` and `user`.
pub static OPS: &[Operation] = &[
    Operation {
        name: "readW",
        kind: OpKind::Query,
        query: "query readW { w { tag } }",
        sha256: "",
        roles: &[
            RoleStatement {
                role: "anon",
                sql: READ_W,
                params: &[],
            },
            RoleStatement {
                role: "user",
                sql: READ_W,
                params: &[],
            },
        ],
        constraints: &[],
    },
    Operation {
        name: "addRow",
        kind: OpKind::Mutation,
        query: "mutation addRow($tag: String!) { w(insert: {tag: $tag}) { id } }",
        sha256: "",
        roles: &[
            RoleStatement {
                role: "anon",
                sql: ADD_ROW,
                params: TAG,
            },
            RoleStatement {
                role: "user",
                sql: ADD_ROW,
                params: TAG,
            },
        ],
        constraints: &[],
    },
];

/// A primary with [`SCHEMA`] in database `app`.
pub fn primary() -> TempPostgres {
    let pg = TempPostgres::start().expect("start the primary");
    pg.create_database("app", None).expect("create database");
    pg.run_sql("app", SCHEMA).expect("load schema");
    pg
}

/// A streaming replica of a [`TempPostgres`], in a directory of its own; stopped and
/// removed on drop.
pub struct Replica {
    bin: PathBuf,
    root: PathBuf,
    port: u16,
    running: bool,
}

impl Replica {
    /// Copies `primary` with `pg_basebackup -R` (streaming WAL, a fast checkpoint, no fsync) and
    /// starts the copy as a hot standby on a free port.
    pub fn start(primary: &TempPostgres) -> Replica {
        let bin = pg_bin();
        let root = std::env::temp_dir().join(format!(
            "gj-replica-{}-{}",
            std::process::id(),
            primary.port()
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("create the replica's directory");
        if running_as_root() {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&root)
                .status()
                .expect("chown");
            assert!(status.success(), "chown the replica's directory");
        }
        let mut replica = Replica {
            bin,
            root,
            port: free_port(),
            running: false,
        };
        let data = replica.data();
        let out = replica
            .command("pg_basebackup")
            .args(["-R", "-N", "-X", "stream", "-c", "fast", "-D"])
            .arg(&data)
            .arg("-d")
            .arg(primary.url("app"))
            .output()
            .expect("run pg_basebackup");
        assert!(
            out.status.success(),
            "pg_basebackup: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        replica.start_again();
        replica
    }

    /// The replica's URL for database `app`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/app", self.port)
    }

    /// Starts the stopped replica again (`pg_ctl start -w`, at most 30 s).
    pub fn start_again(&mut self) {
        let options = format!(
            "-c port={} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c hot_standby=on -c fsync=off -c max_connections=200",
            self.port,
            self.root.display()
        );
        let out = self
            .command("pg_ctl")
            .args(["start", "-w", "-t", "30", "-D"])
            .arg(self.data())
            .arg("-l")
            .arg(self.root.join("server.log"))
            .arg("-o")
            .arg(options)
            .output()
            .expect("run pg_ctl start");
        assert!(
            out.status.success(),
            "pg_ctl start: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log_tail()
        );
        self.running = true;
    }

    /// Stops the replica (`pg_ctl stop -m fast`: sessions are terminated, at most 30 s).
    pub fn stop(&mut self) {
        self.pg_ctl_stop("fast");
    }

    fn pg_ctl_stop(&mut self, mode: &str) {
        if !self.running {
            return;
        }
        let _ = self
            .command("pg_ctl")
            .args(["stop", "-w", "-t", "30", "-m", mode, "-D"])
            .arg(self.data())
            .output();
        self.running = false;
    }

    /// The end of the replica's server log (for failure messages).
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.root.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    /// `program` from the PostgreSQL binaries, as the `postgres` user when running as root.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if running_as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.pg_ctl_stop("immediate");
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Runs `sql` on the server at `url` (its first column of the first row as text, if any),
/// within 10 s.
pub async fn sql(url: &str, sql: &str) -> Option<String> {
    let run = async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        let task = tokio::spawn(conn);
        let rows = client.simple_query(sql).await.expect("run sql");
        task.abort();
        rows.into_iter().find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
            _ => None,
        })
    };
    tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("sql within 10 s")
}

/// Waits up to `limit` for `check` to hold, checking every 50 ms; panics naming `what`.
pub async fn wait_for<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "{what}: not within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn running_as_root() -> bool {
    // The effective uid, from /proc.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// `$PG_BIN_DIR`, else the newest `/usr/lib/postgresql/*/bin`.
fn pg_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("PG_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed under /usr/lib/postgresql (or set PG_BIN_DIR)")
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            Path::new(&bin)
                .join("pg_basebackup")
                .exists()
                .then_some((v, bin))
        })
        .collect();
    found.sort();
    found.pop().expect("a PostgreSQL with pg_basebackup").1
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}
