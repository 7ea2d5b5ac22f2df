//! The session setup each new connection runs before its statements are prepared: the
//! allocator's settling (pooled connections only, not the short-lived checking ones),
//! `statement_timeout`, `search_path` and the `connection_setup` SQL. None of it in `unnamed` statement mode (see [`crate::PoolOptions::statement_mode`]):
//! a session setting would stick to whichever server connection PgBouncer gave this client
//! for it, not to the ones later calls run on.
//!
//! Settling the allocator. A PostgreSQL backend on Linux allocates with glibc's `malloc`,
//! which hands the free top of its heap back to the kernel whenever it exceeds a threshold
//! that starts at 128 KiB and rises only after a block above it is freed. A statement
//! whose working memory crosses that line on each execution then unmaps and faults the
//! same pages back in on every call: the signed-in `getProduct` statement took 7 to 8
//! page faults per call that way, 20 to 40 µs of PostgreSQL's CPU, while the anonymous
//! one took none. One large allocation, freed at once ([`SETTLE_ALLOCATOR`]), raises the threshold
//! to 8 MiB for the life of the backend, so a backend keeps up to that much freed memory
//! for reuse instead of returning it (other allocators ignore it; it costs one round trip
//! per new connection).

use std::time::Duration;

use postgres_types::Type;
use tokio_postgres::Client;

use crate::StatementMode;

/// Makes the backend allocate and free 4 MiB once: see the module docs.
pub(crate) const SETTLE_ALLOCATOR: &str = "SELECT length(repeat(' ', 4194304))";

/// What each new connection runs before its statements are prepared.
#[derive(Debug, Clone, Default)]
pub(crate) struct SessionSetup {
    statement_timeout: Option<Duration>,
    schema: Option<String>,
    sql: Option<String>,
    mode: StatementMode,
}

impl SessionSetup {
    /// The setup for `options`; `statement_timeout` is the server-side limit, the largest
    /// deadline of any operation (see [`crate::deadline::Limits::server_timeout`]).
    pub(crate) fn new(
        options: &crate::PoolOptions,
        statement_timeout: Option<Duration>,
    ) -> SessionSetup {
        SessionSetup {
            statement_timeout,
            schema: options.schema.clone(),
            sql: options.connection_setup.clone(),
            mode: options.statement_mode,
        }
    }

    /// How statements are sent.
    pub(crate) fn mode(&self) -> StatementMode {
        self.mode
    }

    /// In `unnamed` mode, the first session setting that cannot be honoured (`schema`,
    /// `connection_setup`), as an error saying what to do instead.
    pub(crate) fn check(&self) -> Result<(), crate::Error> {
        if self.mode != StatementMode::Unnamed {
            return Ok(());
        }
        let option = match (&self.schema, &self.sql) {
            (Some(_), _) => "schema",
            (None, Some(_)) => "connection_setup",
            (None, None) => return Ok(()),
        };
        Err(crate::Error::Options {
            option,
            message: crate::exec::unnamed_session_message(option),
        })
    }

    /// The server-side statement timeout each connection gets.
    pub(crate) fn statement_timeout(&self) -> Option<Duration> {
        self.statement_timeout
    }

    /// Settles the backend's allocator ([`SETTLE_ALLOCATOR`]) of a connection that will
    /// serve calls, before [`SessionSetup::apply`] sets a `statement_timeout` that could cut
    /// it short; nothing in `unnamed` mode. Only a speed-up: a refusal is logged (debug) and
    /// leaves the connection as it was; whatever broke it fails the next step.
    pub(crate) async fn settle_allocator(&self, client: &Client) {
        if self.mode == StatementMode::Unnamed {
            return;
        }
        if let Err(e) = client.simple_query(SETTLE_ALLOCATOR).await {
            tracing::debug!(error = %crate::error::pg_message(&e), "settling the allocator failed");
        }
    }

    /// Sets `statement_timeout` and `search_path` (values as bind parameters of
    /// `set_config`, sent unnamed: nothing stays prepared), then runs the
    /// `connection_setup` SQL; nothing in `unnamed` mode. The error says which failed.
    pub(crate) async fn apply(&self, client: &Client) -> Result<(), String> {
        const SET: &str = "SELECT set_config($1, $2, false)";
        if self.mode == StatementMode::Unnamed {
            return Ok(());
        }
        let set = |name: &'static str, value: String| async move {
            let params: [(&(dyn postgres_types::ToSql + Sync), Type); 2] =
                [(&name, Type::TEXT), (&value, Type::TEXT)];
            client.query_typed(SET, &params).await.map(drop)
        };
        if let Some(t) = self.statement_timeout {
            let ms = t.as_millis().max(1).to_string();
            set("statement_timeout", ms).await.map_err(|e| {
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
            set("search_path", path.join(", ")).await.map_err(|e| {
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
