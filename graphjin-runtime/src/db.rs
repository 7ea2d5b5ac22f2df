//! The executor: a pool of connections with every statement prepared, and the calls that
//! run an operation for a caller.
//!
//! Faults: every call runs under a deadline ([`PoolOptions::statement_timeout`], or its
//! operation's entry in [`PoolOptions::operation_timeouts`]) and fails past it with
//! [`Error::Timeout`] (a 504). A read stuck behind a slow statement on its connection
//! moves to another after `stall_after`; a read whose connection is lost before it got
//! its answer runs once more on a fresh connection, a write never runs twice (see
//! `call.rs`). A lost database is [`Error::Unavailable`] (a 503 with `Retry-After`); the
//! pool reconnects with backoff, not once per call (see `pool`). Readiness
//! ([`Db::ready`]) asks the database on a connection of its own, so a lock on a table
//! or a saturated pool does not make a healthy database look down.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use graphjin_pgtls::TlsOptions;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_postgres::Row;

use crate::catalog::Catalog;
use crate::conn::Opener;
use crate::deadline::Limits;
use crate::error::pg_message;
use crate::observe::context as observe;
pub use crate::pool::PoolStats;
use crate::pool::{Lease, Pool, SessionSetup};
use crate::replicas::{ReplicaSpec, ReplicaStatus, Replicas, Route};
use crate::types::RawJson;
use crate::vars::{RawVariables, Source};
use crate::{Auth, Batch, EnumType, Error, Operation, RoleQuery};

/// How the connection pool behaves.
///
/// Calls share connections: each call takes the least busy one, and calls on one
/// connection are pipelined (sent without waiting for the answers before them). A new
/// connection opens when every open one is busy, up to `max_size`. Every call runs under
/// a deadline (`statement_timeout`, or its entry in `operation_timeouts`); during an
/// outage the pool reconnects with backoff (`connect_backoff` to `connect_backoff_max`).
///
/// ```
/// let options = graphjin_runtime::PoolOptions { max_size: 8, ..Default::default() };
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolOptions {
    /// Most connections open at once. Default: one per CPU core, at least two. Pipelining
    /// keeps each connection's backend fed, so more connections than cores mostly add
    /// context switches: on two cores, two connections 16 deep served the serving bench's
    /// load with less PostgreSQL CPU per request than four 8 deep.
    pub max_size: usize,
    /// Most calls in flight on one connection. `1` gives each call a connection of its
    /// own (no pipelining); deeper pipelines serve more calls per second at saturation, but
    /// a slow statement delays the calls queued behind it on its connection (until they
    /// move, see `stall_after`). Default: 16.
    pub pipeline_depth: usize,
    /// How long a call waits for room on a connection (every connection has
    /// `pipeline_depth` calls in flight) before failing with [`Error::Unavailable`].
    /// `None` waits forever. Default: 5 s.
    pub wait_timeout: Option<Duration>,
    /// A busy connection whose calls have made no progress for this long (a slow statement
    /// at the head of its pipeline, a lock) takes no new call while another connection has
    /// room or can be opened, so quick calls do not queue behind slow ones; reads already
    /// queued behind the slow statement move to another connection after this long.
    /// Default: 100 ms.
    pub stall_after: Duration,
    /// How long opening a connection may take (TCP, TLS, start-up, authentication), unless
    /// the URL sets `connect_timeout`; also bounds a cancel request. Default: 5 s.
    pub connect_timeout: Option<Duration>,
    /// After a connection fails to open, the pool waits this long before the next attempt,
    /// doubling after each failure up to `connect_backoff_max` (each wait drawn between
    /// half and all of it), one attempt at a time; calls meanwhile fail at once with
    /// [`Error::Unavailable`] unless the next attempt comes within their wait. Default:
    /// 100 ms.
    pub connect_backoff: Duration,
    /// The longest wait between attempts to open a connection. Default: 5 s.
    pub connect_backoff_max: Duration,
    /// How long [`Db::health`] waits for the database's answer. Default: 2 s.
    pub health_timeout: Duration,
    /// A connection this old takes no new call and closes once its calls are done (the
    /// next call opens a fresh one). `None`: connections live as long as they work.
    /// Default: `None`.
    pub max_lifetime: Option<Duration>,
    /// Close a connection that had no call for this long, keeping `min_idle` open. `None`
    /// keeps every connection. Default: 10 minutes.
    pub idle_timeout: Option<Duration>,
    /// Connections `idle_timeout` leaves open (each has every statement prepared, so it is
    /// worth keeping one warm). Default: 1.
    pub min_idle: usize,
    /// Every call's time limit, from asking for a connection to reading the last row,
    /// unless `operation_timeouts` has an entry for its operation: a call over it fails
    /// with [`Error::Timeout`] (a 504), and its statement is cancelled. Also sent to
    /// PostgreSQL as each connection's `statement_timeout` (the largest limit of any
    /// operation), so the server stops a runaway statement on its own. `None` (or zero):
    /// no limit. Default: 30 s.
    pub statement_timeout: Option<Duration>,
    /// Per operation name, a time limit replacing `statement_timeout` for that operation
    /// (config `database.operation_timeouts: {listProducts: 2s}`); zero means no limit. A
    /// name that is not in the operation table is logged and ignored. Default: none.
    pub operation_timeouts: BTreeMap<String, Duration>,
    /// SQL run once on each new connection, after connecting and before the statements are
    /// prepared (e.g. `SET lock_timeout = '1s'`); a failure stops the connection with an
    /// error. Default: none.
    pub connection_setup: Option<String>,
    /// The schema statements run in: each connection's `search_path` (config
    /// `database.schema`). Default: the server's.
    pub schema: Option<String>,
    /// How statements are sent (config `database.statement_mode`): `Prepared` prepares
    /// every statement on every connection, the fastest, for direct connections and
    /// PgBouncer's `session` pooling; `Unnamed` sends each call's SQL as the unnamed
    /// statement with typed parameters, for PgBouncer's `transaction` pooling (see
    /// [`StatementMode`](crate::StatementMode)). Start-up checks every statement in both
    /// modes; in `Unnamed` mode on a connection of its own, in a transaction that leaves
    /// nothing behind. `Unnamed` mode sends no session setting either, since the next call
    /// may run on another server connection: `statement_timeout` is enforced by the client
    /// alone (a call past it is cancelled with a cancel request, which PgBouncer forwards),
    /// and `schema` and `connection_setup` are refused: set them on the database role
    /// (`ALTER ROLE app SET search_path = shop`) or in PgBouncer's `connect_query`.
    /// Default: `Prepared`.
    pub statement_mode: crate::StatementMode,
    /// The key `<field>_cursor` values are sealed with ([`crate::cursor`]): config
    /// `secret_key`, which [`crate::Config::pool_options`] fills in. `None`: GraphJin's
    /// default key (32 zero bytes), which anyone can seal with.
    pub cursor_key: Option<crate::CursorKey>,
    /// Read replicas (config `database.read_replicas`): queries and subscription polls run
    /// on the least busy one in use, mutations and actions on the primary (see
    /// [`crate::replicas`]). Each has a pool of its own with these settings; TLS from its
    /// URL, with the builder's TLS keys laid over it as for the primary. Default: none.
    pub read_replicas: Vec<crate::replicas::ReplicaUrl>,
    /// A replica lagging the primary by more than this is taken out until it catches up
    /// (config `database.max_replica_lag`). Default: 10 s.
    pub max_replica_lag: Duration,
    /// How often the replicas are checked (config `database.replica_check_interval`); each
    /// check is bounded by `health_timeout`. Default: 1 s.
    pub replica_check_interval: Duration,
    /// After an authenticated caller's mutation, their reads go to the primary for this
    /// long, so they see their own write (config `database.read_your_writes`). `None`: off.
    /// Default: `None`.
    pub read_your_writes: Option<Duration>,
    /// How long a signed-in caller's role, once read with the roles query, is used without
    /// reading it again (config `database.role_cache_ttl`): a role changed in the database
    /// is seen within this time. `None`: off, the role is read on every call. Default:
    /// `None`.
    pub role_cache_ttl: Option<Duration>,
    /// The most user ids the role cache holds (config `database.role_cache_size`).
    /// Default: 100,000.
    pub role_cache_size: usize,
}

impl Default for PoolOptions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        PoolOptions {
            max_size: cores.max(2),
            pipeline_depth: 16,
            wait_timeout: Some(Duration::from_secs(5)),
            stall_after: Duration::from_millis(100),
            connect_timeout: Some(Duration::from_secs(5)),
            connect_backoff: Duration::from_millis(100),
            connect_backoff_max: Duration::from_secs(5),
            health_timeout: Duration::from_secs(2),
            max_lifetime: None,
            idle_timeout: Some(Duration::from_secs(600)),
            min_idle: 1,
            statement_timeout: Some(Duration::from_secs(30)),
            operation_timeouts: BTreeMap::new(),
            connection_setup: None,
            schema: None,
            statement_mode: crate::StatementMode::Prepared,
            cursor_key: None,
            read_replicas: Vec::new(),
            max_replica_lag: Duration::from_secs(10),
            replica_check_interval: Duration::from_secs(1),
            read_your_writes: None,
            role_cache_ttl: None,
            role_cache_size: 100_000,
        }
    }
}

/// The executor: a connection pool on which every statement of the operation table is
/// prepared for every role. Cheap to clone (one `Arc`).
///
/// ```no_run
/// # async fn demo(ops: &'static [graphjin_runtime::Operation]) -> Result<(), graphjin_runtime::Error> {
/// use graphjin_runtime::{Auth, Db, PoolOptions};
/// let db = Db::connect("postgres://app@localhost/shop", ops, PoolOptions::default()).await?;
/// let data = db.execute(&ops[0], &Auth::anon(), None).await?; // the `data` JSON
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    catalog: Arc<Catalog>,
    limits: Limits,
    health_timeout: Duration,
    /// The readiness check's own connection.
    probe: crate::probe::Probe,
    cursors: crate::cursor::Cursors,
    /// The read replicas (none: every call runs on the primary).
    replicas: Replicas,
    /// Signed-in callers' roles, when `role_cache_ttl` is set.
    role_cache: Option<crate::role_cache::RoleCache>,
}

/// How busy the pool is, for readiness reports ([`Db::ready`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PoolStatus {
    /// Open connections.
    pub connections: usize,
    /// Calls running on them.
    pub in_flight: usize,
    /// Calls waiting for room or a connection.
    pub waiting: usize,
    /// Most calls at once (`max_size × pipeline_depth`).
    pub capacity: usize,
    /// Every call slot is taken: new calls wait (up to the wait timeout).
    pub saturated: bool,
    /// Connections that take no new call for now: stuck on a slow statement or a lock
    /// (no progress for `stall_after`, or a call past its deadline), or lost and about to
    /// be replaced. New calls go to the others (or to new ones).
    pub stalled: usize,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.inner.pool.status();
        f.debug_struct("Db")
            .field("target", &self.inner.pool.target())
            .field("operations", &self.inner.catalog.operations.len())
            .field("connections", &status.connections)
            .field("opening", &status.opening)
            .field("in_flight", &status.in_flight)
            .finish()
    }
}

impl Db {
    /// Connects, and prepares every statement of `operations` for every role on a first
    /// connection, so a statement that does not fit the database stops start-up with an
    /// error naming the operation, the role and PostgreSQL's message.
    ///
    /// TLS follows the URL's libpq settings via [`graphjin_pgtls`]: `sslmode` (`disable`,
    /// `allow`, `prefer` — the default —, `require`, `verify-ca`, `verify-full`),
    /// `sslrootcert` (a file, or `system`), `sslcert`, `sslkey`; GraphJin's `enable_tls`
    /// keys go to [`DbBuilder::tls`]. Unix sockets are always plain. Error messages show
    /// the target as `postgres://user@host:port/db`, never the password, and name a TLS
    /// failure's cause ("certificate verify failed: unknown CA", "host name mismatch: …").
    pub async fn connect(
        database_url: &str,
        operations: &'static [Operation],
        options: PoolOptions,
    ) -> Result<Db, Error> {
        Self::connect_with_roles(database_url, operations, None, options).await
    }

    /// [`Db::connect`] for an app whose config matches roles with `roles_query`: the
    /// role statement is prepared on every connection too, and each signed-in caller's
    /// role is looked up with it before their operation runs.
    pub async fn connect_with_roles(
        database_url: &str,
        operations: &'static [Operation],
        role_query: Option<&'static RoleQuery>,
        options: PoolOptions,
    ) -> Result<Db, Error> {
        Db::builder(database_url, operations)
            .role_query(role_query)
            .options(options)
            .connect()
            .await
    }

    /// A [`DbBuilder`] for everything the generated code hands over: the operation table,
    /// the role statement and the subscriptions' batch statements.
    ///
    /// ```no_run
    /// # async fn demo(ops: &'static [graphjin_runtime::Operation], batches: &'static [graphjin_runtime::Batch]) -> Result<(), graphjin_runtime::Error> {
    /// let db = graphjin_runtime::Db::builder("postgres://app@localhost/shop", ops)
    ///     .batches(batches)
    ///     .connect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn builder(database_url: &str, operations: &'static [Operation]) -> DbBuilder {
        DbBuilder {
            database_url: database_url.to_owned(),
            operations,
            role_query: None,
            batches: &[],
            enums: &[],
            options: PoolOptions::default(),
            tls: None,
            replicas: Vec::new(),
        }
    }

    async fn connect_built(b: DbBuilder) -> Result<Db, Error> {
        let DbBuilder {
            database_url,
            operations,
            role_query,
            batches,
            enums,
            options,
            tls,
            replicas: extra_replicas,
        } = b;
        let (mut config, url_tls) =
            TlsOptions::from_url(&database_url).map_err(|e| Error::InvalidUrl {
                message: match e {
                    graphjin_pgtls::TlsError::InvalidUrl(message) => message,
                    other => other.to_string(),
                },
            })?;
        let keys = tls;
        let tls = match keys.clone() {
            Some(keys) => keys.over(url_tls),
            None => url_tls,
        };
        if config.get_connect_timeout().is_none()
            && let Some(t) = options.connect_timeout
        {
            config.connect_timeout(t);
        }
        if config.get_application_name().is_none() {
            config.application_name("graphjin");
        }
        let mut catalog = Catalog::new(operations)?;
        catalog.set_role_query(role_query)?;
        catalog.set_batches(batches)?;
        catalog.enums = enums;
        let catalog = Arc::new(catalog);
        let limits = Limits::new(&options, &catalog);
        let opener = Opener::new(config, catalog.clone())
            .with_tls(tls)
            .with_setup(SessionSetup::new(&options, limits.server_timeout()));
        let pool = Pool::new(opener, &options, limits.server_timeout());
        // Open (and prepare on) the first connection now; it stays in the pool.
        pool.open_first().await?;
        let specs = options
            .read_replicas
            .iter()
            .map(|url| ReplicaSpec {
                url: url.clone(),
                tls: None,
            })
            .chain(extra_replicas)
            .collect();
        let replicas =
            crate::replicas::open(specs, keys.as_ref(), &catalog, &options, &limits).await?;
        replicas.start_check(
            pool.clone(),
            crate::replicas::CheckOptions {
                every: options.replica_check_interval,
                max_lag: options.max_replica_lag,
                timeout: options.health_timeout,
            },
        );
        let cursors =
            crate::cursor::Cursors::new(operations, options.cursor_key.clone().unwrap_or_default());
        if cursors.any() && cursors.default_key() {
            tracing::warn!(
                "operations page with cursors but no secret_key is set: cursors are sealed with GraphJin's default key, which anyone can seal with; set secret_key (GJ_SECRET_KEY)"
            );
        }
        Ok(Db {
            inner: Arc::new(Inner {
                pool,
                catalog,
                limits,
                health_timeout: options.health_timeout,
                probe: crate::probe::Probe::default(),
                cursors,
                replicas,
                role_cache: crate::role_cache::RoleCache::new(
                    options.role_cache_ttl,
                    options.role_cache_size,
                ),
            }),
        })
    }

    /// The operation table this `Db` serves.
    pub fn operations(&self) -> &'static [Operation] {
        self.inner.catalog.operations
    }

    /// The operation called `name` (exact name first, else ignoring case).
    pub fn operation(&self, name: &str) -> Option<&'static Operation> {
        let ops = self.operations();
        self.inner.catalog.by_name(name).map(|i| &ops[i])
    }

    /// Runs `op` as `auth` with client `variables` (a JSON object, or `None`/`null` for
    /// none) and returns the response's `data` as raw JSON bytes.
    ///
    /// Variables are checked against the types their statement uses them as; builtins
    /// (`user_id`, `user_id_provider`, `user_role`) come from `auth` only.
    pub async fn execute(
        &self,
        op: &Operation,
        auth: &Auth,
        variables: Option<&serde_json::Value>,
    ) -> Result<Bytes, Error> {
        let index = self.index_of(op)?;
        let source = Source::from_value(variables)?;
        let row = self.fetch(index, auth, source).await?;
        let raw = data(&row, op.name)?;
        Ok(Bytes::copy_from_slice(
            &self.inner.cursors.seal_data(index, raw),
        ))
    }

    /// Runs `op` as `auth` with typed variables and deserializes the `data` into `D`:
    /// what generated `run()` functions call. `vars` must serialize to a JSON object (or
    /// to `null`/`()` for none); numbers keep their exact text on the way.
    pub async fn run<V, D>(&self, op: &Operation, auth: &Auth, vars: &V) -> Result<D, Error>
    where
        V: Serialize + ?Sized,
        D: DeserializeOwned,
    {
        let index = self.index_of(op)?;
        let json = serde_json::to_vec(vars).map_err(Error::VariablesJson)?;
        let raw = RawVariables::parse(&json)?;
        let row = self.fetch(index, auth, Source::Raw(&raw)).await?;
        let raw = data(&row, op.name)?;
        serde_json::from_slice(&self.inner.cursors.seal_data(index, raw)).map_err(|source| {
            Error::Decode {
                operation: op.name,
                source,
            }
        })
    }

    /// The pool's counters now: connections open, idle and opening, calls in flight and
    /// waiting, connections opened and closed, and time spent waiting. For metrics and
    /// readiness checks.
    pub fn pool_stats(&self) -> PoolStats {
        self.inner.pool.stats()
    }

    /// Checks the database answers `SELECT 1` within the health timeout, on a connection
    /// of its own (kept between checks): never queued behind the pool's calls, so a lock
    /// on a table or a full pool does not make a healthy database look down.
    pub async fn health(&self) -> Result<(), Error> {
        let inner = &self.inner;
        inner
            .probe
            .check(inner.pool.opener(), inner.health_timeout)
            .await
    }

    /// How busy the pool is right now (the part of [`Db::pool_stats`] a readiness report
    /// shows).
    pub fn pool_status(&self) -> PoolStatus {
        let stats = self.pool_stats();
        let capacity = stats.max_size.saturating_mul(stats.pipeline_depth);
        PoolStatus {
            connections: stats.connections,
            in_flight: stats.in_flight,
            waiting: stats.waiting,
            capacity,
            saturated: stats.waiting > 0 || stats.in_flight >= capacity,
            stalled: stats.stalled,
        }
    }

    /// Whether the service can take traffic: every statement was prepared when this `Db`
    /// connected (and is on every connection it opens), and the database answers
    /// [`Db::health`]'s `SELECT 1` on the check's own connection. A saturated pool, or one
    /// whose connections are stuck behind a lock, is ready (its status says so): it is
    /// busy, not broken.
    pub async fn ready(&self) -> Result<PoolStatus, Error> {
        self.health().await?;
        Ok(self.pool_status())
    }

    /// A share of the least busy pooled connection, waiting up to the wait timeout when
    /// every connection is full.
    pub(crate) async fn connection(&self) -> Result<Lease, Error> {
        self.inner.pool.get().await
    }

    /// Each read replica: where it is, whether reads go to it, its lag and why it is out.
    /// Empty without replicas. Readiness ([`Db::ready`]) is the primary's alone: with every
    /// replica out, reads run on the primary.
    pub fn replica_status(&self) -> Vec<ReplicaStatus> {
        self.inner.replicas.status()
    }

    /// Where a read for `auth` runs: a replica in use, or the primary (no replica in use,
    /// or `auth` wrote within the read-your-writes window).
    pub(crate) fn pool_for_read(&self, auth: &Auth) -> Route {
        self.inner.replicas.route_read(auth)
    }

    /// Where operation `op` runs for `auth`: a mutation on the primary, a read as
    /// [`Db::pool_for_read`] says.
    pub(crate) fn route(&self, op: &Operation, auth: &Auth) -> Route {
        match op.kind {
            crate::OpKind::Mutation => Route::Primary,
            _ => self.pool_for_read(auth),
        }
    }

    /// A connection on `route` by `deadline`; a replica that cannot give one is taken out
    /// and the call moves to the primary (`route` then says so).
    pub(crate) async fn lease_on(
        &self,
        route: &mut Route,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Lease, Error> {
        if let Route::Replica(n) = *route
            && let Some(pool) = self.inner.replicas.pool(n)
        {
            match pool.get_by(deadline).await {
                Ok(lease) => return Ok(lease),
                Err(e) => self.leave_replica(route, &e),
            }
        }
        *route = Route::Primary;
        self.inner.pool.get_by(deadline).await
    }

    /// A call on `route` lost its connection: a replica is taken out and the next try
    /// runs on the primary.
    pub(crate) fn leave_replica(&self, route: &mut Route, error: &dyn fmt::Display) {
        if let Route::Replica(n) = *route {
            self.inner.replicas.failed(n, error);
            tracing::info!(error = %error, "a read replica failed a call: it runs on the primary");
        }
        *route = Route::Primary;
    }

    /// A connection for a read that is no caller's own (a subscription poll): on a
    /// replica in use, else the primary.
    pub(crate) async fn read_connection(&self) -> Result<Lease, Error> {
        let mut route = self.inner.replicas.route_read(&Auth::anon());
        if let Route::Replica(n) = route
            && let Some(pool) = self.inner.replicas.pool(n)
        {
            match pool.get().await {
                Ok(lease) => return Ok(lease),
                Err(e) => self.leave_replica(&mut route, &e),
            }
        }
        self.connection().await
    }

    pub(crate) fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    /// Signed-in callers' roles, when the cache is on.
    pub(crate) fn role_cache(&self) -> Option<&crate::role_cache::RoleCache> {
        self.inner.role_cache.as_ref()
    }

    /// The cursor markers and key: seals `_cursor` values, opens `$cursor`.
    pub(crate) fn cursors(&self) -> &crate::cursor::Cursors {
        &self.inner.cursors
    }

    fn index_of(&self, op: &Operation) -> Result<usize, Error> {
        self.inner
            .catalog
            .index_of(op)
            .ok_or_else(|| Error::UnknownOperation(op.name.to_owned()))
    }

    /// The pool.
    pub(crate) fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// Binds and runs operation number `index` for `auth`'s role under its deadline (see
    /// [`crate::call`]); the row holds the data.
    pub(crate) async fn fetch(
        &self,
        index: usize,
        auth: &Auth,
        vars: Source<'_>,
    ) -> Result<Row, Error> {
        let op = &self.inner.catalog.operations[index];
        observe::note_operation(index, op);
        crate::validate::check(op, &vars)?;
        let limit = self.inner.limits.of(index);
        let row = crate::call::Call::new(self, index, auth, vars, limit)
            .run()
            .await?;
        if op.kind == crate::OpKind::Mutation {
            self.inner.replicas.wrote(auth);
        }
        Ok(row)
    }
}

/// Connects a [`Db`] with everything the generated code hands over; from [`Db::builder`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `.connect().await`"]
pub struct DbBuilder {
    database_url: String,
    operations: &'static [Operation],
    role_query: Option<&'static RoleQuery>,
    batches: &'static [Batch],
    enums: &'static [EnumType],
    options: PoolOptions,
    tls: Option<TlsOptions>,
    replicas: Vec<ReplicaSpec>,
}

impl DbBuilder {
    /// A read replica at `url` (besides [`PoolOptions::read_replicas`]): TLS from the URL's
    /// `sslmode` etc., with `tls` laid over it when given, else the keys of
    /// [`DbBuilder::tls`] as for the primary. See [`crate::replicas`].
    pub fn read_replica(mut self, url: &str, tls: Option<TlsOptions>) -> Self {
        self.replicas.push(ReplicaSpec {
            url: crate::replicas::ReplicaUrl::new(url),
            tls,
        });
        self
    }

    /// How a signed-in user's role is found (the generated `ROLE_QUERY`), if configured.
    pub fn role_query(mut self, role_query: Option<&'static RoleQuery>) -> Self {
        self.role_query = role_query;
        self
    }

    /// The subscriptions' batch statements (the generated `BATCHES`): prepared on every
    /// connection next to the operations, and used to poll all subscribers of an operation
    /// and role with one execution. Subscriptions without one are polled one by one.
    pub fn batches(mut self, batches: &'static [Batch]) -> Self {
        self.batches = batches;
        self
    }

    /// The PostgreSQL enums the generated types use (the generated `ENUMS`): each
    /// connection checks, before it serves, that every one exists with exactly these
    /// labels, so a label added in the database stops start-up with an error naming the
    /// enum and the label ([`Error::EnumMismatch`]).
    pub fn enums(mut self, enums: &'static [EnumType]) -> Self {
        self.enums = enums;
        self
    }

    /// The pool's settings (default: [`PoolOptions::default`]).
    pub fn options(mut self, options: PoolOptions) -> Self {
        self.options = options;
        self
    }

    /// TLS settings laid over the URL's (`sslmode`, `sslrootcert`, … work without this):
    /// GraphJin's `database.enable_tls` keys, from
    /// [`TlsOptions::from_graphjin_keys`](graphjin_pgtls::TlsOptions::from_graphjin_keys).
    /// Their mode wins; each certificate, key or server name they set replaces the URL's.
    pub fn tls(mut self, tls: TlsOptions) -> Self {
        self.tls = Some(tls);
        self
    }

    /// A time limit for operation `name`, replacing `statement_timeout` for it (see
    /// [`PoolOptions::operation_timeouts`]); zero means no limit. Call it after
    /// [`DbBuilder::options`], which replaces the whole map.
    pub fn operation_timeout(mut self, name: &str, limit: Duration) -> Self {
        self.options
            .operation_timeouts
            .insert(name.to_owned(), limit);
        self
    }

    /// Connects and prepares every statement, as [`Db::connect`] describes.
    pub async fn connect(self) -> Result<Db, Error> {
        Db::connect_built(self).await
    }
}

/// The bind text of every parameter: builtins from `auth`, the rest from `vars`.
pub(crate) fn bind<'a>(
    params: &[crate::Param],
    kinds: &[crate::pgtype::Kind],
    auth: &'a Auth,
    role: &'a str,
    vars: Source<'a>,
) -> Result<Vec<Option<Cow<'a, str>>>, Error> {
    params
        .iter()
        .zip(kinds)
        .map(|(p, kind)| {
            if p.builtin {
                Ok(match p.name {
                    "user_id" => auth.user_id.as_deref().map(Cow::Borrowed),
                    "user_id_provider" => auth.user_id_provider.as_deref().map(Cow::Borrowed),
                    "user_role" => Some(Cow::Borrowed(role)),
                    _ => None, // rejected when the table was checked
                })
            } else {
                vars.bind(p.name, kind, p.default)
            }
        })
        .collect()
}

/// The caller's role: set by a trusted layer, else `anon` without a user, else the role
/// statement's answer (when roles are configured; from `cache` while it holds one), else
/// `user`.
pub(crate) async fn resolve_role<'a>(
    conn: &Lease,
    auth: &'a Auth,
    cache: Option<&crate::role_cache::RoleCache>,
) -> Result<Cow<'a, str>, tokio_postgres::Error> {
    if let Some(role) = &auth.role {
        return Ok(Cow::Borrowed(role));
    }
    let Some(user_id) = &auth.user_id else {
        return Ok(Cow::Borrowed(auth.role()));
    };
    if let Some(role) = cache.and_then(|c| c.get(user_id)) {
        return Ok(Cow::Owned(role.to_string()));
    }
    let user = crate::roles::UserIdParam(user_id);
    let row = conn
        .track(async {
            let Some(rows) = crate::exec::role(conn, &user).await else {
                return Ok(None); // roles are not matched with a roles query
            };
            let mut rows = std::pin::pin!(rows?);
            let row = futures_util::TryStreamExt::try_next(&mut rows).await?;
            while futures_util::TryStreamExt::try_next(&mut rows)
                .await?
                .is_some()
            {}
            Ok(Some(row))
        })
        .await?;
    let role: Option<String> = match row {
        None => return Ok(Cow::Borrowed(auth.role())),
        Some(Some(row)) => row.try_get(0)?,
        // The role statement always answers one row; were it not to, `user`.
        Some(None) => None,
    };
    let role = role.unwrap_or_else(|| Auth::USER.to_owned());
    if let Some(cache) = cache {
        cache.put(user_id, &role);
    }
    Ok(Cow::Owned(role))
}

/// The data JSON of a statement's row (`null` when the column is NULL).
pub(crate) fn data<'r>(row: &'r Row, operation: &'static str) -> Result<&'r [u8], Error> {
    match row.try_get::<_, Option<RawJson<'r>>>(0) {
        Ok(Some(json)) => Ok(json.0),
        Ok(None) => Ok(b"null"),
        Err(e) => Err(Error::Database {
            operation,
            message: pg_message(&e),
        }),
    }
}
