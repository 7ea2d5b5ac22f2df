//! The `graphjin` command line, run as a real process: `schema pull` against a real
//! PostgreSQL, `check` on good and bad allow lists, `sql` piped into psql; the argument
//! parser: help and version on stdout (exit 0), usage errors on stderr (exit 2),
//! `DATABASE_URL` from the environment.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use graphjin_pg_tmp::TempPostgres;

/// The pull of `tests/fixtures/postgres.sql`, kept beside the compiler's tests that read it.
const FIXTURE_SCHEMA: &str = include_str!("../../graphjin-codegen/tests/fixtures/db.graphql");

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_graphjin"));
    c.env_remove("DATABASE_URL");
    c
}

/// The fixture database, loaded once per test process: `tests/fixtures/postgres.sql` is
/// GraphJin's own test database (Apache-2.0), the same file as the shared corpora's
/// `conformance/postgres.sql`, kept here so that these tests need nothing outside the
/// repository; graphjin-codegen's `tests/fixtures/db.graphql` is its pull.
fn conformance_db() -> (&'static TempPostgres, &'static str) {
    static DB: OnceLock<()> = OnceLock::new();
    let pg = graphjin_pg_tmp::shared().expect("start PostgreSQL");
    DB.get_or_init(|| {
        pg.create_database("cli_conformance", None)
            .expect("create database");
        pg.run_sql_file(
            "cli_conformance",
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/postgres.sql"),
        )
        .expect("load tests/fixtures/postgres.sql");
    });
    (pg, "cli_conformance")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gj-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A config folder with the fixture schema and the given allow.list bytes.
fn project(name: &str, allow_list: &[u8]) -> PathBuf {
    let dir = temp_dir(name);
    std::fs::write(dir.join("db.graphql"), FIXTURE_SCHEMA).unwrap();
    std::fs::write(dir.join("allow.list"), allow_list).unwrap();
    std::fs::write(dir.join("dev.yml"), "default_limit: 20\n").unwrap();
    dir
}

fn run(cmd: &mut Command) -> (Output, String, String) {
    let out = cmd.output().expect("run graphjin");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stdout, stderr)
}

#[test]
fn schema_pull_writes_a_snapshot_that_round_trips() {
    let (pg, db) = conformance_db();
    let dir = temp_dir("pull");
    let (out, _, stderr) = run(bin()
        .args([
            "schema",
            "pull",
            "--database-url",
            &pg.url(db),
            "--config-dir",
        ])
        .arg(&dir));
    assert!(out.status.success(), "schema pull failed: {stderr}");
    let text = std::fs::read_to_string(dir.join("db.graphql")).expect("db.graphql written");
    assert!(
        text.starts_with("# dbinfo:postgres,15"),
        "{}",
        &text[..40.min(text.len())]
    );
    let parsed = graphjin_codegen::schema::parse_schema(&text).expect("pulled schema parses");
    assert_eq!(
        graphjin_codegen::schema::write_schema(&parsed),
        text,
        "parse -> write changes the file"
    );
    // The committed fixture is this same pull (only the server version may differ).
    let body = |s: &str| s.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(
        body(&text),
        body(FIXTURE_SCHEMA),
        "graphjin-codegen/tests/fixtures/db.graphql is stale: re-pull it"
    );
    for t in [
        "type products",
        "type hot_products",
        "type get_oldest_users",
    ] {
        assert!(text.contains(t), "missing {t}");
    }
}

#[test]
fn schema_pull_without_a_url_says_what_to_pass() {
    let (out, _, stderr) = run(bin().args(["schema", "pull"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("--database-url"), "{stderr}");
}

const GOOD: &str = "\
# Products with their owner.
query getProducts {
  products(where: { price: { gt: 10 } }, order_by: { id: asc }, limit: 3) {
    id
    name
    owner { email }
  }
}

query getUser {
  users(id: $id) { id email }
}
";

#[test]
fn check_compiles_every_operation_for_every_role() {
    let dir = project("good", GOOD.as_bytes());
    let (out, _, stderr) = run(bin().arg("check").arg("--config-dir").arg(&dir));
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("ok: 2 operations compiled for 2 roles"),
        "{stderr}"
    );
}

/// Every kind of bad input gives `allow.list:LINE:COL: message`, exit 1, and no panic.
#[test]
fn check_reports_located_errors() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("unterminated", b"query a {\n  products { id\n".to_vec(), "allow.list:1:9:"),
        ("unknown_table", b"query a {\n  prodcts { id }\n}\n".to_vec(), "allow.list:2:3: unknown table `prodcts` (did you mean `products`?)"),
        ("unknown_field", b"query a {\n  products { id nmae }\n}\n".to_vec(), "allow.list:2:17: table `products` has no column or relation `nmae` (did you mean `name`?)"),
        ("unknown_argument", b"query a {\n  products(limt: 3) { id }\n}\n".to_vec(), "allow.list:2:12: unknown argument `limt` (did you mean `limit`?)"),
        ("wrong_operator", b"query a {\n  products(where: { id: { eqq: 3 } }) { id }\n}\n".to_vec(), "allow.list:2:27: unknown operator `eqq` for column `id` (did you mean `eq`?)"),
        ("unknown_where_column", b"query a {\n  products(where: { prize: { eq: 3 } }) { id }\n}\n".to_vec(), "allow.list:2:21: table `products` has no column `prize` (did you mean `price`?)"),
        ("duplicate", b"query a {\n  products { id }\n}\n\nquery A {\n  users { id }\n}\n".to_vec(), "allow.list:5:7: duplicate operation name"),
        ("fragment_cycle", b"fragment f on products {\n  id\n  ...g\n}\n\nfragment g on products {\n  ...f\n}\n\nquery a {\n  products { ...f }\n}\n".to_vec(), "fragment cycle: f -> g -> f"),
        ("unknown_fragment", b"query a {\n  products { ...nope }\n}\n".to_vec(), "allow.list:2:17: unknown fragment `nope`"),
        ("empty", b"".to_vec(), "allow.list has no operations"),
        ("only_comments", b"# nothing here\n".to_vec(), "allow.list has no operations"),
        ("non_utf8", b"query a {\n  products { id \xff }\n}\n".to_vec(), "allow.list:2:17:"),
        ("unnamed", b"query {\n  products { id }\n}\n".to_vec(), "must be named"),
        ("bad_variables", b"variables { \"a\": }\n\nquery a {\n  products { id }\n}\n".to_vec(), "allow.list:1:"),
        ("scalar_with_selection", b"query a {\n  products { name { x } }\n}\n".to_vec(), "allow.list:2:14: `name` is a column, not a relation"),
        ("table_without_selection", b"query a {\n  products\n}\n".to_vec(), "allow.list:2:3: `products` is a table"),
        ("syntax", b"query a {\n  products(limit: ) { id }\n}\n".to_vec(), "allow.list:2:19:"),
        ("bad_direction", b"query a {\n  products(order_by: { id: up }) { id }\n}\n".to_vec(), "allow.list:2:28: unknown order direction `up`"),
        ("unknown_directive", b"query a {\n  products @objekt { id }\n}\n".to_vec(), "allow.list:2:13: unknown directive `@objekt` (did you mean `@object`?)"),
    ];
    let mut failures = Vec::new();
    for (name, src, want) in &cases {
        let dir = project(name, src);
        let (out, _, stderr) = run(bin().arg("check").arg("--config-dir").arg(&dir));
        let ok =
            out.status.code() == Some(1) && stderr.contains(want) && !stderr.contains("panicked");
        if !ok {
            failures.push(format!(
                "{name}: exit {:?}, want `{want}`, got:\n{stderr}",
                out.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn check_reads_the_rust_types_block() {
    let dir = project("rust_types", GOOD.as_bytes());
    std::fs::write(
        dir.join("dev.yml"),
        "rust:\n  presets: [chrono]\n  types:\n    timestampz: \"chrono::DateTime<chrono::Utc>\"\n",
    )
    .unwrap();
    let (out, _, stderr) = run(bin().arg("check").arg("--config-dir").arg(&dir));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("dev.yml: `rust.types.timestampz`: unknown PostgreSQL type `timestampz`"),
        "{stderr}"
    );
    std::fs::write(dir.join("dev.yml"), "rust:\n  presets: [chrono, uuid]\n").unwrap();
    let (out, _, stderr) = run(bin().arg("check").arg("--config-dir").arg(&dir));
    assert!(out.status.success(), "{stderr}");
}

#[test]
fn check_refuses_a_timeout_for_an_operation_allow_list_lacks() {
    let dir = project("operation_timeouts", GOOD.as_bytes());
    std::fs::write(
        dir.join("dev.yml"),
        "database:\n  operation_timeouts:\n    getUsr: 2s\n",
    )
    .unwrap();
    let (out, _, stderr) = run(bin().arg("check").arg("--config-dir").arg(&dir));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "dev.yml: key `database.operation_timeouts`: allow.list has no operation `getUsr` (did you mean `getUser`?)"
        ),
        "{stderr}"
    );
    std::fs::write(
        dir.join("dev.yml"),
        "database:\n  operation_timeouts:\n    getUser: 2s\n",
    )
    .unwrap();
    let (out, _, stderr) = run(bin().arg("check").arg("--config-dir").arg(&dir));
    assert!(out.status.success(), "{stderr}");
}

#[test]
fn check_reports_every_broken_operation_not_just_the_first() {
    let src = b"query a {\n  prodcts { id }\n}\n\nquery b {\n  users { emial }\n}\n";
    let dir = project("many", src);
    let (out, _, stderr) = run(bin().arg("check").arg("--config-dir").arg(&dir));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("allow.list:2:3:"), "{stderr}");
    assert!(stderr.contains("allow.list:6:11:"), "{stderr}");
}

#[test]
fn missing_files_say_what_to_run() {
    let dir = temp_dir("missing");
    std::fs::write(dir.join("allow.list"), GOOD).unwrap();
    let (out, _, stderr) = run(bin().arg("check").arg("--config-dir").arg(&dir));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("db.graphql: not found") && stderr.contains("graphjin schema pull"),
        "{stderr}"
    );
}

#[test]
fn sql_prints_only_sql_that_psql_can_run() {
    let (pg, db) = conformance_db();
    let dir = project("sql", GOOD.as_bytes());
    let (out, stdout, stderr) = run(bin().args(["sql", "getProducts", "--config-dir"]).arg(&dir));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.trim_end().ends_with(';'));
    let psql = Command::new("psql")
        .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", &pg.url(db)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql");
    use std::io::Write;
    psql.stdin
        .as_ref()
        .unwrap()
        .write_all(stdout.as_bytes())
        .unwrap();
    let res = psql.wait_with_output().unwrap();
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&res.stdout).expect("psql printed JSON");
    assert_eq!(
        json,
        serde_json::json!({"products": [
            {"id": 1, "name": "Product 1", "owner": {"email": "user1@test.com"}},
            {"id": 2, "name": "Product 2", "owner": {"email": "user2@test.com"}},
            {"id": 3, "name": "Product 3", "owner": {"email": "user3@test.com"}}
        ]})
    );
}

#[test]
fn sql_names_parameters_on_stderr_and_suggests_names() {
    let dir = project("sqlparams", GOOD.as_bytes());
    let (out, stdout, stderr) = run(bin()
        .args(["sql", "getUser", "--role", "user", "--config-dir"])
        .arg(&dir));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("$1::bigint"), "{stdout}");
    assert!(stderr.contains("$1 = $id (bigint)"), "{stderr}");
    let (out, _, stderr) = run(bin().args(["sql", "getUsr", "--config-dir"]).arg(&dir));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("did you mean `getUser`?"), "{stderr}");
    let (out, _, stderr) = run(bin()
        .args(["sql", "getUser", "--role", "admin", "--config-dir"])
        .arg(&dir));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("unknown role `admin`"), "{stderr}");
}

#[test]
fn sql_says_why_a_role_may_not_run_an_operation() {
    let dir = project(
        "sqlrefused",
        b"mutation addUser {\n  users(insert: { email: $email }) { id }\n}\n",
    );
    let (out, stdout, stderr) = run(bin()
        .args(["sql", "addUser", "--role", "user", "--config-dir"])
        .arg(&dir));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.starts_with("WITH "), "{stdout}");
    let (out, stdout, stderr) = run(bin()
        .args(["sql", "addUser", "--role", "anon", "--config-dir"])
        .arg(&dir));
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains(
            "role `anon` may not run `addUser`: anonymous callers may not insert `users`"
        ),
        "{stderr}"
    );
}

/// Every command and subcommand, as typed after `graphjin`.
const COMMANDS: &[&[&str]] = &[
    &["schema"],
    &["schema", "pull"],
    &["check"],
    &["sql"],
    &["audit"],
    &["openapi"],
    &["typescript"],
    &["dev"],
];

#[test]
fn version_and_help_print_on_stdout_and_exit_0() {
    let (out, stdout, stderr) = run(bin().arg("--version"));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout, format!("graphjin {}\n", env!("CARGO_PKG_VERSION")));
    assert!(stderr.is_empty(), "{stderr}");

    let (out, stdout, stderr) = run(bin().arg("--help"));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.starts_with("GraphJin for Rust build tools"),
        "{stdout}"
    );
    for cmd in [
        "schema",
        "check",
        "sql",
        "audit",
        "openapi",
        "typescript",
        "dev",
    ] {
        assert!(
            stdout.contains(&format!("\n  {cmd} ")),
            "{cmd} not listed:\n{stdout}"
        );
    }
    assert!(stdout.contains("DATABASE_URL"), "{stdout}");

    for cmd in COMMANDS {
        let (out, stdout, stderr) = run(bin().args(*cmd).arg("--help"));
        assert_eq!(out.status.code(), Some(0), "{cmd:?}: {stderr}");
        assert!(
            stdout.contains(&format!("Usage: graphjin {}", cmd.join(" "))),
            "{cmd:?}:\n{stdout}"
        );
        assert!(stderr.is_empty(), "{cmd:?}: {stderr}");
    }
    let (_, stdout, _) = run(bin().args(["sql", "--help"]));
    assert!(
        stdout.contains("--role <ROLE>") && stdout.contains("[default: anon]"),
        "{stdout}"
    );
    let (_, stdout, _) = run(bin().args(["audit", "--help"]));
    assert!(stdout.contains("1 new exposure"), "{stdout}");
}

#[test]
fn usage_errors_exit_2_with_the_usage_on_stderr() {
    let cases: &[(&[&str], &str)] = &[
        (&["--bogus"], "unexpected argument '--bogus'"),
        (&["check", "--bogus"], "unexpected argument '--bogus'"),
        (&["check", "--role", "user"], "unexpected argument '--role'"),
        (&["frobnicate"], "unrecognized subcommand 'frobnicate'"),
        (&["sql"], "<NAME>"),
        (&["sql", "a", "b"], "unexpected argument 'b'"),
        (
            &["sql", "a", "--role"],
            "a value is required for '--role <ROLE>'",
        ),
        (&["schema"], "Usage: graphjin schema"),
        (&["audit", "--json"], "--diff <DIR|REV>"),
        (
            &["dev", "--listen", "localhost"],
            "invalid value 'localhost' for '--listen <ADDR>'",
        ),
        (&[], "Usage: graphjin"),
    ];
    for (args, want) in cases {
        let (out, stdout, stderr) = run(bin().args(*args));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stdout.is_empty(),
            "{args:?}: usage goes to stderr, got stdout {stdout}"
        );
        assert!(
            stderr.contains(want),
            "{args:?}: want `{want}` in:\n{stderr}"
        );
        assert!(
            stderr.contains("Usage: graphjin") || stderr.contains("try '--help'"),
            "{args:?}: no usage hint:\n{stderr}"
        );
    }
}

#[test]
fn schema_pull_reads_database_url_from_the_environment() {
    let (pg, db) = conformance_db();
    let dir = temp_dir("pull-env");
    let (out, _, stderr) = run(bin()
        .env("DATABASE_URL", pg.url(db))
        .args(["schema", "pull", "--config-dir"])
        .arg(&dir));
    assert!(out.status.success(), "schema pull failed: {stderr}");
    let text = std::fs::read_to_string(dir.join("db.graphql")).expect("db.graphql written");
    assert!(text.contains("type products"), "{text}");
    assert!(stderr.contains("wrote "), "{stderr}");

    // --database-url wins over the environment.
    let dir = temp_dir("pull-flag-wins");
    let (out, _, stderr) = run(bin()
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/nothing")
        .args([
            "schema",
            "pull",
            "--database-url",
            &pg.url(db),
            "--config-dir",
        ])
        .arg(&dir));
    assert!(out.status.success(), "schema pull failed: {stderr}");
    assert!(dir.join("db.graphql").is_file());
}

#[test]
fn help_never_shows_the_database_url() {
    let secret = "s3cret-pw-in-url";
    for cmd in [&["schema", "pull"][..], &["dev"][..]] {
        let (out, stdout, stderr) = run(bin()
            .env(
                "DATABASE_URL",
                format!("postgres://app:{secret}@db.example/shop"),
            )
            .args(cmd)
            .arg("--help"));
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(stdout.contains("[env: DATABASE_URL]"), "{stdout}");
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{stdout}{stderr}"
        );
    }
}

/// Kills the process when dropped, so a failing test leaves no server behind.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_serves_the_database_named_by_database_url() {
    let (pg, db) = conformance_db();
    let dir = project("dev", GOOD.as_bytes());
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let mut server = Running(
        bin()
            .env("DATABASE_URL", pg.url(db))
            .args(["dev", "--listen", &addr.to_string(), "--config-dir"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start graphjin dev"),
    );
    let client = reqwest::Client::new();
    let query = serde_json::json!({
        "query": "query getProducts {\n  products(where: { price: { gt: 10 } }, order_by: { id: asc }, limit: 3) {\n    id\n    name\n    owner { email }\n  }\n}\n"
    });
    // Poll until the server listens (it pulls the schema first); at most a minute.
    let mut answer = None;
    for _ in 0..600 {
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!("graphjin dev exited: {status}");
        }
        let sent = client
            .post(format!("http://{addr}/api/v1/graphql"))
            .header("content-type", "application/json")
            .body(query.to_string())
            .send()
            .await;
        if let Ok(res) = sent {
            let body = res.bytes().await.expect("body");
            answer = Some(serde_json::from_slice::<serde_json::Value>(&body).expect("JSON"));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let answer = answer.expect("graphjin dev never answered");
    assert_eq!(
        answer["data"]["products"][0],
        serde_json::json!({"id": 1, "name": "Product 1", "owner": {"email": "user1@test.com"}}),
        "{answer}"
    );
}

#[test]
fn an_invalid_rust_log_stops_dev_and_warns_the_build_tools() {
    let dir = project("rust_log", GOOD.as_bytes());
    let (out, _, stderr) = run(bin()
        .env("RUST_LOG", "graphjin=[")
        .args([
            "dev",
            "--database-url",
            "postgres://nobody@127.0.0.1:1/none",
            "--config-dir",
        ])
        .arg(&dir));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("RUST_LOG is not a valid log filter"),
        "{stderr}"
    );
    let (out, _, stderr) = run(bin()
        .env("RUST_LOG", "graphjin=[")
        .arg("check")
        .arg("--config-dir")
        .arg(&dir));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("warning: RUST_LOG is not a valid log filter")
            && stderr.contains("ok: 2 operations"),
        "{stderr}"
    );
}

#[test]
fn sql_reads_the_saved_variables_of_a_data_mutation() {
    let allow = format!(
        "{GOOD}\nvariables {{ \"data\": {{ \"name\": \"\", \"description\": \"\" }} }}\n\nmutation addCategory {{\n  categories(insert: $data) {{ id }}\n}}\n"
    );
    let dir = project("sqlvars", allow.as_bytes());
    let (out, stdout, stderr) = run(bin()
        .args(["sql", "addCategory", "--role", "user", "--config-dir"])
        .arg(&dir));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("INSERT INTO"), "{stdout}");
    assert!(
        stdout.contains("'description'"),
        "the saved shape's keys: {stdout}"
    );
    assert!(stderr.contains("$1 = $data (json)"), "{stderr}");
}
