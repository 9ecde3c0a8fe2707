//! The session's cookie jar, keeping every attribute the server set.
//!
//! reqwest's own jar stores name and value and forgets the rest, but the
//! handoff must recreate each cookie in the user's browser exactly as pretix
//! set it (`Partitioned`, `SameSite=None`, `HttpOnly`, expiry), so we keep
//! [`pretix_race_shared::Cookie`] records instead. Parsing a `Set-Cookie`
//! header is the `cookie` crate's job; this module only decides which stored
//! cookies go with which request (RFC 6265 domain and path matching).

use std::net::Ipv4Addr;
use std::sync::RwLock;
use std::time::{SystemTime, UNIX_EPOCH};

use pretix_race_shared::{Cookie, SameSite};
use url::{Host, Url};

/// A cookie store for one race session (the engine hands it to reqwest
/// through a thin adapter in `pretix_race::session`).
#[derive(Debug, Default)]
pub struct Jar {
    cookies: RwLock<Vec<Cookie>>,
}

impl Jar {
    pub fn new() -> Self {
        Jar::default()
    }

    /// Every live cookie, in the order the server first set them.
    pub fn snapshot(&self) -> Vec<Cookie> {
        self.snapshot_at(unix_now())
    }

    /// The live cookies that would be sent to `url`.
    pub fn for_url(&self, url: &Url) -> Vec<Cookie> {
        self.for_url_at(url, unix_now())
    }

    /// Would any cookie go to `url`? (No copies made.)
    pub fn has_any_for(&self, url: &Url) -> bool {
        self.has_any_for_at(url, unix_now())
    }

    // The `*_at` twins take the clock as an argument (Unix seconds) so the
    // tests can put a cookie exactly at, before and after its expiry; the
    // public methods read the real clock and do nothing else.

    fn snapshot_at(&self, now: i64) -> Vec<Cookie> {
        self.read()
            .iter()
            .filter(|c| !expired(c, now))
            .cloned()
            .collect()
    }

    fn for_url_at(&self, url: &Url, now: i64) -> Vec<Cookie> {
        self.read()
            .iter()
            .filter(|c| !expired(c, now) && matches(c, url))
            .cloned()
            .collect()
    }

    fn has_any_for_at(&self, url: &Url, now: i64) -> bool {
        self.read()
            .iter()
            .any(|c| !expired(c, now) && matches(c, url))
    }

    /// The value of the cookie called `name`, if any.
    pub fn get(&self, name: &str) -> Option<String> {
        self.snapshot()
            .into_iter()
            .find(|c| c.name == name)
            .map(|c| c.value)
    }

    /// Forget everything (a fresh visitor).
    pub fn clear(&self) {
        self.write().clear();
    }

    /// Store one `Set-Cookie` header received from `url`. Malformed headers
    /// and cookies for a foreign domain are dropped, as a browser would.
    pub fn store(&self, header: &str, url: &Url) {
        self.store_at(header, url, unix_now());
    }

    fn store_at(&self, header: &str, url: &Url, now: i64) {
        let Ok(parsed) = cookie::Cookie::parse(header.to_string()) else {
            return;
        };
        let Some(host) = url.host_str() else { return };
        let host = host.to_ascii_lowercase();
        let (domain, host_only) = match parsed.domain() {
            Some(d) if !d.is_empty() => {
                let d = d.trim_start_matches('.').to_ascii_lowercase();
                if !domain_matches(&host, &d) {
                    return;
                }
                (d, false)
            }
            _ => (host, true),
        };
        let path = match parsed.path() {
            Some(p) if p.starts_with('/') => p.to_string(),
            _ => default_path(url),
        };
        let expires = match (parsed.max_age(), parsed.expires_datetime()) {
            // Saturating: the `cookie` crate reads an over-long Max-Age as
            // i64::MAX seconds, and a wrapped sum would expire the cookie at
            // once (or panic in a debug build) instead of keeping it.
            (Some(age), _) => Some(now.saturating_add(age.whole_seconds())),
            (None, Some(at)) => Some(at.unix_timestamp()),
            (None, None) => None,
        };
        let record = Cookie {
            name: parsed.name().to_string(),
            value: parsed.value().to_string(),
            domain,
            host_only,
            path,
            secure: parsed.secure().unwrap_or(false),
            http_only: parsed.http_only().unwrap_or(false),
            same_site: parsed.same_site().map(|s| match s {
                cookie::SameSite::Strict => SameSite::Strict,
                cookie::SameSite::Lax => SameSite::Lax,
                cookie::SameSite::None => SameSite::None,
            }),
            partitioned: parsed.partitioned().unwrap_or(false),
            expires,
        };
        // `__Host-` rules: must be Secure, Path=/, no Domain. Browsers drop
        // violators; so do we, so the handoff never carries one it can't set.
        if record.is_host_prefixed() && (!record.secure || !record.host_only || record.path != "/")
        {
            return;
        }
        let mut all = self.write();
        let same = |c: &Cookie| {
            c.name == record.name && c.domain == record.domain && c.path == record.path
        };
        if expired(&record, now) {
            all.retain(|c| !same(c));
        } else if let Some(slot) = all.iter_mut().find(|c| same(c)) {
            *slot = record;
        } else {
            all.push(record);
        }
    }

    /// The `Cookie` header value for a request to `url` (`a=1; b=2`), if
    /// any cookie goes there.
    pub fn header_for(&self, url: &Url) -> Option<String> {
        let pairs: Vec<String> = self.for_url(url).iter().map(Cookie::pair).collect();
        if pairs.is_empty() {
            None
        } else {
            Some(pairs.join("; "))
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Cookie>> {
        self.cookies.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Cookie>> {
        self.cookies.write().unwrap_or_else(|p| p.into_inner())
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn expired(c: &Cookie, now: i64) -> bool {
    c.expires.is_some_and(|e| e <= now)
}

/// RFC 6265 5.1.3: `host` is `domain` or a subdomain of it. An IP address
/// only ever matches itself (`127.0.0.1` is not "in" `0.0.1`).
fn domain_matches(host: &str, domain: &str) -> bool {
    host == domain
        || (host.ends_with(domain)
            && host[..host.len() - domain.len()].ends_with('.')
            && host.parse::<Ipv4Addr>().is_err())
}

fn matches(c: &Cookie, url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    let host_ok = if c.host_only {
        host == c.domain
    } else {
        domain_matches(&host, &c.domain)
    };
    let path = url.path();
    let path_ok = path == c.path
        || (path.starts_with(&c.path)
            && (c.path.ends_with('/') || path[c.path.len()..].starts_with('/')));
    let secure_ok = !c.secure || url.scheme() == "https" || is_loopback(url);
    host_ok && path_ok && secure_ok
}

/// Loopback counts as secure (as in browsers), so the simulator on
/// `http://127.0.0.1` gets its `Secure` cookies. Decided on the parsed host:
/// a DNS name such as `127.0.0.1.example.net` is not loopback.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// RFC 6265 default-path: the request path up to its last `/`.
fn default_path(url: &Url) -> String {
    let p = url.path();
    match p.rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(i) => p[..i].to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    /// The exact `Set-Cookie` lines from the captured cart-add transcript.
    const CSRF: &str = "__Host-pretix_csrftoken=HjEasQXfHv1gwsdtCYsdxpKEPWzcWI7Z; expires=Thu, 24 Dec 2037 11:31:56 GMT; Max-Age=31449600; Partitioned; Path=/; SameSite=None; Secure";
    const SESSION: &str = "__Host-pretix_session=xw98xf804w177mqnov0g3nlwhrnrzue6; expires=Thu, 08 Jan 2037 11:31:56 GMT; HttpOnly; Max-Age=1209600; Partitioned; Path=/; SameSite=None; Secure";

    #[test]
    fn keeps_every_attribute_the_server_set() {
        let jar = Jar::new();
        let u = url("https://tickets.example.com/event/secondhand/buy/x/");
        jar.store(CSRF, &u);
        jar.store(SESSION, &u);
        let all = jar.snapshot();
        assert_eq!(all.len(), 2);
        let s = &all[1];
        assert_eq!(s.name, "__Host-pretix_session");
        assert_eq!(s.value, "xw98xf804w177mqnov0g3nlwhrnrzue6");
        assert_eq!(s.domain, "tickets.example.com");
        assert!(s.host_only && s.secure && s.http_only && s.partitioned);
        assert_eq!(s.same_site, Some(SameSite::None));
        assert_eq!(s.path, "/");
        // Max-Age wins over Expires (see also `max_age_wins_over_expires`)
        assert!((s.expires.unwrap() - unix_now() - 1_209_600).abs() < 5);
        assert!(!all[0].http_only);
    }

    #[test]
    fn sends_matching_cookies_in_one_header() {
        let jar = Jar::new();
        let u = url("https://tickets.example.com/event/");
        jar.store(CSRF, &u);
        jar.store("__QXSESSION=abc; Path=/; Secure; HttpOnly", &u);
        let h = jar
            .header_for(&url("https://tickets.example.com/other/path"))
            .unwrap();
        assert_eq!(
            h,
            "__Host-pretix_csrftoken=HjEasQXfHv1gwsdtCYsdxpKEPWzcWI7Z; __QXSESSION=abc"
        );
        assert!(jar.header_for(&url("https://evil.example.com/")).is_none());
        assert!(
            jar.header_for(&url("http://tickets.example.com/"))
                .is_none(),
            "Secure stays on https"
        );
    }

    #[test]
    fn replaces_and_expires() {
        let jar = Jar::new();
        let u = url("https://h.example/");
        jar.store("a=1; Path=/", &u);
        jar.store("a=2; Path=/", &u);
        assert_eq!(jar.get("a").as_deref(), Some("2"));
        jar.store("a=gone; Path=/; Max-Age=0", &u);
        assert_eq!(jar.get("a"), None);
    }

    #[test]
    fn rejects_bad_host_prefix_and_foreign_domains() {
        let jar = Jar::new();
        let u = url("https://tickets.example.com/");
        jar.store("__Host-x=1; Path=/", &u); // not Secure
        jar.store("__Host-y=1; Path=/; Secure; Domain=tickets.example.com", &u);
        jar.store("z=1; Domain=other.example", &u);
        jar.store("not a cookie", &u);
        assert!(jar.snapshot().is_empty());
        jar.store("d=1; Domain=.example.com", &u);
        assert_eq!(jar.for_url(&url("https://www.example.com/")).len(), 1);
    }

    #[test]
    fn path_matching() {
        let jar = Jar::new();
        jar.store("p=1; Path=/event", &url("https://h.example/"));
        assert_eq!(
            jar.for_url(&url("https://h.example/event/secondhand/"))
                .len(),
            1
        );
        assert_eq!(jar.for_url(&url("https://h.example/eventx")).len(), 0);
        jar.store("q=1", &url("https://h.example/a/b/c"));
        assert_eq!(jar.snapshot()[1].path, "/a/b");
    }

    /// One moment, as Unix seconds, for the `*_at` tests.
    const NOW: i64 = 1_766_660_000;

    #[test]
    fn max_age_counts_from_the_clock_and_expires_exactly_then() {
        let jar = Jar::new();
        let u = url("https://h.example/");
        jar.store_at("a=1; Max-Age=10", &u, NOW);
        assert_eq!(jar.snapshot_at(NOW)[0].expires, Some(NOW + 10));
        // Alive up to the last second, gone at the expiry second itself
        // (RFC 6265: expiry-time <= now).
        assert_eq!(jar.snapshot_at(NOW + 9).len(), 1);
        assert!(jar.snapshot_at(NOW + 10).is_empty());
        assert_eq!(jar.for_url_at(&u, NOW + 9).len(), 1);
        assert!(jar.for_url_at(&u, NOW + 10).is_empty());
        assert!(jar.has_any_for_at(&u, NOW + 9));
        assert!(!jar.has_any_for_at(&u, NOW + 10));
    }

    #[test]
    fn max_age_wins_over_expires_and_expires_alone_is_taken_as_is() {
        let jar = Jar::new();
        let u = url("https://h.example/");
        jar.store_at(
            "a=1; Expires=Thu, 01 Jan 2099 00:00:00 GMT; Max-Age=60",
            &u,
            NOW,
        );
        jar.store_at("b=1; Expires=Thu, 01 Jan 2099 00:00:00 GMT", &u, NOW);
        jar.store_at("c=1", &u, NOW);
        let all = jar.snapshot_at(NOW);
        assert_eq!(all[0].expires, Some(NOW + 60));
        assert_eq!(all[1].expires, Some(4_070_908_800));
        assert_eq!(all[2].expires, None, "a session cookie never expires here");
        assert_eq!(jar.snapshot_at(i64::MAX).len(), 1);
    }

    #[test]
    fn an_absurd_max_age_keeps_the_cookie_instead_of_wrapping() {
        let jar = Jar::new();
        let u = url("https://h.example/");
        jar.store_at("a=1; Max-Age=99999999999999999999999", &u, NOW);
        assert_eq!(jar.snapshot_at(NOW)[0].expires, Some(i64::MAX));
        jar.store("b=1; Max-Age=9223372036854775807", &u);
        assert_eq!(jar.get("b").as_deref(), Some("1"));
    }

    #[test]
    fn past_or_negative_expiry_deletes_instead_of_storing() {
        let jar = Jar::new();
        let u = url("https://h.example/");
        jar.store_at("a=1; Max-Age=-1", &u, NOW);
        jar.store_at("b=1; Expires=Thu, 01 Jan 2015 00:00:00 GMT", &u, NOW);
        assert!(jar.snapshot_at(NOW).is_empty());
    }

    #[test]
    fn the_public_methods_read_the_real_clock() {
        let jar = Jar::new();
        let u = url("https://h.example/");
        let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        jar.store("fresh=1; Max-Age=600", &u);
        let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let e = jar.snapshot()[0].expires.unwrap();
        assert!(
            (before.as_secs() as i64 + 600..=after.as_secs() as i64 + 600).contains(&e),
            "{e}"
        );
        // A date long past is dead by the real clock, in every view.
        jar.store("old=1; Expires=Wed, 01 Jan 2015 00:00:00 GMT", &u);
        let stale = Cookie {
            expires: Some(1_420_070_400), // 2015, as if stored back then
            name: "stale".into(),
            ..jar.snapshot()[0].clone()
        };
        jar.write().push(stale.clone());
        assert_eq!(jar.snapshot().len(), 1);
        assert_eq!(jar.for_url(&u).len(), 1);
        assert_eq!(jar.get("stale"), None);
        jar.clear();
        jar.write().push(stale);
        assert!(!jar.has_any_for(&u), "only a stale cookie");
        assert_eq!(jar.header_for(&u), None);
    }

    #[test]
    fn deletion_and_replacement_key_on_name_domain_and_path() {
        let jar = Jar::new();
        let u = url("https://shop.example.com/");
        jar.store_at("a=root; Path=/", &u, NOW);
        jar.store_at("a=deep; Path=/event", &u, NOW);
        jar.store_at("a=wide; Domain=example.com; Path=/", &u, NOW);
        jar.store_at("b=1; Path=/", &u, NOW);
        assert_eq!(
            jar.snapshot_at(NOW).len(),
            4,
            "three distinct `a`s and a `b`"
        );
        // Replacing keeps the cookie's place in the order.
        jar.store_at("a=root2; Path=/", &u, NOW);
        let values: Vec<String> = jar.snapshot_at(NOW).into_iter().map(|c| c.value).collect();
        assert_eq!(values, ["root2", "deep", "wide", "1"]);
        // Deleting removes exactly the one with the same key.
        jar.store_at("a=; Path=/; Max-Age=0", &u, NOW);
        let left: Vec<String> = jar.snapshot_at(NOW).into_iter().map(|c| c.value).collect();
        assert_eq!(left, ["deep", "wide", "1"]);
        jar.store_at("a=; Domain=example.com; Path=/; Max-Age=0", &u, NOW);
        let left: Vec<String> = jar.snapshot_at(NOW).into_iter().map(|c| c.value).collect();
        assert_eq!(left, ["deep", "1"]);
    }

    #[test]
    fn get_finds_by_name_among_many() {
        let jar = Jar::new();
        let u = url("https://h.example/");
        jar.store("a=1", &u);
        jar.store("b=2", &u);
        jar.store("c=3", &u);
        assert_eq!(jar.get("b").as_deref(), Some("2"));
        assert_eq!(jar.get("c").as_deref(), Some("3"));
        assert_eq!(jar.get("d"), None);
    }

    #[test]
    fn clear_forgets_everything() {
        let jar = Jar::new();
        let u = url("https://h.example/");
        jar.store("a=1", &u);
        assert!(jar.has_any_for(&u));
        jar.clear();
        assert!(jar.snapshot().is_empty());
        assert!(!jar.has_any_for(&u));
    }

    #[test]
    fn domain_cookie_goes_to_the_domain_and_its_subdomains_only() {
        let jar = Jar::new();
        jar.store("d=1; Domain=example.com", &url("https://example.com/"));
        let d = &jar.snapshot()[0];
        assert_eq!(d.domain, "example.com");
        assert!(!d.host_only);
        for ok in [
            "https://example.com/",
            "https://sub.example.com/",
            "https://a.b.example.com/x",
            "https://EXAMPLE.com/",
        ] {
            assert!(jar.has_any_for(&url(ok)), "{ok}");
            assert_eq!(jar.for_url(&url(ok)).len(), 1, "{ok}");
        }
        for no in [
            "https://badexample.com/",
            "https://example.com.evil/",
            "https://example.org/",
            "https://com/",
        ] {
            assert!(!jar.has_any_for(&url(no)), "{no}");
            assert!(jar.for_url(&url(no)).is_empty(), "{no}");
        }
    }

    #[test]
    fn host_only_cookie_goes_to_exactly_its_host() {
        let jar = Jar::new();
        jar.store("h=1", &url("https://Example.com/"));
        let h = &jar.snapshot()[0];
        assert!(h.host_only);
        assert_eq!(h.domain, "example.com");
        assert!(jar.has_any_for(&url("https://example.com/")));
        assert!(!jar.has_any_for(&url("https://sub.example.com/")));
        assert!(!jar.has_any_for(&url("https://badexample.com/")));
    }

    #[test]
    fn a_domain_attribute_must_cover_the_setting_host() {
        let jar = Jar::new();
        jar.store("x=1; Domain=example.com", &url("https://badexample.com/"));
        jar.store("y=1; Domain=sub.example.com", &url("https://example.com/"));
        jar.store("z=1; Domain=0.0.1", &url("http://127.0.0.1/"));
        assert!(jar.snapshot().is_empty(), "{:?}", jar.snapshot());
        // Leading dot and case are forgiven; an empty Domain means host-only.
        jar.store("a=1; Domain=.EXAMPLE.com", &url("https://www.example.com/"));
        jar.store("b=1; Domain=.", &url("https://www.example.com/")); // `Domain=` after its dot
        jar.store("c=1; Domain=127.0.0.1", &url("http://127.0.0.1/"));
        let all = jar.snapshot();
        assert_eq!(all.len(), 3);
        assert_eq!(
            (all[0].domain.as_str(), all[0].host_only),
            ("example.com", false)
        );
        assert_eq!(
            (all[1].domain.as_str(), all[1].host_only),
            ("www.example.com", true)
        );
        assert_eq!(
            (all[2].domain.as_str(), all[2].host_only),
            ("127.0.0.1", false)
        );
    }

    #[test]
    fn path_prefix_must_end_at_a_slash() {
        let jar = Jar::new();
        let u = url("https://h.example/");
        jar.store("p=1; Path=/event", &u);
        jar.store("q=1; Path=/event/", &u);
        let names = |path: &str| -> Vec<String> {
            jar.for_url(&url(&format!("https://h.example{path}")))
                .into_iter()
                .map(|c| c.name)
                .collect()
        };
        assert_eq!(names("/event"), ["p"]);
        assert_eq!(names("/event/"), ["p", "q"]);
        assert_eq!(names("/event/secondhand/"), ["p", "q"]);
        assert!(names("/eventx").is_empty());
        assert!(names("/eventx/y").is_empty());
        assert!(names("/other/").is_empty());
        assert!(names("/").is_empty());
        assert!(names("/ev").is_empty());
    }

    #[test]
    fn default_path_is_the_request_directory() {
        let jar = Jar::new();
        jar.store("a=1", &url("https://h.example/a/b/c"));
        jar.store("b=1", &url("https://h.example/x"));
        jar.store("c=1", &url("https://h.example/"));
        jar.store("d=1; Path=relative", &url("https://h.example/o/e/page"));
        jar.store("e=1; Path=", &url("https://h.example/o/e/"));
        let paths: Vec<String> = jar.snapshot().into_iter().map(|c| c.path).collect();
        assert_eq!(paths, ["/a/b", "/", "/", "/o/e", "/o/e"]);
    }

    #[test]
    fn secure_cookies_need_https_or_loopback() {
        let jar = Jar::new();
        jar.store("s=1; Secure", &url("https://h.example/"));
        jar.store("s=1; Secure", &url("https://localhost/"));
        jar.store("s=1; Secure", &url("https://127.0.0.1/"));
        jar.store("s=1; Secure", &url("https://127.1.2.3/"));
        jar.store("s=1; Secure", &url("https://[::1]/"));
        jar.store("s=1; Secure", &url("https://127.0.0.1.example.net/"));
        assert_eq!(jar.snapshot().len(), 6);
        assert!(jar.has_any_for(&url("https://h.example/")));
        assert!(!jar.has_any_for(&url("http://h.example/")));
        for loopback in [
            "http://localhost:8080/",
            "http://127.0.0.1:8443/",
            "http://127.1.2.3/",
            "http://[::1]:8443/",
        ] {
            assert!(jar.has_any_for(&url(loopback)), "{loopback}");
        }
        // Starts like a loopback address, but is a name on the network.
        assert!(!jar.has_any_for(&url("http://127.0.0.1.example.net/")));
    }

    #[test]
    fn plain_cookies_go_over_http_too() {
        let jar = Jar::new();
        jar.store("plain=1", &url("http://h.example/"));
        assert_eq!(
            jar.header_for(&url("http://h.example/")).as_deref(),
            Some("plain=1")
        );
        assert!(jar.has_any_for(&url("https://h.example/")));
    }

    #[test]
    fn host_prefix_rules_each_on_their_own() {
        let jar = Jar::new();
        let u = url("https://tickets.example.com/event/");
        jar.store("__Host-nosecure=1; Path=/", &u);
        jar.store("__Host-deep=1; Secure; Path=/event", &u);
        jar.store("__Host-nopath=1; Secure", &u); // default path is /event
        jar.store(
            "__Host-domain=1; Secure; Path=/; Domain=tickets.example.com",
            &u,
        );
        assert!(jar.snapshot().is_empty(), "{:?}", jar.snapshot());
        jar.store("__Host-ok=1; Secure; Path=/", &u);
        // Only `__Host-` is held to these rules.
        jar.store("ordinary=1; Path=/event; Domain=example.com", &u);
        let names: Vec<String> = jar.snapshot().into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["__Host-ok", "ordinary"]);
    }

    #[test]
    fn same_site_is_kept_as_sent() {
        let jar = Jar::new();
        let u = url("https://h.example/");
        jar.store("a=1; SameSite=Strict", &u);
        jar.store("b=1; SameSite=Lax", &u);
        jar.store("c=1; SameSite=None; Secure", &u);
        jar.store("d=1", &u);
        let got: Vec<Option<SameSite>> = jar.snapshot().into_iter().map(|c| c.same_site).collect();
        assert_eq!(
            got,
            [
                Some(SameSite::Strict),
                Some(SameSite::Lax),
                Some(SameSite::None),
                None
            ]
        );
    }

    #[test]
    fn urls_without_a_host_get_nothing() {
        let jar = Jar::new();
        jar.store("a=1", &url("data:text/plain,x"));
        assert!(jar.snapshot().is_empty());
        jar.store("b=1", &url("https://h.example/"));
        assert!(!jar.has_any_for(&url("data:text/plain,x")));
    }
}
