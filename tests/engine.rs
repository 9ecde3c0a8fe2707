//! The race engine against the simulator, over real HTTPS + HTTP/2.
//!
//! Waits run in virtual time (see `common::RecordingWaiter`), so a scenario
//! with a 300 s backoff finishes in milliseconds and the schedule itself is
//! what we assert on. Listings appear after N polls, never after a sleep.

mod common;

use std::time::Duration;

use common::{race, race_with, shop};
use pretix_race::cart::{CartOutcome, LostReason};
use pretix_race::decide::Skip;
use pretix_race::events::{RaceEvent, WaitReason};
use pretix_race::race::RaceEnd;
use pretix_race_shared::{SameSite, SortOrder};
use pretix_race_sim::{LinkStyle, LostStyle, Scenario, Scripted, ScriptedListing, Trigger};
use tokio_util::sync::CancellationToken;

fn listing(id: &str, ty: &str, price: &str) -> ScriptedListing {
    ScriptedListing::new(id, ty, price)
}

fn later(id: &str, ty: &str, price: &str, polls: u64) -> ScriptedListing {
    ScriptedListing {
        appears: Trigger::AfterPolls(polls),
        ..listing(id, ty, price)
    }
}

fn taken(id: &str, ty: &str, price: &str) -> ScriptedListing {
    ScriptedListing {
        taken_by_competitor: true,
        ..listing(id, ty, price)
    }
}

fn cart_outcomes(events: &[RaceEvent]) -> Vec<(String, CartOutcome)> {
    events
        .iter()
        .filter_map(|e| match e {
            RaceEvent::CartAttempt {
                listing, outcome, ..
            } => Some((listing.ticket_type.clone(), outcome.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn discovers_polls_carts_and_verifies_checkout() {
    let shop = shop(Scenario {
        listings: vec![later("aaaaaaaaaaaaaaa1", "Ticket – Type A", "190.00", 2)],
        ..Scenario::new("org", "fest")
    })
    .await;
    let run = race(&shop.cfg).await;
    let win = run.won();
    assert!(win.verified);
    assert_eq!(win.listing.ticket_type, "Ticket – Type A");
    assert_eq!(win.listing.price_text, "190.00 EUR");
    assert!(
        win.checkout_url
            .path()
            .ends_with("/org/fest/checkout/questions/"),
        "{}",
        win.checkout_url
    );
    assert!(win.expires_at.is_some());

    let reqs = shop.sim.requests();
    // 1. the event page first, like a person typing the address
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].path, "/org/fest/");
    assert_eq!(reqs[0].header("referer"), None);
    // 2. the marketplace link, with the event page as Referer
    assert_eq!(reqs[1].path, "/org/fest/secondhand/");
    assert_eq!(
        reqs[1].header("referer"),
        Some(shop.sim.event_url().as_str())
    );
    // everything over HTTP/2
    assert!(
        reqs.iter().all(|r| r.version == "HTTP/2.0"),
        "{:?}",
        reqs.iter().map(|r| &r.version).collect::<Vec<_>>()
    );
    // browser-like headers
    assert!(reqs[1].header("user-agent").unwrap().contains("Chrome/"));
    assert!(reqs[1].header("sec-ch-ua").is_some());
    assert!(reqs[1].header("accept-language").is_some());

    // 3. the buy POST: token from the page, cookies, Origin and Referer
    let post = reqs
        .iter()
        .find(|r| r.method == "POST")
        .expect("a buy POST");
    assert_eq!(post.path, "/org/fest/secondhand/buy/aaaaaaaaaaaaaaa1/");
    assert_eq!(post.status, 302);
    assert_eq!(post.header("origin"), Some(shop.sim.base_url().as_str()));
    assert_eq!(
        post.header("referer"),
        Some(shop.sim.marketplace_url().as_str())
    );
    let token = &post.form.as_ref().unwrap()["csrfmiddlewaretoken"];
    assert_eq!(token.len(), 64);
    assert_eq!(token, &win.transcript.csrf_token);
    for name in [
        "__QXSESSION",
        "__Host-pretix_csrftoken",
        "__Host-pretix_session",
    ] {
        assert!(
            post.cookies.contains_key(name),
            "{name} missing from {:?}",
            post.cookies
        );
    }
    let cookie_header = post.header("cookie").unwrap();
    assert!(cookie_header.contains("__Host-pretix_session="));

    // 4. checkout fetched with the same session, and the sale is ours
    let checkout = reqs
        .iter()
        .find(|r| r.path.ends_with("/checkout/questions/"))
        .expect("checkout GET");
    assert_eq!(checkout.status, 200);
    assert_eq!(
        checkout.cookies["__Host-pretix_session"],
        post.cookies["__Host-pretix_session"]
    );
    let sold = shop.sim.sold();
    assert_eq!(sold.len(), 1);
    assert_eq!(sold[0].session, post.cookies["__Host-pretix_session"]);

    // the handed-over cookies are exactly the session's, attributes intact
    let session = win
        .cookies
        .iter()
        .find(|c| c.name == "__Host-pretix_session")
        .unwrap();
    assert_eq!(session.value, post.cookies["__Host-pretix_session"]);
    assert!(session.partitioned && session.secure && session.http_only && session.host_only);
    assert_eq!(session.same_site, Some(SameSite::None));
    assert_eq!(win.cookies.len(), 3);
}

#[tokio::test]
async fn every_link_style_is_resolved() {
    for style in [
        LinkStyle::Absolute,
        LinkStyle::RootRelative,
        LinkStyle::Relative,
    ] {
        let shop = shop(Scenario {
            link_style: style,
            listings: vec![listing("bbbbbbbbbbbbbbb1", "Ticket", "50.00")],
            ..Scenario::new("org", "fest")
        })
        .await;
        let run = race(&shop.cfg).await;
        assert!(run.won().verified, "{style:?}");
    }
}

#[tokio::test]
async fn missing_marketplace_link_ends_the_race_with_not_found() {
    let shop = shop(Scenario {
        marketplace_link: Trigger::Never,
        ..Scenario::new("org", "fest")
    })
    .await;
    let run = race(&shop.cfg).await;
    assert!(
        matches!(run.end, RaceEnd::MarketplaceNotFound { .. }),
        "{:?}",
        run.end
    );
    assert!(shop
        .sim
        .requests()
        .iter()
        .all(|r| !r.path.contains("secondhand")));
}

#[tokio::test]
async fn waits_for_a_marketplace_link_that_appears_later() {
    let mut shop = shop(Scenario {
        marketplace_link: Trigger::AfterPolls(3),
        listings: vec![listing("ccccccccccccccc1", "Ticket", "80.00")],
        ..Scenario::new("org", "fest")
    })
    .await;
    shop.cfg.poll_inactive_marketplace = Some(Duration::from_secs(60));
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    let missing: Vec<_> = run.waits_for(WaitReason::MarketplaceMissing);
    assert_eq!(missing.len(), 3);
    for d in missing {
        assert!(
            d >= Duration::from_secs(48) && d <= Duration::from_secs(72),
            "{d:?}"
        );
    }
    let event_gets = shop.count(|r| r.path == "/org/fest/");
    assert_eq!(event_gets, 4);
}

#[tokio::test]
async fn inactive_marketplace_is_watched_not_an_error() {
    let shop = shop(Scenario {
        marketplace_active: Trigger::AfterPolls(2),
        listings: vec![listing("ddddddddddddddd1", "Ticket", "80.00")],
        ..Scenario::new("org", "fest")
    })
    .await;
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    let inactive = run
        .events
        .iter()
        .filter(|e| matches!(e, RaceEvent::MarketplaceInactive))
        .count();
    assert_eq!(inactive, 2);
    assert!(!run
        .events
        .iter()
        .any(|e| matches!(e, RaceEvent::Problem { .. })));
}

#[tokio::test]
async fn lost_race_tries_the_next_listing_on_the_same_page() {
    let shop = shop(Scenario {
        listings: vec![
            taken("eeeeeeeeeeeeeee1", "Ticket – Type B", "220.00"),
            listing("eeeeeeeeeeeeeee2", "Ticket – Type A", "190.00"),
        ],
        ..Scenario::new("org", "fest")
    })
    .await;
    let run = race(&shop.cfg).await;
    let outcomes = cart_outcomes(&run.events);
    assert_eq!(outcomes.len(), 2);
    assert_eq!(
        outcomes[0],
        (
            "Ticket – Type B".into(),
            CartOutcome::Lost(LostReason::TicketUnavailable)
        )
    );
    assert!(matches!(
        outcomes[1].1,
        CartOutcome::Won { verified: true, .. }
    ));
    assert_eq!(run.won().listing.ticket_type, "Ticket – Type A");
    // straight from one POST to the next: no poll, no wait in between
    assert!(run.waits().is_empty(), "{:?}", run.waits());
    let polls = shop.count(|r| r.path.ends_with("/secondhand/"));
    assert_eq!(polls, 1);
}

#[tokio::test]
async fn lost_race_resumes_polling_until_the_next_listing() {
    for style in [LostStyle::UnavailablePage, LostStyle::Redirect] {
        let shop = shop(Scenario {
            lost_style: style,
            listings: vec![
                taken("fffffffffffffff1", "Ticket – Type B", "220.00"),
                later("fffffffffffffff2", "Ticket – Type A", "190.00", 3),
            ],
            ..Scenario::new("org", "fest")
        })
        .await;
        let run = race(&shop.cfg).await;
        let outcomes = cart_outcomes(&run.events);
        assert!(
            matches!(outcomes[0].1, CartOutcome::Lost(_)),
            "{style:?}: {outcomes:?}"
        );
        assert_eq!(outcomes.len(), 2, "the lost listing is never POSTed twice");
        assert_eq!(run.won().listing.ticket_type, "Ticket – Type A");
        assert!(run.waits().iter().all(|(r, _)| *r == WaitReason::Interval));
        assert_eq!(run.waits().len(), 3);
        let posts = shop.posts();
        assert_eq!(posts, 2);
    }
}

#[tokio::test]
async fn rate_limits_back_off_30_60_120_240_300_and_reset() {
    let mut script: Vec<(u64, Scripted)> =
        (2..=7).map(|n| (n, Scripted::TooManyRequests)).collect();
    script.push((9, Scripted::TooManyRequests));
    let shop = shop(Scenario {
        marketplace_script: script,
        listings: vec![later("ggggggggggggggg1", "Ticket", "10.00", 10)],
        ..Scenario::new("org", "fest")
    })
    .await;
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    assert_eq!(
        run.backoff_secs(WaitReason::RateLimited),
        [30, 60, 120, 240, 300, 300, 30]
    );
    run.assert_waited_as_announced();
}

#[tokio::test]
async fn conflict_waits_as_retry_after_says() {
    // an HTTP date 90 s ahead; the parsed wait is a bit under that
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(90));
    let shop = shop(Scenario {
        marketplace_script: vec![
            (
                2,
                Scripted::Conflict {
                    retry_after: "7".into(),
                },
            ),
            (3, Scripted::Conflict { retry_after: date }),
        ],
        listings: vec![later("hhhhhhhhhhhhhhh1", "Ticket", "10.00", 4)],
        ..Scenario::new("org", "fest")
    })
    .await;
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    let told: Vec<Duration> = run.waits_for(WaitReason::RetryAfter);
    assert_eq!(told.len(), 2);
    assert_eq!(told[0], Duration::from_secs(7));
    assert!(
        told[1] > Duration::from_secs(80) && told[1] <= Duration::from_secs(90),
        "{:?}",
        told[1]
    );
}

#[tokio::test]
async fn server_errors_back_off_and_never_exit() {
    let shop = shop(Scenario {
        marketplace_script: vec![(2, Scripted::Unavailable), (3, Scripted::Unavailable)],
        listings: vec![later("iiiiiiiiiiiiii01", "Ticket", "10.00", 3)],
        ..Scenario::new("org", "fest")
    })
    .await;
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    // 5xx says nothing about us: the short trouble ladder (interval 2 s,
    // doubling, ±20 %), not the 429 ladder's 30 s.
    let waits = run.waits_for(WaitReason::ServerError);
    assert_eq!(waits.len(), 2, "{waits:?}");
    for (d, step) in waits.iter().zip([2.0, 4.0]) {
        assert!(
            (step * 0.8..=step * 1.2).contains(&d.as_secs_f64()),
            "{waits:?}"
        );
    }
    run.assert_waited_as_announced();
}

#[tokio::test]
async fn session_reset_rediscovers_once_and_wins_with_the_new_session() {
    let shop = shop(Scenario {
        session_reset_at_poll: Some(3),
        listings: vec![later("jjjjjjjjjjjjjjj1", "Ticket", "10.00", 4)],
        ..Scenario::new("org", "fest")
    })
    .await;
    let run = race(&shop.cfg).await;
    let win = run.won();
    assert!(win.verified);
    let lost = run
        .events
        .iter()
        .filter(|e| matches!(e, RaceEvent::SessionLost { .. }))
        .count();
    assert_eq!(lost, 1);
    let reqs = shop.sim.requests();
    let event_gets: Vec<_> = reqs.iter().filter(|r| r.path == "/org/fest/").collect();
    assert_eq!(event_gets.len(), 2, "discovery ran exactly once more");
    let first_session = &reqs[1].cookies["__Host-pretix_session"];
    let post = reqs.iter().find(|r| r.method == "POST").unwrap();
    assert_ne!(&post.cookies["__Host-pretix_session"], first_session);
    let handed = win
        .cookies
        .iter()
        .find(|c| c.name == "__Host-pretix_session")
        .unwrap();
    assert_eq!(handed.value, post.cookies["__Host-pretix_session"]);
}

#[tokio::test]
async fn csrf_rejection_refreshes_the_token_and_retries_once() {
    let shop = shop(Scenario {
        reject_first_buy_csrf: true,
        listings: vec![listing("kkkkkkkkkkkkkkk1", "Ticket", "10.00")],
        ..Scenario::new("org", "fest")
    })
    .await;
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    let outcomes = cart_outcomes(&run.events);
    assert_eq!(outcomes[0].1, CartOutcome::CsrfRejected);
    assert!(
        !outcomes
            .iter()
            .any(|(_, o)| matches!(o, CartOutcome::Lost(_))),
        "a 403 is not a lost race"
    );
    let posts: Vec<_> = shop
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0].status, 403);
    assert_ne!(
        posts[0].form.as_ref().unwrap()["csrfmiddlewaretoken"],
        posts[1].form.as_ref().unwrap()["csrfmiddlewaretoken"]
    );
}

#[tokio::test]
async fn filters_reach_the_shop_and_pick_the_listing() {
    let mut shop = shop(Scenario {
        listings: vec![
            listing("lllllllllllllll1", "Ticket – Type A", "300.00"),
            listing("lllllllllllllll2", "Ticket – Type A", "120.00"),
            listing("lllllllllllllll3", "Ticket – Type B", "100.00"),
        ],
        ..Scenario::new("org", "fest")
    })
    .await;
    shop.cfg.filters.item = Some("965".into());
    shop.cfg.filters.sort = Some(SortOrder::Newest);
    shop.cfg.filters.max_price = Some(150.0);
    shop.cfg.filters.ticket_type = Some("type a".into());
    // The shop filters by item and sorts; max price and ticket type are ours.
    let run = race(&shop.cfg).await;
    assert_eq!(run.won().listing.price_text, "120.00 EUR");
    let posts: Vec<_> = shop
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 1, "non-matching listings are never POSTed");
}

#[tokio::test]
async fn a_filtered_listing_is_logged_once_with_its_reason() {
    let mut shop = shop(Scenario {
        listings: vec![
            listing("sssssssssssssss1", "Ticket – Type A", "300.00"),
            listing("sssssssssssssss2", "Ticket – Type B", "100.00"),
            later("sssssssssssssss3", "Ticket – Type A", "120.00", 4),
        ],
        ..Scenario::new("org", "fest")
    })
    .await;
    shop.cfg.filters.max_price = Some(150.0);
    shop.cfg.filters.ticket_type = Some("type a".into());
    let run = race(&shop.cfg).await;
    assert_eq!(run.won().listing.price_text, "120.00 EUR");
    let skipped: Vec<(String, Skip)> = run
        .events
        .iter()
        .filter_map(|e| match e {
            RaceEvent::Skipped { listing, reason } => {
                Some((listing.price_text.clone(), reason.clone()))
            }
            _ => None,
        })
        .collect();
    // Several polls saw both filtered listings; each is reported once.
    assert!(shop.sim.marketplace_polls() >= 4);
    assert_eq!(
        skipped,
        [
            ("300.00 EUR".to_string(), Skip::TooExpensive { max: 150.0 }),
            (
                "100.00 EUR".to_string(),
                Skip::OtherType {
                    want: "type a".into()
                }
            ),
        ]
    );
}

#[tokio::test]
async fn item_and_sort_are_sent_on_every_poll() {
    let mut shop = shop(Scenario {
        listings: vec![later("mmmmmmmmmmmmmmm1", "Ticket", "10.00", 3)],
        ..Scenario::new("org", "fest")
    })
    .await;
    shop.cfg.filters.item = Some("965".into());
    shop.cfg.filters.sort = Some(SortOrder::PriceAsc);
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    let polls: Vec<_> = shop
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/secondhand/"))
        .collect();
    assert_eq!(polls.len(), 4);
    assert_eq!(
        polls[0].query, None,
        "the first visit is the link as clicked"
    );
    for p in &polls[1..] {
        assert_eq!(p.query.as_deref(), Some("item=965&sort=price_asc"));
        assert_eq!(
            p.header("referer"),
            Some(shop.sim.marketplace_url().as_str())
        );
    }
}

#[tokio::test]
async fn dry_run_detects_and_never_posts() {
    let mut shop = shop(Scenario {
        listings: vec![
            later("nnnnnnnnnnnnnnn1", "Ticket – Type A", "190.00", 1),
            later("nnnnnnnnnnnnnnn2", "Ticket – Type B", "220.00", 3),
        ],
        ..Scenario::new("org", "fest")
    })
    .await;
    shop.cfg.dry_run = true;
    let run = race_with(
        &shop.cfg,
        CancellationToken::new(),
        |e| matches!(e, RaceEvent::Detected { listing, .. } if listing.ticket_type.ends_with('B')),
    )
    .await;
    assert!(matches!(run.end, RaceEnd::Stopped(_)), "{:?}", run.end);
    let detected: Vec<_> = run
        .events
        .iter()
        .filter_map(|e| match e {
            RaceEvent::Detected { listing, .. } => Some(listing.ticket_type.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        detected,
        ["Ticket – Type A", "Ticket – Type B"],
        "each listing reported once"
    );
    assert!(shop.sim.requests().iter().all(|r| r.method != "POST"));
    assert!(shop.sim.sold().is_empty());
}

#[tokio::test]
async fn poll_waits_are_jittered_within_twenty_percent() {
    let shop = shop(Scenario {
        listings: vec![later("ooooooooooooooo1", "Ticket", "10.00", 40)],
        ..Scenario::new("org", "fest")
    })
    .await;
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    // what the race really waited, not only what it announced
    run.assert_waited_as_announced();
    let waits = &run.waited;
    assert_eq!(waits.len(), 40);
    for d in waits {
        assert!(
            *d >= Duration::from_millis(1600) && *d <= Duration::from_millis(2400),
            "{d:?}"
        );
    }
    let distinct: std::collections::HashSet<_> = waits.iter().collect();
    assert!(distinct.len() > 30, "waits are jittered, not constant");
}

#[tokio::test]
async fn cancelling_stops_cleanly_with_a_summary() {
    let shop = shop(Scenario::new("org", "fest")).await;
    let run = race_with(&shop.cfg, CancellationToken::new(), |e| {
        matches!(e, RaceEvent::Polled { poll: 5, .. })
    })
    .await;
    match run.end {
        RaceEnd::Stopped(summary) => assert_eq!(summary.polls, 5),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn rate_limited_buy_is_not_a_loss_and_the_listing_is_tried_again() {
    let shop = shop(Scenario {
        buy_script: vec![(1, Scripted::TooManyRequests)],
        listings: vec![listing("ppppppppppppppp1", "Ticket", "10.00")],
        ..Scenario::new("org", "fest")
    })
    .await;
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    let outcomes = cart_outcomes(&run.events);
    assert_eq!(
        outcomes[0].1,
        CartOutcome::RateLimited { retry_after: None }
    );
    assert!(matches!(
        outcomes[1].1,
        CartOutcome::Won { verified: true, .. }
    ));
    assert_eq!(
        run.waits_for(WaitReason::RateLimited),
        [Duration::from_secs(30)]
    );
    let posts = shop.posts();
    assert_eq!(posts, 2, "one POST per poll, never hammered");
}

#[tokio::test]
async fn server_error_on_buy_checks_the_cart_then_backs_off() {
    let shop = shop(Scenario {
        buy_script: vec![(1, Scripted::Unavailable)],
        listings: vec![listing("qqqqqqqqqqqqqqq1", "Ticket", "10.00")],
        ..Scenario::new("org", "fest")
    })
    .await;
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    assert_eq!(
        cart_outcomes(&run.events)[0].1,
        CartOutcome::ServerError { status: 503 }
    );
    // the short trouble ladder's first step: the 2 s interval, ±20 %
    let waits = run.waits_for(WaitReason::ServerError);
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert!((1.6..=2.4).contains(&waits[0].as_secs_f64()), "{waits:?}");
    let reqs = shop.sim.requests();
    let first_post = reqs.iter().position(|r| r.method == "POST").unwrap();
    assert!(
        reqs[first_post + 1].path.ends_with("/checkout/start"),
        "the cart is checked right after the 503: {:?}",
        reqs.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_lost_answer_after_the_shop_reserved_the_ticket_is_still_a_win() {
    let shop = shop(Scenario {
        buy_script: vec![(1, Scripted::GatewayTimeout)],
        listings: vec![listing("rrrrrrrrrrrrrrr1", "Ticket – Type A", "190.00")],
        ..Scenario::new("org", "fest")
    })
    .await;
    let run = race(&shop.cfg).await;
    let win = run.won();
    assert!(win.verified);
    assert!(win.checkout_url.path().ends_with("/checkout/questions/"));
    let posts = shop.posts();
    assert_eq!(posts, 1, "found in the cart, not bought twice");
    assert_eq!(shop.sim.sold().len(), 1);
    assert!(run.waits().is_empty());
}

#[tokio::test]
async fn a_dropped_connection_is_reconnected_transparently() {
    let shop = shop(Scenario {
        marketplace_script: vec![(2, Scripted::DropConnection)],
        listings: vec![later("sssssssssssssss1", "Ticket", "10.00", 3)],
        ..Scenario::new("org", "fest")
    })
    .await;
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    // the dropped GET was retried at once on a new connection: no backoff,
    // no problem reported, no rediscovery
    assert!(
        run.waits().iter().all(|(r, _)| *r == WaitReason::Interval),
        "{:?}",
        run.waits()
    );
    assert!(!run
        .events
        .iter()
        .any(|e| matches!(e, RaceEvent::Problem { .. } | RaceEvent::SessionLost { .. })));
    assert_eq!(
        shop.sim.marketplace_polls(),
        4,
        "polls 1-4, the 2nd dropped and retried as the 3rd"
    );
}

#[tokio::test]
async fn unknown_pages_are_saved_privately_and_polling_goes_on() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let mut shop = shop(Scenario {
        marketplace_script: vec![(2, Scripted::OddPage)],
        listings: vec![later("ttttttttttttttt1", "Ticket", "10.00", 3)],
        ..Scenario::new("org", "fest")
    })
    .await;
    shop.cfg.live_responses = tmp.path().join("live");
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    // The engine writes no files: it hands the page to its listener, which
    // saves it the way the terminal runner and the native host do.
    let odd = run
        .events
        .iter()
        .find(|e| matches!(e, RaceEvent::UnknownPage { status: 200, .. }))
        .expect("the odd page was reported");
    assert!(
        !shop.cfg.live_responses.exists(),
        "the race itself saved nothing"
    );
    let saved = pretix_race::artifacts::save_unknown_page(&shop.cfg.live_responses, odd)
        .expect("the odd page was saved");
    let body = std::fs::read_to_string(&saved).unwrap();
    assert!(body.contains("We'll be right back"));
    let saved = saved.display().to_string();
    assert!(saved.contains("unknown_"), "{saved}");
    assert_eq!(
        std::fs::metadata(&saved).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[tokio::test]
async fn deleted_session_cookies_are_a_lost_session() {
    let shop = shop(Scenario {
        marketplace_script: vec![(2, Scripted::ClearCookies)],
        listings: vec![later("uuuuuuuuuuuuuuu1", "Ticket", "10.00", 3)],
        ..Scenario::new("org", "fest")
    })
    .await;
    let run = race(&shop.cfg).await;
    let win = run.won();
    assert!(win.verified);
    let lost: Vec<_> = run
        .events
        .iter()
        .filter_map(|e| match e {
            RaceEvent::SessionLost { reason } => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(lost, ["the shop deleted the session cookies"]);
    assert_eq!(
        shop.count(|r| r.path == "/org/fest/"),
        2,
        "discovered again"
    );
    assert_eq!(win.cookies.len(), 3, "a fresh session to hand over");
}

#[tokio::test]
async fn falls_back_to_http1_when_the_shop_offers_no_http2() {
    let shop = shop(Scenario {
        http2: false,
        listings: vec![later("vvvvvvvvvvvvvvv1", "Ticket", "10.00", 1)],
        ..Scenario::new("org", "fest")
    })
    .await;
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    let reqs = shop.sim.requests();
    assert!(!reqs.is_empty());
    assert!(
        reqs.iter().all(|r| r.version == "HTTP/1.1"),
        "{:?}",
        reqs.iter().map(|r| &r.version).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn conflict_on_buy_waits_as_retry_after_says_and_tries_again() {
    let shop = shop(Scenario {
        buy_script: vec![(
            1,
            Scripted::Conflict {
                retry_after: "45".into(),
            },
        )],
        listings: vec![listing("vvvvvvvvvvvvvvv1", "Ticket", "10.00")],
        ..Scenario::new("org", "fest")
    })
    .await;
    let run = race(&shop.cfg).await;
    assert!(run.won().verified);
    let outcomes = cart_outcomes(&run.events);
    assert_eq!(
        outcomes[0].1,
        CartOutcome::Conflict {
            retry_after: Some(Duration::from_secs(45))
        }
    );
    // the same rule as a 409 on a poll: Retry-After, not the ladder
    assert_eq!(
        run.waits_for(WaitReason::RetryAfter),
        [Duration::from_secs(45)]
    );
    assert!(run.waits_for(WaitReason::RateLimited).is_empty());
    assert_eq!(shop.posts(), 2, "one POST per poll, never hammered");
}
