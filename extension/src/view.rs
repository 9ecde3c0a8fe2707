//! What the popup shows, computed from what is in storage. Pure: `popup.rs`
//! only copies these strings into the page.

use pretix_race_shared::protocol::{LogLevel, RaceState, Status};

use crate::model::{ErrorNote, HostConn, HostState, LogLine, WinRecord, INSTALL_COMMAND};

/// A [`RaceState`] as serialized (`"polling"`, `"marketplace_inactive"`, …).
pub fn state_name(s: RaceState) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The status fields. Empty strings mean "nothing to show" (the stylesheet
/// draws a dash).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusView {
    /// `document.body.dataset.state`.
    pub state: String,
    /// `#state`
    pub state_text: String,
    /// `#state-hint`: what the state means for the user.
    pub hint: String,
    pub polls: String,
    pub last_poll: String,
    pub listings_seen: String,
    /// `#backoff`: a countdown while backing off.
    pub backoff: String,
    pub last_error: String,
}

pub fn status_view(
    status: Option<&Status>,
    last_error: Option<&ErrorNote>,
    now_ms: i64,
) -> StatusView {
    let state = status.map_or(RaceState::Idle, |s| s.state);
    let (text, hint) = match state {
        RaceState::Idle => ("idle", ""),
        RaceState::Discovering => ("discovering", "Looking for the event's marketplace…"),
        RaceState::WaitingForMarketplace => (
            "waiting for marketplace",
            "The event page has no marketplace link yet; re-checking it.",
        ),
        RaceState::MarketplaceInactive => (
            "marketplace inactive",
            "The shop's marketplace is not active right now; waiting for it to open.",
        ),
        RaceState::Polling => ("polling", "Watching the marketplace for listings."),
        RaceState::BackingOff => (
            "backing off",
            "The shop is slowing us down; waiting before the next poll.",
        ),
        RaceState::Carting => (
            "adding to cart",
            "A listing matched; putting it into the cart…",
        ),
        RaceState::Won => ("won", "The ticket is in the cart: pay now."),
        RaceState::Stopped => ("stopped", ""),
        RaceState::Failed => ("failed", "The race ended; see the last error."),
    };
    let backoff = match status.and_then(|s| s.backoff_until) {
        Some(until) if until > now_ms => {
            let secs = (until - now_ms + 999) / 1000;
            format!("retrying in {secs} s")
        }
        Some(_) if state == RaceState::BackingOff => "retrying now".into(),
        _ => String::new(),
    };
    StatusView {
        state: state_name(state),
        state_text: text.into(),
        hint: hint.into(),
        polls: status.map(|s| s.polls.to_string()).unwrap_or_default(),
        last_poll: status
            .and_then(|s| s.last_poll_ms)
            .map(|ms| format!("{ms} ms"))
            .unwrap_or_default(),
        listings_seen: status
            .map(|s| s.listings_seen.to_string())
            .unwrap_or_default(),
        backoff,
        last_error: last_error.map(|e| e.message.clone()).unwrap_or_default(),
    }
}

/// `#host-status` and `document.body.dataset.host`.
#[derive(Debug, Clone, PartialEq)]
pub struct HostView {
    /// `connected`, `connecting`, `missing`, `mismatch` or `disconnected`.
    pub dataset: &'static str,
    pub text: String,
    /// A command to show next to the text (the installer), if any.
    pub command: Option<&'static str>,
}

pub fn host_view(conn: Option<&HostConn>) -> HostView {
    let Some(c) = conn else {
        return HostView {
            dataset: "connecting",
            text: "connecting to the host…".into(),
            command: None,
        };
    };
    let detail = c.message.as_deref().unwrap_or_default();
    match c.state {
        HostState::Connecting => HostView {
            dataset: "connecting",
            text: "connecting to the host…".into(),
            command: None,
        },
        HostState::Connected => HostView {
            dataset: "connected",
            text: format!(
                "connected (host v{})",
                c.host_version.as_deref().unwrap_or("?")
            ),
            command: None,
        },
        HostState::Missing => HostView {
            dataset: "missing",
            text: format!("host not installed — run {INSTALL_COMMAND}"),
            command: Some(INSTALL_COMMAND),
        },
        HostState::Forbidden => HostView {
            dataset: "missing",
            text: format!("host installed for another extension ID — run {INSTALL_COMMAND} again"),
            command: Some(INSTALL_COMMAND),
        },
        HostState::Mismatch => HostView {
            dataset: "mismatch",
            text: format!("protocol mismatch: {detail}"),
            command: None,
        },
        HostState::Disconnected => HostView {
            dataset: "disconnected",
            text: if detail.is_empty() {
                "host disconnected; reconnecting…".into()
            } else {
                format!("host disconnected ({detail}); reconnecting…")
            },
            command: None,
        },
    }
}

/// The `#win` section.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WinView {
    pub visible: bool,
    pub title: String,
    pub ticket: String,
    pub price: String,
    pub expires: String,
    pub checkout_url: String,
    /// `document.body.dataset.handoff`: `ok`, `error`, or empty before any.
    pub handoff: &'static str,
    /// `#handoff-error`: empty (hidden) unless the handoff failed.
    pub handoff_error: String,
    pub script: String,
}

pub fn win_view(win: Option<&WinRecord>) -> WinView {
    let Some(w) = win else {
        return WinView::default();
    };
    let ok = w.handoff.ok;
    WinView {
        visible: true,
        title: if ok {
            "Ticket in cart – pay now".into()
        } else {
            "Ticket in cart – automatic handoff failed".into()
        },
        ticket: w.ticket.clone(),
        price: w.price.clone(),
        expires: w.expires_at.clone().unwrap_or_default(),
        checkout_url: w.checkout_url.clone(),
        handoff: if ok { "ok" } else { "error" },
        handoff_error: if ok {
            String::new()
        } else {
            format!(
                "The browser did not take the session cookies: {}. Open checkout, paste the script below into that tab's DevTools console (F12 → Console) and press Enter.",
                w.handoff.error.as_deref().unwrap_or("unknown error")
            )
        },
        script: w.cookie_script.clone(),
    }
}

/// Log lines for the popup, newest first, at most `max`.
pub fn log_lines(log: &[LogLine], max: usize) -> Vec<(&'static str, String)> {
    log.iter()
        .rev()
        .take(max)
        .map(|l| {
            let level = match l.level {
                LogLevel::Info => "info",
                LogLevel::Warn => "warn",
                LogLevel::Error => "error",
            };
            (level, l.message.clone())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretix_race_shared::protocol::HandoffResult;

    fn status(state: RaceState) -> Status {
        Status {
            state,
            polls: 7,
            last_poll_ms: Some(183),
            listings_seen: 2,
            backoff_until: None,
            last_error: None,
        }
    }

    #[test]
    fn nothing_stored_is_idle_with_empty_fields() {
        let v = status_view(None, None, 0);
        assert_eq!(v.state, "idle");
        assert_eq!(v.polls, "");
        assert_eq!(v.backoff, "");
        assert_eq!(v.last_error, "");
    }

    #[test]
    fn polling_status_is_formatted() {
        let err = ErrorNote {
            message: "session lost: expired".into(),
            time: 1,
        };
        let v = status_view(Some(&status(RaceState::Polling)), Some(&err), 0);
        assert_eq!(v.state, "polling");
        assert_eq!(v.state_text, "polling");
        assert_eq!(v.polls, "7");
        assert_eq!(v.last_poll, "183 ms");
        assert_eq!(v.listings_seen, "2");
        assert_eq!(v.last_error, "session lost: expired");
    }

    #[test]
    fn dataset_names_match_the_protocol() {
        for (s, name) in [
            (RaceState::WaitingForMarketplace, "waiting_for_marketplace"),
            (RaceState::MarketplaceInactive, "marketplace_inactive"),
            (RaceState::BackingOff, "backing_off"),
            (RaceState::Won, "won"),
            (RaceState::Failed, "failed"),
        ] {
            assert_eq!(status_view(Some(&status(s)), None, 0).state, name);
        }
        let inactive = status_view(Some(&status(RaceState::MarketplaceInactive)), None, 0);
        assert!(inactive.hint.contains("not active"), "{}", inactive.hint);
    }

    #[test]
    fn backoff_counts_down() {
        let mut s = status(RaceState::BackingOff);
        s.backoff_until = Some(10_000);
        assert_eq!(status_view(Some(&s), None, 0).backoff, "retrying in 10 s");
        assert_eq!(
            status_view(Some(&s), None, 8_500).backoff,
            "retrying in 2 s"
        );
        assert_eq!(status_view(Some(&s), None, 10_000).backoff, "retrying now");
        s.state = RaceState::Polling;
        assert_eq!(status_view(Some(&s), None, 10_000).backoff, "");
    }

    #[test]
    fn host_states() {
        let conn = |state, version: Option<&str>, message: Option<&str>| HostConn {
            state,
            host_version: version.map(Into::into),
            message: message.map(Into::into),
            since: 0,
        };
        let v = host_view(Some(&conn(HostState::Connected, Some("0.1.0"), None)));
        assert_eq!(
            (v.dataset, v.text.as_str()),
            ("connected", "connected (host v0.1.0)")
        );
        let v = host_view(Some(&conn(
            HostState::Missing,
            None,
            Some("Specified native messaging host not found."),
        )));
        assert_eq!(v.dataset, "missing");
        assert_eq!(
            v.text,
            "host not installed — run install-scripts/install.sh"
        );
        assert_eq!(v.command, Some("install-scripts/install.sh"));
        let v = host_view(Some(&conn(
            HostState::Mismatch,
            None,
            Some("host speaks v2"),
        )));
        assert_eq!(v.dataset, "mismatch");
        assert_eq!(v.text, "protocol mismatch: host speaks v2");
        assert_eq!(host_view(None).dataset, "connecting");
        let v = host_view(Some(&conn(
            HostState::Disconnected,
            None,
            Some("Native host has exited."),
        )));
        assert!(v.text.contains("Native host has exited."));
    }

    fn win(ok: bool) -> WinRecord {
        WinRecord {
            checkout_url: "https://h/org/ev/checkout/questions/".into(),
            ticket: "Day ticket".into(),
            price: "20.00 EUR".into(),
            expires_at: None,
            cookie_script: "(async () => { location.reload(); })()".into(),
            time: 5,
            handoff: HandoffResult {
                ok,
                error: (!ok).then(|| "cookie \"a\": refused".to_string()),
            },
        }
    }

    #[test]
    fn win_section() {
        assert!(!win_view(None).visible);
        assert_eq!(win_view(None).handoff, "");
        let v = win_view(Some(&win(true)));
        assert!(v.visible);
        assert_eq!(v.handoff, "ok");
        assert_eq!(v.handoff_error, "");
        assert_eq!(v.ticket, "Day ticket");
        assert!(v.script.starts_with("(async"));
        let v = win_view(Some(&win(false)));
        assert_eq!(v.handoff, "error");
        assert!(
            v.handoff_error.contains("cookie \"a\": refused"),
            "{}",
            v.handoff_error
        );
        assert!(v.title.contains("failed"));
    }

    #[test]
    fn log_is_newest_first() {
        let line = |m: &str, level| LogLine {
            level,
            message: m.into(),
            time: 0,
        };
        let log = [
            line("a", LogLevel::Info),
            line("b", LogLevel::Warn),
            line("c", LogLevel::Error),
        ];
        assert_eq!(
            log_lines(&log, 2),
            vec![("error", "c".to_string()), ("warn", "b".to_string())]
        );
    }
}
