//! The JSON shape of an operation's `data`, which the plan gives (`plan/shape.rs`) and
//! from which the build generates typed Rust structs.

/// The shape of one JSON value in a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// A scalar of a PostgreSQL type (`bigint`, `text[]`, `numeric`, `jsonb`...).
    Scalar {
        /// The type as PostgreSQL names it in casts.
        pg_type: String,
        /// May be `null`.
        nullable: bool,
        /// The column it is read from (`table.column`), for per-column Rust types.
        column: Option<String>,
    },
    /// An object, or a list of objects.
    Object {
        /// Fields by response key, in selection order.
        fields: Vec<(String, Shape)>,
        /// A JSON array of such objects.
        list: bool,
        /// May be `null`.
        nullable: bool,
    },
    /// Anything (a union of tables, or shapes that differ between roles).
    Any,
}

impl Shape {
    /// A scalar shape.
    pub fn scalar(pg_type: impl Into<String>, nullable: bool) -> Shape {
        Shape::Scalar {
            pg_type: pg_type.into(),
            nullable,
            column: None,
        }
    }

    /// A scalar read from column `origin` (`table.column`).
    pub fn column(pg_type: impl Into<String>, nullable: bool, origin: impl Into<String>) -> Shape {
        Shape::Scalar {
            pg_type: pg_type.into(),
            nullable,
            column: Some(origin.into()),
        }
    }

    /// The same shape, allowed to be `null`.
    pub fn nullable(self) -> Shape {
        match self {
            Shape::Scalar {
                pg_type, column, ..
            } => Shape::Scalar {
                pg_type,
                nullable: true,
                column,
            },
            Shape::Object { fields, list, .. } => Shape::Object {
                fields,
                list,
                nullable: true,
            },
            Shape::Any => Shape::Any,
        }
    }

    /// Whether `null` is possible.
    pub fn is_nullable(&self) -> bool {
        match self {
            Shape::Scalar { nullable, .. } | Shape::Object { nullable, .. } => *nullable,
            Shape::Any => true,
        }
    }

    /// One shape that fits the values of both (roles may see different fields): a field
    /// missing on one side becomes nullable, a conflict becomes [`Shape::Any`].
    pub fn merge(&self, other: &Shape) -> Shape {
        match (self, other) {
            (
                Shape::Scalar {
                    pg_type: a,
                    nullable: na,
                    column: ca,
                },
                Shape::Scalar {
                    pg_type: b,
                    nullable: nb,
                    column: cb,
                },
            ) if a == b => Shape::Scalar {
                pg_type: a.clone(),
                nullable: *na || *nb,
                column: if ca == cb { ca.clone() } else { None },
            },
            (
                Shape::Object {
                    fields: fa,
                    list: la,
                    nullable: na,
                },
                Shape::Object {
                    fields: fb,
                    list: lb,
                    nullable: nb,
                },
            ) if la == lb => {
                let mut fields: Vec<(String, Shape)> = Vec::with_capacity(fa.len().max(fb.len()));
                for (k, s) in fa {
                    match fb.iter().find(|(kb, _)| kb == k) {
                        Some((_, sb)) => fields.push((k.clone(), s.merge(sb))),
                        None => fields.push((k.clone(), s.clone().nullable())),
                    }
                }
                for (k, s) in fb {
                    if !fa.iter().any(|(ka, _)| ka == k) {
                        fields.push((k.clone(), s.clone().nullable()));
                    }
                }
                Shape::Object {
                    fields,
                    list: *la,
                    nullable: *na || *nb,
                }
            }
            _ => Shape::Any,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_roles_makes_missing_fields_nullable() {
        let a = Shape::Object {
            fields: vec![("id".into(), Shape::scalar("bigint", false))],
            list: true,
            nullable: false,
        };
        let b = Shape::Object {
            fields: vec![
                ("id".into(), Shape::scalar("bigint", false)),
                ("name".into(), Shape::scalar("text", false)),
            ],
            list: true,
            nullable: false,
        };
        let m = a.merge(&b);
        let Shape::Object { fields, .. } = m else {
            panic!("object expected")
        };
        assert_eq!(fields[0].1, Shape::scalar("bigint", false));
        assert_eq!(fields[1].1, Shape::scalar("text", true));
        assert_eq!(
            Shape::scalar("text", false).merge(&Shape::scalar("bigint", false)),
            Shape::Any
        );
    }
}
