//! The generated Rust for the example app's allow list, formatted with prettyplease, is
//! reviewed as a snapshot: readable code, one module per operation, SQL per role.
//! After an intended change: `INSTA_UPDATE=always cargo test -p graphjin-codegen --test emit_snapshot`.

use std::path::Path;

#[test]
fn example_app_generated_code() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../example-app/config");
    let (tokens, files) = graphjin_codegen::emit::generate(&dir).unwrap_or_else(|errors| {
        panic!(
            "{}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    assert!(files.iter().any(|f| f.ends_with("allow.list")));
    assert!(
        files.iter().any(|f| f.ends_with("prod.yml"))
            && files.iter().any(|f| f.ends_with("dev.yml"))
    );
    let code = graphjin_codegen::emit::pretty(&tokens);
    syn::parse_file(&code).expect("generated code parses");
    insta::assert_snapshot!(code);
}

/// The generated Rust for `tests/fixtures/rust_types` (one column of every common
/// PostgreSQL type, `rust:` presets, a type entry, a per-column override, an enum and
/// domains): chrono, uuid and rust_decimal types, a Rust enum per PostgreSQL enum, the
/// exact-number adapter for decimals, and the `ENUMS` table `connect()` checks.
#[test]
fn rust_types_generated_code() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/rust_types");
    let (tokens, _) = graphjin_codegen::emit::generate(&dir).unwrap_or_else(|errors| {
        panic!(
            "{}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    let code = graphjin_codegen::emit::pretty(&tokens);
    syn::parse_file(&code).expect("generated code parses");
    insta::assert_snapshot!(code);
}
