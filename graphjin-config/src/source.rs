//! A config as read: the files, `inherits:` resolved, environment overrides applied, and
//! where each key came from, so errors can name the right file or variable.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::Error;
use crate::schema::{Leaf, LeafKind, Name, Schema, Segment, env_name, env_var};

/// A config read from YAML: one mapping of keys, with the file each top-level key came from
/// and the keys environment variables replaced. Turn it into typed structs with
/// [`Source::deserialize`] (weakly typed, see [`crate::Lenient`]).
#[derive(Debug, Clone)]
pub struct Source {
    value: Value,
    file: PathBuf,
    files: Vec<PathBuf>,
    /// Top-level key -> the file that set it.
    origins: Vec<(String, PathBuf)>,
    env: Vec<Applied>,
}

/// An environment variable that replaced a key.
#[derive(Debug, Clone)]
struct Applied {
    /// The key path as errors show it: `auth.jwt.issuer`, `auths[2].jwt.secret`.
    key: String,
    var: String,
    value: String,
}

impl Source {
    /// Reads `path` and the files its `inherits:` names (`inherits: dev` reads `dev`,
    /// `dev.yml` or `dev.yaml` next to it; that file may inherit in turn). A child's
    /// top-level keys replace its parent's whole: `auth:` in `prod.yml` replaces all of
    /// `dev.yml`'s `auth:`. Keys match ignoring case.
    pub fn read(path: &Path) -> Result<Source, Error> {
        let mut files = Vec::new();
        let mut origins = Vec::new();
        let map = load(path, &mut files, &mut origins)?;
        Ok(Source {
            value: Value::Object(map),
            file: path.to_path_buf(),
            files,
            origins,
            env: Vec::new(),
        })
    }

    /// Parses config text; `inherits:` is not followed. `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Source, Error> {
        let map = parse_yaml(text, path)?;
        Ok(Source::from_map(map, path))
    }

    /// A config from keys already parsed; `path` names it in errors.
    pub fn from_map(map: Map<String, Value>, path: &Path) -> Source {
        let origins = map
            .keys()
            .map(|k| (k.clone(), path.to_path_buf()))
            .collect();
        Source {
            value: Value::Object(map),
            file: path.to_path_buf(),
            files: vec![path.to_path_buf()],
            origins,
            env: Vec::new(),
        }
    }

    /// The file read (the child, with `inherits:`).
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Every file read, child first.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The keys, merged and with the environment applied.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// Top-level key `key`, matched ignoring case.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.value.as_object().and_then(|m| get_ci(m, key))
    }

    /// The environment variables that replaced a key, in the order applied.
    pub fn env_vars_applied(&self) -> impl Iterator<Item = &str> {
        self.env.iter().map(|a| a.var.as_str())
    }

    /// The file that set the top-level key of key path `key`.
    pub fn origin(&self, key: &str) -> &Path {
        let top = key.split(['.', '[']).next().unwrap_or(key);
        self.origins
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(top))
            .map_or(self.file.as_path(), |(_, p)| p.as_path())
    }

    /// Replaces keys with `GJ_` environment variables, read through `lookup` (`|name|
    /// std::env::var(name).ok()` in production); an empty variable counts as unset.
    ///
    /// Each key of `schema` outside lists is read from `GJ_` + its path upper-cased and
    /// joined by `_` (`auth.jwt.issuer` from `GJ_AUTH_JWT_ISSUER`), as GraphJin's viper
    /// setup does. A free-form map's keys already in the config are read from
    /// `GJ_<MAP>_<KEY>` (`GJ_VARIABLES_ADMIN_ID`). An entry of a named list is read from
    /// `GJ_<LIST>_<NAME>_<KEY>`, NAME being its `name:` upper-cased with `_` for anything
    /// but letters and digits (`GJ_AUTHS_ADMIN_API_JWT_SECRET` for `auths: [{name:
    /// admin-api}]`). A value replaces the key as a string, which the weak typing reads as
    /// a number or bool where one is expected; a list key takes comma-separated items.
    pub fn apply_env(&mut self, schema: &Schema, lookup: impl Fn(&str) -> Option<String>) {
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let mut applied = Vec::new();
        apply_leaves(
            &mut self.value,
            &schema.leaves(&[]),
            "GJ",
            "",
            &get,
            &mut applied,
        );
        for list in schema.named_lists() {
            let leaves = schema.leaves(&[Segment::Field(list.clone()), Segment::Item]);
            let Some(items) = self.value.as_object_mut().and_then(|m| get_ci_mut(m, list)) else {
                continue;
            };
            let items: Vec<&mut Value> = match items {
                Value::Array(items) => items.iter_mut().collect(),
                Value::Object(_) => vec![items],
                _ => continue,
            };
            for (i, item) in items.into_iter().enumerate() {
                let name = match item.as_object().and_then(|m| get_ci(m, "name")) {
                    Some(Value::String(s)) => s.trim().to_owned(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => continue,
                };
                if name.is_empty() {
                    continue;
                }
                let prefix = format!("GJ_{}_{}", env_name(list), env_name(&name));
                let key = format!("{list}[{i}]");
                apply_leaves(item, &leaves, &prefix, &key, &get, &mut applied);
            }
        }
        self.env.extend(applied);
    }

    /// Deserializes the whole config as `T`, weakly typed; errors name the file (or the
    /// variable) and the key path.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, Error> {
        crate::lenient::from_value(&self.value).map_err(|e| {
            let key = e.path().to_string();
            let message = e.into_inner().to_string();
            if key == "." {
                Error::Syntax {
                    path: self.file.clone(),
                    message,
                }
            } else {
                self.key_error(&key, message)
            }
        })
    }

    /// Deserializes `value`, found at key path `key` of this config (`auths[0]`), weakly
    /// typed; errors carry `key` and the path inside `value`.
    pub fn deserialize_at<T: DeserializeOwned>(
        &self,
        value: &Value,
        key: &str,
    ) -> Result<T, Error> {
        crate::lenient::from_value(value).map_err(|e| {
            let inner = e.path().to_string();
            let key = if inner == "." || inner.is_empty() {
                key.to_owned()
            } else if inner.starts_with('[') || key.is_empty() {
                format!("{key}{inner}")
            } else {
                format!("{key}.{inner}")
            };
            self.key_error(&key, e.into_inner().to_string())
        })
    }

    /// Top-level key `key` as `T`, weakly typed; its default when missing or null.
    pub fn get_as<T: DeserializeOwned + Default>(&self, key: &str) -> Result<T, Error> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(T::default()),
            Some(value) => self.deserialize_at(value, key),
        }
    }

    /// An error about key path `key`: [`Error::Env`] naming the variable when one set the
    /// key (its value left out of `message`), else [`Error::Key`] naming the file.
    pub fn key_error(&self, key: &str, message: impl Into<String>) -> Error {
        let message = message.into();
        let from_env = self.env.iter().rev().find(|a| {
            key == a.key
                || key
                    .strip_prefix(a.key.as_str())
                    .is_some_and(|rest| rest.starts_with(['.', '[']))
        });
        match from_env {
            Some(a) => Error::Env {
                var: a.var.clone(),
                message: scrub(&message, &a.value),
            },
            None => Error::Key {
                path: self.origin(key).to_path_buf(),
                key: key.to_owned(),
                message,
            },
        }
    }
}

/// `message` without `value` in it.
fn scrub(message: &str, value: &str) -> String {
    const HIDDEN: &str = "(the variable's value)";
    let mut out = message
        .replace(&format!("{value:?}"), HIDDEN)
        .replace(&format!("`{value}`"), HIDDEN)
        .replace(&format!("\"{value}\""), HIDDEN);
    if value.trim().len() >= 4 {
        out = out.replace(value, HIDDEN);
    }
    out
}

/// Applies the variables of `leaves` below `node`: `prefix` starts their names, `key`
/// their key paths.
fn apply_leaves(
    node: &mut Value,
    leaves: &[Leaf],
    prefix: &str,
    key: &str,
    get: &impl Fn(&str) -> Option<String>,
    applied: &mut Vec<Applied>,
) {
    let join = |path: &[String]| {
        let mut k = key.to_owned();
        for name in path {
            if !k.is_empty() {
                k.push('.');
            }
            k.push_str(name);
        }
        k
    };
    for leaf in leaves {
        let var = env_var(prefix, &leaf.path);
        match leaf.kind {
            LeafKind::Value | LeafKind::List => {
                if let Some(text) = get(&var) {
                    let list = leaf.kind == LeafKind::List;
                    let written = set(node, &leaf.path, env_value(&text, list));
                    applied.push(Applied {
                        key: join(&written),
                        var,
                        value: text,
                    });
                }
            }
            LeafKind::Map(lists) => {
                for entry in map_keys(node, &leaf.path) {
                    let var = format!("{var}_{}", env_name(&entry));
                    if let Some(text) = get(&var) {
                        let mut path = leaf.path.clone();
                        path.push(Name::plain(&entry));
                        let written = set(node, &path, env_value(&text, lists));
                        applied.push(Applied {
                            key: join(&written),
                            var,
                            value: text,
                        });
                    }
                }
            }
        }
    }
}

/// A variable's text as a value: a string, or comma-separated strings for a list.
fn env_value(text: &str, list: bool) -> Value {
    if list {
        Value::Array(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        )
    } else {
        Value::String(text.to_owned())
    }
}

/// The keys of the map at `path` below `node` (a map, or a list of maps), in order.
fn map_keys(node: &Value, path: &[Name]) -> Vec<String> {
    let Some(found) = lookup(node, path) else {
        return Vec::new();
    };
    let mut keys: Vec<String> = Vec::new();
    let maps: Vec<&Map<String, Value>> = match found {
        Value::Object(m) => vec![m],
        Value::Array(items) => items.iter().filter_map(Value::as_object).collect(),
        _ => Vec::new(),
    };
    for m in maps {
        for k in m.keys() {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    keys
}

/// The key of `map` that is `name`: spelled the same, else in another case or as an alias.
fn find_key(map: &Map<String, Value>, name: &Name) -> Option<String> {
    map.keys()
        .find(|k| **k == name.name)
        .or_else(|| map.keys().find(|k| name.matches(k)))
        .cloned()
}

/// The value at `path` below `node`; through a list of maps, the last map holding the key.
fn lookup<'v>(node: &'v Value, path: &[Name]) -> Option<&'v Value> {
    let Some((first, rest)) = path.split_first() else {
        return Some(node);
    };
    let child = match node {
        Value::Object(m) => find_key(m, first).and_then(|k| m.get(&k)),
        Value::Array(items) => items.iter().rev().find_map(|i| {
            let m = i.as_object()?;
            find_key(m, first).and_then(|k| m.get(&k))
        }),
        _ => None,
    }?;
    lookup(child, rest)
}

/// Sets the value at `path` below `node`, creating maps on the way, and returns the keys
/// as written. An existing key is matched ignoring case and aliases; in a list of maps
/// (GraphJin's list form of a map), the last map holding the key is updated, else a map is
/// added at the end.
fn set(node: &mut Value, path: &[Name], value: Value) -> Vec<String> {
    let Some((first, rest)) = path.split_first() else {
        *node = value;
        return Vec::new();
    };
    match node {
        Value::Object(map) => {
            let key = find_key(map, first).unwrap_or_else(|| first.name.clone());
            let mut written = set(map.entry(key.clone()).or_insert(Value::Null), rest, value);
            written.insert(0, key);
            written
        }
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
            let holder = items
                .iter()
                .rposition(|i| i.as_object().is_some_and(|m| find_key(m, first).is_some()));
            let index = holder.unwrap_or_else(|| {
                items.push(Value::Object(Map::new()));
                items.len() - 1
            });
            set(&mut items[index], path, value)
        }
        other => {
            *other = Value::Object(Map::new());
            set(other, path, value)
        }
    }
}

/// `map[key]`, else the entry whose key equals `key` ignoring case.
fn get_ci<'m>(map: &'m Map<String, Value>, key: &str) -> Option<&'m Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn get_ci_mut<'m>(map: &'m mut Map<String, Value>, key: &str) -> Option<&'m mut Value> {
    let found = map
        .keys()
        .find(|k| *k == key)
        .or_else(|| map.keys().find(|k| k.eq_ignore_ascii_case(key)))
        .cloned()?;
    map.get_mut(&found)
}

fn parse_yaml(text: &str, path: &Path) -> Result<Map<String, Value>, Error> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    let options = serde_saphyr::options! { with_snippet: false };
    let value: Value =
        serde_saphyr::from_str_with_options(text, options).map_err(|e| Error::Syntax {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    match value {
        Value::Null => Ok(Map::new()),
        Value::Object(map) => Ok(map),
        _ => Err(Error::Syntax {
            path: path.to_path_buf(),
            message: "the config must be a mapping of keys".to_owned(),
        }),
    }
}

/// Reads `path` and its `inherits:` chain; the child's top-level keys win. Records which
/// file each top-level key came from.
fn load(
    path: &Path,
    files: &mut Vec<PathBuf>,
    origins: &mut Vec<(String, PathBuf)>,
) -> Result<Map<String, Value>, Error> {
    if files.iter().any(|f| f == path) {
        let mut chain: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        chain.push(path.display().to_string());
        return Err(Error::InheritCycle {
            path: files.last().cloned().unwrap_or_else(|| path.to_path_buf()),
            chain: chain.join(" -> "),
        });
    }
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    files.push(path.to_path_buf());
    let mut child = parse_yaml(&text, path)?;
    let inherits = child
        .keys()
        .find(|k| k.eq_ignore_ascii_case("inherits"))
        .cloned();
    let parent = match inherits.and_then(|k| child.remove(&k)) {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) if name.trim().is_empty() => None,
        Some(Value::String(name)) => Some(name.trim().to_owned()),
        Some(_) => {
            return Err(Error::Key {
                path: path.to_path_buf(),
                key: "inherits".to_owned(),
                message: "expected the name of another config file, e.g. `inherits: dev`"
                    .to_owned(),
            });
        }
    };
    let base = match parent {
        Some(parent) => {
            let dir = path.parent().unwrap_or(Path::new("."));
            let parent_path = ["", ".yml", ".yaml"]
                .iter()
                .map(|ext| dir.join(format!("{parent}{ext}")))
                .find(|p| p.is_file())
                .unwrap_or_else(|| dir.join(format!("{parent}.yml")));
            load(&parent_path, files, origins)?
        }
        None => Map::new(),
    };
    let mut merged = Map::new();
    for (key, value) in base {
        if !child.keys().any(|k| k.eq_ignore_ascii_case(&key)) {
            merged.insert(key, value);
        }
    }
    for (key, value) in child {
        origins.retain(|(k, _)| !k.eq_ignore_ascii_case(&key));
        origins.push((key.clone(), path.to_path_buf()));
        merged.insert(key, value);
    }
    Ok(merged)
}
