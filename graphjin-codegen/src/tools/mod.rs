//! The locked API, for its callers and reviewers. Every operation is fixed at build time,
//! so the project knows its whole API before it runs; these tools describe it and guard it:
//!
//! - [`access`]: per operation and role, the columns read and written and the tables whose
//!   rows are deleted;
//! - [`compliance`]: the config's `compliance:` rules, checked by [`crate::Project::compile`]
//!   so a violation fails the build;
//! - [`diff`]: what a change to allow.list or the config newly exposes, per role
//!   (`graphjin audit --diff`);
//! - [`openapi`]: an OpenAPI 3.1 document of the REST routes and actions
//!   (`graphjin openapi`);
//! - [`typescript`]: a TypeScript module with every operation's types and a typed caller
//!   (`graphjin typescript`).

pub mod access;
pub mod compliance;
pub mod diff;
pub mod openapi;
pub mod response;
pub mod surface;
pub mod typescript;
pub mod walk;
pub mod wire;

/// A project in a temp folder with a small shop schema (customers, orders, order_items,
/// payments), for the tools' unit tests.
#[cfg(test)]
pub(crate) fn test_project(allow: &str, config: &str) -> crate::Project {
    try_test_project(allow, config).expect("loads")
}

/// [`test_project`], or the load error.
#[cfg(test)]
pub(crate) fn try_test_project(allow: &str, config: &str) -> Result<crate::Project, crate::Error> {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("gj-tools-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("allow.list"), allow).unwrap();
    std::fs::write(dir.join("dev.yml"), config).unwrap();
    std::fs::write(
        dir.join("db.graphql"),
        "# dbinfo:postgres,150004,public\n\n\
         type customers {\n  id: Bigint! @id\n  email: Text!\n  full_name: Text!\n}\n\
         type orders {\n  id: Bigint! @id\n  customer_id: Bigint! @relation(type: customers, field: id)\n  status: Text!\n  note: Text\n  total: Numeric!\n}\n\
         type order_items {\n  id: Bigint! @id\n  order_id: Bigint! @relation(type: orders, field: id)\n  quantity: Integer!\n}\n\
         type payments {\n  id: Bigint! @id\n  customer_id: Bigint! @relation(type: customers, field: id)\n  amount: Numeric!\n}\n",
    )
    .unwrap();
    let p = crate::Project::load(&dir);
    std::fs::remove_dir_all(&dir).ok();
    p
}
