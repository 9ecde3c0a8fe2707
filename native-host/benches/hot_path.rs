//! Benchmarks for the hot path: `cargo bench -p pretix-race --bench hot_path`.
//!
//! 1. Parsing a marketplace page: the regex fast path against the `scraper`
//!    fallback, on the real captured page and on a page with several listings.
//! 2. The buy POST against the built-in simulator over loopback HTTPS/HTTP/2
//!    on a warm connection: from "listing parsed" to "response headers in".
//!
//! Prints medians (and p90) over many runs; no external harness needed.

use std::hint::black_box;
use std::time::{Duration, Instant};

use pretix_race::config::Config;
use pretix_race::parse;
use pretix_race::session::Session;
use pretix_race_sim::{Scenario, ScriptedListing, SimServer};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../sample-responses/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn stats(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[v.len() * 9 / 10])
}

fn time<F: FnMut()>(runs: usize, mut f: F) -> (Duration, Duration) {
    for _ in 0..runs / 10 {
        f();
    }
    let mut v = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f();
        v.push(t.elapsed());
    }
    stats(v)
}

fn main() {
    for page in [
        "sample_ticket_type_a.html",
        "sample_several_listings.html",
        "sample_markup_drift.html",
    ] {
        let html = fixture(page);
        let (fast, fast90) = time(2000, || {
            black_box(parse::fast::listings(black_box(&html)));
        });
        let (slow, slow90) = time(500, || {
            black_box(parse::fallback::listings(black_box(&html)));
        });
        let (auto, _) = time(1000, || {
            black_box(parse::classify("https://h/e/secondhand/", black_box(&html)));
        });
        println!(
            "{page:32} fast {fast:>10.1?} (p90 {fast90:.1?})  scraper {slow:>10.1?} (p90 {slow90:.1?})  ratio {:>5.0}x  classify {auto:.1?}",
            slow.as_secs_f64() / fast.as_secs_f64()
        );
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        const N: usize = 200;
        let listings: Vec<ScriptedListing> = (0..N)
            .map(|i| ScriptedListing::new(format!("bench{i:011}"), "Ticket", "10.00"))
            .collect();
        let shop = SimServer::start(Scenario { listings, ..Scenario::new("org", "fest") }).await.unwrap();
        let mut cfg = Config::new(&shop.base_url(), "org/fest").unwrap();
        cfg.extra_roots_pem.push(shop.cert_pem().as_bytes().to_vec());
        let session = Session::new(&cfg).unwrap();
        let market = url::Url::parse(&shop.marketplace_url()).unwrap();
        // warm the connection and the session like a race does
        let body = session.navigate(&cfg.event_url(), None).send().await.unwrap().text().await.unwrap();
        black_box(body);
        let html = session.navigate(&market, None).send().await.unwrap().text().await.unwrap();
        let all = parse::listings(&html);
        assert_eq!(all.len(), N);
        let mut posts = Vec::new();
        let event = cfg.event_url();
        let follow = pretix_race::cart::Follow {
            event: &event,
            marketplace: &market,
            waiter: &pretix_race::race::TokioWaiter,
            task_wait: Default::default(),
            cancel: &tokio_util::sync::CancellationToken::new(),
        };
        for l in &all {
            let a = pretix_race::cart::add(&session, &market, l, &follow).await;
            posts.push(a.post_latency);
        }
        let (med, p90) = stats(posts);
        println!("buy POST on a warm HTTP/2 connection (loopback, {N} runs): median {med:.2?}, p90 {p90:.2?}");
    });
}
