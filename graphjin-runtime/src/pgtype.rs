//! What JSON a statement parameter accepts, from the PostgreSQL type its SQL casts it to.
//!
//! Computed once per statement at start-up, so binding a request does no string work on
//! type names.

/// The JSON a scalar parameter (or an array element) must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scalar {
    /// An integral JSON number within the range of `i16`, `i32` or `i64`.
    Int(IntWidth),
    /// Any JSON number (`numeric`, `real`, `double precision`, ...).
    Number,
    /// `true` or `false`.
    Bool,
    /// A JSON string (`text`, `varchar`, `timestamp`, `uuid`, `date`, ...).
    String,
    /// Anything; sent as its JSON text (`json`, `jsonb`).
    Json,
    /// A type this table does not know (enums, domains, extension types): any scalar,
    /// sent as text for PostgreSQL to check.
    Untyped,
}

/// The range of an integer type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntWidth {
    /// `smallint`
    I16,
    /// `integer`
    I32,
    /// `bigint`
    I64,
}

impl IntWidth {
    /// Whether `n` fits.
    pub(crate) fn fits(self, n: i64) -> bool {
        match self {
            IntWidth::I16 => i16::try_from(n).is_ok(),
            IntWidth::I32 => i32::try_from(n).is_ok(),
            IntWidth::I64 => true,
        }
    }
}

/// What a parameter accepts: a scalar, or arrays of it nested `dims` deep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Kind {
    /// The innermost element's kind.
    pub(crate) scalar: Scalar,
    /// Array nesting (`0` for a scalar, `1` for `T[]`).
    pub(crate) dims: u8,
    /// The type as written in the operation table, for messages.
    pub(crate) pg_type: &'static str,
}

impl Kind {
    /// Classifies a type name such as `bigint`, `character varying(20)[]`, `pg_catalog.int4`,
    /// `timestamp with time zone` or `jsonb`.
    pub(crate) fn of(pg_type: &'static str) -> Kind {
        let mut name = pg_type.trim().to_ascii_lowercase();
        let mut dims = 0u8;
        loop {
            let trimmed = name.trim_end();
            if let Some(rest) = trimmed.strip_suffix("[]") {
                dims = dims.saturating_add(1);
                name = rest.to_owned();
            } else {
                name = trimmed.to_owned();
                break;
            }
        }
        // `numeric(10,2)`, `varchar(20)`: the modifier does not change the JSON accepted.
        if let Some(open) = name.find('(') {
            let close = name[open..].find(')').map_or(name.len(), |c| open + c + 1);
            name.replace_range(open..close, "");
        }
        let name = name.strip_prefix("pg_catalog.").unwrap_or(&name);
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        let name = name.trim_matches('"');
        Kind {
            scalar: scalar_of(name),
            dims,
            pg_type,
        }
    }

    /// The phrase for error messages, e.g. `an integer (bigint)` or
    /// `an array of strings (text[])`.
    pub(crate) fn expected(&self) -> String {
        if self.dims == 0 {
            format!("{} ({})", self.scalar.singular(), self.pg_type)
        } else {
            let mut s = String::new();
            for _ in 1..self.dims {
                s.push_str("an array of ");
            }
            let last = if s.is_empty() {
                "an array of "
            } else {
                "arrays of "
            };
            format!("{s}{last}{} ({})", self.scalar.plural(), self.pg_type)
        }
    }
}

impl Scalar {
    fn singular(self) -> &'static str {
        match self {
            Scalar::Int(_) => "an integer",
            Scalar::Number => "a number",
            Scalar::Bool => "a boolean",
            Scalar::String => "a string",
            Scalar::Json => "any JSON value",
            Scalar::Untyped => "a string, number or boolean",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Scalar::Int(_) => "integers",
            Scalar::Number => "numbers",
            Scalar::Bool => "booleans",
            Scalar::String => "strings",
            Scalar::Json => "JSON values",
            Scalar::Untyped => "strings, numbers or booleans",
        }
    }
}

fn scalar_of(name: &str) -> Scalar {
    match name {
        "smallint" | "int2" | "smallserial" | "serial2" => Scalar::Int(IntWidth::I16),
        "integer" | "int" | "int4" | "serial" | "serial4" => Scalar::Int(IntWidth::I32),
        "bigint" | "int8" | "bigserial" | "serial8" => Scalar::Int(IntWidth::I64),
        "numeric" | "decimal" | "real" | "float4" | "double precision" | "float8" | "float"
        | "money" => Scalar::Number,
        "boolean" | "bool" => Scalar::Bool,
        "json" | "jsonb" => Scalar::Json,
        "text"
        | "varchar"
        | "character varying"
        | "char"
        | "character"
        | "bpchar"
        | "name"
        | "citext"
        | "uuid"
        | "date"
        | "time"
        | "timetz"
        | "time with time zone"
        | "time without time zone"
        | "timestamp"
        | "timestamptz"
        | "timestamp with time zone"
        | "timestamp without time zone"
        | "interval"
        | "inet"
        | "cidr"
        | "macaddr"
        | "macaddr8"
        | "bytea"
        | "xml"
        | "tsquery"
        | "tsvector"
        | "bit"
        | "varbit"
        | "bit varying"
        | "ltree" => Scalar::String,
        _ => Scalar::Untyped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_common_names() {
        assert_eq!(Kind::of("bigint").scalar, Scalar::Int(IntWidth::I64));
        assert_eq!(Kind::of("INTEGER").scalar, Scalar::Int(IntWidth::I32));
        assert_eq!(
            Kind::of("pg_catalog.int2").scalar,
            Scalar::Int(IntWidth::I16)
        );
        assert_eq!(Kind::of("numeric(10, 2)").scalar, Scalar::Number);
        assert_eq!(Kind::of("double  precision").scalar, Scalar::Number);
        assert_eq!(Kind::of("character varying(20)").scalar, Scalar::String);
        assert_eq!(Kind::of("timestamp with time zone").scalar, Scalar::String);
        assert_eq!(Kind::of("jsonb").scalar, Scalar::Json);
        assert_eq!(Kind::of("mood").scalar, Scalar::Untyped);
        let k = Kind::of("bigint[]");
        assert_eq!((k.scalar, k.dims), (Scalar::Int(IntWidth::I64), 1));
        let k = Kind::of("text [] []");
        assert_eq!((k.scalar, k.dims), (Scalar::String, 2));
    }

    #[test]
    fn phrases() {
        assert_eq!(Kind::of("bigint").expected(), "an integer (bigint)");
        assert_eq!(
            Kind::of("text[]").expected(),
            "an array of strings (text[])"
        );
        assert_eq!(
            Kind::of("int[][]").expected(),
            "an array of arrays of integers (int[][])"
        );
    }
}
