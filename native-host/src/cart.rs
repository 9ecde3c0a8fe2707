//! The buy POST and what its answer means.
//!
//! This is the moment the race is won or lost, so two rules:
//!
//! 1. Nothing happens between deciding to buy and the POST leaving: no disk,
//!    no logging, no notifications. [`add`] resolves the form action, sends
//!    the token, and only then looks at anything else.
//! 2. Every answer is classified strictly. A 403 is a CSRF/session problem,
//!    not a lost race; a 429 is a rate limit, not a loss; a redirect to
//!    `/checkout/` is only a win once the checkout page itself says so.

use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, LOCATION, RETRY_AFTER};
use reqwest::{Response, StatusCode};
use url::Url;

use crate::backoff::parse_retry_after;
use crate::parse::{self, Listing, PageKind};
use crate::session::Session;

/// How a buy attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum CartOutcome {
    /// The ticket is in our cart. `verified` is true once the checkout page
    /// showed its markers ("Step N of", "Your cart").
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
    /// Redirected back to `/secondhand/`.
    BackToMarketplace,
    /// A page titled "Ticket unavailable".
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
/// on), then classify the answer; on a checkout redirect, verify checkout.
pub async fn add(session: &Session, page: &Url, listing: &Listing) -> Attempt {
    let Ok(action) = page.join(&listing.form_action) else {
        return Attempt {
            outcome: CartOutcome::Lost(LostReason::Gone),
            post_latency: Duration::ZERO,
            transcript: Transcript {
                url: listing.form_action.clone(),
                error: Some("unusable form action".into()),
                ..Transcript::default()
            },
        };
    };
    let form = [("csrfmiddlewaretoken", listing.csrf_token.as_str())];
    let cookies_sent = session.jar().for_url(&action);

    // ---- hot path: nothing but the request ----
    let started = Instant::now();
    let mut sent = session.submit(&action, page, &form).send().await;
    if matches!(&sent, Err(e) if e.is_connect()) {
        // The connection was gone (GOAWAY, idle drop) before anything was
        // sent: a fresh connection, same POST.
        sent = session.submit(&action, page, &form).send().await;
    }
    let post_latency = started.elapsed();
    // ---- end of hot path ----

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
        Ok(resp) => answer(session, page, &action, resp, &mut transcript).await,
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
        let target = location.as_deref().and_then(|l| action.join(l).ok());
        return match target {
            Some(url) if url.path().contains("/checkout/") => {
                let (outcome, final_url, body) = verify_checkout(session, url, page).await;
                t.final_url = final_url;
                t.body_head = head(&body);
                outcome
            }
            Some(url) if url.path().contains("/secondhand/") => {
                t.final_url = Some(url.to_string());
                CartOutcome::Lost(LostReason::BackToMarketplace)
            }
            _ => CartOutcome::SessionLost { location },
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
                PageKind::Checkout => CartOutcome::Won {
                    checkout_url: url,
                    verified: true,
                    expires_at: parse::cart_expiry(&body),
                },
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
            match next {
                Some(n) if n.path().contains("/checkout/") => {
                    url = n;
                    continue;
                }
                Some(n) if n.path().contains("/secondhand/") => {
                    return (
                        CartOutcome::Lost(LostReason::BackToMarketplace),
                        Some(n.to_string()),
                        String::new(),
                    )
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
            let expires_at = parse::cart_expiry(&body);
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
        if title.to_lowercase().contains("ticket unavailable") {
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
