//! A connection in the pool (its slot) and a call's share of it (its lease).
//!
//! The slot knows the order in which its calls sent their requests, so a call can tell
//! whether it is at the head of the pipeline (PostgreSQL is working on its statement) or
//! queued behind another. A lease dropped before PostgreSQL answered its request (the call
//! gave up at its deadline, moved to another connection, or was cancelled by its caller)
//! keeps its share until the answer comes, so the pool never counts a connection as free
//! while PostgreSQL still owes it work.

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::sync::OwnedSemaphorePermit;

use super::Shared;
use crate::conn::Conn;

/// An open connection, the calls leasing it, and when one last made progress.
pub(super) struct Slot {
    pub(super) conn: Conn,
    pub(super) in_flight: AtomicUsize,
    /// The pool's clock when a call last ended here, or when the connection last went
    /// from idle to busy.
    pub(super) progress: AtomicU64,
    /// The pool's clock when the connection opened.
    pub(super) born: u64,
    /// Calls past their deadline at the head whose cancel has not shown progress yet:
    /// while any, the connection takes no new call.
    pub(super) suspects: AtomicUsize,
    /// Given up on (lost, or silent after a cancel): takes no new call, closed.
    broken: AtomicBool,
    /// The calls leasing it: (call id, position of the call's latest request).
    calls: Mutex<Vec<(u64, u64)>>,
    /// Where call ids and request positions come from.
    next: AtomicU64,
}

impl Slot {
    pub(super) fn new(conn: Conn, now: u64) -> Slot {
        Slot {
            conn,
            in_flight: AtomicUsize::new(0),
            progress: AtomicU64::new(now),
            born: now,
            suspects: AtomicUsize::new(0),
            broken: AtomicBool::new(false),
            calls: Mutex::default(),
            next: AtomicU64::new(0),
        }
    }

    /// Takes new calls: not given up on, not waiting out a cancel, not closed.
    pub(super) fn usable(&self) -> bool {
        !self.is_broken()
            && self.suspects.load(Ordering::SeqCst) == 0
            && !self.conn.client.is_closed()
    }

    pub(super) fn is_broken(&self) -> bool {
        self.broken.load(Ordering::SeqCst)
    }

    /// Gives up on the connection: it takes no new call, and its socket closes now, so
    /// the calls still on it fail at once (a read among them runs again elsewhere).
    pub(super) fn break_off(&self) {
        self.broken.store(true, Ordering::SeqCst);
        self.conn.abort();
    }

    /// Busy, and no call ended for longer than `stall_after` nanoseconds.
    pub(super) fn stalled(&self, now: u64, stall_after: u64) -> bool {
        self.in_flight.load(Ordering::SeqCst) > 0
            && now.saturating_sub(self.progress.load(Ordering::Relaxed)) > stall_after
    }

    fn calls(&self) -> MutexGuard<'_, Vec<(u64, u64)>> {
        // Nothing panics while the lock is held; a poisoned lock still holds valid state.
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a new call; returns its id.
    fn enter(&self) -> u64 {
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        self.calls().push((id, id));
        id
    }

    /// Call `id` sends a request now: it goes to the end of the pipeline. `send` runs
    /// while the calls are locked, so positions follow the order requests are sent in.
    fn send<T>(&self, id: u64, send: impl FnOnce() -> T) -> T {
        let mut calls = self.calls();
        let position = self.next.fetch_add(1, Ordering::SeqCst);
        if let Some(call) = calls.iter_mut().find(|c| c.0 == id) {
            call.1 = position;
        }
        send()
    }

    fn leave(&self, id: u64) {
        self.calls().retain(|c| c.0 != id);
    }

    /// Whether call `id`'s latest request is the oldest still unanswered here.
    fn is_head(&self, id: u64) -> bool {
        self.calls().iter().min_by_key(|c| c.1).map(|c| c.0) == Some(id)
    }
}

/// A call's share of a connection; derefs to it. Dropping it frees the room (once
/// PostgreSQL answered what the call sent).
pub(crate) struct Lease {
    pub(super) slot: Arc<Slot>,
    shared: Arc<Shared>,
    room: Option<OwnedSemaphorePermit>,
    id: u64,
    /// A request went out through [`Lease::track`] and its answer is not all in.
    owed: AtomicBool,
}

impl Deref for Lease {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        &self.slot.conn
    }
}

impl Lease {
    /// A share of `slot`, whose `in_flight` already counts it.
    pub(super) fn new(slot: Arc<Slot>, shared: Arc<Shared>, room: OwnedSemaphorePermit) -> Lease {
        Lease::new_with(slot, shared, Some(room))
    }

    /// As [`Lease::new`], holding the pool's room only when given some (a read moving off
    /// a lagging connection may go without).
    pub(super) fn new_with(
        slot: Arc<Slot>,
        shared: Arc<Shared>,
        room: Option<OwnedSemaphorePermit>,
    ) -> Lease {
        let id = slot.enter();
        Lease {
            slot,
            shared,
            room,
            id,
            owed: AtomicBool::new(false),
        }
    }

    /// Runs `request`, which sends one request on this connection when first polled and
    /// ends when its answer is all in. Keeps the pipeline order (see [`Lease::is_head`]);
    /// a lease dropped before `request` ends waits for PostgreSQL's answer.
    pub(crate) fn track<F: Future>(&self, request: F) -> Track<'_, F> {
        Track {
            lease: self,
            sent: false,
            request,
        }
    }

    /// Whether this call's request is the one PostgreSQL is working on (the oldest one
    /// unanswered on the connection).
    pub(crate) fn is_head(&self) -> bool {
        self.slot.is_head(self.id)
    }

    /// Whether this call is queued behind another on a connection that is lagging (no
    /// answer for several paces, see `Shared::soft_stall`; a stalled one lags too) or
    /// whose head ran past its deadline: a read would be answered sooner on another
    /// connection.
    pub(crate) fn stuck(&self) -> bool {
        let behind = !self.is_head();
        let stalled = self
            .slot
            .stalled(self.shared.now(), self.shared.soft_stall())
            || self.slot.suspects.load(Ordering::SeqCst) > 0;
        behind && stalled
    }

    /// The connection failed under this call (closed, terminated): it takes no new call.
    pub(crate) fn lost(&self) {
        self.slot.break_off();
    }

    /// This call ran past its deadline. At the head of the pipeline, its statement is
    /// still running (or the server is not answering): it is cancelled, and the
    /// connection takes no new call until it answers again (see `watch.rs`).
    pub(crate) fn expired(&self) {
        if self.owed.load(Ordering::SeqCst) && self.is_head() {
            super::watch::after_expiry(&self.shared, &self.slot);
        }
    }

    /// Waits for PostgreSQL to answer everything sent on the connection so far (an empty
    /// query queued behind it), then frees the share. A connection that stays silent past
    /// the server-side statement timeout plus a grace period is given up on.
    async fn await_answer(self) {
        let answered = self.slot.conn.client.simple_query("");
        match self.shared.answer_limit {
            Some(limit) => {
                if tokio::time::timeout(limit, answered).await.is_err() {
                    tracing::warn!(
                        target = self.shared.opener.target(),
                        limit_ms = limit.as_millis() as u64,
                        "a database connection did not answer within its statement timeout and a grace period; closing it"
                    );
                    self.slot.break_off();
                }
            }
            None => {
                let _ = answered.await;
            }
        }
    }

    /// Ends the share: the call leaves the slot, and unless it was given up without an
    /// answer, counts as progress.
    fn release(&mut self, progress: bool) {
        let shared = &self.shared;
        let now = shared.now();
        self.slot.leave(self.id);
        if progress {
            // The connection was busy since its last answer (or since it went busy).
            let last = self.slot.progress.swap(now, Ordering::Relaxed);
            shared.record_pace(now.saturating_sub(last));
        }
        let last = self.slot.in_flight.fetch_sub(1, Ordering::SeqCst) == 1;
        if last && (shared.retired(&self.slot, now) || self.slot.is_broken()) {
            // Its last call ended: close it now rather than at the next sweep.
            let mut state = shared.lock();
            shared.sweep(&mut state, now, false);
        }
        // The room is free before waiting calls look again.
        drop(self.room.take());
        if shared.waiting.load(Ordering::SeqCst) > 0 {
            shared.changed.notify_waiters();
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let owed = self.owed.load(Ordering::SeqCst);
        if owed
            && !self.slot.is_broken()
            && !self.slot.conn.client.is_closed()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            // PostgreSQL still owes this call an answer: the share is held until it comes.
            let held = Lease {
                slot: self.slot.clone(),
                shared: self.shared.clone(),
                room: self.room.take(),
                id: self.id,
                owed: AtomicBool::new(false),
            };
            runtime.spawn(held.await_answer());
            return;
        }
        self.release(!owed);
    }
}

pin_project! {
    /// The future of [`Lease::track`]: the request, held in place (an `async fn` would
    /// hold it twice, as its argument and as the pinned local, and these futures are
    /// the largest part of a call's).
    pub(crate) struct Track<'l, F> {
        lease: &'l Lease,
        sent: bool,
        #[pin]
        request: F,
    }
}

impl<F: Future> Future for Track<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let lease = *this.lease;
        let polled = if *this.sent {
            this.request.poll(cx)
        } else {
            *this.sent = true;
            lease.owed.store(true, Ordering::SeqCst);
            // The first poll hands the request to the connection's task (tokio-postgres
            // queues it synchronously): it takes its place in the pipeline and its
            // position together.
            let request = this.request;
            lease.slot.send(lease.id, || request.poll(cx))
        };
        if polled.is_ready() {
            lease.owed.store(false, Ordering::SeqCst);
        }
        polled
    }
}
