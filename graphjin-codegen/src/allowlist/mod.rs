//! `config/allow.list`: GraphJin's single-file list of named operations.
