//! Source positions shared by every stage, so each error can point at `file:LINE:COL`.

use std::fmt;

/// A 1-based line and column in a source text (columns count characters, not bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    /// Line number, starting at 1.
    pub line: u32,
    /// Column number, starting at 1.
    pub col: u32,
}

impl Pos {
    /// A position at `line`:`col`.
    pub const fn new(line: u32, col: u32) -> Self {
        Pos { line, col }
    }

    /// Moves a position that is relative to a snippet starting at `origin` so that it
    /// becomes relative to the enclosing file.
    pub fn offset_by(self, origin: Pos) -> Pos {
        if self.line <= 1 {
            Pos::new(origin.line, origin.col + self.col.saturating_sub(1))
        } else {
            Pos::new(origin.line + self.line - 1, self.col)
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}
