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
//! * **Trouble**: scripted 429/409/503 answers, session resets and rotated
//!   CSRF secrets, all scripted by a [`Scenario`].
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
mod market;
mod pages;
mod record;
mod scenario;
mod tls;

#[cfg(test)]
mod tests;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

pub use record::RecordedRequest;
pub use scenario::{LinkStyle, LostStyle, Scenario, Scripted, ScriptedListing, Trigger};

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
        tokio::spawn(accept_loop(
            listener,
            TlsAcceptor::from(identity.config),
            app::router(shared.clone()),
            shared.drops.clone(),
            cancel.clone(),
        ));
        tracing::info!(url = %shared.site.event_url(), "sim: marketplace simulator listening");
        Ok(SimServer {
            addr,
            cert_pem: identity.cert_pem,
            shared,
            cancel,
        })
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

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: axum::Router,
    drops: tokio::sync::watch::Sender<u64>,
    cancel: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            // `biased`: once shut down, never accept another connection.
            biased;
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((tcp, _peer)) => {
                tokio::spawn(serve_connection(
                    tcp,
                    acceptor.clone(),
                    app.clone(),
                    drops.subscribe(),
                    cancel.clone(),
                ));
            }
            // E.g. too many open files; the next accept may well succeed.
            Err(e) => tracing::debug!(error = %e, "sim: accept failed"),
        }
    }
    // The listener is dropped here: the port stops accepting.
}

/// TLS handshake, then HTTP/1.1 or HTTP/2 as negotiated by ALPN, until the
/// client hangs up or the server shuts down.
async fn serve_connection(
    tcp: TcpStream,
    acceptor: TlsAcceptor,
    app: axum::Router,
    mut drops: tokio::sync::watch::Receiver<u64>,
    cancel: CancellationToken,
) {
    let _ = tcp.set_nodelay(true);
    let tls = tokio::select! {
        biased;
        _ = cancel.cancelled() => return,
        tls = acceptor.accept(tcp) => match tls {
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
    let connection = builder.serve_connection(TokioIo::new(tls), TowerToHyperService::new(app));
    tokio::select! {
        // `biased`: after shutdown, not one more request is served.
        biased;
        _ = cancel.cancelled() => {}
        // Scripted hang-up: drop the connection without a word.
        _ = drops.changed() => tracing::debug!("sim: dropping a connection"),
        result = connection => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "sim: connection ended with an error");
            }
        }
    }
}
