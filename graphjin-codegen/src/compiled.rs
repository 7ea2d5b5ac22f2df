//! [`Compiled`]: the one result of compiling a project, which the build's emitter, the
//! development server, the `graphjin` CLI and the tools all take.

use std::ops::Deref;

use crate::CompiledOperation;
use crate::compile::{Catalog, Compiler};
use crate::runtime_table::{RoleQueryEntry, RuntimeTable};

/// Every allow-listed operation compiled for every role, with what the runtime needs
/// besides (the role statement) and the schema as the compiler saw it (for introspection
/// and the tools). Derefs to the operations, in allow.list order.
#[derive(Debug, Clone)]
pub struct Compiled {
    operations: Vec<CompiledOperation>,
    role_query: Option<RoleQueryEntry>,
    compiler: Compiler,
}

impl Compiled {
    pub(crate) fn new(operations: Vec<CompiledOperation>, compiler: Compiler) -> Self {
        Compiled {
            role_query: RoleQueryEntry::of(&compiler),
            operations,
            compiler,
        }
    }

    /// The operations, in allow.list order.
    pub fn operations(&self) -> &[CompiledOperation] {
        &self.operations
    }

    /// The operations, owned.
    pub fn into_operations(self) -> Vec<CompiledOperation> {
        self.operations
    }

    /// The statement that finds a signed-in user's role and the roles it can answer, when
    /// the config matches roles with `roles_query`.
    pub fn role_query(&self) -> Option<&RoleQueryEntry> {
        self.role_query.as_ref()
    }

    /// The runtime's table for these operations: what the build emits and the
    /// development server serves.
    pub fn runtime_table(&self) -> RuntimeTable {
        RuntimeTable::new(&self.operations, self.role_query.clone())
    }

    /// These operations with `extra` ones added, each replacing an operation of the same
    /// name (the development server's request-compiled operations).
    pub fn with(&self, extra: &[CompiledOperation]) -> Compiled {
        let mut operations: Vec<CompiledOperation> = self
            .operations
            .iter()
            .filter(|o| !extra.iter().any(|e| e.name.eq_ignore_ascii_case(&o.name)))
            .cloned()
            .collect();
        operations.extend(extra.iter().cloned());
        Compiled {
            operations,
            role_query: self.role_query.clone(),
            compiler: self.compiler.clone(),
        }
    }

    /// The roles every operation was compiled for: `anon`, `user`, then configured roles.
    pub fn roles(&self) -> Vec<String> {
        self.compiler.roles()
    }

    /// The schema snapshot and the config merged, as the compiler read them.
    pub fn catalog(&self) -> &Catalog {
        self.compiler.catalog()
    }

    /// The compiler itself, for the tools in this crate that read role rules.
    pub(crate) fn compiler(&self) -> &Compiler {
        &self.compiler
    }
}

impl Deref for Compiled {
    type Target = [CompiledOperation];

    fn deref(&self) -> &[CompiledOperation] {
        &self.operations
    }
}

impl<'a> IntoIterator for &'a Compiled {
    type Item = &'a CompiledOperation;
    type IntoIter = std::slice::Iter<'a, CompiledOperation>;

    fn into_iter(self) -> Self::IntoIter {
        self.operations.iter()
    }
}

#[cfg(test)]
mod tests {
    use crate::One;
    use crate::tools::test_project;

    const ALLOW: &str =
        "query getOrders { orders { id } }\nquery getCustomers { customers { id } }\n";
    const CONFIG: &str = "roles_query: \"SELECT * FROM customers WHERE id = $user_id\"\nroles:\n  - name: admin\n    match: id = 1\n";

    #[test]
    fn one_result_carries_the_operations_and_the_role_statement() {
        let compiled = test_project(ALLOW, CONFIG).compile().expect("compiles");
        let names: Vec<&str> = compiled.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["getOrders", "getCustomers"]);
        assert_eq!(compiled.roles(), ["anon", "user", "admin"]);
        let rq = compiled
            .role_query()
            .expect("roles_query gives a role statement");
        assert_eq!(rq.roles, ["admin"]);
        let table = compiled.runtime_table();
        assert_eq!(table.operations.len(), 2);
        let table_rq = table.role_query.expect("the table has it too");
        assert_eq!((&table_rq.sql, &table_rq.roles), (&rq.sql, &rq.roles));
        // With each query's signed-in statement.
        let names: Vec<&str> = table_rq
            .statements
            .iter()
            .map(|s| s.operation.as_str())
            .collect();
        assert_eq!(names, ["getOrders", "getCustomers"]);
    }

    #[test]
    fn an_operation_sent_replaces_the_allow_listed_one_of_its_name() {
        let project = test_project(ALLOW, CONFIG);
        let compiled = project.compile().expect("compiles");
        let sent = project
            .compile_one(One::Text {
                text: "query getCustomers { customers { id email } }",
                variables: None,
            })
            .expect("compiles");
        let served = compiled.with(&[sent]);
        assert_eq!(served.len(), 2);
        let customers = served.iter().find(|o| o.name == "getCustomers").unwrap();
        assert!(
            customers.roles[0].1.sql.contains("'email'"),
            "{}",
            customers.roles[0].1.sql
        );
        // The original is untouched.
        let customers = compiled.iter().find(|o| o.name == "getCustomers").unwrap();
        assert!(!customers.roles[0].1.sql.contains("'email'"));
    }

    #[test]
    fn one_operation_by_name_or_a_did_you_mean() {
        let project = test_project(ALLOW, CONFIG);
        let op = project.compile_one(One::Named("getorders")).expect("found");
        assert_eq!(op.name, "getOrders");
        assert_eq!(op.roles.len(), 3);
        let err = project.compile_one(One::Named("getOrder")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "allow.list has no operation `getOrder` (did you mean `getOrders`?)"
        );
    }
}
