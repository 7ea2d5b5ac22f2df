//! [`Subscription`]: one in-process subscriber as a stream of results.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::Stream;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use super::{Delivery, Event, Lag, Ticket};
use crate::Error;

type Starting = Pin<Box<dyn Future<Output = Result<Running, Error>> + Send>>;

/// A started subscriber: its queue, its overflow flag and its membership.
pub(crate) struct Running {
    pub(crate) rx: mpsc::Receiver<Delivery>,
    pub(crate) lag: Arc<Lag>,
    /// Held so that dropping the stream leaves the poller.
    pub(crate) _ticket: Ticket,
    pub(crate) capacity: usize,
}

enum State {
    Starting(Starting),
    Running(Running),
    Done,
}

/// One subscriber's results: the current `data` first, then each change, as a
/// [`Stream`] of `Result<D, Error>` (or with [`Subscription::recv`], no stream
/// crate needed). Made by [`super::Subscriptions::subscribe`] and by generated
/// `subscribe()` functions; it starts when first polled.
///
/// - An error that ends the subscription (bad variables, no statement for the caller's
///   role, the subscriber fell behind: [`Error::Lagged`]) is the last item.
/// - A database outage is an item of its own; the stream goes on and the next good poll
///   brings the result again.
/// - The stream ends when the registry shuts down. Dropping it unsubscribes.
#[must_use = "a subscription does nothing unless polled"]
pub struct Subscription<D> {
    state: State,
    operation: &'static str,
    decode: fn(&'static str, Bytes) -> Result<D, Error>,
}

impl<D> fmt::Debug for Subscription<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Starting(_) => "starting",
            State::Running(_) => "running",
            State::Done => "done",
        };
        f.debug_struct("Subscription")
            .field("operation", &self.operation)
            .field("state", &state)
            .finish()
    }
}

impl<D> Subscription<D> {
    pub(crate) fn new(
        start: Starting,
        operation: &'static str,
        decode: fn(&'static str, Bytes) -> Result<D, Error>,
    ) -> Self {
        Subscription {
            state: State::Starting(start),
            operation,
            decode,
        }
    }

    /// The next result, or `None` once the subscription has ended.
    pub async fn recv(&mut self) -> Option<Result<D, Error>> {
        std::future::poll_fn(|cx| self.poll_item(cx)).await
    }

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<D, Error>>> {
        loop {
            match &mut self.state {
                State::Starting(start) => match ready!(start.as_mut().poll(cx)) {
                    Ok(running) => self.state = State::Running(running),
                    Err(e) => {
                        self.state = State::Done;
                        return Poll::Ready(Some(Err(e)));
                    }
                },
                State::Running(running) => match ready!(running.rx.poll_recv(cx)) {
                    Some(Delivery { event, .. }) => {
                        return Poll::Ready(Some(match event {
                            Event::Data(bytes) => (self.decode)(self.operation, bytes),
                            Event::Errors(e) => Err(*e),
                            Event::Fatal(e) => {
                                self.state = State::Done;
                                Err(*e)
                            }
                        }));
                    }
                    None => {
                        let lagged = running.lag.is_tripped();
                        let capacity = running.capacity;
                        self.state = State::Done;
                        if lagged {
                            return Poll::Ready(Some(Err(Error::Lagged {
                                operation: self.operation,
                                capacity,
                            })));
                        }
                        return Poll::Ready(None);
                    }
                },
                State::Done => return Poll::Ready(None),
            }
        }
    }
}

impl<D> Stream for Subscription<D> {
    type Item = Result<D, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_item(cx)
    }
}

/// Deserializes a result into the generated `Data` type.
pub(crate) fn decode_json<D: DeserializeOwned>(
    operation: &'static str,
    bytes: Bytes,
) -> Result<D, Error> {
    serde_json::from_slice(&bytes).map_err(|source| Error::Decode { operation, source })
}

/// Keeps a result's raw JSON.
pub(crate) fn raw(_: &'static str, bytes: Bytes) -> Result<Bytes, Error> {
    Ok(bytes)
}
