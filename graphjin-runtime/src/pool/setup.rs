//! The session setup each new connection runs before its statements are prepared:
//! `statement_timeout`, `search_path` and the `connection_setup` SQL. None of it in
//! `unnamed` statement mode (see [`crate::PoolOptions::statement_mode`]): a session setting
//! would stick to whichever server connection PgBouncer gave this client for it, not to the
//! ones later calls run on.

use std::time::Duration;

use postgres_types::Type;
use tokio_postgres::Client;

use crate::StatementMode;

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
