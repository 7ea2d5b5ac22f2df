//! GraphJin for Rust, run-time half: everything that runs in production and knows no GraphQL.
