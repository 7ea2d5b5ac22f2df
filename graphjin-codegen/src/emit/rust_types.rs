//! The Rust type of every generated field and variable.
//!
//! Without a `rust:` block in the config the types are lossless and need no crate of the
//! user's: `numeric` is the runtime's exact `Numeric`, dates, times, uuids, intervals,
//! network addresses and bytea are `String` (PostgreSQL's own text), `json`/`jsonb` and
//! types the compiler does not know are `serde_json::Value`. Two things hold with or
//! without it: a PostgreSQL enum recorded in `db.graphql` becomes a Rust enum (one variant
//! per label), and a recorded domain takes its base type.
//!
//! The config's `rust:` block chooses other types, which the user's crate brings in:
//!
//! ```yaml
//! rust:
//!   presets: [chrono, uuid, rust_decimal]      # see PRESETS
//!   types:                                     # PostgreSQL type -> Rust type
//!     inet: "std::net::IpAddr"                 # any alias works: timestamptz, int8, ...
//!     money: { type: "crate::Money", with: "crate::money_serde" }
//!   columns:                                   # one column (`table.column`) -> Rust type
//!     orders.total: "crate::Money"
//! ```
//!
//! A column's entry wins over the type's entry, which wins over a preset, which wins over
//! the default; a type entry may also name an enum (replacing the generated Rust enum) or a
//! domain. For an array the entry names the element type (`Vec<T>`); `Option<T>` stays for
//! what may be null. A type path is used as written inside the generated modules: start it
//! with a crate's name, `::` or `crate::`. The type must implement `Debug`, `Clone`,
//! `PartialEq`, `Serialize` and `Deserialize` (the generated structs derive them), reading
//! PostgreSQL's JSON for the type and writing what PostgreSQL casts back from text.
//!
//! `with:` names a serde `with` module for the type; a nullable field uses `<with>::option`,
//! an array `<with>::vec`, a nullable array `<with>::option_vec` (the convention of
//! `time::serde::rfc3339`, which has `option`). A type chosen for `numeric` without `with:`
//! goes through [`graphjin_runtime::types::number`]-style text (its `Display` and `FromStr`),
//! so every digit survives in both directions without serde_json's `arbitrary_precision`.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::types::rust_type;
use crate::compile::CatalogError;
use crate::schema::model::{DbSchema, UserType, graphjin_to_pg_type};

/// The `rust:` block of the config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RustConfig {
    /// Named sets of type entries for common crates (`chrono`, `uuid`, `rust_decimal`).
    pub presets: Vec<String>,
    /// PostgreSQL type (any spelling PostgreSQL accepts, or an enum or domain's name) ->
    /// Rust type.
    pub types: BTreeMap<String, TypeSpec>,
    /// `table.column` -> Rust type (the element type for an array column).
    pub columns: BTreeMap<String, TypeSpec>,
}

/// One entry: a Rust type path, and optionally a serde `with` module for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypeSpec {
    /// The type, e.g. `uuid::Uuid`.
    pub ty: String,
    /// A serde `with` module, e.g. `time::serde::rfc3339`.
    pub with: Option<String>,
}

impl<'de> de::Deserialize<'de> for TypeSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TypeSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Rust type path such as \"uuid::Uuid\", or {type: ..., with: ...}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TypeSpec, E> {
                Ok(TypeSpec {
                    ty: v.to_string(),
                    with: None,
                })
            }
            // The config reader's key probe asks with an empty value.
            fn visit_unit<E: de::Error>(self) -> Result<TypeSpec, E> {
                Ok(TypeSpec::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TypeSpec, A::Error> {
                let mut spec = TypeSpec::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.to_ascii_lowercase().as_str() {
                        "type" => spec.ty = map.next_value()?,
                        "with" => spec.with = Some(map.next_value()?),
                        _ => {
                            return Err(de::Error::custom(format!(
                                "unknown key `{key}` (an entry takes `type` and `with`)"
                            )));
                        }
                    }
                }
                Ok(spec)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> de::Deserialize<'de> for RustConfig {
    /// Read as one struct whose keys the config reader does not list: a type path is
    /// source code, so the block has no `GJ_` environment variables.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RustConfig;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map with `presets`, `types` and `columns`")
            }
            fn visit_unit<E: de::Error>(self) -> Result<RustConfig, E> {
                Ok(RustConfig::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RustConfig, A::Error> {
                let mut c = RustConfig::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.to_ascii_lowercase().as_str() {
                        "presets" => c.presets = map.next_value()?,
                        "types" => c.types = map.next_value()?,
                        "columns" => c.columns = map.next_value()?,
                        _ => {
                            return Err(de::Error::custom(format!(
                                "unknown key `{key}` in `rust:` (it takes `presets`, `types` \
                                 and `columns`)"
                            )));
                        }
                    }
                }
                Ok(c)
            }
        }
        d.deserialize_struct("RustConfig", &[], V)
    }
}

/// What each preset maps: (preset, PostgreSQL type, Rust type).
pub const PRESETS: &[(&str, &str, &str)] = &[
    ("chrono", "date", "::chrono::NaiveDate"),
    ("chrono", "time without time zone", "::chrono::NaiveTime"),
    (
        "chrono",
        "timestamp without time zone",
        "::chrono::NaiveDateTime",
    ),
    (
        "chrono",
        "timestamp with time zone",
        "::chrono::DateTime<::chrono::Utc>",
    ),
    ("uuid", "uuid", "::uuid::Uuid"),
    ("rust_decimal", "numeric", "::rust_decimal::Decimal"),
];

/// The built-in types a `types:` key may name (after [`canonical`]).
const BUILTINS: &[&str] = &[
    "smallint",
    "integer",
    "bigint",
    "real",
    "double precision",
    "numeric",
    "money",
    "boolean",
    "text",
    "character varying",
    "character",
    "name",
    "citext",
    "uuid",
    "date",
    "time without time zone",
    "time with time zone",
    "timestamp without time zone",
    "timestamp with time zone",
    "interval",
    "json",
    "jsonb",
    "bytea",
    "inet",
    "cidr",
    "macaddr",
    "macaddr8",
    "xml",
    "tsvector",
    "tsquery",
    "bit",
    "bit varying",
    "ltree",
    "oid",
    "point",
    "line",
    "lseg",
    "box",
    "path",
    "polygon",
    "circle",
    "int4range",
    "int8range",
    "numrange",
    "tsrange",
    "tstzrange",
    "daterange",
    "pg_lsn",
];

/// Short spellings [`canonical`] accepts, offered in did-you-mean hints.
const ALIASES: &[&str] = &[
    "int2",
    "int4",
    "int8",
    "float4",
    "float8",
    "bool",
    "varchar",
    "char",
    "decimal",
    "timestamptz",
    "timestamp",
    "timetz",
    "time",
];

/// One spelling per built-in type: `timestamptz` -> `timestamp with time zone`,
/// `int8` -> `bigint`, `varchar(20)` -> `character varying`. Other names come back
/// trimmed and otherwise unchanged (enum and domain names are case-sensitive).
pub fn canonical(name: &str) -> String {
    let mut lower = name.trim().to_ascii_lowercase();
    if let Some(open) = lower.find('(') {
        let close = lower[open..]
            .find(')')
            .map_or(lower.len(), |c| open + c + 1);
        lower.replace_range(open..close, "");
    }
    let lower = lower.strip_prefix("pg_catalog.").unwrap_or(&lower);
    let lower = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    let canon = match lower.as_str() {
        "int2" | "smallint" => "smallint",
        "int" | "int4" | "integer" => "integer",
        "int8" | "bigint" => "bigint",
        "float4" | "real" => "real",
        "float" | "float8" | "double precision" => "double precision",
        "bool" | "boolean" => "boolean",
        "varchar" | "character varying" => "character varying",
        "char" | "bpchar" | "character" => "character",
        "decimal" | "numeric" => "numeric",
        "timestamptz" | "timestamp with time zone" => "timestamp with time zone",
        "timestamp" | "timestamp without time zone" => "timestamp without time zone",
        "timetz" | "time with time zone" => "time with time zone",
        "time" | "time without time zone" => "time without time zone",
        "varbit" | "bit varying" => "bit varying",
        other if BUILTINS.contains(&other) => other,
        _ => return name.trim().to_string(),
    };
    canon.to_string()
}

/// A Rust enum generated for a PostgreSQL enum.
#[derive(Debug, Clone)]
struct RustEnum {
    /// The type's name in SQL (`order_status`, `sales."Level"`).
    sql_name: String,
    /// Its name in PostgreSQL, for docs.
    pg_name: String,
    ident: proc_macro2::Ident,
    /// (label, variant) in sort order.
    variants: Vec<(String, proc_macro2::Ident)>,
}

/// How a field (de)serializes: through its type's own serde impls, or a `with` module.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Adapter {
    None,
    With(String),
}

/// The resolved type of one value (before `Option`).
#[derive(Debug, Clone)]
pub struct FieldType {
    /// The element type.
    elem: TokenStream,
    /// `Vec` nesting.
    dims: usize,
    adapter: Adapter,
    /// The type implements `Default` (for `Variables`' derive).
    pub has_default: bool,
}

impl FieldType {
    /// The Rust type, `Option<...>` around it when `optional`.
    pub fn tokens(&self, optional: bool) -> TokenStream {
        let mut t = self.elem.clone();
        for _ in 0..self.dims {
            t = quote!(::std::vec::Vec<#t>);
        }
        if optional {
            quote!(::std::option::Option<#t>)
        } else {
            t
        }
    }

    /// `#[serde(with = ...)]` for the field, when the type needs an adapter.
    pub fn with_attr(&self, optional: bool) -> TokenStream {
        let Adapter::With(module) = &self.adapter else {
            return quote!();
        };
        let path = match (optional, self.dims) {
            (false, 0) => module.clone(),
            (true, 0) => format!("{module}::option"),
            (false, _) => format!("{module}::vec"),
            (true, _) => format!("{module}::option_vec"),
        };
        quote!(#[serde(with = #path)])
    }
}

/// The type map for one build: the config's `rust:` block resolved against the schema.
#[derive(Debug, Default)]
pub struct TypeMap {
    /// Canonical PostgreSQL type (or enum/domain name) -> entry.
    types: HashMap<String, Entry>,
    /// `table.column` -> entry.
    columns: HashMap<String, Entry>,
    /// SQL name -> enum.
    enums: Vec<RustEnum>,
    enum_index: HashMap<String, usize>,
    /// SQL name -> (base cast type, base is an array, domain name).
    domains: HashMap<String, (String, bool, String)>,
    /// Enums a field used, by index.
    used: RefCell<BTreeSet<usize>>,
}

#[derive(Debug, Clone)]
struct Entry {
    ty: TokenStream,
    with: Option<String>,
    has_default: bool,
}

fn parse_type(key: &str, ty: &str) -> Result<TokenStream, CatalogError> {
    let parsed: syn::Type = syn::parse_str(ty).map_err(|e| {
        CatalogError::new(
            key,
            format!("`{ty}` is not a Rust type ({e}); write a path such as `uuid::Uuid`"),
        )
    })?;
    Ok(quote!(#parsed))
}

fn entry(key: &str, spec: &TypeSpec) -> Result<Entry, CatalogError> {
    if spec.ty.trim().is_empty() {
        return Err(CatalogError::new(
            key,
            "needs a Rust type, e.g. \"uuid::Uuid\" or {type: \"crate::Money\", with: \"crate::money_serde\"}",
        ));
    }
    if let Some(with) = &spec.with {
        syn::parse_str::<syn::Path>(with).map_err(|e| {
            CatalogError::new(
                key,
                format!("`with: {with}` is not a Rust module path ({e})"),
            )
        })?;
    }
    Ok(Entry {
        ty: parse_type(key, &spec.ty)?,
        with: spec.with.clone(),
        has_default: false,
    })
}

impl TypeMap {
    /// The map for `config` and `schema`; fails, naming the key, on an unknown preset, type
    /// or column, or a type that is not a Rust type.
    pub fn new(config: &RustConfig, schema: &DbSchema) -> Result<TypeMap, CatalogError> {
        let mut map = TypeMap::default();
        // Enums, with Rust names unique in the generated module.
        let mut taken: BTreeSet<String> = BTreeSet::new();
        for e in &schema.enums {
            let user = UserType::Enum(e);
            let mut name = ascii_pascal(&e.name, "Enum");
            if taken.contains(&name)
                && let Some(s) = &e.schema
            {
                name = format!("{}{name}", ascii_pascal(s, ""));
            }
            let base = name.clone();
            let mut n = 2;
            while taken.contains(&name) {
                name = format!("{base}{n}");
                n += 1;
            }
            taken.insert(name.clone());
            let mut variant_names: BTreeSet<String> = BTreeSet::new();
            let variants = e
                .labels
                .iter()
                .enumerate()
                .map(|(i, label)| {
                    let mut v = variant_name(label, i + 1);
                    let base = v.clone();
                    let mut n = 2;
                    while !variant_names.insert(v.clone()) {
                        v = format!("{base}{n}");
                        n += 1;
                    }
                    (label.clone(), format_ident!("{}", v))
                })
                .collect();
            map.enum_index.insert(user.sql_name(), map.enums.len());
            map.enums.push(RustEnum {
                sql_name: user.sql_name(),
                pg_name: match &e.schema {
                    Some(s) => format!("{s}.{}", e.name),
                    None => e.name.clone(),
                },
                ident: format_ident!("{}", name),
                variants,
            });
        }
        for d in &schema.domains {
            let base = match schema.user_type(&d.base) {
                Some(user) => user.sql_name(),
                None => graphjin_to_pg_type(&d.base),
            };
            map.domains.insert(
                UserType::Domain(d).sql_name(),
                (base, d.array, d.name.clone()),
            );
        }

        for preset in &config.presets {
            let key = preset.trim().to_ascii_lowercase().replace('-', "_");
            let mut found = false;
            for (name, pg, rust) in PRESETS {
                if *name == key {
                    found = true;
                    let ty = parse_type("rust.presets", rust)?;
                    map.types.insert(
                        pg.to_string(),
                        Entry {
                            ty,
                            with: None,
                            has_default: true,
                        },
                    );
                }
            }
            if !found {
                let names: BTreeSet<&str> = PRESETS.iter().map(|p| p.0).collect();
                let names: Vec<&str> = names.into_iter().collect();
                let hint = if key == "time" {
                    " (the time crate's serde formats do not read PostgreSQL's JSON; map its \
                     types under `types:` with a `with:` module such as time::serde::rfc3339)"
                } else {
                    ""
                };
                return Err(CatalogError::new(
                    "rust.presets",
                    format!(
                        "unknown preset `{preset}`: the presets are {}{hint}",
                        names.join(", ")
                    ),
                ));
            }
        }

        let known = known_types(schema);
        for (key, spec) in &config.types {
            let at = format!("rust.types.{key}");
            let canon = canonical(key);
            let resolved = if BUILTINS.contains(&canon.as_str()) {
                canon
            } else if let Some(sql) = known.get(key.trim()) {
                sql.clone()
            } else {
                let names = known
                    .keys()
                    .map(String::as_str)
                    .chain(BUILTINS.iter().copied())
                    .chain(ALIASES.iter().copied());
                return Err(CatalogError::new(
                    at,
                    format!(
                        "unknown PostgreSQL type `{key}`{}",
                        crate::compile::names::suggestion(key, names)
                    ),
                ));
            };
            map.types.insert(resolved, entry(&at, spec)?);
        }

        for (key, spec) in &config.columns {
            let at = format!("rust.columns.{key}");
            let Some((table, column)) = key.split_once('.') else {
                return Err(CatalogError::new(
                    at,
                    "a column is named `table.column`, e.g. `orders.total`",
                ));
            };
            let Some(t) = schema.table(table) else {
                let names = schema.tables.iter().map(|t| t.name.as_str());
                return Err(CatalogError::new(
                    at,
                    format!(
                        "unknown table `{table}`{}",
                        crate::compile::names::suggestion(table, names)
                    ),
                ));
            };
            if t.column(column).is_none() {
                let names = t.columns.iter().map(|c| c.name.as_str());
                return Err(CatalogError::new(
                    at,
                    format!(
                        "table `{table}` has no column `{column}`{}",
                        crate::compile::names::suggestion(column, names)
                    ),
                ));
            }
            map.columns.insert(key.clone(), entry(&at, spec)?);
        }
        Ok(map)
    }

    /// The type of a value of PostgreSQL type `pg` (`text[]`, `order_status`), read from
    /// column `column` (`table.column`) if known.
    pub fn field(&self, pg: &str, column: Option<&str>) -> FieldType {
        let mut elem = pg.trim();
        let mut dims = 0;
        while let Some(e) = elem.strip_suffix("[]") {
            elem = e.trim_end();
            dims += 1;
        }
        let configured = column
            .and_then(|c| self.columns.get(c))
            .or_else(|| self.types.get(&canonical(elem)));
        if dims <= 1
            && let Some(found) = configured
        {
            return self.configured(found, elem, dims);
        }
        if dims <= 1
            && let Some(ft) = self.user_type(elem, dims, 0)
        {
            return ft;
        }
        FieldType {
            elem: rust_type(pg),
            dims: 0,
            adapter: Adapter::None,
            has_default: true,
        }
    }

    fn configured(&self, e: &Entry, pg_elem: &str, dims: usize) -> FieldType {
        let adapter = match &e.with {
            Some(with) => Adapter::With(with.clone()),
            None if self.base_of(pg_elem) == "numeric" => {
                Adapter::With("::graphjin_runtime::types::number".to_string())
            }
            None => Adapter::None,
        };
        FieldType {
            elem: e.ty.clone(),
            dims,
            adapter,
            has_default: e.has_default || dims > 0,
        }
    }

    /// A recorded enum or domain (following domains down to their base).
    fn user_type(&self, elem: &str, dims: usize, depth: usize) -> Option<FieldType> {
        if let Some(&i) = self.enum_index.get(elem) {
            self.used.borrow_mut().insert(i);
            let ident = &self.enums[i].ident;
            return Some(FieldType {
                elem: quote!(super::#ident),
                dims,
                adapter: Adapter::None,
                has_default: dims > 0,
            });
        }
        let (base, array, _) = self.domains.get(elem)?;
        if depth > 16 {
            return None;
        }
        let dims = dims + usize::from(*array);
        if dims > 1 {
            return None;
        }
        if let Some(found) = self.types.get(&canonical(base)) {
            return Some(self.configured(found, base, dims));
        }
        if let Some(ft) = self.user_type(base, dims, depth + 1) {
            return Some(ft);
        }
        let pg = if dims > 0 {
            format!("{base}[]")
        } else {
            base.clone()
        };
        Some(FieldType {
            elem: rust_type(&pg),
            dims: 0,
            adapter: Adapter::None,
            has_default: true,
        })
    }

    /// The built-in type under domains (`positive_int` -> `integer`), canonical.
    fn base_of(&self, pg: &str) -> String {
        let mut name = pg.to_string();
        for _ in 0..16 {
            match self.domains.get(&name) {
                Some((base, _, _)) => name = base.clone(),
                None => break,
            }
        }
        canonical(&name)
    }

    /// The Rust enums some field or variable used, and the `ENUMS` table entries the runtime
    /// checks at start-up.
    pub fn enums(&self) -> (TokenStream, Vec<TokenStream>) {
        let used = self.used.borrow();
        let mut items = Vec::new();
        let mut table = Vec::new();
        for &i in used.iter() {
            let e = &self.enums[i];
            items.push(enum_tokens(e));
            let sql = &e.sql_name;
            let labels = e.variants.iter().map(|(l, _)| l);
            table.push(quote! {
                ::graphjin_runtime::EnumType { name: #sql, labels: &[#(#labels),*] }
            });
        }
        (quote!(#(#items)*), table)
    }
}

/// Every type name a `types:` key may use for the schema's own types: enum and domain names
/// (plain and schema-qualified), and the types columns and functions use -> cast name.
fn known_types(schema: &DbSchema) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let records = schema
        .enums
        .iter()
        .map(|e| {
            (
                e.schema.as_deref(),
                e.name.as_str(),
                UserType::Enum(e).sql_name(),
            )
        })
        .chain(schema.domains.iter().map(|d| {
            (
                d.schema.as_deref(),
                d.name.as_str(),
                UserType::Domain(d).sql_name(),
            )
        }));
    // A plain name means the default schema's type when there is one.
    let mut plain: Vec<(bool, &str, String)> = Vec::new();
    for (s, name, sql) in records {
        if let Some(s) = s {
            out.insert(format!("{s}.{name}"), sql.clone());
        }
        plain.push((s.is_some(), name, sql));
    }
    plain.sort_by_key(|(qualified, _, _)| *qualified);
    for (_, name, sql) in plain {
        out.entry(name.to_string()).or_insert(sql);
    }
    let tys = schema
        .tables
        .iter()
        .flat_map(|t| t.columns.iter().map(|c| c.ty.as_str()))
        .chain(
            schema
                .functions
                .iter()
                .flat_map(|f| f.inputs.iter().chain(&f.outputs).map(|a| a.ty.as_str())),
        );
    for ty in tys {
        if schema.user_type(ty).is_none() {
            let pg = graphjin_to_pg_type(ty);
            out.entry(pg.clone()).or_insert(pg);
        }
    }
    out
}

fn enum_tokens(e: &RustEnum) -> TokenStream {
    let ident = &e.ident;
    let doc = format!(
        " PostgreSQL enum `{}`: one variant per label, in the database's sort order.",
        e.pg_name
    );
    let variants = e.variants.iter().map(|(label, v)| {
        let doc = format!(" `{label}`");
        quote! {
            #[doc = #doc]
            #[serde(rename = #label)]
            #v,
        }
    });
    let all = e.variants.iter().map(|(_, v)| quote!(#ident::#v));
    let arms = e
        .variants
        .iter()
        .map(|(label, v)| quote!(#ident::#v => #label,));
    quote! {
        #[doc = #doc]
        #[derive(
            ::std::fmt::Debug,
            ::std::clone::Clone,
            ::std::marker::Copy,
            ::std::cmp::PartialEq,
            ::std::cmp::Eq,
            ::std::hash::Hash,
            ::std::cmp::PartialOrd,
            ::std::cmp::Ord,
            ::graphjin_runtime::serde::Serialize,
            ::graphjin_runtime::serde::Deserialize
        )]
        #[serde(crate = "::graphjin_runtime::serde")]
        pub enum #ident {
            #(#variants)*
        }

        impl #ident {
            /// Every label, in the database's sort order.
            pub const ALL: &'static [#ident] = &[#(#all),*];

            /// The label exactly as PostgreSQL spells it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    #(#arms)*
                }
            }
        }

        impl ::std::fmt::Display for #ident {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    }
}

/// An enum variant for a label: UpperCamelCase from its ASCII words (`on hold` -> `OnHold`,
/// `IN_PROGRESS` -> `InProgress`, `HTTPError` -> `HttpError`); a label with other letters
/// is `V<position>`, one starting with a digit gets a `V` before it.
fn variant_name(label: &str, position: usize) -> String {
    if label.chars().any(|c| !c.is_ascii() && c.is_alphanumeric()) {
        return format!("V{position}");
    }
    ascii_pascal(label, "Empty")
}

/// UpperCamelCase from the ASCII letters and digits of `s`; `empty` when there are none;
/// `V` before a leading digit; `Self` becomes `SelfValue`.
fn ascii_pascal(s: &str, empty: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut words: Vec<String> = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1).copied();
        let boundary = c.is_ascii_uppercase()
            && prev.is_some_and(|p| {
                p.is_ascii_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_ascii_uppercase() && next.is_some_and(|n| n.is_ascii_lowercase()))
            });
        if boundary && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    let mut out = String::new();
    for w in words {
        let mut cs = w.chars();
        if let Some(first) = cs.next() {
            out.push(first.to_ascii_uppercase());
            out.push_str(&cs.as_str().to_ascii_lowercase());
        }
    }
    if out.is_empty() {
        return empty.to_string();
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    if out == "Self" {
        out.push_str("Value");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::parse_schema;

    #[test]
    fn names_for_labels() {
        let cases = [
            ("pending", "Pending"),
            ("on hold", "OnHold"),
            ("IN_PROGRESS", "InProgress"),
            ("HTTPError", "HttpError"),
            ("in-transit", "InTransit"),
            ("2fa", "V2fa"),
            ("self", "SelfValue"),
            ("", "Empty"),
            ("été", "V3"),
        ];
        for (label, want) in cases {
            assert_eq!(variant_name(label, 3), want, "{label}");
        }
    }

    #[test]
    fn canonical_spellings() {
        assert_eq!(canonical("timestamptz"), "timestamp with time zone");
        assert_eq!(canonical("Timestamp(3)"), "timestamp without time zone");
        assert_eq!(canonical("int8"), "bigint");
        assert_eq!(canonical("varchar(20)"), "character varying");
        assert_eq!(canonical("pg_catalog.int4"), "integer");
        assert_eq!(canonical("Order_Status"), "Order_Status");
    }

    const SCHEMA: &str = "# dbinfo:postgres,150004,public\n\
        # enum:order_status [\"pending\",\"on hold\"]\n\
        # enum:sales.order_status [\"x\"]\n\
        # domain:positive_num Numeric\n\
        type orders {\n  id: Uuid!\n  total: Numeric\n  status: Order_status!\n}\n";

    fn ty(map: &TypeMap, pg: &str, column: Option<&str>) -> String {
        map.field(pg, column).tokens(false).to_string()
    }

    #[test]
    fn defaults_enums_and_domains() {
        let schema = parse_schema(SCHEMA).unwrap();
        let map = TypeMap::new(&RustConfig::default(), &schema).unwrap();
        assert_eq!(ty(&map, "uuid", None), ":: std :: string :: String");
        assert_eq!(
            ty(&map, "numeric[]", None),
            ":: std :: vec :: Vec < :: graphjin_runtime :: types :: Numeric >"
        );
        assert_eq!(ty(&map, "order_status", None), "super :: OrderStatus");
        assert_eq!(
            ty(&map, "sales.order_status[]", None),
            ":: std :: vec :: Vec < super :: SalesOrderStatus >"
        );
        assert_eq!(
            ty(&map, "positive_num", None),
            ":: graphjin_runtime :: types :: Numeric"
        );
        assert_eq!(map.enums().1.len(), 2);
    }

    #[test]
    fn presets_types_and_columns() {
        let schema = parse_schema(SCHEMA).unwrap();
        let config = RustConfig {
            presets: vec!["chrono".into(), "uuid".into(), "rust_decimal".into()],
            types: [(
                "order_status".to_string(),
                TypeSpec {
                    ty: "crate::Status".into(),
                    with: None,
                },
            )]
            .into(),
            columns: [(
                "orders.total".to_string(),
                TypeSpec {
                    ty: "crate::Money".into(),
                    with: Some("crate::money".into()),
                },
            )]
            .into(),
        };
        let map = TypeMap::new(&config, &schema).unwrap();
        assert_eq!(ty(&map, "uuid", None), ":: uuid :: Uuid");
        assert_eq!(
            ty(&map, "timestamp with time zone", None),
            ":: chrono :: DateTime < :: chrono :: Utc >"
        );
        let total = map.field("numeric", Some("orders.total"));
        assert_eq!(
            total.tokens(true).to_string(),
            ":: std :: option :: Option < crate :: Money >"
        );
        assert_eq!(
            total.with_attr(true).to_string(),
            "# [serde (with = \"crate::money::option\")]"
        );
        let dec = map.field("positive_num[]", None);
        assert_eq!(
            dec.tokens(false).to_string(),
            ":: std :: vec :: Vec < :: rust_decimal :: Decimal >"
        );
        assert_eq!(
            dec.with_attr(false).to_string(),
            "# [serde (with = \"::graphjin_runtime::types::number::vec\")]"
        );
        assert_eq!(ty(&map, "order_status", None), "crate :: Status");
        assert!(map.enums().1.is_empty());
    }

    #[test]
    fn config_errors_name_the_key() {
        let schema = parse_schema(SCHEMA).unwrap();
        let err = |config: RustConfig| TypeMap::new(&config, &schema).unwrap_err().to_string();
        let spec = |ty: &str| TypeSpec {
            ty: ty.into(),
            with: None,
        };
        let e = err(RustConfig {
            presets: vec!["time".into()],
            ..Default::default()
        });
        assert!(
            e.starts_with("`rust.presets`: unknown preset `time`"),
            "{e}"
        );
        let e = err(RustConfig {
            types: [("timestampz".to_string(), spec("x::Y"))].into(),
            ..Default::default()
        });
        assert!(
            e.contains("`rust.types.timestampz`: unknown PostgreSQL type"),
            "{e}"
        );
        assert!(e.contains("did you mean `timestamp"), "{e}");
        let e = err(RustConfig {
            types: [("uuid".to_string(), spec("not a type"))].into(),
            ..Default::default()
        });
        assert!(e.contains("is not a Rust type"), "{e}");
        let e = err(RustConfig {
            columns: [("orders.totl".to_string(), spec("x::Y"))].into(),
            ..Default::default()
        });
        assert!(
            e.contains("has no column `totl` (did you mean `total`?)"),
            "{e}"
        );
    }
}
