//! Why an allow list could not be read.

use crate::gql::ast::OpKind;
use crate::source::Pos;

use super::AllowList;

/// An error reading `config/allow.list`; its `Display` reads `allow.list:LINE:COL: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllowListError {
    /// The file is not UTF-8 text; `pos` is where the first bad byte is.
    #[error(
        "allow.list:{pos}: the file is not valid UTF-8 (byte 0x{byte:02X} is not part of a valid character)"
    )]
    NotUtf8 {
        /// Where the first invalid byte is.
        pos: Pos,
        /// The first invalid byte.
        byte: u8,
    },

    /// The file is empty, or holds only comments and fragments. `list` is what was read, for
    /// callers that accept an empty allow list.
    #[error("allow.list:{pos}: allow.list has no operations")]
    NoOperations {
        /// Always 1:1.
        pos: Pos,
        /// The comments and fragments the file does hold.
        list: AllowList,
    },

    /// An anonymous operation: `{ ... }` or `query { ... }`.
    #[error("allow.list:{pos}: operations in allow.list must be named ({})", unnamed_hint(*kind))]
    Unnamed {
        /// Where the operation starts.
        pos: Pos,
        /// The keyword written, or `None` for the `{ ... }` shorthand.
        kind: Option<OpKind>,
    },

    /// A `{` or `(` whose closing counterpart never comes.
    #[error(
        "allow.list:{pos}: `{delim}` of {context} is never closed (the file ends first){}",
        hint_text(hint)
    )]
    Unclosed {
        /// Where the unclosed delimiter is.
        pos: Pos,
        /// `{` or `(`.
        delim: char,
        /// What it opens, e.g. `operation "getProducts"` or `the variables block`.
        context: String,
        /// Where the entry apparently runs into the next one, if it does.
        hint: Option<String>,
    },

    /// A `"` string (or `"""` block string) without its closing quote.
    #[error("allow.list:{pos}: unterminated {} in {context}", if *block { "block string (\"\"\")" } else { "string" })]
    UnterminatedString {
        /// Where the string starts.
        pos: Pos,
        /// Whether it is a `"""` block string.
        block: bool,
        /// What it is in.
        context: String,
    },

    /// The variables block is not valid JSON; `pos` is where the JSON parser stopped.
    #[error("allow.list:{pos}: variables block is not valid JSON: {message}")]
    InvalidJson {
        /// Where the JSON error is, in file coordinates.
        pos: Pos,
        /// The JSON parser's message.
        message: String,
    },

    /// `variables` is not followed by a `{ ... }` JSON object.
    #[error("allow.list:{pos}: variables must be a JSON object `{{ ... }}`, found {found}")]
    VariablesNotObject {
        /// Where the non-object starts.
        pos: Pos,
        /// What was found.
        found: String,
    },

    /// A variables block with no operation after it.
    #[error(
        "allow.list:{pos}: variables block is not followed by the query, mutation or subscription it belongs to (found {found})"
    )]
    VariablesWithoutOperation {
        /// Where `variables` starts.
        pos: Pos,
        /// What follows the block instead.
        found: String,
    },

    /// A line that is not a comment, variables block, operation or fragment.
    #[error(
        "allow.list:{pos}: unexpected {found}: expected a `#` comment, a `variables {{ ... }}` block, or a named `query`, `mutation`, `subscription` or `fragment`"
    )]
    UnexpectedText {
        /// Where the text starts.
        pos: Pos,
        /// What was found.
        found: String,
    },

    /// Something specific was expected inside an entry's header.
    #[error("allow.list:{pos}: expected {expected}, found {found}")]
    Expected {
        /// Where the unexpected token starts.
        pos: Pos,
        /// What should have been there.
        expected: String,
        /// What was found.
        found: String,
    },

    /// Text after an entry's closing brace on the same line.
    #[error(
        "allow.list:{pos}: unexpected {found} after the end of {context}; start the next entry on a new line"
    )]
    TextAfterEntry {
        /// Where the text starts.
        pos: Pos,
        /// What was found.
        found: String,
        /// The entry that just ended.
        context: String,
    },

    /// Two operations (or two fragments) whose names differ only in case, or not at all.
    #[error(
        "allow.list:{pos}: duplicate {what} name \"{name}\" (first defined {}at allow.list:{first}; names are compared case-insensitively)",
        first_as(name, first_name)
    )]
    DuplicateName {
        /// Where the second name is.
        pos: Pos,
        /// `operation` or `fragment`.
        what: &'static str,
        /// The second name as written.
        name: String,
        /// The first name as written.
        first_name: String,
        /// Where the first name is.
        first: Pos,
    },
}

impl AllowListError {
    /// Where in the file the error is.
    pub fn pos(&self) -> Pos {
        match self {
            AllowListError::NotUtf8 { pos, .. }
            | AllowListError::NoOperations { pos, .. }
            | AllowListError::Unnamed { pos, .. }
            | AllowListError::Unclosed { pos, .. }
            | AllowListError::UnterminatedString { pos, .. }
            | AllowListError::InvalidJson { pos, .. }
            | AllowListError::VariablesNotObject { pos, .. }
            | AllowListError::VariablesWithoutOperation { pos, .. }
            | AllowListError::UnexpectedText { pos, .. }
            | AllowListError::Expected { pos, .. }
            | AllowListError::TextAfterEntry { pos, .. }
            | AllowListError::DuplicateName { pos, .. } => *pos,
        }
    }
}

fn unnamed_hint(kind: Option<OpKind>) -> String {
    match kind {
        None => "found an anonymous `{ ... }`; write `query someName { ... }`".to_string(),
        Some(kind) => {
            let kw = kind.keyword();
            format!("write `{kw} someName ...` instead of `{kw} ...`")
        }
    }
}

fn hint_text(hint: &Option<String>) -> String {
    match hint {
        Some(hint) => format!("; {hint}"),
        None => String::new(),
    }
}

fn first_as(name: &str, first_name: &str) -> String {
    if name == first_name {
        String::new()
    } else {
        format!("as \"{first_name}\" ")
    }
}
