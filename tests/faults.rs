//! The fault matrix on real sockets: a shop that restarts, refuses, stalls,
//! answers 5xx or nonsense, loops or sends us elsewhere.
//!
//! Every test races the simulator (or nothing at all) over real TCP + TLS on
//! 127.0.0.1 and asserts what the race did: kept going or stopped, which
//! ladder it waited on, the one line it reported, that it never bought twice
//! and never lost a won cart. Waits run in virtual time; the only real time
//! spent is the short timeouts the slow-server tests configure (a second or
//! two, proving the mechanism rather than the 5 s / 10 s constants).

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{race, race_with, shop, Run, DEADLINE};
use pretix_race::config::Config;
use pretix_race::events::{Events, RaceEvent, WaitReason};
use pretix_race::race::{Race, RaceEnd, Waiter};
use pretix_race::session::{Page, Session, Timeouts, Visit};
use pretix_race_sim::{Scenario, Scripted, ScriptedListing, SimServer, Trigger};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn later(id: &str, polls: u64) -> ScriptedListing {
    ScriptedListing {
        appears: Trigger::AfterPolls(polls),
        ..ScriptedListing::new(id, "Ticket – Type A", "190.00")
    }
}

fn status(status: u16, retry_after: Option<&str>) -> Scripted {
    Scripted::Status {
        status,
        retry_after: retry_after.map(str::to_owned),
    }
}

/// The `Problem` lines the race reported, in order.
fn problems(run: &Run) -> Vec<String> {
    run.events
        .iter()
        .filter_map(|e| match e {
            RaceEvent::Problem { message } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

fn unknown_pages(run: &Run) -> usize {
    run.events
        .iter()
        .filter(|e| matches!(e, RaceEvent::UnknownPage { .. }))
        .count()
}

/// Every wait the race took is short: none is a step of the 429 ladder.
fn assert_no_rate_limit_steps(run: &Run) {
    let waits = run.waits();
    assert!(
        waits.iter().all(|(_, d)| *d < Duration::from_secs(30)),
        "a 30 s (or longer) wait for trouble that is not a rate limit: {waits:?}"
    );
}

/// `waits` follow the trouble ladder for a 2 s interval: 2, 4, 8, … s ±20 %.
fn assert_trouble_ladder(waits: &[Duration]) {
    assert!(!waits.is_empty(), "no trouble waits");
    for (i, d) in waits.iter().enumerate() {
        let step = (2.0 * 2f64.powi(i as i32)).min(60.0);
        let s = d.as_secs_f64();
        assert!(
            s >= step * 0.8 && s <= (step * 1.2).min(60.0),
            "wait #{i} is {s} s, the trouble ladder says {step} s ±20 %: {waits:?}"
        );
    }
}

/// The won listing was POSTed for exactly once.
fn assert_bought_once(shop: &common::Shop) {
    assert_eq!(shop.posts(), 1, "{:?}", shop.sim.requests());
    assert_eq!(shop.sim.sold().len(), 1);
}

// ---------------------------------------------------------------------------
// A waiter that does things to the shop at given waits

type Action = Box<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Records waits like `common::RecordingWaiter`, and runs an action before
/// the n-th wait returns (1-based): "the shop goes down after the first
/// poll" without a clock.
#[derive(Default)]
struct ScriptedWaiter {
    count: AtomicUsize,
    actions: Vec<(usize, Action)>,
    waits: Mutex<Vec<Duration>>,
}

impl Waiter for ScriptedWaiter {
    fn wait(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.waits.lock().unwrap().push(d);
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        let action = self
            .actions
            .iter()
            .find(|(at, _)| *at == n)
            .map(|(_, act)| act());
        Box::pin(async move {
            if let Some(act) = action {
                act.await;
            }
            tokio::task::yield_now().await;
        })
    }
}

/// Race `cfg` with `waiter` until it ends (no cancellation).
async fn race_scripted(cfg: &Config, waiter: ScriptedWaiter) -> Run {
    let session = Session::new(cfg).expect("session");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let waiter = Arc::new(waiter);
    let race = Race::new(cfg.clone(), session.clone())
        .events(Events::new(tx))
        .waiter(waiter.clone())
        .seed(42);
    let handle = tokio::spawn(race.run());
    let mut events = Vec::new();
    while let Some(ev) = tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .expect("a race event before the deadline")
    {
        events.push(ev);
    }
    let end = handle.await.expect("race task did not panic");
    let waited = waiter.waits.lock().unwrap().clone();
    Run {
        end,
        events,
        session,
        waited,
    }
}

// ---------------------------------------------------------------------------
// The shop restarts

#[tokio::test]
async fn app_server_restart_502s_then_a_new_listing_is_bought_within_a_few_polls() {
    // Polls 2–5 hit the proxy while the app server restarts; the listing is
    // published right after (first shown on poll 6).
    let shop = shop(Scenario {
        marketplace_script: (2..=5).map(|n| (n, status(502, None))).collect(),
        listings: vec![later("restart000000001", 5)],
        ..Scenario::new("org", "fest")
    })
    .await;
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    assert_bought_once(&shop);
    run.assert_waited_as_announced();
    // Bought on the first poll after the restart, not 30 s later.
    assert_eq!(shop.sim.marketplace_polls(), 6);
    assert_no_rate_limit_steps(&run);
    assert_trouble_ladder(&run.waits_for(WaitReason::ServerError));
    let lines = problems(&run);
    assert_eq!(lines.len(), 4, "one line per failed poll: {lines:?}");
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("marketplace answered HTTP 502; retrying in ")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn tls_front_restart_refuses_connections_then_the_race_buys_after_recovery() {
    let shop = Arc::new(
        shop(Scenario {
            // shown from the first poll the restarted front lets through
            listings: vec![later("restart000000002", 1)],
            ..Scenario::new("org", "fest")
        })
        .await,
    );
    let (down, up) = (shop.clone(), shop.clone());
    let waiter = ScriptedWaiter {
        actions: vec![
            // after poll 1: the front goes down (listener closed, open
            // connections dropped)...
            (
                1,
                Box::new(move || {
                    let s = down.clone();
                    Box::pin(async move { s.sim.pause_accepting().await })
                }),
            ),
            // ...and is back after two refused polls, on the same port.
            (
                3,
                Box::new(move || {
                    let s = up.clone();
                    Box::pin(async move { s.sim.resume_accepting().await.expect("rebind") })
                }),
            ),
        ],
        ..ScriptedWaiter::default()
    };
    let run = race_scripted(&shop.cfg, waiter).await;
    assert!(run.won().verified);
    assert_bought_once(&shop);
    assert_eq!(
        shop.sim.marketplace_polls(),
        2,
        "bought on the first poll back"
    );
    assert_no_rate_limit_steps(&run);
    assert_trouble_ladder(&run.waits_for(WaitReason::Network));
    assert_eq!(run.waits_for(WaitReason::Network).len(), 2);
    let port = shop.sim.addr().port();
    let lines = problems(&run);
    assert_eq!(lines.len(), 2, "{lines:?}");
    for l in &lines {
        assert!(
            l.starts_with(&format!(
                "marketplace: cannot connect to 127.0.0.1:{port}: connection refused; retrying in "
            )),
            "{l}"
        );
    }
}

#[tokio::test]
async fn connection_refused_at_start_retries_on_the_short_ladder() {
    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cfg = Config::new(&format!("https://127.0.0.1:{port}"), "org/fest").unwrap();
    cfg.interval = Duration::from_secs(2);
    let waits = Arc::new(AtomicUsize::new(0));
    let seen = waits.clone();
    let run = race_with(&cfg, CancellationToken::new(), move |e| {
        matches!(e, RaceEvent::Waiting { .. }) && seen.fetch_add(1, Ordering::SeqCst) + 1 == 4
    })
    .await;
    assert!(matches!(run.end, RaceEnd::Stopped(_)), "{:?}", run.end);
    let network = run.waits_for(WaitReason::Network);
    assert_eq!(network.len(), 4, "{:?}", run.waits());
    assert_trouble_ladder(&network);
    let lines = problems(&run);
    assert_eq!(lines.len(), 4, "one line per retry: {lines:?}");
    for (l, d) in lines.iter().zip(&network) {
        assert_eq!(
            *l,
            format!(
                "event page: cannot connect to 127.0.0.1:{port}: connection refused; retrying in {:.1} s",
                d.as_secs_f64()
            )
        );
    }
}

// ---------------------------------------------------------------------------
// A slow shop

fn short_timeouts(cfg: &mut Config) {
    cfg.timeouts = Timeouts {
        connect: Duration::from_millis(500),
        total: Duration::from_secs(2),
    };
}

#[tokio::test]
async fn a_tls_handshake_that_never_completes_times_out_and_is_retried() {
    let mut shop = shop(Scenario {
        stalled_handshakes: 2,
        listings: vec![ScriptedListing::new("slowconnect00001", "Ticket", "10.00")],
        ..Scenario::new("org", "fest")
    })
    .await;
    short_timeouts(&mut shop.cfg);
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    assert_bought_once(&shop);
    let port = shop.sim.addr().port();
    let lines = problems(&run);
    assert_eq!(lines.len(), 2, "{lines:?}");
    for l in &lines {
        assert!(
            l.starts_with(&format!(
                "event page: no answer from 127.0.0.1:{port} within 0.5 s (connect); retrying in "
            )),
            "{l}"
        );
    }
    assert_trouble_ladder(&run.waits_for(WaitReason::Network));
}

#[tokio::test]
async fn a_body_that_never_ends_times_out_and_the_race_goes_on() {
    let mut shop = shop(Scenario {
        marketplace_script: vec![(2, Scripted::StallBody)],
        listings: vec![later("slowbody00000001", 2)],
        ..Scenario::new("org", "fest")
    })
    .await;
    short_timeouts(&mut shop.cfg);
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    assert_bought_once(&shop);
    let port = shop.sim.addr().port();
    let lines = problems(&run);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!(
            "marketplace: no answer from 127.0.0.1:{port} within 2.0 s (response); retrying in "
        )),
        "{lines:?}"
    );
    assert_eq!(unknown_pages(&run), 0);
    assert_trouble_ladder(&run.waits_for(WaitReason::Network));
}

// ---------------------------------------------------------------------------
// Statuses and bodies

#[tokio::test]
async fn errors_500_502_504_and_an_empty_200_take_the_short_ladder() {
    let shop = shop(Scenario {
        marketplace_script: vec![
            (2, status(500, None)),
            (3, status(502, None)),
            (4, Scripted::GatewayTimeout),
            (5, Scripted::EmptyOk),
        ],
        listings: vec![later("statuses00000001", 5)],
        ..Scenario::new("org", "fest")
    })
    .await;
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    assert_bought_once(&shop);
    assert_eq!(shop.sim.marketplace_polls(), 6);
    assert_no_rate_limit_steps(&run);
    assert_trouble_ladder(&run.waits_for(WaitReason::ServerError));
    assert_eq!(run.waits_for(WaitReason::ServerError).len(), 4);
    // an empty 200 is trouble, not an odd page worth saving
    assert_eq!(unknown_pages(&run), 0);
    let lines = problems(&run);
    let heads: Vec<&str> = lines
        .iter()
        .map(|l| l.split("; retrying in ").next().unwrap())
        .collect();
    assert_eq!(
        heads,
        [
            "marketplace answered HTTP 500",
            "marketplace answered HTTP 502",
            "marketplace answered HTTP 504",
            "marketplace answered HTTP 200 with an empty body",
        ]
    );
}

#[tokio::test]
async fn the_trouble_ladder_resets_on_the_first_good_response() {
    let shop = shop(Scenario {
        marketplace_script: vec![
            (2, status(500, None)),
            (3, status(500, None)),
            // poll 4 is good
            (5, status(500, None)),
        ],
        listings: vec![later("reset00000000001", 5)],
        ..Scenario::new("org", "fest")
    })
    .await;
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    let waits = run.waits_for(WaitReason::ServerError);
    assert_eq!(waits.len(), 3, "{waits:?}");
    assert_trouble_ladder(&waits[..2]);
    assert_trouble_ladder(&waits[2..]);
}

#[tokio::test]
async fn absurd_retry_after_is_capped() {
    let shop = shop(Scenario {
        marketplace_script: vec![
            (2, status(429, Some("999999"))),
            (3, status(409, Some("Fri, 01 Jan 2100 00:00:00 GMT"))),
            (4, status(503, Some("999999"))),
        ],
        listings: vec![later("absurd0000000001", 4)],
        ..Scenario::new("org", "fest")
    })
    .await;
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    assert_bought_once(&shop);
    let secs = Duration::from_secs;
    assert_eq!(run.waits_for(WaitReason::RateLimited), [secs(300)]);
    // 409: as told, within five minutes; 503 is trouble: within a minute
    assert_eq!(run.waits_for(WaitReason::RetryAfter), [secs(300), secs(60)]);
}

#[tokio::test]
async fn a_busy_503_waits_as_told_and_is_not_saved_as_an_odd_page() {
    let shop = shop(Scenario {
        marketplace_script: vec![(2, status(503, Some("7"))), (3, status(503, Some("7")))],
        listings: vec![later("busy000000000001", 3)],
        ..Scenario::new("org", "fest")
    })
    .await;
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    assert_bought_once(&shop);
    assert_eq!(
        run.waits_for(WaitReason::RetryAfter),
        [Duration::from_secs(7); 2]
    );
    assert_eq!(unknown_pages(&run), 0);
    assert_no_rate_limit_steps(&run);
}

#[tokio::test]
async fn an_oversized_body_is_refused_and_the_race_goes_on() {
    let shop = shop(Scenario {
        marketplace_script: vec![(
            2,
            Scripted::Oversized {
                bytes: 8 * 1024 * 1024,
            },
        )],
        listings: vec![later("oversized0000001", 2)],
        ..Scenario::new("org", "fest")
    })
    .await;
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    assert_bought_once(&shop);
    let port = shop.sim.addr().port();
    let lines = problems(&run);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!(
            "marketplace: 127.0.0.1:{port} sent a response larger than 5 MiB; not read; retrying in "
        )),
        "{lines:?}"
    );
    assert_eq!(unknown_pages(&run), 0);
}

#[tokio::test]
async fn invalid_utf8_in_an_irrelevant_place_still_yields_the_listings() {
    let shop = shop(Scenario {
        marketplace_script: vec![(1, Scripted::InvalidUtf8)],
        listings: vec![ScriptedListing::new("badutf8000000001", "Ticket", "10.00")],
        ..Scenario::new("org", "fest")
    })
    .await;
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    assert_bought_once(&shop);
    assert_eq!(shop.sim.marketplace_polls(), 1, "bought from the odd page");
    assert!(problems(&run).is_empty());
}

// ---------------------------------------------------------------------------
// Redirects

#[tokio::test]
async fn an_event_page_redirect_loop_is_cut_off_and_retried() {
    // Every discovery follows 5 redirects (6 GETs); two discoveries hit the
    // loop, the third gets the page.
    let shop = shop(Scenario {
        event_script: (1..=12).map(|n| (n, Scripted::RedirectLoop)).collect(),
        listings: vec![ScriptedListing::new("loop000000000001", "Ticket", "10.00")],
        ..Scenario::new("org", "fest")
    })
    .await;
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    assert_bought_once(&shop);
    let event_gets = shop.count(|r| r.path == "/org/fest/");
    assert_eq!(event_gets, 13);
    assert_trouble_ladder(&run.waits_for(WaitReason::ServerError));
    let lines = problems(&run);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let event_url = shop.sim.event_url();
    for l in &lines {
        assert!(
            l.starts_with(&format!(
                "event page: {event_url} redirects more than 5 times (a loop?); not following; retrying in "
            )),
            "{l}"
        );
    }
    assert_no_rate_limit_steps(&run);
}

#[tokio::test]
async fn redirects_to_another_host_are_never_followed() {
    // Another port is another origin: a second server stands in for a
    // foreign site, and must never see a request from us.
    let elsewhere = SimServer::start(Scenario::new("other", "site"))
        .await
        .unwrap();
    let shop = shop(Scenario {
        // the marketplace sends us off-site (a session-lost shape), and so
        // does the event page on the rediscovery after it
        marketplace_script: vec![(2, Scripted::RedirectTo(elsewhere.marketplace_url()))],
        event_script: vec![(2, Scripted::RedirectTo(elsewhere.event_url()))],
        listings: vec![later("offsite000000001", 2)],
        ..Scenario::new("org", "fest")
    })
    .await;
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    assert_bought_once(&shop);
    assert!(
        elsewhere.requests().is_empty(),
        "the other host was contacted: {:?}",
        elsewhere.requests()
    );
    let lines = problems(&run);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!(
            "event page redirects to another site ({}), not following; retrying in ",
            elsewhere.event_url()
        )),
        "{lines:?}"
    );
}

// ---------------------------------------------------------------------------
// Compressed pages

async fn compressed_page_is_bought(encoding: Scripted, token: &str) {
    let shop = shop(Scenario {
        marketplace_script: vec![(1, encoding)],
        listings: vec![ScriptedListing::new("compressed000001", "Ticket", "10.00")],
        ..Scenario::new("org", "fest")
    })
    .await;
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    assert_bought_once(&shop);
    assert_eq!(
        shop.sim.marketplace_polls(),
        1,
        "bought from the compressed page"
    );
    let poll = shop
        .sim
        .requests()
        .into_iter()
        .find(|r| r.path == "/org/fest/secondhand/")
        .unwrap();
    let accepted = poll.header("accept-encoding").unwrap_or_default();
    assert!(
        accepted.split(',').any(|e| e.trim() == token),
        "we accept {token} as a browser does: {accepted:?}"
    );
}

#[tokio::test]
async fn a_gzip_page_is_decoded_and_its_listing_bought() {
    compressed_page_is_bought(Scripted::Gzip, "gzip").await;
}

#[tokio::test]
async fn a_brotli_page_is_decoded_and_its_listing_bought() {
    compressed_page_is_bought(Scripted::Brotli, "br").await;
}

// ---------------------------------------------------------------------------
// A page that arrives in parts

/// A shop whose first marketplace page sends everything up to the end of
/// the listing's buy form, then holds the rest until a buy POST arrives or
/// `hold` passes.
async fn held_tail_shop(hold: Duration) -> common::Shop {
    shop(Scenario {
        marketplace_script: vec![(1, Scripted::HeldTail { hold })],
        listings: vec![ScriptedListing::new("streamed00000001", "Ticket", "10.00")],
        ..Scenario::new("org", "fest")
    })
    .await
}

#[tokio::test]
async fn the_buy_leaves_as_soon_as_the_listings_form_is_in() {
    // Long enough that a racer waiting for the whole page would show (and
    // the test would fail on the release flag, not on time).
    let shop = held_tail_shop(Duration::from_secs(30)).await;
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    assert_bought_once(&shop);
    assert_eq!(
        shop.sim.held_tails(),
        vec![true],
        "the page's tail was released by our POST: it left before the page ended"
    );
    assert_eq!(shop.sim.marketplace_polls(), 1);
}

#[tokio::test]
async fn without_early_fire_the_whole_page_is_awaited_and_still_bought() {
    let mut shop = held_tail_shop(Duration::from_millis(300)).await;
    shop.cfg.fire_early = false;
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    assert_bought_once(&shop);
    assert_eq!(
        shop.sim.held_tails(),
        vec![false],
        "no POST before the page was complete"
    );
}

#[tokio::test]
async fn stopped_while_the_page_streams_a_post_that_left_is_seen_through() {
    // The page's tail never comes (within the test); our POST left before,
    // and the race is stopped the moment the shop has it.
    let shop = shop(Scenario {
        marketplace_script: vec![(
            1,
            Scripted::StalledTail {
                hold: Duration::from_secs(60),
            },
        )],
        listings: vec![ScriptedListing::new("stalled000000001", "Ticket", "10.00")],
        ..Scenario::new("org", "fest")
    })
    .await;
    let cancel = CancellationToken::new();
    let stop = cancel.clone();
    let posted = shop.sim.buy_posted();
    tokio::spawn(async move {
        posted.await;
        stop.cancel();
    });
    let run = race_with(&shop.cfg, cancel, |_| false).await;
    assert!(
        run.won().verified,
        "the cart the POST reserved is handed over, stop or no stop"
    );
    assert_bought_once(&shop);
    assert_eq!(
        shop.sim.marketplace_polls(),
        1,
        "bought from the stalled page"
    );
    assert!(
        shop.sim.held_tails().is_empty(),
        "the race ended before the page did"
    );
}

/// How often `get_page_watching` showed the marketplace page (with a
/// listing) to its watcher, from a shop speaking HTTP/2 or only HTTP/1.1.
async fn looks_at_a_page(http2: bool) -> usize {
    let shop = shop(Scenario {
        http2,
        listings: vec![ScriptedListing::new("watched000000001", "Ticket", "10.00")],
        ..Scenario::new("org", "fest")
    })
    .await;
    let session = Session::new(&shop.cfg).expect("session");
    let url = url::Url::parse(&shop.sim.marketplace_url()).expect("url");
    let mut looks = 0;
    let mut watch = |_: &str| {
        looks += 1;
        false
    };
    let (visit, fired) = session
        .get_page_watching(&url, None, Some(&mut watch))
        .await;
    assert!(
        matches!(visit, Ok(Visit::Page(Page { status: 200, .. }))),
        "{visit:?}"
    );
    assert!(!fired);
    looks
}

#[tokio::test]
async fn only_a_page_over_http2_is_watched_as_it_arrives() {
    // HTTP/1.1 cannot carry a POST beside the page: one fired early would
    // only wait for a second connection's handshakes.
    assert!(looks_at_a_page(true).await >= 1);
    assert_eq!(looks_at_a_page(false).await, 0);
}

// ---------------------------------------------------------------------------
// A server that closes a connection after so many requests (nginx's
// `keepalive_requests`)

/// A shop closing every connection after its 10th request, with one
/// listing from the 31st poll on.
async fn short_lived_connections_shop() -> common::Shop {
    shop(Scenario {
        max_requests_per_connection: Some(10),
        listings: vec![ScriptedListing {
            appears: Trigger::AfterPolls(30),
            ..ScriptedListing::new("keepalive0000001", "Ticket", "10.00")
        }],
        ..Scenario::new("org", "fest")
    })
    .await
}

#[tokio::test]
async fn the_connection_is_renewed_between_polls_before_the_server_closes_it() {
    let mut shop = short_lived_connections_shop().await;
    // Five polls (and a buy's few requests) stay under the shop's ten.
    shop.cfg.renew_connection_after = 5;
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    assert_bought_once(&shop);
    assert_eq!(shop.sim.marketplace_polls(), 31);
    assert_eq!(
        shop.sim.connections_closed_at_limit(),
        0,
        "the shop never had to close a connection on us"
    );
    // 31 polls at five a connection: seven connections, each opened by a poll.
    assert_eq!(shop.sim.connections_accepted(), 7);
    assert_eq!(run.session.connections_opened(), 7);
}

#[tokio::test]
async fn a_server_closing_connections_is_followed_to_a_new_one() {
    let mut shop = short_lived_connections_shop().await;
    shop.cfg.renew_connection_after = u64::MAX;
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    assert_bought_once(&shop);
    assert!(
        shop.sim.connections_closed_at_limit() >= 3,
        "32 requests and more at ten a connection: {}",
        shop.sim.connections_closed_at_limit()
    );
    assert_eq!(
        run.session.connections_opened(),
        shop.sim.connections_accepted(),
        "every connection the shop accepted was one we opened"
    );
}

// ---------------------------------------------------------------------------
// The disk

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn unwritable_live_responses_warns_once_and_the_win_is_still_handed_off() {
    let mut shop = shop(Scenario {
        // two odd pages the runner would save, then the listing
        marketplace_script: vec![(2, Scripted::OddPage), (3, Scripted::OddPage)],
        listings: vec![later("nodisk0000000001", 3)],
        ..Scenario::new("org", "fest")
    })
    .await;
    // A directory below a regular file: ENOTDIR for everyone, root included.
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("file");
    std::fs::write(&file, "").unwrap();
    shop.cfg.live_responses = file.join("live-responses");
    // The real runner waits in real time: keep the interval short.
    shop.cfg.interval = Duration::from_millis(20);

    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .with_writer(move || writer.clone())
        .finish();
    // `#[tokio::test]` runs every task on this thread: they all log here.
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut out = Vec::new();
    let _exit = pretix_race::runner::run(
        shop.cfg.clone(),
        pretix_race::notify::Notify::default(),
        CancellationToken::new(),
        &mut out,
    )
    .await;

    assert_bought_once(&shop);
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("/org/fest/checkout/"),
        "the handoff is printed even though nothing can be saved: {out}"
    );
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let page_warnings = logs
        .lines()
        .filter(|l| l.contains("could not save the unexpected page"))
        .count();
    assert_eq!(page_warnings, 1, "{logs}");
}
