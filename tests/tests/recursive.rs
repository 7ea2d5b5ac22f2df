//! Recursive relationships (`find: "children"` / `find: "parents"`) as GraphJin's
//! `psql/recur.go` compiles them: the whole subtree or chain, not one level; the field's
//! `where` is applied at each step (a row that fails it ends its branch), `limit` after.
//! GraphJin's test data chains comments: comment i replies to comment i - 1.

mod direct;

use direct::{database, ids, run};
use serde_json::json;

#[tokio::test]
async fn children_are_the_whole_subtree() {
    let Some((client, schema)) = database().await else {
        return;
    };
    let data = run(
        &client,
        &schema,
        r#"query { comments(id: 95) { id comments(find: "children") { id } } }"#,
        json!({}),
    )
    .await
    .expect("children");
    assert_eq!(ids(&data["comments"]["comments"]), [96, 97, 98, 99, 100]);
}

#[tokio::test]
async fn where_ends_a_branch_and_limit_applies_after() {
    let Some((client, schema)) = database().await else {
        return;
    };
    let data = run(
        &client,
        &schema,
        r#"query { comments(id: 10) {
            id
            comments(find: "children", where: { id: { lt: 14 } }, limit: 2) { id }
        } }"#,
        json!({}),
    )
    .await
    .expect("children with where and limit");
    assert_eq!(ids(&data["comments"]["comments"]), [11, 12]);

    // A row failing `where` stops the walk below it: nothing past 12 even though 14..
    // would pass `id != 13` on their own.
    let data = run(
        &client,
        &schema,
        r#"query { comments(id: 10) {
            comments(find: "children", where: { id: { neq: 13 } }) { id }
        } }"#,
        json!({}),
    )
    .await
    .expect("children with a where that cuts the chain");
    assert_eq!(ids(&data["comments"]["comments"]), [11, 12]);
}

#[tokio::test]
async fn parents_are_the_whole_chain() {
    let Some((client, schema)) = database().await else {
        return;
    };
    let data = run(
        &client,
        &schema,
        r#"query { comments(id: 5) { id comments(find: "parents") { id } } }"#,
        json!({}),
    )
    .await
    .expect("parents");
    assert_eq!(ids(&data["comments"]["comments"]), [4, 3, 2, 1]);
}

#[tokio::test]
async fn an_aggregate_over_the_subtree() {
    let Some((client, schema)) = database().await else {
        return;
    };
    let data = run(
        &client,
        &schema,
        r#"query { comments(id: 90) { comments(find: "children") { count_id } } }"#,
        json!({}),
    )
    .await
    .expect("count of the subtree");
    assert_eq!(data["comments"]["comments"], json!([{"count_id": 10}]));
}
