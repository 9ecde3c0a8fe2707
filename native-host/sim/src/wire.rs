//! The wire recorder: when bytes leave the server's socket and when the
//! client's arrive, for measuring a racer's *wire reaction*.
//!
//! The race is decided between the last byte of the page that first shows a
//! listing reaching the client's socket and the first byte of the client's
//! buy POST reaching ours. Both ends are visible here, at the server's TCP
//! socket, below TLS: every accepted connection's `TcpStream` is wrapped in
//! a [`Tap`] that timestamps each completed `write` and each `read` that
//! returns data. On loopback a completed `write(2)` has put the bytes in the
//! peer's receive queue, so "write completed" is "available to the client".
//!
//! Pairing bytes with requests under HTTP/2 multiplexing is done with two
//! flags rather than by decoding frames: the marketplace handler calls
//! [`WireProbe::arm`] when it renders the first page that carries a
//! listing, and the buy handler calls [`WireProbe::answering`] when the
//! POST has been read and is about to be answered. In between:
//!
//! * the first read of at least [`MIN_REQUEST_BYTES`] after a page write is
//!   the start of the POST. Smaller reads are the client's HTTP/2 control
//!   frames (a WINDOW_UPDATE or PING ACK is 13–17 bytes plus 22 of TLS
//!   record overhead); a POST's HEADERS frame with its cookies is several
//!   hundred;
//! * every completed write moves `page_last_byte` forward: the page's
//!   HEADERS and DATA frames are the only thing the server sends until it
//!   answers the POST. A client that fires while the page is still being
//!   written sends its POST *before* the page's last byte: writes after the
//!   POST's first byte still count (when they are page-sized, at least
//!   [`MIN_REQUEST_BYTES`]; a lone END_STREAM frame after the POST would be
//!   missed, which errs towards the slower figure), and the reaction is
//!   negative.
//!
//! Error bars: the read timestamp is taken when the simulator's task runs,
//! which is after the bytes arrived by the time it takes the sim's runtime
//! to wake (epoll → task poll, typically 5–30 µs on an idle core, more on a
//! loaded one). The measure is therefore an upper bound on the client's
//! reaction.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A read this large after the listing page is the client's next request.
pub const MIN_REQUEST_BYTES: usize = 80;

/// The measured pair for the first listing page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireSample {
    /// When the handler rendered the first page with a listing.
    pub armed_at: Instant,
    /// The last completed socket write of that page.
    pub page_last_byte: Instant,
    /// The first read of a request's size after the page began.
    pub post_first_byte: Instant,
    /// Connections accepted between the page and the POST (new TLS
    /// handshakes on the race path; 0 on a warm connection).
    pub handshakes: u64,
    /// The POST came on the connection that carried the page.
    pub same_connection: bool,
    /// Wall-clock times of the arm and of the buy handler taking the POST:
    /// the window in which a packet capture (`tcpdump -i lo`, whose
    /// timestamps are wall-clock too) finds the same pair at the kernel.
    pub armed_wall: SystemTime,
    pub answering_wall: SystemTime,
    /// Where in its TCP stream (1-based byte offset, TLS included) the
    /// page's last byte is, and the POST's first: a capture finds the
    /// packets that carried them by their sequence numbers.
    pub page_end_offset: u64,
    pub post_start_offset: u64,
}

impl WireSample {
    /// First byte of the POST in minus last byte of the page out, in µs:
    /// negative when the POST left before the page was complete.
    pub fn reaction_us(&self) -> f64 {
        if self.post_first_byte >= self.page_last_byte {
            (self.post_first_byte - self.page_last_byte).as_secs_f64() * 1e6
        } else {
            -(self.page_last_byte - self.post_first_byte).as_secs_f64() * 1e6
        }
    }
}

#[derive(Debug, Default)]
struct State {
    armed_at: Option<(Instant, SystemTime)>,
    accepted_at_arm: u64,
    page_last_byte: Option<(Instant, u64)>,
    /// The POST's first read: when, on which connection, and how many
    /// connections had been accepted since the arm.
    post_first_byte: Option<(Instant, u64, u64)>,
    /// The buy handler has the POST (since when): later writes are its
    /// answer.
    answering: Option<SystemTime>,
    page_end_offset: u64,
    post_start_offset: u64,
}

/// Shared by the accept loop, every [`Tap`] and the marketplace handler.
#[derive(Debug, Default)]
pub struct WireProbe {
    /// Fast path: nothing to record until a listing was rendered.
    armed: AtomicBool,
    accepted: AtomicU64,
    state: Mutex<State>,
}

impl WireProbe {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A connection was accepted; returns its id.
    pub fn accepted(&self) -> u64 {
        self.accepted.fetch_add(1, Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }

    /// The first page carrying a listing is being rendered (later calls are
    /// ignored).
    pub fn arm(&self) {
        let mut s = self.state();
        if s.armed_at.is_none() {
            s.armed_at = Some((Instant::now(), SystemTime::now()));
            s.accepted_at_arm = self.connections();
            self.armed.store(true, Ordering::SeqCst);
        }
    }

    /// The buy handler has a POST to answer: the page is over.
    pub fn answering(&self) {
        if self.armed.load(Ordering::Relaxed) {
            let mut s = self.state();
            if s.answering.is_none() {
                s.answering = Some(SystemTime::now());
            }
        }
    }

    /// `n` bytes written on `conn`, `total` written on it so far.
    fn on_write(&self, conn: u64, n: usize, total: u64) {
        if !self.armed.load(Ordering::Relaxed) {
            return;
        }
        let now = Instant::now();
        let mut s = self.state();
        if s.answering.is_some() || (s.post_first_byte.is_some() && n < MIN_REQUEST_BYTES) {
            return;
        }
        s.page_last_byte = Some((now, conn));
        s.page_end_offset = total;
    }

    /// `n` bytes read on `conn`, after `before` bytes read on it earlier.
    fn on_read(&self, conn: u64, n: usize, before: u64) {
        if n < MIN_REQUEST_BYTES || !self.armed.load(Ordering::Relaxed) {
            return;
        }
        let now = Instant::now();
        let accepted = self.connections();
        let mut s = self.state();
        // Before any page write: a request from someone else (there is one
        // client in a bench).
        if s.post_first_byte.is_some() || s.answering.is_some() || s.page_last_byte.is_none() {
            return;
        }
        s.post_first_byte = Some((now, conn, accepted - s.accepted_at_arm));
        s.post_start_offset = before + 1;
    }

    /// The sample, once the POST after the first listing page has arrived
    /// and is being answered.
    pub fn sample(&self) -> Option<WireSample> {
        let s = self.state();
        let answering_wall = s.answering?;
        let (armed_at, armed_wall) = s.armed_at?;
        let (page_last_byte, page_conn) = s.page_last_byte?;
        let (post_first_byte, post_conn, handshakes) = s.post_first_byte?;
        Some(WireSample {
            armed_at,
            page_last_byte,
            post_first_byte,
            handshakes,
            same_connection: page_conn == post_conn,
            armed_wall,
            answering_wall,
            page_end_offset: s.page_end_offset,
            post_start_offset: s.post_start_offset,
        })
    }
}

/// A socket that reports its reads and writes to a [`WireProbe`].
pub struct Tap<S> {
    inner: S,
    probe: Arc<WireProbe>,
    conn: u64,
    /// Bytes written and read on this connection so far (TLS records and
    /// all: what TCP carries, so a packet capture's sequence numbers match).
    written: u64,
    read: u64,
}

impl<S> Tap<S> {
    pub fn new(inner: S, probe: Arc<WireProbe>, conn: u64) -> Tap<S> {
        Tap {
            inner,
            probe,
            conn,
            written: 0,
            read: 0,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tap<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let n = buf.filled().len() - before;
            if n > 0 {
                let before = self.read;
                self.read += n as u64;
                self.probe.on_read(self.conn, n, before);
            }
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tap<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            if n > 0 {
                self.written += n as u64;
                self.probe.on_write(self.conn, n, self.written);
            }
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = polled {
            if n > 0 {
                self.written += n as u64;
                self.probe.on_write(self.conn, n, self.written);
            }
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_recorded_before_the_listing_page() {
        let p = WireProbe::default();
        p.on_write(0, 9000, 0);
        p.on_read(0, 500, 0);
        p.answering();
        assert_eq!(p.sample(), None);
    }

    #[test]
    fn the_pair_is_last_page_write_and_first_request_sized_read() {
        let p = WireProbe::default();
        let c = p.accepted();
        p.arm();
        p.on_write(c, 9000, 0);
        p.on_write(c, 31, 0);
        // A WINDOW_UPDATE in TLS is not the POST.
        p.on_read(c, 35, 0);
        p.on_read(c, 400, 0);
        // Not a sample until the buy handler has the POST.
        assert_eq!(p.sample(), None);
        p.answering();
        let s = p.sample().expect("sample");
        assert!(s.page_last_byte >= s.armed_at);
        assert!(s.post_first_byte >= s.page_last_byte);
        assert!(s.reaction_us() >= 0.0);
        assert_eq!(s.handshakes, 0);
        assert!(s.same_connection);
        // The answer's traffic does not move it.
        p.on_write(c, 9000, 0);
        p.on_read(c, 400, 0);
        assert_eq!(p.sample(), Some(s));
    }

    #[test]
    fn a_post_before_the_pages_end_is_a_negative_reaction() {
        let p = WireProbe::default();
        let c = p.accepted();
        p.arm();
        p.on_write(c, 16_000, 16_500);
        p.on_read(c, 300, 700);
        // More of the page after the POST: counts; a control frame does not.
        p.on_write(c, 16_000, 32_500);
        let page_end = Instant::now();
        p.on_write(c, 31, 32_531);
        p.answering();
        let s = p.sample().expect("sample");
        assert!(s.page_last_byte > s.post_first_byte);
        assert!(s.page_last_byte <= page_end);
        assert!(s.reaction_us() < 0.0);
        // Where a capture finds them: the page's last byte, the POST's first.
        assert_eq!(s.page_end_offset, 32_500);
        assert_eq!(s.post_start_offset, 701);
    }

    #[test]
    fn a_new_connection_before_the_post_is_a_handshake() {
        let p = WireProbe::default();
        let c = p.accepted();
        p.arm();
        p.on_write(c, 6000, 0);
        let d = p.accepted();
        p.on_read(d, 300, 0);
        p.answering();
        let s = p.sample().expect("sample");
        assert_eq!(s.handshakes, 1);
        assert!(!s.same_connection);
    }
}
