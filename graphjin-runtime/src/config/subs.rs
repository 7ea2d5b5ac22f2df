//! The subscription keys of the config:
//!
//! ```yaml
//! poll_every_seconds: 5        # how often subscriptions re-read their results; 0.5 works too
//! # subs_poll_duration: 5s     # GraphJin's name for the same (a duration, or seconds)
//! subscriptions:
//!   max_per_connection: 100    # subscriptions one WebSocket may hold
//!   send_queue: 64             # results queued per connection before it counts as too slow
//!   keepalive_seconds: 15      # server pings
//!   idle_timeout_seconds: 60   # close a socket that sent nothing (not even a pong) this long
//!   init_timeout_seconds: 10   # time to send connection_init
//!   batch_size: 5000           # parameter sets per batch statement; more split a poll
//!   poll_connections: 2        # batch statements of one poll run at once, on as many connections
//! auth:
//!   subs_creds_in_vars: false  # debugging aid: X-User-ID... in a subscription's variables
//! ```

use std::time::Duration;

use graphjin_config::Source;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ConfigError;

/// `subscriptions:`: limits and timeouts of subscriptions over WebSocket; see
/// [`crate::subs::SubsOptions`] for what each does and its default.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct SubsConfig {
    /// `max_per_connection`: subscriptions one WebSocket connection may hold.
    pub max_per_connection: Option<usize>,
    /// `send_queue`: results queued per connection before its client counts as too slow.
    pub send_queue: Option<usize>,
    /// `keepalive_seconds`: how often the server pings.
    pub keepalive_seconds: Option<f64>,
    /// `idle_timeout_seconds`: close a socket that sent nothing for this long.
    pub idle_timeout_seconds: Option<f64>,
    /// `init_timeout_seconds`: how long a client may take to send `connection_init`.
    pub init_timeout_seconds: Option<f64>,
    /// `batch_size`: the most distinct parameter sets one batch statement carries; a poll
    /// with more runs several statements.
    pub batch_size: Option<usize>,
    /// `poll_connections`: how many of one poll's batch statements run at once, each on a
    /// connection of its own.
    pub poll_connections: Option<usize>,
}

/// `poll_every_seconds` (seconds, fractions allowed), else GraphJin's `subs_poll_duration`
/// (`"2s"`, `"500ms"`, or a number of seconds); it must be more than zero.
pub(super) fn poll_every(
    keys: [(&str, Option<&Value>); 2],
    source: &Source,
) -> Result<Option<Duration>, ConfigError> {
    for (key, value) in keys {
        let value = match value {
            None | Some(Value::Null) => continue,
            Some(v) => v,
        };
        let seconds = match value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => parse_seconds(s),
            _ => None,
        };
        return match seconds {
            Some(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(Some(Duration::from_secs_f64(s))),
            _ => Err(source
                .key_error(key, "expected a number of seconds above zero (e.g. 5 or 0.5), or a duration such as \"2s\" or \"500ms\"")
                .into()),
        };
    }
    Ok(None)
}

/// `"2s"`, `"500ms"`, `"1m"`, `"1.5"` (seconds) as seconds.
fn parse_seconds(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    match unit.trim() {
        "ms" => Some(number / 1000.0),
        "" | "s" => Some(number),
        "m" => Some(number * 60.0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_periods() {
        let read = |yaml: serde_json::Value| {
            let map = yaml.as_object().cloned().unwrap_or_default();
            let source = Source::from_map(map.clone(), std::path::Path::new("dev.yml"));
            poll_every(
                [
                    ("poll_every_seconds", map.get("poll_every_seconds")),
                    ("subs_poll_duration", map.get("subs_poll_duration")),
                ],
                &source,
            )
        };
        let ok = |v| read(v).unwrap();
        assert_eq!(ok(serde_json::json!({})), None);
        assert_eq!(
            ok(serde_json::json!({"poll_every_seconds": 0.25})),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            ok(serde_json::json!({"subs_poll_duration": "2s"})),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            ok(serde_json::json!({"subs_poll_duration": "500ms"})),
            Some(Duration::from_millis(500))
        );
        let e = read(serde_json::json!({"poll_every_seconds": 0})).unwrap_err();
        assert!(e.to_string().contains("poll_every_seconds"), "{e}");
        assert!(read(serde_json::json!({"subs_poll_duration": "soon"})).is_err());
    }
}
