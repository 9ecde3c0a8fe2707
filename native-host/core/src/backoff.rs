//! How long to wait: the poll interval with jitter, and backoff when the
//! shop pushes back.
//!
//! - Every poll wait is the interval times a uniform factor in [0.8, 1.2], so
//!   we never tick like a metronome (and many racers don't stampede at once).
//! - 429, 503 and network errors back off 30, 60, 120, 240 s, then 300 s
//!   forever; the first good response resets the ladder.
//! - 409 with `Retry-After` waits as told (seconds or an HTTP date).
//! - 429 waits the ladder's step or the server's `Retry-After`, whichever is
//!   longer: a shop that says "come back in 90 s" is not helped by a poll in
//!   30 s, and a shop that says "1 s" while we are already being throttled
//!   does not get us back on the ladder's bottom step.
//! - No wait the shop asks for is longer than [`MAX_WAIT`]: a typo'd or
//!   hostile `Retry-After: 86400` must not park the race for a day.
//!
//! [`wait_for`] is that policy, the one place both the poll loop and the buy
//! POST ask "the shop pushed back; how long now?".

use std::time::{Duration, SystemTime};

use rand::Rng;

/// The backoff ladder.
pub const STEPS: [u64; 5] = [30, 60, 120, 240, 300];

/// The longest wait the shop can ask for (the ladder's top step).
pub const MAX_WAIT: Duration = Duration::from_secs(300);

/// Why the race is waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitReason {
    /// The normal, jittered poll interval.
    Interval,
    /// HTTP 429: the ladder's step or `Retry-After`, whichever is longer.
    RateLimited,
    /// HTTP 409 with `Retry-After`: waiting as told.
    RetryAfter,
    /// HTTP 5xx (or another push-back): backing off.
    ServerError,
    /// Connection failed or timed out: backing off.
    Network,
    /// The event page has no marketplace link yet.
    MarketplaceMissing,
}

impl WaitReason {
    /// A stable lower-case name, for structured logs.
    pub fn name(self) -> &'static str {
        match self {
            WaitReason::Interval => "interval",
            WaitReason::RateLimited => "rate_limited",
            WaitReason::RetryAfter => "retry_after",
            WaitReason::ServerError => "server_error",
            WaitReason::Network => "network",
            WaitReason::MarketplaceMissing => "marketplace_missing",
        }
    }
}

/// The wait after the shop answered `status` (not 200) with an optional
/// `Retry-After`, for polls and buy POSTs alike:
///
/// - 429: the ladder's next step or `Retry-After`, whichever is longer;
/// - 409 with `Retry-After`: `Retry-After` (the ladder does not move);
/// - anything else: the ladder's next step.
///
/// Never longer than [`MAX_WAIT`].
pub fn wait_for(
    status: u16,
    retry_after: Option<Duration>,
    ladder: &mut Backoff,
) -> (WaitReason, Duration) {
    let (reason, wait) = match (status, retry_after) {
        (429, told) => {
            let step = ladder.next_delay();
            (WaitReason::RateLimited, told.map_or(step, |t| t.max(step)))
        }
        (409, Some(told)) => (WaitReason::RetryAfter, told),
        _ => (WaitReason::ServerError, ladder.next_delay()),
    };
    (reason, wait.min(MAX_WAIT))
}

/// Where we are on the backoff ladder.
#[derive(Debug, Default, Clone)]
pub struct Backoff {
    failures: usize,
}

impl Backoff {
    pub fn new() -> Self {
        Backoff::default()
    }

    /// The wait after one more failure.
    pub fn next_delay(&mut self) -> Duration {
        let step = STEPS[self.failures.min(STEPS.len() - 1)];
        self.failures += 1;
        Duration::from_secs(step)
    }

    /// A good response: start from the bottom again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    pub fn failures(&self) -> usize {
        self.failures
    }
}

/// `interval` × uniform(0.8, 1.2).
pub fn jittered(interval: Duration, rng: &mut impl Rng) -> Duration {
    interval.mul_f64(rng.random_range(0.8..=1.2))
}

/// Read a `Retry-After` header value: delta-seconds or an HTTP date (a date in
/// the past means "now"). `None` if it is neither.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(3600)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(Duration::from_secs(3600)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn ladder_caps_at_300_and_resets() {
        let mut b = Backoff::new();
        let got: Vec<u64> = (0..7).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(got, [30, 60, 120, 240, 300, 300, 300]);
        b.reset();
        assert_eq!(b.next_delay().as_secs(), 30);
    }

    #[test]
    fn jitter_stays_within_twenty_percent_and_uses_the_range() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let base = Duration::from_secs(15);
        let mut lo = Duration::MAX;
        let mut hi = Duration::ZERO;
        for _ in 0..10_000 {
            let d = jittered(base, &mut rng);
            assert!(
                d >= Duration::from_secs(12) && d <= Duration::from_secs(18),
                "{d:?}"
            );
            lo = lo.min(d);
            hi = hi.max(d);
        }
        // spread over (nearly) the whole band, not a constant
        assert!(lo < Duration::from_millis(12_100), "{lo:?}");
        assert!(hi > Duration::from_millis(17_900), "{hi:?}");
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn rate_limit_without_retry_after_climbs_the_ladder() {
        let mut b = Backoff::new();
        let got: Vec<_> = (0..6).map(|_| wait_for(429, None, &mut b)).collect();
        let want: Vec<_> = [30, 60, 120, 240, 300, 300]
            .map(|s| (WaitReason::RateLimited, secs(s)))
            .into();
        assert_eq!(got, want);
    }

    #[test]
    fn rate_limit_takes_the_longer_of_step_and_retry_after() {
        let mut b = Backoff::new();
        // shorter than the step (30): the step
        assert_eq!(
            wait_for(429, Some(secs(5)), &mut b),
            (WaitReason::RateLimited, secs(30))
        );
        // longer than the step (60): as told
        assert_eq!(
            wait_for(429, Some(secs(61)), &mut b),
            (WaitReason::RateLimited, secs(61))
        );
        // equal to the step (120)
        assert_eq!(
            wait_for(429, Some(secs(120)), &mut b),
            (WaitReason::RateLimited, secs(120))
        );
        // the ladder moved on every 429, whatever won
        assert_eq!(b.failures(), 3);
    }

    #[test]
    fn waits_are_capped_at_five_minutes() {
        let mut b = Backoff::new();
        assert_eq!(
            wait_for(429, Some(secs(301)), &mut b),
            (WaitReason::RateLimited, MAX_WAIT)
        );
        assert_eq!(
            wait_for(429, Some(secs(300)), &mut b),
            (WaitReason::RateLimited, MAX_WAIT)
        );
        assert_eq!(
            wait_for(409, Some(secs(301)), &mut b),
            (WaitReason::RetryAfter, MAX_WAIT)
        );
        assert_eq!(
            wait_for(409, Some(secs(299)), &mut b),
            (WaitReason::RetryAfter, secs(299))
        );
        // absurd values (the parser already clamps to an hour)
        let absurd = parse_retry_after("99999999999", SystemTime::now());
        assert_eq!(wait_for(429, absurd, &mut b).1, MAX_WAIT);
        assert_eq!(wait_for(409, absurd, &mut b).1, MAX_WAIT);
        assert_eq!(
            wait_for(409, Some(Duration::MAX), &mut b),
            (WaitReason::RetryAfter, MAX_WAIT)
        );
    }

    #[test]
    fn conflict_waits_as_told_without_moving_the_ladder() {
        let mut b = Backoff::new();
        assert_eq!(
            wait_for(409, Some(secs(7)), &mut b),
            (WaitReason::RetryAfter, secs(7))
        );
        assert_eq!(
            wait_for(409, Some(Duration::ZERO), &mut b),
            (WaitReason::RetryAfter, Duration::ZERO)
        );
        assert_eq!(b.failures(), 0);
    }

    #[test]
    fn other_push_backs_climb_the_ladder_and_ignore_retry_after() {
        let mut b = Backoff::new();
        assert_eq!(
            wait_for(409, None, &mut b),
            (WaitReason::ServerError, secs(30))
        );
        assert_eq!(
            wait_for(503, Some(secs(2)), &mut b),
            (WaitReason::ServerError, secs(60))
        );
        assert_eq!(
            wait_for(500, Some(secs(999)), &mut b),
            (WaitReason::ServerError, secs(120))
        );
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_766_660_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(42));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(42))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(42));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
