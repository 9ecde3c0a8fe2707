//! The safety net: a real HTML parse with `scraper`.
//!
//! Slower than [`super::fast`] (it builds a DOM), but indifferent to attribute
//! order, quoting, whitespace, extra classes and nesting. A listing is a POST
//! form whose action leads to `buy/`, carrying a `csrfmiddlewaretoken`, that
//! sits in a panel which is not an info panel or an alert.

use std::sync::LazyLock;

use scraper::{ElementRef, Html, Selector};

use super::{collapse_ws, Listing, Price};

static FORMS: LazyLock<Selector> = LazyLock::new(|| sel("form[action]"));
static TOKEN: LazyLock<Selector> = LazyLock::new(|| sel(r#"input[name="csrfmiddlewaretoken"]"#));
static TITLE: LazyLock<Selector> = LazyLock::new(|| sel(".panel-title"));
static PRICE: LazyLock<Selector> = LazyLock::new(|| sel(".text-primary"));

/// Force this module's selectors (see [`super::warm_up`]).
pub(crate) fn warm_up() {
    for s in [&FORMS, &TOKEN, &TITLE, &PRICE] {
        LazyLock::force(s);
    }
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).expect("valid selector")
}

/// Every buyable listing in the page.
pub fn listings(html: &str) -> Vec<Listing> {
    let doc = Html::parse_document(html);
    doc.select(&FORMS).filter_map(listing).collect()
}

fn listing(form: ElementRef<'_>) -> Option<Listing> {
    let el = form.value();
    let method = el.attr("method").unwrap_or("get");
    let action = el.attr("action")?.trim();
    if !method.eq_ignore_ascii_case("post") || !action.contains("buy/") {
        return None;
    }
    let token = form.select(&TOKEN).next()?.value().attr("value")?.trim();
    if token.is_empty() {
        return None;
    }
    let panel = listing_panel(form)?;
    let title = panel.select(&TITLE).next().map(text)?;
    let price_text = panel.select(&PRICE).next().map(text).unwrap_or_default();
    Some(Listing {
        ticket_type: title,
        price: Price::parse(&price_text),
        price_text,
        form_action: action.to_string(),
        csrf_token: token.to_string(),
    })
}

/// The nearest enclosing panel, unless the form sits inside an info panel or
/// an alert (those are never listings).
fn listing_panel(form: ElementRef<'_>) -> Option<ElementRef<'_>> {
    for node in form.ancestors() {
        let Some(el) = ElementRef::wrap(node) else {
            continue;
        };
        let classes: Vec<&str> = el.value().classes().collect();
        if classes.iter().any(|c| *c == "panel-info" || *c == "alert") {
            return None;
        }
        if classes.contains(&"panel") {
            return Some(el);
        }
    }
    None
}

fn text(el: ElementRef<'_>) -> String {
    collapse_ws(&el.text().collect::<String>())
}
