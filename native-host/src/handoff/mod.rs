//! Handing a won cart to a human: build the message, render it.
//!
//! - [`handoff_message`]: the [`Handoff`] for a win, the one thing both front
//!   ends hand over (the terminal prints it, the host sends it as a frame).
//! - [`headless`]: render and print it for a terminal or a server.
//! - [`fake_handoff`]: a made-up win shaped like a real one, for
//!   `pretix-race test-handoff`, the popup's "Test handoff" and
//!   `--notify-test`.
//!
//! Running the race, saving files and notifying are elsewhere
//! ([`crate::runner`], [`crate::host`], [`crate::after_win`]); this module
//! imports none of them, so any of them can use it.

pub mod headless;

use pretix_race_shared::protocol::Handoff;
use pretix_race_shared::script::cookie_store_script;
use pretix_race_shared::{Cookie, SameSite};
use url::Url;

use crate::race::Win;

/// The handoff message for a win: what the browser needs to take over.
pub fn handoff_message(win: &Win) -> Handoff {
    Handoff {
        checkout_url: win.checkout_url.to_string(),
        cookies: win.cookies.clone(),
        ticket: win.listing.ticket_type.clone(),
        price: win.listing.price_text.clone(),
        expires_at: win.expires_at.clone(),
        cookie_script: cookie_store_script(&win.cookies),
    }
}

/// Fake session cookies for `origin`, shaped like pretix's real ones.
pub fn fake_cookies(site: &Url) -> Vec<Cookie> {
    let host = site.host_str().unwrap_or("localhost").to_string();
    let mk =
        |name: &str, value: &str, http_only: bool, same_site: SameSite, partitioned: bool| Cookie {
            name: name.into(),
            value: value.into(),
            domain: host.clone(),
            host_only: true,
            path: "/".into(),
            secure: true,
            http_only,
            same_site: Some(same_site),
            partitioned,
            expires: None,
        };
    vec![
        mk(
            "__QXSESSION",
            "testhandoff0000000000000000000qx",
            true,
            SameSite::Lax,
            false,
        ),
        mk(
            "__Host-pretix_csrftoken",
            "TestHandoffCsrf00000000000000000",
            false,
            SameSite::None,
            true,
        ),
        mk(
            "__Host-pretix_session",
            "testhandoffsession00000000000000",
            true,
            SameSite::None,
            true,
        ),
    ]
}

/// The fake win as a handoff message.
pub fn fake_handoff(site: &Url) -> Handoff {
    let cookies = fake_cookies(site);
    let checkout = site
        .join("event/checkout/questions/")
        .map(|u| u.to_string())
        .unwrap_or_else(|_| site.to_string());
    Handoff {
        checkout_url: checkout,
        cookie_script: cookie_store_script(&cookies),
        cookies,
        ticket: "Ticket – Test Handoff".into(),
        price: "0.00 EUR".into(),
        expires_at: None,
    }
}
