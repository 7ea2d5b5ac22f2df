//! Preparing the operation table on a new connection: every statement of every operation
//! for every role (each checked to return one `json` column and take the listed
//! parameters), the role statement, the subscriptions' batch statements, after checking
//! the enums the generated types use.
//!
//! Preparing a statement takes a lock on every table it reads (PostgreSQL's parse
//! analysis opens them), so while a session holds `LOCK TABLE a IN ACCESS EXCLUSIVE
//! MODE`, a connection preparing a statement over `a` waits for that lock, and every
//! statement pipelined behind it with it. The pool opens connections for calls that do
//! not touch `a` right then, so an opening made while the pool serves (not the first one,
//! which checks every statement) waits at most [`LOCK_WAIT`] per statement: a statement
//! still blocked is *deferred*, its entry holds a placeholder, and calls run it unprepared
//! on this connection (see [`crate::conn::Conn::is_deferred`]). The pool gives such a
//! *partial* connection only to calls that know (not to subscriptions or actions), and
//! retires it after a few seconds, so a fully prepared one replaces it once the lock is
//! gone.

use std::collections::HashSet;

use futures_util::future::try_join_all;
use postgres_types::Type;
use tokio_postgres::{Client, Statement};

use crate::Error;
use crate::catalog::Catalog;
use crate::error::{is_lost, pg_message};
use crate::operation::{EnumType, RoleQuery};

/// How long an opening made while the pool serves waits for a table's lock to prepare a
/// statement before deferring it (PostgreSQL's `lock_timeout` while preparing).
pub(crate) const LOCK_WAIT: &str = "20ms";

/// What a deferred statement's entry holds: it answers no row, so a call that ran it by
/// mistake fails loudly ("the statement returned no row") rather than answer wrong data.
const PLACEHOLDER: &str = "SELECT NULL::json WHERE false";

/// Everything prepared on a connection, indexed like [`Catalog`]'s flattened statements.
pub(crate) struct Prepared {
    pub(crate) statements: Box<[Statement]>,
    pub(crate) role_statement: Option<Statement>,
    pub(crate) batch_statements: Box<[Option<Statement>]>,
    /// Per operation, its one-round-trip statement for signed-in callers (see
    /// `signed_in.rs`); `None` where it has none or it could not be prepared here (a
    /// table was locked), and calls take two round trips.
    pub(crate) signed_in: Box<[Option<Statement>]>,
    pub(crate) deferred: Deferred,
}

/// What a connection opened during a lock left unprepared: each entry holds a
/// placeholder.
#[derive(Debug, Default)]
pub(crate) struct Deferred {
    /// Flattened statement indexes.
    statements: HashSet<usize>,
    role: bool,
    batches: bool,
}

impl Deferred {
    /// Whether anything is deferred.
    pub(crate) fn any(&self) -> bool {
        !self.statements.is_empty() || self.role || self.batches
    }

    /// How many statements are deferred (batch statements aside).
    pub(crate) fn count(&self) -> usize {
        self.statements.len() + usize::from(self.role)
    }

    /// Whether flattened statement `statement` is deferred.
    pub(crate) fn statement(&self, statement: usize) -> bool {
        self.statements.contains(&statement)
    }

    /// Whether the role statement is deferred.
    pub(crate) fn role(&self) -> bool {
        self.role
    }
}

/// Checks the enums, then prepares everything on `client`; with `defer`, what a table
/// lock holds up for [`LOCK_WAIT`] is deferred (the session's own `lock_timeout` is put
/// back afterwards). A lost connection is [`Error::Unavailable`].
pub(crate) async fn everything(
    client: &Client,
    catalog: &Catalog,
    defer: bool,
) -> Result<Prepared, Error> {
    check_enums(client, catalog.enums).await?;
    let restore = match defer {
        true => Some(set_lock_timeout(client, LOCK_WAIT).await?),
        false => None,
    };
    let statements = prepare_all(client, catalog, defer).await?;
    let role_statement = match catalog.role_query {
        Some(rq) => prepare_role_query(client, rq, defer).await?,
        None => None,
    };
    let batches = prepare_batches(client, catalog, defer).await?;
    let signed_in = match role_statement.as_ref().and_then(|rs| rs.params().first()) {
        Some(user_id) => prepare_signed_in(client, catalog, user_id.clone(), defer).await?,
        None => vec![None; catalog.operations.len()].into_boxed_slice(),
    };
    let mut deferred = Deferred {
        role: catalog.role_query.is_some() && role_statement.is_none(),
        batches: batches.iter().any(|b| matches!(b, Batch::Deferred)),
        ..Deferred::default()
    };
    let placeholder =
        match deferred.role || deferred.batches || statements.iter().any(Option::is_none) {
            true => Some(
                client
                    .prepare(PLACEHOLDER)
                    .await
                    .map_err(|e| or_lost(e, |m| placeholder_error(&m)))?,
            ),
            false => None,
        };
    if let Some(old) = restore {
        set_lock_timeout(client, &old).await?;
    }
    // Without a placeholder nothing is deferred, and every entry is there.
    let statements = statements
        .into_vec()
        .into_iter()
        .enumerate()
        .filter_map(|(i, s)| {
            s.or_else(|| {
                deferred.statements.insert(i);
                placeholder.clone()
            })
        })
        .collect();
    let batch_statements = batches
        .into_vec()
        .into_iter()
        .map(|b| match b {
            Batch::None => None,
            Batch::Prepared(s) => Some(s),
            Batch::Deferred => placeholder.clone(),
        })
        .collect();
    let role_statement = role_statement.or_else(|| placeholder.clone().filter(|_| deferred.role));
    Ok(Prepared {
        statements,
        role_statement,
        batch_statements,
        signed_in,
        deferred,
    })
}

/// Prepares each query's one-round-trip statement: `$1` the user id as the role statement
/// takes it, the branches' parameters as text. One that cannot be prepared (a table locked
/// with `defer`, or a statement PostgreSQL refuses, which is logged) is `None`: its calls
/// take the two round trips, which name the error, if any, for the role actually chosen.
async fn prepare_signed_in(
    client: &Client,
    catalog: &Catalog,
    user_id: Type,
    defer: bool,
) -> Result<Box<[Option<Statement>]>, Error> {
    let jobs = (0..catalog.operations.len()).map(|i| {
        let user_id = user_id.clone();
        async move {
            let Some(combined) = catalog.signed_in(i) else {
                return Ok(None);
            };
            let mut types = vec![Type::TEXT; combined.params];
            types[0] = user_id;
            match client.prepare_typed(combined.sql, &types).await {
                Ok(stmt) => Ok(Some(stmt)),
                Err(e) if is_lost(&e) => Err(Error::Unavailable {
                    message: pg_message(&e),
                }),
                Err(e) if defer && is_lock_timeout(&e) => Ok(None),
                Err(e) => {
                    tracing::warn!(
                        operation = catalog.operations[i].name,
                        error = %pg_message(&e),
                        "the one-round-trip statement for signed-in callers was refused; they take two"
                    );
                    Ok(None)
                }
            }
        }
    });
    Ok(try_join_all(jobs).await?.into_boxed_slice())
}

/// Sets the session's `lock_timeout` to `value`; returns the one it had. Sent unnamed,
/// as every helper statement here: only the operation table's statements stay prepared.
async fn set_lock_timeout(client: &Client, value: &str) -> Result<String, Error> {
    let rows = client
        .query_typed(
            "SELECT current_setting('lock_timeout'), set_config('lock_timeout', $1, false)",
            &[(&value, Type::TEXT)],
        )
        .await
        .map_err(|e| {
            or_lost(e, |m| Error::Prepare {
                operation: "(setting lock_timeout to prepare)".to_owned(),
                role: "(any)".to_owned(),
                message: m,
            })
        })?;
    Ok(rows.first().map(|row| row.get(0)).unwrap_or_default())
}

fn placeholder_error(message: &str) -> Error {
    Error::Prepare {
        operation: "(placeholder of a deferred statement)".to_owned(),
        role: "(any)".to_owned(),
        message: message.to_owned(),
    }
}

/// A batch statement as an opening found it.
enum Batch {
    /// The subscription has none.
    None,
    Prepared(Statement),
    /// A table it reads was locked.
    Deferred,
}

/// Whether `e` is PostgreSQL giving up on a lock (`lock_timeout`, SQLSTATE 55P03).
fn is_lock_timeout(e: &tokio_postgres::Error) -> bool {
    e.code()
        .is_some_and(|c| *c == tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE)
}

/// Prepares every statement of every operation for every role, pipelined on one
/// connection, and checks each returns one `json` column and takes the listed parameters.
/// With `defer`, a statement blocked by a lock is `None`.
async fn prepare_all(
    client: &Client,
    catalog: &Catalog,
    defer: bool,
) -> Result<Box<[Option<Statement>]>, Error> {
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
                let stmt = match client.prepare_typed(rs.sql, &types).await {
                    Ok(stmt) => stmt,
                    Err(e) if defer && is_lock_timeout(&e) => return Ok(None),
                    Err(e) => return Err(or_lost(e, fail)),
                };
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
                Ok(Some(stmt))
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
        .query_typed(
            "SELECT t.ord::int4, ty.typtype::text, e.enumlabel::text \
             FROM unnest($1::text[]) WITH ORDINALITY AS t(name, ord) \
             LEFT JOIN pg_type ty ON ty.oid = to_regtype(t.name) \
             LEFT JOIN pg_enum e ON e.enumtypid = ty.oid \
             ORDER BY t.ord, e.enumsortorder",
            &[(&names, Type::TEXT_ARRAY)],
        )
        .await
        .map_err(|e| {
            or_lost(e, |message| Error::EnumMismatch {
                name: names.join(", "),
                message: format!("could not read the enum types: {message}"),
            })
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

/// Prepares every subscription batch statement (one `text[]` parameter per column: the
/// subscriber ids, then one per parameter of the role statement) and checks each returns
/// `sub` (text) and `__root` (json).
async fn prepare_batches(
    client: &Client,
    catalog: &Catalog,
    defer: bool,
) -> Result<Box<[Batch]>, Error> {
    let mut jobs = Vec::new();
    for op in catalog.operations {
        for rs in op.roles {
            jobs.push((op, rs));
        }
    }
    let jobs = jobs.into_iter().enumerate().map(|(i, (op, rs))| async move {
        let Some(sql) = catalog.batch_sql(i) else {
            return Ok(Batch::None);
        };
        let fail = |message: String| Error::Prepare {
            operation: op.name.to_owned(),
            role: format!("{} (batch)", rs.role),
            message,
        };
        let types = vec![Type::TEXT_ARRAY; rs.params.len() + 1];
        let stmt = match client.prepare_typed(sql, &types).await {
            Ok(stmt) => stmt,
            Err(e) if defer && is_lock_timeout(&e) => return Ok(Batch::Deferred),
            Err(e) => return Err(or_lost(e, fail)),
        };
        let columns = stmt.columns();
        let shape_ok = columns.len() == 2
            && matches!(*columns[0].type_(), Type::TEXT | Type::VARCHAR)
            && matches!(*columns[1].type_(), Type::JSON | Type::JSONB);
        let params_ok = stmt.params() == types.as_slice();
        if !shape_ok || !params_ok {
            let got: Vec<String> = columns
                .iter()
                .map(|c| format!("{} {}", c.name(), c.type_()))
                .collect();
            let took: Vec<String> = stmt.params().iter().map(ToString::to_string).collect();
            return Err(fail(format!(
                "a batch statement must take {} text[] parameters (the subscriber ids, then one per parameter of the operation's statement; rebuild so the build emits it again) and return (sub text, __root json); it takes ({}) and returns ({})",
                types.len(),
                took.join(", "),
                got.join(", ")
            )));
        }
        Ok(Batch::Prepared(stmt))
    });
    Ok(try_join_all(jobs).await?.into_boxed_slice())
}

/// Prepares the role statement; its `$1` (the user id) takes whatever type `roles_query`
/// compares it with. With `defer`, `None` when a lock blocked it.
async fn prepare_role_query(
    client: &Client,
    rq: &RoleQuery,
    defer: bool,
) -> Result<Option<Statement>, Error> {
    let fail = |message: String| Error::Prepare {
        operation: "roles_query".to_owned(),
        role: "(role selection)".to_owned(),
        message,
    };
    let stmt = match client.prepare(rq.sql).await {
        Err(e) if defer && is_lock_timeout(&e) => return Ok(None),
        other => other,
    };
    let stmt = stmt.map_err(|e| {
        if is_lost(&e) {
            return Error::Unavailable {
                message: pg_message(&e),
            };
        }
        fail(match crate::roles::role_at_error(rq.sql, &e) {
            Some(role) => format!("the `match` of role `{role}`: {}", pg_message(&e)),
            None => pg_message(&e),
        })
    })?;
    match stmt.params() {
        [t] if crate::roles::UserIdParam::accepts_type(t) => Ok(Some(stmt)),
        [t] => Err(fail(format!(
            "roles_query compares $user_id with a {t}; supported: integers, text, uuid"
        ))),
        other => Err(fail(format!(
            "roles_query must use $user_id exactly as its one parameter, it has {}",
            other.len()
        ))),
    }
}

/// `fail` with PostgreSQL's message, unless the connection itself was lost (then
/// [`Error::Unavailable`], which the opener turns into a connect error).
fn or_lost(e: tokio_postgres::Error, fail: impl FnOnce(String) -> Error) -> Error {
    if is_lost(&e) {
        Error::Unavailable {
            message: pg_message(&e),
        }
    } else {
        fail(pg_message(&e))
    }
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
}
