//! Limits on what a user may ask for, checked by both the host and the
//! extension.
//!
//! The extension validates its popup form so the user sees a message next to
//! the field; the host validates again because the CLI and any other native-
//! messaging client never went through that form. Both must draw the line in
//! the same place: if the popup accepted 0.5 s and the host refused it, the
//! user would press Start and get a failure from the far side of a pipe. So
//! the numbers and the predicates live here, once.
//!
//! Why a 1-second floor: every poll is a request to the shop's marketplace
//! page; hammering it gets the marketplace throttled or shut down for
//! everyone, and a faster poll cannot win a race the shop serialises anyway.

/// The shortest poll interval, in seconds.
pub const MIN_INTERVAL_SECS: f64 = 1.0;

/// The poll interval when the user does not choose one, in seconds.
pub const DEFAULT_INTERVAL_SECS: f64 = 15.0;

/// The shortest wait before re-checking a marketplace that is not open yet.
/// Each re-check is a poll, so the poll floor applies.
pub const MIN_RECHECK_SECS: f64 = MIN_INTERVAL_SECS;

/// The longest wait before re-checking a marketplace that is not open yet:
/// a day. Anything longer is a typo, not a plan.
pub const MAX_RECHECK_SECS: f64 = 86_400.0;

/// Is `secs` an acceptable poll interval? (`NaN` and infinities are not.)
pub fn interval_ok(secs: f64) -> bool {
    secs.is_finite() && secs >= MIN_INTERVAL_SECS
}

/// Is `secs` an acceptable wait before re-checking an inactive marketplace?
pub fn recheck_ok(secs: f64) -> bool {
    secs.is_finite() && (MIN_RECHECK_SECS..=MAX_RECHECK_SECS).contains(&secs)
}

/// Is `max` an acceptable price ceiling? Zero is allowed (free tickets only).
pub fn max_price_ok(max: f64) -> bool {
    max.is_finite() && max >= 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_floor_is_inclusive_and_rejects_non_numbers() {
        assert!(interval_ok(MIN_INTERVAL_SECS));
        assert!(interval_ok(DEFAULT_INTERVAL_SECS));
        assert!(!interval_ok(MIN_INTERVAL_SECS - 0.001));
        assert!(!interval_ok(f64::NAN));
        assert!(!interval_ok(f64::INFINITY));
    }

    #[test]
    fn recheck_is_bounded_on_both_sides() {
        assert!(recheck_ok(MIN_RECHECK_SECS));
        assert!(recheck_ok(MAX_RECHECK_SECS));
        assert!(!recheck_ok(0.0));
        assert!(!recheck_ok(0.5));
        assert!(!recheck_ok(MAX_RECHECK_SECS + 1.0));
        assert!(!recheck_ok(f64::NAN));
    }

    #[test]
    fn max_price_may_be_zero_but_not_negative() {
        assert!(max_price_ok(0.0));
        assert!(max_price_ok(49.9));
        assert!(!max_price_ok(-0.01));
        assert!(!max_price_ok(f64::INFINITY));
    }
}
