//! Webhook actions: the call is forwarded, signed, to an HTTP handler of yours, and its JSON
//! answer relayed.

use std::fmt;
use std::time::Duration;

use axum::body::Body;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;
use bytes::BytesMut;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::error::ActionError;
use super::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, now, sign};
use crate::Auth;
use crate::config::{ActionConfig, ConfigError, Secret, redact_url};
use crate::http::ApiError;
use crate::http::body::{data_response, malformed};

/// How long a handler may take by default, its answer included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest handler answer relayed: 8 MiB.
pub const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// The caller of an action, as the handler receives it in the call's `session`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The signed-in user's id, or `null` for an anonymous caller.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Which identity provider vouched for `user_id`, if known.
    #[serde(default)]
    pub user_id_provider: Option<String>,
    /// The caller's role: an explicit one, else `user` with a user id, else `anon`.
    #[serde(default)]
    pub role: String,
}

impl Session {
    /// The session of `auth`.
    pub fn from_auth(auth: &Auth) -> Session {
        Session {
            user_id: auth.user_id.clone(),
            user_id_provider: auth.user_id_provider.clone(),
            role: auth.role().to_owned(),
        }
    }

    /// The caller as an [`Auth`] (with the role made explicit, unless empty).
    pub fn to_auth(&self) -> Auth {
        Auth {
            user_id: self.user_id.clone(),
            user_id_provider: self.user_id_provider.clone(),
            role: Some(self.role.clone()).filter(|r| !r.is_empty()),
            expires_at: None,
        }
    }
}

/// The body a handler receives.
#[derive(Serialize)]
struct Envelope<'a> {
    action: &'a str,
    input: Option<&'a RawValue>,
    session: Session,
}

/// Headers a config may neither set nor forward: the connection's own, and the ones the
/// runtime sets.
const RESERVED: &[&str] = &[
    "connection",
    "content-length",
    "content-type",
    "host",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// A webhook action, ready to call.
pub(crate) struct Webhook {
    url: reqwest::Url,
    /// The URL without credentials or query, for logs.
    shown_url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    forward: Vec<HeaderName>,
    secret: Secret,
    signature_header: HeaderName,
    timestamp_header: HeaderName,
    timeout: Duration,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Webhook")
            .field("url", &self.shown_url)
            .field("headers", &headers)
            .field("forward", &self.forward)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// Checks `config`'s webhook keys (`key` is e.g. `actions[welcome]`).
    pub(crate) fn build(
        config: &ActionConfig,
        url: &str,
        key: &str,
    ) -> Result<Webhook, ConfigError> {
        let invalid = |k: &str, message: String| ConfigError::Invalid {
            key: format!("{key}.{k}"),
            message,
        };
        let parsed = reqwest::Url::parse(url.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            .ok_or_else(|| invalid("url", "must be an http or https URL".to_owned()))?;
        let secret = config
            .secret
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                invalid(
                    "secret",
                    "a url action signs its calls: set secret (or GJ_ACTIONS_<NAME>_SECRET)"
                        .to_owned(),
                )
            })?;
        let name_at = |k: String, name: &str| -> Result<HeaderName, ConfigError> {
            HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                invalid(
                    &k,
                    format!("\"{}\" is not a valid header name", name.trim()),
                )
            })
        };
        let signature_header = match &config.signature_header {
            Some(n) => name_at("signature_header".to_owned(), n)?,
            None => HeaderName::from_static(SIGNATURE_HEADER),
        };
        let timestamp_header = match &config.timestamp_header {
            Some(n) => name_at("timestamp_header".to_owned(), n)?,
            None => HeaderName::from_static(TIMESTAMP_HEADER),
        };
        if signature_header == timestamp_header {
            return Err(invalid(
                "timestamp_header",
                "the signature and the timestamp need two different headers".to_owned(),
            ));
        }
        let reserved = |name: &HeaderName| {
            RESERVED.contains(&name.as_str())
                || *name == signature_header
                || *name == timestamp_header
        };
        let mut headers = Vec::with_capacity(config.headers.len());
        for h in &config.headers {
            let k = format!("headers[{}]", h.name.trim());
            let name = name_at(k.clone(), &h.name)?;
            if reserved(&name) {
                return Err(invalid(&k, format!("{name} is set by the runtime")));
            }
            let value = h.value.as_ref().filter(|v| !v.is_empty()).ok_or_else(|| {
                let message = match h.value_from_env.as_deref().map(str::trim) {
                    Some(var) => {
                        format!("the environment variable {var} (value_from_env) is not set")
                    }
                    None => {
                        "set value, or value_from_env naming an environment variable".to_owned()
                    }
                };
                invalid(&format!("{k}.value"), message)
            })?;
            let mut value = HeaderValue::from_str(value.expose()).map_err(|_| {
                invalid(
                    &format!("{k}.value"),
                    "is not a valid header value".to_owned(),
                )
            })?;
            value.set_sensitive(true);
            headers.push((name, value));
        }
        let mut forward = Vec::with_capacity(config.forward_headers.len());
        for (i, name) in config.forward_headers.iter().enumerate() {
            let k = format!("forward_headers[{i}]");
            let name = name_at(k.clone(), name)?;
            if reserved(&name) {
                return Err(invalid(&k, format!("{name} cannot be forwarded")));
            }
            forward.push(name);
        }
        Ok(Webhook {
            shown_url: redact_url(parsed.as_str()),
            url: parsed,
            headers,
            forward,
            secret,
            signature_header,
            timestamp_header,
            timeout: config.timeout.unwrap_or(DEFAULT_TIMEOUT),
        })
    }

    /// The URL without credentials or query.
    pub(crate) fn shown_url(&self) -> &str {
        &self.shown_url
    }

    /// Calls the handler for `auth` with the body `input` and relays its answer.
    pub(crate) async fn call(
        &self,
        client: &reqwest::Client,
        action: &str,
        auth: &Auth,
        request_headers: &HeaderMap,
        input: Option<&[u8]>,
    ) -> Result<Response, ApiError> {
        let input: Option<&RawValue> = match input {
            Some(bytes) => {
                Some(serde_json::from_slice(bytes).map_err(|e| malformed("the request body", &e))?)
            }
            None => None,
        };
        let envelope = Envelope {
            action,
            input,
            session: Session::from_auth(auth),
        };
        let body = serde_json::to_vec(&envelope).map_err(|e| ActionError::HandlerFailed {
            action: action.to_owned(),
            reason: format!("cannot encode the call: {e}"),
        })?;
        let timestamp = now();
        let mut signature =
            HeaderValue::from_str(&sign(self.secret.expose().as_bytes(), timestamp, &body))
                .map_err(|_| ActionError::HandlerFailed {
                    action: action.to_owned(),
                    reason: "cannot encode the signature".to_owned(),
                })?;
        signature.set_sensitive(true);

        let mut headers = HeaderMap::new();
        for name in &self.forward {
            for value in request_headers.get_all(name) {
                headers.append(name.clone(), value.clone());
            }
        }
        for (name, value) in &self.headers {
            headers.insert(name.clone(), value.clone());
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(self.timestamp_header.clone(), HeaderValue::from(timestamp));
        headers.insert(self.signature_header.clone(), signature);

        let request = client.post(self.url.clone()).headers(headers).body(body);
        let exchange = async {
            let mut response = request.send().await?;
            let status = response.status();
            let mut answer = BytesMut::new();
            while let Some(chunk) = response.chunk().await? {
                if answer.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Ok((status, None));
                }
                answer.extend_from_slice(&chunk);
            }
            Ok::<_, reqwest::Error>((status, Some(answer.freeze())))
        };
        let failed = |reason: String| ActionError::HandlerFailed {
            action: action.to_owned(),
            reason,
        };
        let (status, answer) = match tokio::time::timeout(self.timeout, exchange).await {
            Err(_) => {
                return Err(ActionError::Timeout {
                    action: action.to_owned(),
                    after: self.timeout,
                }
                .into());
            }
            Ok(Err(e)) if e.is_timeout() => {
                return Err(ActionError::Timeout {
                    action: action.to_owned(),
                    after: self.timeout,
                }
                .into());
            }
            Ok(Err(e)) => {
                tracing::warn!(action, url = %self.shown_url, error = %describe(&e.without_url()), "action handler unreachable");
                return Err(failed("it could not be reached".to_owned()).into());
            }
            Ok(Ok(pair)) => pair,
        };
        let Some(answer) = answer else {
            return Err(failed(format!(
                "its answer is larger than {MAX_ANSWER_BYTES} bytes"
            ))
            .into());
        };
        if status.is_success() {
            if answer.iter().all(u8::is_ascii_whitespace) {
                return Ok(data_response(b"null"));
            }
            let raw: &RawValue = serde_json::from_slice(&answer).map_err(|_| {
                failed(format!("it answered {status} with a body that is not JSON"))
            })?;
            return Ok(data_response(raw.get().as_bytes()));
        }
        // A 401/403/407 means the handler refused the runtime (a secret or signature that
        // does not match): a misconfiguration, not the client's fault.
        let refused_us = matches!(status.as_u16(), 401 | 403 | 407);
        if status.is_client_error()
            && !refused_us
            && let Some(errors) = handler_errors(&answer)
        {
            // The handler refused the input: its errors are meant for the client.
            let mut response = Response::new(Body::from(errors));
            *response.status_mut() = status;
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            return Ok(response);
        }
        Err(failed(match status {
            s if s.is_redirection() => format!("it answered {s}; redirects are not followed"),
            s => format!("it answered {s}"),
        })
        .into())
    }
}

/// `{"errors": [...]}` from a handler's 4xx answer, re-encoded with nothing else.
fn handler_errors(answer: &[u8]) -> Option<Vec<u8>> {
    #[derive(Deserialize, Serialize)]
    struct Errors<'a> {
        #[serde(borrow)]
        errors: Vec<&'a RawValue>,
    }
    let errors: Errors<'_> = serde_json::from_slice(answer).ok()?;
    if errors.errors.is_empty() {
        return None;
    }
    serde_json::to_vec(&errors).ok()
}

/// A reqwest error without its URL (which may carry credentials), with its causes.
fn describe(e: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
