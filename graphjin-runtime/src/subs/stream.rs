//! [`Subscription`]: one in-process subscriber as a stream of results.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::Stream;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio::time::{Sleep, sleep};

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
/// - When the caller's credentials expire ([`crate::Auth::expires_at`]), the stream yields
///   [`Error::CredentialsExpired`] and ends (at once if they expired before it started).
/// - The stream ends when the registry shuts down. Dropping it unsubscribes.
#[must_use = "a subscription does nothing unless polled"]
pub struct Subscription<D> {
    state: State,
    operation: &'static str,
    decode: fn(&'static str, Bytes) -> Result<D, Error>,
    /// When the caller's credentials expire.
    expires_at: Option<SystemTime>,
    /// The timer that wakes the stream at `expires_at`, set at the first poll (a tokio
    /// timer needs the runtime, which the caller of `subscribe` may not be in).
    deadline: Option<Pin<Box<Sleep>>>,
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
        expires_at: Option<SystemTime>,
    ) -> Self {
        Subscription {
            state: State::Starting(start),
            operation,
            decode,
            expires_at,
            deadline: None,
        }
    }

    /// Whether the caller's credentials have expired; otherwise the timer will wake `cx`
    /// when they do.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(at) = self.expires_at else {
            return false;
        };
        if self.deadline.is_none() {
            match at.duration_since(SystemTime::now()) {
                Ok(left) if !left.is_zero() => self.deadline = Some(Box::pin(sleep(left))),
                _ => return true,
            }
        }
        self.deadline
            .as_mut()
            .is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready())
    }

    /// The next result, or `None` once the subscription has ended.
    pub async fn recv(&mut self) -> Option<Result<D, Error>> {
        std::future::poll_fn(|cx| self.poll_item(cx)).await
    }

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<D, Error>>> {
        if !matches!(self.state, State::Done) && self.expired(cx) {
            // Dropping the start or the ticket leaves the poller.
            self.state = State::Done;
            self.deadline = None;
            return Poll::Ready(Some(Err(Error::CredentialsExpired {
                operation: self.operation,
            })));
        }
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
