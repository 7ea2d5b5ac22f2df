//! Compliance rules, checked at build time: the config's `compliance:` block states what no
//! operation may do, and a violation fails `cargo build` and `graphjin check` like any other
//! compile error, naming the operation, the role and `allow.list:LINE:COL`.
//!
//! ```yaml
//! compliance:
//!   # Nobody reads card numbers; anonymous callers never see e-mail addresses.
//!   - never_reads: [users.credit_card_no]
//!   - role: anon
//!     never_reads: [customers.email]
//!   # Only admins set an order's status or delete orders (`orders.*`: any column, and deletes).
//!   - only_roles: [admin]
//!     write: [orders.status]
//!   # Every read, update or delete of payments is restricted by the caller's id, except for admins.
//!   - table: payments
//!     must_filter_by: $user_id
//!     except_roles: [admin]
//! ```
//!
//! | key | what |
//! | --- | --- |
//! | `never_reads`, `never_writes` | columns (`table.column`, or `table.*` for every column) the rule's roles may not read or write; `table.*` in `never_writes` covers deletes too |
//! | `only_roles` with `read` and/or `write` | only these roles may read or write the columns listed |
//! | `table` with `must_filter_by` | every selection, update or delete of `table` is restricted by `$variable` (or by a condition on `column`) in its `id:`/`where:` or in the role's own `filters`, not under `or`/`not` |
//! | `role`, `roles`, `except_roles` | the roles a `never_*` or `must_filter_by` rule applies to (default: every role) |
//! | `name` | a name for messages |
//!
//! "Reads" are the compiler's read list (columns selected, filtered, ordered, or written);
//! "writes" are columns whose value the caller's data supplies (see [`super::access`]).
//! Every table, column and role a rule names must exist, so a misspelt rule fails the build
//! instead of passing silently.

use serde::Deserialize;

use super::access::{OperationAccess, RoleAccess, fragments, parsed};
use super::walk::{Needle, TableUse, Use, db_name, filter_requires, flatten, table_uses};
use crate::compile::{Catalog, Compiler};
use crate::gql::ast::{Fragment, ValueKind};
use crate::origin::{Located, Origin};
use crate::project::{CompiledOperation, Project};
use crate::source::Pos;

/// One entry of the config's `compliance:` list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComplianceRule {
    /// A name for messages.
    pub name: Option<String>,
    /// The one role the rule applies to.
    pub role: Option<String>,
    /// The roles the rule applies to.
    pub roles: Vec<String>,
    /// Roles the rule does not apply to.
    pub except_roles: Vec<String>,
    /// Columns the roles never read.
    pub never_reads: Vec<String>,
    /// Columns the roles never write (`table.*`: nor delete rows).
    pub never_writes: Vec<String>,
    /// The only roles that may read `read` and write `write`.
    pub only_roles: Vec<String>,
    /// With `only_roles`: columns only they read.
    pub read: Vec<String>,
    /// With `only_roles`: columns only they write.
    pub write: Vec<String>,
    /// With `must_filter_by`: the table.
    pub table: Option<String>,
    /// `$variable` or `column` every use of `table` must be restricted by.
    pub must_filter_by: Option<String>,
}

/// A compliance rule that is malformed, or an operation that breaks one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComplianceError {
    /// The rule itself is wrong: an unknown key, table, column or role, or a mix of kinds.
    #[error("{file}: `{key}`: {message}")]
    Rule {
        /// The config file.
        file: String,
        /// The key, e.g. `compliance[1].never_reads[0]`.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// An operation breaks a rule for a role.
    #[error("{}", Located { origin: Origin::AllowList, dir: None, pos: *pos, message: breach })]
    Violation {
        /// Where, in allow.list: the field at fault when it can be found, else the operation.
        pos: Pos,
        /// Which rule the operation breaks, and how.
        breach: Breach,
    },
}

/// What an operation does against a compliance rule, for a role: a
/// [`ComplianceError::Violation`]'s message, without its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("breaks {rule}: {message} (operation `{operation}`, role `{role}`)")]
pub struct Breach {
    /// The rule, e.g. `compliance[0] (never_reads customers.email)`.
    pub rule: String,
    /// The operation.
    pub operation: String,
    /// The role.
    pub role: String,
    /// What the operation does.
    pub message: String,
}

impl ComplianceError {
    /// The allow.list position of a violation.
    pub fn pos(&self) -> Option<Pos> {
        match self {
            ComplianceError::Violation { pos, .. } => Some(*pos),
            ComplianceError::Rule { .. } => None,
        }
    }
}

/// A column pattern: `table.column`, or `table.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    table: String,
    column: Option<String>,
}

impl Pattern {
    fn matches_column(&self, qualified: &str) -> bool {
        let Some((t, c)) = qualified.rsplit_once('.') else {
            return false;
        };
        t == self.table && self.column.as_deref().is_none_or(|col| col == c)
    }

    fn text(&self) -> String {
        format!("{}.{}", self.table, self.column.as_deref().unwrap_or("*"))
    }
}

/// A checked rule.
#[derive(Debug, Clone)]
struct Rule {
    label: String,
    scope: Scope,
    never_reads: Vec<Pattern>,
    never_writes: Vec<Pattern>,
    filter: Option<(String, Needle)>,
}

#[derive(Debug, Clone)]
enum Scope {
    All,
    Only(Vec<String>),
    Except(Vec<String>),
}

impl Scope {
    fn covers(&self, role: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Only(r) => r.iter().any(|x| x == role),
            Scope::Except(r) => !r.iter().any(|x| x == role),
        }
    }
}

/// Checks the config's rules and every compiled operation against them. Returns every
/// problem (empty when the config has no `compliance:` block).
pub fn check(
    project: &Project,
    compiler: &Compiler,
    ops: &[CompiledOperation],
) -> Vec<ComplianceError> {
    let config = &project.config.compliance;
    if config.is_empty() {
        return Vec::new();
    }
    let mut errors = Vec::new();
    let roles = compiler.roles();
    let rules: Vec<Rule> = config
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            validate(i, r, compiler.catalog(), &roles)
                .map_err(|(key, message)| {
                    errors.push(ComplianceError::Rule {
                        file: project.config_name.clone(),
                        key,
                        message,
                    })
                })
                .ok()
        })
        .collect();
    if !errors.is_empty() {
        return errors;
    }
    let fragments = fragments(project);
    let reach = super::access::reach(project, compiler, ops);
    let camel = project.config.enable_camelcase;
    for (op, reach) in ops.iter().zip(&reach) {
        let tree = parsed(op);
        let uses = tree
            .as_ref()
            .map(|t| table_uses(compiler.catalog(), camel, t, &fragments))
            .unwrap_or_default();
        let ctx = OpCtx {
            compiler,
            camel,
            fragments: &fragments,
            op,
            reach,
            uses: &uses,
        };
        for rule in &rules {
            ctx.check(rule, &mut errors);
        }
    }
    errors
}

fn validate(
    i: usize,
    r: &ComplianceRule,
    cat: &Catalog,
    roles: &[String],
) -> Result<Rule, (String, String)> {
    let key = |k: &str| format!("compliance[{i}]{k}");
    let known_role = |field: &str, j: Option<usize>, name: &str| {
        if roles.iter().any(|x| x == name) {
            Ok(())
        } else {
            let at = j.map(|j| format!("[{j}]")).unwrap_or_default();
            Err((
                key(&format!(".{field}{at}")),
                format!(
                    "unknown role `{name}`{} (roles: {})",
                    crate::compile::names::suggestion(name, roles.iter().map(String::as_str)),
                    roles.join(", ")
                ),
            ))
        }
    };
    let columns = |field: &str, list: &[String]| -> Result<Vec<Pattern>, (String, String)> {
        list.iter()
            .enumerate()
            .map(|(j, text)| pattern(cat, text).map_err(|m| (key(&format!(".{field}[{j}]")), m)))
            .collect()
    };
    let never = !r.never_reads.is_empty() || !r.never_writes.is_empty();
    let only = !r.only_roles.is_empty() || !r.read.is_empty() || !r.write.is_empty();
    let filter = r.table.is_some() || r.must_filter_by.is_some();
    let kinds = [never, only, filter].iter().filter(|k| **k).count();
    if kinds != 1 {
        return Err((
            key(""),
            if kinds == 0 {
                "a rule needs `never_reads`/`never_writes`, `only_roles` with `read`/`write`, or `table` with `must_filter_by`".into()
            } else {
                "a rule has one kind: `never_reads`/`never_writes`, `only_roles` with `read`/`write`, or `table` with `must_filter_by`; write two rules".into()
            },
        ));
    }
    let label_of = |what: String| match &r.name {
        Some(n) => format!("compliance[{i}] `{n}` ({what})"),
        None => format!("compliance[{i}] ({what})"),
    };
    if only {
        if r.role.is_some() || !r.roles.is_empty() || !r.except_roles.is_empty() {
            return Err((
                key(""),
                "`only_roles` names the roles itself: drop `role`, `roles` and `except_roles`"
                    .into(),
            ));
        }
        if r.only_roles.is_empty() || (r.read.is_empty() && r.write.is_empty()) {
            return Err((
                key(""),
                "`only_roles` needs the roles and `read` and/or `write` columns".into(),
            ));
        }
        for (j, name) in r.only_roles.iter().enumerate() {
            known_role("only_roles", Some(j), name)?;
        }
        let read = columns("read", &r.read)?;
        let write = columns("write", &r.write)?;
        let mut what = Vec::new();
        if !read.is_empty() {
            what.push(format!("read {}", texts(&read)));
        }
        if !write.is_empty() {
            what.push(format!("write {}", texts(&write)));
        }
        return Ok(Rule {
            label: label_of(format!(
                "only {} {}",
                r.only_roles.join(", "),
                what.join(", ")
            )),
            scope: Scope::Except(r.only_roles.clone()),
            never_reads: read,
            never_writes: write,
            filter: None,
        });
    }
    let mut scoped: Vec<String> = r.role.iter().cloned().collect();
    scoped.extend(r.roles.iter().cloned());
    if !scoped.is_empty() && !r.except_roles.is_empty() {
        return Err((
            key(""),
            "use `role`/`roles` or `except_roles`, not both".into(),
        ));
    }
    if let Some(name) = &r.role {
        known_role("role", None, name)?;
    }
    for (j, name) in r.roles.iter().enumerate() {
        known_role("roles", Some(j), name)?;
    }
    for (j, name) in r.except_roles.iter().enumerate() {
        known_role("except_roles", Some(j), name)?;
    }
    let scope = if !scoped.is_empty() {
        Scope::Only(scoped.clone())
    } else if !r.except_roles.is_empty() {
        Scope::Except(r.except_roles.clone())
    } else {
        Scope::All
    };
    let whom = match &scope {
        Scope::All => String::new(),
        Scope::Only(r) => format!(" for {}", r.join(", ")),
        Scope::Except(r) => format!(" except for {}", r.join(", ")),
    };
    if filter {
        let (Some(table), Some(by)) = (&r.table, &r.must_filter_by) else {
            return Err((key(""), "`table` and `must_filter_by` go together".into()));
        };
        let info = find_table(cat, table).map_err(|m| (key(".table"), m))?;
        let needle = Needle::parse(by);
        match &needle {
            Needle::Variable(v) if v.is_empty() => {
                return Err((key(".must_filter_by"), "name a variable after `$`".into()));
            }
            Needle::Column(c) if info.column(c).is_none() => {
                return Err((
                    key(".must_filter_by"),
                    format!(
                        "table `{table}` has no column `{c}`{} (write `$name` for a variable)",
                        crate::compile::names::suggestion(
                            c,
                            info.columns.iter().map(|c| c.name.as_str())
                        )
                    ),
                ));
            }
            _ => {}
        }
        return Ok(Rule {
            label: label_of(format!("{table} must_filter_by {}{whom}", by.trim())),
            scope,
            never_reads: Vec::new(),
            never_writes: Vec::new(),
            filter: Some((super::walk::real_name(info).to_string(), needle)),
        });
    }
    let never_reads = columns("never_reads", &r.never_reads)?;
    let never_writes = columns("never_writes", &r.never_writes)?;
    let mut what = Vec::new();
    if !never_reads.is_empty() {
        what.push(format!("never_reads {}", texts(&never_reads)));
    }
    if !never_writes.is_empty() {
        what.push(format!("never_writes {}", texts(&never_writes)));
    }
    Ok(Rule {
        label: label_of(format!("{}{whom}", what.join(", "))),
        scope,
        never_reads,
        never_writes,
        filter: None,
    })
}

fn texts(p: &[Pattern]) -> String {
    p.iter().map(Pattern::text).collect::<Vec<_>>().join(", ")
}

/// A table by the name queries use or by its real name.
fn find_table<'c>(
    cat: &'c Catalog,
    name: &str,
) -> Result<&'c crate::compile::catalog::TableInfo, String> {
    cat.table(name)
        .or_else(|| cat.tables.iter().find(|t| t.relation_name() == Some(name)))
        .ok_or_else(|| format!("unknown table `{name}`{}", cat.table_suggestion(name)))
}

fn pattern(cat: &Catalog, text: &str) -> Result<Pattern, String> {
    let Some((table, column)) = text.trim().rsplit_once('.') else {
        return Err(format!(
            "`{text}` is not `table.column` (or `table.*` for every column)"
        ));
    };
    let info = find_table(cat, table)?;
    let real = super::walk::real_name(info).to_string();
    if column == "*" {
        return Ok(Pattern {
            table: real,
            column: None,
        });
    }
    if info.column(column).is_none() {
        return Err(format!(
            "table `{table}` has no column `{column}`{}",
            crate::compile::names::suggestion(column, info.columns.iter().map(|c| c.name.as_str()))
        ));
    }
    Ok(Pattern {
        table: real,
        column: Some(column.to_string()),
    })
}

struct OpCtx<'a> {
    compiler: &'a Compiler,
    camel: bool,
    fragments: &'a [Fragment],
    op: &'a CompiledOperation,
    reach: &'a OperationAccess,
    uses: &'a [TableUse<'a, 'a>],
}

impl OpCtx<'_> {
    fn check(&self, rule: &Rule, errors: &mut Vec<ComplianceError>) {
        let uses = self.uses;
        for role in &self.reach.roles {
            if !rule.scope.covers(&role.role) {
                continue;
            }
            let mut fail = |pos: Pos, message: String| {
                errors.push(ComplianceError::Violation {
                    pos,
                    breach: Breach {
                        rule: rule.label.clone(),
                        operation: self.op.name.clone(),
                        role: role.role.clone(),
                        message,
                    },
                })
            };
            for p in &rule.never_reads {
                for col in role.reads.iter().filter(|c| p.matches_column(c)) {
                    fail(self.read_pos(uses, col), format!("reads `{col}`"));
                }
            }
            for p in &rule.never_writes {
                for col in role.writes.iter().filter(|c| p.matches_column(c)) {
                    fail(self.write_pos(uses, &p.table), format!("writes `{col}`"));
                }
                if p.column.is_none() && role.deletes.contains(&p.table) {
                    fail(
                        self.write_pos(uses, &p.table),
                        format!("deletes rows of `{}`", p.table),
                    );
                }
            }
            if let Some((table, needle)) = &rule.filter {
                self.check_filter(role, table, needle, uses, &mut fail);
            }
        }
    }

    fn check_filter(
        &self,
        role: &RoleAccess,
        table: &str,
        needle: &Needle,
        uses: &[TableUse<'_, '_>],
        fail: &mut impl FnMut(Pos, String),
    ) {
        let rules = self.compiler.role_set().role(&role.role);
        let mut seen = false;
        for u in uses.iter().filter(|u| u.real_name() == table) {
            seen = true;
            let by_role = rules.and_then(|r| match u.how {
                Use::Select => r.query.get(&u.table.name),
                Use::Update => r.update.get(&u.table.name),
                Use::Delete => r.delete.get(&u.table.name),
                Use::Insert => None,
            });
            if u.how == Use::Insert {
                continue;
            }
            let in_role =
                by_role.is_some_and(|r| r.filters.iter().any(|f| filter_requires(f, needle)));
            let in_where = u
                .argument("where")
                .is_some_and(|w| filter_requires(w, needle));
            let in_id = u.argument("id").is_some_and(|id| match (needle, &id.kind) {
                (Needle::Variable(v), ValueKind::Variable(x)) => v == x,
                (Needle::Column(c), _) => u.table.primary_key().is_some_and(|pk| &pk.name == c),
                _ => false,
            });
            if !(in_role || in_where || in_id) {
                let verb = match u.how {
                    Use::Update => "updates",
                    Use::Delete => "deletes",
                    _ => "reads",
                };
                let by = match needle {
                    Needle::Variable(v) => format!("${v}"),
                    Needle::Column(c) => format!("`{c}`"),
                };
                fail(
                    u.field.name.pos,
                    format!(
                        "{verb} `{table}` without a filter on {by} (add one to `where:`, or to the role's `filters`)"
                    ),
                );
            }
        }
        // A table read through a field the walk cannot follow (a union, a function) fails
        // closed rather than passing unchecked.
        let read = role
            .reads
            .iter()
            .any(|c| c.rsplit_once('.').is_some_and(|(t, _)| t == table));
        if read && !seen {
            fail(
                self.op.pos,
                format!("reads `{table}` through a field whose filters cannot be checked"),
            );
        }
    }

    /// The field that selects `col` (`table.column`), else the operation.
    fn read_pos(&self, uses: &[TableUse<'_, '_>], col: &str) -> Pos {
        let Some((table, column)) = col.rsplit_once('.') else {
            return self.op.pos;
        };
        for u in uses.iter().filter(|u| u.real_name() == table) {
            for f in flatten(&u.field.selection, self.fragments) {
                if db_name(&f.name.value, self.camel) == column {
                    return f.name.pos;
                }
            }
        }
        self.op.pos
    }

    /// The mutation field that writes `table`, else the operation.
    fn write_pos(&self, uses: &[TableUse<'_, '_>], table: &str) -> Pos {
        uses.iter()
            .find(|u| u.how != Use::Select && u.real_name() == table)
            .or_else(|| uses.iter().find(|u| u.how != Use::Select))
            .map(|u| u.field.name.pos)
            .unwrap_or(self.op.pos)
    }
}

#[cfg(test)]
mod tests {
    use crate::Error;
    use crate::tools::{test_project, try_test_project};

    const ROLES: &str = "roles:\n  - name: admin\n    match: \"true\"\n";

    fn errors(allow: &str, config: &str) -> Vec<String> {
        let config = format!(
            "roles_query: \"SELECT * FROM customers WHERE id = $user_id\"\n{ROLES}{config}"
        );
        match try_test_project(allow, &config)
            .map_err(|e| vec![e])
            .and_then(|p| p.compile())
        {
            Ok(_) => Vec::new(),
            Err(e) => e.iter().map(Error::to_string).collect(),
        }
    }

    #[test]
    fn never_reads_points_at_the_field() {
        let allow = "query a {\n  customers {\n    id\n    email\n  }\n}\n";
        let e = errors(
            allow,
            "compliance:\n  - role: anon\n    never_reads: [customers.email]\n",
        );
        assert_eq!(
            e,
            [
                "allow.list:4:5: breaks compliance[0] (never_reads customers.email for anon): reads `customers.email` (operation `a`, role `anon`)"
            ]
        );
        // Other roles are not covered; a rule for every role fails each, for each column.
        assert_eq!(
            errors(allow, "compliance:\n  - never_reads: [customers.*]\n").len(),
            6
        );
    }

    #[test]
    fn only_roles_write() {
        let allow = "mutation s($id: ID!, $status: String!) {\n  orders(id: $id, update: { status: $status }) {\n    id\n  }\n}\n";
        let e = errors(
            allow,
            "compliance:\n  - name: status-by-admins\n    only_roles: [admin]\n    write: [orders.status]\n",
        );
        assert_eq!(
            e,
            [
                "allow.list:2:3: breaks compliance[0] `status-by-admins` (only admin write orders.status): writes `orders.status` (operation `s`, role `user`)"
            ]
        );
        assert!(
            errors(
                allow,
                "compliance:\n  - only_roles: [admin, user]\n    write: [orders.status]\n"
            )
            .is_empty()
        );
        let del = "mutation d($id: ID!) {\n  orders(id: $id, delete: true) {\n    id\n  }\n}\n";
        let e = errors(
            del,
            "compliance:\n  - never_writes: [orders.*]\n    except_roles: [admin]\n",
        );
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("deletes rows of `orders`"), "{e:?}");
    }

    #[test]
    fn must_filter_by_looks_at_where_id_and_role_filters() {
        let rule = "compliance:\n  - table: payments\n    must_filter_by: $user_id\n    except_roles: [admin]\n";
        let bad = "query p {\n  payments {\n    amount\n  }\n}\n";
        let e = errors(bad, rule);
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            e[0].starts_with("allow.list:2:3: breaks compliance[0] (payments must_filter_by $user_id except for admin): reads `payments` without a filter on $user_id"),
            "{e:?}"
        );
        let nested =
            "query p {\n  customers(id: $user_id) {\n    payments {\n      amount\n    }\n  }\n}\n";
        assert_eq!(errors(nested, rule).len(), 2);
        let good = "query p {\n  payments(where: { customer_id: { eq: $user_id } }) {\n    amount\n  }\n}\n";
        assert!(errors(good, rule).is_empty());
        let or = "query p {\n  payments(where: { or: [{ customer_id: { eq: $user_id } }, { amount: { gt: 0 } }] }) {\n    amount\n  }\n}\n";
        assert_eq!(errors(or, rule).len(), 2);
        let by_role =
            format!("{rule}roles_query: \"SELECT * FROM customers WHERE id = $user_id\"\n");
        // The role's own filter counts (anon still has none).
        let config = format!(
            "roles_query: \"SELECT * FROM customers WHERE id = $user_id\"\nroles:\n  - name: admin\n    match: \"true\"\n  - name: user\n    tables:\n      - name: payments\n        query:\n          filters: [\"{{ customer_id: {{ eq: $user_id }} }}\"]\n{}",
            by_role.lines().take(4).collect::<Vec<_>>().join("\n") + "\n"
        );
        let e: Vec<String> = match test_project(bad, &config).compile() {
            Ok(_) => Vec::new(),
            Err(e) => e.iter().map(Error::to_string).collect(),
        };
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("role `anon`"), "{e:?}");
    }

    #[test]
    fn bad_rules_name_their_key() {
        let allow = "query a {\n  customers {\n    id\n  }\n}\n";
        let e = errors(allow, "compliance:\n  - never_reads: [customers.emial]\n");
        assert_eq!(
            e,
            [
                "dev.yml: `compliance[0].never_reads[0]`: table `customers` has no column `emial` (did you mean `email`?)"
            ]
        );
        let e = errors(
            allow,
            "compliance:\n  - role: anno\n    never_reads: [customers.email]\n",
        );
        assert!(
            e[0].contains("`compliance[0].role`: unknown role `anno`"),
            "{e:?}"
        );
        let e = errors(allow, "compliance:\n  - never_read: [customers.email]\n");
        assert!(
            e[0].ends_with(
                "dev.yml: key `compliance[0].never_read`: unknown key; did you mean `never_reads`?"
            ),
            "{e:?}"
        );
        let e = errors(allow, "compliance:\n  - role: anon\n");
        assert!(e[0].contains("`compliance[0]`: a rule needs"), "{e:?}");
        let e = errors(
            allow,
            "compliance:\n  - only_roles: [admin]\n    write: [orders.status]\n    never_reads: [customers.email]\n",
        );
        assert!(e[0].contains("a rule has one kind"), "{e:?}");
    }
}
