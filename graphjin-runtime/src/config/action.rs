//! The `actions:` part of the config, and the `hmac` entries of `auths:`, as plain data.
//! [`crate::actions::Actions`] turns them into routes; its docs describe every key.
//!
//! ```yaml
//! auths:
//!   - name: cron
//!     type: header
//!     header: {name: X-Cron-Secret}     # value from GJ_AUTHS_CRON_HEADER_VALUE
//!   - name: signed
//!     type: hmac
//!     hmac:
//!       secret: "..."                   # better: GJ_AUTHS_SIGNED_HMAC_SECRET
//!       signature_header: X-Signature   # default
//!       timestamp_header: X-Timestamp   # default
//!       max_age: 5m                     # default; seconds as a number, or with a unit
//!       replay_cache: 10000             # default: signatures remembered at most
//!   - name: signed_shared               # several instances behind one load balancer
//!     type: hmac
//!     hmac:
//!       replay_store: redis://redis.internal:6379/0  # better: GJ_AUTHS_SIGNED_SHARED_HMAC_REPLAY_STORE
//!       replay_key_prefix: "graphjin:replay:"        # default
//!
//! actions:
//!   - name: refresh_leaderboard
//!     sql: REFRESH MATERIALIZED VIEW CONCURRENTLY leaderboard
//!     auth_name: cron
//!   - name: archive_product
//!     sql: UPDATE products SET archived = true WHERE id = $1 RETURNING id, archived
//!     auth_name: signed
//!     params:
//!       - {name: id, type: bigint, required: true}
//!   - name: send_welcome
//!     url: https://hooks.internal/welcome
//!     auth_name: users
//!     secret: "..."                     # signs the call; better: GJ_ACTIONS_SEND_WELCOME_SECRET
//!     headers:
//!       - {name: X-Action-Secret, value_from_env: ACTION_SECRET}
//!     forward_headers: [X-Request-Id]
//!     timeout: 10s                      # default
//! ```

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

use super::auth::{Secret, duration_text, parse_duration, redact_url};

/// `auths[]` entries of `type: hmac`: callers sign the request body. They verify the body,
/// which an [`crate::Authenticator`] (headers only) never sees, so they are kept apart
/// from [`crate::Config::auths`] and guard actions only.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct HmacAuthConfig {
    /// The name actions refer to with `auth_name`.
    pub name: Option<String>,
    /// The signature settings.
    pub hmac: HmacConfig,
}

/// `hmac:`: how a signed call is checked. A caller sends `X-Timestamp: <unix seconds>` and
/// `X-Signature: sha256=<hex>` (the prefix is optional), where the hex is
/// `HMAC-SHA256(secret, timestamp + "." + body)`. `Debug` shows neither the secret nor the
/// password of `replay_store`.
#[derive(Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct HmacConfig {
    /// The shared key (env `GJ_AUTHS_<NAME>_HMAC_SECRET`).
    pub secret: Option<Secret>,
    /// The header carrying the signature (default `X-Signature`).
    pub signature_header: Option<String>,
    /// The header carrying the timestamp (default `X-Timestamp`).
    pub timestamp_header: Option<String>,
    /// How far the timestamp may be from now, either way (default 5 minutes). A number is
    /// seconds; a string may carry a unit (`"90s"`, `"5m"`).
    #[serde(deserialize_with = "seconds", serialize_with = "duration_text")]
    pub max_age: Option<Duration>,
    /// How many signatures are remembered to refuse replays (default 10000). When it is
    /// full of signatures still inside the window, further calls are refused with 503
    /// rather than forgetting one. Not with `replay_store`.
    pub replay_cache: Option<usize>,
    /// A redis that every instance shares to refuse replays, instead of the in-memory cache:
    /// `redis://[[user]:password@]host:port[/db]`, or `rediss://...[?ca_file=/path/ca.pem]`
    /// for TLS (env `GJ_AUTHS_<NAME>_HMAC_REPLAY_STORE`). A signature is recorded with
    /// `SET <replay_key_prefix><auth name>:<sha256 hex of the signature> 1 NX PX <ms>`; while
    /// redis cannot be reached, signed calls are refused with 503.
    pub replay_store: Option<String>,
    /// With `replay_store`: the start of every key (default `graphjin:replay:`).
    pub replay_key_prefix: Option<String>,
}

impl fmt::Debug for HmacConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacConfig")
            .field("secret", &self.secret)
            .field("signature_header", &self.signature_header)
            .field("timestamp_header", &self.timestamp_header)
            .field("max_age", &self.max_age)
            .field("replay_cache", &self.replay_cache)
            .field(
                "replay_store",
                &self.replay_store.as_deref().map(redact_url),
            )
            .field("replay_key_prefix", &self.replay_key_prefix)
            .finish()
    }
}

/// One entry of `actions:`: a SQL statement (`sql`) or an HTTP handler (`url`), guarded by
/// the named auth `auth_name`.
#[derive(Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct ActionConfig {
    /// The name in the route: `POST {prefix}/v1/actions/{name}`. Letters, digits, `_`,
    /// `-` and `.`.
    pub name: String,
    /// The statement to run (one statement; `$1..$n` are `params` in order).
    pub sql: Option<String>,
    /// The handler to call instead (http or https; env `GJ_ACTIONS_<NAME>_URL`).
    pub url: Option<String>,
    /// The entry of `auths:` that guards the action (required; use an auth of
    /// `type: none` for a public action).
    pub auth_name: Option<String>,
    /// SQL actions: the statement's parameters, `$1` first.
    pub params: Vec<ActionParam>,
    /// Webhook actions: headers sent with every call.
    pub headers: Vec<ActionHeader>,
    /// Webhook actions: request headers of the caller passed on to the handler.
    pub forward_headers: Vec<String>,
    /// Webhook actions: the key the call is signed with (env `GJ_ACTIONS_<NAME>_SECRET`).
    pub secret: Option<Secret>,
    /// Webhook actions: the header carrying the signature (default `X-Signature`).
    pub signature_header: Option<String>,
    /// Webhook actions: the header carrying the timestamp (default `X-Timestamp`).
    pub timestamp_header: Option<String>,
    /// Webhook actions: how long the handler may take, answer included (default 10 s). A
    /// number is seconds; a string may carry a unit.
    #[serde(deserialize_with = "seconds", serialize_with = "duration_text")]
    pub timeout: Option<Duration>,
}

impl fmt::Debug for ActionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActionConfig")
            .field("name", &self.name)
            .field("sql", &self.sql)
            .field("url", &self.url.as_deref().map(redact_url))
            .field("auth_name", &self.auth_name)
            .field("params", &self.params)
            .field("headers", &self.headers)
            .field("forward_headers", &self.forward_headers)
            .field("secret", &self.secret)
            .field("signature_header", &self.signature_header)
            .field("timestamp_header", &self.timestamp_header)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// `actions[].params[]`: one statement parameter.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct ActionParam {
    /// The key in the request's JSON body (for `from: input`).
    pub name: String,
    /// The PostgreSQL type it is bound as (`bigint`, `text`, `uuid`, `jsonb`, `bigint[]`,
    /// an enum, ...); the statement is prepared with it.
    #[serde(rename = "type")]
    pub pg_type: String,
    /// Refuse the call (400) when the value is missing or null and there is no `default`.
    pub required: bool,
    /// The JSON value used when the key is missing or null.
    pub default: Option<serde_json::Value>,
    /// Where the value comes from: the body (`input`, the default) or the caller's session.
    pub from: ParamSource,
}

/// `actions[].params[].from`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamSource {
    /// The key `name` of the request's JSON body.
    #[default]
    Input,
    /// The caller's user id (NULL when anonymous).
    UserId,
    /// The provider of the caller's user id.
    UserIdProvider,
    /// The caller's role (`anon`, `user` or an explicit one).
    Role,
}

/// `actions[].headers[]`: a header sent to a webhook action's handler.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct ActionHeader {
    /// The header's name.
    pub name: String,
    /// Its value.
    pub value: Option<Secret>,
    /// An environment variable holding the value, read when the config is loaded (it wins
    /// over `value`).
    pub value_from_env: Option<String>,
}

/// A duration written as seconds (a number) or with a unit (`"500ms"`, `"90s"`, `"5m"`).
pub(crate) fn seconds<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    let bad = |what: &str| {
        de::Error::custom(format!(
            "{what} is not a duration: write seconds as a number, or a number with a unit (500ms, 90s, 5m)"
        ))
    };
    match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(s) if s.is_finite() && s >= 0.0 => Ok(Some(Duration::from_secs_f64(s))),
            _ => Err(bad("a negative number")),
        },
        serde_json::Value::String(s) => match s.trim().parse::<f64>() {
            Ok(n) if n.is_finite() && n >= 0.0 => Ok(Some(Duration::from_secs_f64(n))),
            Ok(_) => Err(bad(&format!("`{s}`"))),
            Err(_) => parse_duration(&s)
                .map(Some)
                .ok_or_else(|| bad(&format!("`{s}`"))),
        },
        _ => Err(bad("this value")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_keys_parse() {
        let a: ActionConfig = serde_json::from_value(serde_json::json!({
            "name": "archive",
            "sql": "UPDATE products SET name = $2 WHERE id = $1",
            "auth_name": "cron",
            "params": [{"name": "id", "type": "bigint", "required": true},
                       {"name": "who", "type": "text", "from": "user_id"}],
            "timeout": "1.5s",
        }))
        .expect("parses");
        assert_eq!(a.params[0].pg_type, "bigint");
        assert!(a.params[0].required);
        assert_eq!(a.params[1].from, ParamSource::UserId);
        assert_eq!(a.timeout, Some(Duration::from_millis(1500)));
        let h: HmacConfig =
            serde_json::from_value(serde_json::json!({"max_age": 90})).expect("parses");
        assert_eq!(h.max_age, Some(Duration::from_secs(90)));
        let h: HmacConfig =
            serde_json::from_value(serde_json::json!({"max_age": "5m"})).expect("parses");
        assert_eq!(h.max_age, Some(Duration::from_secs(300)));
        assert!(
            serde_json::from_value::<HmacConfig>(serde_json::json!({"max_age": "soon"})).is_err()
        );
    }

    #[test]
    fn debug_redacts_url_and_secrets() {
        let a = ActionConfig {
            url: Some("https://u:pw@hooks.example/x?token=abc".into()),
            secret: Some(Secret::new("s3cret")),
            headers: vec![ActionHeader {
                name: "X-Key".into(),
                value: Some(Secret::new("k3y")),
                value_from_env: None,
            }],
            ..ActionConfig::default()
        };
        let text = format!("{a:?}");
        for leak in ["pw", "abc", "s3cret", "k3y"] {
            assert!(!text.contains(leak), "{text}");
        }
        let h = HmacConfig {
            secret: Some(Secret::new("s3cret")),
            replay_store: Some("redis://:hunter2@redis:6379/1".into()),
            ..HmacConfig::default()
        };
        let text = format!("{h:?}");
        assert!(text.contains("redis:6379/1"), "{text}");
        for leak in ["hunter2", "s3cret"] {
            assert!(!text.contains(leak), "{text}");
        }
    }
}
