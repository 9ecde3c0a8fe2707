//! The native-messaging connection's rules: what a disconnect means and when
//! to try again. Pure.

use pretix_race_shared::protocol::{DecodeError, PROTOCOL_VERSION};

use crate::model::HostState;

/// What `chrome.runtime.lastError.message` on `port.onDisconnect` says about
/// the host.
pub fn classify_disconnect(last_error: Option<&str>) -> HostState {
    let m = last_error.unwrap_or_default().to_ascii_lowercase();
    if m.contains("not found") {
        // "Specified native messaging host not found."
        HostState::Missing
    } else if m.contains("forbidden") {
        // "Access to the specified native messaging host is forbidden."
        HostState::Forbidden
    } else {
        // "Native host has exited.", "Error when communicating with the native
        // messaging host.", or no message at all.
        HostState::Disconnected
    }
}

/// Delay before reconnect attempt number `attempt` (1-based) after a
/// disconnect that left the connection in `state`, or `None` to wait for the
/// popup to ask (it sends `connect` whenever it opens): a missing or
/// misconfigured host will not fix itself, so after a few tries we stop.
pub fn reconnect_delay_ms(attempt: u32, state: HostState) -> Option<u32> {
    match state {
        HostState::Missing | HostState::Forbidden if attempt > 3 => None,
        HostState::Mismatch => None,
        _ => {
            let exp = attempt.saturating_sub(1).min(5);
            Some((1000u32 << exp).min(30_000))
        }
    }
}

/// What the popup shows for a message from a host of another version.
pub fn decode_problem(e: &DecodeError) -> (bool, String) {
    match e {
        DecodeError::VersionMismatch { got } => (
            true,
            format!(
                "host speaks protocol v{got}, this extension v{PROTOCOL_VERSION}; install the host and the extension from the same release"
            ),
        ),
        DecodeError::Malformed(m) => (false, format!("unreadable message from the host: {m}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chrome_messages_are_classified() {
        assert_eq!(
            classify_disconnect(Some("Specified native messaging host not found.")),
            HostState::Missing
        );
        assert_eq!(
            classify_disconnect(Some(
                "Access to the specified native messaging host is forbidden."
            )),
            HostState::Forbidden
        );
        assert_eq!(
            classify_disconnect(Some("Native host has exited.")),
            HostState::Disconnected
        );
        assert_eq!(classify_disconnect(None), HostState::Disconnected);
    }

    #[test]
    fn reconnects_back_off_and_give_up_on_a_missing_host() {
        assert_eq!(reconnect_delay_ms(1, HostState::Disconnected), Some(1000));
        assert_eq!(reconnect_delay_ms(2, HostState::Disconnected), Some(2000));
        assert_eq!(
            reconnect_delay_ms(50, HostState::Disconnected),
            Some(30_000)
        );
        assert_eq!(reconnect_delay_ms(3, HostState::Missing), Some(4000));
        assert_eq!(reconnect_delay_ms(4, HostState::Missing), None);
        assert_eq!(reconnect_delay_ms(4, HostState::Forbidden), None);
        assert_eq!(reconnect_delay_ms(1, HostState::Mismatch), None);
    }

    #[test]
    fn version_mismatch_is_flagged() {
        let (mismatch, text) = decode_problem(&DecodeError::VersionMismatch { got: 2 });
        assert!(mismatch);
        assert!(text.contains("v2") && text.contains("v1"), "{text}");
        let (mismatch, _) = decode_problem(&DecodeError::Malformed("x".into()));
        assert!(!mismatch);
    }
}
