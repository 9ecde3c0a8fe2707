//! A validated description of one race, whatever started it (the command
//! line, the extension's popup, the demo).

use std::path::PathBuf;
use std::time::Duration;

use pretix_race_shared::protocol::StartRequest;
use pretix_race_shared::rules;
use pretix_race_shared::Filters;
use url::Url;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request may take. The defaults are [`CONNECT_TIMEOUT`] (TCP +
/// TLS) and [`TOTAL_TIMEOUT`] (the whole request, body included); tests use
/// short ones to prove the mechanism without waiting ten seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: CONNECT_TIMEOUT,
            total: TOTAL_TIMEOUT,
        }
    }
}

/// Everything the engine needs to know about one race.
#[derive(Debug, Clone)]
pub struct Config {
    /// The shop's base URL, always ending in `/` (it may carry a path prefix).
    pub site: Url,
    /// The event's path below `site`, e.g. `event` or `organizer/event`.
    pub event: String,
    /// Base poll interval; each wait is jittered ±20 %.
    pub interval: Duration,
    pub filters: Filters,
    /// Detect and report listings, never POST.
    pub dry_run: bool,
    /// Wait for a missing marketplace link, re-checking this often.
    pub poll_inactive_marketplace: Option<Duration>,
    /// Extra trusted root certificates (PEM), e.g. a test server's.
    pub extra_roots_pem: Vec<Vec<u8>>,
    /// Where debug files and cookie files go.
    pub live_responses: PathBuf,
    /// Connect and request timeouts (5 s and 10 s).
    pub timeouts: Timeouts,
    /// Send the buy POST as soon as a wanted listing's buy form has arrived,
    /// while the rest of the page is still coming (on by default; off only
    /// to measure the difference).
    pub fire_early: bool,
    /// Open a fresh connection after this many polls on one: a server
    /// closes a connection after so many requests (nginx's
    /// `keepalive_requests`, 1000 by default), and that close, with the
    /// handshake after it, must not land between a listing and its POST.
    pub renew_connection_after: u64,
}

/// A value the user gave that cannot work. Shown as is, exit code 2.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("--url {0:?} is not a valid http(s) URL (example: https://tickets.example.com)")]
    BadUrl(String),
    #[error("--event {0:?} is not an event slug (examples: myevent, organizer/myevent)")]
    BadEvent(String),
    #[error("--interval must be at least {min} second (got {0}); polling faster gets the marketplace shut down for everyone", min = rules::MIN_INTERVAL_SECS)]
    IntervalTooShort(f64),
    #[error("--{0} must be between {min} and {max} seconds (got {1})", min = rules::MIN_RECHECK_SECS, max = rules::MAX_RECHECK_SECS)]
    BadSeconds(&'static str, f64),
    #[error("--max-price must be a non-negative amount (got {0})")]
    BadMaxPrice(f64),
}

/// Polls on one connection before [`Config::renew_connection_after`] opens
/// a fresh one: half of nginx's default 1000 requests, leaving room for the
/// requests of buys and checks (a handshake every ~8 minutes at 1 s).
pub const RENEW_CONNECTION_AFTER: u64 = 500;

/// The shortest poll interval we allow (the rule lives in `shared`, which
/// the extension's form checks too).
pub use pretix_race_shared::rules::MIN_INTERVAL_SECS;

impl Config {
    /// Check and normalise the site URL and event slug; other fields keep
    /// their defaults (15 s interval, no filters, `live-responses/`).
    pub fn new(url: &str, event: &str) -> Result<Config, ConfigError> {
        let site = parse_site(url)?;
        let event = parse_event(event)?;
        Ok(Config {
            site,
            event,
            interval: Duration::from_secs_f64(rules::DEFAULT_INTERVAL_SECS),
            filters: Filters::default(),
            dry_run: false,
            poll_inactive_marketplace: None,
            extra_roots_pem: Vec::new(),
            live_responses: PathBuf::from("live-responses"),
            timeouts: Timeouts::default(),
            fire_early: true,
            renew_connection_after: RENEW_CONNECTION_AFTER,
        })
    }

    /// A config from the extension's Start message.
    pub fn from_start(req: &StartRequest) -> Result<Config, ConfigError> {
        let mut cfg = Config::new(&req.url, &req.event)?;
        cfg.interval = interval(req.interval_secs)?;
        cfg.filters = req.filters.clone();
        if let Some(max) = req.filters.max_price {
            check_max_price(max)?;
        }
        cfg.dry_run = req.dry_run;
        cfg.poll_inactive_marketplace = req
            .poll_inactive_marketplace_secs
            .map(|s| seconds("poll-inactive-marketplace", s))
            .transpose()?;
        Ok(cfg)
    }

    /// `https://host[/prefix]/organizer/event/`
    pub fn event_url(&self) -> Url {
        // `event` was validated to be plain path segments, so joining cannot fail.
        self.site
            .join(&format!("{}/", self.event))
            .unwrap_or_else(|_| self.site.clone())
    }

    /// `scheme://host[:port]`: what the `Origin` header must say.
    pub fn origin(&self) -> String {
        self.site.origin().ascii_serialization()
    }
}

/// Validate a poll interval in seconds.
pub fn interval(secs: f64) -> Result<Duration, ConfigError> {
    if !rules::interval_ok(secs) {
        return Err(ConfigError::IntervalTooShort(secs));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Validate a re-check wait in seconds for the flag `name`.
pub fn seconds(name: &'static str, secs: f64) -> Result<Duration, ConfigError> {
    if !rules::recheck_ok(secs) {
        return Err(ConfigError::BadSeconds(name, secs));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Validate a webhook URL: http(s) with a host. The message is the flag's.
pub fn webhook_url(s: &str) -> Result<Url, String> {
    match Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(u),
        _ => Err(format!("{s:?} is not an http(s) URL")),
    }
}

pub fn check_max_price(max: f64) -> Result<f64, ConfigError> {
    if !rules::max_price_ok(max) {
        return Err(ConfigError::BadMaxPrice(max));
    }
    Ok(max)
}

fn parse_site(url: &str) -> Result<Url, ConfigError> {
    let bad = || ConfigError::BadUrl(url.to_string());
    let mut site = Url::parse(url.trim()).map_err(|_| bad())?;
    if !matches!(site.scheme(), "http" | "https") || site.host_str().is_none() {
        return Err(bad());
    }
    site.set_query(None);
    site.set_fragment(None);
    if !site.path().ends_with('/') {
        let p = format!("{}/", site.path());
        site.set_path(&p);
    }
    Ok(site)
}

fn parse_event(event: &str) -> Result<String, ConfigError> {
    let trimmed = event.trim().trim_matches('/');
    let ok = !trimmed.is_empty()
        && trimmed.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        });
    if !ok {
        return Err(ConfigError::BadEvent(event.to_string()));
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_reach_the_same_event_page() {
        let a = Config::new("https://host.example/organizer", "event").unwrap();
        let b = Config::new("https://host.example", "organizer/event").unwrap();
        let c = Config::new("https://host.example/organizer/", "/event/").unwrap();
        for cfg in [a, b, c] {
            assert_eq!(
                cfg.event_url().as_str(),
                "https://host.example/organizer/event/"
            );
            assert_eq!(cfg.origin(), "https://host.example");
        }
        let port = Config::new("https://127.0.0.1:8443/x", "y").unwrap();
        assert_eq!(port.origin(), "https://127.0.0.1:8443");
    }

    #[test]
    fn rejects_bad_values() {
        assert!(matches!(
            Config::new("tickets.example.com", "e"),
            Err(ConfigError::BadUrl(_))
        ));
        assert!(matches!(
            Config::new("ftp://h", "e"),
            Err(ConfigError::BadUrl(_))
        ));
        for bad in ["", "/", "a/../b", "a b", "e?x=1", "a//b"] {
            assert!(
                matches!(Config::new("https://h", bad), Err(ConfigError::BadEvent(_))),
                "{bad}"
            );
        }
        assert_eq!(interval(0.5), Err(ConfigError::IntervalTooShort(0.5)));
        assert!(interval(f64::NAN).is_err());
        assert_eq!(interval(1.5), Ok(Duration::from_millis(1500)));
        assert!(seconds("x", 0.0).is_err());
        assert!(
            seconds("x", 0.5).is_err(),
            "a re-check is a poll: 1 s floor"
        );
        assert_eq!(
            seconds("x", 0.5).unwrap_err().to_string(),
            "--x must be between 1 and 86400 seconds (got 0.5)"
        );
        assert!(seconds("x", 1.0).is_ok());
        assert!(check_max_price(-1.0).is_err());
    }
}
