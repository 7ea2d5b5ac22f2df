//! Rust names for GraphQL names: modules and fields in snake_case, types in PascalCase,
//! keywords made raw, and a serde rename whenever the Rust name differs.

use proc_macro2::{Ident, Span};

use crate::compile::names::camel_to_snake;

const STRICT_KEYWORDS: [&str; 52] = [
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// A snake_case Rust identifier for a GraphQL name (`fullName` -> `full_name`,
/// `__typename` -> `typename`, `type` -> `r#type`).
pub fn snake_ident(name: &str) -> Ident {
    let mut s: String = camel_to_snake(name)
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    s = s.trim_start_matches('_').to_string();
    if s.is_empty() {
        s = "field".into();
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    make_ident(&s)
}

/// A PascalCase Rust type name from path segments (`["products", "owner"]` ->
/// `ProductsOwner`).
pub fn pascal_ident(parts: &[&str]) -> Ident {
    let mut s = String::new();
    for part in parts {
        for word in camel_to_snake(part).split(|c: char| !c.is_alphanumeric()) {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                s.extend(first.to_uppercase());
                s.push_str(chars.as_str());
            }
        }
    }
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, 'T');
    }
    make_ident(&s)
}

fn make_ident(s: &str) -> Ident {
    if STRICT_KEYWORDS.contains(&s) {
        if matches!(s, "self" | "Self" | "super" | "crate") {
            Ident::new(&format!("{s}_"), Span::call_site())
        } else {
            Ident::new_raw(s, Span::call_site())
        }
    } else {
        Ident::new(s, Span::call_site())
    }
}

/// The name serde sees for an identifier (without `r#`).
pub fn serde_name(ident: &Ident) -> String {
    let s = ident.to_string();
    s.strip_prefix("r#").map(str::to_string).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(snake_ident("fullName").to_string(), "full_name");
        assert_eq!(snake_ident("__typename").to_string(), "typename");
        assert_eq!(snake_ident("type").to_string(), "r#type");
        assert_eq!(snake_ident("self").to_string(), "self_");
        assert_eq!(
            pascal_ident(&["products", "owner"]).to_string(),
            "ProductsOwner"
        );
        assert_eq!(pascal_ident(&["getUser"]).to_string(), "GetUser");
        assert_eq!(serde_name(&snake_ident("type")), "type");
    }
}
