//! [`ObserveLayer`]: one span per request, its request id, one `info` line when it ends,
//! and the request's metrics.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::MatchedPath;
use axum::http::header::HeaderName;
use axum::http::{Request, Response};
use pin_project_lite::pin_project;
use tokio::task::futures::TaskLocalFuture;
use tower_layer::Layer;
use tower_service::Service;
use tracing::Span;
use tracing::field::Empty;

use super::context::{self, RequestInfo};
use super::metrics::Table;
use super::request_id::{self, RequestId};

/// `x-request-id`, made once at compile time (`from_static` checks the name each call).
const HEADER: HeaderName = HeaderName::from_static(request_id::HEADER);

/// The longest unmatched path written to the log.
const MAX_PATH: usize = 128;

/// Wraps each request in a span (`request_id`, `method`, `path` — the route, never the
/// query string —, `operation`, `kind`, `role`), answers with its `x-request-id`, writes one
/// `info` line when it ends (`status`, `duration_ms`, `db_ms`) and feeds the metrics.
///
/// The request id is the client's `x-request-id` when it is 1 to 128 visible ASCII
/// characters, else a new one; either way it replaces the request's header (so actions
/// that forward `X-Request-Id` pass it on) and is in the response's. Headers, cookies,
/// credentials and variables are never logged.
///
/// [`crate::router`] puts it around every route it serves.
#[derive(Clone)]
pub struct ObserveLayer {
    metrics: Option<Arc<Table>>,
}

impl std::fmt::Debug for ObserveLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObserveLayer")
            .field("metrics", &self.metrics.is_some())
            .finish()
    }
}

impl Default for ObserveLayer {
    /// Spans, request ids and the closing line, without metrics: for routes of your own
    /// beside [`crate::router`]'s.
    fn default() -> Self {
        ObserveLayer::new(None)
    }
}

impl ObserveLayer {
    /// A layer that logs and, with `metrics`, counts.
    pub(crate) fn new(metrics: Option<Table>) -> Self {
        ObserveLayer {
            metrics: metrics.map(Arc::new),
        }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service [`ObserveLayer`] wraps around routes.
#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
    metrics: Option<Arc<Table>>,
}

impl<S> std::fmt::Debug for Observe<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observe").finish_non_exhaustive()
    }
}

impl<S, B, R> Service<Request<B>> for Observe<S>
where
    S: Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = ObserveFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        // The clock is read only for what reads the times: the closing line (at `info`,
        // this module's target) or the metrics.
        let timed = self.metrics.is_some() || tracing::enabled!(tracing::Level::INFO);
        let started = timed.then(Instant::now);
        let header = HEADER;
        let id = RequestId::from_header(req.headers().get(&header));
        req.headers_mut().insert(header, id.header_value().clone());
        let span = {
            let path = match req.extensions().get::<MatchedPath>() {
                Some(p) => p.as_str(),
                None => bounded(req.uri().path()),
            };
            // At error level, so that warnings and errors carry the request id whatever
            // the configured level; its one `info` line is filtered as usual.
            tracing::error_span!(
                "request",
                request_id = %id,
                method = %req.method(),
                path,
                operation = Empty,
                kind = Empty,
                role = Empty,
            )
        };
        req.extensions_mut().insert(id.clone());
        let info = Arc::new(RequestInfo::new(timed));
        // The inner service was polled ready; its future owns what it needs, so no clone
        // of the service is made per request.
        let work = {
            let _entered = span.enter();
            tracing::debug!("request started");
            context::scope(info.clone(), self.inner.call(req))
        };
        ObserveFuture {
            work,
            span,
            ended: Some(Ended {
                started,
                id,
                info,
                metrics: self.metrics.clone(),
            }),
        }
    }
}

/// What the closing line and the metrics need once the response is ready.
struct Ended {
    /// When the request came in; `None` when nothing reads its times.
    started: Option<Instant>,
    id: RequestId,
    info: Arc<RequestInfo>,
    metrics: Option<Arc<Table>>,
}

pin_project! {
    /// The future of [`Observe`]: the inner service's, run in the request's span and
    /// context; on its response, the `x-request-id` header, the closing `info` line and the
    /// metrics. Not boxed: one allocation less per request.
    pub struct ObserveFuture<F> {
        #[pin]
        work: TaskLocalFuture<Arc<RequestInfo>, F>,
        span: Span,
        ended: Option<Ended>,
    }
}

impl<F> std::fmt::Debug for ObserveFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObserveFuture").finish_non_exhaustive()
    }
}

impl<F, R, E> Future for ObserveFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = Result<Response<R>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let mut response = match this.work.poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(response)) => response,
        };
        if let Some(ended) = this.ended.take() {
            let elapsed = ended.started.map(|s| s.elapsed()).unwrap_or_default();
            response
                .headers_mut()
                .insert(HEADER, ended.id.header_value().clone());
            let status = response.status().as_u16();
            tracing::info!(
                status,
                duration_ms = elapsed.as_secs_f64() * 1e3,
                db_ms = ended
                    .info
                    .db_nanos
                    .load(std::sync::atomic::Ordering::Relaxed) as f64
                    / 1e6,
                "request finished"
            );
            if let Some(table) = &ended.metrics {
                table.record(&ended.info, status, elapsed);
            }
        }
        Poll::Ready(Ok(response))
    }
}

/// At most [`MAX_PATH`] bytes of `path`, cut at a character boundary.
fn bounded(path: &str) -> &str {
    if path.len() <= MAX_PATH {
        return path;
    }
    let mut end = MAX_PATH;
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    &path[..end]
}
