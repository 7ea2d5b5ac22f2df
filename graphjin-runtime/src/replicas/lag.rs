//! How far a replica lags, from WAL positions rather than replay timestamps.
//!
//! `now() - pg_last_xact_replay_timestamp()` grows on an idle primary although nothing is
//! missing, so the checker compares positions instead: it samples the primary's flushed
//! WAL position (`pg_current_wal_flush_lsn()`) at each check, and a replica's lag is the
//! time since the newest sample its replayed position (`pg_last_wal_replay_lsn()`) has
//! reached. An idle primary's position does not move, so a replica that has replayed it
//! lags by zero however long nothing happens; a replica whose replay is paused falls
//! further behind each check the primary writes.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Samples of the primary's WAL position, oldest first.
#[derive(Debug)]
pub(crate) struct History {
    samples: VecDeque<(Instant, u64)>,
    /// Samples older than this are dropped (one older sample is kept as the floor).
    keep: Duration,
}

impl History {
    /// A history keeping about `keep` of samples.
    pub(crate) fn new(keep: Duration) -> History {
        History {
            samples: VecDeque::new(),
            keep,
        }
    }

    /// The primary was at `lsn` at `at`. A position equal to the newest sample's moves
    /// that sample's time forward (a replica that reached it has caught up until now).
    pub(crate) fn record(&mut self, at: Instant, lsn: u64) {
        match self.samples.back_mut() {
            Some(last) if last.1 == lsn => last.0 = at,
            _ => self.samples.push_back((at, lsn)),
        }
        while self.samples.len() > 1
            && self
                .samples
                .get(1)
                .is_some_and(|s| at.saturating_duration_since(s.0) > self.keep)
        {
            self.samples.pop_front();
        }
    }

    /// How long ago the primary was last at a position `replayed` has reached: zero when
    /// it has reached the newest sample; at least the age of the oldest sample kept when it
    /// has reached none. `None` before the first sample.
    pub(crate) fn lag(&self, replayed: u64, now: Instant) -> Option<Duration> {
        let oldest = self.samples.front()?;
        let caught_up = self
            .samples
            .iter()
            .rev()
            .find(|(_, lsn)| *lsn <= replayed)
            .map_or(oldest.0, |(at, _)| *at);
        Some(now.saturating_duration_since(caught_up))
    }
}

/// A `pg_lsn` as text (`16/B374D848`) as a number.
pub(crate) fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.trim().split_once('/')?;
    let hi = u64::from_str_radix(hi, 16).ok()?;
    let lo = u64::from_str_radix(lo, 16).ok()?;
    (hi <= u64::from(u32::MAX) && lo <= u64::from(u32::MAX)).then_some((hi << 32) | lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_text() {
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("16/B374D848"), Some(0x16_B374_D848));
        assert_eq!(parse_lsn("nope"), None);
        assert_eq!(parse_lsn("1/100000000"), None);
    }

    #[test]
    fn idle_primary_means_no_lag() {
        let t0 = Instant::now();
        let mut h = History::new(Duration::from_secs(10));
        assert_eq!(h.lag(5, t0), None);
        for s in 0..100 {
            h.record(t0 + Duration::from_secs(s), 500);
        }
        let now = t0 + Duration::from_secs(99);
        assert_eq!(h.lag(500, now), Some(Duration::ZERO));
    }

    #[test]
    fn stuck_replica_lags_since_it_last_caught_up() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut h = History::new(s(10));
        h.record(t0, 100);
        h.record(t0 + s(1), 200);
        h.record(t0 + s(2), 300);
        assert_eq!(h.lag(300, t0 + s(2)), Some(s(0)));
        assert_eq!(h.lag(250, t0 + s(2)), Some(s(1)), "reached 200, at t0+1");
        assert_eq!(h.lag(99, t0 + s(2)), Some(s(2)), "reached nothing kept");
        for i in 3..30 {
            h.record(t0 + s(i), 300 + i);
        }
        // Only about 10 s of samples are kept: a replica behind all of them lags at least that.
        assert!(h.lag(0, t0 + s(29)).is_some_and(|l| l >= s(10)));
        assert!(h.samples.len() <= 12, "{}", h.samples.len());
    }
}
