//! The race: discover the marketplace, poll it, buy what matches.
//!
//! ```text
//! discover ──► poll ──► parse ──► decide ──► cart ──► won ──► (caller hands off)
//!    ▲          ▲  │                          │
//!    │          │  └─ 429/409/503/network: back off, never exit
//!    │          └──── lost: next listing on the same page, then resume
//!    └─────────────── session lost (403, redirect to event page): once
//! ```
//!
//! The engine owns no terminal and no files: it reports [`RaceEvent`]s (an
//! unexpected page travels in [`RaceEvent::UnknownPage`] for the caller to
//! save) and returns a [`RaceEnd`]. HTTP mechanics (retrying a dead
//! connection, redirects, `Retry-After`) live in [`Session`]; how long to
//! back off lives in [`backoff::wait_for`]; this module keeps the decisions.
//! Waiting goes through a [`Waiter`] so tests can run the schedule in virtual
//! time, and every wait is cancellable.
//!
//! Control flow is spelled out in types: one poll ends in a [`PollOutcome`];
//! anything that stops the race early is a [`Halt`], carried by `?` up to
//! [`Race::run`], which alone builds the [`RaceEnd`] (with the summary).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pretix_race_shared::Cookie;
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::backoff::{self, Ladders};
use crate::bounded::BoundedSet;
use crate::cart::{self, Attempt, CartOutcome, Follow, TaskWait, Transcript};
use crate::config::Config;
use crate::decide;
use crate::discover;
use crate::events::{Events, RaceEvent, WaitReason};
use crate::parse::{self, Listing, PageKind};
use crate::session::{FetchError, Page, Redirect, Session, Visit};
use crate::tls::CertFailure;
pub use crate::wait::{TokioWaiter, Waiter};

/// The runtime a race runs on (the command line's, and the benches').
///
/// One thread: the page's bytes are read, decrypted and parsed, the
/// decision taken and the POST written by the same thread, with no
/// cross-thread wake-up (eventfd, another worker stealing hyper's connection
/// task) between the page and the POST. The race is one task plus hyper's
/// connection task; nothing in it blocks, so a second worker would only add
/// hops. Timers and I/O work as on the multi-thread runtime; `spawn_blocking`
/// still has its own pool.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// A cart in our session, ready to hand over.
#[derive(Debug, Clone)]
pub struct Win {
    pub listing: Listing,
    /// The marketplace page it was bought from.
    pub target: Url,
    pub checkout_url: Url,
    /// True once the checkout page showed its markers.
    pub verified: bool,
    pub expires_at: Option<String>,
    pub cookies: Vec<Cookie>,
    pub transcript: Transcript,
    pub post_latency: Duration,
}

/// Counters for the closing summary and the popup.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub polls: u64,
    pub listings_seen: u64,
    pub carts_lost: u64,
    pub elapsed: Duration,
}

/// How a race ended.
#[derive(Debug, Clone)]
pub enum RaceEnd {
    Won(Box<Win>, Summary),
    /// Cancelled (Ctrl-C, Stop).
    Stopped(Summary),
    /// The event page has no marketplace link and we were not asked to wait.
    MarketplaceNotFound {
        event_url: Url,
    },
    /// The event page itself does not exist (404/410): a wrong --url/--event.
    EventNotFound {
        event_url: Url,
        status: u16,
    },
    /// The shop's certificate was refused before we ever got an answer: a
    /// configuration error (`--ca-cert`, `SSL_CERT_FILE`, the clock), not
    /// something retrying fixes.
    CertificateRejected(CertFailure),
}

/// A marketplace page with one listing, in the markup pretix renders, for
/// [`Race::warm_up`]. Its buy URL is relative and never requested.
const WARM_UP_PAGE: &str = concat!(
    r#"<!DOCTYPE html><html><head><title>Marketplace</title></head>"#,
    r#"<body data-locale="en"><main id="content">"#,
    r#"<div class="panel panel-default"><div class="panel-heading">"#,
    r#"<h3 class="panel-title">Ticket &ndash; Warm-up</h3></div><div class="panel-body">"#,
    r#"<h2 class="text-primary">1.00 EUR</h2>"#,
    r#"<form method="post" action="buy/warmup0000000000/">"#,
    r#"<input type="hidden" name="csrfmiddlewaretoken" value="warmup">"#,
    r#"<button type="submit">x</button></form></div></div></main></body></html>"#,
);

/// How many same-origin redirects the event page may take (a slug that
/// moved, a language prefix) before we stop following.
const EVENT_PAGE_HOPS: usize = 5;

/// How many listings (form actions) the race remembers as seen or settled.
/// A marketplace shows a handful at a time; ten thousand is weeks of a busy
/// shop, and keeps memory fixed however long the race runs.
pub const REMEMBERED_LISTINGS: usize = 10_000;

/// A buy POST sent while its page was still arriving, and for which listing.
struct Early {
    listing: Listing,
    fired: cart::Fired,
}

/// What one poll means for the loop.
enum PollOutcome {
    /// A cart is ours: the race is over.
    Won(Box<Win>),
    /// Nothing for us (yet): wait the normal interval and poll again.
    Continue,
    /// The shop pushed back or the network failed: wait this long first.
    Backoff(WaitReason, Duration),
    /// The shop forgot our session: discover again.
    SessionLost(String),
}

/// Why the race stops before a win. Flows up with `?`; [`Race::run`] turns it
/// into a [`RaceEnd`] with the summary attached.
#[derive(Debug)]
enum Halt {
    /// Ctrl-C or Stop.
    Cancelled,
    /// No marketplace link, and we were not asked to wait for one.
    MarketplaceNotFound { event_url: Url },
    /// The event page is 404/410.
    EventNotFound { event_url: Url, status: u16 },
    /// The shop's certificate was refused on first contact.
    Certificate(CertFailure),
}

/// A step that may halt the race.
type Flow<T> = Result<T, Halt>;

/// One race against one shop.
pub struct Race {
    cfg: Config,
    session: Session,
    /// Has the shop ever answered (any HTTP response)? Until then a
    /// certificate failure is a configuration error that ends the race.
    answered: bool,
    events: Events,
    waiter: Arc<dyn Waiter>,
    cancel: CancellationToken,
    rng: StdRng,
    /// The 429 ladder and the trouble ladder; a good response resets both.
    ladders: Ladders,
    summary: Summary,
    /// Listings seen so far (by form action), for the counter. Bounded:
    /// weeks of polling must not grow memory (see [`crate::bounded`]).
    seen: BoundedSet<String>,
    /// Listings that are settled for us: lost, or reported in dry-run.
    done: BoundedSet<String>,
    /// How a queued buy (pretix's `?async_id=` task) is waited for.
    task_wait: TaskWait,
    /// Polls on the current connection, and the session's connection count
    /// when it was opened (see [`Race::mind_the_connection`]).
    conn_polls: u64,
    conn_opened: u64,
}

impl Race {
    pub fn new(cfg: Config, session: Session) -> Race {
        Race {
            ladders: Ladders::new(cfg.interval),
            cfg,
            session,
            answered: false,
            events: Events::none(),
            waiter: Arc::new(TokioWaiter),
            cancel: CancellationToken::new(),
            rng: StdRng::from_os_rng(),
            summary: Summary::default(),
            seen: BoundedSet::new(REMEMBERED_LISTINGS),
            done: BoundedSet::new(REMEMBERED_LISTINGS),
            task_wait: TaskWait::default(),
            conn_polls: 0,
            conn_opened: 0,
        }
    }

    /// Poll a queued buy task this often, for at most this long.
    pub fn task_wait(mut self, task_wait: TaskWait) -> Self {
        self.task_wait = task_wait;
        self
    }

    /// Report progress here.
    pub fn events(mut self, events: Events) -> Self {
        self.events = events;
        self
    }

    /// Wait with this instead of tokio's timer.
    pub fn waiter(mut self, waiter: Arc<dyn Waiter>) -> Self {
        self.waiter = waiter;
        self
    }

    /// Stop when this is cancelled (never in the middle of a buy POST).
    pub fn cancel_token(mut self, cancel: CancellationToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// Make the jitter reproducible.
    pub fn seed(mut self, seed: u64) -> Self {
        self.rng = StdRng::seed_from_u64(seed);
        self
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Run until won, stopped, or the marketplace cannot be found.
    pub async fn run(mut self) -> RaceEnd {
        let started = Instant::now();
        self.warm_up();
        let result = self.run_inner().await;
        self.summary.elapsed = started.elapsed();
        let summary = self.summary.clone();
        match result {
            Ok(win) => RaceEnd::Won(win, summary),
            Err(Halt::Cancelled) => RaceEnd::Stopped(summary),
            Err(Halt::MarketplaceNotFound { event_url }) => {
                RaceEnd::MarketplaceNotFound { event_url }
            }
            Err(Halt::Certificate(failure)) => RaceEnd::CertificateRejected(failure),
            Err(Halt::EventNotFound { event_url, status }) => {
                RaceEnd::EventNotFound { event_url, status }
            }
        }
    }

    async fn run_inner(&mut self) -> Flow<Box<Win>> {
        let mut marketplace = self.discover().await?;
        // The first visit follows the link as clicked, with the event page as
        // Referer; later polls reload the (filtered) marketplace.
        let mut url = marketplace.clone();
        let mut referer = self.cfg.event_url();
        let mut just_discovered = true;
        loop {
            self.mind_the_connection();
            match self.poll(&url, &referer, &marketplace).await? {
                PollOutcome::Won(win) => return Ok(win),
                PollOutcome::Continue => just_discovered = false,
                PollOutcome::Backoff(reason, d) => {
                    self.pause(d, reason).await?;
                    continue;
                }
                PollOutcome::SessionLost(reason) => {
                    self.events.send(RaceEvent::SessionLost { reason });
                    if just_discovered {
                        // Lost again straight after rediscovering: don't spin.
                        let d = self.ladders.trouble(&mut self.rng);
                        self.pause(d, WaitReason::ServerError).await?;
                    }
                    self.session.jar().clear();
                    marketplace = self.discover().await?;
                    url = marketplace.clone();
                    referer = self.cfg.event_url();
                    just_discovered = true;
                    continue;
                }
            }
            url = discover::poll_url(&marketplace, &self.cfg.filters);
            referer = marketplace.clone();
            let d = backoff::jittered(self.cfg.interval, &mut self.rng);
            self.pause(d, WaitReason::Interval).await?;
        }
    }

    /// Walk the race path once, before the first poll, on a page that is
    /// not the shop's: the parser's regexes are compiled on first use, and
    /// the first listing a process sees would otherwise pay for that (and
    /// for cold code and allocator paths) between the page and the POST.
    /// Builds, and never sends, one buy request.
    fn warm_up(&self) {
        // Every lazily built regex, finder and selector of the parser, and
        // the page-kind checks, once (`pretix_race_core::parse::warm_up`).
        let _ = parse::warm_up();
        let event = self.cfg.event_url();
        if let Ok(page) = event.join("secondhand/") {
            let _ = parse::classify(page.as_str(), WARM_UP_PAGE);
        }
        self.warm_race_path();
    }

    /// Run the code between a page and its POST once, on [`WARM_UP_PAGE`]:
    /// the in-flight scan, the filters, building (never sending) the buy
    /// request and its Cookie header.
    ///
    /// Tried and dropped: calling this before every poll as well. After a
    /// second's sleep that code has left the CPU's caches (the scan of a
    /// one-listing page costs ~23 µs cold, ~4 µs warm), but re-warming it
    /// before each GET did not move the wire reaction measurably: the cold
    /// misses that count are in the TLS and HTTP/2 layers (BENCHMARKS.md).
    fn warm_race_path(&self) {
        let Ok(page) = self.cfg.event_url().join("secondhand/") else {
            return;
        };
        let filters = &self.cfg.filters;
        let found = parse::Watch::new().first_wanted(WARM_UP_PAGE, |l| {
            let _ = decide::wanted(l, filters);
            true
        });
        if let Some(listing) = found {
            if let Ok(action) = page.join(&listing.form_action) {
                let form = [("csrfmiddlewaretoken", listing.csrf_token.as_str())];
                let _ = self.session.submit(&action, &page, &form).build();
                let _ = self.session.jar().header_for(&action);
            }
        }
    }

    /// Before a poll: once the connection has carried
    /// [`Config::renew_connection_after`] polls, drop it, so this poll (not
    /// a buy) opens the next one. A connection the server closed on its own
    /// (reqwest opened a new one) starts the count again.
    fn mind_the_connection(&mut self) {
        let opened = self.session.connections_opened();
        if opened != self.conn_opened {
            self.conn_opened = opened;
            self.conn_polls = 0;
        }
        if self.conn_polls >= self.cfg.renew_connection_after {
            match self.session.renew() {
                // This poll opens the next connection: it counts for that one.
                Ok(()) => self.conn_opened = opened + 1,
                // The old client stays; the server will close it itself.
                Err(e) => self.events.send(RaceEvent::Problem {
                    message: format!("could not open a fresh connection: {e}"),
                }),
            }
            self.conn_polls = 0;
        }
        self.conn_polls += 1;
    }

    /// Event page → marketplace link. Waits (with `--poll-inactive-marketplace`)
    /// or ends the race when there is no link.
    async fn discover(&mut self) -> Flow<Url> {
        let event_url = self.cfg.event_url();
        self.events.send(RaceEvent::Discovering {
            event_url: event_url.clone(),
        });
        loop {
            let visit = self
                .cancellable(
                    self.session
                        .get_following(&event_url, None, EVENT_PAGE_HOPS),
                )
                .await?;
            self.answered |= visit.is_ok();
            match visit {
                Ok(Visit::Page(Page {
                    url,
                    status: 200,
                    body,
                    ..
                })) => {
                    if body.trim().is_empty() {
                        let d = self.ladders.trouble(&mut self.rng);
                        self.trouble("event page answered HTTP 200 with an empty body".into(), d);
                        self.pause(d, WaitReason::ServerError).await?;
                        continue;
                    }
                    self.ladders.reset();
                    if let Some(link) = discover::marketplace_link(&body, &url) {
                        self.events
                            .send(RaceEvent::MarketplaceFound { url: link.clone() });
                        return Ok(link);
                    }
                    let Some(every) = self.cfg.poll_inactive_marketplace else {
                        return Err(Halt::MarketplaceNotFound { event_url });
                    };
                    let d = backoff::jittered(every, &mut self.rng);
                    self.pause(d, WaitReason::MarketplaceMissing).await?;
                }
                Ok(Visit::Page(Page {
                    status: status @ (404 | 410),
                    ..
                })) => {
                    return Err(Halt::EventNotFound { event_url, status });
                }
                Ok(Visit::Page(Page {
                    status,
                    retry_after,
                    ..
                })) => {
                    let (reason, d) =
                        backoff::wait_for(status, retry_after, &mut self.ladders, &mut self.rng);
                    if reason == WaitReason::ServerError {
                        self.trouble(format!("event page answered HTTP {status}"), d);
                    }
                    self.pause(d, reason).await?;
                }
                Ok(Visit::Redirect(Redirect { location })) => {
                    // Off-site (or unreadable): not followed, so our cookies
                    // never leave the shop's origin.
                    let d = self.ladders.trouble(&mut self.rng);
                    self.trouble(
                        format!(
                            "event page redirects to another site ({}), not following",
                            location.map(|l| l.to_string()).unwrap_or_default()
                        ),
                        d,
                    );
                    self.pause(d, WaitReason::ServerError).await?;
                }
                Err(e) => {
                    if let Some(failure) = e.cert_failure() {
                        if !self.answered {
                            return Err(Halt::Certificate(failure));
                        }
                        let d = self.ladders.trouble(&mut self.rng);
                        self.trouble(format!("event page: certificate error: {failure}"), d);
                        self.pause(d, WaitReason::Network).await?;
                        continue;
                    }
                    // A loop is the shop's doing; everything else is no answer.
                    let reason = match e {
                        FetchError::TooManyRedirects { .. } => WaitReason::ServerError,
                        _ => WaitReason::Network,
                    };
                    let d = self.ladders.trouble(&mut self.rng);
                    self.trouble(format!("event page: {e}"), d);
                    self.pause(d, reason).await?;
                }
            }
        }
    }

    /// One marketplace GET and whatever it leads to.
    async fn poll(&mut self, url: &Url, referer: &Url, marketplace: &Url) -> Flow<PollOutcome> {
        // The page is watched as it arrives: the first wanted listing whose
        // buy form is in gets its POST at once (see `Session::get_page_watching`).
        let mut early: Option<Early> = None;
        let read = {
            let (session, done, filters) = (&self.session, &self.done, &self.cfg.filters);
            let mut scan = parse::Watch::new();
            let mut watch = |prefix: &str| -> bool {
                let Some(listing) = scan.first_wanted(prefix, |l| {
                    !done.contains(&l.form_action) && decide::wanted(l, filters)
                }) else {
                    return false;
                };
                match cart::fire(session, url, &listing) {
                    Ok(fired) => {
                        early = Some(Early { listing, fired });
                        true
                    }
                    // An action that does not resolve: the whole page decides.
                    Err(_) => false,
                }
            };
            let watch: Option<&mut (dyn FnMut(&str) -> bool + Send)> =
                if self.cfg.fire_early && !self.cfg.dry_run {
                    Some(&mut watch)
                } else {
                    None
                };
            self.cancellable(session.get_page_watching(url, Some(referer), watch))
                .await
        };
        let visit = match read {
            Ok((visit, _)) => visit,
            // Stopped while the page was still arriving: a POST that left
            // already is seen through (a cart may be ours), then we stop.
            Err(halt) => {
                if let Some(PollOutcome::Won(win)) =
                    self.answer_early(early.take(), url, marketplace).await?
                {
                    return Ok(PollOutcome::Won(win));
                }
                return Err(halt);
            }
        };
        self.answered |= visit.is_ok();
        self.summary.polls += 1;
        let poll = self.summary.polls;
        if !matches!(&visit, Ok(Visit::Page(Page { status: 200, .. }))) {
            // Only a 200 page is watched, so a POST left here only if the
            // page's body then broke off: its answer still comes first.
            if let Some(outcome) = self.answer_early(early.take(), url, marketplace).await? {
                return Ok(outcome);
            }
        }
        let Page {
            url: page_url,
            status,
            body,
            latency,
            retry_after,
        } = match visit {
            Err(e) => {
                let d = self.ladders.trouble(&mut self.rng);
                match e.cert_failure() {
                    // Mid-run (a certificate rotated under us): retried, but
                    // said for what it is.
                    Some(failure) => {
                        self.trouble(format!("marketplace: certificate error: {failure}"), d)
                    }
                    None => self.trouble(format!("marketplace: {e}"), d),
                }
                return Ok(PollOutcome::Backoff(WaitReason::Network, d));
            }
            Ok(Visit::Redirect(Redirect { location })) => {
                return Ok(PollOutcome::SessionLost(format!(
                    "marketplace redirected to {}",
                    location
                        .map(|l| l.to_string())
                        .unwrap_or_else(|| "nowhere".into())
                )));
            }
            Ok(Visit::Page(page)) => page,
        };
        if status != 200 {
            self.events.send(RaceEvent::Polled {
                poll,
                status,
                latency,
                page: "error",
                listings: 0,
            });
            if status == 403 || status == 404 {
                return Ok(PollOutcome::SessionLost(format!(
                    "marketplace answered HTTP {status}"
                )));
            }
            let (reason, d) =
                backoff::wait_for(status, retry_after, &mut self.ladders, &mut self.rng);
            if reason == WaitReason::ServerError {
                self.trouble(format!("marketplace answered HTTP {status}"), d);
            }
            return Ok(PollOutcome::Backoff(reason, d));
        }
        if body.trim().is_empty() {
            // A 200 without a page is a proxy or app server in trouble, not
            // an empty marketplace (which still has the event's shell).
            self.events.send(RaceEvent::Polled {
                poll,
                status,
                latency,
                page: "empty_body",
                listings: 0,
            });
            let d = self.ladders.trouble(&mut self.rng);
            self.trouble("marketplace answered HTTP 200 with an empty body".into(), d);
            return Ok(PollOutcome::Backoff(WaitReason::ServerError, d));
        }
        self.ladders.reset();
        let kind = parse::classify(page_url.as_str(), &body);
        if !matches!(kind, PageKind::Listings(_)) {
            // The in-flight scan saw a listing the whole page's reading
            // does not: the POST that left is answered all the same.
            if let Some(outcome) = self
                .answer_early(early.take(), &page_url, marketplace)
                .await?
            {
                return Ok(outcome);
            }
        }
        let next = match &kind {
            PageKind::Listings(listings) => {
                // Hot path: straight to the buy POST (or its answer, if it
                // left while the page was arriving).
                let result = self.buy(&page_url, marketplace, listings, early).await?;
                // After the buy: say once why a listing was passed over, so
                // a filtered listing is never mistaken for none at all.
                for l in listings {
                    if self.seen.insert(l.form_action.clone()) {
                        self.summary.listings_seen += 1;
                        if let Some(reason) = decide::skip_reason(l, &self.cfg.filters) {
                            self.events.send(RaceEvent::Skipped {
                                listing: l.clone(),
                                reason,
                            });
                        }
                    }
                }
                result
            }
            // The shop deleted our cookies (a logout, a proxy restart): the
            // session is gone even though the page looks normal.
            _ if !self.session.jar().has_any_for(&page_url) => {
                PollOutcome::SessionLost("the shop deleted the session cookies".into())
            }
            PageKind::Empty => PollOutcome::Continue,
            PageKind::Inactive => {
                self.events.send(RaceEvent::MarketplaceInactive);
                PollOutcome::Continue
            }
            PageKind::CsrfFailure | PageKind::Login => {
                PollOutcome::SessionLost(format!("marketplace showed a {} page", kind.name()))
            }
            PageKind::Unknown | PageKind::Checkout | PageKind::TicketUnavailable => {
                // Worth a human's look; whoever listens saves it (the engine
                // touches no files).
                self.events.send(RaceEvent::UnknownPage {
                    url: page_url.clone(),
                    status,
                    kind: kind.name(),
                    body,
                });
                PollOutcome::Continue
            }
        };
        self.events.send(RaceEvent::Polled {
            poll,
            status,
            latency,
            page: kind.name(),
            listings: match &kind {
                PageKind::Listings(l) => l.len(),
                _ => 0,
            },
        });
        Ok(next)
    }

    /// Try the wanted listings of one page in order until one is ours. A
    /// listing whose POST already left while the page was arriving
    /// (`early`) is answered first.
    async fn buy(
        &mut self,
        page: &Url,
        marketplace: &Url,
        listings: &[Listing],
        early: Option<Early>,
    ) -> Flow<PollOutcome> {
        if let Some(outcome) = self.answer_early(early, page, marketplace).await? {
            return Ok(outcome);
        }
        for listing in listings {
            if self.done.contains(&listing.form_action)
                || !decide::wanted(listing, &self.cfg.filters)
            {
                continue;
            }
            if self.cfg.dry_run {
                self.done.insert(listing.form_action.clone());
                self.events.send(RaceEvent::Detected {
                    listing: listing.clone(),
                    target: page.clone(),
                });
                continue;
            }
            if let Some(outcome) = self.try_listing(page, marketplace, listing, None).await? {
                return Ok(outcome);
            }
        }
        Ok(PollOutcome::Continue)
    }

    /// The answer to a POST that left while its page was arriving, if one
    /// did: it comes before anything else the page leads to. `None` when
    /// there was none, or its listing is settled (lost) and the page's
    /// other listings may be tried.
    async fn answer_early(
        &mut self,
        early: Option<Early>,
        page: &Url,
        marketplace: &Url,
    ) -> Flow<Option<PollOutcome>> {
        match early {
            Some(Early { listing, fired }) => {
                self.try_listing(page, marketplace, &listing, Some(fired))
                    .await
            }
            None => Ok(None),
        }
    }

    /// One buy attempt (its POST already on its way when `fired` is given).
    /// `Some` ends the poll with that outcome; `None` goes on to the page's
    /// next listing (this one is settled: lost, or gone on a closer look).
    async fn try_listing(
        &mut self,
        page: &Url,
        marketplace: &Url,
        listing: &Listing,
        fired: Option<cart::Fired>,
    ) -> Flow<Option<PollOutcome>> {
        let event = self.cfg.event_url();
        let waiter = Arc::clone(&self.waiter);
        let cancel = self.cancel.clone();
        let follow = Follow {
            event: &event,
            marketplace,
            waiter: &*waiter,
            task_wait: self.task_wait,
            cancel: &cancel,
        };
        let mut attempt = match fired {
            Some(fired) => cart::complete(&self.session, page, listing, fired, &follow).await,
            None => cart::add(&self.session, page, listing, &follow).await,
        };
        let mut bought = listing.clone();
        if attempt.outcome == CartOutcome::CsrfRejected {
            self.report(listing, &attempt);
            // A rotated token: reload the page for a fresh one and try
            // this listing once more, if it is still there.
            match self.refetch_listing(page, marketplace, listing).await? {
                Some(fresh) => {
                    attempt = cart::add(&self.session, page, &fresh, &follow).await;
                    bought = fresh;
                }
                None => {
                    self.done.insert(listing.form_action.clone());
                    self.summary.carts_lost += 1;
                    return Ok(None);
                }
            }
        }
        self.report(&bought, &attempt);
        let outcome = match attempt.outcome.clone() {
            CartOutcome::Won {
                checkout_url,
                verified,
                expires_at,
            } => PollOutcome::Won(self.win(
                bought,
                page,
                checkout_url,
                verified,
                expires_at,
                attempt,
            )),
            CartOutcome::Lost(_) => {
                self.done.insert(listing.form_action.clone());
                self.summary.carts_lost += 1;
                return Ok(None);
            }
            CartOutcome::CsrfRejected => {
                PollOutcome::SessionLost("buy POST refused twice (CSRF)".into())
            }
            CartOutcome::RateLimited { retry_after } => {
                let (reason, d) =
                    backoff::wait_for(429, retry_after, &mut self.ladders, &mut self.rng);
                PollOutcome::Backoff(reason, d)
            }
            CartOutcome::Conflict { retry_after } => {
                let (reason, d) =
                    backoff::wait_for(409, retry_after, &mut self.ladders, &mut self.rng);
                PollOutcome::Backoff(reason, d)
            }
            CartOutcome::SessionLost { location } => PollOutcome::SessionLost(format!(
                "buy POST redirected to {}",
                location.unwrap_or_default()
            )),
            CartOutcome::ServerError { .. } | CartOutcome::Uncertain { .. } => {
                // A 5xx or a lost answer can still mean the shop put the
                // ticket in our cart before things went wrong: look in
                // the cart before assuming anything.
                if let Some((checkout_url, expires_at)) = self.probe_cart(page).await {
                    let found = CartOutcome::Won {
                        checkout_url: checkout_url.clone(),
                        verified: true,
                        expires_at: expires_at.clone(),
                    };
                    self.events.send(RaceEvent::CartAttempt {
                        listing: bought.clone(),
                        outcome: found,
                        latency: attempt.post_latency,
                    });
                    PollOutcome::Won(self.win(
                        bought,
                        page,
                        checkout_url,
                        true,
                        expires_at,
                        attempt,
                    ))
                } else if let CartOutcome::Uncertain { detail } = &attempt.outcome {
                    self.events.send(RaceEvent::Problem {
                        message: format!("{detail}; the cart is empty, moving on"),
                    });
                    self.done.insert(listing.form_action.clone());
                    return Ok(None);
                } else {
                    let d = self.ladders.trouble(&mut self.rng);
                    PollOutcome::Backoff(WaitReason::ServerError, d)
                }
            }
        };
        Ok(Some(outcome))
    }

    /// Is there a verified cart in our session? (`checkout/start` of the event.)
    async fn probe_cart(&self, page: &Url) -> Option<(Url, Option<String>)> {
        let start = self.cfg.event_url().join("checkout/start").ok()?;
        match cart::verify_checkout(&self.session, start, page).await.0 {
            CartOutcome::Won {
                checkout_url,
                verified: true,
                expires_at,
            } => Some((checkout_url, expires_at)),
            _ => None,
        }
    }

    /// Reload `page` and find `listing` on it again (with a fresh token).
    async fn refetch_listing(
        &mut self,
        page: &Url,
        marketplace: &Url,
        listing: &Listing,
    ) -> Flow<Option<Listing>> {
        let visit = self
            .cancellable(self.session.get_page(page, Some(marketplace)))
            .await?;
        match visit {
            Ok(Visit::Page(Page {
                url,
                status: 200,
                body,
                ..
            })) => Ok(match parse::classify(url.as_str(), &body) {
                PageKind::Listings(ls) => ls
                    .into_iter()
                    .find(|l| l.form_action == listing.form_action),
                _ => None,
            }),
            _ => Ok(None),
        }
    }

    fn win(
        &self,
        listing: Listing,
        page: &Url,
        checkout_url: Url,
        verified: bool,
        expires_at: Option<String>,
        attempt: Attempt,
    ) -> Box<Win> {
        Box::new(Win {
            listing,
            target: page.clone(),
            checkout_url,
            verified,
            expires_at,
            cookies: self.session.jar().snapshot(),
            transcript: attempt.transcript,
            post_latency: attempt.post_latency,
        })
    }

    fn report(&self, listing: &Listing, attempt: &Attempt) {
        self.events.send(RaceEvent::CartAttempt {
            listing: listing.clone(),
            outcome: attempt.outcome.clone(),
            latency: attempt.post_latency,
        });
    }

    /// Server or network trouble that is being retried: one line that says
    /// what went wrong and when the next try is.
    fn trouble(&self, what: String, retry_in: Duration) {
        self.events.send(RaceEvent::Problem {
            message: format!("{what}; retrying in {:.1} s", retry_in.as_secs_f64()),
        });
    }

    /// Run `fut` unless the race is cancelled first.
    async fn cancellable<F: Future>(&self, fut: F) -> Flow<F::Output> {
        tokio::select! {
            out = fut => Ok(out),
            _ = self.cancel.cancelled() => Err(Halt::Cancelled),
        }
    }

    /// Wait `d`, unless the race is cancelled first.
    async fn pause(&mut self, d: Duration, reason: WaitReason) -> Flow<()> {
        self.events.send(RaceEvent::Waiting {
            reason,
            duration: d,
        });
        self.cancellable(self.waiter.wait(d)).await
    }
}
