//! The whole race in every language the simulator speaks.
//!
//! pretix ships some thirty languages and an event may offer only one. The
//! client must win, lose and verify a German, French or Dutch shop exactly
//! like the English one, and Dutch is a language the client has no words
//! for at all: if the Dutch story passes, the pages are read by structure.
//! Waits are recorded, not slept (see `common::RecordingWaiter`).

mod common;

use common::{race, race_with, shop};
use pretix_race::cart::{CartOutcome, LostReason};
use pretix_race::events::RaceEvent;
use pretix_race::race::RaceEnd;
use pretix_race_sim::{Lang, LostStyle, Scenario, ScriptedListing, Trigger};
use tokio_util::sync::CancellationToken;

/// The price text each language's marketplace shows for 190.00 EUR.
fn price_text(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "190.00 EUR",
        Lang::De => "190,00 €",
        // pretix puts a narrow no-break space before the symbol; the parser
        // collapses it to a plain space.
        Lang::Fr => "190,00 €",
        Lang::Nl => "€ 190,00",
    }
}

fn scenario(lang: Lang) -> Scenario {
    Scenario {
        language: lang,
        ..Scenario::new("org", "fest")
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

fn pages_seen(events: &[RaceEvent]) -> Vec<&'static str> {
    events
        .iter()
        .filter_map(|e| match e {
            RaceEvent::Polled { page, .. } => Some(*page),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_won_cart_is_verified_in_every_language_prices_included() {
    for lang in Lang::ALL {
        let shop = shop(Scenario {
            listings: vec![ScriptedListing {
                appears: Trigger::AfterPolls(1),
                ..ScriptedListing::new("aaaaaaaaaaaaaaa1", "Ticket – Type A", "190.00")
            }],
            ..scenario(lang)
        })
        .await;
        let run = race(&shop.cfg).await;
        let win = run.won();
        assert!(win.verified, "{lang:?}: checkout not verified");
        assert!(win.expires_at.is_some(), "{lang:?}: no cart deadline");
        assert!(
            win.checkout_url.path().ends_with("/checkout/questions/"),
            "{lang:?}: {}",
            win.checkout_url
        );
        assert_eq!(win.listing.price_text, price_text(lang), "{lang:?}");
        let price = win.listing.price.as_ref().expect("price read");
        assert_eq!(price.amount, 190.0, "{lang:?}");
        assert_eq!(pages_seen(&run.events), ["empty", "listings"], "{lang:?}");
        assert_eq!(shop.sim.sold().len(), 1, "{lang:?}");
    }
}

#[tokio::test]
async fn a_lost_race_is_recognised_and_the_next_listing_bought_in_every_language() {
    for lang in Lang::ALL {
        let shop = shop(Scenario {
            listings: vec![
                ScriptedListing {
                    taken_by_competitor: true,
                    ..ScriptedListing::new("bbbbbbbbbbbbbbb1", "Ticket – Type B", "220.00")
                },
                ScriptedListing::new("bbbbbbbbbbbbbbb2", "Ticket – Type A", "190.00"),
            ],
            ..scenario(lang)
        })
        .await;
        let run = race(&shop.cfg).await;
        let outcomes = cart_outcomes(&run.events);
        assert_eq!(outcomes.len(), 2, "{lang:?}: {outcomes:?}");
        assert_eq!(
            outcomes[0],
            (
                "Ticket – Type B".into(),
                CartOutcome::Lost(LostReason::TicketUnavailable)
            ),
            "{lang:?}"
        );
        let win = run.won();
        assert!(win.verified, "{lang:?}");
        assert_eq!(win.listing.ticket_type, "Ticket – Type A", "{lang:?}");
        assert!(
            !run.events
                .iter()
                .any(|e| matches!(e, RaceEvent::UnknownPage { .. })),
            "{lang:?}: a page was not understood"
        );
    }
}

#[tokio::test]
async fn a_lost_race_then_a_later_listing_in_every_language() {
    for lang in Lang::ALL {
        let shop = shop(Scenario {
            lost_style: LostStyle::UnavailablePage,
            listings: vec![
                ScriptedListing {
                    taken_by_competitor: true,
                    ..ScriptedListing::new("ccccccccccccccc1", "Ticket – Type B", "220.00")
                },
                ScriptedListing {
                    appears: Trigger::AfterPolls(3),
                    ..ScriptedListing::new("ccccccccccccccc2", "Ticket – Type A", "190.00")
                },
            ],
            ..scenario(lang)
        })
        .await;
        let run = race(&shop.cfg).await;
        let outcomes = cart_outcomes(&run.events);
        assert!(
            matches!(outcomes[0].1, CartOutcome::Lost(_)),
            "{lang:?}: {outcomes:?}"
        );
        assert_eq!(run.won().listing.ticket_type, "Ticket – Type A", "{lang:?}");
        assert_eq!(shop.posts(), 2, "{lang:?}");
    }
}

#[tokio::test]
async fn idle_polling_of_an_empty_marketplace_writes_no_files_in_any_language() {
    const POLLS: u64 = 12;
    for lang in Lang::ALL {
        let tmp = tempfile::tempdir().unwrap();
        let mut shop = shop(scenario(lang)).await;
        shop.cfg.live_responses = tmp.path().join("live");
        let run = race_with(&shop.cfg, CancellationToken::new(), |e| {
            matches!(e, RaceEvent::Polled { poll: POLLS, .. })
        })
        .await;
        match &run.end {
            RaceEnd::Stopped(summary) => assert_eq!(summary.polls, POLLS, "{lang:?}"),
            other => panic!("{lang:?}: {other:?}"),
        }
        let pages = pages_seen(&run.events);
        assert_eq!(pages.len() as u64, POLLS, "{lang:?}");
        assert!(pages.iter().all(|p| *p == "empty"), "{lang:?}: {pages:?}");
        assert!(
            !run.events
                .iter()
                .any(|e| matches!(e, RaceEvent::UnknownPage { .. })),
            "{lang:?}"
        );
        let written = std::fs::read_dir(tmp.path())
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(written, 0, "{lang:?}: files written while idle");
    }
}

#[tokio::test]
async fn an_inactive_marketplace_is_recognised_in_every_language() {
    for lang in Lang::ALL {
        let shop = shop(Scenario {
            marketplace_active: Trigger::AfterPolls(2),
            listings: vec![ScriptedListing::new("ddddddddddddddd1", "Ticket", "80.00")],
            ..scenario(lang)
        })
        .await;
        let run = race(&shop.cfg).await;
        assert!(run.won().verified, "{lang:?}");
        let inactive = run
            .events
            .iter()
            .filter(|e| matches!(e, RaceEvent::MarketplaceInactive))
            .count();
        assert_eq!(inactive, 2, "{lang:?}");
        assert_eq!(
            pages_seen(&run.events),
            ["inactive", "inactive", "listings"],
            "{lang:?}"
        );
        assert!(
            !run.events
                .iter()
                .any(|e| matches!(e, RaceEvent::UnknownPage { .. } | RaceEvent::Problem { .. })),
            "{lang:?}"
        );
    }
}
