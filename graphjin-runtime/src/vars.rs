//! Variables: checking each against the type its statement uses it as, and turning it into
//! the text PostgreSQL receives.
//!
//! Two sources share one set of rules: a parsed [`serde_json::Value`] (for
//! [`crate::Db::execute`]) and raw JSON text (HTTP bodies and typed callers), which keeps
//! numbers exactly as written (no `f64` rounding of `numeric` values).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::Error;
use crate::pgtype::{Kind, Scalar};

/// A variables object kept as raw JSON text per variable.
#[derive(Debug, Default)]
pub(crate) struct RawVariables<'a> {
    entries: Entries<'a>,
}

impl<'a> RawVariables<'a> {
    /// Reads a variables object; `null` means none. Anything but an object or `null` is an
    /// error naming what was sent.
    pub(crate) fn parse(json: &'a [u8]) -> Result<RawVariables<'a>, Error> {
        let mut de = serde_json::Deserializer::from_slice(json);
        let vars = <VariablesMember<'a> as de::Deserialize>::deserialize(&mut de)
            .map_err(Error::VariablesJson)?
            .into_variables()?;
        de.end().map_err(Error::VariablesJson)?;
        Ok(vars)
    }

    /// Reads an already delimited JSON value as a variables object.
    pub(crate) fn from_raw(raw: &'a RawValue) -> Result<RawVariables<'a>, Error> {
        match raw.get().as_bytes().first() {
            Some(b'{') => {
                let mut de = serde_json::Deserializer::from_str(raw.get());
                let entries = de
                    .deserialize_map(EntriesVisitor)
                    .map_err(Error::VariablesJson)?;
                Ok(RawVariables { entries })
            }
            Some(b'n') => Ok(RawVariables::default()),
            _ => Err(Error::VariablesNotObject {
                got: raw.json_type().article(),
            }),
        }
    }

    /// The variable's raw value; the last one wins when a name repeats.
    fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| *v)
    }
}

/// A request body's `variables` member, read into [`RawVariables`] within the body's own
/// parse (a `&RawValue` member would be read twice: once to delimit it, once to split it).
pub(crate) struct VariablesMember<'a>(Result<Entries<'a>, &'static str>);

impl<'de: 'a, 'a> de::Deserialize<'de> for VariablesMember<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TopVisitor).map(VariablesMember)
    }
}

impl<'a> VariablesMember<'a> {
    /// The variables; anything but an object (or `null`) is an error naming what was sent.
    pub(crate) fn into_variables(self) -> Result<RawVariables<'a>, Error> {
        self.0
            .map(|entries| RawVariables { entries })
            .map_err(|got| Error::VariablesNotObject { got })
    }
}

struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Entries<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(4).min(64));
        while let Some(key) = map.next_key::<Str<'de>>()? {
            out.push((key.0, map.next_value::<&'de RawValue>()?));
        }
        Ok(out)
    }
}

/// A whole variables document in one pass: an object's entries, nothing for `null`, or
/// what was sent instead of an object.
struct TopVisitor;

type Entries<'de> = Vec<(Cow<'de, str>, &'de RawValue)>;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Result<Entries<'de>, &'static str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        EntriesVisitor.visit_map(map).map(Ok)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Ok(Vec::new()))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Err(JsonType::Bool.article()))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Err(JsonType::Number.article()))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Err(JsonType::Number.article()))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Err(JsonType::Number.article()))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Err(JsonType::String.article()))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(Err(JsonType::Array.article()))
    }
}

/// A string that borrows from the input unless it has escapes.
struct Str<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Where a statement's non-builtin variables come from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source<'a> {
    /// No variables.
    None,
    /// A parsed object.
    Value(&'a serde_json::Map<String, Value>),
    /// Raw JSON per variable.
    Raw(&'a RawVariables<'a>),
}

impl<'a> Source<'a> {
    /// From an optional parsed value: `null` means none, anything else but an object is an
    /// error.
    pub(crate) fn from_value(value: Option<&'a Value>) -> Result<Source<'a>, Error> {
        match value {
            None | Some(Value::Null) => Ok(Source::None),
            Some(Value::Object(map)) => Ok(Source::Value(map)),
            Some(other) => Err(Error::VariablesNotObject {
                got: other.json_type().article(),
            }),
        }
    }

    /// The value of variable `name`, if it was sent (for validation).
    pub(crate) fn value(&self, name: &str) -> Result<Option<Value>, Error> {
        Ok(match self {
            Source::None => None,
            Source::Value(map) => map.get(name).cloned(),
            Source::Raw(vars) => match vars.get(name) {
                // The text is valid JSON already; only a number beyond f64 fails here.
                Some(raw) => {
                    Some(
                        serde_json::from_str(raw.get()).map_err(|_| Error::Variable {
                            name: name.to_owned(),
                            expected: "a number within the range of a double".to_owned(),
                            got: "a number out of range",
                        })?,
                    )
                }
                None => None,
            },
        })
    }

    /// The bind text for variable `name` used as `kind`: `Ok(None)` is SQL NULL. A missing
    /// variable takes `default` (JSON text) when there is one.
    pub(crate) fn bind(
        &self,
        name: &str,
        kind: &Kind,
        default: Option<&'static str>,
    ) -> Result<Option<Cow<'a, str>>, Error> {
        let found = match self {
            Source::None => None,
            Source::Value(map) => match map.get(name) {
                Some(v) => return to_text(name, kind, v),
                None => None,
            },
            Source::Raw(vars) => vars.get(name),
        };
        match found {
            Some(raw) => to_text(name, kind, raw),
            None => match default {
                Some(text) => default_text(name, kind, text),
                None => Ok(None),
            },
        }
    }
}

/// The bind text for a default, checked like a variable (start-up checks every default,
/// so this only fails for a table that skipped [`check_default`]).
fn default_text(
    name: &str,
    kind: &Kind,
    text: &'static str,
) -> Result<Option<Cow<'static, str>>, Error> {
    let raw: &'static RawValue = serde_json::from_str(text).map_err(Error::VariablesJson)?;
    to_text(name, kind, raw)
}

/// Checks an operation table's default for a parameter at start-up.
pub(crate) fn check_default(name: &str, kind: &Kind, text: &'static str) -> Result<(), String> {
    match default_text(name, kind, text) {
        Ok(_) => Ok(()),
        Err(Error::VariablesJson(e)) => Err(format!(
            "the default of variable \"{name}\" is not valid JSON: {e}"
        )),
        Err(e) => Err(format!("the default of {e}")),
    }
}

/// The JSON types, as a value's first byte tells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonType {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

impl JsonType {
    fn article(self) -> &'static str {
        match self {
            JsonType::Null => "null",
            JsonType::Bool => "a boolean",
            JsonType::Number => "a number",
            JsonType::String => "a string",
            JsonType::Array => "an array",
            JsonType::Object => "an object",
        }
    }
}

/// Why a number is not an integer of the wanted width.
enum NotInt {
    Fraction,
    Range,
}

/// Read access to one JSON value, parsed or raw.
trait Json<'a>: Copy {
    fn json_type(self) -> JsonType;
    /// A number's integer value.
    fn integer(self) -> Result<i64, NotInt>;
    /// A number's text.
    fn number_text(self) -> Cow<'a, str>;
    /// A string's contents.
    fn string(self) -> Cow<'a, str>;
    /// A bool's value.
    fn boolean(self) -> bool;
    /// An array's elements.
    fn elements(self) -> Vec<Self>;
    /// The value as JSON text.
    fn json_text(self) -> Cow<'a, str>;
}

impl<'a> Json<'a> for &'a Value {
    fn json_type(self) -> JsonType {
        match self {
            Value::Null => JsonType::Null,
            Value::Bool(_) => JsonType::Bool,
            Value::Number(_) => JsonType::Number,
            Value::String(_) => JsonType::String,
            Value::Array(_) => JsonType::Array,
            Value::Object(_) => JsonType::Object,
        }
    }

    fn integer(self) -> Result<i64, NotInt> {
        match self {
            Value::Number(n) if n.is_i64() => n.as_i64().ok_or(NotInt::Range),
            Value::Number(n) if n.is_u64() => Err(NotInt::Range),
            _ => Err(NotInt::Fraction),
        }
    }

    fn number_text(self) -> Cow<'a, str> {
        match self {
            Value::Number(n) => Cow::Owned(n.to_string()),
            other => Cow::Owned(other.to_string()),
        }
    }

    fn string(self) -> Cow<'a, str> {
        match self {
            Value::String(s) => Cow::Borrowed(s),
            other => Cow::Owned(other.to_string()),
        }
    }

    fn boolean(self) -> bool {
        matches!(self, Value::Bool(true))
    }

    fn elements(self) -> Vec<Self> {
        match self {
            Value::Array(items) => items.iter().collect(),
            _ => Vec::new(),
        }
    }

    fn json_text(self) -> Cow<'a, str> {
        Cow::Owned(self.to_string())
    }
}

impl<'a> Json<'a> for &'a RawValue {
    fn json_type(self) -> JsonType {
        match self.get().as_bytes().first() {
            Some(b'n') => JsonType::Null,
            Some(b't' | b'f') => JsonType::Bool,
            Some(b'"') => JsonType::String,
            Some(b'[') => JsonType::Array,
            Some(b'{') => JsonType::Object,
            _ => JsonType::Number,
        }
    }

    fn integer(self) -> Result<i64, NotInt> {
        let text = self.get();
        if text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
            return Err(NotInt::Fraction);
        }
        text.parse().map_err(|_| NotInt::Range)
    }

    fn number_text(self) -> Cow<'a, str> {
        Cow::Borrowed(self.get())
    }

    fn string(self) -> Cow<'a, str> {
        let mut de = serde_json::Deserializer::from_str(self.get());
        match de::Deserialize::deserialize(&mut de) {
            Ok(Str(s)) => s,
            // Unreachable for a raw string value; keep the text rather than panic.
            Err(_) => Cow::Borrowed(self.get()),
        }
    }

    fn boolean(self) -> bool {
        self.get() == "true"
    }

    fn elements(self) -> Vec<Self> {
        serde_json::from_str::<Vec<&'a RawValue>>(self.get()).unwrap_or_default()
    }

    fn json_text(self) -> Cow<'a, str> {
        Cow::Borrowed(self.get())
    }
}

/// Checks `value` against `kind` and renders its bind text.
fn to_text<'a, J: Json<'a>>(
    name: &str,
    kind: &Kind,
    value: J,
) -> Result<Option<Cow<'a, str>>, Error> {
    let fail = |got: &'static str| Error::Variable {
        name: name.to_owned(),
        expected: kind.expected(),
        got,
    };
    let ty = value.json_type();
    if ty == JsonType::Null {
        return Ok(None);
    }
    if kind.dims > 0 {
        if ty != JsonType::Array {
            return Err(fail(ty.article()));
        }
        check_elements(kind.scalar, kind.dims, value).map_err(fail)?;
        return Ok(Some(value.json_text()));
    }
    check_scalar(kind.scalar, value).map_err(fail)?;
    Ok(Some(match (kind.scalar, ty) {
        (Scalar::Json, _) => value.json_text(),
        (_, JsonType::String) => value.string(),
        (_, JsonType::Number) => value.number_text(),
        (_, JsonType::Bool) => Cow::Borrowed(if value.boolean() { "true" } else { "false" }),
        _ => value.json_text(),
    }))
}

/// Checks each element of an array `dims` deep; elements may be null.
fn check_elements<'a, J: Json<'a>>(scalar: Scalar, dims: u8, value: J) -> Result<(), &'static str> {
    for element in value.elements() {
        let ty = element.json_type();
        if ty == JsonType::Null {
            continue;
        }
        if dims > 1 {
            if ty != JsonType::Array {
                return Err(element_article(ty));
            }
            check_elements(scalar, dims - 1, element)?;
        } else {
            check_scalar(scalar, element).map_err(element_of)?;
        }
    }
    Ok(())
}

fn element_article(ty: JsonType) -> &'static str {
    element_of(ty.article())
}

fn element_of(got: &'static str) -> &'static str {
    match got {
        "a boolean" => "an array with a boolean",
        "a number" => "an array with a number",
        "a string" => "an array with a string",
        "an array" => "an array with an array",
        "an object" => "an array with an object",
        "a fractional number" => "an array with a fractional number",
        "an integer out of range" => "an array with an integer out of range",
        _ => "an array with an element of the wrong type",
    }
}

/// Checks a non-null scalar; `Err` says what was sent instead.
fn check_scalar<'a, J: Json<'a>>(scalar: Scalar, value: J) -> Result<(), &'static str> {
    let ty = value.json_type();
    let ok = match scalar {
        Scalar::Json => true,
        Scalar::Int(width) => {
            if ty != JsonType::Number {
                false
            } else {
                return match value.integer() {
                    Ok(n) if width.fits(n) => Ok(()),
                    Ok(_) | Err(NotInt::Range) => Err("an integer out of range"),
                    Err(NotInt::Fraction) => Err("a fractional number"),
                };
            }
        }
        Scalar::Number => ty == JsonType::Number,
        Scalar::Bool => ty == JsonType::Bool,
        Scalar::String => ty == JsonType::String,
        Scalar::Untyped => matches!(ty, JsonType::String | JsonType::Number | JsonType::Bool),
    };
    if ok { Ok(()) } else { Err(ty.article()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw_bind(vars: &str, name: &str, ty: &'static str) -> Result<Option<String>, Error> {
        let v = RawVariables::parse(vars.as_bytes())?;
        let r = Source::Raw(&v).bind(name, &Kind::of(ty), None)?;
        Ok(r.map(|c| c.into_owned()))
    }

    /// A body's `variables` member read within the body's parse: as a variables object
    /// read on its own, escaped names included; anything but an object names what it is.
    #[test]
    fn variables_member_reads_as_the_object_does() {
        #[derive(serde::Deserialize)]
        struct Body<'a> {
            #[serde(borrow)]
            variables: VariablesMember<'a>,
        }
        let body = br#"{"variables":{"a\u0062":[1, 2],"id":3,"id":"4"}}"#;
        let member: Body<'_> = serde_json::from_slice(body).expect("body");
        let vars = member.variables.into_variables().expect("an object");
        let alone = RawVariables::parse(br#"{"a\u0062":[1, 2],"id":3,"id":"4"}"#).expect("object");
        assert_eq!(vars.get("ab").map(RawValue::get), Some("[1, 2]"));
        assert_eq!(vars.get("id").map(RawValue::get), Some("\"4\""));
        for name in ["ab", "id", "missing"] {
            assert_eq!(
                vars.get(name).map(RawValue::get),
                alone.get(name).map(RawValue::get),
                "{name}"
            );
        }
        for (json, got) in [
            ("[1]", "an array"),
            ("\"x\"", "a string"),
            ("7", "a number"),
        ] {
            let text = format!(r#"{{"variables":{json}}}"#);
            let member: Body<'_> = serde_json::from_str(&text).expect("body");
            match member.variables.into_variables() {
                Err(Error::VariablesNotObject { got: g }) => assert_eq!(g, got, "{json}"),
                other => panic!("{json}: {other:?}"),
            }
        }
    }

    fn value_bind(vars: &Value, name: &str, ty: &'static str) -> Result<Option<String>, Error> {
        let r = Source::from_value(Some(vars))?.bind(name, &Kind::of(ty), None)?;
        Ok(r.map(|c| c.into_owned()))
    }

    #[test]
    fn raw_and_value_agree() {
        let cases: &[(&str, &'static str, Option<&str>)] = &[
            (r#"{"x": 5}"#, "bigint", Some("5")),
            (r#"{"x": -32768}"#, "smallint", Some("-32768")),
            (r#"{"x": "a\"b"}"#, "text", Some("a\"b")),
            (r#"{"x": true}"#, "boolean", Some("true")),
            (r#"{"x": 1.5}"#, "numeric", Some("1.5")),
            (r#"{"x": null}"#, "bigint", None),
            (r#"{}"#, "bigint", None),
            (r#"{"x": [1, 2, null]}"#, "bigint[]", Some("[1,2,null]")),
            (r#"{"x": {"a": [1]}}"#, "jsonb", Some(r#"{"a":[1]}"#)),
            (r#"{"x": "s"}"#, "json", Some(r#""s""#)),
            (r#"{"x": "happy"}"#, "mood", Some("happy")),
            (r#"{"x": "2024-01-01"}"#, "date", Some("2024-01-01")),
        ];
        for (vars, ty, want) in cases {
            let raw = raw_bind(vars, "x", ty).unwrap();
            let value: Value = serde_json::from_str(vars).unwrap();
            let parsed = value_bind(&value, "x", ty).unwrap();
            // Raw keeps the client's spacing inside arrays and objects; compare as JSON there.
            match (raw.as_deref(), *want) {
                (Some(r), Some(w)) if w.starts_with(['[', '{']) => {
                    let r: Value = serde_json::from_str(r).unwrap();
                    let w: Value = serde_json::from_str(w).unwrap();
                    assert_eq!(r, w, "{vars} as {ty}");
                }
                (r, w) => assert_eq!(r, w, "{vars} as {ty}"),
            }
            assert_eq!(parsed.as_deref(), *want, "{vars} as {ty} (parsed)");
        }
    }

    #[test]
    fn raw_numbers_are_exact() {
        let big = "123456789012345678901234567890.000000000000000001";
        let vars = format!(r#"{{"x": {big}}}"#);
        assert_eq!(
            raw_bind(&vars, "x", "numeric").unwrap().as_deref(),
            Some(big)
        );
    }

    #[test]
    fn mismatches_name_variable_and_type() {
        let msg = |vars: &str, ty: &'static str| raw_bind(vars, "id", ty).unwrap_err().to_string();
        assert_eq!(
            msg(r#"{"id": "5"}"#, "bigint"),
            r#"variable "id" must be an integer (bigint), got a string"#
        );
        assert_eq!(
            msg(r#"{"id": 1.5}"#, "bigint"),
            r#"variable "id" must be an integer (bigint), got a fractional number"#
        );
        assert_eq!(
            msg(r#"{"id": 70000}"#, "smallint"),
            r#"variable "id" must be an integer (smallint), got an integer out of range"#
        );
        assert_eq!(
            msg(r#"{"id": 99999999999999999999}"#, "bigint"),
            r#"variable "id" must be an integer (bigint), got an integer out of range"#
        );
        assert_eq!(
            msg(r#"{"id": [1, "2"]}"#, "bigint[]"),
            r#"variable "id" must be an array of integers (bigint[]), got an array with a string"#
        );
        assert_eq!(
            msg(r#"{"id": 5}"#, "text"),
            r#"variable "id" must be a string (text), got a number"#
        );
        assert_eq!(
            msg(r#"{"id": 5}"#, "bigint[]"),
            r#"variable "id" must be an array of integers (bigint[]), got a number"#
        );
        assert_eq!(
            msg(r#"{"id": "x"}"#, "boolean"),
            r#"variable "id" must be a boolean (boolean), got a string"#
        );
        assert_eq!(
            msg(r#"{"id": {}}"#, "mood"),
            r#"variable "id" must be a string, number or boolean (mood), got an object"#
        );
        let v = json!({"id": "5"});
        assert_eq!(
            value_bind(&v, "id", "int").unwrap_err().to_string(),
            r#"variable "id" must be an integer (int), got a string"#
        );
        let v = json!({"id": 1u64 << 63});
        assert!(value_bind(&v, "id", "bigint").is_err());
    }

    #[test]
    fn variables_must_be_an_object() {
        assert!(matches!(
            RawVariables::parse(b"[1]"),
            Err(Error::VariablesNotObject { got: "an array" })
        ));
        assert!(matches!(
            RawVariables::parse(b"{\"a\":"),
            Err(Error::VariablesJson(_))
        ));
        assert!(RawVariables::parse(b"null").is_ok());
        assert!(matches!(
            Source::from_value(Some(&json!("x"))),
            Err(Error::VariablesNotObject { got: "a string" })
        ));
    }

    #[test]
    fn defaults_apply_only_when_missing() {
        let kind = Kind::of("bigint");
        let v = RawVariables::parse(br#"{"x": null}"#).unwrap();
        assert_eq!(Source::Raw(&v).bind("x", &kind, Some("7")).unwrap(), None);
        assert_eq!(
            Source::Raw(&v)
                .bind("y", &kind, Some("7"))
                .unwrap()
                .as_deref(),
            Some("7")
        );
        assert!(check_default("y", &kind, "\"no\"").is_err());
        assert!(check_default("y", &kind, "nope").is_err());
    }

    #[test]
    fn escaped_keys_and_last_duplicate() {
        let v = RawVariables::parse(br#"{"\u0069d": 1, "id": 2}"#).unwrap();
        assert_eq!(
            Source::Raw(&v)
                .bind("id", &Kind::of("int"), None)
                .unwrap()
                .as_deref(),
            Some("2")
        );
    }

    #[test]
    fn raw_values_carry_no_surrounding_whitespace() {
        let raw: &RawValue = serde_json::from_str("  \n {\"a\": [ 1 ] } \t").unwrap();
        assert_eq!(raw.get(), "{\"a\": [ 1 ] }");
        let items: Vec<&RawValue> = serde_json::from_str("[ 1 , \"x\" ]").unwrap();
        assert_eq!(items[0].get(), "1");
        assert_eq!(items[1].get(), "\"x\"");
    }
}
