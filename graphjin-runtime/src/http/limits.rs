//! What [`serve`](super::serve) enforces on each connection: see [`ServeLimits`].

use std::time::Duration;

/// Timeouts and the connection cap [`serve`](super::serve) enforces, so slow or idle
/// clients cannot hold sockets (and file descriptors) for ever. Set with
/// [`Service::serve_limits`](super::Service::serve_limits), or from the config's
/// `http_header_timeout`, `http_body_timeout`, `http_idle_timeout` and
/// `http_max_connections` keys (see [`crate::config::HttpConfig`]). `None` turns a timeout
/// off.
///
/// ```
/// use std::time::Duration;
/// use graphjin_runtime::http::ServeLimits;
/// let limits = ServeLimits {
///     idle_timeout: Some(Duration::from_secs(30)),
///     ..ServeLimits::default()
/// };
/// assert_eq!(limits.header_timeout, Some(Duration::from_secs(10)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// How long a request's head (request line and headers) may take to arrive, from the
    /// connection's start (first request) or from the request's first byte (later requests
    /// on a keep-alive connection). Past it the connection is closed. Default 10 s, as
    /// GraphJin's `ReadHeaderTimeout`.
    pub header_timeout: Option<Duration>,
    /// How long a request's whole body may take to arrive, from the end of its head. Past
    /// it the request is answered 408 and the connection closed. Default 30 s.
    pub body_timeout: Option<Duration>,
    /// How long a keep-alive connection may wait for its next request. Past it the
    /// connection is closed. Default 60 s.
    pub idle_timeout: Option<Duration>,
    /// The most HTTP connections (WebSockets included) open at once; never more than the
    /// open-file limit allows (see [`ServeLimits::connection_cap`]). At the cap the
    /// longest-waiting connection without a request in progress is closed to admit a new
    /// one; when every connection is busy, the new one is answered 503 and closed.
    /// Default 10,000.
    pub max_connections: usize,
}

impl ServeLimits {
    /// The default `http_header_timeout`.
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    /// The default `http_body_timeout`.
    pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
    /// The default `http_idle_timeout`.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
    /// The default `http_max_connections`.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
    /// File descriptors left to everything but HTTP connections (the database pool, the
    /// listener, files, logs) when the open-file limit caps the connections.
    pub const RESERVED_FDS: u64 = 128;
    /// The fewest connections the open-file limit can leave.
    const MIN_CONNECTIONS: usize = 16;

    /// The connections [`serve`](super::serve) admits: `max_connections`, lowered to the
    /// process's open-file soft limit (`ulimit -n`, `RLIMIT_NOFILE`) minus
    /// [`ServeLimits::RESERVED_FDS`] (at least 16), so a flood of sockets never exhausts
    /// the descriptors the database and the listener need.
    pub fn connection_cap(&self) -> usize {
        cap_for(self.max_connections, open_file_limit())
    }
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            header_timeout: Some(Self::DEFAULT_HEADER_TIMEOUT),
            body_timeout: Some(Self::DEFAULT_BODY_TIMEOUT),
            idle_timeout: Some(Self::DEFAULT_IDLE_TIMEOUT),
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// `max` lowered to what `nofile` (the soft open-file limit, if known) leaves.
fn cap_for(max: usize, nofile: Option<u64>) -> usize {
    let max = max.max(1);
    match nofile {
        Some(limit) => {
            let room = limit.saturating_sub(ServeLimits::RESERVED_FDS);
            let room = usize::try_from(room).unwrap_or(usize::MAX);
            max.min(room.max(ServeLimits::MIN_CONNECTIONS))
        }
        None => max,
    }
}

/// The soft `RLIMIT_NOFILE`; `None` when unlimited or unknown.
#[cfg(unix)]
fn open_file_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

#[cfg(not(unix))]
fn open_file_limit() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_file_limit_caps_connections() {
        assert_eq!(cap_for(10_000, None), 10_000);
        assert_eq!(cap_for(10_000, Some(1024)), 1024 - 128);
        assert_eq!(cap_for(40, Some(1024)), 40);
        assert_eq!(cap_for(10_000, Some(64)), 16);
        assert_eq!(cap_for(0, None), 1);
        assert!(ServeLimits::default().connection_cap() >= 16);
    }
}
