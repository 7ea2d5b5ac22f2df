//! The build and the development server hand the runtime the same table: for
//! `tests/fixtures/runtime_table` (every variable rule, defaults, a subscription with batch
//! statements, a mutation, a refused role, a role statement), the statics
//! `include_allowlist!` generates (`emit`'s token renderer) equal the values the development
//! server leaks (`graphjin_dev::bridge`), both rendered from one `RuntimeTable`.

use std::collections::BTreeSet;

mod generated {
    graphjin_macros::include_allowlist!("fixtures/runtime_table");
}

#[test]
fn the_build_and_the_dev_server_give_the_runtime_the_same_table() {
    let dir = graphjin_tests::workspace_root().join("tests/fixtures/runtime_table");
    let (_, compiled) = graphjin_tests::compile_project(&dir);
    let leaked = graphjin_tests::leak_compiled(&compiled);

    assert_eq!(leaked.operations, &generated::OPERATIONS[..]);
    assert_eq!(leaked.role_query, generated::ROLE_QUERY);
    assert_eq!(leaked.batches, generated::BATCHES);
    assert_eq!(leaked.access, generated::ACCESS);

    // The fixture covers what could differ: every rule, a default, batch statements for
    // every role, a refused role, the role statement with its matched role.
    let rules: BTreeSet<String> = leaked
        .operations
        .iter()
        .flat_map(|o| o.constraints)
        .map(|c| {
            let text = format!("{:?}", c.rule);
            text.split('(').next().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(rules.len(), 24, "every runtime rule: {rules:?}");
    assert!(
        leaked
            .operations
            .iter()
            .flat_map(|o| o.roles)
            .flat_map(|r| r.params)
            .any(|p| p.default.is_some()),
        "a parameter with a default"
    );
    let batch_roles: Vec<&str> = leaked.batches.iter().map(|b| b.role).collect();
    assert_eq!(batch_roles, ["anon", "user", "admin"]);
    assert!(leaked.access.iter().any(|a| a.refused.is_some()));
    assert_eq!(leaked.role_query.map(|r| r.roles), Some(&["admin"][..]));
    // Each query's signed-in statement, made at build time, with a branch per distinct
    // role statement.
    let statements = leaked.role_query.map_or(&[][..], |r| r.statements);
    assert!(!statements.is_empty(), "signed-in statements");
    assert!(statements.iter().all(|s| !s.branches.is_empty()));
}
