//! What a pretix page is, read from what does not change with its language.
//!
//! pretix ships some thirty languages and an event may offer only one of
//! them, so "Your cart" or "No tickets available" tell us nothing about a
//! German or Dutch shop. What stays the same in every language:
//!
//! - the URL path: `/secondhand/` (the marketplace), `/secondhand/buy/…/`
//!   (the answer to a buy), `/checkout/` (the checkout steps);
//! - pretix's page shell: `<body data-locale=…>` and `<main id="content">`;
//! - pretix's own markup: the checkout step list (`checkout-flow`,
//!   `checkout-step`), the cart rows (`cart-row`) with their reservation
//!   deadline (`data-expires`), the message boxes (`alert-danger`), the
//!   product list of the shop front (`item-category`, `product-row`);
//! - forms: buy forms (see [`super::fast`]), a password input;
//! - Django's CSRF failure page (`<div id="summary">` with `(403)`).
//!
//! Every test here is a regex compiled once, or for [`has_error_message`] a
//! linear scan of the tags; none builds a DOM, so the empty marketplace page
//! polled all day is classified in microseconds. None runs on the hot path
//! either: a page with listings is classified before any of this.

use std::sync::LazyLock;

use memchr::memmem::Finder;
use regex::Regex;

use super::scan::may_hold_word;

/// Path segment of the marketplace (the plugin's URL, the same in every
/// language).
pub const MARKETPLACE: &str = "/secondhand/";
/// Path segment of a buy form's action, and so of the page answering it.
pub const BUY: &str = "/secondhand/buy/";
/// Path segment of every checkout step.
pub const CHECKOUT: &str = "/checkout/";

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("valid regex")
}

/// The path of `url` (no scheme, host, query or fragment). A bare path is
/// returned as it is, less its query.
pub fn url_path(url: &str) -> &str {
    let rest = match url.find("://") {
        Some(i) => {
            let after = &url[i + 3..];
            after.find('/').map_or("", |p| &after[p..])
        }
        None => url,
    };
    rest.split(['?', '#']).next().unwrap_or_default()
}

// Every test is a regex compiled once. Word boundaries are ASCII
// (`(?-u:\b)`): pretix's markup is ASCII, and a Unicode boundary makes the
// regex crate leave its fast DFA for a slower engine on any page holding a
// non-ASCII character (every German page, every price in €).
static SHELL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)<body(?-u:\b)[^>]*(?-u:\b)data-locale\s*=|<main(?-u:\b)[^>]*(?-u:\b)id\s*=\s*["']?content["'\s>]"#,
    )
});
static FLOW: LazyLock<Regex> =
    LazyLock::new(|| re(r#"(?i)class\s*=\s*["'][^"']*(?-u:\b)checkout-(flow|step)(?-u:\b)"#));
static CART_ROW: LazyLock<Regex> =
    LazyLock::new(|| re(r#"(?i)class\s*=\s*["'][^"']*(?-u:\b)cart-row(?-u:\b)"#));
static EXPIRES: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)(?-u:\b)data-expires\s*="));
static PASSWORD: LazyLock<Regex> =
    LazyLock::new(|| re(r#"(?i)<input(?-u:\b)[^>]*(?-u:\b)type\s*=\s*["']?password(?-u:\b)"#));
static PRODUCTS: LazyLock<Regex> = LazyLock::new(|| {
    re(r#"(?i)class\s*=\s*["'][^"']*(?-u:\b)(item-category|product-row)(?-u:\b)"#)
});
static SUMMARY: LazyLock<Regex> =
    LazyLock::new(|| re(r#"(?is)<div(?-u:\b)[^>]*(?-u:\b)id\s*=\s*["']?summary(?-u:\b).*\(403\)"#));
static HEADLINE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)CSRF(\s|-)(verification failed|Verifizierung fehlgeschlagen)|vérification CSRF a échoué",
    )
});

/// `(403)` in Django's CSRF page: no letter, so an exact search gates it.
static FORBIDDEN: LazyLock<Finder<'static>> = LazyLock::new(|| super::scan::finder("(403)"));

/// Force this module's regexes (see [`super::warm_up`]).
pub(crate) fn warm_up() {
    for r in [
        &SHELL, &FLOW, &CART_ROW, &EXPIRES, &PASSWORD, &PRODUCTS, &SUMMARY, &HEADLINE,
    ] {
        LazyLock::force(r);
    }
    LazyLock::force(&FORBIDDEN);
}

/// pretix's page shell: the `<body data-locale>` its base template writes,
/// or its `<main id="content">`. Proxy error pages, maintenance notices and
/// Django's bare error pages have neither.
pub fn is_pretix_shell(html: &str) -> bool {
    SHELL.is_match(html)
}

/// The checkout step list, or a cart row next to a reservation deadline.
pub fn has_checkout_markup(html: &str) -> bool {
    FLOW.is_match(html) || (CART_ROW.is_match(html) && EXPIRES.is_match(html))
}

/// An `<input type="password">`: the shop wants a login.
pub fn has_password_input(html: &str) -> bool {
    // Gated by a SIMD search for the word: almost no page has one.
    may_hold_word(html, "password", 4) && PASSWORD.is_match(html)
}

/// The shop front's product list (categories and product rows), which pretix
/// shows under the message when it sends a visitor back to the event page.
pub fn has_product_list(html: &str) -> bool {
    PRODUCTS.is_match(html)
}

/// Django's CSRF failure page: `<div id="summary">` holding `(403)`. Its
/// headline, in Django's own translations, also counts, for shops that
/// restyle the page.
pub fn is_csrf_failure(html: &str) -> bool {
    // `\(403\)` has no letter: a plain search gates the first regex.
    (FORBIDDEN.find(html.as_bytes()).is_some() && SUMMARY.is_match(html))
        || (may_hold_word(html, "csrf", 3) && HEADLINE.is_match(html))
}

/// A message box pretix shows for an error (`alert-danger`) that is not part
/// of the page's own content: the marketplace's info panel carries a red
/// warning about the payment window, which is inside a `panel` and so does
/// not count. Read by a linear scan of the tags ([`super::scan`]), no DOM.
pub fn has_error_message(html: &str) -> bool {
    super::scan::error_box_outside_panel(html)
}
