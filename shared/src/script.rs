//! The manual fallback: a script for the DevTools console.
//!
//! If the automatic handoff fails (extension not installed, a cookie the
//! browser refuses), the user can open the shop in their browser, paste this
//! into the console and reload into the cart. `document.cookie` cannot set
//! `__Host-` cookies; `cookieStore.set` can. The shape is the original tool's,
//! one line, every name and value JSON-escaped so no cookie can break out of
//! its string.

use crate::cookies::Cookie;

/// `(async () => { await cookieStore.set({...}); … location.reload(); })()`
pub fn cookie_store_script<'a>(cookies: impl IntoIterator<Item = &'a Cookie>) -> String {
    let mut out = String::from("(async () => { ");
    for c in cookies {
        out.push_str("await cookieStore.set({name: ");
        out.push_str(&json_string(&c.name));
        out.push_str(", value: ");
        out.push_str(&json_string(&c.value));
        out.push_str(", path: \"/\", secure: true, sameSite: \"lax\"}); ");
    }
    out.push_str("location.reload(); })()");
    out
}

fn json_string(s: &str) -> String {
    // Serialising a &str cannot fail.
    serde_json::to_string(s).unwrap_or_else(|_| String::from("\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cookies::SameSite;

    fn c(name: &str, value: &str) -> Cookie {
        Cookie {
            name: name.into(),
            value: value.into(),
            domain: "h".into(),
            host_only: true,
            path: "/".into(),
            secure: true,
            http_only: false,
            same_site: Some(SameSite::Lax),
            partitioned: false,
            expires: None,
        }
    }

    #[test]
    fn script_has_the_seed_shape() {
        let s = cookie_store_script(&[c("__QXSESSION", "abc"), c("__Host-pretix_session", "xyz")]);
        assert_eq!(
            s,
            "(async () => { await cookieStore.set({name: \"__QXSESSION\", value: \"abc\", path: \"/\", secure: true, sameSite: \"lax\"}); \
             await cookieStore.set({name: \"__Host-pretix_session\", value: \"xyz\", path: \"/\", secure: true, sameSite: \"lax\"}); \
             location.reload(); })()"
        );
    }

    #[test]
    fn values_are_json_escaped() {
        let s = cookie_store_script(&[c("a", "x\"});alert(1);//\\")]);
        assert!(s.contains(r#"value: "x\"});alert(1);//\\""#), "{s}");
    }

    #[test]
    fn no_cookies_only_reloads() {
        assert_eq!(
            cookie_store_script(&[]),
            "(async () => { location.reload(); })()"
        );
    }

    #[test]
    fn names_are_escaped_too_and_newlines_cannot_end_the_line() {
        let s = cookie_store_script(&[c("n\"}\n", "v")]);
        assert!(s.contains(r#"name: "n\"}\n""#), "{s}");
        assert!(!s.contains('\n'), "one line: {s}");
    }
}
