//! The buy POST's side of the fault matrix: what the shop may answer a buy
//! with, and that each answer ends where it should. The real engine races
//! the simulator over HTTPS; waits (the race's and the task poll's) run in
//! virtual time through a recording waiter.
//!
//! The invariants checked throughout: a won cart is never walked away from,
//! "lost" is only concluded from proof, and a listing is POSTed a second
//! time only after the cart showed the first POST did not reserve it.

mod common;

use std::future::Future;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use common::{shop, RecordingWaiter, Run, Shop, DEADLINE};
use pretix_race::cart::{CartOutcome, LostReason, TaskWait};
use pretix_race::events::{Events, RaceEvent};
use pretix_race::race::{Race, RaceEnd, Waiter};
use pretix_race::session::Session;
use pretix_race_sim::{RecordedRequest, Scenario, Scripted, ScriptedListing, TaskOutcome};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const A: &str = "aaaaaaaaaaaaaaa1";
const B: &str = "bbbbbbbbbbbbbbb2";
/// Every scenario here settles within a handful of polls.
const MAX_POLLS: u64 = 30;

fn scenario(buy: Scripted, ids: &[&str]) -> Scenario {
    Scenario {
        buy_script: vec![(1, buy)],
        listings: ids
            .iter()
            .map(|id| ScriptedListing::new(*id, "Ticket – Type A", "190.00"))
            .collect(),
        ..Scenario::new("org", "fest")
    }
}

/// Race to the end with `task_wait`; a lost listing or a session loss
/// stops the race when `stop_on_loss` (so a wrong "lost" fails fast
/// instead of polling on), and so does a race past `MAX_POLLS` polls.
async fn race(shop: &Shop, task_wait: TaskWait, stop_on_loss: bool) -> (Run, Vec<Duration>) {
    let waiter = Arc::new(RecordingWaiter::default());
    let mut run = race_on(
        shop,
        task_wait,
        stop_on_loss,
        waiter.clone(),
        CancellationToken::new(),
    )
    .await;
    run.waited = waiter.waits();
    let waits = run.waited.clone();
    (run, waits)
}

/// [`race`] with the caller's waiter and cancel token.
async fn race_on(
    shop: &Shop,
    task_wait: TaskWait,
    stop_on_loss: bool,
    waiter: Arc<dyn Waiter>,
    cancel: CancellationToken,
) -> Run {
    let cfg = &shop.cfg;
    let session = Session::new(cfg).expect("session");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let handle = tokio::spawn(
        Race::new(cfg.clone(), session.clone())
            .events(Events::new(tx))
            .waiter(waiter)
            .task_wait(task_wait)
            .cancel_token(cancel.clone())
            .seed(7)
            .run(),
    );
    let mut events = Vec::new();
    loop {
        match tokio::time::timeout(DEADLINE, rx.recv()).await {
            Ok(Some(ev)) => {
                let lost = matches!(
                    &ev,
                    RaceEvent::CartAttempt {
                        outcome: CartOutcome::Lost(_),
                        ..
                    } | RaceEvent::SessionLost { .. }
                );
                // A race that never settles would poll forever in virtual
                // time: bound it, so a wrong decision fails instead of hangs.
                let too_long = matches!(&ev, RaceEvent::Polled { poll, .. } if *poll > MAX_POLLS);
                if (stop_on_loss && lost) || too_long {
                    cancel.cancel();
                }
                events.push(ev);
            }
            Ok(None) => break,
            Err(_) => panic!("no race event for {DEADLINE:?}: {events:#?}"),
        }
    }
    let end = handle.await.expect("race task did not panic");
    Run {
        end,
        events,
        session,
        // filled in by the caller that owns a `RecordingWaiter`
        waited: Vec::new(),
    }
}

fn fast() -> TaskWait {
    TaskWait {
        interval: Duration::from_secs(1),
        limit: Duration::from_secs(5),
    }
}

fn outcomes(run: &Run) -> Vec<(String, CartOutcome)> {
    run.events
        .iter()
        .filter_map(|e| match e {
            RaceEvent::CartAttempt {
                listing, outcome, ..
            } => Some((listing.form_action.clone(), outcome.clone())),
            _ => None,
        })
        .collect()
}

fn is_post_for(r: &RecordedRequest, id: &str) -> bool {
    r.method == "POST" && r.path.contains(id)
}

fn is_task_get(r: &RecordedRequest) -> bool {
    r.method == "GET" && r.query.as_deref().is_some_and(|q| q.contains("async_id="))
}

fn won_id(run: &Run) -> String {
    let action = &run.won().listing.form_action;
    [A, B]
        .into_iter()
        .find(|id| action.contains(id))
        .unwrap_or_else(|| panic!("won an unknown listing {action}"))
        .to_owned()
}

#[tokio::test]
async fn a_queued_buy_is_won_after_several_pending_polls() {
    let shop = shop(scenario(
        Scripted::AsyncTask {
            pending_polls: 5,
            outcome: TaskOutcome::Won,
        },
        &[A],
    ))
    .await;
    let (run, waits) = race(&shop, TaskWait::default(), true).await;
    let win = run.won();
    assert!(win.verified, "checkout was verified");
    assert!(win.checkout_url.path().ends_with("/checkout/questions/"));
    assert_eq!(shop.posts(), 1);
    assert_eq!(
        shop.count(is_task_get),
        6,
        "5 waiting pages, then the redirect"
    );
    assert_eq!(
        waits,
        vec![Duration::from_secs(1); 5],
        "one wait of the poll interval between task status GETs"
    );
}

#[tokio::test]
async fn a_failed_buy_task_is_lost_and_the_next_listing_bought() {
    let shop = shop(scenario(
        Scripted::AsyncTask {
            pending_polls: 2,
            outcome: TaskOutcome::Lost,
        },
        &[A, B],
    ))
    .await;
    let (run, _) = race(&shop, fast(), false).await;
    assert_eq!(won_id(&run), B);
    let lost = outcomes(&run);
    assert!(
        matches!(&lost[0], (a, CartOutcome::Lost(LostReason::BackToMarketplace)) if a.contains(A)),
        "{lost:?}"
    );
    assert_eq!(shop.count(|r| is_post_for(r, A)), 1);
    assert_eq!(shop.count(|r| is_post_for(r, B)), 1);
}

#[tokio::test]
async fn a_task_pending_past_the_limit_is_looked_for_in_the_cart() {
    let shop = shop(scenario(
        Scripted::AsyncTask {
            pending_polls: 1000,
            outcome: TaskOutcome::Won,
        },
        &[A, B],
    ))
    .await;
    let (run, waits) = race(&shop, fast(), true).await;
    assert_eq!(won_id(&run), A, "the reserved ticket is kept");
    assert!(run.won().verified);
    assert_eq!(shop.count(is_task_get), 6, "GETs at 0..=5 s of waiting");
    assert_eq!(waits, vec![Duration::from_secs(1); 5]);
    assert_eq!(shop.posts(), 1, "B is never bought on top");
}

#[tokio::test]
async fn a_task_pending_past_the_limit_with_an_empty_cart_moves_on_once() {
    let shop = shop(scenario(
        Scripted::AsyncTask {
            pending_polls: 1000,
            outcome: TaskOutcome::Lost,
        },
        &[A, B],
    ))
    .await;
    let (run, _) = race(&shop, fast(), false).await;
    assert_eq!(won_id(&run), B);
    assert!(
        matches!(&outcomes(&run)[0].1, CartOutcome::Uncertain { .. }),
        "pending is reported as uncertain, not lost: {:?}",
        outcomes(&run)
    );
    assert_eq!(shop.count(|r| is_post_for(r, A)), 1);
}

#[tokio::test]
async fn a_busy_answer_probes_the_cart_then_retries_the_same_listing() {
    let shop = shop(scenario(Scripted::BusyPage, &[A])).await;
    let (run, _) = race(&shop, fast(), true).await;
    assert_eq!(won_id(&run), A);
    assert!(run.won().verified);
    let reqs = shop.sim.requests();
    let posts: Vec<usize> = (0..reqs.len())
        .filter(|&i| is_post_for(&reqs[i], A))
        .collect();
    assert_eq!(posts.len(), 2, "busy, then bought");
    assert!(
        reqs[posts[0]..posts[1]]
            .iter()
            .any(|r| r.path.ends_with("/checkout/start")),
        "the cart was checked before the listing was POSTed again"
    );
    assert!(
        matches!(
            outcomes(&run)[0].1,
            CartOutcome::ServerError { status: 503 }
        ),
        "{:?}",
        outcomes(&run)
    );
}

#[tokio::test]
async fn checkout_with_an_expired_cart_is_not_a_win() {
    let shop = shop(scenario(Scripted::CartExpired, &[A, B])).await;
    let (run, _) = race(&shop, fast(), false).await;
    assert_eq!(won_id(&run), B);
    let all = outcomes(&run);
    assert!(
        matches!(&all[0], (a, CartOutcome::Lost(LostReason::CartEmpty)) if a.contains(A)),
        "{all:?}"
    );
    assert_eq!(shop.count(|r| is_post_for(r, A)), 1);
}

#[tokio::test]
async fn a_redirect_to_another_host_is_never_followed() {
    // A listener that must never see a connection. The kernel completes
    // handshakes into the backlog, so a non-blocking accept afterwards
    // tells whether anyone connected.
    let stranger = TcpListener::bind("127.0.0.1:0").expect("bind");
    stranger.set_nonblocking(true).expect("non-blocking");
    let port = stranger.local_addr().unwrap().port();
    let shop = shop(scenario(
        // The most tempting place to go: a checkout (same path as ours).
        Scripted::RedirectOffsite(format!("https://localhost:{port}/org/fest/checkout/start")),
        &[A, B],
    ))
    .await;
    let (run, _) = race(&shop, fast(), false).await;
    assert_eq!(won_id(&run), B, "A was checked in the cart, then given up");
    assert!(matches!(
        &outcomes(&run)[0].1,
        CartOutcome::Uncertain { .. }
    ));
    match stranger.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the other host was contacted: {other:?}"),
    }
    assert_eq!(shop.count(|r| is_post_for(r, A)), 1);
}

#[tokio::test]
async fn a_redirect_loop_ends_in_the_cart_and_keeps_the_ticket() {
    let shop = shop(scenario(Scripted::RedirectLoop, &[A, B])).await;
    let (run, _) = race(&shop, fast(), true).await;
    assert_eq!(won_id(&run), A);
    assert!(run.won().verified);
    assert_eq!(shop.posts(), 1);
    let loops = shop.count(|r| r.method == "GET" && r.path.contains("/buy/"));
    assert!(
        (1..=6).contains(&loops),
        "the loop is followed a bounded number of times, not {loops}"
    );
}

/// Presses Stop the first time the race waits, and never finishes that
/// wait: the stop is the only way on.
struct StopOnFirstWait(CancellationToken);

impl Waiter for StopOnFirstWait {
    fn wait(&self, _: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.0.cancel();
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn stop_while_a_task_is_pending_still_hands_over_the_reserved_cart() {
    let shop = shop(scenario(
        Scripted::AsyncTask {
            pending_polls: 1000,
            outcome: TaskOutcome::Won,
        },
        &[A],
    ))
    .await;
    let cancel = CancellationToken::new();
    let waiter = Arc::new(StopOnFirstWait(cancel.clone()));
    let run = race_on(&shop, TaskWait::default(), false, waiter, cancel).await;
    // The first wait of the race is the task poll's: Stop interrupts it,
    // and the cart check that follows finds the ticket.
    assert!(matches!(run.end, RaceEnd::Won(..)), "{:?}", run.end);
    assert!(run.won().verified);
    assert_eq!(shop.count(is_task_get), 1);
    assert_eq!(shop.posts(), 1);
}
