//! A user's crate, built by real `cargo`: a broken operation fails the build with
//! `config/allow.list:LINE:COL: message`, and editing allow.list, db.graphql or the config
//! triggers a rebuild, through both entry points (`include_allowlist!()` and `build.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;

const ALLOW_LIST: &str = "query getProduct($id: ID!) {\n  products(id: $id) { id name }\n}\n";

fn workspace() -> PathBuf {
    graphjin_tests::workspace_root()
}

/// A fresh crate in a temp dir using the workspace's crates by path.
fn user_crate(name: &str, build_rs: bool) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gj-user-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::create_dir_all(dir.join("config")).unwrap();
    let ws = workspace();
    let ws = ws.display();
    let (deps, lib) = if build_rs {
        std::fs::write(
            dir.join("build.rs"),
            "fn main() { graphjin_codegen::emit::build(\"config\"); }\n",
        )
        .unwrap();
        (
            format!(
                "[build-dependencies]\ngraphjin-codegen = {{ path = \"{ws}/graphjin-codegen\" }}\n"
            ),
            "include!(concat!(env!(\"OUT_DIR\"), \"/graphjin.rs\"));\n",
        )
    } else {
        (
            format!("graphjin-macros = {{ path = \"{ws}/graphjin-macros\" }}\n"),
            "graphjin_macros::include_allowlist!();\n",
        )
    };
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n\n\
         [dependencies]\ngraphjin-runtime = {{ path = \"{ws}/graphjin-runtime\" }}\n{deps}"
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::copy(workspace().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    std::fs::write(dir.join("src/lib.rs"), format!("#![deny(warnings)]\n{lib}")).unwrap();
    std::fs::copy(
        workspace().join("example-app/config/db.graphql"),
        dir.join("config/db.graphql"),
    )
    .unwrap();
    std::fs::write(dir.join("config/allow.list"), ALLOW_LIST).unwrap();
    std::fs::write(dir.join("config/dev.yml"), "default_limit: 5\n").unwrap();
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

fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join("config").join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has no `{from}`");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

fn edits_fail_and_recover(dir: &Path) {
    let (ok, err) = check(dir);
    assert!(ok, "the good crate must build:\n{err}");

    edit(dir, "allow.list", "products(id", "prodcts(id");
    let (ok, err) = check(dir);
    assert!(!ok, "a broken allow.list must fail the build");
    assert!(
        err.contains("config/allow.list:2:3: unknown table `prodcts` (did you mean `products`?)"),
        "{err}"
    );
    edit(dir, "allow.list", "prodcts(id", "products(id");
    let (ok, err) = check(dir);
    assert!(ok, "fixing allow.list must rebuild cleanly:\n{err}");

    edit(
        dir,
        "db.graphql",
        "  name: Text!\n  description",
        "  title: Text!\n  description",
    );
    let (ok, err) = check(dir);
    assert!(!ok, "a schema edit must trigger a rebuild");
    assert!(
        err.contains("config/allow.list:2:26:") && err.contains("`name`"),
        "{err}"
    );
    edit(
        dir,
        "db.graphql",
        "  title: Text!\n  description",
        "  name: Text!\n  description",
    );

    edit(dir, "dev.yml", "default_limit: 5", "default_limit: [5");
    let (ok, err) = check(dir);
    assert!(!ok, "a config edit must trigger a rebuild");
    assert!(err.contains("dev.yml"), "{err}");
    edit(dir, "dev.yml", "default_limit: [5", "default_limit: 5");
    let (ok, err) = check(dir);
    assert!(ok, "{err}");
}

#[test]
fn include_allowlist_macro_errors_and_rebuilds() {
    let dir = user_crate("gj_macro_user", false);
    edits_fail_and_recover(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn build_rs_errors_and_rebuilds() {
    let dir = user_crate("gj_build_user", true);
    edits_fail_and_recover(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}
