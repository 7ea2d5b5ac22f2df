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
    /// An operation asked for by name (`graphjin sql NAME`) is not in allow.list.
    #[error("allow.list has no operation `{name}`{suggestion}")]
    NoSuchOperation {
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
        self.parts().map(|(origin, pos, _)| (origin, pos))
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

    /// Where the error is and its message without that, for errors that point into a text.
    fn parts(&self) -> Option<(Origin, Pos, Message<'_>)> {
        match self {
            Error::AllowList(e) => Some((Origin::AllowList, e.pos, Message::Text(&e.problem))),
            Error::Syntax {
                origin,
                pos,
                message,
            } => Some((*origin, *pos, Message::Text(message))),
            Error::Operation {
                origin,
                pos,
                operation,
                role,
                message,
            } => Some((
                *origin,
                *pos,
                Message::Operation {
                    operation,
                    role,
                    message,
                },
            )),
            Error::Compliance(ComplianceError::Violation { pos, breach }) => {
                Some((Origin::AllowList, *pos, Message::Text(breach)))
            }
            _ => None,
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
        match self.error.parts() {
            Some((origin, pos, message)) => Located {
                origin,
                dir: self.dir,
                pos,
                message: &message,
            }
            .fmt(f),
            None => write!(f, "{}", self.error),
        }
    }
}

/// An error's message without its location.
enum Message<'a> {
    /// The message as it is.
    Text(&'a dyn fmt::Display),
    /// A compile error, with the operation and role it was found in.
    Operation {
        operation: &'a str,
        role: &'a str,
        message: &'a str,
    },
}

impl fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Message::Text(text) => text.fmt(f),
            Message::Operation {
                operation,
                role,
                message,
            } => write!(f, "{message} (operation `{operation}`, role `{role}`)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::allowlist::AllowListProblem;
    use crate::tools::compliance::Breach;

    const MESSAGE: &str =
        "unknown table `prodcts` (did you mean `products`?) (operation `getProducts`, role `anon`)";

    fn unknown_table(origin: Origin) -> Error {
        Error::Operation {
            origin,
            pos: Pos::new(12, 5),
            operation: "getProducts".into(),
            role: "anon".into(),
            message: "unknown table `prodcts` (did you mean `products`?)".into(),
        }
    }

    fn render(e: &Error, dir: Option<&str>) -> String {
        e.located(dir.map(Path::new)).to_string()
    }

    #[test]
    fn one_error_rendered_for_allow_list_with_and_without_dir_and_for_a_query() {
        let e = unknown_table(Origin::AllowList);
        assert_eq!(
            render(&e, Some("config")),
            format!("config/allow.list:12:5: {MESSAGE}")
        );
        assert_eq!(
            render(&e, Some("example-app/config/")),
            format!("example-app/config/allow.list:12:5: {MESSAGE}")
        );
        assert_eq!(render(&e, None), format!("allow.list:12:5: {MESSAGE}"));
        assert_eq!(e.to_string(), render(&e, None), "Display is the renderer");
        assert_eq!(e.allow_list_pos(), Some(Pos::new(12, 5)));

        // The text sent to the development server is in no file: the folder is not used.
        let q = unknown_table(Origin::Query);
        assert_eq!(render(&q, None), format!("query:12:5: {MESSAGE}"));
        assert_eq!(render(&q, Some("config")), format!("query:12:5: {MESSAGE}"));
        assert_eq!(q.to_string(), format!("query:12:5: {MESSAGE}"));
        assert_eq!(q.location(), Some((Origin::Query, Pos::new(12, 5))));
        assert_eq!(q.allow_list_pos(), None);
    }

    #[test]
    fn every_located_kind_goes_through_the_renderer() {
        let syntax = Error::Syntax {
            origin: Origin::Query,
            pos: Pos::new(1, 9),
            message: "expected a name, found `{`".into(),
        };
        assert_eq!(
            render(&syntax, Some("config")),
            "query:1:9: expected a name, found `{`"
        );

        let parse = Error::from(
            AllowListProblem::UnexpectedText {
                found: "`x`".into(),
            }
            .at(Pos::new(3, 1)),
        );
        let tail = "unexpected `x`: expected a `#` comment, a `variables { ... }` block, or a named `query`, `mutation`, `subscription` or `fragment`";
        assert_eq!(render(&parse, None), format!("allow.list:3:1: {tail}"));
        assert_eq!(
            render(&parse, Some("cfg")),
            format!("cfg/allow.list:3:1: {tail}")
        );

        let breach = Error::from(ComplianceError::Violation {
            pos: Pos::new(4, 5),
            breach: Breach {
                rule: "compliance[0]".into(),
                operation: "a".into(),
                role: "anon".into(),
                message: "reads `customers.email`".into(),
            },
        });
        let text = "allow.list:4:5: breaks compliance[0]: reads `customers.email` (operation `a`, role `anon`)";
        assert_eq!(breach.to_string(), text);
        assert_eq!(render(&breach, Some("config")), format!("config/{text}"));
    }

    #[test]
    fn errors_about_other_files_name_them_themselves() {
        let e = Error::UnknownOperation {
            file: "dev.yml".into(),
            key: "database.operation_timeouts".into(),
            name: "getProduct".into(),
            suggestion: String::new(),
        };
        let text =
            "dev.yml: key `database.operation_timeouts`: allow.list has no operation `getProduct`";
        assert_eq!(e.location(), None);
        assert_eq!(render(&e, Some("config")), text);
        assert_eq!(render(&e, None), text);
    }
}
