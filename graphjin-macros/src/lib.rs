//! `include_allowlist!()`: a thin proc-macro over graphjin-codegen.
