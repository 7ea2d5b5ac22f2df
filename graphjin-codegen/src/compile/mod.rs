//! The compiler: operation + schema + config + role -> one SQL statement.
