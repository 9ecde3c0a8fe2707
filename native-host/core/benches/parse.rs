//! Parser benchmarks (issue 8): how long `parse::classify` takes on the pages
//! the race loop actually sees.
//!
//! - `parse/one_listing`: the real-size (14 KB) marketplace page with one
//!   listing, the page whose parse sits between the response and the buy POST;
//! - `parse/empty`, `parse/empty_de`: empty marketplace pages, parsed on every
//!   idle poll (the German one carries the red payment warning inside the
//!   "how it works" panel);
//! - `parse/fifty_listings`: the one-listing page with its listing repeated
//!   50 times (distinct buy URLs and tokens), about 200 KB;
//! - `parse/markup_drift_fallback`: drifted markup that only the `scraper`
//!   fallback reads.
//!
//! Run: `cargo bench -p pretix-race-core --bench parse -- --warm-up-time 1 --measurement-time 3`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use pretix_race_core::parse::{self, PageKind};

const MARKET: &str = "https://tickets.example.com/event/secondhand/";
const ONE: &str = include_str!("../../../sample-responses/sample_ticket_type_a.html");
const EMPTY: &str = include_str!("../../../sample-responses/sample_no-tickets_http200.html");
const EMPTY_DE: &str = include_str!("../../../sample-responses/sample_de_no_tickets.html");
const DRIFT: &str = include_str!("../../../sample-responses/sample_markup_drift.html");

/// The one-listing page with its listing column repeated `n` times, each
/// copy with its own buy id and CSRF token.
fn many_listings(n: usize) -> String {
    const COLUMN: &str = r#"<div class="col-md-4 col-sm-6">"#;
    const ID: &str = "z1iruozsop1d5nsi";
    const TOKEN: &str = "ZATFYvjiucK4Cd8WN2Ir3o7tIWvKR6KbLdlazWDMd5eE7OcbLwxFTaB9aU613RF5";
    let start = ONE.find(COLUMN).expect("listing column");
    let form_end = start + ONE[start..].find("</form>").expect("buy form");
    // The form closes inside panel-body, panel and the column: three </div>.
    let mut end = form_end;
    for _ in 0..3 {
        end += ONE[end..].find("</div>").expect("closing div") + "</div>".len();
    }
    let column = &ONE[start..end];
    let mut page = String::with_capacity(ONE.len() + n * column.len());
    page.push_str(&ONE[..start]);
    for i in 0..n {
        let copy = column
            .replace(ID, &format!("{}{i:04}", &ID[..12]))
            .replace(TOKEN, &format!("{}{i:04}", &TOKEN[..60]));
        page.push_str(&copy);
        page.push('\n');
    }
    page.push_str(&ONE[end..]);
    page
}

fn check(html: &str, want: &str, listings: usize) {
    let kind = parse::classify(MARKET, html);
    assert_eq!(kind.name(), want, "bench page classified wrongly");
    if let PageKind::Listings(found) = kind {
        assert_eq!(found.len(), listings, "bench page listing count");
    }
}

fn bench(c: &mut Criterion) {
    let fifty = many_listings(50);
    check(ONE, "listings", 1);
    check(EMPTY, "empty", 0);
    check(EMPTY_DE, "empty", 0);
    check(&fifty, "listings", 50);
    check(DRIFT, "listings", 2);

    let mut g = c.benchmark_group("parse");
    let pages: [(&str, &str); 5] = [
        ("one_listing", ONE),
        ("empty", EMPTY),
        ("empty_de", EMPTY_DE),
        ("fifty_listings", &fifty),
        ("markup_drift_fallback", DRIFT),
    ];
    for (name, html) in pages {
        g.bench_function(name, |b| {
            b.iter(|| parse::classify(black_box(MARKET), black_box(html)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
