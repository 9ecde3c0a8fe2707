//! Race events as log lines: a human sentence plus structured fields.
//!
//! Every event is logged with `tracing` fields (`race_event`, `poll`,
//! `status`, `latency_us`, `listing`, `price`, `outcome`, `backoff_s`, …)
//! and the same sentence a person reads on stderr. With the text formatter
//! the fields trail the sentence; with `--log-format json` they are real JSON
//! keys, so a log shipper can count lost races or chart latencies without
//! parsing English. `race_event` names the event kind in every record.
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
        let buf = Buffer::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || events.iter().for_each(log));
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        out.lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect()
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
}
