//! The media type of a GraphQL-over-HTTP response: see [`Media`].

use axum::http::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::ApiError;

/// `application/graphql-response+json`.
pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// The media type of a GraphQL-over-HTTP response, from the request's `Accept`
/// ([GraphQL over HTTP](https://graphql.github.io/graphql-over-http/draft/), "Accept" and
/// "Response"):
///
/// | `Accept` | answer |
/// | --- | --- |
/// | names `application/graphql-response+json` with a weight at least `application/json`'s | `application/graphql-response+json`, with that media type's status codes |
/// | absent, `application/json`, `application/*`, `*/*` | `application/json`, with the legacy status codes |
/// | allows neither (`text/html`, `application/json;q=0`) | 406 `NOT_ACCEPTABLE` |
///
/// The two differ only for errors:
///
/// - `application/graphql-response+json`: a request error (the request is malformed, names
///   no listed operation, its variables do not fit, the caller may not run it) is a 4xx
///   with `errors` and no `data`, as the spec requires; a failure of the service itself a
///   5xx. An execution error (the statement ran and PostgreSQL refused the write:
///   `CONSTRAINT_VIOLATION`) is a 200 with `"data": null` and the `errors`.
/// - `application/json`: the same statuses as above for request errors, and 400 for
///   `CONSTRAINT_VIOLATION`. The spec's legacy rules say a server *should* answer 200 to
///   any well-formed request; this one keeps its 4xx (which the spec allows) so that a
///   client that reads only the status, and proxies and logs, see a failure as one.
///   Successful responses are 200 with `{"data": ...}` under either media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// `application/json`, with the legacy status codes.
    Json,
    /// `application/graphql-response+json`, with its status codes.
    GraphqlResponse,
}

impl Media {
    /// The `Content-Type` value.
    pub fn content_type(self) -> HeaderValue {
        match self {
            Media::Json => HeaderValue::from_static("application/json"),
            Media::GraphqlResponse => HeaderValue::from_static(GRAPHQL_RESPONSE_JSON),
        }
    }

    /// The media type `headers`' `Accept` asks for, or 406 when it allows neither.
    pub fn negotiate(headers: &HeaderMap) -> Result<Media, ApiError> {
        let mut graphql = None::<f32>;
        let mut json = None::<f32>;
        let mut wildcard = None::<f32>;
        let mut any = false;
        for value in headers.get_all(ACCEPT) {
            let Ok(text) = value.to_str() else {
                continue;
            };
            for range in text.split(',') {
                let mut parts = range.split(';');
                let mime = parts.next().unwrap_or("").trim();
                if mime.is_empty() {
                    continue;
                }
                any = true;
                let q = parts
                    .filter_map(|p| p.split_once('='))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                    .map_or(1.0, |(_, v)| v.trim().parse::<f32>().unwrap_or(0.0));
                // Compared without a lower-case copy: browsers send `Accept` on every request.
                let slot = if mime.eq_ignore_ascii_case(GRAPHQL_RESPONSE_JSON) {
                    &mut graphql
                } else if mime.eq_ignore_ascii_case("application/json") {
                    &mut json
                } else if mime.eq_ignore_ascii_case("application/*") || mime == "*/*" {
                    &mut wildcard
                } else {
                    continue;
                };
                *slot = Some(slot.map_or(q, |old| old.max(q)));
            }
        }
        if !any {
            return Ok(Media::Json);
        }
        // The most specific range that matches decides a type's weight.
        let json_q = json.or(wildcard).unwrap_or(0.0);
        match graphql {
            Some(q) if q > 0.0 && q >= json_q => Ok(Media::GraphqlResponse),
            _ if json_q > 0.0 => Ok(Media::Json),
            None if wildcard.is_some_and(|q| q > 0.0) => Ok(Media::GraphqlResponse),
            _ => Err(ApiError::NotAcceptable {
                got: accept_text(headers),
            }),
        }
    }

    /// The response of a GraphQL-over-HTTP handler in this media type: a success with its
    /// `Content-Type` set, an error with this media type's status and body.
    pub(crate) fn answer(self, result: Result<Response, ApiError>) -> Response {
        match result {
            Ok(mut response) => {
                if response.status() == StatusCode::OK {
                    response
                        .headers_mut()
                        .insert(CONTENT_TYPE, self.content_type());
                }
                response
            }
            Err(e) => e.response(self),
        }
    }
}

/// The `Accept` header as sent, shortened, for the 406 message.
fn accept_text(headers: &HeaderMap) -> String {
    let text: Vec<String> = headers
        .get_all(ACCEPT)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    let text = text.join(", ");
    if text.chars().count() > 120 {
        format!("{}...", text.chars().take(120).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media(accept: &[&str]) -> Option<Media> {
        let mut headers = HeaderMap::new();
        for a in accept {
            headers.append(ACCEPT, HeaderValue::from_str(a).unwrap());
        }
        Media::negotiate(&headers).ok()
    }

    #[test]
    fn negotiation() {
        use Media::*;
        assert_eq!(media(&[]), Some(Json));
        assert_eq!(media(&[""]), Some(Json));
        assert_eq!(media(&["application/json"]), Some(Json));
        assert_eq!(media(&["*/*"]), Some(Json));
        assert_eq!(media(&["application/*"]), Some(Json));
        assert_eq!(media(&[GRAPHQL_RESPONSE_JSON]), Some(GraphqlResponse));
        assert_eq!(
            media(&["application/graphql-response+json, application/json;q=0.9"]),
            Some(GraphqlResponse)
        );
        assert_eq!(
            media(&["application/graphql-response+json;q=0.5, application/json"]),
            Some(Json)
        );
        assert_eq!(
            media(&["Application/GraphQL-Response+JSON; charset=utf-8"]),
            Some(GraphqlResponse)
        );
        assert_eq!(
            media(&["text/html", "application/graphql-response+json"]),
            Some(GraphqlResponse)
        );
        assert_eq!(
            media(&["*/*", "application/json;q=0"]),
            Some(GraphqlResponse)
        );
        assert_eq!(media(&["text/html, APPLICATION/*;q=0.5"]), Some(Json));
        assert_eq!(media(&["text/html"]), None);
        assert_eq!(media(&["application/json;q=0"]), None);
        assert_eq!(media(&["application/xml, text/*"]), None);
    }
}
