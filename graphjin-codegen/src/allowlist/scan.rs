//! Byte offsets to line/column positions, and the small lexical helpers the reader and the
//! editor share. Line terminators are `\n`, `\r\n` and a lone `\r`, as in GraphQL.

use crate::source::Pos;

/// The UTF-8 byte order mark, skipped at the start of the file.
pub(crate) const BOM: &str = "\u{feff}";

/// Maps byte offsets of one text to 1-based line/column positions.
pub(crate) struct LineIndex {
    /// The byte offset where each line starts (after a leading BOM for line 1).
    starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes the lines of `src`.
    pub(crate) fn new(src: &str) -> Self {
        let b = src.as_bytes();
        let first = if src.starts_with(BOM) { BOM.len() } else { 0 };
        let mut starts = vec![first];
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'\n' => starts.push(i + 1),
                b'\r' if b.get(i + 1) != Some(&b'\n') => starts.push(i + 1),
                _ => {}
            }
            i += 1;
        }
        LineIndex { starts }
    }

    /// The position of byte offset `off` in `src` (the text this index was built from).
    pub(crate) fn pos(&self, src: &str, off: usize) -> Pos {
        let off = floor_char_boundary(src, off.min(src.len()));
        let line = self.starts.partition_point(|&s| s <= off).max(1);
        let start = self.starts[line - 1].min(off);
        let col = src.get(start..off).map_or(0, |s| s.chars().count());
        Pos::new(to_u32(line), to_u32(col + 1))
    }
}

/// The position just after `prefix`, a valid UTF-8 text (used for the first invalid byte).
pub(crate) fn pos_after(prefix: &str) -> Pos {
    let index = LineIndex::new(prefix);
    index.pos(prefix, prefix.len())
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The largest char boundary of `s` not after `off`.
pub(crate) fn floor_char_boundary(s: &str, mut off: usize) -> usize {
    off = off.min(s.len());
    while off > 0 && !s.is_char_boundary(off) {
        off -= 1;
    }
    off
}

/// Whether `b` can start a GraphQL name.
pub(crate) fn is_name_start(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphabetic()
}

/// Whether `b` can continue a GraphQL name.
pub(crate) fn is_name_char(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphanumeric()
}

/// The end of the GraphQL name starting at `i` (or `i` itself if none starts there).
pub(crate) fn name_end(b: &[u8], i: usize) -> usize {
    if !b.get(i).is_some_and(|&c| is_name_start(c)) {
        return i;
    }
    let mut j = i + 1;
    while b.get(j).is_some_and(|&c| is_name_char(c)) {
        j += 1;
    }
    j
}

/// The offset of the line terminator (or end of text) at or after `i`.
pub(crate) fn line_end(b: &[u8], i: usize) -> usize {
    let mut j = i;
    while j < b.len() && b[j] != b'\n' && b[j] != b'\r' {
        j += 1;
    }
    j
}

/// The offset just after the line terminator at `i` (which must be at a terminator or the end).
pub(crate) fn after_terminator(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'\r') if b.get(i + 1) == Some(&b'\n') => i + 2,
        Some(b'\r' | b'\n') => i + 1,
        _ => i,
    }
}

/// Skips spaces and tabs from `i`.
pub(crate) fn skip_blanks(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|&c| c == b' ' || c == b'\t') {
        i += 1;
    }
    i
}

/// Whether a line holds only spaces and tabs (a terminator may follow).
pub(crate) fn is_blank(line: &str) -> bool {
    line.bytes()
        .all(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
}

/// Splits `text` into lines at `\n`, `\r\n` and lone `\r`.
pub(crate) fn split_lines(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let mut lines = Vec::new();
    let mut i = 0;
    loop {
        let end = line_end(b, i);
        lines.push(&text[i..end]);
        if end >= b.len() {
            break;
        }
        i = after_terminator(b, end);
    }
    lines
}

/// `text` with every line terminator replaced by `eol`.
pub(crate) fn normalize_eol(text: &str, eol: &str) -> String {
    split_lines(text).join(eol)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_and_all_terminators() {
        let src = "ab\r\nçd\rx\ny";
        let index = LineIndex::new(src);
        assert_eq!(index.pos(src, 0), Pos::new(1, 1));
        assert_eq!(index.pos(src, 2), Pos::new(1, 3));
        assert_eq!(index.pos(src, 4), Pos::new(2, 1));
        // 'ç' is two bytes but one column.
        assert_eq!(index.pos(src, 6), Pos::new(2, 2));
        assert_eq!(index.pos(src, 8), Pos::new(3, 1));
        assert_eq!(index.pos(src, 10), Pos::new(4, 1));
        assert_eq!(index.pos(src, 11), Pos::new(4, 2));
        // Offsets inside a character or past the end do not panic.
        assert_eq!(index.pos(src, 5), Pos::new(2, 1));
        assert_eq!(index.pos(src, 99), Pos::new(4, 2));
    }

    #[test]
    fn bom_is_not_a_column() {
        let src = "\u{feff}query";
        let index = LineIndex::new(src);
        assert_eq!(index.pos(src, 3), Pos::new(1, 1));
        assert_eq!(index.pos(src, 0), Pos::new(1, 1));
    }

    #[test]
    fn splitting_lines() {
        assert_eq!(split_lines("a\r\nb\rc\nd"), ["a", "b", "c", "d"]);
        assert_eq!(split_lines("a\n"), ["a", ""]);
        assert_eq!(split_lines(""), [""]);
        assert_eq!(normalize_eol("a\r\nb\rc\n", "\n"), "a\nb\nc\n");
    }
}
