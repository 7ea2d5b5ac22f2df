//! What the benches share.

pub(crate) mod env;
pub(crate) mod handwritten;
pub(crate) mod proc_cpu;
