//! The terminal front end: run one race and finish the job after it.
//!
//! Race → (won) print the handoff block → [`after_win`] (cookie/transcript
//! files, webhook, iMessage). Used by `pretix-race --headless`, the plain CLI
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
use crate::artifacts;
use crate::config::Config;
use crate::events::{Events, RaceEvent};
use crate::handoff::{self, headless};
use crate::notify::{Notifier, Notify};
use crate::race::{Race, RaceEnd};
use crate::report;
use crate::session::{Session, SessionError};

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
            let mut pending = Vec::new();
            while let Some(ev) = rx.recv().await {
                report::log(&ev);
                artifacts::save_unknown_page(&live_responses, &ev);
                observer.send(ev.clone());
                if let RaceEvent::Detected { listing, target } = &ev {
                    let (notifier, target, listing) =
                        (notifier.clone(), target.clone(), listing.clone());
                    pending.push(tokio::spawn(async move {
                        notifier
                            .detected(&target, &listing.ticket_type, &listing.price_text)
                            .await
                    }));
                }
            }
            for p in pending {
                if let Err(e) = p.await {
                    tracing::warn!(cause = %e, "a detection notification did not finish");
                }
            }
        }))
    };
    let dry_run = cfg.dry_run;
    let race = Race::new(cfg.clone(), session)
        .events(Events::new(tx))
        .cancel_token(cancel);
    let end = race.run().await;
    // The race dropped its sender: the reporter drains and finishes.
    if let Err(e) = reporter.await {
        tracing::warn!(cause = %e, "the event reporter did not finish");
    }

    match end {
        RaceEnd::Won(win, summary) => {
            let msg = handoff::handoff_message(&win);
            // The block first: it is what the user needs. A failure to print
            // it is reported only after the files below hold the cart.
            let printed = headless::print(out, &msg, win.verified);
            let saved = after_win(&cfg.live_responses, &win, &msg, &notifier).await;
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
    }
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
