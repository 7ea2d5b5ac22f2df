//! The operation table, indexed: lookups by name, persisted-query hash and normalized text,
//! and per statement the parameter kinds binding needs. Built once at start-up, after
//! checking the table for mistakes that would otherwise surface on a request.

use std::collections::HashMap;

use crate::operation::{Batch, EnumType, OpKind, Operation, Param, RoleQuery};
use crate::pgtype::Kind;
use crate::signed_in::{self, Combined};
use crate::{Error, vars};

/// The builtin parameters the runtime fills from [`crate::Auth`].
pub(crate) const BUILTINS: [&str; 3] = ["user_id", "user_id_provider", "user_role"];

/// The indexed operation table.
#[derive(Debug)]
pub(crate) struct Catalog {
    pub(crate) operations: &'static [Operation],
    /// Index of each operation's first statement in the flattened statement list.
    offsets: Vec<usize>,
    /// Per flattened statement, its parameters' kinds.
    kinds: Vec<Box<[Kind]>>,
    by_name: HashMap<&'static str, usize>,
    by_lower_name: HashMap<String, usize>,
    by_hash: HashMap<String, usize>,
    by_query: HashMap<&'static str, usize>,
    /// How a signed-in user's role is found, when roles are configured.
    pub(crate) role_query: Option<&'static RoleQuery>,
    /// Per flattened statement, the subscription's batch statement (see [`Batch`]).
    batches: Vec<Option<&'static str>>,
    /// The enums the generated types use, checked when a connection opens.
    pub(crate) enums: &'static [EnumType],
    /// Per operation, its one-round-trip statement for signed-in callers (see
    /// `signed_in.rs`), when roles are matched with a roles query.
    signed_in: Vec<Option<Combined>>,
}

impl Catalog {
    /// Indexes and checks the table: builtin names, parameter defaults.
    pub(crate) fn new(operations: &'static [Operation]) -> Result<Catalog, Error> {
        let mut catalog = Catalog {
            operations,
            offsets: Vec::with_capacity(operations.len()),
            kinds: Vec::new(),
            by_name: HashMap::new(),
            by_lower_name: HashMap::new(),
            by_hash: HashMap::new(),
            by_query: HashMap::new(),
            role_query: None,
            batches: Vec::new(),
            enums: &[],
            signed_in: Vec::new(),
        };
        for (i, op) in operations.iter().enumerate() {
            catalog.offsets.push(catalog.kinds.len());
            for rs in op.roles {
                let kinds = rs
                    .params
                    .iter()
                    .map(|p| check_param(op, rs.role, p))
                    .collect::<Result<Box<[Kind]>, Error>>()?;
                catalog.kinds.push(kinds);
            }
            catalog.by_name.entry(op.name).or_insert(i);
            catalog
                .by_lower_name
                .entry(op.name.to_lowercase())
                .or_insert(i);
            catalog
                .by_hash
                .entry(op.sha256.to_ascii_lowercase())
                .or_insert(i);
            catalog.by_query.entry(op.query).or_insert(i);
        }
        Ok(catalog)
    }

    /// Attaches the subscriptions' batch statements; each must name a subscription of the
    /// table and one of its roles, once.
    pub(crate) fn set_batches(&mut self, batches: &'static [Batch]) -> Result<(), Error> {
        let mut by_statement = vec![None; self.kinds.len()];
        for b in batches {
            let invalid = |problem: &str| Error::InvalidOperation {
                operation: b.operation.to_owned(),
                role: b.role.to_owned(),
                problem: problem.to_owned(),
            };
            let op =
                self.by_name.get(b.operation).copied().ok_or_else(|| {
                    invalid("a batch statement names an operation not in the table")
                })?;
            if self.operations[op].kind != OpKind::Subscription {
                return Err(invalid("a batch statement is for subscriptions only"));
            }
            let role = self.operations[op]
                .roles
                .iter()
                .position(|rs| rs.role == b.role)
                .ok_or_else(|| invalid("a batch statement names a role the operation lacks"))?;
            let slot: &mut Option<&'static str> = &mut by_statement[self.offsets[op] + role];
            if slot.replace(b.sql).is_some() {
                return Err(invalid("the batch statement is listed twice"));
            }
        }
        self.batches = by_statement;
        Ok(())
    }

    /// Sets how a signed-in user's role is found, with each query's one-round-trip
    /// statement; each must name a query of the table and fit its roles.
    pub(crate) fn set_role_query(
        &mut self,
        role_query: Option<&'static RoleQuery>,
    ) -> Result<(), Error> {
        self.role_query = role_query;
        self.signed_in = vec![None; self.operations.len()];
        for s in role_query.map_or(&[][..], |rq| rq.statements) {
            let invalid = |problem: String| Error::InvalidOperation {
                operation: s.operation.to_owned(),
                role: "user".to_owned(),
                problem,
            };
            let op = self
                .by_name
                .get(s.operation)
                .copied()
                .filter(|&op| self.operations[op].kind == OpKind::Query)
                .ok_or_else(|| {
                    invalid("a signed-in statement names no query of the table".to_owned())
                })?;
            let combined = signed_in::index(s, &self.operations[op]).map_err(invalid)?;
            if self.signed_in[op].replace(combined).is_some() {
                return Err(invalid(
                    "the signed-in statement is listed twice".to_owned(),
                ));
            }
        }
        Ok(())
    }

    /// Operation `op`'s one-round-trip statement for signed-in callers, if it has one.
    pub(crate) fn signed_in(&self, op: usize) -> Option<&Combined> {
        self.signed_in.get(op)?.as_ref()
    }

    /// The batch statement of a flattened statement, if it has one.
    pub(crate) fn batch_sql(&self, statement: usize) -> Option<&'static str> {
        self.batches.get(statement).copied().flatten()
    }

    /// How many statements there are in all.
    pub(crate) fn statement_count(&self) -> usize {
        self.kinds.len()
    }

    /// The flattened index of operation `op`'s statement number `role`.
    pub(crate) fn statement_index(&self, op: usize, role: usize) -> usize {
        self.offsets[op] + role
    }

    /// The parameter kinds of a flattened statement.
    pub(crate) fn kinds(&self, statement: usize) -> &[Kind] {
        &self.kinds[statement]
    }

    /// The index of `op` in the table: found by address when `op` is an entry of the
    /// table (the generated code's case, no hashing), else by name and content.
    pub(crate) fn index_of(&self, op: &Operation) -> Option<usize> {
        let size = std::mem::size_of::<Operation>();
        let base = self.operations.as_ptr() as usize;
        let addr = op as *const Operation as usize;
        if size > 0 && addr >= base {
            let i = (addr - base) / size;
            if self.operations.get(i).is_some_and(|o| std::ptr::eq(o, op)) {
                return Some(i);
            }
        }
        let i = *self.by_name.get(op.name)?;
        (self.operations[i] == *op).then_some(i)
    }

    /// The operation called `name`: the exact name first, else ignoring case.
    pub(crate) fn by_name(&self, name: &str) -> Option<usize> {
        self.by_name
            .get(name)
            .or_else(|| self.by_lower_name.get(&name.to_lowercase()))
            .copied()
    }

    /// The operation whose normalized text hashes to `sha256` (hex, any case).
    pub(crate) fn by_hash(&self, sha256: &str) -> Option<usize> {
        self.by_hash.get(&sha256.to_ascii_lowercase()).copied()
    }

    /// The operation whose normalized text is `normalized`.
    pub(crate) fn by_query(&self, normalized: &str) -> Option<usize> {
        self.by_query.get(normalized).copied()
    }
}

fn check_param(op: &Operation, role: &str, p: &Param) -> Result<Kind, Error> {
    let invalid = |problem: String| Error::InvalidOperation {
        operation: op.name.to_owned(),
        role: role.to_owned(),
        problem,
    };
    if p.builtin && !BUILTINS.contains(&p.name) {
        return Err(invalid(format!(
            "\"{}\" is marked builtin, but the runtime only fills {}",
            p.name,
            BUILTINS.join(", ")
        )));
    }
    let kind = Kind::of(p.pg_type);
    if let Some(default) = p.default {
        vars::check_default(p.name, &kind, default).map_err(invalid)?;
    }
    Ok(kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operation::{OpKind, RoleStatement};

    static OPS: &[Operation] = &[
        Operation {
            name: "getThings",
            kind: OpKind::Query,
            query: "query getThings { things { id } }",
            sha256: "ABC",
            roles: &[
                RoleStatement {
                    role: "anon",
                    sql: "SELECT 1",
                    params: &[],
                },
                RoleStatement {
                    role: "user",
                    sql: "SELECT 2",
                    params: &[Param {
                        name: "user_id",
                        pg_type: "bigint",
                        builtin: true,
                        default: None,
                    }],
                },
            ],
            constraints: &[],
        },
        Operation {
            name: "other",
            kind: OpKind::Mutation,
            query: "mutation other { x }",
            sha256: "def",
            roles: &[],
            constraints: &[],
        },
    ];

    #[test]
    fn lookups() {
        let c = Catalog::new(OPS).unwrap();
        assert_eq!(c.by_name("getThings"), Some(0));
        assert_eq!(c.by_name("GETTHINGS"), Some(0));
        assert_eq!(c.by_name("nope"), None);
        assert_eq!(c.by_hash("abc"), Some(0));
        assert_eq!(c.by_query("mutation other { x }"), Some(1));
        assert_eq!(c.index_of(&OPS[1]), Some(1));
        let copy = OPS[0];
        assert_eq!(c.index_of(&copy), Some(0));
        let mut changed = OPS[0];
        changed.query = "query getThings { other }";
        assert_eq!(c.index_of(&changed), None);
        assert_eq!(c.statement_count(), 2);
        assert_eq!(c.statement_index(0, 1), 1);
        assert_eq!(c.kinds(1).len(), 1);
    }

    #[test]
    fn batches_must_name_a_subscription_and_role() {
        static SUBS: &[Operation] = &[
            Operation {
                name: "watch",
                kind: OpKind::Subscription,
                query: "subscription watch { x }",
                sha256: "",
                roles: &[
                    RoleStatement {
                        role: "anon",
                        sql: "SELECT 1",
                        params: &[],
                    },
                    RoleStatement {
                        role: "user",
                        sql: "SELECT 2",
                        params: &[],
                    },
                ],
                constraints: &[],
            },
            Operation {
                name: "read",
                kind: OpKind::Query,
                query: "query read { x }",
                sha256: "",
                roles: &[],
                constraints: &[],
            },
        ];
        let batch = |operation, role| Batch {
            operation,
            role,
            sql: "SELECT",
        };
        let mut c = Catalog::new(SUBS).unwrap();
        let ok: &'static [Batch] = Box::leak(Box::new([batch("watch", "user")]));
        c.set_batches(ok).unwrap();
        assert_eq!(c.batch_sql(0), None);
        assert_eq!(c.batch_sql(1), Some("SELECT"));
        for (bad, why) in [
            (batch("nope", "user"), "not in the table"),
            (batch("read", "anon"), "subscriptions only"),
            (batch("watch", "admin"), "role the operation lacks"),
        ] {
            let list: &'static [Batch] = Box::leak(Box::new([bad]));
            let e = c.set_batches(list).unwrap_err().to_string();
            assert!(e.contains(why), "{e}");
        }
        let twice: &'static [Batch] =
            Box::leak(Box::new([batch("watch", "anon"), batch("watch", "anon")]));
        assert!(
            c.set_batches(twice)
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
    }

    #[test]
    fn rejects_bad_tables() {
        static BAD: &[Operation] = &[Operation {
            name: "op",
            kind: OpKind::Query,
            query: "",
            sha256: "",
            roles: &[RoleStatement {
                role: "anon",
                sql: "",
                params: &[Param {
                    name: "limit",
                    pg_type: "integer",
                    builtin: false,
                    default: Some("\"ten\""),
                }],
            }],
            constraints: &[],
        }];
        let e = Catalog::new(BAD).unwrap_err().to_string();
        assert_eq!(
            e,
            "operation \"op\", role \"anon\": the default of variable \"limit\" must be an integer (integer), got a string"
        );
    }
}
