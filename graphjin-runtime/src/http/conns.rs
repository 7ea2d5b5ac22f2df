//! The open connections of [`serve`](super::serve): what each is doing (waiting for a
//! request, reading a head, serving, upgraded), the deadline that applies to it, and the cap
//! on how many are open.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::ServeLimits;

/// What a connection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Accepted, no byte yet: the header timeout runs from the accept.
    Fresh,
    /// Served at least one request, waiting for the next: the idle timeout runs.
    Idle,
    /// Some bytes of a later request's head arrived: the header timeout runs.
    Head,
    /// A request is being served (its body read, its handler run, its response written).
    Busy,
    /// Upgraded (a WebSocket): no timeout of this module applies.
    Upgraded,
    /// Closed to make room for another connection.
    Evicted,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    /// When the connection started waiting (for eviction: the longest-waiting goes first).
    since: Instant,
    /// When a waiting connection is closed.
    deadline: Option<Instant>,
    /// The task last waiting to read from the socket: woken when a deadline begins, since
    /// hyper does not read again by itself after a response while its last read is pending.
    reader: Option<Waker>,
}

/// One open connection, shared by its IO, its request handler and the registry.
#[derive(Debug)]
pub(super) struct Conn {
    id: u64,
    state: Mutex<State>,
    limits: ServeLimits,
    /// Notified when the registry evicts this connection.
    evicted: Notify,
}

impl Conn {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The deadline for bytes to arrive, while the connection waits for a request; the
    /// reading task (`reader`) is woken when a later one begins.
    pub(super) fn read_deadline(&self, reader: &Waker) -> Option<Instant> {
        let mut state = self.lock();
        if !state.reader.as_ref().is_some_and(|w| w.will_wake(reader)) {
            state.reader = Some(reader.clone());
        }
        match state.phase {
            Phase::Fresh | Phase::Idle | Phase::Head => state.deadline,
            Phase::Busy | Phase::Upgraded | Phase::Evicted => None,
        }
    }

    /// Bytes arrived: an idle connection starts reading a head, within the header timeout.
    pub(super) fn on_bytes(&self) {
        let mut state = self.lock();
        if state.phase == Phase::Idle {
            let now = Instant::now();
            state.phase = Phase::Head;
            state.since = now;
            state.deadline = self.limits.header_timeout.map(|t| now + t);
        }
    }

    /// A request's head arrived: serve it, without timeouts of this module, unless the
    /// connection was evicted meanwhile (`false`: do not run it).
    pub(super) fn begin_request(&self) -> bool {
        let mut state = self.lock();
        if state.phase == Phase::Evicted {
            return false;
        }
        state.phase = Phase::Busy;
        state.deadline = None;
        true
    }

    /// The response went out: wait for the next request within the idle timeout.
    pub(super) fn end_request(&self) {
        let mut state = self.lock();
        if state.phase == Phase::Busy {
            let now = Instant::now();
            state.phase = Phase::Idle;
            state.since = now;
            state.deadline = self.limits.idle_timeout.map(|t| now + t);
            // The read pending since the request began waits with no deadline: poll it
            // again so the idle timeout is armed.
            if let Some(reader) = state.reader.take() {
                drop(state);
                reader.wake();
            }
        }
    }

    /// The connection became a WebSocket: it lives as long as the socket does.
    pub(super) fn upgraded(&self) {
        self.lock().phase = Phase::Upgraded;
    }

    /// Resolves once the registry evicted this connection.
    pub(super) async fn evicted(&self) {
        self.evicted.notified().await;
    }
}

/// The open connections and their cap. Cheap to clone.
#[derive(Debug, Clone)]
pub(super) struct Registry {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cap: usize,
    limits: ServeLimits,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    next_id: u64,
    conns: HashMap<u64, Arc<Conn>>,
}

/// A connection's place under the cap, given back when its socket is dropped.
#[derive(Debug)]
pub(super) struct Slot {
    registry: Registry,
    conn: Arc<Conn>,
}

impl Slot {
    /// The connection.
    pub(super) fn conn(&self) -> &Arc<Conn> {
        &self.conn
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.registry.lock().conns.remove(&self.conn.id);
    }
}

impl Registry {
    /// A registry admitting at most `cap` connections, each under `limits`' timeouts.
    pub(super) fn new(cap: usize, limits: ServeLimits) -> Registry {
        Registry {
            inner: Arc::new(Inner {
                cap: cap.max(1),
                limits,
                open: Mutex::new(Open::default()),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Open> {
        self.inner
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Connections open now (upgraded ones included).
    #[cfg(test)]
    pub(super) fn open_count(&self) -> usize {
        self.lock().conns.len()
    }

    /// Admits a new connection. At the cap, the connection that has waited longest without
    /// a request in progress is evicted to make room; `None` when every one is busy.
    pub(super) fn admit(&self) -> Option<Slot> {
        let now = Instant::now();
        let mut open = self.lock();
        if open.conns.len() >= self.inner.cap {
            let victim = open
                .conns
                .values()
                .filter_map(|c| {
                    let state = c.lock();
                    matches!(state.phase, Phase::Fresh | Phase::Idle | Phase::Head)
                        .then_some((state.since, c))
                })
                .min_by_key(|(since, _)| *since)
                .map(|(_, c)| c.clone())?;
            // Under the registry's lock, and the victim's: it cannot start a request between
            // the choice and the eviction (begin_request sees Evicted and refuses).
            victim.lock().phase = Phase::Evicted;
            open.conns.remove(&victim.id);
            victim.evicted.notify_one();
            tracing::debug!(
                cap = self.inner.cap,
                "connection cap reached: closed the longest-waiting idle connection"
            );
        }
        open.next_id += 1;
        let conn = Arc::new(Conn {
            id: open.next_id,
            state: Mutex::new(State {
                phase: Phase::Fresh,
                since: now,
                deadline: self.inner.limits.header_timeout.map(|t| now + t),
                reader: None,
            }),
            limits: self.inner.limits,
            evicted: Notify::new(),
        });
        open.conns.insert(conn.id, conn.clone());
        Some(Slot {
            registry: self.clone(),
            conn,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(cap: usize) -> Registry {
        Registry::new(cap, ServeLimits::default())
    }

    #[tokio::test]
    async fn at_the_cap_the_longest_waiting_idle_connection_goes() {
        let r = registry(2);
        let a = r.admit().expect("room");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let b = r.admit().expect("room");
        assert_eq!(r.open_count(), 2);
        let c = r.admit().expect("a is evicted");
        assert!(!a.conn().begin_request(), "a was evicted");
        assert!(b.conn().begin_request());
        assert!(c.conn().begin_request());
        assert_eq!(r.open_count(), 2);
        // Both open connections are busy: no room.
        assert!(r.admit().is_none());
        b.conn().end_request();
        assert!(r.admit().is_some(), "b is idle again and makes room");
        drop(a);
        assert_eq!(r.open_count(), 1, "only c is left");
    }

    #[tokio::test]
    async fn upgraded_connections_are_never_evicted() {
        let r = registry(1);
        let a = r.admit().expect("room");
        assert!(a.conn().begin_request());
        a.conn().upgraded();
        a.conn().end_request();
        assert_eq!(a.conn().read_deadline(Waker::noop()), None);
        assert!(r.admit().is_none());
    }

    #[tokio::test]
    async fn deadlines_follow_the_phase() {
        let r = registry(4);
        let a = r.admit().expect("room");
        let c = a.conn();
        assert!(
            c.read_deadline(Waker::noop()).is_some(),
            "header timeout from the accept"
        );
        assert!(c.begin_request());
        assert_eq!(
            c.read_deadline(Waker::noop()),
            None,
            "no read deadline while busy"
        );
        c.end_request();
        let idle = c.read_deadline(Waker::noop()).expect("idle timeout");
        c.on_bytes();
        let head = c.read_deadline(Waker::noop()).expect("header timeout");
        assert!(head < idle, "10 s header timeout, 60 s idle timeout");
    }
}
