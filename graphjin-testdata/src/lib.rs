//! Test-only: the one place tests look for GraphJin's shared corpora.
//!
//! The corpora are GraphJin's `shared/` folder: `conformance/` (the conformance database
//! `postgres.sql` and the example cases `cases.json`) and `vectors/` (JWT, Rails cookie and
//! session-store vectors). They are not part of this repository. A test that needs them asks
//! for the files with [`shared_dir`] or [`shared_file`]:
//!
//! ```no_run
//! let Some(path) = graphjin_testdata::shared_file("vectors/rails.json") else {
//!     return; // the corpora are absent: a line saying so was printed
//! };
//! ```
//!
//! Where they are looked for: `$GRAPHJIN_SHARED_DIR` when it is set and not empty, else
//! `shared/` beside the workspace (`<workspace>/../shared`, where CI puts a copy).
//!
//! When a file is missing the test is skipped: one line on stderr names the test, the
//! missing file and the command that runs it (it is written past the test harness's
//! output capture, so it shows in a plain `cargo test` too). With
//! `GRAPHJIN_REQUIRE_SHARED=1` (CI sets it) a missing file is a test failure instead.
//!
//! Tests that need only the project's own fixtures must not use this crate.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Environment variable naming the shared folder; empty counts as unset.
pub const DIR_VAR: &str = "GRAPHJIN_SHARED_DIR";

/// Environment variable that turns a missing corpus into a failure (any value but
/// empty or `0`).
pub const REQUIRE_VAR: &str = "GRAPHJIN_REQUIRE_SHARED";

/// The shared folder, when it holds every file of `needs` (paths relative to it, such as
/// `"conformance/postgres.sql"`).
///
/// Otherwise prints the skip line and returns `None`, so the test can return early.
///
/// # Panics
///
/// If a file is missing and `GRAPHJIN_REQUIRE_SHARED` is set.
#[track_caller]
pub fn shared_dir(needs: &[&str]) -> Option<PathBuf> {
    let (dir, from) = location();
    let missing: Vec<&str> = needs
        .iter()
        .copied()
        .filter(|rel| !dir.join(rel).is_file())
        .collect();
    if missing.is_empty() {
        return Some(dir.canonicalize().unwrap_or(dir));
    }
    let what = format!(
        "{} not found in {} ({from})",
        missing.join(", "),
        dir.display()
    );
    if required() {
        panic!(
            "{REQUIRE_VAR} is set and the shared corpora are missing: {what}; \
             set {DIR_VAR} to GraphJin's shared/ folder"
        );
    }
    let line = format!(
        "skipped {}: {what}; to run it: {DIR_VAR}=/path/to/shared cargo test{}\n",
        test_name(),
        rerun_args(),
    );
    // Straight to the process's stderr: `eprintln!` would be captured by the test harness
    // and shown only with --nocapture or on failure.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
    None
}

/// One file of the shared corpora (`rel` relative to the shared folder), or `None` after
/// the skip line; see [`shared_dir`].
///
/// # Panics
///
/// If the file is missing and `GRAPHJIN_REQUIRE_SHARED` is set.
#[track_caller]
pub fn shared_file(rel: &str) -> Option<PathBuf> {
    shared_dir(&[rel]).map(|dir| dir.join(rel))
}

/// Where the shared folder is looked for, and why there.
fn location() -> (PathBuf, String) {
    match std::env::var_os(DIR_VAR).filter(|d| !d.is_empty()) {
        Some(dir) => (PathBuf::from(dir), format!("from {DIR_VAR}")),
        None => {
            let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
            let dir = manifest
                .ancestors()
                .nth(2)
                .map_or_else(|| manifest.join("../../shared"), |w| w.join("shared"));
            (dir, format!("{DIR_VAR} unset"))
        }
    }
}

fn required() -> bool {
    std::env::var(REQUIRE_VAR).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The running test, as the harness names it (its thread's name).
fn test_name() -> String {
    match std::thread::current().name() {
        Some(name) if name != "main" => name.to_string(),
        _ => "a test".to_string(),
    }
}

/// ` -p PACKAGE --test TARGET` for the running test binary, as far as it can be told.
fn rerun_args() -> String {
    // Cargo sets CARGO_PKG_NAME when it runs a test binary.
    let package = std::env::var("CARGO_PKG_NAME").unwrap_or_default();
    // Integration test binaries are `target/*/deps/<target>-<hash>`; a crate's own unit
    // tests are named after the crate, and `--lib` runs them.
    let exe = std::env::current_exe().ok();
    let stem = exe
        .as_deref()
        .and_then(Path::file_stem)
        .and_then(|s| s.to_str())
        .unwrap_or("");
    let target = stem.rsplit_once('-').map_or(stem, |(t, _)| t);
    let mut args = String::new();
    if !package.is_empty() {
        args.push_str(&format!(" -p {package}"));
    }
    if target == package.replace('-', "_") {
        args.push_str(" --lib");
    } else if !target.is_empty() {
        args.push_str(&format!(" --test {target}"));
    }
    args
}
