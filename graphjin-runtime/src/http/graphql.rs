//! GraphQL over HTTP: `POST` with a JSON body and `GET` with query parameters, each naming
//! an allow-listed operation by `operationName`, persisted-query hash or query text. The
//! answer's media type (`application/json` or `application/graphql-response+json`) follows
//! the request's `Accept` (see [`Media`]).

use std::borrow::Cow;
use std::sync::Arc;

use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::body::{Taken, json_body, malformed, take};
use super::media::Media;
use super::{ApiError, Service, respond};
use crate::Auth;
use crate::catalog::Catalog;
use crate::operation::OpKind;
use crate::vars::{RawVariables, Source, VariablesMember};

/// A GraphQL-over-HTTP POST body. Unknown members are ignored.
#[derive(Deserialize)]
struct PostBody<'a> {
    #[serde(default, borrow)]
    query: Option<Cow<'a, str>>,
    #[serde(default, borrow, rename = "operationName")]
    operation_name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    variables: Option<VariablesMember<'a>>,
    #[serde(default)]
    extensions: Option<Extensions>,
}

/// GET's query parameters; `variables` and `extensions` hold JSON.
#[derive(Deserialize)]
pub(crate) struct GetParams {
    query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

#[derive(Deserialize, Default)]
pub(crate) struct Extensions {
    #[serde(default, rename = "persistedQuery")]
    persisted_query: Option<PersistedQuery>,
}

#[derive(Deserialize)]
struct PersistedQuery {
    #[serde(default, rename = "sha256Hash")]
    sha256_hash: Option<String>,
}

/// What a request says about which operation it wants.
pub(crate) struct Wanted<'a> {
    pub(crate) name: Option<&'a str>,
    pub(crate) query: Option<&'a str>,
    pub(crate) hash: Option<&'a str>,
}

/// `POST {prefix}/v1/graphql`.
pub(crate) async fn post(State(service): State<Arc<Service>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let media = Media::negotiate(&parts.headers);
    match media {
        Ok(media) => {
            media.answer(run_post(&service, take(parts, body, service.body_limit).await).await)
        }
        Err(e) => e.into_response(),
    }
}

async fn run_post(service: &Service, request: Taken) -> Result<Response, ApiError> {
    let Taken {
        headers,
        auth,
        body,
    } = request;
    let body = json_body(&headers, body?)?.ok_or_else(|| {
        ApiError::BadRequest(
            "the request body is empty: send a JSON object with operationName or query".to_owned(),
        )
    })?;
    if body.trim_ascii_start().first() == Some(&b'[') {
        return Err(ApiError::BadRequest(
            "batched requests are not supported: send one operation per request".to_owned(),
        ));
    }
    let request: PostBody<'_> =
        serde_json::from_slice(&body).map_err(|e| malformed("the request body", &e))?;
    let extensions = request.extensions.unwrap_or_default();
    let wanted = Wanted {
        name: request.operation_name.as_deref(),
        query: request.query.as_deref(),
        hash: hash_of(&extensions),
    };
    let index = resolve(service.db.catalog(), &wanted)?;
    check_kind(service, index, false)?;
    let vars = match request.variables {
        Some(member) => member.into_variables()?,
        None => RawVariables::default(),
    };
    respond(service, index, &auth, Source::Raw(&vars)).await
}

/// `GET {prefix}/v1/graphql`: queries only.
pub(crate) async fn get(
    State(service): State<Arc<Service>>,
    auth: Option<Extension<Auth>>,
    headers: HeaderMap,
    params: Result<Query<GetParams>, QueryRejection>,
) -> Response {
    match Media::negotiate(&headers) {
        Ok(media) => media.answer(run_get(&service, auth, params).await),
        Err(e) => e.into_response(),
    }
}

async fn run_get(
    service: &Service,
    auth: Option<Extension<Auth>>,
    params: Result<Query<GetParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let auth = auth.map(|Extension(a)| a).unwrap_or_default();
    let Query(params) = params.map_err(|e| {
        ApiError::BadRequest(format!("invalid query parameters: {}", e.body_text()))
    })?;
    let extensions: Extensions = match params.extensions.as_deref() {
        Some(text) if !text.trim().is_empty() => {
            serde_json::from_str(text).map_err(|e| malformed("the extensions parameter", &e))?
        }
        _ => Extensions::default(),
    };
    let wanted = Wanted {
        name: params.operation_name.as_deref(),
        query: params.query.as_deref(),
        hash: hash_of(&extensions),
    };
    let index = resolve(service.db.catalog(), &wanted)?;
    check_kind(service, index, true)?;
    let vars = match params.variables.as_deref() {
        Some(text) if !text.trim().is_empty() => {
            let raw: &RawValue =
                serde_json::from_str(text).map_err(|e| malformed("the variables parameter", &e))?;
            RawVariables::from_raw(raw)?
        }
        _ => RawVariables::default(),
    };
    respond(service, index, &auth, Source::Raw(&vars)).await
}

pub(crate) fn hash_of(extensions: &Extensions) -> Option<&str> {
    extensions
        .persisted_query
        .as_ref()
        .and_then(|p| p.sha256_hash.as_deref())
        .filter(|h| !h.is_empty())
}

/// Refuses subscriptions over HTTP and, for GET, mutations.
pub(crate) fn check_kind(service: &Service, index: usize, via_get: bool) -> Result<(), ApiError> {
    let op = &service.db.operations()[index];
    match op.kind {
        OpKind::Subscription => Err(ApiError::SubscriptionOverHttp {
            name: op.name,
            path: service.graphql_path(),
        }),
        OpKind::Mutation if via_get => Err(ApiError::MutationViaGet { name: op.name }),
        _ => Ok(()),
    }
}

/// Finds the operation a request wants: by `operationName` (ignoring case), else by
/// persisted-query hash, else by normalized query text. Query text that comes with a name or
/// hash must match the listed operation's.
pub(crate) fn resolve(catalog: &Catalog, wanted: &Wanted<'_>) -> Result<usize, ApiError> {
    let query = wanted.query.filter(|q| !q.trim().is_empty());
    let ops = catalog.operations;
    let text_matches = |index: usize| -> Result<usize, ApiError> {
        match query {
            Some(q) if graphjin_normalize::normalize(q) != ops[index].query => {
                Err(ApiError::QueryMismatch {
                    name: ops[index].name,
                    what: "text",
                })
            }
            _ => Ok(index),
        }
    };

    if let Some(name) = wanted.name.filter(|n| !n.is_empty()) {
        let index = catalog.by_name(name).ok_or_else(|| ApiError::NotAllowed {
            name: name.to_owned(),
        })?;
        if query.is_none()
            && let Some(hash) = wanted.hash
            && !hash.eq_ignore_ascii_case(ops[index].sha256)
        {
            return Err(ApiError::QueryMismatch {
                name: ops[index].name,
                what: "hash",
            });
        }
        return text_matches(index);
    }
    if let Some(hash) = wanted.hash {
        if let Some(index) = catalog.by_hash(hash) {
            return text_matches(index);
        }
        if query.is_none() {
            return Err(ApiError::PersistedQueryNotFound {
                hash: hash.chars().take(64).collect(),
            });
        }
    }
    let Some(query) = query else {
        return Err(ApiError::BadRequest(
            "the request names no operation: send operationName, query, or extensions.persistedQuery.sha256Hash".to_owned(),
        ));
    };
    let normalized = graphjin_normalize::normalize(query);
    if let Some(index) = catalog.by_query(&normalized) {
        return Ok(index);
    }
    match operation_name_in(&normalized) {
        Some(name) => match catalog.by_name(name) {
            Some(index) => Err(ApiError::QueryMismatch {
                name: ops[index].name,
                what: "text",
            }),
            None => Err(ApiError::NotAllowed {
                name: name.to_owned(),
            }),
        },
        None => Err(ApiError::QueryNotAllowed),
    }
}

/// The name in `query NAME ...`, `mutation NAME ...` or `subscription NAME ...`.
fn operation_name_in(text: &str) -> Option<&str> {
    let text = text.trim_start();
    let rest = ["query", "mutation", "subscription"]
        .iter()
        .find_map(|kw| text.strip_prefix(kw))?;
    if !rest.starts_with(|c: char| c.is_whitespace()) {
        return None;
    }
    let rest = rest.trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let name = &rest[..end];
    (!name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit())).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_text() {
        assert_eq!(operation_name_in("query getX { a }"), Some("getX"));
        assert_eq!(
            operation_name_in("mutation m_1($a: Int) { a }"),
            Some("m_1")
        );
        assert_eq!(operation_name_in("subscription S{a}"), Some("S"));
        assert_eq!(operation_name_in("{ a }"), None);
        assert_eq!(operation_name_in("query { a }"), None);
        assert_eq!(operation_name_in("queryX { a }"), None);
    }

    /// The size of `F`, the future `f` returns, without calling it.
    fn future_size<A, B, F>(_: impl Fn(A, B) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    /// axum boxes the handler's future per request, and each level up to it copies it
    /// once: a read that ran out of moves inside `read_moving` once made it hold two
    /// attempts' state (7.4 KB), and `Lease::track` as an `async fn` held its request
    /// twice (4.6 KB; 3.4 without).
    #[test]
    fn the_post_handler_future_stays_small() {
        let size = future_size(|s: State<Arc<Service>>, r: Request| post(s, r));
        assert!(size < 4 * 1024, "the POST handler's future is {size} bytes");
    }
}
