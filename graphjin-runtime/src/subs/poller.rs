//! One poller per subscription operation and role: every poll period it runs the batch
//! statement once for all its subscribers (one row per distinct set of parameters) and
//! queues each changed result.

use std::collections::HashMap;
use std::fmt::Write as _;
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

/// A subscriber as its poller keeps it.
pub(crate) struct Sub {
    pub(crate) id: u64,
    /// Its parameters as members of a batch row: `,"p1":"5","p2":null` (empty for none).
    pub(crate) fragment: Arc<str>,
    /// Its parameters' bind text, for single executions.
    pub(crate) params: Box<[Option<Box<str>>]>,
    /// The hash of the last result sent; 0 when the next one must be sent whatever it is.
    pub(crate) last_hash: u64,
    pub(crate) sink: Sink,
    pub(crate) cancelled: Arc<AtomicBool>,
}

/// The members of a batch row for parameters `params`: `,"p1":"text","p2":null`.
pub(crate) fn fragment(params: &[Option<Box<str>>]) -> Arc<str> {
    let mut out = String::new();
    for (i, p) in params.iter().enumerate() {
        let _ = write!(out, ",\"p{}\":", i + 1);
        match p {
            // Serializing a str cannot fail.
            Some(text) => out.push_str(&serde_json::to_string(&**text).unwrap_or_default()),
            None => out.push_str("null"),
        }
    }
    Arc::from(out)
}

/// Subscribers sharing one set of parameters: one batch row serves them all.
struct Group {
    params: Box<[Option<Box<str>>]>,
    members: Vec<u64>,
}

struct Poller {
    shared: Arc<Shared>,
    key: (usize, usize),
    op: &'static Operation,
    /// The flattened index of the operation's statement for the role.
    statement: usize,
    subs: HashMap<u64, Sub>,
    groups: HashMap<Arc<str>, Group>,
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
                let group = self
                    .groups
                    .entry(sub.fragment.clone())
                    .or_insert_with(|| Group {
                        params: sub.params.clone(),
                        members: Vec::new(),
                    });
                group.members.push(sub.id);
                // Share the group's key rather than keep a copy per subscriber.
                let fragment = self
                    .groups
                    .get_key_value(&sub.fragment)
                    .map(|(k, _)| k.clone())
                    .unwrap_or_else(|| sub.fragment.clone());
                let sub = Sub {
                    fragment,
                    params: Box::new([]),
                    ..sub
                };
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
    fn advance(&mut self, fragment: &Arc<str>, next: String) {
        let Some(ci) = self.cursor_param else {
            return;
        };
        let Some(mut group) = self.groups.remove(fragment) else {
            return;
        };
        if let Some(slot) = group.params.get_mut(ci) {
            *slot = Some(next.into_boxed_str());
        }
        let key = self::fragment(&group.params);
        for id in &group.members {
            if let Some(sub) = self.subs.get_mut(id) {
                sub.fragment = key.clone();
            }
        }
        match self.groups.get_mut(&key) {
            Some(existing) => existing.members.append(&mut group.members),
            None => {
                self.groups.insert(key, group);
            }
        }
    }

    fn remove(&mut self, id: u64) {
        let Some(sub) = self.subs.remove(&id) else {
            return;
        };
        self.shared
            .counters
            .subscribers
            .fetch_sub(1, Ordering::Relaxed);
        if let Some(group) = self.groups.get_mut(&sub.fragment) {
            group.members.retain(|m| *m != id);
            if group.members.is_empty() {
                self.groups.remove(&sub.fragment);
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
    async fn poll_batch(&mut self) -> Result<Vec<Arc<str>>, Error> {
        let mut order: Vec<Arc<str>> = self.groups.keys().cloned().collect();
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
                let Some(fragment) = chunk.get(group) else {
                    continue;
                };
                if let Some(g) = self.groups.get(fragment)
                    && let Some((bytes, next)) = page(&self.shared, self.key.0, bytes)
                {
                    deliver(&mut self.subs, &g.members, &bytes, &mut dead);
                    if let Some(next) = next {
                        moved.push((fragment.clone(), next));
                    }
                }
            }
        }
        drop(done);
        for (fragment, next) in moved {
            self.advance(&fragment, next);
        }
        for id in dead {
            self.remove(id);
        }
        Ok(failed)
    }

    /// Runs the operation's own statement once for each group of `order` (no batch
    /// statement, or its batch failed). A group whose execution fails ends with that error.
    async fn poll_each(&mut self, order: Vec<Arc<str>>) -> Result<(), Error> {
        let name = self.op.name;
        let failed = |e| Error::from_query(name, e);
        let conn = self.shared.db.read_connection().await?;
        let sql = self.op.roles[self.key.1].sql;
        let mut dead = Vec::new();
        let mut moved = Vec::new();
        for fragment in order {
            let Some(group) = self.groups.get(&fragment) else {
                continue;
            };
            self.executions += 1;
            let result = async {
                let params: Vec<Option<&str>> = group.params.iter().map(|p| p.as_deref()).collect();
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
                        deliver(&mut self.subs, &group.members, &bytes, &mut dead);
                        if let Some(next) = next {
                            moved.push((fragment.clone(), next));
                        }
                    }
                }
                Err(e) if is_outage(&e) => return Err(e),
                Err(e) => {
                    tracing::debug!(operation = name, error = %e, "a subscription failed");
                    for id in &group.members {
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
        for (fragment, next) in moved {
            self.advance(&fragment, next);
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

/// Runs the batch statement once for `chunk`: its rows, each naming its group by position
/// in `chunk`.
async fn run_chunk(
    shared: &Shared,
    name: &'static str,
    statement: usize,
    chunk: &[Arc<str>],
) -> Result<Vec<Row>, Error> {
    let mut arg = String::with_capacity(2 + chunk.iter().map(|f| f.len() + 16).sum::<usize>());
    arg.push('[');
    for (i, fragment) in chunk.iter().enumerate() {
        if i > 0 {
            arg.push(',');
        }
        let _ = write!(arg, "{{\"__sub\":\"{i}\"{fragment}}}");
    }
    arg.push(']');
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
    crate::exec::batch(&conn, statement, sql, &arg)
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
