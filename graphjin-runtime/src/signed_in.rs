//! One round trip for a signed-in caller: each query's statement that finds the role and
//! runs that role's branch, made at build time (the build's `compile/signed_in.rs`) and
//! indexed here by the positions of its roles in the operation.

use crate::operation::{Operation, SignedIn};

/// A combined statement, its branches' roles as positions in the operation's roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Combined {
    /// Its SQL.
    pub(crate) sql: &'static str,
    /// Its branches, in parameter order.
    pub(crate) branches: Vec<Branch>,
    /// How many parameters it takes, the user id included.
    pub(crate) params: usize,
}

/// One role's branch of a combined statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Branch {
    /// The position, in the operation's roles, of the role whose statement the branch
    /// runs (the first of the roles sharing it); its binding is the branch's parameters.
    pub(crate) role: usize,
    /// How far the branch's parameters moved: its `$k` is the statement's `$(k + first)`,
    /// so its parameters are the statement's `first..first + n` (counting from 0).
    pub(crate) first: usize,
}

/// `statement` indexed for `op`, or what is wrong with it: a branch naming a role the
/// operation lacks, or parameters that do not add up.
pub(crate) fn index(statement: &SignedIn, op: &Operation) -> Result<Combined, String> {
    let mut branches = Vec::with_capacity(statement.branches.len());
    let mut next = 1;
    for b in statement.branches {
        let role = op
            .roles
            .iter()
            .position(|rs| rs.role == b.role)
            .ok_or_else(|| {
                format!(
                    "a signed-in branch names role `{}`, which the operation lacks",
                    b.role
                )
            })?;
        if b.first != next {
            return Err(format!(
                "the signed-in branch of role `{}` starts at parameter {} where {next} is next",
                b.role,
                b.first + 1
            ));
        }
        next += op.roles[role].params.len();
        branches.push(Branch {
            role,
            first: b.first,
        });
    }
    if next != statement.params {
        return Err(format!(
            "the signed-in statement takes {} parameters, its branches {next}",
            statement.params
        ));
    }
    Ok(Combined {
        sql: statement.sql,
        branches,
        params: statement.params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operation::{OpKind, Param, RoleStatement, SignedInBranch};

    static USER_PARAMS: &[Param] = &[Param {
        name: "user_id",
        pg_type: "bigint",
        builtin: true,
        default: None,
    }];

    static ROLES: &[RoleStatement] = &[
        RoleStatement {
            role: "anon",
            sql: "SELECT 0",
            params: &[],
        },
        RoleStatement {
            role: "user",
            sql: "SELECT $1",
            params: USER_PARAMS,
        },
    ];

    static OP: Operation = Operation {
        name: "getThing",
        kind: OpKind::Query,
        query: "",
        sha256: "",
        roles: ROLES,
        constraints: &[],
    };

    #[test]
    fn branches_are_found_by_role_name() {
        let s = SignedIn {
            operation: "getThing",
            sql: "SELECT ...",
            branches: &[
                SignedInBranch {
                    role: "anon",
                    first: 1,
                },
                SignedInBranch {
                    role: "user",
                    first: 1,
                },
            ],
            params: 2,
        };
        let c = index(&s, &OP).expect("fits");
        assert_eq!(
            c.branches,
            [Branch { role: 0, first: 1 }, Branch { role: 1, first: 1 }]
        );
        assert_eq!(c.params, 2);
    }

    #[test]
    fn a_statement_that_does_not_fit_the_operation_is_refused() {
        let unknown = SignedIn {
            operation: "getThing",
            sql: "",
            branches: &[SignedInBranch {
                role: "admin",
                first: 1,
            }],
            params: 1,
        };
        assert!(index(&unknown, &OP).unwrap_err().contains("`admin`"));
        let miscounted = SignedIn {
            operation: "getThing",
            sql: "",
            branches: &[SignedInBranch {
                role: "user",
                first: 1,
            }],
            params: 3,
        };
        assert!(
            index(&miscounted, &OP)
                .unwrap_err()
                .contains("3 parameters")
        );
    }
}
