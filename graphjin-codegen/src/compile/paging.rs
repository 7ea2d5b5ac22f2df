//! Cursor pagination's data: the arguments written on a field and what paged selections
//! hand to the selection around them while a statement compiles (the SQL is in
//! [`super::cursor`]).

use super::sql::{Expr, Join};
use crate::gql::ast::Value;
use crate::source::Pos;

/// Per statement: what cursor-paged selections hand to the selection around them.
#[derive(Debug, Default)]
pub(super) struct PagingState {
    /// `CROSS JOIN LATERAL (...) AS __pgN` items the enclosing selection (or the root)
    /// adds to its `FROM`: each paged list is computed once there, with its cursor.
    pub laterals: Vec<Join>,
    /// The `_cursor` value of the table field just compiled, if it is cursor-paged.
    pub pending: Option<Expr>,
    /// Response keys from the root to the field being compiled.
    pub path: Vec<String>,
    /// The operation's name (part of each marker).
    pub op_name: String,
    /// Set while a mutation's result is compiled: cursors apply to reads only.
    pub in_mutation: bool,
}

/// `first`, `last`, `after`, `before` as written on a field.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct PagingArgs<'f> {
    /// Any of the four was given.
    pub paged: bool,
    /// `last`: the primary key orders descending.
    pub last: bool,
    /// `after:` / `before:` (GraphJin reads both the same way: onwards in the ordering).
    pub cursor: Option<&'f Value>,
    /// Where the first paging argument is, for errors.
    pub pos: Option<Pos>,
}
