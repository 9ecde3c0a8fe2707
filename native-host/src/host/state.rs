//! The host's state machine: one race at a time, its events mapped to the
//! `Status` the popup shows, its end to a last `Status` (and, after a win,
//! the `Handoff` frame first, then [`after_win`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pretix_race_shared::protocol::{FromHost, LogLevel, RaceState, Status, ToHost};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::transport::Inbound;
use super::{data_dir, HostError};
use crate::after_win::after_win;
use crate::artifacts::DebugPages;
use crate::cart::{CartOutcome, LostReason};
use crate::config::Config;
use crate::events::{Events, RaceEvent, WaitReason};
use crate::handoff::{fake_handoff, handoff_message};
use crate::notify::{Notifier, Notify};
use crate::race::{Race, RaceEnd, Summary};
use crate::report::Reporter;
use crate::session::Session;

pub(super) struct Host {
    out: mpsc::UnboundedSender<FromHost>,
    status: Status,
    race: Option<(CancellationToken, tokio::task::JoinHandle<RaceEnd>)>,
    events: Option<mpsc::UnboundedReceiver<RaceEvent>>,
    /// Settings of the current race, for the files after a win.
    cfg: Option<Config>,
    /// Quiets routine lines and logs a heartbeat (see [`Reporter`]).
    reporter: Reporter,
    /// Odd pages of the current race, once per shape, capped.
    debug_pages: Option<DebugPages>,
}

impl Host {
    pub(super) fn new(out: mpsc::UnboundedSender<FromHost>) -> Host {
        Host {
            out,
            status: Status {
                state: RaceState::Idle,
                polls: 0,
                last_poll_ms: None,
                listings_seen: 0,
                backoff_until: None,
                last_error: None,
            },
            race: None,
            events: None,
            cfg: None,
            reporter: Reporter::default(),
            debug_pages: None,
        }
    }

    fn send(&self, msg: FromHost) {
        let _ = self.out.send(msg);
    }

    fn log(&self, level: LogLevel, message: impl Into<String>) {
        let message = message.into();
        match level {
            LogLevel::Info => tracing::info!("{message}"),
            LogLevel::Warn => tracing::warn!("{message}"),
            LogLevel::Error => tracing::error!("{message}"),
        }
        self.send(FromHost::Log { level, message });
    }

    fn push_status(&self) {
        self.send(FromHost::Status(self.status.clone()));
    }

    pub(super) async fn run(
        mut self,
        mut inbound: mpsc::UnboundedReceiver<Inbound>,
    ) -> Result<(), HostError> {
        loop {
            tokio::select! {
                msg = inbound.recv() => match msg {
                    Some(Inbound::Message(Ok(m))) => self.handle(m),
                    Some(Inbound::Message(Err(e))) => {
                        tracing::warn!("unusable message from the extension: {e}");
                        self.send(FromHost::Error { message: e.to_string() });
                    }
                    Some(Inbound::Broken(e)) => {
                        self.stop().await;
                        return Err(HostError::Broken(e));
                    }
                    Some(Inbound::Closed) | None => {
                        tracing::info!("the browser closed the connection; stopping");
                        self.stop().await;
                        return Ok(());
                    }
                },
                Some(ev) = recv(&mut self.events) => self.on_event(ev),
                end = join(&mut self.race) => self.on_end(end).await,
            }
        }
    }

    fn handle(&mut self, msg: ToHost) {
        match msg {
            ToHost::Hello => self.send(FromHost::Hello {
                host_version: env!("CARGO_PKG_VERSION").to_string(),
            }),
            ToHost::Start(req) => {
                if self.race.is_some() {
                    self.send(FromHost::Error {
                        message: "a race is already running; stop it first".into(),
                    });
                    return;
                }
                match Config::from_start(&req) {
                    Ok(mut cfg) => {
                        cfg.live_responses = data_dir().join("live-responses");
                        self.start(cfg);
                    }
                    Err(e) => {
                        self.status.state = RaceState::Failed;
                        self.status.last_error = Some(e.to_string());
                        self.push_status();
                    }
                }
            }
            ToHost::Stop => {
                if let Some((cancel, _)) = &self.race {
                    cancel.cancel();
                } else {
                    self.status.state = RaceState::Stopped;
                    self.push_status();
                }
            }
            ToHost::TestHandoff { url } => {
                let site = url
                    .as_deref()
                    .and_then(|u| Url::parse(u).ok())
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .unwrap_or_else(|| Url::parse("https://127.0.0.1/").expect("valid URL"));
                self.log(LogLevel::Info, format!("test handoff for {site}"));
                self.send(FromHost::Handoff(fake_handoff(&site)));
            }
            ToHost::HandoffResult(r) => {
                if r.ok {
                    self.log(LogLevel::Info, "the browser took over the cart");
                } else {
                    self.log(
                        LogLevel::Error,
                        format!(
                            "the browser could not take over the cart: {}",
                            r.error.unwrap_or_default()
                        ),
                    );
                }
            }
        }
    }

    fn start(&mut self, cfg: Config) {
        let session = match Session::new(&cfg) {
            Ok(s) => s,
            Err(e) => {
                self.status.state = RaceState::Failed;
                self.status.last_error = Some(e.to_string());
                self.push_status();
                return;
            }
        };
        self.status = Status {
            state: RaceState::Discovering,
            polls: 0,
            last_poll_ms: None,
            listings_seen: 0,
            backoff_until: None,
            last_error: None,
        };
        self.push_status();
        let (tx, rx) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        let race = Race::new(cfg.clone(), session)
            .events(Events::new(tx))
            .cancel_token(cancel.clone());
        self.race = Some((cancel, tokio::spawn(race.run())));
        self.events = Some(rx);
        self.reporter = Reporter::default();
        self.debug_pages = Some(DebugPages::new(&cfg.live_responses));
        self.cfg = Some(cfg);
    }

    fn on_event(&mut self, ev: RaceEvent) {
        self.reporter.log(&ev);
        if let Some(pages) = &mut self.debug_pages {
            pages.on_event(&ev);
        }
        let s = &mut self.status;
        match &ev {
            RaceEvent::Discovering { .. } => s.state = RaceState::Discovering,
            RaceEvent::MarketplaceFound { .. } => s.state = RaceState::Polling,
            RaceEvent::Polled {
                poll,
                latency,
                page,
                ..
            } => {
                s.polls = *poll;
                s.last_poll_ms = Some(latency.as_millis() as u64);
                s.backoff_until = None;
                if *page != "inactive" {
                    s.state = RaceState::Polling;
                }
            }
            RaceEvent::MarketplaceInactive => s.state = RaceState::MarketplaceInactive,
            RaceEvent::Waiting { reason, duration } => match reason {
                WaitReason::Interval => {}
                WaitReason::MarketplaceMissing => s.state = RaceState::WaitingForMarketplace,
                _ => {
                    s.state = RaceState::BackingOff;
                    s.backoff_until = Some(unix_ms() + duration.as_millis() as i64);
                }
            },
            RaceEvent::SessionLost { reason } => {
                s.last_error = Some(format!("session lost: {reason}"))
            }
            RaceEvent::UnknownPage { url, status, .. } => {
                s.last_error = Some(format!("unexpected page from {url} (HTTP {status})"))
            }
            RaceEvent::Skipped { listing, reason } => {
                s.listings_seen += 1;
                self.send(FromHost::Log {
                    level: LogLevel::Info,
                    message: format!(
                        "not buying {} ({}): {reason}",
                        listing.ticket_type, listing.price_text
                    ),
                });
            }
            RaceEvent::Detected { listing, .. } => {
                s.listings_seen += 1;
                let msg = format!(
                    "dry run: {} for {} is available",
                    listing.ticket_type, listing.price_text
                );
                self.send(FromHost::Log {
                    level: LogLevel::Info,
                    message: msg,
                });
            }
            RaceEvent::CartAttempt {
                listing, outcome, ..
            } => {
                s.listings_seen += 1;
                let what = format!("{} ({})", listing.ticket_type, listing.price_text);
                let (level, msg) = match outcome {
                    CartOutcome::Won { .. } => {
                        s.state = RaceState::Carting;
                        (LogLevel::Info, format!("{what} is in the cart"))
                    }
                    CartOutcome::Lost(
                        LostReason::TicketUnavailable
                        | LostReason::BackToMarketplace
                        | LostReason::Gone,
                    ) => (
                        LogLevel::Info,
                        format!("lost the race for {what}: someone else was faster"),
                    ),
                    other => (LogLevel::Warn, format!("{what}: {other:?}")),
                };
                self.send(FromHost::Log {
                    level,
                    message: msg,
                });
            }
            RaceEvent::Problem { message } => s.last_error = Some(message.clone()),
        }
        self.push_status();
    }

    async fn on_end(&mut self, end: Result<RaceEnd, tokio::task::JoinError>) {
        self.race = None;
        // Events still queued tell the popup how it went.
        if let Some(mut rx) = self.events.take() {
            while let Ok(ev) = rx.try_recv() {
                self.on_event(ev);
            }
        }
        let cfg = self.cfg.take();
        match end {
            Ok(RaceEnd::Won(win, summary)) => {
                // The handoff first: the browser needs it now.
                let msg = handoff_message(&win);
                self.send(FromHost::Handoff(msg.clone()));
                self.status.state = RaceState::Won;
                self.push_status();
                if let Some(cfg) = cfg {
                    // The extension has no notification settings (yet).
                    let notifier = Notifier::new(Notify::default());
                    after_win(&cfg.live_responses, &win, &msg, &notifier).await;
                }
                // The deliberate exception to "never log cookies": the
                // fallback script, so a user can always recover the cart.
                tracing::info!("fallback script: {}", msg.cookie_script);
                self.summary(&summary, "won");
            }
            Ok(RaceEnd::Stopped(summary)) => {
                self.status.state = RaceState::Stopped;
                self.push_status();
                self.summary(&summary, "stopped");
            }
            Ok(RaceEnd::MarketplaceNotFound { event_url }) => {
                self.status.state = RaceState::Failed;
                self.status.last_error = Some(format!(
                    "no marketplace link on {event_url}; set \"wait for the marketplace\" to keep checking"
                ));
                self.push_status();
            }
            Ok(RaceEnd::CertificateRejected(failure)) => {
                self.status.state = RaceState::Failed;
                self.status.last_error = Some(failure.to_string());
                self.push_status();
            }
            Ok(RaceEnd::EventNotFound { event_url, status }) => {
                self.status.state = RaceState::Failed;
                self.status.last_error = Some(format!(
                    "{event_url} answered HTTP {status}: check the shop URL and event"
                ));
                self.push_status();
            }
            Err(e) => {
                self.status.state = RaceState::Failed;
                self.status.last_error = Some(format!("the race stopped unexpectedly: {e}"));
                self.push_status();
            }
        }
    }

    fn summary(&self, s: &Summary, how: &str) {
        self.log(
            LogLevel::Info,
            format!(
                "{how} after {} poll(s), {} listing(s) seen, {} lost, {:.1} s",
                s.polls,
                s.listings_seen,
                s.carts_lost,
                s.elapsed.as_secs_f64()
            ),
        );
    }

    async fn stop(&mut self) {
        if let Some((cancel, handle)) = self.race.take() {
            cancel.cancel();
            match tokio::time::timeout(Duration::from_secs(15), handle).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::warn!(cause = %e, "the race ended abnormally while stopping")
                }
                Err(_) => tracing::warn!("the race did not stop within 15 s; leaving it behind"),
            }
        }
    }
}

async fn recv(rx: &mut Option<mpsc::UnboundedReceiver<RaceEvent>>) -> Option<RaceEvent> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn join(
    race: &mut Option<(CancellationToken, tokio::task::JoinHandle<RaceEnd>)>,
) -> Result<RaceEnd, tokio::task::JoinError> {
    match race {
        Some((_, handle)) => handle.await,
        None => std::future::pending().await,
    }
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
