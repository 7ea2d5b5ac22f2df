//! Identifier and literal quoting: the one place SQL text is escaped.

/// Quotes an SQL identifier: `a"b` -> `"a""b"`.
pub fn ident(name: &str) -> String {
    let mut s = String::with_capacity(name.len() + 2);
    s.push('"');
    for ch in name.chars() {
        if ch == '"' {
            s.push('"');
        }
        s.push(ch);
    }
    s.push('"');
    s
}

/// Quotes an SQL string literal (standard_conforming_strings on): `it's` -> `'it''s'`.
/// NUL characters cannot appear in PostgreSQL text and are dropped.
pub fn string_literal(value: &str) -> String {
    let mut s = String::with_capacity(value.len() + 2);
    s.push('\'');
    for ch in value.chars() {
        match ch {
            '\'' => s.push_str("''"),
            '\0' => {}
            c => s.push(c),
        }
    }
    s.push('\'');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(ident(r#"a"b"#), r#""a""b""#);
        assert_eq!(string_literal("it's"), "'it''s'");
        assert_eq!(string_literal("a\0b"), "'ab'");
    }
}
