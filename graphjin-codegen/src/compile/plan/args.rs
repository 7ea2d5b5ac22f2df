//! A table field's arguments as written, in every spelling GraphJin accepts, and the
//! aggregates a field name or call stands for.

use crate::compile::catalog::FunctionInfo;
use crate::compile::error::{CompileError, Result};
use crate::compile::names::suggestion;
use crate::compile::paging::PagingArgs;
use crate::gql::ast::{Argument, Field, Value, ValueKind};

/// The arguments a table field accepts.
#[derive(Default)]
pub(in crate::compile) struct SelArgs<'f> {
    pub id: Option<&'f Value>,
    pub where_: Option<&'f Value>,
    pub order_by: Option<&'f Value>,
    pub limit: Option<&'f Value>,
    pub offset: Option<&'f Value>,
    pub distinct: Option<&'f Value>,
    pub find: Option<&'f Value>,
    pub args: Option<&'f Value>,
    pub search: Option<&'f Value>,
    pub mutation: Option<&'f Value>,
    /// `includeIf:` / `skipIf:` (a filter deciding whether the field shows).
    pub include_if: Option<&'f Value>,
    pub skip_if: Option<&'f Value>,
    /// A function's arguments written on the field itself (`fn(limit: 2, tag: $tag)`).
    pub direct: Vec<&'f Argument>,
    /// `first` / `last` / `after` / `before`: cursor pagination.
    pub paging: PagingArgs<'f>,
}

/// A table field's arguments, in every spelling GraphJin's `qcode/args.go` accepts.
const TABLE_ARGS: [&str; 21] = [
    "id",
    "where",
    "order_by",
    "orderBy",
    "order",
    "limit",
    "first",
    "last",
    "after",
    "before",
    "offset",
    "distinct",
    "distinct_on",
    "distinctOn",
    "find",
    "args",
    "search",
    "includeIf",
    "include_if",
    "skipIf",
    "skip_if",
];

pub(in crate::compile) fn sel_args(args: &[Argument]) -> Result<SelArgs<'_>> {
    sel_args_of(args, None, false)
}

/// The arguments of a field; for a function's field, an argument named like one of its
/// inputs (or `a0`, `a1`...) is that input, as GraphJin's named arguments. A scalar
/// function of a row takes no table arguments, so there `id: id` is its input `id`.
pub(in crate::compile) fn sel_args_of<'f>(
    args: &'f [Argument],
    func: Option<&FunctionInfo>,
    scalar: bool,
) -> Result<SelArgs<'f>> {
    let mut a = SelArgs::default();
    for arg in args {
        if let Some(func) = func
            && (scalar || !TABLE_ARGS.contains(&arg.name.value.as_str()))
            && func.input_index(&arg.name.value).is_some()
        {
            a.direct.push(arg);
            continue;
        }
        let name = arg.name.value.as_str();
        if matches!(name, "first" | "last" | "after" | "before") {
            if a.paging.pos.is_none() {
                a.paging.pos = Some(arg.name.pos);
            }
            a.paging.paged = true;
        }
        if name == "last" {
            if args.iter().any(|o| o.name.value == "first") {
                return Err(CompileError::new(
                    arg.name.pos,
                    "give `first` or `last`, not both",
                ));
            }
            a.paging.last = true;
        }
        let slot = match name {
            "id" => &mut a.id,
            "where" => &mut a.where_,
            "order_by" | "orderBy" | "order" => &mut a.order_by,
            "limit" | "first" | "last" => &mut a.limit,
            "after" | "before" => &mut a.paging.cursor,
            "offset" => &mut a.offset,
            "distinct" | "distinct_on" | "distinctOn" => &mut a.distinct,
            "find" => &mut a.find,
            "args" => &mut a.args,
            "search" => &mut a.search,
            "includeIf" | "include_if" => &mut a.include_if,
            "skipIf" | "skip_if" => &mut a.skip_if,
            "insert" | "update" | "upsert" | "delete" => &mut a.mutation,
            other => {
                let inputs = func
                    .map(|f| f.inputs.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>())
                    .unwrap_or_default();
                return Err(CompileError::new(
                    arg.name.pos,
                    format!(
                        "unknown argument `{other}`{}",
                        suggestion(other, TABLE_ARGS.iter().copied().chain(inputs))
                    ),
                ));
            }
        };
        if slot.is_some() {
            return Err(CompileError::new(
                arg.name.pos,
                format!("argument `{}` is given twice", arg.name.value),
            ));
        }
        *slot = Some(&arg.value);
    }
    Ok(a)
}

/// An aggregate written as a function of a column, as GraphJin's cheatsheet does:
/// `min(args: [price])` is `min_price`.
pub(in crate::compile) fn aggregate_call<'f>(
    f: &'f Field,
    name: &str,
) -> Result<Option<(&'static str, &'f str)>> {
    const FUNCS: [&str; 11] = [
        "count",
        "sum",
        "avg",
        "min",
        "max",
        "stddev",
        "stddev_pop",
        "stddev_samp",
        "variance",
        "var_pop",
        "var_samp",
    ];
    let Some(func) = FUNCS.iter().find(|f| **f == name) else {
        return Ok(None);
    };
    let Some(args) = f.arguments.iter().find(|a| a.name.value == "args") else {
        return Ok(None);
    };
    let column = match &args.value.kind {
        ValueKind::List(items) if items.len() == 1 => &items[0],
        ValueKind::Object(fields) if fields.len() == 1 => &fields[0].1,
        _ => {
            return Err(CompileError::new(
                args.value.pos,
                format!("`{name}` takes one column: `{name}(args: [price])`"),
            ));
        }
    };
    match &column.kind {
        ValueKind::Enum(c) | ValueKind::String(c) => Ok(Some((func, c.as_str()))),
        _ => Err(CompileError::new(
            column.pos,
            format!("`{name}` takes a column name: `{name}(args: [price])`"),
        )),
    }
}

pub(in crate::compile) fn aggregate(name: &str) -> Option<(&'static str, &str)> {
    for (prefix, func) in [
        ("count_", "count"),
        ("sum_", "sum"),
        ("avg_", "avg"),
        ("min_", "min"),
        ("max_", "max"),
        // Longest prefix first: `stddev_pop_price` is stddev_pop of `price`.
        ("stddev_pop_", "stddev_pop"),
        ("stddev_samp_", "stddev_samp"),
        ("stddev_", "stddev"),
        ("var_pop_", "var_pop"),
        ("var_samp_", "var_samp"),
        ("variance_", "variance"),
    ] {
        if let Some(col) = name.strip_prefix(prefix) {
            return Some((func, col));
        }
    }
    None
}

/// Whether an argument name is one of the field filters `includeIf` / `skipIf`.
pub(in crate::compile) fn is_field_condition(name: &str) -> bool {
    matches!(name, "includeIf" | "include_if" | "skipIf" | "skip_if")
}

/// `find: "parents" | "children"` on a self-referencing field.
pub(in crate::compile) fn find_arg(f: &Field) -> Result<Option<super::super::relation::Find>> {
    use super::super::relation::Find;
    let Some(arg) = f.arguments.iter().find(|a| a.name.value == "find") else {
        return Ok(None);
    };
    match &arg.value.kind {
        ValueKind::String(s) | ValueKind::Enum(s) => match s.as_str() {
            "parents" | "parent" => Ok(Some(Find::Parents)),
            "children" | "child" => Ok(Some(Find::Children)),
            _ => Err(CompileError::new(
                arg.value.pos,
                format!("`find` must be \"parents\" or \"children\", found \"{s}\""),
            )),
        },
        _ => Err(CompileError::new(
            arg.value.pos,
            "`find` must be \"parents\" or \"children\"",
        )),
    }
}

/// Whether any paging argument is written on `f`.
pub(in crate::compile) fn has_paging(f: &Field) -> bool {
    f.arguments
        .iter()
        .any(|a| matches!(a.name.value.as_str(), "first" | "last" | "after" | "before"))
}
