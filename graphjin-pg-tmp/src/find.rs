//! Finding the PostgreSQL binaries and the OS user to run them as.

use std::env;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Error;

/// Paths of the PostgreSQL programs a cluster needs.
#[derive(Debug, Clone)]
pub(crate) struct Bins {
    pub(crate) initdb: PathBuf,
    pub(crate) pg_ctl: PathBuf,
    pub(crate) postgres: PathBuf,
    pub(crate) psql: PathBuf,
}

/// Looks for the server programs in, in order: `$PG_BIN_DIR`, `pg_config --bindir`,
/// the newest `/usr/lib/postgresql/*/bin`, and `PATH`.
pub(crate) fn find_bins() -> Result<Bins, Error> {
    if let Some(dir) = env::var_os("PG_BIN_DIR").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return match server_bins_in(&dir) {
            Some((initdb, pg_ctl, postgres)) => Ok(Bins {
                psql: find_psql(&dir)?,
                initdb,
                pg_ctl,
                postgres,
            }),
            None => Err(Error::BinariesNotFound {
                searched: format!("PG_BIN_DIR={}", dir.display()),
            }),
        };
    }

    let mut candidates = Vec::new();
    if let Some(dir) = pg_config_bindir() {
        candidates.push(dir);
    }
    candidates.extend(versioned_dirs(Path::new("/usr/lib/postgresql")));
    for dir in env::var_os("PATH")
        .map(|p| env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
    {
        let initdb = dir.join("initdb");
        if is_executable(&initdb) {
            // /usr/local/bin/initdb may be a symlink into the real bin directory.
            if let Some(real) = fs::canonicalize(&initdb)
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
            {
                candidates.push(real);
            }
            candidates.push(dir);
        }
    }

    for dir in &candidates {
        if let Some((initdb, pg_ctl, postgres)) = server_bins_in(dir) {
            return Ok(Bins {
                psql: find_psql(dir)?,
                initdb,
                pg_ctl,
                postgres,
            });
        }
    }

    let mut searched: Vec<String> = candidates.iter().map(|d| d.display().to_string()).collect();
    searched.dedup();
    if searched.is_empty() {
        searched.push("pg_config --bindir, /usr/lib/postgresql/*/bin and PATH".to_owned());
    }
    Err(Error::BinariesNotFound {
        searched: searched.join(", "),
    })
}

fn server_bins_in(dir: &Path) -> Option<(PathBuf, PathBuf, PathBuf)> {
    let initdb = dir.join("initdb");
    let pg_ctl = dir.join("pg_ctl");
    let postgres = dir.join("postgres");
    (is_executable(&initdb) && is_executable(&pg_ctl) && is_executable(&postgres))
        .then_some((initdb, pg_ctl, postgres))
}

/// `psql` beside the server programs, else the one on `PATH`.
fn find_psql(dir: &Path) -> Result<PathBuf, Error> {
    let beside = dir.join("psql");
    if is_executable(&beside) {
        return Ok(beside);
    }
    which("psql").ok_or_else(|| Error::BinariesNotFound {
        searched: format!("psql in {} and PATH", dir.display()),
    })
}

fn pg_config_bindir() -> Option<PathBuf> {
    let out = Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

/// `<base>/<version>/bin` for every numeric version directory, newest first.
fn versioned_dirs(base: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(base) else {
        return Vec::new();
    };
    let mut versions: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let version = name
                .split('.')
                .map(str::parse::<u32>)
                .collect::<Result<Vec<_>, _>>()
                .ok()?;
            Some((version, e.path().join("bin")))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn which(program: impl AsRef<OsStr>) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(program.as_ref()))
        .find(|p| is_executable(p))
}

/// How to run the server programs as the `postgres` OS user when we are root.
#[derive(Debug, Clone)]
pub(crate) struct RunAs {
    pub(crate) runuser: PathBuf,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

/// `None` when the current user may run the server programs directly (is not root).
pub(crate) fn run_as() -> Result<Option<RunAs>, Error> {
    if !is_root() {
        return Ok(None);
    }
    let runuser = which("runuser")
        .or_else(|| {
            [
                "/usr/sbin/runuser",
                "/sbin/runuser",
                "/usr/bin/runuser",
                "/bin/runuser",
            ]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| is_executable(p))
        })
        .ok_or_else(|| Error::RunningAsRoot {
            problem: "`runuser` (from util-linux) was not found".to_owned(),
        })?;
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    };
    match (id("-u"), id("-g")) {
        (Some(uid), Some(gid)) => Ok(Some(RunAs { runuser, uid, gid })),
        _ => Err(Error::RunningAsRoot {
            problem: "there is no `postgres` OS user".to_owned(),
        }),
    }
}

fn is_root() -> bool {
    // Effective uid: the second number on the `Uid:` line.
    if let Ok(status) = fs::read_to_string("/proc/self/status")
        && let Some(euid) = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|rest| rest.split_whitespace().nth(1))
    {
        return euid == "0";
    }
    Command::new("id")
        .arg("-u")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_newest_first() {
        let base = env::temp_dir().join(format!("graphjin-pg-find-test-{}", std::process::id()));
        for v in ["9.6", "15", "13", "not-a-version"] {
            fs::create_dir_all(base.join(v).join("bin")).unwrap();
        }
        let dirs = versioned_dirs(&base);
        fs::remove_dir_all(&base).unwrap();
        let names: Vec<_> = dirs
            .iter()
            .map(|d| {
                d.parent()
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(names, ["15", "13", "9.6"]);
    }

    #[test]
    fn finds_the_installed_binaries() {
        let bins = find_bins().expect("PostgreSQL must be installed to run these tests");
        assert!(bins.initdb.ends_with("initdb"));
        assert!(bins.psql.ends_with("psql"));
    }
}
