//! The helper seen from outside: each case runs this binary's `probe` test again in a
//! child process with a chosen environment (a test cannot safely change its own).

use std::process::Command;

/// Set only in the child: the file `probe` asks for.
const PROBE: &str = "GRAPHJIN_TESTDATA_PROBE";

#[test]
fn probe() {
    let Ok(rel) = std::env::var(PROBE) else {
        return;
    };
    match graphjin_testdata::shared_file(&rel) {
        Some(path) => println!("found {}", path.display()),
        None => println!("absent"),
    }
}

/// Runs `probe` asking for `rel`; returns (passed, stdout, stderr).
fn run(rel: &str, env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(std::env::current_exe().expect("test binary"));
    cmd.args(["--exact", "probe", "--nocapture"])
        .env(PROBE, rel)
        .env_remove(graphjin_testdata::DIR_VAR)
        .env_remove(graphjin_testdata::REQUIRE_VAR)
        .envs(env.iter().copied());
    let out = cmd.output().expect("run the probe");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn absent_corpora_skip_with_one_line_saying_how_to_run() {
    let (ok, out, err) = run(
        "vectors/rails.json",
        &[("GRAPHJIN_SHARED_DIR", "/nonexistent")],
    );
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("absent"), "{out}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("skipped")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    let line = lines[0];
    for part in [
        "skipped probe: ",
        "vectors/rails.json not found in /nonexistent (from GRAPHJIN_SHARED_DIR)",
        "GRAPHJIN_SHARED_DIR=/path/to/shared cargo test -p graphjin-testdata --test behaviour",
    ] {
        assert!(line.contains(part), "{part:?} not in {line:?}");
    }
}

#[test]
fn required_corpora_fail_when_absent() {
    let (ok, out, err) = run(
        "vectors/rails.json",
        &[
            ("GRAPHJIN_SHARED_DIR", "/nonexistent"),
            ("GRAPHJIN_REQUIRE_SHARED", "1"),
        ],
    );
    assert!(!ok, "{out}\n{err}");
    assert!(err.contains("GRAPHJIN_REQUIRE_SHARED is set"), "{err}");
    assert!(err.contains("/nonexistent"), "{err}");
    // `0` and empty mean not required.
    for value in ["0", ""] {
        let (ok, _, err) = run(
            "vectors/rails.json",
            &[
                ("GRAPHJIN_SHARED_DIR", "/nonexistent"),
                ("GRAPHJIN_REQUIRE_SHARED", value),
            ],
        );
        assert!(ok, "{value:?}: {err}");
    }
}

#[test]
fn an_empty_dir_variable_counts_as_unset() {
    let (ok, _, err) = run("no/such/file", &[("GRAPHJIN_SHARED_DIR", "")]);
    assert!(ok, "{err}");
    assert!(err.contains("(GRAPHJIN_SHARED_DIR unset)"), "{err}");
    let beside = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .join("shared");
    assert!(err.contains(&beside.display().to_string()), "{err}");
}

#[test]
fn present_files_are_found() {
    let dir = std::env::temp_dir().join(format!("gj-testdata-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("vectors")).unwrap();
    std::fs::write(dir.join("vectors/rails.json"), "[]").unwrap();
    let (ok, out, err) = run(
        "vectors/rails.json",
        &[
            ("GRAPHJIN_SHARED_DIR", dir.to_str().unwrap()),
            ("GRAPHJIN_REQUIRE_SHARED", "1"),
        ],
    );
    let want = dir
        .canonicalize()
        .unwrap_or(dir.clone())
        .join("vectors/rails.json");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ok, "{err}");
    assert!(!err.contains("skipped"), "{err}");
    assert!(out.contains(&format!("found {}", want.display())), "{out}");
}
