//! Starting, using and cleaning up throwaway clusters (needs PostgreSQL installed).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use graphjin_pg_tmp::{Error, TempPostgres, shared};

/// Set in the re-executed test binary: how the child should end.
const CHILD_MODE: &str = "GRAPHJIN_PG_TMP_TEST_CHILD";

fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Waits until the cluster's directory and postmaster are gone.
fn assert_cleaned_up(root: &Path, pid: u32, patience: Duration) {
    let deadline = Instant::now() + patience;
    while (root.exists() || process_alive(pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!root.exists(), "{} still exists", root.display());
    assert!(!process_alive(pid), "postmaster {pid} still running");
}

#[test]
fn start_query_stop() {
    let started = Instant::now();
    let pg = TempPostgres::start().unwrap();
    eprintln!("cluster started in {:?}", started.elapsed());

    assert_eq!(pg.host(), "127.0.0.1");
    assert_eq!(
        pg.url("db"),
        format!("postgres://postgres@127.0.0.1:{}/db", pg.port())
    );
    assert_eq!(pg.run_sql("postgres", "show fsync").unwrap(), "off");
    assert_eq!(
        pg.run_sql("postgres", "show server_encoding").unwrap(),
        "UTF8"
    );

    pg.create_database("one", None).unwrap();
    pg.run_sql("one", "create table t (id int, name text)")
        .unwrap();
    let script = pg.root_dir().join("script.sql");
    std::fs::write(
        &script,
        "insert into t values (1, 'a');\ninsert into t values (2, 'b')",
    )
    .unwrap();
    pg.run_sql_file("one", &script).unwrap();
    assert_eq!(
        pg.run_sql("one", "select id, name from t order by id")
            .unwrap(),
        "1|a\n2|b"
    );

    // A database copied from a template has its contents.
    pg.create_database("two", Some("one")).unwrap();
    assert_eq!(pg.run_sql("two", "select count(*) from t").unwrap(), "2");

    // Odd names are quoted.
    pg.create_database("we\"ird name", None).unwrap();
    assert_eq!(pg.run_sql("we\"ird name", "select 1").unwrap(), "1");

    let err = pg.run_sql("one", "select * from missing").unwrap_err();
    assert!(matches!(err, Error::Sql { .. }));
    assert!(
        err.to_string()
            .contains("relation \"missing\" does not exist"),
        "{err}"
    );
    let err = pg
        .run_sql_file("one", Path::new("/nonexistent/file.sql"))
        .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/file.sql"), "{err}");

    let root = pg.root_dir().to_path_buf();
    let pid = pg.postmaster_pid().unwrap();
    assert!(process_alive(pid));
    pg.stop().unwrap();
    assert_cleaned_up(&root, pid, Duration::ZERO);
}

#[test]
fn drop_cleans_up() {
    let pg = TempPostgres::start().unwrap();
    let root = pg.root_dir().to_path_buf();
    let pid = pg.postmaster_pid().unwrap();
    drop(pg);
    assert_cleaned_up(&root, pid, Duration::ZERO);
}

#[test]
fn clusters_are_independent() {
    let a = TempPostgres::start().unwrap();
    let b = TempPostgres::start().unwrap();
    assert_ne!(a.port(), b.port());
    assert_ne!(a.root_dir(), b.root_dir());
    a.create_database("x", None).unwrap();
    assert!(b.run_sql("x", "select 1").is_err());
}

#[test]
fn shared_is_one_cluster() {
    let ports: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| shared().unwrap().port()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(ports.iter().all(|&p| p == ports[0]));
    assert!(std::ptr::eq(shared().unwrap(), shared().unwrap()));
    assert_eq!(
        shared().unwrap().run_sql("postgres", "select 1").unwrap(),
        "1"
    );
}

/// Not a test on its own: the body of the child process of the watchdog tests.
#[test]
fn watchdog_child() {
    let Ok(mode) = std::env::var(CHILD_MODE) else {
        return;
    };
    if mode == "report-error" {
        println!("ERROR {}", TempPostgres::start().unwrap_err());
        return;
    }
    let pg = shared().unwrap();
    println!(
        "CLUSTER {} {}",
        pg.postmaster_pid().unwrap(),
        pg.root_dir().display()
    );
    match mode.as_str() {
        // Exit without running destructors (statics never are).
        "exit" => std::process::exit(0),
        // Wait to be killed.
        _ => std::thread::sleep(Duration::from_secs(120)),
    }
}

fn child_command(mode: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "watchdog_child",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_MODE, mode);
    cmd
}

#[test]
fn missing_binaries_error_says_what_to_do() {
    let out = child_command("report-error")
        .env("PG_BIN_DIR", "/nonexistent/pg/bin")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.contains(
            "ERROR PostgreSQL binaries not found: install the postgresql package or set \
             PG_BIN_DIR"
        ) && out.contains("/nonexistent/pg/bin"),
        "{out}"
    );
}

/// Runs `watchdog_child` in a new process; returns it and its cluster's postmaster and dir.
fn spawn_child(mode: &str) -> (std::process::Child, u32, PathBuf) {
    let mut child = child_command(mode)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let cluster = stdout.lines().map_while(Result::ok).find_map(|line| {
        // libtest may have printed "test watchdog_child ... " on the same line.
        let (_, rest) = line.split_once("CLUSTER ")?;
        let (pid, root) = rest.split_once(' ')?;
        Some((pid.parse().ok()?, PathBuf::from(root)))
    });
    match cluster {
        Some((pid, root)) => (child, pid, root),
        None => {
            let _ = child.kill();
            let status = child.wait();
            panic!("the child process printed no cluster ({status:?})");
        }
    }
}

#[test]
fn watchdog_cleans_up_after_kill() {
    let (mut child, pid, root) = spawn_child("kill");
    assert!(process_alive(pid) && root.exists());
    child.kill().unwrap();
    child.wait().unwrap();
    assert_cleaned_up(&root, pid, Duration::from_secs(15));
}

#[test]
fn watchdog_cleans_up_after_exit_without_drop() {
    let (mut child, pid, root) = spawn_child("exit");
    assert!(child.wait().unwrap().success());
    assert_cleaned_up(&root, pid, Duration::from_secs(15));
}
