//! Name helpers: singular/plural forms, camelCase, did-you-mean. (SQL quoting is
//! [`super::sql::quote`].)

/// The singular of an English table name, the way GraphJin derives it (`users` -> `user`,
/// `categories` -> `category`, `addresses` -> `address`).
pub fn singular(name: &str) -> String {
    if let Some(stem) = name.strip_suffix("ies") {
        return format!("{stem}y");
    }
    for suffix in ["sses", "xes", "ches", "shes"] {
        if name.ends_with(suffix) {
            return name[..name.len() - 2].to_string();
        }
    }
    if name.ends_with("ss") || name.ends_with("us") || name.ends_with("is") {
        return name.to_string();
    }
    name.strip_suffix('s').unwrap_or(name).to_string()
}

/// `productID` / `countryCode` -> `product_id` / `country_code`.
pub fn camel_to_snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &ch) in chars.iter().enumerate() {
        if ch.is_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|c| c.is_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_uppercase();
            if i > 0 && (prev_lower || (prev_upper && next_lower)) && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(ch.to_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// The candidate closest to `name` by edit distance, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1) + 1;
    candidates
        .into_iter()
        .map(|c| (levenshtein(&name.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, c.len()))
        .map(|(_, c)| c)
}

/// Formats a `did you mean` suffix, or nothing.
pub fn suggestion<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match did_you_mean(name, candidates) {
        Some(c) => format!(" (did you mean `{c}`?)"),
        None => String::new(),
    }
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn singulars() {
        assert_eq!(singular("users"), "user");
        assert_eq!(singular("categories"), "category");
        assert_eq!(singular("addresses"), "address");
        assert_eq!(singular("status"), "status");
    }

    #[test]
    fn camel() {
        assert_eq!(camel_to_snake("productID"), "product_id");
        assert_eq!(camel_to_snake("countryCode"), "country_code");
        assert_eq!(camel_to_snake("hotProducts"), "hot_products");
        assert_eq!(camel_to_snake("countProductID"), "count_product_id");
        assert_eq!(camel_to_snake("id"), "id");
    }

    #[test]
    fn typos() {
        assert_eq!(
            did_you_mean("prodcts", ["users", "products"]),
            Some("products")
        );
        assert_eq!(did_you_mean("zzz", ["users", "products"]), None);
    }
}
