//! The product's promise: the production app's dependency tree carries no GraphQL compiler.
//! The example app compiles its allow list in `build.rs` (a build-dependency), so with
//! default features neither `graphjin-codegen` nor `graphql-parser` is a normal dependency.

use std::process::Command;

#[test]
fn example_app_normal_dependencies_contain_no_graphql_compiler() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(graphjin_tests::workspace_root())
        .args([
            "tree",
            "-p",
            "example-app",
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
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(
        tree.contains("graphjin-runtime"),
        "the tree looks wrong:\n{tree}"
    );
    for forbidden in ["graphql-parser", "graphjin-codegen"] {
        assert!(
            !tree
                .lines()
                .any(|l| l.starts_with(&format!("{forbidden} "))),
            "{forbidden} is in example-app's normal dependency tree:\n{tree}"
        );
    }
}
