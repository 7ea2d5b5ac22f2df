//! The connection pool: a few connections shared by many calls.
//!
//! A call leases the least busy open connection. Calls that share a connection are
//! pipelined by tokio-postgres (each is sent without waiting for the answers before it),
//! so under load PostgreSQL reads several queries per wake-up instead of one. A new
//! connection opens, in the background, whenever every open one is busy, up to
//! `max_size`; at most `pipeline_depth` calls are in flight on one connection, and a call
//! that finds no room waits up to the wait timeout. Every statement the runtime runs is a
//! single statement (no transactions), so sharing a connection changes no result.
//!
//! Stuck connections. A connection whose calls have made no progress for `stall_after` (a
//! statement at the head of its pipeline waiting on a lock, or just slow) is *stalled*: it
//! takes no new call while another connection has room, and when none has, a new one
//! opens (up to `max_size`) and the call waits for it rather than queueing behind the
//! stuck statement. Only when no connection can open does a stalled connection with room
//! still take calls. Calls already sent on a stalled connection cannot be taken back
//! (PostgreSQL has them in its socket buffer and answers them in order), so:
//!
//! - a read queued behind the head moves: after `stall_after` it runs again on a
//!   connection that is not stalled (see `call.rs`), and its first copy's answer is
//!   dropped when it comes;
//! - a write never runs twice: it waits for its turn, up to its deadline;
//! - a call past its deadline at the head gets its statement cancelled, and the
//!   connection takes no new call until it answers again; a connection that stays silent
//!   (a frozen server, a cut network) is closed after a grace period (see `watch.rs`).
//!
//! A steadier tail. Under load a connection answers its calls one after another at a
//! steady pace (the pool keeps a moving average of the time between two answers on a busy
//! connection). A connection that has not answered for several times that pace (see
//! [`Shared::soft_stall`], between 1 ms and `stall_after`) is *lagging*: PostgreSQL's
//! backend is descheduled, or its head statement is slow. A new call prefers a connection
//! that is not lagging, and a read queued behind a lagging connection's head moves as
//! described above (the same rule as for a stalled one, applied sooner), even when the
//! pool's room is all leased, as long as the other connection has room in its pipeline.
//! So one hiccup delays the call at its head, not every call pipelined behind it; the
//! moved reads' first copies still run (their answers dropped), which costs a little work
//! only when a connection lags. `stall_after` still decides what counts as stalled.
//!
//! A lease dropped before PostgreSQL answered keeps its share until the answer comes
//! (`lease.rs`), so a connection is never counted free while PostgreSQL still owes it.
//!
//! Outages. Connections open in the background; when one fails to open, the pool backs
//! off (`connect_backoff` doubling to `connect_backoff_max`, with jitter) and makes one
//! attempt at a time until a connection opens (`backoff.rs`). A call that needs a new
//! connection meanwhile fails at once with [`Error::Unavailable`] (a 503) naming the last
//! failure, unless the next attempt comes within its wait; it waits for one attempt at
//! most. A connection lost under a call (closed, terminated) takes no new call.
//!
//! Lifecycle: each new connection first runs its session setup (`statement_timeout`,
//! `search_path`, the `connection_setup` SQL), then prepares every statement. Preparing
//! needs the lock of every table a statement reads: a connection opened while a table is
//! locked defers the statements over it (see `conn.rs`), serves only calls that can run
//! them unprepared, and retires after `PARTIAL_LIFE` (5 s). A connection
//! older than `max_lifetime` takes no new call and closes as soon as its last call ends; a
//! connection without a call for `idle_timeout` closes, down to `min_idle` connections
//! (checked by a background sweep, which ends with the pool). [`PoolStats`] counts it all.

mod backoff;
mod lease;
mod setup;
mod watch;

use std::pin::pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::futures::Notified;
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

pub(crate) use lease::Lease;
use lease::Slot;
pub(crate) use setup::SessionSetup;

use crate::conn::{Conn, Opener};
use crate::{Error, PoolOptions};

/// Connections with every statement prepared, shared by calls. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Pool {
    shared: Arc<Shared>,
}

struct Shared {
    opener: Opener,
    state: Mutex<State>,
    /// Room for calls: `max_size × pipeline_depth` permits.
    room: Arc<Semaphore>,
    /// Wakes waiting calls when a connection opens (or fails to) or a lease ends.
    changed: Notify,
    /// Calls waiting on `changed`; leases wake them only when there are some.
    waiting: AtomicUsize,
    max_size: usize,
    pipeline_depth: usize,
    wait_timeout: Option<Duration>,
    /// Nanoseconds without progress after which a busy connection counts as stalled.
    stall_after: u64,
    /// Moving average of the nanoseconds between two answers on a busy connection (0:
    /// none seen yet); see [`Shared::soft_stall`].
    pace: AtomicU64,
    /// How long PostgreSQL may take to answer a request a call gave up on before its
    /// connection is given up on too: the server-side statement timeout plus a grace
    /// period. `None`: no server-side timeout, wait as long as it takes.
    answer_limit: Option<Duration>,
    backoff: backoff::Policy,
    /// Where the pool's clock (`Slot::progress`) starts.
    epoch: std::time::Instant,
    /// Nanoseconds after which a connection retires (takes no new call).
    max_lifetime: Option<u64>,
    /// Nanoseconds without a call after which a connection closes (down to `min_idle`).
    idle_timeout: Option<u64>,
    min_idle: usize,
    /// Calls waiting for room or a connection right now.
    queued: AtomicUsize,
    opened_total: AtomicU64,
    failed_total: AtomicU64,
    closed_total: AtomicU64,
    waited_total: AtomicU64,
    wait_nanos_total: AtomicU64,
    moved_total: AtomicU64,
}

/// A snapshot of the pool's counters, from [`crate::Db::pool_stats`]: for metrics and
/// readiness checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open now (retiring ones included until they close).
    pub connections: usize,
    /// Open connections with no call in flight.
    pub idle: usize,
    /// Open connections whose calls made no progress for `stall_after`, or whose head
    /// call ran past its deadline: they take no new call while others can.
    pub stalled: usize,
    /// Open connections opened while a table was locked, with the statements over it
    /// unprepared (they run unprepared there); they retire after a few seconds.
    pub partial: usize,
    /// Calls in flight, over all connections.
    pub in_flight: usize,
    /// Calls waiting for room on a connection or for one to open.
    pub waiting: usize,
    /// Connections being opened (connect, session setup, prepare).
    pub opening: usize,
    /// Most connections open at once ([`crate::PoolOptions::max_size`]).
    pub max_size: usize,
    /// Most calls in flight on one connection ([`crate::PoolOptions::pipeline_depth`]).
    pub pipeline_depth: usize,
    /// Connections opened since the pool started.
    pub opened_total: u64,
    /// Attempts to open a connection that failed (during an outage, one per backoff
    /// delay, not one per call).
    pub failed_total: u64,
    /// Connections closed since the pool started: broken, retired by `max_lifetime`, or
    /// idle longer than `idle_timeout`.
    pub closed_total: u64,
    /// Calls that had to wait for room or a connection.
    pub waited_total: u64,
    /// The time those calls waited, summed (divide by `waited_total` for the mean).
    pub wait_time_total: Duration,
    /// Reads that moved off a stalled connection to run on another.
    pub moved_total: u64,
}

#[derive(Default)]
struct State {
    conns: Vec<Arc<Slot>>,
    /// Connections being opened right now.
    opening: usize,
    /// Connections fail to open: the backoff until the next attempt.
    outage: Option<backoff::Outage>,
}

/// What a call does after looking at the open connections.
enum Pick {
    /// Lease this one.
    Use(Arc<Slot>),
    /// Wait for a connection to open or a lease to end; look again at the instant given,
    /// if any (the next attempt to open one).
    Wait(Option<Instant>),
    /// No connection will be had within the call's wait: fail now.
    Down(Error),
}

/// How many open connections and calls in flight a pool has (for `Debug`).
pub(crate) struct Status {
    pub(crate) connections: usize,
    pub(crate) opening: usize,
    pub(crate) in_flight: usize,
}

impl Pool {
    /// A pool that opens connections with `opener`; none is open yet. `server_timeout` is
    /// the statement timeout each connection's session has (see [`SessionSetup`]).
    pub(crate) fn new(
        opener: Opener,
        options: &PoolOptions,
        server_timeout: Option<Duration>,
    ) -> Pool {
        let PoolOptions {
            max_size,
            pipeline_depth,
            wait_timeout,
            stall_after,
            max_lifetime,
            idle_timeout,
            min_idle,
            connect_backoff,
            connect_backoff_max,
            ..
        } = *options;
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let max_size = max_size.max(1);
        let pipeline_depth = pipeline_depth.max(1);
        let room = max_size
            .saturating_mul(pipeline_depth)
            .min(Semaphore::MAX_PERMITS);
        let pool = Pool {
            shared: Arc::new(Shared {
                opener,
                state: Mutex::new(State::default()),
                room: Arc::new(Semaphore::new(room)),
                changed: Notify::new(),
                waiting: AtomicUsize::new(0),
                max_size,
                pipeline_depth,
                wait_timeout,
                stall_after: nanos(stall_after),
                pace: AtomicU64::new(0),
                answer_limit: server_timeout.map(|t| t + watch::GRACE),
                backoff: backoff::Policy {
                    first: connect_backoff.max(Duration::from_millis(1)),
                    max: connect_backoff_max,
                },
                epoch: std::time::Instant::now(),
                max_lifetime: max_lifetime.map(nanos),
                idle_timeout: idle_timeout.map(nanos),
                min_idle,
                queued: AtomicUsize::new(0),
                opened_total: AtomicU64::new(0),
                failed_total: AtomicU64::new(0),
                closed_total: AtomicU64::new(0),
                waited_total: AtomicU64::new(0),
                wait_nanos_total: AtomicU64::new(0),
                moved_total: AtomicU64::new(0),
            }),
        };
        let sweeps = [max_lifetime, idle_timeout].into_iter().flatten().min();
        if let (Some(every), Ok(runtime)) = (sweeps, tokio::runtime::Handle::try_current()) {
            let every = (every / 4).clamp(Duration::from_millis(10), Duration::from_secs(30));
            runtime.spawn(sweep_every(Arc::downgrade(&pool.shared), every));
        }
        pool
    }

    /// The pool's counters now.
    pub(crate) fn stats(&self) -> PoolStats {
        let s = &self.shared;
        let now = s.now();
        let state = s.lock();
        let mut stats = PoolStats {
            connections: state.conns.len(),
            opening: state.opening,
            max_size: s.max_size,
            pipeline_depth: s.pipeline_depth,
            waiting: s.queued.load(Ordering::Relaxed),
            opened_total: s.opened_total.load(Ordering::Relaxed),
            failed_total: s.failed_total.load(Ordering::Relaxed),
            closed_total: s.closed_total.load(Ordering::Relaxed),
            waited_total: s.waited_total.load(Ordering::Relaxed),
            wait_time_total: Duration::from_nanos(s.wait_nanos_total.load(Ordering::Relaxed)),
            moved_total: s.moved_total.load(Ordering::Relaxed),
            ..PoolStats::default()
        };
        for slot in &state.conns {
            match slot.in_flight.load(Ordering::Relaxed) {
                0 => stats.idle += 1,
                n => stats.in_flight += n,
            }
            if slot.stalled(now, s.stall_after) || !slot.usable() {
                stats.stalled += 1;
            }
            if slot.conn.partial() {
                stats.partial += 1;
            }
        }
        stats
    }

    /// How long a read waits before it looks whether it is stuck behind a lagging
    /// connection's head (and then looks again every half of it): several times the pace
    /// at which busy connections answer, between 1 ms and `stall_after` (see
    /// [`Shared::soft_stall`]).
    pub(crate) fn stall_after(&self) -> Duration {
        Duration::from_nanos(self.shared.soft_stall())
    }

    /// Where connections go, without the password (for messages).
    pub(crate) fn target(&self) -> &str {
        self.shared.opener.target()
    }

    /// How the pool opens connections (the readiness check opens its own with it).
    pub(crate) fn opener(&self) -> &Opener {
        &self.shared.opener
    }

    /// Open connections and calls in flight.
    pub(crate) fn status(&self) -> Status {
        let state = self.shared.lock();
        Status {
            connections: state.conns.len(),
            opening: state.opening,
            in_flight: state
                .conns
                .iter()
                .map(|s| s.in_flight.load(Ordering::Relaxed))
                .sum(),
        }
    }

    /// Opens the first connection and keeps it, reporting its error as it is (start-up:
    /// a statement that does not prepare names its operation and role).
    pub(crate) async fn open_first(&self) -> Result<(), Error> {
        let shared = &self.shared;
        shared.lock().opening += 1;
        let opening = Opening(shared);
        let result = shared.opener.open(false).await;
        match result {
            Ok(conn) => shared.opened(conn),
            Err(e) => {
                shared.failed(&e);
                drop(opening);
                return Err(e);
            }
        }
        drop(opening);
        Ok(())
    }

    /// A share of the least busy fully prepared connection that is not stalled, waiting
    /// up to the wait timeout (see [`Pool::get_by`]).
    pub(crate) async fn get(&self) -> Result<Lease, Error> {
        self.lease(None, false).await
    }

    /// A share of the least busy connection that is not stalled (see [`Shared::pick`]),
    /// possibly one opened during a lock with some statements deferred (the caller checks
    /// [`Conn::is_deferred`]): at once when there is room, else waiting up to the wait
    /// timeout or `limit`, whichever comes first, for room or for a connection to open.
    /// Fails at once during an outage whose next attempt comes later than that.
    pub(crate) async fn get_by(&self, limit: Option<Instant>) -> Result<Lease, Error> {
        self.lease(limit, true).await
    }

    async fn lease(&self, limit: Option<Instant>, partial: bool) -> Result<Lease, Error> {
        let shared = &self.shared;
        let deadline = earliest(shared.wait_timeout.map(|t| Instant::now() + t), limit);
        // Counts this call as waiting from its first wait until it leaves `get`.
        let mut queued: Option<Queued<'_>> = None;
        let room = match shared.room.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                queued = Some(Queued::new(shared));
                let acquire = shared.room.clone().acquire_owned();
                let permit = match deadline {
                    Some(d) => tokio::time::timeout_at(d, acquire)
                        .await
                        .map_err(|_| shared.unavailable())?,
                    None => acquire.await,
                };
                permit.map_err(|_| Error::Unavailable {
                    message: "the connection pool is closed".to_owned(),
                })?
            }
        };
        let mut waiting = None;
        let mut opened = false;
        let mut seen = None;
        // Registered before a look that may end in a wait, so a change in between still
        // wakes us; the first look (most calls' only one) needs none.
        let mut changed = pin!(None::<Notified<'_>>);
        loop {
            if waiting.is_some() {
                changed.set(Some(shared.changed.notified()));
                if let Some(notified) = changed.as_mut().as_pin_mut() {
                    notified.enable();
                }
            }
            match shared.pick(deadline, partial, &mut opened, &mut seen) {
                Pick::Use(slot) => return Ok(Lease::new(slot, shared.clone(), room)),
                Pick::Down(e) => return Err(e),
                Pick::Wait(_) if waiting.is_none() => {
                    // Counted first, then looked at again: a lease that ends after this
                    // look sees the count and wakes us.
                    waiting = Some(Waiting::new(shared));
                    if queued.is_none() {
                        queued = Some(Queued::new(shared));
                    }
                }
                Pick::Wait(retry_at) => {
                    let Some(changed) = changed.as_mut().as_pin_mut() else {
                        continue;
                    };
                    match earliest(deadline, retry_at) {
                        Some(wake) => {
                            let woken = tokio::time::timeout_at(wake, changed).await.is_ok();
                            if !woken && deadline.is_some_and(|d| Instant::now() >= d) {
                                return Err(shared.unavailable());
                            }
                        }
                        None => changed.await,
                    }
                }
            }
        }
    }

    /// For a read stuck behind `from`'s lagging head: a share of another connection that
    /// is not lagging, if one has room in its pipeline now (the pool's room is taken too
    /// when some is free; a moved read may go without, as its first copy already holds
    /// its share). Waits for nothing; when none has room, a new connection starts opening
    /// (if one may) for the next look.
    pub(crate) fn fresh(&self, from: &Lease) -> Option<Lease> {
        let shared = &self.shared;
        let room = shared.room.clone().try_acquire_owned().ok();
        let now = shared.now();
        let lagging = shared.soft_stall();
        let mut state = shared.lock();
        let fresh = state
            .conns
            .iter()
            .filter(|s| !Arc::ptr_eq(s, &from.slot))
            .filter(|s| shared.has_room(s, now, true) && !s.stalled(now, lagging))
            .min_by_key(|s| s.in_flight.load(Ordering::SeqCst))
            .cloned();
        match fresh {
            Some(slot) => {
                shared.enter(&slot, now);
                shared.moved_total.fetch_add(1, Ordering::Relaxed);
                Some(Lease::new_with(slot, shared.clone(), room))
            }
            None => {
                if state.opening == 0 && shared.may_open(&state) {
                    shared.start_opening(&mut state);
                }
                None
            }
        }
    }
}

impl Shared {
    /// Whether `slot` takes no new call for its age: older than `max_lifetime`, or
    /// opened partial (during a lock) longer than [`PARTIAL_LIFE`] ago.
    fn retired(&self, slot: &Slot, now: u64) -> bool {
        let age = now.saturating_sub(slot.born);
        self.max_lifetime.is_some_and(|max| age > max)
            || (slot.conn.partial() && age > PARTIAL_LIFE.as_nanos() as u64)
    }

    /// Takes new calls (of a caller that can run deferred statements, with `partial`)
    /// and has room for one.
    fn has_room(&self, slot: &Slot, now: u64, partial: bool) -> bool {
        slot.usable()
            && (partial || !slot.conn.partial())
            && slot.in_flight.load(Ordering::SeqCst) < self.pipeline_depth
            && !self.retired(slot, now)
    }

    /// Whether a connection may start opening now: below `max_size`, and outside an
    /// outage's backoff (during an outage, one attempt at a time).
    fn may_open(&self, state: &State) -> bool {
        let room = state.conns.len() + state.opening < self.max_size;
        room && match &state.outage {
            None => true,
            Some(o) => state.opening == 0 && Instant::now() >= o.retry_at,
        }
    }

    /// How long a busy connection may go without answering before it counts as lagging:
    /// [`LAG_PACES`] times the pace at which busy connections answer, at least
    /// [`MIN_LAG`] and at most `stall_after` (which it is until a pace is known).
    fn soft_stall(&self) -> u64 {
        match self.pace.load(Ordering::Relaxed) {
            0 => self.stall_after,
            pace => pace
                .saturating_mul(LAG_PACES)
                .max(MIN_LAG.as_nanos() as u64)
                .min(self.stall_after),
        }
    }

    /// Adds `interval` (nanoseconds between two answers on a busy connection) to the pace's
    /// moving average (weight 1/16). Racing updates may lose one: it is an estimate.
    fn record_pace(&self, interval: u64) {
        let old = self.pace.load(Ordering::Relaxed);
        let new = match old {
            0 => interval,
            old => old - old / 16 + interval / 16,
        };
        self.pace.store(new.max(1), Ordering::Relaxed);
    }

    /// Counts a call on `slot`; its progress clock starts when it goes from idle to busy.
    fn enter(&self, slot: &Slot, now: u64) -> bool {
        let busy = slot.in_flight.fetch_add(1, Ordering::SeqCst) > 0;
        if !busy {
            slot.progress.store(now, Ordering::Relaxed);
        }
        busy
    }

    /// Opens a connection in the background, counted in `opening` until it is done.
    fn start_opening(self: &Arc<Self>, state: &mut State) {
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                state.opening += 1;
                runtime.spawn(open_in_background(self.clone()));
            }
            Err(_) => tracing::warn!("no tokio runtime to open a database connection on"),
        }
    }

    /// Drops closed connections, given-up ones and retired ones without calls; with
    /// `idle`, also those without a call for `idle_timeout`, keeping `min_idle` open.
    /// Counts what it closed.
    fn sweep(&self, state: &mut State, now: u64, idle: bool) {
        let before = state.conns.len();
        state.conns.retain(|s| {
            let unused = s.in_flight.load(Ordering::SeqCst) == 0;
            !(s.conn.client.is_closed() || (unused && (s.is_broken() || self.retired(s, now))))
        });
        if idle && let Some(limit) = self.idle_timeout {
            let mut open = state.conns.len();
            state.conns.retain(|s| {
                let idle_for = now.saturating_sub(s.progress.load(Ordering::Relaxed));
                let close = open > self.min_idle
                    && s.in_flight.load(Ordering::SeqCst) == 0
                    && idle_for > limit;
                if close {
                    open -= 1;
                }
                !close
            });
        }
        let closed = before - state.conns.len();
        if closed > 0 {
            self.closed_total
                .fetch_add(closed as u64, Ordering::Relaxed);
            if self.waiting.load(Ordering::SeqCst) > 0 {
                self.changed.notify_waiters();
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held; a poisoned lock still holds valid state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Nanoseconds since the pool was made.
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Chooses the least busy usable connection with room that is not stalled, and counts
    /// the call on it (opening another in the background when it was busy and one may
    /// open). Without one: opens one and waits for it; if none may open, a stalled
    /// connection with room beats waiting; else waits. During an outage with no usable
    /// connection left, a call fails once an attempt to open one failed since it began
    /// looking (`seen` holds the failures counted then), or at once when the next attempt
    /// comes after `deadline`. `opened` keeps a call from starting another connection
    /// while one is opening.
    fn pick(
        self: &Arc<Self>,
        deadline: Option<Instant>,
        partial: bool,
        opened: &mut bool,
        seen: &mut Option<u32>,
    ) -> Pick {
        let now = self.now();
        let mut state = self.lock();
        self.sweep(&mut state, now, false);
        let seen = seen.get_or_insert(state.outage.as_ref().map_or(0, |o| o.failures));
        let in_flight = |s: &&Arc<Slot>| s.in_flight.load(Ordering::SeqCst);
        // Among those not stalled: one that is not lagging first, then the least busy.
        let lagging = self.soft_stall();
        let fresh = state
            .conns
            .iter()
            .filter(|s| self.has_room(s, now, partial) && !s.stalled(now, self.stall_after))
            .min_by_key(|s| (s.stalled(now, lagging), in_flight(s)))
            .cloned();
        if let Some(slot) = fresh {
            if self.enter(&slot, now) && self.may_open(&state) {
                self.start_opening(&mut state);
            }
            return Pick::Use(slot);
        }
        if (!*opened || state.opening == 0) && self.may_open(&state) {
            *opened = true;
            self.start_opening(&mut state);
            return Pick::Wait(None);
        }
        if state.opening == 0
            && let Some(slot) = state
                .conns
                .iter()
                .filter(|s| self.has_room(s, now, partial))
                .min_by_key(in_flight)
                .cloned()
        {
            // Nothing fresh, nothing opening, and none may open: a stalled connection
            // with room still beats waiting.
            self.enter(&slot, now);
            return Pick::Use(slot);
        }
        let Some(o) = &state.outage else {
            return Pick::Wait(None);
        };
        let clock = Instant::now();
        if !state.conns.iter().any(|s| s.usable()) {
            // No connection to wait for room on: a call waits for one attempt to open
            // one at most, and fails with its error.
            if o.failures > *seen {
                return Pick::Down(o.error(clock));
            }
            if state.opening == 0 && deadline.is_some_and(|d| o.retry_at > d) {
                return Pick::Down(o.error(clock));
            }
        }
        match state.opening == 0 && o.retry_at > clock {
            true => Pick::Wait(Some(o.retry_at)),
            false => Pick::Wait(None),
        }
    }

    /// Adds a newly opened connection; the outage, if any, is over.
    fn opened(&self, conn: Conn) {
        let slot = Arc::new(Slot::new(conn, self.now()));
        let mut state = self.lock();
        state.conns.push(slot);
        if let Some(o) = state.outage.take() {
            tracing::info!(
                target = self.opener.target(),
                failures = o.failures,
                "database connection open again"
            );
        }
        self.opened_total.fetch_add(1, Ordering::Relaxed);
    }

    /// Records a failed attempt to open a connection: the next waits out the backoff.
    fn failed(&self, e: &Error) {
        self.failed_total.fetch_add(1, Ordering::Relaxed);
        let mut state = self.lock();
        let outage = self
            .backoff
            .after(state.outage.as_ref(), e.to_string(), Instant::now());
        tracing::warn!(
            error = %e,
            failures = outage.failures,
            retry_in_ms = outage.retry_at.saturating_duration_since(Instant::now()).as_millis() as u64,
            "could not open a database connection"
        );
        state.outage = Some(outage);
    }

    /// Why a call got no connection within its wait.
    fn unavailable(&self) -> Error {
        let state = self.lock();
        if let Some(o) = &state.outage {
            return o.error(Instant::now());
        }
        Error::Unavailable {
            message: format!(
                "timed out waiting for room on a database connection ({} connections × {} calls \
                 in flight are busy); raise PoolOptions::max_size or pipeline_depth, or the \
                 database is too slow",
                self.max_size, self.pipeline_depth
            ),
        }
    }
}

/// How long a connection opened during a lock (some statements deferred) takes new
/// calls: then it retires, and the next opening prepares everything if the lock is gone.
const PARTIAL_LIFE: Duration = Duration::from_secs(5);

/// A busy connection lags after this many paces without an answer.
const LAG_PACES: u64 = 8;

/// The shortest time without an answer that counts as lagging (tokio's timers have
/// millisecond resolution).
const MIN_LAG: Duration = Duration::from_millis(1);

/// The earlier of two optional instants (`None` is never).
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Closes idle and retired connections every `every`, until the pool is dropped.
async fn sweep_every(shared: std::sync::Weak<Shared>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let now = shared.now();
        let mut state = shared.lock();
        shared.sweep(&mut state, now, true);
    }
}

/// Opens the connection counted in `opening` by [`Shared::start_opening`]: added to the
/// pool, or its failure recorded for the backoff (and logged).
async fn open_in_background(shared: Arc<Shared>) {
    let opening = Opening(&shared);
    match shared.opener.open(true).await {
        Ok(conn) => shared.opened(conn),
        Err(e) => shared.failed(&e),
    }
    drop(opening);
}

/// One connection counted in `State::opening`; uncounted (and waiting calls woken) when
/// dropped, even if the task that opens it is cancelled.
struct Opening<'a>(&'a Shared);

impl Drop for Opening<'_> {
    fn drop(&mut self) {
        self.0.lock().opening -= 1;
        self.0.changed.notify_waiters();
    }
}

/// One call counted in `Shared::waiting` while it waits.
struct Waiting<'a>(&'a Shared);

impl<'a> Waiting<'a> {
    fn new(shared: &'a Shared) -> Waiting<'a> {
        shared.waiting.fetch_add(1, Ordering::SeqCst);
        Waiting(shared)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One call counted in `Shared::queued` from its first wait until it gets its lease (or
/// gives up); the time is added to the wait totals.
struct Queued<'a> {
    shared: &'a Shared,
    since: std::time::Instant,
}

impl<'a> Queued<'a> {
    fn new(shared: &'a Shared) -> Queued<'a> {
        shared.queued.fetch_add(1, Ordering::Relaxed);
        shared.waited_total.fetch_add(1, Ordering::Relaxed);
        Queued {
            shared,
            since: std::time::Instant::now(),
        }
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        let waited = u64::try_from(self.since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.shared.queued.fetch_sub(1, Ordering::Relaxed);
        self.shared
            .wait_nanos_total
            .fetch_add(waited, Ordering::Relaxed);
    }
}
