//! Hostile frames on the WebSocket route: every malformed message closes that connection
//! with 4400 (or is answered with an error), nothing panics, and the server goes on
//! serving other clients.

mod subs_common;

use std::time::Duration;

use serde_json::json;
use subs_common::*;
use tokio_tungstenite::tungstenite::protocol::Message;

/// Asserts the server still serves a normal subscriber.
async fn still_serving(s: &Server) {
    let mut c = Client::init(&s.ws_url, json!({})).await;
    c.subscribe(
        "ok",
        json!({"operationName": "watchStock", "variables": {"id": 1}}),
    )
    .await;
    assert_eq!(
        c.next().await,
        next_msg("ok", json!({"products": {"id": 1, "stock": 10}}))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_close_with_4400() {
    let s = server(DEV_CONFIG).await;
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let before_init: &[&str] = &[
        "",
        "not json",
        "[1,2]",
        "null",
        r#"{"type": 5}"#,
        r#"{"no": "type"}"#,
        r#"{"type": "next", "id": "1"}"#,
        r#"{"type": "connection_init", "payload": [1]}"#,
        r#"{"type": "connection_init", "payload": "x"}"#,
        r#"{"type": "\u0000\u0001"}"#,
        r#"{"type": "subscribe", "id": {"a": 1}}"#,
        "{\"type\": \"connection_init\", \"payload\": {\"a\": \"\\ud800\"}}",
        &deep,
    ];
    for text in before_init {
        let mut c = Client::connect(&s.ws_url, Some("graphql-transport-ws")).await;
        c.send_text(text).await;
        let (code, reason) = c.closed().await;
        assert_eq!(code, 4400, "{text:.60}: {reason}");
        assert!(reason.len() <= 123);
    }
    let after_init: &[&str] = &[
        r#"{"type": "subscribe"}"#,
        r#"{"type": "subscribe", "id": ""}"#,
        r#"{"type": "subscribe", "id": "1"}"#,
        r#"{"type": "subscribe", "id": "1", "payload": "query"}"#,
        r#"{"type": "subscribe", "id": "1", "payload": {"query": 5}}"#,
        r#"{"type": "subscribe", "id": "1", "payload": {"extensions": {"persistedQuery": 1}}}"#,
        r#"{"type": "connection_ack"}"#,
    ];
    for text in after_init {
        let mut c = Client::init(&s.ws_url, json!({})).await;
        c.send_text(text).await;
        assert_eq!(c.closed().await.0, 4400, "{text}");
    }

    // Not UTF-8.
    let mut c = Client::connect(&s.ws_url, Some("graphql-transport-ws")).await;
    c.send_raw(Message::binary(vec![0xff, 0xfe, 0x00])).await;
    assert_eq!(c.closed().await.0, 4400);

    // Binary frames holding JSON are read as text.
    let mut c = Client::connect(&s.ws_url, Some("graphql-transport-ws")).await;
    c.send_raw(Message::binary(br#"{"type":"connection_init"}"#.to_vec()))
        .await;
    assert_eq!(c.next().await, json!({"type": "connection_ack"}));

    still_serving(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_but_valid_subscribes_get_error_messages() {
    let s = server(DEV_CONFIG).await;
    let mut c = Client::init(&s.ws_url, json!({})).await;
    let long_id = "i".repeat(50_000);
    let cases = [
        json!({}),
        json!({"operationName": ""}),
        json!({"operationName": "watchStock", "variables": [1]}),
        json!({"operationName": "watchStock", "variables": "x"}),
        json!({"operationName": "watchStock", "variables": {"id": 99999999999999999999u128.to_string()}}),
        json!({"operationName": "watchStock", "variables": {"id": 1.5}}),
        json!({"query": "subscription {"}),
        json!({"query": "\u{0}\u{1}"}),
        json!({"operationName": "x".repeat(10_000)}),
    ];
    for (i, payload) in cases.iter().enumerate() {
        let id = format!("{i}");
        c.subscribe(&id, payload.clone()).await;
        let m = c.next().await;
        assert_eq!(m["type"], "error", "{payload}: {m}");
        assert_eq!(m["id"], id.as_str());
    }
    // A number beyond f64, as raw text.
    c.send_text(r#"{"id":"big","type":"subscribe","payload":{"operationName":"watchStock","variables":{"id":1e400}}}"#)
        .await;
    assert_eq!(error_of(&c.next().await, "big").1, "BAD_USER_INPUT");
    c.subscribe(&long_id, json!({"operationName": "nope"}))
        .await;
    let m = c.next().await;
    assert_eq!(m["id"], long_id.as_str());
    // The connection is still fine.
    c.subscribe(
        "w",
        json!({"operationName": "watchStock", "variables": {"id": 2}}),
    )
    .await;
    assert_eq!(
        c.next().await,
        next_msg("w", json!({"products": {"id": 2, "stock": 20}}))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_frames_never_take_the_server_down() {
    let s = server(DEV_CONFIG).await;
    let seeds = [
        r#"{"type":"connection_init","payload":{"Authorization":"Bearer x"}}"#,
        r#"{"id":"1","type":"subscribe","payload":{"operationName":"watchStock","variables":{"id":1}}}"#,
        r#"{"id":"1","type":"complete"}"#,
        r#"{"type":"ping","payload":{"a":[1,2,{"b":null}]}}"#,
    ];
    // A small deterministic generator (xorshift) mutating valid messages.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..150 {
        let mut c = Client::connect(&s.ws_url, Some("graphql-transport-ws")).await;
        if round % 2 == 0 {
            c.send(json!({"type": "connection_init"})).await;
        }
        for _ in 0..4 {
            let seed = seeds[(rand() % seeds.len() as u64) as usize];
            let mut bytes = seed.as_bytes().to_vec();
            for _ in 0..(rand() % 6) {
                let at = (rand() % bytes.len() as u64) as usize;
                match rand() % 3 {
                    0 => bytes[at] = (rand() & 0xff) as u8,
                    1 => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, b"{}[]\",:\\"[(rand() % 8) as usize]),
                }
            }
            let message = match String::from_utf8(bytes) {
                Ok(text) => Message::text(text),
                Err(e) => Message::binary(e.into_bytes()),
            };
            if !c.try_send_raw(message).await {
                break; // closed by the server already
            }
        }
        // Whatever happened, the connection either answers or closes; drain it briefly.
        let _ = c.within(Duration::from_millis(20)).await;
    }
    still_serving(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_messages_are_refused() {
    let s = server(DEV_CONFIG).await;
    let mut c = Client::init(&s.ws_url, json!({})).await;
    let huge = format!(
        r#"{{"id":"1","type":"subscribe","payload":{{"query":"{}"}}}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    // The server stops reading at the limit and drops the connection, so the send itself
    // may fail; either way the socket ends.
    if c.try_send_text(&huge).await {
        assert!(matches!(c.within(WAIT).await, Got::Closed(..)));
    }
    still_serving(&s).await;
}
