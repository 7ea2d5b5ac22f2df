//! Reconnecting during an outage: after a connection fails to open, the pool waits before
//! its next attempt (`connect_backoff`, doubling up to `connect_backoff_max`, each delay
//! drawn between half and all of it so that many processes do not retry in step) and
//! makes one attempt at a time until a connection opens. Calls meanwhile fail at once
//! with the last failure, unless the next attempt comes within their wait.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use tokio::time::Instant;

use crate::Error;

/// The delays between attempts to open a connection after failures.
#[derive(Debug, Clone, Copy)]
pub(super) struct Policy {
    /// The delay after the first failure.
    pub(super) first: Duration,
    /// The longest delay.
    pub(super) max: Duration,
}

/// Connections fail to open: what the last attempt said, and when the next may start.
#[derive(Debug, Clone)]
pub(super) struct Outage {
    /// Failed attempts in a row.
    pub(super) failures: u32,
    /// No attempt starts before this.
    pub(super) retry_at: Instant,
    /// Why the last attempt failed (the target without password, and the cause).
    pub(super) error: String,
}

impl Policy {
    /// The outage after one more failed attempt, ending now with `error`.
    pub(super) fn after(&self, before: Option<&Outage>, error: String, now: Instant) -> Outage {
        let failures = before.map_or(0, |o| o.failures).saturating_add(1);
        Outage {
            failures,
            retry_at: now + self.delay(failures),
            error,
        }
    }

    /// The wait after `failures` failures in a row: `first × 2^(failures-1)` up to `max`,
    /// drawn between half and all of it.
    fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        let full = self
            .first
            .saturating_mul(1u32 << doublings)
            .min(self.max.max(self.first));
        let half = full / 2;
        half + half.mul_f64(unit_random())
    }
}

impl Outage {
    /// What a call that cannot wait for the next attempt fails with (a 503).
    pub(super) fn error(&self, now: Instant) -> Error {
        let next = self.retry_at.saturating_duration_since(now);
        Error::Unavailable {
            message: format!(
                "{}; the pool tries again in {} ms",
                self.error,
                next.as_millis()
            ),
        }
    }
}

/// A number in [0, 1): jitter needs no more than the standard library's random hash keys.
fn unit_random() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(0);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_max_with_jitter() {
        let policy = Policy {
            first: Duration::from_millis(100),
            max: Duration::from_secs(5),
        };
        for (failures, full) in [(1, 100), (2, 200), (3, 400), (7, 5000), (40, 5000)] {
            for _ in 0..20 {
                let d = policy.delay(failures).as_millis();
                assert!(
                    (full / 2..=full).contains(&d),
                    "{failures} failures: {d} ms not in [{}, {full}]",
                    full / 2
                );
            }
        }
        let now = Instant::now();
        let first = policy.after(None, "down".into(), now);
        let second = policy.after(Some(&first), "still down".into(), now);
        assert_eq!((first.failures, second.failures), (1, 2));
        assert!(second.retry_at >= now + Duration::from_millis(100));
        let message = second.error(now).to_string();
        assert!(
            message.contains("still down; the pool tries again in"),
            "{message}"
        );
    }
}
