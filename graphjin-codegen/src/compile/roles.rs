//! Roles from the config: who may read which tables, rows and columns. Checked once when the
//! compiler is built, so a bad rule fails the build naming its config key.

use std::collections::HashMap;

use super::catalog::{Catalog, CatalogError};
use super::names::suggestion;
use crate::config::{BuildConfig, TableOpRules};
use crate::gql::ast::{Selection, Value, ValueKind};
use crate::gql::parse_document;

/// The rules of one role for one kind of access to one table.
#[derive(Debug, Clone, Default)]
pub struct OpRules {
    /// Filters AND-ed with the query's own `where`, parsed.
    pub filters: Vec<Value>,
    /// The config key of each filter, for errors.
    pub filter_keys: Vec<String>,
    /// The only columns allowed (empty: all).
    pub columns: Vec<String>,
    /// Values forced on insert/update: column -> value text.
    pub presets: Vec<(String, String)>,
    /// Most rows returned.
    pub limit: Option<u32>,
    /// The table is refused.
    pub block: bool,
    /// Aggregates and function fields are refused.
    pub disable_functions: bool,
}

impl OpRules {
    /// Whether `column` may be used.
    pub fn allows_column(&self, column: &str) -> bool {
        self.columns.is_empty() || self.columns.iter().any(|c| c == column)
    }
}

/// One role's rules per table.
#[derive(Debug, Clone, Default)]
pub struct RoleRules {
    /// The role's name.
    pub name: String,
    /// Its `match` condition over the `roles_query` row.
    pub match_: Option<String>,
    /// Read rules per table query name.
    pub query: HashMap<String, OpRules>,
    /// Insert rules per table.
    pub insert: HashMap<String, OpRules>,
    /// Update rules per table.
    pub update: HashMap<String, OpRules>,
    /// Delete rules per table.
    pub delete: HashMap<String, OpRules>,
    /// Tables named in the role's config at all.
    pub listed: Vec<String>,
}

/// Every role: `anon`, `user`, then the configured ones, in that order.
#[derive(Debug, Clone, Default)]
pub struct RoleSet {
    /// The roles.
    pub roles: Vec<RoleRules>,
    /// `roles_query` with `$user_id`.
    pub roles_query: Option<String>,
    /// Tables not listed for `anon` are blocked for it.
    pub default_block: bool,
}

/// Parses a filter string such as `{ id: { _eq: $user_id } }` into a value.
pub fn parse_filter(src: &str) -> Result<Value, String> {
    let doc = parse_document(&format!("{{ __filter(where: {src}) {{ __x }} }}"))
        .map_err(|e| format!("not a filter object: {}", e.message))?;
    let value = doc
        .operations
        .first()
        .and_then(|op| op.selection.first())
        .and_then(|s| match s {
            Selection::Field(f) => f.arguments.first().map(|a| a.value.clone()),
            _ => None,
        })
        .ok_or_else(|| "not a filter object".to_string())?;
    match value.kind {
        ValueKind::Object(_) => Ok(value),
        _ => Err("a filter must be an object such as `{ id: { eq: $user_id } }`".into()),
    }
}

impl RoleSet {
    /// Reads and checks the roles of `config` against the catalog.
    pub fn new(config: &BuildConfig, cat: &Catalog) -> Result<RoleSet, CatalogError> {
        let mut set = RoleSet {
            roles: vec![
                RoleRules {
                    name: "anon".into(),
                    ..Default::default()
                },
                RoleRules {
                    name: "user".into(),
                    ..Default::default()
                },
            ],
            roles_query: config.roles_query.clone().filter(|q| !q.trim().is_empty()),
            default_block: config.default_block,
        };
        if let Some(q) = &set.roles_query
            && !q.contains("$user_id")
        {
            return Err(CatalogError::new(
                "roles_query",
                "must use `$user_id` to find the signed-in user's row, e.g. `SELECT * FROM users WHERE id = $user_id`",
            ));
        }
        for (i, rc) in config.roles.iter().enumerate() {
            let key = format!("roles[{i}]");
            if rc.name.trim().is_empty() {
                return Err(CatalogError::new(
                    format!("{key}.name"),
                    "a role needs a name",
                ));
            }
            if rc.match_.is_some() && set.roles_query.is_none() {
                return Err(CatalogError::new(
                    format!("{key}.match"),
                    format!(
                        "role `{}` has a `match` but there is no `roles_query` to match against",
                        rc.name
                    ),
                ));
            }
            if matches!(rc.name.as_str(), "anon" | "user") && rc.match_.is_some() {
                return Err(CatalogError::new(
                    format!("{key}.match"),
                    format!("`{}` is a built-in role and is not matched", rc.name),
                ));
            }
            let pos = match set.roles.iter().position(|r| r.name == rc.name) {
                Some(p) => p,
                None => {
                    if rc.match_.is_none() {
                        return Err(CatalogError::new(
                            format!("{key}.match"),
                            format!(
                                "role `{}` needs a `match` condition over the `roles_query` row",
                                rc.name
                            ),
                        ));
                    }
                    set.roles.push(RoleRules {
                        name: rc.name.clone(),
                        ..Default::default()
                    });
                    set.roles.len() - 1
                }
            };
            let role = &mut set.roles[pos];
            role.match_ = rc.match_.clone();
            for (j, tc) in rc.tables.iter().enumerate() {
                let tkey = format!("{key}.tables[{j}]");
                let Some(table) = cat.table(&tc.name) else {
                    return Err(CatalogError::new(
                        format!("{tkey}.name"),
                        format!(
                            "unknown table `{}`{}",
                            tc.name,
                            cat.table_suggestion(&tc.name)
                        ),
                    ));
                };
                role.listed.push(tc.name.clone());
                for (kind, rules, map) in [
                    ("query", &tc.query, &mut role.query),
                    ("insert", &tc.insert, &mut role.insert),
                    ("update", &tc.update, &mut role.update),
                    ("delete", &tc.delete, &mut role.delete),
                ] {
                    let Some(rules) = rules else { continue };
                    let okey = format!("{tkey}.{kind}");
                    map.insert(
                        tc.name.clone(),
                        op_rules(rules, table, &okey, config.enable_camelcase)?,
                    );
                }
            }
        }
        if let Some(q) = &set.roles_query {
            let matched = set.matched();
            if !matched.is_empty()
                && let Err(why) = super::role_query::role_statement(q, &matched)
            {
                return Err(CatalogError::new("roles_query", why));
            }
        }
        Ok(set)
    }

    /// The role named `name`.
    pub fn role(&self, name: &str) -> Option<&RoleRules> {
        self.roles.iter().find(|r| r.name == name)
    }

    /// Role names in order.
    pub fn names(&self) -> Vec<String> {
        self.roles.iter().map(|r| r.name.clone()).collect()
    }

    /// The statement that picks a signed-in user's role: one row, one text column; `$1` is
    /// the user id. `None` when no role is matched (every signed-in user is `user`). The
    /// matches are evaluated inside `roles_query` (see [`super::role_query`]).
    pub fn role_statement(&self) -> Option<String> {
        let q = self.roles_query.as_ref()?;
        let matched = self.matched();
        if matched.is_empty() {
            return None;
        }
        // Checked when the role set was built.
        super::role_query::role_statement(q, &matched).ok()
    }

    /// `(name, match)` of the roles picked by `roles_query`, in order.
    fn matched(&self) -> Vec<(&str, &str)> {
        self.roles
            .iter()
            .filter_map(|r| Some((r.name.as_str(), r.match_.as_deref()?)))
            .collect()
    }
}

fn op_rules(
    r: &TableOpRules,
    table: &super::catalog::TableInfo,
    key: &str,
    camel: bool,
) -> Result<OpRules, CatalogError> {
    // With `enable_camelcase`, columns and preset keys may be written as in queries
    // (`createdAt`); they are kept under the database's name.
    let db_name = |c: &str| -> String {
        if camel && table.column(c).is_none() {
            super::names::camel_to_snake(c)
        } else {
            c.to_owned()
        }
    };
    let mut out = OpRules {
        columns: r.columns.iter().map(|c| db_name(c)).collect(),
        presets: r
            .presets
            .iter()
            .map(|(k, v)| (db_name(k), v.clone()))
            .collect(),
        limit: r.limit.filter(|l| *l > 0),
        block: r.block,
        disable_functions: r.disable_functions,
        ..Default::default()
    };
    let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    for (i, c) in r.columns.iter().enumerate() {
        if table.column(&db_name(c)).is_none() {
            return Err(CatalogError::new(
                format!("{key}.columns[{i}]"),
                format!(
                    "table `{}` has no column `{c}`{}",
                    table.name,
                    suggestion(c, names.iter().copied())
                ),
            ));
        }
    }
    for c in r.presets.keys() {
        if table.column(&db_name(c)).is_none() {
            return Err(CatalogError::new(
                format!("{key}.presets.{c}"),
                format!(
                    "table `{}` has no column `{c}`{}",
                    table.name,
                    suggestion(c, names.iter().copied())
                ),
            ));
        }
    }
    for (i, f) in r.filters.iter().enumerate() {
        let fkey = format!("{key}.filters[{i}]");
        let v = parse_filter(f).map_err(|m| CatalogError::new(fkey.clone(), m))?;
        out.filters.push(v);
        out.filter_keys.push(fkey);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_or_explain() {
        assert!(parse_filter("{ id: { _eq: $user_id } }").is_ok());
        assert!(parse_filter("{ id: ").unwrap_err().contains("not a filter"));
        assert!(
            parse_filter("[1]")
                .unwrap_err()
                .contains("must be an object")
        );
    }
}
