//! [`RefuseOversizedLayer`]: a 413 for a request whose `Content-Length` announces a body
//! over the limit, before any of it is read. A plain tower service: it neither clones the
//! route nor boxes a future per request.

use std::future::{Ready, ready};
use std::task::{Context, Poll};

use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderMap, Request};
use axum::response::{IntoResponse, Response};
use futures_util::future::Either;
use tower_layer::Layer;
use tower_service::Service;

use super::ApiError;

/// Answers 413 (and closes the connection) when `Content-Length` announces a body over
/// `limit`, before reading any of it: the client learns at once instead of after sending
/// it, and a huge announced length with no body behind it does not hold the request open.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefuseOversizedLayer {
    limit: usize,
}

impl RefuseOversizedLayer {
    /// Refuses bodies announced over `limit` bytes.
    pub(crate) fn new(limit: usize) -> Self {
        RefuseOversizedLayer { limit }
    }
}

impl<S> Layer<S> for RefuseOversizedLayer {
    type Service = RefuseOversized<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RefuseOversized {
            inner,
            limit: self.limit,
        }
    }
}

/// The service [`RefuseOversizedLayer`] wraps around routes.
#[derive(Debug, Clone)]
pub(crate) struct RefuseOversized<S> {
    inner: S,
    limit: usize,
}

impl<S, B> Service<Request<B>> for RefuseOversized<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let limit = self.limit;
        if announced_length(request.headers()).is_some_and(|len| len > limit as u64) {
            return Either::Left(ready(Ok(
                ApiError::PayloadTooLarge { limit }.into_response()
            )));
        }
        Either::Right(self.inner.call(request))
    }
}

/// The `Content-Length` a request announces, if it is a number (hyper refuses malformed
/// and conflicting ones before routing).
fn announced_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn announced_lengths() {
        let mut h = HeaderMap::new();
        assert_eq!(announced_length(&h), None);
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("1048577"));
        assert_eq!(announced_length(&h), Some(1_048_577));
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("lots"));
        assert_eq!(announced_length(&h), None);
    }
}
