//! Session cookies and the rules for handing them to a browser.
//!
//! pretix keeps a buyer's cart in three cookies: `__QXSESSION` (set by the
//! shop's front proxy, an ordinary cookie) and Django's
//! `__Host-pretix_csrftoken` and `__Host-pretix_session`. The `__Host-` prefix
//! is a browser rule: such a cookie must be `Secure`, have `Path=/` and carry
//! **no** `Domain` attribute. `chrome.cookies.set` therefore has to receive a
//! `url` and no `domain` for them, and `secure: true` spelled out (omitting it
//! means `false`, which Chrome rejects). Real pretix also marks them
//! `Partitioned; SameSite=None`, so we keep every attribute exactly as the
//! server sent it: the handoff needs them.

use serde::{Deserialize, Serialize};

/// The `SameSite` attribute, as the server sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SameSite {
    Strict,
    Lax,
    None,
}

/// One cookie, with every attribute the server set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cookie {
    pub name: String,
    pub value: String,
    /// The host the cookie belongs to, without a leading dot.
    pub domain: String,
    /// True when the server sent no `Domain` attribute (the cookie goes to
    /// exactly `domain`, never to its subdomains). Always true for `__Host-`.
    pub host_only: bool,
    pub path: String,
    pub secure: bool,
    pub http_only: bool,
    pub same_site: Option<SameSite>,
    pub partitioned: bool,
    /// Expiry as seconds since the Unix epoch; `None` for a session cookie.
    pub expires: Option<i64>,
}

impl Cookie {
    /// `__Host-` cookies may not carry a domain; browsers enforce it.
    pub fn is_host_prefixed(&self) -> bool {
        self.name.starts_with("__Host-")
    }

    /// `name=value`, as it appears in a `Cookie:` request header.
    pub fn pair(&self) -> String {
        format!("{}={}", self.name, self.value)
    }

    /// The `chrome.cookies.set` details that recreate this cookie in a browser
    /// profile for the shop at `origin` (`https://host[:port]`).
    pub fn to_chrome_set(&self, origin: &str) -> ChromeCookieSet {
        let origin = origin.trim_end_matches('/');
        let host_prefixed = self.is_host_prefixed();
        ChromeCookieSet {
            url: format!("{origin}/"),
            name: self.name.clone(),
            value: self.value.clone(),
            // `__Host-`: url only, never a domain. Others keep their domain
            // only when the server gave one (host-only cookies must stay so).
            domain: if host_prefixed || self.host_only {
                None
            } else {
                Some(self.domain.clone())
            },
            path: "/".to_string(),
            secure: host_prefixed || self.secure,
            http_only: self.http_only,
            same_site: Some(
                match self.same_site {
                    Some(SameSite::Strict) => "strict",
                    Some(SameSite::Lax) => "lax",
                    Some(SameSite::None) => "no_restriction",
                    None => "unspecified",
                }
                .to_string(),
            ),
            expiration_date: self.expires.map(|e| e as f64),
        }
    }
}

/// The argument of `chrome.cookies.set`, field names as Chrome expects them.
///
/// Serialised with camelCase keys and without absent fields, so the extension
/// can pass it to Chrome unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChromeCookieSet {
    pub url: String,
    pub name: String,
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub domain: Option<String>,
    pub path: String,
    pub secure: bool,
    pub http_only: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub same_site: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expiration_date: Option<f64>,
}

/// The origin (`scheme://host[:port]`) of a URL string, or `None` when the
/// string has no `scheme://host` part. Used for cookie urls and the `Origin`
/// header, which must never carry a path.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..host_end];
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if scheme.is_empty() || authority.is_empty() {
        return None;
    }
    Some(format!("{}://{}", scheme.to_ascii_lowercase(), authority))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookie(name: &str, host_only: bool) -> Cookie {
        Cookie {
            name: name.into(),
            value: "v".into(),
            domain: "tickets.example.com".into(),
            host_only,
            path: "/".into(),
            secure: true,
            http_only: true,
            same_site: Some(SameSite::None),
            partitioned: true,
            expires: Some(1_800_000_000),
        }
    }

    #[test]
    fn host_prefixed_cookie_uses_url_and_never_domain() {
        let set =
            cookie("__Host-pretix_session", true).to_chrome_set("https://tickets.example.com");
        assert_eq!(set.url, "https://tickets.example.com/");
        assert_eq!(set.domain, None);
        assert_eq!(set.path, "/");
        assert!(set.secure);
        assert!(set.http_only);
        assert_eq!(set.same_site.as_deref(), Some("no_restriction"));
        let json = serde_json::to_value(&set).unwrap();
        assert!(json.get("domain").is_none(), "{json}");
        assert_eq!(json["httpOnly"], true);
        assert_eq!(json["expirationDate"], 1_800_000_000.0);
    }

    #[test]
    fn host_prefix_forces_secure_even_if_record_lost_it() {
        let mut c = cookie("__Host-pretix_csrftoken", true);
        c.secure = false;
        assert!(c.to_chrome_set("https://h").secure);
    }

    #[test]
    fn ordinary_cookie_keeps_its_domain_when_server_gave_one() {
        let set = cookie("__QXSESSION", false).to_chrome_set("https://tickets.example.com/");
        assert_eq!(set.domain.as_deref(), Some("tickets.example.com"));
        assert_eq!(set.url, "https://tickets.example.com/");
        let host_only = cookie("__QXSESSION", true).to_chrome_set("https://tickets.example.com");
        assert_eq!(host_only.domain, None);
    }

    #[test]
    fn origin_never_carries_a_path() {
        assert_eq!(
            origin_of("https://Host.example:8443/org/event/secondhand/?x=1").as_deref(),
            Some("https://Host.example:8443")
        );
        assert_eq!(origin_of("https://h").as_deref(), Some("https://h"));
        assert_eq!(origin_of("no scheme"), None);
    }

    #[test]
    fn pair_is_name_equals_value() {
        let mut c = cookie("__QXSESSION", false);
        c.value = "a b=c".into();
        assert_eq!(c.pair(), "__QXSESSION=a b=c");
    }

    #[test]
    fn only_the_exact_host_prefix_counts() {
        assert!(cookie("__Host-x", true).is_host_prefixed());
        for name in [
            "__host-x",
            "__Secure-x",
            "x__Host-",
            "_Host-x",
            "__QXSESSION",
        ] {
            assert!(!cookie(name, true).is_host_prefixed(), "{name}");
        }
    }

    #[test]
    fn same_site_goes_by_chromes_names() {
        let names: Vec<Option<String>> = [
            Some(SameSite::Strict),
            Some(SameSite::Lax),
            Some(SameSite::None),
            None,
        ]
        .into_iter()
        .map(|s| {
            let mut c = cookie("a", true);
            c.same_site = s;
            c.to_chrome_set("https://h").same_site
        })
        .collect();
        assert_eq!(
            names,
            [
                Some("strict".to_string()),
                Some("lax".to_string()),
                Some("no_restriction".to_string()),
                Some("unspecified".to_string())
            ]
        );
    }

    #[test]
    fn ordinary_cookie_keeps_its_flags_and_session_lifetime() {
        let mut c = cookie("plain", true);
        c.secure = false;
        c.http_only = false;
        c.expires = None;
        let set = c.to_chrome_set("http://127.0.0.1:8443");
        assert!(!set.secure, "a plain cookie is not made Secure");
        assert!(!set.http_only);
        assert_eq!(set.expiration_date, None);
        assert_eq!(set.url, "http://127.0.0.1:8443/");
        let json = serde_json::to_value(&set).unwrap();
        assert!(json.get("expirationDate").is_none(), "{json}");
        // A Secure ordinary cookie stays Secure.
        assert!(cookie("plain", true).to_chrome_set("https://h").secure);
    }

    #[test]
    fn same_site_record_uses_lowercase_wire_names() {
        for (s, wire) in [
            (SameSite::Strict, "strict"),
            (SameSite::Lax, "lax"),
            (SameSite::None, "none"),
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), wire);
            assert_eq!(serde_json::from_value::<SameSite>(wire.into()).unwrap(), s);
        }
    }

    #[test]
    fn origin_drops_userinfo_query_and_fragment() {
        assert_eq!(
            origin_of("https://user:pw@h.example:8443/x").as_deref(),
            Some("https://h.example:8443")
        );
        assert_eq!(
            origin_of("HTTPS://h.example?x=1").as_deref(),
            Some("https://h.example")
        );
        assert_eq!(
            origin_of("https://h.example#top").as_deref(),
            Some("https://h.example")
        );
        assert_eq!(origin_of("://h.example/"), None, "no scheme");
        assert_eq!(origin_of("https:///path"), None, "no host");
        assert_eq!(origin_of("https://"), None);
    }
}
