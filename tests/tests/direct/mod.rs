//! Compiling an operation and running its SQL directly on a copy of GraphJin's test
//! database (no runtime in between), for tests of the compiler's semantics.

use graphjin_codegen::compile::Compiler;
use graphjin_codegen::config::parse_config;
use graphjin_codegen::gql::parse_document;
use graphjin_codegen::schema::DbSchema;
use graphjin_dev::schema_pull::introspect;
use serde_json::Value;
use tokio_postgres::Client;
use tokio_postgres::types::{ToSql, Type};

/// A fresh copy of GraphJin's test database and its schema; `None` without the corpora.
pub async fn database() -> Option<(Client, DbSchema)> {
    graphjin_tests::conformance_sql()?;
    let url = graphjin_tests::fresh_database("direct");
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    let schema = introspect(&client, "public").await.expect("introspect");
    Some((client, schema))
}

/// GraphJin's test config: the array column's relationship (arrays carry no foreign key).
pub const CONFIG: &str = "tables:\n  - name: products\n    columns:\n      - { name: category_ids, related_to: categories.id }\n";

/// Compiles `gql` for role `user` (variables double as the saved shapes, as GraphJin's
/// examples pass them) with [`CONFIG`] and runs it; a build error is `Err` with its message.
pub async fn run(
    client: &Client,
    schema: &DbSchema,
    gql: &str,
    vars: Value,
) -> Result<Value, String> {
    run_with(client, schema, CONFIG, gql, vars).await
}

/// [`run`] with config text of its own (`$user_id` is 3).
#[allow(dead_code)] // not every test binary uses every helper
pub async fn run_with(
    client: &Client,
    schema: &DbSchema,
    config: &str,
    gql: &str,
    vars: Value,
) -> Result<Value, String> {
    let config =
        parse_config(config, std::path::Path::new("dev.yml")).map_err(|e| e.to_string())?;
    let compiler = Compiler::new(schema, &config).map_err(|e| e.to_string())?;
    let doc = parse_document(gql).map_err(|e| format!("parse: {e}"))?;
    let q = compiler
        .compile_with(&doc, 0, "user", Some(&vars))
        .map_err(|e| e.message.clone())?;
    let values: Vec<Option<String>> = q
        .params
        .iter()
        .map(|p| match vars.get(&p.name) {
            None | Some(Value::Null) if p.name == "user_id" => Some("3".to_owned()),
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if p.pg_type != "json" && p.pg_type != "jsonb" => {
                Some(s.clone())
            }
            Some(v) => Some(v.to_string()),
        })
        .collect();
    let stmt = client
        .prepare_typed(&q.sql, &vec![Type::TEXT; values.len()])
        .await
        .map_err(|e| format!("prepare: {e:?}\nSQL: {}", q.sql))?;
    let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
    let row = client
        .query_one(&stmt, &refs)
        .await
        .map_err(|e| format!("execute: {e:?}\nSQL: {}", q.sql))?;
    Ok(row.get(0))
}

/// The `id`s of a JSON list of rows, in order.
#[allow(dead_code)] // not every test binary uses every helper
pub fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .expect("a list")
        .iter()
        .map(|c| c["id"].as_i64().expect("id"))
        .collect()
}
