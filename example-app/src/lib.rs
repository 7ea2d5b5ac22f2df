//! The webshop's typed API: `config/allow.list` compiled at build time into a module per
//! operation (`Variables`, `Data`, `run()`), the `OPERATIONS` table, `connect()` and
//! `router()`.

#![deny(warnings)]

include!(concat!(env!("OUT_DIR"), "/graphjin.rs"));

/// The webshop's schema (tables, keys, indexes).
pub const SCHEMA_SQL: &str = include_str!("../db/schema.sql");

/// Deterministic demo data.
pub const SEED_SQL: &str = include_str!("../db/seed.sql");
