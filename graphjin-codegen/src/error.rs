//! The one error type of the build pipeline: every stage's error, with the file, line and
//! column a user has to look at as fields, rendered by [`Error::located`].

use std::fmt;
use std::path::{Path, PathBuf};

use crate::allowlist::AllowListError;
use crate::compile::CatalogError;
use crate::config::ConfigError;
use crate::origin::{Located, Origin};
use crate::schema::SchemaError;
use crate::source::Pos;
use crate::tools::compliance::ComplianceError;

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
    #[error("{}", self.located(None))]
    Syntax {
        /// The text the operation is in.
        origin: Origin,
        /// Where, in that text.
        pos: Pos,
        /// What.
        message: String,
    },
    /// An operation does not fit the schema or config.
    #[error("{}", self.located(None))]
    Operation {
        /// The text the operation is in.
        origin: Origin,
        /// Where, in that text.
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
    Compliance(#[from] ComplianceError),
}

impl Error {
    /// The text the error points into and the position there, if it points at one.
    pub fn location(&self) -> Option<(Origin, Pos)> {
        match self {
            Error::AllowList(e) => Some((Origin::AllowList, e.pos)),
            Error::Syntax { origin, pos, .. } | Error::Operation { origin, pos, .. } => {
                Some((*origin, *pos))
            }
            Error::Compliance(e) => e.pos().map(|pos| (Origin::AllowList, pos)),
            _ => None,
        }
    }

    /// The allow.list position the error points at, if any.
    pub fn allow_list_pos(&self) -> Option<Pos> {
        match self.location() {
            Some((Origin::AllowList, pos)) => Some(pos),
            _ => None,
        }
    }

    /// The error as a user reads it: `ORIGIN:LINE:COL: message` when it has a position, with
    /// `allow.list` under `dir` when the config folder is given
    /// (`config/allow.list:12:5: unknown table ...`); errors about other files name their
    /// file themselves. `Display` is this without `dir`.
    pub fn located<'a>(&'a self, dir: Option<&'a Path>) -> impl fmt::Display + 'a {
        Rendered { error: self, dir }
    }

    /// The message without its location, for errors that have one.
    fn message(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::AllowList(e) => write!(f, "{}", e.problem),
            Error::Syntax { message, .. } => f.write_str(message),
            Error::Operation {
                operation,
                role,
                message,
                ..
            } => write!(f, "{message} (operation `{operation}`, role `{role}`)"),
            Error::Compliance(ComplianceError::Violation { breach, .. }) => write!(f, "{breach}"),
            other => write!(f, "{other}"),
        }
    }
}

/// [`Error::located`]'s result.
struct Rendered<'a> {
    error: &'a Error,
    dir: Option<&'a Path>,
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.error.location() {
            Some((origin, pos)) => Located {
                origin,
                dir: self.dir,
                pos,
                message: &Message(self.error),
            }
            .fmt(f),
            None => write!(f, "{}", self.error),
        }
    }
}

/// An error's message without its location.
struct Message<'a>(&'a Error);

impl fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.message(f)
    }
}
