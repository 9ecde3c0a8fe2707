//! Desktop notifications (a win, a health alert), as the original tool did
//! with `notify-send` / macOS notifications.
//!
//! Shown only when a person is likely looking: stderr is a terminal and, on
//! Linux and the BSDs, a graphical session (`DISPLAY` or `WAYLAND_DISPLAY`)
//! or a session bus (`DBUS_SESSION_BUS_ADDRESS`) is there. On a server none
//! of that holds and the feature is silently absent. `--no-desktop-notify`
//! turns it off; the `desktop` cargo feature (default on) drops the code.

use std::ffi::OsString;
use std::sync::Arc;

/// Something that can put a notification on the screen. A trait so the
/// decision and the call can be tested without a desktop.
pub trait Desktop: Send + Sync {
    fn show(&self, title: &str, body: &str, urgent: bool) -> Result<(), String>;
}

/// Should this process show desktop notifications? Pure: the inputs are
/// the flag, whether stderr is a terminal, the OS family and the
/// environment.
pub fn wanted(
    enabled: bool,
    stderr_is_terminal: bool,
    unix_desktop: bool,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> bool {
    if !enabled || !stderr_is_terminal {
        return false;
    }
    if !unix_desktop {
        // macOS and Windows always have a desktop when run from a terminal.
        return true;
    }
    ["DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS"]
        .iter()
        .any(|k| env(k).is_some_and(|v| !v.is_empty()))
}

/// The system's notifier, if this process should use one.
pub fn system(enabled: bool) -> Option<Arc<dyn Desktop>> {
    use std::io::IsTerminal;
    let unix_desktop = cfg!(all(unix, not(target_os = "macos")));
    if !wanted(
        enabled,
        std::io::stderr().is_terminal(),
        unix_desktop,
        &|k| std::env::var_os(k),
    ) {
        return None;
    }
    native()
}

#[cfg(feature = "desktop")]
fn native() -> Option<Arc<dyn Desktop>> {
    Some(Arc::new(NotifyRust))
}

#[cfg(not(feature = "desktop"))]
fn native() -> Option<Arc<dyn Desktop>> {
    None
}

/// notify-rust: D-Bus (org.freedesktop.Notifications) on Linux, the
/// notification centre on macOS, toasts on Windows.
#[cfg(feature = "desktop")]
pub struct NotifyRust;

#[cfg(feature = "desktop")]
impl Desktop for NotifyRust {
    fn show(&self, title: &str, body: &str, urgent: bool) -> Result<(), String> {
        let mut n = notify_rust::Notification::new();
        n.appname("pretix-race").summary(title).body(body);
        #[cfg(all(unix, not(target_os = "macos")))]
        if urgent {
            n.urgency(notify_rust::Urgency::Critical);
        }
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        let _ = urgent;
        n.show().map(|_| ()).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn shown_only_on_a_terminal_in_a_desktop_session() {
        let x11 = env(&[("DISPLAY", ":0")]);
        let wayland = env(&[("WAYLAND_DISPLAY", "wayland-0")]);
        let bus = env(&[("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/1000/bus")]);
        let none = env(&[]);
        let empty = env(&[("DISPLAY", "")]);
        assert!(wanted(true, true, true, &x11));
        assert!(wanted(true, true, true, &wayland));
        assert!(wanted(true, true, true, &bus));
        assert!(!wanted(true, true, true, &none), "a server: no desktop");
        assert!(!wanted(true, true, true, &empty));
        assert!(!wanted(true, false, true, &x11), "not a terminal");
        assert!(!wanted(false, true, true, &x11), "--no-desktop-notify");
        assert!(wanted(true, true, false, &none), "macOS/Windows");
        assert!(!wanted(false, true, false, &none));
    }
}
