//! The SQL syntax tree the compiler builds: the few statement forms GraphJin's SQL uses,
//! with leaf expressions (a column, a cast parameter, a function call) kept as text.
//!
//! Nothing here knows GraphQL; [`super::render`] prints a tree once, as one string.

/// A `SELECT`, possibly with a `WITH` chain in front.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Select {
    /// `WITH [RECURSIVE] ...` before the `SELECT`.
    pub with: Option<With>,
    /// `DISTINCT ON (...)` expressions.
    pub distinct_on: Vec<String>,
    /// The output columns; none prints `SELECT` alone (one row, no columns).
    pub items: Vec<Item>,
    /// `FROM` and its joins.
    pub from: Option<From>,
    /// `WHERE`.
    pub filter: Option<Expr>,
    /// `GROUP BY`.
    pub group_by: Vec<String>,
    /// `ORDER BY`.
    pub order_by: Vec<OrderItem>,
    /// `LIMIT`.
    pub limit: Option<Expr>,
    /// `OFFSET`.
    pub offset: Option<Expr>,
}

/// One output column: `expr [AS "alias"]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The value.
    pub expr: Expr,
    /// Its column name.
    pub alias: Option<String>,
    /// Whether the name is printed quoted (the default) or as written.
    pub quoted: bool,
}

impl Item {
    /// `expr AS "alias"`.
    pub fn named(expr: Expr, alias: &str) -> Self {
        Item {
            expr,
            alias: Some(alias.to_owned()),
            quoted: true,
        }
    }

    /// The same item with its name printed as written (for names that need no quotes).
    pub fn unquoted(self) -> Self {
        Item {
            quoted: false,
            ..self
        }
    }

    /// `expr` with the column name PostgreSQL gives it.
    pub fn bare(expr: Expr) -> Self {
        Item {
            expr,
            alias: None,
            quoted: true,
        }
    }
}

/// `WITH [RECURSIVE] a AS (...), b AS (...) `.
#[derive(Debug, Clone, PartialEq)]
pub struct With {
    /// `WITH RECURSIVE`.
    pub recursive: bool,
    /// The common table expressions, in order; a later one may read an earlier one.
    pub ctes: Vec<Cte>,
}

/// One common table expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Cte {
    /// Its name (printed as written: the compiler chooses names that need no quoting, or
    /// quotes them itself).
    pub name: String,
    /// Column names after the name, if any.
    pub columns: Vec<String>,
    /// What it computes.
    pub body: CteBody,
    /// `CYCLE col SET mark USING path` of a recursive walk.
    pub cycle: Option<Cycle>,
}

/// The statement inside a common table expression.
#[derive(Debug, Clone, PartialEq)]
pub enum CteBody {
    /// `a UNION ALL b`: a recursive walk's anchor and step.
    UnionAll(Box<Select>, Box<Select>),
    /// A write (`INSERT`/`UPDATE`/`DELETE ... RETURNING`), written whole by the mutation
    /// compiler.
    Write(String),
    /// A statement written whole that PostgreSQL computes once, before the statement that
    /// reads it, and never folds into it: `AS MATERIALIZED (...)`.
    Materialized(String),
}

/// `CYCLE column SET mark USING path`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cycle {
    /// The column whose repetition ends a walk.
    pub column: String,
    /// The boolean column set on a repeated row.
    pub mark: String,
    /// The path column.
    pub path: String,
}

/// `FROM source` and the joins after it.
#[derive(Debug, Clone, PartialEq)]
pub struct From {
    /// The first source.
    pub source: Source,
    /// Joined after it, in order.
    pub joins: Vec<Join>,
}

impl From {
    /// `FROM source` with no joins.
    pub fn of(source: Source) -> Self {
        From {
            source,
            joins: Vec::new(),
        }
    }
}

/// A row source with its alias.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// `relation AS alias[(columns)]`: a table, a call such as `unnest(...)` or
    /// `json_to_recordset(...)`, or a subquery written whole.
    Named {
        /// The table name or call, as text.
        relation: String,
        /// Its alias (printed as written).
        alias: String,
        /// Column definitions after the alias (`(a int, b text)` or `("x", "y")`).
        columns: Vec<String>,
    },
    /// A table or common table expression read under its own name.
    Bare(String),
    /// `(SELECT ...) AS alias`.
    Derived {
        /// The subquery.
        select: Box<Select>,
        /// Its alias (printed as written).
        alias: String,
    },
}

impl Source {
    /// `relation AS alias`.
    pub fn named(relation: impl Into<String>, alias: impl Into<String>) -> Self {
        Source::Named {
            relation: relation.into(),
            alias: alias.into(),
            columns: Vec::new(),
        }
    }

    /// `(select) AS alias`.
    pub fn derived(select: Select, alias: impl Into<String>) -> Self {
        Source::Derived {
            select: Box::new(select),
            alias: alias.into(),
        }
    }
}

/// One join after the first source.
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    /// Which join.
    pub kind: JoinKind,
    /// What is joined.
    pub source: Source,
}

/// The join forms the compiler writes.
#[derive(Debug, Clone, PartialEq)]
pub enum JoinKind {
    /// `JOIN source ON condition`.
    Inner(Expr),
    /// `CROSS JOIN source`.
    Cross,
    /// `CROSS JOIN LATERAL source`: computed per row of what comes before it.
    CrossLateral,
}

/// An expression. Leaves are text the compiler wrote whole; the variants are the
/// structure the compiler composes, so a statement is printed once.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A leaf: a column, a cast parameter, a literal, a call.
    Raw(String),
    /// `NULL`: a field this role reads as null.
    Null,
    /// `(expr)`.
    Paren(Box<Expr>),
    /// `(SELECT ...)`.
    Subquery(Box<Select>),
    /// `json_build_object('key', value, ...)`; more than 50 pairs are merged from chunks
    /// (PostgreSQL takes at most 100 arguments).
    JsonObject(Vec<(String, Expr)>),
    /// `CASE WHEN cond THEN value ... END`: the first arm whose condition holds.
    Case(Vec<(Expr, Expr)>),
    /// `CASE subject WHEN k THEN v ... END`.
    Switch(Box<Expr>, Vec<(Expr, Expr)>),
    /// Conditions that must all hold: none is `true`, one is itself, more are
    /// `((a) AND (b))`.
    All(Vec<Expr>),
    /// `a AND b AND c`, no parentheses: for conditions whose precedence is known.
    Conj(Vec<Expr>),
}

impl Expr {
    /// A leaf expression.
    pub fn raw(text: impl Into<String>) -> Self {
        Expr::Raw(text.into())
    }

    /// `(select)`.
    pub fn subquery(select: Select) -> Self {
        Expr::Subquery(Box::new(select))
    }

    /// `CASE WHEN cond THEN self END`.
    pub fn when(self, cond: Expr) -> Self {
        Expr::Case(vec![(cond, self)])
    }
}

impl std::convert::From<String> for Expr {
    fn from(text: String) -> Self {
        Expr::Raw(text)
    }
}

/// One `ORDER BY` item.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderItem {
    /// The leaf expression ordered by.
    pub expr: String,
    /// Its direction, as written.
    pub dir: Direction,
}

/// An ordering direction, spelled as the query wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `ASC` (nulls last).
    Asc,
    /// `DESC` (nulls first).
    Desc,
    /// `ASC NULLS FIRST`.
    AscNullsFirst,
    /// `ASC NULLS LAST`.
    AscNullsLast,
    /// `DESC NULLS FIRST`.
    DescNullsFirst,
    /// `DESC NULLS LAST`.
    DescNullsLast,
}

impl Direction {
    /// The direction for (descending, nulls first), spelled as briefly as PostgreSQL allows.
    pub fn of(desc: bool, nulls_first: bool) -> Self {
        match (desc, nulls_first) {
            (false, false) => Direction::Asc,
            (false, true) => Direction::AscNullsFirst,
            (true, true) => Direction::Desc,
            (true, false) => Direction::DescNullsLast,
        }
    }

    /// Whether larger values come first.
    pub fn desc(self) -> bool {
        matches!(
            self,
            Direction::Desc | Direction::DescNullsFirst | Direction::DescNullsLast
        )
    }

    /// Whether NULLs come first (PostgreSQL's default: with `DESC`).
    pub fn nulls_first(self) -> bool {
        matches!(
            self,
            Direction::Desc | Direction::DescNullsFirst | Direction::AscNullsFirst
        )
    }

    /// The SQL keywords.
    pub fn keywords(self) -> &'static str {
        match self {
            Direction::Asc => "ASC",
            Direction::Desc => "DESC",
            Direction::AscNullsFirst => "ASC NULLS FIRST",
            Direction::AscNullsLast => "ASC NULLS LAST",
            Direction::DescNullsFirst => "DESC NULLS FIRST",
            Direction::DescNullsLast => "DESC NULLS LAST",
        }
    }
}
