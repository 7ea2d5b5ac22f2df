//! Property tests: the writer round-trips its own output, the editor leaves other entries
//! alone, and the reader never panics.

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::Value;

use super::parse::tests::EXAMPLE;
use super::scan::normalize_eol;
use super::*;

// ---------------------------------------------------------------------------------------
// Generators

/// A GraphQL name; the caller de-duplicates case-insensitively.
fn name() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_]{0,8}"
}

/// A comment line as written: optional indentation, `#`, anything but a line terminator.
fn comment_line() -> impl Strategy<Value = String> {
    "[ \t]{0,2}#[^\r\n]{0,24}"
}

fn comments() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(comment_line(), 0..3)
}

/// A JSON value with awkward keys and strings.
fn json_value() -> impl Strategy<Value = Value> {
    let key = "[a-z{}\"#\\\\ é]{0,5}";
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        "[a-z{}\"#\\\\ \n]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::vec((key, inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// The verbatim text of a variables block: a JSON object, compact or pretty.
fn variables() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(("[a-z{}\"#é]{0,5}", json_value()), 0..4),
        any::<bool>(),
    )
        .prop_map(|(kv, pretty)| {
            let object = Value::Object(kv.into_iter().collect());
            if pretty {
                serde_json::to_string_pretty(&object).unwrap()
            } else {
                serde_json::to_string(&object).unwrap()
            }
        })
}

/// A GraphQL string literal whose content holds braces, hashes and escapes.
fn string_literal() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            "[a-z{}#() ]",
            Just("\\\"".to_string()),
            Just("\\\\".to_string()),
            Just("\\u007B".to_string()),
        ],
        0..6,
    )
    .prop_map(|parts| format!("\"{}\"", parts.concat()))
}

/// A block string whose content holds braces, quotes, newlines and escaped triple quotes.
fn block_string() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            "[a-z{}#() \n]",
            Just("\\\"\"\"".to_string()),
            Just("\"a".to_string()),
        ],
        0..6,
    )
    .prop_map(|parts| format!("\"\"\"{}\"\"\"", parts.concat()))
}

/// An argument value.
fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        string_literal(),
        block_string(),
        Just("$data".to_string()),
        Just("42".to_string()),
        Just("true".to_string()),
    ];
    leaf.prop_recursive(2, 8, 2, |inner| {
        prop::collection::vec(("[a-z]{1,4}", inner), 1..3).prop_map(|fields| {
            let fields: Vec<String> = fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            format!("{{ {} }}", fields.join(", "))
        })
    })
}

/// A GraphQL comment (always followed by a line terminator) holding braces and quotes.
fn gql_comment() -> impl Strategy<Value = String> {
    ("[a-z{}\"( ]{0,8}", prop_oneof![Just("\n"), Just("\r\n")])
        .prop_map(|(text, eol)| format!("# {text}{eol}"))
}

/// A selection set `{ ... }` with nested fields, arguments and comments.
fn selection_set() -> impl Strategy<Value = String> {
    let field = (
        "[a-z]{1,6}",
        prop::option::of(value()),
        prop::option::of(gql_comment()),
    )
        .prop_map(|(name, arg, comment)| {
            let mut out = name;
            if let Some(arg) = arg {
                out.push_str(&format!("(a: {arg})"));
            }
            if let Some(comment) = comment {
                out.push(' ');
                out.push_str(&comment);
            }
            out
        });
    let leaf = prop::collection::vec(field, 1..3);
    let set = leaf.prop_recursive(3, 12, 3, |inner| {
        prop::collection::vec(
            ("[a-z]{1,6}", inner)
                .prop_map(|(name, fields)| format!("{name} {{\n{}\n}}", fields.join("\n"))),
            1..3,
        )
    });
    (set, prop_oneof![Just(" "), Just("\n  "), Just(", ")])
        .prop_map(|(fields, sep)| format!("{{{sep}{}\n}}", fields.join(sep)))
}

/// An operation header suffix: variable definitions and directives.
fn header() -> impl Strategy<Value = String> {
    (
        prop::option::of(value()),
        prop::option::of(string_literal()),
        prop::option::of(gql_comment()),
    )
        .prop_map(|(default, directive, comment)| {
            let mut out = String::new();
            if let Some(default) = default {
                out.push_str(&format!("($data: t = {default}, $id: ID!)"));
            }
            if let Some(comment) = comment {
                out.push(' ');
                out.push_str(&comment);
            }
            if let Some(arg) = directive {
                out.push_str(&format!(" @cached(key: {arg})"));
            }
            out
        })
}

fn op_kind() -> impl Strategy<Value = OpKind> {
    prop_oneof![
        Just(OpKind::Query),
        Just(OpKind::Mutation),
        Just(OpKind::Subscription)
    ]
}

/// Operation parts: comments, variables, kind, header, body, trailing comment.
type OpParts = (
    Vec<String>,
    Option<String>,
    OpKind,
    String,
    String,
    Option<String>,
);

fn op_parts() -> impl Strategy<Value = OpParts> {
    (
        comments(),
        prop::option::of(variables()),
        op_kind(),
        header(),
        selection_set(),
        prop::option::of("#[^\r\n]{0,10}"),
    )
}

/// A list of operations, fragments and free comments with unique names.
fn allow_list() -> impl Strategy<Value = AllowList> {
    (
        prop::collection::vec((name(), op_parts()), 1..6),
        prop::collection::vec((name(), comments(), "[a-z]{1,5}", selection_set()), 0..3),
        prop::collection::vec(prop::collection::vec(comment_line(), 1..3), 0..3),
    )
        .prop_map(|(ops, fragments, free)| {
            let mut items = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for (name, (comments, variables, kind, header, body, trailing)) in ops {
                if !seen.insert(name.to_ascii_lowercase()) {
                    continue;
                }
                let text = format!("{} {name}{header} {body}", kind.keyword());
                let mut op = OperationEntry::new(kind, name, text);
                op.comments = comments;
                op.variables = variables;
                op.trailing_comment = trailing;
                items.push(Item::Operation(op));
            }
            let mut seen = std::collections::HashSet::new();
            for (name, comments, ty, body) in fragments {
                if !seen.insert(name.to_ascii_lowercase()) {
                    continue;
                }
                let mut fragment =
                    FragmentEntry::new(name.clone(), format!("fragment {name} on {ty} {body}"));
                fragment.comments = comments;
                items.push(Item::Fragment(fragment));
            }
            for lines in free {
                items.push(Item::FreeComment(FreeComment {
                    lines,
                    pos: Default::default(),
                    span: 0..0,
                }));
            }
            AllowList { items }
        })
}

/// Renders a list in its own order with irregular separators: a hand-edited file.
fn messy_file() -> impl Strategy<Value = String> {
    (
        allow_list(),
        prop::collection::vec(
            prop_oneof![
                Just("\n\n"),
                Just("\n\n\n"),
                Just("\n  \n"),
                Just("\n\t\n\n")
            ],
            8..9,
        ),
        prop::bool::ANY,
    )
        .prop_map(|(list, seps, final_newline)| {
            let mut out = String::new();
            for (i, item) in list.items.iter().enumerate() {
                if i > 0 {
                    out.push_str(seps[i % seps.len()]);
                }
                match item {
                    Item::Operation(op) => {
                        for c in &op.comments {
                            out.push_str(c);
                            out.push('\n');
                        }
                        if let Some(v) = &op.variables {
                            out.push_str("variables ");
                            out.push_str(v);
                            out.push_str(seps[i % seps.len()]);
                        }
                        out.push_str(&op.text);
                        if let Some(t) = &op.trailing_comment {
                            out.push_str("   ");
                            out.push_str(t);
                        }
                    }
                    Item::Fragment(f) => {
                        for c in &f.comments {
                            out.push_str(c);
                            out.push('\n');
                        }
                        out.push_str(&f.text);
                    }
                    Item::FreeComment(c) => out.push_str(&c.lines.join("\n")),
                }
            }
            if final_newline {
                out.push('\n');
            }
            out
        })
}

// ---------------------------------------------------------------------------------------
// Properties

/// `cases` cases, without regression files (they would land outside this module).
fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

fn must_parse(src: &str) -> AllowList {
    match parse(src.as_bytes()) {
        Ok(list) => list,
        Err(err) => panic!("{err}\n--- input ---\n{src}"),
    }
}

proptest! {
    #![proptest_config(config(600))]

    #[test]
    fn writer_round_trips_its_output(list in allow_list()) {
        let written = write(&list);
        let parsed = must_parse(&written);
        prop_assert_eq!(&write(&parsed), &written);
        // Nothing is lost on the way.
        prop_assert_eq!(parsed.operations().count(), list.operations().count());
        prop_assert_eq!(parsed.fragments().count(), list.fragments().count());
        prop_assert_eq!(parsed.free_comments().count(), list.free_comments().count());
        for op in list.operations() {
            let back = parsed.find(&op.name).expect("operation survives");
            prop_assert_eq!(&back.name, &op.name);
            prop_assert_eq!(back.kind, op.kind);
            prop_assert_eq!(&back.comments, &op.comments);
            prop_assert_eq!(&back.text, &normalize_eol(&op.text, "\n"));
            prop_assert_eq!(back.variables.is_some(), op.variables.is_some());
            prop_assert_eq!(&back.trailing_comment.is_some(), &op.trailing_comment.is_some());
            prop_assert_eq!(&written[back.span.clone()], back.render());
        }
        // A CRLF copy of the file reads the same.
        let crlf = written.replace('\n', "\r\n");
        prop_assert_eq!(&write(&must_parse(&crlf)), &written);
    }

    #[test]
    fn messy_files_read_and_canonicalize(src in messy_file()) {
        let list = must_parse(&src);
        let written = write(&list);
        prop_assert_eq!(&write(&must_parse(&written)), &written);
        for op in list.operations() {
            prop_assert!(src[op.span.clone()].ends_with(op.trailing_comment.as_deref().unwrap_or(&op.text)));
            prop_assert!(src[op.span.clone()].contains(&op.text));
        }
    }

    #[test]
    fn upsert_leaves_other_entries_alone(
        src in messy_file(),
        new_name in name(),
        body in selection_set(),
        replace_index in any::<prop::sample::Index>(),
        replace in any::<bool>(),
    ) {
        let list = must_parse(&src);
        let names: Vec<String> = list.operations().map(|op| op.name.clone()).collect();
        let name = if replace {
            names[replace_index.index(names.len())].clone()
        } else {
            new_name
        };
        let text = format!("query {name} {body}");
        let mut entry = OperationEntry::new(OpKind::Query, name.clone(), text.clone());
        entry.comments = vec!["# recorded".to_string()];
        let out = upsert_operation(&src, &list, &entry.render(), &name);
        let after = must_parse(&out);

        let new = after.find(&name).expect("the new entry is there");
        // The entry takes the file's line terminators.
        prop_assert_eq!(normalize_eol(&new.text, "\n"), normalize_eol(&text, "\n"));
        prop_assert_eq!(&new.comments, &entry.comments);
        prop_assert_eq!(normalize_eol(&out[new.span.clone()], "\n"), entry.render());

        // Every other entry keeps its exact bytes, and the bytes around the new entry are
        // the old file's, apart from blank-line separators.
        let replaced = list.find(&name);
        for op in list.operations().filter(|op| !op.name.eq_ignore_ascii_case(&name)) {
            let same = after.find(&op.name).expect("other operations survive");
            prop_assert_eq!(&out[same.span.clone()], &src[op.span.clone()]);
        }
        for fragment in list.fragments() {
            let same = after.find_fragment(&fragment.name).expect("fragments survive");
            prop_assert_eq!(&out[same.span.clone()], &src[fragment.span.clone()]);
        }
        let free_before: Vec<_> = list.free_comments().map(|c| &c.lines).collect();
        let free_after: Vec<_> = after.free_comments().map(|c| &c.lines).collect();
        prop_assert_eq!(free_before, free_after);
        let before = &out[..new.span.start];
        let rest = &out[new.span.end..];
        match replaced {
            Some(old) => {
                prop_assert_eq!(before, &src[..old.span.start]);
                prop_assert_eq!(rest, &src[old.span.end..]);
            }
            None => {
                let trimmed_before = before.trim_end_matches(['\r', '\n']);
                let trimmed_rest = rest.trim_start_matches(['\r', '\n']);
                prop_assert!(src.starts_with(trimmed_before));
                prop_assert!(src.ends_with(trimmed_rest));
                // At most three line terminators are added around the entry.
                prop_assert!(out.len() <= src.len() + new.span.len() + 6);
                // Placed before the first operation (in file order) sorting after it.
                let next = list.operations().find(|op| name_order(&op.name, &name).is_gt());
                let next_after = after
                    .operations()
                    .skip_while(|op| op.name != name)
                    .nth(1)
                    .map(|op| op.name.clone());
                prop_assert_eq!(next.map(|op| op.name.clone()), next_after);
            }
        }
    }
}

/// Interesting fragments of allow-list syntax to build noise from.
const TOKENS: &[&str] = &[
    "query",
    "mutation",
    "subscription",
    "fragment",
    "on",
    "variables",
    "{",
    "}",
    "(",
    ")",
    "\"",
    "\"\"\"",
    "\\",
    "#",
    "\n",
    "\r\n",
    "\r",
    " ",
    "\t",
    "a",
    "b",
    "A",
    "@x",
    "$v",
    ":",
    ",",
    "[",
    "]",
    "1",
    "é",
    "\u{feff}",
    "\u{0}",
    "{\"k\": 1}",
];

const RICH: &str = concat!(
    "\u{feff}# header é\r\n\r\n",
    "# c\nvariables {\"a\": [1, {\"b}\": \"#\"}], \"é\": null}\n",
    "mutation m($d: T = {x: \"}\"}) @dir(a: \"\"\"{\n\"\"\") {\n  x(a: \"\\\"{\") # }\n}  # t\n\n",
    "fragment f on t { id }\n",
    "query q { y }\n",
);

fn mutated(base: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let edit = (
        0..4u8,
        any::<prop::sample::Index>(),
        0..6usize,
        prop::sample::select(TOKENS),
        any::<u8>(),
    );
    prop::collection::vec(edit, 1..6).prop_map(move |edits| {
        let mut bytes = base.as_bytes().to_vec();
        for (kind, at, len, token, byte) in edits {
            let at = at.index(bytes.len() + 1);
            let end = (at + len).min(bytes.len());
            match kind {
                0 => {
                    bytes.drain(at..end);
                }
                1 => {
                    bytes.splice(at..at, token.bytes());
                }
                2 => {
                    bytes.splice(at..end, [byte]);
                }
                _ => {
                    let copy = bytes[at..end].to_vec();
                    bytes.splice(at..at, copy);
                }
            }
        }
        bytes
    })
}

/// Parsing must not panic; whatever it accepts must write and read back consistently.
fn check_total(bytes: &[u8]) -> Result<(), TestCaseError> {
    let Ok(list) = parse(bytes) else {
        return Ok(());
    };
    let written = write(&list);
    let again = parse(written.as_bytes());
    prop_assert!(
        again.is_ok(),
        "rewritten file does not read: {:?}\n{}",
        again,
        written
    );
    prop_assert_eq!(write(&again.unwrap()), written);
    // The editor does not panic either.
    let src = std::str::from_utf8(bytes).unwrap();
    let first = list.operations().next().map(|op| op.name.clone()).unwrap();
    let _ = upsert_operation(src, &list, "query zz { x }", "zz");
    let _ = upsert_operation(src, &list, "query zz { x }", &first);
    Ok(())
}

proptest! {
    #![proptest_config(config(4000))]

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        check_total(&bytes)?;
    }

    #[test]
    fn parse_never_panics_on_token_soup(tokens in prop::collection::vec(prop::sample::select(TOKENS), 0..60)) {
        check_total(tokens.concat().as_bytes())?;
    }

    #[test]
    fn parse_never_panics_on_mutated_files(bytes in mutated(EXAMPLE)) {
        check_total(&bytes)?;
    }

    #[test]
    fn parse_never_panics_on_mutated_rich_files(bytes in mutated(RICH)) {
        check_total(&bytes)?;
    }
}

#[test]
fn rich_file_reads() {
    let list = must_parse(RICH);
    assert_eq!(list.operations().count(), 2);
    assert_eq!(
        list.find("m").unwrap().trailing_comment.as_deref(),
        Some("# t")
    );
    check_total(RICH.as_bytes()).unwrap();
}
