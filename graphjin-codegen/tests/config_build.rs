//! End to end through real `cargo`: a user's crate whose `config/dev.yml` has a typo fails
//! to build with the file, the key and a did-you-mean; `GO_ENV` chooses another file, and
//! changing `GO_ENV` reruns the build script (`cargo:rerun-if-env-changed=GO_ENV`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// A crate in a temp dir compiling `config/` with `graphjin_codegen::emit::build`.
fn user_crate() -> PathBuf {
    let ws = workspace();
    let dir = std::env::temp_dir().join(format!("gj-user-{}-config-keys", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).expect("mkdir");
    std::fs::create_dir_all(dir.join("config")).expect("mkdir");
    let w = ws.display();
    let manifest = format!(
        "[package]\nname = \"gj_config_keys\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n\n\
         [dependencies]\ngraphjin-runtime = {{ path = \"{w}/graphjin-runtime\" }}\n\n\
         [build-dependencies]\ngraphjin-codegen = {{ path = \"{w}/graphjin-codegen\" }}\n"
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).expect("manifest");
    std::fs::copy(ws.join("Cargo.lock"), dir.join("Cargo.lock")).expect("lock");
    std::fs::write(
        dir.join("build.rs"),
        "fn main() { graphjin_codegen::emit::build(\"config\"); }\n",
    )
    .expect("build.rs");
    std::fs::write(
        dir.join("src/lib.rs"),
        "include!(concat!(env!(\"OUT_DIR\"), \"/graphjin.rs\"));\n",
    )
    .expect("lib.rs");
    std::fs::copy(
        ws.join("example-app/config/db.graphql"),
        dir.join("config/db.graphql"),
    )
    .expect("db.graphql");
    std::fs::write(
        dir.join("config/allow.list"),
        "query getProduct($id: ID!) {\n  products(id: $id) { id name }\n}\n",
    )
    .expect("allow.list");
    dir
}

/// `cargo check` in `dir` with `GO_ENV` set or not; success and stderr.
fn check(dir: &Path, go_env: Option<&str>) -> (bool, String) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(dir)
        .args(["check", "--offline", "--quiet", "--message-format", "short"])
        .env("CARGO_TARGET_DIR", workspace().join("target/user-crates"))
        .env_remove("RUSTFLAGS")
        .env_remove("GJ_ENV")
        .env_remove("GO_ENV");
    if let Some(v) = go_env {
        cmd.env("GO_ENV", v);
    }
    let out = cmd.output().expect("run cargo");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_typo_fails_the_build_and_go_env_chooses_the_file() {
    let dir = user_crate();
    std::fs::write(
        dir.join("config/dev.yml"),
        "default_limit: 5\nauth:\n  type: jwt\n  jwt:\n    secrte: x\n",
    )
    .expect("dev.yml");
    // A GraphJin key documented as ignored, and keys in another case, are fine.
    std::fs::write(
        dir.join("config/custom.yml"),
        "Default_Limit: 5\nweb_ui: true\nAuth: {Type: jwt, JWT: {Secret: x}}\n",
    )
    .expect("custom.yml");

    let (ok, err) = check(&dir, None);
    assert!(!ok, "the typo must fail the build");
    assert!(
        err.contains("dev.yml: key `auth.jwt.secrte`: unknown key; did you mean `secret`?"),
        "{err}"
    );

    let (ok, err) = check(&dir, Some("custom"));
    assert!(ok, "GO_ENV=custom reads custom.yml: {err}");

    // Unset again: the build script reruns (it tracks GO_ENV) and reads dev.yml again.
    let (ok, err) = check(&dir, None);
    assert!(!ok && err.contains("auth.jwt.secrte"), "{err}");

    let (ok, err) = check(&dir, Some("perf"));
    assert!(!ok, "a missing file chosen by GO_ENV fails");
    assert!(
        err.contains("perf.yml: no such config file (GO_ENV=perf chose it)"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
