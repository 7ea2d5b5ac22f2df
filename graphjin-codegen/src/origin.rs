//! Which text an error points into, and the one place a location is written in front of a
//! message: `allow.list:12:5: ...`, `config/allow.list:12:5: ...` or `query:1:9: ...`.
//!
//! Errors keep their origin and position as fields; nothing parses or prefixes a message
//! after it is made.

use std::fmt;
use std::path::Path;

use crate::source::Pos;

/// The text an error's position is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// `allow.list` in the config folder.
    AllowList,
    /// An operation's text sent to the development server: it is in no file.
    Query,
}

impl Origin {
    /// How a location names it: `allow.list` or `query`.
    pub fn name(self) -> &'static str {
        match self {
            Origin::AllowList => "allow.list",
            Origin::Query => "query",
        }
    }
}

/// A message at a position in an origin, rendered `NAME:LINE:COL: message`. With `dir` (the
/// config folder as the user named it), `allow.list` is written as `DIR/allow.list`; a query
/// is in no file and stays `query`.
pub struct Located<'a, M: ?Sized> {
    /// The text the position is in.
    pub origin: Origin,
    /// The config folder, when the reader knows it.
    pub dir: Option<&'a Path>,
    /// Where in that text.
    pub pos: Pos,
    /// What is wrong there.
    pub message: &'a M,
}

impl<M: fmt::Display + ?Sized> fmt::Display for Located<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (Origin::AllowList, Some(dir)) = (self.origin, self.dir) {
            let dir = dir.display().to_string();
            write!(f, "{}/", dir.trim_end_matches('/'))?;
        }
        write!(f, "{}:{}: {}", self.origin.name(), self.pos, self.message)
    }
}
