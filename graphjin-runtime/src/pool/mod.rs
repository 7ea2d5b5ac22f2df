//! The connection pool: a few connections shared by many calls.
//!
//! A call leases the least busy open connection. Calls that share a connection are
//! pipelined by tokio-postgres (each is sent without waiting for the answers before it),
//! so under load PostgreSQL reads several queries per wake-up instead of one. A new
//! connection opens, in the background, whenever every open one is busy, up to
//! `max_size`; at most `pipeline_depth` calls are in flight on one connection, and a call
//! that finds no room waits up to the wait timeout. A connection whose calls have made no
//! progress for `stall_after` (a slow statement at the head of its pipeline) takes no new
//! call while another has room or can be opened, so quick calls do not queue behind slow
//! ones. Every statement the runtime runs is a single statement (no transactions), so
//! sharing a connection changes no result.
//!
//! Lifecycle: each new connection first runs its session setup (`statement_timeout`,
//! `search_path`, the `connection_setup` SQL), then prepares every statement. A connection
//! older than `max_lifetime` takes no new call and closes as soon as its last call ends; a
//! connection without a call for `idle_timeout` closes, down to `min_idle` connections
//! (checked by a background sweep, which ends with the pool). [`PoolStats`] counts it all.

use std::ops::Deref;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_postgres::Client;

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
    closed_total: AtomicU64,
    waited_total: AtomicU64,
    wait_nanos_total: AtomicU64,
}

/// A snapshot of the pool's counters, from [`crate::Db::pool_stats`]: for metrics and
/// readiness checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open now (retiring ones included until they close).
    pub connections: usize,
    /// Open connections with no call in flight.
    pub idle: usize,
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
    /// Connections closed since the pool started: broken, retired by `max_lifetime`, or
    /// idle longer than `idle_timeout`.
    pub closed_total: u64,
    /// Calls that had to wait for room or a connection.
    pub waited_total: u64,
    /// The time those calls waited, summed (divide by `waited_total` for the mean).
    pub wait_time_total: Duration,
}

/// What each new connection runs before its statements are prepared.
#[derive(Debug, Clone, Default)]
pub(crate) struct SessionSetup {
    statement_timeout: Option<Duration>,
    schema: Option<String>,
    sql: Option<String>,
}

impl SessionSetup {
    pub(crate) fn new(options: &PoolOptions) -> SessionSetup {
        SessionSetup {
            statement_timeout: options.statement_timeout,
            schema: options.schema.clone(),
            sql: options.connection_setup.clone(),
        }
    }

    /// Sets `statement_timeout` and `search_path` (values as bind parameters of
    /// `set_config`), then runs the `connection_setup` SQL. The error says which failed.
    pub(crate) async fn apply(&self, client: &Client) -> Result<(), String> {
        const SET: &str = "SELECT set_config($1, $2, false)";
        if let Some(t) = self.statement_timeout {
            let ms = t.as_millis().max(1).to_string();
            client
                .execute(SET, &[&"statement_timeout", &ms])
                .await
                .map_err(|e| {
                    format!(
                        "setting statement_timeout: {}",
                        crate::error::pg_message(&e)
                    )
                })?;
        }
        if let Some(schema) = &self.schema {
            let path: Vec<String> = schema
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| format!("\"{}\"", s.replace('"', "\"\"")))
                .collect();
            client
                .execute(SET, &[&"search_path", &path.join(", ")])
                .await
                .map_err(|e| {
                    format!(
                        "setting search_path from database.schema: {}",
                        crate::error::pg_message(&e)
                    )
                })?;
        }
        if let Some(sql) = &self.sql {
            client.batch_execute(sql).await.map_err(|e| {
                format!(
                    "running database.connection_setup: {}",
                    crate::error::pg_message(&e)
                )
            })?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct State {
    conns: Vec<Arc<Slot>>,
    /// Connections being opened right now.
    opening: usize,
}

/// An open connection, the number of calls leasing it, and when one last made progress.
struct Slot {
    conn: Conn,
    in_flight: AtomicUsize,
    /// The pool's clock when a call last ended here, or when the connection last went
    /// from idle to busy.
    progress: AtomicU64,
    /// The pool's clock when the connection opened.
    born: u64,
}

/// A call's share of a connection; derefs to it. Dropping it frees the room.
pub(crate) struct Lease {
    slot: Arc<Slot>,
    shared: Arc<Shared>,
    _room: OwnedSemaphorePermit,
}

impl Deref for Lease {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        &self.slot.conn
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let now = self.shared.now();
        self.slot.progress.store(now, Ordering::Relaxed);
        let last = self.slot.in_flight.fetch_sub(1, Ordering::SeqCst) == 1;
        if last && self.shared.retired(&self.slot, now) {
            // Its last call ended: close it now rather than at the next sweep.
            let mut state = self.shared.lock();
            self.shared.sweep(&mut state, now, false);
        }
        if self.shared.waiting.load(Ordering::SeqCst) > 0 {
            self.shared.changed.notify_waiters();
        }
    }
}

/// What a call does after looking at the open connections.
enum Pick {
    /// Lease this one.
    Use(Arc<Slot>),
    /// Lease this busy one, and open another in the background for the calls to come.
    UseAndOpen(Arc<Slot>),
    /// None with room is open, and there is room for another: open it and lease it.
    Open,
    /// None with room is open and no other may open: wait for an open or a lease to end.
    Wait,
}

/// How many open connections and calls in flight a pool has (for `Debug`).
pub(crate) struct Status {
    pub(crate) connections: usize,
    pub(crate) opening: usize,
    pub(crate) in_flight: usize,
}

impl Pool {
    /// A pool that opens connections with `opener`; none is open yet.
    pub(crate) fn new(opener: Opener, options: &PoolOptions) -> Pool {
        let PoolOptions {
            max_size,
            pipeline_depth,
            wait_timeout,
            stall_after,
            max_lifetime,
            idle_timeout,
            min_idle,
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
                epoch: std::time::Instant::now(),
                max_lifetime: max_lifetime.map(nanos),
                idle_timeout: idle_timeout.map(nanos),
                min_idle,
                queued: AtomicUsize::new(0),
                opened_total: AtomicU64::new(0),
                closed_total: AtomicU64::new(0),
                waited_total: AtomicU64::new(0),
                wait_nanos_total: AtomicU64::new(0),
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
        let state = s.lock();
        let mut stats = PoolStats {
            connections: state.conns.len(),
            opening: state.opening,
            max_size: s.max_size,
            pipeline_depth: s.pipeline_depth,
            waiting: s.queued.load(Ordering::Relaxed),
            opened_total: s.opened_total.load(Ordering::Relaxed),
            closed_total: s.closed_total.load(Ordering::Relaxed),
            waited_total: s.waited_total.load(Ordering::Relaxed),
            wait_time_total: Duration::from_nanos(s.wait_nanos_total.load(Ordering::Relaxed)),
            ..PoolStats::default()
        };
        for slot in &state.conns {
            match slot.in_flight.load(Ordering::Relaxed) {
                0 => stats.idle += 1,
                n => stats.in_flight += n,
            }
        }
        stats
    }

    /// Where connections go, without the password (for messages).
    pub(crate) fn target(&self) -> &str {
        self.shared.opener.target()
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

    /// A share of the least busy connection that is not stalled (see [`Shared::pick`]): at
    /// once when there is room, else waiting up to the wait timeout. Opens a connection
    /// itself (and reports its error) when none with room is open and another may open.
    pub(crate) async fn get(&self) -> Result<Lease, Error> {
        let shared = &self.shared;
        let deadline = shared.wait_timeout.map(|t| Instant::now() + t);
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
                        .map_err(|_| self.no_room())?,
                    None => acquire.await,
                };
                permit.map_err(|_| Error::Unavailable {
                    message: "the connection pool is closed".to_owned(),
                })?
            }
        };
        let lease = |slot| Lease {
            slot,
            shared: shared.clone(),
            _room: room,
        };
        let mut waiting = None;
        loop {
            // Registered before looking, so a change in between still wakes us.
            let mut changed = pin!(shared.changed.notified());
            changed.as_mut().enable();
            match shared.pick() {
                Pick::Use(slot) => return Ok(lease(slot)),
                Pick::UseAndOpen(slot) => {
                    tokio::spawn(open_in_background(shared.clone()));
                    return Ok(lease(slot));
                }
                Pick::Open => return Ok(lease(Opening(shared).finish(true).await?)),
                Pick::Wait if waiting.is_none() => {
                    // Counted first, then looked at again: a lease that ends after this
                    // look sees the count and wakes us.
                    waiting = Some(Waiting::new(shared));
                    if queued.is_none() {
                        queued = Some(Queued::new(shared));
                    }
                }
                Pick::Wait => match deadline {
                    Some(d) => tokio::time::timeout_at(d, changed)
                        .await
                        .map_err(|_| self.no_room())?,
                    None => changed.await,
                },
            }
        }
    }

    fn no_room(&self) -> Error {
        let s = &self.shared;
        Error::Unavailable {
            message: format!(
                "timed out waiting for room on a database connection ({} connections × {} calls \
                 in flight are busy); raise PoolOptions::max_size or pipeline_depth, or the \
                 database is too slow",
                s.max_size, s.pipeline_depth
            ),
        }
    }
}

impl Shared {
    /// Whether `slot` is older than `max_lifetime`.
    fn retired(&self, slot: &Slot, now: u64) -> bool {
        self.max_lifetime
            .is_some_and(|max| now.saturating_sub(slot.born) > max)
    }

    /// Drops closed connections and retired ones without calls; with `idle`, also those
    /// without a call for `idle_timeout`, keeping `min_idle` open. Counts what it closed.
    fn sweep(&self, state: &mut State, now: u64, idle: bool) {
        let before = state.conns.len();
        state.conns.retain(|s| {
            let unused = s.in_flight.load(Ordering::SeqCst) == 0;
            !(s.conn.client.is_closed() || (unused && self.retired(s, now)))
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

    /// Chooses the least busy open connection with room, preferring those that are not
    /// stalled (dropping closed ones), and counts the call on it; or decides to open one or
    /// to wait.
    fn pick(&self) -> Pick {
        let now = self.now();
        let mut state = self.lock();
        self.sweep(&mut state, now, false);
        let room_to_open = state.conns.len() + state.opening < self.max_size;
        let in_flight = |s: &&Arc<Slot>| s.in_flight.load(Ordering::SeqCst);
        // A retired connection (older than max_lifetime) takes no new call.
        let has_room = |s: &&Arc<Slot>| in_flight(s) < self.pipeline_depth && !self.retired(s, now);
        let stalled = |s: &&Arc<Slot>| {
            in_flight(s) > 0
                && now.saturating_sub(s.progress.load(Ordering::Relaxed)) > self.stall_after
        };
        let fresh = state
            .conns
            .iter()
            .filter(|s| has_room(s) && !stalled(s))
            .min_by_key(in_flight)
            .cloned();
        let slot = match fresh {
            Some(slot) => slot,
            None if room_to_open => {
                state.opening += 1;
                return Pick::Open;
            }
            // Every connection is full or stalled and no other may open: a stalled one
            // with room still beats waiting.
            None => match state.conns.iter().filter(has_room).min_by_key(in_flight) {
                Some(slot) => slot.clone(),
                None => return Pick::Wait,
            },
        };
        let busy = slot.in_flight.fetch_add(1, Ordering::SeqCst) > 0;
        if !busy {
            slot.progress.store(now, Ordering::Relaxed);
        }
        if busy && room_to_open {
            state.opening += 1;
            Pick::UseAndOpen(slot)
        } else {
            Pick::Use(slot)
        }
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

/// Opens the connection counted in `opening` by [`Shared::pick`]; errors are logged.
async fn open_in_background(shared: Arc<Shared>) {
    if let Err(e) = Opening(&shared).finish(false).await {
        tracing::warn!(error = %e, "could not open another database connection");
    }
}

/// One connection counted in `State::opening`; uncounted when dropped, even if the call
/// that opens it is cancelled.
struct Opening<'a>(&'a Shared);

impl Opening<'_> {
    /// Opens the connection and adds it to the pool, leased by the caller when `lease`.
    async fn finish(self, lease: bool) -> Result<Arc<Slot>, Error> {
        let conn = self.0.opener.open().await?;
        let now = self.0.now();
        let slot = Arc::new(Slot {
            conn,
            in_flight: AtomicUsize::new(usize::from(lease)),
            progress: AtomicU64::new(now),
            born: now,
        });
        self.0.lock().conns.push(slot.clone());
        self.0.opened_total.fetch_add(1, Ordering::Relaxed);
        Ok(slot)
    }
}

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
