//! A connection's socket under its read deadline: see [`Watched`].

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep, sleep_until};

use super::conns::Slot;

/// A TCP stream that fails reads with [`io::ErrorKind::TimedOut`] once its connection's
/// read deadline (header or idle timeout) passes, and holds the connection's place under the
/// cap until dropped (after an upgrade, when the WebSocket closes).
pub(super) struct Watched {
    stream: TcpStream,
    slot: Slot,
    timer: Option<(Instant, Pin<Box<Sleep>>)>,
}

impl Watched {
    pub(super) fn new(stream: TcpStream, slot: Slot) -> Watched {
        Watched {
            stream,
            slot,
            timer: None,
        }
    }

    /// Whether the deadline passed (else the task is woken when it does).
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = self.slot.conn().read_deadline(cx.waker()) else {
            return false;
        };
        match &mut self.timer {
            Some((at, sleep)) if *at != deadline => {
                *at = deadline;
                sleep.as_mut().reset(deadline);
            }
            Some(_) => {}
            None => self.timer = Some((deadline, Box::pin(sleep_until(deadline)))),
        }
        self.timer
            .as_mut()
            .is_some_and(|(_, sleep)| sleep.as_mut().poll(cx).is_ready())
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.slot.conn().on_bytes();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending if this.expired(cx) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no request within the header or idle timeout",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
