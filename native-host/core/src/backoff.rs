//! How long to wait: the poll interval with jitter, and backoff when the
//! shop pushes back.
//!
//! - Every poll wait is the interval times a uniform factor in [0.8, 1.2], so
//!   we never tick like a metronome (and many racers don't stampede at once).
//! - 429, 503 and network errors back off 30, 60, 120, 240 s, then 300 s
//!   forever; the first good response resets the ladder.
//! - 409 with `Retry-After` waits exactly as told (seconds or an HTTP date).

use std::time::{Duration, SystemTime};

use rand::Rng;

/// The backoff ladder.
pub const STEPS: [u64; 5] = [30, 60, 120, 240, 300];

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
