//! The one error type of the build pipeline: every stage's error, rendered with the file,
//! line and column a user has to look at.

use std::path::PathBuf;

use crate::allowlist::AllowListError;
use crate::compile::CatalogError;
use crate::config::ConfigError;
use crate::schema::SchemaError;
use crate::source::Pos;

/// Anything that stops a build.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A required file is missing.
    #[error("{}: not found ({hint})", path.display())]
    Missing {
        /// The file.
        path: PathBuf,
        /// What to do about it.
        hint: &'static str,
    },
    /// `allow.list` is malformed.
    #[error("{0}")]
    AllowList(#[from] AllowListError),
    /// `db.graphql` is malformed.
    #[error("{0}")]
    Schema(#[from] SchemaError),
    /// The YAML config is malformed.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The config does not fit the schema.
    #[error("{file}: {source}")]
    Catalog {
        /// The config file.
        file: String,
        /// What does not fit.
        source: CatalogError,
    },
    /// An operation is not valid GraphQL.
    #[error("allow.list:{pos}: {message}")]
    Syntax {
        /// Where, in allow.list.
        pos: Pos,
        /// What.
        message: String,
    },
    /// An operation does not fit the schema or config.
    #[error("allow.list:{pos}: {message} (operation `{operation}`, role `{role}`)")]
    Operation {
        /// Where, in allow.list.
        pos: Pos,
        /// The operation's name.
        operation: String,
        /// The role being compiled.
        role: String,
        /// What.
        message: String,
    },
    /// A config key names an operation allow.list does not have.
    #[error("{file}: key `{key}`: allow.list has no operation `{name}`{suggestion}")]
    UnknownOperation {
        /// The config file.
        file: String,
        /// The key path, e.g. `database.operation_timeouts`.
        key: String,
        /// The name as written.
        name: String,
        /// A ` (did you mean ...?)` suffix, or empty.
        suggestion: String,
    },
    /// A compliance rule is malformed, or an operation breaks one.
    #[error("{0}")]
    Compliance(#[from] crate::tools::compliance::ComplianceError),
}

impl Error {
    /// The allow.list position the error points at, if any.
    pub fn allow_list_pos(&self) -> Option<Pos> {
        match self {
            Error::AllowList(e) => Some(e.pos()),
            Error::Syntax { pos, .. } | Error::Operation { pos, .. } => Some(*pos),
            Error::Compliance(e) => e.pos(),
            _ => None,
        }
    }
}
