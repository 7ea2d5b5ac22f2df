//! Connections: opening one and preparing every statement of the operation table on it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::future::try_join_all;
use graphjin_pgtls::{ConnectError, TlsOptions};
use postgres_types::Type;
use tokio_postgres::{Client, Statement};

use crate::Error;
use crate::catalog::Catalog;
use crate::error::pg_message;
use crate::operation::{EnumType, RoleQuery};

/// A connection with every statement prepared, indexed like [`Catalog`]'s flattened
/// statement list.
pub(crate) struct Conn {
    pub(crate) client: Client,
    pub(crate) statements: Box<[Statement]>,
    /// The role statement, when roles are matched with `roles_query`.
    pub(crate) role_statement: Option<Statement>,
    /// Per flattened statement, its subscription batch statement (if any).
    pub(crate) batch_statements: Box<[Option<Statement>]>,
    /// Statements outside the operation table (SQL actions), prepared on this connection
    /// the first time one runs on it; keyed by their SQL.
    prepared: Mutex<HashMap<Arc<str>, Statement>>,
}

impl Conn {
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

/// Opens connections for the pool.
pub(crate) struct Opener {
    config: tokio_postgres::Config,
    /// TLS as the URL's `sslmode` etc. (and GraphJin's `enable_tls` keys) ask.
    tls: TlsOptions,
    target: String,
    catalog: Arc<Catalog>,
    /// Run on each new connection before preparing (see `pool.rs`).
    setup: crate::pool::SessionSetup,
}

impl Opener {
    pub(crate) fn new(config: tokio_postgres::Config, catalog: Arc<Catalog>) -> Opener {
        Opener {
            target: describe(&config),
            config,
            tls: TlsOptions::default(),
            catalog,
            setup: crate::pool::SessionSetup::default(),
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

    /// Opens a connection and prepares every statement on it.
    pub(crate) async fn open(&self) -> Result<Conn, Error> {
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
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %pg_message(&e), "database connection closed");
            }
        });
        self.setup
            .apply(&client)
            .await
            .map_err(|message| Error::Connect {
                target: self.target.clone(),
                message,
            })?;
        check_enums(&client, self.catalog.enums).await?;
        let statements = prepare_all(&client, &self.catalog).await?;
        let role_statement = match self.catalog.role_query {
            Some(rq) => Some(prepare_role_query(&client, rq).await?),
            None => None,
        };
        let batch_statements = prepare_batches(&client, &self.catalog).await?;
        Ok(Conn {
            client,
            statements,
            role_statement,
            batch_statements,
            prepared: Mutex::default(),
        })
    }
}

/// Prepares every statement of every operation for every role, pipelined on one
/// connection, and checks each returns one `json` column and takes the listed parameters.
async fn prepare_all(client: &Client, catalog: &Catalog) -> Result<Box<[Statement]>, Error> {
    let mut jobs = Vec::with_capacity(catalog.statement_count());
    for op in catalog.operations {
        for rs in op.roles {
            let types = vec![Type::TEXT; rs.params.len()];
            jobs.push(async move {
                let fail = |message: String| Error::Prepare {
                    operation: op.name.to_owned(),
                    role: rs.role.to_owned(),
                    message,
                };
                let stmt = client
                    .prepare_typed(rs.sql, &types)
                    .await
                    .map_err(|e| fail(pg_message(&e)))?;
                let columns = stmt.columns();
                if columns.len() != 1 || !matches!(*columns[0].type_(), Type::JSON | Type::JSONB) {
                    let got: Vec<String> = columns
                        .iter()
                        .map(|c| format!("{} {}", c.name(), c.type_()))
                        .collect();
                    return Err(fail(format!(
                        "the statement must return one json column, it returns ({})",
                        got.join(", ")
                    )));
                }
                if stmt.params().len() != rs.params.len() {
                    return Err(fail(format!(
                        "the SQL uses {} parameters but the operation table lists {}",
                        stmt.params().len(),
                        rs.params.len()
                    )));
                }
                Ok(stmt)
            });
        }
    }
    Ok(try_join_all(jobs).await?.into_boxed_slice())
}

/// Checks that every enum exists in the database with exactly the labels the generated
/// Rust enum has, in the same order (one query for all of them).
async fn check_enums(client: &Client, enums: &[EnumType]) -> Result<(), Error> {
    if enums.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = enums.iter().map(|e| e.name).collect();
    let rows = client
        .query(
            "SELECT t.ord::int4, ty.typtype::text, e.enumlabel::text \
             FROM unnest($1::text[]) WITH ORDINALITY AS t(name, ord) \
             LEFT JOIN pg_type ty ON ty.oid = to_regtype(t.name) \
             LEFT JOIN pg_enum e ON e.enumtypid = ty.oid \
             ORDER BY t.ord, e.enumsortorder",
            &[&names],
        )
        .await
        .map_err(|e| Error::EnumMismatch {
            name: names.join(", "),
            message: format!("could not read the enum types: {}", pg_message(&e)),
        })?;
    let mut found: Vec<(Option<String>, Vec<String>)> = vec![(None, Vec::new()); enums.len()];
    for row in &rows {
        let ord: i32 = row.get(0);
        let Some(slot) = usize::try_from(ord - 1).ok().and_then(|i| found.get_mut(i)) else {
            continue;
        };
        slot.0 = row.get(1);
        if let Some(label) = row.get::<_, Option<String>>(2) {
            slot.1.push(label);
        }
    }
    for (e, (kind, labels)) in enums.iter().zip(found) {
        enum_matches(e, kind.as_deref(), &labels).map_err(|message| Error::EnumMismatch {
            name: e.name.to_owned(),
            message,
        })?;
    }
    Ok(())
}

/// Whether the database's `labels` (of a type of kind `kind`, `None` when it does not
/// exist) are the enum's; else what differs.
fn enum_matches(e: &EnumType, kind: Option<&str>, labels: &[String]) -> Result<(), String> {
    const PULL: &str = "pull the schema again (`graphjin schema pull`) and rebuild";
    match kind {
        None => {
            return Err(format!(
                "the type does not exist in the database, but the schema snapshot \
                 (db.graphql) the build used has it; {PULL}"
            ));
        }
        Some("e") => {}
        Some(_) => {
            return Err(format!(
                "the type is not an enum in the database, but the schema snapshot records \
                 one; {PULL}"
            ));
        }
    }
    if let Some(extra) = labels.iter().find(|l| !e.labels.contains(&l.as_str())) {
        return Err(format!(
            "the database has label {extra:?}, which the schema snapshot (db.graphql) the \
             build used does not; {PULL}"
        ));
    }
    if let Some(gone) = e.labels.iter().find(|l| !labels.iter().any(|x| x == *l)) {
        return Err(format!(
            "label {gone:?} is in the schema snapshot (db.graphql) but not in the database; \
             {PULL}"
        ));
    }
    if labels
        .iter()
        .map(String::as_str)
        .ne(e.labels.iter().copied())
    {
        return Err(format!(
            "the database sorts the labels as {labels:?}, the schema snapshot as {:?}; {PULL}",
            e.labels
        ));
    }
    Ok(())
}

/// Prepares every subscription batch statement (`$1` sent as text, cast to json by the SQL)
/// and checks each returns `sub` (text) and `__root` (json).
async fn prepare_batches(
    client: &Client,
    catalog: &Catalog,
) -> Result<Box<[Option<Statement>]>, Error> {
    let mut jobs = Vec::new();
    for op in catalog.operations {
        for rs in op.roles {
            jobs.push((op, rs));
        }
    }
    let jobs = jobs.into_iter().enumerate().map(|(i, (op, rs))| async move {
        let Some(sql) = catalog.batch_sql(i) else {
            return Ok(None);
        };
        let fail = |message: String| Error::Prepare {
            operation: op.name.to_owned(),
            role: format!("{} (batch)", rs.role),
            message,
        };
        let stmt = client
            .prepare_typed(sql, &[Type::TEXT])
            .await
            .map_err(|e| fail(pg_message(&e)))?;
        let columns = stmt.columns();
        let shape_ok = columns.len() == 2
            && matches!(*columns[0].type_(), Type::TEXT | Type::VARCHAR)
            && matches!(*columns[1].type_(), Type::JSON | Type::JSONB);
        if !shape_ok || stmt.params().len() != 1 {
            let got: Vec<String> = columns
                .iter()
                .map(|c| format!("{} {}", c.name(), c.type_()))
                .collect();
            return Err(fail(format!(
                "a batch statement must take one parameter and return (sub text, __root json); it takes {} and returns ({})",
                stmt.params().len(),
                got.join(", ")
            )));
        }
        Ok(Some(stmt))
    });
    Ok(try_join_all(jobs).await?.into_boxed_slice())
}

/// Prepares the role statement; its `$1` (the user id) takes whatever type `roles_query`
/// compares it with.
async fn prepare_role_query(client: &Client, rq: &RoleQuery) -> Result<Statement, Error> {
    let fail = |message: String| Error::Prepare {
        operation: "roles_query".to_owned(),
        role: "(role selection)".to_owned(),
        message,
    };
    let stmt = client.prepare(rq.sql).await.map_err(|e| {
        fail(match crate::roles::role_at_error(rq.sql, &e) {
            Some(role) => format!("the `match` of role `{role}`: {}", pg_message(&e)),
            None => pg_message(&e),
        })
    })?;
    match stmt.params() {
        [t] if crate::roles::UserIdParam::accepts_type(t) => Ok(stmt),
        [t] => Err(fail(format!(
            "roles_query compares $user_id with a {t}; supported: integers, text, uuid"
        ))),
        other => Err(fail(format!(
            "roles_query must use $user_id exactly as its one parameter, it has {}",
            other.len()
        ))),
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
    fn enum_differences_are_named() {
        let e = EnumType {
            name: "order_status",
            labels: &["pending", "shipped"],
        };
        let labels = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(enum_matches(&e, Some("e"), &labels(&["pending", "shipped"])).is_ok());
        let m = enum_matches(&e, Some("e"), &labels(&["pending", "shipped", "refunded"]));
        assert!(
            m.unwrap_err()
                .contains("the database has label \"refunded\"")
        );
        let m = enum_matches(&e, Some("e"), &labels(&["pending"]));
        assert!(
            m.unwrap_err()
                .contains("label \"shipped\" is in the schema snapshot")
        );
        let m = enum_matches(&e, Some("e"), &labels(&["shipped", "pending"]));
        assert!(m.unwrap_err().contains("sorts the labels"));
        assert!(
            enum_matches(&e, None, &[])
                .unwrap_err()
                .contains("does not exist")
        );
        assert!(
            enum_matches(&e, Some("d"), &[])
                .unwrap_err()
                .contains("not an enum")
        );
    }

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
