//! The simulated pretix application: routes and request handlers.
//!
//! Each handler reads like the rule it implements; the state changes live in
//! [`Market`], the markup in [`pages`], the CSRF rules in [`csrf`]. Handlers
//! never panic on client input: anything unexpected becomes a 4xx.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Extension, Router};
use tokio::sync::watch;
use tokio::time::Instant;

use super::cookies::{self, CSRF, PROXY, SESSION};
use super::csrf::{self, Failure};
use super::market::CartLine;
use super::market::{Market, SessionState, Visit, COMPETITOR};
use super::pages::{self, Filter, ShownListing, Site};
use super::record::{self, Ctx, Recorder};
use super::scenario::{LinkStyle, LostStyle, Scenario, Scripted, TaskOutcome};

/// How long a won ticket stays reserved in the cart (pretix's default).
const RESERVATION: Duration = Duration::from_secs(10 * 60);

/// Everything the handlers share.
pub struct Shared {
    pub scenario: Scenario,
    pub site: Site,
    started: Instant,
    market: Mutex<Market>,
    /// Every request with its answer, for tests (the recording middleware).
    pub recorder: Arc<Recorder>,
    /// Bumped to make every open connection drop (see `Scripted::DropConnection`).
    pub drops: watch::Sender<u64>,
    /// Scripted asynchronous buy tasks and their error messages.
    tasks: Mutex<Tasks>,
    /// Socket timestamps around the first page with a listing (benches).
    pub wire: Arc<super::wire::WireProbe>,
    /// Bumped by every buy POST (a held page tail waits for it).
    pub(crate) buys: watch::Sender<u64>,
    /// For each [`Scripted::HeldTail`] page whose tail was sent: released
    /// by a buy POST (`true`) or by the timeout (`false`).
    pub(crate) held_tails: Mutex<Vec<bool>>,
}

/// pretix's task queue, as far as the buy form uses it.
#[derive(Default)]
struct Tasks {
    /// By task id (what `?async_id=` carries).
    running: HashMap<String, Task>,
    next_id: u64,
    /// Sessions whose next marketplace render shows the task's error
    /// message (Django's `messages.error`).
    flash: HashSet<String>,
}

/// One queued buy.
struct Task {
    /// Waiting pages still to serve before the task is done.
    pending: u32,
    outcome: TaskOutcome,
    session: String,
}

/// Locks a mutex, ignoring poisoning: a panic elsewhere must not turn every
/// later request into a panic too.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn new(scenario: Scenario, port: u16) -> Self {
        let site = Site {
            base_url: format!("https://127.0.0.1:{port}"),
            event_path: format!("/{}/{}/", scenario.organizer, scenario.event),
            event_name: scenario.event_name.clone(),
            lang: scenario.language,
        };
        Shared {
            market: Mutex::new(Market::new(&scenario)),
            scenario,
            site,
            started: Instant::now(),
            recorder: Arc::new(Recorder::new(vec![
                format!("127.0.0.1:{port}"),
                format!("localhost:{port}"),
            ])),
            drops: watch::channel(0).0,
            tasks: Mutex::new(Tasks::default()),
            wire: Arc::default(),
            buys: watch::channel(0).0,
            held_tails: Mutex::new(Vec::new()),
        }
    }

    pub fn market(&self) -> MutexGuard<'_, Market> {
        lock(&self.market)
    }

    fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    fn is_ours(&self, org: &str, event: &str) -> bool {
        org == self.scenario.organizer && event == self.scenario.event
    }
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/{org}/{event}/", get(event_page))
        .route("/{org}/{event}/secondhand/", get(marketplace))
        .route(
            "/{org}/{event}/secondhand/buy/{id}/",
            post(buy).get(buy_followup),
        )
        .route("/{org}/{event}/checkout/start", get(checkout_start))
        .route(
            "/{org}/{event}/checkout/questions/",
            get(checkout_questions),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(middleware::from_fn_with_state(
            shared.recorder.clone(),
            record::record,
        ))
        .with_state(shared)
}

// ---------------------------------------------------------------------------
// Response helpers

fn html(status: StatusCode, body: String) -> Response {
    (status, Html(body)).into_response()
}

/// A 302 (Django's `redirect()`; axum's `Redirect::to` would be a 303).
fn found(location: &str) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// Appends `Set-Cookie` headers, one per cookie (never folded into one).
fn with_cookies(mut response: Response, set_cookies: Vec<String>) -> Response {
    for c in set_cookies {
        if let Ok(value) = HeaderValue::from_str(&c) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

async fn not_found() -> Response {
    html(StatusCode::NOT_FOUND, pages::not_found_page())
}

fn csrf_failure(site: &Site, failure: &Failure) -> Response {
    tracing::debug!(reason = %failure.reason(), "sim: CSRF failure");
    html(
        StatusCode::FORBIDDEN,
        pages::csrf_failure_page(site, &failure.reason()),
    )
}

/// The cookies a page response sets, following Django: a new session sets
/// both `__Host-` cookies; a page that embeds a CSRF token re-sends the
/// csrftoken cookie (renewing its expiry); the front proxy sets its own
/// cookie whenever the request lacks it.
fn page_cookies(ctx: &Ctx, visit: &Visit, renders_token: bool) -> Vec<String> {
    let now = SystemTime::now();
    let mut out = Vec::new();
    if visit.new || renders_token {
        out.push(cookies::set_csrf(&visit.csrf_secret, now));
    }
    if visit.new {
        out.push(cookies::set_session(&visit.key, now));
    }
    out.extend(proxy_cookie(ctx));
    out
}

fn proxy_cookie(ctx: &Ctx) -> Option<String> {
    (ctx.cookie(PROXY).is_none()).then(|| cookies::set_proxy(&cookies::new_proxy_id()))
}

// ---------------------------------------------------------------------------
// Handlers

/// `GET /{org}/{event}/`: the event page, with the marketplace link once the
/// scenario says so. Always leaves the visitor with a valid session.
async fn event_page(
    State(sh): State<Arc<Shared>>,
    Path((org, event)): Path<(String, String)>,
    Extension(ctx): Extension<Arc<Ctx>>,
) -> Response {
    if !sh.is_ours(&org, &event) {
        return not_found().await;
    }
    let (visit, show_link) = {
        let mut m = sh.market();
        let served_before = m.event_gets;
        m.event_gets += 1;
        if let Some(scripted) = sh.scenario.scripted_for_event(m.event_gets) {
            drop(m);
            return fault_response(&ctx, scripted)
                .unwrap_or_else(|| scripted_response(&sh, scripted));
        }
        let show = sh
            .scenario
            .marketplace_link
            .fired(served_before, sh.elapsed());
        (m.visit(ctx.cookie(SESSION)), show)
    };
    let href = show_link.then(|| match sh.scenario.link_style {
        LinkStyle::Absolute => format!("{}{}", sh.site.base_url, sh.site.marketplace_path()),
        LinkStyle::RootRelative => sh.site.marketplace_path(),
        LinkStyle::Relative => "secondhand/".to_owned(),
    });
    let token = csrf::mask(&visit.csrf_secret);
    let body = pages::event_page(&sh.site, href.as_deref(), &token);
    with_cookies(html(StatusCode::OK, body), page_cookies(&ctx, &visit, true))
}

/// The front proxy's (or pretix's) answer instead of the marketplace page.
fn scripted_response(sh: &Shared, scripted: &Scripted) -> Response {
    match scripted {
        Scripted::TooManyRequests => html(
            StatusCode::TOO_MANY_REQUESTS,
            pages::proxy_error_page("429 Too Many Requests"),
        ),
        Scripted::Conflict { retry_after } => {
            let mut r = html(
                StatusCode::CONFLICT,
                pages::proxy_error_page("409 Conflict"),
            );
            if let Ok(v) = HeaderValue::from_str(retry_after) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        Scripted::Unavailable => html(
            StatusCode::SERVICE_UNAVAILABLE,
            pages::proxy_error_page("503 Service Temporarily Unavailable"),
        ),
        Scripted::RedirectToEvent => found(&sh.site.event_path),
        Scripted::OddPage => html(
            StatusCode::OK,
            "<!DOCTYPE html><html><head><title>Maintenance</title></head>\n\
             <body><h1>We'll be right back</h1><p>The shop is being updated.</p></body></html>\n"
                .to_owned(),
        ),
        Scripted::ClearCookies => with_cookies(
            html(
                StatusCode::OK,
                pages::marketplace_page(
                    &sh.site,
                    &sh.site.marketplace_path(),
                    &Filter {
                        items: item_choices(&sh.scenario),
                        selected_item: None,
                        selected_sort: None,
                    },
                    &[],
                ),
            ),
            cookies::delete_all(),
        ),
        // Only the marketplace handler can hang up; elsewhere a dropped
        // connection looks like a bad gateway.
        Scripted::DropConnection => html(
            StatusCode::BAD_GATEWAY,
            pages::proxy_error_page("502 Bad Gateway"),
        ),
        Scripted::GatewayTimeout => html(
            StatusCode::GATEWAY_TIMEOUT,
            pages::proxy_error_page("504 Gateway Time-out"),
        ),
        // Outside the buy form these mean "the shop is overloaded".
        Scripted::BusyPage
        | Scripted::AsyncTask { .. }
        | Scripted::CartExpired
        | Scripted::RedirectOffsite(_) => busy_page(),
        // Faults that need the request are answered by `fault_response`;
        // reaching here without one (a buy POST) is a bad gateway.
        _ => html(
            StatusCode::BAD_GATEWAY,
            pages::proxy_error_page("502 Bad Gateway"),
        ),
    }
}

/// pretix's answer when its workers are all taken (HTTP 503).
fn busy_page() -> Response {
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        include_str!("templates/busy.html").to_owned(),
    )
}

/// The transport-level and odd-status faults (see [`Scripted`]): `None` for
/// the ones `scripted_response` answers, or that transform the real page.
fn fault_response(ctx: &Ctx, scripted: &Scripted) -> Option<Response> {
    use axum::body::Body;
    use futures_util::stream::{self, StreamExt};
    type Chunk = Result<Vec<u8>, std::convert::Infallible>;
    let ok_html = |body: Body| {
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
            .body(body)
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
    };
    Some(match scripted {
        Scripted::Status {
            status,
            retry_after,
        } => {
            let code = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY);
            let line = format!(
                "{} {}",
                code.as_u16(),
                code.canonical_reason().unwrap_or("")
            );
            let mut r = html(code, pages::proxy_error_page(&line));
            if let Some(v) = retry_after
                .as_deref()
                .and_then(|v| HeaderValue::from_str(v).ok())
            {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        Scripted::EmptyOk => ok_html(Body::empty()),
        Scripted::Oversized { bytes } => {
            const CHUNK: usize = 64 * 1024;
            let n = bytes.div_ceil(CHUNK);
            ok_html(Body::from_stream(stream::iter(
                (0..n).map(|_| Chunk::Ok(vec![b' '; CHUNK])),
            )))
        }
        Scripted::StallBody => ok_html(Body::from_stream(
            stream::once(async { Chunk::Ok(b"<!DOCTYPE html><html><head>".to_vec()) })
                .chain(stream::pending()),
        )),
        Scripted::RedirectTo(url) => found(url),
        Scripted::RedirectLoop => found(&ctx.path_and_query),
        _ => return None,
    })
}

/// The real page, sent oddly: with invalid UTF-8 (a lone continuation
/// byte, an overlong encoding, a truncated sequence) in a comment before
/// the markup, or compressed as a proxy in front of pretix would.
fn transformed_page(scripted: &Scripted, body: String) -> Response {
    use std::io::Write;
    let mut bytes = body.into_bytes();
    let mut encoding = None;
    match scripted {
        Scripted::InvalidUtf8 => {
            let mut odd = b"<!-- \x80\xc0\xaf\xe2\x82 -->\n".to_vec();
            odd.append(&mut bytes);
            bytes = odd;
        }
        Scripted::Gzip => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            if gz.write_all(&bytes).is_ok() {
                bytes = gz.finish().unwrap_or_default();
            }
            encoding = Some("gzip");
        }
        Scripted::Brotli => {
            let mut br = brotli::CompressorWriter::new(Vec::new(), 4096, 5, 22);
            if br.write_all(&bytes).is_ok() {
                bytes = br.into_inner();
            }
            encoding = Some("br");
        }
        _ => {}
    }
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8");
    if let Some(e) = encoding {
        builder = builder.header(header::CONTENT_ENCODING, e);
    }
    builder
        .body(axum::body::Body::from(bytes))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// [`Scripted::HeldTail`]: the page up to the end of its first buy form,
/// then the rest once a buy POST came in (when `buy_releases`) or `hold`
/// passed ([`Scripted::StalledTail`]: only the latter).
fn held_tail_page(sh: &Arc<Shared>, body: String, hold: Duration, buy_releases: bool) -> Response {
    use axum::body::Bytes;
    use futures_util::StreamExt;
    let cut = body
        .find("secondhand/buy/")
        .and_then(|at| {
            body[at..]
                .find("</form>")
                .map(|end| at + end + "</form>".len())
        })
        .unwrap_or(body.len());
    let mut bytes = body.into_bytes();
    let tail = Bytes::from(bytes.split_off(cut));
    let head = Bytes::from(bytes);
    // Subscribed before the head is sent: a POST cannot slip past unseen.
    let mut buys = sh.buys.subscribe();
    let sh = Arc::clone(sh);
    let rest = async move {
        let by_buy = if buy_releases {
            tokio::time::timeout(hold, buys.changed()).await.is_ok()
        } else {
            tokio::time::sleep(hold).await;
            false
        };
        sh.held_tails
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(by_buy);
        Ok::<_, std::convert::Infallible>(tail)
    };
    let stream = futures_util::stream::once(std::future::ready(Ok(head)))
        .chain(futures_util::stream::once(rest));
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(axum::body::Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// `GET /{org}/{event}/secondhand/`: the marketplace.
async fn marketplace(
    State(sh): State<Arc<Shared>>,
    Path((org, event)): Path<(String, String)>,
    Extension(ctx): Extension<Arc<Ctx>>,
) -> Response {
    if !sh.is_ours(&org, &event) {
        return not_found().await;
    }
    let sc = &sh.scenario;
    let n = {
        let mut m = sh.market();
        m.marketplace_gets += 1;
        m.marketplace_gets
    };
    if sc.scripted_for_poll(n) == Some(&Scripted::DropConnection) {
        // Every connection task hangs up, this request's included; it is
        // never answered.
        sh.drops.send_modify(|g| *g += 1);
        return std::future::pending().await;
    }
    let mut m = sh.market();
    let served_before = n - 1;

    if sc.session_reset_at_poll == Some(n) {
        m.forget_all_sessions();
    }
    let scripted = sc.scripted_for_poll(n);
    if let Some(scripted) = scripted.filter(|s| !s.transforms_page()) {
        if *scripted == Scripted::ClearCookies {
            m.forget_all_sessions();
        }
        drop(m);
        return fault_response(&ctx, scripted).unwrap_or_else(|| scripted_response(&sh, scripted));
    }
    let visit = match m.session_state(ctx.cookie(SESSION)) {
        // pretix sends a visitor whose session expired back to the event
        // page, which starts a new one.
        SessionState::Forgotten => return found(&sh.site.event_path),
        SessionState::Known | SessionState::Absent => m.visit(ctx.cookie(SESSION)),
    };
    let elapsed = sh.elapsed();
    if !sc.marketplace_active.fired(served_before, elapsed) {
        drop(m);
        let body = pages::inactive_page(&sh.site, &ctx.path_and_query);
        return with_cookies(
            html(StatusCode::OK, body),
            page_cookies(&ctx, &visit, false),
        );
    }

    let item = ctx.query_param("item");
    let sort = ctx
        .query_param("sort")
        .filter(|s| pages::SORTS.iter().any(|(v, _)| v == s));
    let shown = m.shown(sc, served_before, elapsed, item, sort);
    // A competitor's bot was faster: the listing is on this page, but it is
    // sold the instant the page is rendered.
    for &i in &shown {
        if sc.listings[i].taken_by_competitor {
            m.sell(sc, i, COMPETITOR);
        }
    }
    drop(m);

    let listings: Vec<ShownListing<'_>> = shown
        .iter()
        .map(|&i| {
            let l = &sc.listings[i];
            ShownListing {
                id: &l.id,
                ticket_type: &l.ticket_type,
                price: &l.price,
                currency: &l.currency,
                token: csrf::mask(&visit.csrf_secret),
            }
        })
        .collect();
    let filter = Filter {
        items: item_choices(sc),
        selected_item: item,
        selected_sort: sort,
    };
    if !listings.is_empty() {
        sh.wire.arm();
    }
    let body = pages::marketplace_page(&sh.site, &ctx.path_and_query, &filter, &listings);
    let body = with_flash(&sh, ctx.cookie(SESSION), body);
    let response = match scripted {
        Some(Scripted::HeldTail { hold }) => held_tail_page(&sh, body, *hold, true),
        Some(Scripted::StalledTail { hold }) => held_tail_page(&sh, body, *hold, false),
        Some(s) if s.transforms_page() => transformed_page(s, body),
        _ => html(StatusCode::OK, body),
    };
    with_cookies(response, page_cookies(&ctx, &visit, !listings.is_empty()))
}

/// The item drop-down: the two products of the live event plus any other
/// item a scripted listing uses (labelled with its product name).
fn item_choices(sc: &Scenario) -> Vec<(String, String)> {
    let mut items = vec![
        ("965".to_owned(), "Ticket".to_owned()),
        ("966".to_owned(), "Up-and-coming Ticket".to_owned()),
    ];
    for l in &sc.listings {
        if !items.iter().any(|(v, _)| *v == l.item) {
            let product = l.ticket_type.split(" – ").next().unwrap_or(&l.ticket_type);
            items.push((l.item.clone(), product.to_owned()));
        }
    }
    items
}

/// `POST /{org}/{event}/secondhand/buy/{id}/`: the race itself.
async fn buy(
    State(sh): State<Arc<Shared>>,
    Path((org, event, id)): Path<(String, String, String)>,
    Extension(ctx): Extension<Arc<Ctx>>,
) -> Response {
    // The wire recorder: the POST is in; what is written now is its answer.
    sh.wire.answering();
    sh.buys.send_modify(|n| *n += 1);
    if !sh.is_ours(&org, &event) {
        return not_found().await;
    }
    // Django's CsrfViewMiddleware runs before the view: origin first...
    let site_origin = format!("https://{}", ctx.host);
    if let Err(f) = csrf::check_origin(&site_origin, ctx.origin.as_deref(), ctx.referer.as_deref())
    {
        return csrf_failure(&sh.site, &f);
    }
    let sc = &sh.scenario;
    let mut m = sh.market();
    let session_key = ctx.cookie(SESSION);
    // ...then cookie and token.
    if let Err(f) = csrf::check_token(
        ctx.cookie(CSRF),
        m.session(session_key).map(|s| s.csrf_secret.as_str()),
        ctx.form_field("csrfmiddlewaretoken"),
    ) {
        return csrf_failure(&sh.site, &f);
    }
    if m.take_csrf_rejection() {
        let fresh = m.rotate_csrf(session_key).unwrap_or_default();
        let cookie = cookies::set_csrf(&fresh, SystemTime::now());
        return with_cookies(csrf_failure(&sh.site, &Failure::Rotated), vec![cookie]);
    }
    let marketplace = sh.site.marketplace_path();
    let served = m.marketplace_gets;
    let Some(i) = m.find(sc, &id, served, sh.elapsed()) else {
        // Unknown (or not yet listed) id: back to the listings.
        return found(&marketplace);
    };
    if m.is_sold(i) {
        drop(m);
        return match sc.lost_style {
            LostStyle::Redirect => found(&marketplace),
            LostStyle::UnavailablePage => html(
                StatusCode::OK,
                pages::unavailable_page(&sh.site, &ctx.path_and_query),
            ),
        };
    }

    m.buy_posts += 1;
    let scripted = sc.scripted_for_buy(m.buy_posts).cloned();
    let lost_answer = match scripted {
        None => false,
        Some(Scripted::GatewayTimeout) => true,
        Some(
            s @ (Scripted::AsyncTask { .. }
            | Scripted::BusyPage
            | Scripted::CartExpired
            | Scripted::RedirectOffsite(_)
            | Scripted::RedirectLoop),
        ) => {
            let key = session_key.unwrap_or_default().to_owned();
            return scripted_buy(&sh, &mut m, i, &key, &ctx.path_and_query, &s);
        }
        Some(other) => {
            drop(m);
            return scripted_response(&sh, &other);
        }
    };

    // Won. `check_token` passed, so the session exists.
    let key = session_key.unwrap_or_default().to_owned();
    let now = SystemTime::now();
    let Some(secret) = reserve(sc, &mut m, i, &key, now + RESERVATION) else {
        return csrf_failure(&sh.site, &Failure::NoSession);
    };
    drop(m);
    tracing::info!(listing = %id, "sim: ticket reserved");
    if lost_answer {
        // Reserved upstream, but the proxy gave up waiting for the answer.
        return scripted_response(&sh, &Scripted::GatewayTimeout);
    }

    let mut set = vec![
        cookies::set_csrf(&secret, now),
        cookies::set_session(&key, now),
    ];
    set.extend(proxy_cookie(&ctx));
    with_cookies(found(&sh.site.checkout_start_path()), set)
}

/// Sells listing `i` to session `key` and puts it in that session's cart
/// until `expires`. Returns the session's CSRF secret, or `None` if the
/// session is unknown (then nothing is sold).
fn reserve(
    sc: &Scenario,
    m: &mut Market,
    i: usize,
    key: &str,
    expires: SystemTime,
) -> Option<String> {
    m.session(Some(key))?;
    m.sell(sc, i, key);
    let l = &sc.listings[i];
    let line = CartLine {
        listing_id: l.id.clone(),
        ticket_type: l.ticket_type.clone(),
        price: l.price.clone(),
        currency: l.currency.clone(),
        item: l.item.clone(),
        expires,
    };
    let session = m.session_mut(Some(key))?;
    session.cart.push(line);
    Some(session.csrf_secret.clone())
}

/// The buy-only scripted answers (see [`Scripted`]): listing `i` was still
/// for sale and the POST from session `key` to `path` passed every check.
fn scripted_buy(
    sh: &Shared,
    m: &mut Market,
    i: usize,
    key: &str,
    path: &str,
    scripted: &Scripted,
) -> Response {
    let sc = &sh.scenario;
    match scripted {
        Scripted::AsyncTask {
            pending_polls,
            outcome,
        } => {
            // The task is queued; its effect on the listing is settled now
            // so no other buyer can slip in while the waiting page shows.
            match outcome {
                TaskOutcome::Won => {
                    reserve(sc, m, i, key, SystemTime::now() + RESERVATION);
                }
                TaskOutcome::Lost => m.sell(sc, i, COMPETITOR),
            }
            let mut tasks = lock(&sh.tasks);
            tasks.next_id += 1;
            let id = format!("6f1e0c2a-task-{:04}", tasks.next_id);
            tasks.running.insert(
                id.clone(),
                Task {
                    pending: *pending_polls,
                    outcome: *outcome,
                    session: key.to_owned(),
                },
            );
            found(&format!("{path}?async_id={id}"))
        }
        Scripted::BusyPage => busy_page(),
        Scripted::CartExpired => {
            // Reserved, but already past its expiry when checkout looks.
            reserve(sc, m, i, key, SystemTime::now() - Duration::from_secs(1));
            found(&sh.site.checkout_start_path())
        }
        Scripted::RedirectOffsite(url) => found(url),
        Scripted::RedirectLoop => {
            reserve(sc, m, i, key, SystemTime::now() + RESERVATION);
            found(&format!("{path}?loop=1"))
        }
        other => scripted_response(sh, other),
    }
}

/// `GET /{org}/{event}/secondhand/buy/{id}/`: only ever reached by
/// following a buy answer. With `?async_id=` it is pretix's task status
/// page; with `?loop=1` it redirects to itself (`Scripted::RedirectLoop`).
async fn buy_followup(
    State(sh): State<Arc<Shared>>,
    Path((org, event, _id)): Path<(String, String, String)>,
    Extension(ctx): Extension<Arc<Ctx>>,
) -> Response {
    if !sh.is_ours(&org, &event) {
        return not_found().await;
    }
    if ctx.query_param("loop").is_some() {
        return found(&ctx.path_and_query);
    }
    let Some(id) = ctx.query_param("async_id") else {
        // A plain GET of a buy URL: a wrong method, a 404 like elsewhere.
        return not_found().await;
    };
    let mut tasks = lock(&sh.tasks);
    let Some(task) = tasks.running.get_mut(id) else {
        return html(StatusCode::NOT_FOUND, pages::not_found_page());
    };
    if task.pending > 0 {
        task.pending -= 1;
        return html(
            StatusCode::OK,
            include_str!("templates/waiting.html").to_owned(),
        );
    }
    let (outcome, session) = (task.outcome, task.session.clone());
    tasks.running.remove(id);
    match outcome {
        TaskOutcome::Won => found(&sh.site.checkout_start_path()),
        TaskOutcome::Lost => {
            tasks.flash.insert(session);
            found(&sh.site.marketplace_path())
        }
    }
}

/// Shows a pending task error on this render of the marketplace, once,
/// where pretix shows its messages: at the top of `<main>`.
fn with_flash(sh: &Shared, session: Option<&str>, body: String) -> String {
    let shown = session.is_some_and(|k| lock(&sh.tasks).flash.remove(k));
    if !shown {
        return body;
    }
    const MAIN: &str = "<main id=\"content\">";
    let alert = "\n<div class=\"alert alert-danger\">This ticket has just been sold to someone else.</div>\n";
    match body.find(MAIN) {
        Some(at) => {
            let end = at + MAIN.len();
            format!("{}{alert}{}", &body[..end], &body[end..])
        }
        None => body,
    }
}

/// `GET /{org}/{event}/checkout/start`: straight on to the first step.
async fn checkout_start(
    State(sh): State<Arc<Shared>>,
    Path((org, event)): Path<(String, String)>,
) -> Response {
    if !sh.is_ours(&org, &event) {
        return not_found().await;
    }
    found(&sh.site.checkout_questions_path())
}

/// `GET /{org}/{event}/checkout/questions/`: checkout step 1 if this session
/// holds a live reservation, else back to the event page (pretix's "your
/// cart is empty").
async fn checkout_questions(
    State(sh): State<Arc<Shared>>,
    Path((org, event)): Path<(String, String)>,
    Extension(ctx): Extension<Arc<Ctx>>,
) -> Response {
    if !sh.is_ours(&org, &event) {
        return not_found().await;
    }
    let key = ctx.cookie(SESSION);
    let cart = {
        let mut m = sh.market();
        let Some(session) = m.session_mut(key) else {
            return found(&sh.site.event_path);
        };
        let now = SystemTime::now();
        session.cart.retain(|l| l.expires > now);
        if session.cart.is_empty() {
            return found(&sh.site.event_path);
        }
        (session.cart.clone(), session.csrf_secret.clone())
    };
    let (cart, secret) = cart;
    let body = pages::checkout_page(&sh.site, &ctx.path_and_query, &cart, &csrf::mask(&secret));
    // Like the captured transcript: both `__Host-` cookies are renewed.
    let now = SystemTime::now();
    let mut set = vec![
        cookies::set_csrf(&secret, now),
        cookies::set_session(key.unwrap_or_default(), now),
    ];
    set.extend(proxy_cookie(&ctx));
    with_cookies(html(StatusCode::OK, body), set)
}
