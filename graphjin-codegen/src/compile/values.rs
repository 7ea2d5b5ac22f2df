//! Values in SQL: bind parameters for variables, quoted literals for constants written in
//! the allow list. A client's value only ever reaches PostgreSQL as a bind parameter.

use serde::{Deserialize, Serialize};

use super::error::{CompileError, Result};
use super::sql::quote::string_literal;
use crate::gql::ast::{Value, ValueKind};

/// Built-in variables filled from the request's identity, never from the client.
pub const BUILTINS: [&str; 3] = ["user_id", "user_id_provider", "user_role"];

/// One bind parameter of a compiled statement. Every parameter is sent as text (`NULL` for
/// a missing value): scalars as their plain text, arrays and objects as JSON text; the SQL
/// casts each use to the type it needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    /// Variable name without `$`.
    pub name: String,
    /// The PostgreSQL type of its first use (e.g. `bigint`, `text[]`, `jsonb`).
    pub pg_type: String,
    /// Filled by the runtime from the caller's identity (`$user_id`...).
    pub builtin: bool,
    /// The default from the operation's variable definition, if any.
    pub default: Option<serde_json::Value>,
    /// The column (`table.column`) its first use compares with, if any: per-column Rust
    /// types apply to the variable too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
}

/// The parameters of one statement, numbered in order of first use.
#[derive(Debug, Clone, Default)]
pub struct Params {
    /// In `$1`, `$2`... order.
    pub list: Vec<Param>,
}

impl Params {
    /// The 1-based number of variable `name`, registering it with type `pg_type` on first use.
    pub fn number(
        &mut self,
        name: &str,
        pg_type: &str,
        default: Option<serde_json::Value>,
    ) -> usize {
        if let Some(i) = self.list.iter().position(|p| p.name == name) {
            return i + 1;
        }
        self.list.push(Param {
            name: name.to_string(),
            pg_type: pg_type.to_string(),
            builtin: BUILTINS.contains(&name),
            default,
            column: None,
        });
        self.list.len()
    }
}

/// SQL that reads parameter `n` as `cast`.
pub fn param_sql(n: usize, cast: &str) -> String {
    param_ref_sql(&format!("${n}"), cast)
}

/// SQL that reads a text value `reference` (a parameter, or a column of the subscription
/// batch) as `cast`.
pub fn param_ref_sql(reference: &str, cast: &str) -> String {
    if let Some(elem) = cast.strip_suffix("[]") {
        format!("ARRAY(SELECT json_array_elements_text({reference}::json))::{elem}[]")
    } else {
        format!("{reference}::{cast}")
    }
}

/// The column of the subscription batch that holds parameter `n`.
pub fn batch_column(n: usize) -> String {
    format!("__b.\"p{n}\"")
}

/// Converts a constant GraphQL value to JSON (for variable defaults).
pub fn to_json(v: &Value) -> Result<serde_json::Value> {
    Ok(match &v.kind {
        ValueKind::Variable(name) => {
            return Err(CompileError::new(
                v.pos,
                format!("a default value cannot use variable `${name}`"),
            ));
        }
        ValueKind::Int(s) | ValueKind::Float(s) => serde_json::from_str(s)
            .map_err(|_| CompileError::new(v.pos, format!("`{s}` is not a valid number")))?,
        ValueKind::String(s) | ValueKind::Enum(s) => serde_json::Value::String(s.clone()),
        ValueKind::Boolean(b) => serde_json::Value::Bool(*b),
        ValueKind::Null => serde_json::Value::Null,
        ValueKind::List(items) => {
            serde_json::Value::Array(items.iter().map(to_json).collect::<Result<_>>()?)
        }
        ValueKind::Object(fields) => {
            let mut map = serde_json::Map::new();
            for (k, v) in fields {
                map.insert(k.value.clone(), to_json(v)?);
            }
            serde_json::Value::Object(map)
        }
    })
}

/// Literal mutation data written in the allow list as an example of its shape: its keys,
/// its nesting, and its strings (`find: "children"` decides a relation); other values
/// only their presence (`null`).
pub(crate) fn literal_example(v: &Value) -> serde_json::Value {
    match &v.kind {
        ValueKind::Object(fields) => serde_json::Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.value.clone(), literal_example(v)))
                .collect(),
        ),
        ValueKind::List(items) => {
            serde_json::Value::Array(items.iter().map(literal_example).collect())
        }
        ValueKind::String(s) => serde_json::Value::String(s.clone()),
        _ => serde_json::Value::Null,
    }
}

/// An SQL literal for a constant written in the allow list, cast to `cast`.
pub fn literal_sql(v: &Value, cast: &str) -> Result<String> {
    Ok(match &v.kind {
        ValueKind::Variable(_) => {
            return Err(CompileError::new(
                v.pos,
                "internal: variable passed as a literal",
            ));
        }
        ValueKind::Int(s) | ValueKind::Float(s) => {
            if is_numeric_type(cast) {
                s.clone()
            } else {
                format!("{}::{cast}", string_literal(s))
            }
        }
        ValueKind::String(s) | ValueKind::Enum(s) => format!("{}::{cast}", string_literal(s)),
        ValueKind::Boolean(b) => b.to_string(),
        ValueKind::Null => "NULL".into(),
        ValueKind::List(items) => {
            let elem = cast.strip_suffix("[]").unwrap_or(cast);
            if items.is_empty() {
                format!("'{{}}'::{elem}[]")
            } else {
                let parts = items
                    .iter()
                    .map(|i| literal_sql(i, elem))
                    .collect::<Result<Vec<_>>>()?;
                format!("ARRAY[{}]::{elem}[]", parts.join(", "))
            }
        }
        ValueKind::Object(_) => {
            let json = to_json(v)?;
            format!("{}::{cast}", string_literal(&json.to_string()))
        }
    })
}

/// Whether a bare number literal fits this type without a cast.
pub fn is_numeric_type(t: &str) -> bool {
    matches!(
        t,
        "smallint" | "integer" | "bigint" | "numeric" | "real" | "double precision" | "decimal"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Pos;

    fn v(kind: ValueKind) -> Value {
        Value {
            kind,
            pos: Pos::new(1, 1),
        }
    }

    /// The shape of literal mutation data keeps its strings, which choose a relation
    /// (`find: "parents"`), and only the presence of other values.
    #[test]
    fn a_literal_example_keeps_keys_nesting_and_strings() {
        let doc = crate::gql::parse_document(
            r#"mutation m { items(insert: { name: "a", n: 2, children: [{ find: "parents", ok: true }] }) { id } }"#,
        )
        .expect("parses");
        let crate::gql::ast::Selection::Field(field) = &doc.operations[0].selection[0] else {
            panic!("a field");
        };
        assert_eq!(
            literal_example(&field.arguments[0].value),
            serde_json::json!({ "name": "a", "n": null, "children": [{ "find": "parents", "ok": null }] })
        );
    }

    #[test]
    fn literals_are_quoted() {
        assert_eq!(
            literal_sql(&v(ValueKind::String("a'b".into())), "text").unwrap(),
            "'a''b'::text"
        );
        assert_eq!(
            literal_sql(&v(ValueKind::Int("5".into())), "bigint").unwrap(),
            "5"
        );
        assert_eq!(
            literal_sql(
                &v(ValueKind::List(vec![v(ValueKind::Int("1".into()))])),
                "bigint[]"
            )
            .unwrap(),
            "ARRAY[1]::bigint[]"
        );
    }

    #[test]
    fn params_are_numbered_once() {
        let mut p = Params::default();
        assert_eq!(p.number("id", "bigint", None), 1);
        assert_eq!(p.number("user_id", "bigint", None), 2);
        assert_eq!(p.number("id", "text", None), 1);
        assert!(p.list[1].builtin);
    }
}
