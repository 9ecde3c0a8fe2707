//! The popup's form: validation into a [`StartRequest`], and which host
//! permission a shop needs. Pure.

use pretix_race_shared::cookies::origin_of;
use pretix_race_shared::protocol::{Filters, SortOrder, StartRequest};
use pretix_race_shared::rules;

use crate::model::Settings;

/// A field the user has to fix: the element id and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

fn err(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

/// `scheme://host[:port]` of an http(s) URL the user typed, or why not.
pub fn shop_origin(url: &str) -> Result<String, String> {
    let url = url.trim();
    if url.is_empty() {
        return Err("Enter the shop URL, e.g. https://tickets.example.com".into());
    }
    if url.chars().any(char::is_whitespace) {
        return Err("The shop URL must not contain spaces".into());
    }
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return Err("The shop URL must start with https:// (or http:// for a local shop)".into());
    }
    match origin_of(url) {
        Some(o) if host_of(&o).is_some_and(|h| !h.is_empty()) => Ok(o),
        _ => Err("The shop URL has no host name".into()),
    }
}

/// The host of an origin, without port (IPv6 keeps its brackets).
fn host_of(origin: &str) -> Option<&str> {
    let (_, authority) = origin.split_once("://")?;
    if authority.starts_with('[') {
        return authority.find(']').map(|end| &authority[..=end]);
    }
    authority.split(':').next()
}

/// Is this origin on this machine (covered by the manifest's fixed
/// `host_permissions`)?
pub fn is_loopback(origin: &str) -> bool {
    matches!(
        host_of(origin).map(str::to_ascii_lowercase).as_deref(),
        Some("127.0.0.1" | "localhost" | "[::1]")
    )
}

/// The host-permission pattern to request at runtime for a shop, `None` when
/// the manifest already grants it (loopback). Only `https://*/*` is optional
/// in the manifest, so a remote shop must use https.
pub fn permission_pattern(origin: &str) -> Result<Option<String>, String> {
    if is_loopback(origin) {
        return Ok(None);
    }
    if !origin.starts_with("https://") {
        return Err(
            "Remote shops must use https:// (plain http only works for 127.0.0.1 and localhost)"
                .into(),
        );
    }
    let host = host_of(origin).ok_or("The shop URL has no host name")?;
    // Match patterns cover every port; a port in them is not allowed.
    Ok(Some(format!("https://{}/*", host.to_ascii_lowercase())))
}

fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim().replace(',', ".");
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn sort_order(s: &str) -> Result<Option<SortOrder>, ()> {
    Ok(Some(match s.trim() {
        "" => return Ok(None),
        "price_asc" => SortOrder::PriceAsc,
        "price_desc" => SortOrder::PriceDesc,
        "newest" => SortOrder::Newest,
        "oldest" => SortOrder::Oldest,
        _ => return Err(()),
    }))
}

/// Check the form and build the host's Start request.
pub fn validate(s: &Settings) -> Result<StartRequest, FieldError> {
    shop_origin(&s.url).map_err(|m| err("url", m))?;
    let event = s.event.trim().trim_matches('/');
    if event.is_empty() {
        return Err(err(
            "event",
            "Enter the event, e.g. organizer/event (as in the shop's URL)",
        ));
    }
    if event.chars().any(char::is_whitespace) {
        return Err(err("event", "The event must not contain spaces"));
    }
    let interval_secs = match parse_number(&s.interval) {
        Some(n) if rules::interval_ok(n) => n,
        Some(_) => {
            return Err(err(
                "interval",
                format!(
                    "The interval must be at least {} second",
                    rules::MIN_INTERVAL_SECS
                ),
            ))
        }
        None => {
            return Err(err(
                "interval",
                format!(
                    "The interval must be a number of seconds (at least {})",
                    rules::MIN_INTERVAL_SECS
                ),
            ))
        }
    };
    let max_price = match non_empty(&s.max_price) {
        None => None,
        Some(p) => match parse_number(&p) {
            Some(n) if rules::max_price_ok(n) => Some(n),
            _ => {
                return Err(err(
                    "max-price",
                    "The maximum price must be a number like 49.90 (or empty)",
                ))
            }
        },
    };
    let sort = sort_order(&s.sort).map_err(|()| err("sort", "Unknown sort order"))?;
    let poll_inactive_marketplace_secs = match non_empty(&s.wait_marketplace) {
        None => None,
        Some(w) => match parse_number(&w) {
            Some(n) if rules::recheck_ok(n) => Some(n),
            _ => {
                return Err(err(
                    "wait-marketplace",
                    format!(
                        "The re-check interval must be between {} and {} seconds (or empty to not wait)",
                        rules::MIN_RECHECK_SECS,
                        rules::MAX_RECHECK_SECS
                    ),
                ))
            }
        },
    };
    Ok(StartRequest {
        url: s.url.trim().to_string(),
        event: event.to_string(),
        interval_secs,
        filters: Filters {
            item: non_empty(&s.item),
            sort,
            max_price,
            ticket_type: non_empty(&s.ticket_type),
        },
        dry_run: s.dry_run,
        poll_inactive_marketplace_secs,
    })
}

/// The `url` for a test handoff: the shop URL when it is a valid one (so the
/// fake cookies are for the user's shop), else `None` (the host's demo shop).
pub fn test_handoff_url(s: &Settings) -> Option<String> {
    shop_origin(&s.url).ok().map(|_| s.url.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Settings {
        Settings {
            url: " https://tickets.example.com/ ".into(),
            event: "/org/event/".into(),
            interval: "2.5".into(),
            item: " 42 ".into(),
            sort: "price_asc".into(),
            max_price: "49,90".into(),
            ticket_type: "".into(),
            dry_run: true,
            wait_marketplace: "".into(),
        }
    }

    #[test]
    fn a_good_form_becomes_a_start_request() {
        let r = validate(&good()).unwrap();
        assert_eq!(r.url, "https://tickets.example.com/");
        assert_eq!(r.event, "org/event");
        assert_eq!(r.interval_secs, 2.5);
        assert_eq!(r.filters.item.as_deref(), Some("42"));
        assert_eq!(r.filters.sort, Some(SortOrder::PriceAsc));
        assert_eq!(r.filters.max_price, Some(49.9));
        assert_eq!(r.filters.ticket_type, None);
        assert!(r.dry_run);
        assert_eq!(r.poll_inactive_marketplace_secs, None);
    }

    #[test]
    fn defaults_validate_once_url_and_event_are_given() {
        let s = Settings {
            url: "http://127.0.0.1:8080".into(),
            event: "demo".into(),
            ..Settings::default()
        };
        let r = validate(&s).unwrap();
        assert_eq!(r.interval_secs, rules::DEFAULT_INTERVAL_SECS);
        assert_eq!(r.filters, Filters::default());
    }

    /// The form draws its lines exactly where the host does: both ask
    /// `pretix_race_shared::rules`, so a value the popup accepts is never
    /// refused by the host, and the other way round.
    #[test]
    fn limits_are_the_shared_rules() {
        let check = |f: &dyn Fn(&mut Settings)| {
            let mut s = good();
            f(&mut s);
            validate(&s)
        };
        let min = rules::MIN_INTERVAL_SECS;
        let r = check(&|s| s.interval = min.to_string()).unwrap();
        assert_eq!(r.interval_secs, min);
        let e = check(&|s| s.interval = (min - 0.01).to_string()).unwrap_err();
        assert_eq!(e.field, "interval");
        assert!(e.message.contains(&min.to_string()), "{}", e.message);

        let max = rules::MAX_RECHECK_SECS;
        let r = check(&|s| s.wait_marketplace = max.to_string()).unwrap();
        assert_eq!(r.poll_inactive_marketplace_secs, Some(max));
        for bad in [max + 1.0, rules::MIN_RECHECK_SECS - 0.5] {
            let e = check(&|s| s.wait_marketplace = bad.to_string()).unwrap_err();
            assert_eq!(e.field, "wait-marketplace", "{bad}");
        }

        let r = check(&|s| s.max_price = "0".into()).unwrap();
        assert_eq!(r.filters.max_price, Some(0.0));
    }

    #[test]
    fn each_bad_field_is_named() {
        let field = |f: fn(&mut Settings)| {
            let mut s = good();
            f(&mut s);
            validate(&s).unwrap_err().field
        };
        assert_eq!(field(|s| s.url = "".into()), "url");
        assert_eq!(field(|s| s.url = "tickets.example.com".into()), "url");
        assert_eq!(field(|s| s.url = "ftp://x".into()), "url");
        assert_eq!(field(|s| s.url = "https://".into()), "url");
        assert_eq!(field(|s| s.url = "https://a b".into()), "url");
        assert_eq!(field(|s| s.event = "  ".into()), "event");
        assert_eq!(field(|s| s.event = "//".into()), "event");
        assert_eq!(field(|s| s.interval = "0.5".into()), "interval");
        assert_eq!(field(|s| s.interval = "".into()), "interval");
        assert_eq!(field(|s| s.interval = "fast".into()), "interval");
        assert_eq!(field(|s| s.interval = "NaN".into()), "interval");
        assert_eq!(field(|s| s.max_price = "-1".into()), "max-price");
        assert_eq!(field(|s| s.max_price = "cheap".into()), "max-price");
        assert_eq!(field(|s| s.sort = "random".into()), "sort");
        assert_eq!(
            field(|s| s.wait_marketplace = "0".into()),
            "wait-marketplace"
        );
        let e = validate(&Settings::default()).unwrap_err();
        assert!(e.message.contains("shop URL"), "{}", e.message);
    }

    #[test]
    fn wait_for_marketplace_is_passed_on() {
        let mut s = good();
        s.wait_marketplace = "30".into();
        assert_eq!(
            validate(&s).unwrap().poll_inactive_marketplace_secs,
            Some(30.0)
        );
    }

    #[test]
    fn permissions_are_requested_only_for_remote_shops() {
        assert_eq!(permission_pattern("http://127.0.0.1:8080"), Ok(None));
        assert_eq!(permission_pattern("https://localhost:8443"), Ok(None));
        assert_eq!(permission_pattern("https://[::1]:8443"), Ok(None));
        assert_eq!(
            permission_pattern("https://tickets.example.com:8443"),
            Ok(Some("https://tickets.example.com/*".into()))
        );
        assert!(permission_pattern("http://tickets.example.com").is_err());
        assert_eq!(
            shop_origin("https://Tickets.example.com/org/").as_deref(),
            Ok("https://Tickets.example.com")
        );
    }

    #[test]
    fn test_handoff_uses_the_shop_when_valid() {
        assert_eq!(
            test_handoff_url(&good()).as_deref(),
            Some("https://tickets.example.com/")
        );
        assert_eq!(test_handoff_url(&Settings::default()), None);
    }
}
