//! Subscriptions: allow-listed `subscription` operations whose result is re-read every
//! poll period and pushed to each subscriber when it changed.
//!
//! - [`Subscriptions`]: the registry. Every subscriber of the same operation and role shares
//!   one *poller*, which runs the operation's batch statement ([`crate::Batch`]) once per
//!   period for all of them (one row per distinct set of parameters; past
//!   [`SubsOptions::batch_size`] sets, one statement per that many, `poll_connections` at
//!   once, starting one chunk further each poll) and sends a result to a subscriber only
//!   when its bytes differ from the last ones it was sent (a 64-bit hash is kept per
//!   subscriber). A new subscriber gets the current result at once, from one
//!   execution of the operation's own statement, which also checks its variables.
//! - [`Subscription`]: the typed stream of one subscriber for in-process use; generated code
//!   gives every subscription a `subscribe()` that returns one.
//! - The WebSocket transport (`graphql-transport-ws`, and the older `graphql-ws`) lives in
//!   [`crate::http`] and uses the same registry.
//!
//! ```no_run
//! # async fn demo(db: graphjin_runtime::Db, op: &'static graphjin_runtime::Operation) {
//! use graphjin_runtime::subs::{SubsOptions, Subscriptions};
//! use graphjin_runtime::Auth;
//! let subs = Subscriptions::new(db, SubsOptions::default());
//! let mut watch = subs.subscribe_raw(op, &Auth::user("7"), Some(&serde_json::json!({"id": 3})));
//! while let Some(result) = watch.recv().await {
//!     match result {
//!         Ok(data) => println!("{}", String::from_utf8_lossy(&data)),
//!         Err(e) => eprintln!("{e}"), // e.g. the database is down; polling goes on
//!     }
//! }
//! # }
//! ```
//!
//! A database outage reaches every subscriber once as an error (over WebSocket: a `next`
//! message with `errors`); polling goes on, and the first good poll after it sends the
//! result again. A subscriber whose queue is full when a result is due is dropped
//! ([`Error::Lagged`]; over WebSocket the connection is closed), so a slow client never
//! holds up the others. Pollers stop when their last subscriber leaves and on
//! [`Subscriptions::shutdown`].
//!
//! A subscription ends when its caller's credentials expire ([`Auth::expires_at`], e.g. a
//! JWT's `exp` plus the leeway): an in-process [`Subscription`] yields
//! [`Error::CredentialsExpired`] and ends; a WebSocket connection stops all its
//! subscriptions and closes with code 4403.

mod poller;
mod stream;

use std::collections::HashMap;
use std::fmt;
use std::hash::Hasher;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::TryStreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{Notify, mpsc, watch};

pub use stream::Subscription;

use crate::config::Config;
use crate::db::{bind, data, resolve_role};
use crate::operation::{OpKind, Operation};
use crate::vars::{RawVariables, Source};
use crate::{Auth, Db, Error};

/// How subscriptions behave. The config keys are listed on each field; build one from a
/// [`Config`] with [`SubsOptions::from_config`].
///
/// ```
/// use std::time::Duration;
/// let options = graphjin_runtime::subs::SubsOptions {
///     poll_every: Duration::from_millis(250),
///     ..Default::default()
/// };
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubsOptions {
    /// How often results are re-read (`poll_every_seconds`, a number that may have a
    /// fraction, or GraphJin's `subs_poll_duration`). Default 5 s; at least 10 ms.
    pub poll_every: Duration,
    /// Most subscriptions one WebSocket connection may hold at once
    /// (`subscriptions.max_per_connection`); more are answered with an error. Default 100.
    pub max_per_connection: usize,
    /// Results queued for one WebSocket connection (or one in-process [`Subscription`])
    /// before its client counts as too slow and is dropped (`subscriptions.send_queue`).
    /// Default 64.
    pub send_queue: usize,
    /// How often the server pings an open WebSocket (`subscriptions.keepalive_seconds`).
    /// Default 15 s.
    pub keepalive: Duration,
    /// A WebSocket from which nothing (not even a pong) arrived for this long is closed
    /// (`subscriptions.idle_timeout_seconds`). Default 60 s.
    pub idle_timeout: Duration,
    /// How long a new WebSocket may take to send `connection_init`
    /// (`subscriptions.init_timeout_seconds`). Default 10 s.
    pub init_timeout: Duration,
    /// How long writing one message to a WebSocket may take before the connection is
    /// dropped. Default 10 s.
    pub write_timeout: Duration,
    /// The most distinct parameter sets (batch rows) one batch statement carries
    /// (`subscriptions.batch_size`): a poll of an operation and role with more runs
    /// several statements, `poll_connections` of them at once. Default 5,000; at least 1.
    pub batch_size: usize,
    /// How many of one poll's batch statements run at the same time, each on a connection
    /// of its own (`subscriptions.poll_connections`). Default 2; at least 1.
    pub poll_connections: usize,
    /// `auth.subs_creds_in_vars`: a debugging aid that takes `X-User-ID`,
    /// `X-User-ID-Provider` and `X-User-Role` from a subscription's variables. Never
    /// honoured when the config says `production: true`.
    pub creds_in_vars: bool,
}

impl Default for SubsOptions {
    fn default() -> Self {
        SubsOptions {
            poll_every: Duration::from_secs(5),
            max_per_connection: 100,
            send_queue: 64,
            keepalive: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(60),
            init_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            batch_size: 5000,
            poll_connections: 2,
            creds_in_vars: false,
        }
    }
}

impl SubsOptions {
    /// The least poll period accepted.
    pub const MIN_POLL: Duration = Duration::from_millis(10);

    /// The options the config asks for: `poll_every_seconds` (or `subs_poll_duration`), the
    /// `subscriptions:` keys, and `auth.subs_creds_in_vars` unless `production` is on.
    pub fn from_config(config: &Config) -> Self {
        let mut o = SubsOptions::default();
        if let Some(every) = config.poll_every {
            o.poll_every = every;
        }
        let s = &config.subscriptions;
        if let Some(n) = s.max_per_connection {
            o.max_per_connection = n;
        }
        if let Some(n) = s.send_queue {
            o.send_queue = n;
        }
        if let Some(n) = s.batch_size {
            o.batch_size = n;
        }
        if let Some(n) = s.poll_connections {
            o.poll_connections = n;
        }
        let secs = |v: Option<f64>, default: Duration| match v {
            Some(v) if v.is_finite() && v > 0.0 => Duration::from_secs_f64(v),
            _ => default,
        };
        o.keepalive = secs(s.keepalive_seconds, o.keepalive);
        o.idle_timeout = secs(s.idle_timeout_seconds, o.idle_timeout);
        o.init_timeout = secs(s.init_timeout_seconds, o.init_timeout);
        if config.auth.subs_creds_in_vars {
            if config.production {
                tracing::warn!("auth.subs_creds_in_vars is ignored because production is true");
            } else {
                tracing::warn!(
                    "auth.subs_creds_in_vars is on: X-User-ID, X-User-ID-Provider and X-User-Role in a subscription's variables set the caller; never use this in production"
                );
                o.creds_in_vars = true;
            }
        }
        o
    }

    fn checked(mut self) -> Self {
        self.poll_every = self.poll_every.max(Self::MIN_POLL);
        self.send_queue = self.send_queue.max(1);
        self.batch_size = self.batch_size.max(1);
        self.poll_connections = self.poll_connections.max(1);
        self.keepalive = self.keepalive.max(Duration::from_millis(10));
        self.idle_timeout = self.idle_timeout.max(Duration::from_millis(10));
        self.write_timeout = self.write_timeout.max(Duration::from_millis(10));
        self
    }
}

/// Counters for monitoring and benchmarks; see [`Subscriptions::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubsStats {
    /// Subscribers being polled now.
    pub subscribers: usize,
    /// Pollers running now (one per operation and role with subscribers).
    pub pollers: usize,
    /// Polls done so far, all pollers together.
    pub polls: u64,
    /// Statements executed by those polls: with a batch statement, one per poll and
    /// [`SubsOptions::batch_size`] distinct parameter sets.
    pub executions: u64,
    /// Statements executed by the latest poll (with a batch statement: one per
    /// [`SubsOptions::batch_size`] distinct parameter sets, so 1 up to that many).
    pub last_poll_executions: u64,
    /// Single executions giving new subscribers their first result.
    pub first_results: u64,
    /// How long the latest poll took, from building its parameter to the last result
    /// queued.
    pub last_poll: Duration,
}

/// The subscription registry: starts subscribers and runs one poller per operation and
/// role. Cheap to clone (one `Arc`); the HTTP [`crate::Service`] holds one
/// ([`crate::Service::subscriptions`]).
#[derive(Clone)]
pub struct Subscriptions {
    shared: Arc<Shared>,
}

impl fmt::Debug for Subscriptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscriptions")
            .field("options", &self.shared.options)
            .field("stats", &self.stats())
            .finish()
    }
}

pub(crate) struct Shared {
    pub(crate) db: Db,
    pub(crate) options: SubsOptions,
    /// The command channel of each running poller, by (operation, role) index.
    registry: Mutex<HashMap<(usize, usize), mpsc::UnboundedSender<Command>>>,
    next_id: AtomicU64,
    shutdown: watch::Sender<bool>,
    pub(crate) counters: Counters,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) subscribers: AtomicUsize,
    pub(crate) pollers: AtomicUsize,
    pub(crate) first_results: AtomicU64,
    /// Updated once per poll, together, so a reader sees them agree.
    pub(crate) polls: Mutex<PollCounts>,
}

/// What the polls did so far.
#[derive(Default, Clone, Copy)]
pub(crate) struct PollCounts {
    pub(crate) polls: u64,
    pub(crate) executions: u64,
    pub(crate) last_executions: u64,
    pub(crate) last_poll: Duration,
}

impl Counters {
    /// Records one poll that ran `executions` statements in `took`.
    pub(crate) fn record_poll(&self, executions: u64, took: Duration) {
        if let Ok(mut p) = self.polls.lock() {
            p.polls += 1;
            p.executions += executions;
            p.last_executions = executions;
            p.last_poll = took;
        }
    }
}

/// What a poller is told.
pub(crate) enum Command {
    Join(Box<poller::Sub>),
    Leave(u64),
}

/// One message for a subscriber.
#[derive(Debug)]
pub(crate) enum Event {
    /// The `data` JSON, as the statement returned it.
    Data(Bytes),
    /// A passing failure (the database is unavailable); polling goes on.
    Errors(Box<Error>),
    /// The subscription ended with this error.
    Fatal(Box<Error>),
}

/// An event for subscriber `sub`.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub(crate) sub: u64,
    pub(crate) event: Event,
}

/// Set when a subscriber's queue overflowed; its owner (a WebSocket connection) waits on it.
#[derive(Debug, Default)]
pub(crate) struct Lag {
    tripped: AtomicBool,
    pub(crate) notify: Notify,
}

impl Lag {
    pub(crate) fn trip(&self) {
        if !self.tripped.swap(true, Ordering::AcqRel) {
            self.notify.notify_one();
        }
    }

    pub(crate) fn is_tripped(&self) -> bool {
        self.tripped.load(Ordering::Acquire)
    }
}

/// Where a subscriber's events go: a bounded queue (shared by all subscriptions of one
/// WebSocket connection, or a stream's own) and its overflow flag.
#[derive(Debug, Clone)]
pub(crate) struct Sink {
    pub(crate) tx: mpsc::Sender<Delivery>,
    pub(crate) lag: Arc<Lag>,
}

/// A subscriber's membership: dropping it leaves the poller.
pub(crate) struct Ticket {
    id: u64,
    cancelled: Arc<AtomicBool>,
    poller: mpsc::UnboundedSender<Command>,
}

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket").field("id", &self.id).finish()
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.cancelled.store(true, Ordering::Release);
        let _ = self.poller.send(Command::Leave(self.id));
    }
}

impl Subscriptions {
    /// A registry over `db`. Nothing runs until the first subscriber comes.
    pub fn new(db: Db, options: SubsOptions) -> Self {
        let (shutdown, _) = watch::channel(false);
        Subscriptions {
            shared: Arc::new(Shared {
                db,
                options: options.checked(),
                registry: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
                shutdown,
                counters: Counters::default(),
            }),
        }
    }

    /// The executor.
    pub fn db(&self) -> &Db {
        &self.shared.db
    }

    /// The options in force.
    pub fn options(&self) -> &SubsOptions {
        &self.shared.options
    }

    /// Subscribes to `op` as `who` with typed variables (what generated `subscribe()`
    /// functions call): the stream yields the current `data` first, then each change.
    /// `vars` must serialize to a JSON object (or to `null`/`()` for none).
    ///
    /// Errors that end the subscription (a variable of the wrong type, a role without the
    /// operation) come as the stream's only item; credentials that expire (`who`'s
    /// [`Auth::expires_at`]) end it with [`Error::CredentialsExpired`]; a database outage
    /// comes as an item and the stream goes on.
    pub fn subscribe<V, D>(&self, op: &Operation, who: &Auth, vars: &V) -> Subscription<D>
    where
        V: Serialize + ?Sized,
        D: DeserializeOwned,
    {
        let json = serde_json::to_vec(vars).map_err(Error::VariablesJson);
        self.stream(op, who, json, stream::decode_json::<D>)
    }

    /// Subscribes to `op` as `who` with `variables` (a JSON object, or `None`/`null`),
    /// yielding each `data` as the statement's raw JSON bytes.
    pub fn subscribe_raw(
        &self,
        op: &Operation,
        who: &Auth,
        variables: Option<&serde_json::Value>,
    ) -> Subscription<Bytes> {
        let json = serde_json::to_vec(&variables).map_err(Error::VariablesJson);
        self.stream(op, who, json, stream::raw)
    }

    fn stream<D>(
        &self,
        op: &Operation,
        who: &Auth,
        json: Result<Vec<u8>, Error>,
        decode: fn(&'static str, Bytes) -> Result<D, Error>,
    ) -> Subscription<D> {
        let found = self.shared.db.catalog().index_of(op);
        let this = self.clone();
        let who = who.clone();
        let expires_at = who.expires_at;
        let name = op.name.to_owned();
        let capacity = self.shared.options.send_queue;
        let start = async move {
            let index = found.ok_or(Error::UnknownOperation(name))?;
            let json = json?;
            let vars = RawVariables::parse(&json)?;
            let (tx, rx) = mpsc::channel(capacity);
            let lag = Arc::new(Lag::default());
            let sink = Sink {
                tx,
                lag: lag.clone(),
            };
            let id = this.next_id();
            let ticket = this
                .start(index, &who, Source::Raw(&vars), sink, id)
                .await?;
            Ok(stream::Running {
                rx,
                lag,
                _ticket: ticket,
                capacity,
            })
        };
        let name = found.map_or("", |i| self.shared.db.operations()[i].name);
        Subscription::new(Box::pin(start), name, decode, expires_at)
    }

    /// The counters: subscribers and pollers now, polls and executions so far.
    pub fn stats(&self) -> SubsStats {
        let c = &self.shared.counters;
        let p = c.polls.lock().map(|p| *p).unwrap_or_default();
        SubsStats {
            subscribers: c.subscribers.load(Ordering::Relaxed),
            pollers: c.pollers.load(Ordering::Relaxed),
            polls: p.polls,
            executions: p.executions,
            last_poll_executions: p.last_executions,
            first_results: c.first_results.load(Ordering::Relaxed),
            last_poll: p.last_poll,
        }
    }

    /// Stops every poller, ends every in-process [`Subscription`] and closes every
    /// WebSocket connection of this registry (code 1001); later subscribers are refused.
    /// Call it when the server shuts down, e.g. in axum's `with_graceful_shutdown`.
    pub fn shutdown(&self) {
        self.shared.shutdown.send_replace(true);
        if let Ok(mut registry) = self.shared.registry.lock() {
            registry.clear();
        }
    }

    /// Whether [`Subscriptions::shutdown`] was called.
    pub fn is_shut_down(&self) -> bool {
        *self.shared.shutdown.borrow()
    }

    /// A receiver that turns `true` on shutdown.
    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shared.shutdown.subscribe()
    }

    /// A fresh subscriber id.
    pub(crate) fn next_id(&self) -> u64 {
        self.shared.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Starts subscriber `id` of operation `index`: resolves the caller's role, binds the
    /// variables, runs the operation once and queues that result in `sink`, then joins the
    /// poller of the operation and role. Dropping the ticket leaves.
    pub(crate) async fn start(
        &self,
        index: usize,
        auth: &Auth,
        vars: Source<'_>,
        sink: Sink,
        id: u64,
    ) -> Result<Ticket, Error> {
        let shared = &self.shared;
        if self.is_shut_down() {
            return Err(Error::Unavailable {
                message: "the server is shutting down".to_owned(),
            });
        }
        let db = &shared.db;
        let catalog = db.catalog();
        let op = &catalog.operations[index];
        match op.kind {
            OpKind::Subscription => {}
            OpKind::Query => {
                return Err(Error::NotSubscription {
                    operation: op.name,
                    kind: "query",
                });
            }
            OpKind::Mutation => {
                return Err(Error::NotSubscription {
                    operation: op.name,
                    kind: "mutation",
                });
            }
        }
        crate::validate::check(op, &vars)?;
        let failed = |e| Error::from_query(op.name, e);
        let conn = db.read_connection().await?;
        let role = resolve_role(&conn, auth, db.role_cache())
            .await
            .map_err(failed)?;
        let r = op
            .roles
            .iter()
            .position(|rs| rs.role == role)
            .ok_or_else(|| Error::Forbidden {
                operation: op.name,
                role: role.to_string(),
            })?;
        let statement = catalog.statement_index(index, r);
        let mut bound = bind(
            op.roles[r].params,
            catalog.kinds(statement),
            auth,
            &role,
            vars,
        )?;
        db.cursors()
            .open_params(index, op.roles[r].params, &mut bound)?;
        let mut params: Box<[Option<Box<str>>]> = bound
            .into_iter()
            .map(|p| p.map(|c| Box::from(c.as_ref())))
            .collect();
        let first = {
            let rows = crate::exec::statement(&conn, statement, op.roles[r].sql, &params)
                .await
                .map_err(failed)?;
            let mut rows = pin!(rows);
            let row = rows.try_next().await.map_err(failed)?;
            while rows.try_next().await.map_err(failed)?.is_some() {}
            let row = row.ok_or_else(|| Error::Database {
                operation: op.name,
                message: "the statement returned no row".to_owned(),
            })?;
            let raw = data(&row, op.name)?;
            // A paged subscription continues after its first page.
            if let Some(next) = db.cursors().next_cursor(index, raw)
                && let Some(slot) = op.roles[r]
                    .params
                    .iter()
                    .position(|p| !p.builtin && p.name == "cursor")
                    .and_then(|i| params.get_mut(i))
            {
                *slot = Some(next.into_boxed_str());
            }
            Bytes::copy_from_slice(&db.cursors().seal_data(index, raw))
        };
        drop(conn);
        shared
            .counters
            .first_results
            .fetch_add(1, Ordering::Relaxed);

        let last_hash = hash(&first);
        let delivered = sink.tx.try_send(Delivery {
            sub: id,
            event: Event::Data(first),
        });
        match delivered {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                sink.lag.trip();
                return Err(Error::Lagged {
                    operation: op.name,
                    capacity: sink.tx.max_capacity(),
                });
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                return Err(Error::Unavailable {
                    message: "the subscriber went away".to_owned(),
                });
            }
        }

        let cancelled = Arc::new(AtomicBool::new(false));
        let sub = poller::Sub {
            id,
            params: poller::Params::from(params),
            last_hash,
            sink,
            cancelled: cancelled.clone(),
        };
        let poller = self.join(index, r, statement, Box::new(sub))?;
        Ok(Ticket {
            id,
            cancelled,
            poller,
        })
    }

    /// Hands `sub` to the poller of (`index`, `role`), starting one if none runs.
    fn join(
        &self,
        index: usize,
        role: usize,
        statement: usize,
        sub: Box<poller::Sub>,
    ) -> Result<mpsc::UnboundedSender<Command>, Error> {
        let mut registry = self
            .shared
            .registry
            .lock()
            .map_err(|_| Error::Unavailable {
                message: "the subscription registry is unusable after a panic".to_owned(),
            })?;
        if self.is_shut_down() {
            return Err(Error::Unavailable {
                message: "the server is shutting down".to_owned(),
            });
        }
        let key = (index, role);
        let mut sub = Some(sub);
        if let Some(tx) = registry.get(&key)
            && let Some(s) = sub.take()
        {
            match tx.send(Command::Join(s)) {
                Ok(()) => return Ok(tx.clone()),
                // The poller is gone (it panicked): start another.
                Err(mpsc::error::SendError(Command::Join(s))) => sub = Some(s),
                Err(_) => {}
            }
        }
        let sub = sub.ok_or_else(|| Error::Unavailable {
            message: "the subscription could not be registered".to_owned(),
        })?;
        let (tx, rx) = mpsc::unbounded_channel();
        // Cannot fail: the receiver is right here.
        let _ = tx.send(Command::Join(sub));
        registry.insert(key, tx.clone());
        poller::spawn(self.shared.clone(), key, statement, tx.clone(), rx);
        Ok(tx)
    }
}

impl Shared {
    /// Removes the poller of `key` from the registry if `tx` is still the registered one
    /// and nothing is waiting in `rx`; returns whether it did (the poller may then stop).
    pub(crate) fn retire(
        &self,
        key: (usize, usize),
        tx: &mpsc::UnboundedSender<Command>,
        rx: &mpsc::UnboundedReceiver<Command>,
    ) -> bool {
        let Ok(mut registry) = self.registry.lock() else {
            return true;
        };
        if !rx.is_empty() {
            return false;
        }
        if registry.get(&key).is_some_and(|t| t.same_channel(tx)) {
            registry.remove(&key);
        }
        true
    }

    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}

/// The 64-bit hash of a result's bytes; never 0, which stands for "nothing sent yet".
pub(crate) fn hash(bytes: &[u8]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    h.write(bytes);
    h.finish() | 1
}

/// A copy of an error for each subscriber it concerns.
pub(crate) fn duplicate(e: &Error) -> Error {
    match e {
        Error::Unavailable { message } => Error::Unavailable {
            message: message.clone(),
        },
        Error::Connect { target, message } => Error::Connect {
            target: target.clone(),
            message: message.clone(),
        },
        Error::InvalidValue { message } => Error::InvalidValue {
            message: message.clone(),
        },
        Error::Constraint { message } => Error::Constraint {
            message: message.clone(),
        },
        Error::Database { operation, message } => Error::Database {
            operation,
            message: message.clone(),
        },
        Error::Forbidden { operation, role } => Error::Forbidden {
            operation,
            role: role.clone(),
        },
        Error::Lagged {
            operation,
            capacity,
        } => Error::Lagged {
            operation,
            capacity: *capacity,
        },
        other => Error::Unavailable {
            message: other.to_string(),
        },
    }
}

/// Whether a failure is the database being away (polling goes on) rather than the
/// statement's.
pub(crate) fn is_outage(e: &Error) -> bool {
    matches!(e, Error::Unavailable { .. } | Error::Connect { .. })
}
