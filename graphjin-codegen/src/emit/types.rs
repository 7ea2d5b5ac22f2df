//! PostgreSQL types to Rust types, losslessly: `numeric` becomes the runtime's exact
//! `Numeric`, never `f64`.

use proc_macro2::TokenStream;
use quote::quote;

/// The Rust type for values of PostgreSQL type `pg` (`bigint`, `text[]`, ...), not nullable.
pub fn rust_type(pg: &str) -> TokenStream {
    if let Some(elem) = pg.strip_suffix("[]") {
        let inner = rust_type(elem);
        return quote!(::std::vec::Vec<#inner>);
    }
    match pg {
        "smallint" | "int2" => quote!(i16),
        "integer" | "int" | "int4" => quote!(i32),
        "bigint" | "int8" => quote!(i64),
        "real" | "float4" => quote!(f32),
        "double precision" | "float8" => quote!(f64),
        "numeric" | "decimal" | "money" => quote!(::graphjin_runtime::types::Numeric),
        "boolean" | "bool" => quote!(bool),
        "json" | "jsonb" => quote!(::graphjin_runtime::serde_json::Value),
        "text"
        | "character varying"
        | "varchar"
        | "character"
        | "char"
        | "bpchar"
        | "name"
        | "citext"
        | "uuid"
        | "date"
        | "time"
        | "time with time zone"
        | "time without time zone"
        | "timestamp"
        | "timestamp with time zone"
        | "timestamp without time zone"
        | "interval"
        | "tsvector"
        | "inet"
        | "cidr"
        | "macaddr"
        | "bytea"
        | "xml" => quote!(::std::string::String),
        _ => quote!(::graphjin_runtime::serde_json::Value),
    }
}
