//! Request bodies in, `{"data": ...}` responses out.

use axum::body::Body;
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_TYPE, HeaderValue};
use axum::http::request::Parts;
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use super::ApiError;
use crate::Auth;

/// A request taken apart without copying anything: its headers, the [`Auth`] an
/// authentication layer left in its extensions (else anonymous), and its body read within
/// the body limit. Extractors would clone the headers and the `Auth` instead.
pub(crate) struct Taken {
    /// The request's headers.
    pub(crate) headers: HeaderMap,
    /// Who is calling.
    pub(crate) auth: Auth,
    /// The body, or why it could not be read (over the limit: a 413).
    pub(crate) body: Result<Bytes, ApiError>,
}

/// Takes `parts` and `body` apart (see [`Taken`]), reading at most `limit` bytes of body.
pub(crate) async fn take(mut parts: Parts, body: Body, limit: usize) -> Taken {
    let headers = std::mem::take(&mut parts.headers);
    let auth = parts.extensions.remove::<Auth>().unwrap_or_default();
    let body = read(body, limit).await;
    Taken {
        headers,
        auth,
        body,
    }
}

/// The whole body, at most `limit` bytes: more is a 413, a failed read a 400.
pub(crate) async fn read(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(ApiError::PayloadTooLarge { limit }),
        Err(e) => Err(ApiError::BadRequest(format!(
            "cannot read the request body: {e}"
        ))),
    }
}

/// The body, if any, after checking it is JSON. An empty body is `None` whatever its
/// content type.
pub(crate) fn json_body(headers: &HeaderMap, body: Bytes) -> Result<Option<Bytes>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let content_type = headers.get(CONTENT_TYPE);
    if !content_type.is_some_and(is_json) {
        return Err(ApiError::UnsupportedMediaType {
            got: content_type
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_else(|| "none".to_owned()),
        });
    }
    Ok(Some(body))
}

/// `application/json`, `application/graphql-response+json` and the like, with any
/// parameters (`; charset=utf-8`).
fn is_json(value: &HeaderValue) -> bool {
    let Ok(value) = value.to_str() else {
        return false;
    };
    let mime = value.split(';').next().unwrap_or("").trim().as_bytes();
    // Compared without allocating a lower-case copy: this runs for every request.
    let starts = |prefix: &[u8]| {
        mime.len() >= prefix.len() && mime[..prefix.len()].eq_ignore_ascii_case(prefix)
    };
    let ends = |suffix: &[u8]| {
        mime.len() >= suffix.len() && mime[mime.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    mime.eq_ignore_ascii_case(b"application/json") || (starts(b"application/") && ends(b"+json"))
}

/// A description of a JSON parse failure for a 400.
pub(crate) fn malformed(what: &str, e: &serde_json::Error) -> ApiError {
    ApiError::BadRequest(format!("{what} is not valid JSON: {e}"))
}

/// `{"data": <raw>}`, copying the statement's bytes in without parsing them.
pub(crate) fn data_response(raw: &[u8]) -> Response {
    const HEAD: &[u8] = b"{\"data\":";
    let mut buf = BytesMut::with_capacity(HEAD.len() + raw.len() + 1);
    buf.extend_from_slice(HEAD);
    buf.extend_from_slice(raw);
    buf.extend_from_slice(b"}");
    let mut response = Response::new(Body::from(buf.freeze()));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/graphql-response+json",
            "APPLICATION/Problem+JSON ; charset=utf-8",
        ] {
            assert!(is_json(&HeaderValue::from_static(ok)), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "json",
            "",
            "application/json5",
            "text/+json",
        ] {
            assert!(!is_json(&HeaderValue::from_static(bad)), "{bad}");
        }
    }
}
