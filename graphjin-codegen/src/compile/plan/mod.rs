//! The plan: an operation checked against the catalog and one role's rules, as data.
//!
//! Planning resolves every field of a selection to what it is (a column, an aggregate, a
//! function, a related table, a union: [`read`]) and every write to what it does
//! ([`write`]), applies the role's decisions (columns it may read or write, tables it may
//! not, fields `@include(ifRole:)` / `@add` / `@remove` decide at build time, presets and
//! filters) and refuses what is wrong, with did-you-means. Filters ([`filter`]) and
//! orderings ([`order`]) are data too. It writes no SQL: `select`, `filter`, `order` and
//! `mutate` lower a plan to the SQL tree, numbering bind parameters as they go.

pub(super) mod args;
pub(super) mod directives;
pub(super) mod filter;
pub(super) mod order;
pub(super) mod read;
pub(super) mod shape;
pub(super) mod write;

use super::catalog::{ColumnInfo, FunctionInfo, Polymorphic, TableInfo};
use super::relation::Relation;
use super::roles::OpRules;
use crate::gql::ast::{Field, Value};
use crate::source::Pos;
pub(super) use args::SelArgs;
pub(super) use directives::{FieldDirectives, Show};
use filter::Filter;

/// One field of a selection, checked for one role.
pub(super) struct Planned<'a> {
    /// The field as written (its position and arguments).
    pub field: &'a Field,
    /// Its response key.
    pub key: String,
    /// What its directives decided.
    pub dirs: FieldDirectives<'a>,
    /// What the field reads.
    pub kind: Kind<'a>,
}

/// What a field of a selection reads.
pub(super) enum Kind<'a> {
    /// `__typename`: a constant name.
    Typename(String),
    /// A column of the row; `cond` is the field's `includeIf` / `skipIf`.
    Column {
        col: ColumnInfo,
        cond: RowFilter<'a>,
    },
    /// `search_rank` of the table's `search:`.
    SearchRank,
    /// `search_headline_<column>` of the table's `search:`.
    SearchHeadline(ColumnInfo),
    /// An aggregate of a column (`count_id`, `max(args: [price])`).
    Aggregate {
        /// The SQL aggregate function.
        func: &'static str,
        /// The column it aggregates.
        col: ColumnInfo,
    },
    /// A scalar function of the row.
    Function {
        /// The function.
        func: FunctionInfo,
        /// Its inputs, in order.
        args: Vec<FnArg<'a>>,
        /// The field's `includeIf` / `skipIf`.
        cond: RowFilter<'a>,
    },
    /// A polymorphic relationship: one member per `... on table` fragment.
    Union {
        /// The relationship.
        poly: Polymorphic,
        /// The members, in the order written.
        members: Vec<Member<'a>>,
    },
    /// A related table, or a table selected on its own under this one (`@notRelated`).
    Table(Box<TablePlan<'a>>),
}

/// A field's `includeIf` / `skipIf` filters over its row (GraphJin's field filters).
#[derive(Default)]
pub(super) struct RowFilter<'a> {
    /// Shown when this filter holds.
    pub include_if: Option<Filter<'a>>,
    /// Hidden when this filter holds.
    pub skip_if: Option<Filter<'a>>,
}

/// One input of a function call.
pub(super) enum FnArg<'a> {
    /// A column of the row the function is called on (an unquoted name in `args`).
    Column(ColumnInfo),
    /// A constant or a variable, read as the input's type.
    Value(&'a Value, String),
}

/// One member of a union: the rows of `table` whose `key` is the parent's id column.
pub(super) struct Member<'a> {
    /// The member table.
    pub table: TableInfo,
    /// Its column matched against the parent's id column.
    pub key: ColumnInfo,
    /// Its selection.
    pub fields: Vec<Planned<'a>>,
}

/// How a table selection is reached.
pub(super) enum Reach<'a> {
    /// A top-level field (or one selected on its own with `@notRelated`).
    Root,
    /// A nested field joined to its parent row.
    Rel(Relation),
    /// A set-returning function, with its inputs in order.
    Function(FunctionInfo, Vec<FnArg<'a>>),
    /// The rows a mutation's CTE returned (its `id`/`where` picked them already).
    Cte(String),
}

/// Why a role reads a table field as `null`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// The role may not read the table (`block: true`, or anon's `default_block`).
    Blocked,
    /// The field's arguments need `$user_id`, which an anonymous caller does not have.
    SignedInOnly,
}

/// A table field, checked.
pub(super) struct TablePlan<'a> {
    /// The field as written.
    pub field: &'a Field,
    /// The table (or a function's rows) it reads.
    pub table: TableInfo,
    /// How it is reached.
    pub reach: Reach<'a>,
    /// Its arguments.
    pub args: SelArgs<'a>,
    /// One object rather than a list.
    pub one: bool,
    /// `Some` when the role reads the field as `null`; its selection is still checked and
    /// planned, for the field's shape.
    pub refused: Option<Refusal>,
    /// The role's rules for the table (none for a role without rules, or when the table
    /// is planned only for its shape because the role may not read it).
    pub rules: Option<&'a OpRules>,
    /// The operation's `where` (none over a mutation's written rows: they are picked).
    pub filter: Option<Filter<'a>>,
    /// The field's own `includeIf` / `skipIf`, deciding per row.
    pub row_filter: RowFilter<'a>,
    /// The role's filters for the table.
    pub role_filters: Vec<Filter<'a>>,
    /// A to-one relationship by a NOT NULL foreign key with no `where`: it always finds
    /// its row.
    pub required: bool,
    /// The table's full-text column, when the field has `search:`.
    pub search: Option<ColumnInfo>,
    /// Its `order_by`.
    pub order: Vec<order::OrderKey<'a>>,
    /// The columns of `distinct:`.
    pub distinct: Vec<(ColumnInfo, Pos)>,
    /// Its selection.
    pub fields: Vec<Planned<'a>>,
}

impl TablePlan<'_> {
    /// Cursor-paged (`first`/`last`/`after`/`before` on a list).
    pub fn paged(&self) -> bool {
        self.args.paging.paged && !self.one
    }
}
