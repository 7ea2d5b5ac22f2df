//! Field and fragment directives, decided for one role: what GraphJin's `@include`,
//! `@skip`, `@add`, `@remove`, `@object`, `@through`, `@notRelated` and `@schema` mean,
//! and fragments spread into their selections.

use crate::compile::ctx::Ctx;
use crate::compile::error::{CompileError, Result};
use crate::compile::names::suggestion;
use crate::gql::ast::{Directive, Field, Selection, ValueKind};
use crate::source::Pos;

/// A condition a field is shown under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::compile) enum Show<'a> {
    /// Never, for this role (`@include(ifRole:)` naming another role): the field is `null`,
    /// as GraphJin's `SkipTypeNulled`.
    Never,
    /// When the boolean variable `name` is true (`include`) or not true (`skip`).
    Var {
        /// The variable.
        name: &'a str,
        /// Where it is written.
        pos: Pos,
        /// `@include` rather than `@skip`.
        include: bool,
    },
}

/// What a field's directives decide.
#[derive(Debug, Default)]
pub(in crate::compile) struct FieldDirectives<'a> {
    /// Leave the field out entirely for this role.
    pub removed: bool,
    /// Conditions that must all hold for the field to show (it is `null` otherwise).
    pub show: Vec<Show<'a>>,
    /// `@object`: one object rather than a list.
    pub object: bool,
    /// `@through(table: ...)`.
    pub through: Option<String>,
    /// `@notRelated`: a nested table selected on its own, not joined to its parent.
    pub not_related: bool,
    /// `@schema(name: ...)`: the PostgreSQL schema the table must be in.
    pub schema: Option<String>,
}

const DIRECTIVES: [&str; 9] = [
    "include",
    "skip",
    "add",
    "remove",
    "object",
    "through",
    "notRelated",
    "not_related",
    "schema",
];

impl<'a> Ctx<'a> {
    /// The fields of a selection set with fragments spread in, in order.
    pub(in crate::compile) fn flatten(&self, sel: &'a [Selection]) -> Result<Vec<&'a Field>> {
        let mut out = Vec::new();
        let mut stack = Vec::new();
        self.flatten_into(sel, &mut out, &mut stack)?;
        Ok(out)
    }

    fn flatten_into(
        &self,
        sel: &'a [Selection],
        out: &mut Vec<&'a Field>,
        stack: &mut Vec<&'a str>,
    ) -> Result<()> {
        for s in sel {
            match s {
                Selection::Field(f) => out.push(f),
                Selection::FragmentSpread(spread) => {
                    if !self.static_include(&spread.directives)? {
                        continue;
                    }
                    let name = spread.name.value.as_str();
                    let frag = self.fragments.get(name).ok_or_else(|| {
                        CompileError::new(
                            spread.name.pos,
                            format!(
                                "unknown fragment `{name}`{}",
                                suggestion(name, self.fragments.keys().copied())
                            ),
                        )
                    })?;
                    if stack.contains(&name) {
                        let mut cycle: Vec<&str> = stack.clone();
                        cycle.push(name);
                        return Err(CompileError::new(
                            spread.name.pos,
                            format!("fragment cycle: {}", cycle.join(" -> ")),
                        ));
                    }
                    stack.push(name);
                    self.flatten_into(&frag.selection, out, stack)?;
                    stack.pop();
                }
                Selection::InlineFragment(inline) => {
                    if self.static_include(&inline.directives)? {
                        self.flatten_into(&inline.selection, out, stack)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// `@include(if: true|false)` / `@skip(if: ...)` with constants, as on fragments.
    fn static_include(&self, dirs: &[Directive]) -> Result<bool> {
        let mut keep = true;
        for d in dirs {
            let name = d.name.value.as_str();
            if name != "include" && name != "skip" {
                return Err(CompileError::new(
                    d.name.pos,
                    format!("directive `@{name}` is not supported on fragments"),
                ));
            }
            let cond = match d.arguments.first().map(|a| &a.value.kind) {
                Some(ValueKind::Boolean(b)) => *b,
                _ => {
                    return Err(CompileError::new(
                        d.name.pos,
                        format!("`@{name}` on a fragment needs a constant `if: true|false`"),
                    ));
                }
            };
            keep &= if name == "include" { cond } else { !cond };
        }
        Ok(keep)
    }

    /// Refuses a role name the config does not define (in `@{directive}(ifRole:)`).
    fn known_role(&self, role: &str, directive: &str, pos: Pos) -> Result<()> {
        if self.roles.role(role).is_none() {
            return Err(CompileError::new(
                pos,
                format!(
                    "unknown role `{role}` in `@{directive}` (roles: {})",
                    self.roles.names().join(", ")
                ),
            ));
        }
        Ok(())
    }

    /// Evaluates a field's directives for this role.
    pub(in crate::compile) fn field_directives(&self, f: &'a Field) -> Result<FieldDirectives<'a>> {
        let mut out = FieldDirectives::default();
        for d in &f.directives {
            let name = d.name.value.as_str();
            let arg = |n: &str| {
                d.arguments
                    .iter()
                    .find(|a| a.name.value == n)
                    .map(|a| &a.value)
            };
            match name {
                "include" | "skip" => {
                    // `ifRole`: decided per role at build time; a field left out for this
                    // role is null (GraphJin's SkipTypeNulled), unlike `@remove`.
                    if let Some(v) = arg("ifRole").or_else(|| arg("if_role")) {
                        let role = match &v.kind {
                            ValueKind::String(s) | ValueKind::Enum(s) => s.as_str(),
                            _ => {
                                return Err(CompileError::new(
                                    v.pos,
                                    format!("`@{name}(ifRole:)` takes a role name"),
                                ));
                            }
                        };
                        self.known_role(role, name, v.pos)?;
                        if (role == self.role) != (name == "include") {
                            out.show = vec![Show::Never];
                        }
                        if arg("if")
                            .or_else(|| arg("ifVar"))
                            .or_else(|| arg("if_var"))
                            .is_none()
                        {
                            continue;
                        }
                    }
                    let v = arg("if")
                        .or_else(|| arg("ifVar"))
                        .or_else(|| arg("if_var"))
                        .ok_or_else(|| {
                            CompileError::new(
                                d.name.pos,
                                format!("`@{name}` needs `if:`, `ifVar:` or `ifRole:`"),
                            )
                        })?;
                    let cond = match &v.kind {
                        ValueKind::Boolean(b) => {
                            if *b != (name == "include") {
                                out.removed = true;
                            }
                            continue;
                        }
                        ValueKind::Variable(var) => Show::Var {
                            name: var,
                            pos: v.pos,
                            include: name == "include",
                        },
                        _ => {
                            return Err(CompileError::new(
                                v.pos,
                                format!("`@{name}` takes a boolean or a variable"),
                            ));
                        }
                    };
                    out.show.push(cond);
                }
                "add" | "remove" => {
                    let role = match arg("ifRole").map(|v| &v.kind) {
                        Some(ValueKind::String(s)) | Some(ValueKind::Enum(s)) => s.as_str(),
                        _ => {
                            return Err(CompileError::new(
                                d.name.pos,
                                format!("`@{name}` needs `ifRole: \"role\"`"),
                            ));
                        }
                    };
                    self.known_role(role, name, d.name.pos)?;
                    let matches = role == self.role;
                    if (name == "add") != matches {
                        out.removed = true;
                    }
                }
                "object" => out.object = true,
                "notRelated" | "not_related" => out.not_related = true,
                "schema" => match arg("name").map(|v| &v.kind) {
                    Some(ValueKind::String(s)) | Some(ValueKind::Enum(s)) => {
                        out.schema = Some(s.clone())
                    }
                    _ => {
                        return Err(CompileError::new(
                            d.name.pos,
                            "`@schema` needs `name: \"schema\"`",
                        ));
                    }
                },
                "through" => match arg("table").map(|v| &v.kind) {
                    Some(ValueKind::String(s)) | Some(ValueKind::Enum(s)) => {
                        out.through = Some(s.clone())
                    }
                    _ => {
                        return Err(CompileError::new(
                            d.name.pos,
                            "`@through` needs `table: \"join_table\"`",
                        ));
                    }
                },
                other => {
                    return Err(CompileError::new(
                        d.name.pos,
                        format!(
                            "unknown directive `@{other}`{}",
                            suggestion(other, DIRECTIVES).replace(" `", " `@")
                        ),
                    ));
                }
            }
        }
        Ok(out)
    }
}
