//! The one definition of "the same operation text": GraphQL query text with `#` comments
//! removed and insignificant whitespace and commas collapsed. The build hashes the allow
//! list's texts with it and the runtime compares a request's text with it, so both sides
//! must share this code.

/// The query text with `#` comments removed and whitespace (and commas) outside strings
/// collapsed, so two texts that differ only in layout compare equal.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut pending_space = false;
    while let Some(c) = chars.next() {
        match c {
            '#' => {
                for n in chars.by_ref() {
                    if n == '\n' || n == '\r' {
                        break;
                    }
                }
                pending_space = true;
            }
            c if c.is_whitespace() || c == ',' || c == '\u{feff}' => pending_space = true,
            '"' => {
                if pending_space && needs_space(&out, c) {
                    out.push(' ');
                }
                pending_space = false;
                out.push('"');
                let block = chars.peek() == Some(&'"') && {
                    let mut look = chars.clone();
                    look.next();
                    look.next() == Some('"')
                };
                if block {
                    out.push(chars.next().unwrap_or('"'));
                    out.push(chars.next().unwrap_or('"'));
                    let mut quotes = 0;
                    for n in chars.by_ref() {
                        out.push(n);
                        quotes = if n == '"' { quotes + 1 } else { 0 };
                        if quotes == 3 {
                            break;
                        }
                    }
                } else {
                    let mut escaped = false;
                    for n in chars.by_ref() {
                        out.push(n);
                        if escaped {
                            escaped = false;
                        } else if n == '\\' {
                            escaped = true;
                        } else if n == '"' {
                            break;
                        }
                    }
                }
            }
            c => {
                if pending_space && needs_space(&out, c) {
                    out.push(' ');
                }
                pending_space = false;
                out.push(c);
            }
        }
    }
    out
}

/// A space is kept only between two name-like tokens (`query getUser`, `1 2`).
fn needs_space(out: &str, next: char) -> bool {
    let word =
        |c: char| c.is_alphanumeric() || c == '_' || c == '$' || c == '"' || c == '-' || c == '.';
    out.chars().last().is_some_and(|p| word(p) && word(next))
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn layout_and_comments_do_not_count() {
        let a = "query getUser($id: ID!) {\n  users(id: $id) { id # the key\n email }\n}";
        let b = "query   getUser( $id : ID! ){users(id:$id){id,email}}";
        assert_eq!(normalize(a), normalize(b));
        assert_eq!(
            normalize(b),
            "query getUser($id:ID!){users(id:$id){id email}}"
        );
    }

    #[test]
    fn strings_keep_their_spaces() {
        assert_ne!(
            normalize(r#"{ a(x: "a  b") { id } }"#),
            normalize(r#"{ a(x: "a b") { id } }"#)
        );
        assert_eq!(
            normalize("{ a(x: \"# not a comment\") { id } }"),
            "{a(x:\"# not a comment\"){id}}"
        );
    }
}
