//! The Rails metadata envelope around a cookie's payload, and opening it into a session.
//!
//! Rails 5.2+ wraps a payload that has an expiry or (6.0+) a purpose in
//! `{"_rails": {"message": base64(payload), "exp": ISO8601 | null, "pur": "cookie.<name>"}}`.
//! Rails 7.1+ with `use_message_serializer_for_metadata` writes
//! `{"_rails": {"data": session, "exp": ..., "pur": ...}}` with the session serializer instead.
//! A payload without an envelope is the session itself (Rails 4.x-5.1, and cookies written
//! without metadata, which Rails 6+ still reads).

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::RailsError;
use crate::marshal::{self, Value};
use crate::session::Session;

/// Opens a decrypted payload: checks an envelope's purpose (`expected_purpose`, i.e.
/// `cookie.<name>`) and expiry against `now`, and reads the session inside.
pub(crate) fn open(
    payload: &[u8],
    expected_purpose: &str,
    now: SystemTime,
) -> Result<Session, RailsError> {
    let check = |pur: Option<&str>, pur_present: bool, exp: Option<&str>, exp_present: bool| {
        check_metadata(pur, pur_present, exp, exp_present, expected_purpose, now)
    };
    if marshal::is_marshal(payload) {
        let value = marshal::load(payload)?;
        let Some(meta) = value.get("_rails") else {
            return Ok(Session::Marshal(value));
        };
        if !matches!(meta, Value::Hash { .. }) {
            return Err(RailsError::Malformed("_rails envelope is not a hash"));
        }
        let (pur, exp) = (meta.get("pur"), meta.get("exp"));
        check(
            pur.and_then(Value::as_str),
            pur.is_some_and(|v| *v != Value::Nil),
            exp.and_then(Value::as_str),
            exp.is_some_and(|v| *v != Value::Nil),
        )?;
        return match (meta.get("data"), meta.get("message")) {
            (Some(data), _) => Ok(Session::Marshal(data.clone())),
            (None, Some(msg)) => inner(msg.as_str()),
            (None, None) => Err(RailsError::Malformed("_rails envelope has no message")),
        };
    }
    let value: serde_json::Value = match serde_json::from_slice(payload) {
        Ok(v) => v,
        Err(_) => return Session::parse(payload),
    };
    let Some(meta) = value.get("_rails") else {
        return Ok(Session::Json(value));
    };
    let meta = meta
        .as_object()
        .ok_or(RailsError::Malformed("_rails envelope is not an object"))?;
    let (pur, exp) = (meta.get("pur"), meta.get("exp"));
    check(
        pur.and_then(|v| v.as_str()),
        pur.is_some_and(|v| !v.is_null()),
        exp.and_then(|v| v.as_str()),
        exp.is_some_and(|v| !v.is_null()),
    )?;
    match (meta.get("data"), meta.get("message")) {
        (Some(data), _) => Ok(Session::Json(data.clone())),
        (None, Some(msg)) => inner(msg.as_str()),
        (None, None) => Err(RailsError::Malformed("_rails envelope has no message")),
    }
}

/// The base64 `message` of an envelope: the serialized session.
fn inner(message: Option<&str>) -> Result<Session, RailsError> {
    let message = message.ok_or(RailsError::Malformed("_rails message is not a string"))?;
    let bytes = STANDARD
        .decode(message)
        .map_err(|_| RailsError::Malformed("_rails message is not base64"))?;
    Session::parse(&bytes)
}

fn check_metadata(
    pur: Option<&str>,
    pur_present: bool,
    exp: Option<&str>,
    exp_present: bool,
    expected_purpose: &str,
    now: SystemTime,
) -> Result<(), RailsError> {
    // A missing/null purpose is what Rails 5.2 writes and what Rails 6+ still accepts
    // (it retries without a purpose); any other purpose must be this cookie's.
    if pur_present && pur != Some(expected_purpose) {
        return Err(RailsError::WrongPurpose {
            expected: expected_purpose.to_string(),
        });
    }
    if exp_present {
        let exp = exp
            .and_then(parse_iso8601_millis)
            .ok_or(RailsError::Malformed("_rails exp is not an ISO 8601 time"))?;
        let now_ms = match now.duration_since(UNIX_EPOCH) {
            Ok(d) => i128::try_from(d.as_millis()).unwrap_or(i128::MAX),
            Err(e) => -i128::try_from(e.duration().as_millis()).unwrap_or(i128::MAX),
        };
        // Rails: fresh while Time.now < expires_at.
        if now_ms >= exp {
            return Err(RailsError::Expired);
        }
    }
    Ok(())
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` into milliseconds since the Unix epoch.
pub(crate) fn parse_iso8601_millis(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut i = 19;
    let mut millis: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        let frac = &s[start..i.min(start + 3)];
        millis = frac.parse::<i64>().ok()? * 10i64.pow(3 - frac.len() as u32);
    }
    let offset_min = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if b.len() == i + 6 && b[i + 3] == b':' => {
            let m = num(i + 1..i + 3)? * 60 + num(i + 4..i + 6)?;
            if *sign == b'-' { -m } else { m }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_min * 60;
    Some(i128::from(secs) * 1000 + i128::from(millis))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn iso8601() {
        assert_eq!(parse_iso8601_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_iso8601_millis("2001-09-09T01:46:40.123Z"),
            Some(1_000_000_000_123)
        );
        assert_eq!(
            parse_iso8601_millis("2001-09-09T03:46:40+02:00"),
            Some(1_000_000_000_000)
        );
        assert_eq!(
            parse_iso8601_millis("2000-02-29T00:00:00.5Z"),
            Some(951_782_400_500)
        );
        for bad in [
            "",
            "2001-01-01",
            "2001-13-01T00:00:00Z",
            "2001-01-01T00:00:00",
            "x".repeat(30).as_str(),
        ] {
            assert_eq!(parse_iso8601_millis(bad), None, "{bad}");
        }
    }

    #[test]
    fn envelope_checks() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let msg = STANDARD.encode(br#"{"warden.user.user.key":[[7],"s"]}"#);
        let env = |pur: &str, exp: &str| {
            format!(r#"{{"_rails":{{"message":"{msg}","exp":{exp},"pur":{pur}}}}}"#)
        };
        let ok = env(r#""cookie._a""#, "null");
        assert_eq!(
            open(ok.as_bytes(), "cookie._a", now)
                .unwrap()
                .user_id()
                .unwrap(),
            "7"
        );
        let no_purpose = env("null", "null");
        assert!(open(no_purpose.as_bytes(), "cookie._a", now).is_ok());
        let other = env(r#""cookie._b""#, "null");
        assert!(matches!(
            open(other.as_bytes(), "cookie._a", now),
            Err(RailsError::WrongPurpose { .. })
        ));
        let expired = env(r#""cookie._a""#, r#""2001-09-09T01:46:40.000Z""#);
        assert!(matches!(
            open(expired.as_bytes(), "cookie._a", now),
            Err(RailsError::Expired)
        ));
        let fresh = env(r#""cookie._a""#, r#""2001-09-09T01:46:40.001Z""#);
        assert!(open(fresh.as_bytes(), "cookie._a", now).is_ok());
        let data = r#"{"_rails":{"data":{"warden.user.user.key":[["u1"],"s"]},"pur":"cookie._a"}}"#;
        assert_eq!(
            open(data.as_bytes(), "cookie._a", now)
                .unwrap()
                .user_id()
                .unwrap(),
            "u1"
        );
    }
}
