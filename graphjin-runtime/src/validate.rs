//! Variable validation: GraphJin's `@constraint` / `@validate` operation directives, compiled
//! at build time into [`Constraint`]s on the [`crate::Operation`] and checked here before any
//! SQL runs. A failing call is a 400 (`BAD_USER_INPUT`) naming each variable and rule.
//!
//! The rules are GraphJin's (`core/internal/valid`): a rule that looks at a value fails when
//! the variable is absent, `required` only asks that it be present, and the conditional
//! `required*` rules ask it only when their condition holds. Where GraphJin compares the
//! raw JSON text (so that its `format` never matches a quoted string and `min`/`max` fail on
//! any string), the rules here read the value as the directive means it: `format` checks a
//! string's contents, `min`/`max` bound a number's value and a string's or list's length.

use serde_json::Value;

/// One rule of a `@constraint(variable: ..., <rule>: ...)` directive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Constraint {
    /// The variable it checks, without `$`.
    pub variable: &'static str,
    /// The rule.
    pub rule: Rule,
}

/// What a [`Constraint`] asks of its variable. Values of other variables and literals are
/// JSON text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// `required: true`: the variable is sent.
    Required,
    /// A variable declared with a non-null type (`$id: ID!`) and no default: sent and not
    /// `null`.
    NotNull,
    /// `requiredIf: { other: value, ... }`: sent when every other variable equals its value.
    RequiredIf(&'static [(&'static str, &'static str)]),
    /// `requiredUnless: { other: value, ... }`: sent unless every other one equals its value.
    RequiredUnless(&'static [(&'static str, &'static str)]),
    /// `requiredWith: [a, b]`: sent when any of the others is.
    RequiredWith(&'static [&'static str]),
    /// `requiredWithAll`: sent when all of the others are.
    RequiredWithAll(&'static [&'static str]),
    /// `requiredWithout`: sent when any of the others is not.
    RequiredWithout(&'static [&'static str]),
    /// `requiredWithoutAll`: sent when none of the others is.
    RequiredWithoutAll(&'static [&'static str]),
    /// `min`: a number at least this, or a string or list at least this long.
    Min(f64),
    /// `max`: a number at most this, or a string or list at most this long.
    Max(f64),
    /// `equals`: equal to this JSON value.
    Equals(&'static str),
    /// `notEquals`.
    NotEquals(&'static str),
    /// `oneOf: [..]`: equal to one of these JSON values.
    OneOf(&'static [&'static str]),
    /// `greaterThan`.
    GreaterThan(f64),
    /// `greaterThanOrEquals`.
    GreaterThanOrEquals(f64),
    /// `lessThan`.
    LessThan(f64),
    /// `lessThanOrEquals`.
    LessThanOrEquals(f64),
    /// `equalsField: other`: equal to another variable.
    EqualsField(&'static str),
    /// `notEqualsField`.
    NotEqualsField(&'static str),
    /// `greaterThanField`.
    GreaterThanField(&'static str),
    /// `greaterThanOrEqualsField`.
    GreaterThanOrEqualsField(&'static str),
    /// `lessThanField`.
    LessThanField(&'static str),
    /// `lessThanOrEqualsField`.
    LessThanOrEqualsField(&'static str),
    /// `format: email` etc.: a string of that form.
    Format(Format),
}

// The numbers are finite literals from the allow list (never NaN), so equality is total.
impl Eq for Rule {}
impl Eq for Constraint {}

/// The string formats of `format:` (GraphJin's, plus `uuid` and `url`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// ASCII letters.
    Alpha,
    /// ASCII letters and digits.
    AlphaNumeric,
    /// Letters of any script.
    AlphaUnicode,
    /// Letters and digits of any script.
    AlphaUnicodeNumeric,
    /// A decimal number, optionally signed, optionally with a fraction.
    Numeric,
    /// Digits only.
    Number,
    /// An e-mail address.
    Email,
    /// A UUID of any version (hyphenated, any case).
    Uuid,
    /// A version-3 UUID (lower case, as GraphJin's pattern).
    Uuid3,
    /// A version-4 UUID.
    Uuid4,
    /// A version-5 UUID.
    Uuid5,
    /// A ULID (26 Crockford base-32 characters).
    Ulid,
    /// An absolute `http://` or `https://` URL with a host.
    Url,
}

impl Format {
    /// Every format with its directive name, for the compiler's did-you-mean.
    pub const ALL: [(&'static str, Format); 13] = [
        ("alpha", Format::Alpha),
        ("alphaNumeric", Format::AlphaNumeric),
        ("alphaUnicode", Format::AlphaUnicode),
        ("alphaUnicodeNumeric", Format::AlphaUnicodeNumeric),
        ("numeric", Format::Numeric),
        ("number", Format::Number),
        ("email", Format::Email),
        ("uuid", Format::Uuid),
        ("uuid3", Format::Uuid3),
        ("uuid4", Format::Uuid4),
        ("uuid5", Format::Uuid5),
        ("ulid", Format::Ulid),
        ("url", Format::Url),
    ];

    /// The directive's name for this format.
    pub fn name(self) -> &'static str {
        Format::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("?", |(n, _)| n)
    }

    /// Whether `s` has this format.
    pub fn matches(self, s: &str) -> bool {
        let nonempty = !s.is_empty();
        match self {
            Format::Alpha => nonempty && s.bytes().all(|b| b.is_ascii_alphabetic()),
            Format::AlphaNumeric => nonempty && s.bytes().all(|b| b.is_ascii_alphanumeric()),
            Format::AlphaUnicode => nonempty && s.chars().all(char::is_alphabetic),
            Format::AlphaUnicodeNumeric => nonempty && s.chars().all(char::is_alphanumeric),
            Format::Number => nonempty && s.bytes().all(|b| b.is_ascii_digit()),
            Format::Numeric => {
                let s = s.strip_prefix(['+', '-']).unwrap_or(s);
                let (int, frac) = match s.split_once('.') {
                    Some((i, f)) => (i, Some(f)),
                    None => (s, None),
                };
                let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
                digits(int) && frac.is_none_or(digits)
            }
            Format::Email => is_email(s),
            Format::Uuid => is_uuid(s, None, false),
            Format::Uuid3 => is_uuid(s, Some(b'3'), true),
            Format::Uuid4 => is_uuid(s, Some(b'4'), true),
            Format::Uuid5 => is_uuid(s, Some(b'5'), true),
            Format::Ulid => {
                s.len() == 26
                    && s.bytes().all(|b| {
                        b.is_ascii_digit()
                            || (b.is_ascii_uppercase() && !matches!(b, b'I' | b'L' | b'O' | b'U'))
                    })
            }
            Format::Url => is_url(s),
        }
    }
}

/// `local@domain.tld`: a dot-atom local part and a domain of at least two labels.
fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    let atom = |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(atom));
    let labels: Vec<&str> = domain
        .strip_suffix('.')
        .unwrap_or(domain)
        .split('.')
        .collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    local_ok
        && labels.len() >= 2
        && labels.iter().all(label_ok)
        && labels
            .last()
            .is_some_and(|tld| tld.chars().all(char::is_alphabetic))
}

/// `8-4-4-4-12` hex digits; with `version`, that version nibble and the RFC 4122 variant,
/// lower case only (GraphJin's patterns).
fn is_uuid(s: &str, version: Option<u8>, lower_only: bool) -> bool {
    let b = s.as_bytes();
    if b.len() != 36 {
        return false;
    }
    let hex = |c: u8| {
        c.is_ascii_digit() || matches!(c, b'a'..=b'f') || (!lower_only && matches!(c, b'A'..=b'F'))
    };
    let shape_ok = b.iter().enumerate().all(|(i, &c)| match i {
        8 | 13 | 18 | 23 => c == b'-',
        _ => hex(c),
    });
    shape_ok && version.is_none_or(|v| b[14] == v && matches!(b[19], b'8' | b'9' | b'a' | b'b'))
}

/// `http(s)://host[:port][/...]` with a non-empty host and no spaces.
fn is_url(s: &str) -> bool {
    let Some(rest) = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    !host.is_empty() && !s.chars().any(char::is_whitespace)
}

impl Rule {
    /// The directive's name for this rule (`NotNull` is the declared type's `!`).
    pub fn name(&self) -> &'static str {
        match self {
            Rule::Required => "required",
            Rule::NotNull => "non-null type",
            Rule::RequiredIf(_) => "requiredIf",
            Rule::RequiredUnless(_) => "requiredUnless",
            Rule::RequiredWith(_) => "requiredWith",
            Rule::RequiredWithAll(_) => "requiredWithAll",
            Rule::RequiredWithout(_) => "requiredWithout",
            Rule::RequiredWithoutAll(_) => "requiredWithoutAll",
            Rule::Min(_) => "min",
            Rule::Max(_) => "max",
            Rule::Equals(_) => "equals",
            Rule::NotEquals(_) => "notEquals",
            Rule::OneOf(_) => "oneOf",
            Rule::GreaterThan(_) => "greaterThan",
            Rule::GreaterThanOrEquals(_) => "greaterThanOrEquals",
            Rule::LessThan(_) => "lessThan",
            Rule::LessThanOrEquals(_) => "lessThanOrEquals",
            Rule::EqualsField(_) => "equalsField",
            Rule::NotEqualsField(_) => "notEqualsField",
            Rule::GreaterThanField(_) => "greaterThanField",
            Rule::GreaterThanOrEqualsField(_) => "greaterThanOrEqualsField",
            Rule::LessThanField(_) => "lessThanField",
            Rule::LessThanOrEqualsField(_) => "lessThanOrEqualsField",
            Rule::Format(_) => "format",
        }
    }

    /// Whether the variables satisfy the rule for `variable`; `get` looks a variable up.
    fn holds<'v>(&self, variable: &str, get: &impl Fn(&str) -> Option<&'v Value>) -> bool {
        let value = get(variable);
        let sent = |name: &str| get(name).is_some();
        let equals = |name: &str, text: &str| {
            get(name)
                .is_some_and(|v| serde_json::from_str::<Value>(text).is_ok_and(|t| same(v, &t)))
        };
        let number = |v: Option<&Value>| v.and_then(Value::as_f64);
        let compare = |limit: Option<f64>, ok: fn(f64, f64) -> bool| matches!((number(value), limit), (Some(n), Some(l)) if ok(n, l));
        match self {
            Rule::Required => value.is_some(),
            Rule::NotNull => value.is_some_and(|v| !v.is_null()),
            Rule::RequiredIf(pairs) => !pairs.iter().all(|(n, t)| equals(n, t)) || value.is_some(),
            Rule::RequiredUnless(pairs) => {
                pairs.iter().all(|(n, t)| equals(n, t)) || value.is_some()
            }
            Rule::RequiredWith(others) => !others.iter().any(|o| sent(o)) || value.is_some(),
            Rule::RequiredWithAll(others) => !others.iter().all(|o| sent(o)) || value.is_some(),
            Rule::RequiredWithout(others) => others.iter().all(|o| sent(o)) || value.is_some(),
            Rule::RequiredWithoutAll(others) => others.iter().any(|o| sent(o)) || value.is_some(),
            Rule::Min(limit) | Rule::Max(limit) => {
                #[allow(clippy::cast_precision_loss)]
                let size = match value {
                    Some(Value::Number(n)) => n.as_f64(),
                    Some(Value::String(s)) => Some(s.chars().count() as f64),
                    Some(Value::Array(a)) => Some(a.len() as f64),
                    _ => None,
                };
                size.is_some_and(|n| {
                    if matches!(self, Rule::Min(_)) {
                        n >= *limit
                    } else {
                        n <= *limit
                    }
                })
            }
            Rule::Equals(text) => equals(variable, text),
            Rule::NotEquals(text) => value.is_some() && !equals(variable, text),
            Rule::OneOf(texts) => texts.iter().any(|t| equals(variable, t)),
            Rule::GreaterThan(l) => compare(Some(*l), |n, l| n > l),
            Rule::GreaterThanOrEquals(l) => compare(Some(*l), |n, l| n >= l),
            Rule::LessThan(l) => compare(Some(*l), |n, l| n < l),
            Rule::LessThanOrEquals(l) => compare(Some(*l), |n, l| n <= l),
            Rule::EqualsField(o) => matches!((value, get(o)), (Some(a), Some(b)) if same(a, b)),
            Rule::NotEqualsField(o) => {
                matches!((value, get(o)), (Some(a), Some(b)) if !same(a, b))
            }
            Rule::GreaterThanField(o) => compare(number(get(o)), |n, l| n > l),
            Rule::GreaterThanOrEqualsField(o) => compare(number(get(o)), |n, l| n >= l),
            Rule::LessThanField(o) => compare(number(get(o)), |n, l| n < l),
            Rule::LessThanOrEqualsField(o) => compare(number(get(o)), |n, l| n <= l),
            Rule::Format(f) => value.and_then(Value::as_str).is_some_and(|s| f.matches(s)),
        }
    }
}

impl Constraint {
    /// Every variable the constraint reads: its own and the ones its rule names. An
    /// iterator, not a list: this runs for every call of an operation with constraints.
    pub(crate) fn variables(&self) -> impl Iterator<Item = &'static str> {
        let (pairs, names, field): (&[(&str, &str)], &[&str], Option<&str>) = match self.rule {
            Rule::RequiredIf(pairs) | Rule::RequiredUnless(pairs) => (pairs, &[], None),
            Rule::RequiredWith(names)
            | Rule::RequiredWithAll(names)
            | Rule::RequiredWithout(names)
            | Rule::RequiredWithoutAll(names) => (&[], names, None),
            Rule::EqualsField(n)
            | Rule::NotEqualsField(n)
            | Rule::GreaterThanField(n)
            | Rule::GreaterThanOrEqualsField(n)
            | Rule::LessThanField(n)
            | Rule::LessThanOrEqualsField(n) => (&[], &[], Some(n)),
            _ => (&[], &[], None),
        };
        std::iter::once(self.variable)
            .chain(pairs.iter().map(|(n, _)| *n))
            .chain(names.iter().copied())
            .chain(field)
    }
}

/// JSON equality with numbers compared by value (`1` equals `1.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// How many distinct variables [`check`] keeps on the stack.
const INLINE: usize = 8;

/// Checks `op`'s constraints against the call's variables: every call path (queries and
/// mutations, subscriptions) runs this before any SQL.
pub(crate) fn check(
    op: &crate::Operation,
    vars: &crate::vars::Source<'_>,
) -> Result<(), crate::Error> {
    if op.constraints.is_empty() {
        return Ok(());
    }
    // The variables the constraints read, each parsed once: on the stack for the usual
    // few (this runs on every call of an operation with constraints), in `spill` past that.
    let mut inline: [(&str, Option<Value>); INLINE] = Default::default();
    let mut len = 0;
    let mut spill: Vec<(&str, Option<Value>)> = Vec::new();
    for name in op.constraints.iter().flat_map(Constraint::variables) {
        let seen = |list: &[(&str, Option<Value>)]| list.iter().any(|(n, _)| *n == name);
        if seen(&inline[..len]) || seen(&spill) {
            continue;
        }
        let value = vars.value(name)?;
        if len < INLINE {
            inline[len] = (name, value);
            len += 1;
        } else {
            spill.push((name, value));
        }
    }
    let failures = failures(op.constraints, |n| {
        inline[..len]
            .iter()
            .chain(&spill)
            .find(|(name, _)| *name == n)
            .and_then(|(_, value)| value.as_ref())
    });
    if failures.is_empty() {
        Ok(())
    } else {
        Err(crate::Error::Validation {
            operation: op.name,
            failures,
        })
    }
}

/// The constraints of `constraints` that the variables break, as `(variable, rule name)` in
/// order; `get` looks a variable up (absent: not sent).
pub(crate) fn failures<'v>(
    constraints: &[Constraint],
    get: impl Fn(&str) -> Option<&'v Value>,
) -> Vec<(&'static str, &'static str)> {
    constraints
        .iter()
        .filter(|c| !c.rule.holds(c.variable, &get))
        .map(|c| (c.variable, c.rule.name()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(constraints: &[Constraint], vars: Value) -> Vec<(&'static str, &'static str)> {
        failures(constraints, |n| vars.get(n))
    }

    const fn c(variable: &'static str, rule: Rule) -> Constraint {
        Constraint { variable, rule }
    }

    /// GraphJin's `Example_insertInlineWithValidation` constraints.
    #[test]
    fn graphjin_example() {
        let cs = [
            c("email", Rule::Format(Format::Email)),
            c("email", Rule::Min(1.0)),
            c("email", Rule::Max(100.0)),
            c("full_name", Rule::RequiredIf(&[("id", "1007")])),
            c("id", Rule::GreaterThan(1006.0)),
            c("id", Rule::LessThanOrEqualsField("id")),
        ];
        assert_eq!(
            check(&cs, json!({"id": 1007, "email": "not_an_email"})),
            [("email", "format"), ("full_name", "requiredIf")]
        );
        assert!(
            check(
                &cs,
                json!({"id": 1007, "email": "a@b.co", "full_name": "A"})
            )
            .is_empty()
        );
        assert_eq!(
            check(&cs, json!({"id": 1006, "email": ""})),
            [("email", "format"), ("email", "min"), ("id", "greaterThan")]
        );
    }

    #[test]
    fn requirements() {
        let cs = [
            c("a", Rule::Required),
            c("b", Rule::NotNull),
            c("c", Rule::RequiredWith(&["x", "y"])),
            c("d", Rule::RequiredWithAll(&["x", "y"])),
            c("e", Rule::RequiredWithout(&["x", "y"])),
            c("f", Rule::RequiredWithoutAll(&["x", "y"])),
            c("g", Rule::RequiredUnless(&[("x", "\"on\"")])),
        ];
        assert_eq!(
            check(&cs, json!({"a": null, "b": 1, "x": "on"})),
            [("c", "requiredWith"), ("e", "requiredWithout")]
        );
        assert_eq!(
            check(&cs, json!({"b": null})),
            [
                ("a", "required"),
                ("b", "non-null type"),
                ("e", "requiredWithout"),
                ("f", "requiredWithoutAll"),
                ("g", "requiredUnless")
            ]
        );
    }

    #[test]
    fn values() {
        let cs = [
            c("n", Rule::OneOf(&["1", "\"two\""])),
            c("n", Rule::NotEquals("3")),
            c("s", Rule::Max(3.0)),
            c("s", Rule::EqualsField("t")),
            c("lo", Rule::LessThanField("hi")),
        ];
        assert!(
            check(
                &cs,
                json!({"n": 1.0, "s": "abc", "t": "abc", "lo": 1, "hi": 2})
            )
            .is_empty()
        );
        assert_eq!(
            check(
                &cs,
                json!({"n": 3, "s": "abcd", "t": "x", "lo": 2, "hi": 2})
            ),
            [
                ("n", "oneOf"),
                ("n", "notEquals"),
                ("s", "max"),
                ("s", "equalsField"),
                ("lo", "lessThanField")
            ]
        );
    }

    #[test]
    fn formats() {
        let yes = [
            (Format::Email, "jane.doe+x@mail.example.com"),
            (Format::Uuid, "123E4567-e89b-12d3-a456-426614174000"),
            (Format::Uuid4, "9b2f1c1e-3a5b-4c7d-8e9f-0a1b2c3d4e5f"),
            (Format::Ulid, "01ARZ3NDEKTSV4RRFFQ69G5FAV"),
            (Format::Numeric, "-12.5"),
            (Format::Number, "007"),
            (Format::AlphaUnicode, "Grüße"),
            (Format::Url, "https://example.com:8443/a?b#c"),
        ];
        for (f, s) in yes {
            assert!(f.matches(s), "{} {s}", f.name());
        }
        let no = [
            (Format::Email, "not_an_email"),
            (Format::Email, "a@b"),
            (Format::Email, "a b@c.com"),
            (Format::Uuid4, "9b2f1c1e-3a5b-5c7d-8e9f-0a1b2c3d4e5f"),
            (Format::Uuid3, "9B2F1C1E-3A5B-3C7D-8E9F-0A1B2C3D4E5F"),
            (Format::Ulid, "01ARZ3NDEKTSV4RRFFQ69G5FAI"),
            (Format::Numeric, "1."),
            (Format::Alpha, ""),
            (Format::Url, "ftp://example.com"),
            (Format::Url, "http:///path"),
        ];
        for (f, s) in no {
            assert!(!f.matches(s), "{} {s}", f.name());
        }
    }
}
