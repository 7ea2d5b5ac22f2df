//! One poller per subscription operation and role: every poll period it runs the batch
//! statement once for all its subscribers (one row per distinct set of parameters) and
//! queues each changed result.

use std::collections::HashMap;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::time::{MissedTickBehavior, interval_at};
use tokio_postgres::Row;

use super::{Command, Delivery, Event, Shared, Sink, duplicate, hash, is_outage};
use crate::Error;
use crate::operation::Operation;
use crate::types::RawJson;

/// A set of parameters' bind text (`None` for NULL), in the statement's order: the key of a
/// group, shared by the group and its members.
pub(crate) type Params = Arc<[Option<Box<str>>]>;

/// A subscriber as its poller keeps it.
pub(crate) struct Sub {
    pub(crate) id: u64,
    /// Its parameters' bind text: a column of a batch row, or a single execution's
    /// parameters. Once it joined, the same allocation as its group's key.
    pub(crate) params: Params,
    /// The hash of the last result sent; 0 when the next one must be sent whatever it is.
    pub(crate) last_hash: u64,
    pub(crate) sink: Sink,
    pub(crate) cancelled: Arc<AtomicBool>,
}

/// The members of a group: subscribers sharing one set of parameters, which one batch row
/// serves.
type Members = Vec<u64>;

struct Poller {
    shared: Arc<Shared>,
    key: (usize, usize),
    op: &'static Operation,
    /// The flattened index of the operation's statement for the role.
    statement: usize,
    subs: HashMap<u64, Sub>,
    groups: HashMap<Params, Members>,
    /// Whether the last poll failed because the database was away.
    failing: bool,
    /// Statements executed by the poll under way.
    executions: u64,
    /// The position of `$cursor` among the statement's parameters, when the operation
    /// pages with cursors: each result moves its subscribers' cursor on (GraphJin's
    /// `updateMember`), and an empty page is not sent.
    cursor_param: Option<usize>,
    /// Where the latest poll's first chunk started among the groups.
    rotation: usize,
}

/// What one result means for a group: the bytes to send (cursors sealed) and, for a paged
/// operation, the cursor to continue from; `None` for an empty page of a paged operation.
fn page(shared: &Shared, op: usize, raw: &[u8]) -> Option<(Bytes, Option<String>)> {
    let cursors = shared.db.cursors();
    if !cursors.has(op) {
        return Some((Bytes::copy_from_slice(raw), None));
    }
    let next = cursors.next_cursor(op, raw)?;
    Some((
        Bytes::copy_from_slice(&cursors.seal_data(op, raw)),
        Some(next),
    ))
}

/// Starts the poller of `key` on the runtime.
pub(crate) fn spawn(
    shared: Arc<Shared>,
    key: (usize, usize),
    statement: usize,
    tx: mpsc::UnboundedSender<Command>,
    rx: mpsc::UnboundedReceiver<Command>,
) {
    let op = &shared.db.operations()[key.0];
    let cursor_param = shared
        .db
        .cursors()
        .has(key.0)
        .then(|| {
            op.roles.get(key.1).and_then(|rs| {
                rs.params
                    .iter()
                    .position(|p| !p.builtin && p.name == "cursor")
            })
        })
        .flatten();
    let poller = Poller {
        cursor_param,
        shared,
        key,
        op,
        statement,
        subs: HashMap::new(),
        groups: HashMap::new(),
        failing: false,
        executions: 0,
        rotation: 0,
    };
    tokio::spawn(poller.run(tx, rx));
}

impl Poller {
    async fn run(
        mut self,
        tx: mpsc::UnboundedSender<Command>,
        mut rx: mpsc::UnboundedReceiver<Command>,
    ) {
        let shared = self.shared.clone();
        let counters = &shared.counters;
        counters.pollers.fetch_add(1, Ordering::Relaxed);
        let every = self.shared.options.poll_every;
        let mut ticks = interval_at(tokio::time::Instant::now() + every, every);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut shutdown = self.shared.shutdown_signal();
        let has_batch = self.shared.db.catalog().batch_sql(self.statement).is_some();
        if !has_batch {
            tracing::debug!(
                operation = self.op.name,
                "no batch statement for this subscription: its subscribers are polled one by one"
            );
        }
        loop {
            if *shutdown.borrow() {
                break;
            }
            tokio::select! {
                biased;
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    continue;
                }
                command = rx.recv() => match command {
                    Some(c) => self.apply(c),
                    None => break,
                },
                _ = ticks.tick() => {
                    while let Ok(c) = rx.try_recv() {
                        self.apply(c);
                    }
                    self.poll(has_batch).await;
                }
            }
            if self.subs.is_empty() {
                while let Ok(c) = rx.try_recv() {
                    self.apply(c);
                }
                if self.subs.is_empty() && self.shared.retire(self.key, &tx, &rx) {
                    break;
                }
            }
        }
        let left = self.subs.len();
        counters.subscribers.fetch_sub(left, Ordering::Relaxed);
        counters.pollers.fetch_sub(1, Ordering::Relaxed);
    }

    fn apply(&mut self, command: Command) {
        match command {
            Command::Join(sub) => {
                let sub = *sub;
                if sub.cancelled.load(Ordering::Acquire) {
                    return;
                }
                // Share the group's key rather than keep a copy per subscriber.
                let params = match self.groups.get_key_value(&*sub.params) {
                    Some((key, _)) => key.clone(),
                    None => sub.params.clone(),
                };
                self.groups.entry(params.clone()).or_default().push(sub.id);
                let sub = Sub { params, ..sub };
                if self.subs.insert(sub.id, sub).is_none() {
                    self.shared
                        .counters
                        .subscribers
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
            Command::Leave(id) => self.remove(id),
        }
    }

    /// Moves a group's cursor on to `next`: its members join the group of their new
    /// parameters.
    fn advance(&mut self, params: &Params, next: String) {
        let Some(ci) = self.cursor_param else {
            return;
        };
        let Some(mut members) = self.groups.remove(params) else {
            return;
        };
        let mut moved = params.to_vec();
        if let Some(slot) = moved.get_mut(ci) {
            *slot = Some(next.into_boxed_str());
        }
        let key = match self.groups.get_key_value(moved.as_slice()) {
            Some((existing, _)) => existing.clone(),
            None => Params::from(moved),
        };
        for id in &members {
            if let Some(sub) = self.subs.get_mut(id) {
                sub.params = key.clone();
            }
        }
        self.groups.entry(key).or_default().append(&mut members);
    }

    fn remove(&mut self, id: u64) {
        let Some(sub) = self.subs.remove(&id) else {
            return;
        };
        self.shared
            .counters
            .subscribers
            .fetch_sub(1, Ordering::Relaxed);
        if let Some(members) = self.groups.get_mut(&sub.params) {
            members.retain(|m| *m != id);
            if members.is_empty() {
                self.groups.remove(&sub.params);
            }
        }
    }

    /// Drops subscribers that left or whose receiver is gone.
    fn prune(&mut self) {
        let gone: Vec<u64> = self
            .subs
            .values()
            .filter(|s| s.cancelled.load(Ordering::Acquire) || s.sink.tx.is_closed())
            .map(|s| s.id)
            .collect();
        for id in gone {
            self.remove(id);
        }
    }

    async fn poll(&mut self, has_batch: bool) {
        self.prune();
        if self.subs.is_empty() {
            return;
        }
        let started = Instant::now();
        self.executions = 0;
        let result = if has_batch {
            match self.poll_batch().await {
                Ok(failed) if failed.is_empty() => Ok(()),
                Ok(failed) => self.poll_each(failed).await,
                Err(e) if !is_outage(&e) => {
                    tracing::warn!(
                        operation = self.op.name,
                        error = %e,
                        "a batch statement returned an unexpected row; polling its subscribers one by one"
                    );
                    let order = self.groups.keys().cloned().collect();
                    self.poll_each(order).await
                }
                Err(e) => Err(e),
            }
        } else {
            let order = self.groups.keys().cloned().collect();
            self.poll_each(order).await
        };
        self.shared
            .counters
            .record_poll(self.executions, started.elapsed());
        match result {
            Ok(()) => {
                if self.failing {
                    tracing::info!(
                        operation = self.op.name,
                        "the database is back: polling resumed"
                    );
                }
                self.failing = false;
            }
            Err(e) => self.outage(&e),
        }
    }

    /// Runs the batch statement for every group, [`super::SubsOptions::batch_size`] groups
    /// per execution and `poll_connections` executions at once, and delivers each
    /// execution's rows as soon as it ends. The groups of a chunk whose statement failed
    /// (not an outage) are returned, to be polled one by one.
    async fn poll_batch(&mut self) -> Result<Vec<Params>, Error> {
        let mut order: Vec<Params> = self.groups.keys().cloned().collect();
        let size = self.shared.options.batch_size.max(1);
        // Start one chunk further each poll, so no group is always in the last chunk.
        if order.len() > size {
            self.rotation = (self.rotation + size) % order.len();
            order.rotate_left(self.rotation);
        }
        let (name, statement) = (self.op.name, self.statement);
        // Each execution owns what it needs (the groups' keys are shared, not copied).
        let runs: Vec<_> = order
            .chunks(size)
            .map(|chunk| {
                let (shared, chunk) = (self.shared.clone(), chunk.to_vec());
                async move {
                    let rows = run_chunk(&shared, name, statement, &chunk).await;
                    (chunk, rows)
                }
            })
            .collect();
        let mut done = futures_util::stream::iter(runs)
            .buffer_unordered(self.shared.options.poll_connections.max(1));
        let mut failed = Vec::new();
        let mut dead = Vec::new();
        let mut moved = Vec::new();
        while let Some((chunk, result)) = done.next().await {
            self.executions += 1;
            let rows = match result {
                Ok(rows) => rows,
                Err(e) if is_outage(&e) => return Err(e),
                Err(e) => {
                    // One subscriber's parameters can fail a whole statement (a value the
                    // database rejects): its chunk is run set by set to find and drop it.
                    tracing::warn!(
                        operation = name,
                        error = %e,
                        groups = chunk.len(),
                        "a batch statement failed; polling its subscribers one by one"
                    );
                    failed.extend(chunk);
                    continue;
                }
            };
            for row in &rows {
                let (group, bytes) = batch_row(row, name)?;
                let Some(params) = chunk.get(group) else {
                    continue;
                };
                if let Some(members) = self.groups.get(params)
                    && let Some((bytes, next)) = page(&self.shared, self.key.0, bytes)
                {
                    deliver(&mut self.subs, members, &bytes, &mut dead);
                    if let Some(next) = next {
                        moved.push((params.clone(), next));
                    }
                }
            }
        }
        drop(done);
        for (params, next) in moved {
            self.advance(&params, next);
        }
        for id in dead {
            self.remove(id);
        }
        Ok(failed)
    }

    /// Runs the operation's own statement once for each group of `order` (no batch
    /// statement, or its batch failed). A group whose execution fails ends with that error.
    async fn poll_each(&mut self, order: Vec<Params>) -> Result<(), Error> {
        let name = self.op.name;
        let failed = |e| Error::from_query(name, e);
        let conn = self.shared.db.read_connection().await?;
        let sql = self.op.roles[self.key.1].sql;
        let mut dead = Vec::new();
        let mut moved = Vec::new();
        for params in order {
            let Some(members) = self.groups.get(&params) else {
                continue;
            };
            self.executions += 1;
            let result = async {
                let params: Vec<Option<&str>> = params.iter().map(|p| p.as_deref()).collect();
                let rows = crate::exec::statement(&conn, self.statement, sql, &params)
                    .await
                    .map_err(failed)?;
                let mut rows = pin!(rows);
                let row = rows.try_next().await.map_err(failed)?;
                while rows.try_next().await.map_err(failed)?.is_some() {}
                let row = row.ok_or_else(|| Error::Database {
                    operation: name,
                    message: "the statement returned no row".to_owned(),
                })?;
                Ok::<_, Error>(crate::db::data(&row, name)?.to_vec())
            }
            .await;
            match result {
                Ok(raw) => {
                    if let Some((bytes, next)) = page(&self.shared, self.key.0, &raw) {
                        deliver(&mut self.subs, members, &bytes, &mut dead);
                        if let Some(next) = next {
                            moved.push((params.clone(), next));
                        }
                    }
                }
                Err(e) if is_outage(&e) => return Err(e),
                Err(e) => {
                    tracing::debug!(operation = name, error = %e, "a subscription failed");
                    for id in members {
                        if let Some(sub) = self.subs.get(id) {
                            let _ = sub.sink.tx.try_send(Delivery {
                                sub: *id,
                                event: Event::Fatal(Box::new(duplicate(&e))),
                            });
                        }
                        dead.push(*id);
                    }
                }
            }
        }
        drop(conn);
        for (params, next) in moved {
            self.advance(&params, next);
        }
        for id in dead {
            self.remove(id);
        }
        Ok(())
    }

    /// Tells every subscriber once that the database is away; the next good poll sends
    /// them the result again.
    fn outage(&mut self, e: &Error) {
        if self.failing {
            return;
        }
        self.failing = true;
        tracing::warn!(operation = self.op.name, error = %e, "subscription poll failed; retrying every period");
        let mut dead = Vec::new();
        for sub in self.subs.values_mut() {
            sub.last_hash = 0;
            let sent = sub.sink.tx.try_send(Delivery {
                sub: sub.id,
                event: Event::Errors(Box::new(duplicate(e))),
            });
            if let Err(err) = sent {
                if let TrySendError::Full(_) = err {
                    sub.sink.lag.trip();
                }
                dead.push(sub.id);
            }
        }
        for id in dead {
            self.remove(id);
        }
    }
}

/// The batch statement's arguments for `chunk`: the groups' positions in `chunk` (`ids`,
/// the `__sub` column), then one column per parameter, each with one element per group
/// (`None` for NULL). Every group of a poller has as many parameters as its statement.
fn columns<'a>(chunk: &'a [Params], ids: &'a [String]) -> Vec<Vec<Option<&'a str>>> {
    let width = chunk.first().map_or(0, |p| p.len());
    let mut columns = Vec::with_capacity(width + 1);
    columns.push(ids.iter().map(|id| Some(id.as_str())).collect());
    for c in 0..width {
        columns.push(
            chunk
                .iter()
                .map(|p| p.get(c).and_then(|v| v.as_deref()))
                .collect(),
        );
    }
    columns
}

/// Runs the batch statement once for `chunk`: its rows, each naming its group by position
/// in `chunk`.
async fn run_chunk(
    shared: &Shared,
    name: &'static str,
    statement: usize,
    chunk: &[Params],
) -> Result<Vec<Row>, Error> {
    let ids: Vec<String> = (0..chunk.len()).map(|i| i.to_string()).collect();
    let columns = columns(chunk, &ids);
    let failed = |e| Error::from_query(name, e);
    let conn = shared.db.read_connection().await?;
    let not_prepared = || Error::Database {
        operation: name,
        message: "the batch statement is not prepared on this connection".to_owned(),
    };
    let sql = shared
        .db
        .catalog()
        .batch_sql(statement)
        .ok_or_else(not_prepared)?;
    crate::exec::batch(&conn, statement, sql, &columns)
        .await
        .ok_or_else(not_prepared)?
        .map_err(failed)?
        .try_collect()
        .await
        .map_err(failed)
}

/// A batch row: the group index (`sub`) and the `data` JSON (`__root`).
fn batch_row<'r>(row: &'r Row, operation: &'static str) -> Result<(usize, &'r [u8]), Error> {
    let bad = |message: String| Error::Database { operation, message };
    let sub: &str = row
        .try_get(0)
        .map_err(|e| bad(crate::error::pg_message(&e)))?;
    let group = sub.parse().map_err(|_| {
        bad(format!(
            "the batch statement returned an unknown sub \"{sub}\""
        ))
    })?;
    let json = match row.try_get::<_, Option<RawJson<'r>>>(1) {
        Ok(Some(json)) => json.0,
        Ok(None) => b"null",
        Err(e) => return Err(bad(crate::error::pg_message(&e))),
    };
    Ok((group, json))
}

/// Queues `bytes` for each member whose last result differs; members whose queue is full
/// (too slow: their owner is told) or closed go to `dead`.
fn deliver(subs: &mut HashMap<u64, Sub>, members: &[u64], bytes: &Bytes, dead: &mut Vec<u64>) {
    let h = hash(bytes);
    for id in members {
        let Some(sub) = subs.get_mut(id) else {
            continue;
        };
        if sub.last_hash == h {
            continue;
        }
        match sub.sink.tx.try_send(Delivery {
            sub: *id,
            event: Event::Data(bytes.clone()),
        }) {
            Ok(()) => sub.last_hash = h,
            Err(TrySendError::Full(_)) => {
                sub.sink.lag.trip();
                dead.push(*id);
            }
            Err(TrySendError::Closed(_)) => dead.push(*id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_number_the_groups_and_keep_nulls() {
        let chunk: Vec<Params> = vec![
            Params::from(vec![Some("5".into()), None]),
            Params::from(vec![None, Some("".into())]),
        ];
        let ids: Vec<String> = (0..chunk.len()).map(|i| i.to_string()).collect();
        assert_eq!(
            columns(&chunk, &ids),
            vec![
                vec![Some("0"), Some("1")],
                vec![Some("5"), None],
                vec![None, Some("")],
            ]
        );
        // No parameters: the ids alone.
        let chunk = vec![Params::from(Vec::new())];
        assert_eq!(columns(&chunk, &ids[..1]), vec![vec![Some("0")]]);
    }
}
