//! Review diffs: what a change to allow.list or the config newly exposes, or stops
//! exposing, per role: the operations the role may run, the columns its statements read,
//! the columns its callers write and the tables whose rows it deletes
//! (`graphjin audit --diff OTHER`, where OTHER is the baseline: a config folder, or a git
//! revision whose copy of the same folder is read with `git show`).
//!
//! Exposure is counted per role over the whole API: a column a role could already read
//! through one operation is not new when a second operation reads it too; a column no
//! operation let the role read before is, and the report names the operations that now do.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value as Json, json};

use super::access::{OperationAccess, access};
use crate::Project;

/// Why a side of the diff could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// A side does not compile (its errors, rendered).
    #[error("{side}: the config does not compile:\n{}", errors.join("\n"))]
    Compile {
        /// Which side: the folder or `REV:path`.
        side: String,
        /// Every error.
        errors: Vec<String>,
    },
    /// git failed (not a repository, unknown revision, ...).
    #[error("git {args}: {message}")]
    Git {
        /// The git arguments.
        args: String,
        /// git's own message.
        message: String,
    },
    /// `--diff` names neither a config folder nor a git revision of the config folder.
    #[error("`{rev}` is neither a config folder nor a git revision of {}: {source}", dir.display())]
    NotARevision {
        /// What was given.
        rev: String,
        /// The config folder.
        dir: PathBuf,
        /// What git said.
        source: Box<DiffError>,
    },
    /// A file could not be written or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Everything each role can reach through the API.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Exposure {
    /// Per role.
    pub roles: BTreeMap<String, RoleExposure>,
}

/// What one role can reach, each item with the operations that reach it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoleExposure {
    /// Operations the role may run.
    pub operations: BTreeSet<String>,
    /// Columns read (`table.column`) -> operations.
    pub reads: BTreeMap<String, BTreeSet<String>>,
    /// Columns written -> operations.
    pub writes: BTreeMap<String, BTreeSet<String>>,
    /// Tables whose rows are deleted -> operations.
    pub deletes: BTreeMap<String, BTreeSet<String>>,
}

impl Exposure {
    /// Sums up the reach of every operation.
    pub fn of(ops: &[OperationAccess]) -> Exposure {
        let mut out = Exposure::default();
        for op in ops {
            for r in &op.roles {
                let e = out.roles.entry(r.role.clone()).or_default();
                e.operations.insert(op.name.clone());
                let add = |map: &mut BTreeMap<String, BTreeSet<String>>,
                           items: &BTreeSet<String>| {
                    for i in items {
                        map.entry(i.clone()).or_default().insert(op.name.clone());
                    }
                };
                add(&mut e.reads, &r.reads);
                add(&mut e.writes, &r.writes);
                add(&mut e.deletes, &r.deletes);
            }
            for (role, _) in &op.refused {
                out.roles.entry(role.clone()).or_default();
            }
        }
        out
    }

    /// Loads, compiles and sums up the config folder `dir` (`side` names it in errors).
    pub fn load(dir: &Path, side: &str) -> Result<Exposure, DiffError> {
        let fail = |errors: Vec<String>| DiffError::Compile {
            side: side.to_string(),
            errors,
        };
        let project = Project::load(dir).map_err(|e| fail(vec![e.to_string()]))?;
        let ops = project
            .compile()
            .map_err(|errs| fail(errs.iter().map(ToString::to_string).collect()))?;
        Ok(Exposure::of(&access(&project, &ops)))
    }
}

/// The items that appeared or disappeared for one role.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    /// Operations.
    pub operations: Vec<String>,
    /// Columns read, each with the operations that read it (on the side it is on).
    pub reads: Vec<(String, Vec<String>)>,
    /// Columns written, with operations.
    pub writes: Vec<(String, Vec<String>)>,
    /// Tables whose rows are deleted, with operations.
    pub deletes: Vec<(String, Vec<String>)>,
}

impl Changes {
    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
            && self.reads.is_empty()
            && self.writes.is_empty()
            && self.deletes.is_empty()
    }

    fn json(&self) -> Json {
        let items = |list: &[(String, Vec<String>)], key: &str| -> Json {
            list.iter()
                .map(|(item, ops)| json!({ key: item, "operations": ops }))
                .collect()
        };
        json!({
            "operations": self.operations,
            "reads": items(&self.reads, "column"),
            "writes": items(&self.writes, "column"),
            "deletes": items(&self.deletes, "table"),
        })
    }
}

/// What changed for one role.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoleDiff {
    /// The role.
    pub role: String,
    /// Newly exposed.
    pub added: Changes,
    /// No longer exposed.
    pub removed: Changes,
}

/// The difference between a baseline and a changed API.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diff {
    /// Roles with a change, in name order.
    pub roles: Vec<RoleDiff>,
}

/// What `after` exposes that `before` did not, and the reverse, per role.
pub fn diff(before: &Exposure, after: &Exposure) -> Diff {
    let empty = RoleExposure::default();
    let names: BTreeSet<&String> = before.roles.keys().chain(after.roles.keys()).collect();
    let mut roles = Vec::new();
    for name in names {
        let b = before.roles.get(name).unwrap_or(&empty);
        let a = after.roles.get(name).unwrap_or(&empty);
        let d = RoleDiff {
            role: name.clone(),
            added: changes(b, a),
            removed: changes(a, b),
        };
        if !d.added.is_empty() || !d.removed.is_empty() {
            roles.push(d);
        }
    }
    Diff { roles }
}

/// What `to` has that `from` has not.
fn changes(from: &RoleExposure, to: &RoleExposure) -> Changes {
    let new_items = |f: &BTreeMap<String, BTreeSet<String>>,
                     t: &BTreeMap<String, BTreeSet<String>>| {
        t.iter()
            .filter(|(k, _)| !f.contains_key(*k))
            .map(|(k, ops)| (k.clone(), ops.iter().cloned().collect()))
            .collect()
    };
    Changes {
        operations: to
            .operations
            .difference(&from.operations)
            .cloned()
            .collect(),
        reads: new_items(&from.reads, &to.reads),
        writes: new_items(&from.writes, &to.writes),
        deletes: new_items(&from.deletes, &to.deletes),
    }
}

impl Diff {
    /// Whether the change exposes anything new to any role.
    pub fn exposes_more(&self) -> bool {
        self.roles.iter().any(|r| !r.added.is_empty())
    }

    /// The report for people: per role, `+` for what is newly exposed, `-` for what no
    /// longer is, then a summary line.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for r in &self.roles {
            out.push_str(&format!("{}\n", r.role));
            for (sign, c, via) in [("+", &r.added, "via"), ("-", &r.removed, "was via")] {
                for op in &c.operations {
                    out.push_str(&format!("  {sign} operation {op}\n"));
                }
                for (what, list) in [
                    ("reads", &c.reads),
                    ("writes", &c.writes),
                    ("deletes rows of", &c.deletes),
                ] {
                    for (item, ops) in list {
                        out.push_str(&format!(
                            "  {sign} {what} {item} ({via} {})\n",
                            ops.join(", ")
                        ));
                    }
                }
            }
        }
        if self.roles.is_empty() {
            out.push_str("no change in what any role can reach\n");
        } else if self.exposes_more() {
            let n = self.roles.iter().filter(|r| !r.added.is_empty()).count();
            out.push_str(&format!(
                "new exposure for {n} role{}\n",
                if n == 1 { "" } else { "s" }
            ));
        } else {
            out.push_str("nothing newly exposed; some access was removed\n");
        }
        out
    }

    /// The report for machines:
    /// `{"exposes_more": bool, "roles": {"anon": {"added": {...}, "removed": {...}}}}`, each
    /// side with `operations`, `reads`/`writes` (`{"column", "operations"}`) and `deletes`
    /// (`{"table", "operations"}`).
    pub fn json(&self) -> Json {
        let roles: serde_json::Map<String, Json> = self
            .roles
            .iter()
            .map(|r| {
                (
                    r.role.clone(),
                    json!({ "added": r.added.json(), "removed": r.removed.json() }),
                )
            })
            .collect();
        json!({ "exposes_more": self.exposes_more(), "roles": roles })
    }
}

/// A copy of a config folder as it is at a git revision, in a temporary folder removed on
/// drop.
#[derive(Debug)]
pub struct Checkout {
    dir: PathBuf,
    /// `REV:path/in/repo`, for messages.
    pub label: String,
}

impl Checkout {
    /// The folder holding the copy.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Copies the files of `config_dir` (a folder inside a git work tree) as they are at
    /// revision `rev` (`main`, `HEAD~1`, a commit id) into a temporary folder.
    pub fn at_revision(config_dir: &Path, rev: &str) -> Result<Checkout, DiffError> {
        Self::copy(config_dir, rev).map_err(|e| match e {
            DiffError::Git { .. } => DiffError::NotARevision {
                rev: rev.to_string(),
                dir: config_dir.to_path_buf(),
                source: Box::new(e),
            },
            other => other,
        })
    }

    fn copy(config_dir: &Path, rev: &str) -> Result<Checkout, DiffError> {
        let prefix = git(config_dir, &["rev-parse", "--show-prefix"])?;
        let prefix = prefix.trim().trim_end_matches('/');
        let top = git(config_dir, &["rev-parse", "--show-toplevel"])?;
        let top = PathBuf::from(top.trim());
        let tree = if prefix.is_empty() {
            format!("{rev}:")
        } else {
            format!("{rev}:{prefix}")
        };
        let listing = git(&top, &["ls-tree", &tree])?;
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("graphjin-diff-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|source| DiffError::Io {
            path: dir.clone(),
            source,
        })?;
        let checkout = Checkout {
            dir,
            label: tree.clone(),
        };
        for line in listing.lines() {
            // `<mode> <type> <object>\t<name>`
            let Some((meta, name)) = line.split_once('\t') else {
                continue;
            };
            if meta.split_whitespace().nth(1) != Some("blob") {
                continue;
            }
            let object = if prefix.is_empty() {
                format!("{rev}:{name}")
            } else {
                format!("{rev}:{prefix}/{name}")
            };
            let bytes = git_bytes(&top, &["show", &object])?;
            let path = checkout.dir.join(name);
            std::fs::write(&path, bytes).map_err(|source| DiffError::Io { path, source })?;
        }
        Ok(checkout)
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn git_bytes(dir: &Path, args: &[&str]) -> Result<Vec<u8>, DiffError> {
    let fail = |message: String| DiffError::Git {
        args: args.join(" "),
        message,
    };
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .map_err(|e| fail(format!("could not run git: {e}")))?;
    if !out.status.success() {
        return Err(fail(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(out.stdout)
}

fn git(dir: &Path, args: &[&str]) -> Result<String, DiffError> {
    git_bytes(dir, args).map(|b| String::from_utf8_lossy(&b).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gql::ast::OpKind;
    use crate::source::Pos;
    use crate::tools::access::RoleAccess;

    fn op(name: &str, role: &str, reads: &[&str]) -> OperationAccess {
        OperationAccess {
            name: name.into(),
            kind: OpKind::Query,
            pos: Pos::new(1, 1),
            roles: vec![RoleAccess {
                role: role.into(),
                reads: reads.iter().map(|s| s.to_string()).collect(),
                ..RoleAccess::default()
            }],
            refused: Vec::new(),
        }
    }

    #[test]
    fn a_column_already_reachable_is_not_new() {
        let before = Exposure::of(&[op("a", "anon", &["t.x"]), op("b", "anon", &["t.y"])]);
        let after = Exposure::of(&[
            op("a", "anon", &["t.x", "t.y"]),
            op("b", "anon", &["t.y", "t.z"]),
        ]);
        let d = diff(&before, &after);
        assert_eq!(d.roles.len(), 1);
        assert_eq!(
            d.roles[0].added.reads,
            vec![("t.z".to_string(), vec!["b".to_string()])]
        );
        assert!(d.roles[0].removed.is_empty());
        assert!(d.exposes_more());
        assert_eq!(
            d.text(),
            "anon\n  + reads t.z (via b)\nnew exposure for 1 role\n"
        );
        let back = diff(&after, &before);
        assert!(!back.exposes_more());
        assert_eq!(
            back.text(),
            "anon\n  - reads t.z (was via b)\nnothing newly exposed; some access was removed\n"
        );
        assert_eq!(
            diff(&before, &before).text(),
            "no change in what any role can reach\n"
        );
    }
}
