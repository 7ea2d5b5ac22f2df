//! The keys a config type reads, found from its own `Deserialize` implementation: a probe
//! deserializer answers every request with an empty value and writes down the path and the
//! shape asked for. The key list therefore cannot drift from the types: a new field is a
//! new key, with its `GJ_` variable, the moment it is added.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use serde::de::value::{BorrowedStrDeserializer, Error as ProbeError};
use serde::de::{DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// A struct field (its serde name).
    Field(String),
    /// An element of a list.
    Item,
    /// A value of a free-form map (its key is the user's).
    Entry,
}

/// What a key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A scalar (string, number, bool, enum name) or anything deserialized as a whole value.
    Value,
    /// A list.
    List,
    /// A map whose keys are the user's (preset columns, variable names).
    Map,
    /// A struct: the keys below it are its fields.
    Struct,
}

/// One key a config type reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// Where it is, from the top of the file.
    pub path: Vec<Segment>,
    /// What it holds.
    pub kind: Kind,
    /// Other names of the same field (`#[serde(alias)]`): they read the same variable.
    pub aliases: Vec<String>,
}

/// The keys of a config, for [`crate::Source::apply_env`]: every key a type's `Deserialize`
/// reads ([`Schema::of`]), and the top-level lists whose entries are addressed by name
/// ([`Schema::named_list`]).
#[derive(Debug, Clone, Default)]
pub struct Schema {
    keys: Vec<Key>,
    named: Vec<String>,
}

/// A key whose value the environment may replace, relative to where it was asked for.
#[derive(Debug, Clone)]
pub(crate) struct Leaf {
    pub(crate) path: Vec<Name>,
    pub(crate) kind: LeafKind,
}

/// One step of a leaf's path: a field's name and its aliases, matched in the config.
#[derive(Debug, Clone)]
pub(crate) struct Name {
    pub(crate) name: String,
    pub(crate) aliases: Vec<String>,
}

impl Name {
    /// A name without aliases (a free-form map's key).
    pub(crate) fn plain(name: &str) -> Name {
        Name {
            name: name.to_owned(),
            aliases: Vec::new(),
        }
    }

    /// Whether `key` (as written in the config) is this name, ignoring case.
    pub(crate) fn matches(&self, key: &str) -> bool {
        key.eq_ignore_ascii_case(&self.name)
            || self.aliases.iter().any(|a| key.eq_ignore_ascii_case(a))
    }
}

/// How a variable's text becomes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeafKind {
    /// The text as a string (the weak typing turns it into a number or bool as needed).
    Value,
    /// Comma-separated items (viper's rule for lists).
    List,
    /// A free-form map: one variable per key already in the config; `true` when its
    /// values are lists.
    Map(bool),
}

impl Schema {
    /// The keys `T` reads. `T` is a config struct deriving `Deserialize` (with
    /// `#[serde(default)]` or not); fields with their own `deserialize_with` are single keys.
    ///
    /// A field whose type refuses every empty value the probe offers (`""`, `0`, `{}`,
    /// ...) is still a key, but nothing below it is.
    pub fn of<T: DeserializeOwned>() -> Schema {
        Schema {
            keys: probe::<T>(),
            named: Vec::new(),
        }
    }

    /// Declares top-level key `key` a list whose entries are addressed by their `name:` in
    /// variable names (`GJ_AUTHS_<NAME>_JWT_SECRET`), with entries of type `T`. Call it
    /// again with another type for a list that mixes entry types.
    pub fn named_list<T: DeserializeOwned>(mut self, key: &str) -> Schema {
        for k in probe::<T>() {
            let mut path = vec![Segment::Field(key.to_owned()), Segment::Item];
            path.extend(k.path);
            if !self.keys.iter().any(|seen| seen.path == path) {
                self.keys.push(Key {
                    path,
                    kind: k.kind,
                    aliases: k.aliases,
                });
            }
        }
        if !self.named.iter().any(|n| n == key) {
            self.named.push(key.to_owned());
        }
        self
    }

    /// Every key, parents before their children.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// The top-level lists whose entries are addressed by name.
    pub fn named_lists(&self) -> &[String] {
        &self.named
    }

    /// Every variable name that overrides a key, in the order of the keys: a key's path
    /// upper-cased and joined by `_` after `GJ_` (`auth.jwt.issuer` -> `GJ_AUTH_JWT_ISSUER`).
    /// A free-form map's entries read `GJ_<MAP>_<KEY>` (shown as `GJ_VARIABLES_<KEY>`); a
    /// named list's entries `GJ_<LIST>_<NAME>_<KEY>` (shown as `GJ_AUTHS_<NAME>_JWT_SECRET`).
    pub fn env_vars(&self) -> Vec<String> {
        let mut out = Vec::new();
        let show = |leaf: &Leaf, prefix: &str| {
            let var = env_var(prefix, &leaf.path);
            match leaf.kind {
                LeafKind::Map(_) => format!("{var}_<KEY>"),
                _ => var,
            }
        };
        for leaf in self.leaves(&[]) {
            out.push(show(&leaf, "GJ"));
        }
        for list in &self.named {
            let prefix = format!("GJ_{}_<NAME>", env_name(list));
            let at = [Segment::Field(list.clone()), Segment::Item];
            for leaf in self.leaves(&at) {
                out.push(show(&leaf, &prefix));
            }
        }
        out
    }

    /// The keys below `prefix` the environment may set: scalars, lists of scalars and
    /// free-form maps, reached through struct fields only (list elements and map entries
    /// have no fixed name). The named lists are left out at the top.
    pub(crate) fn leaves(&self, prefix: &[Segment]) -> Vec<Leaf> {
        let kind_at = |path: &[Segment]| {
            self.keys
                .iter()
                .find(|k| k.path.as_slice() == path)
                .map(|k| k.kind)
        };
        let mut out = Vec::new();
        for key in &self.keys {
            let Some(rest) = key.path.strip_prefix(prefix) else {
                continue;
            };
            let mut names = Vec::with_capacity(rest.len());
            for (i, seg) in rest.iter().enumerate() {
                let Segment::Field(name) = seg else {
                    break;
                };
                let at = &key.path[..prefix.len() + i + 1];
                let aliases = self
                    .keys
                    .iter()
                    .find(|k| k.path.as_slice() == at)
                    .map(|k| k.aliases.clone())
                    .unwrap_or_default();
                names.push(Name {
                    name: name.clone(),
                    aliases,
                });
            }
            if names.is_empty() || names.len() != rest.len() {
                continue;
            }
            if prefix.is_empty() && self.named.iter().any(|n| *n == names[0].name) {
                continue;
            }
            let child = |seg: Segment| {
                let mut p = key.path.clone();
                p.push(seg);
                kind_at(&p)
            };
            let kind = match key.kind {
                Kind::Value => LeafKind::Value,
                Kind::List => match child(Segment::Item) {
                    Some(Kind::Value) | None => LeafKind::List,
                    _ => continue,
                },
                Kind::Map => match child(Segment::Entry) {
                    Some(Kind::Value) | None => LeafKind::Map(false),
                    Some(Kind::List) => LeafKind::Map(true),
                    _ => continue,
                },
                Kind::Struct => continue,
            };
            out.push(Leaf { path: names, kind });
        }
        out
    }
}

/// A name as it appears in a variable name: upper case, `_` for anything but letters and
/// digits (`admin-api.v2` -> `ADMIN_API_V2`).
pub fn env_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// `prefix` and the path's names, upper-cased, joined by `_`.
pub(crate) fn env_var(prefix: &str, path: &[Name]) -> String {
    let mut var = prefix.to_owned();
    for name in path {
        var.push('_');
        var.push_str(&env_name(&name.name));
    }
    var
}

/// How often the probe may start over after meeting a field alias.
const MAX_RETRIES: usize = 256;
/// How many empty values `deserialize_any` offers before the key is left out.
const ANY_VALUES: usize = 6;
/// How deep the probe goes before it stops (recursive types).
const MAX_DEPTH: usize = 24;

#[derive(Default)]
struct Record {
    keys: Vec<Key>,
    /// `(struct, field)` names the probe must not offer: aliases of a field already offered.
    skip: HashSet<(&'static str, &'static str)>,
    /// `(struct, field)` names offered before the struct's other fields: primary names
    /// that sort after one of their aliases.
    prefer: HashSet<(&'static str, &'static str)>,
    /// `(struct, field)` -> the field's aliases.
    aliases: Vec<((&'static str, &'static str), &'static str)>,
    /// Every `(struct, field)` offered.
    offered: HashSet<(&'static str, &'static str)>,
    /// The field offered last whose value was not asked for yet.
    pending: Option<(&'static str, &'static str)>,
    /// The innermost path whose value was refused in this run, and whether other empty
    /// values may be offered there (`deserialize_any`).
    refused: Option<(Vec<Segment>, bool)>,
    /// Path -> how often its value was refused: the next run offers another.
    attempts: HashMap<Vec<Segment>, usize>,
    /// Paths left out of their struct: every value offered was refused.
    omit: HashSet<Vec<Segment>>,
}

impl Record {
    fn note(&mut self, path: &[Segment], kind: Kind, aliases: &[&'static str]) {
        if !self.keys.iter().any(|k| k.path == path) {
            self.keys.push(Key {
                path: path.to_vec(),
                kind,
                aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
            });
        }
    }

    /// After a failed probe: whether the failure is taken care of for the next run, a
    /// field alias skipped or a refused value replaced or left out.
    fn learn(&mut self, error: &ProbeError) -> bool {
        let refused = self.refused.take();
        if self.learn_alias(error) {
            return true;
        }
        let Some((path, any)) = refused else {
            return false;
        };
        if path.is_empty() || self.omit.contains(&path) {
            return false;
        }
        let attempts = self.attempts.entry(path.clone()).or_default();
        *attempts += 1;
        if !any || *attempts >= ANY_VALUES {
            self.omit.insert(path);
        }
        true
    }

    /// Whether the failure was a duplicate field: an alias offered before or after its
    /// field, to skip from now on.
    fn learn_alias(&mut self, error: &ProbeError) -> bool {
        let Some(field @ (name, offered)) = self.pending.take() else {
            return false;
        };
        // serde's derive names the primary field in a duplicate error.
        let message = error.to_string();
        let Some(primary) = message
            .strip_prefix("duplicate field `")
            .and_then(|m| m.strip_suffix('`'))
        else {
            return false;
        };
        if primary == offered {
            // The primary name came after an alias: offer it first next time.
            self.prefer.insert(field)
        } else {
            let Some(primary) = self
                .offered
                .iter()
                .find(|(s, f)| *s == name && *f == primary)
                .map(|(_, f)| *f)
            else {
                return false;
            };
            self.aliases.push(((name, primary), offered));
            self.skip.insert(field)
        }
    }
}

fn probe<T: DeserializeOwned>() -> Vec<Key> {
    let record = RefCell::new(Record::default());
    for _ in 0..MAX_RETRIES {
        {
            let mut r = record.borrow_mut();
            r.keys.clear();
            r.pending = None;
            r.refused = None;
        }
        let result = T::deserialize(Probe {
            path: Vec::new(),
            record: Some(&record),
            aliases: Vec::new(),
        });
        let mut r = record.borrow_mut();
        match result {
            Ok(_) => return std::mem::take(&mut r.keys),
            Err(e) if r.learn(&e) => {}
            // The type refuses every empty value at its top: it has no keys to describe.
            Err(_) => return std::mem::take(&mut r.keys),
        }
    }
    std::mem::take(&mut record.borrow_mut().keys)
}

/// Answers every request with an empty value, writing down what was asked where.
struct Probe<'r> {
    path: Vec<Segment>,
    /// `None` for map keys, which are not config keys.
    record: Option<&'r RefCell<Record>>,
    /// The aliases of the field probed.
    aliases: Vec<&'static str>,
}

impl<'r> Probe<'r> {
    fn note(&self, kind: Kind) {
        if let Some(r) = self.record {
            r.borrow_mut().note(&self.path, kind, &self.aliases);
        }
    }

    fn child(&self, seg: Segment) -> Probe<'r> {
        let mut path = self.path.clone();
        path.push(seg);
        Probe {
            path,
            record: self.record,
            aliases: Vec::new(),
        }
    }

    /// Another probe at the same path (a list's element, a map's value).
    fn child_of_same(&self) -> Probe<'r> {
        Probe {
            path: self.path.clone(),
            record: self.record,
            aliases: Vec::new(),
        }
    }

    fn too_deep(&self) -> bool {
        self.path.len() > MAX_DEPTH
    }

    /// Whether every value offered here was refused: a list or map with nothing in it.
    fn omitted(&self) -> bool {
        self.record
            .is_some_and(|r| r.borrow().omit.contains(&self.path))
    }

    /// How often the value here was refused in earlier runs.
    fn attempt(&self) -> usize {
        self.record
            .and_then(|r| r.borrow().attempts.get(&self.path).copied())
            .unwrap_or(0)
    }

    /// Passes `result` on; a refusal is written down against this path, unless one
    /// deeper down was already (the innermost refusal is the one to work around).
    fn check<T>(&self, result: Result<T, ProbeError>) -> Result<T, ProbeError> {
        self.refuse(result, false)
    }

    /// [`Probe::check`]; `any`: other empty values may be offered here next time.
    fn refuse<T>(&self, result: Result<T, ProbeError>, any: bool) -> Result<T, ProbeError> {
        if result.is_err()
            && let Some(r) = self.record
        {
            let mut r = r.borrow_mut();
            if r.refused.is_none() {
                r.refused = Some((self.path.clone(), any));
            }
        }
        result
    }
}

macro_rules! scalars {
    ($($method:ident => $visit:ident($value:expr);)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
            self.note(Kind::Value);
            self.check(visitor.$visit($value))
        }
    )*};
}

impl<'de> Deserializer<'de> for Probe<'_> {
    type Error = ProbeError;

    scalars! {
        deserialize_bool => visit_bool(false);
        deserialize_i8 => visit_i64(0);
        deserialize_i16 => visit_i64(0);
        deserialize_i32 => visit_i64(0);
        deserialize_i64 => visit_i64(0);
        deserialize_i128 => visit_i64(0);
        deserialize_u8 => visit_u64(0);
        deserialize_u16 => visit_u64(0);
        deserialize_u32 => visit_u64(0);
        deserialize_u64 => visit_u64(0);
        deserialize_u128 => visit_u64(0);
        deserialize_f32 => visit_f64(0.0);
        deserialize_f64 => visit_f64(0.0);
        deserialize_char => visit_char(' ');
        deserialize_str => visit_borrowed_str("");
        deserialize_string => visit_borrowed_str("");
        deserialize_bytes => visit_borrowed_bytes(&[]);
        deserialize_byte_buf => visit_borrowed_bytes(&[]);
        deserialize_identifier => visit_borrowed_str("");
    }

    /// A type deserializing itself from whatever comes (a `serde_json::Value`, a custom
    /// visitor) is one key. It is offered nothing first, then other empty values while it
    /// refuses them.
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        self.note(Kind::Value);
        let result = match self.attempt() {
            0 => visitor.visit_unit(),
            1 => visitor.visit_borrowed_str(""),
            2 => visitor.visit_map(Entries {
                probe: self.child(Segment::Entry),
                left: 0,
            }),
            3 => visitor.visit_seq(Items {
                probe: self.child(Segment::Item),
                left: 0,
            }),
            4 => visitor.visit_u64(0),
            _ => visitor.visit_bool(false),
        };
        self.refuse(result, true)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        self.note(Kind::Value);
        self.check(visitor.visit_unit())
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        self.note(Kind::Value);
        self.check(visitor.visit_unit())
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_unit()
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        self.note(Kind::List);
        let n = usize::from(!self.too_deep());
        let result = visitor.visit_seq(Items {
            probe: self.child(Segment::Item),
            left: n,
        });
        self.check(result)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        self.note(Kind::List);
        let result = visitor.visit_seq(Items {
            probe: self.child(Segment::Item),
            left: len,
        });
        self.check(result)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        self.note(Kind::Map);
        let n = usize::from(!self.too_deep());
        let result = visitor.visit_map(Entries {
            probe: self.child(Segment::Entry),
            left: n,
        });
        self.check(result)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        self.note(Kind::Struct);
        let fields = if self.too_deep() { &[][..] } else { fields };
        // Primary names known to sort after an alias go first.
        let preferred = |f: &&'static str| {
            self.record
                .is_some_and(|r| r.borrow().prefer.contains(&(name, *f)))
        };
        let (mut order, rest): (Vec<&'static str>, Vec<&'static str>) =
            fields.iter().copied().partition(preferred);
        order.extend(rest);
        let result = visitor.visit_map(Fields {
            probe: self.child_of_same(),
            name,
            fields: order.into_iter(),
            current: None,
        });
        self.check(result)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        self.note(Kind::Value);
        let first: &'static str = variants.first().copied().unwrap_or("");
        let variant = BorrowedStrDeserializer::<'de, ProbeError>::new(first);
        self.check(visitor.visit_enum(variant))
    }
}

/// The one element of a probed list (or the `len` of a tuple).
struct Items<'r> {
    probe: Probe<'r>,
    left: usize,
}

impl<'de> SeqAccess<'de> for Items<'_> {
    type Error = ProbeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ProbeError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        if self.probe.omitted() {
            return Ok(None);
        }
        let probe = self.probe.child_of_same();
        self.probe.refuse(seed.deserialize(probe), true).map(Some)
    }
}

/// The one entry of a probed free-form map.
struct Entries<'r> {
    probe: Probe<'r>,
    left: usize,
}

impl<'de> MapAccess<'de> for Entries<'_> {
    type Error = ProbeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ProbeError> {
        if self.left == 0 || self.probe.omitted() {
            return Ok(None);
        }
        self.left -= 1;
        let key = Probe {
            path: Vec::new(),
            record: None,
            aliases: Vec::new(),
        };
        seed.deserialize(key).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ProbeError> {
        let probe = self.probe.child_of_same();
        self.probe.refuse(seed.deserialize(probe), true)
    }
}

/// A probed struct's fields, each offered once.
struct Fields<'r> {
    probe: Probe<'r>,
    name: &'static str,
    fields: std::vec::IntoIter<&'static str>,
    current: Option<&'static str>,
}

impl<'de> MapAccess<'de> for Fields<'_> {
    type Error = ProbeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ProbeError> {
        let Some(record) = self.probe.record else {
            return Ok(None);
        };
        loop {
            let Some(field) = self.fields.next() else {
                return Ok(None);
            };
            let key = (self.name, field);
            let mut r = record.borrow_mut();
            let mut path = self.probe.path.clone();
            path.push(Segment::Field(field.to_owned()));
            if r.skip.contains(&key) {
                continue;
            }
            if r.omit.contains(&path) {
                // Still a key, read as a whole.
                r.note(&path, Kind::Value, &[]);
                continue;
            }
            r.pending = Some(key);
            r.offered.insert(key);
            drop(r);
            self.current = Some(field);
            let name = BorrowedStrDeserializer::<'de, ProbeError>::new(field);
            return seed.deserialize(name).map(Some);
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ProbeError> {
        if let Some(record) = self.probe.record {
            record.borrow_mut().pending = None;
        }
        let field = self.current.take().unwrap_or_default();
        let mut probe = self.probe.child(Segment::Field(field.to_owned()));
        if let Some(record) = self.probe.record {
            probe.aliases = record
                .borrow()
                .aliases
                .iter()
                .filter(|(of, _)| *of == (self.name, field))
                .map(|(_, alias)| *alias)
                .collect();
        }
        let check = probe.child_of_same();
        check.refuse(seed.deserialize(probe), true)
    }
}
