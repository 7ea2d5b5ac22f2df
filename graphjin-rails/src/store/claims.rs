//! [`RedisClaims`]: "first use wins" keys in redis (`SET key 1 NX PX ms`), on the same
//! client as the session stores (redis:// and rediss://, AUTH and SELECT from the URL,
//! pooled connections, timeouts).

use std::fmt;
use std::time::Duration;

use super::pool::{Lease, Pool};
use super::{Backend, ConnError, Store, redis};
use crate::{RailsConfig, RailsError};

/// A redis client that claims keys for a time: the first [`RedisClaims::claim`] of a key
/// sets it and gets `true`; every later one, from any process sharing the redis, gets
/// `false` until the key expires. Connections are opened on first use and pooled (at most 32
/// at once, 8 kept idle). Cheap to share behind an `Arc`.
pub struct RedisClaims {
    store: Store,
    timeout: Duration,
}

impl fmt::Debug for RedisClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisClaims")
            .field("addr", &self.addr())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RedisClaims {
    /// A client for `url` (`redis://[[user]:password@]host:port[/db]`, or `rediss://` with an
    /// optional `?ca_file=/path/ca.pem`), found at config key `what` (named in messages, never
    /// with the password). Each claim, connecting included, takes at most `timeout`. Nothing
    /// is connected yet.
    pub fn new(url: &str, what: &str, timeout: Duration) -> Result<RedisClaims, RailsError> {
        let timeout = timeout.max(Duration::from_millis(1));
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        let cfg = RailsConfig {
            connect_timeout_ms: Some(ms),
            read_timeout_ms: Some(ms),
            ..RailsConfig::default()
        };
        let store = Store::from_url(&cfg, url, what, true)?;
        Ok(RedisClaims { store, timeout })
    }

    /// `host:port` of the server (never the password).
    pub fn addr(&self) -> &str {
        &self.store.endpoint().addr
    }

    /// Sets `key` for `ttl` unless it is set: `Ok(true)` when this call set it, `Ok(false)`
    /// when it was already there (its expiry is left alone). An error when redis cannot be
    /// reached, does not answer within the timeout, or answers with an error (see
    /// [`RailsError::is_unavailable`]).
    pub async fn claim(&self, key: &str, ttl: Duration) -> Result<bool, RailsError> {
        let Backend::Redis(pool) = &self.store.backend else {
            return Err(RailsError::Config("not a redis store".into()));
        };
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        match tokio::time::timeout(self.timeout, set_once(pool, key.as_bytes(), ms)).await {
            Ok(result) => result.map_err(|e| self.store.error(e)),
            Err(_) => Err(self.store.error(ConnError::Timeout("answer", self.timeout))),
        }
    }
}

/// `SET key 1 NX PX ms` on a pooled connection. A reused connection that turns out dead (the
/// server restarted or closed it idle) is dropped and the command sent once more on a fresh
/// one: the server had not run it, since it closed before reading it. A connection that
/// failed in any way is never put back.
async fn set_once(pool: &Pool<redis::Conn>, key: &[u8], ms: u64) -> Result<bool, ConnError> {
    let mut fresh = false;
    loop {
        let mut lease: Lease<'_, redis::Conn> = pool.acquire(fresh).await?;
        let timeout = pool.endpoint.read_timeout;
        let sent = lease.conn.set_nx_px(key, b"1", ms, &pool.endpoint);
        match tokio::time::timeout(timeout, sent).await {
            Ok(Ok(set)) => {
                lease.release();
                return Ok(set);
            }
            Ok(Err(ConnError::Io(_))) if lease.reused && !fresh => fresh = true,
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(ConnError::Timeout("answer", timeout)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_named() {
        let what = "auths[signed].hmac.replay_store";
        let c = RedisClaims::new("redis://:pw@127.0.0.1:7000/2", what, Duration::from_secs(2))
            .expect("a redis URL");
        assert_eq!(c.addr(), "127.0.0.1:7000");
        assert!(!format!("{c:?}").contains("pw"));
        for bad in [
            "memcache://h:1",
            "http://h",
            "redis://h/x",
            "redis://:hunter2@h/x",
        ] {
            let e = RedisClaims::new(bad, what, Duration::from_secs(1))
                .expect_err(bad)
                .to_string();
            assert!(e.contains(what), "{e}");
            assert!(!e.contains("rails.url") && !e.contains("hunter2"), "{e}");
            assert!(!e.contains("memcache://host"), "{e}");
        }
    }

    #[tokio::test]
    async fn claims_once_and_expires() {
        let server =
            crate::test_servers::StoreServer::start(crate::test_servers::Kind::Redis, Some("pw"));
        let url = format!("redis://:pw@127.0.0.1:{}/3", server.port());
        let c = RedisClaims::new(&url, "replay", Duration::from_secs(2)).expect("client");
        assert!(c.claim("k:a", Duration::from_millis(300)).await.unwrap());
        assert!(!c.claim("k:a", Duration::from_secs(60)).await.unwrap());
        assert!(c.claim("k:b", Duration::from_secs(60)).await.unwrap());
        // The second claim left the first expiry alone: the key goes after 300 ms.
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(c.claim("k:a", Duration::from_secs(60)).await.unwrap());

        // A wrong password is an error naming the key, not a claim.
        let wrong = format!("redis://:nope@127.0.0.1:{}", server.port());
        let c2 = RedisClaims::new(&wrong, "replay", Duration::from_secs(2)).expect("client");
        let e = c2.claim("k:c", Duration::from_secs(1)).await.unwrap_err();
        assert!(e.is_unavailable(), "{e}");
        assert!(
            e.to_string().contains("check the password in replay"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_dead_server_is_an_error_and_a_restart_is_survived() {
        let mut server =
            crate::test_servers::StoreServer::start(crate::test_servers::Kind::Redis, None);
        let c = RedisClaims::new(&server.url(), "replay", Duration::from_secs(2)).expect("client");
        assert!(c.claim("k", Duration::from_secs(60)).await.unwrap());
        server.kill();
        let e = c.claim("k2", Duration::from_secs(60)).await.unwrap_err();
        assert!(e.is_unavailable(), "{e}");
        // Back, empty (the data went with the process): a fresh connection is dialled.
        server.restart();
        assert!(c.claim("k", Duration::from_secs(60)).await.unwrap());
        // A server that accepts but never answers: an error within the timeout.
        server.signal("-STOP");
        let c3 =
            RedisClaims::new(&server.url(), "replay", Duration::from_millis(300)).expect("client");
        let started = std::time::Instant::now();
        let e = c3.claim("k3", Duration::from_secs(60)).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2), "{e}");
        assert!(e.is_unavailable(), "{e}");
        server.signal("-CONT");
    }
}
