//! The parser over every fixture in `sample-responses/`.

use super::*;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/../../sample-responses/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

const MARKET: &str = "https://tickets.example.com/event/secondhand/";

#[test]
fn real_page_with_one_listing_fast_path() {
    let html = fixture("sample_ticket_type_a.html");
    let found = fast::listings(&html);
    assert_eq!(found.len(), 1);
    let l = &found[0];
    assert_eq!(l.ticket_type, "Ticket – Type A");
    assert_eq!(l.price_text, "190.00 EUR");
    assert_eq!(
        l.price,
        Some(Price {
            amount: 190.0,
            currency: "EUR".into()
        })
    );
    assert_eq!(
        l.form_action,
        "https://tickets.example.com/event/secondhand/buy/z1iruozsop1d5nsi/"
    );
    assert_eq!(
        l.csrf_token,
        "ZATFYvjiucK4Cd8WN2Ir3o7tIWvKR6KbLdlazWDMd5eE7OcbLwxFTaB9aU613RF5"
    );
    assert_eq!(l.csrf_token.len(), 64);
    // fast and fallback agree on the real page
    assert_eq!(fallback::listings(&html), found);
    assert_eq!(classify(MARKET, &html), PageKind::Listings(found));
}

#[test]
fn other_real_pages_differ_where_they_should() {
    let b = listings(&fixture("sample_ticket_type_b.html"));
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].ticket_type, "Ticket – Type B");
    assert_eq!(b[0].price.as_ref().unwrap().amount, 220.0);
    assert!(b[0].form_action.ends_with("/buy/5g07vpf0krq5sl0e/"));
    let a2 = listings(&fixture("sample_ticket_type_a_2.html"));
    assert!(a2[0].form_action.ends_with("/buy/52guphq8h8ar1yua/"));
    assert!(a2[0].csrf_token.starts_with("UIO20DiE"));
}

#[test]
fn several_listings_skip_info_panels_and_alerts() {
    let html = fixture("sample_several_listings.html");
    let found = listings(&html);
    let types: Vec<_> = found.iter().map(|l| l.ticket_type.as_str()).collect();
    assert_eq!(
        types,
        ["Ticket – Type A", "Ticket – Type B", "Up-and-coming Ticket"]
    );
    assert_eq!(found[2].price.as_ref().unwrap().amount, 1095.5);
    let tokens: std::collections::HashSet<_> = found.iter().map(|l| &l.csrf_token).collect();
    assert_eq!(tokens.len(), 3, "each listing keeps its own token");
    assert_eq!(fallback::listings(&html), found);
}

#[test]
fn markup_drift_is_caught_by_the_fallback() {
    let html = fixture("sample_markup_drift.html");
    assert!(
        fast::listings(&html).is_empty(),
        "this fixture exists to break the fast path"
    );
    assert_eq!(fast::buy_form_markers(&html), 2);
    let found = listings(&html);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].ticket_type, "Ticket – Weekend");
    assert_eq!(found[0].price_text, "175.00 EUR");
    assert_eq!(
        found[0].form_action,
        "/event/secondhand/buy/k3j2h1g0f9e8d7c6/"
    );
    assert!(found[0].csrf_token.starts_with("Mv3nB6"));
    assert_eq!(found[1].form_action, "buy/p0o9i8u7y6t5r4e3/");
    assert!(matches!(classify(MARKET, &html), PageKind::Listings(l) if l.len() == 2));
}

#[test]
fn partial_fast_path_still_returns_every_listing() {
    // One listing the fast path reads plus one drifted: the fallback's answer
    // (both) wins over the fast path's (one).
    let good = fixture("sample_ticket_type_a.html");
    let drift = fixture("sample_markup_drift.html");
    let start = drift.find("<div class=\"listing").unwrap();
    let end = drift[start..].find("</form>").unwrap() + start;
    let mut html = good.clone();
    let at = html.find("<div class=\"col-md-4 col-sm-6\">").unwrap();
    html.insert_str(at, &format!("{}</form></div></div>", &drift[start..end]));
    assert_eq!(fast::listings(&html).len(), 1);
    assert_eq!(listings(&html).len(), 2);
}

#[test]
fn classifies_every_other_fixture() {
    let cases = [
        ("sample_no-tickets_http200.html", MARKET, PageKind::Empty),
        (
            "sample_marketplace_inactive.html",
            MARKET,
            PageKind::Inactive,
        ),
        (
            "sample_ticket_unavailable.html",
            MARKET,
            PageKind::TicketUnavailable,
        ),
        (
            "sample_checkout_success_http200.html",
            "https://tickets.example.com/event/checkout/questions/",
            PageKind::Checkout,
        ),
        (
            "sample_csrf_failure_403.html",
            MARKET,
            PageKind::CsrfFailure,
        ),
        ("sample_login_page.html", MARKET, PageKind::Login),
        (
            "sample_event_page.html",
            "https://tickets.example.com/event/",
            PageKind::Unknown,
        ),
    ];
    for (file, url, want) in cases {
        assert_eq!(classify(url, &fixture(file)), want, "{file}");
    }
}

#[test]
fn checkout_needs_the_checkout_url() {
    let html = fixture("sample_checkout_success_http200.html");
    assert!(is_checkout(
        "https://h/e/checkout/questions/",
        &title(&html),
        &html
    ));
    assert!(!is_checkout(
        "https://h/e/secondhand/",
        &title(&html),
        &html
    ));
    assert_eq!(
        cart_expiry(&html).as_deref(),
        Some("2025-12-25 17:10:12+0100")
    );
}

#[test]
fn titles_are_collapsed() {
    assert_eq!(
        title(&fixture("sample_marketplace_inactive.html")),
        "Ticket marketplace is not currently active. :: Example Event"
    );
    assert_eq!(
        title(&fixture("sample_checkout_success_http200.html")),
        "Step 1 of 3: Your information – Checkout :: Example Event"
    );
}

#[test]
fn malformed_input_never_panics() {
    for html in [
        "",
        "<",
        "<div class=\"panel panel-default\">",
        "<div class=\"panel panel-default\"><h3 class=\"panel-title\">x</h3><form method=\"post\" action=\"/e/secondhand/buy/x/\">",
        "<form action=buy/ method=post><input name=csrfmiddlewaretoken value=''></form>",
        "\u{0}\u{feff}<title>",
    ] {
        let _ = classify(MARKET, html);
        let _ = listings(html);
    }
}

#[test]
fn forms_in_info_panels_are_not_listings() {
    let html = r#"<div class="panel panel-info"><h3 class="panel-title">Info</h3>
        <form method="post" action="/e/secondhand/buy/aaaaaaaaaaaaaaaa/">
        <input type="hidden" name="csrfmiddlewaretoken" value="t"></form></div>"#;
    assert!(listings(html).is_empty());
}
