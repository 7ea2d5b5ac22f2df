//! The static table the build emits: every allow-listed operation with its SQL per role.
//! Generated code builds these as `static` data; nothing here knows GraphQL.

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// A read.
    Query,
    /// A write.
    Mutation,
    /// A read repeated while the client listens.
    Subscription,
}

/// One bind parameter of a statement. Every parameter is sent to PostgreSQL as text (or
/// NULL): strings as their contents, numbers and booleans as their JSON text, arrays and
/// objects as JSON text; the SQL casts each use to `pg_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// The variable's name without `$`.
    pub name: &'static str,
    /// The PostgreSQL type the variable is used as, e.g. `bigint`, `text[]`, `jsonb`.
    pub pg_type: &'static str,
    /// Filled from the caller's identity (`user_id`, `user_id_provider`, `user_role`),
    /// never from the client's variables.
    pub builtin: bool,
    /// The operation's default for the variable, as JSON text.
    pub default: Option<&'static str>,
}

/// An operation's statement for one role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleStatement {
    /// The role's name (`anon`, `user`, or a configured role).
    pub role: &'static str,
    /// The SQL: one row with one `json` column shaped like the response's `data`.
    pub sql: &'static str,
    /// Its bind parameters in `$1..$n` order.
    pub params: &'static [Param],
}

/// One allow-listed operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// The operation's name as written in allow.list.
    pub name: &'static str,
    /// Query, mutation or subscription.
    pub kind: OpKind,
    /// The operation's text normalized with `graphjin_normalize::normalize`.
    pub query: &'static str,
    /// Lower-case hex sha256 of `query` (what persisted-query clients send).
    pub sha256: &'static str,
    /// One statement per role.
    pub roles: &'static [RoleStatement],
    /// Rules its variables must meet before any SQL runs (`@constraint`, `@validate`, and
    /// `!` on declared variables).
    pub constraints: &'static [crate::validate::Constraint],
}

impl Operation {
    /// The statement for `role`, if the operation was compiled for it.
    pub fn for_role(&self, role: &str) -> Option<&RoleStatement> {
        self.roles.iter().find(|r| r.role == role)
    }
}

/// How a signed-in user's role is found: the config's `roles_query` and each role's `match`
/// compiled into one statement that takes the user id as `$1` and returns the role's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleQuery {
    /// The statement: one row, one text column.
    pub sql: &'static str,
    /// The roles it can answer besides `user`.
    pub roles: &'static [&'static str],
    /// Each query's one-round-trip statement for signed-in callers, made at build time.
    pub statements: &'static [SignedIn],
}

/// One statement that finds a signed-in caller's role and runs that role's branch of a
/// query (see the build's `compile/signed_in.rs`): `$1` is the user id, each branch's
/// parameters follow; it returns the `json` and the `role` it chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedIn {
    /// The operation's name.
    pub operation: &'static str,
    /// The statement.
    pub sql: &'static str,
    /// Its branches, in parameter order.
    pub branches: &'static [SignedInBranch],
    /// How many parameters it takes, the user id included.
    pub params: usize,
}

/// One branch of a [`SignedIn`] statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedInBranch {
    /// The role whose statement the branch runs (the first of the roles sharing it); the
    /// branch binds that role's parameters.
    pub role: &'static str,
    /// How far the branch's parameters moved: the role statement's `$k` is this
    /// statement's `$(k + first)`.
    pub first: usize,
}

/// What one operation touches for one role: the manifest behind `graphjin audit`, so a
/// test can check that a column is never exposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// The operation's name.
    pub operation: &'static str,
    /// The role.
    pub role: &'static str,
    /// Columns read, per table.
    pub reads: &'static [(&'static str, &'static [&'static str])],
    /// Why the role may not run the operation, when it may not.
    pub refused: Option<&'static str>,
}

/// A subscription's statement for many subscribers at once: all subscribers of one
/// operation and role are polled with one execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    /// The subscription's name.
    pub operation: &'static str,
    /// The role.
    pub role: &'static str,
    /// The statement. It takes one `text[]` parameter per column, all of one length, one
    /// element per subscriber: `$1` the subscriber's id (`__sub`), then `$2..$(n+1)` the
    /// text of the role statement's parameters 1..n (encoded as for a single execution, a
    /// NULL element for NULL), read with `unnest($1::text[], ...) AS __b("__sub", "p1", ...)`;
    /// it returns one row per subscriber: `sub` (text) and `__root` (json).
    pub sql: &'static str,
}

/// A PostgreSQL enum the generated types use, with the labels its Rust enum has: checked
/// against the database when a connection opens, so a label added to the database and not
/// to the schema snapshot stops start-up instead of failing a request later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnumType {
    /// The type's name as SQL writes it (`order_status`, `sales."Level"`).
    pub name: &'static str,
    /// Its labels, in the database's sort order.
    pub labels: &'static [&'static str],
}
