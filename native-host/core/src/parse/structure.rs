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
//! Every test here is a cheap regex except [`has_error_message`], which
//! builds a DOM only when the page has an `alert-danger` at all, and never on
//! the hot path (a page with listings is classified before any of this runs).

use std::sync::LazyLock;

use regex::Regex;
use scraper::{ElementRef, Html, Selector};

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

/// pretix's page shell: the `<body data-locale>` its base template writes,
/// or its `<main id="content">`. Proxy error pages, maintenance notices and
/// Django's bare error pages have neither.
pub fn is_pretix_shell(html: &str) -> bool {
    static SHELL: LazyLock<Regex> = LazyLock::new(|| {
        re(r#"(?i)<body\b[^>]*\bdata-locale\s*=|<main\b[^>]*\bid\s*=\s*["']?content["'\s>]"#)
    });
    SHELL.is_match(html)
}

/// The checkout step list, or a cart row next to a reservation deadline.
pub fn has_checkout_markup(html: &str) -> bool {
    static FLOW: LazyLock<Regex> =
        LazyLock::new(|| re(r#"(?i)class\s*=\s*["'][^"']*\bcheckout-(flow|step)\b"#));
    static CART_ROW: LazyLock<Regex> =
        LazyLock::new(|| re(r#"(?i)class\s*=\s*["'][^"']*\bcart-row\b"#));
    static EXPIRES: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)\bdata-expires\s*="));
    FLOW.is_match(html) || (CART_ROW.is_match(html) && EXPIRES.is_match(html))
}

/// An `<input type="password">`: the shop wants a login.
pub fn has_password_input(html: &str) -> bool {
    static PASSWORD: LazyLock<Regex> =
        LazyLock::new(|| re(r#"(?i)<input\b[^>]*\btype\s*=\s*["']?password\b"#));
    PASSWORD.is_match(html)
}

/// The shop front's product list (categories and product rows), which pretix
/// shows under the message when it sends a visitor back to the event page.
pub fn has_product_list(html: &str) -> bool {
    static PRODUCTS: LazyLock<Regex> =
        LazyLock::new(|| re(r#"(?i)class\s*=\s*["'][^"']*\b(item-category|product-row)\b"#));
    PRODUCTS.is_match(html)
}

/// Django's CSRF failure page: `<div id="summary">` holding `(403)`. Its
/// headline, in Django's own translations, also counts, for shops that
/// restyle the page.
pub fn is_csrf_failure(html: &str) -> bool {
    static SUMMARY: LazyLock<Regex> =
        LazyLock::new(|| re(r#"(?is)<div\b[^>]*\bid\s*=\s*["']?summary\b.*\(403\)"#));
    static HEADLINE: LazyLock<Regex> = LazyLock::new(|| {
        re(
            r"(?i)CSRF(\s|-)(verification failed|Verifizierung fehlgeschlagen)|vérification CSRF a échoué",
        )
    });
    SUMMARY.is_match(html) || HEADLINE.is_match(html)
}

/// A message box pretix shows for an error (`alert-danger`) that is not part
/// of the page's own content: the marketplace's info panel carries a red
/// warning about the payment window, which is inside a `panel` and so does
/// not count.
pub fn has_error_message(html: &str) -> bool {
    if !html.contains("alert-danger") {
        return false;
    }
    static DANGER: LazyLock<Selector> =
        LazyLock::new(|| Selector::parse(".alert-danger").expect("valid selector"));
    let doc = Html::parse_document(html);
    let found = doc.select(&DANGER).any(|el| !inside_panel(el));
    found
}

fn inside_panel(el: ElementRef<'_>) -> bool {
    el.ancestors()
        .filter_map(ElementRef::wrap)
        .any(|a| a.value().classes().any(|c| c == "panel"))
}
