//! Bodies as [`serve`](super::serve) wraps them: a request body under the body timeout
//! ([`TimedBody`]) and a response body that marks its connection idle once sent
//! ([`TrackedBody`]).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep, sleep_until};

use super::conns::Conn;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The request body did not arrive within the body timeout.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within the body timeout")]
pub(super) struct BodyTimedOut;

/// A request body that fails with [`BodyTimedOut`] (and raises its flag) when it has not
/// arrived whole by its deadline.
pub(super) struct TimedBody {
    inner: Incoming,
    deadline: Option<Instant>,
    sleep: Option<Pin<Box<Sleep>>>,
    timed_out: Arc<AtomicBool>,
}

impl TimedBody {
    /// `inner`, due by `deadline` (`None`: no deadline); `timed_out` is set when it is missed.
    pub(super) fn new(
        inner: Incoming,
        deadline: Option<Instant>,
        timed_out: Arc<AtomicBool>,
    ) -> TimedBody {
        TimedBody {
            inner,
            deadline,
            sleep: None,
            timed_out,
        }
    }
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if this.timed_out.load(Ordering::Acquire) {
            return Poll::Ready(Some(Err(Box::new(BodyTimedOut))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => {
                let Some(deadline) = this.deadline else {
                    return Poll::Pending;
                };
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(sleep_until(deadline)));
                if sleep.as_mut().poll(cx).is_ready() {
                    this.timed_out.store(true, Ordering::Release);
                    return Poll::Ready(Some(Err(Box::new(BodyTimedOut))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that tells its connection the request is over when dropped (after
/// hyper wrote it, or gave up on it).
pub(super) struct TrackedBody<B> {
    inner: B,
    conn: Arc<Conn>,
}

impl<B> TrackedBody<B> {
    pub(super) fn new(inner: B, conn: Arc<Conn>) -> TrackedBody<B> {
        TrackedBody { inner, conn }
    }
}

impl<B> Drop for TrackedBody<B> {
    fn drop(&mut self) {
        self.conn.end_request();
    }
}

impl<B> Body for TrackedBody<B>
where
    B: Body + Unpin,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
