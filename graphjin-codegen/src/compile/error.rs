//! What can go wrong when an operation is checked against the schema and config.

use crate::source::Pos;

/// A compile error: where in the operation text, and what a user can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pos}: {message}")]
pub struct CompileError {
    /// Position in the operation's text (relative to the text given to the parser).
    pub pos: Pos,
    /// What is wrong, with a suggestion when there is one.
    pub message: String,
    /// The operation is valid but this role may not run it (a blocked column, function...):
    /// the build goes on without a statement for the role, and the runtime refuses it.
    pub refused: bool,
}

impl CompileError {
    /// An error at `pos`.
    pub fn new(pos: Pos, message: impl Into<String>) -> Self {
        CompileError {
            pos,
            message: message.into(),
            refused: false,
        }
    }

    /// The role may not run the operation: `message` says why.
    pub fn refused(pos: Pos, message: impl Into<String>) -> Self {
        CompileError {
            pos,
            message: message.into(),
            refused: true,
        }
    }
}

/// Shorthand for compiler results.
pub type Result<T, E = CompileError> = std::result::Result<T, E>;
