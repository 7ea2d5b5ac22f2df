//! Durations as GraphJin writes them: Go's `time.Duration` text (`30s`, `5m`, `1h30m`,
//! `250ms`, `1.5h`).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};

/// Parses Go's duration text (`time.ParseDuration`): a sequence of decimal numbers, each
/// with a unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`), e.g. `1h30m` or `1.5s`; `0` alone is
/// zero. Negative durations are refused. A bare number other than `0` is refused too, as Go
/// does: GraphJin would read an unquoted `30` as 30 nanoseconds, so this asks for a unit.
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let expected = || {
        format!(
            "expected a duration such as \"30s\", \"5m\" or \"1h30m\" (units: ns, us, ms, s, m, h), got {t:?}"
        )
    };
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    if t.is_empty() || t.starts_with('-') {
        return Err(expected());
    }
    let mut total = 0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| {
                format!(
                    "{t:?} has no unit: write e.g. \"{t}s\" for seconds (GraphJin would read a bare number as nanoseconds)"
                )
            })?;
        let number: f64 = rest[..num_len].parse().map_err(|_| expected())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(expected()),
        };
        rest = &rest[unit_len..];
        total += number * nanos_per;
    }
    if !total.is_finite() || total > u64::MAX as f64 {
        return Err(format!("{t:?} is too long a duration"));
    }
    Ok(Duration::from_nanos(total.round() as u64))
}

/// For `#[serde(deserialize_with = "graphjin_config::go_duration")]` on an
/// `Option<Duration>` field: Go duration text ([`parse_go_duration`]); `0` and null read as
/// `None` (GraphJin's "no limit"). A number other than 0 is refused with a hint to add a
/// unit.
pub fn go_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<Duration>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration such as \"30s\", \"5m\" or \"1h30m\"")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let d = parse_go_duration(v).map_err(E::custom)?;
            Ok((!d.is_zero()).then_some(d))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            if v == 0 {
                return Ok(None);
            }
            Err(E::custom(format!(
                "{v} has no unit: write e.g. \"{v}s\" for seconds (GraphJin would read a bare number as nanoseconds)"
            )))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            match u64::try_from(v) {
                Ok(u) => self.visit_u64(u),
                Err(_) => Err(E::custom("a duration cannot be negative")),
            }
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            if v == 0.0 {
                return Ok(None);
            }
            Err(E::custom(format!(
                "{v} has no unit: write e.g. \"{v}s\" for seconds"
            )))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(V)
        }
    }
    d.deserialize_option(V)
}

/// A duration as Go writes it, for writing a config back (`90s`, `1500ms`, `0s`).
pub fn format_go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        "0s".to_owned()
    } else if nanos.is_multiple_of(1_000_000_000) {
        format!("{}s", nanos / 1_000_000_000)
    } else if nanos.is_multiple_of(1_000_000) {
        format!("{}ms", nanos / 1_000_000)
    } else {
        format!("{nanos}ns")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_forms() {
        let p = |t| parse_go_duration(t).unwrap();
        assert_eq!(p("30s"), Duration::from_secs(30));
        assert_eq!(p("5m"), Duration::from_secs(300));
        assert_eq!(p("1h30m"), Duration::from_secs(5400));
        assert_eq!(p("1.5h"), Duration::from_secs(5400));
        assert_eq!(p("250ms"), Duration::from_millis(250));
        assert_eq!(p("10us"), Duration::from_micros(10));
        assert_eq!(p("0"), Duration::ZERO);
        assert!(parse_go_duration("30").unwrap_err().contains("no unit"));
        assert!(parse_go_duration("-1s").is_err());
        assert!(parse_go_duration("5 minutes").is_err());
        assert!(parse_go_duration("").is_err());
        assert_eq!(format_go_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_go_duration(Duration::from_secs(90)), "90s");
    }
}
