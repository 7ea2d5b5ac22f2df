//! An operation's response as callers see it: the compiled shape merged over all roles,
//! with, for each object key, whether every role's response carries it. A key that only
//! some roles select is absent (not `null`) from the others' responses, which is why the
//! generated Rust reads every nullable field with `#[serde(default)]`; the OpenAPI document
//! leaves such keys out of `required` and the TypeScript types mark them optional.

use crate::compile::Shape;
use crate::project::CompiledOperation;

/// One value of the response.
#[derive(Debug, Clone, PartialEq)]
pub enum Node<'a> {
    /// A scalar of PostgreSQL type `pg_type`.
    Scalar {
        /// The type.
        pg_type: &'a str,
        /// May be `null`.
        nullable: bool,
    },
    /// An object, or a list of objects.
    Object {
        /// The keys in selection order.
        fields: Vec<Member<'a>>,
        /// A JSON array of such objects.
        list: bool,
        /// May be `null`.
        nullable: bool,
    },
    /// Anything.
    Any,
}

/// One key of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Member<'a> {
    /// The response key.
    pub key: &'a str,
    /// Its value.
    pub node: Node<'a>,
    /// Every role's response has the key.
    pub always: bool,
}

/// The `data` of `op`'s responses.
pub fn response(op: &CompiledOperation) -> Node<'_> {
    let roles: Vec<&Shape> = op.roles.iter().map(|(_, q)| &q.shape).collect();
    node(&op.shape, &roles)
}

fn node<'a>(merged: &'a Shape, roles: &[&'a Shape]) -> Node<'a> {
    match merged {
        Shape::Scalar {
            pg_type, nullable, ..
        } => Node::Scalar {
            pg_type,
            nullable: *nullable,
        },
        Shape::Any => Node::Any,
        Shape::Object {
            fields,
            list,
            nullable,
        } => {
            let objects: Vec<&Vec<(String, Shape)>> = roles
                .iter()
                .filter_map(|r| match r {
                    Shape::Object { fields, .. } => Some(fields),
                    _ => None,
                })
                .collect();
            let fields = fields
                .iter()
                .map(|(key, sub)| {
                    let found: Vec<Option<&Shape>> = objects
                        .iter()
                        .map(|f| f.iter().find(|(k, _)| k == key).map(|(_, s)| s))
                        .collect();
                    let always = found.iter().all(Option::is_some);
                    let subs: Vec<&Shape> = found.into_iter().flatten().collect();
                    Member {
                        key,
                        node: node(sub, &subs),
                        always,
                    }
                })
                .collect();
            Node::Object {
                fields,
                list: *list,
                nullable: *nullable,
            }
        }
    }
}

/// PascalCase from a GraphQL name (`getProduct` -> `GetProduct`, `top_reviews` ->
/// `TopReviews`).
pub fn pascal(name: &str) -> String {
    let mut s = String::new();
    for word in crate::compile::names::camel_to_snake(name).split(|c: char| !c.is_alphanumeric()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            s.extend(first.to_uppercase());
            s.push_str(chars.as_str());
        }
    }
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, 'T');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_only_some_roles_select_are_optional() {
        let p = crate::tools::test_project(
            "query a {\n  customers {\n    id\n    email @remove(ifRole: \"anon\")\n  }\n}\n",
            "",
        );
        let ops = p.compile().expect("compiles");
        let Node::Object { fields, .. } = response(&ops[0]) else {
            panic!("object")
        };
        assert!(fields[0].always);
        let Node::Object { fields, list, .. } = &fields[0].node else {
            panic!("object")
        };
        assert!(*list);
        assert_eq!(
            fields.iter().map(|m| (m.key, m.always)).collect::<Vec<_>>(),
            [("id", true), ("email", false)]
        );
        assert_eq!(pascal("getProduct"), "GetProduct");
        assert_eq!(pascal("top_reviews"), "TopReviews");
    }
}
