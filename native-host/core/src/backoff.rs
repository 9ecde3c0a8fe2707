//! How long to wait: the poll interval with jitter, and backoff when the
//! shop pushes back or is in trouble, chosen by *cause*.
//!
//! - Every poll wait is the interval times a uniform factor in [0.8, 1.2], so
//!   we never tick like a metronome (and many racers don't stampede at once).
//! - **429 asks us to slow down**: the [`Backoff`] ladder 30, 60, 120, 240 s,
//!   then 300 s forever. It waits the ladder's step or the server's
//!   `Retry-After`, whichever is longer: a shop that says "come back in 90 s"
//!   is not helped by a poll in 30 s, and a shop that says "1 s" while we are
//!   already being throttled does not get us back on the bottom step.
//! - 409 with `Retry-After` waits as told (seconds or an HTTP date).
//! - **5xx, a refused or reset connection, a timeout, an empty 200 say
//!   nothing about us**: the shop restarts, its proxy has a bad minute. Those
//!   get the short [`TroubleBackoff`] ladder: the poll interval, doubling,
//!   capped at [`TROUBLE_CAP`] (60 s), jittered ±20 %. Sitting out the 429
//!   ladder's 30 s after a restart hands the first new listing to whoever
//!   polls on; a few doubling retries cost the shop nothing.
//!   A 503 with `Retry-After` (a "too busy, queue" answer) waits as told,
//!   within the same cap.
//! - The first good response resets both ladders.
//! - No wait the shop asks for is longer than [`MAX_WAIT`]: a typo'd or
//!   hostile `Retry-After: 86400` must not park the race for a day.
//!
//! [`wait_for`] is that policy, the one place both the poll loop and the buy
//! POST ask "the shop pushed back; how long now?"; [`Ladders::trouble`] is
//! the same question when no answer came at all.

use std::time::{Duration, SystemTime};

use rand::Rng;

/// The backoff ladder.
pub const STEPS: [u64; 5] = [30, 60, 120, 240, 300];

/// The longest wait the shop can ask for (the ladder's top step).
pub const MAX_WAIT: Duration = Duration::from_secs(300);

/// The longest wait for server or network trouble (unless the poll interval
/// itself is longer).
pub const TROUBLE_CAP: Duration = Duration::from_secs(60);

/// Why the race is waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitReason {
    /// The normal, jittered poll interval.
    Interval,
    /// HTTP 429: the ladder's step or `Retry-After`, whichever is longer.
    RateLimited,
    /// HTTP 409 with `Retry-After`: waiting as told.
    RetryAfter,
    /// HTTP 5xx, an empty page, a redirect loop: the short trouble ladder.
    ServerError,
    /// Connection refused/reset, timed out, body too large: the short
    /// trouble ladder.
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
/// - 429: the rate ladder's next step or `Retry-After`, whichever is longer,
///   at most [`MAX_WAIT`];
/// - 409 with `Retry-After`: `Retry-After` (no ladder moves), at most
///   [`MAX_WAIT`];
/// - 503 with `Retry-After`: `Retry-After`, at most the trouble cap (the
///   trouble ladder moves, so a 503 without one later climbs on);
/// - anything else (5xx, 409 without `Retry-After`, an odd status): the
///   trouble ladder's next step.
pub fn wait_for(
    status: u16,
    retry_after: Option<Duration>,
    ladders: &mut Ladders,
    rng: &mut impl Rng,
) -> (WaitReason, Duration) {
    match (status, retry_after) {
        (429, told) => {
            let step = ladders.rate.next_delay();
            let wait = told.map_or(step, |t| t.max(step));
            (WaitReason::RateLimited, wait.min(MAX_WAIT))
        }
        (409, Some(told)) => (WaitReason::RetryAfter, told.min(MAX_WAIT)),
        (503, Some(told)) => {
            ladders.trouble.next_delay(rng);
            (WaitReason::RetryAfter, told.min(ladders.trouble.cap()))
        }
        _ => (WaitReason::ServerError, ladders.trouble.next_delay(rng)),
    }
}

/// Both ladders of one race: the rate limit's and the trouble one.
#[derive(Debug, Clone)]
pub struct Ladders {
    /// 429s: 30 → 300 s.
    pub rate: Backoff,
    /// 5xx and network failures: interval → 60 s.
    pub trouble: TroubleBackoff,
}

impl Ladders {
    /// Ladders for a race polling every `interval`.
    pub fn new(interval: Duration) -> Self {
        Ladders {
            rate: Backoff::new(),
            trouble: TroubleBackoff::new(interval),
        }
    }

    /// No answer at all (refused, reset, timed out, cut off): the trouble
    /// ladder's next step.
    pub fn trouble(&mut self, rng: &mut impl Rng) -> Duration {
        self.trouble.next_delay(rng)
    }

    /// A good response: both ladders start from the bottom again.
    pub fn reset(&mut self) {
        self.rate.reset();
        self.trouble.reset();
    }
}

/// The short ladder for trouble that is not about us: the poll interval,
/// doubling per failure up to [`TROUBLE_CAP`] (or the interval, if that is
/// longer), each step jittered ±20 % and never above the cap.
#[derive(Debug, Clone)]
pub struct TroubleBackoff {
    base: Duration,
    failures: u32,
}

impl TroubleBackoff {
    pub fn new(interval: Duration) -> Self {
        TroubleBackoff {
            base: interval,
            failures: 0,
        }
    }

    /// The longest step of this ladder.
    pub fn cap(&self) -> Duration {
        TROUBLE_CAP.max(self.base)
    }

    /// The unjittered step after `failures` failures.
    pub fn step(&self, failures: u32) -> Duration {
        // 2^16 × any interval is far above the cap: no overflow games.
        let factor = 1u32 << failures.min(16);
        self.base.saturating_mul(factor).min(self.cap())
    }

    /// The wait after one more failure.
    pub fn next_delay(&mut self, rng: &mut impl Rng) -> Duration {
        let step = self.step(self.failures);
        self.failures = self.failures.saturating_add(1);
        jittered(step, rng).min(self.cap())
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }
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
    fn failures_count_every_step_and_reset_to_zero() {
        let mut b = Backoff::new();
        assert_eq!(b.failures(), 0);
        for n in 1..=7 {
            b.next_delay();
            assert_eq!(b.failures(), n, "counting goes on past the cap");
        }
        b.reset();
        assert_eq!(b.failures(), 0);
        let fresh = Backoff::default();
        assert_eq!(fresh.failures(), 0);
    }

    #[test]
    fn reset_mid_ladder_starts_from_the_bottom() {
        let mut b = Backoff::new();
        b.next_delay();
        b.next_delay();
        b.reset();
        let got: Vec<u64> = (0..3).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(got, [30, 60, 120]);
    }

    #[test]
    fn a_clone_keeps_its_own_place_on_the_ladder() {
        let mut a = Backoff::new();
        a.next_delay();
        let mut b = a.clone();
        assert_eq!(b.next_delay().as_secs(), 60);
        assert_eq!(a.next_delay().as_secs(), 60);
    }

    #[test]
    fn jitter_scales_with_the_interval() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        assert_eq!(jittered(Duration::ZERO, &mut rng), Duration::ZERO);
        for _ in 0..1000 {
            let d = jittered(Duration::from_millis(500), &mut rng);
            assert!(
                (Duration::from_millis(400)..=Duration::from_millis(600)).contains(&d),
                "{d:?}"
            );
        }
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

    fn ladders() -> (Ladders, rand::rngs::StdRng) {
        (Ladders::new(secs(2)), rand::rngs::StdRng::seed_from_u64(1))
    }

    #[test]
    fn rate_limit_without_retry_after_climbs_the_ladder() {
        let (mut l, mut rng) = ladders();
        let got: Vec<_> = (0..6)
            .map(|_| wait_for(429, None, &mut l, &mut rng))
            .collect();
        let want: Vec<_> = [30, 60, 120, 240, 300, 300]
            .map(|s| (WaitReason::RateLimited, secs(s)))
            .into();
        assert_eq!(got, want);
        // a 429 says nothing about server trouble
        assert_eq!(l.trouble.failures(), 0);
    }

    #[test]
    fn rate_limit_takes_the_longer_of_step_and_retry_after() {
        let (mut l, mut rng) = ladders();
        // shorter than the step (30): the step
        assert_eq!(
            wait_for(429, Some(secs(5)), &mut l, &mut rng),
            (WaitReason::RateLimited, secs(30))
        );
        // longer than the step (60): as told
        assert_eq!(
            wait_for(429, Some(secs(61)), &mut l, &mut rng),
            (WaitReason::RateLimited, secs(61))
        );
        // equal to the step (120)
        assert_eq!(
            wait_for(429, Some(secs(120)), &mut l, &mut rng),
            (WaitReason::RateLimited, secs(120))
        );
        // the ladder moved on every 429, whatever won
        assert_eq!(l.rate.failures(), 3);
    }

    #[test]
    fn waits_are_capped_at_five_minutes() {
        let (mut l, mut rng) = ladders();
        let mut w = |status, told| wait_for(status, told, &mut l, &mut rng);
        assert_eq!(w(429, Some(secs(301))), (WaitReason::RateLimited, MAX_WAIT));
        assert_eq!(w(429, Some(secs(300))), (WaitReason::RateLimited, MAX_WAIT));
        assert_eq!(w(409, Some(secs(301))), (WaitReason::RetryAfter, MAX_WAIT));
        assert_eq!(w(409, Some(secs(299))), (WaitReason::RetryAfter, secs(299)));
        // absurd values (the parser already clamps to an hour)
        let absurd = parse_retry_after("99999999999", SystemTime::now());
        assert_eq!(w(429, absurd).1, MAX_WAIT);
        assert_eq!(w(409, absurd).1, MAX_WAIT);
        assert_eq!(
            w(409, Some(Duration::MAX)),
            (WaitReason::RetryAfter, MAX_WAIT)
        );
        // a busy 503 is trouble: its Retry-After is capped at a minute
        assert_eq!(w(503, absurd), (WaitReason::RetryAfter, TROUBLE_CAP));
        assert_eq!(w(503, Some(secs(7))), (WaitReason::RetryAfter, secs(7)));
    }

    #[test]
    fn conflict_waits_as_told_without_moving_the_ladders() {
        let (mut l, mut rng) = ladders();
        assert_eq!(
            wait_for(409, Some(secs(7)), &mut l, &mut rng),
            (WaitReason::RetryAfter, secs(7))
        );
        assert_eq!(
            wait_for(409, Some(Duration::ZERO), &mut l, &mut rng),
            (WaitReason::RetryAfter, Duration::ZERO)
        );
        assert_eq!(l.rate.failures(), 0);
        assert_eq!(l.trouble.failures(), 0);
    }

    #[test]
    fn server_trouble_takes_the_short_ladder_and_ignores_retry_after() {
        let (mut l, mut rng) = ladders();
        let mut got = Vec::new();
        for (status, told) in [
            (500, None),
            (502, Some(secs(999))),
            (504, None),
            (409, None),
            (500, Some(secs(999))),
        ] {
            let (reason, d) = wait_for(status, told, &mut l, &mut rng);
            assert_eq!(reason, WaitReason::ServerError);
            got.push(d);
        }
        // 2, 4, 8, 16, 32 s, each ±20 %
        for (d, step) in got.iter().zip([2u64, 4, 8, 16, 32]) {
            let step = secs(step);
            assert!(
                *d >= step.mul_f64(0.8) && *d <= step.mul_f64(1.2),
                "{got:?}"
            );
        }
        assert_eq!(l.rate.failures(), 0, "5xx never touches the 429 ladder");
    }

    #[test]
    fn trouble_ladder_doubles_caps_and_resets() {
        let t = TroubleBackoff::new(secs(2));
        let steps: Vec<u64> = (0..9).map(|n| t.step(n).as_secs()).collect();
        assert_eq!(steps, [2, 4, 8, 16, 32, 60, 60, 60, 60]);
        assert_eq!(t.step(u32::MAX), TROUBLE_CAP);
        // an interval longer than the cap is the cap
        assert_eq!(TroubleBackoff::new(secs(90)).step(3), secs(90));

        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut l = Ladders::new(secs(2));
        for _ in 0..20 {
            assert!(l.trouble(&mut rng) <= TROUBLE_CAP);
        }
        l.reset();
        let first = l.trouble(&mut rng);
        assert!(first >= secs(2).mul_f64(0.8) && first <= secs(2).mul_f64(1.2));
    }

    #[test]
    fn trouble_failures_count_until_reset() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let mut t = TroubleBackoff::new(secs(2));
        assert_eq!(t.failures(), 0);
        t.next_delay(&mut rng);
        t.next_delay(&mut rng);
        assert_eq!(t.failures(), 2);
        t.reset();
        assert_eq!(t.failures(), 0);
    }

    /// The names are a contract: structured logs and `status.json` carry
    /// them, and scripts filter on them.
    #[test]
    fn wait_reason_names_are_stable() {
        let names: Vec<&str> = [
            WaitReason::Interval,
            WaitReason::RateLimited,
            WaitReason::RetryAfter,
            WaitReason::ServerError,
            WaitReason::Network,
            WaitReason::MarketplaceMissing,
        ]
        .into_iter()
        .map(WaitReason::name)
        .collect();
        assert_eq!(
            names,
            [
                "interval",
                "rate_limited",
                "retry_after",
                "server_error",
                "network",
                "marketplace_missing"
            ]
        );
    }

    #[test]
    fn trouble_jitter_stays_within_twenty_percent_and_spreads() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let (mut lo, mut hi) = (Duration::MAX, Duration::ZERO);
        for _ in 0..5_000 {
            let mut t = TroubleBackoff::new(secs(10));
            t.next_delay(&mut rng);
            let d = t.next_delay(&mut rng); // step 20 s
            assert!(d >= secs(16) && d <= secs(24), "{d:?}");
            lo = lo.min(d);
            hi = hi.max(d);
        }
        assert!(lo < Duration::from_millis(16_100), "{lo:?}");
        assert!(hi > Duration::from_millis(23_900), "{hi:?}");
        // at the cap, the jitter never goes above it
        let mut t = TroubleBackoff::new(secs(10));
        for _ in 0..5_000 {
            let d = t.next_delay(&mut rng);
            assert!(d <= TROUBLE_CAP, "{d:?}");
        }
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

    #[test]
    fn retry_after_is_capped_at_an_hour_and_trimmed() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_766_660_000);
        let hour = Some(Duration::from_secs(3600));
        assert_eq!(parse_retry_after("3600", now), hour);
        assert_eq!(parse_retry_after("3601", now), hour);
        assert_eq!(parse_retry_after("86400", now), hour);
        let far = httpdate::fmt_http_date(now + Duration::from_secs(7200));
        assert_eq!(parse_retry_after(&far, now), hour);
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        let exact = httpdate::fmt_http_date(now);
        assert_eq!(parse_retry_after(&exact, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("1.5", now), None);
    }
}
