//! Directives on an operation itself: GraphJin's `@constraint` / `@validate` variable rules
//! (checked by the runtime before any SQL runs), and the `!` of declared variables. Any other
//! operation directive is refused with a did-you-mean, as GraphJin refuses it.

use super::error::{CompileError, Result};
use super::names::suggestion;
use super::values::to_json;
use crate::gql::ast::{Directive, Operation, TypeRef, Value, ValueKind};

/// One variable rule, as the runtime's `graphjin_runtime::validate::Constraint` holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConstraintSpec {
    /// The variable checked.
    pub variable: String,
    /// The rule.
    pub rule: RuleSpec,
}

/// A rule; mirrors `graphjin_runtime::validate::Rule` (values as JSON text).
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum RuleSpec {
    Required,
    NotNull,
    RequiredIf(Vec<(String, String)>),
    RequiredUnless(Vec<(String, String)>),
    RequiredWith(Vec<String>),
    RequiredWithAll(Vec<String>),
    RequiredWithout(Vec<String>),
    RequiredWithoutAll(Vec<String>),
    Min(f64),
    Max(f64),
    Equals(String),
    NotEquals(String),
    OneOf(Vec<String>),
    GreaterThan(f64),
    GreaterThanOrEquals(f64),
    LessThan(f64),
    LessThanOrEquals(f64),
    EqualsField(String),
    NotEqualsField(String),
    GreaterThanField(String),
    GreaterThanOrEqualsField(String),
    LessThanField(String),
    LessThanOrEqualsField(String),
    /// The format's name (one of [`FORMATS`]).
    Format(String),
}

/// The rules `@constraint` takes (GraphJin's `core/internal/valid` names).
pub const RULES: [&str; 23] = [
    "required",
    "requiredIf",
    "requiredUnless",
    "requiredWith",
    "requiredWithAll",
    "requiredWithout",
    "requiredWithoutAll",
    "min",
    "max",
    "equals",
    "notEquals",
    "oneOf",
    "greaterThan",
    "greaterThanOrEquals",
    "lessThan",
    "lessThanOrEquals",
    "equalsField",
    "notEqualsField",
    "greaterThanField",
    "greaterThanOrEqualsField",
    "lessThanField",
    "lessThanOrEqualsField",
    "format",
];

/// The formats of `format:` (GraphJin's, plus `uuid` and `url`).
pub const FORMATS: [&str; 13] = [
    "alpha",
    "alphaNumeric",
    "alphaUnicode",
    "alphaUnicodeNumeric",
    "numeric",
    "number",
    "email",
    "uuid",
    "uuid3",
    "uuid4",
    "uuid5",
    "ulid",
    "url",
];

/// The operation directives this compiler knows.
const OP_DIRECTIVES: [&str; 3] = ["constraint", "validate", "cacheControl"];

/// The variable rules of `op`: its `@constraint`/`@validate` directives, then `NotNull` for
/// each variable declared with a non-null type and no default. Refuses unknown directives,
/// rules, formats and variables, each at its position.
pub fn constraints(op: &Operation) -> Result<Vec<ConstraintSpec>> {
    let declared: Vec<&str> = op.variables.iter().map(|v| v.name.value.as_str()).collect();
    let mut out = Vec::new();
    for d in &op.directives {
        match d.name.value.as_str() {
            "constraint" | "validate" => constraint(d, &declared, &mut out)?,
            "cacheControl" => {
                return Err(CompileError::new(
                    d.name.pos,
                    "`@cacheControl` is not supported here: set Cache-Control in your own layer",
                ));
            }
            other => {
                return Err(CompileError::new(
                    d.name.pos,
                    format!(
                        "unknown operation directive `@{other}`{}",
                        suggestion(other, OP_DIRECTIVES)
                    ),
                ));
            }
        }
    }
    for v in &op.variables {
        if matches!(v.ty, Some(TypeRef::NonNull(_))) && v.default.is_none() {
            out.push(ConstraintSpec {
                variable: v.name.value.clone(),
                rule: RuleSpec::NotNull,
            });
        }
    }
    Ok(out)
}

/// One `@constraint(variable: "x", rule: value, ...)`.
fn constraint(d: &Directive, declared: &[&str], out: &mut Vec<ConstraintSpec>) -> Result<()> {
    let var_arg = d
        .arguments
        .iter()
        .find(|a| a.name.value == "variable")
        .ok_or_else(|| {
            CompileError::new(
                d.name.pos,
                format!(
                    "`@{}` needs `variable:` naming the variable it checks",
                    d.name.value
                ),
            )
        })?;
    let variable = match &var_arg.value.kind {
        ValueKind::String(s) | ValueKind::Enum(s) | ValueKind::Variable(s) => s.clone(),
        _ => {
            return Err(CompileError::new(
                var_arg.value.pos,
                "`variable:` must name a variable, e.g. `variable: \"email\"`",
            ));
        }
    };
    check_declared(&variable, declared, var_arg.value.pos)?;
    let rules: Vec<_> = d
        .arguments
        .iter()
        .filter(|a| a.name.value != "variable")
        .collect();
    if rules.is_empty() {
        return Err(CompileError::new(
            d.name.pos,
            format!(
                "`@{}` on `{variable}` has no rule, e.g. `required: true`",
                d.name.value
            ),
        ));
    }
    for a in rules {
        let v = &a.value;
        let rule = match a.name.value.as_str() {
            "required" => match v.kind {
                ValueKind::Boolean(true) => RuleSpec::Required,
                ValueKind::Boolean(false) => continue,
                _ => return Err(CompileError::new(v.pos, "`required:` takes true or false")),
            },
            "requiredIf" => RuleSpec::RequiredIf(pairs(v, declared)?),
            "requiredUnless" => RuleSpec::RequiredUnless(pairs(v, declared)?),
            "requiredWith" => RuleSpec::RequiredWith(names(v, declared)?),
            "requiredWithAll" => RuleSpec::RequiredWithAll(names(v, declared)?),
            "requiredWithout" => RuleSpec::RequiredWithout(names(v, declared)?),
            "requiredWithoutAll" => RuleSpec::RequiredWithoutAll(names(v, declared)?),
            "min" => RuleSpec::Min(number(v)?),
            "max" => RuleSpec::Max(number(v)?),
            "equals" => RuleSpec::Equals(json_text(v)?),
            "notEquals" => RuleSpec::NotEquals(json_text(v)?),
            "oneOf" => match &v.kind {
                ValueKind::List(items) => {
                    RuleSpec::OneOf(items.iter().map(json_text).collect::<Result<_>>()?)
                }
                _ => RuleSpec::OneOf(vec![json_text(v)?]),
            },
            "greaterThan" => RuleSpec::GreaterThan(number(v)?),
            "greaterThanOrEquals" => RuleSpec::GreaterThanOrEquals(number(v)?),
            "lessThan" => RuleSpec::LessThan(number(v)?),
            "lessThanOrEquals" => RuleSpec::LessThanOrEquals(number(v)?),
            "equalsField" => RuleSpec::EqualsField(name(v, declared)?),
            "notEqualsField" => RuleSpec::NotEqualsField(name(v, declared)?),
            "greaterThanField" => RuleSpec::GreaterThanField(name(v, declared)?),
            "greaterThanOrEqualsField" => RuleSpec::GreaterThanOrEqualsField(name(v, declared)?),
            "lessThanField" => RuleSpec::LessThanField(name(v, declared)?),
            "lessThanOrEqualsField" => RuleSpec::LessThanOrEqualsField(name(v, declared)?),
            "format" => {
                let f = match &v.kind {
                    ValueKind::String(s) | ValueKind::Enum(s) => s.as_str(),
                    _ => {
                        return Err(CompileError::new(
                            v.pos,
                            "`format:` takes a format name, e.g. email",
                        ));
                    }
                };
                if !FORMATS.contains(&f) {
                    return Err(CompileError::new(
                        v.pos,
                        format!(
                            "unknown format `{f}`{}; formats: {}",
                            suggestion(f, FORMATS),
                            FORMATS.join(", ")
                        ),
                    ));
                }
                RuleSpec::Format(f.to_owned())
            }
            other => {
                return Err(CompileError::new(
                    a.name.pos,
                    format!(
                        "unknown validation rule `{other}`{}",
                        suggestion(other, RULES)
                    ),
                ));
            }
        };
        out.push(ConstraintSpec {
            variable: variable.clone(),
            rule,
        });
    }
    Ok(())
}

/// A variable named in a rule must be one the operation declares or uses: GraphJin
/// declares none, so only a declared list is checked against (operations without
/// declarations name any variable).
fn check_declared(name: &str, declared: &[&str], pos: crate::source::Pos) -> Result<()> {
    if declared.is_empty() || declared.contains(&name) {
        return Ok(());
    }
    Err(CompileError::new(
        pos,
        format!(
            "the operation declares no variable `${name}`{}",
            suggestion(name, declared.iter().copied())
        ),
    ))
}

fn name(v: &Value, declared: &[&str]) -> Result<String> {
    match &v.kind {
        ValueKind::String(s) | ValueKind::Enum(s) | ValueKind::Variable(s) => {
            check_declared(s, declared, v.pos)?;
            Ok(s.clone())
        }
        _ => Err(CompileError::new(
            v.pos,
            "expected the name of another variable",
        )),
    }
}

fn names(v: &Value, declared: &[&str]) -> Result<Vec<String>> {
    match &v.kind {
        ValueKind::List(items) => items.iter().map(|i| name(i, declared)).collect(),
        _ => Ok(vec![name(v, declared)?]),
    }
}

fn pairs(v: &Value, declared: &[&str]) -> Result<Vec<(String, String)>> {
    match &v.kind {
        ValueKind::Object(fields) if !fields.is_empty() => fields
            .iter()
            .map(|(k, val)| {
                check_declared(&k.value, declared, k.pos)?;
                Ok((k.value.clone(), json_text(val)?))
            })
            .collect(),
        _ => Err(CompileError::new(
            v.pos,
            "expected an object of variables and values, e.g. `{ id: 1 }`",
        )),
    }
}

fn number(v: &Value) -> Result<f64> {
    match &v.kind {
        ValueKind::Int(s) | ValueKind::Float(s) => s
            .parse()
            .map_err(|_| CompileError::new(v.pos, format!("`{s}` is not a number"))),
        _ => Err(CompileError::new(v.pos, "expected a number")),
    }
}

fn json_text(v: &Value) -> Result<String> {
    Ok(to_json(v)?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gql::parse_document;

    fn specs(src: &str) -> Result<Vec<ConstraintSpec>> {
        let doc = parse_document(src).expect("parses");
        constraints(&doc.operations[0])
    }

    #[test]
    fn graphjin_example() {
        let got = specs(
            r#"mutation
                @constraint(variable: "email", format: "email", min: 1, max: 100)
                @constraint(variable: "full_name", requiredIf: { id: 1007 } )
                @constraint(variable: "id", greaterThan:1006  )
                @constraint(variable: "id", lessThanOrEqualsField:id  ) {
                users(insert: { id: $id, email: $email, full_name: $full_name }) { id }
            }"#,
        )
        .unwrap();
        let rules: Vec<_> = got.iter().map(|c| (c.variable.as_str(), &c.rule)).collect();
        assert_eq!(
            rules,
            [
                ("email", &RuleSpec::Format("email".into())),
                ("email", &RuleSpec::Min(1.0)),
                ("email", &RuleSpec::Max(100.0)),
                (
                    "full_name",
                    &RuleSpec::RequiredIf(vec![("id".into(), "1007".into())])
                ),
                ("id", &RuleSpec::GreaterThan(1006.0)),
                ("id", &RuleSpec::LessThanOrEqualsField("id".into())),
            ]
        );
    }

    #[test]
    fn declared_non_null_variables() {
        let got = specs("query q($id: ID!, $n: Int! = 3, $s: String) { a { id } }").unwrap();
        assert_eq!(
            got,
            [ConstraintSpec {
                variable: "id".into(),
                rule: RuleSpec::NotNull
            }]
        );
    }

    #[test]
    fn refusals() {
        for (src, want) in [
            (
                "query q @cacheControll { a { id } }",
                "did you mean `cacheControl`",
            ),
            (
                "query q @constraint(variable: \"a\", formt: \"email\") { a { id } }",
                "did you mean `format`",
            ),
            (
                "query q @constraint(variable: \"a\", format: \"emial\") { a { id } }",
                "did you mean `email`",
            ),
            (
                "query q @constraint(format: \"email\") { a { id } }",
                "needs `variable:`",
            ),
            (
                "query q($email: String) @constraint(variable: \"emial\", required: true) { a { id } }",
                "did you mean `email`",
            ),
            (
                "query q @validate(variable: \"a\") { a { id } }",
                "has no rule",
            ),
        ] {
            let e = specs(src).unwrap_err().to_string();
            assert!(e.contains(want), "{src}: {e}");
        }
    }
}
