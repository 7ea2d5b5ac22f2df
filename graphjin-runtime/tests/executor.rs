//! The executor (`Db`) against a real PostgreSQL: start-up checks, typed `run()`,
//! `execute()`, variable checks and builtins.

mod common;

use common::*;
use graphjin_runtime::types::Numeric;
use graphjin_runtime::{Auth, Db, Error, OpKind, Operation, Param, RoleStatement};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Serialize)]
struct GetProductVars {
    id: i64,
}

#[derive(Debug, Deserialize, PartialEq)]
struct GetProductData {
    product: Option<Product>,
}

#[derive(Debug, Deserialize, PartialEq)]
struct Product {
    id: i64,
    name: String,
    price: Numeric,
}

#[derive(Debug, Serialize)]
struct CreateVars {
    name: String,
    price: Numeric,
}

#[derive(Debug, Deserialize)]
struct CreateData {
    product: Created,
}

#[derive(Debug, Deserialize)]
struct Created {
    id: i64,
    price: Numeric,
    owner_id: i64,
}

#[tokio::test]
async fn typed_run_round_trips_numeric_exactly() {
    let db = db().await;
    let data: GetProductData = db
        .run(
            op_named("getProduct"),
            &Auth::anon(),
            &GetProductVars { id: 3 },
        )
        .await
        .unwrap();
    let product = data.product.unwrap();
    assert_eq!(product.id, 3);
    assert_eq!(product.name, "Cherry");
    assert_eq!(product.price.as_str(), "123456789012345678.99");

    let vars = CreateVars {
        name: "Guava".into(),
        price: "98765432109876543.21".parse().unwrap(),
    };
    let created: CreateData = db
        .run(op_named("createProduct"), &Auth::user("1"), &vars)
        .await
        .unwrap();
    assert_eq!(created.product.id, 101);
    assert_eq!(created.product.price.as_str(), "98765432109876543.21");
    assert_eq!(created.product.owner_id, 1);

    // No variables at all.
    let data: serde_json::Value = db
        .run(op_named("getProducts"), &Auth::anon(), &())
        .await
        .unwrap();
    assert_eq!(data["products"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn typed_run_reports_decode_errors() {
    let db = db().await;
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Wrong {
        product: Vec<i64>,
    }
    let e = db
        .run::<_, Wrong>(
            op_named("getProduct"),
            &Auth::anon(),
            &GetProductVars { id: 1 },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Decode {
                operation: "getProduct",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.status(), 500);
}

#[tokio::test]
async fn execute_takes_json_values() {
    let db = db().await;
    let op = op_named("getProducts");
    let bytes = db
        .execute(op, &Auth::anon(), Some(&json!({"after": 2})))
        .await
        .unwrap();
    assert_eq!(
        &bytes[..],
        br#"{"products" : [{"id" : 3, "name" : "Cherry"}]}"#
    );

    let e = db
        .execute(op, &Auth::anon(), Some(&json!({"after": "2"})))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "variable \"after\" must be an integer (bigint), got a string"
    );
    assert!(matches!(e, Error::Variable { .. }));

    let e = db
        .execute(op, &Auth::anon(), Some(&json!([1])))
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::VariablesNotObject { got: "an array" }),
        "{e}"
    );

    // A copy of a table entry is found by name and content.
    let copy: Operation = *op;
    assert!(db.execute(&copy, &Auth::anon(), None).await.is_ok());

    // An operation from elsewhere is refused, not run.
    let stranger = Operation {
        name: "stranger",
        ..*op
    };
    let e = db
        .execute(&stranger, &Auth::anon(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::UnknownOperation(ref n) if n == "stranger"),
        "{e}"
    );

    // A role without a statement.
    let e = db
        .execute(op_named("myProducts"), &Auth::anon(), None)
        .await
        .unwrap_err();
    assert_eq!(e.status(), 401);
    let e = db
        .execute(
            op_named("myProducts"),
            &Auth::user("1").with_role("admin"),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(
        (e.status().as_u16(), e.to_string().as_str()),
        (
            403,
            "operation \"myProducts\" is not available to role \"admin\""
        )
    );
}

#[tokio::test]
async fn builtins_come_from_auth_only() {
    let db = db().await;
    let bytes = db
        .execute(
            op_named("myProducts"),
            &Auth::user("1"),
            Some(&json!({"user_id": 2})),
        )
        .await
        .unwrap();
    assert_eq!(
        &bytes[..],
        br#"{"products" : [{"id" : 1, "name" : "Apple"}, {"id" : 2, "name" : "Banana"}]}"#
    );
}

#[tokio::test]
async fn operation_lookup() {
    let db = db().await;
    assert_eq!(db.operation("getproducts").unwrap().name, "getProducts");
    assert!(db.operation("nope").is_none());
    assert_eq!(db.operations().len(), operations().len());
}

fn leak(ops: Vec<Operation>) -> &'static [Operation] {
    Box::leak(ops.into_boxed_slice())
}

#[tokio::test]
async fn startup_fails_on_a_statement_that_does_not_prepare() {
    let name = fresh_database();
    let mut ops = operations().to_vec();
    ops[0].roles = Box::leak(Box::new([
        ops[0].roles[0],
        RoleStatement {
            role: "user",
            sql: r#"SELECT json_build_object('products', (SELECT json_agg(t0."nmae") FROM "products" AS t0 WHERE t0."id" > $1::bigint)) AS "__root""#,
            params: ops[0].roles[0].params,
        },
    ]));
    let e = Db::connect(&pg().url(&name), leak(ops), small_pool())
        .await
        .unwrap_err();
    let message = e.to_string();
    assert!(
        message
            .starts_with("operation \"getProducts\", role \"user\": column t0.nmae does not exist"),
        "{message}"
    );
}

#[tokio::test]
async fn startup_checks_result_shape_and_parameters() {
    let name = fresh_database();
    static TEXT: &[Param] = &[Param {
        name: "x",
        pg_type: "text",
        builtin: false,
        default: None,
    }];
    let one = |sql: &'static str, params: &'static [Param]| -> &'static [Operation] {
        leak(vec![Operation {
            name: "bad",
            kind: OpKind::Query,
            query: "query bad { x }",
            sha256: "",
            roles: Box::leak(Box::new([RoleStatement {
                role: "anon",
                sql,
                params,
            }])),
            constraints: &[],
        }])
    };
    let url = pg().url(&name);

    let e = Db::connect(&url, one("SELECT 1 AS a", &[]), small_pool())
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "operation \"bad\", role \"anon\": the statement must return one json column, it returns (a int4)"
    );

    let e = Db::connect(&url, one("SELECT to_json($1::text)", &[]), small_pool())
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("the SQL uses 1 parameters but the operation table lists 0"),
        "{e}"
    );

    assert!(
        Db::connect(&url, one("SELECT to_json($1::text)", TEXT), small_pool())
            .await
            .is_ok()
    );

    static BAD_BUILTIN: &[Param] = &[Param {
        name: "tenant_id",
        pg_type: "text",
        builtin: true,
        default: None,
    }];
    let e = Db::connect(
        &url,
        one("SELECT to_json($1::text)", BAD_BUILTIN),
        small_pool(),
    )
    .await
    .unwrap_err();
    assert!(
        e.to_string().contains("\"tenant_id\" is marked builtin"),
        "{e}"
    );
}

#[tokio::test]
async fn connection_errors_do_not_show_the_password() {
    // Nothing listens on port 1.
    let e = Db::connect(
        "postgres://app:hunter2@127.0.0.1:1/shop",
        operations(),
        small_pool(),
    )
    .await
    .unwrap_err();
    let message = e.to_string();
    assert!(
        message.starts_with("cannot connect to the database at postgres://app@127.0.0.1:1/shop"),
        "{message}"
    );
    assert!(!message.contains("hunter2"));
    assert!(!format!("{e:?}").contains("hunter2"));

    let e = Db::connect(
        "postgres://app:hunter2@127.0.0.1:notaport/x",
        operations(),
        small_pool(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, Error::InvalidUrl { .. }), "{e}");
    assert!(!e.to_string().contains("hunter2"), "{e}");

    // A database that does not exist: PostgreSQL's message comes through.
    let e = Db::connect(&pg().url("no_such_db"), operations(), small_pool())
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("database \"no_such_db\" does not exist"),
        "{e}"
    );
}
