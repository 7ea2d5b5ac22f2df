//! What a PostgreSQL type looks like on the wire: the JSON PostgreSQL writes for a value of
//! it in a response (`to_json`), and the JSON the runtime accepts for a variable of it. The
//! OpenAPI document and the TypeScript module both describe values through it, so they
//! agree with each other and with the Rust types the emitter generates (`src/emit/types.rs`:
//! integers, exact `numeric`, text for dates and the like, JSON for the unknown).

use crate::schema::model::{DbSchema, UserType, graphjin_to_pg_type};

/// The JSON form of a PostgreSQL type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire {
    /// A JSON integer; `bits` is 16, 32 or 64.
    Integer {
        /// The width of the PostgreSQL type.
        bits: u8,
    },
    /// A JSON number read as a float (`real`, `double precision`).
    Float,
    /// A `numeric` (or `money`): a JSON number whose digits must all be kept; PostgreSQL
    /// writes NaN and the infinities as strings.
    Numeric,
    /// `true`/`false`.
    Boolean,
    /// A JSON string; `format` is the JSON Schema format when PostgreSQL's text fits one.
    String {
        /// `date-time`, `date`, `uuid` or none.
        format: Option<&'static str>,
    },
    /// One of an enum's labels.
    Enum(Vec<String>),
    /// Any JSON (`json`, `jsonb`, and types the compiler does not know).
    Json,
    /// A JSON array of the element type.
    Array(Box<Wire>),
}

/// Classifies type names with the snapshot's enums and domains.
#[derive(Debug, Clone, Copy)]
pub struct WireTypes<'s> {
    schema: &'s DbSchema,
}

impl<'s> WireTypes<'s> {
    /// Types of `schema` (its enums and domains).
    pub fn new(schema: &'s DbSchema) -> Self {
        WireTypes { schema }
    }

    /// The wire form of PostgreSQL type `pg` (`bigint`, `text[]`, `order_status`).
    pub fn of(&self, pg: &str) -> Wire {
        self.of_depth(pg, 0)
    }

    fn of_depth(&self, pg: &str, depth: usize) -> Wire {
        let pg = pg.trim();
        if let Some(elem) = pg.strip_suffix("[]") {
            return Wire::Array(Box::new(self.of_depth(elem, depth)));
        }
        if let Some(user) = self.user_type(pg) {
            return match user {
                UserType::Enum(e) => Wire::Enum(e.labels.clone()),
                UserType::Domain(d) if depth < 8 => {
                    let base = match self.schema.user_type(&d.base) {
                        Some(u) => u.sql_name(),
                        None => graphjin_to_pg_type(&d.base),
                    };
                    let inner = self.of_depth(&base, depth + 1);
                    if d.array {
                        Wire::Array(Box::new(inner))
                    } else {
                        inner
                    }
                }
                UserType::Domain(_) => Wire::Json,
            };
        }
        builtin(pg)
    }

    /// The enum or domain whose SQL name (as the compiler casts to it) is `pg`.
    fn user_type(&self, pg: &str) -> Option<UserType<'s>> {
        self.schema
            .enums
            .iter()
            .map(UserType::Enum)
            .chain(self.schema.domains.iter().map(UserType::Domain))
            .find(|u| u.sql_name() == pg)
    }
}

/// The wire form of a built-in type name, modifiers (`numeric(10,2)`) and case ignored.
pub fn builtin(pg: &str) -> Wire {
    let lower = pg.trim().to_ascii_lowercase();
    let name = match lower.find('(') {
        Some(open) => {
            let close = lower[open..]
                .find(')')
                .map_or(lower.len(), |c| open + c + 1);
            format!("{}{}", &lower[..open], &lower[close..])
        }
        None => lower,
    };
    let name = name.strip_prefix("pg_catalog.").unwrap_or(&name);
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    match name.as_str() {
        "smallint" | "int2" | "smallserial" => Wire::Integer { bits: 16 },
        "integer" | "int" | "int4" | "serial" => Wire::Integer { bits: 32 },
        "bigint" | "int8" | "bigserial" => Wire::Integer { bits: 64 },
        "real" | "float4" | "double precision" | "float8" | "float" => Wire::Float,
        "numeric" | "decimal" | "money" => Wire::Numeric,
        "boolean" | "bool" => Wire::Boolean,
        "json" | "jsonb" => Wire::Json,
        "timestamp with time zone" | "timestamptz" => Wire::String {
            format: Some("date-time"),
        },
        "date" => Wire::String {
            format: Some("date"),
        },
        "uuid" => Wire::String {
            format: Some("uuid"),
        },
        "text"
        | "character varying"
        | "varchar"
        | "character"
        | "char"
        | "bpchar"
        | "name"
        | "citext"
        | "time"
        | "time with time zone"
        | "timetz"
        | "time without time zone"
        | "timestamp"
        | "timestamp without time zone"
        | "interval"
        | "tsvector"
        | "inet"
        | "cidr"
        | "macaddr"
        | "bytea"
        | "xml" => Wire::String { format: None },
        _ => Wire::Json,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins() {
        assert_eq!(builtin("bigint"), Wire::Integer { bits: 64 });
        assert_eq!(builtin("numeric(10,2)"), Wire::Numeric);
        assert_eq!(
            builtin("timestamp with time zone"),
            Wire::String {
                format: Some("date-time")
            }
        );
        assert_eq!(builtin("timestamp"), Wire::String { format: None });
        assert_eq!(builtin("hstore"), Wire::Json);
    }

    #[test]
    fn enums_and_domains() {
        let schema = crate::schema::parse_schema(
            "# dbinfo:postgres,150004,public\n# enum:order_status [\"pending\",\"shipped\"]\n# domain:positive_int Integer\n\ntype t {\n  id: Bigint! @id\n  s: Order_status!\n  n: Positive_int\n}\n",
        )
        .expect("schema");
        let w = WireTypes::new(&schema);
        assert_eq!(
            w.of("order_status[]"),
            Wire::Array(Box::new(Wire::Enum(vec![
                "pending".into(),
                "shipped".into()
            ])))
        );
        assert_eq!(w.of("positive_int"), Wire::Integer { bits: 32 });
    }
}
