//! Stopping gracefully on SIGTERM or Ctrl-C: see [`serve`].

use std::future::{Future, IntoFuture};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::subs::Subscriptions;

/// Counts the open WebSocket connections, so a shutdown can wait for their close frames.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sockets {
    inner: Arc<SocketCount>,
}

#[derive(Debug, Default)]
struct SocketCount {
    open: AtomicUsize,
    closed: Notify,
}

/// One open WebSocket connection; counted until dropped.
pub(crate) struct OpenSocket(Arc<SocketCount>);

impl Sockets {
    /// Counts a connection until the returned guard is dropped.
    pub(crate) fn open(&self) -> OpenSocket {
        self.inner.open.fetch_add(1, Ordering::SeqCst);
        OpenSocket(self.inner.clone())
    }

    /// WebSocket connections open now.
    pub(crate) fn open_count(&self) -> usize {
        self.inner.open.load(Ordering::SeqCst)
    }

    /// Waits until no connection is open.
    async fn all_closed(&self) {
        loop {
            let closed = self.inner.closed.notified();
            tokio::pin!(closed);
            closed.as_mut().enable();
            if self.inner.open.load(Ordering::SeqCst) == 0 {
                return;
            }
            closed.await;
        }
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        if self.0.open.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.closed.notify_waiters();
        }
    }
}

/// What [`serve`] needs of a [`crate::Service`] to stop it: its subscriptions, its open
/// WebSockets and the deadline. Get one with [`crate::Service::shutdown_handle`] before
/// the service goes into [`crate::router`].
#[derive(Debug, Clone)]
pub struct Shutdown {
    subs: Subscriptions,
    sockets: Sockets,
    timeout: Duration,
}

impl Shutdown {
    pub(crate) fn new(subs: Subscriptions, sockets: Sockets, timeout: Duration) -> Shutdown {
        Shutdown {
            subs,
            sockets,
            timeout,
        }
    }

    /// How long running requests and closing sockets may take once a stop begins.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Ends every subscription (each WebSocket gets its close frame) and waits until the
    /// sockets are closed. Readiness answers 503 from now on.
    pub async fn close_sockets(&self) {
        self.subs.shutdown();
        self.sockets.all_closed().await;
    }
}

/// Resolves on Ctrl-C (SIGINT) or, on Unix, SIGTERM: what a terminal and a process
/// supervisor (systemd, Kubernetes, Docker) send to stop a server.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// Serves `app` on `listener` until SIGTERM or Ctrl-C ([`shutdown_signal`]), then stops
/// as [`serve_until`] does.
///
/// Stopping gracefully: on SIGTERM or Ctrl-C stop accepting connections, let running
/// requests finish, end subscriptions with a WebSocket close frame (1001, "the server is
/// shutting down"), all within a deadline (`shutdown_timeout`, default 10 s).
///
/// ```no_run
/// # async fn demo(service: graphjin_runtime::Service) -> std::io::Result<()> {
/// let shutdown = service.shutdown_handle();
/// let app = graphjin_runtime::router(service);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// graphjin_runtime::http::serve(listener, app, shutdown).await // returns after SIGTERM/Ctrl-C
/// # }
/// ```
pub async fn serve(listener: TcpListener, app: Router, shutdown: Shutdown) -> std::io::Result<()> {
    serve_until(listener, app, shutdown, shutdown_signal()).await
}

/// Serves `app` on `listener` until `signal` resolves, then: stops accepting connections,
/// ends subscriptions with a close frame, and waits for running requests and sockets to
/// finish, for at most the shutdown's [`timeout`](Shutdown::timeout). Past it, what is
/// still running is dropped (logged as a warning). Returns `Ok` after a stop, deadline or
/// not; an error only when serving itself fails.
pub async fn serve_until(
    listener: TcpListener,
    app: Router,
    shutdown: Shutdown,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stopped.await;
        })
        .into_future();
    tokio::pin!(server);
    tokio::select! {
        served = &mut server => return served,
        () = signal => {}
    }
    tracing::info!(timeout = ?shutdown.timeout, "stopping: finishing running requests");
    let _ = stop.send(());
    let finish = async {
        let (served, ()) = tokio::join!(server, shutdown.close_sockets());
        served
    };
    match tokio::time::timeout(shutdown.timeout, finish).await {
        Ok(served) => {
            tracing::info!("stopped");
            served
        }
        Err(_) => {
            tracing::warn!(
                timeout = ?shutdown.timeout,
                "requests or sockets still open at the shutdown deadline: dropped"
            );
            Ok(())
        }
    }
}
