//! Shared helpers for the workspace end-to-end tests.
//!
//! Every test binary gets one throwaway PostgreSQL cluster ([`pg`]), started on first use
//! and removed when the binary exits. The conformance database (GraphJin's
//! `shared/conformance/postgres.sql`) is loaded once into a template
//! ([`conformance_template`]); each test that needs it takes its own copy with
//! [`fresh_database`], so tests can write freely and run in parallel. The shared corpora
//! are not part of this repository: a test that needs them first asks [`conformance_sql`]
//! or [`shared_dir`] (from `graphjin-testdata`) and returns when they are absent.
//!
//! The helpers panic with a message saying what to fix: they are for tests only.

use std::path::PathBuf;

use graphjin_codegen::Compiled;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

pub use graphjin_pg_tmp::TempPostgres;

/// Name of the template database holding the conformance schema and data.
const CONFORMANCE_TEMPLATE: &str = "conformance_tpl";

/// The workspace root (the parent of the `tests` crate).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .expect("the tests crate lives inside the workspace")
        .to_path_buf()
}

pub use graphjin_testdata::{shared_dir, shared_file};

/// The conformance SQL that [`conformance_template`] and [`fresh_database`] load, from
/// GraphJin's shared corpora; `None` when they are absent (a line saying the test is
/// skipped has been printed). A test that needs the conformance database starts with
/// `if graphjin_tests::conformance_sql().is_none() { return; }`.
///
/// # Panics
///
/// If the corpora are absent and `GRAPHJIN_REQUIRE_SHARED` is set.
pub fn conformance_sql() -> Option<PathBuf> {
    shared_file("conformance/postgres.sql")
}

/// The PostgreSQL cluster shared by this test binary, started on first use.
///
/// # Panics
///
/// If the cluster cannot be started (PostgreSQL not installed, ...).
pub fn pg() -> &'static TempPostgres {
    graphjin_pg_tmp::shared()
        .unwrap_or_else(|e| panic!("could not start the test PostgreSQL cluster: {e}"))
}

/// The name of a template database holding the conformance schema and data
/// (`shared/conformance/postgres.sql`), created in [`pg`] on the first call.
///
/// Do not connect to it: a template with open connections cannot be copied. Use
/// [`fresh_database`] instead.
///
/// # Panics
///
/// If the cluster cannot be started or the SQL cannot be loaded (see [`conformance_sql`]).
pub fn conformance_template() -> &'static str {
    static LOADED: OnceLock<()> = OnceLock::new();
    LOADED.get_or_init(|| {
        let sql = conformance_sql().unwrap_or_else(|| {
            panic!(
                "the conformance database needs GraphJin's shared corpora: \
                 guard the test with conformance_sql()"
            )
        });
        let pg = pg();
        // Idempotent, in case an earlier attempt in this process panicked half-way.
        pg.run_sql(
            "postgres",
            &format!("DROP DATABASE IF EXISTS {CONFORMANCE_TEMPLATE}"),
        )
        .and_then(|_| pg.create_database(CONFORMANCE_TEMPLATE, None))
        .and_then(|()| pg.run_sql_file(CONFORMANCE_TEMPLATE, &sql))
        .unwrap_or_else(|e| {
            panic!(
                "could not load {} into database {CONFORMANCE_TEMPLATE}: {e}",
                sql.display()
            )
        });
    });
    CONFORMANCE_TEMPLATE
}

/// Creates a new database, a copy of the [conformance template](conformance_template),
/// named `<prefix>_<n>`, and returns its URL
/// (`postgres://postgres@127.0.0.1:PORT/NAME`; the database name is the last path segment).
///
/// `prefix` is reduced to lowercase letters, digits and `_`.
///
/// # Panics
///
/// If the cluster cannot be started or the database cannot be created.
pub fn fresh_database(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let template = conformance_template();
    let mut name: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    if name.is_empty() {
        name.push_str("db");
    }
    let name = format!("{name}_{}", COUNTER.fetch_add(1, Ordering::Relaxed));
    let pg = pg();
    pg.create_database(&name, Some(template))
        .unwrap_or_else(|e| panic!("could not create database {name} from {template}: {e}"));
    pg.url(&name)
}

/// Loads and compiles the config folder `dir` as a build does; panics with every error, one
/// per line.
pub fn compile_project(dir: &std::path::Path) -> (graphjin_codegen::Project, Compiled) {
    let project = graphjin_codegen::Project::load(dir).expect("config loads");
    let ops = project.compile().unwrap_or_else(|errors| {
        let all: Vec<String> = errors.iter().map(ToString::to_string).collect();
        panic!("{}", all.join("\n"))
    });
    (project, ops)
}

/// Compiles `dir` and connects to `url` with its operations and the role statement of its
/// `roles_query` (preparing every statement, as an app's start-up does).
pub async fn connect_project(
    dir: &std::path::Path,
    url: &str,
) -> Result<graphjin_runtime::Db, graphjin_runtime::Error> {
    connect_project_with(dir, url, graphjin_runtime::PoolOptions::default()).await
}

/// [`connect_project`] with the pool's `options`.
pub async fn connect_project_with(
    dir: &std::path::Path,
    url: &str,
    options: graphjin_runtime::PoolOptions,
) -> Result<graphjin_runtime::Db, graphjin_runtime::Error> {
    let (_, compiled) = compile_project(dir);
    let table = leak_compiled(&compiled);
    graphjin_runtime::Db::connect_with_roles(url, table.operations, table.role_query, options).await
}

/// Operations compiled at test time and their role statement as the runtime's static
/// table (the development server's bridge, the same mapping the build emits).
pub fn leak_table(
    ops: &[graphjin_codegen::CompiledOperation],
    role_query: Option<graphjin_codegen::runtime_table::RoleQueryEntry>,
) -> graphjin_dev::bridge::StaticTable {
    let table = graphjin_codegen::runtime_table::RuntimeTable::new(ops, role_query);
    graphjin_dev::bridge::leak_table(&table).expect("the runtime takes the table")
}

/// A project's compile result as the runtime's static table: its operations and its role
/// statement (the development server's bridge, the same mapping the build emits).
pub fn leak_compiled(compiled: &Compiled) -> graphjin_dev::bridge::StaticTable {
    graphjin_dev::bridge::leak_table(&compiled.runtime_table())
        .expect("the runtime takes the table")
}

/// Turns operations compiled at test time into the runtime's static table, so the real
/// runtime serves what a test just compiled (the development server's bridge).
pub fn leak_operations(
    ops: &[graphjin_codegen::CompiledOperation],
) -> &'static [graphjin_runtime::Operation] {
    leak_table(ops, None).operations
}

/// A config folder in a temp dir: the example app's `db.graphql`, plus the given
/// `allow.list` and `dev.yml`.
pub fn shop_config(name: &str, allow_list: &str, dev_yml: &str) -> PathBuf {
    // Unique per call: tests of one file run in parallel and must not share a folder.
    static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("gj-{}-{name}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp config dir");
    std::fs::copy(
        workspace_root().join("example-app/config/db.graphql"),
        dir.join("db.graphql"),
    )
    .expect("copy db.graphql");
    std::fs::write(dir.join("allow.list"), allow_list).expect("write allow.list");
    std::fs::write(dir.join("dev.yml"), dev_yml).expect("write dev.yml");
    dir
}

/// A fresh database holding the example shop's schema and seed; returns its URL.
pub fn shop_database(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let pg = pg();
    let name = format!("{prefix}_shop_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    pg.create_database(&name, None).expect("create database");
    let db = workspace_root().join("example-app/db");
    pg.run_sql_file(&name, &db.join("schema.sql"))
        .expect("schema");
    pg.run_sql_file(&name, &db.join("seed.sql")).expect("seed");
    pg.url(&name)
}
