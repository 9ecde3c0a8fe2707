//! The buy POST and what its answer means.
//!
//! This is the moment the race is won or lost, so two rules:
//!
//! 1. Nothing happens between deciding to buy and the POST leaving: no disk,
//!    no logging, no notifications. [`fire`] resolves the form action and
//!    queues the POST on the warm connection; only [`complete`] (or [`add`],
//!    which is both) looks at anything else. The race fires while the page
//!    is still arriving, as soon as a wanted listing's form is in.
//! 2. Every answer is classified strictly. A 403 is a CSRF/session problem,
//!    not a lost race; a 429 is a rate limit, not a loss; a redirect to
//!    `/checkout/` is only a win once the checkout page itself says so.
//! 3. "Lost" must be proven, never inferred from a path fragment. Shops that
//!    run cart operations on a task queue answer the POST with a redirect to
//!    the buy URL itself plus `?async_id=<task id>`: that URL contains
//!    `/secondhand/`, yet the ticket may already be in our cart. So a
//!    redirect is read by where it points *exactly*:
//!
//!    | redirect target                         | meaning                          |
//!    |-----------------------------------------|----------------------------------|
//!    | another host                            | never followed (our cookies stay home); cart probe |
//!    | the event's `checkout/…`                | verify checkout → won, or empty cart |
//!    | anything with `async_id` in the query   | pretix's task: poll it until it redirects |
//!    | the marketplace page itself             | lost: we were sent back          |
//!    | other `/secondhand/…` URLs              | fetch and read the page; unclear → cart probe |
//!    | anything else (event page, login)       | the session is gone              |
//!
//!    A task that is still pending when [`TaskWait::limit`] runs out is
//!    neither won nor lost: it ends [`CartOutcome::Uncertain`], and the race
//!    looks into the cart before it gives the listing up.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, LOCATION, RETRY_AFTER};
use reqwest::{Response, StatusCode};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::backoff::parse_retry_after;
use crate::parse::{self, Listing, PageKind};
use crate::session::{Page, Redirect, Session, Visit};
use crate::wait::Waiter;

/// How many redirects a buy answer may take outside pretix's task flow
/// before we stop following and look into the cart instead.
const MAX_HOPS: usize = 6;

/// How pretix's task status page is followed: GET it every `interval`
/// until it redirects, for at most `limit` of waiting in total.
///
/// pretix's own waiting page reloads itself and its script asks about once
/// a second; a task that has not finished within a minute is stuck, not
/// slow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskWait {
    pub interval: Duration,
    pub limit: Duration,
}

impl Default for TaskWait {
    fn default() -> Self {
        TaskWait {
            interval: Duration::from_secs(1),
            limit: Duration::from_secs(60),
        }
    }
}

/// What reading a buy answer needs besides the session: where "back on the
/// marketplace" and "in checkout" are, and how to wait for a queued task.
#[derive(Clone, Copy)]
pub struct Follow<'a> {
    /// The event's front page (`…/org/event/`); checkout lives below it.
    pub event: &'a Url,
    /// The marketplace page (`…/org/event/secondhand/`), without filters.
    pub marketplace: &'a Url,
    /// Waits between task status GETs go through this (tests run it in
    /// virtual time).
    pub waiter: &'a dyn Waiter,
    pub task_wait: TaskWait,
    /// Stop waiting for a queued task when this is cancelled (the caller
    /// then looks into the cart: the task may have reserved the ticket).
    pub cancel: &'a CancellationToken,
}

/// How a buy attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum CartOutcome {
    /// The ticket is in our cart. `verified` is true once the checkout page
    /// showed pretix's checkout structure (the step list, or cart rows with
    /// the `data-expires` reservation deadline), whatever its language.
    Won {
        checkout_url: Url,
        verified: bool,
        expires_at: Option<String>,
    },
    /// Someone else was faster. Not an error.
    Lost(LostReason),
    /// 403: the CSRF token or session was refused. Refresh and retry once.
    CsrfRejected,
    /// 429: rate limited. Not a loss; the listing is tried again after the
    /// wait [`crate::backoff::wait_for`] picks.
    RateLimited { retry_after: Option<Duration> },
    /// 409: the shop is busy with a conflicting request (pretix's lock);
    /// with `Retry-After` it says when to come back.
    Conflict { retry_after: Option<Duration> },
    /// 5xx.
    ServerError { status: u16 },
    /// Sent somewhere that is neither checkout nor marketplace (event page,
    /// login): the session is gone.
    SessionLost { location: Option<String> },
    /// We don't know whether the POST reached the shop (connection dropped
    /// after sending) or the answer made no sense. Check the cart before
    /// assuming anything.
    Uncertain { detail: String },
}

#[derive(Debug, Clone, PartialEq)]
pub enum LostReason {
    /// Redirected back to the marketplace page itself (path equal, not
    /// merely under `/secondhand/`), or shown a page with pretix's error box.
    BackToMarketplace,
    /// Sent to checkout, but checkout found no live reservation (the cart
    /// is empty or already expired): not a win.
    CartEmpty,
    /// A page whose error box says the ticket is gone (pretix's "ticket
    /// unavailable" answer, in any language).
    TicketUnavailable,
    /// The listing no longer exists (404).
    Gone,
}

/// A record of the buy request and response, for `live-responses/`.
#[derive(Debug, Clone, Default)]
pub struct Transcript {
    pub url: String,
    pub cookies_sent: Vec<(String, String)>,
    pub csrf_token: String,
    pub status: Option<u16>,
    pub headers: Vec<(String, String)>,
    pub location: Option<String>,
    pub final_url: Option<String>,
    pub body_head: String,
    pub error: Option<String>,
}

/// One buy attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub outcome: CartOutcome,
    /// From just before the POST until its response headers arrived.
    pub post_latency: Duration,
    pub transcript: Transcript,
}

/// POST the listing's buy form from `page` (the marketplace URL it was seen
/// on), then classify the answer; on a checkout redirect, verify checkout;
/// on a task redirect, wait for the task.
pub async fn add(session: &Session, page: &Url, listing: &Listing, follow: &Follow<'_>) -> Attempt {
    match fire(session, page, listing) {
        Ok(fired) => complete(session, page, listing, fired, follow).await,
        Err(unusable) => *unusable,
    }
}

/// A buy POST on its way: handed to the connection, not yet answered.
pub struct Fired {
    action: Url,
    started: Instant,
    sent: Pin<Box<dyn Future<Output = reqwest::Result<Response>> + Send>>,
}

impl std::fmt::Debug for Fired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fired")
            .field("action", &self.action)
            .finish()
    }
}

/// Start the buy POST for `listing` and return at once: the request is
/// queued on the warm connection before this returns (the send is polled
/// once here), and goes out as soon as the connection task runs. Used
/// while the page is still arriving ([`Session::get_page_watching`]); the
/// answer is read by [`complete`]. An action that does not resolve against
/// `page` is the listing's end (`Err`, already an attempt).
pub fn fire(session: &Session, page: &Url, listing: &Listing) -> Result<Fired, Box<Attempt>> {
    let Ok(action) = page.join(&listing.form_action) else {
        return Err(Box::new(Attempt {
            outcome: CartOutcome::Lost(LostReason::Gone),
            post_latency: Duration::ZERO,
            transcript: Transcript {
                url: listing.form_action.clone(),
                error: Some("unusable form action".into()),
                ..Transcript::default()
            },
        }));
    };
    let form = [("csrfmiddlewaretoken", listing.csrf_token.as_str())];

    // ---- hot path: nothing but the request ----
    let started = Instant::now();
    let mut sent: Pin<Box<dyn Future<Output = _> + Send>> =
        Box::pin(session.submit(&action, page, &form).send());
    // The first poll takes the pooled connection and queues the request on
    // it; what it registers is replaced by the real waker when `complete`
    // awaits. (It cannot finish here: the answer needs a round trip.)
    let mut cx = Context::from_waker(Waker::noop());
    if let Poll::Ready(done) = sent.as_mut().poll(&mut cx) {
        sent = Box::pin(std::future::ready(done));
    }
    // ---- end of hot path ----
    Ok(Fired {
        action,
        started,
        sent,
    })
}

/// Wait for the answer to a [`fire`]d POST and read it (see [`add`]).
pub async fn complete(
    session: &Session,
    page: &Url,
    listing: &Listing,
    fired: Fired,
    follow: &Follow<'_>,
) -> Attempt {
    let Fired {
        action,
        started,
        sent,
    } = fired;
    let mut sent = sent.await;
    if matches!(&sent, Err(e) if e.is_connect()) {
        // The connection was gone (GOAWAY, idle drop) before anything was
        // sent: a fresh connection, same POST.
        let form = [("csrfmiddlewaretoken", listing.csrf_token.as_str())];
        sent = session.submit(&action, page, &form).send().await;
    }
    let post_latency = started.elapsed();

    // The cookies for the transcript, read from the jar only now, off the
    // race path. (Should the answer have rotated one, its new value is the
    // one recorded: the transcript is for a human, the cart is in the jar.)
    let cookies_sent = session.jar().for_url(&action);

    let mut transcript = Transcript {
        url: action.to_string(),
        cookies_sent: cookies_sent
            .into_iter()
            .map(|c| (c.name, c.value))
            .collect(),
        csrf_token: listing.csrf_token.clone(),
        ..Transcript::default()
    };
    let outcome = match sent {
        Err(e) => {
            transcript.error = Some(e.to_string());
            CartOutcome::Uncertain {
                detail: format!("buy POST failed: {e}"),
            }
        }
        Ok(resp) => answer(session, page, &action, resp, follow, &mut transcript).await,
    };
    Attempt {
        outcome,
        post_latency,
        transcript,
    }
}

async fn answer(
    session: &Session,
    page: &Url,
    action: &Url,
    resp: Response,
    follow: &Follow<'_>,
    t: &mut Transcript,
) -> CartOutcome {
    let status = resp.status();
    t.status = Some(status.as_u16());
    t.headers = header_list(resp.headers());
    let location = resp
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    t.location = location.clone();
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));

    if status.is_redirection() {
        return match location.as_deref().and_then(|l| action.join(l).ok()) {
            Some(url) => settle(session, page, url, follow, t).await,
            None => CartOutcome::SessionLost { location },
        };
    }

    match status {
        StatusCode::FORBIDDEN => {
            t.body_head = head(&resp.text().await.unwrap_or_default());
            CartOutcome::CsrfRejected
        }
        StatusCode::TOO_MANY_REQUESTS => CartOutcome::RateLimited { retry_after },
        StatusCode::CONFLICT => CartOutcome::Conflict { retry_after },
        StatusCode::NOT_FOUND => CartOutcome::Lost(LostReason::Gone),
        s if s.is_server_error() => CartOutcome::ServerError { status: s.as_u16() },
        StatusCode::OK => {
            let url = resp.url().clone();
            let body = resp.text().await.unwrap_or_default();
            t.final_url = Some(url.to_string());
            t.body_head = head(&body);
            match parse::classify(url.as_str(), &body) {
                PageKind::TicketUnavailable => CartOutcome::Lost(LostReason::TicketUnavailable),
                PageKind::Listings(_) | PageKind::Empty => {
                    CartOutcome::Lost(LostReason::BackToMarketplace)
                }
                PageKind::CsrfFailure => CartOutcome::CsrfRejected,
                PageKind::Checkout => match parse::cart_expiry(&body) {
                    Some(expires_at) => CartOutcome::Won {
                        checkout_url: url,
                        verified: true,
                        expires_at: Some(expires_at),
                    },
                    None => CartOutcome::Lost(LostReason::CartEmpty),
                },
                _ if shows_error(&body) => CartOutcome::Lost(LostReason::BackToMarketplace),
                other => CartOutcome::Uncertain {
                    detail: format!("buy POST answered 200 with a {} page", other.name()),
                },
            }
        }
        s => CartOutcome::Uncertain {
            detail: format!("buy POST answered HTTP {}", s.as_u16()),
        },
    }
}

/// Where a redirect of the buy answer points, read exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dest {
    /// Another scheme, host or port: never followed.
    OffSite,
    /// Below the event's `checkout/`.
    Checkout,
    /// A pretix task status URL (`?async_id=`), whatever its path.
    Task,
    /// The marketplace page itself.
    Marketplace,
    /// Some other page below `secondhand/` (the buy URL, a listing page).
    Secondhand,
    /// The event page, a login, …: not part of buying.
    Elsewhere,
}

fn dest(url: &Url, follow: &Follow<'_>) -> Dest {
    let market = follow.marketplace;
    if url.origin() != market.origin() {
        return Dest::OffSite;
    }
    if url.query_pairs().any(|(k, _)| k == "async_id") {
        return Dest::Task;
    }
    let path = url.path();
    if path == market.path() {
        return Dest::Marketplace;
    }
    if path.starts_with(market.path()) {
        return Dest::Secondhand;
    }
    let checkout = format!("{}checkout/", follow.event.path());
    if path.starts_with(&checkout) {
        return Dest::Checkout;
    }
    Dest::Elsewhere
}

/// pretix shows an error message (`messages.error`) as an `alert-danger`
/// box on the next page it renders.
fn shows_error(body: &str) -> bool {
    body.contains("alert-danger")
}

/// Follow a redirect of the buy answer until it proves an outcome.
async fn settle(
    session: &Session,
    page: &Url,
    first: Url,
    follow: &Follow<'_>,
    t: &mut Transcript,
) -> CartOutcome {
    let mut url = first;
    let mut hops = 0;
    let mut waited = Duration::ZERO;
    let mut announced = false;
    loop {
        t.final_url = Some(url.to_string());
        match dest(&url, follow) {
            Dest::OffSite => {
                // Our jar is host-scoped, but even a cookieless request
                // tells a stranger we are buying: don't go.
                tracing::warn!(location = %url, "buy answer redirects to another site; not followed");
                return CartOutcome::Uncertain {
                    detail: format!("buy answer redirected off-site to {url}; not followed"),
                };
            }
            Dest::Checkout => {
                let (outcome, final_url, body) = verify_checkout(session, url, page).await;
                t.final_url = final_url;
                t.body_head = head(&body);
                return outcome;
            }
            Dest::Marketplace => return CartOutcome::Lost(LostReason::BackToMarketplace),
            Dest::Elsewhere => {
                return CartOutcome::SessionLost {
                    location: Some(url.to_string()),
                }
            }
            Dest::Task => {
                if !announced {
                    announced = true;
                    tracing::info!(task = %url, "the shop queued the buy; waiting for its task");
                }
                match session.get_page(&url, Some(page)).await {
                    Ok(Visit::Redirect(Redirect {
                        location: Some(next),
                    })) => {
                        url = next;
                        continue;
                    }
                    Ok(Visit::Page(Page { status: 404, .. })) => {
                        return CartOutcome::Uncertain {
                            detail: "the shop forgot the buy task (404)".into(),
                        }
                    }
                    Ok(Visit::Page(Page { body, .. })) if shows_error(&body) => {
                        t.body_head = head(&body);
                        return CartOutcome::Lost(LostReason::BackToMarketplace);
                    }
                    // The waiting page (200), its JSON twin, an overloaded
                    // front (5xx), a dropped connection: all mean "not yet".
                    _ => {}
                }
                if waited >= follow.task_wait.limit {
                    tracing::warn!(
                        task = %url,
                        waited_s = waited.as_secs(),
                        "the buy task is still pending; checking the cart"
                    );
                    return CartOutcome::Uncertain {
                        detail: format!(
                            "the buy task was still pending after {}s",
                            waited.as_secs()
                        ),
                    };
                }
                tokio::select! {
                    _ = follow.waiter.wait(follow.task_wait.interval) => {}
                    _ = follow.cancel.cancelled() => {
                        return CartOutcome::Uncertain {
                            detail: "stopped while the buy task was pending".into(),
                        }
                    }
                }
                waited += follow.task_wait.interval;
            }
            Dest::Secondhand => {
                hops += 1;
                if hops > MAX_HOPS {
                    tracing::warn!(location = %url, "buy answer redirects in a loop; checking the cart");
                    return CartOutcome::Uncertain {
                        detail: format!("buy answer redirected more than {MAX_HOPS} times"),
                    };
                }
                match session.get_page(&url, Some(page)).await {
                    Ok(Visit::Redirect(Redirect {
                        location: Some(next),
                    })) => url = next,
                    Ok(Visit::Page(Page {
                        url: at,
                        status: 200,
                        body,
                        ..
                    })) => {
                        t.body_head = head(&body);
                        return match parse::classify(at.as_str(), &body) {
                            PageKind::TicketUnavailable => {
                                CartOutcome::Lost(LostReason::TicketUnavailable)
                            }
                            _ if shows_error(&body) => {
                                CartOutcome::Lost(LostReason::BackToMarketplace)
                            }
                            kind => CartOutcome::Uncertain {
                                detail: format!("buy answer led to a {} page at {at}", kind.name()),
                            },
                        };
                    }
                    Ok(_) => {
                        return CartOutcome::Uncertain {
                            detail: format!("buy answer led to {url}, which did not answer"),
                        }
                    }
                    Err(e) => {
                        return CartOutcome::Uncertain {
                            detail: format!("buy answer led to {url}: {e}"),
                        }
                    }
                }
            }
        }
    }
}

/// Open `start` (a `/checkout/` URL) and follow its redirects within the
/// checkout until a page shows the checkout markers.
///
/// Returns the outcome, the last URL reached and the last body.
pub async fn verify_checkout(
    session: &Session,
    start: Url,
    referer: &Url,
) -> (CartOutcome, Option<String>, String) {
    let mut url = start.clone();
    let mut retried = false;
    for _hop in 0..6 {
        let resp = match session.navigate(&url, Some(referer)).send().await {
            Ok(r) => r,
            Err(_) if !retried => {
                retried = true;
                continue;
            }
            Err(e) => {
                // The shop did send us to checkout: the cart is very likely
                // ours. Hand it over unverified rather than drop it.
                tracing::warn!("checkout could not be opened: {e}");
                return (unverified(start), Some(url.to_string()), String::new());
            }
        };
        if resp.status().is_redirection() {
            let next = resp
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| url.join(l).ok());
            // The event page: everything before the URL's `checkout/`.
            let event = start
                .path()
                .find("/checkout/")
                .map(|at| &start.path()[..=at]);
            let same_site = |n: &Url| n.origin() == start.origin();
            match next {
                Some(n) if same_site(&n) && n.path().contains("/checkout/") => {
                    url = n;
                    continue;
                }
                Some(n) if same_site(&n) && n.path().contains("/secondhand/") => {
                    return (
                        CartOutcome::Lost(LostReason::BackToMarketplace),
                        Some(n.to_string()),
                        String::new(),
                    )
                }
                // pretix's checkout sends a visitor without a live
                // reservation to the event page ("your cart is empty").
                Some(n) if same_site(&n) && Some(n.path()) == event => {
                    tracing::info!("checkout found no live reservation in our cart");
                    return (
                        CartOutcome::Lost(LostReason::CartEmpty),
                        Some(n.to_string()),
                        String::new(),
                    );
                }
                n => {
                    return (
                        CartOutcome::SessionLost {
                            location: n.map(|u| u.to_string()),
                        },
                        Some(url.to_string()),
                        String::new(),
                    )
                }
            }
        }
        let status = resp.status();
        let body = resp.text().await.unwrap_or_default();
        let title = parse::title(&body);
        if status.is_success() && parse::is_checkout(url.as_str(), &title, &body) {
            let Some(expires_at) = parse::cart_expiry(&body) else {
                // A checkout step without a reservation deadline has no
                // positions reserved: an empty or expired cart.
                tracing::info!("checkout shows no reservation deadline; the cart is empty");
                return (
                    CartOutcome::Lost(LostReason::CartEmpty),
                    Some(url.to_string()),
                    body,
                );
            };
            let expires_at = Some(expires_at);
            return (
                CartOutcome::Won {
                    checkout_url: url.clone(),
                    verified: true,
                    expires_at,
                },
                Some(url.to_string()),
                body,
            );
        }
        // Lost, read the way every page is read: by its structure (the
        // error box pretix shows), never by the title's English words.
        if parse::classify(url.as_str(), &body) == PageKind::TicketUnavailable {
            return (
                CartOutcome::Lost(LostReason::TicketUnavailable),
                Some(url.to_string()),
                body,
            );
        }
        tracing::warn!("checkout answered HTTP {status} without checkout markers");
        return (unverified(start), Some(url.to_string()), body);
    }
    tracing::warn!("too many checkout redirects");
    (unverified(start), Some(url.to_string()), String::new())
}

fn unverified(url: Url) -> CartOutcome {
    CartOutcome::Won {
        checkout_url: url,
        verified: false,
        expires_at: None,
    }
}

fn header_list(h: &HeaderMap) -> Vec<(String, String)> {
    h.iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn head(body: &str) -> String {
    body.chars().take(5000).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wait::TokioWaiter;

    fn dest_of(url: &str) -> Dest {
        let event = Url::parse("https://shop.test/org/fest/").unwrap();
        let marketplace = event.join("secondhand/").unwrap();
        let cancel = CancellationToken::new();
        let follow = Follow {
            event: &event,
            marketplace: &marketplace,
            waiter: &TokioWaiter,
            task_wait: TaskWait::default(),
            cancel: &cancel,
        };
        dest(&Url::parse(url).unwrap(), &follow)
    }

    #[test]
    fn a_task_url_under_secondhand_is_a_task_not_a_loss() {
        assert_eq!(
            dest_of("https://shop.test/org/fest/secondhand/buy/abc/?async_id=42"),
            Dest::Task
        );
        assert_eq!(
            dest_of("https://shop.test/org/fest/checkout/start?async_id=42"),
            Dest::Task
        );
    }

    #[test]
    fn only_the_marketplace_page_itself_means_sent_back() {
        assert_eq!(
            dest_of("https://shop.test/org/fest/secondhand/"),
            Dest::Marketplace
        );
        assert_eq!(
            dest_of("https://shop.test/org/fest/secondhand/?item=965"),
            Dest::Marketplace
        );
        assert_eq!(
            dest_of("https://shop.test/org/fest/secondhand/buy/abc/"),
            Dest::Secondhand
        );
    }

    #[test]
    fn checkout_is_below_the_event_and_on_our_host() {
        assert_eq!(
            dest_of("https://shop.test/org/fest/checkout/start"),
            Dest::Checkout
        );
        assert_eq!(
            dest_of("https://shop.test/org/other/checkout/start"),
            Dest::Elsewhere
        );
        assert_eq!(
            dest_of("https://evil.test/org/fest/checkout/start"),
            Dest::OffSite
        );
        assert_eq!(
            dest_of("http://shop.test/org/fest/checkout/start"),
            Dest::OffSite
        );
        assert_eq!(dest_of("https://shop.test/org/fest/"), Dest::Elsewhere);
    }
}
