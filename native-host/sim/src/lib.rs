#![forbid(unsafe_code)]
//! A simulated pretix "secondhand" ticket marketplace.
//!
//! Racing for resale tickets can't be practised against the real shop (you
//! would be buying tickets, and hammering a production site), yet a client
//! that was only ever run against a lenient mock tends to fail on the day.
//! This crate is the middle ground: a real HTTPS server on `127.0.0.1` that
//! behaves like the live site in every way the race depends on, and refuses
//! requests the live site would refuse. It backs `pretix-race demo` and the
//! integration tests.
//!
//! What makes it faithful:
//!
//! * **Transport**: TLS with a fresh self-signed certificate (`tls.rs`), ALPN
//!   `h2` + `http/1.1`, and HTTP/2 really spoken when negotiated.
//! * **Pages**: markup derived from captured pages (`pages.rs` and
//!   `templates/`): same panels, titles, absolute buy-form actions.
//! * **Sessions & CSRF**: the three cookies with the live attributes
//!   (`cookies.rs`); Django's masked tokens and origin checks (`csrf.rs`).
//!   A buy without a matching cookie, token, `Origin` and `Referer` is a 403.
//! * **Races**: listings appear on a schedule, may be sniped by a competitor,
//!   and two buyers of one listing are strictly ordered (`market.rs`).
//! * **Trouble**: scripted 429/409/5xx answers, empty, endless, oversized
//!   and mis-encoded bodies, redirect loops and off-site redirects, session
//!   resets and rotated CSRF secrets, all scripted by a [`Scenario`]; TLS
//!   handshakes that never complete (`Scenario::stalled_handshakes`), and a
//!   front that restarts ([`SimServer::pause_accepting`]: connections are
//!   refused until [`SimServer::resume_accepting`] binds the same port).
//! * **Measurement**: every connection's TCP stream passes through a
//!   recorder (`wire.rs`) that timestamps the last byte of the first page
//!   with a listing going out and the first byte of the buy POST coming in
//!   ([`SimServer::wire_sample`]), and counts accepted connections: the
//!   wire-reaction bench reads both.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use pretix_race_sim::{Scenario, SimServer};
//! let server = SimServer::start(Scenario::demo()).await?;
//! println!("open {} (trust this cert:\n{})", server.event_url(), server.cert_pem());
//! # Ok(()) }
//! ```
//!
//! Everything runs on loopback; nothing here ever talks to a real site.

mod app;
mod cookies;
mod csrf;
mod i18n;
mod market;
mod pages;
mod record;
mod scenario;
mod tls;
mod wire;

#[cfg(test)]
mod tests;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

pub use record::RecordedRequest;
pub use scenario::{
    Lang, LinkStyle, LostStyle, Scenario, Scripted, ScriptedListing, TaskOutcome, Trigger,
};
pub use wire::{WireProbe, WireSample, MIN_REQUEST_BYTES};

/// A listing that changed hands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sale {
    pub listing_id: String,
    /// The buyer's `__Host-pretix_session` value, or `"competitor"`.
    pub session: String,
}

/// A running simulator. Dropping it shuts it down.
pub struct SimServer {
    addr: SocketAddr,
    cert_pem: String,
    shared: Arc<app::Shared>,
    cancel: CancellationToken,
    front: Front,
    /// The running accept loop (`None` while paused) and its own token.
    accepting: Mutex<Option<(CancellationToken, tokio::task::JoinHandle<()>)>>,
}

/// What the accept loop needs; cloned into each (re)started loop.
#[derive(Clone)]
struct Front {
    acceptor: TlsAcceptor,
    app: axum::Router,
    drops: tokio::sync::watch::Sender<u64>,
    /// This many first connections never get a TLS answer.
    stalled_handshakes: u64,
    /// Counts connections (across restarts) and timestamps their bytes.
    wire: Arc<WireProbe>,
    /// `Scenario::max_requests_per_connection`.
    max_requests: Option<u64>,
    /// Connections closed because they reached `max_requests`.
    closed_at_limit: Arc<AtomicU64>,
}

impl SimServer {
    /// Generates a certificate, binds `127.0.0.1:0` and starts serving
    /// `scenario` in the background (on the current tokio runtime).
    pub async fn start(scenario: Scenario) -> std::io::Result<SimServer> {
        let identity = tls::generate(scenario.http2)?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(app::Shared::new(scenario, addr.port()));
        let cancel = CancellationToken::new();
        let front = Front {
            acceptor: TlsAcceptor::from(identity.config),
            app: app::router(shared.clone()),
            drops: shared.drops.clone(),
            stalled_handshakes: shared.scenario.stalled_handshakes,
            wire: shared.wire.clone(),
            max_requests: shared.scenario.max_requests_per_connection,
            closed_at_limit: Arc::default(),
        };
        let server = SimServer {
            addr,
            cert_pem: identity.cert_pem,
            shared,
            cancel,
            front,
            accepting: Mutex::new(None),
        };
        server.spawn_accept_loop(listener);
        tracing::info!(url = %server.shared.site.event_url(), "sim: marketplace simulator listening");
        Ok(server)
    }

    fn spawn_accept_loop(&self, listener: TcpListener) {
        let token = self.cancel.child_token();
        let task = tokio::spawn(accept_loop(listener, self.front.clone(), token.clone()));
        let mut accepting = self.accepting.lock().unwrap_or_else(|e| e.into_inner());
        *accepting = Some((token, task));
    }

    /// The TLS front goes down, as in a restart: the listening socket is
    /// closed (new connections are refused) and every open connection is
    /// dropped. Returns once the port is closed.
    pub async fn pause_accepting(&self) {
        let running = self
            .accepting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some((token, task)) = running {
            token.cancel();
            let _ = task.await;
        }
        self.shared.drops.send_modify(|g| *g += 1);
        tracing::info!("sim: front paused, connections refused");
    }

    /// The front is back: listen on the same port again (and, since the
    /// certificate is the same, clients simply reconnect).
    pub async fn resume_accepting(&self) -> std::io::Result<()> {
        let listener = TcpListener::bind(self.addr).await?;
        self.spawn_accept_loop(listener);
        tracing::info!("sim: front resumed");
        Ok(())
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        self.shared.site.base_url.clone()
    }

    /// `https://127.0.0.1:PORT/org/event/`
    pub fn event_url(&self) -> String {
        self.shared.site.event_url()
    }

    /// `https://127.0.0.1:PORT/org/event/secondhand/`
    pub fn marketplace_url(&self) -> String {
        format!(
            "{}{}",
            self.shared.site.base_url,
            self.shared.site.marketplace_path()
        )
    }

    /// The server's self-signed certificate, PEM-encoded, for clients to
    /// trust (e.g. `reqwest::Certificate::from_pem`).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Every request so far, in the order their responses were completed.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.recorder.records()
    }

    /// The first recorded request matching `pred`, waiting for it if
    /// necessary. Event-driven, no polling; wrap it in
    /// `tokio::time::timeout` if the request might never come.
    pub async fn wait_for_request(
        &self,
        pred: impl Fn(&RecordedRequest) -> bool,
    ) -> RecordedRequest {
        self.shared.recorder.wait_for(pred).await
    }

    /// Every sale so far, in order.
    pub fn sold(&self) -> Vec<Sale> {
        self.shared.market().sales.clone()
    }

    /// The wire recorder's pair for the first page that carried a listing:
    /// its last byte out, the buy POST's first byte in (see [`WireProbe`]).
    pub fn wire_sample(&self) -> Option<WireSample> {
        self.shared.wire.sample()
    }

    /// Connections closed because they had carried
    /// [`Scenario::max_requests_per_connection`] requests.
    pub fn connections_closed_at_limit(&self) -> u64 {
        self.front.closed_at_limit.load(Ordering::SeqCst)
    }

    /// Resolves once a buy POST has reached the buy handler (at once if
    /// one already has): for tests that act at that moment.
    pub fn buy_posted(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut buys = self.shared.buys.subscribe();
        async move {
            let _ = buys.wait_for(|n| *n > 0).await;
        }
    }

    /// For each [`Scripted::HeldTail`] page whose tail has been sent, in
    /// order: `true` if a buy POST released it, `false` if the hold ran out.
    pub fn held_tails(&self) -> Vec<bool> {
        self.shared
            .held_tails
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// TCP connections accepted so far (each one a TLS handshake).
    pub fn connections_accepted(&self) -> u64 {
        self.shared.wire.connections()
    }

    /// Marketplace GETs served so far (all sessions, scripted ones included).
    pub fn marketplace_polls(&self) -> u64 {
        self.shared.market().marketplace_gets
    }

    /// Stops accepting connections and drops the open ones. Idempotent.
    pub fn shutdown(&self) {
        self.cancel.cancel();
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn accept_loop(listener: TcpListener, front: Front, cancel: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            // `biased`: once shut down, never accept another connection.
            biased;
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((tcp, _peer)) => {
                let _ = tcp.set_nodelay(true);
                let n = front.wire.accepted();
                if n < front.stalled_handshakes {
                    // Hold the socket open and say nothing until shutdown.
                    let cancel = cancel.clone();
                    tokio::spawn(async move {
                        cancel.cancelled().await;
                        drop(tcp);
                    });
                    continue;
                }
                tokio::spawn(serve_connection(
                    wire::Tap::new(tcp, front.wire.clone(), n),
                    front.clone(),
                    cancel.clone(),
                ));
            }
            // E.g. too many open files; the next accept may well succeed.
            Err(e) => tracing::debug!(error = %e, "sim: accept failed"),
        }
    }
    // The listener is dropped here: the port stops accepting.
}

/// Passes requests through, counting them; the `max`-th wakes `last`.
fn count_requests<B>(
    max: Option<u64>,
    last: Arc<tokio::sync::Notify>,
) -> impl Fn(axum::http::Request<B>) -> axum::http::Request<B> + Clone {
    let served = Arc::new(AtomicU64::new(0));
    move |req| {
        let n = served.fetch_add(1, Ordering::SeqCst) + 1;
        if Some(n) == max {
            last.notify_one();
        }
        req
    }
}

/// TLS handshake, then HTTP/1.1 or HTTP/2 as negotiated by ALPN, until the
/// client hangs up, the connection has carried its last request, or the
/// server shuts down.
async fn serve_connection(tcp: wire::Tap<TcpStream>, front: Front, cancel: CancellationToken) {
    let mut drops = front.drops.subscribe();
    let tls = tokio::select! {
        biased;
        _ = cancel.cancelled() => return,
        tls = front.acceptor.accept(tcp) => match tls {
            Ok(tls) => tls,
            Err(e) => {
                tracing::debug!(error = %e, "sim: TLS handshake failed");
                return;
            }
        },
    };
    // Honour the ALPN result like a real server: a client that negotiated
    // h2 must speak h2, one that negotiated http/1.1 must not. Without ALPN,
    // auto-detect from the connection preface.
    let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    let builder = auto::Builder::new(TokioExecutor::new());
    let builder = match alpn.as_deref() {
        Some(b"h2") => builder.http2_only(),
        Some(b"http/1.1") => builder.http1_only(),
        _ => builder,
    };
    // Count this connection's requests; the last one allowed starts a
    // graceful close (it is still answered), as nginx does.
    let last_request = Arc::new(tokio::sync::Notify::new());
    let app = tower::ServiceBuilder::new()
        .map_request(count_requests(front.max_requests, last_request.clone()))
        .service(front.app.clone());
    let connection = builder.serve_connection(TokioIo::new(tls), TowerToHyperService::new(app));
    tokio::pin!(connection);
    let mut closing = false;
    loop {
        tokio::select! {
            // `biased`: after shutdown, not one more request is served.
            biased;
            _ = cancel.cancelled() => break,
            // Scripted hang-up: drop the connection without a word.
            _ = drops.changed() => {
                tracing::debug!("sim: dropping a connection");
                break;
            }
            _ = last_request.notified(), if !closing => {
                closing = true;
                front.closed_at_limit.fetch_add(1, Ordering::SeqCst);
                connection.as_mut().graceful_shutdown();
            }
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "sim: connection ended with an error");
                }
                break;
            }
        }
    }
}
