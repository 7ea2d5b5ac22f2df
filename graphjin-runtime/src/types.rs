//! Value types for generated code and for reading statement results.

use std::fmt;
use std::str::FromStr;

use postgres_types::{FromSql, Type};
use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A PostgreSQL `numeric` as it appears in JSON, kept as its exact text.
///
/// `numeric` holds up to 131072 digits before the decimal point and 16383 after; an `f64`
/// keeps about 16 significant digits, so `12345678901234567.89` read into an `f64` comes
/// back as `12345678901234568`, and money sums drift. `Numeric` stores the JSON number's
/// text untouched, serializes it back byte for byte and leaves arithmetic to a decimal
/// crate of your choice (`as_str().parse::<rust_decimal::Decimal>()`, for example).
///
/// It also accepts the strings `"NaN"`, `"Infinity"` and `"-Infinity"`, which is how
/// PostgreSQL writes those `numeric` values in JSON. Equality compares the text, so `1.0`
/// and `1.00` differ, as they do in PostgreSQL's output.
#[derive(Clone)]
pub struct Numeric(Box<RawValue>);

/// A text that is not a JSON number (nor `NaN`/`Infinity`), given to [`Numeric`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a number: expected JSON number syntax such as 12, -3.5 or 1e-7")]
pub struct NotANumber(pub String);

impl Numeric {
    /// The number's exact text, e.g. `12.50` (or `"NaN"` with its quotes for NaN).
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// The value as an `f64`, rounding as `f64` must (`NaN`/`Infinity` included).
    pub fn to_f64(&self) -> f64 {
        match self.as_str() {
            "\"NaN\"" => f64::NAN,
            "\"Infinity\"" => f64::INFINITY,
            "\"-Infinity\"" => f64::NEG_INFINITY,
            s => s.parse().unwrap_or(f64::NAN),
        }
    }

    fn from_raw(raw: Box<RawValue>) -> Result<Numeric, NotANumber> {
        if is_number_text(raw.get()) {
            Ok(Numeric(raw))
        } else {
            Err(NotANumber(raw.get().to_owned()))
        }
    }
}

fn is_number_text(s: &str) -> bool {
    matches!(s.as_bytes().first(), Some(b'-' | b'0'..=b'9'))
        || matches!(s, "\"NaN\"" | "\"Infinity\"" | "\"-Infinity\"")
}

impl FromStr for Numeric {
    type Err = NotANumber;

    /// Parses JSON number syntax (`12`, `-3.50`, `1e-7`), or `NaN`, `Infinity`,
    /// `-Infinity`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = match s {
            "NaN" | "Infinity" | "-Infinity" => format!("\"{s}\""),
            _ => s.to_owned(),
        };
        let raw = RawValue::from_string(text).map_err(|_| NotANumber(s.to_owned()))?;
        Numeric::from_raw(raw).map_err(|_| NotANumber(s.to_owned()))
    }
}

macro_rules! numeric_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Numeric {
            fn from(n: $t) -> Self {
                Numeric(RawValue::from_string(n.to_string()).expect("an integer is valid JSON"))
            }
        }
    )*};
}
numeric_from_int!(
    i8, i16, i32, i64, i128, u8, u16, u32, u64, u128, isize, usize
);

impl TryFrom<f64> for Numeric {
    type Error = NotANumber;

    /// The shortest text that reads back as `n`; NaN and infinities become PostgreSQL's
    /// spellings.
    fn try_from(n: f64) -> Result<Self, Self::Error> {
        if n.is_nan() {
            return "NaN".parse();
        }
        if n.is_infinite() {
            return if n > 0.0 { "Infinity" } else { "-Infinity" }.parse();
        }
        serde_json::Number::from_f64(n)
            .ok_or_else(|| NotANumber(n.to_string()))
            .and_then(|num| num.to_string().parse())
    }
}

impl Default for Numeric {
    /// Zero (`0`), so generated `Variables` structs can derive `Default`.
    fn default() -> Self {
        Numeric::from(0u8)
    }
}

impl fmt::Display for Numeric {
    /// The number's text; NaN and infinities without quotes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str().trim_matches('"'))
    }
}

impl fmt::Debug for Numeric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Numeric({})", self.as_str())
    }
}

impl PartialEq for Numeric {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Numeric {}

impl std::hash::Hash for Numeric {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl Serialize for Numeric {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Numeric {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Numeric::from_raw(raw).map_err(de::Error::custom)
    }
}

/// A serde `with` module for a decimal type of the user's choice (`rust_decimal::Decimal`,
/// `bigdecimal::BigDecimal`, ...) holding a PostgreSQL `numeric`: the value travels as the
/// exact text of a JSON number, through the type's `Display` and `FromStr`, so no digit is
/// lost to `f64` and serde_json needs no `arbitrary_precision` feature.
///
/// The generated code uses it for a type mapped to `numeric` (config `rust:`); `option`,
/// `vec` and `option_vec` serve `Option<T>`, `Vec<T>` and `Option<Vec<T>>` fields. Reading
/// also accepts a JSON string (PostgreSQL writes `NaN` and the infinities as strings);
/// writing a value whose text is not a JSON number (`NaN`) writes it as a string.
///
/// ```
/// #[derive(serde::Deserialize, serde::Serialize)]
/// struct Row {
///     #[serde(with = "graphjin_runtime::types::number")]
///     price: graphjin_runtime::types::Numeric, // any `Display + FromStr` type
/// }
/// let row: Row = serde_json::from_str(r#"{"price":12345678901234567.890}"#).unwrap();
/// assert_eq!(serde_json::to_string(&row).unwrap(), r#"{"price":12345678901234567.890}"#);
/// ```
pub mod number {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::de::{self, Deserializer};
    use serde::ser::{self, Serializer};
    use serde::{Deserialize, Serialize};
    use serde_json::value::RawValue;

    /// The value's JSON: its text as a number, or as a string when that is no JSON number.
    fn raw<T: Display>(value: &T) -> Result<Box<RawValue>, serde_json::Error> {
        let text = value.to_string();
        let is_number = text.starts_with(|c: char| c == '-' || c.is_ascii_digit())
            && serde_json::from_str::<de::IgnoredAny>(&text).is_ok();
        if is_number {
            RawValue::from_string(text)
        } else {
            serde_json::value::to_raw_value(&text)
        }
    }

    fn raws<T: Display, E: ser::Error>(values: &[T]) -> Result<Vec<Box<RawValue>>, E> {
        values.iter().map(|v| raw(v).map_err(E::custom)).collect()
    }

    fn parse<T, E>(raw: &RawValue) -> Result<T, E>
    where
        T: FromStr,
        T::Err: Display,
        E: de::Error,
    {
        let text = raw.get();
        let parsed = if text.starts_with('"') {
            let s: String = serde_json::from_str(text).map_err(E::custom)?;
            s.parse::<T>()
        } else {
            text.parse::<T>()
        };
        parsed.map_err(|e| E::custom(format_args!("{text} is not a valid number here: {e}")))
    }

    /// Writes `value` as a JSON number with its exact digits.
    pub fn serialize<T: Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        raw(value).map_err(ser::Error::custom)?.serialize(s)
    }

    /// Reads a JSON number (or string) through `T::from_str`, from the number's text.
    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        let raw = Box::<RawValue>::deserialize(d)?;
        parse(&raw)
    }

    /// [`number`](self) for `Option<T>`: `null` is `None`.
    pub mod option {
        use super::*;

        /// Writes `Some` as [`serialize`](super::serialize) does, `None` as `null`.
        pub fn serialize<T: Display, S: Serializer>(
            value: &Option<T>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            value
                .as_ref()
                .map(raw)
                .transpose()
                .map_err(ser::Error::custom)?
                .serialize(s)
        }

        /// Reads `null` as `None`, anything else as [`deserialize`](super::deserialize).
        pub fn deserialize<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
        where
            T: FromStr,
            T::Err: Display,
            D: Deserializer<'de>,
        {
            Option::<Box<RawValue>>::deserialize(d)?
                .map(|raw| parse(&raw))
                .transpose()
        }
    }

    /// [`number`](self) for `Vec<T>` (a PostgreSQL array).
    pub mod vec {
        use super::*;

        /// Writes each element as [`serialize`](super::serialize) does.
        pub fn serialize<T: Display, S: Serializer>(value: &[T], s: S) -> Result<S::Ok, S::Error> {
            raws::<T, S::Error>(value)?.serialize(s)
        }

        /// Reads each element as [`deserialize`](super::deserialize) does.
        pub fn deserialize<'de, T, D>(d: D) -> Result<Vec<T>, D::Error>
        where
            T: FromStr,
            T::Err: Display,
            D: Deserializer<'de>,
        {
            Vec::<Box<RawValue>>::deserialize(d)?
                .iter()
                .map(|raw| parse(raw))
                .collect()
        }
    }

    /// [`number`](self) for `Option<Vec<T>>`.
    pub mod option_vec {
        use super::*;

        /// Writes `None` as `null`, else as [`vec::serialize`](super::vec::serialize).
        pub fn serialize<T: Display, S: Serializer>(
            value: &Option<Vec<T>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            value
                .as_deref()
                .map(raws::<T, S::Error>)
                .transpose()?
                .serialize(s)
        }

        /// Reads `null` as `None`, else as [`vec::deserialize`](super::vec::deserialize).
        pub fn deserialize<'de, T, D>(d: D) -> Result<Option<Vec<T>>, D::Error>
        where
            T: FromStr,
            T::Err: Display,
            D: Deserializer<'de>,
        {
            match Option::<Vec<Box<RawValue>>>::deserialize(d)? {
                None => Ok(None),
                Some(items) => items
                    .iter()
                    .map(|raw| parse(raw))
                    .collect::<Result<_, _>>()
                    .map(Some),
            }
        }
    }
}

/// A `json` or `jsonb` value read from PostgreSQL as raw JSON bytes, without parsing.
///
/// For `jsonb` the binary format's version byte is stripped, so both read as JSON text.
/// Use it to pass a statement's result through (`row.try_get::<_, RawJson>(0)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawJson<'a>(pub &'a [u8]);

impl<'a> RawJson<'a> {
    /// The JSON text's bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }
}

impl<'a> FromSql<'a> for RawJson<'a> {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        if *ty == Type::JSONB {
            match raw.split_first() {
                Some((1, rest)) => Ok(RawJson(rest)),
                Some((v, _)) => Err(format!("unsupported jsonb format version {v}").into()),
                None => Err("empty jsonb value".into()),
            }
        } else {
            Ok(RawJson(raw))
        }
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSON || *ty == Type::JSONB
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_round_trips_exactly() {
        let text = r#"{"price":12345678901234567.890,"n":[1e-7,-0.10]}"#;
        #[derive(Deserialize, Serialize)]
        struct S {
            price: Numeric,
            n: Vec<Numeric>,
        }
        let s: S = serde_json::from_str(text).unwrap();
        assert_eq!(s.price.as_str(), "12345678901234567.890");
        assert_eq!(serde_json::to_string(&s).unwrap(), text);
        assert_eq!(s.n[1].to_string(), "-0.10");
    }

    #[test]
    fn numeric_rejects_non_numbers() {
        assert!(serde_json::from_str::<Numeric>(r#""12""#).is_err());
        assert!(serde_json::from_str::<Numeric>("true").is_err());
        assert!("12a".parse::<Numeric>().is_err());
        assert!("".parse::<Numeric>().is_err());
        assert!("[1]".parse::<Numeric>().is_err());
    }

    #[test]
    fn numeric_special_values_and_conversions() {
        let nan: Numeric = serde_json::from_str(r#""NaN""#).unwrap();
        assert!(nan.to_f64().is_nan());
        assert_eq!(nan.to_string(), "NaN");
        assert_eq!("NaN".parse::<Numeric>().unwrap(), nan);
        assert_eq!(Numeric::from(42i64).as_str(), "42");
        assert_eq!(Numeric::default().as_str(), "0");
        assert_eq!(Numeric::try_from(0.1).unwrap().as_str(), "0.1");
        assert_eq!("-3.50".parse::<Numeric>().unwrap().to_f64(), -3.5);
        assert_ne!(
            "1.0".parse::<Numeric>().unwrap(),
            "1.00".parse::<Numeric>().unwrap()
        );
    }

    #[test]
    fn number_adapter_keeps_every_digit() {
        #[derive(Deserialize, Serialize, Debug, PartialEq)]
        struct S {
            #[serde(with = "number")]
            a: Numeric,
            #[serde(with = "number::option", default)]
            b: Option<Numeric>,
            #[serde(with = "number::vec")]
            c: Vec<Numeric>,
            #[serde(with = "number::option_vec")]
            d: Option<Vec<Numeric>>,
            #[serde(with = "number")]
            e: i64,
        }
        let text = r#"{"a":12345678901234567.890,"b":null,"c":[1.50,-2],"d":[0.000000000000000001],"e":9007199254740993}"#;
        let s: S = serde_json::from_str(text).unwrap();
        assert_eq!(s.a.as_str(), "12345678901234567.890");
        assert_eq!(s.e, 9007199254740993);
        assert_eq!(serde_json::to_string(&s).unwrap(), text);
        // PostgreSQL writes NaN as a string; so does the adapter.
        let s: S = serde_json::from_str(r#"{"a":"NaN","c":[],"d":null,"e":"7"}"#).unwrap();
        assert_eq!(s.a.as_str(), "\"NaN\"");
        assert_eq!(s.e, 7);
        let out = serde_json::to_string(&s).unwrap();
        assert!(out.starts_with(r#"{"a":"NaN","b":null"#), "{out}");
        let bad = serde_json::from_str::<S>(r#"{"a":true,"c":[],"d":null,"e":1}"#);
        assert!(bad.unwrap_err().to_string().contains("not a valid number"));
    }

    #[test]
    fn raw_json_strips_jsonb_version() {
        let j = RawJson::from_sql(&Type::JSONB, b"\x01{\"a\":1}").unwrap();
        assert_eq!(j.0, b"{\"a\":1}");
        let j = RawJson::from_sql(&Type::JSON, b"[1]").unwrap();
        assert_eq!(j.0, b"[1]");
        assert!(RawJson::from_sql(&Type::JSONB, b"").is_err());
    }
}
