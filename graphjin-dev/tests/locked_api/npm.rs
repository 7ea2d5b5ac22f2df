//! The npm tools the locked-API tests check their output with, installed once per target
//! folder into `target/tmp/npm-locked-api` with `npm install --prefix` (the versions are
//! pinned here). Shared by `graphjin-dev/tests/locked_api.rs` and
//! `tests/tests/locked_api_http.rs`.
//!
//! Without `node` and `npm` the checks that need them print a skip line and pass, unless
//! the environment variable `CI` is set (to anything but `false`/`0`), where they fail.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The packages, pinned.
pub const PACKAGES: [&str; 4] = [
    "@seriousme/openapi-schema-validator@2.11.0",
    "ajv@8.20.0",
    "ajv-formats@3.0.1",
    "typescript@5.9.3",
];

/// The scripts the tests run, written next to `node_modules` so their imports resolve.
const SCRIPTS: [(&str, &str); 2] = [
    ("validate_openapi.mjs", include_str!("validate_openapi.mjs")),
    ("check_responses.mjs", include_str!("check_responses.mjs")),
];

/// The installed tools.
pub struct Npm {
    /// The folder holding `node_modules` and the scripts.
    pub dir: PathBuf,
}

fn works(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The tools, installed on first use; `None` (after printing a skip line) when node or npm
/// is missing outside CI.
///
/// # Panics
///
/// When the install fails, or node/npm are missing in CI.
pub fn tools() -> Option<&'static Npm> {
    static TOOLS: OnceLock<Option<Npm>> = OnceLock::new();
    let tools = TOOLS.get_or_init(install).as_ref();
    if tools.is_none() {
        println!(
            "skipped: the OpenAPI and TypeScript checks need node and npm (not found); install them to run these checks"
        );
    }
    tools
}

fn install() -> Option<Npm> {
    if !works("node") || !works("npm") {
        assert!(
            !in_ci(),
            "CI is set, and the locked-API checks need node and npm: install them (Debian: apt-get install nodejs npm)"
        );
        return None;
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("npm-locked-api");
    std::fs::create_dir_all(&dir).expect("create the npm folder");
    let marker = dir.join("installed.txt");
    let wanted = PACKAGES.join("\n");
    let installed = std::fs::read_to_string(&marker).is_ok_and(|t| t == wanted)
        && dir.join("node_modules").is_dir();
    if !installed {
        let out = Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--prefix",
            ])
            .arg(&dir)
            .args(PACKAGES)
            .output()
            .expect("run npm install");
        assert!(
            out.status.success(),
            "npm install {} failed:\n{}",
            PACKAGES.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(&marker, &wanted).expect("write the marker");
    }
    for (name, text) in SCRIPTS {
        std::fs::write(dir.join(name), text).expect("write a script");
    }
    Some(Npm { dir })
}

impl Npm {
    /// Runs `node SCRIPT ARGS...` in the npm folder; success and stdout + stderr.
    pub fn node(&self, script: &str, args: &[&str]) -> (bool, String) {
        let out = Command::new("node")
            .current_dir(&self.dir)
            .arg(script)
            .args(args)
            .output()
            .expect("run node");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    /// `tsc --noEmit --strict` (and more strictness) over `files` in `dir`.
    pub fn tsc(&self, dir: &Path, files: &[&str]) -> (bool, String) {
        self.tsc_with(dir, files, &["--noEmit"])
    }

    /// `tsc --strict ...` with extra options (e.g. `--outDir out`).
    pub fn tsc_with(&self, dir: &Path, files: &[&str], extra: &[&str]) -> (bool, String) {
        let out = Command::new("node")
            .current_dir(dir)
            .arg(self.dir.join("node_modules/typescript/bin/tsc"))
            .args([
                "--strict",
                "--exactOptionalPropertyTypes",
                "--noUncheckedIndexedAccess",
                "--noUnusedLocals",
                "--noUnusedParameters",
                "--target",
                "es2022",
                "--module",
                "commonjs",
                "--lib",
                "es2022,dom",
                "--pretty",
                "false",
            ])
            .args(extra)
            .args(files)
            .output()
            .expect("run tsc");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }
}
