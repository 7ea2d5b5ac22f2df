//! Running a statement on a pooled connection: the one place that knows the statement
//! mode ([`StatementMode`], config `database.statement_mode`).
//!
//! - `prepared` (the default): every statement was prepared, named, on the connection when
//!   it opened (see `prepare.rs`), and a call only binds and executes it: one message
//!   and no parse or plan per call. A statement a table lock held up when the connection
//!   opened is *deferred* and runs as in `unnamed` mode.
//! - `unnamed`: nothing is prepared on pooled connections; each call sends its SQL as the
//!   unnamed statement with explicit parameter types (parse, bind, describe, execute and
//!   sync in one round trip, tokio-postgres `query_typed_raw`), so nothing a later call
//!   needs lives on the server connection. That is what PgBouncer's transaction pooling
//!   needs: it gives the server connection to another client after every transaction,
//!   and a named statement prepared on one is missing on the next (SQLSTATE 26000).
//!
//! Parameter types in `unnamed` mode are those `prepared` mode prepares with: text for
//! every parameter of the operation table, `text[]` for every parameter of batch statements
//! (the SQL casts them),
//! the type PostgreSQL inferred for the role statement's `$user_id` (learned when the
//! statements were checked at start-up, see `verify.rs`), and an action's declared types.

use std::sync::Arc;

use postgres_types::{ToSql, Type};
use serde::{Deserialize, Serialize};
use tokio_postgres::RowStream;

use crate::conn::Conn;

/// How the runtime sends its statements to PostgreSQL (config `database.statement_mode`,
/// [`crate::PoolOptions::statement_mode`]).
///
/// ```
/// use graphjin_runtime::{PoolOptions, StatementMode};
/// // Behind PgBouncer with `pool_mode = transaction`:
/// let options = PoolOptions { statement_mode: StatementMode::Unnamed, ..Default::default() };
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StatementMode {
    /// Every statement is prepared on every connection when it opens; a call binds and
    /// executes it. The fastest: for direct connections and PgBouncer in `session`
    /// pooling mode. Behind PgBouncer's `transaction` pooling a prepared statement goes
    /// missing; such calls fail with [`crate::Error::StatementMissing`] (a 503 naming this
    /// setting). The default.
    #[default]
    Prepared,
    /// Each call sends its SQL as the unnamed statement with typed parameters, in one
    /// round trip; nothing is prepared on pooled connections, and no session setting is
    /// sent (see [`crate::PoolOptions::statement_mode`]). Safe under PgBouncer's
    /// `transaction` pooling, any version; the cost is PostgreSQL parsing and planning
    /// each call.
    Unnamed,
}

impl StatementMode {
    /// The config value: `prepared` or `unnamed`.
    pub fn as_str(self) -> &'static str {
        match self {
            StatementMode::Prepared => "prepared",
            StatementMode::Unnamed => "unnamed",
        }
    }
}

/// What connections in `unnamed` mode send their statements with, learned when the
/// statements were checked at start-up.
#[derive(Debug, Clone, Default)]
pub(crate) struct Unnamed {
    /// The role statement's SQL and the type of its `$user_id`, when roles are matched
    /// with a roles query.
    pub(crate) role: Option<(&'static str, Type)>,
    /// Per operation, whether its one-round-trip statement for signed-in callers checked
    /// out (see `signed_in.rs`); else its callers take two round trips.
    pub(crate) signed_in: Box<[bool]>,
}

/// The rows of flattened statement `statement` of the operation table (`sql`), its
/// parameters sent as text: bound to the prepared statement, or sent unnamed (`unnamed`
/// mode, or deferred on this connection).
pub(crate) async fn statement<P: ToSql + Sync>(
    conn: &Conn,
    statement: usize,
    sql: &str,
    params: &[P],
) -> Result<RowStream, tokio_postgres::Error> {
    match conn.statements.get(statement) {
        Some(prepared) if !conn.is_unnamed() && !conn.is_deferred(statement) => {
            conn.client.query_raw(prepared, params.iter()).await
        }
        _ => {
            let typed: Vec<(&P, Type)> = params.iter().map(|p| (p, Type::TEXT)).collect();
            conn.client.query_typed_raw(sql, typed).await
        }
    }
}

/// The rows of the subscription batch statement of flattened statement `statement`
/// (`sql`), with its `text[]` parameters, one per column (`columns`); `None` when it is not
/// prepared on this connection (`prepared` mode).
pub(crate) async fn batch(
    conn: &Conn,
    statement: usize,
    sql: &str,
    columns: &[Vec<Option<&str>>],
) -> Option<Result<RowStream, tokio_postgres::Error>> {
    if conn.is_unnamed() {
        let typed = columns.iter().map(|c| (c, Type::TEXT_ARRAY));
        return Some(conn.client.query_typed_raw(sql, typed).await);
    }
    let prepared = conn.batch_statements.get(statement)?.as_ref()?;
    Some(conn.client.query_raw(prepared, columns.iter()).await)
}

/// The rows of the role statement for `user_id`; `None` when roles are not matched with a
/// roles query.
pub(crate) async fn role(
    conn: &Conn,
    user_id: &(dyn ToSql + Sync),
) -> Option<Result<RowStream, tokio_postgres::Error>> {
    if let Some(unnamed) = conn.unnamed() {
        let (sql, ty) = unnamed.role.as_ref()?;
        let typed = std::iter::once((user_id, ty.clone()));
        return Some(conn.client.query_typed_raw(sql, typed).await);
    }
    let prepared = conn.role_statement.as_ref()?;
    Some(match conn.deferred_role_sql() {
        // Not prepared on this connection (opened during a lock): prepared now, its
        // parameter type as PostgreSQL infers it.
        Some(sql) => conn.client.query_raw(sql, std::iter::once(user_id)).await,
        None => {
            conn.client
                .query_raw(prepared, std::iter::once(user_id))
                .await
        }
    })
}

/// Whether operation `op`'s one-round-trip statement for signed-in callers can run on
/// this connection (prepared here, or checked at start-up in `unnamed` mode).
pub(crate) fn has_signed_in(conn: &Conn, op: usize) -> bool {
    match conn.unnamed() {
        Some(unnamed) => {
            unnamed.role.is_some() && unnamed.signed_in.get(op).copied().unwrap_or(false)
        }
        None => conn.signed_in.get(op).is_some_and(Option::is_some),
    }
}

/// The rows of operation `op`'s one-round-trip statement for signed-in callers (`sql`):
/// `args` are the user id (as the role statement takes it) and then text; `None` when
/// it is not available on this connection (the caller takes two round trips).
pub(crate) async fn signed_in(
    conn: &Conn,
    op: usize,
    sql: &str,
    args: &[&(dyn ToSql + Sync)],
) -> Option<Result<RowStream, tokio_postgres::Error>> {
    if let Some(unnamed) = conn.unnamed() {
        let (_, user_id) = unnamed.role.as_ref()?;
        if !unnamed.signed_in.get(op).copied().unwrap_or(false) {
            return None;
        }
        let types = std::iter::once(user_id.clone()).chain(std::iter::repeat(Type::TEXT));
        let typed: Vec<(&(dyn ToSql + Sync), Type)> = args.iter().copied().zip(types).collect();
        return Some(conn.client.query_typed_raw(sql, typed).await);
    }
    let prepared = conn.signed_in.get(op)?.as_ref()?;
    Some(conn.client.query_raw(prepared, args.iter().copied()).await)
}

/// The rows of a SQL action (`sql` with parameter `types`): prepared on this connection
/// the first time it runs here, or sent unnamed.
pub(crate) async fn action<P: ToSql + Sync>(
    conn: &Conn,
    sql: &Arc<str>,
    types: &[Type],
    params: &[P],
) -> Result<RowStream, tokio_postgres::Error> {
    if conn.is_unnamed() {
        let typed: Vec<(&P, Type)> = params.iter().zip(types.iter().cloned()).collect();
        return conn.client.query_typed_raw(sql, typed).await;
    }
    let prepared = conn.prepared(sql, types).await?;
    conn.client.query_raw(&prepared, params.iter()).await
}

/// Why a session setting (`schema`, `connection_setup`) cannot go with
/// `statement_mode: unnamed`, and what to do instead.
pub(crate) fn unnamed_session_message(key: &str) -> String {
    let instead = match key {
        "schema" => "`ALTER ROLE <user> SET search_path = <schema>`",
        _ => "`ALTER ROLE <user> SET <setting> = <value>`",
    };
    format!(
        "is a session setting, sent once per connection, and `statement_mode: unnamed` (for PgBouncer's transaction pooling) runs each call on whichever server connection PgBouncer gives it: set it on the database role instead ({instead}), or in PgBouncer's `connect_query`, and remove this key"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_key_and_its_variable_set_the_mode() {
        let path = std::path::Path::new("dev.yml");
        let config = crate::Config::from_yaml("database:\n  pool_size: 2\n", path).unwrap();
        assert_eq!(
            config.pool_options().statement_mode,
            StatementMode::Prepared
        );
        let config =
            crate::Config::from_yaml("database:\n  statement_mode: unnamed\n", path).unwrap();
        assert_eq!(config.pool_options().statement_mode, StatementMode::Unnamed);
        let mut config = crate::Config::from_yaml("database:\n  pool_size: 2\n", path).unwrap();
        config
            .apply_env(|v| (v == "GJ_DATABASE_STATEMENT_MODE").then(|| "unnamed".to_owned()))
            .unwrap();
        assert_eq!(config.pool_options().statement_mode, StatementMode::Unnamed);
        let e = crate::Config::from_yaml("database:\n  statement_mode: named\n", path)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("database.statement_mode") && e.contains("unnamed"),
            "{e}"
        );
        let e = crate::Config::from_yaml(
            "database:\n  statement_mode: unnamed\n  connection_setup: SET x = 1\n",
            path,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("database.connection_setup") && e.contains("ALTER ROLE"),
            "{e}"
        );
    }

    #[test]
    fn modes_read_as_the_config_writes_them() {
        let m: StatementMode = serde_json::from_str("\"unnamed\"").unwrap();
        assert_eq!(m, StatementMode::Unnamed);
        assert_eq!(StatementMode::default().as_str(), "prepared");
        let e = serde_json::from_str::<StatementMode>("\"named\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("prepared") && e.contains("unnamed"), "{e}");
    }
}
