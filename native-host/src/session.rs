//! One HTTP session with the shop, as a browser would hold it.
//!
//! A single `reqwest::Client` per race: rustls, HTTP/2 when the server offers
//! it over ALPN (HTTP/1.1 otherwise), our attribute-keeping cookie [`Jar`],
//! and a pool that keeps the connection warm between polls: idle connections
//! live 60 s (longer than any sane poll interval) and HTTP/2 PINGs keep NATs
//! and the server from dropping it. A warm connection is what makes the buy
//! POST leave in one round trip instead of three.
//!
//! Redirects are never followed automatically: where a buy POST redirects to
//! *is* the outcome (`/checkout/` = won, `/secondhand/` = lost).
//!
//! Page visits ([`Session::get_page`], [`Session::get_following`]) carry the
//! HTTP mechanics the race should not have to think about: one transparent
//! retry when a kept-alive connection turns out to be dead, reading
//! `Retry-After`, following same-origin redirects when asked (and saying so
//! when they loop), reading the body with a size cap. What a status or a
//! redirect *means* stays with the race.
//!
//! Bodies are read chunk by chunk and abandoned past [`MAX_BODY`] (5 MiB; a
//! marketplace page is ~200 KB): a broken proxy streaming garbage must not
//! eat the memory of the machine that holds a won cart. They are decoded as
//! UTF-8 lossily, so a stray invalid byte in a footer does not hide the
//! listings above it. gzip and brotli are accepted as a browser does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{self, HeaderMap, HeaderValue, LOCATION, RETRY_AFTER};
use reqwest::{Client, Method, RequestBuilder};
use url::Url;

use crate::backoff::parse_retry_after;
use crate::config::Config;
use crate::cookies::Jar;
use crate::tls::CertFailure;

/// The largest body we read (decoded). Larger ones are refused unread.
pub const MAX_BODY: usize = 5 * 1024 * 1024;

/// How much of a page a watcher ([`Session::get_page_watching`]) sees as it
/// arrives. A marketplace page with fifty listings is ~200 KB; each look
/// re-checks the UTF-8 of the page so far, so the cost stays bounded on a
/// page that streams megabytes.
pub const WATCH_LIMIT: usize = 1024 * 1024;

pub use crate::config::{Timeouts, CONNECT_TIMEOUT, TOTAL_TIMEOUT};
pub const KEEP_ALIVE: Duration = Duration::from_secs(60);
pub const H2_PING_INTERVAL: Duration = Duration::from_secs(20);

/// A browser of our time, so the shop sees an ordinary visitor.
pub const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36";

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("extra CA certificate is not valid PEM: {0}")]
    BadCertificate(String),
    #[error("could not build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// A page visit that got no usable answer, after the one retry.
///
/// Each variant reads as one log line that names the host and the innermost
/// cause ("cannot connect to 127.0.0.1:8443: connection refused"), because
/// it ends up in a log or in the popup, where that is the interesting part.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No connection: refused, reset, unreachable, TLS failed.
    #[error("cannot connect to {addr}: {cause}")]
    Connect {
        addr: String,
        cause: String,
        #[source]
        source: reqwest::Error,
    },
    /// The connection or the whole request took too long (not retried: the
    /// shop is slow, not gone).
    #[error("no answer from {addr} within {:.1} s ({what})", .after.as_secs_f64())]
    Timeout {
        addr: String,
        /// `connect` or `response`.
        what: &'static str,
        after: Duration,
        #[source]
        source: reqwest::Error,
    },
    /// The request could not be sent or no response came back.
    #[error("{}", error_chain(.0))]
    Send(#[source] reqwest::Error),
    /// The response started but its body broke off.
    #[error("{}", error_chain(.0))]
    Body(#[source] reqwest::Error),
    /// The body is larger than [`MAX_BODY`]; the rest was not read.
    #[error("{addr} sent a response larger than {} MiB; not read", .limit / (1024 * 1024))]
    TooLarge { addr: String, limit: usize },
    /// Same-origin redirects that do not end (a loop, most likely).
    #[error("{url} redirects more than {hops} times (a loop?); not following")]
    TooManyRedirects { url: Url, hops: usize },
}

impl FetchError {
    /// The certificate problem behind this failure, if it was one: a
    /// configuration matter (`--ca-cert`), not a network blip.
    pub fn cert_failure(&self) -> Option<CertFailure> {
        match self {
            FetchError::Connect { source, .. }
            | FetchError::Timeout { source, .. }
            | FetchError::Send(source)
            | FetchError::Body(source) => CertFailure::from_reqwest(source),
            FetchError::TooLarge { .. } | FetchError::TooManyRedirects { .. } => None,
        }
    }
}

/// A response with a body (any status that is not a redirect).
#[derive(Debug, Clone)]
pub struct Page {
    /// Where the body came from (the request URL: redirects are not followed
    /// by the client).
    pub url: Url,
    pub status: u16,
    pub body: String,
    /// From sending the request to having the whole body.
    pub latency: Duration,
    /// The server's `Retry-After`, if it sent a readable one.
    pub retry_after: Option<Duration>,
}

/// A 3xx answer.
#[derive(Debug, Clone)]
pub struct Redirect {
    /// The `Location`, resolved against the request URL; `None` if missing
    /// or unreadable.
    pub location: Option<Url>,
}

/// What one page visit gave us.
#[derive(Debug, Clone)]
pub enum Visit {
    Page(Page),
    Redirect(Redirect),
}

/// The client, its cookie jar and the site's origin.
#[derive(Clone)]
pub struct Session {
    client: Client,
    jar: Arc<Jar>,
    origin: String,
    timeouts: Timeouts,
    /// What [`Session::renew`] builds the next client from.
    tls: rustls::ClientConfig,
    /// Connections opened so far, by this session's clients.
    connects: Arc<AtomicU64>,
}

impl Session {
    /// Build the client for `cfg`'s shop, trusting the system roots, the
    /// file named by `SSL_CERT_FILE` (if set) and `cfg.extra_roots_pem`.
    pub fn new(cfg: &Config) -> Result<Session, SessionError> {
        let jar = Arc::new(Jar::new());
        let mut pems = cfg.extra_roots_pem.clone();
        if let Some(path) = std::env::var_os("SSL_CERT_FILE") {
            if let Ok(pem) = std::fs::read(&path) {
                pems.push(pem);
            }
        }
        // Platform roots + these PEMs as roots and exact pins (see `tls`).
        let tls = crate::tls::client_config(&pems)
            .map_err(|e| SessionError::BadCertificate(e.to_string()))?;
        let connects = Arc::new(AtomicU64::new(0));
        Ok(Session {
            client: build_client(&jar, cfg.timeouts, tls.clone(), &connects)?,
            jar,
            origin: cfg.origin(),
            timeouts: cfg.timeouts,
            tls,
            connects,
        })
    }

    /// Drop the kept-alive connection: the next request opens a fresh one
    /// (same cookies, same trust). Servers close a connection after so many
    /// requests (nginx: 1000); renewing it between polls, before that,
    /// keeps the close (and the new handshake) off the race path.
    pub fn renew(&mut self) -> Result<(), SessionError> {
        self.client = build_client(&self.jar, self.timeouts, self.tls.clone(), &self.connects)?;
        Ok(())
    }

    /// How many connections this session has opened (each one a TCP and
    /// TLS handshake), whoever asked for them: a renewal, or reqwest after
    /// the server closed the last one.
    pub fn connections_opened(&self) -> u64 {
        self.connects.load(Ordering::Relaxed)
    }

    pub fn jar(&self) -> &Jar {
        &self.jar
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `scheme://host[:port]` of the shop.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// A top-level page visit (what a click on a link sends).
    pub fn navigate(&self, url: &Url, referer: Option<&Url>) -> RequestBuilder {
        let mut req = self
            .client
            .request(Method::GET, url.clone())
            .header("sec-fetch-dest", "document")
            .header("sec-fetch-mode", "navigate")
            .header("sec-fetch-user", "?1")
            .header("upgrade-insecure-requests", "1");
        match referer {
            Some(r) => {
                req = req
                    .header(header::REFERER, r.as_str())
                    .header("sec-fetch-site", "same-origin")
            }
            None => req = req.header("sec-fetch-site", "none"),
        }
        req
    }

    /// GET `url` as a page visit, without following redirects. Retries once,
    /// at once, if the connection broke (a GOAWAY or a dropped keep-alive
    /// connection is not news); a timeout or an oversized body is not
    /// retried.
    pub async fn get_page(&self, url: &Url, referer: Option<&Url>) -> Result<Visit, FetchError> {
        self.get_page_watching(url, referer, None).await.0
    }

    /// [`get_page`](Self::get_page), showing a 200 page that came over
    /// HTTP/2 to `watch` as it arrives: after each chunk, the page so far
    /// (its valid UTF-8 prefix).
    /// Once `watch` returns true (it started something that must not wait
    /// for the rest of the page: the buy POST) it is not called again, this
    /// task yields once so the connection task can write what was queued,
    /// and the page is read to its end as usual.
    ///
    /// The second value says whether `watch` fired. After a fire nothing is
    /// retried (the request that fired is spent), so a body that breaks off
    /// later is returned as the error it is, next to `true`.
    pub async fn get_page_watching(
        &self,
        url: &Url,
        referer: Option<&Url>,
        mut watch: Option<&mut (dyn FnMut(&str) -> bool + Send)>,
    ) -> (Result<Visit, FetchError>, bool) {
        let mut retried = false;
        let mut fired = false;
        let result = loop {
            let started = Instant::now();
            let resp = match self.navigate(url, referer).send().await {
                Ok(r) => r,
                Err(e) if e.is_timeout() => break Err(self.timeout(url, e)),
                Err(_) if !retried => {
                    retried = true;
                    continue;
                }
                Err(e) if e.is_connect() => break Err(connect_error(url, e)),
                Err(e) => break Err(FetchError::Send(e)),
            };
            let status = resp.status();
            if status.is_redirection() {
                let location = resp
                    .headers()
                    .get(LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| url.join(l).ok());
                break Ok(Visit::Redirect(Redirect { location }));
            }
            let retry_after = resp
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now()));
            let final_url = resp.url().clone();
            // Only a 200 page can offer something to buy, and only HTTP/2
            // can carry a POST beside a page still arriving: over HTTP/1.1
            // the connection is busy until the page ends, and a POST fired
            // early would wait for a second connection's handshakes.
            let watch = match (status, resp.version()) {
                (reqwest::StatusCode::OK, reqwest::Version::HTTP_2) => watch.as_deref_mut(),
                _ => None,
            };
            match read_capped(resp, MAX_BODY, watch, &mut fired).await {
                Ok(body) => {
                    break Ok(Visit::Page(Page {
                        url: final_url,
                        status: status.as_u16(),
                        body,
                        latency: started.elapsed(),
                        retry_after,
                    }))
                }
                Err(BodyError::TooLarge) => {
                    break Err(FetchError::TooLarge {
                        addr: addr(url),
                        limit: MAX_BODY,
                    })
                }
                Err(BodyError::Read(e)) if e.is_timeout() => break Err(self.timeout(url, e)),
                Err(BodyError::Read(_)) if !retried && !fired => retried = true,
                Err(BodyError::Read(e)) => break Err(FetchError::Body(e)),
            }
        };
        (result, fired)
    }

    /// [`get_page`](Self::get_page), following up to `max_hops` redirects
    /// that stay on the same origin (each hop sent without a Referer, as a
    /// browser's redirect of a typed URL would be). A redirect elsewhere is
    /// returned as it is, never followed: our cookies stay on this origin.
    /// A same-origin redirect still pending after `max_hops` is
    /// [`FetchError::TooManyRedirects`].
    pub async fn get_following(
        &self,
        url: &Url,
        referer: Option<&Url>,
        max_hops: usize,
    ) -> Result<Visit, FetchError> {
        let mut visit = self.get_page(url, referer).await?;
        let mut at = url.clone();
        let mut hops = 0;
        while let Visit::Redirect(Redirect {
            location: Some(next),
        }) = &visit
        {
            if next.origin() != at.origin() {
                break;
            }
            if hops == max_hops {
                return Err(FetchError::TooManyRedirects {
                    url: url.clone(),
                    hops: max_hops,
                });
            }
            hops += 1;
            let next = next.clone();
            visit = self.get_page(&next, None).await?;
            at = next;
        }
        Ok(visit)
    }

    fn timeout(&self, url: &Url, source: reqwest::Error) -> FetchError {
        let (what, after) = if source.is_connect() {
            ("connect", self.timeouts.connect)
        } else {
            ("response", self.timeouts.total)
        };
        FetchError::Timeout {
            addr: addr(url),
            what,
            after,
            source,
        }
    }

    /// A form submission from `page` (what pressing "Buy" sends).
    pub fn submit(&self, action: &Url, page: &Url, form: &[(&str, &str)]) -> RequestBuilder {
        self.client
            .request(Method::POST, action.clone())
            .header(header::ORIGIN, self.origin.as_str())
            .header(header::REFERER, page.as_str())
            .header("sec-fetch-dest", "document")
            .header("sec-fetch-mode", "navigate")
            .header("sec-fetch-site", "same-origin")
            .header("sec-fetch-user", "?1")
            .form(form)
    }
}

/// The one place the reqwest client is configured (see the module docs):
/// for [`Session::new`] and each [`Session::renew`].
fn build_client(
    jar: &Arc<Jar>,
    timeouts: Timeouts,
    tls: rustls::ClientConfig,
    connects: &Arc<AtomicU64>,
) -> Result<Client, SessionError> {
    Ok(Client::builder()
        .use_rustls_tls()
        .cookie_provider(Arc::new(JarStore(jar.clone())))
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.total)
        .pool_idle_timeout(KEEP_ALIVE)
        .tcp_keepalive(KEEP_ALIVE)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(H2_PING_INTERVAL)
        .http2_keep_alive_timeout(Duration::from_secs(10))
        .http2_keep_alive_while_idle(true)
        .user_agent(USER_AGENT)
        .default_headers(browser_headers())
        .use_preconfigured_tls(tls)
        .connector_layer(tower::util::MapRequestLayer::new(count_connects(
            connects.clone(),
        )))
        .build()?)
}

/// Passes each connection request through, counting it.
fn count_connects<R>(connects: Arc<AtomicU64>) -> impl Fn(R) -> R + Clone {
    move |dst| {
        connects.fetch_add(1, Ordering::Relaxed);
        dst
    }
}

/// reqwest's view of our [`Jar`]: the jar lives in `pretix-race-core`
/// (pure, fuzzed, mutation-tested); this adapter is the only place it meets
/// reqwest's header types.
struct JarStore(Arc<Jar>);

impl reqwest::cookie::CookieStore for JarStore {
    fn set_cookies(&self, headers: &mut dyn Iterator<Item = &HeaderValue>, url: &Url) {
        for h in headers {
            if let Ok(s) = h.to_str() {
                self.0.store(s, url);
            }
        }
    }

    fn cookies(&self, url: &Url) -> Option<HeaderValue> {
        self.0
            .header_for(url)
            .and_then(|h| HeaderValue::from_str(&h).ok())
    }
}

fn browser_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    let mut put = |k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    put(
        "accept",
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    );
    put("accept-language", "en-US,en;q=0.9,de;q=0.8");
    put(
        "sec-ch-ua",
        "\"Chromium\";v=\"142\", \"Google Chrome\";v=\"142\", \"Not_A Brand\";v=\"99\"",
    );
    put("sec-ch-ua-mobile", "?0");
    put("sec-ch-ua-platform", "\"Linux\"");
    h
}

/// Why a body was not read.
enum BodyError {
    TooLarge,
    Read(reqwest::Error),
}

/// The body, at most `limit` bytes, decoded lossily as UTF-8. A declared
/// length over the limit is refused before reading a byte; an undeclared
/// one (chunked, compressed) is abandoned as soon as it passes the limit.
///
/// Until it fires, `watch` sees the body so far after every chunk (see
/// [`Session::get_page_watching`]); `fired` is set when it does.
async fn read_capped<'w>(
    mut resp: reqwest::Response,
    limit: usize,
    mut watch: Option<&mut (dyn FnMut(&str) -> bool + Send + 'w)>,
    fired: &mut bool,
) -> Result<String, BodyError> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Read)? {
        if buf.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        buf.extend_from_slice(&chunk);
        if buf.len() > WATCH_LIMIT {
            // Far past where a marketplace page shows its listings: the
            // whole page is read as usual.
            watch = None;
        }
        if let Some(w) = watch.as_mut() {
            if w(utf8_prefix(&buf)) {
                *fired = true;
                watch = None;
                // Let the connection task write what the watcher queued
                // before this task reads on (the rest of the page may be
                // buffered already, and would be read without a pause).
                tokio::task::yield_now().await;
            }
        }
    }
    Ok(match String::from_utf8(buf) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// The longest prefix of `buf` that is valid UTF-8: a chunk may end inside
/// a character, and a stray invalid byte hides only what follows it.
fn utf8_prefix(buf: &[u8]) -> &str {
    match std::str::from_utf8(buf) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&buf[..e.valid_up_to()]).unwrap_or_default(),
    }
}

/// `host:port` of `url`, for messages.
fn addr(url: &Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => url.to_string(),
    }
}

/// A connect failure named by its innermost cause.
fn connect_error(url: &Url, source: reqwest::Error) -> FetchError {
    let mut cause = None;
    let mut src: Option<&dyn std::error::Error> = Some(&source);
    while let Some(e) = src {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            cause = Some(match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                std::io::ErrorKind::ConnectionReset => "connection reset".to_owned(),
                std::io::ErrorKind::ConnectionAborted => "connection aborted".to_owned(),
                _ => io.to_string(),
            });
        }
        src = e.source();
    }
    let cause = cause.unwrap_or_else(|| {
        let chain = error_chain(&source);
        chain.rsplit(": ").next().unwrap_or(&chain).to_owned()
    });
    FetchError::Connect {
        addr: addr(url),
        cause,
        source,
    }
}

/// An error with its causes, e.g. "error sending request: connection refused".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}
