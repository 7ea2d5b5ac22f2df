//! A connection of its own for start-up checks that prepare statements: the operation
//! table in `unnamed` statement mode, and SQL actions in both modes.
//!
//! Checking a statement means preparing it (PostgreSQL reports its result columns and
//! parameter types without running it), and a prepared statement is named and lives on the
//! server connection until closed. Behind PgBouncer's transaction pooling that server
//! connection goes to other clients after every transaction, so a statement left behind
//! can collide with the same name prepared by another instance (tokio-postgres names them
//! `s0`, `s1`, ... per process). The check therefore runs in one transaction (PgBouncer
//! keeps the server connection for it) that ends with `DEALLOCATE ALL` and `ROLLBACK`, on a
//! connection that is closed afterwards: nothing is left behind, and no pooled
//! connection's client holds a statement (or tokio-postgres's cached type lookups) that a
//! later call would depend on.

use std::time::Duration;

use tokio_postgres::Client;

use crate::Error;
use crate::catalog::Catalog;
use crate::conn::{Bare, Opener};
use crate::error::pg_message;
use crate::exec::Unnamed;

/// A connection in a transaction, for checks; see the module docs.
pub(crate) struct Scratch {
    conn: Bare,
    target: String,
}

impl Scratch {
    /// Opens a connection, runs the session setup on it (`search_path`, ...; nothing in
    /// `unnamed` statement mode) and begins a transaction.
    pub(crate) async fn open(opener: &Opener) -> Result<Scratch, Error> {
        let conn = opener.open_bare().await?;
        opener.setup_session(&conn.client).await?;
        let scratch = Scratch {
            conn,
            target: opener.target().to_owned(),
        };
        scratch.simple("BEGIN").await?;
        Ok(scratch)
    }

    /// The connection's client, in the transaction.
    pub(crate) fn client(&self) -> &Client {
        &self.conn.client
    }

    /// Drops every statement prepared in the transaction and rolls it back; the
    /// connection closes when `self` drops.
    pub(crate) async fn finish(self) -> Result<(), Error> {
        self.simple("DEALLOCATE ALL; ROLLBACK").await
    }

    async fn simple(&self, sql: &str) -> Result<(), Error> {
        self.conn
            .client
            .batch_execute(sql)
            .await
            .map_err(|e| Error::Connect {
                target: self.target.clone(),
                message: format!(
                    "running `{sql}` for the start-up checks: {}",
                    pg_message(&e)
                ),
            })
    }
}

/// Checks every statement of `catalog` as `prepared` mode would on a connection it opens
/// (one json column, the listed parameters; the role statement; batch statements; the
/// enums), within `limit`, and returns what `unnamed` mode sends statements with.
pub(crate) async fn check_unnamed(
    opener: &Opener,
    catalog: &Catalog,
    limit: Duration,
) -> Result<Unnamed, Error> {
    let checking = async {
        let scratch = Scratch::open(opener).await?;
        let prepared = crate::prepare::everything(scratch.client(), catalog, false)
            .await
            .map_err(|e| match e {
                Error::Unavailable { message } => Error::Connect {
                    target: opener.target().to_owned(),
                    message: format!("the connection closed during the start-up checks: {message}"),
                },
                other => other,
            })?;
        let role = catalog.role_query.zip(
            prepared
                .role_statement
                .as_ref()
                .and_then(|s| s.params().first().cloned()),
        );
        let unnamed = Unnamed {
            role: role.map(|(rq, ty)| (rq.sql, ty)),
            signed_in: prepared.signed_in.iter().map(Option::is_some).collect(),
        };
        drop(prepared);
        scratch.finish().await?;
        Ok(unnamed)
    };
    tokio::time::timeout(limit, checking)
        .await
        .unwrap_or_else(|_| {
            Err(Error::Connect {
                target: opener.target().to_owned(),
                message: format!(
                    "checking the statements did not finish within {} ms",
                    limit.as_millis()
                ),
            })
        })
}
