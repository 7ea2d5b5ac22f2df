//! The product's promises about dependency trees:
//!
//! - the production app's carries no GraphQL compiler: the example app compiles its allow
//!   list in `build.rs` (a build-dependency), so with default features neither
//!   `graphjin-codegen` nor `graphql-parser` (nor the development tools, `graphjin-dev`) is a
//!   normal dependency;
//! - the compiler's carries no server: graphjin-codegen, which every build runs, has no
//!   async runtime, HTTP stack or command-line parser (those are graphjin-dev's).

use std::process::Command;

/// `cargo tree -e normal` of `package`, one crate per line (`name vX.Y.Z ...`).
fn normal_tree(package: &str) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(graphjin_tests::workspace_root())
        .args([
            "tree",
            "-p",
            package,
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_absent(package: &str, tree: &str, forbidden: &[&str]) {
    for name in forbidden {
        assert!(
            !tree.lines().any(|l| l.starts_with(&format!("{name} "))),
            "{name} is in {package}'s normal dependency tree:\n{tree}"
        );
    }
}

#[test]
fn example_app_normal_dependencies_contain_no_graphql_compiler() {
    let tree = normal_tree("example-app");
    assert!(
        tree.contains("graphjin-runtime"),
        "the tree looks wrong:\n{tree}"
    );
    assert_absent(
        "example-app",
        &tree,
        &["graphql-parser", "graphjin-codegen", "graphjin-dev"],
    );
}

#[test]
fn the_compiler_has_no_server_dependencies() {
    let tree = normal_tree("graphjin-codegen");
    assert!(
        tree.contains("graphql-parser"),
        "the tree looks wrong:\n{tree}"
    );
    assert_absent(
        "graphjin-codegen",
        &tree,
        &[
            "graphjin-dev",
            "graphjin-runtime",
            "tokio",
            "hyper",
            "tokio-tungstenite",
            "clap",
        ],
    );
}
