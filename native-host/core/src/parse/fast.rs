//! The hot path: fixed needles over the raw page text, a regex only on the
//! few hundred bytes of each buy form.
//!
//! pretix renders each listing as a `panel panel-default` block holding the
//! title, the price and the buy form. We cut the page at each occurrence of
//! that class string and read each piece on its own, so one odd listing can
//! never make a match run on into the next one.
//!
//! Why not one regex per part over the whole piece: the last piece runs to
//! the end of the page (kilobytes of footer and dialogs), and a capturing
//! regex search costs far more per byte than `memchr::memmem`. So every
//! needle here is found with a `memmem` finder built once, and the buy-form
//! regex only confirms and captures the slice from `<form method="post"` to
//! the end of the token input around each `secondhand/buy/`. A page with one
//! listing parses in a few microseconds; a page with none allocates nothing.

use std::sync::LazyLock;

use memchr::memmem::{Finder, FinderRev};
use regex::Regex;

use super::scan::{find_ascii_ci, finder};
use super::{collapse_ws, decode_entities, Listing, Price};

static PANEL: LazyLock<Finder<'static>> = LazyLock::new(|| finder("panel panel-default"));
static BUY: LazyLock<Finder<'static>> = LazyLock::new(|| finder("secondhand/buy/"));
static FORM_TAG: LazyLock<FinderRev<'static>> =
    LazyLock::new(|| FinderRev::new(FORM_OPEN.as_bytes()));
static TITLE: LazyLock<Finder<'static>> = LazyLock::new(|| finder(r#"<h3 class="panel-title">"#));
static PRICE: LazyLock<Finder<'static>> = LazyLock::new(|| finder(r#"<h2 class="text-primary">"#));
/// A form whose action points at a buy URL, however the markup is spelled.
/// ASCII word boundaries (`(?-u:\b)`): the Unicode ones make the regex crate
/// leave its DFA for a slower engine on any page with a non-ASCII character.
static BUY_MARKER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)<form(?-u:\b)[^>]*(?-u:\b)action\s*=\s*["']?[^"'\s>]*buy/"#)
        .expect("valid regex")
});

/// Force this module's finders and regexes (see [`super::warm_up`]).
pub(crate) fn warm_up() {
    for f in [&PANEL, &BUY, &TITLE, &PRICE] {
        LazyLock::force(f);
    }
    LazyLock::force(&FORM_TAG);
    LazyLock::force(&BUY_MARKER);
}

/// Listings the fast path can read. Pieces that lack any part are skipped
/// (the fallback will look at them if they had a buy form).
pub fn listings(html: &str) -> Vec<Listing> {
    pieces(html).filter_map(|(_, piece)| panel(piece)).collect()
}

/// The page cut at each `panel panel-default`: each piece's offset and text,
/// from one marker to the next (the last one to the end of `html`).
pub(crate) fn pieces(html: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut starts = PANEL.find_iter(html.as_bytes()).peekable();
    std::iter::from_fn(move || {
        let start = starts.next()?;
        let end = starts.peek().copied().unwrap_or(html.len());
        Some((start, &html[start..end]))
    })
}

/// The listing one piece holds, if the fast path can read all of it.
pub(crate) fn panel(piece: &str) -> Option<Listing> {
    let (action, token) = buy_form(piece)?;
    let title = heading(piece, &TITLE, "</h3>")?;
    let price = heading(piece, &PRICE, "</h2>")?;
    let price_text = collapse_ws(&decode_entities(price));
    Some(Listing {
        ticket_type: collapse_ws(&decode_entities(title)),
        price: Price::parse(&price_text),
        price_text,
        form_action: decode_entities(action),
        csrf_token: token.to_string(),
    })
}

/// The first buy form in `piece`: its action and its token.
///
/// What is read is exactly what the regex
/// `<form method="post"\s+action="([^"]*secondhand/buy/[^"]*)">\s*<input type="hidden" name="csrfmiddlewaretoken" value="([^"]+)">`
/// would match, written out by hand around each `secondhand/buy/`: a
/// capturing regex search costs microseconds even on the few hundred bytes
/// of one form, this costs a handful of comparisons.
fn buy_form(piece: &str) -> Option<(&str, &str)> {
    let bytes = piece.as_bytes();
    BUY.find_iter(bytes).find_map(|buy| form_at(piece, buy))
}

const FORM_OPEN: &str = r#"<form method="post""#;
const ACTION_OPEN: &str = r#"action=""#;
const TOKEN_INPUT: &str = r#"<input type="hidden" name="csrfmiddlewaretoken" value=""#;

/// The buy form whose action holds the `secondhand/buy/` at `buy`, if the
/// markup around it is pretix's own. The action cannot contain `"`, so the
/// only tag that can hold it is the nearest `<form method="post"` before it.
pub(crate) fn form_at(piece: &str, buy: usize) -> Option<(&str, &str)> {
    let bytes = piece.as_bytes();
    let tag = FORM_TAG.rfind(&bytes[..buy])?;
    // `\s+action="`: at least one (Unicode) whitespace character.
    let after_tag = tag + FORM_OPEN.len();
    let action_start = skip_ws(piece, after_tag);
    if action_start == after_tag || !piece[action_start..].starts_with(ACTION_OPEN) {
        return None;
    }
    let value_start = action_start + ACTION_OPEN.len();
    // No `"` between the action's start and the buy path.
    if memchr::memchr(b'"', bytes.get(value_start..buy)?).is_some() {
        return None;
    }
    let action_end = buy + memchr::memchr(b'"', &bytes[buy..])?;
    // `">`, `\s*`, then the token input.
    if bytes.get(action_end + 1) != Some(&b'>') {
        return None;
    }
    let input = skip_ws(piece, action_end + 2);
    if !piece[input..].starts_with(TOKEN_INPUT) {
        return None;
    }
    let token_start = input + TOKEN_INPUT.len();
    let token_end = token_start + memchr::memchr(b'"', &bytes[token_start..])?;
    if token_end == token_start || bytes.get(token_end + 1) != Some(&b'>') {
        return None;
    }
    Some((
        &piece[value_start..action_end],
        &piece[token_start..token_end],
    ))
}

/// Past the whitespace (as the regex `\s*` reads it) starting at `from`.
fn skip_ws(s: &str, from: usize) -> usize {
    s[from..]
        .char_indices()
        .find(|(_, c)| !c.is_whitespace())
        .map_or(s.len(), |(i, _)| from + i)
}

/// The text of the first `open … close` heading whose text has no `<`, as the
/// regex `open([^<]*)close` would find it.
pub(crate) fn heading<'a>(piece: &'a str, open: &Finder<'_>, close: &str) -> Option<&'a str> {
    for at in open.find_iter(piece.as_bytes()) {
        let text_start = at + open.needle().len();
        let text = &piece[text_start..];
        let lt = memchr::memchr(b'<', text.as_bytes())?;
        if text[lt..].starts_with(close) {
            return Some(&text[..lt]);
        }
    }
    None
}

/// How many buy forms the page has, by a loose pattern. When this is more
/// than [`listings`] found, the page's markup drifted and the fallback runs.
///
/// The count is that of `BUY_MARKER`'s matches over the whole page, but the
/// regex only runs where a match can be: no part of the pattern matches `>`,
/// so a match lies between two `>` and holds a `buy/` (in any case). Those
/// few stretches are found with a case-blind `buy/` search.
pub fn buy_form_markers(html: &str) -> usize {
    let bytes = html.as_bytes();
    let mut count = 0;
    let mut done = 0;
    // `buy/` in any case, as `(?i)` reads it (none of its letters has a
    // non-ASCII case twin); `y` is the rarest of its bytes in HTML.
    while let Some(at) = find_ascii_ci(bytes, b"buy/", 2, done) {
        // From the `>` before (a match cannot hold it, so counting from it
        // or just after it is the same) to the `>` after.
        let start = memchr::memrchr(b'>', &bytes[..at]).unwrap_or(0);
        let end = memchr::memchr(b'>', &bytes[at..]).map_or(bytes.len(), |i| at + i);
        // Both ends are at a `>` or the page's ends: character boundaries.
        count += BUY_MARKER.find_iter(&html[start..end]).count();
        // `end` is past `at`: the byte at `at` is a `b`, not a `>`.
        done = end;
    }
    count
}
