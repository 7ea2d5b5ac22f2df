//! Why an allow list could not be read: what is wrong ([`AllowListProblem`]) and where.

use crate::gql::ast::OpKind;
use crate::origin::{Located, Origin};
use crate::source::Pos;

use super::AllowList;

/// An error reading `config/allow.list`: the problem and its position, as fields. Its
/// `Display` reads `allow.list:LINE:COL: message`; [`crate::Error::located`] puts the config
/// folder in front.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", Located { origin: Origin::AllowList, dir: None, pos: self.pos, message: &self.problem })]
pub struct AllowListError {
    /// Where in the file the error is.
    pub pos: Pos,
    /// What is wrong there.
    pub problem: AllowListProblem,
}

/// What is wrong with an allow list, without where (the message of an [`AllowListError`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllowListProblem {
    /// The file is not UTF-8 text; the position is the first bad byte's.
    #[error("the file is not valid UTF-8 (byte 0x{byte:02X} is not part of a valid character)")]
    NotUtf8 {
        /// The first invalid byte.
        byte: u8,
    },

    /// The file is empty, or holds only comments and fragments. `list` is what was read, for
    /// callers that accept an empty allow list.
    #[error("allow.list has no operations")]
    NoOperations {
        /// The comments and fragments the file does hold.
        list: AllowList,
    },

    /// An anonymous operation: `{ ... }` or `query { ... }`.
    #[error("operations in allow.list must be named ({})", unnamed_hint(*kind))]
    Unnamed {
        /// The keyword written, or `None` for the `{ ... }` shorthand.
        kind: Option<OpKind>,
    },

    /// A `{` or `(` whose closing counterpart never comes.
    #[error(
        "`{delim}` of {context} is never closed (the file ends first){}",
        hint_text(hint)
    )]
    Unclosed {
        /// `{` or `(`.
        delim: char,
        /// What it opens, e.g. `operation "getProducts"` or `the variables block`.
        context: String,
        /// Where the entry apparently runs into the next one, if it does.
        hint: Option<String>,
    },

    /// A `"` string (or `"""` block string) without its closing quote.
    #[error("unterminated {} in {context}", if *block { "block string (\"\"\")" } else { "string" })]
    UnterminatedString {
        /// Whether it is a `"""` block string.
        block: bool,
        /// What it is in.
        context: String,
    },

    /// The variables block is not valid JSON; the position is where the JSON parser stopped.
    #[error("variables block is not valid JSON: {message}")]
    InvalidJson {
        /// The JSON parser's message.
        message: String,
    },

    /// `variables` is not followed by a `{ ... }` JSON object.
    #[error("variables must be a JSON object `{{ ... }}`, found {found}")]
    VariablesNotObject {
        /// What was found.
        found: String,
    },

    /// A variables block with no operation after it.
    #[error(
        "variables block is not followed by the query, mutation or subscription it belongs to (found {found})"
    )]
    VariablesWithoutOperation {
        /// What follows the block instead.
        found: String,
    },

    /// A line that is not a comment, variables block, operation or fragment.
    #[error(
        "unexpected {found}: expected a `#` comment, a `variables {{ ... }}` block, or a named `query`, `mutation`, `subscription` or `fragment`"
    )]
    UnexpectedText {
        /// What was found.
        found: String,
    },

    /// Something specific was expected inside an entry's header.
    #[error("expected {expected}, found {found}")]
    Expected {
        /// What should have been there.
        expected: String,
        /// What was found.
        found: String,
    },

    /// Text after an entry's closing brace on the same line.
    #[error("unexpected {found} after the end of {context}; start the next entry on a new line")]
    TextAfterEntry {
        /// What was found.
        found: String,
        /// The entry that just ended.
        context: String,
    },

    /// Two operations (or two fragments) whose names differ only in case, or not at all.
    #[error(
        "duplicate {what} name \"{name}\" (first defined {}at allow.list:{first}; names are compared case-insensitively)",
        first_as(name, first_name)
    )]
    DuplicateName {
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
        self.pos
    }
}

impl AllowListProblem {
    /// This problem at `pos`.
    pub fn at(self, pos: Pos) -> AllowListError {
        AllowListError { pos, problem: self }
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
