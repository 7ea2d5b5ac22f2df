//! One call of an operation on the pool, under its deadline.
//!
//! - Deadline: the whole call (waiting for a connection, the role lookup, the statement,
//!   reading the rows) is bounded by the operation's limit (see `deadline.rs`). Waiting
//!   for a connection past it fails with [`Error::Unavailable`] (no statement was sent);
//!   a statement past it fails with [`Error::Timeout`], and if it was at the head of its
//!   connection's pipeline, PostgreSQL is asked to cancel it (see `pool/watch.rs`).
//! - Moving: a read that finds itself queued behind another call on a connection that made
//!   no progress for `stall_after` runs again on a connection that is not stalled; the
//!   first answer to come wins and the other is dropped when it arrives. The moved copy
//!   may move again if a blocked statement reached its new connection first (at most
//!   three moves). Reads only: a write queued on a connection runs there once, whatever
//!   happens.
//! - Retry: a read whose connection was lost (closed, terminated) runs once more on
//!   another connection; a write fails with [`Error::Unavailable`] (a 503), since it may
//!   or may not have been applied.

use std::borrow::Cow;
use std::future::Future;
use std::pin::{Pin, pin};
use std::time::Duration;

use futures_util::TryStreamExt;
use postgres_types::ToSql;
use tokio::time::Instant;
use tokio_postgres::Row;

use crate::db::{bind, resolve_role};
use crate::observe::context as observe;
use crate::pool::Lease;
use crate::roles::UserIdParam;
use crate::vars::Source;
use crate::{Auth, Db, Error, OpKind, Operation};

/// How many times one read may move to another connection (each move leaves a copy
/// running behind, so this bounds the work one call can add).
const MOVES: u8 = 3;

/// One call of operation number `index` for `auth` with `vars`.
pub(crate) struct Call<'a> {
    db: &'a Db,
    index: usize,
    op: &'static Operation,
    auth: &'a Auth,
    vars: Source<'a>,
    limit: Option<Duration>,
    deadline: Option<Instant>,
}

impl<'a> Call<'a> {
    /// The call, its deadline `limit` from now.
    pub(crate) fn new(
        db: &'a Db,
        index: usize,
        auth: &'a Auth,
        vars: Source<'a>,
        limit: Option<Duration>,
    ) -> Call<'a> {
        Call {
            db,
            index,
            op: &db.operations()[index],
            auth,
            vars,
            limit,
            deadline: limit.map(|l| Instant::now() + l),
        }
    }

    /// Whether running the operation twice is harmless (it writes nothing).
    fn reads(&self) -> bool {
        self.op.kind != OpKind::Mutation
    }

    /// Runs the call: the row holds the data.
    pub(crate) async fn run(&self) -> Result<Row, Error> {
        let mut may_retry = self.reads();
        let mut route = self.db.route(self.op, self.auth);
        loop {
            let lease = {
                let _wait = observe::Timer::pool_wait();
                self.db.lease_on(&mut route, self.deadline).await?
            };
            let result = if self.reads() {
                self.read_moving(lease, MOVES).await
            } else {
                self.write(lease).await
            };
            let time_left = || self.deadline.is_none_or(|d| Instant::now() < d);
            match result {
                Err(Error::Unavailable { message }) if may_retry && time_left() => {
                    may_retry = false;
                    self.db.leave_replica(&mut route, &message);
                    tracing::info!(
                        operation = self.op.name,
                        error = %message,
                        "the database connection was lost under a read; running it again on another"
                    );
                }
                other => return other,
            }
        }
    }

    /// A write (or a read out of moves): runs on `lease` until done or the deadline.
    async fn write(&self, lease: Lease) -> Result<Row, Error> {
        let attempt = self.attempt(&lease);
        let outcome = match self.deadline {
            Some(d) => tokio::time::timeout_at(d, attempt).await.ok(),
            None => Some(attempt.await),
        };
        self.settle(&lease, outcome)
    }

    /// A read on `lease` with `moves` (at least one) moves left: runs on `lease`, and once
    /// it is stuck behind a stalled head, also on a fresh connection; the first answer
    /// wins. The copy on the fresh connection may in turn find itself behind a head that
    /// stalls after it was sent (another blocked statement that went there meanwhile), so
    /// it may move again, up to [`MOVES`] times in all.
    ///
    /// Only a moved copy is boxed (the recursion needs it), so a read that never moves
    /// allocates nothing here. A copy out of moves runs as a write ([`Call::moved`]): were
    /// that branch here, this future would hold both attempts' state, twice the size.
    async fn read_moving(&self, lease: Lease, moves: u8) -> Result<Row, Error> {
        let pool = self.db.pool();
        let stall = pool.stall_after();
        let mut first = pin!(self.attempt(&lease));
        let mut look = Instant::now() + stall;
        let second = loop {
            let wake = self.deadline.map_or(look, |d| d.min(look));
            tokio::select! {
                biased;
                r = &mut first => return self.settle(&lease, Some(r)),
                () = tokio::time::sleep_until(wake) => {}
            }
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                return self.settle(&lease, None);
            }
            look = Instant::now() + (stall / 2).max(Duration::from_millis(1));
            if lease.stuck()
                && let Some(other) = pool.fresh(&lease)
            {
                break other;
            }
        };
        tracing::debug!(
            operation = self.op.name,
            "a read moved off a stalled database connection"
        );
        // The moved copy keeps its own deadline; when it times out, so does this one.
        let mut moved = self.moved(second, moves - 1);
        tokio::select! {
            biased;
            r = &mut first => self.settle(&lease, Some(r)),
            r = &mut moved => match r {
                Err(Error::Timeout { .. }) => self.settle(&lease, None),
                r => r,
            },
        }
    }

    /// The copy of a read moved to `lease` with `moves` moves left (none: it runs there
    /// until done, as a write), boxed: [`Call::read_moving`] calls itself.
    fn moved(
        &self,
        lease: Lease,
        moves: u8,
    ) -> Pin<Box<dyn Future<Output = Result<Row, Error>> + Send + '_>> {
        if moves == 0 {
            Box::pin(self.write(lease))
        } else {
            Box::pin(self.read_moving(lease, moves))
        }
    }

    /// What an attempt on `lease` ended with (`None`: the deadline came first), after
    /// telling the pool: a lost connection takes no new call; a statement past its
    /// deadline at the head of its pipeline is cancelled.
    fn settle(&self, lease: &Lease, outcome: Option<Result<Row, Error>>) -> Result<Row, Error> {
        match outcome {
            Some(result) => {
                if matches!(result, Err(Error::Unavailable { .. })) {
                    lease.lost();
                }
                result
            }
            None => {
                lease.expired();
                Err(Error::Timeout {
                    operation: self.op.name,
                    limit: self.limit,
                })
            }
        }
    }

    /// One try on `conn`: the caller's role, the binding, the statement and its rows. A
    /// signed-in caller of a query takes one round trip where the connection has the
    /// combined statement (see `signed_in.rs`).
    async fn attempt(&self, conn: &Lease) -> Result<Row, Error> {
        // A signed-in caller whose role the cache holds runs that role's statement: one
        // lookup here, none in the combined statement.
        let cached = match (&self.auth.role, &self.auth.user_id, self.db.role_cache()) {
            (None, Some(user_id), Some(cache)) => cache.get(user_id),
            _ => None,
        };
        if cached.is_none()
            && let Some(row) = self.attempt_signed_in(conn).await?
        {
            return Ok(row);
        }
        let op = self.op;
        let catalog = self.db.catalog();
        let failed = |e| Error::from_query_within(op.name, self.limit, e);
        let role = match &cached {
            Some(role) => Cow::Borrowed(&**role),
            None => {
                // Timed only when it may ask the database (a user without a set role).
                let _db = (self.auth.role.is_none() && self.auth.user_id.is_some())
                    .then(observe::Timer::db);
                resolve_role(conn, self.auth, self.db.role_cache())
                    .await
                    .map_err(failed)?
            }
        };
        let r = op.roles.iter().position(|rs| rs.role == role);
        observe::note_role(&role, r);
        let r = r.ok_or_else(|| Error::Forbidden {
            operation: op.name,
            role: role.to_string(),
        })?;
        let statement = catalog.statement_index(self.index, r);
        let mut params = bind(
            op.roles[r].params,
            catalog.kinds(statement),
            self.auth,
            &role,
            self.vars,
        )?;
        self.db
            .cursors()
            .open_params(self.index, op.roles[r].params, &mut params)?;

        let _db = observe::Timer::db();
        let row = conn
            .track(async {
                // Prepared here, or sent unnamed (statement mode, or deferred here).
                let rows =
                    crate::exec::statement(conn, statement, op.roles[r].sql, &params).await?;
                let mut rows = pin!(rows);
                let row = rows.try_next().await?;
                while rows.try_next().await?.is_some() {}
                Ok(row)
            })
            .await
            .map_err(failed)?;
        row.ok_or_else(|| Error::Database {
            operation: op.name,
            message: "the statement returned no row".to_owned(),
        })
    }

    /// A signed-in caller's query in one round trip: the role statement and the statement
    /// of every role it can choose, as one (see `signed_in.rs`). `None` when it does not
    /// apply here (no user, a role set by a trusted layer, not a query, not prepared on this
    /// connection, or a binding only some role's statement refuses): the caller then takes
    /// the two round trips, which also word any error for the role actually chosen. Not
    /// tried when the role cache holds the caller's role ([`Call::attempt`]).
    async fn attempt_signed_in(&self, conn: &Lease) -> Result<Option<Row>, Error> {
        let (None, Some(user_id)) = (&self.auth.role, &self.auth.user_id) else {
            return Ok(None);
        };
        let catalog = self.db.catalog();
        let Some(combined) = catalog.signed_in(self.index) else {
            return Ok(None);
        };
        if !crate::exec::has_signed_in(conn, self.index) {
            return Ok(None);
        }
        let op = self.op;
        let mut params: Vec<Option<Cow<'_, str>>> = Vec::with_capacity(combined.params - 1);
        for branch in &combined.branches {
            let rs = &op.roles[branch.role];
            let statement = catalog.statement_index(self.index, branch.role);
            let Ok(mut bound) = bind(
                rs.params,
                catalog.kinds(statement),
                self.auth,
                rs.role,
                self.vars,
            ) else {
                return Ok(None);
            };
            if self
                .db
                .cursors()
                .open_params(self.index, rs.params, &mut bound)
                .is_err()
            {
                return Ok(None);
            }
            params.append(&mut bound);
        }
        let user = UserIdParam(user_id);
        let mut args: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(combined.params);
        args.push(&user);
        args.extend(params.iter().map(|p| p as &(dyn ToSql + Sync)));

        let failed = |e| Error::from_query_within(op.name, self.limit, e);
        let _db = observe::Timer::db();
        let row = conn
            .track(async {
                let Some(rows) =
                    crate::exec::signed_in(conn, self.index, combined.sql, &args).await
                else {
                    return Ok(None);
                };
                let mut rows = pin!(rows?);
                let row = rows.try_next().await?;
                while rows.try_next().await?.is_some() {}
                Ok(Some(row))
            })
            .await
            .map_err(failed)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let row = row.ok_or_else(|| Error::Database {
            operation: op.name,
            message: "the statement returned no row".to_owned(),
        })?;
        // The role statement never answers NULL; were it to, `user` (as `resolve_role`).
        let role: &str = row
            .try_get::<_, Option<&str>>(1)
            .map_err(failed)?
            .unwrap_or(crate::Auth::USER);
        if let Some(cache) = self.db.role_cache() {
            cache.put(user_id, role);
        }
        let r = op.roles.iter().position(|rs| rs.role == role);
        observe::note_role(role, r);
        if r.is_none() {
            return Err(Error::Forbidden {
                operation: op.name,
                role: role.to_owned(),
            });
        }
        Ok(Some(row))
    }
}
