//! Server-side sessions: the cookie holds a session id and the session lives in memcached
//! or redis.
//!
//! The session is found the way Rack and Rails find it: under the private id
//! (`2::` + SHA-256 hex of the cookie's public id, Rack 2.0.8+) first, then the public id
//! (older writers, and GraphJin's own `session:<id>`), in the namespace configured or, when
//! none is, in each conventional one in turn:
//!
//! | prefix | written by |
//! | --- | --- |
//! | `session:` | redis-store (`redis://host:port/0/session`), dalli with `namespace: "session"`, GraphJin |
//! | `rack:session:` | `ActionDispatch::Session::MemCacheStore` / `Rack::Session::Dalli` defaults |
//! | `_session_id:` | `ActionDispatch::Session::CacheStore` (any `ActiveSupport::Cache` store) |
//!
//! All candidate keys go to the store in one request (memcached `get k1 k2 ...`, redis
//! `MGET`): one round trip per lookup, whichever key holds the session. What a key holds is
//! read by [`value`].

mod claims;
mod memcache;
mod pool;
mod redis;
mod tls;
pub(crate) mod value;

use std::time::Duration;

use percent_encoding::percent_decode_str;
use zeroize::Zeroizing;

use crate::RailsError;
use crate::config::{RailsConfig, redact_url};
use crate::marshal::Limits;
use pool::{Connection, Lease, Pool};

/// Namespaces tried, in order, when none is configured.
const CONVENTIONAL_PREFIXES: [&str; 3] = ["session:", "rack:session:", "_session_id:"];
const DEFAULT_MAX_IDLE: usize = 8;
const DEFAULT_MAX_ACTIVE: usize = 32;
const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 1000;
const DEFAULT_READ_TIMEOUT_MS: u64 = 2000;

/// A connection-level failure (mapped to [`RailsError`] with the store's name and address).
#[derive(Debug)]
pub(crate) enum ConnError {
    /// The socket failed or closed: the connection is dead.
    Io(std::io::Error),
    /// The store said something this client does not understand.
    Protocol(String),
    /// The store answered with an error.
    Server(String),
    /// No answer in time.
    Timeout(&'static str, Duration),
}

impl From<std::io::Error> for ConnError {
    fn from(e: std::io::Error) -> Self {
        ConnError::Io(e)
    }
}

/// Where a store is and how to talk to it.
pub(crate) struct Endpoint {
    /// `host:port`, safe to show.
    pub(crate) addr: String,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<Zeroizing<String>>,
    pub(crate) db: Option<u32>,
    /// `rediss://`: how connections are encrypted.
    pub(crate) tls: Option<tls::Tls>,
    pub(crate) connect_timeout: Duration,
    pub(crate) read_timeout: Duration,
    /// Largest value accepted from the store.
    pub(crate) max_value: usize,
}

enum Backend {
    Memcache(Pool<memcache::Conn>),
    Redis(Pool<redis::Conn>),
}

/// A session store client with its connection pool.
pub(crate) struct Store {
    backend: Backend,
    /// Key prefixes to look under, in order.
    prefixes: Vec<String>,
    /// The config key the URL came from (`rails.url`), for messages.
    what: String,
}

pub use claims::RedisClaims;

impl Store {
    /// Builds the store client (connecting lazily) from `rails.url`.
    pub(crate) fn from_config(cfg: &RailsConfig, url: &str) -> Result<Store, RailsError> {
        Store::from_url(cfg, url, "rails.url", false)
    }

    /// As [`Store::from_config`], for a URL found at config key `what` (named in messages);
    /// `redis_only` refuses memcache.
    pub(crate) fn from_url(
        cfg: &RailsConfig,
        url: &str,
        what: &str,
        redis_only: bool,
    ) -> Result<Store, RailsError> {
        let shown = redact_url(url);
        let forms = match redis_only {
            true => "",
            false => "memcache://host:port or ",
        };
        let bad = |why: &str| {
            RailsError::Config(format!(
                "{what} {shown:?} {why}: use {forms}\
                 redis[s]://[:password@]host:port[/db][?ca_file=/path/ca.pem]"
            ))
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("has no scheme"))?;
        let (userinfo, hostpart) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let (hostpart, query) = hostpart.split_once('?').unwrap_or((hostpart, ""));
        let (hostport, path) = match hostpart.split_once('/') {
            Some((h, p)) => (h, p),
            None => (hostpart, ""),
        };
        if hostport.is_empty() {
            return Err(bad("has no host"));
        }
        let default_port = match scheme {
            "memcache" | "memcached" if redis_only => return Err(bad("is not a redis URL")),
            "memcache" | "memcached" => 11211,
            "redis" | "rediss" => 6379,
            _ => return Err(bad("has an unknown scheme")),
        };
        let has_port = match hostport.rfind(']') {
            Some(end) => hostport[end..].contains(':'),
            None => hostport.contains(':'),
        };
        let addr = if has_port {
            hostport.to_string()
        } else {
            format!("{hostport}:{default_port}")
        };
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let mut ca_file = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("ca_file", path)) if scheme == "rediss" => {
                    ca_file = Some(std::path::PathBuf::from(decode(path)));
                }
                Some(("ca_file", _)) => return Err(bad("sets ca_file without TLS (rediss://)")),
                // Other parameters were always ignored; a TLS URL says what it reads.
                _ if scheme == "rediss" => {
                    return Err(bad("has a query parameter other than ca_file"));
                }
                _ => {}
            }
        }
        let tls = if scheme == "rediss" {
            let host = match hostport.rfind(']') {
                Some(end) => hostport[..end].trim_start_matches('['),
                None => hostport.rsplit_once(':').map_or(hostport, |(h, _)| h),
            };
            Some(
                tls::Tls::new(host, ca_file.as_deref())
                    .map_err(|why| RailsError::Config(format!("{what} {shown:?}: {why}")))?,
            )
        } else {
            None
        };
        let (mut username, mut password) = (None, None);
        if let Some(info) = userinfo {
            let (user, pass) = info.split_once(':').unwrap_or(("", info));
            if !user.is_empty() {
                username = Some(decode(user));
            }
            if !pass.is_empty() {
                password = Some(Zeroizing::new(decode(pass)));
            }
        }
        if let Some(p) = cfg.password.as_ref().filter(|p| !p.is_empty()) {
            password = Some(Zeroizing::new(p.clone()));
        }
        // redis-store's form: `redis://host:port/db/namespace`.
        let (db, url_namespace) = match path.trim_matches('/').split_once('/') {
            Some((db, ns)) => (db, Some(ns)),
            None => (path.trim_matches('/'), None),
        };
        let db = match db {
            "" => None,
            p => Some(
                p.parse::<u32>()
                    .map_err(|_| bad("has a database that is not a number"))?,
            ),
        };
        let max_active = cfg.max_active.unwrap_or(DEFAULT_MAX_ACTIVE);
        if max_active == 0 {
            return Err(RailsError::Config(
                "rails.max_active must be at least 1".into(),
            ));
        }
        let max_idle = cfg.max_idle.unwrap_or(DEFAULT_MAX_IDLE);
        let endpoint = Endpoint {
            addr,
            username,
            password,
            db,
            tls,
            connect_timeout: Duration::from_millis(
                cfg.connect_timeout_ms
                    .unwrap_or(DEFAULT_CONNECT_TIMEOUT_MS)
                    .max(1),
            ),
            read_timeout: Duration::from_millis(
                cfg.read_timeout_ms
                    .unwrap_or(DEFAULT_READ_TIMEOUT_MS)
                    .max(1),
            ),
            max_value: Limits::default().max_input,
        };
        let backend = if default_port == 6379 {
            Backend::Redis(Pool::new(endpoint, max_idle, max_active))
        } else {
            if endpoint.password.is_some() || endpoint.db.is_some() {
                return Err(bad("sets a password or database, which memcached has not"));
            }
            Backend::Memcache(Pool::new(endpoint, max_idle, max_active))
        };
        let namespace = cfg
            .namespace
            .as_deref()
            .map(|ns| ("rails.namespace", ns))
            .or(url_namespace.map(|ns| ("the namespace in rails.url", ns)));
        let prefixes = match (&cfg.key_prefix, namespace) {
            (Some(prefix), _) => vec![checked_prefix("rails.key_prefix", prefix.clone())?],
            (None, Some((what, ns))) => vec![checked_prefix(what, format!("{ns}:"))?],
            (None, None) => CONVENTIONAL_PREFIXES.map(String::from).to_vec(),
        };
        Ok(Store {
            backend,
            prefixes,
            what: what.to_owned(),
        })
    }

    /// The keys a session id may be stored under, in the order they are preferred.
    fn candidate_keys(&self, public_id: &str) -> Vec<String> {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(public_id.as_bytes());
        let mut private = String::with_capacity(3 + 64);
        private.push_str("2::");
        for b in digest {
            private.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            private.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
        }
        self.prefixes
            .iter()
            .flat_map(|p| [format!("{p}{private}"), format!("{p}{public_id}")])
            .collect()
    }

    /// The name of the store, for messages.
    pub(crate) fn name(&self) -> &'static str {
        match self.backend {
            Backend::Memcache(_) => "memcache",
            Backend::Redis(_) => "redis",
        }
    }

    fn endpoint(&self) -> &Endpoint {
        match &self.backend {
            Backend::Memcache(p) => &p.endpoint,
            Backend::Redis(p) => &p.endpoint,
        }
    }

    /// Reads the stored value of the session whose public id is `session_id` (`None` when
    /// there is none), in one round trip to the store.
    pub(crate) async fn get(&self, session_id: &str) -> Result<Option<Vec<u8>>, RailsError> {
        let keys = self.candidate_keys(session_id);
        let result = match &self.backend {
            Backend::Memcache(pool) => with_retry(pool, &keys).await,
            Backend::Redis(pool) => with_retry(pool, &keys).await,
        };
        let values = result.map_err(|e| self.error(e))?;
        Ok(values.into_iter().flatten().next())
    }

    fn error(&self, e: ConnError) -> RailsError {
        let ep = self.endpoint();
        let (store, addr) = (self.name(), ep.addr.clone());
        match e {
            ConnError::Timeout(what, d) => RailsError::StoreTimeout {
                store,
                addr,
                what,
                ms: u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            },
            ConnError::Io(e) => RailsError::Store {
                store,
                addr,
                message: match e.kind() {
                    std::io::ErrorKind::ConnectionRefused => {
                        "connection refused (is the server running?)".into()
                    }
                    std::io::ErrorKind::UnexpectedEof => "the server closed the connection".into(),
                    _ => e.to_string(),
                },
            },
            ConnError::Protocol(m) => RailsError::Store {
                store,
                addr,
                message: m,
            },
            ConnError::Server(m) => {
                let hint = match (
                    m.starts_with("NOAUTH") || m.starts_with("WRONGPASS"),
                    &*self.what,
                ) {
                    (false, _) => String::new(),
                    (true, "rails.url") => " (check rails.password)".to_owned(),
                    (true, what) => format!(" (check the password in {what})"),
                };
                RailsError::Store {
                    store,
                    addr,
                    message: format!("server error: {m}{hint}"),
                }
            }
        }
    }
}

/// Runs one request on a pooled connection within the read timeout. A reused connection that
/// turns out dead (the server restarted or closed it) is dropped and the request is tried once
/// more on a fresh one; a connection that failed in any way is never put back.
async fn with_retry<C: Connection>(
    pool: &Pool<C>,
    keys: &[String],
) -> Result<Vec<Option<Vec<u8>>>, ConnError> {
    let mut fresh = false;
    loop {
        let mut lease: Lease<'_, C> = pool.acquire(fresh).await?;
        let timeout = pool.endpoint.read_timeout;
        let result = tokio::time::timeout(timeout, lease.conn.get_many(keys, &pool.endpoint)).await;
        match result {
            Ok(Ok(v)) => {
                lease.release();
                return Ok(v);
            }
            Ok(Err(ConnError::Io(_))) if lease.reused && !fresh => fresh = true,
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(ConnError::Timeout("answer", timeout)),
        }
    }
}

/// A key prefix, checked to be safe in either store's protocol.
fn checked_prefix(what: &str, prefix: String) -> Result<String, RailsError> {
    if prefix.len() > 128 || prefix.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(RailsError::Config(format!(
            "{what} must be at most 128 characters without spaces or control characters"
        )));
    }
    Ok(prefix)
}

/// Reads one `\r\n`-terminated line of at most `limit` bytes (without the terminator).
pub(crate) async fn read_line<R>(r: &mut R, limit: usize) -> Result<Vec<u8>, ConnError>
where
    R: tokio::io::AsyncBufRead + Unpin,
{
    use tokio::io::AsyncBufReadExt;
    let mut line = Vec::new();
    let mut limited = tokio::io::AsyncReadExt::take(r, limit as u64 + 2);
    let n = limited.read_until(b'\n', &mut line).await?;
    if n == 0 {
        return Err(ConnError::Io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    if !line.ends_with(b"\r\n") {
        return Err(ConnError::Protocol(
            if line.len() > limit {
                "a reply line is too long"
            } else {
                "a reply line ended early"
            }
            .into(),
        ));
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

/// Reads exactly `n` bytes followed by `\r\n`.
pub(crate) async fn read_block<R>(r: &mut R, n: usize) -> Result<Vec<u8>, ConnError>
where
    R: tokio::io::AsyncRead + Unpin,
{
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; n + 2];
    r.read_exact(&mut buf).await?;
    if !buf.ends_with(b"\r\n") {
        return Err(ConnError::Protocol(
            "a data block is not followed by CRLF".into(),
        ));
    }
    buf.truncate(n);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(url: &str) -> Result<Store, RailsError> {
        Store::from_config(&RailsConfig::default(), url)
    }

    #[test]
    fn candidate_keys_private_then_public() {
        let s = store("redis://h").unwrap();
        let keys = s.candidate_keys("7736d97c730981538a8bb4b8f2b4b157");
        assert_eq!(keys.len(), 6);
        // Rails' `Rack::Session::SessionId#private_id` of this id (from stores.json).
        assert_eq!(
            keys[4],
            "_session_id:2::e9cccd00d650bed2578fdeea2e87af6fe8f68802b9b96ba923d451afdfed7683"
        );
        assert_eq!(keys[1], "session:7736d97c730981538a8bb4b8f2b4b157");
        let cfg = RailsConfig {
            namespace: Some("app".into()),
            ..Default::default()
        };
        let s = Store::from_config(&cfg, "memcache://h").unwrap();
        assert_eq!(s.candidate_keys("ab")[1], "app:ab");
        let cfg = RailsConfig {
            namespace: Some("bad space".into()),
            ..Default::default()
        };
        assert!(Store::from_config(&cfg, "memcache://h").is_err());
    }

    #[test]
    fn urls() {
        let s = store("memcache://127.0.0.1").unwrap();
        assert_eq!(s.endpoint().addr, "127.0.0.1:11211");
        let s = store("redis://:p%40ss@localhost:7000/3").unwrap();
        let ep = s.endpoint();
        assert_eq!(ep.addr, "localhost:7000");
        assert_eq!(ep.password.as_ref().map(|p| p.as_str()), Some("p@ss"));
        assert_eq!(ep.db, Some(3));
        assert_eq!(
            store("redis://[::1]").unwrap().endpoint().addr,
            "[::1]:6379"
        );
        let s = store("redis://h:1/2/myapp").unwrap();
        assert_eq!(
            (s.endpoint().db, s.prefixes.clone()),
            (Some(2), vec!["myapp:".to_string()])
        );
        let s = store("redis://h:1").unwrap();
        assert_eq!(s.prefixes, ["session:", "rack:session:", "_session_id:"]);
        for bad in [
            "rediss://h/0?verify_mode=none",
            "redis://h?ca_file=/x",
            "rediss://h?ca_file=/nonexistent/ca.pem",
            "http://h",
            "redis://",
            "h:1",
            "redis://h/x",
            "redis://h/x/ns",
        ] {
            let e = store(bad).err().expect(bad).to_string();
            assert!(e.contains("rails.url"), "{e}");
        }
        let e = store("redis://:hunter2@h/x").err().unwrap().to_string();
        assert!(!e.contains("hunter2"), "{e}");
    }
}
