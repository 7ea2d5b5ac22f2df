//! The state carried while one operation is compiled for one role.

use std::borrow::Cow;
use std::collections::HashMap;

use super::catalog::{Catalog, ColumnInfo, TableInfo};
use super::error::{CompileError, Result};
use super::names::camel_to_snake;
use super::roles::{OpRules, RoleSet};
use super::sql::quote::string_literal;
use super::values::{Params, batch_column, literal_sql, param_ref_sql, param_sql, to_json};
use crate::config::BuildConfig;
use crate::gql::ast::{Fragment, Value, ValueKind, VariableDef};
use crate::source::Pos;

/// Compilation state for one operation and one role.
pub(super) struct Ctx<'a> {
    pub cat: &'a Catalog,
    pub config: &'a BuildConfig,
    pub role: &'a str,
    pub fragments: HashMap<&'a str, &'a Fragment>,
    pub vars: HashMap<&'a str, &'a VariableDef>,
    pub params: Params,
    pub roles: &'a RoleSet,
    /// Set while compiling something the role rules must not apply to (a role's own
    /// filters, the shape of a blocked field).
    pub ignore_rules: bool,
    /// Tables written earlier in the statement (mutations): real name -> a subquery that
    /// reads them as they are after the writes.
    pub overlays: HashMap<String, String>,
    /// Tables written earlier in the statement (mutations): real name -> a subquery of the
    /// rows this statement wrote. A recursive relationship in a mutation's selection walks
    /// these, as GraphJin's does (its CTE named after the table shadows the table).
    pub written: HashMap<String, String>,
    /// The `search:` of the table being selected: (the tsvector expression, the tsquery
    /// expression), for `search_rank` and `search_headline_<column>`.
    pub search: Option<(String, String)>,
    /// Render parameters as columns of the subscription batch (`__b."p1"`) instead of `$1`.
    pub batch: bool,
    /// How many parameters come before this statement's own in the statement it is part of
    /// (a branch of a signed-in caller's statement): its `$k` is written `$(k + base)`.
    pub param_base: usize,
    /// Shapes of JSON variables that carry mutation data (for typed `Variables`).
    pub inputs: super::inputs::Inputs,
    /// Columns read, per table (for `graphjin audit`).
    pub reads: std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
    /// The column a filter is comparing with (`table.column`, element type), so a variable
    /// first used there takes the column's per-column Rust type.
    pub origin: Option<(String, String)>,
    /// Cursor pagination's state (see [`super::paging`]).
    pub paging: super::paging::PagingState,
    next_alias: usize,
}

impl<'a> Ctx<'a> {
    pub fn new(
        cat: &'a Catalog,
        config: &'a BuildConfig,
        roles: &'a RoleSet,
        role: &'a str,
        fragments: &'a [Fragment],
        vars: &'a [VariableDef],
    ) -> Self {
        Ctx {
            cat,
            config,
            role,
            fragments: fragments
                .iter()
                .map(|f| (f.name.value.as_str(), f))
                .collect(),
            vars: vars.iter().map(|v| (v.name.value.as_str(), v)).collect(),
            params: Params::default(),
            roles,
            ignore_rules: false,
            reads: Default::default(),
            overlays: HashMap::new(),
            written: HashMap::new(),
            search: None,
            inputs: HashMap::new(),
            batch: false,
            param_base: 0,
            origin: None,
            paging: Default::default(),
            next_alias: 0,
        }
    }

    /// This role's read rules for `table`, if any apply.
    pub fn rules(&self, table: &str) -> Option<&'a OpRules> {
        if self.ignore_rules {
            return None;
        }
        self.roles.role(self.role)?.query.get(table)
    }

    /// Whether this role may not read `table` at all (`block: true`, or `default_block`
    /// for `anon` and a table its config does not list).
    pub fn table_blocked(&self, table: &str) -> bool {
        if self.ignore_rules {
            return false;
        }
        if self.rules(table).is_some_and(|r| r.block) {
            return true;
        }
        self.role == "anon"
            && self.roles.default_block
            && !self
                .roles
                .role("anon")
                .is_some_and(|r| r.listed.iter().any(|t| t == table))
    }

    /// Refuses a column this role may not use.
    pub fn check_column(&mut self, table: &TableInfo, col: &ColumnInfo, pos: Pos) -> Result<()> {
        self.reads
            .entry(table.relation_name().unwrap_or(&table.name).to_string())
            .or_default()
            .insert(col.name.clone());
        if col.blocked || self.cat.is_blocked(&col.name) {
            return Err(CompileError::new(
                pos,
                format!("column `{}` is blocked", col.name),
            ));
        }
        if let Some(r) = self.rules(&table.name)
            && !r.allows_column(&col.name)
        {
            return Err(CompileError::refused(
                pos,
                format!("db column blocked: {} (role: '{}')", col.name, self.role),
            ));
        }
        Ok(())
    }

    /// Refuses aggregates and function fields when the role's rules disable them.
    pub fn check_function(&self, table: &TableInfo, func: &str, pos: Pos) -> Result<()> {
        if self.rules(&table.name).is_some_and(|r| r.disable_functions) {
            return Err(CompileError::refused(
                pos,
                format!("all db functions blocked: {func} (role: '{}')", self.role),
            ));
        }
        Ok(())
    }

    /// A fresh table alias.
    pub fn alias(&mut self) -> String {
        let a = format!("t{}", self.next_alias);
        self.next_alias += 1;
        a
    }

    /// A fresh number for helper aliases.
    pub fn serial(&mut self) -> usize {
        self.next_alias += 1;
        self.next_alias
    }

    /// The database name for a name written in a query (camelCase folded when enabled).
    pub fn db_name<'n>(&self, name: &'n str) -> Cow<'n, str> {
        if self.config.enable_camelcase && name.chars().any(char::is_uppercase) {
            Cow::Owned(camel_to_snake(name))
        } else {
            Cow::Borrowed(name)
        }
    }

    /// SQL reading variable `name` as `cast`.
    pub fn var_sql(&mut self, name: &str, cast: &str, pos: Pos) -> Result<String> {
        if let Some(expr) = name.strip_prefix(JSON_PATH) {
            return Ok(json_leaf_sql(expr, cast));
        }
        if let Some(v) = self.config.variables.get(name) {
            return Ok(match v.strip_prefix("sql:") {
                Some(expr) => format!("({})::{cast}", expr.trim()),
                None => format!("{}::{cast}", string_literal(v)),
            });
        }
        let default = match self.vars.get(name).and_then(|d| d.default.as_ref()) {
            Some(d) => Some(to_json(d)?),
            None => None,
        };
        if name.is_empty() {
            return Err(CompileError::new(pos, "empty variable name"));
        }
        let n = self.params.number(name, cast, default);
        if let Some((origin, elem)) = &self.origin
            && (cast == elem || cast.strip_suffix("[]") == Some(elem.as_str()))
        {
            let p = &mut self.params.list[n - 1];
            if p.column.is_none() && p.pg_type == cast {
                p.column = Some(origin.clone());
            }
        }
        Ok(if self.batch {
            param_ref_sql(&batch_column(n), cast)
        } else {
            param_sql(n + self.param_base, cast)
        })
    }

    /// SQL for any value (variable or constant) as `cast`.
    pub fn value_sql(&mut self, v: &Value, cast: &str) -> Result<String> {
        match &v.kind {
            ValueKind::Variable(name) => self.var_sql(name, cast, v.pos),
            ValueKind::List(items) if items.iter().any(has_variable) => {
                let elem = cast.strip_suffix("[]").unwrap_or(cast).to_string();
                let parts = items
                    .iter()
                    .map(|i| self.value_sql(i, &elem))
                    .collect::<Result<Vec<_>>>()?;
                Ok(format!("ARRAY[{}]::{elem}[]", parts.join(", ")))
            }
            _ => literal_sql(v, cast),
        }
    }
}

/// Variables named with this prefix stand for a JSON expression (a path into mutation
/// data), not a client variable: `{JSON_PATH}<sql of type json>`.
pub(super) const JSON_PATH: &str = "\u{1}json:";

/// A JSON value (SQL expression of type json) read as `cast`; arrays take a JSON array (or
/// a single value).
pub(super) fn json_leaf_sql(expr: &str, cast: &str) -> String {
    if let Some(elem) = cast.strip_suffix("[]") {
        format!(
            "ARRAY(SELECT json_array_elements_text(CASE WHEN json_typeof({expr}) = 'array' THEN {expr} ELSE json_build_array({expr}) END))::{elem}[]"
        )
    } else if cast == "json" {
        format!("({expr})")
    } else if cast == "jsonb" {
        format!("({expr})::jsonb")
    } else {
        format!("({expr} #>> '{{}}')::{cast}")
    }
}

impl Ctx<'_> {
    /// The SQL a table is read from: itself, or how it stands after this statement's writes.
    pub fn source(&self, t: &TableInfo) -> String {
        if let Some(rel) = t.relation_name()
            && let Some(o) = self.overlays.get(rel)
        {
            return o.clone();
        }
        t.sql_name()
    }
}

/// Whether a value mentions any variable.
pub(super) fn has_variable(v: &Value) -> bool {
    match &v.kind {
        ValueKind::Variable(_) => true,
        ValueKind::List(items) => items.iter().any(has_variable),
        ValueKind::Object(fields) => fields.iter().any(|(_, v)| has_variable(v)),
        _ => false,
    }
}

/// Whether a value mentions variable `name`.
pub(super) fn uses_variable(v: &Value, name: &str) -> bool {
    match &v.kind {
        ValueKind::Variable(n) => n == name,
        ValueKind::List(items) => items.iter().any(|i| uses_variable(i, name)),
        ValueKind::Object(fields) => fields.iter().any(|(_, v)| uses_variable(v, name)),
        _ => false,
    }
}
