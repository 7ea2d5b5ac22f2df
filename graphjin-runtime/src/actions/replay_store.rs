//! [`ReplayStore`]: signatures recorded in a redis that every instance shares, so a replayed
//! call is refused whichever instance it reaches.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use graphjin_rails::{RailsError, RedisClaims};

use super::signature::SignatureError;
use crate::config::ConfigError;

/// The default start of every key: `graphjin:replay:`.
pub const DEFAULT_REPLAY_KEY_PREFIX: &str = "graphjin:replay:";

/// How long recording one signature may take, connecting included: 2 s. Past it the call is
/// refused with 503.
pub const REPLAY_STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// A redis shared by every instance behind a load balancer, where each accepted signature is
/// recorded with `SET <prefix><auth name>:<sha256 hex of the signature> 1 NX PX <ms>`: the
/// first instance to record it accepts the call, every other refuses it (401, as a replay)
/// until the timestamp is stale everywhere.
///
/// Fails closed: while redis cannot be reached (or does not answer within
/// [`REPLAY_STORE_TIMEOUT`]) signed calls are refused with 503 and `Retry-After`, never
/// accepted unchecked; the failure is logged once per outage, without the key, signature or
/// password. Connections open on first use and are pooled. Cheap to clone: clones share the
/// connections.
///
/// ```no_run
/// use graphjin_runtime::actions::{ReplayStore, VerifyAction};
/// # fn demo() -> Result<(), graphjin_runtime::ConfigError> {
/// let store = ReplayStore::redis("redis://redis.internal:6379/0")?.key_prefix("myapp:replay:");
/// let layer = VerifyAction::new("signing-secret").replay_store(store);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ReplayStore {
    client: Arc<Client>,
    prefix: Arc<str>,
}

struct Client {
    claims: RedisClaims,
    /// Whether the last call failed: the failure is logged when this turns true, and the
    /// recovery when it turns false again.
    failing: AtomicBool,
}

impl fmt::Debug for ReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayStore")
            .field("addr", &self.addr())
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl ReplayStore {
    /// A store at `url`: `redis://[[user]:password@]host:port[/db]`, or
    /// `rediss://...[?ca_file=/path/ca.pem]` for TLS. Nothing is connected yet.
    pub fn redis(url: &str) -> Result<ReplayStore, ConfigError> {
        ReplayStore::at(url, "replay_store")
    }

    /// As [`ReplayStore::redis`], for the URL found at config key `key` (named in messages).
    pub(crate) fn at(url: &str, key: &str) -> Result<ReplayStore, ConfigError> {
        let claims = RedisClaims::new(url.trim(), key, REPLAY_STORE_TIMEOUT).map_err(|e| {
            let message = match e {
                RailsError::Config(m) => match m.strip_prefix(key) {
                    Some(rest) => rest.trim_start().to_owned(),
                    None => m,
                },
                other => other.to_string(),
            };
            ConfigError::Invalid {
                key: key.to_owned(),
                message,
            }
        })?;
        Ok(ReplayStore {
            client: Arc::new(Client {
                claims,
                failing: AtomicBool::new(false),
            }),
            prefix: DEFAULT_REPLAY_KEY_PREFIX.into(),
        })
    }

    /// The start of every key (default [`DEFAULT_REPLAY_KEY_PREFIX`]); stores with different
    /// prefixes never see each other's signatures.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into().into();
        self
    }

    /// `host:port` of the redis (never the password).
    pub fn addr(&self) -> &str {
        self.client.claims.addr()
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Records `key` for `ttl`: `Ok` when it is new, [`SignatureError::Replayed`] when some
    /// instance recorded it before, [`SignatureError::ReplayStoreUnavailable`] when redis
    /// cannot say.
    pub(crate) async fn record(&self, key: &str, ttl: Duration) -> Result<(), SignatureError> {
        match self.client.claims.claim(key, ttl).await {
            Ok(fresh) => {
                if self.client.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!(
                        replay_store = %self.addr(),
                        "the replay store answers again: signed action calls are accepted again"
                    );
                }
                if fresh {
                    Ok(())
                } else {
                    Err(SignatureError::Replayed)
                }
            }
            Err(e) => {
                if !self.client.failing.swap(true, Ordering::Relaxed) {
                    tracing::error!(
                        replay_store = %self.addr(),
                        reason = %reason(&e),
                        "the replay store cannot be reached: signed action calls are refused with 503 until it answers"
                    );
                }
                Err(SignatureError::ReplayStoreUnavailable)
            }
        }
    }
}

/// What went wrong, without the "session store" wording of the Rails client.
fn reason(e: &RailsError) -> String {
    match e {
        RailsError::Store { message, .. } => message.clone(),
        RailsError::StoreTimeout { what, ms, .. } => format!("it did not {what} within {ms} ms"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_without_leaking_the_password() {
        let s = ReplayStore::redis("rediss://:hunter2@cache.internal/1").expect("a redis URL");
        assert_eq!(s.addr(), "cache.internal:6379");
        assert_eq!(s.prefix(), DEFAULT_REPLAY_KEY_PREFIX);
        assert_eq!(s.clone().key_prefix("app:").prefix(), "app:");
        assert!(!format!("{s:?}").contains("hunter2"));
        let key = "auths[signed].hmac.replay_store";
        for bad in ["memcache://h:11211", "h:6379", "redis://:hunter2@h/x"] {
            let e = ReplayStore::at(bad, key).expect_err(bad).to_string();
            assert!(e.starts_with(&format!("`{key}`: ")), "{e}");
            assert!(e.contains("redis[s]://") && !e.contains("hunter2"), "{e}");
            assert!(!e.contains("rails"), "{e}");
        }
    }
}
