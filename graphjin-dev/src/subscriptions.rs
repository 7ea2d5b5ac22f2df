//! Subscriptions over the development server's WebSocket (`GET /api/v1/graphql` with
//! `Upgrade: websocket`): a new subscription is compiled on the fly, served by the
//! production runtime's own WebSocket handler (same protocols, auth, polling and batching,
//! same close codes), and recorded into allow.list once its first result arrives without
//! errors, as a query sent over HTTP is.
//!
//! The runtime's operation table is fixed once built, and the development server builds a
//! new runtime when an operation is added. So the server stands between the client and the
//! runtime: each client socket is bridged, in process (an in-memory pipe, no port), to a
//! runtime socket of the build that knows the subscription. `connection_init` is replayed on
//! every runtime socket; messages come back to the client unchanged (the first
//! `connection_ack` only); a runtime close (4401, 4403, 1001, ...) closes the client with
//! the same code and reason.

use std::collections::HashMap;

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use graphjin_runtime::axum::Router;
use graphjin_runtime::axum::extract::ws::{self, WebSocket, WebSocketUpgrade};
use graphjin_runtime::axum::extract::{FromRequestParts, Request};
use graphjin_runtime::axum::http::{HeaderMap, HeaderName, HeaderValue, Uri, header};
use graphjin_runtime::axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::io::DuplexStream;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message as Inner};

use crate::DevServer;

/// The `graphql-ws` library's subprotocol.
const TRANSPORT_WS: &str = "graphql-transport-ws";
/// subscriptions-transport-ws's subprotocol.
const LEGACY_WS: &str = "graphql-ws";
/// Bytes buffered in each direction of the in-process pipe.
const PIPE: usize = 64 * 1024;

/// Why a runtime socket could not be opened.
#[derive(Debug, thiserror::Error)]
enum BridgeError {
    /// The WebSocket handshake with the runtime failed.
    #[error("the development server could not reach its runtime: {0}")]
    Handshake(#[from] tungstenite::Error),
}

/// Accepts the upgrade and bridges the socket.
pub(super) async fn upgrade(dev: DevServer, req: Request) -> Response {
    let (mut parts, _body) = req.into_parts();
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(u) => u,
        Err(rejection) => return rejection.into_response(),
    };
    let offered = upgrade.requested_protocols().next().is_some();
    let upgrade = upgrade.protocols([TRANSPORT_WS, LEGACY_WS]);
    let proto = match upgrade.selected_protocol().and_then(|p| p.to_str().ok()) {
        Some(p) => Some(p.to_owned()),
        None if !offered => Some(TRANSPORT_WS.to_owned()),
        None => None,
    };
    let (uri, headers) = (parts.uri, parts.headers);
    upgrade.on_upgrade(move |socket| async move {
        match proto {
            Some(proto) => Bridge::new(dev, socket, proto, uri, headers).run().await,
            None => {
                let mut socket = socket;
                let _ = socket
                    .send(close_message(
                        4406,
                        "Subprotocol not acceptable: use graphql-transport-ws",
                    ))
                    .await;
            }
        }
    })
}

fn close_message(code: u16, reason: &str) -> ws::Message {
    ws::Message::Close(Some(ws::CloseFrame {
        code,
        reason: ws::Utf8Bytes::from(reason),
    }))
}

type RuntimeSocket = WebSocketStream<DuplexStream>;

/// One socket to the runtime of one build.
struct Link {
    generation: u64,
    sink: SplitSink<RuntimeSocket, Inner>,
}

/// A request that gets to the runtime: the recorded text and variables of a subscription.
struct Pending {
    text: String,
    variables: Option<Value>,
}

/// A client socket and its runtime sockets.
struct Bridge {
    dev: DevServer,
    client: WebSocket,
    legacy: bool,
    proto: String,
    uri: Uri,
    headers: HeaderMap,
    /// `connection_init` as the client sent it, replayed on each runtime socket.
    init: Option<String>,
    links: Vec<Link>,
    events_tx: mpsc::Sender<(usize, Option<Inner>)>,
    events: mpsc::Receiver<(usize, Option<Inner>)>,
    /// Subscription id -> the link serving it.
    owner: HashMap<String, usize>,
    /// Subscriptions to record when their first result has no errors.
    pending: HashMap<String, Pending>,
    acked: bool,
}

/// Whether the client socket stays open.
type Open = bool;

impl Bridge {
    fn new(dev: DevServer, client: WebSocket, proto: String, uri: Uri, headers: HeaderMap) -> Self {
        let (events_tx, events) = mpsc::channel(64);
        Bridge {
            dev,
            client,
            legacy: proto == LEGACY_WS,
            proto,
            uri,
            headers,
            init: None,
            links: Vec::new(),
            events_tx,
            events,
            owner: HashMap::new(),
            pending: HashMap::new(),
            acked: false,
        }
    }

    async fn run(mut self) {
        loop {
            let open = tokio::select! {
                m = self.client.recv() => match m {
                    Some(Ok(m)) => self.on_client(m).await,
                    _ => false,
                },
                Some((link, m)) = self.events.recv() => self.on_runtime(link, m).await,
            };
            if !open {
                break;
            }
        }
        // Dropping the links closes the runtime sockets: their subscriptions stop.
        for link in &mut self.links {
            let _ = link.sink.close().await;
        }
    }

    async fn on_client(&mut self, m: ws::Message) -> Open {
        let text = match m {
            ws::Message::Text(t) => t.as_str().to_owned(),
            ws::Message::Binary(b) => match String::from_utf8(b.to_vec()) {
                Ok(t) => t,
                Err(_) => {
                    return self
                        .close(4400, "Invalid message received: not UTF-8 text")
                        .await;
                }
            },
            ws::Message::Ping(_) | ws::Message::Pong(_) => return true,
            ws::Message::Close(_) => return false,
        };
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            // The runtime says why (4400).
            return self.send_latest(text).await;
        };
        let id = v["id"].as_str().map(str::to_owned);
        match (v["type"].as_str().unwrap_or(""), self.legacy) {
            ("connection_init", _) => {
                if self.init.is_some() {
                    // The runtime refuses a second one (4429).
                    return self.send_latest(text).await;
                }
                self.init = Some(text.clone());
                match self.links.last_mut() {
                    Some(link) => send_link(link, text).await,
                    // A new link replays `connection_init` itself.
                    None => match self.current_link().await {
                        Ok(_) => true,
                        Err(e) => self.close(1011, &e.to_string()).await,
                    },
                }
            }
            ("ping", false) => self.send(json!({"type": "pong"}).to_string()).await,
            ("pong", false) => true,
            ("subscribe", false) | ("start", true) => match id {
                Some(id) => self.on_subscribe(id, &v, text).await,
                None => self.send_latest(text).await,
            },
            ("complete", false) | ("stop", true) => {
                if let Some(id) = id
                    && let Some(i) = self.owner.remove(&id)
                {
                    self.pending.remove(&id);
                    return send_link(&mut self.links[i], text).await;
                }
                true
            }
            ("connection_terminate", true) => self.close(1000, "terminated").await,
            _ => self.send_latest(text).await,
        }
    }

    async fn on_subscribe(&mut self, id: String, v: &Value, text: String) -> Open {
        if self.owner.contains_key(&id) {
            if !self.legacy {
                return self
                    .close(4409, &format!("Subscriber for {id} already exists"))
                    .await;
            }
            // subscriptions-transport-ws replaces the running one.
            if let Some(i) = self.owner.remove(&id) {
                let stop = json!({"id": id, "type": "stop"}).to_string();
                if !send_link(&mut self.links[i], stop).await {
                    return false;
                }
            }
        }
        let payload = &v["payload"];
        let variables = payload.get("variables").filter(|x| x.is_object()).cloned();
        if let Some(query) = payload["query"].as_str() {
            if let Err(message) = self.dev.prepare(query, variables.as_ref()).await {
                return self
                    .send_error(&id, &message, "GRAPHQL_VALIDATION_FAILED")
                    .await;
            }
            self.pending.insert(
                id.clone(),
                Pending {
                    text: query.to_owned(),
                    variables,
                },
            );
        }
        let link = match self.current_link().await {
            Ok(i) => i,
            Err(e) => {
                self.pending.remove(&id);
                return self
                    .send_error(&id, &e.to_string(), "INTERNAL_SERVER_ERROR")
                    .await;
            }
        };
        self.owner.insert(id, link);
        send_link(&mut self.links[link], text).await
    }

    async fn on_runtime(&mut self, link: usize, m: Option<Inner>) -> Open {
        let text = match m {
            Some(Inner::Text(t)) => t.as_str().to_owned(),
            Some(Inner::Close(frame)) => {
                let (code, reason) = frame
                    .map(|f| (u16::from(f.code), f.reason.as_str().to_owned()))
                    .unwrap_or((1000, String::new()));
                return self.close(code, &reason).await;
            }
            Some(_) => return true, // pings are answered by tungstenite
            None => {
                return self
                    .close(1011, "the development server lost its runtime connection")
                    .await;
            }
        };
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            return self.send(text).await;
        };
        let id = v["id"].as_str().unwrap_or("");
        match v["type"].as_str().unwrap_or("") {
            "connection_ack" => {
                if self.acked {
                    return true;
                }
                self.acked = true;
            }
            "ka" if link + 1 != self.links.len() => return true,
            "next" | "data" => {
                if v["payload"].get("errors").is_none()
                    && let Some(p) = self.pending.remove(id)
                {
                    self.dev.record(&p.text, p.variables.as_ref());
                }
            }
            "error" | "complete" => {
                self.owner.remove(id);
                self.pending.remove(id);
            }
            _ => {}
        }
        self.send(text).await
    }

    /// Sends `text` to the newest runtime socket (opened for the current build if none).
    async fn send_latest(&mut self, text: String) -> Open {
        if self.links.is_empty()
            && let Err(e) = self.current_link().await
        {
            return self.close(1011, &e.to_string()).await;
        }
        match self.links.last_mut() {
            Some(link) => send_link(link, text).await,
            None => false,
        }
    }

    /// The link to the runtime serving now, opened (and `connection_init` replayed) if new.
    async fn current_link(&mut self) -> Result<usize, BridgeError> {
        let (generation, router) = self.dev.current_router().await;
        if let Some(i) = self.links.iter().position(|l| l.generation == generation) {
            return Ok(i);
        }
        let socket = connect(router, &self.uri, &self.headers, &self.proto).await?;
        let (sink, mut stream) = socket.split();
        let index = self.links.len();
        let tx = self.events_tx.clone();
        tokio::spawn(async move {
            while let Some(Ok(m)) = stream.next().await {
                if tx.send((index, Some(m))).await.is_err() {
                    return;
                }
            }
            let _ = tx.send((index, None)).await;
        });
        let mut link = Link { generation, sink };
        if let Some(init) = self.init.clone() {
            link.sink.send(Inner::text(init)).await?;
        }
        self.links.push(link);
        Ok(index)
    }

    async fn send(&mut self, text: String) -> Open {
        self.client
            .send(ws::Message::Text(ws::Utf8Bytes::from(text)))
            .await
            .is_ok()
    }

    async fn send_error(&mut self, id: &str, message: &str, code: &str) -> Open {
        let error = json!({"message": message, "extensions": {"code": code}});
        let payload = if self.legacy { error } else { json!([error]) };
        self.send(json!({"id": id, "type": "error", "payload": payload}).to_string())
            .await
    }

    async fn close(&mut self, code: u16, reason: &str) -> Open {
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let _ = self.client.send(close_message(code, &reason[..end])).await;
        false
    }
}

async fn send_link(link: &mut Link, text: String) -> Open {
    link.sink.send(Inner::text(text)).await.is_ok()
}

/// Headers the WebSocket handshake sets itself.
fn handshake_header(name: &HeaderName) -> bool {
    name == header::HOST
        || name == header::CONNECTION
        || name == header::UPGRADE
        || name == header::CONTENT_LENGTH
        || name == header::TRANSFER_ENCODING
        || name.as_str().starts_with("sec-websocket-")
}

/// A WebSocket to `router`, over an in-memory pipe served by hyper as a real connection is;
/// the client's headers (credentials included) go along.
async fn connect(
    router: Router,
    uri: &Uri,
    headers: &HeaderMap,
    proto: &str,
) -> Result<RuntimeSocket, BridgeError> {
    let (near, far) = tokio::io::duplex(PIPE);
    tokio::spawn(async move {
        let service = hyper_util::service::TowerToHyperService::new(router);
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(hyper_util::rt::TokioIo::new(far), service)
            .with_upgrades()
            .await;
    });
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = format!("ws://localhost{path}").into_client_request()?;
    for (name, value) in headers {
        if !handshake_header(name) {
            request.headers_mut().append(name.clone(), value.clone());
        }
    }
    if let Ok(p) = HeaderValue::from_str(proto) {
        request
            .headers_mut()
            .insert(header::SEC_WEBSOCKET_PROTOCOL, p);
    }
    let (socket, _) = tokio_tungstenite::client_async(request, near).await?;
    Ok(socket)
}
