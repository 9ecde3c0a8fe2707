//! The session's cookie jar, keeping every attribute the server set.
//!
//! reqwest's own jar stores name and value and forgets the rest, but the
//! handoff must recreate each cookie in the user's browser exactly as pretix
//! set it (`Partitioned`, `SameSite=None`, `HttpOnly`, expiry), so we keep
//! [`pretix_race_shared::Cookie`] records instead. Parsing a `Set-Cookie`
//! header is the `cookie` crate's job; this module only decides which stored
//! cookies go with which request (RFC 6265 domain and path matching).

use std::sync::RwLock;
use std::time::{SystemTime, UNIX_EPOCH};

use pretix_race_shared::{Cookie, SameSite};
use url::Url;

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
        let now = unix_now();
        self.read()
            .iter()
            .filter(|c| !expired(c, now))
            .cloned()
            .collect()
    }

    /// The live cookies that would be sent to `url`.
    pub fn for_url(&self, url: &Url) -> Vec<Cookie> {
        let now = unix_now();
        self.read()
            .iter()
            .filter(|c| !expired(c, now) && matches(c, url))
            .cloned()
            .collect()
    }

    /// Would any cookie go to `url`? (No copies made.)
    pub fn has_any_for(&self, url: &Url) -> bool {
        let now = unix_now();
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
        let now = unix_now();
        let expires = match (parsed.max_age(), parsed.expires_datetime()) {
            // Saturating: `Max-Age=99999999999999999999` arrives as i64::MAX seconds.
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

fn domain_matches(host: &str, domain: &str) -> bool {
    host == domain || (host.ends_with(domain) && host[..host.len() - domain.len()].ends_with('.'))
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
    let secure_ok = !c.secure || url.scheme() == "https" || is_loopback(&host);
    host_ok && path_ok && secure_ok
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.starts_with("127.") || host == "[::1]"
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
        // Max-Age wins over Expires
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
}
