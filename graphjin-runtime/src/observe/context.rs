//! What the parts of the runtime tell the request layer about the request they serve: the
//! operation, the role, time spent in the database and waiting for a connection, an
//! authentication failure, an action. Kept in a task-local set by
//! [`super::layer::ObserveLayer`]; outside a request (typed calls, subscription polls) every
//! `note_*` does nothing.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use crate::auth::AuthError;
use crate::operation::{OpKind, Operation};

tokio::task_local! {
    static CURRENT: Arc<RequestInfo>;
}

/// "Not known yet" for the index fields.
pub(crate) const NONE: usize = usize::MAX;

/// One request's facts, written by the code that learns them and read by the layer when
/// the response is ready.
#[derive(Debug)]
pub(crate) struct RequestInfo {
    /// The operation's index in the table, or [`NONE`].
    pub(crate) operation: AtomicUsize,
    /// The role's position in the operation's `roles`, or [`NONE`] (not resolved, or a role
    /// the operation has no statement for).
    pub(crate) role: AtomicUsize,
    /// Nanoseconds spent on statements (role lookup and the operation's).
    pub(crate) db_nanos: AtomicU64,
    /// Nanoseconds spent waiting for a pooled connection, plus one (0: none taken).
    pub(crate) wait_nanos: AtomicU64,
    /// An [`AuthFailure`] as its index plus one (0: none).
    pub(crate) auth_failure: AtomicU8,
    /// The action called, when the request is an action's.
    pub(crate) action: Mutex<Option<String>>,
    /// Whether anything reads the times (the closing `info` line or the metrics): without
    /// it, [`Timer`]s read no clock.
    pub(crate) timed: bool,
}

impl RequestInfo {
    /// A request's facts, none known yet; `timed`: its times are read (see
    /// [`RequestInfo::timed`]).
    pub(crate) fn new(timed: bool) -> RequestInfo {
        RequestInfo {
            timed,
            operation: AtomicUsize::new(NONE),
            role: AtomicUsize::new(NONE),
            db_nanos: AtomicU64::new(0),
            wait_nanos: AtomicU64::new(0),
            auth_failure: AtomicU8::new(0),
            action: Mutex::new(None),
        }
    }

    /// The pool wait, if a connection was taken.
    pub(crate) fn wait(&self) -> Option<Duration> {
        match self.wait_nanos.load(Ordering::Relaxed) {
            0 => None,
            n => Some(Duration::from_nanos(n - 1)),
        }
    }

    /// The authentication failure, if one was answered or let through as `anon`.
    pub(crate) fn auth_failure(&self) -> Option<AuthFailure> {
        match self.auth_failure.load(Ordering::Relaxed) {
            0 => None,
            n => AuthFailure::ALL.get(usize::from(n) - 1).copied(),
        }
    }

    /// The action's name, taken out.
    pub(crate) fn take_action(&self) -> Option<String> {
        self.action
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

/// Runs `fut` with `info` as the current request's.
pub(crate) fn scope<F: Future>(
    info: Arc<RequestInfo>,
    fut: F,
) -> tokio::task::futures::TaskLocalFuture<Arc<RequestInfo>, F> {
    CURRENT.scope(info, fut)
}

fn with(f: impl FnOnce(&RequestInfo)) -> bool {
    CURRENT.try_with(|info| f(info)).is_ok()
}

/// The label of an operation kind.
pub(crate) fn kind_label(kind: OpKind) -> &'static str {
    match kind {
        OpKind::Query => "query",
        OpKind::Mutation => "mutation",
        OpKind::Subscription => "subscription",
    }
}

/// The request runs operation `index` of the table.
pub(crate) fn note_operation(index: usize, op: &Operation) {
    if with(|i| i.operation.store(index, Ordering::Relaxed)) {
        let span = tracing::Span::current();
        span.record("operation", op.name);
        span.record("kind", kind_label(op.kind));
    }
}

/// The request runs as `role`, found at `position` in the operation's roles (`None`: the
/// operation has no statement for it).
pub(crate) fn note_role(role: &str, position: Option<usize>) {
    if with(|i| i.role.store(position.unwrap_or(NONE), Ordering::Relaxed)) {
        tracing::Span::current().record("role", role);
    }
}

/// Time spent on a statement.
pub(crate) fn note_db_time(spent: Duration) {
    with(|i| {
        i.db_nanos
            .fetch_add(saturating_nanos(spent), Ordering::Relaxed);
    });
}

/// Time spent waiting for a pooled connection.
pub(crate) fn note_pool_wait(spent: Duration) {
    with(|i| {
        i.wait_nanos
            .fetch_add(saturating_nanos(spent).saturating_add(1), Ordering::Relaxed);
    });
}

/// A credential was refused (answered 401, or let through as `anon`).
pub(crate) fn note_auth_failure(e: &AuthError) {
    let kind = AuthFailure::of(e);
    with(|i| i.auth_failure.store(kind as u8 + 1, Ordering::Relaxed));
}

/// The request calls action `name` (a configured one).
pub(crate) fn note_action(name: &str) {
    with(|i| {
        *i.action
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(name.to_owned());
    });
}

/// Notes the time from its start to its drop, as database time or pool wait, on every
/// path out (errors included). Reads no clock outside a request, or in one whose times
/// nothing reads.
pub(crate) struct Timer {
    started: Option<std::time::Instant>,
    pool_wait: bool,
}

impl Timer {
    /// Times a statement.
    pub(crate) fn db() -> Timer {
        Timer::start(false)
    }

    /// Times the wait for a pooled connection.
    pub(crate) fn pool_wait() -> Timer {
        Timer::start(true)
    }

    fn start(pool_wait: bool) -> Timer {
        let timed = CURRENT.try_with(|info| info.timed).unwrap_or(false);
        Timer {
            started: timed.then(std::time::Instant::now),
            pool_wait,
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        let Some(started) = self.started else {
            return;
        };
        let spent = started.elapsed();
        if self.pool_wait {
            note_pool_wait(spent);
        } else {
            note_db_time(spent);
        }
    }
}

fn saturating_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX - 1)
}

/// Why a credential was refused, as a metrics label (`graphjin_auth_failures_total{kind}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum AuthFailure {
    Missing,
    Malformed,
    WrongAlgorithm,
    BadSignature,
    Expired,
    NotYetValid,
    WrongIssuer,
    WrongAudience,
    MissingClaim,
    NoKeyId,
    UnknownKey,
    KeysUnavailable,
    BadKey,
    HeaderMismatch,
    InvalidSession,
    SessionStoreUnavailable,
}

impl AuthFailure {
    /// Every kind, in `repr` order.
    pub(crate) const ALL: [AuthFailure; 16] = [
        AuthFailure::Missing,
        AuthFailure::Malformed,
        AuthFailure::WrongAlgorithm,
        AuthFailure::BadSignature,
        AuthFailure::Expired,
        AuthFailure::NotYetValid,
        AuthFailure::WrongIssuer,
        AuthFailure::WrongAudience,
        AuthFailure::MissingClaim,
        AuthFailure::NoKeyId,
        AuthFailure::UnknownKey,
        AuthFailure::KeysUnavailable,
        AuthFailure::BadKey,
        AuthFailure::HeaderMismatch,
        AuthFailure::InvalidSession,
        AuthFailure::SessionStoreUnavailable,
    ];

    pub(crate) fn of(e: &AuthError) -> AuthFailure {
        match e {
            AuthError::Missing => AuthFailure::Missing,
            AuthError::Malformed(_) => AuthFailure::Malformed,
            AuthError::WrongAlgorithm { .. } => AuthFailure::WrongAlgorithm,
            AuthError::BadSignature => AuthFailure::BadSignature,
            AuthError::Expired => AuthFailure::Expired,
            AuthError::NotYetValid => AuthFailure::NotYetValid,
            AuthError::WrongIssuer => AuthFailure::WrongIssuer,
            AuthError::WrongAudience => AuthFailure::WrongAudience,
            AuthError::MissingClaim(_) => AuthFailure::MissingClaim,
            AuthError::NoKeyId => AuthFailure::NoKeyId,
            AuthError::UnknownKey { .. } => AuthFailure::UnknownKey,
            AuthError::KeysUnavailable { .. } => AuthFailure::KeysUnavailable,
            AuthError::BadKey { .. } => AuthFailure::BadKey,
            AuthError::HeaderMismatch { .. } => AuthFailure::HeaderMismatch,
            AuthError::InvalidSession { .. } => AuthFailure::InvalidSession,
            AuthError::SessionStoreUnavailable { .. } => AuthFailure::SessionStoreUnavailable,
        }
    }

    /// The label value.
    pub(crate) fn label(self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing",
            AuthFailure::Malformed => "malformed",
            AuthFailure::WrongAlgorithm => "wrong_algorithm",
            AuthFailure::BadSignature => "bad_signature",
            AuthFailure::Expired => "expired",
            AuthFailure::NotYetValid => "not_yet_valid",
            AuthFailure::WrongIssuer => "wrong_issuer",
            AuthFailure::WrongAudience => "wrong_audience",
            AuthFailure::MissingClaim => "missing_claim",
            AuthFailure::NoKeyId => "no_key_id",
            AuthFailure::UnknownKey => "unknown_key",
            AuthFailure::KeysUnavailable => "keys_unavailable",
            AuthFailure::BadKey => "bad_key",
            AuthFailure::HeaderMismatch => "header_mismatch",
            AuthFailure::InvalidSession => "invalid_session",
            AuthFailure::SessionStoreUnavailable => "session_store_unavailable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn timers_read_the_clock_only_when_the_times_are_read() {
        assert!(Timer::db().started.is_none(), "outside a request");
        let untimed = Arc::new(RequestInfo::new(false));
        scope(untimed.clone(), async {
            let timer = Timer::db();
            assert!(timer.started.is_none(), "nothing reads the times");
        })
        .await;
        assert_eq!(untimed.db_nanos.load(Ordering::Relaxed), 0);

        let timed = Arc::new(RequestInfo::new(true));
        scope(timed.clone(), async {
            let wait = Timer::pool_wait();
            let db = Timer::db();
            assert!(wait.started.is_some() && db.started.is_some());
            std::thread::sleep(Duration::from_millis(2));
        })
        .await;
        assert!(timed.db_nanos.load(Ordering::Relaxed) >= 2_000_000);
        assert!(timed.wait().is_some_and(|w| w >= Duration::from_millis(2)));
    }

    #[test]
    fn kinds_in_order() {
        for (i, k) in AuthFailure::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i, "{}", k.label());
        }
    }
}
