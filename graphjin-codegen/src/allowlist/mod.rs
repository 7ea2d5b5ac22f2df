//! `config/allow.list`: GraphJin's single-file list of named operations.
//!
//! The file is a sequence of entries separated by blank lines:
//!
//! ```text
//! # Comment lines directly above an entry belong to that entry.
//! variables {
//!   "data": { "name": "" }
//! }
//!
//! mutation createProduct {
//!   products(insert: $data) { id name }
//! }
//!
//! fragment userFields on users {
//!   id
//! }
//! ```
//!
//! An operation entry is optional `#` comment lines, an optional `variables { ... }` JSON
//! object, then one named `query`, `mutation` or `subscription` that ends at the brace closing
//! its top-level selection set. A `fragment Name on Type { ... }` is an entry of its own.
//! Comment lines separated from the next entry by a blank line are kept as
//! [`FreeComment`]s.
//!
//! [`parse`] reads the file into an [`AllowList`] without parsing the GraphQL itself (each
//! entry's text is kept verbatim together with its position, so the GraphQL parser's errors
//! can be mapped back into the file). [`write()`] renders a deterministic canonical file, and
//! [`upsert_operation`] edits one entry of an existing file leaving every other byte alone.

mod error;
mod parse;
mod scan;
mod write;

#[cfg(test)]
mod tests;

use std::ops::Range;

use crate::gql::ast::OpKind;
use crate::source::Pos;

pub use error::{AllowListError, AllowListProblem};
pub use parse::parse;
pub use write::{clear_variables, upsert_operation, write};

/// The contents of an allow list, entries in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AllowList {
    /// Operations, fragments and detached comments, in the order they appear in the file.
    pub items: Vec<Item>,
}

/// One entry of an allow list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A named `query`, `mutation` or `subscription`, with its comments and variables.
    Operation(OperationEntry),
    /// A `fragment Name on Type { ... }` shared by all operations.
    Fragment(FragmentEntry),
    /// Comment lines not attached to any entry (a blank line or the end of the file follows
    /// them).
    FreeComment(FreeComment),
}

/// A named operation of the allow list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationEntry {
    /// The operation's name as written.
    pub name: String,
    /// Query, mutation or subscription.
    pub kind: OpKind,
    /// The comment lines directly above the entry (or between its variables block and the
    /// operation), as written, each without its line terminator.
    pub comments: Vec<String>,
    /// The JSON text of the `variables { ... }` block, verbatim from `{` to `}`.
    pub variables: Option<String>,
    /// The operation's GraphQL text verbatim, from its keyword to the brace that closes its
    /// top-level selection set. A position `p` relative to this text maps into the file as
    /// `p.offset_by(self.pos)`.
    pub text: String,
    /// A `# comment` written on the same line after the closing brace, if any.
    pub trailing_comment: Option<String>,
    /// Where the `query`/`mutation`/`subscription` keyword starts.
    pub pos: Pos,
    /// Where the operation's name starts.
    pub name_pos: Pos,
    /// The byte range of the whole entry in the file, from the start of the line of its
    /// first comment (or variables block, or keyword) to the end of its closing brace (or of
    /// its trailing comment), without the final line terminator.
    pub span: Range<usize>,
}

impl OperationEntry {
    /// A new entry without comments or variables, for building lists in code; its positions
    /// and span are zero.
    pub fn new(kind: OpKind, name: impl Into<String>, text: impl Into<String>) -> Self {
        OperationEntry {
            name: name.into(),
            kind,
            comments: Vec::new(),
            variables: None,
            text: text.into(),
            trailing_comment: None,
            pos: Pos::default(),
            name_pos: Pos::default(),
            span: 0..0,
        }
    }

    /// The entry as [`write()`] renders it (comments, cleared variables, text), without a
    /// final newline; suitable as the `entry_text` of [`upsert_operation`].
    pub fn render(&self) -> String {
        write::render_operation(self)
    }
}

/// A fragment definition of the allow list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentEntry {
    /// The fragment's name as written.
    pub name: String,
    /// The comment lines directly above the fragment, as written, each without its line
    /// terminator.
    pub comments: Vec<String>,
    /// The fragment's GraphQL text verbatim, from `fragment` to its closing brace.
    pub text: String,
    /// A `# comment` written on the same line after the closing brace, if any.
    pub trailing_comment: Option<String>,
    /// Where the `fragment` keyword starts.
    pub pos: Pos,
    /// Where the fragment's name starts.
    pub name_pos: Pos,
    /// The byte range of the whole entry in the file, comments included (see
    /// [`OperationEntry::span`]).
    pub span: Range<usize>,
}

impl FragmentEntry {
    /// A new fragment without comments, for building lists in code; its positions and span
    /// are zero.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        FragmentEntry {
            name: name.into(),
            comments: Vec::new(),
            text: text.into(),
            trailing_comment: None,
            pos: Pos::default(),
            name_pos: Pos::default(),
            span: 0..0,
        }
    }

    /// The entry as [`write()`] renders it (comments, text), without a final newline.
    pub fn render(&self) -> String {
        write::render_fragment(self)
    }
}

/// Comment lines that belong to no entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeComment {
    /// The comment lines as written, each without its line terminator.
    pub lines: Vec<String>,
    /// Where the first line starts.
    pub pos: Pos,
    /// The byte range of the lines in the file, without the final line terminator.
    pub span: Range<usize>,
}

impl AllowList {
    /// The operations in file order.
    pub fn operations(&self) -> impl Iterator<Item = &OperationEntry> {
        self.items.iter().filter_map(|item| match item {
            Item::Operation(op) => Some(op),
            _ => None,
        })
    }

    /// The fragments in file order.
    pub fn fragments(&self) -> impl Iterator<Item = &FragmentEntry> {
        self.items.iter().filter_map(|item| match item {
            Item::Fragment(fragment) => Some(fragment),
            _ => None,
        })
    }

    /// The detached comments in file order.
    pub fn free_comments(&self) -> impl Iterator<Item = &FreeComment> {
        self.items.iter().filter_map(|item| match item {
            Item::FreeComment(comment) => Some(comment),
            _ => None,
        })
    }

    /// The operation called `name`, compared case-insensitively.
    pub fn find(&self, name: &str) -> Option<&OperationEntry> {
        self.operations()
            .find(|op| op.name.eq_ignore_ascii_case(name))
    }

    /// The fragment called `name`, compared case-insensitively.
    pub fn find_fragment(&self, name: &str) -> Option<&FragmentEntry> {
        self.fragments().find(|f| f.name.eq_ignore_ascii_case(name))
    }
}

/// The order the writer uses for names: case-insensitive first, then exact.
pub(crate) fn name_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.to_ascii_lowercase()
        .cmp(&b.to_ascii_lowercase())
        .then_with(|| a.cmp(b))
}
