//! The writer (a canonical file) and the editor (one entry changed in place).

use serde_json::Value;

use super::scan::{BOM, is_blank, normalize_eol, split_lines};
use super::{AllowList, FragmentEntry, Item, OperationEntry, name_order};

/// Renders `list` as a deterministic canonical file.
///
/// Detached comments come first (in their order), then fragments, then operations, each
/// sorted by name (case-insensitively, then exactly). An entry is its comment lines, then
/// `variables ` and its JSON pretty-printed with every value cleared (see
/// [`clear_variables`]; JSON that does not parse is written verbatim), then its GraphQL text
/// verbatim (line terminators normalized to `\n`). Entries are separated by one blank line
/// and the file ends with a single newline (an empty list gives an empty file).
///
/// Comment lines are written as given, except that a line not starting with `#` gets a `# `
/// prefix so the file stays readable. Names must be unique case-insensitively for the
/// output to read back; [`parse`](super::parse) guarantees that.
///
/// `write(&parse(write(x))?) == write(x)` for every list whose texts are single well-formed
/// definitions.
pub fn write(list: &AllowList) -> String {
    let mut blocks: Vec<String> = Vec::new();
    for comment in list.free_comments() {
        if !comment.lines.is_empty() {
            blocks.push(comment_lines(&comment.lines).join("\n"));
        }
    }
    let mut fragments: Vec<&FragmentEntry> = list.fragments().collect();
    fragments.sort_by(|a, b| name_order(&a.name, &b.name));
    blocks.extend(fragments.into_iter().map(render_fragment));
    let mut operations: Vec<&OperationEntry> = list.operations().collect();
    operations.sort_by(|a, b| name_order(&a.name, &b.name));
    blocks.extend(operations.into_iter().map(render_operation));

    if blocks.is_empty() {
        return String::new();
    }
    let mut out = blocks.join("\n\n");
    out.push('\n');
    out
}

/// The canonical form of one operation entry, without a final newline.
pub(crate) fn render_operation(op: &OperationEntry) -> String {
    let mut lines = comment_lines(&op.comments);
    if let Some(json) = &op.variables {
        let json = clear_variables(json).unwrap_or_else(|_| normalize_eol(json, "\n"));
        lines.push(format!("variables {json}"));
    }
    lines.push(definition_text(&op.text, op.trailing_comment.as_deref()));
    lines.join("\n")
}

/// The canonical form of one fragment entry, without a final newline.
pub(crate) fn render_fragment(fragment: &FragmentEntry) -> String {
    let mut lines = comment_lines(&fragment.comments);
    lines.push(definition_text(
        &fragment.text,
        fragment.trailing_comment.as_deref(),
    ));
    lines.join("\n")
}

/// Comment lines as written, each one starting with `#` (after indentation).
fn comment_lines(comments: &[String]) -> Vec<String> {
    comments
        .iter()
        .flat_map(|c| split_lines(c))
        .map(|line| {
            if line.trim_start_matches([' ', '\t']).starts_with('#') {
                line.to_string()
            } else if line.is_empty() {
                "#".to_string()
            } else {
                format!("# {line}")
            }
        })
        .collect()
}

/// A definition's text with `\n` line terminators and its trailing comment, if any.
fn definition_text(text: &str, trailing: Option<&str>) -> String {
    let mut out = normalize_eol(text, "\n");
    if let Some(comment) = trailing {
        let comment = split_lines(comment).join(" ");
        let comment = comment.trim_start_matches([' ', '\t']);
        out.push(' ');
        if !comment.starts_with('#') {
            out.push_str("# ");
        }
        out.push_str(comment);
    }
    out
}

/// Pretty-prints a JSON value (2-space indent, keys in their original order) with every value
/// cleared to its type's empty value: strings to `""`, numbers to `0`, booleans to `false`,
/// arrays of scalars to `[]`; `null` stays `null`, objects keep their keys with cleared
/// values, and an array of objects keeps one cleared object with all their keys (the shape
/// mutation data needs at build time).
pub fn clear_variables(json: &str) -> Result<String, serde_json::Error> {
    let mut value: Value = serde_json::from_str(json)?;
    clear(&mut value);
    serde_json::to_string_pretty(&value)
}

fn clear(value: &mut Value) {
    match value {
        Value::Null => {}
        Value::Bool(b) => *b = false,
        Value::Number(n) => *n = 0.into(),
        Value::String(s) => s.clear(),
        Value::Array(items) => {
            let mut merged: Option<serde_json::Map<String, Value>> = None;
            for item in items.iter() {
                if let Value::Object(m) = item {
                    let target = merged.get_or_insert_with(serde_json::Map::new);
                    for (k, v) in m {
                        target.entry(k.clone()).or_insert_with(|| v.clone());
                    }
                }
            }
            items.clear();
            if let Some(mut m) = merged {
                m.values_mut().for_each(clear);
                items.push(Value::Object(m));
            }
        }
        Value::Object(map) => map.values_mut().for_each(clear),
    }
}

/// Records one operation in an existing file without reformatting anything else.
///
/// `list` must be what [`parse`](super::parse) read from `src` (or an empty list for a file
/// without operations), `entry_text` the whole new entry (comments, variables block and
/// operation, e.g. from [`OperationEntry::render`]) and `name` its operation's name.
///
/// If an operation called `name` (case-insensitively) exists, its span is replaced by
/// `entry_text`. Otherwise the entry is inserted before the first operation (in file order)
/// whose name sorts after `name`, or appended at the end, with a blank line on each side.
/// Every other byte of `src` is kept; the new text uses the file's line terminators (`\r\n`
/// if its first line ends so, else `\n`).
pub fn upsert_operation(src: &str, list: &AllowList, entry_text: &str, name: &str) -> String {
    let eol = if first_terminator_is_crlf(src) {
        "\r\n"
    } else {
        "\n"
    };
    let entry = normalize_entry(entry_text, eol);

    if let Some(old) = list.find(name)
        && let (Some(before), Some(after)) = (src.get(..old.span.start), src.get(old.span.end..))
        && old.span.start <= old.span.end
    {
        return format!("{before}{entry}{after}");
    }

    let next = list.items.iter().find_map(|item| match item {
        Item::Operation(op) if name_order(&op.name, name).is_gt() => Some(op.span.start),
        _ => None,
    });
    if let Some(at) = next
        && let (Some(before), Some(after)) = (src.get(..at), src.get(at..))
    {
        let body = before.strip_prefix(BOM).unwrap_or(before);
        let mut out = String::with_capacity(src.len() + entry.len() + 4);
        out.push_str(before);
        if !body.is_empty() {
            if !ends_with_terminator(body) {
                out.push_str(eol);
            }
            if !last_line_blank(&out) {
                out.push_str(eol);
            }
        }
        out.push_str(&entry);
        out.push_str(eol);
        out.push_str(eol);
        out.push_str(after);
        return out;
    }

    let mut out = src.to_string();
    let body = src.strip_prefix(BOM).unwrap_or(src);
    if !body.is_empty() {
        if !ends_with_terminator(body) {
            out.push_str(eol);
        }
        if !is_blank(body) && !last_line_blank(&out) {
            out.push_str(eol);
        }
    }
    out.push_str(&entry);
    out.push_str(eol);
    out
}

/// `entry_text` without leading blank lines or trailing white space, in `eol` line terminators.
fn normalize_entry(entry_text: &str, eol: &str) -> String {
    let lines = split_lines(entry_text.trim_end());
    let first = lines
        .iter()
        .position(|line| !is_blank(line))
        .unwrap_or(lines.len());
    lines[first..].join(eol)
}

fn first_terminator_is_crlf(src: &str) -> bool {
    src.find(['\n', '\r'])
        .is_some_and(|i| src[i..].starts_with("\r\n"))
}

fn ends_with_terminator(s: &str) -> bool {
    s.ends_with('\n') || s.ends_with('\r')
}

/// Whether `s`, which ends with a line terminator, ends with a blank line (or is one).
fn last_line_blank(s: &str) -> bool {
    let without = s
        .strip_suffix("\r\n")
        .or_else(|| s.strip_suffix('\n'))
        .or_else(|| s.strip_suffix('\r'))
        .unwrap_or(s);
    let last = without
        .rfind(['\n', '\r'])
        .map_or(without, |i| &without[i + 1..]);
    let last = last.strip_prefix(BOM).unwrap_or(last);
    is_blank(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allowlist::parse::tests::EXAMPLE;
    use crate::allowlist::{FreeComment, parse};
    use crate::gql::ast::OpKind;

    fn ok(src: &str) -> AllowList {
        parse(src.as_bytes()).unwrap_or_else(|e| panic!("{e}\n--- input ---\n{src}"))
    }

    #[test]
    fn canonical_file() {
        let expected = r#"fragment userFields on users {
  id
  email
}

# Comment lines directly above an entry belong to that entry.
# They can span several lines.
variables {
  "data": {
    "name": "",
    "price": 0
  }
}
mutation createProduct {
  products(insert: $data) { id name }
}

query getProducts {
  products(where: { name: { ilike: "%a}b%" } }) {   # braces in strings and comments do not count
    id
  }
}
"#;
        let written = write(&ok(EXAMPLE));
        assert_eq!(written, expected);
        assert_eq!(write(&ok(&written)), written);
        // CRLF input gives the same canonical LF file.
        assert_eq!(write(&ok(&EXAMPLE.replace('\n', "\r\n"))), expected);
    }

    #[test]
    fn sorting_free_comments_and_trailing_comments() {
        let src = concat!(
            "# header\n\n",
            "query b { x }   # why b\n\n",
            "  # about A\n",
            "query A { x }\n",
            "# a detached note\n\n",
            "fragment z on t { id }\n",
            "fragment Y on t { id }\n",
            "subscription a_ { x }\n",
        );
        assert_eq!(
            write(&ok(src)),
            concat!(
                "# header\n\n",
                "# a detached note\n\n",
                "fragment Y on t { id }\n\n",
                "fragment z on t { id }\n\n",
                "  # about A\n",
                "query A { x }\n\n",
                "subscription a_ { x }\n\n",
                "query b { x } # why b\n",
            )
        );
    }

    #[test]
    fn equal_names_sort_case_insensitively_then_exactly() {
        let mut list = AllowList::default();
        for name in ["b", "B", "a", "C"] {
            list.items.push(Item::Operation(OperationEntry::new(
                OpKind::Query,
                name,
                format!("query {name} {{ x }}"),
            )));
        }
        let names: Vec<String> = write(&list)
            .lines()
            .filter_map(|l| l.split(' ').nth(1).map(str::to_string))
            .collect();
        assert_eq!(names, ["a", "B", "b", "C"]);
    }

    #[test]
    fn writer_keeps_the_file_readable() {
        let mut op = OperationEntry::new(OpKind::Mutation, "m", "mutation m {\r\n  x\r\n}");
        op.comments = vec!["no hash".into(), "".into(), "# two\n# lines".into()];
        op.variables = Some("not json {".into());
        op.trailing_comment = Some("trailing\nwith newline".into());
        let mut list = AllowList::default();
        list.items.push(Item::Operation(op));
        list.items.push(Item::FreeComment(FreeComment {
            lines: vec!["free".into()],
            pos: Default::default(),
            span: 0..0,
        }));
        list.items.push(Item::FreeComment(FreeComment {
            lines: vec![],
            pos: Default::default(),
            span: 0..0,
        }));
        assert_eq!(
            write(&list),
            "# free\n\n# no hash\n#\n# two\n# lines\nvariables not json {\nmutation m {\n  x\n} # trailing with newline\n"
        );
        assert_eq!(write(&AllowList::default()), "");
    }

    #[test]
    fn clearing_variables() {
        let json = r##"{"s": "abc", "n": -1.5e3, "i": 7, "t": true, "f": false, "z": null,
            "a": [1, {"x": 2}], "o": {"k": "v", "e": {}, "b": [true]}, "é}": "#"}"##;
        assert_eq!(
            clear_variables(json).unwrap(),
            r#"{
  "s": "",
  "n": 0,
  "i": 0,
  "t": false,
  "f": false,
  "z": null,
  "a": [
    {
      "x": 0
    }
  ],
  "o": {
    "k": "",
    "e": {},
    "b": []
  },
  "é}": ""
}"#
        );
        assert_eq!(clear_variables("{}").unwrap(), "{}");
        assert_eq!(clear_variables("\"x\"").unwrap(), "\"\"");
        assert!(clear_variables("{").is_err());
    }

    const ODD: &str = concat!(
        "# header, kept as is\n",
        "\n",
        "query   alpha{x}   # odd spacing\n",
        "\n\n\n",
        "# about gamma\n",
        "variables   {\"a\":1}\n",
        "query gamma {\n",
        "\t y\n",
        "}\n",
        "fragment f on t { id }\n",
        "query omega { z }",
    );

    #[test]
    fn upsert_replaces_in_place() {
        let list = ok(ODD);
        let out = upsert_operation(ODD, &list, "# new gamma\nquery GAMMA { new }\n\n", "Gamma");
        let gamma_start = ODD.find("# about gamma").unwrap();
        let gamma_end = ODD.find("\n}\n").unwrap() + 2;
        assert_eq!(
            out,
            format!(
                "{}# new gamma\nquery GAMMA {{ new }}{}",
                &ODD[..gamma_start],
                &ODD[gamma_end..]
            )
        );
        let again = ok(&out);
        assert_eq!(again.find("gamma").unwrap().text, "query GAMMA { new }");
        assert_eq!(again.find("gamma").unwrap().variables, None);
    }

    #[test]
    fn upsert_inserts_in_name_order() {
        let list = ok(ODD);
        // Before the first operation sorting after it: blank lines on both sides.
        let mut outs = Vec::new();
        let out = upsert_operation(ODD, &list, "query beta { b }", "beta");
        let at = ODD.find("# about gamma").unwrap();
        assert_eq!(
            out,
            format!("{}query beta {{ b }}\n\n{}", &ODD[..at], &ODD[at..])
        );
        outs.push(out);
        // The entry before it ends directly above: a blank line is added.
        let out = upsert_operation(ODD, &list, "query kappa { k }\n", "kappa");
        let at = ODD.find("query omega").unwrap();
        assert_eq!(
            out,
            format!("{}\nquery kappa {{ k }}\n\n{}", &ODD[..at], &ODD[at..])
        );
        outs.push(out);
        // Before everything.
        let out = upsert_operation(ODD, &list, "query Aa { k }", "Aa");
        let at = ODD.find("query   alpha").unwrap();
        assert_eq!(
            out,
            format!("{}query Aa {{ k }}\n\n{}", &ODD[..at], &ODD[at..])
        );
        outs.push(out);
        // At the end of a file without a final newline.
        let out = upsert_operation(ODD, &list, "query zeta { z }", "zeta");
        assert_eq!(out, format!("{ODD}\n\nquery zeta {{ z }}\n"));
        outs.push(out);
        for out in &outs {
            assert_eq!(ok(out).operations().count(), 4);
        }
    }

    #[test]
    fn upsert_at_the_end_and_in_empty_files() {
        let empty = AllowList::default();
        assert_eq!(
            upsert_operation("", &empty, "query a { x }", "a"),
            "query a { x }\n"
        );
        assert_eq!(
            upsert_operation("# only a comment\n", &empty, "query a { x }", "a"),
            "# only a comment\n\nquery a { x }\n"
        );
        assert_eq!(
            upsert_operation("\n\n", &empty, "query a { x }", "a"),
            "\n\nquery a { x }\n"
        );
        let src = "query a { x }\n\n";
        assert_eq!(
            upsert_operation(src, &ok(src), "query b { y }", "b"),
            "query a { x }\n\nquery b { y }\n"
        );
        let src = "query a { x }\n  ";
        assert_eq!(
            upsert_operation(src, &ok(src), "query b { y }", "b"),
            "query a { x }\n  \nquery b { y }\n"
        );
    }

    #[test]
    fn upsert_keeps_crlf_and_bom() {
        let src = "\u{feff}query b { x }\r\n\r\nquery c { y }\r\n";
        let list = ok(src);
        let out = upsert_operation(src, &list, "# a\nquery a {\n  z\n}\n", "a");
        assert_eq!(
            out,
            "\u{feff}# a\r\nquery a {\r\n  z\r\n}\r\n\r\nquery b { x }\r\n\r\nquery c { y }\r\n"
        );
        let out = upsert_operation(src, &list, "query C { w }", "c");
        assert_eq!(out, "\u{feff}query b { x }\r\n\r\nquery C { w }\r\n");
    }

    #[test]
    fn render_is_the_written_entry() {
        let list = ok(EXAMPLE);
        let create = list.find("createProduct").unwrap();
        let rendered = create.render();
        assert!(write(&list).contains(&rendered));
        assert!(rendered.starts_with("# Comment lines"));
        assert!(rendered.ends_with("{ id name }\n}"));
        let fragment = list.fragments().next().unwrap();
        assert_eq!(fragment.render(), fragment.text);
    }
}
