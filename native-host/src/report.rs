//! Race events as human-readable log lines (stderr / log file).
//!
//! Logs never carry cookie values or CSRF tokens; the deliberate exceptions
//! are the handoff output and the fallback script, which are not logs.

use crate::cart::{CartOutcome, LostReason};
use crate::events::{RaceEvent, WaitReason};

/// Log one event through `tracing`.
pub fn log(ev: &RaceEvent) {
    match ev {
        RaceEvent::Discovering { event_url } => {
            tracing::info!("opening the event page {event_url}")
        }
        RaceEvent::MarketplaceFound { url } => tracing::info!("found the marketplace link: {url}"),
        RaceEvent::Polled {
            poll,
            status,
            latency,
            page,
            listings,
        } => {
            let ms = latency.as_millis();
            if *listings > 0 {
                tracing::info!("poll #{poll}: HTTP {status} in {ms} ms, {listings} listing(s)");
            } else {
                tracing::info!("poll #{poll}: HTTP {status} in {ms} ms, {page}");
            }
        }
        RaceEvent::MarketplaceInactive => {
            tracing::info!("the marketplace says it is not currently active; still watching")
        }
        RaceEvent::Waiting { reason, duration } => {
            let s = duration.as_secs_f64();
            match reason {
                WaitReason::Interval => tracing::debug!("next poll in {s:.1} s"),
                WaitReason::RateLimited => {
                    tracing::warn!("rate limited (HTTP 429): backing off {s:.0} s")
                }
                WaitReason::RetryAfter => {
                    tracing::warn!("shop asked us to wait (Retry-After): {s:.1} s")
                }
                WaitReason::ServerError => tracing::warn!("shop trouble: backing off {s:.0} s"),
                WaitReason::Network => tracing::warn!("network trouble: retrying in {s:.0} s"),
                WaitReason::MarketplaceMissing => tracing::info!(
                    "no marketplace link on the event page yet; checking again in {s:.0} s"
                ),
            }
        }
        RaceEvent::SessionLost { reason } => {
            tracing::warn!("session lost ({reason}); opening the event page again")
        }
        RaceEvent::UnknownPage { url, status, .. } => {
            tracing::warn!("unexpected page from {url} (HTTP {status})")
        }
        RaceEvent::Detected { listing, .. } => tracing::info!(
            "dry run: {} for {} is available (not buying)",
            listing.ticket_type,
            listing.price_text
        ),
        RaceEvent::CartAttempt {
            listing,
            outcome,
            latency,
        } => {
            let what = format!("{} ({})", listing.ticket_type, listing.price_text);
            let ms = latency.as_millis();
            match outcome {
                CartOutcome::Won { verified: true, .. } => {
                    tracing::info!(
                        "WON: {what} is in our cart (buy POST {ms} ms, checkout verified)"
                    )
                }
                CartOutcome::Won {
                    verified: false, ..
                } => tracing::warn!(
                    "{what}: the shop sent us to checkout, but checkout could not be verified"
                ),
                CartOutcome::Lost(reason) => {
                    let why = match reason {
                        LostReason::BackToMarketplace => "sent back to the marketplace",
                        LostReason::TicketUnavailable => "\"Ticket unavailable\"",
                        LostReason::Gone => "listing gone",
                    };
                    tracing::info!("lost the race for {what}: {why} (someone else was faster)")
                }
                CartOutcome::CsrfRejected => {
                    tracing::warn!("{what}: buy refused (HTTP 403, CSRF/session); refreshing")
                }
                CartOutcome::RateLimited { .. } => tracing::warn!("{what}: buy rate limited"),
                CartOutcome::Conflict { .. } => {
                    tracing::warn!("{what}: buy answered HTTP 409 (busy)")
                }
                CartOutcome::ServerError { status } => {
                    tracing::warn!("{what}: shop error HTTP {status} on buy")
                }
                CartOutcome::SessionLost { .. } => tracing::warn!("{what}: session lost on buy"),
                CartOutcome::Uncertain { detail } => tracing::warn!("{what}: {detail}"),
            }
        }
        RaceEvent::Problem { message } => tracing::warn!("{message}"),
    }
}
