//! What the simulated marketplace does, and when.
//!
//! A [`Scenario`] is a script: which listings exist, when they appear, when
//! the event page starts linking to the marketplace, which polls get answered
//! by the front proxy (429/409/503) instead of pretix, and so on. All fields
//! are public so a test can build exactly the situation it needs with
//! struct-update syntax:
//!
//! ```
//! use pretix_race_sim::{Scenario, ScriptedListing, Trigger};
//! let scenario = Scenario {
//!     listings: vec![ScriptedListing {
//!         appears: Trigger::AfterPolls(2),
//!         ..ScriptedListing::new("a1b2c3d4e5f6g7h8", "Ticket – Type A", "190.00")
//!     }],
//!     ..Scenario::new("org", "event")
//! };
//! # let _ = scenario;
//! ```
//!
//! Timing is expressed with [`Trigger`]s rather than wall-clock sleeps so
//! tests can be deterministic: "the listing shows up on the third poll" is
//! reproducible on a loaded CI machine, "after 200 ms" is not.

use std::time::Duration;

pub use crate::i18n::Lang;

/// When something scripted starts to happen.
///
/// Counting triggers are evaluated *before* the current request is counted as
/// served: `AfterPolls(2)` is false for the 1st and 2nd request and true from
/// the 3rd on. `AfterPolls(0)` behaves like `Immediately`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// From the very first request on.
    Immediately,
    /// Once N requests of the relevant kind have been served (marketplace
    /// GETs for listings and `marketplace_active`, event-page GETs for
    /// `marketplace_link`); all sessions count.
    AfterPolls(u64),
    /// Once this much time has passed since the server started. Measured
    /// with tokio's clock, so a test running with paused time can jump
    /// ahead with `tokio::time::advance` instead of waiting.
    AfterDelay(Duration),
    /// Not in this scenario.
    Never,
}

impl Trigger {
    /// Has the trigger fired, given how many relevant requests were served
    /// before this one and how long the server has been running?
    ///
    /// Pure, so the timing rules can be unit-tested without a server.
    pub fn fired(&self, served_before: u64, elapsed: Duration) -> bool {
        match self {
            Trigger::Immediately => true,
            Trigger::AfterPolls(n) => served_before >= *n,
            Trigger::AfterDelay(d) => elapsed >= *d,
            Trigger::Never => false,
        }
    }
}

/// How the event page spells the href of its "Marketplace" link. Real pretix
/// uses absolute URLs; a robust client must resolve all three forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkStyle {
    /// `https://127.0.0.1:PORT/org/event/secondhand/`
    #[default]
    Absolute,
    /// `/org/event/secondhand/`
    RootRelative,
    /// `secondhand/` (relative to the event page `/org/event/`)
    Relative,
}

/// How a lost race (the listing was sold to someone else) is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LostStyle {
    /// HTTP 200 with `<title>Ticket unavailable :: …</title>`, what the live
    /// site does.
    #[default]
    UnavailablePage,
    /// HTTP 302 back to the marketplace listing page.
    Redirect,
}

/// A ticket someone puts up for resale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptedListing {
    /// The listing id in the buy URL: 16 characters `[a-z0-9]` on the live
    /// site (not enforced, so tests may use odd ids on purpose).
    pub id: String,
    /// Panel title, e.g. `Ticket – Type A` (with an en dash, like the site).
    pub ticket_type: String,
    /// Decimal price with a dot, e.g. `190.00`.
    pub price: String,
    /// ISO currency code shown after the price, e.g. `EUR`.
    pub currency: String,
    /// The product id the `item` filter matches, e.g. `965`.
    pub item: String,
    /// When the listing shows up on the marketplace page.
    pub appears: Trigger,
    /// A faster competitor buys the listing the moment it is first rendered:
    /// it is shown once, but every POST for it loses.
    pub taken_by_competitor: bool,
}

impl ScriptedListing {
    /// A listing in EUR for item `965` that is there from the start and
    /// can be won.
    pub fn new(
        id: impl Into<String>,
        ticket_type: impl Into<String>,
        price: impl Into<String>,
    ) -> Self {
        ScriptedListing {
            id: id.into(),
            ticket_type: ticket_type.into(),
            price: price.into(),
            currency: "EUR".to_owned(),
            item: "965".to_owned(),
            appears: Trigger::Immediately,
            taken_by_competitor: false,
        }
    }
}

/// A response the front proxy (or pretix itself) gives *instead of* the
/// marketplace page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scripted {
    /// 429 Too Many Requests (rate limiting at the proxy).
    TooManyRequests,
    /// 409 Conflict with a `Retry-After` header (pretix lock timeout); the
    /// value is sent verbatim, so it may be delta-seconds or an HTTP-date.
    Conflict { retry_after: String },
    /// 503 Service Unavailable.
    Unavailable,
    /// 302 to the event page.
    RedirectToEvent,
    /// 200 with a page of a shape nobody expected (a maintenance notice).
    OddPage,
    /// 200 with the empty marketplace page, but every session cookie is
    /// deleted (`Max-Age=0`), as after a logout; the session is forgotten.
    ClearCookies,
    /// The server drops every open connection (no response, no GOAWAY),
    /// as a restarting front proxy or a NAT timeout would.
    DropConnection,
    /// 504 Gateway Timeout. On a buy POST the ticket has already been put
    /// in the buyer's cart upstream; only the answer was lost on the way.
    GatewayTimeout,
    /// Buy POST only: pretix's asynchronous task flow. The POST answers 302
    /// to the buy URL with `?async_id=<task id>`; GETting that answers 200
    /// with the "processing your request" waiting page `pending_polls`
    /// times, then 302 to checkout ([`TaskOutcome::Won`]: the ticket is in
    /// the cart from the POST on) or back to the marketplace, whose next
    /// render carries an `alert-danger` message ([`TaskOutcome::Lost`]).
    AsyncTask {
        pending_polls: u32,
        outcome: TaskOutcome,
    },
    /// Buy POST only: 503 with a short "too busy" page. Nothing is reserved;
    /// the listing stays for sale.
    BusyPage,
    /// Buy POST only: 302 to checkout, but the reservation has already
    /// expired, so checkout finds an empty cart and sends the buyer on to
    /// the event page (pretix's "your cart is empty").
    CartExpired,
    /// Buy POST only: 302 to this absolute URL on another host. Nothing is
    /// reserved.
    RedirectOffsite(String),
    /// Any status with the proxy's error page and, if given, a verbatim
    /// `Retry-After` (500, 502 from a restarting app server, a 503 "too
    /// busy" with a queue hint, a 429 with an absurd wait...).
    Status {
        status: u16,
        retry_after: Option<String>,
    },
    /// 200 with no body at all (a proxy that lost its upstream mid-answer).
    EmptyOk,
    /// 200 with a body of this many bytes, streamed (no `Content-Length`),
    /// as a proxy stuck in a loop would send.
    Oversized { bytes: usize },
    /// 200, headers and the first bytes of the page, then nothing: the body
    /// never ends.
    StallBody,
    /// The real page (listings and all) with invalid UTF-8 bytes in an
    /// HTML comment before it.
    InvalidUtf8,
    /// The real page, gzip-compressed (`Content-Encoding: gzip`).
    Gzip,
    /// The real page, brotli-compressed (`Content-Encoding: br`).
    Brotli,
    /// The real page in two parts, as an upstream that flushes as it
    /// renders sends it: everything up to the end of the first buy form at
    /// once, the rest only when a buy POST has come in, or after `hold`.
    /// [`crate::SimServer::held_tails`] says which released it: a racer
    /// that buys as soon as the form is in gets the tail by its POST.
    HeldTail { hold: std::time::Duration },
    /// Like [`Scripted::HeldTail`], but a buy POST does not release the
    /// rest of the page: it comes only after `hold`. The POST fired early
    /// is answered meanwhile (HTTP/2 carries both).
    StalledTail { hold: std::time::Duration },
    /// 302 to this absolute URL (another host: our cookies must not follow).
    RedirectTo(String),
    /// On a GET: 302 to the very URL requested, a redirect loop. On a buy
    /// POST: the ticket is reserved, but the answer is a 302 to a URL under
    /// `/secondhand/` that redirects to itself forever.
    RedirectLoop,
}

impl Scripted {
    /// Does this change how the real page is sent, rather than replace it?
    pub(crate) fn transforms_page(&self) -> bool {
        matches!(
            self,
            Scripted::InvalidUtf8
                | Scripted::Gzip
                | Scripted::Brotli
                | Scripted::HeldTail { .. }
                | Scripted::StalledTail { .. }
        )
    }
}

/// How a scripted asynchronous buy task ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskOutcome {
    /// The task put the ticket in the buyer's cart.
    Won,
    /// The task failed: someone else got the ticket first.
    Lost,
}

/// The whole script of one simulated marketplace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// Organizer slug, first path segment.
    pub organizer: String,
    /// Event slug, second path segment.
    pub event: String,
    /// Human-readable event name used in page titles (`… :: Example Event`).
    pub event_name: String,
    /// When the event page starts showing the "Marketplace" link
    /// (`AfterPolls` counts event-page GETs).
    pub marketplace_link: Trigger,
    /// When the marketplace page stops being the "not currently active" page
    /// (`AfterPolls` counts marketplace GETs).
    pub marketplace_active: Trigger,
    /// Href form of the event page's marketplace link.
    pub link_style: LinkStyle,
    /// How a lost buy is reported.
    pub lost_style: LostStyle,
    /// Listings, in the order the page shows them when no `sort` is given.
    pub listings: Vec<ScriptedListing>,
    /// `(n, response)`: the n-th marketplace GET (1-based, all sessions)
    /// gets `response` instead of the page.
    pub marketplace_script: Vec<(u64, Scripted)>,
    /// Before serving the n-th marketplace GET, forget every session. A
    /// request carrying a forgotten session cookie to the marketplace then
    /// gets a 302 to the event page, which issues fresh cookies.
    pub session_reset_at_poll: Option<u64>,
    /// The first buy POST that passes every CSRF check still gets a 403, and
    /// the session's CSRF secret is rotated (new cookie on the 403), as if
    /// the token had been rotated server-side. The client must fetch the
    /// marketplace page again for a token that matches the new secret.
    pub reject_first_buy_csrf: bool,
    /// `(n, response)`: the n-th buy POST that passes the CSRF checks and
    /// names an available listing gets `response` instead (1-based).
    pub buy_script: Vec<(u64, Scripted)>,
    /// Offer HTTP/2 over ALPN (true by default); false makes an
    /// HTTP/1.1-only shop.
    pub http2: bool,
    /// The one language every page is rendered in (English by default).
    pub language: Lang,
    /// `(n, response)`: the n-th event-page GET (1-based, all sessions) gets
    /// `response` instead of the page (redirect loops, off-site redirects).
    pub event_script: Vec<(u64, Scripted)>,
    /// The first N TCP connections are accepted but never get a TLS answer,
    /// as a shop whose TLS front hangs: the client's connect timeout fires.
    pub stalled_handshakes: u64,
    /// A connection is closed gracefully (HTTP/2 GOAWAY; HTTP/1.1
    /// `Connection: close`) once it has carried this many requests, the
    /// last one still answered: nginx's `keepalive_requests`, 1000 by
    /// default. `None`: never.
    pub max_requests_per_connection: Option<u64>,
}

impl Scenario {
    /// A plain, open marketplace: link and marketplace active from the
    /// start, no listings, nothing scripted.
    pub fn new(organizer: impl Into<String>, event: impl Into<String>) -> Self {
        Scenario {
            organizer: organizer.into(),
            event: event.into(),
            event_name: "Example Event".to_owned(),
            marketplace_link: Trigger::Immediately,
            marketplace_active: Trigger::Immediately,
            link_style: LinkStyle::default(),
            lost_style: LostStyle::default(),
            listings: Vec::new(),
            marketplace_script: Vec::new(),
            session_reset_at_poll: None,
            reject_first_buy_csrf: false,
            buy_script: Vec::new(),
            http2: true,
            language: Lang::En,
            event_script: Vec::new(),
            stalled_handshakes: 0,
            max_requests_per_connection: Some(1000),
        }
    }

    /// What `pretix-race demo` shows: `/demo/festival/`, an empty
    /// marketplace for three seconds, then two listings at once. The first
    /// on the page (`Ticket – Type B`, 220.00 EUR) is snapped up by a
    /// competitor as soon as it is shown, so the racer sees a lost race; the
    /// second (`Ticket – Type A`, 190.00 EUR) can be won.
    pub fn demo() -> Self {
        let appears = Trigger::AfterDelay(Duration::from_secs(3));
        Scenario {
            listings: vec![
                ScriptedListing {
                    appears: appears.clone(),
                    taken_by_competitor: true,
                    ..ScriptedListing::new("d3m0b5n8r2t6v0y3", "Ticket – Type B", "220.00")
                },
                ScriptedListing {
                    appears,
                    ..ScriptedListing::new("d3m0a7k2p9x4q1w8", "Ticket – Type A", "190.00")
                },
            ],
            ..Scenario::new("demo", "festival")
        }
    }

    /// The scripted response for the n-th buy POST, if any.
    pub(crate) fn scripted_for_buy(&self, n: u64) -> Option<&Scripted> {
        self.buy_script
            .iter()
            .find(|(at, _)| *at == n)
            .map(|(_, s)| s)
    }

    /// The scripted response for the n-th event-page GET, if any.
    pub(crate) fn scripted_for_event(&self, n: u64) -> Option<&Scripted> {
        self.event_script
            .iter()
            .find(|(at, _)| *at == n)
            .map(|(_, s)| s)
    }

    /// The scripted response for the n-th marketplace GET, if any.
    pub(crate) fn scripted_for_poll(&self, n: u64) -> Option<&Scripted> {
        self.marketplace_script
            .iter()
            .find(|(at, _)| *at == n)
            .map(|(_, s)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_polls_counts_requests_served_before_this_one() {
        let t = Trigger::AfterPolls(2);
        assert!(!t.fired(0, Duration::ZERO));
        assert!(!t.fired(1, Duration::ZERO));
        assert!(t.fired(2, Duration::ZERO));
        assert!(Trigger::AfterPolls(0).fired(0, Duration::ZERO));
    }

    #[test]
    fn delay_and_fixed_triggers() {
        let t = Trigger::AfterDelay(Duration::from_secs(3));
        assert!(!t.fired(100, Duration::from_millis(2999)));
        assert!(t.fired(0, Duration::from_secs(3)));
        assert!(Trigger::Immediately.fired(0, Duration::ZERO));
        assert!(!Trigger::Never.fired(u64::MAX, Duration::MAX));
    }

    #[test]
    fn scripted_lookup_is_by_poll_number() {
        let s = Scenario {
            marketplace_script: vec![(2, Scripted::TooManyRequests)],
            ..Scenario::new("o", "e")
        };
        assert_eq!(s.scripted_for_poll(1), None);
        assert_eq!(s.scripted_for_poll(2), Some(&Scripted::TooManyRequests));
    }
}
