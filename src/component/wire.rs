//! The link's socket as tokio-xmpp sees it, with our own write buffer in
//! front. tokio-xmpp serialises every stanza through its item encoder (and
//! xmpp-parsers' payloads through minidom); on the fan-out path we write
//! stanzas we already hold as bytes, a whole batch in one `write()`. The
//! stream only reaches this type through `&self`, hence the mutex: it is
//! only ever taken by the link's own task, so it is never contended.

use std::io;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, BufReader, ReadBuf};
use tokio::net::TcpStream;

/// A buffer kept after a flush up to this size; a burst's larger one is
/// given back.
const KEEP: usize = 256 * 1024;

pub struct Wire {
    socket: BufReader<TcpStream>,
    pending: Mutex<Vec<u8>>,
    /// How much of `pending` the socket has taken.
    sent: usize,
}

impl Wire {
    pub fn new(socket: TcpStream) -> Wire {
        Wire {
            socket: BufReader::new(socket),
            pending: Mutex::new(Vec::new()),
            sent: 0,
        }
    }

    /// Appends serialised stanzas; they leave on the next flush.
    pub fn push(&self, bytes: &[u8]) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
    }
}

impl AsyncRead for Wire {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().socket).poll_read(cx, buf)
    }
}

impl AsyncBufRead for Wire {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        Pin::new(&mut self.get_mut().socket).poll_fill_buf(cx)
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        Pin::new(&mut self.get_mut().socket).consume(amt)
    }
}

impl AsyncWrite for Wire {
    /// tokio-xmpp's own output (handshake, stream footer) joins the same
    /// buffer, so everything leaves in the order it was written.
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let pending = this.pending.get_mut().unwrap_or_else(|e| e.into_inner());
        while this.sent < pending.len() {
            let n = ready!(Pin::new(&mut this.socket).poll_write(cx, &pending[this.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            this.sent += n;
        }
        pending.clear();
        if pending.capacity() > KEEP {
            pending.shrink_to(KEEP);
        }
        this.sent = 0;
        Pin::new(&mut this.socket).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.get_mut().socket).poll_shutdown(cx)
    }
}
