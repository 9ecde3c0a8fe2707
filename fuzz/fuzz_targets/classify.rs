//! Everything that reads a shop page, on arbitrary bytes.
//!
//! Input layout: an optional first line is the page URL (as the engine passes
//! it to `classify`), the rest is the page. Seeds from `sample-responses/*.html`
//! have no URL line that parses, so they are fuzzed as pages from a default
//! marketplace URL; mutations discover the URL split on their own.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pretix_race_core::{discover, parse};
use url::Url;

const DEFAULT_URL: &str = "https://tickets.example/org/event/secondhand/";

fuzz_target!(|data: &[u8]| {
    // The engine decodes bodies lossily too (reqwest's `text()`).
    let text = String::from_utf8_lossy(data);
    let (url_text, html) = match text.split_once('\n') {
        Some((first, rest)) if Url::parse(first.trim()).is_ok() => (first.trim(), rest),
        _ => (DEFAULT_URL, &*text),
    };
    let page = Url::parse(url_text).expect("checked above or constant");

    let kind = parse::classify(url_text, html);
    // A Listings verdict must carry listings: the engine buys `[0]`.
    if let parse::PageKind::Listings(found) = &kind {
        assert!(
            !found.is_empty(),
            "Listings(vec![]) would leave nothing to buy"
        );
    }
    let _ = kind.name();

    for listing in parse::listings(html) {
        // The engine resolves every form action against the page URL; a
        // listing whose action cannot be joined must fail cleanly, not panic.
        let _ = page.join(&listing.form_action);
        let _ = parse::Price::parse(&listing.price_text);
    }
    let _ = parse::title(html);
    let _ = parse::cart_expiry(html);
    let _ = parse::Price::parse(html);

    if let Some(link) = discover::marketplace_link(html, &page) {
        // Documented contract: same shop only, no fragment.
        assert_eq!(link.origin(), page.origin());
        assert!(link.fragment().is_none());
        let _ = discover::poll_url(&link, &Default::default());
    }
});
