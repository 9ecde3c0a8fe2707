//! Request recording: the outermost middleware.
//!
//! Tests need to assert on what a client *sent* (did it send `Origin`? which
//! cookies? which HTTP version?) and on what the server answered, so every
//! request is logged with its response status once the handler is done. The
//! middleware also does the request parsing every handler needs (cookies,
//! urlencoded form, host) exactly once and hands it down as a [`Ctx`].

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use tokio::sync::watch;

use super::cookies;
use super::pages;

/// Bodies larger than this are refused (a buy form is ~100 bytes).
const MAX_BODY: usize = 64 * 1024;

/// How many requests the log keeps (oldest dropped first): `demo --serve`
/// may run for days, and nothing may grow without bound.
pub const MAX_RECORDS: usize = 20_000;

/// The request log and the host check that runs before every handler.
pub struct Recorder {
    /// `127.0.0.1:PORT` and `localhost:PORT` (Django's ALLOWED_HOSTS).
    allowed_hosts: Vec<String>,
    log: Mutex<VecDeque<RecordedRequest>>,
    /// Bumped after every recorded request, so waiters wake up without
    /// polling.
    version: watch::Sender<u64>,
}

impl Recorder {
    pub fn new(allowed_hosts: Vec<String>) -> Recorder {
        Recorder {
            allowed_hosts,
            log: Mutex::new(VecDeque::new()),
            version: watch::channel(0).0,
        }
    }

    /// Locks the log, ignoring poisoning: a panic elsewhere must not turn
    /// every later request into a panic too.
    fn log(&self) -> MutexGuard<'_, VecDeque<RecordedRequest>> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, r: RecordedRequest) {
        {
            let mut log = self.log();
            if log.len() == MAX_RECORDS {
                log.pop_front();
            }
            log.push_back(r);
        }
        self.version.send_modify(|v| *v += 1);
    }

    /// The requests so far, oldest first.
    pub fn records(&self) -> Vec<RecordedRequest> {
        self.log().iter().cloned().collect()
    }

    /// Waits until a recorded request matches `pred`, earlier ones included.
    pub async fn wait_for(&self, pred: impl Fn(&RecordedRequest) -> bool) -> RecordedRequest {
        let mut version = self.version.subscribe();
        loop {
            // Mark the current version seen *before* scanning: a request
            // recorded after the scan then still wakes `changed()`.
            version.borrow_and_update();
            if let Some(r) = self.log().iter().find(|r| pred(r)) {
                return r.clone();
            }
            if version.changed().await.is_err() {
                // The sender lives as long as `self`; this cannot happen.
                std::future::pending::<()>().await;
            }
        }
    }
}

/// One request as the server saw it, with the status it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// `HTTP/2.0` or `HTTP/1.1`.
    pub version: String,
    /// Header names are lowercase; repeated headers appear repeatedly.
    pub headers: Vec<(String, String)>,
    pub cookies: BTreeMap<String, String>,
    /// The decoded body if it was `application/x-www-form-urlencoded`.
    pub form: Option<BTreeMap<String, String>>,
    pub status: u16,
    pub location: Option<String>,
}

impl RecordedRequest {
    /// The first value of a header (name matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What handlers get from the middleware.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub cookies: BTreeMap<String, String>,
    pub form: Option<BTreeMap<String, String>>,
    pub query: BTreeMap<String, String>,
    /// `host:port` the request was addressed to, already checked against
    /// the allowed hosts.
    pub host: String,
    pub origin: Option<String>,
    pub referer: Option<String>,
    /// Path plus `?query`, for the language switcher links.
    pub path_and_query: String,
}

impl Ctx {
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }
    pub fn form_field(&self, name: &str) -> Option<&str> {
        self.form.as_ref()?.get(name).map(String::as_str)
    }
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }
}

/// Decodes `a=1&b=2`; a repeated name keeps its last value, like Django's
/// `QueryDict.__getitem__`.
fn decode_pairs(input: &[u8]) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(input).into_owned().collect()
}

fn is_urlencoded(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn plain_error(status: StatusCode, text: &str) -> Response {
    (status, Html(pages::proxy_error_page(text))).into_response()
}

pub async fn record(State(rec): State<Arc<Recorder>>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let method = parts.method.to_string();
    let path = parts.uri.path().to_owned();
    let version = format!("{:?}", parts.version);
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
            (k.as_str().to_owned(), value)
        })
        .collect();
    let cookies = cookies::parse(&parts.headers);
    let query = parts.uri.query().map(str::to_owned);
    // HTTP/2 carries the host in the `:authority` pseudo-header (which
    // hyper puts into the URI), HTTP/1.1 in `Host`.
    let host = parts
        .uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| header_str(&parts.headers, header::HOST));
    let urlencoded = is_urlencoded(&parts.headers);

    let body = axum::body::to_bytes(body, MAX_BODY).await;
    let form = match (&body, urlencoded) {
        (Ok(bytes), true) => Some(decode_pairs(bytes)),
        _ => None,
    };

    let mut response = match (body, host) {
        (Err(_), _) => plain_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "413 Request Entity Too Large",
        ),
        // Django refuses requests for hosts not in ALLOWED_HOSTS.
        (_, Some(host)) if !rec.allowed_hosts.contains(&host) => {
            plain_error(StatusCode::BAD_REQUEST, "400 Bad Request")
        }
        (_, None) => plain_error(StatusCode::BAD_REQUEST, "400 Bad Request"),
        (Ok(_), Some(host)) => {
            let ctx = Ctx {
                cookies: cookies.clone(),
                form: form.clone(),
                query: decode_pairs(query.as_deref().unwrap_or("").as_bytes()),
                host,
                origin: header_str(&parts.headers, header::ORIGIN),
                referer: header_str(&parts.headers, header::REFERER),
                path_and_query: parts
                    .uri
                    .path_and_query()
                    .map(|pq| pq.as_str().to_owned())
                    .unwrap_or_else(|| parts.uri.path().to_owned()),
            };
            parts.extensions.insert(Arc::new(ctx));
            // Handlers read the parsed form from `Ctx`, not the body.
            next.run(Request::from_parts(parts, Body::empty())).await
        }
    };
    response
        .headers_mut()
        .insert(header::SERVER, HeaderValue::from_static("openresty"));

    rec.push(RecordedRequest {
        method,
        path,
        query,
        version,
        headers,
        cookies,
        form,
        status: response.status().as_u16(),
        location: header_str(response.headers(), header::LOCATION),
    });
    response
}
