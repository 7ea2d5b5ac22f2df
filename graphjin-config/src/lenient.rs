//! A weakly typed [`serde::Deserializer`] over a [`serde_json::Value`]: the shapes GraphJin
//! accepts because it decodes its config with mapstructure's `WeaklyTypedInput`.
//!
//! | the type wants | also accepted |
//! | --- | --- |
//! | a struct or a map | a list of maps, merged in order (a later key replaces an earlier one); `null` (empty) |
//! | a list | a single value (a one-element list); `null` (empty) |
//! | an integer | a string holding one (`"5"`); a float without fraction (`5.0`) |
//! | a float | a string holding a number (`"0.5"`) |
//! | a bool | `"true"`/`"false"`, `"t"`/`"f"`, `"1"`/`"0"`, `"yes"`/`"no"`, `"on"`/`"off"` (any case); the numbers `1`/`0` |
//! | a string | a number or a bool, written out (`7.0` -> `"7.0"`) |
//! | a struct's key | any case of the field's name (`Presets`, `PRESETS`) |
//! | an enum's name | any case of the variant's name (`JWT`, `Header`) |
//!
//! A struct's keys are read in the order of its fields (as mapstructure does), so the first
//! problem reported does not depend on the file's layout. Keys of free-form maps (preset
//! columns, variable names) keep their spelling and order. Everything
//! else is as strict as `serde_json::from_value`: a struct's unknown keys are ignored or
//! refused exactly as its `Deserialize` says.

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Unexpected, Visitor,
};
use serde_json::Value;

/// The error type of [`Lenient`].
pub type Error = serde_json::Error;

/// A weakly typed deserializer over a borrowed JSON value; see the [module docs](self).
#[derive(Debug, Clone, Copy)]
pub struct Lenient<'a>(pub &'a Value);

/// Deserializes `T` from `value` with the weak typing of [`Lenient`], reporting where a
/// problem is as a key path (`roles[1].tables[0].insert.presets`).
pub fn from_value<'a, T: de::Deserialize<'a>>(
    value: &'a Value,
) -> Result<T, serde_path_to_error::Error<Error>> {
    serde_path_to_error::deserialize(Lenient(value))
}

/// What serde calls the value, for error messages.
fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Unexpected::Unsigned(u)
            } else if let Some(i) = n.as_i64() {
                Unexpected::Signed(i)
            } else {
                Unexpected::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

/// `invalid value: string "lots", expected a whole number (u32)`.
fn not_a(got: Unexpected<'_>, wanted: &str, visitor: &dyn de::Expected) -> Error {
    de::Error::custom(format_args!(
        "invalid value: {got}, expected {wanted} ({visitor})"
    ))
}

/// mapstructure's (Go's `strconv.ParseBool`) spellings of a bool, and yes/no, on/off.
fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "t" | "true" | "yes" | "on" => Some(true),
        "0" | "f" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// A float with no fractional part, as an integer.
fn whole(n: &serde_json::Number) -> Option<i128> {
    let f = n.as_f64()?;
    (f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e18).then_some(f as i128)
}

/// The entries of a value that should be a map: a map, a list of maps merged in order, or
/// nothing for `null`. `None` for anything else.
fn map_entries(value: &Value) -> Option<Vec<(&str, &Value)>> {
    match value {
        Value::Object(map) => Some(map.iter().map(|(k, v)| (k.as_str(), v)).collect()),
        Value::Null => Some(Vec::new()),
        Value::Array(items) => {
            let mut entries: Vec<(&str, &Value)> = Vec::new();
            for item in items {
                let Value::Object(map) = item else {
                    return None;
                };
                for (k, v) in map {
                    entries.retain(|(seen, _)| *seen != k.as_str());
                    entries.push((k.as_str(), v));
                }
            }
            Some(entries)
        }
        _ => None,
    }
}

/// The field name `key` stands for: itself when it is one, else the field it equals
/// ignoring case, else itself (an unknown key, left to the struct's own rules).
fn field_name<'a>(key: &'a str, fields: &'static [&'static str]) -> &'a str {
    if fields.contains(&key) {
        return key;
    }
    fields
        .iter()
        .find(|f| f.eq_ignore_ascii_case(key))
        .copied()
        .unwrap_or(key)
}

impl<'de> Lenient<'de> {
    fn integer<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(s) => {
                let t = s.trim();
                if let Ok(i) = t.parse::<i64>() {
                    visitor.visit_i64(i)
                } else if let Ok(u) = t.parse::<u64>() {
                    visitor.visit_u64(u)
                } else {
                    Err(not_a(Unexpected::Str(s), "a whole number", &visitor))
                }
            }
            Value::Number(n) if !n.is_i64() && !n.is_u64() => match whole(n) {
                Some(i) if i < 0 => visitor.visit_i64(i as i64),
                Some(i) => visitor.visit_u64(i as u64),
                None => Err(not_a(unexpected(self.0), "a whole number", &visitor)),
            },
            other => other.deserialize_any(visitor),
        }
    }

    fn float<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(s) => match s.trim().parse::<f64>() {
                Ok(f) if f.is_finite() => visitor.visit_f64(f),
                _ => Err(not_a(Unexpected::Str(s), "a number", &visitor)),
            },
            other => other.deserialize_any(visitor),
        }
    }

    fn seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Array(items) => visit_seq(items, visitor),
            Value::Null => visit_seq(&[], visitor),
            single => visit_seq(std::slice::from_ref(single), visitor),
        }
    }
}

fn visit_seq<'de, V: Visitor<'de>>(items: &'de [Value], visitor: V) -> Result<V::Value, Error> {
    let mut seq = Seq {
        items: items.iter(),
    };
    let value = visitor.visit_seq(&mut seq)?;
    match seq.items.len() {
        0 => Ok(value),
        _ => Err(de::Error::invalid_length(items.len(), &"fewer elements")),
    }
}

fn visit_map<'de, V: Visitor<'de>>(
    entries: Vec<(&'de str, &'de Value)>,
    visitor: V,
) -> Result<V::Value, Error> {
    let mut map = Entries {
        entries: entries.into_iter(),
        value: None,
    };
    visitor.visit_map(&mut map)
}

macro_rules! integers {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            self.integer(visitor)
        }
    )*};
}

impl<'de> Deserializer<'de> for Lenient<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => visit_seq(items, visitor),
            Value::Object(map) => {
                visit_map(map.iter().map(|(k, v)| (k.as_str(), v)).collect(), visitor)
            }
            scalar => scalar.deserialize_any(visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(s) => match parse_bool(s) {
                Some(b) => visitor.visit_bool(b),
                None => Err(not_a(Unexpected::Str(s), "true or false", &visitor)),
            },
            Value::Number(n) if n.as_u64() == Some(0) => visitor.visit_bool(false),
            Value::Number(n) if n.as_u64() == Some(1) => visitor.visit_bool(true),
            other => other.deserialize_bool(visitor),
        }
    }

    integers! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.float(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.float(visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.0.deserialize_char(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Number(n) => visitor.visit_string(n.to_string()),
            Value::Bool(b) => visitor.visit_str(if *b { "true" } else { "false" }),
            other => other.deserialize_str(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.0.deserialize_bytes(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.0.deserialize_byte_buf(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.0.deserialize_unit(visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.0.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.seq(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match map_entries(self.0) {
            Some(entries) => visit_map(entries, visitor),
            None => Err(de::Error::invalid_type(unexpected(self.0), &visitor)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let Some(entries) = map_entries(self.0) else {
            return Err(de::Error::invalid_type(unexpected(self.0), &visitor));
        };
        let merged = matches!(self.0, Value::Array(_));
        let mut named: Vec<(&str, &Value)> = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let key = field_name(key, fields);
            if merged {
                // A later list item replaces an earlier one's key, whatever its case.
                named.retain(|(seen, _)| *seen != key);
            }
            named.push((key, value));
        }
        // The struct's fields in its order, as mapstructure walks them, then unknown keys:
        // the first problem reported does not depend on how the file is laid out.
        let position = |key: &str| fields.iter().position(|f| *f == key).unwrap_or(usize::MAX);
        named.sort_by_key(|(key, _)| position(key));
        visit_map(named, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(s) => {
                let trimmed = s.trim();
                let variant = variants
                    .iter()
                    .find(|v| **v == trimmed)
                    .or_else(|| variants.iter().find(|v| v.eq_ignore_ascii_case(trimmed)))
                    .copied()
                    .unwrap_or(trimmed);
                visitor.visit_enum(Variant(variant))
            }
            other => other.deserialize_enum(name, variants, visitor),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

/// A unit variant named by a string.
struct Variant<'de>(&'de str);

impl<'de> EnumAccess<'de> for Variant<'de> {
    type Error = Error;
    type Variant = UnitOnly;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, UnitOnly), Error> {
        let name = de::value::BorrowedStrDeserializer::<'de, Error>::new(self.0);
        Ok((seed.deserialize(name)?, UnitOnly))
    }
}

/// The variant of an enum written as a plain string: a unit variant only.
struct UnitOnly;

impl<'de> de::VariantAccess<'de> for UnitOnly {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _seed: T) -> Result<T::Value, Error> {
        Err(de::Error::invalid_type(
            Unexpected::UnitVariant,
            &"newtype variant",
        ))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value, Error> {
        Err(de::Error::invalid_type(
            Unexpected::UnitVariant,
            &"tuple variant",
        ))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Error> {
        Err(de::Error::invalid_type(
            Unexpected::UnitVariant,
            &"struct variant",
        ))
    }
}

struct Seq<'de> {
    items: std::slice::Iter<'de, Value>,
}

impl<'de> SeqAccess<'de> for Seq<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.items.next() {
            Some(item) => seed.deserialize(Lenient(item)).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Entries<'de> {
    entries: std::vec::IntoIter<(&'de str, &'de Value)>,
    value: Option<&'de Value>,
}

impl<'de> MapAccess<'de> for Entries<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            Some((key, value)) => {
                self.value = Some(value);
                let key = de::value::BorrowedStrDeserializer::<'de, Error>::new(key);
                seed.deserialize(key).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some(value) => seed.deserialize(Lenient(value)),
            None => Err(de::Error::custom(
                "a map value was asked for before its key",
            )),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}
