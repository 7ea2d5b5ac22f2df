//! Typed view of the config keys the compiler reads.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The build-time config keys, GraphJin's names.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(default)]
pub struct BuildConfig {
    /// Rows returned by a list selection without `limit` (GraphJin's default: 20).
    pub default_limit: Option<u32>,
    /// Accept camelCase names in queries for snake_case tables and columns.
    pub enable_camelcase: bool,
    /// `compliance:` (this crate's own key): rules every operation must keep, checked at
    /// build time, see [`crate::tools::compliance`].
    pub compliance: Vec<crate::tools::compliance::ComplianceRule>,
    /// Config variables usable as `$name` in queries; a value starting with `sql:` is an
    /// SQL expression, anything else a literal.
    pub variables: BTreeMap<String, String>,
    /// Table and column names that are never exposed.
    pub blocklist: Vec<String>,
    /// Extra table knowledge: aliases, JSON and polymorphic virtual tables, foreign keys the
    /// database does not declare, named orderings.
    pub tables: Vec<TableConfig>,
    /// SQL that finds the current user's row for role matching; must use `$user_id`.
    pub roles_query: Option<String>,
    /// Roles beyond `anon` and `user`, and per-role table rules.
    pub roles: Vec<RoleConfig>,
    /// Block tables not listed for `anon`.
    pub default_block: bool,
    /// `rust:` (this crate's own key): the Rust types of generated fields, see
    /// [`crate::emit::rust_types`].
    pub rust: crate::emit::RustConfig,
    /// `database:`, as far as the build reads it (the runtime reads the rest).
    pub database: DatabaseRefs,
}

/// The keys of `database:` that name operations, so the build can refuse a name that
/// allow.list does not have (the runtime reads their values).
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(default)]
pub struct DatabaseRefs {
    /// `operation_timeouts`: per operation name, a time limit.
    pub operation_timeouts: BTreeMap<String, serde_json::Value>,
}

/// One `tables:` entry.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(default)]
pub struct TableConfig {
    /// The name used in queries.
    pub name: String,
    /// The real table when `name` is an alias (or the host table of a JSON column).
    pub table: Option<String>,
    /// `json` / `jsonb` for a table stored in a JSON column, `polymorphic` for a union.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Column facts the database does not declare.
    pub columns: Vec<ColumnConfig>,
    /// Named orderings chosen with `order_by: $var`: name -> ["col desc", "id asc"].
    pub order_by: BTreeMap<String, Vec<String>>,
    /// Columns never exposed in this table.
    pub blocklist: Vec<String>,
}

/// One column entry inside `tables[].columns`.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(default)]
pub struct ColumnConfig {
    /// Column name.
    pub name: String,
    /// Its type (needed for JSON tables), e.g. `int`, `text`, `bigint`.
    #[serde(rename = "type")]
    pub ty: Option<String>,
    /// A foreign key as `table.column` (GraphJin's `related_to`).
    #[serde(alias = "foreign_key")]
    pub related_to: Option<String>,
    /// The column is an array of keys.
    pub array: bool,
    /// Marks the column as the primary key.
    pub primary: bool,
}

/// One `roles:` entry.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(default)]
pub struct RoleConfig {
    /// Role name (`anon` and `user` are built in and may be configured too).
    pub name: String,
    /// SQL condition over the `roles_query` row that selects this role.
    #[serde(rename = "match")]
    pub match_: Option<String>,
    /// Per-table rules.
    pub tables: Vec<RoleTableConfig>,
}

/// Per-role rules for one table.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(default)]
pub struct RoleTableConfig {
    /// Table name (or alias).
    pub name: String,
    /// Rules for reads.
    pub query: Option<TableOpRules>,
    /// Rules for inserts.
    pub insert: Option<TableOpRules>,
    /// Rules for updates.
    pub update: Option<TableOpRules>,
    /// Rules for deletes.
    pub delete: Option<TableOpRules>,
}

/// Rules for one operation kind on one table for one role.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(default)]
pub struct TableOpRules {
    /// GraphQL-style filters AND-ed with the query's own `where`.
    pub filters: Vec<String>,
    /// The only columns allowed.
    pub columns: Vec<String>,
    /// Values forced on insert/update.
    pub presets: BTreeMap<String, String>,
    /// Maximum rows.
    pub limit: Option<u32>,
    /// Refuse the table entirely.
    pub block: bool,
    /// Disallow function fields.
    pub disable_functions: bool,
}

impl BuildConfig {
    /// The `tables:` entry with this query name, if any.
    pub fn table(&self, name: &str) -> Option<&TableConfig> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// The effective default limit.
    pub fn limit(&self) -> u32 {
        self.default_limit.filter(|l| *l > 0).unwrap_or(20)
    }
}
