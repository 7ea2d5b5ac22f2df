//! GraphJin's own examples (`../shared/conformance/cases.json`, plus the ones it leaves out in
//! `tests/conformance/upstream_extra.json`) run against the conformance database: each query
//! is compiled for its role and executed, and its JSON compared with GraphJin's output (object
//! key order ignored, array order significant).

use std::collections::BTreeMap;

use graphjin_codegen::compile::Compiler;
use graphjin_codegen::config::{BuildConfig, parse_config};
use graphjin_codegen::gql::parse_document;
use graphjin_dev::schema_pull::introspect;
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
    #[serde(default)]
    vars_all: Vec<VarsEntry>,
}

/// One variables literal of an example: its text, or none when Go code builds it (the
/// cursor examples splice in the previous page's cursor).
#[derive(Debug, Deserialize)]
struct VarsEntry {
    text: Option<String>,
}

/// Query cases whose config needs no more than `tables`, `order_by` and `default_limit`
/// (the compiler's core).
fn core_scope(c: &Case) -> bool {
    c.kind == "query"
        && c.config_fields
            .iter()
            .all(|f| f == "DefaultLimit" || f == "Tables")
}

/// Query and mutation cases this build compiles: the core plus roles, role tables, config variables and
/// camelCase names, cursor pagination (`SecretKey`: the cursor's encryption is the
/// runtime's, so here the statement's own cursor is passed back). Out of scope: remote joins
/// (`Resolvers`).
fn compiles(c: &Case) -> bool {
    const SUPPORTED: [&str; 8] = [
        "SecretKey",
        "DefaultLimit",
        "Tables",
        "AddRoleTable",
        "RolesQuery",
        "Roles",
        "Vars",
        "EnableCamelcase",
    ];
    (c.kind == "query" || c.kind == "mutation")
        && c.config_fields
            .iter()
            .all(|f| SUPPORTED.contains(&f.as_str()))
}

/// The cases run here: those this build compiles, less those answered by the runtime's
/// check of the variables.
fn in_scope(c: &Case) -> bool {
    compiles(c) && !runtime_rules(c)
}

/// Cases whose answer is the runtime's check of the variables (`@constraint`,
/// `@validate`), which this harness, running the compiled SQL directly, does not run; the
/// runtime's tests run them (`tests/tests/validation.rs`, `graphjin-runtime/src/validate.rs`).
fn runtime_rules(c: &Case) -> bool {
    c.gql.contains("@constraint") || c.gql.contains("@validate")
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

/// A parameter's text form as the runtime sends it: strings as-is (JSON text for json
/// types), everything else as JSON text, null as NULL.
fn param_for(v: Option<&Value>, pg_type: &str) -> Option<String> {
    match v? {
        Value::String(s) if pg_type == "json" || pg_type == "jsonb" => {
            Some(Value::String(s.clone()).to_string())
        }
        other => param_text(Some(other)),
    }
}

/// Strings as-is, everything else as JSON text, null as NULL.
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
    let vars: Value = match &c.vars {
        Some(v) => serde_json::from_str(v).map_err(|e| format!("vars: {e}"))?,
        None => Value::Object(Default::default()),
    };
    let (got, sql) = match run_once(client, schema, c, configs, &vars).await? {
        Some(done) => done,
        None => return Ok(()),
    };
    let expected: Value = serde_json::from_str(c.expected.as_deref().unwrap_or("null"))
        .map_err(|e| format!("expected is not JSON: {e}"))?;
    if got == expected {
        Ok(())
    } else {
        Err(format!("got {got}\n  expected {expected}\n  SQL: {sql}"))
    }
}

/// The cursor examples, step by step as their Go code runs them (one call or several):
/// each printed line is the paged field of one call; a call's variables are its own literal when the example has
/// one per call, else `{"cursor": <the previous call's cursor>}` (`""` at first). Every
/// answer must carry the field's `_cursor`.
async fn run_cursor_case(
    client: &tokio_postgres::Client,
    schema: &graphjin_codegen::schema::DbSchema,
    c: &Case,
    configs: &BTreeMap<String, Value>,
) -> Result<(), String> {
    let lines: Vec<&str> = c.expected.as_deref().unwrap_or("").lines().collect();
    let mut cursor = String::new();
    for (i, line) in lines.iter().enumerate() {
        let vars: Value = match c.vars_all.get(i).and_then(|v| v.text.as_deref()) {
            Some(text) if c.vars_all.len() == lines.len() => {
                serde_json::from_str(text).map_err(|e| format!("vars: {e}"))?
            }
            _ => serde_json::json!({ "cursor": cursor }),
        };
        let (got, sql) = run_once(client, schema, c, configs, &vars)
            .await?
            .ok_or("the compiler refused a cursor example")?;
        let obj = got.as_object().ok_or("data is not an object")?;
        let (key, page) = obj
            .iter()
            .find(|(k, _)| !k.ends_with("_cursor"))
            .ok_or("no paged field in the answer")?;
        let expected: Value =
            serde_json::from_str(line).map_err(|e| format!("expected line is not JSON: {e}"))?;
        if *page != expected {
            return Err(format!(
                "call {}: got {page}\n  expected {expected}\n  SQL: {sql}",
                i + 1
            ));
        }
        cursor = match obj.get(&format!("{key}_cursor")) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            other => return Err(format!("call {}: `{key}_cursor` is {other:?}", i + 1)),
        };
    }
    Ok(())
}

/// Compiles the case for its role and runs it with `vars`: the data and the SQL, or `None`
/// when GraphJin answers with an error and the compiler refuses with the same text.
async fn run_once(
    client: &tokio_postgres::Client,
    schema: &graphjin_codegen::schema::DbSchema,
    c: &Case,
    configs: &BTreeMap<String, Value>,
    vars: &Value,
) -> Result<Option<(Value, String)>, String> {
    let config = case_config(c, configs);
    let compiler = Compiler::new(schema, &config).map_err(|e| format!("config: {e}"))?;
    let doc = parse_document(&c.gql).map_err(|e| format!("parse: {e}"))?;
    let role = resolve_role(client, &compiler, c.user_id.as_ref()).await?;
    let q = match compiler.compile_with(&doc, 0, &role, Some(vars)) {
        Ok(q) => q,
        // GraphJin answers some cases with an error; a refusal with the same text passes.
        Err(e) if e.refused && c.expected.as_deref() == Some(e.message.as_str()) => {
            return Ok(None);
        }
        Err(e) => return Err(format!("compile: {e}")),
    };
    let values: Vec<Option<String>> = q
        .params
        .iter()
        .map(|p| {
            if p.name == "user_id" {
                param_text(c.user_id.as_ref())
            } else {
                param_for(vars.get(&p.name).or(p.default.as_ref()), &p.pg_type)
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
    Ok(Some((got, q.sql)))
}

/// The role the runtime would pick: `anon` without a user, else the configured
/// `roles_query` + `match` statement's answer, else `user`.
async fn resolve_role(
    client: &tokio_postgres::Client,
    compiler: &Compiler,
    user_id: Option<&Value>,
) -> Result<String, String> {
    let Some(user_id) = user_id else {
        return Ok("anon".into());
    };
    let Some(sql) = compiler.role_statement() else {
        return Ok("user".into());
    };
    let stmt = client
        .prepare(&sql)
        .await
        .map_err(|e| format!("role statement: {}", db_error(&e)))?;
    let text = param_text(Some(user_id)).unwrap_or_default();
    let row = match stmt.params().first() {
        Some(t) if *t == Type::INT8 => {
            let id: i64 = text
                .parse()
                .map_err(|_| "user id is not an integer".to_string())?;
            client.query_one(&stmt, &[&id]).await
        }
        _ => client.query_one(&stmt, &[&text]).await,
    }
    .map_err(|e| format!("role statement: {}", db_error(&e)))?;
    Ok(row.get(0))
}

fn db_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    }
}

/// The cases, their configs, and a fresh conformance database (`name`) with its schema.
struct Corpus {
    cases: Vec<Case>,
    configs: BTreeMap<String, Value>,
    client: tokio_postgres::Client,
    schema: graphjin_codegen::schema::DbSchema,
}

/// Loads [`Corpus`] (the shared cases, then `upstream_extra.json`'s); `None` when the shared
/// corpus is absent (and not required).
async fn corpus(name: &str) -> Option<Corpus> {
    let shared =
        graphjin_tests::shared_dir(&["conformance/cases.json", "conformance/postgres.sql"])?;
    let mut cases: Vec<Case> = serde_json::from_str(
        &std::fs::read_to_string(shared.join("conformance/cases.json")).expect("cases.json"),
    )
    .expect("cases.json parses");
    // The upstream examples the shared file leaves out, after the shared ones (so the SQL
    // snapshot's existing entries keep their place).
    let extra: Vec<Case> = serde_json::from_str(
        &std::fs::read_to_string(
            graphjin_tests::workspace_root().join("tests/conformance/upstream_extra.json"),
        )
        .expect("upstream_extra.json"),
    )
    .expect("upstream_extra.json parses");
    cases.extend(extra);
    let configs: BTreeMap<String, Value> = serde_saphyr::from_str(
        &std::fs::read_to_string(
            graphjin_tests::workspace_root().join("tests/conformance/configs.yml"),
        )
        .expect("configs.yml"),
    )
    .expect("configs.yml parses");
    let url = graphjin_tests::fresh_database(name);
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    let schema = introspect(&client, "public").await.expect("introspect");
    Some(Corpus {
        cases,
        configs,
        client,
        schema,
    })
}

#[tokio::test]
async fn conformance_queries() {
    let Some(Corpus {
        cases,
        configs,
        client,
        schema,
    }) = corpus("conformance").await
    else {
        return;
    };

    let mut passed = Vec::new();
    let mut failed = Vec::new();
    for c in cases.iter().filter(|c| in_scope(c)) {
        let outcome = if c.kind == "query" && c.gql.contains("$cursor") {
            run_cursor_case(&client, &schema, c, &configs).await
        } else if c.multi_call {
            Err("multi-call example: only the printed output is recorded".to_string())
        } else {
            if c.kind == "mutation" {
                // Mutations change the data: each gets its own copy of the database.
                let url = graphjin_tests::fresh_database("conformance_mut");
                let (mclient, mconn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .expect("connect");
                tokio::spawn(mconn);
                run_case(&mclient, &schema, c, &configs).await
            } else {
                run_case(&client, &schema, c, &configs).await
            }
        };
        match outcome {
            Ok(()) => passed.push(c),
            Err(why) => failed.push((c, why)),
        }
    }
    for c in &passed {
        println!("PASS {}", c.name);
    }
    for (c, why) in &failed {
        println!("FAIL {}: {why}", c.name);
    }
    let core_passed = passed.iter().filter(|c| core_scope(c)).count();
    let core_total = core_passed + failed.iter().filter(|(c, _)| core_scope(c)).count();
    println!(
        "conformance core (tables, order_by, default_limit): {core_passed} of {core_total} pass"
    );
    let total = passed.len() + failed.len();
    let muts = |v: &[&Case]| v.iter().filter(|c| c.kind == "mutation").count();
    let mut_failed = failed.iter().filter(|(c, _)| c.kind == "mutation").count();
    println!(
        "conformance mutations: {} of {} pass",
        muts(&passed),
        muts(&passed) + mut_failed
    );
    println!(
        "conformance: {} passed, {} failed",
        passed.len(),
        failed.len()
    );
    assert!(
        core_total >= 30,
        "expected the core query cases, found {core_total}"
    );
    assert!(
        core_passed * 10 >= core_total * 9,
        "fewer than 90% of the core conformance query cases pass ({core_passed}/{core_total})"
    );
    assert!(
        passed.len() * 10 >= total * 9,
        "fewer than 90% of the in-scope conformance query cases pass ({}/{total})",
        passed.len()
    );
}

/// The SQL of every in-scope case for every role its config has, as one snapshot
/// (`tests/tests/snapshots/conformance__conformance_sql.snap`): a change to the compiler
/// that changes any statement shows here, statement by statement, before any answer
/// differs. Refusals are recorded with their message.
#[tokio::test]
async fn conformance_sql_snapshot() {
    let Some(Corpus {
        cases,
        configs,
        schema,
        ..
    }) = corpus("conformance_sql").await
    else {
        return;
    };

    let mut out = String::new();
    let mut statements = 0;
    for c in cases.iter().filter(|c| compiles(c)) {
        let config = case_config(c, &configs);
        let compiler = Compiler::new(&schema, &config).expect("config");
        let doc = parse_document(&c.gql).expect("parses");
        let vars: Value = match &c.vars {
            Some(v) => serde_json::from_str(v).expect("vars"),
            None => Value::Object(Default::default()),
        };
        for role in compiler.roles() {
            out.push_str(&format!("-- {} as {role}\n", c.name));
            match compiler.compile_with(&doc, 0, &role, Some(&vars)) {
                Ok(q) => {
                    statements += 1;
                    out.push_str(&q.sql);
                    out.push('\n');
                    let params: Vec<String> = q
                        .params
                        .iter()
                        .map(|p| format!("${} {}: {}", p.name, p.pg_type, p.builtin))
                        .collect();
                    if !params.is_empty() {
                        out.push_str(&format!("-- params: {}\n", params.join(", ")));
                    }
                    if let Some(batch) = &q.batch_sql {
                        out.push_str(&format!("-- batch: {batch}\n"));
                    }
                }
                Err(e) => out.push_str(&format!("-- refused: {e}\n")),
            }
        }
    }
    println!("conformance SQL snapshot: {statements} statements");
    assert!(
        statements >= 60,
        "expected the in-scope cases, got {statements}"
    );
    insta::assert_snapshot!("conformance_sql", out);
}
