//! Handing a won cart to a human: build the message, render it.
//!
//! - [`handoff_message`]: the [`Handoff`] for a win, the one thing both front
//!   ends hand over (the terminal prints it, the host sends it as a frame).
//! - [`headless`]: render and print it for a terminal or a server.
//!
//! Running the race, saving files and notifying are elsewhere
//! ([`crate::runner`], [`crate::host`], [`crate::after_win`]); this module
//! imports none of them, so any of them can use it.

pub mod headless;

use pretix_race_shared::protocol::Handoff;
use pretix_race_shared::script::cookie_store_script;

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
