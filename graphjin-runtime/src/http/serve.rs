//! The server loop: [`serve`] and [`serve_until`] accept HTTP/1 connections (WebSocket
//! upgrades included) under the [`ServeLimits`] the [`Shutdown`] handle carries, and stop
//! gracefully.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::header::{CONNECTION, CONTENT_TYPE, HeaderValue};
use axum::http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower_service::Service as _;

use super::ServeLimits;
use super::bodies::{TimedBody, TrackedBody};
use super::conns::{Conn, Registry};
use super::shutdown::{Shutdown, shutdown_signal};
use super::watched::Watched;

/// Serves `app` on `listener` until SIGTERM or Ctrl-C ([`shutdown_signal`]), then stops
/// as [`serve_until`] does.
///
/// Stopping gracefully: on SIGTERM or Ctrl-C stop accepting connections, close idle
/// keep-alive connections, let running requests finish, end subscriptions with a WebSocket
/// close frame (1001, "the server is shutting down"), all within a deadline
/// (`shutdown_timeout`, default 10 s).
///
/// Each connection is held to the [`ServeLimits`] of the service the handle came from
/// (header, body and idle timeouts, and a cap on open connections).
///
/// ```no_run
/// # async fn demo(service: graphjin_runtime::Service) -> std::io::Result<()> {
/// let shutdown = service.shutdown_handle();
/// let app = graphjin_runtime::router(service);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// graphjin_runtime::http::serve(listener, app, shutdown).await // returns after SIGTERM/Ctrl-C
/// # }
/// ```
pub async fn serve(listener: TcpListener, app: Router, shutdown: Shutdown) -> io::Result<()> {
    serve_until(listener, app, shutdown, shutdown_signal()).await
}

/// Serves `app` on `listener` until `signal` resolves, then: stops accepting connections,
/// closes idle keep-alive connections, ends subscriptions with a close frame, and waits for
/// running requests and sockets to finish, for at most the shutdown's
/// [`timeout`](Shutdown::timeout). Past it, what is still running is left behind (logged as
/// a warning). Returns `Ok` after a stop, deadline or not.
///
/// While serving, every connection is held to the handle's [`ServeLimits`]:
///
/// - a request head that does not arrive within `header_timeout`, or a keep-alive
///   connection without a request for `idle_timeout`, is closed;
/// - a request body that does not arrive whole within `body_timeout` is answered 408 and its
///   connection closed;
/// - at most [`ServeLimits::connection_cap`] connections are open: at the cap the one that
///   has waited longest for a request is closed to admit the new one, and when all are
///   busy the new one is answered 503 and closed.
///
/// WebSocket connections, once upgraded, are subject to none of these timeouts (the
/// subscription protocol has its own); they count towards the cap.
pub async fn serve_until(
    listener: TcpListener,
    app: Router,
    shutdown: Shutdown,
    signal: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let limits = shutdown.limits();
    let cap = limits.connection_cap();
    if cap < limits.max_connections {
        tracing::info!(
            cap,
            max_connections = limits.max_connections,
            "http_max_connections lowered to what the open-file limit (ulimit -n) leaves"
        );
    }
    let (stop, stopping) = watch::channel(false);
    let server = Server {
        app,
        limits,
        registry: Registry::new(cap, limits),
        stopping,
    };
    let mut conns = JoinSet::new();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            () = &mut signal => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => server.admit(stream, &mut conns),
                Err(e) => accept_failed(e).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    tracing::info!(timeout = ?shutdown.timeout(), "stopping: finishing running requests");
    let _ = stop.send(true);
    let finish = async {
        let drained = async { while conns.join_next().await.is_some() {} };
        tokio::join!(drained, shutdown.close_sockets());
    };
    match tokio::time::timeout(shutdown.timeout(), finish).await {
        Ok(()) => tracing::info!("stopped"),
        Err(_) => {
            tracing::warn!(
                timeout = ?shutdown.timeout(),
                "requests or sockets still open at the shutdown deadline: dropped"
            );
            // Left to run out on their own, as they would outside this function.
            conns.detach_all();
        }
    }
    Ok(())
}

/// An accept that failed: a connection reset before it was accepted is skipped; anything
/// else (out of file descriptors, most likely) is logged and retried after a pause.
async fn accept_failed(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    ) {
        return;
    }
    tracing::warn!(error = %e, "cannot accept a connection: retrying in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// What each connection needs.
struct Server {
    app: Router,
    limits: ServeLimits,
    registry: Registry,
    stopping: watch::Receiver<bool>,
}

impl Server {
    /// Serves `stream` on a task of `conns`, or refuses it with 503 when every admitted
    /// connection is busy.
    fn admit(&self, stream: TcpStream, conns: &mut JoinSet<()>) {
        let Some(slot) = self.registry.admit() else {
            tracing::debug!("connection cap reached and every connection busy: answered 503");
            // Best effort and without waiting: a fresh socket's send buffer is empty.
            let _ = stream.try_write(BUSY.as_bytes());
            return;
        };
        let conn = slot.conn().clone();
        let io = TokioIo::new(Watched::new(stream, slot));
        let app = self.app.clone();
        let limits = self.limits;
        let mut stopping = self.stopping.clone();
        conns.spawn(async move {
            let service = {
                let conn = conn.clone();
                hyper::service::service_fn(move |req| {
                    handle(req, app.clone(), conn.clone(), limits.body_timeout)
                })
            };
            let mut builder = http1::Builder::new();
            // The header and idle timeouts are the socket's (Watched): hyper's own header
            // timeout would also cut keep-alive connections short.
            builder.header_read_timeout(None);
            let served = builder.serve_connection(io, service).with_upgrades();
            tokio::pin!(served);
            let result = tokio::select! {
                result = served.as_mut() => result,
                () = conn.evicted() => return,
                () = async { drop(stopping.wait_for(|stop| *stop).await) } => {
                    // Idle connections close now; a running request finishes first.
                    served.as_mut().graceful_shutdown();
                    served.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
}

/// Serves one request: under the body timeout, and noting on the connection when it
/// starts, ends, or upgrades.
async fn handle(
    req: Request<Incoming>,
    mut app: Router,
    conn: Arc<Conn>,
    body_timeout: Option<Duration>,
) -> Result<Response<TrackedBody<Body>>, Infallible> {
    if !conn.begin_request() {
        // Evicted between reading the head and this call: the request never runs.
        return Ok(
            closing(StatusCode::SERVICE_UNAVAILABLE, BUSY_BODY.to_owned())
                .map(|b| TrackedBody::new(b, conn)),
        );
    }
    let timed_out = Arc::new(AtomicBool::new(false));
    let deadline = body_timeout.map(|t| Instant::now() + t);
    let req = req.map(|body| TimedBody::new(body, deadline, timed_out.clone()));
    let response = match app.call(req).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let response = match body_timeout {
        Some(t) if timed_out.load(Ordering::Acquire) => body_timed_out(t),
        _ => response,
    };
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        conn.upgraded();
    }
    Ok(response.map(|body| TrackedBody::new(body, conn)))
}

/// 408: the body did not arrive in time; the connection closes.
fn body_timed_out(timeout: Duration) -> Response<Body> {
    tracing::debug!(?timeout, "request body timed out");
    let body = serde_json::json!({"errors": [{
        "message": format!(
            "the request body did not arrive within {} s (http_body_timeout): send it whole, and faster",
            timeout.as_secs_f64()
        ),
        "extensions": {"code": "REQUEST_TIMEOUT"},
    }]});
    closing(StatusCode::REQUEST_TIMEOUT, body.to_string())
}

/// A JSON response that closes its connection.
fn closing(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

const BUSY_BODY: &str = r#"{"errors":[{"message":"the server is at its connection limit (http_max_connections): try again shortly","extensions":{"code":"SERVICE_UNAVAILABLE"}}]}"#;

/// The whole 503 written to a connection over the cap.
static BUSY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{BUSY_BODY}",
        BUSY_BODY.len()
    )
});
