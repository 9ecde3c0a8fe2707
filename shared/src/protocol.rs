//! Native-messaging messages between the extension and the host.
//!
//! Chrome frames each message as a native-endian `u32` length followed by
//! that many bytes of UTF-8 JSON. Every message we send is an [`Envelope`]: a
//! protocol version `v` next to a `type` tag and the message's fields, e.g.
//! `{"v":1,"type":"stop"}`. Both sides check `v`; a mismatch is shown to the
//! user (the extension and host were built from different versions) rather
//! than silently misread.

use serde::{Deserialize, Serialize};

use crate::cookies::Cookie;

/// The name the host is registered under (`<name>.json` manifests).
pub const HOST_NAME: &str = "com.pretix_race.host";

/// The extension's fixed ID (from the `key` in its manifest).
pub const EXTENSION_ID: &str = "ppeipcnflcdoiigdmpobdoeimfgompla";

/// Bump when a message changes shape.
pub const PROTOCOL_VERSION: u32 = 1;

/// Chrome refuses host→browser messages over 1 MiB.
pub const MAX_HOST_MESSAGE: usize = 1024 * 1024;
/// We accept browser→host messages up to this size (Chrome allows 64 MiB;
/// ours are tiny, so anything larger is a broken stream).
pub const MAX_BROWSER_MESSAGE: usize = 64 * 1024;

/// A message plus the protocol version it was written for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub v: u32,
    #[serde(flatten)]
    pub msg: T,
}

impl<T> Envelope<T> {
    pub fn new(msg: T) -> Self {
        Envelope {
            v: PROTOCOL_VERSION,
            msg,
        }
    }
}

/// Marketplace listing order, sent to the shop as `?sort=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    PriceAsc,
    PriceDesc,
    Newest,
    Oldest,
}

impl SortOrder {
    /// The value pretix's marketplace filter form uses.
    pub fn as_param(self) -> &'static str {
        match self {
            SortOrder::PriceAsc => "price_asc",
            SortOrder::PriceDesc => "price_desc",
            SortOrder::Newest => "newest",
            SortOrder::Oldest => "oldest",
        }
    }
}

/// Which listings to poll for and which to buy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Filters {
    /// Marketplace item id, sent as `?item=`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<SortOrder>,
    /// Buy only listings at or below this price (in the listing's currency).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_price: Option<f64>,
    /// Buy only listings whose ticket type contains this text (case-insensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket_type: Option<String>,
}

/// What the popup asks the host to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartRequest {
    /// Shop base URL, e.g. `https://tickets.example.com` (may carry a path).
    pub url: String,
    /// Event slug, `event` or `organizer/event`.
    pub event: String,
    pub interval_secs: f64,
    #[serde(default)]
    pub filters: Filters,
    #[serde(default)]
    pub dry_run: bool,
    /// Wait for an inactive marketplace, re-checking the event page this often.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_inactive_marketplace_secs: Option<f64>,
}

/// Extension → host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToHost {
    /// Ask the host who it is (answered with [`FromHost::Hello`]).
    Hello,
    Start(StartRequest),
    Stop,
    /// Send a fake win through the real handoff path, with made-up cookies
    /// for `url` (the shop's base URL; a demo shop when absent).
    TestHandoff {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
    },
    /// The extension's answer to a [`FromHost::Handoff`].
    HandoffResult(HandoffResult),
}

/// Where the race is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RaceState {
    Idle,
    Discovering,
    /// The event page has no marketplace link yet; re-checking it.
    WaitingForMarketplace,
    /// The marketplace page says it is not currently active.
    MarketplaceInactive,
    Polling,
    BackingOff,
    Carting,
    Won,
    Stopped,
    Failed,
}

/// Live race status, sent at least once per poll.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub state: RaceState,
    pub polls: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_poll_ms: Option<u64>,
    pub listings_seen: u64,
    /// Unix time in milliseconds until which the host is backing off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_until: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// A verified cart: everything the browser needs to take over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Handoff {
    pub checkout_url: String,
    pub cookies: Vec<Cookie>,
    pub ticket: String,
    pub price: String,
    /// When the cart reservation runs out, as the checkout page says it
    /// (e.g. `2025-12-25 17:10:12+0100`), if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// The `cookieStore.set` fallback script for these cookies.
    pub cookie_script: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoffResult {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Info,
    Warn,
    Error,
}

/// Host → extension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromHost {
    Hello {
        host_version: String,
    },
    Status(Status),
    Handoff(Handoff),
    Log {
        level: LogLevel,
        message: String,
    },
    /// A message the host could not act on (bad JSON, wrong version, …).
    Error {
        message: String,
    },
}

/// Why a received frame could not be used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DecodeError {
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("protocol version mismatch: got v{got}, this side speaks v{PROTOCOL_VERSION}")]
    VersionMismatch { got: u32 },
}

/// Decode one frame's JSON, checking the version before the body so that a
/// message from a newer or older peer is reported as a mismatch, not as junk.
pub fn decode<T: serde::de::DeserializeOwned>(json: &[u8]) -> Result<T, DecodeError> {
    #[derive(Deserialize)]
    struct VersionOnly {
        v: Option<u32>,
    }
    let head: VersionOnly =
        serde_json::from_slice(json).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    match head.v {
        Some(PROTOCOL_VERSION) => {}
        Some(got) => return Err(DecodeError::VersionMismatch { got }),
        None => {
            return Err(DecodeError::Malformed(
                "missing protocol version `v`".into(),
            ))
        }
    }
    let env: Envelope<T> =
        serde_json::from_slice(json).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    Ok(env.msg)
}

/// Encode a message with the current protocol version.
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    #[derive(Serialize)]
    struct Borrowed<'a, T> {
        v: u32,
        #[serde(flatten)]
        msg: &'a T,
    }
    serde_json::to_vec(&Borrowed {
        v: PROTOCOL_VERSION,
        msg,
    })
    // Our message types are plain data; serialising them cannot fail.
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_version_and_tag() {
        let msg = ToHost::Start(StartRequest {
            url: "https://127.0.0.1:8443".into(),
            event: "demo/festival".into(),
            interval_secs: 2.5,
            filters: Filters {
                sort: Some(SortOrder::PriceAsc),
                ..Filters::default()
            },
            dry_run: false,
            poll_inactive_marketplace_secs: None,
        });
        let bytes = encode(&msg);
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["v"], PROTOCOL_VERSION);
        assert_eq!(json["type"], "start");
        assert_eq!(json["filters"]["sort"], "price_asc");
        assert_eq!(decode::<ToHost>(&bytes).unwrap(), msg);
    }

    #[test]
    fn unit_variants_encode_as_tag_only() {
        assert_eq!(encode(&ToHost::Stop), br#"{"v":1,"type":"stop"}"#.to_vec());
    }

    #[test]
    fn version_mismatch_is_reported_not_misread() {
        let err = decode::<ToHost>(br#"{"v":99,"type":"stop"}"#).unwrap_err();
        assert_eq!(err, DecodeError::VersionMismatch { got: 99 });
        assert!(err.to_string().contains("v99"));
    }

    #[test]
    fn junk_is_malformed() {
        assert!(matches!(
            decode::<ToHost>(b"{nope"),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            decode::<ToHost>(br#"{"type":"stop"}"#),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            decode::<ToHost>(br#"{"v":1,"type":"launch_missiles"}"#),
            Err(DecodeError::Malformed(_))
        ));
    }

    /// Every sort order; the `match` makes adding a variant fail to compile
    /// here until the tests below know about it.
    fn all_sort_orders() -> [SortOrder; 4] {
        let all = [
            SortOrder::PriceAsc,
            SortOrder::PriceDesc,
            SortOrder::Newest,
            SortOrder::Oldest,
        ];
        for s in all {
            match s {
                SortOrder::PriceAsc
                | SortOrder::PriceDesc
                | SortOrder::Newest
                | SortOrder::Oldest => {}
            }
        }
        all
    }

    /// The `<option value=…>`s of the marketplace's `<select name="sort">`
    /// in a captured pretix page.
    fn shop_sort_values() -> Vec<String> {
        let page = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../sample-responses/sample_no-tickets_http200.html"
        ))
        .expect("sample page");
        let start = page.find(r#"<select name="sort""#).expect("sort select");
        let select = &page[start..];
        let select = &select[..select.find("</select>").expect("closed select")];
        select
            .split(r#"value=""#)
            .skip(1)
            .map(|rest| rest[..rest.find('"').expect("closed value")].to_string())
            .collect()
    }

    #[test]
    fn sort_params_are_the_shops_own_option_values() {
        let ours: Vec<&str> = all_sort_orders().iter().map(|s| s.as_param()).collect();
        assert_eq!(ours, shop_sort_values());
    }

    #[test]
    fn sort_wire_names_equal_the_shop_params_both_ways() {
        for s in all_sort_orders() {
            let json = serde_json::to_value(s).unwrap();
            assert_eq!(json, s.as_param(), "{s:?}");
            let back: SortOrder = serde_json::from_value(json).unwrap();
            assert_eq!(back, s);
        }
        assert!(serde_json::from_str::<SortOrder>(r#""PriceAsc""#).is_err());
    }

    #[test]
    fn filters_omit_what_is_unset_and_read_back_what_is_set() {
        assert_eq!(encode(&Filters::default()), br#"{"v":1}"#.to_vec());
        let f = Filters {
            item: Some("965".into()),
            sort: Some(SortOrder::Newest),
            max_price: Some(120.5),
            ticket_type: Some("VIP".into()),
        };
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"item": "965", "sort": "newest", "max_price": 120.5, "ticket_type": "VIP"})
        );
        assert_eq!(serde_json::from_value::<Filters>(json).unwrap(), f);
        assert_eq!(
            serde_json::from_str::<Filters>("{}").unwrap(),
            Filters::default()
        );
    }

    #[test]
    fn envelope_new_carries_the_current_version() {
        let e = Envelope::new(ToHost::Hello);
        assert_eq!(e.v, PROTOCOL_VERSION);
        assert_eq!(e.msg, ToHost::Hello);
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"v": PROTOCOL_VERSION, "type": "hello"})
        );
        assert_eq!(encode(&ToHost::Hello), serde_json::to_vec(&e).unwrap());
    }

    #[test]
    fn every_host_message_round_trips() {
        let msgs = [
            FromHost::Hello {
                host_version: "1.2.3".into(),
            },
            FromHost::Status(Status {
                state: RaceState::WaitingForMarketplace,
                polls: 7,
                last_poll_ms: Some(120),
                listings_seen: 2,
                backoff_until: Some(1_766_660_000_000),
                last_error: Some("503".into()),
            }),
            FromHost::Handoff(Handoff {
                checkout_url: "https://h/o/e/checkout/questions/".into(),
                cookies: vec![],
                ticket: "Type A".into(),
                price: "€ 95.00".into(),
                expires_at: Some("2025-12-25 17:10:12+0100".into()),
                cookie_script: "(async () => { location.reload(); })()".into(),
            }),
            FromHost::Log {
                level: LogLevel::Warn,
                message: "m".into(),
            },
            FromHost::Error {
                message: "e".into(),
            },
        ];
        let tags = ["hello", "status", "handoff", "log", "error"];
        for (msg, tag) in msgs.iter().zip(tags) {
            let bytes = encode(msg);
            let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(json["type"], tag);
            assert_eq!(decode::<FromHost>(&bytes).unwrap(), *msg);
        }
        let status: serde_json::Value = serde_json::from_slice(&encode(&msgs[1])).unwrap();
        assert_eq!(status["state"], "waiting_for_marketplace");
        let log: serde_json::Value = serde_json::from_slice(&encode(&msgs[3])).unwrap();
        assert_eq!(log["level"], "warn");
    }

    #[test]
    fn every_extension_message_round_trips() {
        let msgs = [
            ToHost::Hello,
            ToHost::Stop,
            ToHost::TestHandoff { url: None },
            ToHost::TestHandoff {
                url: Some("https://h".into()),
            },
            ToHost::HandoffResult(HandoffResult {
                ok: false,
                error: Some("refused".into()),
            }),
        ];
        for msg in msgs {
            assert_eq!(decode::<ToHost>(&encode(&msg)).unwrap(), msg);
        }
        assert_eq!(
            encode(&ToHost::TestHandoff { url: None }),
            br#"{"v":1,"type":"test_handoff"}"#.to_vec()
        );
        // Optional fields may be left out by the extension.
        let start: ToHost =
            decode(br#"{"v":1,"type":"start","url":"https://h","event":"e","interval_secs":1}"#)
                .unwrap();
        let ToHost::Start(req) = start else {
            panic!("not a start: {start:?}")
        };
        assert_eq!(req.filters, Filters::default());
        assert!(!req.dry_run);
        assert_eq!(req.poll_inactive_marketplace_secs, None);
    }

    #[test]
    fn version_is_checked_before_the_body() {
        // A body this side cannot read, from another version: a mismatch.
        assert_eq!(
            decode::<ToHost>(br#"{"v":2,"type":"launch_missiles"}"#),
            Err(DecodeError::VersionMismatch { got: 2 })
        );
        assert_eq!(
            decode::<ToHost>(br#"{"v":0,"type":"stop"}"#),
            Err(DecodeError::VersionMismatch { got: 0 })
        );
        assert!(matches!(
            decode::<ToHost>(br#"{"v":"1","type":"stop"}"#),
            Err(DecodeError::Malformed(_))
        ));
        assert_eq!(
            decode::<ToHost>(br#"{"v":1,"type":"stop"}"#),
            Ok(ToHost::Stop)
        );
    }

    /// A cookie as large as browsers allow (4 KiB for name and value).
    fn big_cookie(name: &str) -> Cookie {
        Cookie {
            name: name.into(),
            value: "x".repeat(4096 - name.len()),
            domain: "tickets.example.com".into(),
            host_only: true,
            path: "/".into(),
            secure: true,
            http_only: true,
            same_site: None,
            partitioned: true,
            expires: Some(1_800_000_000),
        }
    }

    #[test]
    fn a_handoff_of_maximal_cookies_fits_in_one_host_message() {
        let cookies: Vec<Cookie> = [
            "__QXSESSION",
            "__Host-pretix_csrftoken",
            "__Host-pretix_session",
        ]
        .into_iter()
        .map(big_cookie)
        .collect();
        let msg = FromHost::Handoff(Handoff {
            checkout_url: format!("https://tickets.example.com/{}/checkout/", "o/e"),
            cookie_script: crate::script::cookie_store_script(&cookies),
            cookies,
            ticket: "Ticket – Type A".into(),
            price: "€ 95.00".into(),
            expires_at: None,
        });
        let len = encode(&msg).len();
        assert!(len > 3 * 4096, "the cookies are all in it: {len}");
        assert!(len <= MAX_HOST_MESSAGE, "{len}");
    }

    #[test]
    fn a_start_with_a_long_shop_url_fits_in_one_browser_message() {
        // 8 KiB is the longest request line common servers accept.
        let msg = ToHost::Start(StartRequest {
            url: format!("https://tickets.example.com/{}", "a".repeat(8 * 1024)),
            event: "organizer/event".into(),
            interval_secs: 1.0,
            filters: Filters {
                item: Some("965".into()),
                sort: Some(SortOrder::PriceAsc),
                max_price: Some(100.0),
                ticket_type: Some("t".repeat(256)),
            },
            dry_run: true,
            poll_inactive_marketplace_secs: Some(30.0),
        });
        let len = encode(&msg).len();
        assert!(len > 8 * 1024 && len <= MAX_BROWSER_MESSAGE, "{len}");
    }
}
