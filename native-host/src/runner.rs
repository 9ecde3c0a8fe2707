//! The terminal front end: run one race and finish the job after it.
//!
//! Race → (won) print the handoff block → [`after_win`] (cookie/transcript
//! files, notifications) → wait for the cart-expiry reminder. While the race
//! runs, the listener task turns its events into notifications (started,
//! listing seen, lost, health alerts), off the race path. Used by `pretix-race --headless`, the plain CLI
//! and `pretix-race demo`; the output stream is a parameter so tests can read
//! it. What happened comes back as an [`Outcome`] or a [`RunError`]; which
//! exit code that is, is decided in [`crate::exit`], not here.

use std::io::Write;
use std::path::{Path, PathBuf};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use url::Url;

use crate::after_win::after_win;
use crate::artifacts::DebugPages;
use crate::cart::{CartOutcome, LostReason};
use crate::config::Config;
use crate::events::{Events, RaceEvent};
use crate::handoff::{self, headless};
use crate::notify::health::Health;
use crate::notify::{reminder, Message, Notifier, Notify};
use crate::race::{Race, RaceEnd};
use crate::report::Reporter;
use crate::session::{Session, SessionError};
use crate::tls::CertFailure;

/// How a race that did not fail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A verified cart, handed over.
    Won,
    /// Cancelled (Ctrl-C) before a win.
    Stopped,
}

/// Why a race run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The session could not be set up from the configuration.
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error(
        "no marketplace link on {event_url}. If the marketplace opens later, run again with \
         --poll-inactive-marketplace SECONDS to wait for it."
    )]
    MarketplaceNotFound { event_url: Url },
    #[error("{event_url} answered HTTP {status}: check --url and --event")]
    EventNotFound { event_url: Url, status: u16 },
    /// The shop's certificate was refused on first contact.
    #[error(transparent)]
    Certificate(#[from] CertFailure),
    /// The handoff went out, but the checkout page could not be confirmed:
    /// the cart may still be there, a human has to look.
    #[error("the shop sent us to checkout but the checkout page could not be confirmed")]
    Unverified,
    /// The cart is ours, but the block the user needs did not reach them.
    #[error("could not print the handoff; {}", where_the_cart_is(.cookie_file.as_deref()))]
    HandoffNotPrinted {
        #[source]
        source: std::io::Error,
        /// The cookie file written after the failed print, if that worked.
        cookie_file: Option<PathBuf>,
    },
}

fn where_the_cart_is(cookie_file: Option<&Path>) -> String {
    match cookie_file {
        Some(p) => format!("the cookie file {} still holds it", p.display()),
        None => {
            "the cookie file could not be written either; the fallback script is in the log".into()
        }
    }
}

/// Run a race to its end and do everything that comes after.
pub async fn run(
    cfg: Config,
    notify: Notify,
    cancel: CancellationToken,
    out: &mut (dyn Write + Send),
) -> Result<Outcome, RunError> {
    run_observed(cfg, notify, cancel, out, Events::none()).await
}

/// [`run`], with a copy of every race event sent to `observer` after it was
/// logged (the multi-target status board listens there; see
/// [`crate::targets`]). The reporter task stays in the caller's tracing
/// span, so a target's name is on its event log lines too.
pub async fn run_observed(
    cfg: Config,
    notify: Notify,
    cancel: CancellationToken,
    out: &mut (dyn Write + Send),
    observer: Events,
) -> Result<Outcome, RunError> {
    let notifier = Notifier::new(notify);
    let session = Session::new(&cfg)?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let reporter = {
        let notifier = notifier.clone();
        let live_responses = cfg.live_responses.clone();
        tokio::spawn(Instrument::in_current_span(async move {
            let mut reporter = Reporter::default();
            let mut debug_pages = DebugPages::new(&live_responses);
            let mut pending: Vec<tokio::task::JoinHandle<()>> = Vec::new();
            let mut health = Health::new();
            let mut started = false;
            while let Some(ev) = rx.recv().await {
                reporter.log(&ev);
                debug_pages.on_event(&ev);
                observer.send(ev.clone());
                let notifier = notifier.clone();
                let note = notification_for(&ev, &mut started, &mut health);
                if note.is_some() {
                    // Finished notifications are dropped, so a dry run left
                    // on for weeks keeps only those still in flight.
                    pending.retain(|p| !p.is_finished());
                }
                match note {
                    Some(Note::Detected {
                        target,
                        ticket,
                        price,
                    }) => {
                        pending.push(tokio::spawn(async move {
                            notifier.detected(&target, &ticket, &price).await
                        }));
                    }
                    Some(Note::Message(msg)) => {
                        pending.push(tokio::spawn(async move { notifier.notify(&msg).await }));
                    }
                    None => {}
                }
            }
            pending
        }))
    };
    let dry_run = cfg.dry_run;
    let race = Race::new(cfg.clone(), session)
        .events(Events::new(tx))
        .cancel_token(cancel.clone());
    let end = race.run().await;
    // The race dropped its sender: the reporter drains and hands back the
    // notifications still in flight; they finish after the handoff below.
    let pending = match reporter.await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(cause = %e, "the event reporter did not finish");
            Vec::new()
        }
    };
    let result = finish_race(end, &cfg, &notifier, &cancel, dry_run, out).await;
    for p in pending {
        if let Err(e) = p.await {
            tracing::warn!(cause = %e, "a notification did not finish");
        }
    }
    result
}

/// What the listener should send for one event.
enum Note {
    /// `--dry-run` saw a listing (also the `--webhook` payload).
    Detected {
        target: Url,
        ticket: String,
        price: String,
    },
    Message(Message),
}

/// The notification an event calls for, if any. `started` remembers that
/// the start was announced; `health` watches for patterns worth an alert.
fn notification_for(ev: &RaceEvent, started: &mut bool, health: &mut Health) -> Option<Note> {
    match ev {
        RaceEvent::Detected { listing, target } => Some(Note::Detected {
            target: target.clone(),
            ticket: listing.ticket_type.clone(),
            price: listing.price_text.clone(),
        }),
        RaceEvent::MarketplaceFound { url } if !*started => {
            *started = true;
            Some(Note::Message(Message::started(url.as_str())))
        }
        RaceEvent::CartAttempt {
            listing,
            outcome: CartOutcome::Lost(reason),
            ..
        } => {
            let why = match reason {
                LostReason::BackToMarketplace => "sold to someone else",
                LostReason::CartEmpty => "the cart was empty at checkout",
                LostReason::TicketUnavailable => "the ticket became unavailable",
                LostReason::Gone => "the listing was gone",
            };
            Some(Note::Message(Message::lost(&listing.ticket_type, why)))
        }
        _ => health
            .observe(ev, std::time::Instant::now())
            .map(Note::Message),
    }
}

/// The race is over: hand over a win (then files, notifications and the
/// reminder), or turn the end into an outcome or error.
async fn finish_race(
    end: RaceEnd,
    cfg: &Config,
    notifier: &Notifier,
    cancel: &CancellationToken,
    dry_run: bool,
    out: &mut (dyn Write + Send),
) -> Result<Outcome, RunError> {
    match end {
        RaceEnd::Won(win, summary) => {
            let msg = handoff::handoff_message(&win);
            // The block first: it is what the user needs. A failure to print
            // it is reported only after the files below hold the cart.
            let printed = headless::print(out, &msg, win.verified);
            let saved = after_win(&cfg.live_responses, &win, &msg, notifier).await;
            tracing::info!(
                "done after {} poll(s), {} listing(s) seen, {} lost, {:.1} s",
                summary.polls,
                summary.listings_seen,
                summary.carts_lost,
                summary.elapsed.as_secs_f64()
            );
            if let Err(source) = printed {
                if saved.cookies.is_none() {
                    // Neither the terminal nor the file has the cart: the
                    // deliberate exception to "never log cookies", so the
                    // user can still take it over from the log.
                    tracing::error!("fallback script: {}", msg.cookie_script);
                }
                return Err(RunError::HandoffNotPrinted {
                    source,
                    cookie_file: saved.cookies,
                });
            }
            if win.verified {
                if let Some(before) = notifier.remind_before() {
                    let session = reminder::session_for(cfg, &win);
                    reminder::remind(
                        notifier,
                        session.as_ref(),
                        &win,
                        before,
                        chrono::Utc::now(),
                        cancel,
                        tokio::time::sleep,
                    )
                    .await;
                }
                Ok(Outcome::Won)
            } else {
                Err(RunError::Unverified)
            }
        }
        RaceEnd::Stopped(summary) => {
            tracing::info!(
                "stopped after {} poll(s), {} listing(s) seen{}, {:.1} s",
                summary.polls,
                summary.listings_seen,
                if dry_run { " (dry run)" } else { "" },
                summary.elapsed.as_secs_f64()
            );
            Ok(Outcome::Stopped)
        }
        RaceEnd::MarketplaceNotFound { event_url } => {
            Err(RunError::MarketplaceNotFound { event_url })
        }
        RaceEnd::EventNotFound { event_url, status } => {
            Err(RunError::EventNotFound { event_url, status })
        }
        RaceEnd::CertificateRejected(failure) => Err(RunError::Certificate(failure)),
    }
}

/// Why `--notify-test` could not run.
#[derive(Debug, thiserror::Error)]
pub enum NotifyTestError {
    #[error("--notify-test: no --notify URL (or --webhook) given")]
    NoChannels,
    #[error("could not print the results")]
    Print(#[from] std::io::Error),
}

/// `--notify-test`: one sample of each kind to every configured channel;
/// print per channel (masked) `ok (HTTP 200)` or `failed: <cause>`.
/// `Ok(true)` when every channel took every sample.
pub async fn notify_test(
    notify: Notify,
    out: &mut (dyn Write + Send),
) -> Result<bool, NotifyTestError> {
    notify_test_with(&Notifier::new(notify), out).await
}

/// [`notify_test`] with a ready notifier (tests point its bases at a
/// local receiver).
pub async fn notify_test_with(
    notifier: &Notifier,
    out: &mut (dyn Write + Send),
) -> Result<bool, NotifyTestError> {
    if notifier.channels().is_empty() {
        return Err(NotifyTestError::NoChannels);
    }
    let results = notifier.test_all().await;
    let mut all_ok = true;
    for (channel, r) in &results {
        match r {
            Ok(d) => writeln!(out, "{channel}: ok ({d})")?,
            Err(e) => {
                all_ok = false;
                writeln!(out, "{channel}: failed: {e}")?;
            }
        }
    }
    out.flush()?;
    Ok(all_ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretix_race_sim::{Scenario, ScriptedListing, SimServer};

    /// stdout gone (a closed pipe, a full disk): every write fails.
    struct BrokenPipe;

    impl Write for BrokenPipe {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
    }

    /// A simulator with one listing we will win, and a config racing it.
    async fn winnable(live_responses: &Path) -> (SimServer, Config) {
        let scenario = Scenario {
            listings: vec![ScriptedListing::new(
                "wwwwwwwwwwwwwww1",
                "Ticket – Type A",
                "190.00",
            )],
            ..Scenario::new("org", "fest")
        };
        let sim = SimServer::start(scenario).await.expect("simulator starts");
        let mut cfg = Config::new(&sim.base_url(), "org/fest").expect("valid config");
        cfg.extra_roots_pem.push(sim.cert_pem().as_bytes().to_vec());
        cfg.live_responses = live_responses.to_path_buf();
        (sim, cfg)
    }

    #[tokio::test]
    async fn an_unprintable_handoff_fails_the_run_but_the_cookie_file_keeps_the_cart() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("live-responses");
        let (sim, cfg) = winnable(&dir).await;
        let end = run(
            cfg,
            Notify::default(),
            CancellationToken::new(),
            &mut BrokenPipe,
        )
        .await;
        let Err(RunError::HandoffNotPrinted {
            source,
            cookie_file: Some(file),
        }) = &end
        else {
            panic!("expected HandoffNotPrinted with a cookie file, got {end:?}");
        };
        assert_eq!(source.kind(), std::io::ErrorKind::BrokenPipe);
        // the file holds the session the shop sold to
        let sold_to = sim
            .requests()
            .into_iter()
            .find(|r| r.method == "POST")
            .expect("the buy POST reached the shop");
        let session = &sold_to.cookies["__Host-pretix_session"];
        let saved = std::fs::read_to_string(file).unwrap();
        assert!(saved.contains(&format!("__Host-pretix_session={session}")));
        let msg = end.as_ref().unwrap_err().to_string();
        assert!(msg.contains(&file.display().to_string()), "{msg}");
    }

    #[tokio::test]
    async fn with_neither_stdout_nor_a_cookie_file_the_error_says_so() {
        let tmp = tempfile::tempdir().unwrap();
        // A plain file where the directory should be: nothing can be saved.
        let blocked = tmp.path().join("not-a-dir");
        std::fs::write(&blocked, "").unwrap();
        let (_sim, cfg) = winnable(&blocked).await;
        let end = run(
            cfg,
            Notify::default(),
            CancellationToken::new(),
            &mut BrokenPipe,
        )
        .await;
        assert!(
            matches!(
                &end,
                Err(RunError::HandoffNotPrinted {
                    cookie_file: None,
                    ..
                })
            ),
            "{end:?}"
        );
        assert!(end.unwrap_err().to_string().contains("fallback script"));
    }

    #[test]
    fn race_events_become_notifications_once_and_by_structure() {
        use crate::notify::Kind;
        use crate::parse::Listing;
        let listing = Listing {
            ticket_type: "Ticket – Type A".into(),
            price_text: "190.00 EUR".into(),
            price: None,
            form_action: "/buy".into(),
            csrf_token: "t".into(),
        };
        let kind = |n: Option<Note>| match n {
            Some(Note::Message(m)) => Some(m.kind),
            Some(Note::Detected { .. }) => Some(Kind::Detected),
            None => None,
        };
        let (mut started, mut health) = (false, Health::new());
        let found = RaceEvent::MarketplaceFound {
            url: Url::parse("https://h.example/o/e/secondhand/").unwrap(),
        };
        assert_eq!(
            kind(notification_for(&found, &mut started, &mut health)),
            Some(Kind::Started)
        );
        // rediscovery after a lost session does not announce a new start
        assert_eq!(
            kind(notification_for(&found, &mut started, &mut health)),
            None
        );
        let lost = RaceEvent::CartAttempt {
            listing: listing.clone(),
            outcome: CartOutcome::Lost(LostReason::BackToMarketplace),
            latency: std::time::Duration::from_millis(80),
        };
        let Some(Note::Message(m)) = notification_for(&lost, &mut started, &mut health) else {
            panic!("a lost race is told");
        };
        assert_eq!(m.kind, Kind::Lost);
        assert!(m.body.contains("Ticket – Type A"), "{}", m.body);
        // a 429 on the buy is not a loss
        let limited = RaceEvent::CartAttempt {
            listing,
            outcome: CartOutcome::RateLimited { retry_after: None },
            latency: std::time::Duration::from_millis(80),
        };
        assert_eq!(
            kind(notification_for(&limited, &mut started, &mut health)),
            None
        );
        assert_eq!(
            kind(notification_for(
                &RaceEvent::MarketplaceInactive,
                &mut started,
                &mut health
            )),
            Some(Kind::Health)
        );
    }

    #[tokio::test]
    async fn a_printed_verified_win_is_a_success() {
        let tmp = tempfile::tempdir().unwrap();
        let (_sim, cfg) = winnable(tmp.path()).await;
        let mut out = Vec::new();
        let end = run(cfg, Notify::default(), CancellationToken::new(), &mut out).await;
        assert!(matches!(end, Ok(Outcome::Won)), "{end:?}");
        assert!(String::from_utf8(out).unwrap().contains("TICKET IN CART"));
    }
}
