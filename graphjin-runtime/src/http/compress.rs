//! [`CompressLayer`]: responses compressed with gzip or br as the client accepts, at level
//! 5 (brotli's default, 11, is far too slow for responses made per request; GraphJin uses
//! gzip at 6). Small bodies (under 32 bytes), images, gRPC and event streams stay
//! uncompressed.
//!
//! A request without `Accept-Encoding` skips the compressor: its response gets only the
//! `Vary: Accept-Encoding` the compressor would have added, and none of its per-response
//! state (several kilobytes of encoder, boxed with the body).

use std::task::{Context, Poll};

use axum::body::Body;
use axum::body::HttpBody as _;
use axum::http::header::{
    ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, VARY,
};
use axum::http::{Request, Response};
use futures_util::FutureExt;
use futures_util::future::{Either, Map};
use tower_http::compression::{Compression, CompressionBody, CompressionLayer};
use tower_layer::Layer;
use tower_service::Service;

/// Compresses responses when `on`; see the module docs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CompressLayer {
    on: bool,
}

impl CompressLayer {
    /// Compression on or off (`http_compress`).
    pub(crate) fn new(on: bool) -> Self {
        CompressLayer { on }
    }
}

impl<S> Layer<S> for CompressLayer {
    type Service = Compress<S>;

    fn layer(&self, inner: S) -> Self::Service {
        if self.on {
            Compress::On(
                CompressionLayer::new()
                    .quality(tower_http::CompressionLevel::Precise(5))
                    .layer(inner),
            )
        } else {
            Compress::Off(inner)
        }
    }
}

/// The service [`CompressLayer`] wraps around routes. It holds one copy of the route, not
/// two: axum clones the whole chain per request.
#[derive(Clone)]
pub(crate) enum Compress<S> {
    /// Compression on; the route is inside the compressor.
    On(Compression<S>),
    /// Compression off.
    Off(S),
}

impl<S> std::fmt::Debug for Compress<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compress")
            .field("on", &matches!(self, Compress::On(_)))
            .finish_non_exhaustive()
    }
}

type Plain<E> = fn(Result<Response<Body>, E>) -> Result<Response<Body>, E>;
type Boxed<E> = fn(Result<Response<CompressionBody<Body>>, E>) -> Result<Response<Body>, E>;

impl<S, B> Service<Request<B>> for Compress<S>
where
    S: Service<Request<B>, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Either<
        Map<S::Future, Plain<S::Error>>,
        Map<<Compression<S> as Service<Request<B>>>::Future, Boxed<S::Error>>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match self {
            // The compressor is ready when the route is.
            Compress::On(c) => c.poll_ready(cx),
            Compress::Off(inner) => inner.poll_ready(cx),
        }
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        match self {
            Compress::On(c) if request.headers().contains_key(ACCEPT_ENCODING) => {
                Either::Right(c.call(request).map(boxed::<S::Error> as Boxed<S::Error>))
            }
            Compress::On(c) => Either::Left(
                c.get_mut()
                    .call(request)
                    .map(vary::<S::Error> as Plain<S::Error>),
            ),
            Compress::Off(inner) => Either::Left(
                inner
                    .call(request)
                    .map(plain::<S::Error> as Plain<S::Error>),
            ),
        }
    }
}

/// The compressor's response, its body boxed into a [`Body`].
fn boxed<E>(r: Result<Response<CompressionBody<Body>>, E>) -> Result<Response<Body>, E> {
    r.map(|response| response.map(Body::new))
}

/// What tower-http's `DefaultPredicate` decides, with one look at the content type
/// instead of three: not under 32 bytes (when the size is known), not gRPC, not an image
/// other than SVG, not an event stream.
fn would_compress(response: &Response<Body>) -> bool {
    let size = response.body().size_hint().exact().or_else(|| {
        response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok())
    });
    if size.is_some_and(|n| n < 32) {
        return false;
    }
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let image = content_type.starts_with("image/") && !content_type.contains("image/svg+xml");
    !(content_type.starts_with("application/grpc")
        || image
        || content_type.starts_with("text/event-stream"))
}

/// Compression off: the response as it is.
fn plain<E>(r: Result<Response<Body>, E>) -> Result<Response<Body>, E> {
    r
}

/// Compression on, but the client accepts none: `Vary: Accept-Encoding` where the
/// compressor would have put it (a response it would compress for another client).
fn vary<E>(r: Result<Response<Body>, E>) -> Result<Response<Body>, E> {
    r.map(|mut response| {
        let headers = response.headers();
        let compressible = !headers.contains_key(CONTENT_ENCODING)
            && !headers.contains_key(CONTENT_RANGE)
            && would_compress(&response);
        let said = headers.get_all(VARY).iter().any(|v| {
            v.as_bytes()
                .windows(ACCEPT_ENCODING.as_str().len())
                .any(|w| w.eq_ignore_ascii_case(ACCEPT_ENCODING.as_str().as_bytes()))
        });
        if compressible && !said {
            response.headers_mut().append(VARY, ACCEPT_ENCODING.into());
        }
        response
    })
}

#[cfg(test)]
mod tests {
    use tower_http::compression::predicate::{DefaultPredicate, Predicate};

    use super::*;

    /// `would_compress` decides as tower-http's `DefaultPredicate` does.
    #[test]
    fn decides_as_the_default_predicate() {
        let types = [
            None,
            Some("application/json"),
            Some("application/graphql-response+json"),
            Some("application/grpc"),
            Some("application/grpc+proto"),
            Some("image/png"),
            Some("image/svg+xml"),
            Some("text/event-stream"),
            Some("text/html; charset=utf-8"),
        ];
        for content_type in types {
            for body in [
                "",
                "short",
                &"x".repeat(31),
                &"x".repeat(32),
                &"y".repeat(500),
            ] {
                let mut response = Response::new(Body::from(body.to_owned()));
                if let Some(t) = content_type {
                    response
                        .headers_mut()
                        .insert(CONTENT_TYPE, t.parse().expect("header"));
                }
                assert_eq!(
                    would_compress(&response),
                    DefaultPredicate::new().should_compress(&response),
                    "{content_type:?}, {} bytes",
                    body.len()
                );
            }
        }
    }
}
