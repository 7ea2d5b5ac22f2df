//! Compiling a generated allow list of 1,000 operations for 3 roles (anon, user, admin):
//! the whole build-time pipeline from allow.list text to SQL.
//!
//! Run with `cargo bench -p graphjin-codegen --bench compile`.

use std::fmt::Write;

use graphjin_codegen::compile::Compiler;
use graphjin_codegen::config::parse_config;
use graphjin_codegen::schema::parse_schema;
use graphjin_codegen::{allowlist, parse_at};

const SCHEMA: &str = include_str!("../tests/fixtures/db.graphql");

/// 1,000 named operations of varied shape over GraphJin's test schema.
fn allow_list(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        let body = match i % 5 {
            0 => format!(
                "products(where: {{ id: {{ gt: $min, lt: {} }} }}, order_by: {{ price: desc }}, limit: {}) {{ id name price owner {{ id email }} }}",
                i + 10,
                i % 20 + 1
            ),
            1 => "users(id: $id) { id full_name products(limit: 3) { id name } }".to_string(),
            2 => "comments(where: { body: { ilike: $q } }) { id body commenter { email } product { name } }".to_string(),
            3 => "products(where: { owner: { id: { eq: $user_id } } }) { id count_id max_price }".to_string(),
            _ => "purchases(order_by: { created_at: desc }) { quantity customer { email } product { name price } }".to_string(),
        };
        writeln!(
            s,
            "# generated operation {i}\nquery op{i} {{\n  {body}\n}}\n"
        )
        .unwrap();
    }
    s
}

fn compile_all(text: &str, compiler: &Compiler, roles: &[String]) -> usize {
    let list = allowlist::parse(text.as_bytes()).expect("allow list parses");
    let mut statements = 0;
    for entry in list.operations() {
        let doc = parse_at(&entry.text, entry.pos).expect("operation parses");
        for role in roles {
            compiler.compile(&doc, 0, role).expect("operation compiles");
            statements += 1;
        }
    }
    statements
}

fn main() {
    divan::main();
}

#[divan::bench(sample_count = 10)]
fn thousand_operations_three_roles(bencher: divan::Bencher) {
    let schema = parse_schema(SCHEMA).expect("schema parses");
    let config = parse_config(
        "roles_query: \"SELECT * FROM users WHERE id = $user_id\"\nroles:\n  - name: admin\n    match: id = 1\n",
        std::path::Path::new("bench.yml"),
    )
    .expect("config parses");
    let compiler = Compiler::new(&schema, &config).expect("catalog");
    let roles = compiler.roles();
    assert_eq!(roles.len(), 3);
    let text = allow_list(1000);
    bencher.bench_local(|| {
        // Catalog included: it is built once per `cargo build`.
        let compiler = Compiler::new(&schema, &config).expect("catalog");
        let n = compile_all(&text, &compiler, &roles);
        assert_eq!(n, 3000);
        n
    });
}
