//! A small, bounded reader for the subset of Ruby's `Marshal` format that Rails sessions use.
//!
//! Read: `nil`, `true`/`false`, integers (every fixnum encoding, and bignums that fit in 64
//! bits), floats, strings with their encoding (`:E` / `:encoding` instance variables),
//! symbols and symbol links, arrays, hashes (also with a default value) and object links.
//! Plain objects (`o`) are read only for the class names a caller allows
//! ([`load_allowing`]; the session-store reader allows `ActiveSupport::Cache::Entry`).
//! Anything else (other objects, structs, user classes, `_dump`/`marshal_load` data, classes,
//! modules, regexps, ...) is refused with a [`MarshalError::Unsupported`] naming the type byte:
//! loading arbitrary Ruby objects is neither needed for a session nor safe.
//!
//! Hostile input is bounded: the input size, the nesting depth and the memory that the result
//! may take (object links can repeat data) all have limits ([`Limits`]); counts read from the
//! input are checked against the bytes that remain before anything is allocated.

mod reader;

use std::fmt;

/// A value read from Marshal data.
#[derive(Clone, PartialEq)]
pub enum Value {
    /// `nil`.
    Nil,
    /// `true` or `false`.
    Bool(bool),
    /// An Integer (a fixnum, or a bignum that fits in 64 bits).
    Int(i64),
    /// A Float.
    Float(f64),
    /// A String: its bytes and its encoding.
    String {
        /// The raw bytes.
        bytes: Vec<u8>,
        /// The string's encoding, from its instance variables.
        encoding: Encoding,
    },
    /// A Symbol (bytes that are not UTF-8 are replaced, lossily).
    Symbol(String),
    /// An Array.
    Array(Vec<Value>),
    /// A Hash, its entries in order, and its default value when it was written with one.
    Hash {
        /// Key/value pairs in the order they were written.
        entries: Vec<(Value, Value)>,
        /// The default value (`Hash.new(default)`), if any.
        default: Option<Box<Value>>,
    },
    /// A plain object of a class the caller allowed ([`load_allowing`]).
    Object {
        /// The class name, e.g. `ActiveSupport::Cache::Entry`.
        class: String,
        /// Instance variables in the order written, names with their `@`.
        ivars: Vec<(String, Value)>,
    },
}

/// The encoding of a Marshal string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// No encoding instance variable: ASCII-8BIT (binary).
    Binary,
    /// `E: true`: UTF-8.
    Utf8,
    /// `E: false`: US-ASCII.
    UsAscii,
    /// `encoding: "name"`: any other encoding, by name.
    Other(String),
}

impl Value {
    /// The text of a String (when its bytes are UTF-8) or of a Symbol.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String { bytes, .. } => std::str::from_utf8(bytes).ok(),
            Value::Symbol(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, for an Int.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The elements, for an Array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// For a Hash, the value under the String or Symbol key `key` (the first one if several).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Hash { entries, .. } => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// For an Object, the instance variable `name` (with its `@`).
    pub fn ivar(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Object { ivars, .. } => ivars.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The Ruby class name of this value, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "Integer",
            Value::Float(_) => "Float",
            Value::String { .. } => "String",
            Value::Symbol(_) => "Symbol",
            Value::Array(_) => "Array",
            Value::Hash { .. } => "Hash",
            Value::Object { .. } => "Object",
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => f.write_str("nil"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::String { bytes, .. } => write!(f, "{:?}", String::from_utf8_lossy(bytes)),
            Value::Symbol(s) => write!(f, ":{s}"),
            Value::Array(items) => f.debug_list().entries(items).finish(),
            Value::Hash { entries, default } => {
                let mut m = f.debug_map();
                for (k, v) in entries {
                    m.entry(k, v);
                }
                m.finish()?;
                if let Some(d) = default {
                    write!(f, " (default {d:?})")?;
                }
                Ok(())
            }
            Value::Object { class, ivars } => {
                write!(f, "#<{class}")?;
                for (k, v) in ivars {
                    write!(f, " {k}={v:?}")?;
                }
                f.write_str(">")
            }
        }
    }
}

/// Limits that bound what [`load_with_limits`] accepts and allocates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest input accepted, in bytes.
    pub max_input: usize,
    /// The deepest nesting of arrays, hashes and instance variables.
    pub max_depth: usize,
    /// How many times larger than the input the result may grow through object links
    /// (counted in values and string bytes). Without links a result is never larger.
    pub link_expansion: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input: 1 << 20,
            max_depth: 64,
            link_expansion: 4,
        }
    }
}

/// Why Marshal data could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MarshalError {
    /// The data does not start with Marshal version 4.8.
    #[error("not Ruby Marshal 4.8 data (starts with {major}.{minor})")]
    BadVersion {
        /// First byte.
        major: u8,
        /// Second byte.
        minor: u8,
    },
    /// The data ends in the middle of a value.
    #[error("Marshal data ends early (at byte {offset})")]
    Truncated {
        /// Where more data was needed.
        offset: usize,
    },
    /// A type that this reader refuses to load.
    #[error(
        "unsupported Marshal type {byte:#04x} ({name}) at byte {offset}: sessions may hold only nil, booleans, integers, floats, strings, symbols, arrays and hashes"
    )]
    Unsupported {
        /// The type byte.
        byte: u8,
        /// What Ruby writes with that byte.
        name: &'static str,
        /// Where it was found.
        offset: usize,
    },
    /// An Integer outside the 64-bit range.
    #[error("Marshal bignum at byte {offset} does not fit in 64 bits")]
    BignumTooLarge {
        /// Where it starts.
        offset: usize,
    },
    /// Nesting deeper than [`Limits::max_depth`].
    #[error("Marshal data nests deeper than {limit} levels")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// Input larger than [`Limits::max_input`].
    #[error("Marshal data is {len} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// The input length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Object links would expand the result past its budget.
    #[error("Marshal object links expand the data past {limit} units (values plus string bytes)")]
    TooExpanded {
        /// The budget.
        limit: usize,
    },
    /// An object link to an object that contains the link (a cycle).
    #[error("Marshal data at byte {offset} links an object into itself (cyclic data)")]
    Cyclic {
        /// Where the link is.
        offset: usize,
    },
    /// Malformed data.
    #[error("invalid Marshal data at byte {offset}: {what}")]
    Invalid {
        /// Where.
        offset: usize,
        /// What is wrong.
        what: &'static str,
    },
}

/// Reads Marshal data (`Marshal.dump` output) with the default [`Limits`].
pub fn load(bytes: &[u8]) -> Result<Value, MarshalError> {
    load_with_limits(bytes, Limits::default())
}

/// Reads Marshal data with explicit limits.
pub fn load_with_limits(bytes: &[u8], limits: Limits) -> Result<Value, MarshalError> {
    reader::load(bytes, limits, &[])
}

/// Reads Marshal data, also reading plain objects (`o`) of the classes named in
/// `classes` (as [`Value::Object`]); objects of any other class are still refused.
pub fn load_allowing(
    bytes: &[u8],
    limits: Limits,
    classes: &[&str],
) -> Result<Value, MarshalError> {
    reader::load(bytes, limits, classes)
}

/// Whether `bytes` starts like Marshal data (version 4.8).
pub fn is_marshal(bytes: &[u8]) -> bool {
    bytes.starts_with(&[4, 8])
}
