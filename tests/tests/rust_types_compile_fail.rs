//! The generated types are checked by the compiler in a user's crate, built by real
//! `cargo`: with `tests/fixtures/rust_types` (the chrono, uuid and rust_decimal presets, a
//! PostgreSQL enum) the crate builds under `#![deny(warnings)]`, and passing a `String`
//! where a `Uuid` is expected, a `&str` where the enum is expected, or naming an enum
//! variant the database does not have fails the build.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Uses each generated type the way a caller would.
const GOOD: &str = r#"#![deny(warnings)]

graphjin_macros::include_allowlist!();

/// The per-column override of `everything.cents`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Cents(pub i64);

pub fn variables() -> find_rows::Variables {
    find_rows::Variables {
        u: uuid::Uuid::nil(),
        after: chrono::DateTime::<chrono::Utc>::MIN_UTC,
        mood: Mood::SoSo,
        min: rust_decimal::Decimal::ZERO,
        moods: vec![Mood::Happy, Mood::InProgress],
    }
}

pub fn is_happy(data: &get_row::Data) -> bool {
    data.everything.as_ref().is_some_and(|e| e.m == Mood::Happy)
}
"#;

/// Three mistakes the types catch.
const BAD: &str = r#"
pub fn uuid_as_string() -> find_rows::Variables {
    find_rows::Variables {
        u: String::from("6f1c2a44-8a0b-4c1e-9d2f-0123456789ab"),
        ..variables()
    }
}

pub fn label_as_str() -> set_mood::Variables {
    set_mood::Variables { id: 1, mood: "happy" }
}

pub fn no_such_label(data: &get_row::Data) -> bool {
    data.everything.as_ref().is_some_and(|e| e.m == Mood::Sad)
}
"#;

fn workspace() -> PathBuf {
    graphjin_tests::workspace_root()
}

fn user_crate() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gj-user-{}-rust-types", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::create_dir_all(dir.join("config")).unwrap();
    let ws = workspace();
    let ws = ws.display();
    let manifest = format!(
        "[package]\nname = \"gj_rust_types_user\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [workspace]\n\n[dependencies]\n\
         graphjin-runtime = {{ path = \"{ws}/graphjin-runtime\" }}\n\
         graphjin-macros = {{ path = \"{ws}/graphjin-macros\" }}\n\
         serde = {{ version = \"1\", features = [\"derive\"] }}\n\
         chrono = {{ version = \"0.4\", default-features = false, features = [\"std\", \"serde\"] }}\n\
         uuid = {{ version = \"1\", features = [\"serde\"] }}\n\
         rust_decimal = \"1\"\n"
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    for file in ["allow.list", "db.graphql", "dev.yml"] {
        std::fs::copy(
            workspace().join("tests/fixtures/rust_types").join(file),
            dir.join("config").join(file),
        )
        .unwrap();
    }
    dir
}

/// `cargo check` in `dir`; returns success and stderr.
fn check(dir: &Path) -> (bool, String) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(dir)
        .args(["check", "--offline", "--quiet", "--message-format", "short"])
        .env("CARGO_TARGET_DIR", workspace().join("target/user-crates"))
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run cargo");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn wrong_types_do_not_compile() {
    let dir = user_crate();
    std::fs::write(dir.join("src/lib.rs"), GOOD).unwrap();
    let (ok, err) = check(&dir);
    assert!(
        ok,
        "the crate using the types right builds without warnings:\n{err}"
    );

    std::fs::write(dir.join("src/lib.rs"), format!("{GOOD}{BAD}")).unwrap();
    let (ok, err) = check(&dir);
    assert!(!ok, "the mistakes must fail the build");
    assert!(
        err.contains("error[E0308]: mismatched types: expected `Uuid`, found `String`"),
        "{err}"
    );
    assert!(
        err.contains("error[E0308]: mismatched types: expected `Mood`, found `&str`"),
        "{err}"
    );
    assert!(
        err.contains(
            "error[E0599]: no variant or associated item named `Sad` found for enum `Mood`"
        ),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
