//! Connections: opening one and preparing the operation table on it (see `prepare.rs`,
//! which also explains the statements a connection opened during a table lock defers); a
//! bare one for the readiness check; cancelling the statement running on one. In `unnamed`
//! statement mode nothing is prepared on a pooled connection: the first opening checks
//! every statement on a connection of its own (see `scratch.rs`) and the rest reuse what
//! it learned (see `exec.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use graphjin_pgtls::{ConnectError, TlsOptions};
use postgres_types::Type;
use tokio::task::AbortHandle;
use tokio_postgres::{CancelToken, Client, Statement};

use crate::catalog::Catalog;
use crate::error::pg_message;
use crate::exec::Unnamed;
use crate::prepare::Deferred;
use crate::{Error, StatementMode};

/// A connection with every statement prepared, indexed like [`Catalog`]'s flattened
/// statement list.
pub(crate) struct Conn {
    pub(crate) client: Client,
    pub(crate) statements: Box<[Statement]>,
    /// The role statement, when roles are matched with `roles_query`.
    pub(crate) role_statement: Option<Statement>,
    /// Per flattened statement, its subscription batch statement (if any).
    pub(crate) batch_statements: Box<[Option<Statement>]>,
    /// Per operation, its one-round-trip statement for signed-in callers, where prepared.
    pub(crate) signed_in: Box<[Option<Statement>]>,
    /// Statements outside the operation table (SQL actions), prepared on this connection
    /// the first time one runs on it; keyed by their SQL.
    prepared: Mutex<HashMap<Arc<str>, Statement>>,
    /// The task that drives the socket.
    task: AbortHandle,
    /// What could not be prepared because a table was locked (see `prepare.rs`).
    deferred: Deferred,
    /// The role statement's SQL, to run it unprepared when it is deferred.
    role_sql: Option<&'static str>,
    /// In `unnamed` statement mode, what statements are sent with (nothing is prepared).
    unnamed: Option<Arc<Unnamed>>,
}

impl Conn {
    /// Whether some statement is not prepared here (a table was locked when it opened):
    /// only calls that check [`Conn::is_deferred`] may use it.
    pub(crate) fn partial(&self) -> bool {
        self.deferred.any()
    }

    /// Whether flattened statement `statement` is not prepared here: its entry in
    /// `statements` is a placeholder, and the call runs its SQL unprepared.
    pub(crate) fn is_deferred(&self, statement: usize) -> bool {
        self.deferred.statement(statement)
    }

    /// Whether this connection sends every statement unnamed (`unnamed` statement mode).
    pub(crate) fn is_unnamed(&self) -> bool {
        self.unnamed.is_some()
    }

    /// What statements are sent with, in `unnamed` statement mode.
    pub(crate) fn unnamed(&self) -> Option<&Unnamed> {
        self.unnamed.as_deref()
    }

    /// The role statement's SQL when it is not prepared here.
    pub(crate) fn deferred_role_sql(&self) -> Option<&'static str> {
        self.role_sql.filter(|_| self.deferred.role())
    }

    /// Closes the socket now: every request still waiting for an answer fails at once.
    pub(crate) fn abort(&self) {
        self.task.abort();
    }

    /// `sql` prepared on this connection with parameter `types`: prepared once, then reused.
    pub(crate) async fn prepared(
        &self,
        sql: &Arc<str>,
        types: &[Type],
    ) -> Result<Statement, tokio_postgres::Error> {
        if let Some(stmt) = self.cached(sql) {
            return Ok(stmt);
        }
        let stmt = self.client.prepare_typed(sql, types).await?;
        // Two calls may prepare it at once; the first one stored is kept.
        let mut cache = self.prepared.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(cache.entry(sql.clone()).or_insert(stmt).clone())
    }

    fn cached(&self, sql: &str) -> Option<Statement> {
        let cache = self.prepared.lock().unwrap_or_else(PoisonError::into_inner);
        cache.get(sql).cloned()
    }
}

/// A connection without prepared statements (for the readiness check); its socket
/// closes when it is dropped.
pub(crate) struct Bare {
    pub(crate) client: Client,
    task: AbortHandle,
}

impl Drop for Bare {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How long a cancel request may take without a connect timeout.
const CANCEL_TIMEOUT: Duration = Duration::from_secs(5);

/// How long setting up and preparing a connection may take without a statement or
/// connect timeout.
const PREPARE_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens connections for the pool.
pub(crate) struct Opener {
    config: tokio_postgres::Config,
    /// TLS as the URL's `sslmode` etc. (and GraphJin's `enable_tls` keys) ask.
    tls: TlsOptions,
    target: String,
    catalog: Arc<Catalog>,
    /// Run on each new connection before preparing (see `pool/setup.rs`).
    setup: crate::pool::SessionSetup,
    /// In `unnamed` statement mode, what the first opening's check learned.
    unnamed: tokio::sync::OnceCell<Arc<Unnamed>>,
}

impl Opener {
    pub(crate) fn new(config: tokio_postgres::Config, catalog: Arc<Catalog>) -> Opener {
        Opener {
            target: describe(&config),
            config,
            tls: TlsOptions::default(),
            catalog,
            setup: crate::pool::SessionSetup::default(),
            unnamed: tokio::sync::OnceCell::new(),
        }
    }

    /// How connections use TLS (default: libpq's `prefer`, no certificate checks).
    pub(crate) fn with_tls(mut self, tls: TlsOptions) -> Opener {
        self.tls = tls;
        self
    }

    /// What each new connection runs before its statements are prepared.
    pub(crate) fn with_setup(mut self, setup: crate::pool::SessionSetup) -> Opener {
        self.setup = setup;
        self
    }

    /// Where connections go, without the password (for messages).
    pub(crate) fn target(&self) -> &str {
        &self.target
    }

    /// How long opening a connection may take (TCP, TLS, start-up, authentication).
    pub(crate) fn connect_timeout(&self) -> Option<Duration> {
        self.config.get_connect_timeout().copied()
    }

    /// Asks the server to cancel the statement running on the connection `token` belongs
    /// to, with this opener's TLS settings, within the connect timeout.
    pub(crate) async fn cancel(&self, token: &CancelToken) -> Result<(), Error> {
        let fail = |message: String| Error::Connect {
            target: self.target.clone(),
            message: format!("sending a cancel request: {message}"),
        };
        let cancelling = graphjin_pgtls::cancel(token, &self.tls);
        let limit = self.connect_timeout().unwrap_or(CANCEL_TIMEOUT);
        match tokio::time::timeout(limit, cancelling).await {
            Ok(sent) => sent.map_err(|e| fail(connect_message(&e))),
            Err(_) => Err(fail(format!("no answer within {} ms", limit.as_millis()))),
        }
    }

    /// Opens a connection with nothing prepared on it (the readiness check's).
    pub(crate) async fn open_bare(&self) -> Result<Bare, Error> {
        let (client, task) = self.start().await?;
        Ok(Bare { client, task })
    }

    /// Opens a connection and prepares every statement on it; with `defer`, a statement
    /// held up by a table lock is deferred (see `prepare.rs`) instead of waited for. The session setup and the preparing are bounded too (by the
    /// statement timeout, at least the connect timeout), so a server that stops answering
    /// half-way cannot hold an opening forever.
    pub(crate) async fn open(&self, defer: bool) -> Result<Conn, Error> {
        if self.setup.mode() == StatementMode::Unnamed {
            return self.open_unnamed().await;
        }
        let (client, task) = self.start().await?;
        let limit = self.prepare_limit();
        match tokio::time::timeout(limit, self.prepare(client, task.clone(), defer)).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => {
                task.abort();
                Err(e)
            }
            Err(_) => {
                task.abort();
                Err(Error::Connect {
                    target: self.target.clone(),
                    message: format!(
                        "the session setup and preparing the statements did not finish within {} ms",
                        limit.as_millis()
                    ),
                })
            }
        }
    }

    /// How long the session setup and preparing (or checking) the statements may take: the
    /// statement timeout, at least the connect timeout.
    fn prepare_limit(&self) -> Duration {
        [self.connect_timeout(), self.setup.statement_timeout()]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(PREPARE_TIMEOUT)
    }

    /// Runs the session setup on `client` (nothing in `unnamed` statement mode).
    pub(crate) async fn setup_session(&self, client: &Client) -> Result<(), Error> {
        self.setup
            .apply(client)
            .await
            .map_err(|message| Error::Connect {
                target: self.target.clone(),
                message,
            })
    }

    /// Opens a connection in `unnamed` statement mode: nothing prepared, no session
    /// setting sent. The first opening checks every statement first (see `scratch.rs`);
    /// a session setting the mode cannot honour is refused.
    async fn open_unnamed(&self) -> Result<Conn, Error> {
        self.setup.check()?;
        let unnamed = self
            .unnamed
            .get_or_try_init(|| async {
                crate::scratch::check_unnamed(self, &self.catalog, self.prepare_limit())
                    .await
                    .map(Arc::new)
            })
            .await?
            .clone();
        let (client, task) = self.start().await?;
        Ok(Conn {
            client,
            statements: Box::default(),
            role_statement: None,
            batch_statements: Box::default(),
            signed_in: Box::default(),
            prepared: Mutex::default(),
            task,
            deferred: Deferred::default(),
            role_sql: self.catalog.role_query.map(|rq| rq.sql),
            unnamed: Some(unnamed),
        })
    }

    /// Connects, bounded by the connect timeout, and spawns the socket's task.
    async fn start(&self) -> Result<(Client, AbortHandle), Error> {
        // The connect timeout bounds the whole start (TCP, TLS handshake, startup and
        // authentication), not only the socket tokio-postgres opens.
        let connecting = graphjin_pgtls::connect(&self.config, &self.tls);
        let connected = match self.config.get_connect_timeout() {
            Some(limit) => tokio::time::timeout(*limit, connecting)
                .await
                .map_err(|_| Error::Connect {
                    target: self.target.clone(),
                    message: format!(
                        "no answer within the connect timeout ({} ms): TCP, TLS and start-up must finish in it",
                        limit.as_millis()
                    ),
                })?,
            None => connecting.await,
        };
        let (client, connection) = connected.map_err(|e| Error::Connect {
            target: self.target.clone(),
            message: connect_message(&e),
        })?;
        let task = tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %pg_message(&e), "database connection closed");
            }
        });
        Ok((client, task.abort_handle()))
    }

    /// Runs the session setup and prepares every statement on `client` (deferring those
    /// blocked by a lock, with `defer`).
    async fn prepare(&self, client: Client, task: AbortHandle, defer: bool) -> Result<Conn, Error> {
        let lost = |e: Error| match e {
            Error::Unavailable { message } => Error::Connect {
                target: self.target.clone(),
                message: format!("the connection closed while it was being set up: {message}"),
            },
            other => other,
        };
        self.setup.settle_allocator(&client).await;
        self.setup_session(&client).await?;
        let prepared = crate::prepare::everything(&client, &self.catalog, defer)
            .await
            .map_err(lost)?;
        if prepared.deferred.any() {
            tracing::info!(
                target = %self.target,
                deferred = prepared.deferred.count(),
                "a table is locked: opened a connection with the statements over it unprepared"
            );
        }
        Ok(Conn {
            client,
            statements: prepared.statements,
            role_statement: prepared.role_statement,
            batch_statements: prepared.batch_statements,
            signed_in: prepared.signed_in,
            prepared: Mutex::default(),
            task,
            deferred: prepared.deferred,
            role_sql: self.catalog.role_query.map(|rq| rq.sql),
            unnamed: None,
        })
    }
}

/// Why a connection failed: PostgreSQL's message as the rest of the crate words it, or
/// the TLS cause ("certificate verify failed: unknown CA …").
fn connect_message(e: &ConnectError) -> String {
    match e.postgres() {
        Some(pg) => pg_message(pg),
        None => e.to_string(),
    }
}

/// `postgres://user@host:port/dbname` without the password.
fn describe(config: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
    let user = config.get_user().unwrap_or("(default user)");
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let host = match h {
                Host::Tcp(name) => name.clone(),
                Host::Unix(path) => path.display().to_string(),
            };
            match ports.get(i).or(ports.first()) {
                Some(port) => format!("{host}:{port}"),
                None => host,
            }
        })
        .collect();
    let hosts = if hosts.is_empty() {
        "localhost".to_owned()
    } else {
        hosts.join(",")
    };
    let db = config.get_dbname().unwrap_or(user);
    format!("postgres://{user}@{hosts}/{db}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_has_no_password() {
        let config: tokio_postgres::Config = "postgres://app:s3cret@db.example:5433/shop"
            .parse()
            .unwrap();
        let d = describe(&config);
        assert_eq!(d, "postgres://app@db.example:5433/shop");
        assert!(!d.contains("s3cret"));
    }
}
