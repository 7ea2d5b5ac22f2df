//! Writing a [`DbSchema`] as `config/db.graphql`.
//!
//! The output is deterministic so that the file diffs cleanly in version control:
//!
//! ```text
//! # dbinfo:postgres,150004,public
//!
//! type products {
//!   id: Bigint! @id @unique
//!   price: Numeric @type(args: "7,1")
//!   owner_id: Bigint @relation(type: users, field: id)
//! }
//!
//! type get_product @function(return_type: Product_tuple, set: true) {
//!   id: Bigint @input
//!   name: Text @output
//! }
//! ```
//!
//! Enum types and domains the columns use follow the `dbinfo` line as comments, so that
//! GraphJin, which skips comments, reads the file as before (an extension of GraphJin's
//! format; see [`crate::schema::read`]):
//!
//! ```text
//! # dbinfo:postgres,150004,public
//! # enum:order_status ["pending","shipped","on hold"]
//! # enum:sales.priority ["low","high"]
//! # domain:positive_int Integer
//! ```
//!
//! Enums come first, then domains, each sorted by schema and name; labels are a JSON array
//! in the database's sort order.
//!
//! Tables come first, sorted by name, then functions, sorted by name; columns, inputs and
//! outputs keep their model order. Fields are indented two spaces, one per line, with a
//! blank line between types and a single newline at the end. Column directives are always
//! written in the order `@type`, `@relation`, `@id`, `@unique`, `@search`, `@blocked`.
//! A type without fields is written without braces (`type t`).
//!
//! Table, column, function and type names are written as they are and must be GraphQL
//! names (`[_A-Za-z][_0-9A-Za-z]*`); names inside directive arguments (`@relation`,
//! `@schema`, `return_type:`) are written bare when they are such names and quoted
//! otherwise, which the reader accepts.

use std::fmt::Write as _;

use crate::schema::model::{Column, DbSchema, Domain, EnumType, Function, FunctionArg, Table};

/// Renders the schema as the text of `db.graphql`.
///
/// [`parse_schema`](crate::schema::parse_schema) reads the result back to the same model
/// (with tables and functions sorted by name), and writing that again gives the same bytes.
pub fn write_schema(s: &DbSchema) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# dbinfo:{},{},{}", s.db_type, s.version, s.schema);
    let mut enums: Vec<&EnumType> = s.enums.iter().collect();
    enums.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
    for e in enums {
        out.push_str("# enum:");
        write_record_name(&mut out, e.schema.as_deref(), &e.name);
        out.push(' ');
        out.push_str(&serde_json::to_string(&e.labels).unwrap_or_else(|_| "[]".into()));
        out.push('\n');
    }
    let mut domains: Vec<&Domain> = s.domains.iter().collect();
    domains.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
    for d in domains {
        out.push_str("# domain:");
        write_record_name(&mut out, d.schema.as_deref(), &d.name);
        out.push(' ');
        write_type(&mut out, &d.base, d.array, false);
        out.push('\n');
    }

    let mut tables: Vec<&Table> = s.tables.iter().collect();
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    let mut functions: Vec<&Function> = s.functions.iter().collect();
    functions.sort_by(|a, b| a.name.cmp(&b.name));

    for t in tables {
        out.push('\n');
        write_table(&mut out, t);
    }
    for f in functions {
        out.push('\n');
        write_function(&mut out, f);
    }
    out
}

/// `[schema.]name` of an enum or domain line: each part bare when it is a GraphQL name,
/// else a JSON string.
fn write_record_name(out: &mut String, schema: Option<&str>, name: &str) {
    let part = |out: &mut String, s: &str| {
        if is_graphql_name(s) {
            out.push_str(s);
        } else {
            out.push_str(&serde_json::to_string(s).unwrap_or_default());
        }
    };
    if let Some(schema) = schema {
        part(out, schema);
        out.push('.');
    }
    part(out, name);
}

fn write_table(out: &mut String, t: &Table) {
    let _ = write!(out, "type {}", t.name);
    write_schema_directive(out, t.schema.as_deref());
    if t.columns.is_empty() {
        out.push('\n');
        return;
    }
    out.push_str(" {\n");
    for c in &t.columns {
        write_column(out, c);
    }
    out.push_str("}\n");
}

fn write_column(out: &mut String, c: &Column) {
    let _ = write!(out, "  {}: ", c.name);
    write_type(out, &c.ty, c.array, c.not_null);
    write_type_args(out, c.type_args.as_deref());
    if let Some(fk) = &c.foreign_key {
        out.push_str(" @relation(type: ");
        write_name_value(out, &fk.table);
        out.push_str(", field: ");
        write_name_value(out, &fk.column);
        if let Some(schema) = &fk.schema {
            out.push_str(", schema: ");
            write_name_value(out, schema);
        }
        out.push(')');
    }
    for (on, directive) in [
        (c.primary_key, " @id"),
        (c.unique, " @unique"),
        (c.full_text, " @search"),
        (c.blocked, " @blocked"),
    ] {
        if on {
            out.push_str(directive);
        }
    }
    out.push('\n');
}

fn write_function(out: &mut String, f: &Function) {
    let _ = write!(out, "type {}", f.name);
    write_schema_directive(out, f.schema.as_deref());
    out.push_str(" @function(return_type: ");
    write_name_value(out, &f.return_type);
    let _ = write!(out, ", set: {})", f.returns_set);
    if f.inputs.is_empty() && f.outputs.is_empty() {
        out.push('\n');
        return;
    }
    out.push_str(" {\n");
    for a in &f.inputs {
        write_arg(out, a, " @input");
    }
    for a in &f.outputs {
        write_arg(out, a, " @output");
    }
    out.push_str("}\n");
}

fn write_arg(out: &mut String, a: &FunctionArg, kind: &str) {
    let _ = write!(out, "  {}: ", a.name);
    write_type(out, &a.ty, a.array, false);
    write_type_args(out, a.type_args.as_deref());
    out.push_str(kind);
    out.push('\n');
}

fn write_schema_directive(out: &mut String, schema: Option<&str>) {
    if let Some(schema) = schema {
        out.push_str(" @schema(name: ");
        write_name_value(out, schema);
        out.push(')');
    }
}

fn write_type(out: &mut String, ty: &str, array: bool, not_null: bool) {
    if array {
        let _ = write!(out, "[{ty}]");
    } else {
        out.push_str(ty);
    }
    if not_null {
        out.push('!');
    }
}

fn write_type_args(out: &mut String, args: Option<&str>) {
    if let Some(args) = args {
        out.push_str(" @type(args: ");
        write_string(out, args);
        out.push(')');
    }
}

/// True for a GraphQL name: `[_A-Za-z][_0-9A-Za-z]*`, the names [`write_schema`] can write.
/// Public for the schema pull (graphjin-dev), which leaves out objects with other names
/// rather than write a `db.graphql` this crate cannot read back.
pub fn is_graphql_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// A name as a directive argument: bare when GraphQL reads it back as the same name (an
/// enum value), quoted otherwise (`true`, `false` and `null` are not enum values).
fn write_name_value(out: &mut String, name: &str) {
    if is_graphql_name(name) && !matches!(name, "true" | "false" | "null") {
        out.push_str(name);
    } else {
        write_string(out, name);
    }
}

/// A GraphQL string literal.
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // graphql-parser reads `\b` as U+0010, so control characters use `\u`.
            c if c.is_control() && u32::from(c) <= 0xFFFF => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::model::ForeignKey;
    use crate::schema::read::parse_schema;
    use proptest::prelude::*;

    const SAMPLE: &str = r#"# dbinfo:postgres,150004,public

type products {
  id: Bigint! @id @unique
  name: Text
  tags: [Text]
  country_code: CharacterVarying @type(args: "3")
  price: Numeric @type(args: "7,1")
  owner_id: Bigint @relation(type: users, field: id, schema: accounts)
  tsv: Tsvector @search
  category_ids: [Bigint]!
  created_at: TimestampWithTimeZone!
}

type users @schema(name: accounts) {
  id: Bigint! @id @unique
  secret: Text @blocked
}

type get_oldest_users @function(return_type: Record, set: true) {
  user_count: Integer @input
  tag: Text @input
  tag_name: Text @output
  id: Bigint @output
}

type is_hot_product @function(return_type: Boolean, set: false) {
  id: Bigint @input
}

type now_ish @function(return_type: TimestampWithTimeZone, set: false)
"#;

    /// The model with tables and functions in the order the writer puts them.
    fn normalized(s: &DbSchema) -> DbSchema {
        let mut s = s.clone();
        s.tables.sort_by(|a, b| a.name.cmp(&b.name));
        s.functions.sort_by(|a, b| a.name.cmp(&b.name));
        s.enums
            .sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
        s.domains
            .sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
        s
    }

    fn assert_round_trip(s: &DbSchema) {
        let text = write_schema(s);
        let back = parse_schema(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, normalized(s), "\n{text}");
        assert_eq!(write_schema(&back), text);
        assert!(text.ends_with('\n') && !text.ends_with("\n\n"));
    }

    #[test]
    fn writes_the_documented_layout() {
        let text = SAMPLE
            .replace(" @schema(name: accounts)", "")
            .replace(", schema: accounts", "");
        let s = parse_schema(&text).unwrap();
        let out = write_schema(&s);
        let expected = "# dbinfo:postgres,150004,public

type products {
  id: Bigint! @id @unique
  name: Text
  tags: [Text]
  country_code: CharacterVarying @type(args: \"3\")
  price: Numeric @type(args: \"7,1\")
  owner_id: Bigint @relation(type: users, field: id)
  tsv: Tsvector @search
  category_ids: [Bigint]!
  created_at: TimestampWithTimeZone!
}

type users {
  id: Bigint! @id @unique
  secret: Text @blocked
}

type get_oldest_users @function(return_type: Record, set: true) {
  user_count: Integer @input
  tag: Text @input
  tag_name: Text @output
  id: Bigint @output
}

type is_hot_product @function(return_type: Boolean, set: false) {
  id: Bigint @input
}

type now_ish @function(return_type: TimestampWithTimeZone, set: false)
";
        assert_eq!(out, expected);
    }

    #[test]
    fn sorts_types_and_keeps_column_order() {
        let s = DbSchema {
            db_type: "postgres".into(),
            version: 150004,
            schema: "public".into(),
            tables: vec![
                Table {
                    name: "zebra".into(),
                    schema: None,
                    columns: vec![
                        Column {
                            name: "z".into(),
                            ty: "Text".into(),
                            ..Default::default()
                        },
                        Column {
                            name: "a".into(),
                            ty: "Text".into(),
                            ..Default::default()
                        },
                    ],
                },
                Table {
                    name: "apple".into(),
                    schema: None,
                    columns: vec![],
                },
            ],
            functions: vec![
                Function {
                    name: "b".into(),
                    return_type: "Text".into(),
                    ..Default::default()
                },
                Function {
                    name: "a".into(),
                    return_type: "Text".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let out = write_schema(&s);
        assert_eq!(
            out,
            "# dbinfo:postgres,150004,public\n\ntype apple\n\ntype zebra {\n  z: Text\n  a: Text\n}\n\n\
             type a @function(return_type: Text, set: false)\n\n\
             type b @function(return_type: Text, set: false)\n"
        );
        assert_round_trip(&s);
    }

    #[test]
    fn empty_schema() {
        let s = DbSchema {
            db_type: "postgres".into(),
            version: 1,
            schema: "public".into(),
            ..Default::default()
        };
        assert_eq!(write_schema(&s), "# dbinfo:postgres,1,public\n");
        assert_round_trip(&s);
    }

    #[test]
    fn sample_round_trips() {
        let s = parse_schema(SAMPLE).unwrap();
        assert_round_trip(&s);
    }

    #[test]
    fn awkward_strings_and_names_round_trip() {
        let s = DbSchema {
            db_type: "postgres".into(),
            version: 150004,
            schema: "public".into(),
            tables: vec![
                Table {
                    name: "true".into(),
                    schema: Some("my schema".into()),
                    columns: vec![Column {
                        name: "null".into(),
                        ty: "Text".into(),
                        type_args: Some("a\"b\\c\n\t\u{8}\u{1}é,\u{7f}".into()),
                        ..Default::default()
                    }],
                },
                Table {
                    name: "t".into(),
                    schema: None,
                    columns: vec![Column {
                        name: "x".into(),
                        ty: "Text".into(),
                        foreign_key: Some(ForeignKey {
                            table: "true".into(),
                            column: "null".into(),
                            schema: Some("my schema".into()),
                        }),
                        ..Default::default()
                    }],
                },
            ],
            functions: vec![Function {
                name: "f".into(),
                return_type: "false".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_round_trip(&s);
        let text = write_schema(&s);
        assert!(
            text.contains("type true @schema(name: \"my schema\") {"),
            "{text}"
        );
        assert!(
            text.contains("@relation(type: \"true\", field: \"null\", schema: \"my schema\")"),
            "{text}"
        );
    }

    #[test]
    fn enums_and_domains_follow_the_dbinfo_line() {
        let s = DbSchema {
            db_type: "postgres".into(),
            version: 150004,
            schema: "public".into(),
            tables: vec![Table {
                name: "orders".into(),
                schema: None,
                columns: vec![
                    Column {
                        name: "status".into(),
                        ty: "Order_status".into(),
                        not_null: true,
                        ..Default::default()
                    },
                    Column {
                        name: "qty".into(),
                        ty: "Positive_int".into(),
                        ..Default::default()
                    },
                ],
            }],
            enums: vec![
                EnumType {
                    name: "priority".into(),
                    schema: Some("sales".into()),
                    labels: vec!["low".into(), "high".into()],
                },
                EnumType {
                    name: "order_status".into(),
                    schema: None,
                    labels: vec![
                        "pending".into(),
                        "on hold".into(),
                        "say \"hi\"\n".into(),
                        "été".into(),
                    ],
                },
            ],
            domains: vec![
                Domain {
                    name: "positive_int".into(),
                    schema: None,
                    base: "Integer".into(),
                    array: false,
                },
                Domain {
                    name: "Odd Name".into(),
                    schema: Some("my schema".into()),
                    base: "Text".into(),
                    array: true,
                },
            ],
            ..Default::default()
        };
        let text = write_schema(&s);
        assert_eq!(
            text,
            "# dbinfo:postgres,150004,public\n\
             # enum:order_status [\"pending\",\"on hold\",\"say \\\"hi\\\"\\n\",\"été\"]\n\
             # enum:sales.priority [\"low\",\"high\"]\n\
             # domain:positive_int Integer\n\
             # domain:\"my schema\".\"Odd Name\" [Text]\n\
             \n\
             type orders {\n  status: Order_status!\n  qty: Positive_int\n}\n"
        );
        let back = parse_schema(&text).unwrap();
        assert_eq!(back, normalized(&s));
        assert_eq!(write_schema(&back), text);
        assert!(matches!(
            back.user_type("Order_status"),
            Some(crate::schema::model::UserType::Enum(e)) if e.labels.len() == 4
        ));
        assert!(matches!(
            back.user_type("Positive_int"),
            Some(crate::schema::model::UserType::Domain(d)) if d.base == "Integer"
        ));
    }

    // ---- generated schemas ----

    const NAMES: &[&str] = &[
        "id",
        "name",
        "users",
        "products",
        "type",
        "input",
        "query",
        "true",
        "null",
        "on",
        "_x",
        "A1",
        "created_at",
        "schema",
        "extend",
        "fragment",
        "b",
        "c_d",
    ];
    const TYPES: &[&str] = &[
        "Bigint",
        "Text",
        "Integer",
        "Numeric",
        "TimestampWithTimeZone",
        "Jsonb",
        "Boolean",
        "Record",
        "MyEnum",
        "IntegerArray",
    ];

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::sample::select(NAMES).prop_map(String::from),
            "[a-z_][a-z0-9_]{0,10}",
        ]
    }

    fn ty() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::sample::select(TYPES).prop_map(String::from),
            "[A-Z][A-Za-z0-9]{0,12}",
        ]
    }

    fn record_name() -> impl Strategy<Value = String> {
        prop_oneof![name(), "\\PC{1,8}"]
    }

    fn label() -> impl Strategy<Value = String> {
        prop_oneof![name(), "\\PC{0,8}", ".{0,6}"]
    }

    fn type_args() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(prop_oneof!["[0-9]{1,2}(,[0-9])?", "\\PC{0,6}", ".{0,4}"])
    }

    fn schema_name() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(prop_oneof![
            Just("public".to_string()),
            Just("sales".to_string()),
            Just("audit log".to_string()),
        ])
    }

    fn column() -> impl Strategy<Value = Column> {
        (
            name(),
            ty(),
            type_args(),
            proptest::array::uniform6(any::<bool>()),
        )
            .prop_map(|(name, ty, type_args, f)| Column {
                name,
                ty,
                type_args,
                array: f[0],
                not_null: f[1],
                primary_key: f[2],
                unique: f[3],
                full_text: f[4],
                blocked: f[5],
                foreign_key: None,
            })
    }

    fn arg() -> impl Strategy<Value = FunctionArg> {
        (name(), ty(), type_args(), any::<bool>()).prop_map(|(name, ty, type_args, array)| {
            FunctionArg {
                name,
                ty,
                type_args,
                array,
            }
        })
    }

    fn dedup_by_name<T>(items: Vec<T>, key: impl Fn(&T) -> &str) -> Vec<T> {
        let mut seen = std::collections::HashSet::new();
        items
            .into_iter()
            .filter(|x| seen.insert(key(x).to_string()))
            .collect()
    }

    prop_compose! {
        fn db_schema()(
            version in any::<u32>(),
            default in prop_oneof![Just("public".to_string()), "[a-z]{1,8}"],
            tables in proptest::collection::vec(
                (name(), schema_name(), proptest::collection::vec(column(), 0..6)),
                0..6,
            ),
            functions in proptest::collection::vec(
                (
                    name(),
                    schema_name(),
                    ty(),
                    any::<bool>(),
                    proptest::collection::vec(arg(), 0..4),
                    proptest::collection::vec(arg(), 0..4),
                ),
                0..4,
            ),
            links in proptest::collection::vec(
                proptest::option::of((any::<usize>(), any::<usize>())),
                36,
            ),
            enums in proptest::collection::vec(
                (record_name(), schema_name(), proptest::collection::vec(label(), 0..5)),
                0..4,
            ),
            domains in proptest::collection::vec(
                (record_name(), schema_name(), ty(), any::<bool>()),
                0..3,
            ),
        ) -> DbSchema {
            let mut seen = std::collections::HashSet::new();
            let enums: Vec<EnumType> = enums
                .into_iter()
                .filter(|(name, schema, _)| seen.insert((schema.clone(), name.clone())))
                .map(|(name, schema, labels)| EnumType { name, schema, labels })
                .collect();
            let domains: Vec<Domain> = domains
                .into_iter()
                .filter(|(name, schema, _, _)| seen.insert((schema.clone(), name.clone())))
                .map(|(name, schema, base, array)| Domain { name, schema, base, array })
                .collect();
            let mut tables: Vec<Table> = dedup_by_name(
                tables
                    .into_iter()
                    .map(|(name, schema, columns)| Table {
                        name,
                        schema,
                        columns: dedup_by_name(columns, |c| &c.name),
                    })
                    .collect(),
                |t| &t.name,
            );
            // Foreign keys only to columns that exist, naming the target's schema.
            let targets: Vec<(String, String, Option<String>)> = tables
                .iter()
                .flat_map(|t| {
                    t.columns
                        .iter()
                        .map(|c| (t.name.clone(), c.name.clone(), t.schema.clone()))
                })
                .collect();
            let mut link = links.into_iter().cycle();
            for t in &mut tables {
                for c in &mut t.columns {
                    if let Some(Some((i, _))) = link.next()
                        && !targets.is_empty()
                    {
                            let (table, column, schema) = targets[i % targets.len()].clone();
                            c.foreign_key = Some(ForeignKey { table, column, schema });
                    }
                }
            }
            let table_names: Vec<String> = tables.iter().map(|t| t.name.clone()).collect();
            let functions = dedup_by_name(
                functions
                    .into_iter()
                    .filter(|f| !table_names.contains(&f.0))
                    .map(|(name, schema, return_type, returns_set, inputs, outputs)| Function {
                        name,
                        schema,
                        return_type,
                        returns_set,
                        inputs: dedup_by_name(inputs, |a| &a.name),
                        outputs: dedup_by_name(outputs, |a| &a.name),
                    })
                    .collect(),
                |f| &f.name,
            );
            DbSchema {
                db_type: "postgres".to_string(),
                version,
                schema: default,
                tables,
                functions,
                enums,
                domains,
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn generated_schemas_round_trip(s in db_schema()) {
            let text = write_schema(&s);
            let back = parse_schema(&text);
            prop_assert!(back.is_ok(), "{}\n{}", back.unwrap_err(), text);
            let back = back.unwrap();
            prop_assert_eq!(&back, &normalized(&s));
            prop_assert_eq!(write_schema(&back), text);
        }

        #[test]
        fn output_is_independent_of_model_order(s in db_schema()) {
            let mut reversed = s.clone();
            reversed.tables.reverse();
            reversed.functions.reverse();
            reversed.enums.reverse();
            reversed.domains.reverse();
            prop_assert_eq!(write_schema(&reversed), write_schema(&s));
        }
    }
}
