//! What the runtime's `'static` operation table holds for a set of compiled operations, as
//! owned plain data: the operations with their role statements, parameters and variable
//! rules, the subscriptions' batch statements, the access manifest and the role statement.
//!
//! [`RuntimeTable::new`] (in `map`) is the one place that decides how compiled operations
//! become that table (which statements are batch statements, how a parameter's default is
//! written, which runtime rule and format a constraint is). Two renderers only copy it:
//! `emit` writes it as Rust tokens for the build (`OPERATIONS`, `ROLE_QUERY`, `BATCHES`,
//! `ACCESS`), and graphjin-dev's `bridge` leaks it into the runtime's `'static` values for
//! the development server, so both serve the same table.

mod map;

pub use crate::gql::ast::OpKind;

/// Everything the runtime's static table holds for a set of compiled operations.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeTable {
    /// One entry per operation, in the order given (the generated `OPERATIONS`).
    pub operations: Vec<OperationEntry>,
    /// How a signed-in user's role is found, when the config matches roles with
    /// `roles_query` (the generated `ROLE_QUERY`).
    pub role_query: Option<RoleQueryEntry>,
    /// Per subscription and role with a batch statement: polls all its subscribers at once
    /// (the generated `BATCHES`).
    pub batches: Vec<BatchEntry>,
    /// Per operation and role: the columns read, or why the role is refused (the generated
    /// `ACCESS`).
    pub access: Vec<AccessEntry>,
}

/// One operation: a runtime `Operation`.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationEntry {
    /// Its name as written in allow.list.
    pub name: String,
    /// Query, mutation or subscription.
    pub kind: OpKind,
    /// Its normalized text.
    pub query: String,
    /// Lower-case hex sha256 of `query`.
    pub sha256: String,
    /// One statement per role that may run it.
    pub roles: Vec<RoleStatementEntry>,
    /// Rules its variables must meet before any SQL runs.
    pub constraints: Vec<ConstraintEntry>,
}

/// An operation's statement for one role: a runtime `RoleStatement`.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleStatementEntry {
    /// The role's name.
    pub role: String,
    /// The statement.
    pub sql: String,
    /// Its bind parameters in `$1..$n` order.
    pub params: Vec<ParamEntry>,
}

/// One bind parameter: a runtime `Param`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamEntry {
    /// The variable's name without `$`.
    pub name: String,
    /// The PostgreSQL type it is used as.
    pub pg_type: String,
    /// Filled from the caller's identity, never from the client's variables.
    pub builtin: bool,
    /// The operation's default for the variable, as JSON text.
    pub default: Option<String>,
}

/// A variable rule: a runtime `validate::Constraint`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConstraintEntry {
    /// The variable checked.
    pub variable: String,
    /// The rule.
    pub rule: RuleEntry,
}

/// A runtime `validate::Rule`, variant for variant (values as JSON text).
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum RuleEntry {
    Required,
    NotNull,
    RequiredIf(Vec<(String, String)>),
    RequiredUnless(Vec<(String, String)>),
    RequiredWith(Vec<String>),
    RequiredWithAll(Vec<String>),
    RequiredWithout(Vec<String>),
    RequiredWithoutAll(Vec<String>),
    Min(f64),
    Max(f64),
    Equals(String),
    NotEquals(String),
    OneOf(Vec<String>),
    GreaterThan(f64),
    GreaterThanOrEquals(f64),
    LessThan(f64),
    LessThanOrEquals(f64),
    EqualsField(String),
    NotEqualsField(String),
    GreaterThanField(String),
    GreaterThanOrEqualsField(String),
    LessThanField(String),
    LessThanOrEqualsField(String),
    /// The name of the runtime's `validate::Format` variant (`AlphaNumeric`), not the
    /// allow.list's (`alphaNumeric`).
    Format(String),
}

/// A subscription's statement for many subscribers: a runtime `Batch`.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchEntry {
    /// The subscription's name.
    pub operation: String,
    /// The role.
    pub role: String,
    /// The statement.
    pub sql: String,
}

/// What one operation reads for one role, or why the role is refused: a runtime `Access`.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessEntry {
    /// The operation's name.
    pub operation: String,
    /// The role.
    pub role: String,
    /// Columns read, per table.
    pub reads: Vec<(String, Vec<String>)>,
    /// Why the role may not run the operation, when it may not.
    pub refused: Option<String>,
}

/// The role statement and the roles it can answer: a runtime `RoleQuery`.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleQueryEntry {
    /// The statement (`$1` = user id; one row, one text column).
    pub sql: String,
    /// The roles it can answer besides `user`.
    pub roles: Vec<String>,
    /// Each query's one-round-trip statement for signed-in callers.
    pub statements: Vec<SignedInEntry>,
}

/// A query's one-round-trip statement for signed-in callers: a runtime `SignedIn`.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedInEntry {
    /// The operation's name.
    pub operation: String,
    /// The statement (`$1` = user id; returns `json` and `role`).
    pub sql: String,
    /// Per branch: the role whose parameters it binds, and how far they moved.
    pub branches: Vec<(String, usize)>,
    /// How many parameters it takes, the user id included.
    pub params: usize,
}
