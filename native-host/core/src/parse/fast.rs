//! The hot path: regexes over the raw page text.
//!
//! pretix renders each listing as a `panel panel-default` block holding the
//! title, the price and the buy form. We cut the page at each occurrence of
//! that class string and match each piece on its own, so one odd listing can
//! never make a match run on into the next one. Everything here is compiled
//! once; a page with one listing parses in microseconds.

use std::sync::LazyLock;

use regex::Regex;

use super::{collapse_ws, decode_entities, Listing, Price};

const PANEL: &str = "panel panel-default";

static TITLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"<h3 class="panel-title">([^<]*)</h3>"#).expect("valid regex"));
static PRICE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"<h2 class="text-primary">([^<]*)</h2>"#).expect("valid regex"));
static FORM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"<form method="post"\s+action="([^"]*secondhand/buy/[^"]*)">\s*<input type="hidden" name="csrfmiddlewaretoken" value="([^"]+)">"#,
    )
    .expect("valid regex")
});
/// A form whose action points at a buy URL, however the markup is spelled.
static BUY_MARKER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)<form\b[^>]*\baction\s*=\s*["']?[^"'\s>]*buy/"#).expect("valid regex")
});

/// Listings the fast path can read. Pieces that lack any part are skipped
/// (the fallback will look at them if they had a buy form).
pub fn listings(html: &str) -> Vec<Listing> {
    let mut out = Vec::new();
    let mut starts = html.match_indices(PANEL).map(|(i, _)| i).peekable();
    while let Some(start) = starts.next() {
        let end = starts.peek().copied().unwrap_or(html.len());
        if let Some(listing) = panel(&html[start..end]) {
            out.push(listing);
        }
    }
    out
}

fn panel(piece: &str) -> Option<Listing> {
    let form = FORM.captures(piece)?;
    let title = TITLE.captures(piece)?;
    let price = PRICE.captures(piece)?;
    let price_text = collapse_ws(&decode_entities(&price[1]));
    Some(Listing {
        ticket_type: collapse_ws(&decode_entities(&title[1])),
        price: Price::parse(&price_text),
        price_text,
        form_action: decode_entities(&form[1]),
        csrf_token: form[2].to_string(),
    })
}

/// How many buy forms the page has, by a loose pattern. When this is more
/// than [`listings`] found, the page's markup drifted and the fallback runs.
pub fn buy_form_markers(html: &str) -> usize {
    BUY_MARKER.find_iter(html).count()
}
