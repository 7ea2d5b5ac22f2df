//! GraphJin's other spellings and aggregates, each run on GraphJin's test database:
//! `orderBy` / `order` / `distinctOn`, the camelCase and short operators of its
//! `qcode/exp.go` (`greaterThan`, `gteq`, `notIn`, `isNull`, `dis`, `notDistinct`, ...),
//! and the statistical aggregates of its `sdata/funcs.go`.

mod direct;

use direct::{database, ids, run};
use serde_json::json;

#[tokio::test]
async fn order_by_spellings() {
    let Some((client, schema)) = database().await else {
        return;
    };
    for arg in ["order_by", "orderBy", "order"] {
        let gql = format!("query {{ products({arg}: {{ price: desc }}, limit: 2) {{ id }} }}");
        let data = run(&client, &schema, &gql, json!({})).await.expect(&gql);
        assert_eq!(ids(&data["products"]), [100, 99], "{arg}");
    }
    let err = run(
        &client,
        &schema,
        "query { products(orderBy: { price: desc }, order_by: { id: asc }) { id } }",
        json!({}),
    )
    .await
    .expect_err("two orderings");
    assert!(err.contains("given twice"), "{err}");
}

/// `distinct: []` names no column, so there is no `DISTINCT ON`, as in GraphJin's
/// `renderDistinctOn` (`psql/query.go`); it once compiled to `DISTINCT ON ()`, which
/// PostgreSQL refuses.
#[tokio::test]
async fn an_empty_distinct_selects_every_row() {
    let Some((client, schema)) = database().await else {
        return;
    };
    for arg in ["distinct", "distinctOn"] {
        let gql =
            format!("query {{ products({arg}: [], order_by: {{ id: asc }}, limit: 3) {{ id }} }}");
        let data = run(&client, &schema, &gql, json!({})).await.expect(&gql);
        assert_eq!(ids(&data["products"]), [1, 2, 3], "{arg}");
    }
}

#[tokio::test]
async fn operator_spellings() {
    let Some((client, schema)) = database().await else {
        return;
    };
    let cases = [
        ("{ id: { greaterThan: 97 } }", vec![98, 99, 100]),
        ("{ id: { gteq: 98 } }", vec![98, 99, 100]),
        ("{ id: { greaterOrEquals: 99 } }", vec![99, 100]),
        ("{ id: { lesserThan: 3 } }", vec![1, 2]),
        ("{ id: { lteq: 2 } }", vec![1, 2]),
        ("{ id: { lesserOrEquals: 1 } }", vec![1]),
        ("{ id: { lt: 5, notIn: [2, 3] } }", vec![1, 4]),
        ("{ id: { lt: 4, notEquals: 2 } }", vec![1, 3]),
        ("{ reply_to_id: { isNull: true } }", vec![1]),
        ("{ reply_to_id: { notDistinct: null } }", vec![1]),
        ("{ reply_to_id: { ndis: null } }", vec![1]),
        ("{ id: { lt: 4 }, reply_to_id: { dis: null } }", vec![2, 3]),
        (
            "{ id: { lt: 4 }, reply_to_id: { distinct: 1 } }",
            vec![1, 3],
        ),
        (
            "{ id: { lt: 4 }, reply_to_id: { not_distinct: 1 } }",
            vec![2],
        ),
        ("{ id: { lt: 3 }, body: { iLike: \"%NUMBER 1\" } }", vec![1]),
        (
            "{ id: { lt: 3 }, body: { notILike: \"%NUMBER 1\" } }",
            vec![2],
        ),
    ];
    for (filter, want) in cases {
        let gql =
            format!("query {{ comments(where: {filter}, order_by: {{ id: asc }}) {{ id }} }}");
        let data = run(&client, &schema, &gql, json!({})).await.expect(&gql);
        assert_eq!(ids(&data["comments"]), want, "{filter}");
    }
    let err = run(
        &client,
        &schema,
        "query { comments(where: { id: { greaterThen: 1 } }) { id } }",
        json!({}),
    )
    .await
    .expect_err("a misspelt operator");
    assert!(err.contains("greaterThan"), "{err}");
}

#[tokio::test]
async fn statistical_aggregates() {
    let Some((client, schema)) = database().await else {
        return;
    };
    // Prices of products 1..3 are 11.5, 12.5, 13.5.
    let data = run(
        &client,
        &schema,
        "query { products(where: { id: { lteq: 3 } }) {
            stddev_price stddev_samp_price stddev_pop_price
            variance_price var_samp_price var_pop_price
        } }",
        json!({}),
    )
    .await
    .expect("aggregates");
    let row = &data["products"][0];
    let get = |k: &str| row[k].as_f64().unwrap_or_else(|| panic!("{k} in {row}"));
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    assert!(close(get("stddev_price"), 1.0));
    assert!(close(get("stddev_samp_price"), 1.0));
    assert!(close(get("stddev_pop_price"), (2.0f64 / 3.0).sqrt()));
    assert!(close(get("variance_price"), 1.0));
    assert!(close(get("var_samp_price"), 1.0));
    assert!(close(get("var_pop_price"), 2.0 / 3.0));
}

#[tokio::test]
async fn include_and_skip_by_role_null_the_field() {
    let Some((client, schema)) = database().await else {
        return;
    };
    // `run` compiles for role `user`.
    let data = run(
        &client,
        &schema,
        r#"query { products(id: 3) {
            id @skip(ifRole: "user")
            name @include(ifRole: "anon")
            description @include(ifRole: "user")
            owner @include(ifRole: "user") { id }
        } }"#,
        json!({}),
    )
    .await
    .expect("ifRole");
    assert_eq!(
        data,
        json!({"products": {"id": null, "name": null,
            "description": "Description for product 3", "owner": {"id": 3}}})
    );
    let err = run(
        &client,
        &schema,
        r#"query { products(id: 3) { id @skip(ifRole: "admn") } }"#,
        json!({}),
    )
    .await
    .expect_err("an unknown role");
    assert!(err.contains("unknown role `admn`"), "{err}");
}

#[tokio::test]
async fn include_if_and_skip_if_filters() {
    let Some((client, schema)) = database().await else {
        return;
    };
    // On a column: the row it belongs to decides; on a table: each related row.
    let data = run(
        &client,
        &schema,
        r#"query { products(where: { id: { lteq: 3 } }, order_by: { id: asc }) {
            id
            name(includeIf: { id: { eq: 1 } })
            price(skipIf: { id: { gteq: 2 } })
            owner(skipIf: { id: { eq: 2 } }) { id }
        } }"#,
        json!({}),
    )
    .await
    .expect("includeIf / skipIf");
    assert_eq!(
        data,
        json!({"products": [
            {"id": 1, "name": "Product 1", "price": 11.5, "owner": {"id": 1}},
            {"id": 2, "name": null, "price": null, "owner": null},
            {"id": 3, "name": null, "price": null, "owner": {"id": 3}},
        ]})
    );
}

#[tokio::test]
async fn search_rank_and_headline() {
    let Some((client, schema)) = database().await else {
        return;
    };
    let data = run(
        &client,
        &schema,
        r#"query search($q: String!) {
            products(search: $q, order_by: { search_rank: desc, id: asc }, limit: 2) {
                id search_rank search_headline_description
            }
        }"#,
        json!({"q": "product 37"}),
    )
    .await
    .expect("search");
    let rows = data["products"].as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{data}");
    assert_eq!(rows[0]["id"], 37);
    assert!(rows[0]["search_rank"].as_f64().expect("rank") > 0.0);
    assert_eq!(
        rows[0]["search_headline_description"],
        "Description for <b>product</b> <b>37</b>"
    );
    let err = run(
        &client,
        &schema,
        "query { products(limit: 1) { id search_rank } }",
        json!({}),
    )
    .await
    .expect_err("search_rank without search");
    assert!(err.contains("needs `search:`"), "{err}");
}

#[tokio::test]
async fn function_argument_forms() {
    let Some((client, schema)) = database().await else {
        return;
    };
    let want = json!([
        {"tag_name": "boo", "id": 1, "full_name": "User 1"},
        {"tag_name": "boo", "id": 2, "full_name": "User 2"},
    ]);
    for call in [
        "get_oldest_users(limit: 2, user_count: 4, tag: $tag)",
        "get_oldest_users(limit: 2, args: [4, $tag])",
        "get_oldest_users(limit: 2, args: { a0: 4, a1: $tag })",
        "get_oldest_users(limit: 2, args: { user_count: 4, tag: $tag })",
    ] {
        let gql = format!("query q($tag: String!) {{ {call} {{ tag_name id full_name }} }}");
        let data = run(&client, &schema, &gql, json!({"tag": "boo"}))
            .await
            .expect(&gql);
        assert_eq!(data["get_oldest_users"], want, "{call}");
    }
    // A scalar function of the row: the list, named and object forms agree.
    let data = run(
        &client,
        &schema,
        "query { products(where: { id: { in: [1, 2] } }, order_by: { id: asc }) {
            id a: is_hot_product(args: [id]) b: is_hot_product(id: id)
            c: is_hot_product(args: { id: id })
        } }",
        json!({}),
    )
    .await
    .expect("is_hot_product");
    for row in data["products"].as_array().expect("rows") {
        assert!(row["a"].is_boolean(), "{row}");
        assert_eq!(row["a"], row["b"], "{row}");
        assert_eq!(row["a"], row["c"], "{row}");
    }
    // An aggregate written as a function of a column.
    let data = run(
        &client,
        &schema,
        "query { products(where: { id: { lteq: 3 } }) { minimumPrice: min(args: [price]) max(args: [price]) } }",
        json!({}),
    )
    .await
    .expect("min(args: [price])");
    assert_eq!(
        data["products"],
        json!([{"minimumPrice": 11.5, "max": 13.5}])
    );

    for (gql, needle) in [
        (
            "query q($tag: String!) { get_oldest_users(user_count: 4, tags: $tag) { id } }",
            "did you mean `tag`",
        ),
        (
            "query q($tag: String!) { get_oldest_users(args: [4, $tag, 5]) { id } }",
            "`a2` is too many",
        ),
        (
            "query q($tag: String!) { get_oldest_users(user_count: 4, tag: $tag, args: { a0: 5 }) { id } }",
            "given twice",
        ),
    ] {
        let err = run(&client, &schema, gql, json!({"tag": "x"}))
            .await
            .expect_err(gql);
        assert!(err.contains(needle), "{gql}\n=> {err}");
    }
}

#[tokio::test]
async fn not_related_and_schema_selectors() {
    let Some((client, schema)) = database().await else {
        return;
    };
    // A nested table with @notRelated is selected on its own, not joined to the parent.
    let data = run(
        &client,
        &schema,
        r#"query { users(id: 1) { id categories(limit: 2, order_by: { id: asc }) @notRelated { id } } }"#,
        json!({}),
    )
    .await
    .expect("@notRelated");
    assert_eq!(
        data,
        json!({"users": {"id": 1, "categories": [{"id": 1}, {"id": 2}]}})
    );
    // Without it, users and categories have no relationship: a located error.
    let err = run(
        &client,
        &schema,
        "query { users(id: 1) { id categories { id } } }",
        json!({}),
    )
    .await
    .expect_err("unrelated without @notRelated");
    assert!(err.contains("categories"), "{err}");

    let data = run(
        &client,
        &schema,
        r#"query { users(id: 2) @schema(name: "public") { id } }"#,
        json!({}),
    )
    .await
    .expect("@schema(name: public)");
    assert_eq!(data, json!({"users": {"id": 2}}));
    let err = run(
        &client,
        &schema,
        r#"query { users @schema(name: "sales") { id } }"#,
        json!({}),
    )
    .await
    .expect_err("a schema db.graphql does not have");
    assert!(err.contains("no table `users` in schema `sales`"), "{err}");
}

#[tokio::test]
async fn a_self_many_to_many_through_an_edge_table() {
    let Some((client, schema)) = database().await else {
        return;
    };
    // GraphJin's Example_queryManyToManyViaJoinTable3: each edge column is followed by its
    // own name, entering through the other.
    let data = run(
        &client,
        &schema,
        "query { graph_node(limit: 2, order_by: { id: asc }) {
            id dst_node(order_by: { id: asc }) { id } src_node { id }
        } }",
        json!({}),
    )
    .await
    .expect("edge table");
    assert_eq!(
        data,
        json!({"graph_node": [
            {"id": "a", "dst_node": [{"id": "b"}, {"id": "c"}], "src_node": []},
            {"id": "b", "dst_node": [], "src_node": [{"id": "a"}]},
        ]})
    );
}
