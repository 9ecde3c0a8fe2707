//! The first `classify` of a listing page in a fresh process: what the user's
//! first listing costs when nothing has been compiled yet, and after
//! `pretix_race_core::warm_up()`.
//!
//! Criterion cannot measure this (it runs the function thousands of times in
//! one process), so run this binary many times:
//!
//! ```text
//! cargo build --release -p pretix-race-core --example first_parse
//! for i in $(seq 20); do target/release/examples/first_parse cold; done
//! for i in $(seq 20); do target/release/examples/first_parse warm; done
//! ```
//!
//! It prints one line: the mode and the first call's time in microseconds.

use std::time::Instant;

use pretix_race_core::parse;

const MARKET: &str = "https://tickets.example.com/event/secondhand/";
/// A listing page other than the one `warm_up` embeds, so the warm run does
/// not profit from caches holding the very same text.
const PAGE: &str = include_str!("../../../sample-responses/sample_ticket_type_b.html");

fn main() {
    let warm = std::env::args().nth(1).as_deref() == Some("warm");
    if warm {
        pretix_race_core::warm_up();
    }
    let page = std::hint::black_box(PAGE);
    let start = Instant::now();
    let kind = parse::classify(MARKET, page);
    let took = start.elapsed();
    assert_eq!(kind.name(), "listings", "the example page has a listing");
    println!(
        "{} {:.1}",
        if warm { "warm" } else { "cold" },
        took.as_secs_f64() * 1e6
    );
}
