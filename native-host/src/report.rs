//! Race events as log lines: a human sentence plus structured fields.
//!
//! Every event is logged with `tracing` fields (`race_event`, `poll`,
//! `status`, `latency_us`, `listing`, `price`, `outcome`, `backoff_s`, …)
//! and the same sentence a person reads on stderr. With the text formatter
//! the fields trail the sentence; with `--log-format json` they are real JSON
//! keys, so a log shipper can count lost races or chart latencies without
//! parsing English. `race_event` names the event kind in every record.
//!
//! For long unattended runs, [`Reporter`] wraps [`log`]: routine lines go to
//! debug after the first few, and a heartbeat line at info every five
//! minutes says how many polls, which statuses and what latency.
//!
//! Logs never carry cookie values or CSRF tokens; the deliberate exceptions
//! are the handoff output and the fallback script, which are not logs.

use tracing::{debug, info, warn};

use crate::cart::{CartOutcome, LostReason};
use crate::events::{RaceEvent, WaitReason};

/// Log one event through `tracing`.
pub fn log(ev: &RaceEvent) {
    match ev {
        RaceEvent::Discovering { event_url } => info!(
            race_event = "discovering",
            event_url = %event_url,
            "opening the event page {event_url}"
        ),
        RaceEvent::MarketplaceFound { url } => info!(
            race_event = "marketplace_found",
            marketplace = %url,
            "found the marketplace link: {url}"
        ),
        RaceEvent::Polled {
            poll,
            status,
            latency,
            page,
            listings,
        } => {
            let ms = latency.as_millis();
            let latency_us = micros(*latency);
            if *listings > 0 {
                info!(
                    race_event = "polled",
                    poll,
                    status,
                    latency_us,
                    page,
                    listings,
                    "poll #{poll}: HTTP {status} in {ms} ms, {listings} listing(s)"
                );
            } else {
                info!(
                    race_event = "polled",
                    poll,
                    status,
                    latency_us,
                    page,
                    listings,
                    "poll #{poll}: HTTP {status} in {ms} ms, {page}"
                );
            }
        }
        RaceEvent::MarketplaceInactive => info!(
            race_event = "marketplace_inactive",
            "the marketplace says it is not currently active; still watching"
        ),
        RaceEvent::Waiting { reason, duration } => log_wait(*reason, duration.as_secs_f64()),
        RaceEvent::SessionLost { reason } => warn!(
            race_event = "session_lost",
            reason = %reason,
            "session lost ({reason}); opening the event page again"
        ),
        RaceEvent::UnknownPage {
            url,
            status,
            kind,
            body,
        } => warn!(
            race_event = "unknown_page",
            url = %url,
            status,
            page = kind,
            bytes = body.len(),
            "unexpected page from {url} (HTTP {status})"
        ),
        RaceEvent::Skipped { listing, reason } => info!(
            race_event = "skipped",
            listing = %listing.ticket_type,
            price = %listing.price_text,
            reason = %reason,
            "not buying {} ({}): {reason}",
            listing.ticket_type,
            listing.price_text
        ),
        RaceEvent::Detected { listing, target } => info!(
            race_event = "detected",
            listing = %listing.ticket_type,
            price = %listing.price_text,
            target = %target,
            outcome = "detected",
            "dry run: {} for {} is available (not buying)",
            listing.ticket_type,
            listing.price_text
        ),
        RaceEvent::CartAttempt {
            listing,
            outcome,
            latency,
        } => log_cart(&listing.ticket_type, &listing.price_text, outcome, *latency),
        RaceEvent::Problem { message } => warn!(
            race_event = "problem",
            cause = %message,
            "{message}"
        ),
    }
}

fn log_wait(reason: WaitReason, s: f64) {
    let reason_name = reason.name();
    match reason {
        WaitReason::Interval => debug!(
            race_event = "waiting",
            reason = reason_name,
            wait_s = s,
            "next poll in {s:.1} s"
        ),
        WaitReason::MarketplaceMissing => info!(
            race_event = "waiting",
            reason = reason_name,
            wait_s = s,
            "no marketplace link on the event page yet; checking again in {s:.0} s"
        ),
        WaitReason::RateLimited => warn!(
            race_event = "waiting",
            reason = reason_name,
            backoff_s = s,
            "rate limited (HTTP 429): backing off {s:.0} s"
        ),
        WaitReason::RetryAfter => warn!(
            race_event = "waiting",
            reason = reason_name,
            backoff_s = s,
            "shop asked us to wait (Retry-After): {s:.1} s"
        ),
        // The race already said what went wrong and when it retries (one
        // `problem` line); the wait itself is detail.
        WaitReason::ServerError => debug!(
            race_event = "waiting",
            reason = reason_name,
            backoff_s = s,
            "shop trouble: backing off {s:.1} s"
        ),
        WaitReason::Network => debug!(
            race_event = "waiting",
            reason = reason_name,
            backoff_s = s,
            "network trouble: retrying in {s:.1} s"
        ),
    }
}

fn log_cart(ticket: &str, price: &str, outcome: &CartOutcome, latency: std::time::Duration) {
    let what = format!("{ticket} ({price})");
    let ms = latency.as_millis();
    let latency_us = micros(latency);
    // The fields every buy attempt carries; `outcome` says how it went.
    macro_rules! cart {
        ($level:ident, $outcome:expr, $($rest:tt)+) => {
            $level!(
                race_event = "cart_attempt",
                listing = %ticket,
                price = %price,
                latency_us,
                outcome = $outcome,
                $($rest)+
            )
        };
    }
    match outcome {
        CartOutcome::Won { verified: true, .. } => cart!(
            info,
            "won",
            "WON: {what} is in our cart (buy POST {ms} ms, checkout verified)"
        ),
        CartOutcome::Won {
            verified: false, ..
        } => cart!(
            warn,
            "won_unverified",
            "{what}: the shop sent us to checkout, but checkout could not be verified"
        ),
        CartOutcome::Lost(reason) => {
            let (lost, why) = match reason {
                LostReason::BackToMarketplace => {
                    ("back_to_marketplace", "sent back to the marketplace")
                }
                LostReason::TicketUnavailable => ("ticket_unavailable", "\"Ticket unavailable\""),
                LostReason::Gone => ("gone", "listing gone"),
                LostReason::CartEmpty => ("cart_empty", "checkout found our cart empty or expired"),
            };
            cart!(
                info,
                "lost",
                lost_reason = lost,
                "lost the race for {what}: {why} (someone else was faster)"
            )
        }
        CartOutcome::CsrfRejected => cart!(
            warn,
            "csrf_rejected",
            status = 403u16,
            "{what}: buy refused (HTTP 403, CSRF/session); refreshing"
        ),
        CartOutcome::RateLimited { retry_after } => cart!(
            warn,
            "rate_limited",
            status = 429u16,
            retry_after_s = retry_after.map(|d| d.as_secs_f64()),
            "{what}: buy rate limited"
        ),
        CartOutcome::Conflict { retry_after } => cart!(
            warn,
            "conflict",
            status = 409u16,
            retry_after_s = retry_after.map(|d| d.as_secs_f64()),
            "{what}: buy answered HTTP 409 (busy)"
        ),
        CartOutcome::ServerError { status } => cart!(
            warn,
            "server_error",
            status,
            "{what}: shop error HTTP {status} on buy"
        ),
        CartOutcome::SessionLost { location } => cart!(
            warn,
            "session_lost",
            location = location.as_deref(),
            "{what}: session lost on buy"
        ),
        CartOutcome::Uncertain { detail } => cart!(
            warn,
            "uncertain",
            cause = %detail,
            "{what}: {detail}"
        ),
    }
}

/// Whole microseconds, saturating (a `u128` is not a `tracing` value).
fn micros(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

// ---------------------------------------------------------------------------
// Weeks unattended: quiet routine lines, and a heartbeat.
//
// At a 1 s interval a race polls 86,400 times a day. One info line per poll
// is a log nobody reads and a disk that fills, so the routine lines (an
// empty or inactive marketplace, a missing marketplace link, an odd page
// already reported) are logged at info only the first few times and at
// debug after that. What a person still needs, that the race is alive and
// how the shop answers, comes as one heartbeat line at info per period.
// Everything else (listings, buys, backoffs, errors) is logged as before.

/// Routine lines of each kind logged at info before they move to debug.
pub const ROUTINE_AT_INFO: u64 = 5;

/// How often the heartbeat line is logged (real time).
pub const HEARTBEAT_PERIOD: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// Logs race events like [`log`], quieting routine lines after the first
/// few and summarising them in a heartbeat line every period.
///
/// Its state is bounded whatever the run length: counters, a map keyed by
/// HTTP status (at most a few hundred keys) and a fixed-size latency
/// histogram. The heartbeat is checked on every event, so it comes with the
/// first event after the period is over (the race sends several per poll).
#[derive(Debug)]
pub struct Reporter {
    period: std::time::Duration,
    at_info: u64,
    /// When the current heartbeat window started.
    since: tokio::time::Instant,
    window: Window,
    /// Routine lines of each kind so far (for the info→debug switch).
    routine: [u64; Routine::COUNT],
}

/// Kinds of routine line, each quieted on its own.
#[derive(Debug, Clone, Copy)]
enum Routine {
    /// A poll with HTTP 200 and no listing.
    Poll,
    Inactive,
    MarketplaceMissing,
    UnknownPage,
}

impl Routine {
    const COUNT: usize = 4;
}

/// What one heartbeat summarises; reset after each heartbeat.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Window {
    /// Marketplace polls that got an answer.
    pub polls: u64,
    /// Answers by HTTP status.
    pub statuses: std::collections::BTreeMap<u16, u64>,
    /// Problems being retried (network trouble and the like).
    pub problems: u64,
    /// Odd pages the shop answered with.
    pub unknown_pages: u64,
    /// Listings on the polled pages, summed over the polls.
    pub listings: u64,
    /// Buy POSTs.
    pub buys: u64,
    pub latency: LatencyHistogram,
}

impl Default for Reporter {
    fn default() -> Self {
        Self::new(HEARTBEAT_PERIOD, ROUTINE_AT_INFO)
    }
}

impl Reporter {
    /// A reporter with a heartbeat every `period` that logs the first
    /// `at_info` routine lines of each kind at info.
    pub fn new(period: std::time::Duration, at_info: u64) -> Self {
        Reporter {
            period,
            at_info,
            since: tokio::time::Instant::now(),
            window: Window::default(),
            routine: [0; Routine::COUNT],
        }
    }

    /// Log `ev`, count it, and log the heartbeat if one is due.
    pub fn log(&mut self, ev: &RaceEvent) {
        self.count(ev);
        match ev {
            RaceEvent::Polled {
                status: 200,
                listings: 0,
                poll,
                latency,
                page,
                ..
            } if self.quiet(Routine::Poll) => debug!(
                race_event = "polled",
                poll,
                status = 200u16,
                latency_us = micros(*latency),
                page,
                listings = 0usize,
                "poll #{poll}: HTTP 200 in {} ms, {page}",
                latency.as_millis()
            ),
            RaceEvent::MarketplaceInactive if self.quiet(Routine::Inactive) => debug!(
                race_event = "marketplace_inactive",
                "the marketplace is still not active"
            ),
            RaceEvent::Waiting {
                reason: WaitReason::MarketplaceMissing,
                duration,
            } if self.quiet(Routine::MarketplaceMissing) => debug!(
                race_event = "waiting",
                reason = WaitReason::MarketplaceMissing.name(),
                wait_s = duration.as_secs_f64(),
                "still no marketplace link on the event page"
            ),
            RaceEvent::UnknownPage {
                url, status, kind, ..
            } if self.quiet(Routine::UnknownPage) => debug!(
                race_event = "unknown_page",
                url = %url,
                status,
                page = kind,
                "unexpected page from {url} (HTTP {status}) again"
            ),
            other => log(other),
        }
        let now = tokio::time::Instant::now();
        if now.duration_since(self.since) >= self.period {
            self.heartbeat_at(now);
        }
    }

    /// Log the heartbeat line now and start a new window; returns what it
    /// summarised.
    pub fn heartbeat(&mut self) -> Window {
        self.heartbeat_at(tokio::time::Instant::now())
    }

    fn heartbeat_at(&mut self, now: tokio::time::Instant) -> Window {
        let minutes = now.duration_since(self.since).as_secs_f64() / 60.0;
        let w = std::mem::take(&mut self.window);
        self.since = now;
        let statuses = w.status_summary();
        // µs in the fields (like `latency_us` on each poll); the sentence
        // in ms with a decimal, as loopback and nearby shops answer in < 1 ms.
        let p50_us = w.latency.quantile(0.5).map(micros);
        let max_us = w.latency.max().map(micros);
        let ms = |us: Option<u64>| us.map_or("-".into(), |us| format!("{:.1} ms", us as f64 / 1e3));
        let (p50, max) = (ms(p50_us), ms(max_us));
        info!(
            race_event = "heartbeat",
            polls = w.polls,
            statuses = %statuses,
            problems = w.problems,
            unknown_pages = w.unknown_pages,
            listings = w.listings,
            buys = w.buys,
            latency_p50_us = p50_us,
            latency_max_us = max_us,
            window_min = minutes,
            "alive: {} poll(s) in {minutes:.1} min ({statuses}), latency p50 {p50} max {max}, \
             {} listing(s), {} buy(s), {} problem(s), {} odd page(s)",
            w.polls,
            w.listings,
            w.buys,
            w.problems,
            w.unknown_pages
        );
        w
    }

    /// The window so far (for tests and status displays).
    pub fn window(&self) -> &Window {
        &self.window
    }

    /// Count one more routine line of `kind`; true once it is past the
    /// lines logged at info.
    fn quiet(&mut self, kind: Routine) -> bool {
        let n = &mut self.routine[kind as usize];
        *n = n.saturating_add(1);
        *n > self.at_info
    }

    fn count(&mut self, ev: &RaceEvent) {
        let w = &mut self.window;
        match ev {
            RaceEvent::Polled {
                status,
                latency,
                listings,
                ..
            } => {
                w.polls += 1;
                *w.statuses.entry(*status).or_default() += 1;
                w.latency.record(*latency);
                w.listings += *listings as u64;
            }
            RaceEvent::Problem { .. } => w.problems += 1,
            RaceEvent::UnknownPage { .. } => w.unknown_pages += 1,
            RaceEvent::CartAttempt { .. } => w.buys += 1,
            _ => {}
        }
    }
}

impl Window {
    /// `200×298 429×2`, by status; `no answers` when empty.
    pub fn status_summary(&self) -> String {
        if self.statuses.is_empty() {
            return "no answers".into();
        }
        let parts: Vec<String> = self
            .statuses
            .iter()
            .map(|(s, n)| format!("{s}×{n}"))
            .collect();
        parts.join(" ")
    }
}

/// Latencies in a fixed number of log-scale buckets: a quarter octave
/// each (bucket bounds ~19 % apart), from 1 µs to beyond an hour. Constant
/// memory however many polls are recorded; quantiles are exact to a bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyHistogram {
    buckets: [u64; LatencyHistogram::BUCKETS],
    count: u64,
    max: std::time::Duration,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            buckets: [0; Self::BUCKETS],
            count: 0,
            max: std::time::Duration::ZERO,
        }
    }
}

impl LatencyHistogram {
    /// 4 buckets per power of two, 2^0 … 2^40 µs.
    const BUCKETS: usize = 4 * 41;

    fn bucket(us: u64) -> usize {
        if us < 2 {
            return 0;
        }
        let octave = 63 - us.leading_zeros() as usize;
        // the two bits after the leading one pick the quarter
        let quarter = if octave >= 2 {
            ((us >> (octave - 2)) & 0b11) as usize
        } else {
            ((us << (2 - octave)) & 0b11) as usize
        };
        (octave * 4 + quarter).min(Self::BUCKETS - 1)
    }

    /// The smallest latency in `bucket`, in µs.
    fn lower_bound(bucket: usize) -> u64 {
        let (octave, quarter) = (bucket / 4, (bucket % 4) as u64);
        if octave >= 2 {
            (1u64 << octave) + (quarter << (octave - 2))
        } else {
            1u64 << octave
        }
    }

    pub fn record(&mut self, d: std::time::Duration) {
        self.buckets[Self::bucket(micros(d))] += 1;
        self.count += 1;
        self.max = self.max.max(d);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn max(&self) -> Option<std::time::Duration> {
        (self.count > 0).then_some(self.max)
    }

    /// The `q` quantile (0..=1), as the lower bound of its bucket (capped
    /// by the maximum seen); `None` if nothing was recorded.
    pub fn quantile(&self, q: f64) -> Option<std::time::Duration> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let d = std::time::Duration::from_micros(Self::lower_bound(i));
                return Some(d.min(self.max));
            }
        }
        Some(self.max)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use serde_json::Value;
    use url::Url;

    use super::*;
    use crate::parse::Listing;

    /// A `tracing` writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Log `events` through a JSON subscriber; one parsed record per event.
    fn json_records(events: &[RaceEvent]) -> Vec<Value> {
        json_records_of(|| events.iter().for_each(log))
    }

    fn listing() -> Listing {
        Listing {
            ticket_type: "Ticket – Type A".into(),
            price_text: "190.00 EUR".into(),
            price: None,
            form_action: "/org/fest/secondhand/buy/1/".into(),
            csrf_token: "SECRET-TOKEN".into(),
        }
    }

    #[test]
    fn json_logs_carry_the_fields_and_the_human_text() {
        let records = json_records(&[
            RaceEvent::Polled {
                poll: 3,
                status: 200,
                latency: Duration::from_micros(2_345),
                page: "empty",
                listings: 0,
            },
            RaceEvent::Waiting {
                reason: WaitReason::RateLimited,
                duration: Duration::from_secs(60),
            },
            RaceEvent::CartAttempt {
                listing: listing(),
                outcome: CartOutcome::Lost(LostReason::TicketUnavailable),
                latency: Duration::from_micros(1_500),
            },
            RaceEvent::CartAttempt {
                listing: listing(),
                outcome: CartOutcome::Won {
                    checkout_url: Url::parse("https://shop.invalid/org/fest/checkout/").unwrap(),
                    verified: true,
                    expires_at: None,
                },
                latency: Duration::from_micros(1_800),
            },
        ]);
        assert_eq!(records.len(), 4, "{records:#?}");
        let f = |i: usize| &records[i]["fields"];

        assert_eq!(f(0)["race_event"], "polled");
        assert_eq!(f(0)["poll"], 3);
        assert_eq!(f(0)["status"], 200);
        assert_eq!(f(0)["latency_us"], 2_345);
        assert_eq!(f(0)["page"], "empty");
        assert_eq!(f(0)["listings"], 0);
        assert_eq!(f(0)["message"], "poll #3: HTTP 200 in 2 ms, empty");
        assert_eq!(records[0]["level"], "INFO");

        assert_eq!(f(1)["race_event"], "waiting");
        assert_eq!(f(1)["reason"], "rate_limited");
        assert_eq!(f(1)["backoff_s"], 60.0);
        assert_eq!(records[1]["level"], "WARN");

        assert_eq!(f(2)["race_event"], "cart_attempt");
        assert_eq!(f(2)["listing"], "Ticket – Type A");
        assert_eq!(f(2)["price"], "190.00 EUR");
        assert_eq!(f(2)["latency_us"], 1_500);
        assert_eq!(f(2)["outcome"], "lost");
        assert_eq!(f(2)["lost_reason"], "ticket_unavailable");
        assert!(f(2)["message"]
            .as_str()
            .unwrap()
            .starts_with("lost the race for Ticket – Type A (190.00 EUR)"));

        assert_eq!(f(3)["outcome"], "won");
        assert_eq!(f(3)["latency_us"], 1_800);
        assert!(f(3)["message"].as_str().unwrap().starts_with("WON: "));

        // credentials never reach the log
        let all = serde_json::to_string(&records).unwrap();
        assert!(!all.contains("SECRET-TOKEN"));
    }

    #[test]
    fn every_event_names_itself() {
        let url = Url::parse("https://shop.invalid/org/fest/").unwrap();
        let records = json_records(&[
            RaceEvent::Discovering {
                event_url: url.clone(),
            },
            RaceEvent::MarketplaceFound { url: url.clone() },
            RaceEvent::MarketplaceInactive,
            RaceEvent::SessionLost { reason: "x".into() },
            RaceEvent::UnknownPage {
                url: url.clone(),
                status: 200,
                kind: "unknown",
                body: "<p>".into(),
            },
            RaceEvent::Detected {
                listing: listing(),
                target: url,
            },
            RaceEvent::Problem {
                message: "connection refused".into(),
            },
        ]);
        let kinds: Vec<&str> = records
            .iter()
            .map(|r| r["fields"]["race_event"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "discovering",
                "marketplace_found",
                "marketplace_inactive",
                "session_lost",
                "unknown_page",
                "detected",
                "problem"
            ]
        );
        assert_eq!(records[4]["fields"]["bytes"], 3);
        assert_eq!(records[6]["fields"]["cause"], "connection refused");
    }

    #[test]
    fn trouble_is_one_warning_the_wait_is_detail() {
        let records = json_records(&[
            RaceEvent::Problem {
                message: "marketplace answered HTTP 502; retrying in 4.1 s".into(),
            },
            RaceEvent::Waiting {
                reason: WaitReason::ServerError,
                duration: Duration::from_millis(4_100),
            },
            RaceEvent::Waiting {
                reason: WaitReason::Network,
                duration: Duration::from_secs(2),
            },
        ]);
        let levels: Vec<&str> = records
            .iter()
            .map(|r| r["level"].as_str().unwrap())
            .collect();
        assert_eq!(levels, ["WARN", "DEBUG", "DEBUG"]);
        assert_eq!(records[1]["fields"]["backoff_s"], 4.1);
    }

    fn polled(poll: u64, status: u16, ms: u64) -> RaceEvent {
        RaceEvent::Polled {
            poll,
            status,
            latency: Duration::from_millis(ms),
            page: if status == 200 { "empty" } else { "error" },
            listings: 0,
        }
    }

    /// Run `f` with a JSON subscriber; one parsed record per line.
    fn json_records_of(f: impl FnOnce()) -> Vec<Value> {
        let buf = Buffer::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        out.lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn routine_poll_lines_move_to_debug_after_the_first_few() {
        let records = json_records_of(|| {
            let mut r = Reporter::new(HEARTBEAT_PERIOD, 5);
            for poll in 1..=100 {
                r.log(&polled(poll, 200, 10));
            }
            // not routine: always at info/warn
            r.log(&RaceEvent::Polled {
                poll: 101,
                status: 200,
                latency: Duration::from_millis(10),
                page: "listings",
                listings: 2,
            });
        });
        assert_eq!(records.len(), 101);
        let at_info: Vec<u64> = records
            .iter()
            .filter(|r| r["level"] == "INFO")
            .map(|r| r["fields"]["poll"].as_u64().unwrap())
            .collect();
        assert_eq!(at_info, [1, 2, 3, 4, 5, 101]);
        // the quiet lines keep their fields
        assert_eq!(records[50]["level"], "DEBUG");
        assert_eq!(records[50]["fields"]["race_event"], "polled");
        assert_eq!(records[50]["fields"]["poll"], 51);
    }

    #[tokio::test(start_paused = true)]
    async fn a_heartbeat_every_period_summarises_polls_statuses_and_latency() {
        let period = Duration::from_secs(300);
        let buf = Buffer::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let records = || -> Vec<Value> {
            let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
            out.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        };
        let beats = |rs: &[Value]| -> Vec<Value> {
            rs.iter()
                .filter(|r| r["fields"]["race_event"] == "heartbeat")
                .cloned()
                .collect()
        };

        let mut r = Reporter::new(period, 5);
        // 298 answers of 1..=298 ms, two 429s at 900 ms
        for i in 1..=298u64 {
            r.log(&polled(i, 200, i));
        }
        r.log(&polled(299, 429, 900));
        r.log(&polled(300, 429, 900));
        tokio::time::advance(period - Duration::from_secs(1)).await;
        r.log(&RaceEvent::Problem {
            message: "connection reset".into(),
        });
        assert!(
            beats(&records()).is_empty(),
            "no heartbeat before the period"
        );
        assert_eq!(r.window().polls, 300);

        // The paused clock moves past the period; the next event brings it.
        tokio::time::advance(Duration::from_secs(1)).await;
        r.log(&RaceEvent::MarketplaceFound {
            url: Url::parse("https://shop.invalid/m/").unwrap(),
        });
        let all = records();
        let beats = beats(&all);
        assert_eq!(beats.len(), 1, "{all:#?}");
        assert_eq!(beats[0]["level"], "INFO");
        let hb = &beats[0]["fields"];
        assert_eq!(hb["polls"], 300);
        assert_eq!(hb["statuses"], "200×298 429×2");
        assert_eq!(hb["problems"], 1);
        // p50 of 1..=298 ms plus two at 900 ms is ~150 ms: within a bucket
        let p50 = hb["latency_p50_us"].as_u64().unwrap();
        assert!((125_000..=150_000).contains(&p50), "{p50}");
        assert_eq!(hb["latency_max_us"], 900_000);
        assert!(hb["message"].as_str().unwrap().contains("max 900.0 ms"));
        assert!(hb["message"].as_str().unwrap().contains("200×298 429×2"));
        assert_eq!(r.window().polls, 0, "a new window started");
        // only 5 routine poll lines reached info, plus the 429s and the rest
        let polled_info = all
            .iter()
            .filter(|r| r["fields"]["race_event"] == "polled")
            .count();
        assert_eq!(polled_info, 5 + 2);
    }

    #[test]
    fn the_latency_histogram_is_fixed_size_and_close_enough() {
        let mut h = LatencyHistogram::default();
        assert_eq!(h.quantile(0.5), None);
        for us in 1..=100_000u64 {
            h.record(Duration::from_micros(us));
        }
        assert_eq!(h.count(), 100_000);
        assert_eq!(h.max(), Some(Duration::from_micros(100_000)));
        let p50 = h.quantile(0.5).unwrap().as_micros() as f64;
        // a quarter octave: within 19 % below the true 50 000 µs
        assert!((50_000.0 * 0.81..=50_000.0).contains(&p50), "{p50}");
        // bucket bounds are increasing and each value lands at or above its
        // bucket's lower bound
        for b in 1..LatencyHistogram::BUCKETS {
            assert!(LatencyHistogram::lower_bound(b) >= LatencyHistogram::lower_bound(b - 1));
        }
        for us in [1u64, 2, 3, 5, 7, 100, 1_000_003, u64::MAX] {
            let b = LatencyHistogram::bucket(us);
            assert!(LatencyHistogram::lower_bound(b) <= us, "{us}");
        }
    }
}
