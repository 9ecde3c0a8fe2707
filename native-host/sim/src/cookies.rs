//! The three cookies the live site sets, byte for byte in attribute order.
//!
//! * `__Host-pretix_csrftoken` — Django's CSRF secret, one year.
//! * `__Host-pretix_session` — Django's session key, two weeks, `HttpOnly`.
//! * `__QXSESSION` — set by the front proxy (openresty), not by pretix.
//!
//! The `__Host-` prefix obliges `Secure`, `Path=/` and no `Domain`; pretix
//! additionally marks them `Partitioned; SameSite=None` (CHIPS, so the shop
//! works embedded as a widget). Clients must store and replay them as a
//! browser would; the simulator refuses a buy whose cookies don't match the
//! session it issued. The headers are formatted by hand rather than with the
//! `cookie` crate so attribute order and spelling match the transcript in
//! the reference pages exactly.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use axum::http::HeaderMap;

use super::csrf;

pub const CSRF: &str = "__Host-pretix_csrftoken";
pub const SESSION: &str = "__Host-pretix_session";
pub const PROXY: &str = "__QXSESSION";

/// Django's `CSRF_COOKIE_AGE` (52 weeks).
const CSRF_MAX_AGE: u64 = 31_449_600;
/// Django's `SESSION_COOKIE_AGE` (2 weeks).
const SESSION_MAX_AGE: u64 = 1_209_600;

/// A new session key: 32 characters `[a-z0-9]`, like Django's.
pub fn new_session_key() -> String {
    csrf::random_string(b"abcdefghijklmnopqrstuvwxyz0123456789", 32)
}

/// A new proxy session id: 32 lowercase hex digits.
pub fn new_proxy_id() -> String {
    csrf::random_string(b"0123456789abcdef", 32)
}

fn expires(now: SystemTime, max_age: u64) -> String {
    httpdate::fmt_http_date(now + Duration::from_secs(max_age))
}

/// `Set-Cookie` value for the CSRF secret.
pub fn set_csrf(secret: &str, now: SystemTime) -> String {
    format!(
        "{CSRF}={secret}; expires={}; Max-Age={CSRF_MAX_AGE}; Partitioned; Path=/; SameSite=None; Secure",
        expires(now, CSRF_MAX_AGE)
    )
}

/// `Set-Cookie` value for the session key.
pub fn set_session(key: &str, now: SystemTime) -> String {
    format!(
        "{SESSION}={key}; expires={}; HttpOnly; Max-Age={SESSION_MAX_AGE}; Partitioned; Path=/; SameSite=None; Secure",
        expires(now, SESSION_MAX_AGE)
    )
}

/// `Set-Cookie` value for the proxy cookie (a session cookie: no expiry).
pub fn set_proxy(id: &str) -> String {
    format!("{PROXY}={id}; Path=/; Secure; HttpOnly; SameSite=Lax")
}

/// All cookies of a request. HTTP/2 clients may split `Cookie` into several
/// header fields (RFC 9113 §8.2.3), so every field is read; a name sent
/// twice keeps its last value, as Python's cookie parser does.
/// `Set-Cookie` values that delete all three session cookies (a logout, or
/// a proxy that lost its state), as Django deletes a cookie: empty value,
/// `Max-Age=0` and an expiry in the past.
pub fn delete_all() -> Vec<String> {
    [CSRF, SESSION, PROXY]
        .iter()
        .map(|name| {
            format!("{name}=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; Secure")
        })
        .collect()
}

pub fn parse(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut jar = BTreeMap::new();
    for value in headers.get_all(axum::http::header::COOKIE) {
        let Ok(value) = value.to_str() else { continue };
        for pair in value.split(';') {
            if let Some((name, val)) = pair.split_once('=') {
                let name = name.trim();
                if !name.is_empty() {
                    jar.insert(name.to_owned(), val.trim().to_owned());
                }
            }
        }
    }
    jar
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn attributes_match_the_live_site() {
        // 2025-12-25 11:31:56 UTC, the time of the captured transcript.
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_766_662_316);
        assert_eq!(
            set_csrf("HjEasQXfHv1gwsdtCYsdxpKEPWzcWI7Z", now),
            "__Host-pretix_csrftoken=HjEasQXfHv1gwsdtCYsdxpKEPWzcWI7Z; expires=Thu, 24 Dec 2026 11:31:56 GMT; Max-Age=31449600; Partitioned; Path=/; SameSite=None; Secure"
        );
        assert_eq!(
            set_session("xw98xf804w177mqnov0g3nlwhrnrzue6", now),
            "__Host-pretix_session=xw98xf804w177mqnov0g3nlwhrnrzue6; expires=Thu, 08 Jan 2026 11:31:56 GMT; HttpOnly; Max-Age=1209600; Partitioned; Path=/; SameSite=None; Secure"
        );
    }

    #[test]
    fn ids_have_the_right_shape() {
        let key = new_session_key();
        assert_eq!(key.len(), 32);
        assert!(key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        let proxy = new_proxy_id();
        assert_eq!(proxy.len(), 32);
        assert!(proxy
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }

    #[test]
    fn parses_split_cookie_headers() {
        let mut h = HeaderMap::new();
        h.append("cookie", HeaderValue::from_static("a=1; b=2"));
        h.append("cookie", HeaderValue::from_static("c=3;b=4; junk"));
        let jar = parse(&h);
        assert_eq!(jar.get("a").map(String::as_str), Some("1"));
        assert_eq!(jar.get("b").map(String::as_str), Some("4"));
        assert_eq!(jar.get("c").map(String::as_str), Some("3"));
        assert_eq!(jar.len(), 3);
    }
}
