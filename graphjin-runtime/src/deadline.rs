//! Time limits: every call of an operation runs under a deadline, its entry in
//! [`PoolOptions::operation_timeouts`] or else [`PoolOptions::statement_timeout`].
//!
//! The limit is enforced twice. PostgreSQL gets a `statement_timeout` on each connection:
//! the largest limit of any operation (a per-connection setting cannot differ per call on
//! a shared, pipelined connection), so the server cancels a runaway statement on its own.
//! The client holds each call to its own limit, from the moment it asks for a connection
//! to the last row read, so a frozen server or a cut network is bounded too, and an
//! operation with a shorter limit is cut off (and its statement cancelled) on time.

use std::time::Duration;

use crate::PoolOptions;
use crate::catalog::Catalog;

/// The time limit of each operation, and the server-side statement timeout.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// Per operation (catalog order); `None`: no limit.
    per_operation: Box<[Option<Duration>]>,
    /// PostgreSQL's `statement_timeout`: the largest limit, `None` when any operation has
    /// none.
    server: Option<Duration>,
}

impl Limits {
    /// The limits `options` give the operations of `catalog` (a zero duration means no
    /// limit). An entry of `operation_timeouts` that names no operation is logged and
    /// ignored: the development server builds tables that lack operations the config
    /// already names.
    pub(crate) fn new(options: &PoolOptions, catalog: &Catalog) -> Limits {
        let default = options.statement_timeout.filter(|d| !d.is_zero());
        let mut per_operation = vec![default; catalog.operations.len()];
        for (name, limit) in &options.operation_timeouts {
            match catalog.by_name(name) {
                Some(index) => per_operation[index] = Some(*limit).filter(|d| !d.is_zero()),
                None => tracing::warn!(
                    operation = %name,
                    "database.operation_timeouts names an operation that is not in the operation table; its limit is ignored"
                ),
            }
        }
        let server = if per_operation.iter().all(Option::is_some) {
            per_operation.iter().flatten().max().copied().or(default)
        } else {
            None
        };
        Limits {
            per_operation: per_operation.into_boxed_slice(),
            server,
        }
    }

    /// The limit of operation number `index`; `None`: no limit.
    pub(crate) fn of(&self, index: usize) -> Option<Duration> {
        self.per_operation.get(index).copied().flatten()
    }

    /// The `statement_timeout` each connection's session gets.
    pub(crate) fn server_timeout(&self) -> Option<Duration> {
        self.server
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{OpKind, Operation};

    fn op(name: &'static str) -> Operation {
        Operation {
            name,
            kind: OpKind::Query,
            query: "",
            sha256: "",
            roles: &[],
            constraints: &[],
        }
    }

    fn limits(options: PoolOptions) -> Limits {
        static OPS: std::sync::OnceLock<Vec<Operation>> = std::sync::OnceLock::new();
        let ops = OPS.get_or_init(|| vec![op("listProducts"), op("report"), op("other")]);
        let ops: &'static [Operation] = ops.as_slice();
        let catalog = Catalog::new(ops).expect("catalog");
        Limits::new(&options, &catalog)
    }

    #[test]
    fn each_operation_gets_its_limit_and_the_server_the_largest() {
        let s = Duration::from_secs;
        let l = limits(PoolOptions {
            statement_timeout: Some(s(30)),
            operation_timeouts: [
                ("listProducts".to_owned(), s(2)),
                ("REPORT".to_owned(), s(120)),
            ]
            .into(),
            ..PoolOptions::default()
        });
        assert_eq!(
            (l.of(0), l.of(1), l.of(2)),
            (Some(s(2)), Some(s(120)), Some(s(30)))
        );
        assert_eq!(l.server_timeout(), Some(s(120)));

        // One operation without a limit: the server cannot cancel at any limit.
        let l = limits(PoolOptions {
            statement_timeout: Some(s(30)),
            operation_timeouts: [("report".to_owned(), Duration::ZERO)].into(),
            ..PoolOptions::default()
        });
        assert_eq!((l.of(1), l.of(2)), (None, Some(s(30))));
        assert_eq!(l.server_timeout(), None);

        // A name not in the table is ignored (and logged).
        let l = limits(PoolOptions {
            operation_timeouts: [("listProdcts".to_owned(), s(1))].into(),
            ..PoolOptions::default()
        });
        assert_eq!(l.of(0), Some(s(30)));
    }
}
