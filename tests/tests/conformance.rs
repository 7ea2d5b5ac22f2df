//! GraphJin's own examples (`../shared/conformance/cases.json`) run against the conformance
//! database: each query is compiled for its role and executed, and its JSON compared with
//! GraphJin's output (object key order ignored, array order significant).

use std::collections::BTreeMap;

use graphjin_codegen::compile::Compiler;
use graphjin_codegen::config::{BuildConfig, parse_config};
use graphjin_codegen::gql::parse_document;
use graphjin_codegen::schema::introspect::introspect;
use serde::Deserialize;
use serde_json::Value;
use tokio_postgres::types::{ToSql, Type};

#[derive(Debug, Deserialize)]
struct Case {
    name: String,
    kind: String,
    gql: String,
    vars: Option<String>,
    user_id: Option<Value>,
    config_go: String,
    config_fields: Vec<String>,
    expected: Option<String>,
    multi_call: bool,
}

/// Cases whose config needs no more than `tables`, `order_by` and `default_limit`.
fn in_scope(c: &Case) -> bool {
    c.kind == "query"
        && c.config_fields
            .iter()
            .all(|f| f == "DefaultLimit" || f == "Tables")
}

fn case_config(c: &Case, configs: &BTreeMap<String, Value>) -> BuildConfig {
    if let Some(v) = configs.get(&c.name) {
        return serde_json::from_value(v.clone()).expect("configs.yml entry fits BuildConfig");
    }
    let mut text = String::new();
    if let Some(rest) = c.config_go.split("DefaultLimit:").nth(1) {
        let n: String = rest
            .trim()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        text.push_str(&format!("default_limit: {n}\n"));
    }
    parse_config(&text, std::path::Path::new("case.yml")).expect("config")
}

/// A parameter's text form: strings as-is, everything else as JSON text, null as NULL.
fn param_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

async fn run_case(
    client: &tokio_postgres::Client,
    schema: &graphjin_codegen::schema::DbSchema,
    c: &Case,
    configs: &BTreeMap<String, Value>,
) -> Result<(), String> {
    let config = case_config(c, configs);
    let compiler = Compiler::new(schema, &config).map_err(|e| format!("config: {e}"))?;
    let doc = parse_document(&c.gql).map_err(|e| format!("parse: {e}"))?;
    let role = if c.user_id.is_some() { "user" } else { "anon" };
    let q = compiler
        .compile(&doc, 0, role)
        .map_err(|e| format!("compile: {e}"))?;
    let vars: Value = match &c.vars {
        Some(v) => serde_json::from_str(v).map_err(|e| format!("vars: {e}"))?,
        None => Value::Object(Default::default()),
    };
    let values: Vec<Option<String>> = q
        .params
        .iter()
        .map(|p| {
            if p.name == "user_id" {
                param_text(c.user_id.as_ref())
            } else {
                param_text(vars.get(&p.name).or(p.default.as_ref()))
            }
        })
        .collect();
    let types = vec![Type::TEXT; values.len()];
    let stmt = client
        .prepare_typed(&q.sql, &types)
        .await
        .map_err(|e| format!("prepare: {}\nSQL: {}", db_error(&e), q.sql))?;
    let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
    let row = client
        .query_one(&stmt, &refs)
        .await
        .map_err(|e| format!("execute: {}\nSQL: {}", db_error(&e), q.sql))?;
    let got: Value = row.get(0);
    let expected: Value = serde_json::from_str(c.expected.as_deref().unwrap_or("null"))
        .map_err(|e| format!("expected is not JSON: {e}"))?;
    if got == expected {
        Ok(())
    } else {
        Err(format!(
            "got {got}\n  expected {expected}\n  SQL: {}",
            q.sql
        ))
    }
}

fn db_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    }
}

#[tokio::test]
async fn conformance_queries() {
    let shared = graphjin_tests::shared_dir();
    let cases: Vec<Case> = serde_json::from_str(
        &std::fs::read_to_string(shared.join("conformance/cases.json")).expect("cases.json"),
    )
    .expect("cases.json parses");
    let configs: BTreeMap<String, Value> = serde_saphyr::from_str(
        &std::fs::read_to_string(
            graphjin_tests::workspace_root().join("tests/conformance/configs.yml"),
        )
        .expect("configs.yml"),
    )
    .expect("configs.yml parses");

    let url = graphjin_tests::fresh_database("conformance");
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    let schema = introspect(&client, "public").await.expect("introspect");

    let mut passed = Vec::new();
    let mut failed = Vec::new();
    for c in cases.iter().filter(|c| in_scope(c)) {
        let outcome = if c.multi_call {
            Err("multi-call example: only the printed output is recorded".to_string())
        } else {
            run_case(&client, &schema, c, &configs).await
        };
        match outcome {
            Ok(()) => passed.push(c.name.clone()),
            Err(why) => failed.push((c.name.clone(), why)),
        }
    }
    for name in &passed {
        println!("PASS {name}");
    }
    for (name, why) in &failed {
        println!("FAIL {name}: {why}");
    }
    let total = passed.len() + failed.len();
    println!(
        "conformance: {} passed, {} failed",
        passed.len(),
        failed.len()
    );
    assert!(
        total >= 30,
        "expected the query cases in scope, found {total}"
    );
    assert!(
        passed.len() * 10 >= total * 9,
        "fewer than 90% of the conformance query cases pass ({}/{total})",
        passed.len()
    );
}
