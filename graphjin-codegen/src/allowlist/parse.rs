//! The reader: splits `allow.list` into entries with a light, line-oriented scan.
//!
//! Each line outside an entry is blank, a `#` comment, or starts an entry with `variables`,
//! `query`, `mutation`, `subscription` or `fragment`. An entry's extent is found by matching
//! its braces while skipping GraphQL strings, block strings and comments (or, in a variables
//! block, JSON strings); the GraphQL itself is left to the GraphQL parser.

use std::collections::HashMap;

use crate::gql::ast::OpKind;
use crate::source::Pos;

use super::error::{AllowListError, AllowListProblem};
use super::scan::{
    BOM, LineIndex, after_terminator, floor_char_boundary, is_name_start, line_end, name_end,
    pos_after, skip_blanks,
};
use super::{AllowList, FragmentEntry, FreeComment, Item, OperationEntry};

/// Reads an allow list. `src` must be UTF-8 (a leading byte order mark is skipped).
///
/// Fails with the first problem in file order: see [`AllowListError`]. A file without any
/// operation fails with [`AllowListError::NoOperations`], which carries what was read.
pub fn parse(src: &[u8]) -> Result<AllowList, AllowListError> {
    let text = match std::str::from_utf8(src) {
        Ok(text) => text,
        Err(err) => {
            let valid = err.valid_up_to();
            let prefix = src
                .get(..valid)
                .and_then(|p| std::str::from_utf8(p).ok())
                .unwrap_or("");
            return Err(AllowListProblem::NotUtf8 {
                byte: src.get(valid).copied().unwrap_or(0),
            }
            .at(pos_after(prefix)));
        }
    };
    Parser::new(text).run()
}

/// Comment lines waiting for the entry they belong to.
struct PendingComments {
    /// Where the first line starts.
    start: usize,
    /// Where the last line ends (before its terminator).
    end: usize,
    lines: Vec<String>,
}

/// A variables block waiting for its operation.
struct PendingVariables {
    /// Where `variables` starts.
    keyword: usize,
    /// Where its line starts.
    line_start: usize,
    json: String,
}

/// What a delimiter scan is inside of.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// GraphQL `( ... )`.
    Parens,
    /// GraphQL `{ ... }`.
    Braces,
    /// A JSON object.
    Json,
}

/// The keywords that start an entry.
const ENTRY_KEYWORDS: [&str; 5] = ["query", "mutation", "subscription", "fragment", "variables"];

/// Name, name position and closing brace of an operation or fragment.
struct Definition<'a> {
    name: &'a str,
    name_start: usize,
    close: usize,
}

struct Parser<'a> {
    s: &'a str,
    b: &'a [u8],
    lines: LineIndex,
    items: Vec<Item>,
    /// Lower-cased operation name -> (name as written, position).
    operation_names: HashMap<String, (String, Pos)>,
    /// Lower-cased fragment name -> (name as written, position).
    fragment_names: HashMap<String, (String, Pos)>,
}

impl<'a> Parser<'a> {
    fn new(s: &'a str) -> Self {
        Parser {
            s,
            b: s.as_bytes(),
            lines: LineIndex::new(s),
            items: Vec::new(),
            operation_names: HashMap::new(),
            fragment_names: HashMap::new(),
        }
    }

    fn pos(&self, off: usize) -> Pos {
        self.lines.pos(self.s, off)
    }

    /// The text between two offsets, or empty if they are not valid (never happens for the
    /// offsets this parser computes, all at ASCII delimiters).
    fn slice(&self, start: usize, end: usize) -> &'a str {
        self.s.get(start..end).unwrap_or("")
    }

    fn run(mut self) -> Result<AllowList, AllowListError> {
        let b = self.b;
        let mut i = if self.s.starts_with(BOM) {
            BOM.len()
        } else {
            0
        };
        let mut comments: Option<PendingComments> = None;
        let mut vars: Option<PendingVariables> = None;

        while i < b.len() {
            let line_start = i;
            let j = skip_blanks(b, i);
            match b.get(j) {
                None => break,
                Some(b'\n' | b'\r') => {
                    // A blank line detaches comments, unless a variables block binds them to
                    // the operation that must follow it.
                    if vars.is_none()
                        && let Some(pending) = comments.take()
                    {
                        self.push_free(pending);
                    }
                    i = after_terminator(b, j);
                }
                Some(b'#') => {
                    let end = line_end(b, j);
                    let line = self.slice(line_start, end).to_string();
                    push_comment(&mut comments, line_start, end, line);
                    i = after_terminator(b, end);
                }
                Some(b'{') => {
                    return Err(AllowListProblem::Unnamed { kind: None }.at(self.pos(j)));
                }
                Some(&c) if is_name_start(c) => {
                    let word_end = name_end(b, j);
                    let word = self.slice(j, word_end);
                    let kind = match word {
                        "query" => Some(OpKind::Query),
                        "mutation" => Some(OpKind::Mutation),
                        "subscription" => Some(OpKind::Subscription),
                        _ => None,
                    };
                    if let Some(kind) = kind {
                        let (comments, vars) = (comments.take(), vars.take());
                        i = self.operation(j, word_end, kind, line_start, comments, vars)?;
                        continue;
                    }
                    match word {
                        "variables" => {
                            if let Some(v) = &vars {
                                return Err(AllowListProblem::VariablesWithoutOperation {
                                    found: format!(
                                        "another `variables` block at allow.list:{}",
                                        self.pos(j)
                                    ),
                                }
                                .at(self.pos(v.keyword)));
                            }
                            let (open, close) = self.variables_block(word_end)?;
                            vars = Some(PendingVariables {
                                keyword: j,
                                line_start,
                                json: self.slice(open, close + 1).to_string(),
                            });
                            let (next, trailing) =
                                self.rest_of_line(close + 1, "the variables block")?;
                            if let Some((start, end)) = trailing {
                                let line = self.slice(start, end).to_string();
                                push_comment(&mut comments, line_start, end, line);
                            }
                            i = next;
                        }
                        "fragment" => {
                            if let Some(v) = &vars {
                                return Err(AllowListProblem::VariablesWithoutOperation {
                                    found: format!("`fragment` at allow.list:{}", self.pos(j)),
                                }
                                .at(self.pos(v.keyword)));
                            }
                            i = self.fragment(j, word_end, line_start, comments.take())?;
                        }
                        _ => {
                            return Err(AllowListProblem::UnexpectedText {
                                found: self.describe(j),
                            }
                            .at(self.pos(j)));
                        }
                    }
                }
                Some(_) => {
                    return Err(AllowListProblem::UnexpectedText {
                        found: self.describe(j),
                    }
                    .at(self.pos(j)));
                }
            }
        }

        if let Some(v) = vars {
            return Err(AllowListProblem::VariablesWithoutOperation {
                found: "end of file".to_string(),
            }
            .at(self.pos(v.keyword)));
        }
        if let Some(pending) = comments {
            self.push_free(pending);
        }
        let list = AllowList { items: self.items };
        if list.operations().next().is_none() {
            return Err(AllowListProblem::NoOperations { list }.at(Pos::new(1, 1)));
        }
        Ok(list)
    }

    fn push_free(&mut self, pending: PendingComments) {
        self.items.push(Item::FreeComment(FreeComment {
            lines: pending.lines,
            pos: self.pos(pending.start),
            span: pending.start..pending.end,
        }));
    }

    /// Reads the operation whose keyword spans `keyword..keyword_end`; returns where the next
    /// line starts.
    fn operation(
        &mut self,
        keyword: usize,
        keyword_end: usize,
        kind: OpKind,
        line_start: usize,
        comments: Option<PendingComments>,
        vars: Option<PendingVariables>,
    ) -> Result<usize, AllowListError> {
        let def = self.definition(keyword, keyword_end, Some(kind))?;
        let context = format!("operation \"{}\"", def.name);
        let (next, trailing) = self.rest_of_line(def.close + 1, &context)?;
        let end = trailing.map_or(def.close + 1, |(_, end)| end);
        let start = [
            Some(line_start),
            comments.as_ref().map(|c| c.start),
            vars.as_ref().map(|v| v.line_start),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(line_start);

        let name_pos = self.pos(def.name_start);
        check_unique(&mut self.operation_names, "operation", def.name, name_pos)?;
        self.items.push(Item::Operation(OperationEntry {
            name: def.name.to_string(),
            kind,
            comments: comments.map(|c| c.lines).unwrap_or_default(),
            variables: vars.map(|v| v.json),
            text: self.slice(keyword, def.close + 1).to_string(),
            trailing_comment: trailing.map(|(s, e)| self.slice(s, e).to_string()),
            pos: self.pos(keyword),
            name_pos,
            span: start..end,
        }));
        Ok(next)
    }

    /// Reads the fragment whose keyword spans `keyword..keyword_end`; returns where the next
    /// line starts.
    fn fragment(
        &mut self,
        keyword: usize,
        keyword_end: usize,
        line_start: usize,
        comments: Option<PendingComments>,
    ) -> Result<usize, AllowListError> {
        let def = self.definition(keyword, keyword_end, None)?;
        let context = format!("fragment \"{}\"", def.name);
        let (next, trailing) = self.rest_of_line(def.close + 1, &context)?;
        let end = trailing.map_or(def.close + 1, |(_, end)| end);
        let start = comments.as_ref().map_or(line_start, |c| c.start);

        let name_pos = self.pos(def.name_start);
        check_unique(&mut self.fragment_names, "fragment", def.name, name_pos)?;
        self.items.push(Item::Fragment(FragmentEntry {
            name: def.name.to_string(),
            comments: comments.map(|c| c.lines).unwrap_or_default(),
            text: self.slice(keyword, def.close + 1).to_string(),
            trailing_comment: trailing.map(|(s, e)| self.slice(s, e).to_string()),
            pos: self.pos(keyword),
            name_pos,
            span: start..end,
        }));
        Ok(next)
    }

    /// Reads a definition's name, its header up to the selection set and the selection set.
    /// `kind` is `None` for a fragment.
    fn definition(
        &self,
        keyword: usize,
        keyword_end: usize,
        kind: Option<OpKind>,
    ) -> Result<Definition<'a>, AllowListError> {
        let b = self.b;
        let k = self.skip_ignored(keyword_end);
        if !b.get(k).is_some_and(|&c| is_name_start(c)) {
            if kind.is_some() && matches!(b.get(k), Some(b'{' | b'(' | b'@')) {
                return Err(AllowListProblem::Unnamed { kind }.at(self.pos(keyword)));
            }
            let keyword_text = kind.map_or("fragment", |k| k.keyword());
            return Err(AllowListProblem::Expected {
                expected: format!("a name after `{keyword_text}`"),
                found: self.describe(k),
            }
            .at(self.pos(k)));
        }
        let name_end = name_end(b, k);
        let name = self.slice(k, name_end);
        let context = match kind {
            Some(_) => format!("operation \"{name}\""),
            None => format!("fragment \"{name}\""),
        };
        let open = self.header(name_end, &context, kind.is_none())?;
        let close = self.matching(open, &context, Mode::Braces)?;
        Ok(Definition {
            name,
            name_start: k,
            close,
        })
    }

    /// Scans a definition's header (fragment type condition, variable definitions,
    /// directives) from `i`; returns the offset of the `{` that opens its selection set.
    fn header(&self, mut i: usize, context: &str, fragment: bool) -> Result<usize, AllowListError> {
        let b = self.b;
        // 0: expecting `on`; 1: expecting the type condition; 2: directives or the body.
        let mut state = if fragment { 0 } else { 2 };
        loop {
            i = self.skip_ignored(i);
            let word = self.slice(i, name_end(b, i));
            match b.get(i) {
                Some(b'{') if state == 2 => return Ok(i),
                Some(b'(') if state != 1 => i = self.matching(i, context, Mode::Parens)? + 1,
                Some(b'@') if state == 2 => {
                    let k = self.skip_ignored(i + 1);
                    if !b.get(k).is_some_and(|&c| is_name_start(c)) {
                        return Err(AllowListProblem::Expected {
                            expected: "a directive name after `@`".to_string(),
                            found: self.describe(k),
                        }
                        .at(self.pos(k)));
                    }
                    i = name_end(b, k);
                }
                Some(_) if state == 0 && word == "on" => {
                    state = 1;
                    i += word.len();
                }
                Some(_) if state == 1 && !word.is_empty() => {
                    state = 2;
                    i += word.len();
                }
                _ => {
                    let expected = match state {
                        0 => "`on` after the fragment name".to_string(),
                        1 => "a type name after `on`".to_string(),
                        _ => format!("`{{` to start the selection set of {context}"),
                    };
                    return Err(AllowListProblem::Expected {
                        expected,
                        found: self.describe(i),
                    }
                    .at(self.pos(i)));
                }
            }
        }
    }

    /// Reads a variables block after `variables` (ending at `i`); returns the offsets of its
    /// opening and closing braces, having checked that it is a JSON object.
    fn variables_block(&self, i: usize) -> Result<(usize, usize), AllowListError> {
        let b = self.b;
        let mut k = i;
        while b
            .get(k)
            .is_some_and(|&c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
        {
            k += 1;
        }
        if b.get(k) != Some(&b'{') {
            return Err(AllowListProblem::VariablesNotObject {
                found: self.describe(k),
            }
            .at(self.pos(k)));
        }
        let close = self.matching(k, "the variables block", Mode::Json)?;
        let json = self.slice(k, close + 1);
        if let Err(err) = serde_json::from_str::<serde_json::Value>(json) {
            let off = k + json_error_offset(json, err.line(), err.column());
            let full = err.to_string();
            let suffix = format!(" at line {} column {}", err.line(), err.column());
            let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
            return Err(AllowListProblem::InvalidJson { message }.at(self.pos(off)));
        }
        Ok((k, close))
    }

    /// Checks what follows an entry's closing delimiter on its line: nothing, or a `#`
    /// comment (whose range is returned). Returns where the next line starts.
    fn rest_of_line(
        &self,
        i: usize,
        context: &str,
    ) -> Result<(usize, Option<(usize, usize)>), AllowListError> {
        let b = self.b;
        let j = skip_blanks(b, i);
        match b.get(j) {
            None => Ok((j, None)),
            Some(b'\n' | b'\r') => Ok((after_terminator(b, j), None)),
            Some(b'#') => {
                let end = line_end(b, j);
                Ok((after_terminator(b, end), Some((j, end))))
            }
            Some(_) => Err(AllowListProblem::TextAfterEntry {
                found: self.describe(j),
                context: context.to_string(),
            }
            .at(self.pos(j))),
        }
    }

    /// Finds the delimiter closing the one at `open`, skipping strings and comments.
    fn matching(&self, open: usize, context: &str, mode: Mode) -> Result<usize, AllowListError> {
        let b = self.b;
        let (o, c) = match mode {
            Mode::Parens => (b'(', b')'),
            Mode::Braces | Mode::Json => (b'{', b'}'),
        };
        let mut depth = 0usize;
        let mut i = open;
        let mut runs_into: Option<usize> = None;
        while let Some(&byte) = b.get(i) {
            match byte {
                b'"' => i = self.skip_string(i, context, mode)?,
                b'#' if mode != Mode::Json => i = line_end(b, i),
                b'\n' | b'\r' => {
                    i = after_terminator(b, i);
                    if runs_into.is_none() && self.starts_entry(i) {
                        runs_into = Some(i);
                    }
                }
                _ if byte == o => {
                    depth += 1;
                    i += 1;
                }
                _ if byte == c => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Ok(i);
                    }
                    i += 1;
                }
                _ => i += 1,
            }
        }
        let hint = runs_into.map(|at| {
            let word = self.slice(at, name_end(b, at));
            format!(
                "it runs into `{word}` at allow.list:{}; is a `{}` missing before it?",
                self.pos(at),
                c as char
            )
        });
        Err(AllowListProblem::Unclosed {
            delim: o as char,
            context: context.to_string(),
            hint,
        }
        .at(self.pos(open)))
    }

    /// Whether a line starting at `i` starts (in column 1) with an entry keyword.
    fn starts_entry(&self, i: usize) -> bool {
        let word = self.slice(i, name_end(self.b, i));
        ENTRY_KEYWORDS.contains(&word)
    }

    /// Skips the string starting at the `"` at `i`; returns the offset after it.
    fn skip_string(&self, i: usize, context: &str, mode: Mode) -> Result<usize, AllowListError> {
        let b = self.b;
        if mode != Mode::Json && b.get(i..i + 3) == Some(b"\"\"\"") {
            let mut k = i + 3;
            loop {
                match b.get(k..) {
                    None | Some([]) => {
                        return Err(AllowListProblem::UnterminatedString {
                            block: true,
                            context: context.to_string(),
                        }
                        .at(self.pos(i)));
                    }
                    Some(rest) if rest.starts_with(b"\\\"\"\"") => k += 4,
                    Some(rest) if rest.starts_with(b"\"\"\"") => return Ok(k + 3),
                    Some(_) => k += 1,
                }
            }
        }
        let mut k = i + 1;
        loop {
            match b.get(k) {
                Some(b'"') => return Ok(k + 1),
                Some(b'\\') if !matches!(b.get(k + 1), None | Some(b'\n' | b'\r')) => k += 2,
                None | Some(b'\n' | b'\r' | b'\\') => {
                    return Err(AllowListProblem::UnterminatedString {
                        block: false,
                        context: context.to_string(),
                    }
                    .at(self.pos(i)));
                }
                Some(_) => k += 1,
            }
        }
    }

    /// Skips GraphQL's ignored tokens: white space, line terminators, commas, comments and
    /// byte order marks.
    fn skip_ignored(&self, mut i: usize) -> usize {
        let b = self.b;
        loop {
            match b.get(i) {
                Some(b' ' | b'\t' | b'\n' | b'\r' | b',') => i += 1,
                Some(b'#') => i = line_end(b, i),
                Some(0xEF) if b.get(i..i + 3) == Some(BOM.as_bytes()) => i += 3,
                _ => return i,
            }
        }
    }

    /// Describes the token at `off` for an error message.
    fn describe(&self, off: usize) -> String {
        let off = floor_char_boundary(self.s, off);
        let Some(ch) = self.s.get(off..).and_then(|rest| rest.chars().next()) else {
            return "end of file".to_string();
        };
        match ch {
            '\n' | '\r' => "end of line".to_string(),
            c if c.is_ascii() && is_name_start(c as u8) => {
                let word = self.slice(off, name_end(self.b, off));
                if word.len() > 40 {
                    format!("`{}...`", &word[..40])
                } else {
                    format!("`{word}`")
                }
            }
            c if c.is_control() || c == '`' => format!("{c:?}"),
            c => format!("`{c}`"),
        }
    }
}

/// Adds a comment line to the pending comments.
fn push_comment(pending: &mut Option<PendingComments>, start: usize, end: usize, line: String) {
    let p = pending.get_or_insert_with(|| PendingComments {
        start,
        end,
        lines: Vec::new(),
    });
    p.end = end;
    p.lines.push(line);
}

/// Records a name, failing if one equal to it case-insensitively was seen.
fn check_unique(
    seen: &mut HashMap<String, (String, Pos)>,
    what: &'static str,
    name: &str,
    pos: Pos,
) -> Result<(), AllowListError> {
    let key = name.to_ascii_lowercase();
    if let Some((first_name, first)) = seen.get(&key) {
        return Err(AllowListProblem::DuplicateName {
            what,
            name: name.to_string(),
            first_name: first_name.clone(),
            first: *first,
        }
        .at(pos));
    }
    seen.insert(key, (name.to_string(), pos));
    Ok(())
}

/// The byte offset in `json` of a serde_json error position (1-based line counted by `\n`,
/// 1-based column counted in bytes; column 0 means the `\n` ending the previous line).
fn json_error_offset(json: &str, line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match json.get(start..).and_then(|rest| rest.find('\n')) {
            Some(p) => start += p + 1,
            None => break,
        }
    }
    if column == 0 && start > 0 {
        // The newline itself (or the `\r` before it).
        let newline = start - 1;
        return if newline > 0 && json.as_bytes()[newline - 1] == b'\r' {
            newline - 1
        } else {
            newline
        };
    }
    floor_char_boundary(json, start + column.saturating_sub(1))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const EXAMPLE: &str = r#"# Comment lines directly above an entry belong to that entry.
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

fragment userFields on users {
  id
  email
}
"#;

    fn ok(src: &str) -> AllowList {
        match parse(src.as_bytes()) {
            Ok(list) => list,
            Err(err) => panic!("unexpected error: {err}\n--- input ---\n{src}"),
        }
    }

    fn err(src: &str) -> String {
        match parse(src.as_bytes()) {
            Ok(list) => panic!("expected an error, got {list:?}\n--- input ---\n{src}"),
            Err(err) => err.to_string(),
        }
    }

    fn op(list: &AllowList, name: &str) -> OperationEntry {
        list.find(name).cloned().expect("operation exists")
    }

    #[test]
    fn reads_the_example() {
        let list = ok(EXAMPLE);
        assert_eq!(list.items.len(), 3);
        let create = op(&list, "createProduct");
        assert_eq!(create.kind, OpKind::Mutation);
        assert_eq!(
            create.comments,
            [
                "# Comment lines directly above an entry belong to that entry.",
                "# They can span several lines."
            ]
        );
        assert_eq!(
            create.variables.as_deref(),
            Some("{\n  \"data\": {\n    \"name\": \"\",\n    \"price\": 0\n  }\n}")
        );
        assert_eq!(
            create.text,
            "mutation createProduct {\n  products(insert: $data) { id name }\n}"
        );
        assert_eq!(create.pos, Pos::new(10, 1));
        assert_eq!(create.name_pos, Pos::new(10, 10));
        assert_eq!(create.span.start, 0);
        assert!(EXAMPLE[create.span.clone()].ends_with("{ id name }\n}"));

        let get = op(&list, "GETPRODUCTS");
        assert_eq!(get.name, "getProducts");
        assert_eq!(get.kind, OpKind::Query);
        assert!(get.comments.is_empty());
        assert_eq!(get.variables, None);
        assert!(
            get.text
                .starts_with("query getProducts {\n  products(where:")
        );
        assert!(get.text.ends_with("    id\n  }\n}"));
        assert_eq!(get.pos, Pos::new(14, 1));
        assert_eq!(get.name_pos, Pos::new(14, 7));
        assert_eq!(&EXAMPLE[get.span.clone()], get.text);

        let fragments: Vec<_> = list.fragments().collect();
        assert_eq!(fragments.len(), 1);
        assert_eq!(fragments[0].name, "userFields");
        assert_eq!(
            fragments[0].text,
            "fragment userFields on users {\n  id\n  email\n}"
        );
        assert_eq!(fragments[0].pos, Pos::new(20, 1));
        assert_eq!(fragments[0].name_pos, Pos::new(20, 10));
        assert!(list.find_fragment("USERFIELDS").is_some());
        assert!(list.find("userFields").is_none());
    }

    #[test]
    fn braces_in_strings_block_strings_and_comments_do_not_count() {
        let src = concat!(
            "query a($w: users_bool_exp = {name: {eq: \"}\"}}) @cached(ttl: \"{\") {\n",
            "  users(where: {bio: {eq: \"\\\"}\\\\\"}}) { # } unbalanced { in a comment\n",
            "    id\n",
            "    note(text: \"\"\"\n",
            "      a block string } with \\\"\"\" and { braces\n",
            "    \"\"\")\n",
            "  }\n",
            "}\n",
            "\n",
            "subscription b { x(s: \"#{\") }\n",
        );
        let list = ok(src);
        let a = op(&list, "a");
        assert!(a.text.ends_with("\"\"\")\n  }\n}"), "{}", a.text);
        assert_eq!(a.span, 0..src.find("\n\nsubscription").unwrap());
        let b = op(&list, "b");
        assert_eq!(b.kind, OpKind::Subscription);
        assert_eq!(b.text, "subscription b { x(s: \"#{\") }");
        assert_eq!(b.pos, Pos::new(10, 1));
    }

    #[test]
    fn variables_json_strings_may_hold_braces_and_hashes() {
        let src = "variables { \"a}\": \"#{\\\"}\", \"b\": [1, {\"c\": null}] }\nquery q { x }\n";
        let list = ok(src);
        let q = op(&list, "q");
        assert_eq!(
            q.variables.as_deref(),
            Some("{ \"a}\": \"#{\\\"}\", \"b\": [1, {\"c\": null}] }")
        );
        assert_eq!(q.span, 0..src.len() - 1);
    }

    #[test]
    fn comments_attach_to_the_entry_directly_below() {
        let src = concat!(
            "# file header\n",                         // 1
            "# second header line\n",                  // 2
            "\n",                                      // 3
            "  # indented, attached\n",                // 4
            "query a { x }  # trailing\n",             // 5
            "# attached across the variables block\n", // 6
            "variables {}\n",                          // 7
            "\n",                                      // 8
            "# between variables and operation\n",     // 9
            "query b { x }\n",                         // 10
            "\n",                                      // 11
            "# detached\n",                            // 12
            "\n",                                      // 13
            "# attached to fragment\n",                // 14
            "fragment f on t { id }\n",                // 15
            "# at the end\n",                          // 16
        );
        let list = ok(src);
        let kinds: Vec<&str> = list
            .items
            .iter()
            .map(|item| match item {
                Item::Operation(_) => "op",
                Item::Fragment(_) => "fragment",
                Item::FreeComment(_) => "free",
            })
            .collect();
        assert_eq!(kinds, ["free", "op", "op", "free", "fragment", "free"]);
        let free: Vec<_> = list.free_comments().collect();
        assert_eq!(free[0].lines, ["# file header", "# second header line"]);
        assert_eq!(free[0].pos, Pos::new(1, 1));
        assert_eq!(
            &src[free[0].span.clone()],
            "# file header\n# second header line"
        );
        assert_eq!(free[1].lines, ["# detached"]);
        assert_eq!(free[1].pos, Pos::new(12, 1));
        assert_eq!(free[2].lines, ["# at the end"]);

        let a = op(&list, "a");
        assert_eq!(a.comments, ["  # indented, attached"]);
        assert_eq!(a.trailing_comment.as_deref(), Some("# trailing"));
        assert_eq!(
            &src[a.span.clone()],
            "  # indented, attached\nquery a { x }  # trailing"
        );
        let b = op(&list, "b");
        assert_eq!(
            b.comments,
            [
                "# attached across the variables block",
                "# between variables and operation"
            ]
        );
        assert_eq!(b.variables.as_deref(), Some("{}"));
        assert!(src[b.span.clone()].starts_with("# attached across"));
        assert!(src[b.span.clone()].ends_with("query b { x }"));
        let f = list.find_fragment("f").unwrap();
        assert_eq!(f.comments, ["# attached to fragment"]);
        assert_eq!(f.pos, Pos::new(15, 1));
    }

    #[test]
    fn crlf_line_endings() {
        let src = EXAMPLE.replace('\n', "\r\n");
        let list = ok(&src);
        let lf = ok(EXAMPLE);
        let create = op(&list, "createProduct");
        assert_eq!(create.comments, op(&lf, "createProduct").comments);
        assert_eq!(create.pos, Pos::new(10, 1));
        assert_eq!(create.name_pos, Pos::new(10, 10));
        assert_eq!(
            create.text,
            "mutation createProduct {\r\n  products(insert: $data) { id name }\r\n}"
        );
        assert!(create.variables.as_deref().unwrap().contains("\r\n"));
        let get = op(&list, "getProducts");
        assert_eq!(get.pos, Pos::new(14, 1));
        assert_eq!(&src[get.span.clone()], get.text);
        assert_eq!(list.fragments().next().unwrap().pos, Pos::new(20, 1));
        // Lone carriage returns end lines too.
        let list = ok("# c\rquery a {\r x }\r");
        assert_eq!(op(&list, "a").pos, Pos::new(2, 1));
        assert_eq!(op(&list, "a").comments, ["# c"]);
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        let list = ok("\u{feff}query a { x }\n");
        let a = op(&list, "a");
        assert_eq!(a.pos, Pos::new(1, 1));
        assert_eq!(a.span, 3..16);
    }

    #[test]
    fn not_utf8() {
        let e = parse(b"query a {\n  x\xff }\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "allow.list:2:4: the file is not valid UTF-8 (byte 0xFF is not part of a valid character)"
        );
        // Columns count characters; a truncated sequence at the end is reported too.
        let e = parse("# é\né\u{1F600}".as_bytes().split_last().unwrap().1).unwrap_err();
        assert_eq!(e.pos(), Pos::new(2, 2));
        assert!(matches!(
            e.problem,
            AllowListProblem::NotUtf8 { byte: 0xF0 }
        ));
    }

    #[test]
    fn no_operations() {
        for src in [
            "",
            "\n\n  \n",
            "# only\n# comments\n",
            "fragment f on t { id }\n",
        ] {
            let e = parse(src.as_bytes()).unwrap_err();
            assert_eq!(
                e.to_string(),
                "allow.list:1:1: allow.list has no operations"
            );
            let AllowListProblem::NoOperations { list } = e.problem else {
                panic!("wrong variant")
            };
            assert_eq!(
                list.fragments().count(),
                usize::from(src.starts_with("fragment"))
            );
        }
    }

    #[test]
    fn operations_must_be_named() {
        assert_eq!(
            err("query a { x }\n\n{ users { id } }\n"),
            "allow.list:3:1: operations in allow.list must be named (found an anonymous `{ ... }`; write `query someName { ... }`)"
        );
        assert_eq!(
            err("\n  query { x }\n"),
            "allow.list:2:3: operations in allow.list must be named (write `query someName ...` instead of `query ...`)"
        );
        assert_eq!(
            err("mutation($a: Int) { x }"),
            "allow.list:1:1: operations in allow.list must be named (write `mutation someName ...` instead of `mutation ...`)"
        );
        assert!(
            err("subscription\n  @live { x }")
                .starts_with("allow.list:1:1: operations in allow.list must be named")
        );
    }

    #[test]
    fn unclosed_braces_name_where_they_open() {
        assert_eq!(
            err("query a { x }\n\nquery getProducts {\n  users {\n    id\n}\n\nquery b { y }\n"),
            "allow.list:3:19: `{` of operation \"getProducts\" is never closed (the file ends first); it runs into `query` at allow.list:8:1; is a `}` missing before it?"
        );
        assert_eq!(
            err("query a { x }\nfragment f on t { id "),
            "allow.list:2:17: `{` of fragment \"f\" is never closed (the file ends first)"
        );
        assert_eq!(
            err("query a($id: ID { x }\n"),
            "allow.list:1:8: `(` of operation \"a\" is never closed (the file ends first)"
        );
        assert_eq!(
            err("variables {\n  \"a\": {\n}\n\nquery a { x }\n"),
            "allow.list:1:11: `{` of the variables block is never closed (the file ends first); it runs into `query` at allow.list:5:1; is a `}` missing before it?"
        );
    }

    #[test]
    fn unterminated_strings() {
        assert_eq!(
            err("query a {\n  x(s: \"abc) }\n}\n"),
            "allow.list:2:8: unterminated string in operation \"a\""
        );
        assert_eq!(
            err("query a {\n  x(s: \"\"\"abc\\\"\"\") }\n}\n"),
            "allow.list:2:8: unterminated block string (\"\"\") in operation \"a\""
        );
        assert_eq!(
            err("variables { \"a\n\": 1 }\nquery a { x }"),
            "allow.list:1:13: unterminated string in the variables block"
        );
        assert_eq!(
            err("query a($s: String = \"x\\\n\") { x }"),
            "allow.list:1:22: unterminated string in operation \"a\""
        );
    }

    #[test]
    fn variables_must_be_a_json_object() {
        assert_eq!(
            err("# c\nvariables {\n  \"a\": 1,\n  \"é\": tru\n}\nquery a { x }\n"),
            "allow.list:4:11: variables block is not valid JSON: expected ident"
        );
        assert_eq!(
            err("variables {\n  \"a\": 1,\n}\nquery a { x }\n"),
            "allow.list:3:1: variables block is not valid JSON: trailing comma"
        );
        assert_eq!(
            err("variables [1]\nquery a { x }\n"),
            "allow.list:1:11: variables must be a JSON object `{ ... }`, found `[`"
        );
        assert_eq!(
            err("variables\n"),
            "allow.list:2:1: variables must be a JSON object `{ ... }`, found end of file"
        );
    }

    #[test]
    fn variables_need_an_operation() {
        assert_eq!(
            err("query a { x }\n\n  variables { \"a\": 1 }\n\n# c\n"),
            "allow.list:3:3: variables block is not followed by the query, mutation or subscription it belongs to (found end of file)"
        );
        assert_eq!(
            err("variables {}\nfragment f on t { id }\nquery a { x }\n"),
            "allow.list:1:1: variables block is not followed by the query, mutation or subscription it belongs to (found `fragment` at allow.list:2:1)"
        );
        assert_eq!(
            err("variables {}\nvariables {}\nquery a { x }\n"),
            "allow.list:1:1: variables block is not followed by the query, mutation or subscription it belongs to (found another `variables` block at allow.list:2:1)"
        );
    }

    #[test]
    fn unexpected_text() {
        let tail = "expected a `#` comment, a `variables { ... }` block, or a named `query`, `mutation`, `subscription` or `fragment`";
        assert_eq!(
            err("query a { x }\n\nhello world\n"),
            format!("allow.list:3:1: unexpected `hello`: {tail}")
        );
        assert_eq!(
            err("query a {\n  x\n}\n  }\n"),
            format!("allow.list:4:3: unexpected `}}`: {tail}")
        );
        assert_eq!(
            err("queryX a { x }"),
            format!("allow.list:1:1: unexpected `queryX`: {tail}")
        );
        assert_eq!(
            err("\u{e9}"),
            format!("allow.list:1:1: unexpected `\u{e9}`: {tail}")
        );
        assert_eq!(
            err("\u{0}"),
            format!("allow.list:1:1: unexpected '\\0': {tail}")
        );
    }

    #[test]
    fn expected_tokens_in_headers() {
        assert_eq!(
            err("query 1a { x }"),
            "allow.list:1:7: expected a name after `query`, found `1`"
        );
        assert_eq!(
            err("query"),
            "allow.list:1:6: expected a name after `query`, found end of file"
        );
        assert_eq!(
            err("query getUsers\n  users { id }\n"),
            "allow.list:2:3: expected `{` to start the selection set of operation \"getUsers\", found `users`"
        );
        assert_eq!(
            err("query a @ { x }"),
            "allow.list:1:11: expected a directive name after `@`, found `{`"
        );
        assert_eq!(
            err("query a { x }\nfragment { id }"),
            "allow.list:2:10: expected a name after `fragment`, found `{`"
        );
        assert_eq!(
            err("query a { x }\nfragment f users { id }"),
            "allow.list:2:12: expected `on` after the fragment name, found `users`"
        );
        assert_eq!(
            err("query a { x }\nfragment f on { id }"),
            "allow.list:2:15: expected a type name after `on`, found `{`"
        );
        assert_eq!(
            err("query a ) { x }"),
            "allow.list:1:9: expected `{` to start the selection set of operation \"a\", found `)`"
        );
    }

    #[test]
    fn text_after_an_entry() {
        assert_eq!(
            err("query a { x } query b { y }\n"),
            "allow.list:1:15: unexpected `query` after the end of operation \"a\"; start the next entry on a new line"
        );
        assert_eq!(
            err("variables {} query a { x }\n"),
            "allow.list:1:14: unexpected `query` after the end of the variables block; start the next entry on a new line"
        );
        assert_eq!(
            err("query a { x }\nfragment f on t { id } }\n"),
            "allow.list:2:24: unexpected `}` after the end of fragment \"f\"; start the next entry on a new line"
        );
    }

    #[test]
    fn duplicate_names() {
        let src = "query getProducts { a }\n\nquery other { b }\n\n\n\n\n\n\n\n\n\n\nquery getProducts { c }\n";
        assert_eq!(
            err(src),
            "allow.list:14:7: duplicate operation name \"getProducts\" (first defined at allow.list:1:7; names are compared case-insensitively)"
        );
        assert_eq!(
            err("query getProducts { a }\nmutation GETPRODUCTS { b }\n"),
            "allow.list:2:10: duplicate operation name \"GETPRODUCTS\" (first defined as \"getProducts\" at allow.list:1:7; names are compared case-insensitively)"
        );
        assert_eq!(
            err("fragment f on t { a }\nfragment F on t { b }\nquery q { x }\n"),
            "allow.list:2:10: duplicate fragment name \"F\" (first defined as \"f\" at allow.list:1:10; names are compared case-insensitively)"
        );
        // Operations and fragments have separate namespaces.
        ok("fragment same on t { a }\nquery same { ...same }\n");
    }

    #[test]
    fn json_error_offsets() {
        assert_eq!(json_error_offset("{\n  x}", 2, 3), 4);
        assert_eq!(json_error_offset("{", 9, 9), 1);
        assert_eq!(json_error_offset("{é", 1, 3), 1);
        assert_eq!(json_error_offset("{", 1, 0), 0);
        assert_eq!(json_error_offset("{\nab\n", 3, 0), 4);
        assert_eq!(json_error_offset("{\r\nab\r\n", 3, 0), 5);
    }
}
