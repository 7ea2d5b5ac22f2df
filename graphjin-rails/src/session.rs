//! A decoded Rails session and the Devise/Warden user id in it.

use crate::RailsError;
use crate::marshal::{self, Value};

/// The session key where Warden keeps the signed-in Devise user (scope `user`).
pub const WARDEN_USER_KEY: &str = "warden.user.user.key";

/// A Rails session, as its serializer left it.
#[derive(Clone, Debug, PartialEq)]
pub enum Session {
    /// A session serialized with `:json` (`cookies_serializer = :json`).
    Json(serde_json::Value),
    /// A session serialized with Ruby's `Marshal` (`:marshal`, and cache-store sessions).
    Marshal(Value),
}

impl Session {
    /// Reads session data, telling JSON from Marshal by its first bytes (Marshal data starts
    /// with `04 08`).
    pub fn parse(bytes: &[u8]) -> Result<Session, RailsError> {
        if marshal::is_marshal(bytes) {
            return Ok(Session::Marshal(marshal::load(bytes)?));
        }
        match serde_json::from_slice(bytes) {
            Ok(v) => Ok(Session::Json(v)),
            Err(e) => {
                let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
                if matches!(first, Some(b'{' | b'[' | b'"')) {
                    Err(RailsError::Json(json_error(&e)))
                } else {
                    Err(RailsError::UnknownSerializer)
                }
            }
        }
    }

    /// The session id, when this "session" is a bare string: what redis-store's
    /// `signed: true` encrypts into the cookie instead of the session itself.
    pub fn as_session_id(&self) -> Option<&str> {
        match self {
            Session::Json(serde_json::Value::String(s)) => Some(s),
            Session::Marshal(v @ Value::String { .. }) => v.as_str(),
            _ => None,
        }
    }

    /// The signed-in user's id: `session["warden.user.user.key"]` is `[[id], salt]`; the id
    /// (an integer or a string) is returned as a string.
    pub fn user_id(&self) -> Result<String, RailsError> {
        match self {
            Session::Json(v) => json_user_id(v),
            Session::Marshal(v) => marshal_user_id(v),
        }
    }
}

/// A serde_json error message without any of the input (only its category and position).
pub(crate) fn json_error(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Eof => "it ends early",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected data",
        serde_json::error::Category::Io => "read error",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

fn json_user_id(session: &serde_json::Value) -> Result<String, RailsError> {
    let key = session
        .as_object()
        .ok_or(RailsError::BadWardenKey("the session is not a hash"))?
        .get(WARDEN_USER_KEY)
        .ok_or(RailsError::NotSignedIn)?;
    let ids = key
        .as_array()
        .and_then(|a| a.first())
        .and_then(|ids| ids.as_array())
        .ok_or(RailsError::BadWardenKey("expected an array of ids first"))?;
    match ids.first() {
        Some(serde_json::Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(RailsError::BadWardenKey(
            "the id is not an integer or a non-empty string",
        )),
    }
}

fn marshal_user_id(session: &Value) -> Result<String, RailsError> {
    if !matches!(session, Value::Hash { .. }) {
        return Err(RailsError::BadWardenKey("the session is not a hash"));
    }
    let key = session
        .get(WARDEN_USER_KEY)
        .ok_or(RailsError::NotSignedIn)?;
    let ids = key
        .as_array()
        .and_then(|a| a.first())
        .and_then(|ids| ids.as_array())
        .ok_or(RailsError::BadWardenKey("expected an array of ids first"))?;
    match ids.first() {
        Some(Value::Int(i)) => Ok(i.to_string()),
        Some(v @ Value::String { .. }) => match v.as_str() {
            Some(s) if !s.is_empty() => Ok(s.to_string()),
            _ => Err(RailsError::BadWardenKey(
                "the id is not a non-empty UTF-8 string",
            )),
        },
        _ => Err(RailsError::BadWardenKey(
            "the id is not an integer or a non-empty string",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_ids() {
        let s = Session::parse(br#"{"warden.user.user.key":[[42],"salt"]}"#).unwrap();
        assert_eq!(s.user_id().unwrap(), "42");
        let s = Session::parse(br#"{"warden.user.user.key":[["abc-1"],"salt"]}"#).unwrap();
        assert_eq!(s.user_id().unwrap(), "abc-1");
        let s = Session::parse(br#"{"x":1}"#).unwrap();
        assert!(matches!(s.user_id(), Err(RailsError::NotSignedIn)));
        let s = Session::parse(br#"{"warden.user.user.key":[[1.5],"salt"]}"#).unwrap();
        assert!(matches!(s.user_id(), Err(RailsError::BadWardenKey(_))));
        let s = Session::parse(br#"{"warden.user.user.key":"x"}"#).unwrap();
        assert!(matches!(s.user_id(), Err(RailsError::BadWardenKey(_))));
    }

    #[test]
    fn not_a_session() {
        assert!(matches!(
            Session::parse(b"hello"),
            Err(RailsError::UnknownSerializer)
        ));
        assert!(matches!(
            Session::parse(b"{\"a\""),
            Err(RailsError::Json(_))
        ));
    }
}
