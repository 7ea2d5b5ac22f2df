//! A throwaway PostgreSQL cluster, started from the PostgreSQL binaries installed on the
//! machine, for tests and demos.
//!
//! [`TempPostgres::start`] runs `initdb` into a fresh temporary directory and starts a
//! server listening on `127.0.0.1` at a free port (and on a unix socket in the same private
//! directory), with durability switched off for speed. It takes well under a second.
//! The cluster and its directory are removed by [`TempPostgres::stop`] or on drop, and — by a
//! small watchdog process — also when the process exits without dropping it or is killed.
//! [`shared`] gives one cluster per process, started on first use.
//! [`TempPostgres::start_with`] adds files to the data directory, server settings and
//! `pg_hba.conf` lines first; with the `tls` feature, [`TestPki`] makes a throwaway CA and
//! server/client certificates and the options for a cluster with `ssl = on`.
//!
//! The binaries are found through `$PG_BIN_DIR`, else `pg_config --bindir`, else the newest
//! `/usr/lib/postgresql/*/bin`, else `PATH`. When running as root (where `initdb` and
//! `postgres` refuse to run) the server programs run as the `postgres` OS user via `runuser`.
//!
//! # Example
//!
//! ```
//! use graphjin_pg_tmp::TempPostgres;
//!
//! # fn main() -> Result<(), graphjin_pg_tmp::Error> {
//! let pg = TempPostgres::start()?;
//! pg.create_database("app", None)?;
//! pg.run_sql("app", "create table t (id int); insert into t values (1), (2)")?;
//! assert_eq!(pg.run_sql("app", "select count(*) from t")?, "2");
//!
//! // Any client can connect with the URL, e.g. tokio-postgres or sqlx.
//! assert_eq!(pg.url("app"), format!("postgres://postgres@127.0.0.1:{}/app", pg.port()));
//!
//! pg.stop()?; // or just drop it
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

#[cfg(not(unix))]
compile_error!("graphjin-pg-tmp supports only unix-like systems");

mod find;
#[cfg(feature = "tls")]
mod tls;

#[cfg(feature = "tls")]
pub use tls::TestPki;

use std::env;
use std::fmt::Write as _;
use std::fs::{self, DirBuilder, File};
use std::io::{self, Write as _};
use std::net::TcpListener;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use find::{Bins, RunAs};

/// The address the server listens on.
const HOST: &str = "127.0.0.1";
/// How long [`TempPostgres::start`] waits for the server to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How many free ports to try when another process grabs the chosen one first.
const PORT_ATTEMPTS: usize = 5;
/// Lines of the server log quoted in errors.
const LOG_TAIL_LINES: usize = 30;

/// Waits for its stdin to close (the owning process exited, however it died), then stops
/// the cluster and removes its directory. Ignores the signals a terminal or a test runner
/// sends to the whole process group, so it outlives its parent long enough to clean up.
/// Arguments: $1 = directory, $2 = data directory, $3 = pg_ctl, $4 = runuser or "".
const WATCHDOG_SCRIPT: &str = r#"trap '' HUP INT QUIT TERM PIPE
while read -r _; do :; done
if [ -n "$4" ]; then
  "$4" -u postgres -- "$3" stop -D "$2" -m immediate -w -t 10
else
  "$3" stop -D "$2" -m immediate -w -t 10
fi >/dev/null 2>&1
rm -rf "$1"
"#;

/// Why a cluster could not be started, queried or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `initdb`, `pg_ctl`, `postgres` or `psql` could not be found.
    #[error(
        "PostgreSQL binaries not found: install the postgresql package or set PG_BIN_DIR \
         to the directory holding initdb, pg_ctl, postgres and psql (searched: {searched})"
    )]
    BinariesNotFound {
        /// Where we looked.
        searched: String,
    },
    /// Running as root, but the server programs cannot be run as the `postgres` user.
    #[error(
        "running as root, where PostgreSQL refuses to run, and {problem}: create the \
         `postgres` OS user (the postgresql package does) or run as a non-root user"
    )]
    RunningAsRoot {
        /// What is missing.
        problem: String,
    },
    /// An operating-system call failed.
    #[error("{action}: {source}")]
    Io {
        /// What we were doing.
        action: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A test certificate could not be made (feature `tls`).
    #[error("making a test certificate failed: {0}")]
    Certificate(String),
    /// `initdb` exited with an error.
    #[error("initdb failed: {0}")]
    Initdb(String),
    /// The server exited or did not become ready in time.
    #[error(
        "PostgreSQL server did not start: {reason}\n--- server log (last lines) ---\n{log_tail}"
    )]
    Start {
        /// What went wrong.
        reason: String,
        /// The end of the server log.
        log_tail: String,
    },
    /// `psql` reported an error.
    #[error("psql on database `{dbname}` failed: {message}")]
    Sql {
        /// The database the SQL ran in.
        dbname: String,
        /// psql's error output.
        message: String,
    },
    /// The server could not be stopped cleanly.
    #[error("stopping PostgreSQL failed: {0}")]
    Stop(String),
}

fn io_error(action: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
    let action = action.into();
    move |source| Error::Io { action, source }
}

/// What [`TempPostgres::start_with`] adds to a cluster: files in the data directory,
/// server settings, `pg_hba.conf` lines (e.g. for a TLS cluster:
/// `server.crt`/`server.key`, `ssl=on`, `hostssl … cert`).
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// Files written into the data directory before the server starts, as
    /// (file name, contents); mode 0600 and owned by the server's user (as PostgreSQL
    /// wants a private key file).
    pub files: Vec<(String, Vec<u8>)>,
    /// Server settings, as (`name`, `value`) passed with `-c`: `("ssl", "on")`,
    /// `("ssl_cert_file", "server.crt")` (relative paths are in the data directory).
    pub settings: Vec<(String, String)>,
    /// Lines put at the top of `pg_hba.conf`, so they match before the default `trust`
    /// ones: `hostssl all alice 127.0.0.1/32 cert`.
    pub hba_lines: Vec<String>,
    /// The server process's `LC_ALL` (`C` when `None`), e.g. `C.UTF-8` to run it as a
    /// server started from a UTF-8 login usually runs. The databases' own locale stays `C`.
    pub server_locale: Option<String>,
}

/// A running throwaway PostgreSQL cluster; see the [crate docs](crate).
///
/// The superuser is `postgres`, authentication is `trust`, the encoding UTF8 and the locale
/// `C`. `fsync`, `full_page_writes` and `synchronous_commit` are off: a crash loses data,
/// which does not matter for a cluster that is deleted anyway.
#[derive(Debug)]
pub struct TempPostgres {
    bins: Bins,
    run_as: Option<RunAs>,
    root: PathBuf,
    data: PathBuf,
    log: PathBuf,
    port: u16,
    /// The postmaster, or `runuser` running it.
    server: Option<Child>,
    watchdog: Option<Child>,
    stopped: bool,
    /// The `-c` settings from [`StartOptions`].
    settings: Vec<(String, String)>,
    /// The server's `LC_ALL` from [`StartOptions`].
    server_locale: Option<String>,
}

impl TempPostgres {
    /// Creates a cluster in a fresh temporary directory and starts its server.
    ///
    /// Runs `initdb -A trust -U postgres --no-sync -E UTF8 --locale=C`, then `postgres`
    /// listening on `127.0.0.1` at a free port and on a unix socket in the cluster's private
    /// directory, and waits (up to 30 s) until it accepts connections.
    pub fn start() -> Result<TempPostgres, Error> {
        TempPostgres::start_with(StartOptions::default())
    }

    /// [`TempPostgres::start`] with files, settings and `pg_hba.conf` lines added before the
    /// server starts (see [`StartOptions`]).
    pub fn start_with(options: StartOptions) -> Result<TempPostgres, Error> {
        let bins = find::find_bins()?;
        let run_as = find::run_as()?;
        let root = make_root_dir(run_as.as_ref())?;
        let mut pg = TempPostgres {
            bins,
            run_as,
            data: root.join("data"),
            log: root.join("server.log"),
            root,
            port: 0,
            server: None,
            watchdog: None,
            stopped: false,
            settings: options.settings,
            server_locale: options.server_locale,
        };
        // From here on, any error drops `pg`, which cleans up.
        pg.spawn_watchdog()?;
        pg.initdb()?;
        pg.add_files(&options.files)?;
        pg.prepend_hba(&options.hba_lines)?;
        pg.start_server()?;
        Ok(pg)
    }

    /// The TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address the server listens on: `"127.0.0.1"`.
    pub fn host(&self) -> &str {
        HOST
    }

    /// A connection URL for database `dbname` as the superuser `postgres` (no password):
    /// `postgres://postgres@127.0.0.1:PORT/DBNAME`.
    pub fn url(&self, dbname: &str) -> String {
        format!(
            "postgres://postgres@{HOST}:{}/{}",
            self.port,
            percent_encode(dbname)
        )
    }

    /// The cluster's private temporary directory, holding the data directory, the server
    /// log and the unix socket. Removed when the cluster stops.
    pub fn root_dir(&self) -> &Path {
        &self.root
    }

    /// The data directory (`PGDATA`).
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// The directory holding the server's unix socket (use it as `host` in a libpq
    /// connection string).
    pub fn socket_dir(&self) -> &Path {
        &self.root
    }

    /// The server log file.
    pub fn log_file(&self) -> &Path {
        &self.log
    }

    /// The process id of the postmaster, read from `postmaster.pid`; `None` if not running.
    pub fn postmaster_pid(&self) -> Option<u32> {
        fs::read_to_string(self.data.join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    /// The last lines of the server log, for error messages.
    pub fn log_tail(&self) -> String {
        let text = fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }

    /// Creates database `name`, copied from database `template` if given (else from
    /// `template1`). The template must have no other connections open.
    pub fn create_database(&self, name: &str, template: Option<&str>) -> Result<(), Error> {
        let mut sql = format!("CREATE DATABASE {}", quote_ident(name));
        if let Some(template) = template {
            let _ = write!(sql, " TEMPLATE {}", quote_ident(template));
        }
        self.run_sql("postgres", &sql).map(drop)
    }

    /// Runs `sql` (one or more statements; psql meta-commands allowed) in database `dbname`
    /// with `psql -X -v ON_ERROR_STOP=1 -At -q`, stopping at the first error.
    ///
    /// Returns psql's standard output — the rows of the queries, columns separated by `|`,
    /// one row a line — without the final newline.
    pub fn run_sql(&self, dbname: &str, sql: &str) -> Result<String, Error> {
        let mut child = self
            .psql(dbname)
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(io_error(format!("running {}", self.bins.psql.display())))?;
        let stdin = child.stdin.take();
        let output = thread::scope(|s| {
            // Write from another thread so a large output cannot deadlock against the input.
            s.spawn(move || {
                if let Some(mut stdin) = stdin {
                    // An early exit of psql shows up as its own error below.
                    let _ = stdin.write_all(sql.as_bytes());
                }
            });
            child.wait_with_output()
        })
        .map_err(io_error(format!("running {}", self.bins.psql.display())))?;
        check_psql(dbname, output.status, &output.stderr)?;
        let mut stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if stdout.ends_with('\n') {
            stdout.pop();
        }
        Ok(stdout)
    }

    /// Runs the SQL script at `path` in database `dbname` with `psql -f`, stopping at the
    /// first error.
    pub fn run_sql_file(&self, dbname: &str, path: &Path) -> Result<(), Error> {
        if let Err(source) = fs::metadata(path) {
            return Err(Error::Io {
                action: format!("reading SQL file {}", path.display()),
                source,
            });
        }
        let output = self
            .psql(dbname)
            .arg("-f")
            .arg(path)
            .stdin(Stdio::null())
            .output()
            .map_err(io_error(format!("running {}", self.bins.psql.display())))?;
        check_psql(dbname, output.status, &output.stderr)
    }

    /// Stops the server (`pg_ctl stop -m fast`) and removes the cluster's directory.
    ///
    /// Dropping does the same but ignores errors. If stopping fails, the watchdog process
    /// makes a last attempt (`-m immediate`) in the background.
    pub fn stop(mut self) -> Result<(), Error> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), Error> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;

        let mut failure = None;
        if let Some(mut server) = self.server.take() {
            let mut exited = false;
            let mut messages = Vec::new();
            for (mode, patience) in [
                ("fast", Duration::from_secs(30)),
                ("immediate", Duration::from_secs(5)),
            ] {
                if let Err(e) = self.pg_ctl_stop(mode) {
                    messages.push(e);
                }
                if wait_for_exit(&mut server, patience) {
                    exited = true;
                    break;
                }
            }
            if !exited {
                if let Some(pid) = self.postmaster_pid() {
                    let _ = Command::new("/bin/sh")
                        .args(["-c", "kill -KILL \"$1\"", "sh", &pid.to_string()])
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status();
                }
                let _ = server.kill();
                wait_for_exit(&mut server, Duration::from_secs(2));
                messages.push("the server did not shut down and was killed".to_owned());
                failure = Some(messages.join("; "));
            }
        }

        let watchdog = self.watchdog.take();
        if let Some(failure) = failure {
            // Dropping the watchdog's stdin tells it to try again and clean up.
            drop(watchdog);
            return Err(Error::Stop(failure));
        }
        if let Some(mut watchdog) = watchdog {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        match fs::remove_dir_all(&self.root) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::Io {
                action: format!("removing {}", self.root.display()),
                source: e,
            }),
            _ => Ok(()),
        }
    }

    /// A command running `program` as the user that may run the server programs.
    fn server_command(&self, program: &Path) -> Command {
        let mut cmd = match &self.run_as {
            Some(run_as) => {
                let mut cmd = Command::new(&run_as.runuser);
                cmd.args(["-u", "postgres", "--"]).arg(program);
                cmd
            }
            None => Command::new(program),
        };
        scrub_env(&mut cmd);
        cmd.current_dir(&self.root);
        cmd
    }

    fn psql(&self, dbname: &str) -> Command {
        let mut cmd = Command::new(&self.bins.psql);
        scrub_env(&mut cmd);
        cmd.env("PGCLIENTENCODING", "UTF8")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(format!(
                "host={HOST} port={} user=postgres dbname={} connect_timeout=10 \
                 sslmode=disable application_name=graphjin-pg-tmp",
                self.port,
                quote_conninfo(dbname)
            ));
        cmd
    }

    fn spawn_watchdog(&mut self) -> Result<(), Error> {
        let runuser = self
            .run_as
            .as_ref()
            .map(|r| r.runuser.clone().into_os_string())
            .unwrap_or_default();
        let mut cmd = Command::new("/bin/sh");
        scrub_env(&mut cmd);
        cmd.args(["-c", WATCHDOG_SCRIPT, "graphjin-pg-tmp-watchdog"])
            .arg(&self.root)
            .arg(&self.data)
            .arg(&self.bins.pg_ctl)
            .arg(runuser)
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Out of the test runner's process group, so a ^C reaches only the parent.
            .process_group(0);
        let child = cmd
            .spawn()
            .map_err(io_error("starting the cleanup watchdog (/bin/sh)"))?;
        self.watchdog = Some(child);
        Ok(())
    }

    fn initdb(&self) -> Result<(), Error> {
        let output = self
            .server_command(&self.bins.initdb)
            .arg("-D")
            .arg(&self.data)
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .stdin(Stdio::null())
            .output()
            .map_err(io_error(format!("running {}", self.bins.initdb.display())))?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let message = if stderr.trim().is_empty() {
            format!("{} ({})", stdout.trim(), output.status)
        } else {
            stderr.trim().to_owned()
        };
        Err(Error::Initdb(message))
    }

    /// Writes `files` into the data directory: mode 0600, owned by the server's user.
    fn add_files(&self, files: &[(String, Vec<u8>)]) -> Result<(), Error> {
        use std::os::unix::fs::OpenOptionsExt;
        for (name, contents) in files {
            let path = self.data.join(name);
            let action = || format!("writing {}", path.display());
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&path)
                .map_err(io_error(action()))?;
            file.write_all(contents).map_err(io_error(action()))?;
            if let Some(run_as) = &self.run_as {
                std::os::unix::fs::chown(&path, Some(run_as.uid), Some(run_as.gid))
                    .map_err(io_error(action()))?;
            }
        }
        Ok(())
    }

    /// Puts `lines` at the top of `pg_hba.conf`.
    fn prepend_hba(&self, lines: &[String]) -> Result<(), Error> {
        if lines.is_empty() {
            return Ok(());
        }
        let path = self.data.join("pg_hba.conf");
        let old =
            fs::read_to_string(&path).map_err(io_error(format!("reading {}", path.display())))?;
        let mut text = lines.join("\n");
        text.push('\n');
        text.push_str(&old);
        fs::write(&path, text).map_err(io_error(format!("writing {}", path.display())))
    }

    fn start_server(&mut self) -> Result<(), Error> {
        let mut last_tail = String::new();
        for _ in 0..PORT_ATTEMPTS {
            self.port = free_port()?;
            self.spawn_server()?;
            match self.wait_until_ready()? {
                Startup::Ready => return Ok(()),
                Startup::PortTaken(tail) => last_tail = tail,
            }
        }
        Err(Error::Start {
            reason: format!("no free port after {PORT_ATTEMPTS} attempts"),
            log_tail: last_tail,
        })
    }

    fn spawn_server(&mut self) -> Result<(), Error> {
        let log = File::create(&self.log)
            .map_err(io_error(format!("creating {}", self.log.display())))?;
        let log_err = log
            .try_clone()
            .map_err(io_error(format!("opening {}", self.log.display())))?;
        let mut socket_dir = std::ffi::OsString::from("unix_socket_directories=");
        socket_dir.push(&self.root);
        let child = self
            .server_command(&self.bins.postgres)
            .env("LC_ALL", self.server_locale.as_deref().unwrap_or("C"))
            .arg("-D")
            .arg(&self.data)
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-c", &format!("listen_addresses={HOST}")])
            .arg("-c")
            .arg(socket_dir)
            .args([
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "max_connections=200",
            ])
            .args(
                self.settings
                    .iter()
                    .flat_map(|(name, value)| ["-c".to_owned(), format!("{name}={value}")]),
            )
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .process_group(0)
            .spawn()
            .map_err(io_error(format!(
                "running {}",
                self.bins.postgres.display()
            )))?;
        self.server = Some(child);
        Ok(())
    }

    fn wait_until_ready(&mut self) -> Result<Startup, Error> {
        let deadline = Instant::now() + START_TIMEOUT;
        let pid_file = self.data.join("postmaster.pid");
        loop {
            // Line 8 of postmaster.pid is the server status, "ready" once it accepts
            // connections (what `pg_ctl start -w` waits for).
            if let Ok(text) = fs::read_to_string(&pid_file)
                && text.lines().nth(7).map(str::trim) == Some("ready")
            {
                return Ok(Startup::Ready);
            }
            let Some(server) = self.server.as_mut() else {
                return Err(Error::Start {
                    reason: "the server process is gone".to_owned(),
                    log_tail: self.log_tail(),
                });
            };
            match server.try_wait() {
                Ok(None) => {}
                Ok(Some(status)) => {
                    self.server = None;
                    let log_tail = self.log_tail();
                    if log_tail.contains("Address already in use") {
                        return Ok(Startup::PortTaken(log_tail));
                    }
                    return Err(Error::Start {
                        reason: format!("postgres exited during startup ({status})"),
                        log_tail,
                    });
                }
                Err(source) => {
                    return Err(Error::Io {
                        action: "waiting for the PostgreSQL server".to_owned(),
                        source,
                    });
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::Start {
                    reason: format!(
                        "not accepting connections after {} s",
                        START_TIMEOUT.as_secs()
                    ),
                    log_tail: self.log_tail(),
                });
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Asks the postmaster to shut down in `mode`, without waiting (we wait on the process).
    fn pg_ctl_stop(&self, mode: &str) -> Result<(), String> {
        let output = self
            .server_command(&self.bins.pg_ctl)
            .arg("stop")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", mode, "-W"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running {}: {e}", self.bins.pg_ctl.display()))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "pg_ctl stop -m {mode}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
    }
}

impl Drop for TempPostgres {
    /// Stops the server and removes the cluster's directory unless [`TempPostgres::stop`]
    /// already did; errors are ignored.
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

enum Startup {
    Ready,
    /// Someone else bound the port between our check and the server's bind.
    PortTaken(String),
}

/// The cluster shared by the whole process, started on first use.
///
/// Thread-safe: concurrent first calls start a single cluster. If starting fails the error
/// is returned and the next call tries again. The cluster is never dropped; the watchdog
/// stops it and removes its directory when the process exits.
pub fn shared() -> Result<&'static TempPostgres, Error> {
    static CLUSTER: OnceLock<TempPostgres> = OnceLock::new();
    static STARTING: Mutex<()> = Mutex::new(());
    if let Some(pg) = CLUSTER.get() {
        return Ok(pg);
    }
    let _guard = STARTING.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(pg) = CLUSTER.get() {
        return Ok(pg);
    }
    let pg = TempPostgres::start()?;
    Ok(CLUSTER.get_or_init(|| pg))
}

fn make_root_dir(run_as: Option<&RunAs>) -> Result<PathBuf, Error> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    // As root the directory must be reachable by the postgres user: not under /root.
    let base = if run_as.is_some() {
        PathBuf::from("/tmp")
    } else {
        env::temp_dir()
    };
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = base.join(format!("graphjin-pg-{}-{n}", std::process::id()));
        match DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => {
                if let Some(run_as) = run_as
                    && let Err(source) =
                        std::os::unix::fs::chown(&path, Some(run_as.uid), Some(run_as.gid))
                {
                    let _ = fs::remove_dir(&path);
                    return Err(Error::Io {
                        action: format!("giving {} to the postgres user", path.display()),
                        source,
                    });
                }
                return Ok(path);
            }
            // Left over by an earlier process with the same pid.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 10_000 => continue,
            Err(source) => {
                return Err(Error::Io {
                    action: format!("creating {}", path.display()),
                    source,
                });
            }
        }
    }
}

fn free_port() -> Result<u16, Error> {
    TcpListener::bind((HOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(io_error("finding a free port on 127.0.0.1"))
}

/// Removes libpq and server settings (`PGHOST`, `PGDATA`, `PGOPTIONS`, ...) inherited from
/// the environment, which could point our programs elsewhere.
fn scrub_env(cmd: &mut Command) {
    for (key, _) in env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(key);
        }
    }
    cmd.env("LC_ALL", "C");
}

fn wait_for_exit(child: &mut Child, patience: Duration) -> bool {
    let deadline = Instant::now() + patience;
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) if Instant::now() >= deadline => return false,
            Ok(None) => thread::sleep(Duration::from_millis(5)),
        }
    }
}

fn check_psql(dbname: &str, status: ExitStatus, stderr: &[u8]) -> Result<(), Error> {
    if status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(stderr);
    let message = if stderr.trim().is_empty() {
        format!("psql exited with {status}")
    } else {
        stderr.trim().to_owned()
    };
    Err(Error::Sql {
        dbname: dbname.to_owned(),
        message,
    })
}

/// `name` as an SQL identifier: `"name"` with inner quotes doubled.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `value` as a libpq connection-string value: single-quoted, `\` and `'` escaped.
fn quote_conninfo(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote_ident(r#"a"b"#), r#""a""b""#);
        assert_eq!(quote_conninfo(r"it's\"), r"'it\'s\\'");
        assert_eq!(percent_encode("db_1-x.y~"), "db_1-x.y~");
        assert_eq!(percent_encode("a b/é"), "a%20b%2F%C3%A9");
    }
}
