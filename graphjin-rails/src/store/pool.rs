//! A small bounded connection pool: at most `max_active` connections exist at once (callers
//! beyond that wait, for a bounded time), at most `max_idle` are kept between uses, and a
//! connection that failed is dropped, never reused.

use std::future::Future;
use std::sync::Mutex;

use tokio::sync::{Semaphore, SemaphorePermit};

use super::{ConnError, Endpoint};

/// A store connection that the pool can dial.
pub(crate) trait Connection: Sized + Send {
    /// Opens a connection and does any handshake (AUTH, SELECT). Timeouts are applied by
    /// the pool.
    fn connect(endpoint: &Endpoint) -> impl Future<Output = Result<Self, ConnError>> + Send;

    /// Reads the values under `keys` in one round trip (`None` where there is none), in
    /// the order of `keys`.
    fn get_many(
        &mut self,
        keys: &[String],
        endpoint: &Endpoint,
    ) -> impl Future<Output = Result<Vec<Option<Vec<u8>>>, ConnError>> + Send;
}

pub(crate) struct Pool<C> {
    idle: Mutex<Vec<C>>,
    permits: Semaphore,
    max_idle: usize,
    max_active: usize,
    pub(crate) endpoint: Endpoint,
}

/// A connection on loan: dropped unless [`Lease::release`] gives it back.
pub(crate) struct Lease<'a, C> {
    pool: &'a Pool<C>,
    pub(crate) conn: C,
    /// Whether it came from the idle list (and so may have gone stale).
    pub(crate) reused: bool,
    _permit: SemaphorePermit<'a>,
}

impl<C> Lease<'_, C> {
    /// Returns a healthy connection to the idle list (or closes it when the list is full).
    pub(crate) fn release(self) {
        let mut idle = self.pool.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.pool.max_idle {
            idle.push(self.conn);
        }
    }
}

impl<C: Connection> Pool<C> {
    pub(crate) fn new(endpoint: Endpoint, max_idle: usize, max_active: usize) -> Self {
        Pool {
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(max_active),
            max_idle: max_idle.min(max_active),
            max_active,
            endpoint,
        }
    }

    /// Takes an idle connection, or dials one (`fresh` forces a new one).
    pub(crate) async fn acquire(&self, fresh: bool) -> Result<Lease<'_, C>, ConnError> {
        let ep = &self.endpoint;
        let wait = ep.connect_timeout + ep.read_timeout;
        let permit = match tokio::time::timeout(wait, self.permits.acquire()).await {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => return Err(ConnError::Protocol("connection pool closed".into())),
            Err(_) => {
                return Err(ConnError::Protocol(format!(
                    "all {} connections stayed busy for {} ms (raise rails.max_active)",
                    self.max_active,
                    wait.as_millis()
                )));
            }
        };
        if !fresh {
            let conn = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            if let Some(conn) = conn {
                return Ok(Lease {
                    pool: self,
                    conn,
                    reused: true,
                    _permit: permit,
                });
            }
        }
        let conn = dial::<C>(ep).await?;
        Ok(Lease {
            pool: self,
            conn,
            reused: false,
            _permit: permit,
        })
    }

    /// How many idle connections are kept.
    #[cfg(test)]
    pub(crate) fn idle_count(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

async fn dial<C: Connection>(ep: &Endpoint) -> Result<C, ConnError> {
    // The connect timeout covers TCP connect and the handshake's first answer.
    let budget = ep.connect_timeout + ep.read_timeout;
    match tokio::time::timeout(budget, C::connect(ep)).await {
        Ok(r) => r,
        Err(_) => Err(ConnError::Timeout("answer its handshake", budget)),
    }
}

/// Connects a TCP stream within the connect timeout.
pub(crate) async fn tcp(ep: &Endpoint) -> Result<tokio::net::TcpStream, ConnError> {
    match tokio::time::timeout(ep.connect_timeout, tokio::net::TcpStream::connect(&ep.addr)).await {
        Ok(Ok(s)) => {
            let _ = s.set_nodelay(true);
            Ok(s)
        }
        Ok(Err(e)) => Err(ConnError::Io(e)),
        Err(_) => Err(ConnError::Timeout("connect", ep.connect_timeout)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    static LIVE: AtomicUsize = AtomicUsize::new(0);
    static MAX_LIVE: AtomicUsize = AtomicUsize::new(0);
    static DIALS: AtomicUsize = AtomicUsize::new(0);

    struct Fake;

    impl Drop for Fake {
        fn drop(&mut self) {
            LIVE.fetch_sub(1, Ordering::SeqCst);
        }
    }

    impl Connection for Fake {
        async fn connect(_: &Endpoint) -> Result<Self, ConnError> {
            DIALS.fetch_add(1, Ordering::SeqCst);
            let live = LIVE.fetch_add(1, Ordering::SeqCst) + 1;
            MAX_LIVE.fetch_max(live, Ordering::SeqCst);
            Ok(Fake)
        }

        async fn get_many(
            &mut self,
            keys: &[String],
            _: &Endpoint,
        ) -> Result<Vec<Option<Vec<u8>>>, ConnError> {
            tokio::time::sleep(Duration::from_millis(2)).await;
            Ok(vec![Some(vec![1]); keys.len()])
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bounded_pool() {
        let ep = Endpoint {
            addr: "test:1".into(),
            username: None,
            password: None,
            db: None,
            tls: None,
            connect_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(5),
            max_value: 1024,
        };
        let pool = std::sync::Arc::new(Pool::<Fake>::new(ep, 2, 3));
        let mut tasks = Vec::new();
        for _ in 0..60 {
            let pool = pool.clone();
            tasks.push(tokio::spawn(async move {
                let mut lease = pool.acquire(false).await.unwrap();
                let keys = ["k".to_string()];
                let v = lease.conn.get_many(&keys, &pool.endpoint).await.unwrap();
                lease.release();
                v
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), vec![Some(vec![1])]);
        }
        assert!(MAX_LIVE.load(Ordering::SeqCst) <= 3, "{MAX_LIVE:?}");
        assert!(pool.idle_count() <= 2);
        assert_eq!(LIVE.load(Ordering::SeqCst), pool.idle_count());
        assert!(DIALS.load(Ordering::SeqCst) < 60, "connections are reused");
    }
}
