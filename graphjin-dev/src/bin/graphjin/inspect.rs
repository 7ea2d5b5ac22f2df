//! `graphjin check`, `sql` and `audit`: what the config folder compiles to, and who reaches
//! what.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use graphjin_codegen::{Error, One, Project};

use crate::output::{Failure, Outcome, print_stdout};

/// The config folder's project: schema snapshot, allow list, config.
pub fn load(config_dir: &Path) -> Result<Project, Failure> {
    Ok(Project::load(config_dir)?)
}

/// Compiles every operation for every role and reads the config's `rust:` block.
pub fn check(config_dir: &Path) -> Outcome {
    let project = load(config_dir)?;
    let ops = project.compile().map_err(|errors| Failure::all(&errors))?;
    // The config's `rust:` block, as the build would read it.
    graphjin_codegen::emit::TypeMap::new(&project.config.rust, &project.schema).map_err(
        |source| Error::Catalog {
            file: project.config_name.clone(),
            source,
        },
    )?;
    let roles = ops.roles().len();
    eprintln!("ok: {} operations compiled for {roles} roles", ops.len());
    Ok(())
}

/// Prints the SQL of operation `name` for `role` on stdout, its parameters on stderr.
pub fn sql(config_dir: &Path, name: &str, role: &str) -> Outcome {
    let project = load(config_dir)?;
    let Some(entry) = project.allow_list.find(name) else {
        let names: Vec<&str> = project
            .allow_list
            .operations()
            .map(|o| o.name.as_str())
            .collect();
        let hint = graphjin_codegen::compile::names::suggestion(name, names);
        return Err(Failure::new(format!(
            "allow.list has no operation `{name}`{hint}"
        )));
    };
    // Every role, as the build compiles it: a role the operation refuses says why.
    let op = project.compile_one(One::Named(&entry.name))?;
    let q = match op.roles.iter().find(|(r, _)| r == role) {
        Some((_, q)) => q,
        None => {
            return Err(Failure::new(
                match op.refused.iter().find(|(r, _)| r == role) {
                    Some((_, why)) => format!("role `{role}` may not run `{}`: {why}", op.name),
                    None => {
                        let mut roles: Vec<&str> =
                            op.roles.iter().map(|(r, _)| r.as_str()).collect();
                        roles.extend(op.refused.iter().map(|(r, _)| r.as_str()));
                        format!("unknown role `{role}` (roles: {})", roles.join(", "))
                    }
                },
            ));
        }
    };
    print_stdout(&format!("{};\n", q.sql))?;
    if !q.params.is_empty() {
        let list: Vec<String> = q
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| format!("${} = ${} ({})", i + 1, p.name, p.pg_type))
            .collect();
        eprintln!("-- parameters: {}", list.join(", "));
    }
    Ok(())
}

/// Per operation and role: the columns read and written, or why refused.
pub fn audit(config_dir: &Path) -> Outcome {
    let project = load(config_dir)?;
    let ops = project.compile().map_err(|errors| Failure::all(&errors))?;
    let roles = ops.roles();
    let reach = graphjin_codegen::tools::access::access(&project, &ops);
    let mut text = String::new();
    for op in &reach {
        text.push_str(&format!("{} ({})\n", op.name, op.kind.keyword()));
        for role in &roles {
            if let Some(r) = op.roles.iter().find(|r| &r.role == role) {
                let reads = if r.reads.is_empty() {
                    "nothing".to_string()
                } else {
                    grouped(&r.reads)
                };
                let mut line = format!("  {role}: reads {reads}");
                if !r.writes.is_empty() {
                    line.push_str(&format!("; writes {}", grouped(&r.writes)));
                }
                if !r.deletes.is_empty() {
                    let tables: Vec<&str> = r.deletes.iter().map(String::as_str).collect();
                    line.push_str(&format!("; deletes rows of {}", tables.join(", ")));
                }
                text.push_str(&line);
                text.push('\n');
            } else if let Some((_, why)) = op.refused.iter().find(|(r, _)| r == role) {
                text.push_str(&format!("  {role}: blocked ({why})\n"));
            }
        }
    }
    print_stdout(&text)
}

/// `table.column` names as `table(a, b) other(c)`.
fn grouped(cols: &BTreeSet<String>) -> String {
    let mut by_table: Vec<(String, Vec<String>)> = Vec::new();
    for c in cols {
        let (t, col) = c.rsplit_once('.').unwrap_or(("", c));
        match by_table.last_mut() {
            Some((last, list)) if last == t => list.push(col.to_string()),
            _ => by_table.push((t.to_string(), vec![col.to_string()])),
        }
    }
    by_table
        .iter()
        .map(|(t, cols)| format!("{t}({})", cols.join(", ")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `audit --diff OTHER`: exit 0 when nothing new is exposed, 1 when something is, 2 on
/// errors.
pub fn audit_diff(config_dir: &Path, other: &str, json: bool) -> ExitCode {
    use graphjin_codegen::tools::diff::{Checkout, Exposure, diff};
    let run = || -> Result<bool, String> {
        let after = Exposure::load(config_dir, &config_dir.display().to_string())
            .map_err(|e| e.to_string())?;
        let other_dir = PathBuf::from(other);
        let before = if other_dir.is_dir() {
            Exposure::load(&other_dir, other).map_err(|e| e.to_string())?
        } else {
            let checkout = Checkout::at_revision(config_dir, other).map_err(|e| e.to_string())?;
            Exposure::load(checkout.path(), &checkout.label).map_err(|e| e.to_string())?
        };
        let d = diff(&before, &after);
        let text = if json {
            let mut t = serde_json::to_string_pretty(&d.json()).map_err(|e| e.to_string())?;
            t.push('\n');
            t
        } else {
            d.text()
        };
        print_stdout(&text).map_err(|e| e.0.join("\n"))?;
        Ok(d.exposes_more())
    };
    match run() {
        Ok(false) => ExitCode::SUCCESS,
        Ok(true) => ExitCode::from(1),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
