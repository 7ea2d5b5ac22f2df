//! Tables in other PostgreSQL schemas, as GraphJin reads them: `schema pull` writes them
//! with `@schema(name: ...)`, and a query reaches them by name or with `@schema(name:)`;
//! a name the default schema already has stays the default schema's.

use graphjin_codegen::compile::Compiler;
use graphjin_codegen::config::BuildConfig;
use graphjin_codegen::gql::parse_document;
use graphjin_codegen::schema::{parse_schema, write_schema};
use graphjin_dev::schema_pull::introspect;
use serde_json::{Value, json};

#[tokio::test]
async fn other_schemas_are_pulled_and_queried() {
    if graphjin_tests::conformance_sql().is_none() {
        return;
    }
    let url = graphjin_tests::fresh_database("schemas");
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client
        .batch_execute(
            "CREATE SCHEMA sales;
             CREATE TABLE sales.regions (id int PRIMARY KEY, label text NOT NULL);
             CREATE TABLE sales.orders (id int PRIMARY KEY, note text,
                 region_id int REFERENCES sales.regions(id));
             CREATE TABLE sales.users (id int PRIMARY KEY, nick text);
             INSERT INTO sales.regions VALUES (1, 'north'), (2, 'south');
             INSERT INTO sales.orders VALUES (10, 'first', 2), (11, 'second', 1);
             INSERT INTO sales.users VALUES (1, 'shadowed');",
        )
        .await
        .expect("sales schema");

    // Pulled into db.graphql and read back.
    let pulled = introspect(&client, "public").await.expect("introspect");
    let text = write_schema(&pulled);
    assert!(text.contains("type orders @schema(name: sales)"), "{text}");
    assert!(
        text.contains("@relation(type: regions, field: id, schema: sales)"),
        "{text}"
    );
    // `users` is the default schema's: sales.users is left out.
    assert_eq!(text.matches("type users").count(), 1, "{text}");
    let schema = parse_schema(&text).expect("db.graphql reads back");

    let run = |gql: &'static str| {
        let schema = &schema;
        let client = &client;
        async move {
            let compiler = Compiler::new(schema, &BuildConfig::default()).expect("compiler");
            let doc = parse_document(gql).expect("parse");
            let q = compiler
                .compile(&doc, 0, "user")
                .map_err(|e| e.message.clone())?;
            let row = client
                .query_one(&q.sql, &[])
                .await
                .map_err(|e| format!("{e:?}\n{}", q.sql))?;
            Ok::<Value, String>(row.get(0))
        }
    };
    let data = run(
        r#"query { orders(order_by: { id: asc }) @schema(name: "sales") { id note regions { label } } }"#,
    )
    .await
    .expect("orders in sales");
    assert_eq!(
        data,
        json!({"orders": [
            {"id": 10, "note": "first", "regions": {"label": "south"}},
            {"id": 11, "note": "second", "regions": {"label": "north"}},
        ]})
    );
    // A name only one schema has is reached without the directive too.
    let data = run("query { regions(id: 1) { label } }")
        .await
        .expect("regions");
    assert_eq!(data, json!({"regions": {"label": "north"}}));
    // The default schema's users, not sales.users.
    let data = run("query { users(id: 1) { full_name } }")
        .await
        .expect("users");
    assert_eq!(data, json!({"users": {"full_name": "User 1"}}));
}
