//! From an HTML page to "what is this page, and what can we buy on it".
//!
//! The marketplace page is polled every few seconds and, the moment it shows
//! a listing, the parse result is the only thing between the response and the
//! buy POST. So parsing has two layers:
//!
//! - [`fast`]: a few precompiled regexes over the raw text, anchored on the
//!   `panel panel-default` listing container. This is the hot path.
//! - [`fallback`]: a real HTML parse with `scraper`. It runs whenever the page
//!   carries more buy forms than the fast path extracted, so markup drift
//!   (attribute order, quotes, whitespace, extra classes, nesting) can slow us
//!   down by a millisecond but never hide a listing.
//!
//! [`classify`] then says what kind of page it was (listings, empty, inactive,
//! ticket unavailable, checkout, CSRF failure, login, unknown), from the page's
//! structure rather than its words: pretix ships some thirty languages and an
//! event may offer only one of them (see [`structure`]).
//!
//! [`stream::Watch`] reads a page still arriving, so the buy can leave
//! before the page's footer is in.

pub mod fallback;
pub mod fast;
pub mod price;
pub mod scan;
pub mod stream;
pub mod structure;

use std::sync::LazyLock;

use regex::Regex;

pub use price::Price;
pub use stream::Watch;

/// One ticket offered on the marketplace, with what it takes to buy it.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    /// The panel title, e.g. `Ticket – Type A`, whitespace collapsed.
    pub ticket_type: String,
    /// The price as shown, e.g. `190.00 EUR`.
    pub price_text: String,
    /// The price as a number and currency, when the text could be read.
    pub price: Option<Price>,
    /// The buy form's `action` as written in the page (absolute, root-relative
    /// or relative: resolve it against the page URL before posting).
    pub form_action: String,
    /// The form's `csrfmiddlewaretoken`.
    pub csrf_token: String,
}

/// What a fetched page turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum PageKind {
    /// A marketplace page with at least one buyable listing.
    Listings(Vec<Listing>),
    /// The marketplace page with no buy form and no error message.
    Empty,
    /// The marketplace is switched off: an error message over the event's
    /// product list.
    Inactive,
    /// An error message answering a buy (or alone on a marketplace page):
    /// someone else bought the ticket first.
    TicketUnavailable,
    /// A checkout step: `/checkout/` URL with the step list or the cart.
    Checkout,
    /// Django's "CSRF verification failed" page.
    CsrfFailure,
    /// A login form: the shop wants an account.
    Login,
    /// Something we do not recognise; worth saving for a human to look at.
    Unknown,
}

impl PageKind {
    /// Short lowercase name for logs and file names.
    pub fn name(&self) -> &'static str {
        match self {
            PageKind::Listings(_) => "listings",
            PageKind::Empty => "empty",
            PageKind::Inactive => "inactive",
            PageKind::TicketUnavailable => "ticket_unavailable",
            PageKind::Checkout => "checkout",
            PageKind::CsrfFailure => "csrf_failure",
            PageKind::Login => "login",
            PageKind::Unknown => "unknown",
        }
    }
}

/// Extract every buyable listing: fast path first, `scraper` when the page
/// shows buy forms the fast path missed.
pub fn listings(html: &str) -> Vec<Listing> {
    listings_and_markers(html).0
}

/// [`listings`], and the page's count of buy forms ([`fast::buy_form_markers`])
/// so that [`classify`] does not count them twice.
fn listings_and_markers(html: &str) -> (Vec<Listing>, usize) {
    let fast = fast::listings(html);
    let markers = fast::buy_form_markers(html);
    if markers > fast.len() {
        let slow = fallback::listings(html);
        if slow.len() > fast.len() {
            return (slow, markers);
        }
    }
    (fast, markers)
}

/// The page [`warm_up`] parses: a real marketplace page with one listing.
const WARM_UP_PAGE: &str = include_str!("../../../../sample-responses/sample_ticket_type_a.html");
/// The URL [`warm_up`] pretends [`WARM_UP_PAGE`] came from.
const WARM_UP_URL: &str = "https://tickets.example.com/event/secondhand/";

/// Build everything the parser builds lazily, before the first poll, so the
/// first listing a user ever sees is parsed as fast as the thousandth.
///
/// Without this the first [`classify`] of a page with listings in a fresh
/// process compiles the listing regexes and pays for it (hundreds of µs).
/// Forced here, by module:
/// - [`fast`]: the `memmem` finders (panel, buy URL, token, title, price,
///   form tag), the buy-form regex and the buy-marker regex;
/// - [`scan`]: the `alert-danger` and comment finders;
/// - [`structure`]: the shell, checkout, cart, deadline, password, product
///   list and CSRF regexes;
/// - [`fallback`]: its `scraper` selectors (and `scraper` itself, by
///   running the fallback once on the embedded page);
/// - this module: the `<title>` and `data-expires` regexes;
/// - [`crate::discover`]: its link selector.
///
/// Then it classifies [`WARM_UP_PAGE`] and returns the result (always
/// [`PageKind::Listings`] with one listing) so callers and tests can see it
/// ran. Idempotent and cheap after the first call.
pub fn warm_up() -> PageKind {
    fast::warm_up();
    scan::warm_up();
    structure::warm_up();
    fallback::warm_up();
    LazyLock::force(&TITLE);
    LazyLock::force(&EXPIRES);
    crate::discover::warm_up();
    // Run every path once: the fast path, the fallback, the structural
    // checks (the empty marketplace page, error box in a panel included).
    let _ = fallback::listings(WARM_UP_PAGE);
    let _ = structure::has_error_message(WARM_UP_PAGE);
    let _ = classify(WARM_UP_URL, "<body data-locale=\"en\"></body>");
    let _ = title(WARM_UP_PAGE);
    classify(WARM_UP_URL, WARM_UP_PAGE)
}

static TITLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?is)<title[^>]*>(.*?)</title>").expect("valid regex"));
static EXPIRES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"data-expires="([^"]+)""#).expect("valid regex"));

/// The page's `<title>`, whitespace collapsed. Empty if there is none.
pub fn title(html: &str) -> String {
    TITLE
        .captures(html)
        .and_then(|c| c.get(1))
        .map(|m| collapse_ws(&decode_entities(m.as_str())))
        .unwrap_or_default()
}

/// Say what `html`, fetched from `url`, is.
///
/// Decided from what does not change with the shop's language (see
/// [`structure`]): the URL path, pretix's markup and the forms on the page.
/// The only words read are Django's CSRF headline, as an extra hint.
///
/// A page on the marketplace path, in pretix's shell:
/// - with an error box (`alert-danger` outside any panel) and either a buy
///   URL or no product list: [`PageKind::TicketUnavailable`];
/// - with an error box over the shop front's product list:
///   [`PageKind::Inactive`];
/// - with neither an error box nor a buy form: [`PageKind::Empty`].
pub fn classify(url: &str, html: &str) -> PageKind {
    // Hot path first: a page with buy forms is a page to buy from.
    let (found, markers) = listings_and_markers(html);
    if !found.is_empty() {
        return PageKind::Listings(found);
    }
    let path = structure::url_path(url);
    if structure::is_csrf_failure(html) {
        return PageKind::CsrfFailure;
    }
    if is_checkout(url, "", html) {
        return PageKind::Checkout;
    }
    if structure::has_password_input(html) {
        return PageKind::Login;
    }
    if path.contains(structure::MARKETPLACE) && structure::is_pretix_shell(html) {
        if structure::has_error_message(html) {
            return if path.contains(structure::BUY) || !structure::has_product_list(html) {
                // An error answering a buy, or an error with nothing else on
                // the page: the ticket went to someone else.
                PageKind::TicketUnavailable
            } else {
                // The error over the event's product list: pretix sent us to
                // the shop front because the marketplace is switched off.
                PageKind::Inactive
            };
        }
        if markers == 0 {
            // The marketplace in pretix's chrome, no buy form, no error:
            // nothing on offer, whatever the sentence says.
            return PageKind::Empty;
        }
    }
    PageKind::Unknown
}

/// Is this a step of pretix's checkout? The URL is under `/checkout/` and the
/// page carries the checkout step list, or the cart with its reservation
/// deadline. Which step comes first (questions, customer, add-ons, payment)
/// and the language do not matter. `_title` is kept for callers that still
/// pass it; the words in it are not read.
pub fn is_checkout(url: &str, _title: &str, html: &str) -> bool {
    structure::url_path(url).contains(structure::CHECKOUT) && structure::has_checkout_markup(html)
}

/// The cart reservation deadline a checkout page shows (`data-expires`).
pub fn cart_expiry(html: &str) -> Option<String> {
    EXPIRES
        .captures(html)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string())
}

/// Collapse runs of whitespace into one space and trim.
pub(crate) fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The handful of entities pretix emits in titles and prices.
pub(crate) fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    s.replace("&ndash;", "–")
        .replace("&nbsp;", " ")
        .replace("&#160;", " ")
        .replace("&#8239;", " ")
        .replace("&#8211;", "–")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests;
