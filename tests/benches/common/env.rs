//! Bench settings from the environment.

/// The whole number in environment variable `name`, else `default`; anything else there
/// stops the bench with a message naming it.
pub(crate) fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a whole number")),
        Err(_) => default,
    }
}
