//! Variable validation over HTTP: GraphJin's `@constraint` rules refuse bad variables with a
//! 400 naming each variable and rule before any SQL runs (no row is written), and a declared
//! `$x: T!` must be sent and not null. Unknown operation directives and rules fail the build.

use std::net::SocketAddr;

use graphjin_codegen::Project;
use graphjin_runtime::Service;
use serde_json::{Value, json};

const CONFIG: &str = r#"
roles:
  - name: anon
    tables:
      - name: customers
        insert: {}
        query: {}
"#;

/// GraphJin's `Example_insertInlineWithValidation` constraints, on the webshop's customers.
const ALLOW_LIST: &str = r#"
mutation addCustomer
  @constraint(variable: "email", format: "email", min: 1, max: 100)
  @constraint(variable: "full_name", requiredIf: { id: 1007 })
  @constraint(variable: "id", greaterThan: 1006)
  @constraint(variable: "id", lessThanOrEqualsField: id) {
  customers(insert: { id: $id, email: $email, full_name: $full_name }) {
    id
    email
  }
}

query customer($id: ID!) {
  customers(id: $id) {
    id
  }
}
"#;

async fn serve() -> (SocketAddr, String) {
    let dir = graphjin_tests::shop_config("validation", ALLOW_LIST, CONFIG);
    let url = graphjin_tests::shop_database("validation");
    let db = graphjin_tests::connect_project(&dir, &url)
        .await
        .expect("connect");
    let app = graphjin_runtime::router(Service::new(db));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { graphjin_runtime::axum::serve(listener, app).await });
    (addr, url)
}

async fn call(addr: SocketAddr, op: &str, vars: Value) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/graphql"))
        .header("content-type", "application/json")
        .body(json!({ "operationName": op, "variables": vars }).to_string())
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    let bytes = res.bytes().await.expect("body");
    (status, serde_json::from_slice(&bytes).expect("JSON"))
}

fn customers_with_id(url: &str, id: i64) -> String {
    let dbname = url.rsplit('/').next().expect("db name");
    graphjin_tests::pg()
        .run_sql(
            dbname,
            &format!("SELECT count(*) FROM customers WHERE id = {id}"),
        )
        .expect("count")
        .trim()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn constraints_refuse_bad_variables_before_any_sql() {
    let (addr, url) = serve().await;
    let (status, body) = call(
        addr,
        "addCustomer",
        json!({"id": 1007, "email": "not_an_email"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("\"email\" (format)") && message.contains("\"full_name\" (requiredIf)"),
        "{message}"
    );
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(customers_with_id(&url, 1007), "0", "nothing written");

    let (status, body) = call(
        addr,
        "addCustomer",
        json!({"id": 1006, "email": "a@b.co", "full_name": "A"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("greaterThan"), "{body}");

    let good = json!({"id": 1007, "email": "ada@example.com", "full_name": "Ada"});
    let (status, body) = call(addr, "addCustomer", good).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["customers"][0]["email"], "ada@example.com");
    assert_eq!(customers_with_id(&url, 1007), "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_non_null_variable_must_be_sent() {
    let (addr, _) = serve().await;
    for vars in [json!({}), json!({"id": null})] {
        let (status, body) = call(addr, "customer", vars.clone()).await;
        assert_eq!(status, 400, "{vars}: {body}");
        assert!(
            body.to_string().contains("\\\"id\\\" (non-null type)"),
            "{body}"
        );
    }
    let (status, body) = call(addr, "customer", json!({"id": 1})).await;
    assert_eq!(status, 200, "{body}");
}

#[test]
fn unknown_operation_directives_and_rules_fail_the_build() {
    for (op, want) in [
        (
            "query q @cacheControll { customers { id } }",
            "unknown operation directive `@cacheControll`",
        ),
        (
            "mutation m @constraint(variable: \"email\", fromat: \"email\") { customers(insert: { email: $email }) { id } }",
            "did you mean `format`",
        ),
        (
            "mutation m @constraint(variable: \"email\", format: \"emial\") { customers(insert: { email: $email }) { id } }",
            "unknown format `emial`",
        ),
    ] {
        let dir = graphjin_tests::shop_config("validation_errors", op, CONFIG);
        let errors = Project::load(&dir)
            .expect("config loads")
            .compile()
            .expect_err(op);
        let text = errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            text.contains(want) && text.contains("allow.list:"),
            "{op}: {text}"
        );
    }
}
