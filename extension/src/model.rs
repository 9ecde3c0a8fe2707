//! What the popup and the background worker keep in `chrome.storage`, and the
//! messages they send each other.
//!
//! The background service worker may be stopped and restarted by Chrome at
//! any time, so it keeps nothing that matters only in memory: everything the
//! popup shows is written to storage under the keys below, and the popup
//! renders from storage alone.
//!
//! - `chrome.storage.session` (cleared when the browser quits):
//!   [`SESSION_STATUS`], [`SESSION_HOST`], [`SESSION_LAST_ERROR`],
//!   [`SESSION_LOG`].
//! - `chrome.storage.local` (kept): [`LOCAL_SETTINGS`] (written by the popup)
//!   and [`LOCAL_LAST_WIN`] (written by the background on a handoff).

use pretix_race_shared::protocol::{
    Handoff, HandoffResult, LogLevel, RaceState, StartRequest, Status,
};
use serde::{Deserialize, Serialize};

/// session: the host's latest [`Status`].
pub const SESSION_STATUS: &str = "status";
/// session: the native-messaging connection, a [`HostConn`].
pub const SESSION_HOST: &str = "host";
/// session: the most recent error worth showing, an [`ErrorNote`].
pub const SESSION_LAST_ERROR: &str = "last_error";
/// session: the last [`LOG_CAPACITY`] log lines, a `Vec<LogLine>`.
pub const SESSION_LOG: &str = "log";
/// local: the popup's form, [`Settings`].
pub const LOCAL_SETTINGS: &str = "settings";
/// local: the last win, a [`WinRecord`].
pub const LOCAL_LAST_WIN: &str = "last_win";

pub const SESSION_KEYS: [&str; 4] = [
    SESSION_STATUS,
    SESSION_HOST,
    SESSION_LAST_ERROR,
    SESSION_LOG,
];
pub const LOCAL_KEYS: [&str; 2] = [LOCAL_SETTINGS, LOCAL_LAST_WIN];

/// How many log lines the background keeps.
pub const LOG_CAPACITY: usize = 50;

/// The command an install needs; shown when the host is missing.
pub const INSTALL_COMMAND: &str = "install-scripts/install.sh";

/// Where the native-messaging connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostState {
    Connecting,
    /// The host answered `Hello`.
    Connected,
    /// Chrome found no host manifest ("Specified native messaging host not found.").
    Missing,
    /// A manifest exists but does not list this extension's ID.
    Forbidden,
    /// The host speaks another protocol version.
    Mismatch,
    /// The host went away (exited, crashed); a reconnect may follow.
    Disconnected,
}

/// The connection as the popup shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostConn {
    pub state: HostState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_version: Option<String>,
    /// Chrome's or our explanation (e.g. `chrome.runtime.lastError.message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Unix ms when this state began.
    #[serde(default)]
    pub since: i64,
}

/// An error with the time it happened (Unix ms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorNote {
    pub message: String,
    #[serde(default)]
    pub time: i64,
}

/// One line of the host's (or the background's own) log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    pub level: LogLevel,
    pub message: String,
    #[serde(default)]
    pub time: i64,
}

/// The popup's form, as typed (validated only when Start is pressed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub url: String,
    pub event: String,
    pub interval: String,
    pub item: String,
    /// `""` or a [`pretix_race_shared::SortOrder`] name.
    pub sort: String,
    pub max_price: String,
    pub ticket_type: String,
    pub dry_run: bool,
    /// Seconds between re-checks of an event with no (active) marketplace;
    /// empty = do not wait.
    pub wait_marketplace: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            url: String::new(),
            event: String::new(),
            interval: pretix_race_shared::rules::DEFAULT_INTERVAL_SECS.to_string(),
            item: String::new(),
            sort: String::new(),
            max_price: String::new(),
            ticket_type: String::new(),
            dry_run: false,
            wait_marketplace: String::new(),
        }
    }
}

/// The last win: enough to open checkout and recover the cart by hand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WinRecord {
    pub checkout_url: String,
    pub ticket: String,
    pub price: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    pub cookie_script: String,
    /// Unix ms of the handoff.
    pub time: i64,
    /// How the cookie handoff went (also what the host was told).
    pub handoff: HandoffResult,
}

impl WinRecord {
    pub fn new(h: &Handoff, handoff: HandoffResult, time: i64) -> WinRecord {
        WinRecord {
            checkout_url: h.checkout_url.clone(),
            ticket: h.ticket.clone(),
            price: h.price.clone(),
            expires_at: h.expires_at.clone(),
            cookie_script: h.cookie_script.clone(),
            time,
            handoff,
        }
    }
}

/// Popup → background, sent with `chrome.runtime.sendMessage`.
///
/// `{"cmd":"connect"}`, `{"cmd":"start","request":{…StartRequest…}}`,
/// `{"cmd":"stop"}`, `{"cmd":"test_handoff","url":"https://…"|null}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum PopupCmd {
    /// (Re)connect to the host unless connected; sent when the popup opens.
    Connect,
    Start {
        request: StartRequest,
    },
    Stop,
    TestHandoff {
        #[serde(default)]
        url: Option<String>,
    },
}

/// Background → popup, the reply to a [`PopupCmd`]: `{"ok":true}` or
/// `{"ok":false,"error":"…"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CmdReply {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl CmdReply {
    pub fn ok() -> CmdReply {
        CmdReply {
            ok: true,
            error: None,
        }
    }
    pub fn err(e: impl Into<String>) -> CmdReply {
        CmdReply {
            ok: false,
            error: Some(e.into()),
        }
    }
}

/// Everything in `chrome.storage.session`, as one value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionState {
    pub status: Option<Status>,
    pub host: Option<HostConn>,
    pub last_error: Option<ErrorNote>,
    pub log: Vec<LogLine>,
}

impl SessionState {
    /// Read what `chrome.storage.session.get` returned. A key that does not
    /// parse (e.g. written by an older build) counts as absent.
    pub fn from_storage(v: &serde_json::Value) -> SessionState {
        SessionState {
            status: field(v, SESSION_STATUS),
            host: field(v, SESSION_HOST),
            last_error: field(v, SESSION_LAST_ERROR),
            log: field(v, SESSION_LOG).unwrap_or_default(),
        }
    }

    /// Append a log line, dropping the oldest beyond [`LOG_CAPACITY`].
    pub fn push_log(&mut self, line: LogLine) {
        self.log.push(line);
        if self.log.len() > LOG_CAPACITY {
            let extra = self.log.len() - LOG_CAPACITY;
            self.log.drain(..extra);
        }
    }
}

/// Everything the popup reads from `chrome.storage.local`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocalState {
    pub settings: Option<Settings>,
    pub last_win: Option<WinRecord>,
}

impl LocalState {
    pub fn from_storage(v: &serde_json::Value) -> LocalState {
        LocalState {
            settings: field(v, LOCAL_SETTINGS),
            last_win: field(v, LOCAL_LAST_WIN),
        }
    }
}

fn field<T: serde::de::DeserializeOwned>(v: &serde_json::Value, key: &str) -> Option<T> {
    v.get(key)
        .filter(|x| !x.is_null())
        .and_then(|x| serde_json::from_value(x.clone()).ok())
}

/// Is the race still going (the host is working on it)?
pub fn is_active(state: RaceState) -> bool {
    matches!(
        state,
        RaceState::Discovering
            | RaceState::WaitingForMarketplace
            | RaceState::MarketplaceInactive
            | RaceState::Polling
            | RaceState::BackingOff
            | RaceState::Carting
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretix_race_shared::protocol::Filters;
    use serde_json::json;

    #[test]
    fn popup_commands_have_the_documented_shapes() {
        let start = PopupCmd::Start {
            request: StartRequest {
                url: "https://127.0.0.1:8443".into(),
                event: "demo/festival".into(),
                interval_secs: 15.0,
                filters: Filters::default(),
                dry_run: true,
                poll_inactive_marketplace_secs: None,
            },
        };
        let v = serde_json::to_value(&start).unwrap();
        assert_eq!(v["cmd"], "start");
        assert_eq!(v["request"]["event"], "demo/festival");
        assert_eq!(v["request"]["dry_run"], true);
        assert_eq!(
            serde_json::from_value::<PopupCmd>(json!({"cmd":"stop"})).unwrap(),
            PopupCmd::Stop
        );
        assert_eq!(
            serde_json::from_value::<PopupCmd>(json!({"cmd":"test_handoff"})).unwrap(),
            PopupCmd::TestHandoff { url: None }
        );
        assert_eq!(
            serde_json::from_value::<PopupCmd>(json!({"cmd":"test_handoff","url":null})).unwrap(),
            PopupCmd::TestHandoff { url: None }
        );
        assert_eq!(
            serde_json::from_value::<PopupCmd>(json!({"cmd":"connect"})).unwrap(),
            PopupCmd::Connect
        );
        assert_eq!(
            serde_json::to_value(CmdReply::err("x")).unwrap(),
            json!({"ok":false,"error":"x"})
        );
    }

    #[test]
    fn unreadable_storage_keys_count_as_absent() {
        let s = SessionState::from_storage(&json!({
            "status": {"state": "polling", "polls": 3, "listings_seen": 1},
            "host": {"state": "from_the_future"},
            "log": "not a list",
        }));
        assert_eq!(s.status.unwrap().state, RaceState::Polling);
        assert_eq!(s.host, None);
        assert!(s.log.is_empty());
        assert_eq!(
            SessionState::from_storage(&json!({})),
            SessionState::default()
        );
    }

    #[test]
    fn settings_fill_missing_fields_with_defaults() {
        let s: Settings = serde_json::from_value(json!({"url": "https://x"})).unwrap();
        assert_eq!(s.url, "https://x");
        assert_eq!(s.interval, "15");
        assert!(!s.dry_run);
    }

    #[test]
    fn log_keeps_only_the_newest_lines() {
        let mut s = SessionState::default();
        for i in 0..(LOG_CAPACITY + 5) {
            s.push_log(LogLine {
                level: LogLevel::Info,
                message: i.to_string(),
                time: 0,
            });
        }
        assert_eq!(s.log.len(), LOG_CAPACITY);
        assert_eq!(s.log[0].message, "5");
    }
}
