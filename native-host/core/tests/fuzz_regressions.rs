//! Inputs kept from fuzzing (`fuzz/`, see `docs/security.md`) and hand-made
//! hostile pages, run through the same functions as the fuzz targets, in the
//! normal test suite.
//!
//! Every file in `sample-responses/fuzz/` is read here by its prefix:
//! `classify-*` (first line the page URL, then the page, bytes decoded
//! lossily like a response body) and `cookie-*` (first line the response URL,
//! then one `Set-Cookie` header per line). Dropping a new crash input into
//! that directory puts it under the invariants below with no code change; the
//! named tests then pin what each known input must read as.

use std::fs;
use std::path::PathBuf;

use pretix_race_core::cookies::Jar;
use pretix_race_core::discover;
use pretix_race_core::parse::{self, PageKind, Price};
use url::Url;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../sample-responses/fuzz")
}

/// `(file name, contents)` of every fixture whose name starts with `prefix`.
fn inputs(prefix: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = fs::read_dir(fixture_dir())
        .expect("sample-responses/fuzz exists")
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&p).expect("readable fixture"))
        })
        .collect();
    out.sort();
    assert!(
        !out.is_empty(),
        "no {prefix}* fixtures: the regression inputs are gone"
    );
    out
}

fn input(name: &str) -> Vec<u8> {
    fs::read(fixture_dir().join(name)).expect("fixture exists")
}

/// A `classify-*` input split the way the fuzz target splits it.
struct Page {
    url: Url,
    html: String,
}

fn page(data: &[u8]) -> Page {
    const DEFAULT_URL: &str = "https://tickets.example/org/event/secondhand/";
    let text = String::from_utf8_lossy(data).into_owned();
    match text.split_once('\n') {
        Some((first, rest)) if Url::parse(first.trim()).is_ok() => Page {
            url: Url::parse(first.trim()).unwrap(),
            html: rest.to_string(),
        },
        _ => Page {
            url: Url::parse(DEFAULT_URL).unwrap(),
            html: text,
        },
    }
}

/// The invariants the `classify` fuzz target asserts, on one page.
fn check_page(name: &str, p: &Page) -> PageKind {
    let kind = parse::classify(p.url.as_str(), &p.html);
    if let PageKind::Listings(found) = &kind {
        assert!(
            !found.is_empty(),
            "{name}: Listings(vec![]) leaves nothing to buy"
        );
    }
    for listing in parse::listings(&p.html) {
        assert!(
            !listing.csrf_token.is_empty(),
            "{name}: a listing without a CSRF token"
        );
        let _ = p.url.join(&listing.form_action);
        let _ = Price::parse(&listing.price_text);
    }
    let _ = parse::title(&p.html);
    let _ = parse::cart_expiry(&p.html);
    if let Some(link) = discover::marketplace_link(&p.html, &p.url) {
        assert_eq!(
            link.origin(),
            p.url.origin(),
            "{name}: marketplace link left the shop"
        );
        assert!(
            link.fragment().is_none(),
            "{name}: marketplace link kept its fragment"
        );
    }
    kind
}

#[test]
fn every_classify_input_keeps_the_invariants() {
    for (name, data) in inputs("classify-") {
        check_page(&name, &page(&data));
    }
}

#[test]
fn a_page_cut_off_inside_the_csrf_token_offers_nothing_to_buy() {
    let p = page(&input("classify-truncated-in-token.html"));
    let kind = check_page("truncated", &p);
    // Half a token would be a certain 403: it must not look buyable.
    assert_eq!(kind, PageKind::Unknown);
    assert!(parse::listings(&p.html).is_empty());
}

#[test]
fn invalid_utf8_in_title_and_price_still_reads_the_listing() {
    let p = page(&input("classify-invalid-utf8.bin"));
    let PageKind::Listings(found) = check_page("invalid-utf8", &p) else {
        panic!("the listing was lost to two bad bytes");
    };
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].csrf_token, "TOKEN");
    assert_eq!(found[0].price.as_ref().map(|p| p.amount), Some(190.0));
    assert!(
        found[0].ticket_type.contains('\u{fffd}'),
        "bad bytes become U+FFFD, not a cut"
    );
}

#[test]
fn multibyte_currency_signs_hugging_the_digits() {
    let p = page(&input("classify-multibyte-price.html"));
    let PageKind::Listings(found) = check_page("multibyte-price", &p) else {
        panic!("listing not read");
    };
    let price = found[0].price.clone().expect("price read");
    assert_eq!(price.amount, 1095.5);
    assert_eq!(price.currency, "€ €");
}

#[test]
fn marketplace_links_out_of_the_shop_are_passed_over() {
    let p = page(&input("classify-foreign-marketplace-links.html"));
    check_page("foreign-links", &p);
    let link = discover::marketplace_link(&p.html, &p.url).expect("the shop's own link");
    assert_eq!(
        link.as_str(),
        "https://tickets.example.com/org/event/secondhand/?x=1"
    );
}

#[test]
fn a_thousand_nested_elements_neither_overflow_nor_hide_the_listing() {
    let p = page(&input("classify-deep-nesting.html"));
    let PageKind::Listings(found) = check_page("deep-nesting", &p) else {
        panic!("listing not read");
    };
    assert_eq!(found.len(), 1);
    // The scraper path must cope too (it runs whenever the regexes miss a form).
    let slow = parse::fallback::listings(&p.html);
    assert_eq!(slow.len(), 1);
    assert_eq!(slow[0].csrf_token, "TOKEN");
}

/// A `cookie-*` input: the response URL, then its `Set-Cookie` headers.
fn store_all(data: &[u8]) -> (Jar, Url) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.lines();
    let url = Url::parse(lines.next().expect("a URL line").trim()).expect("a valid URL line");
    let jar = Jar::new();
    for header in lines {
        jar.store(header, &url);
    }
    (jar, url)
}

#[test]
fn every_cookie_input_keeps_the_invariants() {
    for (name, data) in inputs("cookie-") {
        let (jar, url) = store_all(&data);
        let _ = jar.header_for(&url);
        let other = Url::parse("https://unrelated.invalid/").unwrap();
        assert!(
            jar.header_for(&other).is_none(),
            "{name}: cookie sent to another host"
        );
    }
}

#[test]
fn a_max_age_beyond_i64_keeps_the_cookie() {
    // The cookie crate caps an oversized Max-Age at i64::MAX seconds; adding
    // that to "now" overflowed: a panic in debug builds, and in release a
    // wrapped, negative expiry that threw the session cookie away at once.
    let (jar, url) = store_all(&input("cookie-max-age-overflow.txt"));
    assert_eq!(
        jar.header_for(&url).as_deref(),
        Some("pretix_session=keep; long=1")
    );
}
