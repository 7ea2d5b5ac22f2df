//! Nested writes as GraphJin documents them (`insert.md`, `update.md`, its `tests/*_test.go`),
//! run on GraphJin's own test database and checked by reading the rows back with SQL:
//! `connect` / `disconnect` written inline or in `$data`, with a variable inside, both at
//! once in one update, and through an array-column foreign key. A nested write the compiler
//! cannot do fails the build; none is dropped silently.

mod direct;

use direct::{database, run};
use serde_json::json;
use tokio_postgres::Client;

async fn ids(client: &Client, sql: &str) -> Vec<i64> {
    client
        .query(sql, &[])
        .await
        .expect(sql)
        .iter()
        .map(|r| r.get(0))
        .collect()
}

async fn owner(client: &Client, product: i64) -> Option<i64> {
    client
        .query_one("SELECT owner_id FROM products WHERE id = $1", &[&product])
        .await
        .expect("owner")
        .get(0)
}

#[tokio::test]
async fn an_inline_connect_sets_the_foreign_key() {
    let Some((client, schema)) = database().await else {
        return;
    };
    let data = run(
        &client,
        &schema,
        r#"mutation {
            products(insert: {
                id: 2101, name: "Product 2101", description: "Description 2101",
                price: 10.5, category_ids: [1, 2], owner: { connect: { id: 6 } }
            }) { id owner { id } }
        }"#,
        json!({}),
    )
    .await
    .expect("insert with an inline connect");
    assert_eq!(
        data,
        json!({"products": [{"id": 2101, "owner": {"id": 6}}]})
    );
    assert_eq!(owner(&client, 2101).await, Some(6));
}

#[tokio::test]
async fn a_variable_inside_an_inline_connect_is_bound() {
    let Some((client, schema)) = database().await else {
        return;
    };
    let data = run(
        &client,
        &schema,
        r#"mutation addProduct($owner: ID!) {
            products(insert: {
                id: 2102, name: "Product 2102", description: "Description 2102",
                price: 10.5, category_ids: [1], owner: { connect: { id: $owner } }
            }) { id owner { id } }
        }"#,
        json!({"owner": 7}),
    )
    .await
    .expect("insert with a variable in connect");
    assert_eq!(data["products"][0]["owner"]["id"], 7);
    assert_eq!(owner(&client, 2102).await, Some(7));
}

#[tokio::test]
async fn connect_and_disconnect_of_children_in_data_both_happen() {
    let Some((client, schema)) = database().await else {
        return;
    };
    // GraphJin's Example_updateTableAndConnectToRelatedTables.
    let data = run(
        &client,
        &schema,
        r#"mutation {
            users(id: $id, update: $data) { full_name products { id } }
        }"#,
        json!({"id": 100, "data": {
            "full_name": "Updated user 100",
            "products": { "connect": { "id": 99 }, "disconnect": { "id": 100 } }
        }}),
    )
    .await
    .expect("update with connect and disconnect");
    assert_eq!(
        data,
        json!({"users": {"full_name": "Updated user 100", "products": [{"id": 99}]}})
    );
    assert_eq!(owner(&client, 99).await, Some(100));
    assert_eq!(owner(&client, 100).await, None);
    assert_eq!(
        ids(&client, "SELECT id FROM products WHERE owner_id = 100").await,
        [99]
    );
}

#[tokio::test]
async fn inline_connect_and_disconnect_in_an_update() {
    let Some((client, schema)) = database().await else {
        return;
    };
    run(
        &client,
        &schema,
        r#"mutation {
            users(id: 90, update: {
                full_name: "Updated user 90",
                products: { connect: { id: 98 }, disconnect: { id: 90 } }
            }) { id }
        }"#,
        json!({}),
    )
    .await
    .expect("inline update with connect and disconnect");
    assert_eq!(
        ids(&client, "SELECT id FROM products WHERE owner_id = 90").await,
        [98]
    );
    assert_eq!(owner(&client, 90).await, None);
}

#[tokio::test]
async fn a_parent_disconnected_in_an_update() {
    let Some((client, schema)) = database().await else {
        return;
    };
    run(
        &client,
        &schema,
        r#"mutation {
            products(id: 5, update: { name: "Product five", owner: { disconnect: { id: 5 } } }) { id }
        }"#,
        json!({}),
    )
    .await
    .expect("disconnect the owner");
    assert_eq!(owner(&client, 5).await, None);
}

#[tokio::test]
async fn an_inline_recursive_connect_of_children() {
    let Some((client, schema)) = database().await else {
        return;
    };
    run(
        &client,
        &schema,
        r#"mutation {
            comments(insert: {
                id: 5101, body: "Comment body 5101", created_at: "now",
                comments: { find: "children", connect: { id: 5 } }
            }) { id }
        }"#,
        json!({}),
    )
    .await
    .expect("insert a comment and connect a reply");
    assert_eq!(
        ids(&client, "SELECT id FROM comments WHERE reply_to_id = 5101").await,
        [5]
    );
}

#[tokio::test]
async fn connect_through_an_array_column_on_insert() {
    let Some((client, schema)) = database().await else {
        return;
    };
    run(
        &client,
        &schema,
        r#"mutation {
            products(insert: {
                id: 2103, name: "Product 2103", description: "Description 2103",
                price: 1.5, categories: { connect: { id: [3, 4] } }
            }) { id categories { id } }
        }"#,
        json!({}),
    )
    .await
    .expect("connect categories");
    let row = client
        .query_one("SELECT category_ids FROM products WHERE id = 2103", &[])
        .await
        .expect("row");
    let mut cats: Vec<i64> = row.get(0);
    cats.sort_unstable();
    assert_eq!(cats, [3, 4]);
}

async fn categories(client: &Client, product: i64) -> Vec<i64> {
    let row = client
        .query_one(
            "SELECT category_ids FROM products WHERE id = $1",
            &[&product],
        )
        .await
        .expect("row");
    let mut cats: Vec<i64> = row.get(0);
    cats.sort_unstable();
    cats
}

#[tokio::test]
async fn connect_and_disconnect_through_an_array_column_on_update() {
    let Some((client, schema)) = database().await else {
        return;
    };
    assert_eq!(categories(&client, 7).await, [1, 2, 3, 4, 5]);
    // connect sets the array to the keys of the rows that exist (99 does not), as GraphJin does.
    run(
        &client,
        &schema,
        r#"mutation { products(id: 7, update: { categories: { connect: { id: [2, 4, 99] } } }) { id } }"#,
        json!({}),
    )
    .await
    .expect("connect");
    assert_eq!(categories(&client, 7).await, [2, 4]);
    // disconnect removes the matching keys, from a variable this time.
    run(
        &client,
        &schema,
        r#"mutation { products(id: $id, update: $data) { id categories { id } } }"#,
        json!({"id": 7, "data": {"categories": {"disconnect": {"id": 2}}}}),
    )
    .await
    .expect("disconnect");
    assert_eq!(categories(&client, 7).await, [4]);
}

/// Writes that cannot be done fail the build: nothing reports success for a dropped write.
#[tokio::test]
async fn writes_the_compiler_cannot_do_fail_the_build() {
    let Some((client, schema)) = database().await else {
        return;
    };
    let cases = [
        // A disconnect in an insert: there is nothing to disconnect from.
        (
            r#"mutation { users(insert: { id: 3001, full_name: "U", email: "u3001@test.com",
                products: { disconnect: { id: 1 } } }) { id } }"#,
            "disconnect",
        ),
        (
            r#"mutation { products(insert: { id: 2104, name: "P 2104", description: "D 2104",
                category_ids: [1], owner: { disconnect: { id: 1 } } }) { id } }"#,
            "disconnect",
        ),
        // A key that is no keyword and no column of the connected table.
        (
            r#"mutation { products(insert: { id: 2105, name: "P 2105", description: "D 2105",
                category_ids: [1], owner: { connect: { idd: 1 } } }) { id } }"#,
            "idd",
        ),
        (
            r#"mutation { products(insert: { id: 2106, name: "P 2106", description: "D 2106",
                category_ids: [1], owner: { conect: { id: 1 } } }) { id } }"#,
            "conect",
        ),
    ];
    for (gql, needle) in cases {
        let err = run(&client, &schema, gql, json!({})).await.expect_err(gql);
        assert!(err.contains(needle), "{gql}\n=> {err}");
    }
    // Nothing was written by any of them.
    assert!(
        ids(&client, "SELECT id FROM users WHERE id = 3001")
            .await
            .is_empty()
    );
    assert!(
        ids(&client, "SELECT id FROM products WHERE id >= 2104")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_singular_table_name_and_a_camel_case_preset() {
    let Some((client, schema)) = database().await else {
        return;
    };
    let config = "enable_camelcase: true\nroles:\n  - name: user\n    tables:\n      - name: products\n        insert:\n          presets:\n            ownerId: $user_id\n";
    let data = direct::run_with(
        &client,
        &schema,
        config,
        r#"mutation {
            product(insert: { id: 2201, name: "Product 2201", description: "D 2201",
                price: 1.5, categoryIds: [1], ownerId: 50 }) { id ownerId }
        }"#,
        json!({}),
    )
    .await
    .expect("singular insert with a camelCase preset");
    // One object (the singular name), and the preset wins over the client's value.
    assert_eq!(data, json!({"product": {"id": 2201, "ownerId": 3}}));
    assert_eq!(owner(&client, 2201).await, Some(3));

    let err = direct::run_with(
        &client,
        &schema,
        &config.replace("ownerId:", "ownerIdd:"),
        r#"mutation { product(insert: { id: 2202, name: "P 2202", categoryIds: [1] }) { id } }"#,
        json!({}),
    )
    .await
    .expect_err("a preset naming no column");
    assert!(err.contains("has no column `ownerIdd`"), "{err}");
    assert!(
        ids(&client, "SELECT id FROM products WHERE id = 2202")
            .await
            .is_empty()
    );
}
