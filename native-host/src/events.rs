//! What the race reports while it runs.
//!
//! The engine never prints; it sends [`RaceEvent`]s to whoever listens: the
//! terminal reporter in headless mode, the native-messaging host (which turns
//! them into `Status` frames for the popup), or a test waiting for a specific
//! event. Sending is a non-blocking channel push, and nothing is sent between
//! seeing a listing and the buy POST leaving.

use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use url::Url;

use crate::cart::CartOutcome;
use crate::decide::Skip;
use crate::parse::Listing;

/// Why the race is waiting. It lives next to the backoff policy that picks
/// most of them ([`crate::backoff::wait_for`]).
pub use crate::backoff::WaitReason;

/// One thing that happened.
#[derive(Debug, Clone)]
pub enum RaceEvent {
    Discovering {
        event_url: Url,
    },
    MarketplaceFound {
        url: Url,
    },
    /// One marketplace GET finished.
    Polled {
        poll: u64,
        status: u16,
        latency: Duration,
        page: &'static str,
        listings: usize,
    },
    MarketplaceInactive,
    Waiting {
        reason: WaitReason,
        duration: Duration,
    },
    /// The shop forgot us (403, redirect to the event page): rediscovering.
    SessionLost {
        reason: String,
    },
    /// A page of a shape we did not expect on the marketplace, worth a
    /// human's look. The engine owns no files: the listener saves it (see
    /// [`crate::artifacts::save_unknown_page`]).
    UnknownPage {
        url: Url,
        status: u16,
        /// What the page looked like (`parse::PageKind::name`).
        kind: &'static str,
        body: String,
    },
    /// A listing the user's `--max-price` / `--ticket-type` rejected; sent
    /// once per listing, after the page's buy attempts (never before a POST).
    Skipped {
        listing: Listing,
        reason: Skip,
    },
    /// A matching listing seen in `--dry-run` (never bought).
    Detected {
        listing: Listing,
        target: Url,
    },
    /// A buy POST and what came of it.
    CartAttempt {
        listing: Listing,
        outcome: CartOutcome,
        latency: Duration,
    },
    /// A problem that is being retried.
    Problem {
        message: String,
    },
}

/// Where events go. Cloning is cheap; a closed receiver is ignored.
#[derive(Debug, Clone, Default)]
pub struct Events {
    tx: Option<UnboundedSender<RaceEvent>>,
}

impl Events {
    pub fn new(tx: UnboundedSender<RaceEvent>) -> Self {
        Events { tx: Some(tx) }
    }

    /// Nobody listens.
    pub fn none() -> Self {
        Events { tx: None }
    }

    pub fn send(&self, ev: RaceEvent) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(ev);
        }
    }
}
