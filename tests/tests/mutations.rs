//! Mutations on a real database through the real runtime: every kind, nested insert with
//! connect, presets over client values, refused columns, role filters on updates, and a
//! constraint violation that leaves the database unchanged.

use graphjin_codegen::Project;
use graphjin_runtime::{Auth, Db, PoolOptions};
use serde_json::{Value, json};

const CONFIG: &str = r#"
roles:
  - name: user
    tables:
      - name: reviews
        insert:
          columns: [product_id, rating, body]
          presets:
            customer_id: $user_id
        update:
          filters: ["{ customer_id: { eq: $user_id } }"]
      - name: orders
        insert:
          presets:
            customer_id: $user_id
            status: "pending"
      - name: categories
        insert: {}
        update: {}
        delete: {}
"#;

const ALLOW_LIST: &str = r#"
variables { "data": { "name": "", "slug": "" } }

mutation addCategory {
  categories(insert: $data) { id name slug }
}

variables { "data": [{ "name": "", "slug": "" }] }

mutation addCategories {
  categories(insert: $data) { name slug }
}

mutation renameCategory($id: ID!, $name: String!) {
  categories(id: $id, update: { name: $name }) { id name }
}

mutation renameCategoryQuietly($id: ID!, $name: String!, $show: Boolean!) {
  categories(id: $id, update: { name: $name }) @include(if: $show) { id name }
}

variables { "data": { "id": 0, "name": "", "slug": "" } }

mutation saveCategory {
  categories(upsert: $data) { id name slug }
}

mutation dropCategory($id: ID!) {
  categories(id: $id, delete: true) { id slug }
}

variables { "data": { "rating": 0, "body": "", "customer_id": 0, "product": { "connect": { "id": 0 } } } }

mutation reviewWithConnect {
  reviews(insert: $data) { rating body customer { id } product { id name } }
}

variables { "data": { "rating": 0, "body": "", "product_id": 0, "created_at": "" } }

mutation reviewWithDate {
  reviews(insert: $data) { id }
}

mutation editReview($id: ID!, $body: String!) {
  reviews(id: $id, update: { body: $body }) { id body }
}

variables { "data": { "name": "", "slug": "", "products": [{ "name": "", "price": 0 }] } }

mutation categoryWithProducts {
  categories(insert: $data) { id name products(order_by: { price: asc }) { name price } }
}

variables { "data": { "status": "", "customer_id": 0 } }

mutation addOrder {
  orders(insert: $data) { status customer_id }
}
"#;

async fn setup() -> (Db, tokio_postgres::Client) {
    let dir = graphjin_tests::shop_config("mutations", ALLOW_LIST, CONFIG);
    let url = graphjin_tests::shop_database("mutations");
    let db = graphjin_tests::connect_project(&dir, &url)
        .await
        .expect("connect");
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    (db, client)
}

async fn run(
    db: &Db,
    name: &str,
    who: &Auth,
    vars: Value,
) -> Result<Value, graphjin_runtime::Error> {
    let op = db.operation(name).expect("operation");
    let bytes = db.execute(op, who, Some(&vars)).await?;
    Ok(serde_json::from_slice(&bytes).expect("JSON"))
}

async fn count(client: &tokio_postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.expect("count").get(0)
}

#[tokio::test]
async fn insert_update_upsert_delete() {
    let (db, client) = setup().await;
    let user = Auth::user("1");
    let data = run(
        &db,
        "addCategory",
        &user,
        json!({"data": {"name": "Kettles", "slug": "kettles"}}),
    )
    .await
    .unwrap();
    let id = data["categories"][0]["id"].as_i64().expect("new id");
    assert_eq!(data["categories"][0]["slug"], "kettles");

    let data = run(
        &db,
        "addCategories",
        &user,
        json!({"data": [{"name": "A", "slug": "a"}, {"name": "B", "slug": "b"}]}),
    )
    .await
    .unwrap();
    assert_eq!(
        data,
        json!({"categories": [{"name": "A", "slug": "a"}, {"name": "B", "slug": "b"}]})
    );

    let data = run(
        &db,
        "renameCategory",
        &user,
        json!({"id": id, "name": "Kettles & Pots"}),
    )
    .await
    .unwrap();
    assert_eq!(
        data,
        json!({"categories": {"id": id, "name": "Kettles & Pots"}})
    );

    // upsert: a new row, then the same key again updates it.
    let data = run(
        &db,
        "saveCategory",
        &user,
        json!({"data": {"id": 100, "name": "Spoons", "slug": "spoons"}}),
    )
    .await
    .unwrap();
    assert_eq!(data["categories"][0]["name"], "Spoons");
    let data = run(
        &db,
        "saveCategory",
        &user,
        json!({"data": {"id": 100, "name": "Teaspoons", "slug": "spoons"}}),
    )
    .await
    .unwrap();
    assert_eq!(data["categories"][0]["name"], "Teaspoons");
    assert_eq!(
        count(&client, "SELECT count(*) FROM categories WHERE id = 100").await,
        1
    );

    let data = run(&db, "dropCategory", &user, json!({"id": 100}))
        .await
        .unwrap();
    assert_eq!(data, json!({"categories": {"id": 100, "slug": "spoons"}}));
    assert_eq!(
        count(&client, "SELECT count(*) FROM categories WHERE id = 100").await,
        0
    );
}

/// `@include` / `@skip` on a mutation's field decide whether its selection shows, as in
/// GraphJin; the write runs either way.
#[tokio::test]
async fn include_on_a_mutation_hides_its_selection_not_its_write() {
    let (db, client) = setup().await;
    let user = Auth::user("1");
    let id: i64 = client
        .query_one(
            "INSERT INTO categories (name, slug) VALUES ('Quiet', 'quiet') RETURNING id",
            &[],
        )
        .await
        .expect("insert")
        .get(0);
    let data = run(
        &db,
        "renameCategoryQuietly",
        &user,
        json!({"id": id, "name": "Hushed", "show": false}),
    )
    .await
    .unwrap();
    assert_eq!(data, json!({"categories": null}));
    let sql = format!("SELECT count(*) FROM categories WHERE id = {id} AND name = 'Hushed'");
    assert_eq!(count(&client, &sql).await, 1, "the write ran");
    let data = run(
        &db,
        "renameCategoryQuietly",
        &user,
        json!({"id": id, "name": "Shown", "show": true}),
    )
    .await
    .unwrap();
    assert_eq!(data, json!({"categories": {"id": id, "name": "Shown"}}));
}

#[tokio::test]
async fn nested_insert_with_connect_and_a_preset_over_the_clients_value() {
    let (db, _client) = setup().await;
    // The client claims customer 9; the role's preset makes it the caller (7).
    let vars = json!({"data": {"rating": 5, "body": "Great", "customer_id": 9, "product": {"connect": {"id": 3}}}});
    let err = run(&db, "reviewWithConnect", &Auth::user("7"), vars.clone()).await;
    // customer_id is not among the role's insert columns: refused outright.
    assert_eq!(err.unwrap_err().status().as_u16(), 403);

    // Without the forbidden key the preset still decides who wrote it.
    let dir = graphjin_tests::shop_config(
        "mutations-preset",
        "variables { \"data\": { \"rating\": 0, \"body\": \"\", \"product\": { \"connect\": { \"id\": 0 } } } }\n\nmutation r {\n  reviews(insert: $data) { rating customer { id } product { id name } }\n}\n",
        CONFIG,
    );
    let ops = Project::load(&dir).unwrap().compile().unwrap();
    let url = graphjin_tests::shop_database("mutations_preset");
    let db2 = Db::connect(
        &url,
        graphjin_tests::leak_operations(&ops),
        PoolOptions::default(),
    )
    .await
    .unwrap();
    let data = run(
        &db2,
        "r",
        &Auth::user("7"),
        json!({"data": {"rating": 4, "body": "ok", "product": {"connect": {"id": 3}}}}),
    )
    .await
    .unwrap();
    assert_eq!(
        data,
        json!({"reviews": [{"rating": 4, "customer": {"id": 7}, "product": {"id": 3, "name": "Mug 3"}}]})
    );
}

#[tokio::test]
async fn nested_insert_of_children_in_one_statement() {
    let (db, client) = setup().await;
    let vars = json!({"data": {"name": "Teapots", "slug": "teapots", "products": [{"name": "Big Pot", "price": 30}, {"name": "Small Pot", "price": 12.5}]}});
    let data = run(&db, "categoryWithProducts", &Auth::user("1"), vars)
        .await
        .unwrap();
    assert_eq!(
        data["categories"][0]["products"],
        json!([{"name": "Small Pot", "price": 12.50}, {"name": "Big Pot", "price": 30.00}])
    );
    let id = data["categories"][0]["id"].as_i64().unwrap();
    assert_eq!(
        count(
            &client,
            &format!("SELECT count(*) FROM products WHERE category_id = {id}")
        )
        .await,
        2
    );
}

#[tokio::test]
async fn a_refused_column_and_anonymous_writes() {
    let (db, _client) = setup().await;
    let vars =
        json!({"data": {"rating": 3, "body": "x", "product_id": 1, "created_at": "2020-01-01"}});
    let err = run(&db, "reviewWithDate", &Auth::user("2"), vars.clone())
        .await
        .unwrap_err();
    assert_eq!(err.status().as_u16(), 403, "{err}");
    let err = run(
        &db,
        "addCategory",
        &Auth::anon(),
        json!({"data": {"name": "x", "slug": "x"}}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.status().as_u16(), 401, "{err}");
}

#[tokio::test]
async fn an_update_restricted_by_the_role_filter_touches_nothing() {
    let (db, client) = setup().await;
    // Review 1 was written by customer 2 (seed: customer 1 + i % 20 for review i).
    let owner: i64 = client
        .query_one("SELECT customer_id FROM reviews WHERE id = 1", &[])
        .await
        .unwrap()
        .get(0);
    let stranger = if owner == 5 { "6" } else { "5" };
    let data = run(
        &db,
        "editReview",
        &Auth::user(stranger),
        json!({"id": 1, "body": "hacked"}),
    )
    .await
    .unwrap();
    assert_eq!(data, json!({"reviews": null}));
    let body: String = client
        .query_one("SELECT body FROM reviews WHERE id = 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_ne!(body, "hacked");
    let data = run(
        &db,
        "editReview",
        &Auth::user(owner.to_string()),
        json!({"id": 1, "body": "edited"}),
    )
    .await
    .unwrap();
    assert_eq!(data, json!({"reviews": {"id": 1, "body": "edited"}}));
}

#[tokio::test]
async fn a_constraint_violation_leaves_the_database_unchanged() {
    let (db, client) = setup().await;
    let before = count(&client, "SELECT count(*) FROM categories").await;
    let products_before = count(&client, "SELECT count(*) FROM products").await;
    // The second product breaks `price >= 0`: the category insert rolls back with it.
    let vars = json!({"data": {"name": "Bad", "slug": "bad", "products": [{"name": "fine", "price": 1}, {"name": "broken", "price": -1}]}});
    let err = run(&db, "categoryWithProducts", &Auth::user("1"), vars)
        .await
        .unwrap_err();
    assert_eq!(err.status().as_u16(), 400, "{err}");
    assert_eq!(err.code(), "CONSTRAINT_VIOLATION");
    assert_eq!(
        count(&client, "SELECT count(*) FROM categories").await,
        before
    );
    assert_eq!(
        count(&client, "SELECT count(*) FROM products").await,
        products_before
    );
    // A duplicate unique slug is a client error too.
    let err = run(
        &db,
        "addCategory",
        &Auth::user("1"),
        json!({"data": {"name": "Tea", "slug": "tea"}}),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (err.status().as_u16(), err.code()),
        (400, "CONSTRAINT_VIOLATION")
    );
}

#[tokio::test]
async fn presets_override_the_clients_values() {
    let (db, _client) = setup().await;
    let vars = json!({"data": {"status": "shipped", "customer_id": 9}});
    let data = run(&db, "addOrder", &Auth::user("7"), vars).await.unwrap();
    assert_eq!(
        data,
        json!({"orders": [{"status": "pending", "customer_id": 7}]})
    );
}
