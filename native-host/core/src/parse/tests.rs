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

/// The same pages in German, French and Dutch (generated from the
/// simulator's templates): each is classified like its English twin, with
/// no word of the language known to the parser.
#[test]
fn every_language_is_classified_by_structure() {
    const BUY: &str = "https://tickets.example.com/event/secondhand/buy/k7p2m9x4q1w8z3n5/";
    const CHECKOUT: &str = "https://tickets.example.com/event/checkout/questions/";
    const EVENT: &str = "https://tickets.example.com/event/";
    for lang in ["de", "fr", "nl"] {
        let page = |name: &str| fixture(&format!("sample_{lang}_{name}.html"));
        let cases = [
            ("no_tickets", MARKET, PageKind::Empty),
            ("marketplace_inactive", MARKET, PageKind::Inactive),
            ("ticket_unavailable", BUY, PageKind::TicketUnavailable),
            ("ticket_unavailable", MARKET, PageKind::TicketUnavailable),
            ("checkout", CHECKOUT, PageKind::Checkout),
            ("csrf_failure_403", BUY, PageKind::CsrfFailure),
            ("event_page", EVENT, PageKind::Unknown),
        ];
        for (name, url, want) in cases {
            assert_eq!(classify(url, &page(name)), want, "{lang} {name} at {url}");
        }
        let checkout = page("checkout");
        assert!(is_checkout(CHECKOUT, "", &checkout), "{lang}");
        assert!(cart_expiry(&checkout).is_some(), "{lang}");
        let listings = match classify(MARKET, &page("marketplace_listings")) {
            PageKind::Listings(l) => l,
            other => panic!("{lang}: {other:?}"),
        };
        let amounts: Vec<f64> = listings
            .iter()
            .map(|l| l.price.as_ref().expect("price").amount)
            .collect();
        assert_eq!(amounts, [190.0, 1234.5], "{lang}");
        assert!(listings
            .iter()
            .all(|l| l.price.as_ref().unwrap().currency == "€"));
        assert_eq!(listings[0].form_action, BUY);
    }
}

#[test]
fn prices_are_shown_as_each_locale_writes_them() {
    let first = |lang: &str| {
        listings(&fixture(&format!(
            "sample_{lang}_marketplace_listings.html"
        )))[0]
            .price_text
            .clone()
    };
    assert_eq!(first("de"), "190,00 €");
    assert_eq!(first("fr"), "190,00 €");
    assert_eq!(first("nl"), "€ 190,00");
}

/// A pretix page shell on the marketplace URL, with `body` inside `<main>`.
fn shell(body: &str) -> String {
    format!(
        "<html lang=\"xx\"><head><title>?</title></head><body data-locale=\"xx\">\
         <main id=\"content\">{body}</main></body></html>"
    )
}

#[test]
fn empty_is_the_marketplace_shell_without_buy_forms_or_errors() {
    // Any wording at all: nothing to buy, no error.
    let page = shell("<div class=\"alert alert-warning\">Zzz qqq.</div>");
    assert_eq!(classify(MARKET, &page), PageKind::Empty);
    // The red note inside the marketplace's own info panel is no error.
    let page = shell(
        "<div class=\"panel panel-info\"><div class=\"panel-body\">\
         <div class=\"alert alert-danger\">!</div></div></div>",
    );
    assert_eq!(classify(MARKET, &page), PageKind::Empty);
    // A buy form the parsers could not read is not "empty": a human looks.
    let page = shell("<form method=\"post\" action=\"/e/secondhand/buy/x/\"></form>");
    assert_eq!(classify(MARKET, &page), PageKind::Unknown);
    // The same page elsewhere, or without pretix's shell, is not ours to read.
    let page = shell("<p>Zzz.</p>");
    assert_eq!(
        classify("https://tickets.example.com/event/", &page),
        PageKind::Unknown
    );
    assert_eq!(
        classify(MARKET, "<html><body><h1>Maintenance</h1></body></html>"),
        PageKind::Unknown
    );
}

#[test]
fn an_error_box_means_lost_or_inactive_by_what_surrounds_it() {
    let error = "<div class=\"alert alert-danger\" id=\"error-message\">Xyz.</div>";
    let products =
        "<section class=\"item-category\"><div class=\"row product-row\"></div></section>";
    let alone = shell(error);
    let over_products = shell(&format!("{error}{products}"));
    assert_eq!(classify(MARKET, &alone), PageKind::TicketUnavailable);
    assert_eq!(classify(MARKET, &over_products), PageKind::Inactive);
    // Answering a buy, an error is a lost race even over a product list.
    let buy = "https://tickets.example.com/event/secondhand/buy/x/";
    assert_eq!(classify(buy, &over_products), PageKind::TicketUnavailable);
    assert_eq!(classify(buy, &alone), PageKind::TicketUnavailable);
    // Either product marker alone is a product list.
    let rows_only = shell(&format!("{error}<div class=\"row product-row\"></div>"));
    let category_only = shell(&format!(
        "{error}<section class=\"item-category\"></section>"
    ));
    assert_eq!(classify(MARKET, &rows_only), PageKind::Inactive);
    assert_eq!(classify(MARKET, &category_only), PageKind::Inactive);
}

#[test]
fn checkout_is_the_step_list_or_the_cart_with_its_deadline() {
    let url = "https://tickets.example.com/event/checkout/payment/";
    let flow = shell("<div class=\"checkout-flow\"><a class=\"checkout-step\"></a></div>");
    let steps_only = shell("<ol><li class=\"checkout-step step-current\"></li></ol>");
    let cart = shell(
        "<div class=\"row cart-row\"></div><p id=\"cart-deadline\" data-expires=\"2030-01-01 00:00:00+0000\"></p>",
    );
    let rows_without_deadline = shell("<div class=\"row cart-row\"></div>");
    let deadline_without_rows = shell("<p data-expires=\"2030-01-01 00:00:00+0000\"></p>");
    for page in [&flow, &steps_only, &cart] {
        assert!(is_checkout(url, "", page), "{page}");
        assert_eq!(classify(url, page), PageKind::Checkout);
    }
    for page in [&rows_without_deadline, &deadline_without_rows] {
        assert!(!is_checkout(url, "", page), "{page}");
    }
    // The words of the title are not read.
    assert!(is_checkout(url, "Step 1 of 3", &flow));
    assert!(!is_checkout(
        url,
        "Step 1 of 3: Your cart",
        &rows_without_deadline
    ));
    // The markup elsewhere is not a checkout.
    assert!(!is_checkout(MARKET, "", &flow));
}

#[test]
fn csrf_failure_is_djangos_403_page_or_its_headline() {
    let summary = "<div id=\"summary\"><h1>Zakazano <span>(403)</span></h1></div>";
    assert_eq!(classify(MARKET, summary), PageKind::CsrfFailure);
    assert_eq!(
        classify(MARKET, "<div id=\"summary\"><h1>Oops</h1></div>"),
        PageKind::Unknown
    );
    assert_eq!(classify(MARKET, "<p>(403)</p>"), PageKind::Unknown);
    for headline in [
        "CSRF verification failed. Request aborted.",
        "CSRF-Verifizierung fehlgeschlagen.",
        "La vérification CSRF a échoué.",
    ] {
        assert_eq!(
            classify(MARKET, &format!("<p>{headline}</p>")),
            PageKind::CsrfFailure,
            "{headline}"
        );
    }
}

#[test]
fn a_password_input_is_a_login() {
    let page = shell("<form method=\"post\"><input type=\"password\" name=\"pw\"></form>");
    assert_eq!(classify(MARKET, &page), PageKind::Login);
    let page = shell("<form method=\"post\"><input type=\"text\" name=\"password_hint\"></form>");
    assert_eq!(classify(MARKET, &page), PageKind::Empty);
}

#[test]
fn shell_is_the_body_locale_or_the_main_content() {
    let body_only = "<body data-locale=\"pl\"><p>?</p></body>";
    let main_only = "<body><main id=\"content\"><p>?</p></main></body>";
    let main_quoted_single = "<body><main class=\"x\" id='content'><p>?</p></main></body>";
    let neither = "<body><main id=\"contents\"><p>?</p></main></body>";
    for page in [body_only, main_only, main_quoted_single] {
        assert!(structure::is_pretix_shell(page), "{page}");
        assert_eq!(classify(MARKET, page), PageKind::Empty, "{page}");
    }
    assert!(!structure::is_pretix_shell(neither));
    assert_eq!(classify(MARKET, neither), PageKind::Unknown);
}

#[test]
fn url_paths_drop_scheme_host_query_and_fragment() {
    use structure::url_path;
    assert_eq!(
        url_path("https://h:8443/o/e/secondhand/?item=1"),
        "/o/e/secondhand/"
    );
    assert_eq!(
        url_path("https://h/o/e/checkout/questions/#x"),
        "/o/e/checkout/questions/"
    );
    assert_eq!(url_path("https://h"), "");
    assert_eq!(
        url_path("/o/e/secondhand/buy/x/?a"),
        "/o/e/secondhand/buy/x/"
    );
    // A query that mentions a path does not make the page that path.
    assert_eq!(url_path("https://h/o/e/?next=/o/e/checkout/"), "/o/e/");
    let flow = shell("<div class=\"checkout-flow\"></div>");
    assert!(!is_checkout(
        "https://h/o/e/?next=/o/e/checkout/",
        "",
        &flow
    ));
    assert_eq!(
        classify("https://h/o/e/?next=/o/e/secondhand/", &shell("")),
        PageKind::Unknown
    );
}

#[test]
fn error_boxes_inside_panels_do_not_count() {
    use structure::has_error_message;
    assert!(!has_error_message("<p>no box</p>"));
    assert!(has_error_message(
        "<div class=\"alert alert-danger\">x</div>"
    ));
    assert!(!has_error_message(
        "<div class=\"panel\"><div><div class=\"alert alert-danger\">x</div></div></div>"
    ));
    // One box outside any panel is enough.
    assert!(has_error_message(
        "<div class=\"panel\"><div class=\"alert-danger\">x</div></div><div class=\"alert-danger\">y</div>"
    ));
    // The words alone are no box.
    assert!(!has_error_message("<p>alert-danger</p>"));
}

#[test]
fn page_kinds_have_stable_names() {
    let names: Vec<_> = [
        PageKind::Listings(Vec::new()),
        PageKind::Empty,
        PageKind::Inactive,
        PageKind::TicketUnavailable,
        PageKind::Checkout,
        PageKind::CsrfFailure,
        PageKind::Login,
        PageKind::Unknown,
    ]
    .iter()
    .map(PageKind::name)
    .collect();
    assert_eq!(
        names,
        [
            "listings",
            "empty",
            "inactive",
            "ticket_unavailable",
            "checkout",
            "csrf_failure",
            "login",
            "unknown"
        ]
    );
}

#[test]
fn entities_in_titles_are_decoded() {
    assert_eq!(
        title("<title>Ticket &ndash; Type&nbsp;A &amp; B &#x27;x&#39; &quot;y&quot; &lt;z&gt;</title>"),
        "Ticket – Type A & B 'x' \"y\" <z>"
    );
    assert_eq!(
        title("<title>a&#160;b&#8239;c &#8211; d</title>"),
        "a b c – d"
    );
    assert_eq!(title("<title>plain</title>"), "plain");
}

#[test]
fn the_fallback_only_takes_post_forms_to_buy() {
    let panel = |form: &str| {
        format!(
            "<div class=\"panel panel-default\"><h3 class=\"panel-title\">T</h3>\
             <h2 class=\"text-primary\">1 EUR</h2>{form}\
             <input type=\"hidden\" name=\"csrfmiddlewaretoken\" value=\"tok\"></form></div>"
        )
    };
    assert_eq!(
        fallback::listings(&panel(
            "<form method=\"get\" action=\"/e/secondhand/buy/x/\">"
        ))
        .len(),
        0
    );
    assert_eq!(
        fallback::listings(&panel("<form method=\"post\" action=\"/e/secondhand/\">")).len(),
        0
    );
    assert_eq!(
        fallback::listings(&panel(
            "<form method=\"POST\" action=\"/e/secondhand/buy/x/\">"
        ))
        .len(),
        1
    );
}

/// When the fallback finds no more listings than the fast path, the fast
/// path's reading stands (the extra buy form sat in an info panel).
#[test]
fn the_fast_reading_stands_when_the_fallback_finds_no_more() {
    let fast_only = "<div class=\"panel panel-default\"><h3 class=\"panel-title\">T</h3>\
        <h2 class=\"text-primary\">1 EUR</h2>\
        <form method=\"post\" action=\"/e/secondhand/buy/a/\">\
        <input type=\"hidden\" name=\"csrfmiddlewaretoken\" value=\" tok \"></form></div>";
    let info = "<div class=\"panel panel-info\"><h3 class=\"panel-title\">I</h3>\
        <form method=\"post\" action=\"/e/secondhand/buy/b/\">\
        <input type=\"hidden\" name=\"csrfmiddlewaretoken\" value=\"t\"></form></div>";
    let html = format!("{fast_only}{info}");
    assert_eq!(fast::buy_form_markers(&html), 2);
    let found = listings(&html);
    assert_eq!(found.len(), 1);
    // The fast path keeps the token byte for byte; the DOM reading trims it.
    assert_eq!(found[0].csrf_token, " tok ");
    assert_eq!(fallback::listings(&html)[0].csrf_token, "tok");
}

// ---- the linear scanners (scan.rs, fast.rs) at their edges ----

#[test]
fn warm_up_parses_its_embedded_listing_page() {
    let PageKind::Listings(found) = warm_up() else {
        panic!("warm_up must classify its page as listings");
    };
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].ticket_type, "Ticket – Type A");
    assert_eq!(found[0].price_text, "190.00 EUR");
    // A second call is the same, from the built lazies.
    assert_eq!(warm_up(), PageKind::Listings(found));
}

#[test]
fn case_blind_search_at_the_edges() {
    use scan::find_ascii_ci;
    let find = |hay: &str, from| find_ascii_ci(hay.as_bytes(), b"buy/", 2, from);
    assert_eq!(find("buy/", 0), Some(0));
    assert_eq!(find("xxBuY/", 0), Some(2));
    assert_eq!(find("xxBUY/", 0), Some(2));
    assert_eq!(find("yy buy", 0), None, "cut off at the end");
    assert_eq!(find("y", 0), None);
    assert_eq!(find("", 0), None);
    assert_eq!(find("buy/ buy/", 1), Some(5), "searches from `from`");
    assert_eq!(find("buy/ buy/", 5), Some(5));
    assert_eq!(find("buy/ buy/", 6), None);
    assert_eq!(find("bxy/ buy/", 0), Some(5), "a pivot hit that fails");
    assert_eq!(find("buz/", 0), None);
}

#[test]
fn words_are_looked_for_as_a_case_blind_regex_would() {
    use scan::may_hold_word;
    assert!(may_hold_word("<b>PassWord</b>", "password", 4));
    assert!(may_hold_word("password", "password", 4));
    assert!(!may_hold_word("<b>passw0rd</b> wow", "password", 4));
    assert!(!may_hold_word("", "csrf", 3));
    // `(?i)` folds `ſ` onto `s` and `K` onto `k`: such a page is a maybe.
    assert!(may_hold_word("paſsword", "password", 4));
    assert!(may_hold_word("\u{212a}", "csrf", 3));
    assert!(!may_hold_word("€ – \u{c5}", "csrf", 3));
    // And the gated checks still see what their regex sees.
    assert!(structure::has_password_input(
        "<INPUT TYPE=PASSWORD name=p>"
    ));
    assert!(structure::is_csrf_failure(
        "<h1>csrf-VERIFICATION FAILED</h1>"
    ));
    assert!(structure::is_csrf_failure(
        "<div id=\"summary\"><p>(403)</p></div>"
    ));
    assert!(!structure::is_csrf_failure(
        "<div id=\"summary\"><p>(404)</p></div>"
    ));
    assert!(!structure::is_csrf_failure("<p>(403)</p>"));
}

#[test]
fn start_tags_are_read_with_quotes_and_without() {
    use scan::{start_tag, StartTag};
    fn read(s: &str) -> StartTag<'_> {
        start_tag(s, 0)
    }
    assert_eq!(
        read(r#" class="a b" id=x>rest"#),
        StartTag {
            classes: "a b",
            self_closing: false,
            end: 18,
            closed: true,
        }
    );
    assert_eq!(read(" data-x='>' class=panel>").classes, "panel");
    assert_eq!(read(" CLASS = \"p\" >").classes, "p");
    assert_eq!(read(r#" class="first" class="second">"#).classes, "first");
    assert_eq!(read(" classes=\"x\" >").classes, "");
    assert_eq!(read(" disabled class=\"k\">").classes, "k");
    assert_eq!(read(" = class=\"k\">").classes, "k");
    let closed = read(" class=\"x\"/>");
    assert!(closed.self_closing);
    assert_eq!(closed.end, 12);
    assert!(!read(" / class=\"x\">").self_closing);
    assert!(!read(" class=a/b>").self_closing);
    // Cut off anywhere: the end of the page, no panic.
    for cut in [" class=\"x", " class=", " class", " class=x", " /"] {
        assert_eq!(read(cut).end, cut.len(), "{cut:?}");
        assert!(!read(cut).closed, "{cut:?}");
    }
}

#[test]
fn error_boxes_are_placed_by_a_scan_of_the_tags() {
    use structure::has_error_message as error;
    let danger = "<div class=\"alert alert-danger\">x</div>";
    // Closed panels no longer hold what follows.
    assert!(error(&format!(
        "<div class=\"panel\"><p>i</p></div>{danger}"
    )));
    // Nested elements of other names close in between.
    assert!(!error(&format!(
        "<section class=\"panel panel-info\"><div><span>a</span>{danger}</div></section>"
    )));
    // A stray end tag closes nothing.
    assert!(!error(&format!(
        "<div class=\"panel\"></span>{danger}</div>"
    )));
    // End tags match without regard to case.
    assert!(error(&format!("<DIV CLASS=\"panel\"></div>{danger}")));
    // An end tag closes every element opened inside it.
    assert!(error(&format!(
        "<div class=\"panel\"><div><p><b></div></div>{danger}"
    )));
    // Void and self-closed elements hold nothing.
    assert!(error(&format!("<input class=\"panel\">{danger}")));
    assert!(error(&format!("<div class=\"panel\"/>{danger}")));
    // Comments, doctypes, scripts and titles hide their markup.
    assert!(error(&format!("<!-- <div class=\"panel\"> -->{danger}")));
    assert!(error(&format!(
        "<!doctype html><!x <div class=panel> >{danger}"
    )));
    assert!(error(&format!(
        "<script>let s = '<div class=\"panel\">';</script >{danger}"
    )));
    assert!(error(&format!(
        "<title>x</titlex><div class=\"panel\"></title>{danger}"
    )));
    assert!(!error(&format!(
        "<script><div class=\"alert-danger\"></script><div class=\"panel\">{danger}</div>"
    )));
    assert!(!error("<!-- <div class=\"alert-danger\"> -->"));
    // The scan resumes right after a comment, not before nor beyond.
    assert!(!error(&format!(
        "<!-- a comment --><div class=\"panel\">{danger}</div>"
    )));
    assert!(!error(&format!(
        "<!----><div class=\"panel\">{danger}</div>"
    )));
    assert!(!error(&format!(
        "<!-- x --><div class=\"panel\">{danger}</div>"
    )));
    assert!(!error(&format!(
        "<p></p><!-- x --><div class=\"panel\">{danger}</div>"
    )));
    // An attribute may follow a quoted value with no space.
    assert!(!error(&format!(
        "<div data-x=\"1\"class=\"panel\">{danger}</div>"
    )));
    assert!(!error("<!-- <div class=\"alert-danger\">"));
    assert!(!error("<script><div class=\"alert-danger\">"));
    // Only the class token counts, and a `<` in text is text.
    assert!(!error(
        "<div class=\"alert-danger-ish\">x</div><p>alert-danger</p>"
    ));
    assert!(error("<p>1 < 2</p><div class='x alert-danger'>"));
    assert!(error("<div class=alert-danger>"));
    // The box's own class does not make it a panel's.
    assert!(error("<div class=\"panel alert-danger\"></div>"));
    // Broken tags to the end of the page: no panic, no box.
    for html in [
        "<div class=\"alert-danger",
        "</",
        "<",
        "alert-danger<",
        "<a alert-danger",
    ] {
        assert!(!error(html), "{html:?}");
    }
}

#[test]
fn the_buy_form_is_read_exactly_as_pretix_writes_it() {
    let form = |head: &str, token: &str| {
        format!(
            "<div class=\"panel panel-default\"><h3 class=\"panel-title\">T</h3>\
             <h2 class=\"text-primary\">1 EUR</h2>{head}\
             <input type=\"hidden\" name=\"csrfmiddlewaretoken\" value=\"{token}\"></form></div>"
        )
    };
    let read = |html: &str| fast::listings(html).first().map(|l| l.csrf_token.clone());
    let good = "<form method=\"post\" action=\"/e/secondhand/buy/a/\">";
    assert_eq!(read(&form(good, "tok")), Some("tok".into()));
    // Any whitespace between the parts, Unicode included.
    let spaced = "<form method=\"post\"\u{a0}\n action=\"/e/secondhand/buy/a/\">\u{2003}\n";
    assert_eq!(read(&form(spaced, "t")), Some("t".into()));
    // What the pattern refuses.
    for head in [
        "<form method=\"post\"action=\"/e/secondhand/buy/a/\">",
        "<form method=\"post\" data-x=\"1\" action=\"/e/secondhand/buy/a/\">",
        "<form method=\"post\" action=\"/e/\"secondhand/buy/a/\">",
        "<form method=\"post\" action=\"/e/secondhand/buy/a/\" >",
        "<form method=\"post\" action=\"/e/secondhand/buy/a/\">x",
        "<form method=\"get\" action=\"/e/secondhand/buy/a/\">",
    ] {
        assert_eq!(read(&form(head, "t")), None, "{head:?}");
    }
    assert_eq!(read(&form(good, "")), None, "empty token");
    // A token not closed by `">`, whatever follows, is no token.
    for tail in ["\" >", "\"é", "\""] {
        let html = format!("<div class=\"panel panel-default\"><h3 class=\"panel-title\">T</h3><h2 class=\"text-primary\">1</h2>{good}<input type=\"hidden\" name=\"csrfmiddlewaretoken\" value=\"t{tail}");
        assert_eq!(read(&html), None, "{tail:?}");
    }
    // A relative action may begin with the buy path itself.
    let relative = "<form method=\"post\" action=\"secondhand/buy/a/\">";
    assert_eq!(read(&form(relative, "r")), Some("r".into()));
    // A buy URL outside a form, then the form: the form is found.
    let link = "<a href=\"/e/secondhand/buy/zzz/\">x</a>";
    assert_eq!(
        read(&form(&format!("{link}{good}"), "t2")),
        Some("t2".into())
    );
    // The action is the whole attribute, around the buy path.
    let html = form(
        "<form method=\"post\" action=\"https://h/e/secondhand/buy/b/?x=1\">",
        "t",
    );
    assert_eq!(
        fast::listings(&html)[0].form_action,
        "https://h/e/secondhand/buy/b/?x=1"
    );
}

#[test]
fn headings_take_the_first_one_without_markup() {
    let page = |title: &str| {
        format!(
            "<div class=\"panel panel-default\">{title}<h2 class=\"text-primary\">2 EUR</h2>\
             <form method=\"post\" action=\"/e/secondhand/buy/a/\">\
             <input type=\"hidden\" name=\"csrfmiddlewaretoken\" value=\"t\"></form></div>"
        )
    };
    let title = |t: &str| {
        fast::listings(&page(t))
            .first()
            .map(|l| l.ticket_type.clone())
    };
    assert_eq!(title("<h3 class=\"panel-title\">A</h3>"), Some("A".into()));
    assert_eq!(
        title("<h3 class=\"panel-title\">A<b>x</b></h3><h3 class=\"panel-title\">B</h3>"),
        Some("B".into())
    );
    assert_eq!(
        title("<h3 class=\"panel-title\"></h3>"),
        Some(String::new())
    );
    assert_eq!(title("<h3 class=\"panel-title\">A</h2>"), None);
    assert_eq!(title(""), None);
    // No `<` after the heading at all.
    assert_eq!(
        fast::listings("<div class=\"panel panel-default\"><h3 class=\"panel-title\">x"),
        vec![]
    );
}

/// The buy-form count, read around each `buy/`, equals the count of the
/// original pattern over the whole page.
#[test]
fn buy_markers_count_as_the_pattern_over_the_whole_page() {
    let whole = regex::Regex::new(r#"(?i)<form\b[^>]*\baction\s*=\s*["']?[^"'\s>]*buy/"#).unwrap();
    let pages = [
        String::new(),
        "buy/".into(),
        "<form action=buy/>".into(),
        "<FORM ACTION='/x/BUY/'><form action=\"/y/bUy/\">".into(),
        "<form action=/a/buy/b/buy/>".into(),
        "<form data-x=\"<form action=buy/\" action=buy/>".into(),
        "<form action=buy/ <form action=buy/>".into(),
        "<formaction=buy/>".into(),
        "<form xaction=buy/>".into(),
        "<form action = \"buy/\"".into(),
        "<form action=\"x y buy/\">".into(),
        "> buy/ <form action=buy/".into(),
        "<a href=buy/>buy/</a><form method=post action=\"buy/\">".into(),
        fixture("sample_ticket_type_a.html"),
        fixture("sample_markup_drift.html"),
        fixture("sample_several_listings.html"),
    ];
    for html in &pages {
        assert_eq!(
            fast::buy_form_markers(html),
            whole.find_iter(html).count(),
            "{html:?}"
        );
    }
}
