//! The HTTP routes against a real PostgreSQL, through a real listening server and client.
//!
//! Expected bodies are compared byte for byte: `data` is PostgreSQL's own text (hence
//! `json_build_object`'s `"key" : value` spacing), copied into the response unparsed.

mod common;

use common::*;
use serde_json::json;

const PRODUCTS_AFTER_1: &str =
    r#"{"data":{"products" : [{"id" : 2, "name" : "Banana"}, {"id" : 3, "name" : "Cherry"}]}}"#;
const ALL_PRODUCTS: &str = r#"{"data":{"products" : [{"id" : 1, "name" : "Apple"}, {"id" : 2, "name" : "Banana"}, {"id" : 3, "name" : "Cherry"}]}}"#;

#[tokio::test]
async fn graphql_post_by_name_returns_the_statements_json() {
    let base = server().await;
    let url = format!("{base}/api/v1/graphql");
    let r = post_json(&url, r#"{"operationName":"getProducts"}"#, None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.content_type, "application/json");
    assert_eq!(r.text, ALL_PRODUCTS);

    let body = r#"{"operationName":"getProducts","variables":{"after":1}}"#;
    let r = post_json(&url, body, None).await;
    assert_eq!(r.text, PRODUCTS_AFTER_1);

    // Names match ignoring case; numeric keeps every digit.
    let body = r#"{"operationName":"GETPRODUCT","variables":{"id":3}}"#;
    let r = post_json(&url, body, None).await;
    assert_eq!(
        r.text,
        r#"{"data":{"product" : {"id" : 3, "name" : "Cherry", "price" : 123456789012345678.99}}}"#
    );

    // No row: the statement's own null.
    let body = r#"{"operationName":"getProduct","variables":{"id":999}}"#;
    assert_eq!(
        post_json(&url, body, None).await.text,
        r#"{"data":{"product" : null}}"#
    );
}

#[tokio::test]
async fn graphql_get_runs_queries() {
    let base = server().await;
    let url = format!("{base}/api/v1/graphql");
    let r = get(
        &url,
        &[
            ("operationName", "getProducts"),
            ("variables", r#"{"after":1}"#),
        ],
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, PRODUCTS_AFTER_1);

    let r = get(&url, &[("query", GET_PRODUCTS)], None).await;
    assert_eq!(r.text, ALL_PRODUCTS);

    let r = get(
        &url,
        &[("operationName", "getProducts"), ("variables", "{")],
        None,
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error().1, "BAD_REQUEST");
}

#[tokio::test]
async fn persisted_query_hash() {
    let base = server().await;
    let url = format!("{base}/api/v1/graphql");
    let hash = op_named("getProducts").sha256;
    let body = json!({
        "variables": {"after": 1},
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": hash}}
    });
    let r = post_json(&url, &body.to_string(), None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, PRODUCTS_AFTER_1);

    // GET, as Apollo's persisted-query link sends it.
    let ext = json!({"persistedQuery": {"version": 1, "sha256Hash": hash.to_uppercase()}});
    let r = get(&url, &[("extensions", &ext.to_string())], None).await;
    assert_eq!(r.text, ALL_PRODUCTS);

    let body = json!({"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "00ff"}}});
    let r = post_json(&url, &body.to_string(), None).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.error(),
        (
            "persisted query 00ff is not in the allow list".to_owned(),
            "PERSISTED_QUERY_NOT_FOUND".to_owned()
        )
    );

    // A name with another operation's hash.
    let body = json!({
        "operationName": "getProduct",
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": hash}}
    });
    let r = post_json(&url, &body.to_string(), None).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error().1, "QUERY_MISMATCH");
}

#[tokio::test]
async fn query_text_matches_modulo_layout_and_comments() {
    let base = server().await;
    let url = format!("{base}/api/v1/graphql");
    let reformatted = "# the product list\nquery getProducts($after: Bigint) { products(where: {id: {gt: $after}}, order_by: {id: asc}, limit: 20) {\n\n  id, # key\n  name } }";
    for body in [
        json!({"query": reformatted, "variables": {"after": 1}}),
        json!({"query": reformatted, "operationName": "getProducts", "variables": {"after": 1}}),
    ] {
        let r = post_json(&url, &body.to_string(), None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.text, PRODUCTS_AFTER_1);
    }
}

#[tokio::test]
async fn mismatched_query_text_is_refused() {
    let base = server().await;
    let url = format!("{base}/api/v1/graphql");
    let changed = "query getProducts { products { id name email } }";
    for body in [
        json!({"query": changed, "operationName": "getProducts"}),
        json!({"query": changed}),
    ] {
        let r = post_json(&url, &body.to_string(), None).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(
            r.error(),
            (
                "the query text for getProducts differs from the allow list's".to_owned(),
                "QUERY_MISMATCH".to_owned()
            )
        );
    }
    let r = post_json(&url, r#"{"query":"{ users { id email } }"}"#, None).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error().1, "OPERATION_NOT_ALLOWED");
}

#[tokio::test]
async fn unknown_operations_are_named() {
    let base = server().await;
    let want = (
        "operation \"deleteAll\" is not in the allow list".to_owned(),
        "OPERATION_NOT_ALLOWED".to_owned(),
    );
    let graphql = format!("{base}/api/v1/graphql");
    let r = post_json(&graphql, r#"{"operationName":"deleteAll"}"#, None).await;
    assert_eq!((r.status, r.error()), (400, want.clone()));

    let r = post_json(&graphql, r#"{"query":"mutation deleteAll { x }"}"#, None).await;
    assert_eq!((r.status, r.error()), (400, want.clone()));

    let r = get(&format!("{base}/api/v1/rest/deleteAll"), &[], None).await;
    assert_eq!((r.status, r.error()), (400, want.clone()));

    let r = post_json(&format!("{base}/api/v1/rest/deleteAll"), "{}", None).await;
    assert_eq!((r.status, r.error()), (400, want));

    let r = post_json(&graphql, r#"{"variables":{}}"#, None).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error().1, "BAD_REQUEST");
}

#[tokio::test]
async fn wrong_variable_types_name_variable_and_type() {
    let base = server().await;
    let url = format!("{base}/api/v1/graphql");
    let r = post_json(
        &url,
        r#"{"operationName":"getProduct","variables":{"id":"3"}}"#,
        None,
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.error(),
        (
            "variable \"id\" must be an integer (bigint), got a string".to_owned(),
            "BAD_USER_INPUT".to_owned()
        )
    );

    let r = post_json(
        &url,
        r#"{"operationName":"productsByIds","variables":{"ids":[1,2.5]}}"#,
        None,
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.error().0,
        "variable \"ids\" must be an array of integers (bigint[]), got an array with a fractional number"
    );

    let r = post_json(
        &url,
        r#"{"operationName":"getProduct","variables":[1]}"#,
        None,
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.error(),
        (
            "variables must be a JSON object, got an array".to_owned(),
            "BAD_REQUEST".to_owned()
        )
    );

    // Extra variables are ignored; arrays bind as JSON.
    let r = post_json(
        &url,
        r#"{"operationName":"productsByIds","variables":{"ids":[3,1],"unused":{"x":1}}}"#,
        None,
    )
    .await;
    assert_eq!(
        r.text,
        r#"{"data":{"products" : [{"id" : 1}, {"id" : 3}]}}"#
    );
}

#[tokio::test]
async fn malformed_oversize_and_wrongly_typed_bodies() {
    let base = server().await;
    let url = format!("{base}/api/v1/graphql");

    let r = post_json(&url, r#"{"operationName": "getProducts""#, None).await;
    assert_eq!(r.status, 400);
    let (message, code) = r.error();
    assert_eq!(code, "BAD_REQUEST");
    assert!(
        message.starts_with("the request body is not valid JSON"),
        "{message}"
    );

    let r = post_json(&url, r#"[{"operationName":"getProducts"}]"#, None).await;
    assert_eq!((r.status, r.error().1.as_str()), (400, "BAD_REQUEST"));

    let r = post_json(&url, "", None).await;
    assert_eq!((r.status, r.error().1.as_str()), (400, "BAD_REQUEST"));

    let big = format!(
        r#"{{"operationName":"getProducts","variables":{{"pad":"{}"}}}}"#,
        "x".repeat(100 * 1024)
    );
    let r = post_json(&url, &big, None).await;
    assert_eq!(r.status, 413, "{}", r.text);
    assert_eq!(
        r.error(),
        (
            "the request body is larger than the limit of 65536 bytes".to_owned(),
            "PAYLOAD_TOO_LARGE".to_owned()
        )
    );

    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let r = Reply::from(
            reqwest::Client::new()
                .post(&url)
                .header("content-type", content_type)
                .body(r#"{"operationName":"getProducts"}"#)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, 415, "{content_type}");
        assert_eq!(r.error().1, "UNSUPPORTED_MEDIA_TYPE");
    }
    let r = Reply::from(
        reqwest::Client::new()
            .post(&url)
            .body(r#"{"operationName":"getProducts"}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 415);

    // Methods a route does not serve.
    let r = Reply::from(reqwest::Client::new().delete(&url).send().await.unwrap()).await;
    assert_eq!(
        (r.status, r.error().1.as_str()),
        (405, "METHOD_NOT_ALLOWED")
    );
}

#[tokio::test]
async fn mutations_need_post_and_a_user() {
    let base = server().await;
    let graphql = format!("{base}/api/v1/graphql");
    let r = get(&graphql, &[("operationName", "createProduct")], Some("1")).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.headers.get("allow").unwrap(), "POST");
    assert_eq!(
        r.error(),
        (
            "operation \"createProduct\" is a mutation: send it with POST".to_owned(),
            "METHOD_NOT_ALLOWED".to_owned()
        )
    );
    let r = get(&format!("{base}/api/v1/rest/createProduct"), &[], Some("1")).await;
    assert_eq!(r.status, 405);

    let body = r#"{"operationName":"createProduct","variables":{"name":"Durian","price":10.10}}"#;
    let r = post_json(&graphql, body, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.error(),
        (
            "operation \"createProduct\" needs a signed-in user".to_owned(),
            "UNAUTHENTICATED".to_owned()
        )
    );

    let r = post_json(&graphql, body, Some("2")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.text,
        r#"{"data":{"product" : {"id" : 101, "name" : "Durian", "price" : 10.10, "owner_id" : 2}}}"#
    );

    // Values PostgreSQL refuses are the client's fault: 400, with a safe message.
    let body = r#"{"operationName":"createProduct","variables":{"name":"x","price":-1}}"#;
    let r = post_json(&graphql, body, Some("2")).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        r.error(),
        (
            "the data violates the check constraint \"products_price_check\"".to_owned(),
            "CONSTRAINT_VIOLATION".to_owned()
        )
    );
    let body = r#"{"operationName":"createProduct","variables":{"name":"a name that is far too long","price":1}}"#;
    let r = post_json(&graphql, body, Some("2")).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.error().1, "BAD_USER_INPUT");
    assert!(r.error().0.contains("too long"), "{}", r.text);
    let body = r#"{"operationName":"createProduct","variables":{"price":1}}"#;
    let r = post_json(&graphql, body, Some("2")).await;
    assert_eq!(
        (r.status, r.error().0.as_str()),
        (400, "the value for column \"name\" must not be null")
    );
    // A user id that is not a bigint.
    let body = r#"{"operationName":"createProduct","variables":{"name":"x","price":1}}"#;
    let r = post_json(&graphql, body, Some("not-a-number")).await;
    assert_eq!((r.status, r.error().1.as_str()), (400, "BAD_USER_INPUT"));
}

#[tokio::test]
async fn subscriptions_point_at_the_websocket() {
    let base = server().await;
    let r = post_json(
        &format!("{base}/api/v1/graphql"),
        r#"{"operationName":"newProducts"}"#,
        None,
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.error(),
        (
            "operation \"newProducts\" is a subscription: subscribe over a WebSocket at GET /api/v1/graphql (protocol graphql-transport-ws)".to_owned(),
            "SUBSCRIPTION_OVER_HTTP".to_owned()
        )
    );
    let r = get(&format!("{base}/api/v1/rest/newProducts"), &[], None).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn rest_routes() {
    let base = server().await;
    let r = get(&format!("{base}/api/v1/rest/getProducts"), &[], None).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, ALL_PRODUCTS);

    let r = get(
        &format!("{base}/api/v1/rest/getproducts"),
        &[("variables", r#"{"after":1}"#)],
        None,
    )
    .await;
    assert_eq!(r.text, PRODUCTS_AFTER_1);

    let r = post_json(
        &format!("{base}/api/v1/rest/getProducts"),
        r#"{"after":1}"#,
        None,
    )
    .await;
    assert_eq!(r.text, PRODUCTS_AFTER_1);

    // An empty POST body: no variables, no content type needed.
    let r = Reply::from(
        reqwest::Client::new()
            .post(format!("{base}/api/v1/rest/getProducts"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.text, ALL_PRODUCTS);

    let r = post_json(
        &format!("{base}/api/v1/rest/createProduct"),
        r#"{"name":"Elderberry","price":"3"}"#,
        Some("1"),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.error().0,
        "variable \"price\" must be a number (numeric), got a string"
    );

    let r = post_json(&format!("{base}/api/v1/rest/getProducts"), "[]", None).await;
    assert_eq!((r.status, r.error().1.as_str()), (400, "BAD_REQUEST"));
}

#[tokio::test]
async fn user_id_comes_from_auth_not_variables() {
    let base = server().await;
    let url = format!("{base}/api/v1/graphql");
    let body = r#"{"operationName":"myProducts","variables":{"user_id":1}}"#;
    let r = post_json(&url, body, Some("2")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.text,
        r#"{"data":{"products" : [{"id" : 3, "name" : "Cherry"}]}}"#
    );

    // Anonymous callers have no statement for it at all.
    let r = post_json(&url, body, None).await;
    assert_eq!(r.status, 401);

    // And a mutation writes the caller's id, whatever the variables say.
    let body =
        r#"{"operationName":"createProduct","variables":{"name":"Fig","price":2,"user_id":1}}"#;
    let r = post_json(&url, body, Some("2")).await;
    assert_eq!(r.json()["data"]["product"]["owner_id"], 2);
}

#[tokio::test]
async fn api_prefix_is_configurable() {
    let service = graphjin_runtime::Service::new(db().await).api_prefix("internal/gj/");
    let base = serve(service).await;
    let r = get(
        &format!("{base}/internal/gj/v1/rest/getProducts"),
        &[],
        None,
    )
    .await;
    assert_eq!(r.text, ALL_PRODUCTS);
    let r = get(&format!("{base}/api/v1/rest/getProducts"), &[], None).await;
    assert_eq!(r.status, 404);
}

/// A body sent in chunks, with no `Content-Length` to refuse it early, is still read only up
/// to the limit: 413 on the GraphQL and REST routes alike.
#[tokio::test]
async fn chunked_bodies_over_the_limit_are_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let base = server().await;
    let host = base.trim_start_matches("http://").to_owned();
    for path in ["/api/v1/graphql", "/api/v1/rest/getProducts"] {
        let mut stream = tokio::net::TcpStream::connect(&host)
            .await
            .expect("connect");
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.expect("head");
        let chunk = format!(r#"{{"pad":"{}"}}"#, "x".repeat(100 * 1024));
        // The server may answer and close before all of it is sent.
        let _ = stream
            .write_all(format!("{:x}\r\n{chunk}\r\n0\r\n\r\n", chunk.len()).as_bytes())
            .await;
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply).await;
        let reply = String::from_utf8_lossy(&reply);
        assert!(reply.starts_with("HTTP/1.1 413"), "{path}: {reply}");
        assert!(
            reply.contains("the request body is larger than the limit of 65536 bytes"),
            "{path}: {reply}"
        );
    }
}
