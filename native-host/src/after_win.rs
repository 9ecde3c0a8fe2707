//! After a win: the files and the notifications, the same for every front end.
//! (The terminal runner then waits for the cart-expiry reminder, see
//! [`crate::notify::reminder`].)
//!
//! Both the terminal runner and the native-messaging host hand the cart over
//! first (print the block, send the `Handoff` frame) and only then call
//! [`after_win`]: the user needs the handoff now, while files and messages
//! are the safety net. Nothing here can fail the win: each failure is logged
//! with its cause and the rest still happens.

use std::path::{Path, PathBuf};

use pretix_race_shared::protocol::Handoff;

use crate::artifacts;
use crate::export;
use crate::notify::Notifier;
use crate::race::Win;

/// What [`after_win`] managed to keep.
#[derive(Debug, Default)]
pub struct Saved {
    /// `cookies_….txt`: the cart for anyone whose handoff got lost.
    pub cookies: Option<PathBuf>,
    /// `cart_add_….txt`: the buy POST, request and response.
    pub transcript: Option<PathBuf>,
    /// The same cookies for other browsers: Netscape `cookies.txt` and
    /// Cookie-Editor JSON (see [`crate::export`]).
    pub exports: export::Exports,
}

/// Save the cookie and transcript files in `dir`, then notify.
pub async fn after_win(dir: &Path, win: &Win, msg: &Handoff, notifier: &Notifier) -> Saved {
    let saved = save_files(dir, win, msg);
    notifier.in_cart(&win.target, msg).await;
    saved
}

/// The files alone (synchronous: they are small, and written after the race
/// moment).
fn save_files(dir: &Path, win: &Win, msg: &Handoff) -> Saved {
    let cookies =
        match artifacts::save_cookies(dir, &msg.cookies, &win.checkout_url, &msg.cookie_script) {
            Ok(p) => {
                tracing::info!(path = %p.display(), "cookies saved to {} (mode 0600)", p.display());
                Some(p)
            }
            Err(e) => {
                tracing::warn!(cause = %e, dir = %dir.display(), "could not save cookies");
                None
            }
        };
    let exports = export::save(dir, cookies.as_deref(), &msg.cookies);
    let transcript = match artifacts::save_transcript(dir, &win.transcript) {
        Ok(p) => {
            tracing::info!(path = %p.display(), "cart transcript saved to {}", p.display());
            Some(p)
        }
        Err(e) => {
            tracing::warn!(cause = %e, dir = %dir.display(), "could not save the cart transcript");
            None
        }
    };
    Saved {
        cookies,
        transcript,
        exports,
    }
}
