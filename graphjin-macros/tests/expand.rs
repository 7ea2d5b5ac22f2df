//! `include_allowlist!()` expands to warning-free, typed code that runs.

#![deny(warnings)]

mod shop {
    graphjin_macros::include_allowlist!("tests/fixture");
}

use graphjin_runtime::{Auth, PoolOptions};
use sha2::{Digest, Sha256};

#[test]
fn the_table_has_every_operation_for_every_role() {
    assert_eq!(shop::OPERATIONS.len(), 3);
    for op in &shop::OPERATIONS {
        assert_eq!(
            op.roles.iter().map(|r| r.role).collect::<Vec<_>>(),
            ["anon", "user"]
        );
        let hash: String = Sha256::digest(op.query.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(op.sha256, hash);
    }
    let get = shop::get_product::operation();
    assert_eq!(get.name, shop::get_product::NAME);
    assert_eq!(
        get.query,
        graphjin_normalize::normalize(
            "query getProduct($id: ID!) { products(id: $id) { id name price tags category { name } } }"
        )
    );
    let user = get.for_role("user").expect("user statement");
    assert_eq!(user.params.len(), 1);
    assert_eq!(
        (user.params[0].name, user.params[0].pg_type),
        ("id", "bigint")
    );
    // `$user_id` is a builtin: not a client variable, and anon's statement skips the field.
    let mine = shop::my_orders::operation();
    assert!(mine.for_role("user").unwrap().params[0].builtin);
    assert!(mine.for_role("anon").unwrap().params.is_empty());
}

#[test]
fn types_follow_the_selection() {
    // Declared `ID!` without default: required. `Int = 2`: optional.
    let v = shop::get_product::Variables { id: 7 };
    assert_eq!(serde_json_value(&v), serde_json::json!({"id": 7}));
    let p = shop::product_page::Variables::default();
    assert_eq!(serde_json_value(&p), serde_json::json!({}));
    // Aliases name fields and types; camelCase keys get snake_case fields with a rename.
    let data: shop::product_page::Data =
        serde_json::from_str(r#"{"items":[{"id":1,"productName":"Mug","__typename":"products"}]}"#)
            .expect("generated Data deserializes");
    let item: &shop::product_page::Items = &data.items[0];
    assert_eq!(
        (item.id, item.product_name.as_str(), item.typename.as_str()),
        (1, "Mug", "products")
    );
    // Nullable relations are Options; numeric stays exact.
    let data: shop::get_product::Data = serde_json::from_str(
        r#"{"products":{"id":1,"name":"Mug","price":12.10,"tags":["a"],"category":null}}"#,
    )
    .expect("deserializes");
    let product = data.products.expect("found");
    assert_eq!(product.price.as_str(), "12.10");
    assert!(product.category.is_none());
}

fn serde_json_value<T: graphjin_runtime::serde::Serialize>(v: &T) -> serde_json::Value {
    graphjin_runtime::serde_json::to_value(v).expect("serializes")
}

#[tokio::test]
async fn generated_run_executes_against_postgres() {
    let pg = graphjin_pg_tmp::shared().expect("PostgreSQL");
    pg.create_database("macro_shop", None).expect("database");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../example-app/db");
    pg.run_sql_file("macro_shop", &root.join("schema.sql"))
        .expect("schema");
    pg.run_sql_file("macro_shop", &root.join("seed.sql"))
        .expect("seed");
    let db = shop::connect(&pg.url("macro_shop"), PoolOptions::default())
        .await
        .expect("connect");
    let data = shop::get_product::run(&db, &Auth::anon(), &shop::get_product::Variables { id: 2 })
        .await
        .expect("run");
    let p = data.products.expect("product 2");
    assert_eq!(
        (p.id, p.name.as_str(), p.price.as_str()),
        (2, "Tea 2", "7.50")
    );
    assert_eq!(p.category.map(|c| c.name), Some("Tea".to_string()));
    let page = shop::product_page::run(&db, &Auth::anon(), &Default::default())
        .await
        .expect("page");
    assert_eq!(
        page.items.len(),
        2,
        "the declared default limit of 2 applies"
    );
    let mine = shop::my_orders::run(&db, &Auth::user("1"), &Default::default())
        .await
        .expect("mine");
    assert_eq!(mine.orders.map(|o| o.len()), Some(3));
}
