//! The headless handoff: everything a person needs to finish checkout from
//! another machine, printed to stdout. Files and notifications are not made
//! here: see [`crate::after_win`].

use std::fmt::Write as _;
use std::io;

use pretix_race_shared::cookies::origin_of;
use pretix_race_shared::protocol::Handoff;

/// The text block printed after a win. Cookies are printed deliberately
/// here: this is the handoff (stdout, for the user), not a log line.
pub fn render(h: &Handoff, verified: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "==================== TICKET IN CART ===================="
    );
    let _ = writeln!(s, "Ticket:    {}", h.ticket);
    let _ = writeln!(s, "Price:     {}", h.price);
    let _ = writeln!(s, "Checkout:  {}", h.checkout_url);
    if let Some(exp) = &h.expires_at {
        let _ = writeln!(s, "Reserved until: {exp}");
    }
    if !verified {
        let _ = writeln!(
            s,
            "WARNING: the shop sent us to checkout but the checkout page could not be confirmed."
        );
    }
    let _ = writeln!(s, "\nCookies:");
    for c in &h.cookies {
        let _ = writeln!(s, "  {}={}", c.name, c.value);
    }
    let origin = origin_of(&h.checkout_url).unwrap_or_default();
    let _ = writeln!(
        s,
        "\nTo take over in your browser: open {origin}/ , paste this into the DevTools console, then open the checkout URL:"
    );
    let _ = writeln!(s, "{}", h.cookie_script);
    let _ = writeln!(
        s,
        "========================================================="
    );
    s
}

/// Print the block to `out` and flush it. This is the one output the user
/// needs, so unlike a log line its failure is returned, not dropped.
pub fn print(out: &mut (dyn io::Write + Send), h: &Handoff, verified: bool) -> io::Result<()> {
    out.write_all(render(h, verified).as_bytes())?;
    out.flush()
}
