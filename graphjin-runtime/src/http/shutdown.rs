//! Stopping gracefully on SIGTERM or Ctrl-C: what [`serve`](super::serve) needs to stop
//! ([`Shutdown`]) and the signal it waits for ([`shutdown_signal`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use super::ServeLimits;
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

/// What [`serve`](super::serve) needs of a [`crate::Service`] to serve and stop it: its
/// subscriptions, its open WebSockets, the deadline and the connection limits. Get one with
/// [`crate::Service::shutdown_handle`] before the service goes into [`crate::router`].
#[derive(Debug, Clone)]
pub struct Shutdown {
    subs: Subscriptions,
    sockets: Sockets,
    timeout: Duration,
    limits: ServeLimits,
}

impl Shutdown {
    pub(crate) fn new(
        subs: Subscriptions,
        sockets: Sockets,
        timeout: Duration,
        limits: ServeLimits,
    ) -> Shutdown {
        Shutdown {
            subs,
            sockets,
            timeout,
            limits,
        }
    }

    /// The timeouts and connection cap [`serve`](super::serve) holds connections to.
    pub fn limits(&self) -> ServeLimits {
        self.limits
    }

    /// The same handle serving under `limits` instead.
    pub fn with_limits(mut self, limits: ServeLimits) -> Shutdown {
        self.limits = limits;
        self
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
