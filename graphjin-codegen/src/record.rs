//! Recording operations into `allow.list`, as the development server does after an
//! operation ran successfully: a new name is inserted at its sorted place, a changed
//! operation replaces its own entry (keeping its comments), and every other byte of the file
//! stays as it was — hand-written formatting and comments survive. Writes are atomic (a
//! temporary file renamed over the old one) and serialized, so many concurrent requests can
//! record safely.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use graphjin_normalize::normalize;

use crate::allowlist::{self, AllowList, AllowListError, AllowListProblem};
use crate::gql::parse_document;

/// What [`Recorder::record`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// A new entry was added.
    Added,
    /// The entry with this name was replaced.
    Replaced,
    /// The same operation (up to layout and comments) was already listed: nothing written.
    Unchanged,
    /// The operation has no name: it ran, but only named operations are recorded.
    Anonymous,
}

/// Why an operation could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// allow.list could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The existing allow.list does not parse, so it is left alone.
    #[error("allow.list is not valid, not recording into it: {0}")]
    AllowList(#[from] AllowListError),
    /// The query text is not one operation.
    #[error("not recorded: {0}")]
    Query(String),
}

/// Records operations into one allow.list file.
#[derive(Debug)]
pub struct Recorder {
    path: PathBuf,
    lock: Mutex<()>,
}

impl Recorder {
    /// A recorder for the allow.list at `path` (created on first record if missing).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Recorder {
            path: path.into(),
            lock: Mutex::new(()),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records `query` (one operation) with the `variables` it ran with; their values are
    /// cleared to their type's empty value before they are saved.
    pub fn record(
        &self,
        query: &str,
        variables: Option<&serde_json::Value>,
    ) -> Result<Recorded, RecordError> {
        let doc = parse_document(query).map_err(|e| RecordError::Query(e.to_string()))?;
        if doc.operations.len() != 1 {
            return Err(RecordError::Query(
                "the text must hold exactly one operation".into(),
            ));
        }
        if !doc.fragments.is_empty() {
            return Err(RecordError::Query(
                "operations with fragments are not recorded yet".into(),
            ));
        }
        let Some(name) = doc.operations[0].name.as_ref().map(|n| n.value.clone()) else {
            return Ok(Recorded::Anonymous);
        };
        let text = query.trim();
        let vars = match variables {
            Some(v) if v.as_object().is_some_and(|m| !m.is_empty()) => Some(
                allowlist::clear_variables(&v.to_string())
                    .map_err(|e| RecordError::Query(e.to_string()))?,
            ),
            _ => None,
        };

        let _guard = self
            .lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let src = match std::fs::read(&self.path) {
            Ok(bytes) => String::from_utf8(bytes).map_err(|e| RecordError::Io {
                path: self.path.clone(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(RecordError::Io {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let list = match allowlist::parse(src.as_bytes()) {
            Ok(list) => list,
            // Empty, or only comments and fragments: the first operation is appended.
            Err(AllowListError {
                problem: AllowListProblem::NoOperations { .. },
                ..
            }) => AllowList::default(),
            Err(e) => return Err(e.into()),
        };
        let existing = list.find(&name);
        if let Some(old) = existing {
            let old_vars = old
                .variables
                .as_deref()
                .map(allowlist::clear_variables)
                .transpose()
                .ok()
                .flatten();
            if normalize(&old.text) == normalize(text) && old_vars == vars {
                return Ok(Recorded::Unchanged);
            }
        }
        let mut entry = String::new();
        if let Some(old) = existing {
            for c in &old.comments {
                entry.push_str(c);
                entry.push('\n');
            }
        }
        if let Some(v) = &vars {
            entry.push_str("variables ");
            entry.push_str(v);
            entry.push('\n');
        }
        entry.push_str(text);
        let updated = allowlist::upsert_operation(&src, &list, &entry, &name);
        // Never write a file that would not read back.
        allowlist::parse(updated.as_bytes())?;
        self.write_atomically(&updated)?;
        Ok(if existing.is_some() {
            Recorded::Replaced
        } else {
            Recorded::Added
        })
    }

    fn write_atomically(&self, text: &str) -> Result<(), RecordError> {
        let io = |source| RecordError::Io {
            path: self.path.clone(),
            source,
        };
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = dir.join(format!(".allow.list.{}.tmp", std::process::id()));
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, &self.path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(e)
        })
    }
}
