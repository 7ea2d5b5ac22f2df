//! The session setup each new connection runs before its statements are prepared:
//! `statement_timeout`, `search_path` and the `connection_setup` SQL.

use std::time::Duration;

use tokio_postgres::Client;

/// What each new connection runs before its statements are prepared.
#[derive(Debug, Clone, Default)]
pub(crate) struct SessionSetup {
    statement_timeout: Option<Duration>,
    schema: Option<String>,
    sql: Option<String>,
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
        }
    }

    /// The server-side statement timeout each connection gets.
    pub(crate) fn statement_timeout(&self) -> Option<Duration> {
        self.statement_timeout
    }

    /// Sets `statement_timeout` and `search_path` (values as bind parameters of
    /// `set_config`), then runs the `connection_setup` SQL. The error says which failed.
    pub(crate) async fn apply(&self, client: &Client) -> Result<(), String> {
        const SET: &str = "SELECT set_config($1, $2, false)";
        if let Some(t) = self.statement_timeout {
            let ms = t.as_millis().max(1).to_string();
            client
                .execute(SET, &[&"statement_timeout", &ms])
                .await
                .map_err(|e| {
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
            client
                .execute(SET, &[&"search_path", &path.join(", ")])
                .await
                .map_err(|e| {
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
