//! The tokenizer for GraphQL executable documents (October 2021 spec lexical grammar).
//!
//! It works on bytes and keeps the line and column (in characters) of the next byte up to
//! date as it goes, so every token carries the exact position of its first character.
//! Whitespace, commas, the byte order mark and `#` comments are skipped. Strings come out
//! unescaped and block strings with the spec's indentation stripping already applied;
//! numbers keep their source text after their syntax has been checked.

use super::parser::ParseError;
use crate::source::Pos;

/// One lexical token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token<'a> {
    /// `!`
    Bang,
    /// `$`
    Dollar,
    /// `&`
    Amp,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `...`
    Spread,
    /// `:`
    Colon,
    /// `=`
    Equals,
    /// `@`
    At,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `{`
    LBrace,
    /// `|`
    Pipe,
    /// `}`
    RBrace,
    /// A name such as `users` or `query`.
    Name(&'a str),
    /// An integer literal as written.
    Int(&'a str),
    /// A float literal as written.
    Float(&'a str),
    /// A `"..."` string, unescaped.
    String(String),
    /// A `"""..."""` block string, with indentation stripped.
    BlockString(String),
    /// The end of the input.
    Eof,
}

impl Token<'_> {
    /// How the token is named in an error message, e.g. `'}'` or `end of input`.
    pub(crate) fn describe(&self) -> String {
        let punct = match self {
            Token::Bang => "'!'",
            Token::Dollar => "'$'",
            Token::Amp => "'&'",
            Token::LParen => "'('",
            Token::RParen => "')'",
            Token::Spread => "'...'",
            Token::Colon => "':'",
            Token::Equals => "'='",
            Token::At => "'@'",
            Token::LBracket => "'['",
            Token::RBracket => "']'",
            Token::LBrace => "'{'",
            Token::Pipe => "'|'",
            Token::RBrace => "'}'",
            Token::Eof => "end of input",
            Token::BlockString(_) => "a block string",
            Token::Name(n) => return format!("'{n}'"),
            Token::Int(n) | Token::Float(n) => return format!("the number {n}"),
            Token::String(s) => {
                const MAX: usize = 24;
                return if s.chars().count() > MAX {
                    let short: String = s.chars().take(MAX).collect();
                    format!("the string {short:?}...")
                } else {
                    format!("the string {s:?}")
                };
            }
        };
        punct.to_string()
    }
}

/// A token with the position of its first character.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spanned<'a> {
    /// The token.
    pub(crate) tok: Token<'a>,
    /// Where it starts.
    pub(crate) pos: Pos,
}

/// Turns a source text into tokens, one at a time.
pub(crate) struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    /// Byte offset of the next unread byte (always on a character boundary between tokens).
    i: usize,
    line: u32,
    col: u32,
}

fn err(pos: Pos, message: impl Into<String>) -> ParseError {
    ParseError {
        pos,
        message: message.into(),
    }
}

fn digits_len(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}

/// How a character is named in an error message.
fn describe_char(c: char) -> String {
    match c {
        ' ' => "a space".to_string(),
        '\t' => "a tab".to_string(),
        '\n' | '\r' => "end of line".to_string(),
        c if c.is_control() || c.is_whitespace() || c == '\u{FEFF}' => {
            format!("U+{:04X}", c as u32)
        }
        c => format!("'{c}'"),
    }
}

impl<'a> Lexer<'a> {
    /// A lexer at the start of `src`.
    pub(crate) fn new(src: &'a str) -> Self {
        Lexer {
            src,
            bytes: src.as_bytes(),
            i: 0,
            line: 1,
            col: 1,
        }
    }

    fn pos(&self) -> Pos {
        Pos::new(self.line, self.col)
    }

    /// The position of byte `at`, which must be on the current line with only ASCII between
    /// the current byte and it.
    fn pos_ahead(&self, at: usize) -> Pos {
        let ahead = u32::try_from(at.saturating_sub(self.i)).unwrap_or(u32::MAX);
        Pos::new(self.line, self.col.saturating_add(ahead))
    }

    /// Consumes `n` ASCII bytes that are not line terminators.
    fn advance_ascii(&mut self, n: usize) {
        self.i += n;
        self.col = self
            .col
            .saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
    }

    /// Consumes one byte of arbitrary text that is not a line terminator.
    fn advance_byte(&mut self, b: u8) {
        self.i += 1;
        if b & 0xC0 != 0x80 {
            self.col = self.col.saturating_add(1);
        }
    }

    /// Consumes a line terminator (`\n`, `\r\n` or `\r`) at the current byte.
    fn advance_newline(&mut self) {
        if self.bytes.get(self.i) == Some(&b'\r') && self.bytes.get(self.i + 1) == Some(&b'\n') {
            self.i += 2;
        } else {
            self.i += 1;
        }
        self.line = self.line.saturating_add(1);
        self.col = 1;
    }

    /// Describes what is at byte `at` for an error message.
    fn describe_at(&self, at: usize) -> String {
        match self.src.get(at..).and_then(|rest| rest.chars().next()) {
            Some(c) => describe_char(c),
            None => "end of input".to_string(),
        }
    }

    fn skip_ignored(&mut self) {
        while let Some(&b) = self.bytes.get(self.i) {
            match b {
                b' ' | b'\t' | b',' => self.advance_ascii(1),
                b'\n' | b'\r' => self.advance_newline(),
                b'#' => {
                    while let Some(&c) = self.bytes.get(self.i) {
                        if c == b'\n' || c == b'\r' {
                            break;
                        }
                        self.advance_byte(c);
                    }
                }
                0xEF if self.bytes[self.i..].starts_with("\u{FEFF}".as_bytes()) => {
                    self.i += 3;
                    self.col = self.col.saturating_add(1);
                }
                _ => break,
            }
        }
    }

    /// Reads the next token, skipping whitespace, commas and comments.
    pub(crate) fn next_token(&mut self) -> Result<Spanned<'a>, ParseError> {
        self.skip_ignored();
        let pos = self.pos();
        let Some(&b) = self.bytes.get(self.i) else {
            return Ok(Spanned {
                tok: Token::Eof,
                pos,
            });
        };
        let punct = match b {
            b'!' => Some(Token::Bang),
            b'$' => Some(Token::Dollar),
            b'&' => Some(Token::Amp),
            b'(' => Some(Token::LParen),
            b')' => Some(Token::RParen),
            b':' => Some(Token::Colon),
            b'=' => Some(Token::Equals),
            b'@' => Some(Token::At),
            b'[' => Some(Token::LBracket),
            b']' => Some(Token::RBracket),
            b'{' => Some(Token::LBrace),
            b'|' => Some(Token::Pipe),
            b'}' => Some(Token::RBrace),
            _ => None,
        };
        if let Some(tok) = punct {
            self.advance_ascii(1);
            return Ok(Spanned { tok, pos });
        }
        let tok = match b {
            b'.' => {
                if self.bytes[self.i..].starts_with(b"...") {
                    self.advance_ascii(3);
                    Token::Spread
                } else if self.bytes[self.i..].starts_with(b"..") {
                    return Err(err(
                        pos,
                        "unexpected '..'; a fragment spread is written '...'",
                    ));
                } else {
                    return Err(err(pos, "unexpected character '.'"));
                }
            }
            b'"' => {
                if self.bytes[self.i..].starts_with(b"\"\"\"") {
                    self.lex_block_string(pos)?
                } else {
                    self.lex_string(pos)?
                }
            }
            b'-' | b'0'..=b'9' => self.lex_number(pos)?,
            b'_' | b'a'..=b'z' | b'A'..=b'Z' => {
                let start = self.i;
                let len = self.bytes[start..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                    .count();
                self.advance_ascii(len);
                Token::Name(&self.src[start..start + len])
            }
            b'\'' => {
                return Err(err(
                    pos,
                    "unexpected character \"'\" (GraphQL strings use double quotes)",
                ));
            }
            _ => {
                return Err(err(
                    pos,
                    format!("unexpected character {}", self.describe_at(self.i)),
                ));
            }
        };
        Ok(Spanned { tok, pos })
    }

    fn lex_number(&mut self, pos: Pos) -> Result<Token<'a>, ParseError> {
        let b = self.bytes;
        let start = self.i;
        let mut i = start;
        if b[i] == b'-' {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => {
                i += 1;
                if b.get(i).is_some_and(u8::is_ascii_digit) {
                    let end = i + digits_len(&b[i..]);
                    return Err(err(
                        pos,
                        format!(
                            "invalid number '{}': leading zeros are not allowed",
                            &self.src[start..end]
                        ),
                    ));
                }
            }
            Some(b'1'..=b'9') => i += 1 + digits_len(&b[i + 1..]),
            _ => {
                return Err(err(
                    self.pos_ahead(i),
                    format!("expected a digit after '-', found {}", self.describe_at(i)),
                ));
            }
        }
        let mut float = false;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let n = digits_len(&b[i..]);
            if n == 0 {
                return Err(err(
                    self.pos_ahead(i),
                    format!(
                        "invalid number '{}': expected a digit after '.', found {}",
                        &self.src[start..i],
                        self.describe_at(i)
                    ),
                ));
            }
            i += n;
            float = true;
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let n = digits_len(&b[i..]);
            if n == 0 {
                return Err(err(
                    self.pos_ahead(i),
                    format!(
                        "invalid number '{}': expected a digit in the exponent, found {}",
                        &self.src[start..i],
                        self.describe_at(i)
                    ),
                ));
            }
            i += n;
            float = true;
        }
        if let Some(&c) = b.get(i)
            && (c == b'.' || c == b'_' || c.is_ascii_alphabetic())
        {
            return Err(err(
                self.pos_ahead(i),
                format!(
                    "unexpected character '{}' right after the number '{}'",
                    c as char,
                    &self.src[start..i]
                ),
            ));
        }
        let text = &self.src[start..i];
        self.advance_ascii(i - start);
        Ok(if float {
            Token::Float(text)
        } else {
            Token::Int(text)
        })
    }

    fn lex_string(&mut self, pos: Pos) -> Result<Token<'a>, ParseError> {
        let unterminated = || {
            err(
                pos,
                "unterminated string: add a closing '\"' before the end of the line",
            )
        };
        self.advance_ascii(1);
        let mut out = String::new();
        let mut chunk = self.i;
        loop {
            let Some(&b) = self.bytes.get(self.i) else {
                return Err(unterminated());
            };
            match b {
                b'"' => {
                    out.push_str(&self.src[chunk..self.i]);
                    self.advance_ascii(1);
                    return Ok(Token::String(out));
                }
                b'\n' | b'\r' => return Err(unterminated()),
                b'\\' => {
                    out.push_str(&self.src[chunk..self.i]);
                    let esc_pos = self.pos();
                    let Some(&e) = self.bytes.get(self.i + 1) else {
                        return Err(unterminated());
                    };
                    let simple = match e {
                        b'"' => Some('"'),
                        b'\\' => Some('\\'),
                        b'/' => Some('/'),
                        b'b' => Some('\u{8}'),
                        b'f' => Some('\u{c}'),
                        b'n' => Some('\n'),
                        b'r' => Some('\r'),
                        b't' => Some('\t'),
                        _ => None,
                    };
                    if let Some(c) = simple {
                        out.push(c);
                        self.advance_ascii(2);
                    } else if e == b'u' {
                        let c = self.lex_unicode_escape(esc_pos)?;
                        out.push(c);
                    } else if e == b'\n' || e == b'\r' {
                        return Err(unterminated());
                    } else {
                        let shown = self.src[self.i + 1..].chars().next().unwrap_or('?');
                        return Err(err(
                            esc_pos,
                            format!(
                                "invalid escape sequence '\\{shown}' in string; valid escapes are \
                                 \\\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX"
                            ),
                        ));
                    }
                    chunk = self.i;
                }
                _ => self.advance_byte(b),
            }
        }
    }

    /// Reads exactly four hex digits at byte `at`.
    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.bytes.get(at..at + 4)?;
        let mut v = 0u32;
        for &d in digits {
            v = v * 16 + (d as char).to_digit(16)?;
        }
        Some(v)
    }

    /// Decodes `\uXXXX` (with a following `\uXXXX` for a surrogate pair) or `\u{X...}` at the
    /// current byte (the backslash at `esc_pos`) and consumes it.
    fn lex_unicode_escape(&mut self, esc_pos: Pos) -> Result<char, ParseError> {
        let start = self.i;
        // Every byte of an escape we report is ASCII, so `end` is on a character boundary.
        let invalid = |this: &Self, end: usize, why: &str| {
            let text = &this.src[start..end.min(this.bytes.len())];
            err(esc_pos, format!("invalid Unicode escape '{text}': {why}"))
        };
        if self.bytes.get(start + 2) == Some(&b'{') {
            let digits_start = start + 3;
            let n = self.bytes[digits_start.min(self.bytes.len())..]
                .iter()
                .take_while(|b| b.is_ascii_hexdigit())
                .count();
            let close = digits_start + n;
            if n == 0 || self.bytes.get(close) != Some(&b'}') {
                return Err(invalid(
                    self,
                    close,
                    "expected hex digits and a closing '}' after '\\u{'",
                ));
            }
            let mut v: u32 = 0;
            for &d in &self.bytes[digits_start..close] {
                let digit = (d as char).to_digit(16).unwrap_or(0);
                v = v.saturating_mul(16).saturating_add(digit);
            }
            let Some(c) = char::from_u32(v) else {
                return Err(invalid(self, close + 1, "it is not a Unicode scalar value"));
            };
            self.advance_ascii(close + 1 - start);
            return Ok(c);
        }
        let Some(lead) = self.hex4(start + 2) else {
            let n = self.bytes[start + 2..]
                .iter()
                .take(4)
                .take_while(|b| b.is_ascii_alphanumeric())
                .count();
            return Err(invalid(
                self,
                start + 2 + n,
                "expected four hex digits or '{hex digits}' after '\\u'",
            ));
        };
        if let Some(c) = char::from_u32(lead) {
            self.advance_ascii(6);
            return Ok(c);
        }
        // A surrogate: only valid as a leading surrogate followed by `\u` and a trailing one.
        if (0xD800..0xDC00).contains(&lead)
            && self.bytes.get(start + 6..start + 8) == Some(b"\\u")
            && let Some(trail) = self.hex4(start + 8)
            && (0xDC00..0xE000).contains(&trail)
            && let Some(c) = char::from_u32(0x10000 + ((lead - 0xD800) << 10) + (trail - 0xDC00))
        {
            self.advance_ascii(12);
            return Ok(c);
        }
        Err(invalid(
            self,
            start + 6,
            "a surrogate must be a leading surrogate (D800-DBFF) directly followed by an \
             escaped trailing surrogate (DC00-DFFF)",
        ))
    }

    fn lex_block_string(&mut self, pos: Pos) -> Result<Token<'a>, ParseError> {
        self.advance_ascii(3);
        let mut raw = String::new();
        let mut chunk = self.i;
        loop {
            let Some(&b) = self.bytes.get(self.i) else {
                return Err(err(
                    pos,
                    "unterminated block string: add a closing '\"\"\"'",
                ));
            };
            match b {
                b'"' if self.bytes[self.i..].starts_with(b"\"\"\"") => {
                    raw.push_str(&self.src[chunk..self.i]);
                    self.advance_ascii(3);
                    return Ok(Token::BlockString(block_string_value(&raw)));
                }
                b'\\' if self.bytes[self.i..].starts_with(b"\\\"\"\"") => {
                    raw.push_str(&self.src[chunk..self.i]);
                    raw.push_str("\"\"\"");
                    self.advance_ascii(4);
                    chunk = self.i;
                }
                b'\n' | b'\r' => self.advance_newline(),
                _ => self.advance_byte(b),
            }
        }
    }
}

/// The spec's `BlockStringValue`: strips the common indentation of every line but the first,
/// drops leading and trailing blank lines and joins the lines with `\n`.
fn block_string_value(raw: &str) -> String {
    let mut lines: Vec<&str> = Vec::new();
    let bytes = raw.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                lines.push(&raw[start..i]);
                i += 1;
                start = i;
            }
            b'\r' => {
                lines.push(&raw[start..i]);
                i += if bytes.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                start = i;
            }
            _ => i += 1,
        }
    }
    lines.push(&raw[start..]);

    let indent_of = |line: &str| {
        line.bytes()
            .take_while(|b| *b == b' ' || *b == b'\t')
            .count()
    };
    let common = lines
        .iter()
        .skip(1)
        .filter_map(|line| {
            let indent = indent_of(line);
            (indent < line.len()).then_some(indent)
        })
        .min();
    let is_blank = |line: &str| indent_of(line) == line.len();
    let mut first = 0;
    let mut end = lines.len();
    while first < end && is_blank(lines[first]) {
        first += 1;
    }
    while end > first && is_blank(lines[end - 1]) {
        end -= 1;
    }
    let mut out = String::with_capacity(raw.len());
    for (k, idx) in (first..end).enumerate() {
        if k > 0 {
            out.push('\n');
        }
        let line = lines[idx];
        match common {
            // Indentation is spaces and tabs, so slicing at a byte count is on a boundary.
            Some(c) if idx > 0 => out.push_str(&line[c.min(line.len())..]),
            _ => out.push_str(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(src: &str) -> Result<Vec<Token<'_>>, ParseError> {
        let mut lx = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let t = lx.next_token()?;
            if t.tok == Token::Eof {
                return Ok(out);
            }
            out.push(t.tok);
        }
    }

    #[test]
    fn lexes_punctuation_names_and_numbers() {
        let toks = tokens("{ a(b: -1.5e3, c: 0) ... @x $y [] ! = | & }").unwrap();
        assert_eq!(
            toks,
            vec![
                Token::LBrace,
                Token::Name("a"),
                Token::LParen,
                Token::Name("b"),
                Token::Colon,
                Token::Float("-1.5e3"),
                Token::Name("c"),
                Token::Colon,
                Token::Int("0"),
                Token::RParen,
                Token::Spread,
                Token::At,
                Token::Name("x"),
                Token::Dollar,
                Token::Name("y"),
                Token::LBracket,
                Token::RBracket,
                Token::Bang,
                Token::Equals,
                Token::Pipe,
                Token::Amp,
                Token::RBrace,
            ]
        );
    }

    #[test]
    fn block_string_value_follows_the_spec() {
        assert_eq!(
            block_string_value("\n    a\n      b\n    c\n  "),
            "a\n  b\nc"
        );
        assert_eq!(block_string_value("first\n  x\n  y"), "first\nx\ny");
        assert_eq!(block_string_value("  \r\n\t\r  z \r\n"), "z ");
        assert_eq!(block_string_value(""), "");
    }

    #[test]
    fn bom_and_multibyte_comments_count_as_one_column() {
        let mut lx = Lexer::new("\u{FEFF}# é\r\n  é");
        let e = lx.next_token().unwrap_err();
        assert_eq!(e.pos, Pos::new(2, 3));
        assert_eq!(e.message, "unexpected character 'é'");
        let mut lx = Lexer::new("\u{FEFF}x");
        assert_eq!(lx.next_token().unwrap().pos, Pos::new(1, 2));
    }
}
