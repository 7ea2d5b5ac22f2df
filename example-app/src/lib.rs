//! The webshop's typed API: `config/allow.list` compiled at build time into a module per
//! operation (`Variables`, `Data`, `run()`), the `OPERATIONS` table, `connect()` and
//! `router()`.

#![deny(warnings)]

include!(concat!(env!("OUT_DIR"), "/graphjin.rs"));

/// The locked API as an OpenAPI 3.1 document (JSON), written at build time by `build.rs`;
/// the binary serves it at `GET /api/v1/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));

/// The webshop's schema (tables, keys, indexes).
pub const SCHEMA_SQL: &str = include_str!("../db/schema.sql");

/// Deterministic demo data.
pub const SEED_SQL: &str = include_str!("../db/seed.sql");
