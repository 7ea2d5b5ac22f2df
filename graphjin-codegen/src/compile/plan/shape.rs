//! The response shape of a plan: the JSON each field returns, which the emitter types.

use super::{Kind, Planned, TablePlan};
use crate::compile::catalog::{ColumnInfo, TableInfo};
use crate::compile::shape::Shape;

/// The shape of a selection's JSON object: each field, and the `<key>_cursor` every
/// cursor-paged table field brings with it. `table` is the selection's table (none at
/// the top level).
pub(in crate::compile) fn selection_shape(
    fields: &[Planned<'_>],
    table: Option<&TableInfo>,
) -> Vec<(String, Shape)> {
    let mut out = Vec::with_capacity(fields.len());
    for p in fields {
        out.push((p.key.clone(), p.shape(table)));
        if matches!(&p.kind, Kind::Table(t) if t.paged()) {
            out.push((format!("{}_cursor", p.key), Shape::scalar("text", true)));
        }
    }
    out
}

impl Planned<'_> {
    /// The field's shape in a row of `table` (none at the top level).
    pub fn shape(&self, table: Option<&TableInfo>) -> Shape {
        let shape = match &self.kind {
            Kind::Typename(_) => Shape::scalar("text", false),
            Kind::Column { col, cond } => {
                let origin = table.map(|t| t.origin(&col.name));
                let shape =
                    Shape::column(col.cast_type(), col.nullable, origin.unwrap_or_default());
                if cond.include_if.is_some() || cond.skip_if.is_some() {
                    shape.nullable()
                } else {
                    shape
                }
            }
            Kind::SearchRank => Shape::scalar("real", true),
            Kind::SearchHeadline(_) => Shape::scalar("text", true),
            Kind::Aggregate { func, col } => aggregate_shape(func, col),
            Kind::Function { func, cond, .. } => {
                let shape = Shape::scalar(func.return_type.clone(), true);
                if cond.include_if.is_some() || cond.skip_if.is_some() {
                    shape.nullable()
                } else {
                    shape
                }
            }
            Kind::Union { .. } => Shape::Any,
            Kind::Table(t) => t.shape(),
        };
        if self.dirs.show.is_empty() {
            shape
        } else {
            shape.nullable()
        }
    }
}

impl TablePlan<'_> {
    /// The table field's shape: a list of objects, or one object (`null` when no row is
    /// found, unless a NOT NULL foreign key always finds it); a field the role reads as
    /// `null` is nullable.
    pub fn shape(&self) -> Shape {
        let fields = selection_shape(&self.fields, Some(&self.table));
        let shape = Shape::Object {
            fields,
            list: !self.one,
            nullable: self.one,
        };
        match shape {
            shape if self.refused.is_some() => shape.nullable(),
            Shape::Object {
                fields,
                list: false,
                ..
            } if self.required => Shape::Object {
                fields,
                list: false,
                nullable: false,
            },
            shape => shape,
        }
    }
}

/// The JSON type an aggregate returns, as PostgreSQL computes it.
fn aggregate_shape(func: &str, col: &ColumnInfo) -> Shape {
    let t = col.pg_type.as_str();
    let float = matches!(t, "real" | "double precision");
    match func {
        "count" => Shape::scalar("bigint", false),
        "min" | "max" => Shape::scalar(col.cast_type(), true),
        "sum" if matches!(t, "integer" | "smallint") => Shape::scalar("bigint", true),
        "sum" | "avg" | "stddev" | "stddev_pop" | "stddev_samp" | "variance" | "var_pop"
        | "var_samp"
            if float =>
        {
            Shape::scalar("double precision", true)
        }
        _ => Shape::scalar("numeric", true),
    }
}

#[cfg(test)]
mod tests {
    use super::selection_shape;
    use crate::compile::shape::Shape;
    use crate::tools::test_project;

    fn object(shape: &Shape) -> (&[(String, Shape)], bool, bool) {
        match shape {
            Shape::Object {
                fields,
                list,
                nullable,
            } => (fields, *list, *nullable),
            other => panic!("an object: {other:?}"),
        }
    }

    /// The plan alone gives the response's shape: a list, a paged field's cursor, a NOT
    /// NULL foreign key's object that is always there, a nullable column, and a table the
    /// role reads as `null`.
    #[test]
    fn the_response_shape_is_the_plans() {
        let config = "roles:\n  - name: user\n    tables:\n      - name: payments\n        query:\n          block: true\n";
        let project = test_project("query q { orders { id } }\n", config);
        let text =
            "query q { orders(first: 2) { id note customer { email } } payments { amount } }";
        project.with_planned_query(text, "user", |planned| {
            let fields = selection_shape(planned, None);
            let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(keys, ["orders", "orders_cursor", "payments"]);
            let (orders, list, nullable) = object(&fields[0].1);
            assert!(list && !nullable);
            assert!(matches!(
                &orders[0].1,
                Shape::Scalar {
                    nullable: false,
                    ..
                }
            ));
            assert!(matches!(&orders[1].1, Shape::Scalar { nullable: true, .. }));
            let (_, list, nullable) = object(&orders[2].1);
            assert!(
                !list && !nullable,
                "a NOT NULL foreign key's row is always there"
            );
            assert_eq!(fields[1].1, Shape::scalar("text", true));
            assert!(object(&fields[2].1).2, "a blocked table reads as null");
        });
    }
}
