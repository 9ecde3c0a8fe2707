//! Turning a [`Handoff`] into `chrome.cookies` calls, and their results into
//! the [`HandoffResult`] the host gets back. Pure: the calls themselves are in
//! `background.rs`.

use pretix_race_shared::cookies::{origin_of, ChromeCookieSet};
use pretix_race_shared::protocol::{Handoff, HandoffResult};
use serde::Serialize;

/// `chrome.cookies.get` / plain `remove` details.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CookieQuery {
    pub url: String,
    pub name: String,
}

/// `{topLevelSite}` of a `chrome.cookies` partition key.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitionKey {
    pub top_level_site: String,
}

/// `chrome.cookies.remove` details for a partitioned copy.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitionedRemove {
    pub url: String,
    pub name: String,
    pub partition_key: PartitionKey,
}

/// `chrome.cookies.getAll({url, name, partitionKey: {}})`: the cookie in
/// every partition (Chrome 119+).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AllPartitionsQuery {
    pub url: String,
    pub name: String,
    pub partition_key: serde_json::Map<String, serde_json::Value>,
}

/// What to do for one cookie.
#[derive(Debug, Clone, PartialEq)]
pub struct CookieStep {
    /// For a cookie the shop set `Partitioned`: find partitioned copies a
    /// browser that visited the shop before may hold, to remove them (best
    /// effort) so the checkout tab sends the handed-over (unpartitioned)
    /// session rather than an old one.
    pub find_partitioned: Option<AllPartitionsQuery>,
    /// Fallback when that query fails: remove by guessed top-level sites.
    pub remove_partitioned: Vec<PartitionedRemove>,
    /// The `chrome.cookies.set` details.
    pub set: ChromeCookieSet,
    /// The `chrome.cookies.get` that must then return `set.value`.
    pub verify: CookieQuery,
}

/// The cookie calls for a handoff, in order, or why there are none.
pub fn plan(h: &Handoff) -> Result<Vec<CookieStep>, String> {
    let origin = origin_of(&h.checkout_url)
        .filter(|o| o.starts_with("https://") || o.starts_with("http://"))
        .ok_or_else(|| format!("checkout URL {:?} is not an http(s) URL", h.checkout_url))?;
    if h.cookies.is_empty() {
        return Err("the host sent no cookies".into());
    }
    Ok(h.cookies
        .iter()
        .map(|c| {
            let set = c.to_chrome_set(&origin);
            let remove_partitioned = if c.partitioned {
                partition_sites(&origin)
                    .into_iter()
                    .map(|site| PartitionedRemove {
                        url: set.url.clone(),
                        name: set.name.clone(),
                        partition_key: PartitionKey {
                            top_level_site: site,
                        },
                    })
                    .collect()
            } else {
                Vec::new()
            };
            CookieStep {
                find_partitioned: c.partitioned.then(|| AllPartitionsQuery {
                    url: set.url.clone(),
                    name: set.name.clone(),
                    partition_key: serde_json::Map::new(),
                }),
                remove_partitioned,
                verify: CookieQuery {
                    url: set.url.clone(),
                    name: set.name.clone(),
                },
                set,
            }
        })
        .collect())
}

/// The top-level sites a partitioned copy of the shop's cookies may be keyed
/// by: the origin without its port (a site has none) and, for a host name with
/// three or more labels, its last two labels (a guess at the registrable
/// domain: a wrong guess only makes one harmless removal fail).
pub fn partition_sites(origin: &str) -> Vec<String> {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return Vec::new();
    };
    let host = if authority.starts_with('[') {
        // IPv6 literal: `[::1]:8443`
        authority
            .find(']')
            .map_or(authority, |end| &authority[..=end])
    } else {
        authority.split(':').next().unwrap_or(authority)
    };
    let mut out = vec![format!("{scheme}://{host}")];
    let is_ip = host.starts_with('[') || host.chars().all(|c| c.is_ascii_digit() || c == '.');
    let labels: Vec<&str> = host.split('.').collect();
    if !is_ip && labels.len() >= 3 {
        out.push(format!(
            "{scheme}://{}.{}",
            labels[labels.len() - 2],
            labels[labels.len() - 1]
        ));
    }
    out
}

/// The `chrome.cookies.remove` details for every partitioned copy in what
/// [`AllPartitionsQuery`] returned, each with the partition key exactly as
/// Chrome reported it (Chromium 156 only removes when `hasCrossSiteAncestor`
/// matches, so the key is passed back verbatim rather than rebuilt).
pub fn removals_for(step: &CookieStep, found: &[serde_json::Value]) -> Vec<serde_json::Value> {
    found
        .iter()
        .filter(|c| c.get("name").and_then(|n| n.as_str()) == Some(step.set.name.as_str()))
        .filter_map(|c| c.get("partitionKey").filter(|k| k.is_object()))
        .map(|key| {
            serde_json::json!({
                "url": step.set.url,
                "name": step.set.name,
                "partitionKey": key,
            })
        })
        .collect()
}

/// Check what `chrome.cookies.get` returned after a set: `got` is the stored
/// value, `None` when Chrome has no such cookie.
pub fn check_stored(step: &CookieStep, got: Option<&str>) -> Result<(), String> {
    match got {
        None => Err("Chrome reports it as set, but chrome.cookies.get does not find it".into()),
        Some(v) if v != step.set.value => {
            Err("chrome.cookies.get returns a different value than was set".into())
        }
        Some(_) => Ok(()),
    }
}

/// One cookie that did not make it into the profile.
#[derive(Debug, Clone, PartialEq)]
pub struct CookieFailure {
    /// The cookie's name, or `None` for a failure before any cookie.
    pub name: Option<String>,
    /// Chrome's message (or ours).
    pub reason: String,
}

impl CookieFailure {
    pub fn describe(&self) -> String {
        match &self.name {
            Some(n) => format!("cookie {n:?}: {}", self.reason),
            None => self.reason.clone(),
        }
    }
}

/// The answer for the host: ok when nothing failed, otherwise every failure.
pub fn result(failures: &[CookieFailure]) -> HandoffResult {
    if failures.is_empty() {
        HandoffResult {
            ok: true,
            error: None,
        }
    } else {
        HandoffResult {
            ok: false,
            error: Some(
                failures
                    .iter()
                    .map(CookieFailure::describe)
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        }
    }
}

/// The notification after a handoff: (title, message).
pub fn notification(h: &Handoff, r: &HandoffResult) -> (String, String) {
    let what = format!("{} – {}", h.ticket, h.price);
    if r.ok {
        let until = h
            .expires_at
            .as_deref()
            .map(|e| format!(" Reserved until {e}."))
            .unwrap_or_default();
        (
            "Ticket in cart – pay now".into(),
            format!("{what}. Checkout is open in a new tab.{until}"),
        )
    } else {
        (
            "Ticket in cart – handoff failed".into(),
            format!(
                "{what}. The browser refused the session cookies; open pretix-race to copy the fallback script."
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretix_race_shared::cookies::{Cookie, SameSite};

    fn cookie(name: &str, host_only: bool, partitioned: bool) -> Cookie {
        Cookie {
            name: name.into(),
            value: format!("{name}-value"),
            domain: "tickets.example.com".into(),
            host_only,
            path: "/".into(),
            secure: true,
            http_only: true,
            same_site: Some(SameSite::None),
            partitioned,
            expires: None,
        }
    }

    fn handoff(url: &str, cookies: Vec<Cookie>) -> Handoff {
        Handoff {
            checkout_url: url.into(),
            cookies,
            ticket: "Weekend pass".into(),
            price: "80.00 EUR".into(),
            expires_at: Some("2025-12-25 17:10:12+0100".into()),
            cookie_script: "(async () => {})()".into(),
        }
    }

    #[test]
    fn every_cookie_is_set_for_the_checkout_origin_and_verified() {
        let h = handoff(
            "https://tickets.example.com:8443/org/event/checkout/questions/",
            vec![
                cookie("__QXSESSION", false, false),
                cookie("__Host-pretix_csrftoken", true, true),
                cookie("__Host-pretix_session", true, true),
            ],
        );
        let steps = plan(&h).unwrap();
        assert_eq!(steps.len(), 3);
        for s in &steps {
            assert_eq!(s.set.url, "https://tickets.example.com:8443/");
            assert_eq!(s.verify.url, s.set.url);
            assert_eq!(s.verify.name, s.set.name);
            assert_eq!(s.set.value, format!("{}-value", s.set.name));
        }
        // `__Host-`: no domain; the proxy cookie keeps the one it was given.
        assert_eq!(steps[0].set.domain.as_deref(), Some("tickets.example.com"));
        assert_eq!(steps[1].set.domain, None);
        assert!(steps[2].set.secure);
        // Only partitioned cookies get their stale partitioned copies removed.
        assert!(steps[0].remove_partitioned.is_empty());
        let sites: Vec<_> = steps[2]
            .remove_partitioned
            .iter()
            .map(|r| r.partition_key.top_level_site.as_str())
            .collect();
        assert_eq!(
            sites,
            ["https://tickets.example.com", "https://example.com"]
        );
        let json = serde_json::to_value(&steps[2].remove_partitioned[0]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "url": "https://tickets.example.com:8443/",
                "name": "__Host-pretix_session",
                "partitionKey": {"topLevelSite": "https://tickets.example.com"}
            })
        );
    }

    #[test]
    fn partitioned_copies_are_found_and_removed_with_chromes_own_key() {
        let h = handoff(
            "https://tickets.example.com/org/event/checkout/",
            vec![
                cookie("__QXSESSION", false, false),
                cookie("__Host-pretix_session", true, true),
            ],
        );
        let steps = plan(&h).unwrap();
        assert_eq!(steps[0].find_partitioned, None);
        let q = steps[1].find_partitioned.as_ref().unwrap();
        assert_eq!(
            serde_json::to_value(q).unwrap(),
            serde_json::json!({
                "url": "https://tickets.example.com/",
                "name": "__Host-pretix_session",
                "partitionKey": {}
            })
        );
        // What getAll returned: an unpartitioned copy, a partitioned one, and
        // (defensively) another name.
        let found = [
            serde_json::json!({"name": "__Host-pretix_session", "value": "new"}),
            serde_json::json!({"name": "__Host-pretix_session", "value": "old",
                "partitionKey": {"topLevelSite": "https://example.com", "hasCrossSiteAncestor": false}}),
            serde_json::json!({"name": "other", "value": "x",
                "partitionKey": {"topLevelSite": "https://example.com"}}),
        ];
        assert_eq!(
            removals_for(&steps[1], &found),
            vec![serde_json::json!({
                "url": "https://tickets.example.com/",
                "name": "__Host-pretix_session",
                "partitionKey": {"topLevelSite": "https://example.com", "hasCrossSiteAncestor": false}
            })]
        );
    }

    #[test]
    fn loopback_shop_plan() {
        let h = handoff(
            "http://127.0.0.1:39113/event/checkout/questions/",
            vec![cookie("__Host-pretix_session", true, true)],
        );
        let steps = plan(&h).unwrap();
        assert_eq!(steps[0].set.url, "http://127.0.0.1:39113/");
        assert_eq!(
            steps[0].remove_partitioned[0].partition_key.top_level_site,
            "http://127.0.0.1"
        );
        assert_eq!(steps[0].remove_partitioned.len(), 1);
    }

    #[test]
    fn unusable_handoffs_are_refused_before_any_cookie() {
        assert!(plan(&handoff("nonsense", vec![cookie("a", true, false)]))
            .unwrap_err()
            .contains("not an http(s) URL"));
        assert!(plan(&handoff("ftp://h/x", vec![cookie("a", true, false)])).is_err());
        assert_eq!(
            plan(&handoff("https://h/", vec![])).unwrap_err(),
            "the host sent no cookies"
        );
    }

    #[test]
    fn partition_sites_strip_ports_and_handle_ip_literals() {
        assert_eq!(partition_sites("https://shop.de"), ["https://shop.de"]);
        assert_eq!(partition_sites("https://[::1]:8443"), ["https://[::1]"]);
        assert_eq!(
            partition_sites("https://10.0.0.1:8443"),
            ["https://10.0.0.1"]
        );
        assert_eq!(
            partition_sites("https://a.b.example.org"),
            ["https://a.b.example.org", "https://example.org"]
        );
        assert!(partition_sites("garbage").is_empty());
    }

    #[test]
    fn verification_needs_the_same_value() {
        let h = handoff("https://h/", vec![cookie("n", true, false)]);
        let step = &plan(&h).unwrap()[0];
        assert!(check_stored(step, Some("n-value")).is_ok());
        assert!(check_stored(step, Some("other")).is_err());
        assert!(check_stored(step, None).is_err());
    }

    #[test]
    fn result_names_each_failed_cookie_with_chromes_message() {
        assert_eq!(
            result(&[]),
            HandoffResult {
                ok: true,
                error: None
            }
        );
        let r = result(&[
            CookieFailure {
                name: Some("__Host-pretix_session".into()),
                reason: "Failed to parse or set cookie named \"__Host-pretix_session\".".into(),
            },
            CookieFailure {
                name: Some("__QXSESSION".into()),
                reason: "No host permissions for cookies at url".into(),
            },
        ]);
        assert!(!r.ok);
        let e = r.error.unwrap();
        assert!(
            e.starts_with("cookie \"__Host-pretix_session\": Failed to parse"),
            "{e}"
        );
        assert!(
            e.contains("; cookie \"__QXSESSION\": No host permissions"),
            "{e}"
        );
    }

    #[test]
    fn notification_text() {
        let h = handoff("https://h/", vec![]);
        let (title, msg) = notification(&h, &result(&[]));
        assert_eq!(title, "Ticket in cart – pay now");
        assert!(msg.contains("Weekend pass – 80.00 EUR"));
        assert!(msg.contains("Reserved until 2025-12-25"));
        let (title, _) = notification(
            &h,
            &result(&[CookieFailure {
                name: None,
                reason: "x".into(),
            }]),
        );
        assert!(title.contains("failed"));
    }
}
