//! Read replicas: queries and subscription polls on a healthy streaming replica, writes
//! on the primary.
//!
//! - Each replica (config `database.read_replicas`, or [`crate::DbBuilder::read_replica`])
//!   has a pool of its own, opened and prepared like the primary's (the same statements,
//!   the same session setup, TLS from its URL and the builder's TLS keys).
//! - A query or a subscription poll goes to the least busy replica in use (fewest calls in
//!   flight); a mutation, an action and the role of a caller who just wrote go to the
//!   primary (read-your-writes, [`crate::PoolOptions::read_your_writes`]: for that window
//!   after a caller's mutation, keyed by the authenticated user id).
//! - A background check (every [`crate::PoolOptions::replica_check_interval`], each query
//!   bounded by the health timeout) takes a replica out when it does not answer or lags more
//!   than [`crate::PoolOptions::max_replica_lag`] (measured from WAL positions, see
//!   `lag.rs`), and puts it back once it answers and has caught up. A call that cannot get
//!   or loses a connection to a replica takes it out at once and runs on the primary, so a
//!   replica dying under load fails no read. With no replica in use, reads go to the
//!   primary.
//! - Readiness ([`crate::Db::ready`]) is the primary's; [`crate::Db::replica_status`] says
//!   which replicas are in use and why the others are not.

mod check;
mod lag;
mod open;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use graphjin_pgtls::TlsOptions;
use serde::Serialize;
use tokio::time::Instant;

pub(crate) use open::open;

use crate::Auth;
use crate::pool::Pool;

/// A read replica's connection URL (`postgres://…`, libpq's TLS settings such as
/// `sslmode` work as in the primary's URL). Its `Debug` output never shows the URL, which
/// may hold a password.
#[derive(Clone, PartialEq, Eq)]
pub struct ReplicaUrl(String);

impl ReplicaUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> ReplicaUrl {
        ReplicaUrl(url.into())
    }

    /// The URL itself, password included. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ReplicaUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReplicaUrl(<redacted>)")
    }
}

/// One replica as readiness reports show it ([`crate::Db::replica_status`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicaStatus {
    /// Where it is, `postgres://user@host:port/db`, without the password.
    pub target: String,
    /// Reads go to it now.
    pub in_use: bool,
    /// Its lag at the last check, in milliseconds (`None`: not measured yet, or it did not
    /// answer).
    pub lag_ms: Option<u64>,
    /// Calls in flight on it.
    pub in_flight: usize,
    /// Why it is out (down, lagging), when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Where a call runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// The primary's pool.
    Primary,
    /// Replica number `n`'s pool.
    Replica(usize),
}

/// One replica: its pool and what the last check found.
pub(crate) struct Replica {
    pub(crate) pool: Pool,
    in_use: AtomicBool,
    /// Milliseconds, `u64::MAX` when unknown.
    lag_ms: AtomicU64,
    reason: Mutex<Option<String>>,
}

impl Replica {
    /// A replica whose pool is `pool`; in use when `reason` is `None`.
    pub(crate) fn new(pool: Pool, reason: Option<String>) -> Replica {
        Replica {
            pool,
            in_use: AtomicBool::new(reason.is_none()),
            lag_ms: AtomicU64::new(u64::MAX),
            reason: Mutex::new(reason),
        }
    }

    /// Takes the replica out (`Some(why)`) or puts it back (`None`); logs a change.
    fn set(&self, out: Option<String>) {
        let was = self.in_use.swap(out.is_none(), Ordering::SeqCst);
        match (&out, was) {
            (Some(why), true) => tracing::warn!(
                replica = self.pool.target(),
                reason = %why,
                "read replica taken out: reads go elsewhere"
            ),
            (None, false) => {
                tracing::info!(replica = self.pool.target(), "read replica back in use")
            }
            _ => {}
        }
        *self.reason.lock().unwrap_or_else(PoisonError::into_inner) = out;
    }
}

/// The replicas of a [`crate::Db`], their check, and who wrote recently.
pub(crate) struct Replicas {
    shared: Arc<Shared>,
}

struct Shared {
    replicas: Vec<Replica>,
    /// Read-your-writes window.
    read_your_writes: Option<Duration>,
    /// Authenticated callers who wrote, and until when their reads go to the primary.
    writers: Mutex<HashMap<String, Instant>>,
}

/// Where a replica is and how to reach it, before its pool exists.
#[derive(Debug, Clone)]
pub(crate) struct ReplicaSpec {
    pub(crate) url: ReplicaUrl,
    /// TLS keys laid over the URL's (else the builder's, as for the primary).
    pub(crate) tls: Option<TlsOptions>,
}

/// How the replica check runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CheckOptions {
    pub(crate) every: Duration,
    pub(crate) max_lag: Duration,
    pub(crate) timeout: Duration,
}

impl Replicas {
    /// The set; its check starts with [`Replicas::start_check`].
    pub(crate) fn new(replicas: Vec<Replica>, read_your_writes: Option<Duration>) -> Replicas {
        Replicas {
            shared: Arc::new(Shared {
                replicas,
                read_your_writes: read_your_writes.filter(|w| !w.is_zero()),
                writers: Mutex::default(),
            }),
        }
    }

    /// Starts the background check, which compares each replica with `primary` and ends
    /// when the set is dropped.
    pub(crate) fn start_check(&self, primary: Pool, options: CheckOptions) {
        if self.shared.replicas.is_empty() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(check::run(Arc::downgrade(&self.shared), primary, options));
        }
    }

    /// Where a read for `auth` runs: the least busy replica in use, unless the caller
    /// wrote within the read-your-writes window or none is in use.
    pub(crate) fn route_read(&self, auth: &Auth) -> Route {
        let s = &self.shared;
        if s.replicas.is_empty() || self.wrote_recently(auth) {
            return Route::Primary;
        }
        s.replicas
            .iter()
            .enumerate()
            .filter(|(_, r)| r.in_use.load(Ordering::SeqCst))
            .min_by_key(|(_, r)| r.pool.status().in_flight)
            .map_or(Route::Primary, |(i, _)| Route::Replica(i))
    }

    /// Replica number `n`'s pool.
    pub(crate) fn pool(&self, n: usize) -> Option<&Pool> {
        self.shared.replicas.get(n).map(|r| &r.pool)
    }

    /// A call could not get or lost its connection to replica `n`: out until the check
    /// finds it well again.
    pub(crate) fn failed(&self, n: usize, error: &dyn fmt::Display) {
        if let Some(r) = self.shared.replicas.get(n) {
            r.lag_ms.store(u64::MAX, Ordering::Relaxed);
            r.set(Some(format!("down: {error}")));
        }
    }

    /// `auth` ran a mutation: with read-your-writes on, their reads go to the primary for
    /// the window.
    pub(crate) fn wrote(&self, auth: &Auth) {
        let (Some(window), Some(key)) = (self.shared.read_your_writes, writer_key(auth)) else {
            return;
        };
        if self.shared.replicas.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut writers = self
            .shared
            .writers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if writers.len() >= 1024 {
            writers.retain(|_, until| *until > now);
        }
        writers.insert(key, now + window);
    }

    fn wrote_recently(&self, auth: &Auth) -> bool {
        if self.shared.read_your_writes.is_none() {
            return false;
        }
        let Some(key) = writer_key(auth) else {
            return false;
        };
        let writers = self
            .shared
            .writers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        writers
            .get(&key)
            .is_some_and(|until| *until > Instant::now())
    }

    /// Every replica's state, for readiness reports.
    pub(crate) fn status(&self) -> Vec<ReplicaStatus> {
        self.shared
            .replicas
            .iter()
            .map(|r| {
                let lag = r.lag_ms.load(Ordering::Relaxed);
                ReplicaStatus {
                    target: r.pool.target().to_owned(),
                    in_use: r.in_use.load(Ordering::SeqCst),
                    lag_ms: (lag != u64::MAX).then_some(lag),
                    in_flight: r.pool.status().in_flight,
                    reason: r
                        .reason
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clone(),
                }
            })
            .collect()
    }
}

/// The key read-your-writes remembers a caller by: the authenticated user (and provider).
fn writer_key(auth: &Auth) -> Option<String> {
    let id = auth.user_id.as_deref()?;
    Some(match auth.user_id_provider.as_deref() {
        Some(provider) => format!("{provider}\u{0}{id}"),
        None => id.to_owned(),
    })
}
