//! Handing a won cart to a human.
//!
//! - [`headless`]: print the checkout URL, cookies and fallback script (for a
//!   server, or a terminal), and write the cookie and transcript files.
//! - The Chrome extension path (native messaging) builds on the same
//!   [`pretix_race_shared::protocol::Handoff`] message made here.

pub mod headless;
pub mod native;
pub mod test;

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
