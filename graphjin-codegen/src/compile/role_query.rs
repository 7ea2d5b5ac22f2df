//! The role statement: `roles_query` with each role's `match` evaluated inside it.
//!
//! GraphJin's documentation writes `roles_query: SELECT * FROM users WHERE users.id = $user_id`
//! with `match: users.id = 1`: a match names the tables of the roles query, so it must be
//! evaluated where they are in scope. The role is picked by a `CASE` added to the roles
//! query's own select list (`SELECT <list>, CASE WHEN (match) THEN 'role' ... ELSE 'user' END
//! AS "__gj_role" FROM ...`), and the statement reads that column from the first row:
//!
//! ```sql
//! SELECT COALESCE((SELECT "__gj_role" FROM (<roles query with the CASE>) AS "__gj_rq" LIMIT 1), 'anon') AS "role"
//! ```
//!
//! Unqualified matches (`id = 1`) still work, as the columns are in scope there too. As in
//! GraphJin (`core/rolestmt.go`), a signed-in user the roles query returns no row for is
//! `anon`, and `$user_id:bigint` (the cheatsheet's typed form) binds the id as that type.

use super::sql::quote::string_literal;

/// The column the role `CASE` is added as.
pub const ROLE_COLUMN: &str = "__gj_role";

/// The role statement for `roles_query` and the matched roles (`(name, match)` in order);
/// `$user_id` becomes `$1`. Errors say what in the roles query cannot carry the match.
pub fn role_statement(roles_query: &str, matched: &[(&str, &str)]) -> Result<String, String> {
    let q = roles_query.trim().trim_end_matches(';').trim_end();
    let whens: Vec<String> = matched
        .iter()
        .map(|(name, m)| format!("WHEN ({m}) THEN {}", string_literal(name)))
        .collect();
    let case = format!(
        ", CASE {} ELSE 'user' END AS \"{ROLE_COLUMN}\" ",
        whens.join(" ")
    );
    let at = select_list_end(q)?;
    let inner = user_id_param(&format!("{}{case}{}", q[..at].trim_end(), &q[at..]));
    Ok(format!(
        "SELECT COALESCE((SELECT \"{ROLE_COLUMN}\" FROM ({inner}) AS \"__gj_rq\" LIMIT 1), 'anon') AS \"role\""
    ))
}

/// `$user_id` as `$1`, and GraphJin's typed `$user_id:bigint` as `$1::bigint`.
fn user_id_param(q: &str) -> String {
    let mut out = String::with_capacity(q.len());
    let mut rest = q;
    while let Some(at) = rest.find("$user_id") {
        out.push_str(&rest[..at]);
        out.push_str("$1");
        rest = &rest[at + "$user_id".len()..];
        if let Some(after) = rest.strip_prefix(':')
            && !after.starts_with(':')
        {
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if len > 0 {
                out.push_str("::");
                out.push_str(&after[..len]);
                rest = &after[len..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Where the main `SELECT`'s list ends: the byte offset of its top-level `FROM`.
fn select_list_end(q: &str) -> Result<usize, String> {
    let words = top_level_words(q);
    let first = words.first().map(|(_, w)| w.as_str());
    if !matches!(first, Some("SELECT" | "WITH")) {
        return Err("must be a SELECT statement (optionally starting with WITH)".into());
    }
    if let Some((_, w)) = words
        .iter()
        .find(|(_, w)| matches!(w.as_str(), "UNION" | "INTERSECT" | "EXCEPT"))
    {
        return Err(format!(
            "has a top-level {w}, which cannot carry the role matches: wrap it, e.g. `SELECT * FROM (...) AS u`"
        ));
    }
    let select = words
        .iter()
        .position(|(_, w)| w == "SELECT")
        .ok_or("has no top-level SELECT")?;
    words[select..]
        .iter()
        .find(|(_, w)| w == "FROM")
        .map(|(at, _)| *at)
        .ok_or_else(|| "has no FROM: the role matches need the rows of a table".into())
}

/// The words (upper-cased) outside parentheses, quotes and comments, with their offsets.
fn top_level_words(q: &str) -> Vec<(usize, String)> {
    let b = q.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut depth) = (0, 0usize);
    while i < b.len() {
        let c = b[i];
        match c {
            b'(' => depth += 1,
            b')' => depth = depth.saturating_sub(1),
            b'\'' | b'"' => i = skip_quoted(b, i, c),
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = b[i..]
                    .iter()
                    .position(|&x| x == b'\n')
                    .map_or(b.len(), |p| i + p);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = q[i + 2..].find("*/").map_or(b.len(), |p| i + 2 + p + 1);
            }
            b'$' => i = skip_dollar_quoted(q, i),
            _ if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$')
                {
                    i += 1;
                }
                if depth == 0 {
                    out.push((start, q[start..i].to_ascii_uppercase()));
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The index of the closing quote of a `'...'` or `"..."` starting at `i` (doubled quotes
/// are escapes).
fn skip_quoted(b: &[u8], i: usize, quote: u8) -> usize {
    let mut j = i + 1;
    while j < b.len() {
        if b[j] == quote {
            if b.get(j + 1) == Some(&quote) {
                j += 2;
                continue;
            }
            return j;
        }
        j += 1;
    }
    b.len()
}

/// The index of the last `$` of a `$tag$...$tag$` string starting at `i`; a `$1` parameter
/// or a lone `$` is left as it is.
fn skip_dollar_quoted(q: &str, i: usize) -> usize {
    let rest = &q[i + 1..];
    let tag_len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    if !rest[tag_len..].starts_with('$')
        || rest[..tag_len].starts_with(|c: char| c.is_ascii_digit())
    {
        return i;
    }
    let tag = &q[i..i + tag_len + 2];
    match q[i + tag.len()..].find(tag) {
        Some(p) => i + tag.len() + p + tag.len() - 1,
        None => q.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_form() {
        let sql = role_statement(
            "SELECT * FROM users WHERE users.id = $user_id",
            &[("admin", "users.id = 1")],
        )
        .unwrap();
        assert_eq!(
            sql,
            "SELECT COALESCE((SELECT \"__gj_role\" FROM (SELECT *, CASE WHEN (users.id = 1) THEN 'admin' ELSE 'user' END AS \"__gj_role\" FROM users WHERE users.id = $1) AS \"__gj_rq\" LIMIT 1), 'anon') AS \"role\""
        );
    }

    #[test]
    fn typed_user_id() {
        // The cheatsheet's form.
        let sql = role_statement(
            "SELECT id, internal FROM users WHERE id = $user_id:bigint",
            &[("admin", "id < 10 or internal = true")],
        )
        .unwrap();
        assert!(sql.contains("WHERE id = $1::bigint)"), "{sql}");
        assert_eq!(
            user_id_param("a = $user_id::int AND b = $user_id"),
            "a = $1::int AND b = $1"
        );
    }

    #[test]
    fn finds_the_main_from() {
        let q = "WITH x AS (SELECT id FROM a) SELECT u.id, (SELECT count(*) FROM b) AS n, 'FROM' AS \"from\" -- FROM\n FROM users u JOIN x ON x.id = u.id WHERE u.id = $user_id";
        let at = select_list_end(q).unwrap();
        assert!(q[at..].starts_with("FROM users u"), "{}", &q[at..]);
        let q = "SELECT $$ FROM $$ AS t, $1 FROM users";
        assert!(q[select_list_end(q).unwrap()..].starts_with("FROM users"));
    }

    #[test]
    fn refuses_what_cannot_carry_matches() {
        for (q, want) in [
            ("SELECT 1", "no FROM"),
            ("UPDATE users SET x = 1", "must be a SELECT"),
            ("SELECT id FROM a UNION SELECT id FROM b", "UNION"),
        ] {
            let e = role_statement(q, &[("admin", "true")]).unwrap_err();
            assert!(e.contains(want), "{q}: {e}");
        }
    }
}
