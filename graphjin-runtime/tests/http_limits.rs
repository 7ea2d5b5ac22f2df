//! Slow, idle and hostile clients against a real server (`http::serve_until` on 127.0.0.1):
//! header, body and idle timeouts, the connection cap, the early 413, malformed
//! `Authorization` headers, the WebSocket closing handshake and a graceful stop that closes
//! idle connections. Hostile clients are raw TCP streams; well-behaved ones use reqwest.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use futures_util::{SinkExt, StreamExt};
use graphjin_runtime::auth::Authenticator;
use graphjin_runtime::config::AuthConfig;
use graphjin_runtime::http::ServeLimits;
use graphjin_runtime::{AuthLayer, Service};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const SECRET: &str = "limits-test-secret";
const GET_PRODUCTS_BODY: &str = r#"{"operationName":"getProducts"}"#;

/// A server run by `serve_until`, stopped by [`Server::stop`].
struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(service: Service, limits: ServeLimits) -> Server {
        let service = service.serve_limits(limits);
        let shutdown = service.shutdown_handle();
        let app = graphjin_runtime::router(service);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(graphjin_runtime::http::serve_until(
            listener,
            app,
            shutdown,
            async move {
                let _ = stopped.await;
            },
        ));
        Server {
            addr,
            stop: Some(stop),
            task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.expect("connect")
    }

    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Short timeouts, so the tests see them fire.
fn limits(header: u64, body: u64, idle: u64) -> ServeLimits {
    ServeLimits {
        header_timeout: Some(Duration::from_millis(header)),
        body_timeout: Some(Duration::from_millis(body)),
        idle_timeout: Some(Duration::from_millis(idle)),
        ..ServeLimits::default()
    }
}

/// Reads until the server closes the connection (end of stream or reset), for at most
/// `within`: what it sent and how long that took; `None` if it is still open.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<(String, Duration)> {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = within.checked_sub(start.elapsed())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => {
                return Some((String::from_utf8_lossy(&got).into_owned(), start.elapsed()));
            }
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Whether the server has closed `stream` (checked without waiting long).
async fn is_closed(stream: &mut TcpStream) -> bool {
    read_until_closed(stream, Duration::from_millis(20))
        .await
        .is_some()
}

/// Reads one whole response (head and `Content-Length` body) from a keep-alive connection.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let n = stream.read(&mut buf).await.expect("read");
            assert!(
                n > 0,
                "closed mid-response: {}",
                String::from_utf8_lossy(&got)
            );
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if got.len() >= end + 4 + length {
                    return text;
                }
            }
        }
    })
    .await
    .expect("a whole response within 5 s")
}

const LIVE: &[u8] = b"GET /health/live HTTP/1.1\r\nHost: test\r\n\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_off_at_the_header_timeout() {
    let server = Server::start(Service::new(db().await), limits(1000, 10_000, 10_000)).await;

    // A client that connects and sends nothing.
    let mut silent = server.connect().await;
    // A slowloris: a head that keeps trickling in, never finished.
    let mut trickle = server.connect().await;
    let start = Instant::now();
    trickle
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: test\r\n")
        .await
        .unwrap();
    let (mut reader, mut writer) = trickle.into_split();
    let dripping = tokio::spawn(async move {
        for i in 0..40 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if writer
                .write_all(format!("X-Drip-{i}: 1\r\n").as_bytes())
                .await
                .is_err()
            {
                return;
            }
        }
    });
    let (_, silent_after) = read_until_closed(&mut silent, Duration::from_secs(4))
        .await
        .expect("the silent connection is closed");
    assert!(
        silent_after >= Duration::from_millis(800),
        "closed too early: {silent_after:?}"
    );
    let closed = tokio::time::timeout(Duration::from_secs(4), async {
        let mut buf = [0u8; 512];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return start.elapsed(),
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("the trickling connection is closed although bytes keep coming");
    assert!(
        closed >= Duration::from_millis(800) && closed < Duration::from_secs(3),
        "{closed:?}"
    );
    dripping.abort();

    // A prompt client is served as usual.
    let r = reqwest::get(server.url("/health/live")).await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_bodies_get_408_at_the_body_timeout() {
    let server = Server::start(Service::new(db().await), limits(5000, 1000, 10_000)).await;
    let head = |length: &str, extra: &str| {
        format!(
            "POST /api/v1/graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n{length}{extra}\r\n"
        )
    };

    let start = Instant::now();
    // Part of the body, then nothing.
    let mut partial = server.connect().await;
    partial
        .write_all(head("Content-Length: 100\r\n", "").as_bytes())
        .await
        .unwrap();
    partial.write_all(br#"{"operationName":"#).await.unwrap();
    // A length within the limit and no body at all.
    let mut none = server.connect().await;
    none.write_all(head("Content-Length: 500\r\n", "").as_bytes())
        .await
        .unwrap();
    // A chunked body that keeps coming, a byte at a time: the deadline is for the whole body.
    let chunked = server.connect().await;
    let (mut chunked_reader, mut chunked_writer) = chunked.into_split();
    chunked_writer
        .write_all(head("Transfer-Encoding: chunked\r\n", "").as_bytes())
        .await
        .unwrap();
    let dripping = tokio::spawn(async move {
        for _ in 0..40 {
            if chunked_writer.write_all(b"1\r\n \r\n").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });

    for stream in [&mut partial, &mut none] {
        let (reply, _) = read_until_closed(stream, Duration::from_secs(4))
            .await
            .expect("answered and closed");
        assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
        assert!(reply.contains("REQUEST_TIMEOUT"), "{reply}");
        let after = start.elapsed();
        assert!(
            after >= Duration::from_millis(900) && after < Duration::from_secs(3),
            "{after:?}"
        );
    }
    let mut reply = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(4),
        chunked_reader.read_to_end(&mut reply),
    )
    .await
    .expect("the chunked request is answered and closed")
    .ok();
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    dripping.abort();

    // A body sent at once is served.
    let ok = post_json(&server.url("/api/v1/graphql"), GET_PRODUCTS_BODY, None).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_close_at_the_idle_timeout() {
    // The header timeout (5 s) is longer than the idle one (1 s): what closes the
    // connection is the idle timeout.
    let server = Server::start(Service::new(db().await), limits(5000, 5000, 1000)).await;
    let mut stream = server.connect().await;
    stream.write_all(LIVE).await.unwrap();
    assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));
    // Within the idle timeout the connection serves another request.
    tokio::time::sleep(Duration::from_millis(400)).await;
    stream.write_all(LIVE).await.unwrap();
    assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));
    let (rest, after) = read_until_closed(&mut stream, Duration::from_secs(4))
        .await
        .expect("the idle connection is closed");
    assert!(rest.is_empty(), "{rest}");
    assert!(
        after >= Duration::from_millis(800) && after < Duration::from_millis(2500),
        "{after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_connection_cap_idle_sockets_make_room_for_new_clients() {
    let server = Server::start(
        Service::new(db().await),
        ServeLimits {
            max_connections: 40,
            ..limits(10_000, 10_000, 10_000)
        },
    )
    .await;
    // A hostile client holds 50 idle sockets (the cap is 40).
    let mut idle = Vec::new();
    for _ in 0..50 {
        idle.push(server.connect().await);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A well-behaved client is served anyway, promptly.
    let start = Instant::now();
    let client = reqwest::Client::new();
    for _ in 0..3 {
        let r = tokio::time::timeout(
            Duration::from_secs(2),
            client.get(server.url("/health/live")).send(),
        )
        .await
        .expect("served within 2 s")
        .expect("served");
        assert_eq!(r.status(), 200);
    }
    assert!(start.elapsed() < Duration::from_secs(2));
    // The longest-idle sockets were closed to make room; the newest are still open.
    let mut closed = Vec::new();
    for (i, stream) in idle.iter_mut().enumerate() {
        if is_closed(stream).await {
            closed.push(i);
        }
    }
    assert!(closed.len() >= 11, "{closed:?}");
    assert!(closed.contains(&0), "the oldest went first: {closed:?}");
    assert!(!closed.contains(&49), "the newest stays: {closed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_with_every_connection_busy_new_ones_get_503() {
    let server = Server::start(
        Service::new(db().await),
        ServeLimits {
            max_connections: 3,
            ..limits(10_000, 10_000, 10_000)
        },
    )
    .await;
    // Three requests in progress (their bodies still on the way).
    let mut busy = Vec::new();
    for _ in 0..3 {
        let mut s = server.connect().await;
        s.write_all(
            b"POST /api/v1/graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        )
        .await
        .unwrap();
        busy.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut extra = server.connect().await;
    let (reply, after) = read_until_closed(&mut extra, Duration::from_secs(2))
        .await
        .expect("refused at once");
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    assert!(reply.contains("http_max_connections"), "{reply}");
    assert!(after < Duration::from_secs(1), "{after:?}");
    for s in &mut busy {
        assert!(!is_closed(s).await, "busy connections are never evicted");
    }
    // One busy client leaves: the next client is served.
    drop(busy.pop());
    let mut served = false;
    for _ in 0..50 {
        if let Ok(r) = reqwest::get(server.url("/health/live")).await
            && r.status() == 200
        {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served, "a freed slot admits a new client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_content_length_is_refused_before_the_body() {
    let server = Server::start(
        Service::new(db().await).body_limit(64 * 1024),
        ServeLimits::default(),
    )
    .await;
    let mut stream = server.connect().await;
    stream
        .write_all(
            b"POST /api/v1/graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n",
        )
        .await
        .unwrap();
    // No body follows; the 30 s body timeout is far away.
    let (reply, after) = read_until_closed(&mut stream, Duration::from_secs(2))
        .await
        .expect("answered and closed at once");
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(
        reply.to_ascii_lowercase().contains("connection: close"),
        "{reply}"
    );
    assert!(reply.contains("PAYLOAD_TOO_LARGE"), "{reply}");
    assert!(after < Duration::from_secs(1), "{after:?}");
}

fn token(sub: &str) -> String {
    let far = 4_102_444_800u64; // 2100-01-01
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"sub": sub, "exp": far}),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign")
}

/// POSTs getProducts with the `Authorization` header values given (none, one, or several).
async fn with_authorization(server: &Server, values: &[&[u8]]) -> Reply {
    let mut req = reqwest::Client::new()
        .post(server.url("/api/v1/graphql"))
        .header("content-type", "application/json")
        .body(GET_PRODUCTS_BODY);
    for v in values {
        req = req.header(
            "authorization",
            reqwest::header::HeaderValue::from_bytes(v).expect("a header value"),
        );
    }
    Reply::from(req.send().await.expect("request")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_authorization_is_401_under_auth_fail_block_else_anon() {
    let good = format!("Bearer {}", token("1"));
    let malformed: [(&str, Vec<&[u8]>); 6] = [
        ("empty bearer", vec![b"Bearer "]),
        ("scheme only", vec![b"Bearer"]),
        ("basic", vec![b"Basic dXNlcjpwdw=="]),
        ("not UTF-8", vec![b"Bearer \xff\xfe\xfd"]),
        ("twice", vec![good.as_bytes(), good.as_bytes()]),
        ("empty", vec![b""]),
    ];
    for fail_block in [true, false] {
        let layer =
            AuthLayer::new(Authenticator::new(&AuthConfig::jwt_secret(SECRET)).expect("auth"))
                .fail_block(fail_block);
        let server =
            Server::start(Service::new(db().await).auth(layer), ServeLimits::default()).await;
        for (what, values) in &malformed {
            let r = with_authorization(&server, values).await;
            if fail_block {
                assert_eq!(r.status, 401, "{what}: {}", r.text);
                let (message, code) = r.error();
                assert_eq!(code, "UNAUTHENTICATED", "{what}");
                assert!(message.contains("Authorization"), "{what}: {message}");
            } else {
                assert_eq!(r.status, 200, "{what}: runs as anon: {}", r.text);
            }
        }
        // No header is anonymous either way; a valid token is accepted.
        assert_eq!(with_authorization(&server, &[]).await.status, 200);
        let ok = with_authorization(&server, &[good.as_bytes()]).await;
        assert_eq!(ok.status, 200, "{}", ok.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_outlive_the_http_timeouts_and_answer_a_client_close() {
    let server = Server::start(Service::new(db().await), limits(500, 500, 500)).await;
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            format!("ws://{}/api/v1/graphql", server.addr).as_str(),
        )
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    ws.send(Message::text(
        json!({"type": "connection_init"}).to_string(),
    ))
    .await
    .unwrap();
    assert_eq!(
        text_message(&mut ws).await,
        json!({"type": "connection_ack"})
    );
    // Past the header, body and idle timeouts, the socket still works.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    ws.send(Message::text(json!({"type": "ping"}).to_string()))
        .await
        .unwrap();
    assert_eq!(text_message(&mut ws).await, json!({"type": "pong"}));

    // The client closes: the server answers with a close frame echoing the code, then
    // closes the connection (no 1006, no reset without a closing handshake).
    ws.send(Message::Close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    })))
    .await
    .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(frame))) => return frame,
                Some(Ok(_)) => continue,
                other => panic!("no close frame in answer: {other:?}"),
            }
        }
    })
    .await
    .expect("the close is answered within 2 s");
    assert_eq!(answer.map(|f| f.code), Some(CloseCode::Normal));
    let end = tokio::time::timeout(Duration::from_secs(2), ws.next())
        .await
        .expect("the server closes the connection");
    assert!(end.is_none(), "a clean end, not {end:?}");
}

/// The next text message, as JSON (pings skipped).
async fn text_message(
    ws: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>,
) -> serde_json::Value {
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).expect("JSON"),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => panic!("unexpected: {other:?}"),
            }
        }
    })
    .await
    .expect("a message within 5 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_closes_idle_connections_at_once() {
    let mut server = Server::start(
        Service::new(db().await).shutdown_timeout(Duration::from_secs(10)),
        ServeLimits::default(),
    )
    .await;
    // A keep-alive connection between requests, and one that never sent a byte.
    let mut kept = server.connect().await;
    kept.write_all(LIVE).await.unwrap();
    assert!(read_response(&mut kept).await.starts_with("HTTP/1.1 200"));
    let mut fresh = server.connect().await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    let start = Instant::now();
    server.stop();
    for stream in [&mut kept, &mut fresh] {
        let (rest, _) = read_until_closed(stream, Duration::from_secs(2))
            .await
            .expect("closed at the stop, not at the 60 s idle timeout");
        assert!(rest.is_empty(), "{rest}");
    }
    tokio::time::timeout(Duration::from_secs(2), &mut server.task)
        .await
        .expect("serve_until returns without waiting for the deadline")
        .unwrap()
        .expect("Ok");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    // No new connection is accepted.
    assert!(TcpStream::connect(server.addr).await.is_err());
}

#[test]
fn limits_come_from_the_config_and_its_variables() {
    use graphjin_runtime::Config;
    use std::path::Path;
    let mut config = Config::from_yaml(
        "http_header_timeout: 2s\nhttp_body_timeout: 0\nhttp_idle_timeout: 1m30s\nhttp_max_connections: 40\n",
        Path::new("prod.yml"),
    )
    .expect("config");
    let limits = config.http.serve_limits();
    assert_eq!(limits.header_timeout, Some(Duration::from_secs(2)));
    assert_eq!(limits.body_timeout, None, "0 turns it off");
    assert_eq!(limits.idle_timeout, Some(Duration::from_secs(90)));
    assert_eq!(limits.max_connections, 40);
    config
        .apply_env(|name| (name == "GJ_HTTP_MAX_CONNECTIONS").then(|| "64".to_owned()))
        .expect("env");
    assert_eq!(config.http.serve_limits().max_connections, 64);
    // Unset: the defaults.
    let defaults = Config::from_yaml("{}\n", Path::new("prod.yml")).expect("config");
    assert_eq!(defaults.http.serve_limits(), ServeLimits::default());
    // Malformed values are refused, naming the key.
    for (yaml, key) in [
        ("http_idle_timeout: soon\n", "http_idle_timeout"),
        ("http_max_connections: 0\n", "http_max_connections"),
        ("http_max_connections: lots\n", "http_max_connections"),
        ("http_header_timoeut: 1s\n", "http_header_timoeut"),
    ] {
        let e = Config::from_yaml(yaml, Path::new("prod.yml")).unwrap_err();
        assert!(e.to_string().contains(key), "{yaml}: {e}");
    }
}
