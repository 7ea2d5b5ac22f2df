//! Function fields take a column when an argument is an unquoted name, as GraphJin's
//! `is_hot_product(args: { id: id })` does (`qcode.ArgTypeCol`): the column's value goes in,
//! never the string `'id'`; an unknown column, or a column name where there is no table,
//! fails the build.

use graphjin_codegen::compile::Compiler;
use graphjin_codegen::config::parse_config;
use graphjin_codegen::gql::parse_document;
use graphjin_codegen::schema::parse_schema;

const SCHEMA: &str = include_str!("fixtures/db.graphql");

fn compile(src: &str) -> Result<String, String> {
    let schema = parse_schema(SCHEMA).expect("fixture schema");
    let config = parse_config("", std::path::Path::new("dev.yml")).expect("config");
    let compiler = Compiler::new(&schema, &config).expect("catalog");
    let doc = parse_document(src).expect("parses");
    compiler
        .compile(&doc, 0, "user")
        .map(|q| q.sql)
        .map_err(|e| e.to_string())
}

#[test]
fn an_unquoted_name_is_a_column() {
    let sql =
        compile("query { products(id: 51) { id is_hot_product(args: { id: id }) } }").unwrap();
    assert!(
        sql.contains("\"is_hot_product\"(") || sql.contains("is_hot_product("),
        "{sql}"
    );
    let call = &sql[sql.find("\"is_hot_product\"(").expect("call")..];
    let args = &call[..call.find(')').expect("closing paren")];
    assert_eq!(
        args, "\"is_hot_product\"(t0.\"id\"",
        "the column, not the string 'id': {sql}"
    );
    // A constant and a variable still work as values.
    let sql =
        compile("query { products(id: 51) { id is_hot_product(args: { a0: 51 }) } }").unwrap();
    assert!(sql.contains("is_hot_product"), "{sql}");
}

#[test]
fn a_bad_column_argument_fails_the_build() {
    let e =
        compile("query { products(id: 51) { id is_hot_product(args: { id: idd }) } }").unwrap_err();
    assert!(
        e.contains("no column `idd`") && e.contains("did you mean `id`"),
        "{e}"
    );
}
