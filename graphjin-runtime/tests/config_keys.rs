//! The run-time config is honest: an unknown key stops start-up with the file, the key and
//! a did-you-mean (the same message the build gives); GraphJin keys documented as ignored
//! are accepted; keys match in any case; `GO_ENV`/`GJ_ENV` choose the file; the `database:`
//! keys (connection string, parts, pool size) reach a real PostgreSQL, overridden by
//! `DATABASE_URL` and `GJ_DATABASE_*`.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use graphjin_config::known::{Owner, drift};
use graphjin_runtime::{Auth, Config, ConfigError, Db, OpKind, Operation, RoleStatement};
use serde::Deserialize;

/// The message the build gives for the same file (graphjin-codegen's loader test asserts
/// the same text).
const TYPO: &str = "dev.yml: key `auth.jwt.secrte`: unknown key; did you mean `secret`?";

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gj-keys-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

fn write(dir: &Path, file: &str, text: &str) {
    std::fs::write(dir.join(file), text).expect("write");
}

/// Every key the runtime's types read is in graphjin-config's tree of known keys, and
/// every key the tree gives the runtime is read: the tree cannot drift from the code.
#[test]
fn the_known_key_tree_matches_the_runtime_types() {
    let d = drift(Owner::Runtime, &[graphjin_runtime::config::schema()]);
    assert!(
        d.unlisted.is_empty(),
        "keys the runtime reads but graphjin-config/src/known.rs does not list (add them there): {:?}",
        d.unlisted
    );
    assert!(
        d.unread.is_empty(),
        "keys graphjin-config/src/known.rs gives the runtime but no runtime type reads: {:?}",
        d.unread
    );
}

#[test]
fn an_unknown_key_stops_start_up() {
    let dir = dir("typo");
    write(
        &dir,
        "dev.yml",
        "auth:\n  type: jwt\n  jwt:\n    secrte: x\n",
    );
    let e = Config::load_file(dir.join("dev.yml"))
        .unwrap_err()
        .to_string();
    assert_eq!(e, format!("{}/{TYPO}", dir.display()));
    let e = Config::from_yaml("auth:\n  jwt:\n    secrte: x\n", Path::new("dev.yml"))
        .unwrap_err()
        .to_string();
    assert_eq!(e, TYPO);
    // A typo under `database:`, a misplaced key, a typo in an `auths:` entry.
    let e = Config::from_yaml("database:\n  pool_sise: 3\n", Path::new("dev.yml"))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "dev.yml: key `database.pool_sise`: unknown key; did you mean `pool_size`?"
    );
    let e = Config::from_yaml("pool_size: 3\n", Path::new("dev.yml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("did you mean `database.pool_size`?"), "{e}");
    let e = Config::from_yaml(
        "auths:\n  - name: a\n    type: header\n    header: {nmae: X}\n",
        Path::new("dev.yml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("key `auths[0].header.nmae`: unknown key; did you mean `name`?"),
        "{e}"
    );
    // Inherited: the error names the file that holds the key.
    write(&dir, "dev.yml", "cors_allowd_origins: [x]\n");
    write(&dir, "prod.yml", "inherits: dev\nproduction: true\n");
    let e = Config::load_file(dir.join("prod.yml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!(
            "{}: key `cors_allowd_origins`: unknown key; did you mean `cors_allowed_origins`?",
            dir.join("dev.yml").display()
        )),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn ignored_graphjin_keys_and_any_case_are_accepted() {
    let c = Config::from_yaml(
        "app_name: Shop\nweb_ui: true\nenable_tracing: true\nhot_deploy: false\nrate_limiter: {rate: 5, bucket: 10}\n\
         Auth:\n  Type: header\n  Header: {Name: X-Key, Exists: true}\nAUTH_FAIL_BLOCK: true\n\
         Database: {Pool_Size: 4}\nroles: [{name: user, comment: hi}]\n",
        Path::new("dev.yml"),
    )
    .expect("accepted");
    assert!(c.auth_fail_block);
    assert!(c.auth.header.exists);
    assert_eq!(c.database.pool_size, Some(4));
    // Unsupported GraphJin keys are refused when they ask for something.
    let e = Config::from_yaml("set_user_id: true\n", Path::new("dev.yml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("`set_user_id` is not supported here"), "{e}");
    let e = Config::from_yaml("database: {type: mysql}\n", Path::new("dev.yml")).unwrap_err();
    assert!(matches!(e, ConfigError::Unsupported { .. }), "{e}");
}

/// `GO_ENV` and `GJ_ENV` are read from the process environment, so each case runs in a
/// child process of this test binary (the `go_env_child` test below) with them set.
#[test]
fn go_env_chooses_the_file() {
    let dir = dir("goenv");
    write(&dir, "dev.yml", "auth_fail_block: false\n");
    write(&dir, "prod.yml", "inherits: dev\nproduction: true\n");
    write(&dir, "stage.yml", "inherits: dev\nauth_fail_block: true\n");
    write(&dir, "qa.yaml", "http_compress: false\n");
    let child = |vars: &[(&str, &str)]| {
        let mut cmd = std::process::Command::new(std::env::current_exe().expect("exe"));
        cmd.args(["--exact", "go_env_child", "--nocapture", "--test-threads=1"])
            .env("GJ_KEYS_CHILD_DIR", &dir)
            .env_remove("GO_ENV")
            .env_remove("GJ_ENV");
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run child");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines()
            .find_map(|l| l.split_once("CHOSE ").map(|(_, rest)| rest))
            .unwrap_or_else(|| panic!("no answer: {text}"))
            .to_owned()
    };
    assert_eq!(child(&[]), "prod.yml", "unset: prod.yml first");
    assert_eq!(child(&[("GO_ENV", "development")]), "dev.yml");
    assert_eq!(child(&[("GO_ENV", "production")]), "prod.yml");
    assert_eq!(child(&[("GO_ENV", "staging")]), "stage.yml");
    assert_eq!(child(&[("GO_ENV", "QA")]), "qa.yaml");
    assert_eq!(
        child(&[("GO_ENV", "production"), ("GJ_ENV", "dev")]),
        "dev.yml",
        "GJ_ENV wins"
    );
    let missing = child(&[("GO_ENV", "perf")]);
    assert!(
        missing.contains("perf.yml: no such config file (GO_ENV=perf chose it)"),
        "{missing}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Runs only as the child of `go_env_chooses_the_file`: prints the file `Config::load` read.
#[test]
fn go_env_child() {
    let Ok(dir) = std::env::var("GJ_KEYS_CHILD_DIR") else {
        return;
    };
    match Config::load(&dir) {
        Ok(c) => {
            let file = c.files[0].file_name().expect("name").to_string_lossy();
            println!("CHOSE {file}");
        }
        Err(e) => println!("CHOSE error: {e}"),
    }
}

#[derive(Deserialize)]
struct Where {
    db: String,
}

static WHERE: &[Operation] = &[Operation {
    name: "where",
    kind: OpKind::Query,
    query: "query where { db }",
    sha256: "",
    roles: &[RoleStatement {
        role: "anon",
        sql: r#"SELECT json_build_object('db', current_database()) AS "__root""#,
        params: &[],
    }],
    constraints: &[],
}];

async fn database_of(url: &str, config: &Config) -> (String, graphjin_runtime::PoolStats) {
    let db = Db::connect(url, WHERE, config.pool_options())
        .await
        .expect("connect");
    let w: Where = db.run(&WHERE[0], &Auth::anon(), &()).await.expect("runs");
    (w.db, db.pool_stats())
}

#[tokio::test]
async fn the_database_section_reaches_postgres() {
    let pg = pg();
    let (a, b) = (fresh_database(), fresh_database());
    // connection_string and pool_size.
    let yaml = format!(
        "database:\n  type: postgres\n  connection_string: \"{}\"\n  pool_size: 3\n  pipeline_depth: 2\n",
        pg.url(&a)
    );
    let config = Config::from_yaml(&yaml, Path::new("dev.yml")).expect("parses");
    let url = config.database_url_with_env(|_| None).expect("a url");
    let (db, stats) = database_of(&url, &config).await;
    assert_eq!(db, a);
    assert_eq!(stats.max_size, 3);
    assert_eq!(stats.pipeline_depth, 2);
    // DATABASE_URL wins over the file.
    let other = pg.url(&b);
    let url = config
        .database_url_with_env(|v| (v == "DATABASE_URL").then(|| other.clone()))
        .expect("a url");
    assert_eq!(database_of(&url, &config).await.0, b);
    // GJ_DATABASE_CONNECTION_STRING and GJ_DATABASE_POOL_SIZE replace the keys.
    let mut config = config.clone();
    config
        .apply_env(|v| match v {
            "GJ_DATABASE_CONNECTION_STRING" => Some(other.clone()),
            "GJ_DATABASE_POOL_SIZE" => Some("5".to_owned()),
            _ => None,
        })
        .expect("applies");
    let url = config.database_url_with_env(|_| None).expect("a url");
    let (db, stats) = database_of(&url, &config).await;
    assert_eq!((db.as_str(), stats.max_size), (b.as_str(), 5));
    // The parts, assembled and percent-encoded.
    let parsed: tokio_postgres::Config = pg.url(&a).parse().expect("url");
    let host = match &parsed.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(h) => h.clone(),
        tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
    };
    let yaml = format!(
        "database:\n  host: \"{host}\"\n  port: {}\n  dbname: {a}\n  user: {}\n  max_connections: 2\n",
        parsed.get_ports()[0],
        parsed.get_user().expect("user"),
    );
    let config = Config::from_yaml(&yaml, Path::new("dev.yml")).expect("parses");
    let url = config.database_url_with_env(|_| None).expect("a url");
    let (db, stats) = database_of(&url, &config).await;
    assert_eq!((db.as_str(), stats.max_size), (a.as_str(), 2));
    // No address at all: the app decides (the example starts a throwaway database).
    let config = Config::from_yaml(
        "database: {type: postgres, pool_size: 2}\n",
        Path::new("d.yml"),
    )
    .expect("parses");
    assert_eq!(config.database_url_with_env(|_| None), None);
}
