//! Health alerts: noticing, from the race's events, that a human should look.
//!
//! The race retries everything by itself; a single 429 or a dropped session
//! is normal. What is worth a phone buzz is a *pattern*: many troubled
//! polls in a row (429s, 5xx, network or certificate failures), the session
//! dropping again and again, or the marketplace disappearing. [`Health`]
//! watches the [`RaceEvent`] stream (on the listener side, never in the
//! race) and says when to alert, at most once per cause per half hour.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::backoff::WaitReason;
use crate::events::RaceEvent;

use super::message::Message;

/// This many troubled polls in a row make an alert.
pub const ERROR_STREAK: u32 = 5;
/// This many session losses …
pub const SESSION_LOSSES: usize = 3;
/// … within this window make an alert.
pub const SESSION_WINDOW: Duration = Duration::from_secs(10 * 60);
/// At most one alert per cause this often.
pub const QUIET: Duration = Duration::from_secs(30 * 60);

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cause {
    /// Many troubled polls in a row; the last wait's reason (its name).
    Trouble(&'static str),
    SessionKeepsDropping,
    MarketplaceGone,
}

/// The tracker. Feed it every event with the current time.
#[derive(Debug, Default)]
pub struct Health {
    streak: u32,
    losses: VecDeque<Instant>,
    last_alert: HashMap<Cause, Instant>,
}

impl Health {
    pub fn new() -> Health {
        Health::default()
    }

    /// The alert this event calls for, if any.
    pub fn observe(&mut self, ev: &RaceEvent, now: Instant) -> Option<Message> {
        let cause = match ev {
            RaceEvent::Waiting { reason, .. } => match reason {
                WaitReason::Interval => {
                    self.streak = 0;
                    None
                }
                WaitReason::RateLimited
                | WaitReason::RetryAfter
                | WaitReason::ServerError
                | WaitReason::Network => {
                    self.streak += 1;
                    (self.streak >= ERROR_STREAK).then_some(Cause::Trouble(reason.name()))
                }
                WaitReason::MarketplaceMissing => None,
            },
            RaceEvent::SessionLost { .. } => {
                self.losses.push_back(now);
                while self
                    .losses
                    .front()
                    .is_some_and(|t| now.duration_since(*t) > SESSION_WINDOW)
                {
                    self.losses.pop_front();
                }
                (self.losses.len() >= SESSION_LOSSES).then_some(Cause::SessionKeepsDropping)
            }
            RaceEvent::MarketplaceInactive => Some(Cause::MarketplaceGone),
            _ => None,
        }?;
        if self
            .last_alert
            .get(&cause)
            .is_some_and(|t| now.duration_since(*t) < QUIET)
        {
            return None;
        }
        self.last_alert.insert(cause, now);
        Some(Message::health(&self.describe(cause)))
    }

    fn describe(&self, cause: Cause) -> String {
        match cause {
            Cause::Trouble(reason) => format!(
                "{} troubled polls in a row (last: {}); still retrying",
                self.streak, reason
            ),
            Cause::SessionKeepsDropping => format!(
                "the shop dropped our session {} times in {} minutes",
                self.losses.len(),
                SESSION_WINDOW.as_secs() / 60
            ),
            Cause::MarketplaceGone => {
                "the marketplace disappeared from the event page; waiting for it".into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(reason: WaitReason) -> RaceEvent {
        RaceEvent::Waiting {
            reason,
            duration: Duration::from_secs(1),
        }
    }

    fn lost() -> RaceEvent {
        RaceEvent::SessionLost {
            reason: "403".into(),
        }
    }

    #[test]
    fn an_error_streak_alerts_once_then_stays_quiet_for_half_an_hour() {
        let mut h = Health::new();
        let t0 = Instant::now();
        for _ in 0..ERROR_STREAK - 1 {
            assert!(h.observe(&wait(WaitReason::RateLimited), t0).is_none());
        }
        let alert = h
            .observe(&wait(WaitReason::RateLimited), t0)
            .expect("alert");
        assert!(alert.body.contains("rate_limited"), "{}", alert.body);
        // still failing: quiet
        assert!(h
            .observe(&wait(WaitReason::RateLimited), t0 + Duration::from_secs(60))
            .is_none());
        // after the quiet period, a still-running streak alerts again
        assert!(h
            .observe(
                &wait(WaitReason::RateLimited),
                t0 + QUIET + Duration::from_secs(1)
            )
            .is_some());
    }

    #[test]
    fn a_good_poll_resets_the_streak() {
        let mut h = Health::new();
        let t = Instant::now();
        for _ in 0..ERROR_STREAK - 1 {
            assert!(h.observe(&wait(WaitReason::ServerError), t).is_none());
        }
        assert!(h.observe(&wait(WaitReason::Interval), t).is_none());
        for _ in 0..ERROR_STREAK - 1 {
            assert!(h.observe(&wait(WaitReason::Network), t).is_none());
        }
        assert!(h.observe(&wait(WaitReason::Network), t).is_some());
    }

    #[test]
    fn session_losses_count_within_ten_minutes() {
        let mut h = Health::new();
        let t0 = Instant::now();
        assert!(h.observe(&lost(), t0).is_none());
        assert!(h.observe(&lost(), t0 + Duration::from_secs(60)).is_none());
        // the first one has aged out: only 2 in the window
        assert!(h
            .observe(&lost(), t0 + SESSION_WINDOW + Duration::from_secs(30))
            .is_none());
        let alert = h
            .observe(&lost(), t0 + SESSION_WINDOW + Duration::from_secs(31))
            .expect("3 within 10 minutes");
        assert!(alert.body.contains("3 times"), "{}", alert.body);
    }

    #[test]
    fn a_vanished_marketplace_alerts_and_causes_are_limited_separately() {
        let mut h = Health::new();
        let t = Instant::now();
        assert!(h.observe(&RaceEvent::MarketplaceInactive, t).is_some());
        assert!(h.observe(&RaceEvent::MarketplaceInactive, t).is_none());
        for _ in 0..ERROR_STREAK - 1 {
            h.observe(&wait(WaitReason::ServerError), t);
        }
        assert!(h.observe(&wait(WaitReason::ServerError), t).is_some());
    }
}
