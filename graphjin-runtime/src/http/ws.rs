//! Subscriptions over WebSocket at `GET {prefix}/v1/graphql` (the same path as GraphQL over
//! HTTP's GET; a request with `Upgrade: websocket` is upgraded, any other is a query).
//!
//! Two subprotocols, picked from `Sec-WebSocket-Protocol`:
//!
//! - `graphql-transport-ws` (the `graphql-ws` npm library's protocol, and the default when
//!   the client names none): `connection_init` / `connection_ack`, `ping` / `pong`,
//!   `subscribe` / `next` / `error` / `complete`.
//! - `graphql-ws` (the older subscriptions-transport-ws): `connection_init` /
//!   `connection_ack` / `connection_error` / `ka`, `start` / `data` / `error` / `stop` /
//!   `complete`, `connection_terminate`.
//!
//! Credentials come in `connection_init`'s payload, as header names and values:
//! `{"Authorization": "Bearer ...", "Cookie": "_jwt=...", "X-User-ID": "7"}` (also nested
//! under `"headers"`; `authToken` / `token` stand for a bearer token). They go through the
//! service's [`crate::AuthLayer`] exactly as an HTTP request's headers do; without
//! credentials in the payload the upgrade request's identity stands. A credential refused
//! under `auth_fail_block` closes the socket with 4401.
//!
//! Credentials that expire ([`Auth::expires_at`]: a JWT's `exp` plus the leeway its
//! validation allows) hold for the connection until then: at that instant the server stops
//! all the connection's subscriptions and closes the socket with 4403. The client reconnects
//! with a fresh token.
//!
//! A client's close frame is answered with a close frame echoing its code (RFC 6455's
//! closing handshake), then the server closes the connection. The server's own closes:
//!
//! | close code | when |
//! | --- | --- |
//! | 1001 | the server shuts down ([`Subscriptions::shutdown`](crate::Subscriptions::shutdown), which [`serve`](super::serve) calls on SIGTERM/Ctrl-C); nothing arrived (not even a pong) for the idle timeout |
//! | 1013 | the client did not read its messages fast enough (its send queue filled up) |
//! | 4400 | a message that is not JSON, of an unknown type, or without its id or payload |
//! | 4401 | a credential refused under `auth_fail_block`; `subscribe` before `connection_ack` |
//! | 4403 | the credentials expired (a JWT's `exp`): reconnect with a fresh token |
//! | 4406 | the client offered only subprotocols this server does not speak |
//! | 4408 | no `connection_init` within the init timeout |
//! | 4409 | `subscribe` with the id of a running subscription |
//! | 4429 | a second `connection_init` |
//!
//! Anything wrong with one subscription (not in the allow list, not a subscription, query
//! text that differs, a variable of the wrong type, too many subscriptions on the
//! connection) is an `error` message for its id, with the HTTP route's messages and codes.
//! A database outage is a `next` with `errors`; the subscription goes on.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use axum::Extension;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, Request, State};
use axum::http::header::{AUTHORIZATION, UPGRADE};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep, sleep_until, timeout};
use tower_layer::Layer;
use tower_service::Service as _;

use super::graphql::{self, Extensions, GetParams, Wanted, hash_of};
use super::{ApiError, Service};
use crate::operation::OpKind;
use crate::subs::{Delivery, Event, Lag, Sink, SubsOptions, Subscriptions, Ticket};
use crate::vars::{RawVariables, Source};
use crate::{Auth, Error};

/// The `graphql-ws` library's subprotocol.
pub const TRANSPORT_WS: &str = "graphql-transport-ws";
/// subscriptions-transport-ws's subprotocol.
pub const LEGACY_WS: &str = "graphql-ws";

/// Longest close reason a close frame can carry.
const MAX_REASON: usize = 123;

/// The close code when the connection's credentials expire.
const EXPIRED_CODE: u16 = 4403;
/// The close reason when the connection's credentials expire.
const EXPIRED_REASON: &str = "the credentials expired: reconnect with a fresh token";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    /// `graphql-transport-ws`.
    Transport,
    /// `graphql-ws` (subscriptions-transport-ws).
    Legacy,
}

/// `GET {prefix}/v1/graphql`: a WebSocket upgrade, else GraphQL over HTTP's GET.
pub(crate) async fn get(
    State(service): State<Arc<Service>>,
    auth: Option<Extension<Auth>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    headers: HeaderMap,
    params: Result<Query<GetParams>, QueryRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) if headers.contains_key(UPGRADE) => return rejection.into_response(),
        Err(_) => {
            return graphql::get(State(service), auth, headers, params).await;
        }
    };
    let auth = auth.map(|Extension(a)| a).unwrap_or_default();
    let offered = upgrade.requested_protocols().next().is_some();
    let upgrade = upgrade.protocols([TRANSPORT_WS, LEGACY_WS]);
    let proto = match upgrade.selected_protocol().map(HeaderValue::as_bytes) {
        Some(b"graphql-transport-ws") => Some(Proto::Transport),
        Some(b"graphql-ws") => Some(Proto::Legacy),
        _ if !offered => Some(Proto::Transport),
        _ => None,
    };
    let limit = service.body_limit.max(1024);
    // Counted from here until the socket is closed, so a shutdown waits for its close frame.
    let open = service.sockets.open();
    upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_failed_upgrade(|e| tracing::debug!(error = %e, "websocket upgrade failed"))
        .on_upgrade(move |socket| async move {
            let _open = open;
            match proto {
                Some(proto) => Connection::new(socket, service, auth, proto).run().await,
                None => {
                    refuse(
                        socket,
                        4406,
                        "Subprotocol not acceptable: use graphql-transport-ws",
                    )
                    .await
                }
            }
        })
}

/// Closes a socket right away.
async fn refuse(mut socket: WebSocket, code: u16, reason: &str) {
    let frame = close_frame(code, reason);
    let _ = timeout(Duration::from_secs(5), socket.send(frame)).await;
    drain(&mut socket).await;
}

/// Reads until the client's close (or a second passes), so closing does not reset the
/// connection under a close frame the client has not read yet.
async fn drain(socket: &mut WebSocket) {
    let _ = timeout(Duration::from_secs(1), async {
        while let Some(Ok(m)) = socket.recv().await {
            if let Message::Close(_) = m {
                break;
            }
        }
    })
    .await;
}

fn close_frame(code: u16, reason: &str) -> Message {
    let mut end = reason.len().min(MAX_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(&reason[..end]),
    }))
}

/// What the connection does after a message.
enum Flow {
    Continue,
    Close(u16, String),
    /// The client sent a close frame: answer it (tungstenite has queued the echo of its
    /// code) and close.
    ClientClosed,
    /// The socket is gone: just stop.
    Drop,
}

fn close(code: u16, reason: impl Into<String>) -> Flow {
    Flow::Close(code, reason.into())
}

/// A client message of either protocol. Unknown members are ignored.
#[derive(Deserialize)]
struct ClientMessage<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(default, borrow)]
    id: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    payload: Option<&'a RawValue>,
}

/// `subscribe`'s (or `start`'s) payload: a GraphQL request.
#[derive(Deserialize)]
struct SubscribePayload {
    #[serde(default)]
    query: Option<String>,
    #[serde(default, rename = "operationName")]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<Box<RawValue>>,
    #[serde(default)]
    extensions: Option<Extensions>,
}

struct Connection {
    socket: WebSocket,
    service: Arc<Service>,
    subs: Subscriptions,
    options: SubsOptions,
    proto: Proto,
    /// The upgrade request's identity.
    base_auth: Auth,
    /// The identity after `connection_init`.
    auth: Option<Auth>,
    /// When that identity's credentials expire: every subscription stops and the socket
    /// closes then.
    expiry: Option<Instant>,
    init_seen: bool,
    /// Client id -> subscriber id, for every running (or starting) subscription.
    active: HashMap<String, u64>,
    /// Subscriber id -> client id.
    names: HashMap<u64, String>,
    tickets: HashMap<u64, Ticket>,
    starting: JoinSet<(u64, Result<Ticket, Error>)>,
    tx: mpsc::Sender<Delivery>,
    rx: mpsc::Receiver<Delivery>,
    lag: Arc<Lag>,
    last_seen: Instant,
}

impl Connection {
    fn new(socket: WebSocket, service: Arc<Service>, auth: Auth, proto: Proto) -> Self {
        let subs = service.subs.clone();
        let options = subs.options().clone();
        let (tx, rx) = mpsc::channel(options.send_queue);
        Connection {
            socket,
            service,
            subs,
            options,
            proto,
            base_auth: auth,
            auth: None,
            expiry: None,
            init_seen: false,
            active: HashMap::new(),
            names: HashMap::new(),
            tickets: HashMap::new(),
            starting: JoinSet::new(),
            tx,
            rx,
            lag: Arc::new(Lag::default()),
            last_seen: Instant::now(),
        }
    }

    async fn run(mut self) {
        let init_deadline = sleep(self.options.init_timeout);
        tokio::pin!(init_deadline);
        let every = self.options.keepalive;
        let mut keepalive = interval_at(Instant::now() + every, every);
        keepalive.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut shutdown = self.subs.shutdown_signal();
        let lag = self.lag.clone();
        // Set to the credentials' expiry once `connection_init` names them.
        let expiry = sleep_until(Instant::now());
        tokio::pin!(expiry);
        let mut armed: Option<Instant> = None;
        let flow = loop {
            if *shutdown.borrow() {
                break close(1001, "the server is shutting down");
            }
            if self.expiry != armed {
                armed = self.expiry;
                if let Some(at) = armed {
                    expiry.as_mut().reset(at);
                }
            }
            let idle = sleep_until(self.last_seen + self.options.idle_timeout);
            let flow = tokio::select! {
                biased;
                changed = shutdown.changed() => match changed {
                    Ok(()) => Flow::Continue,
                    Err(_) => close(1001, "the server is shutting down"),
                },
                _ = &mut expiry, if armed.is_some() => close(EXPIRED_CODE, EXPIRED_REASON),
                _ = lag.notify.notified() => {
                    close(1013, "the client does not read its messages fast enough")
                }
                frame = self.socket.recv() => match frame {
                    Some(Ok(message)) => {
                        self.last_seen = Instant::now();
                        self.on_frame(message).await
                    }
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "websocket read failed");
                        Flow::Drop
                    }
                    None => Flow::Drop,
                },
                Some(delivery) = self.rx.recv() => self.on_delivery(delivery).await,
                Some(joined) = self.starting.join_next(), if !self.starting.is_empty() => {
                    match joined {
                        Ok((sub, result)) => self.on_started(sub, result).await,
                        Err(e) => {
                            tracing::error!(error = %e, "starting a subscription failed");
                            Flow::Continue
                        }
                    }
                }
                _ = &mut init_deadline, if !self.init_seen => {
                    close(4408, "Connection initialisation timeout")
                }
                _ = keepalive.tick() => self.keepalive().await,
                _ = idle => close(1001, "idle timeout: nothing received, not even a pong"),
            };
            match flow {
                Flow::Continue => {}
                other => break other,
            }
        };
        // Every subscription leaves its poller now, before the close handshake.
        self.starting.abort_all();
        self.tickets.clear();
        self.names.clear();
        self.active.clear();
        match flow {
            Flow::Close(code, reason) => {
                tracing::debug!(code, reason, "closing a websocket");
                let _ = timeout(
                    self.options.write_timeout,
                    self.socket.send(close_frame(code, &reason)),
                )
                .await;
                drain(&mut self.socket).await;
            }
            Flow::ClientClosed => {
                // Sends the close frame answering the client's (its code echoed), completing
                // the closing handshake; dropping the socket then closes TCP, server first
                // as RFC 6455 wants. Without it every client close ended as 1006.
                let _ = timeout(
                    self.options.write_timeout,
                    futures_util::SinkExt::flush(&mut self.socket),
                )
                .await;
            }
            Flow::Continue | Flow::Drop => {}
        }
    }

    async fn on_frame(&mut self, message: Message) -> Flow {
        match message {
            Message::Text(text) => self.on_text(text.as_str()).await,
            Message::Binary(bytes) => match std::str::from_utf8(&bytes) {
                Ok(text) => self.on_text(text).await,
                Err(_) => close(4400, "Invalid message received: not UTF-8 text"),
            },
            Message::Ping(_) | Message::Pong(_) => Flow::Continue,
            Message::Close(_) => Flow::ClientClosed,
        }
    }

    async fn on_text(&mut self, text: &str) -> Flow {
        let message: ClientMessage<'_> = match serde_json::from_str(text) {
            Ok(m) => m,
            Err(e) => return close(4400, format!("Invalid message received: {e}")),
        };
        match (self.proto, message.kind.as_ref()) {
            (_, "connection_init") => self.on_init(message.payload).await,
            (Proto::Transport, "ping") => self.send(r#"{"type":"pong"}"#.to_owned()).await,
            (Proto::Transport, "pong") => Flow::Continue,
            (Proto::Transport, "subscribe") | (Proto::Legacy, "start") => {
                self.on_subscribe(message.id.as_deref(), message.payload)
                    .await
            }
            (Proto::Transport, "complete") | (Proto::Legacy, "stop") => {
                if let Some(id) = message.id.as_deref() {
                    self.end(id);
                }
                Flow::Continue
            }
            (Proto::Legacy, "connection_terminate") => close(1000, "terminated"),
            (_, other) => {
                let shown: String = other.chars().take(32).collect();
                close(
                    4400,
                    format!("Invalid message received: unknown type \"{shown}\""),
                )
            }
        }
    }

    async fn on_init(&mut self, payload: Option<&RawValue>) -> Flow {
        if self.init_seen {
            return close(4429, "Too many initialisation requests");
        }
        self.init_seen = true;
        let headers = match payload_headers(payload) {
            Ok(h) => h,
            Err(message) => return close(4400, format!("Invalid message received: {message}")),
        };
        let service = self.service.clone();
        let base = self.base_auth.clone();
        match authenticate(&service, base, headers).await {
            Ok(auth) => {
                if auth.is_expired_at(SystemTime::now()) {
                    return close(EXPIRED_CODE, EXPIRED_REASON);
                }
                self.expiry = auth.expires_at.map(deadline);
                self.auth = Some(auth);
                let flow = self.send(r#"{"type":"connection_ack"}"#.to_owned()).await;
                match (flow, self.proto) {
                    (Flow::Continue, Proto::Legacy) => {
                        self.send(r#"{"type":"ka"}"#.to_owned()).await
                    }
                    (flow, _) => flow,
                }
            }
            Err(message) => {
                if self.proto == Proto::Legacy {
                    let text = serde_json::json!({
                        "type": "connection_error",
                        "payload": {"message": message}
                    })
                    .to_string();
                    if let Flow::Drop = self.send(text).await {
                        return Flow::Drop;
                    }
                }
                close(4401, format!("Unauthorized: {message}"))
            }
        }
    }

    async fn on_subscribe(&mut self, id: Option<&str>, payload: Option<&RawValue>) -> Flow {
        let Some(auth) = self.auth.clone() else {
            return close(4401, "Unauthorized: send connection_init first");
        };
        let id = match id {
            Some(id) if !id.is_empty() => id.to_owned(),
            _ => return close(4400, "Invalid message received: subscribe needs an id"),
        };
        if self.active.contains_key(&id) {
            match self.proto {
                Proto::Transport => {
                    return close(4409, format!("Subscriber for {id} already exists"));
                }
                // subscriptions-transport-ws replaces the running one.
                Proto::Legacy => self.end(&id),
            }
        }
        let payload: SubscribePayload = match payload.map(|p| serde_json::from_str(p.get())) {
            Some(Ok(p)) => p,
            Some(Err(e)) => return close(4400, format!("Invalid message received: {e}")),
            None => return close(4400, "Invalid message received: subscribe needs a payload"),
        };
        let max = self.options.max_per_connection;
        if self.active.len() >= max {
            let message = format!(
                "too many subscriptions on this connection: at most {max}; complete one first"
            );
            return self
                .send_error(&id, &message, "TOO_MANY_SUBSCRIPTIONS")
                .await;
        }
        let wanted = Wanted {
            name: payload.operation_name.as_deref(),
            query: payload.query.as_deref(),
            hash: payload.extensions.as_ref().and_then(hash_of),
        };
        let db = self.subs.db();
        let index = match graphql::resolve(db.catalog(), &wanted) {
            Ok(index) => index,
            Err(e) => return self.send_error(&id, &e.public_message(), e.code()).await,
        };
        let op = &db.operations()[index];
        if op.kind != OpKind::Subscription {
            let e = ApiError::BadRequest(format!(
                "operation \"{}\" is a {}: send it over HTTP (POST {}); only subscriptions are served over this socket",
                op.name,
                if op.kind == OpKind::Query {
                    "query"
                } else {
                    "mutation"
                },
                self.service.graphql_path()
            ));
            return self.send_error(&id, &e.public_message(), e.code()).await;
        }
        let mut auth = auth;
        if self.options.creds_in_vars {
            creds_from_vars(&mut auth, payload.variables.as_deref());
        }
        let sub = self.subs.next_id();
        self.active.insert(id.clone(), sub);
        self.names.insert(sub, id);
        let sink = Sink {
            tx: self.tx.clone(),
            lag: self.lag.clone(),
        };
        let subs = self.subs.clone();
        let variables = payload.variables;
        self.starting.spawn(async move {
            let vars = match variables.as_deref() {
                Some(raw) => RawVariables::from_raw(raw),
                None => Ok(RawVariables::default()),
            };
            let result = match vars {
                Ok(vars) => {
                    subs.start(index, &auth, Source::Raw(&vars), sink, sub)
                        .await
                }
                Err(e) => Err(e),
            };
            (sub, result)
        });
        Flow::Continue
    }

    async fn on_started(&mut self, sub: u64, result: Result<Ticket, Error>) -> Flow {
        match result {
            Ok(ticket) => {
                // A subscription completed while it started leaves here (the ticket drops).
                if self.names.contains_key(&sub) {
                    self.tickets.insert(sub, ticket);
                }
                Flow::Continue
            }
            Err(e) => {
                let Some(id) = self.names.remove(&sub) else {
                    return Flow::Continue;
                };
                self.active.remove(&id);
                log_failure(&e);
                self.send_error(&id, &e.public_message(), e.code()).await
            }
        }
    }

    async fn on_delivery(&mut self, delivery: Delivery) -> Flow {
        let Some(id) = self.names.get(&delivery.sub) else {
            return Flow::Continue; // completed meanwhile
        };
        let id_json = json_string(id);
        let next = match self.proto {
            Proto::Transport => "next",
            Proto::Legacy => "data",
        };
        match delivery.event {
            Event::Data(bytes) => {
                let data = String::from_utf8_lossy(&bytes);
                let mut text = String::with_capacity(data.len() + id_json.len() + 48);
                text.push_str("{\"id\":");
                text.push_str(&id_json);
                text.push_str(",\"type\":\"");
                text.push_str(next);
                text.push_str("\",\"payload\":{\"data\":");
                text.push_str(&data);
                text.push_str("}}");
                self.send(text).await
            }
            Event::Errors(e) => {
                log_failure(&e);
                let text = format!(
                    "{{\"id\":{id_json},\"type\":\"{next}\",\"payload\":{{\"errors\":[{}]}}}}",
                    error_json(&e.public_message(), e.code())
                );
                self.send(text).await
            }
            Event::Fatal(e) => {
                log_failure(&e);
                let id = id.clone();
                self.end(&id);
                self.send_error(&id, &e.public_message(), e.code()).await
            }
        }
    }

    /// Ends subscription `id` (if running): it leaves its poller.
    fn end(&mut self, id: &str) {
        if let Some(sub) = self.active.remove(id) {
            self.names.remove(&sub);
            self.tickets.remove(&sub);
        }
    }

    async fn keepalive(&mut self) -> Flow {
        if let Flow::Drop = self.send_message(Message::Ping(Bytes::new())).await {
            return Flow::Drop;
        }
        match self.proto {
            Proto::Legacy => self.send(r#"{"type":"ka"}"#.to_owned()).await,
            Proto::Transport => Flow::Continue,
        }
    }

    async fn send_error(&mut self, id: &str, message: &str, code: &str) -> Flow {
        let error = error_json(message, code);
        let text = match self.proto {
            Proto::Transport => format!(
                "{{\"id\":{},\"type\":\"error\",\"payload\":[{error}]}}",
                json_string(id)
            ),
            Proto::Legacy => format!(
                "{{\"id\":{},\"type\":\"error\",\"payload\":{error}}}",
                json_string(id)
            ),
        };
        self.send(text).await
    }

    async fn send(&mut self, text: String) -> Flow {
        self.send_message(Message::Text(Utf8Bytes::from(text)))
            .await
    }

    async fn send_message(&mut self, message: Message) -> Flow {
        match timeout(self.options.write_timeout, self.socket.send(message)).await {
            Ok(Ok(())) => Flow::Continue,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "websocket write failed");
                Flow::Drop
            }
            Err(_) => {
                tracing::debug!("websocket write timed out: dropping the connection");
                Flow::Drop
            }
        }
    }
}

/// The identity `connection_init`'s headers give, through the service's auth layer
/// (which decides as for an HTTP request, `auth_fail_block` included); `Err` is the
/// refusal's message. Without a layer, the upgrade request's identity (`base`) stands.
async fn authenticate(service: &Service, base: Auth, headers: HeaderMap) -> Result<Auth, String> {
    let Some(layer) = &service.auth else {
        return Ok(base);
    };
    let mut request = Request::new(Body::empty());
    *request.headers_mut() = headers;
    request.extensions_mut().insert(base);
    let mut inner = layer.layer(Capture);
    let response = match std::future::poll_fn(|cx| inner.poll_ready(cx)).await {
        Ok(()) => match inner.call(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        },
        Err(never) => match never {},
    };
    if let Some(auth) = response.extensions().get::<Auth>() {
        return Ok(auth.clone());
    }
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    Err(serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["errors"][0]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "authentication failed".to_owned()))
}

/// The instant of the monotonic clock when the wall clock reaches `at` (now if it has); a
/// date too far off to represent is 30 years away.
fn deadline(at: SystemTime) -> Instant {
    let now = Instant::now();
    let left = at.duration_since(SystemTime::now()).unwrap_or_default();
    now.checked_add(left)
        .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 86_400))
}

fn log_failure(e: &Error) {
    if e.status().is_server_error() {
        tracing::warn!(code = e.code(), error = %e, "subscription failed");
    } else {
        tracing::debug!(code = e.code(), error = %e, "subscription refused");
    }
}

/// A JSON string literal.
fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

fn error_json(message: &str, code: &str) -> String {
    serde_json::json!({"message": message, "extensions": {"code": code}}).to_string()
}

/// The inner service the auth layer wraps when it checks `connection_init`: it answers with
/// the identity the layer put on the request.
#[derive(Clone, Copy)]
struct Capture;

impl tower_service::Service<Request> for Capture {
    type Response = Response;
    type Error = Infallible;
    type Future = Ready<Result<Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let mut response = Response::new(Body::empty());
        if let Some(auth) = request.extensions().get::<Auth>() {
            response.extensions_mut().insert(auth.clone());
        }
        ready(Ok(response))
    }
}

/// `connection_init`'s payload as request headers: each member with a string, number or
/// boolean value, also those nested under `headers`; `authToken` / `token` as a bearer token.
fn payload_headers(payload: Option<&RawValue>) -> Result<HeaderMap, &'static str> {
    let mut headers = HeaderMap::new();
    let Some(raw) = payload else {
        return Ok(headers);
    };
    let map = match serde_json::from_str::<Value>(raw.get()) {
        Ok(Value::Object(map)) => map,
        Ok(Value::Null) => return Ok(headers),
        _ => return Err("connection_init's payload must be an object"),
    };
    add_headers(&mut headers, &map, true);
    if !headers.contains_key(AUTHORIZATION) {
        for key in ["authToken", "token"] {
            if let Some(Value::String(token)) = map.get(key)
                && let Ok(value) = HeaderValue::from_str(&format!("Bearer {}", token.trim()))
            {
                headers.insert(AUTHORIZATION, value);
                break;
            }
        }
    }
    Ok(headers)
}

fn add_headers(headers: &mut HeaderMap, map: &Map<String, Value>, top: bool) {
    for (key, value) in map {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Object(inner) if top && key.eq_ignore_ascii_case("headers") => {
                add_headers(headers, inner, false);
                continue;
            }
            _ => continue,
        };
        if headers.len() >= 64 {
            return;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&text),
        ) {
            headers.insert(name, value);
        }
    }
}

/// `auth.subs_creds_in_vars`: `X-User-ID`, `X-User-ID-Provider` and `X-User-Role` among
/// the variables set the caller.
fn creds_from_vars(auth: &mut Auth, variables: Option<&RawValue>) {
    let Some(raw) = variables else {
        return;
    };
    let Ok(map) = serde_json::from_str::<Map<String, Value>>(raw.get()) else {
        return;
    };
    for (key, value) in &map {
        let text = match value {
            Value::String(s) => s.trim().to_owned(),
            Value::Number(n) => n.to_string(),
            _ => continue,
        };
        if text.is_empty() {
            continue;
        }
        match key.to_ascii_lowercase().as_str() {
            crate::auth::DEV_USER_ID => auth.user_id = Some(text),
            crate::auth::DEV_USER_ID_PROVIDER => auth.user_id_provider = Some(text),
            crate::auth::DEV_USER_ROLE => auth.role = Some(text),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    #[test]
    fn init_payload_becomes_headers() {
        let p = raw(
            r#"{"Authorization":"Bearer abc","X-User-ID":7,"headers":{"Cookie":"_jwt=x"},"bad name":"v","nested":{"a":1}}"#,
        );
        let h = payload_headers(Some(&p)).unwrap();
        assert_eq!(h["authorization"], "Bearer abc");
        assert_eq!(h["x-user-id"], "7");
        assert_eq!(h["cookie"], "_jwt=x");
        assert_eq!(h.len(), 3);
        let h = payload_headers(Some(&raw(r#"{"authToken":"t"}"#))).unwrap();
        assert_eq!(h["authorization"], "Bearer t");
        assert!(payload_headers(Some(&raw("[1]"))).is_err());
        assert!(payload_headers(Some(&raw("null"))).unwrap().is_empty());
        assert!(payload_headers(None).unwrap().is_empty());
    }

    #[test]
    fn creds_in_vars() {
        let mut auth = Auth::anon();
        let v = raw(r#"{"id":1,"X-User-ID":5,"x-user-role":"admin","X-User-ID-Provider":" "}"#);
        creds_from_vars(&mut auth, Some(&v));
        assert_eq!(auth, Auth::user("5").with_role("admin"));
    }

    #[test]
    fn close_reasons_fit() {
        let long = "é".repeat(100);
        match close_frame(4400, &long) {
            Message::Close(Some(frame)) => {
                assert!(frame.reason.as_str().len() <= MAX_REASON);
                assert_eq!(frame.code, 4400);
            }
            _ => unreachable!(),
        }
    }
}
