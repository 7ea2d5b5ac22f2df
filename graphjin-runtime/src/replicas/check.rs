//! The replicas' background check: every interval, the primary's flushed WAL position,
//! then each replica's replayed position (all replicas at once), each on a connection of
//! its own kept between checks and bounded by the check timeout. A replica that does not
//! answer, or lags more than the maximum, is taken out; one that answers and has caught
//! up is put back, once its pool has a connection ready for the reads sent back to it.

use std::sync::Weak;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_postgres::SimpleQueryMessage;

use super::lag::{History, parse_lsn};
use super::{CheckOptions, Replica, Shared};
use crate::Error;
use crate::conn::{Bare, Opener};
use crate::error::pg_message;
use crate::pool::Pool;

/// The primary's position: what it has flushed is what a replica can have received.
const PRIMARY_SQL: &str = "SELECT pg_current_wal_flush_lsn()::text";

/// A replica's state: in recovery, replayed position, replay paused.
const REPLICA_SQL: &str = "SELECT pg_is_in_recovery(), coalesce(pg_last_wal_replay_lsn(), '0/0')::text, \
     CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END";

/// Checks until the replica set is dropped.
pub(super) async fn run(shared: Weak<Shared>, primary: Pool, o: CheckOptions) {
    let mut history = History::new(o.max_lag.saturating_mul(2) + o.every.saturating_mul(2));
    let mut primary_conn = None;
    let mut conns: Vec<Option<Bare>> = Vec::new();
    let mut tick = tokio::time::interval(o.every.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        conns.resize_with(shared.replicas.len(), || None);
        let sampled = Instant::now();
        match ask(&mut primary_conn, primary.opener(), PRIMARY_SQL, o.timeout).await {
            Ok(row) => {
                if let Some(lsn) = row.first().and_then(|t| parse_lsn(t)) {
                    history.record(sampled, lsn);
                }
            }
            Err(e) => tracing::debug!(error = %e, "replica check: the primary did not answer"),
        }
        let answers = join_all(
            shared
                .replicas
                .iter()
                .zip(conns.iter_mut())
                .map(|(r, conn)| ask(conn, r.pool.opener(), REPLICA_SQL, o.timeout)),
        )
        .await;
        let now = Instant::now();
        for (replica, answer) in shared.replicas.iter().zip(answers) {
            let mut verdict = judge(replica, answer, &history, now, o.max_lag);
            if verdict.is_none() && !replica.in_use.load(Ordering::SeqCst) {
                verdict = warm(replica, o.timeout).await;
            }
            replica.set(verdict);
        }
    }
}

/// Why `replica` is out after its answer (`None`: it may be in use); records its lag.
fn judge(
    replica: &Replica,
    answer: Result<Vec<String>, Error>,
    history: &History,
    now: Instant,
    max_lag: Duration,
) -> Option<String> {
    let row = match answer {
        Ok(row) => row,
        Err(e) => {
            replica.lag_ms.store(u64::MAX, Ordering::Relaxed);
            return Some(format!("down: {e}"));
        }
    };
    let in_recovery = row.first().is_some_and(|v| v == "t");
    let paused = row.get(2).is_some_and(|v| v == "t");
    let replayed = row.get(1).and_then(|t| parse_lsn(t)).unwrap_or(0);
    let lag = match in_recovery {
        // Promoted, or a server that is no replica: it has what it has.
        false => Some(Duration::ZERO),
        true => history.lag(replayed, now),
    };
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX - 1);
    replica
        .lag_ms
        .store(lag.map_or(u64::MAX, ms), Ordering::Relaxed);
    match lag {
        Some(lag) if lag > max_lag => Some(format!(
            "lags {} ms behind the primary (max_replica_lag {} ms){}",
            ms(lag),
            ms(max_lag),
            if paused { ", replay paused" } else { "" }
        )),
        // Unknown without the primary's position: in use unless its replay is paused.
        None if paused => Some("replay paused".to_owned()),
        _ => None,
    }
}

/// Before a replica that was out is put back: a connection from its pool within `limit`
/// (opening one if the pool has none, or waiting out its reconnect backoff), so the first
/// reads sent back there find one rather than fail over to the primary again.
async fn warm(replica: &Replica, limit: Duration) -> Option<String> {
    match tokio::time::timeout(limit, replica.pool.get()).await {
        Ok(Ok(_lease)) => None,
        Ok(Err(e)) => Some(format!("down: {e}")),
        Err(_) => Some(format!(
            "down: no pooled connection within {} ms",
            limit.as_millis()
        )),
    }
}

/// Runs `sql` on the kept connection `conn` (opening it first when there is none) within
/// `limit`; its first row as text. A failure drops the connection.
async fn ask(
    conn: &mut Option<Bare>,
    opener: &Opener,
    sql: &str,
    limit: Duration,
) -> Result<Vec<String>, Error> {
    let asking = async {
        let bare = match conn.take() {
            Some(bare) if !bare.client.is_closed() => bare,
            _ => opener.open_bare().await?,
        };
        let messages = bare
            .client
            .simple_query(sql)
            .await
            .map_err(|e| Error::Unavailable {
                message: pg_message(&e),
            })?;
        *conn = Some(bare);
        let row = messages.into_iter().find_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).unwrap_or_default().to_owned())
                    .collect(),
            ),
            _ => None,
        });
        row.ok_or_else(|| Error::Unavailable {
            message: "the check returned no row".to_owned(),
        })
    };
    match tokio::time::timeout(limit, asking).await {
        Ok(answer) => answer,
        Err(_) => {
            *conn = None;
            Err(Error::Unavailable {
                message: format!(
                    "no answer from {} within {} ms",
                    opener.target(),
                    limit.as_millis()
                ),
            })
        }
    }
}
