//! A call past its deadline at the head of its connection's pipeline: its statement is
//! still running in PostgreSQL (waiting on a lock, say), or the server does not answer
//! at all (frozen, the network cut). The pool asks PostgreSQL to cancel the statement (a
//! cancel request over a new connection, with the same TLS settings), and the connection
//! takes no new call until it answers again. If it stays silent for [`GRACE`], it is
//! closed: the calls queued on it fail at once (reads run again on another connection)
//! instead of waiting for a server that may never answer.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use super::Shared;
use super::lease::Slot;

/// How long a connection has to answer after its head call was cancelled.
pub(super) const GRACE: Duration = Duration::from_secs(2);

/// How often the watch looks for an answer.
const LOOK_EVERY: Duration = Duration::from_millis(20);

/// Cancels the statement at the head of `slot` and closes the connection unless it
/// answers within [`GRACE`]; it takes no new call meanwhile.
pub(super) fn after_expiry(shared: &Arc<Shared>, slot: &Arc<Slot>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        slot.break_off();
        return;
    };
    slot.suspects.fetch_add(1, Ordering::SeqCst);
    let since = shared.now();
    let token = slot.conn.client.cancel_token();
    let canceller = shared.clone();
    runtime.spawn(async move {
        if let Err(e) = canceller.opener.cancel(&token).await {
            tracing::warn!(error = %e, "could not send a cancel request for a statement past its deadline");
        }
    });
    let (shared, slot) = (shared.clone(), slot.clone());
    runtime.spawn(async move {
        let until = Instant::now() + GRACE;
        let answered = loop {
            if slot.progress.load(Ordering::Relaxed) > since {
                break true;
            }
            if slot.conn.client.is_closed() || Instant::now() >= until {
                break false;
            }
            tokio::time::sleep(LOOK_EVERY).await;
        };
        if !answered && !slot.is_broken() {
            tracing::warn!(
                target = shared.opener.target(),
                grace_ms = GRACE.as_millis() as u64,
                "a database connection did not answer after its statement was cancelled; closing it"
            );
            slot.break_off();
        }
        slot.suspects.fetch_sub(1, Ordering::SeqCst);
        let now = shared.now();
        let mut state = shared.lock();
        shared.sweep(&mut state, now, false);
        drop(state);
        shared.changed.notify_waiters();
    });
}
