//! The edge: run one race from the terminal and finish the job after it.
//!
//! Race → (won) print the handoff block → write cookie/transcript files →
//! webhook and iMessage. Used by `pretix-race --headless`, the plain CLI and
//! `pretix-race demo`; the output stream is a parameter so tests can read it.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::artifacts;
use crate::config::Config;
use crate::events::{Events, RaceEvent};
use crate::handoff::{self, headless};
use crate::notify::{imessage, webhook};
use crate::race::{Race, RaceEnd, Win};
use crate::report;
use crate::session::Session;

/// Exit codes, as documented in `--help` and the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Won = 0,
    Failure = 1,
    Usage = 2,
    NoMarketplace = 3,
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// What to do besides racing.
#[derive(Debug, Clone, Default)]
pub struct Notify {
    pub webhook: Option<Url>,
    pub imessage: Option<String>,
    pub webhook_policy: Option<webhook::Policy>,
}

/// Run a race to its end and do everything that comes after.
pub async fn run(
    cfg: Config,
    notify: Notify,
    cancel: CancellationToken,
    out: &mut (dyn Write + Send),
) -> Exit {
    if notify.imessage.is_some() && !imessage::supported() {
        tracing::warn!("{}", imessage::unsupported_warning());
    }
    let session = match Session::new(&cfg) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return Exit::Usage;
        }
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let notifier = {
        let notify = notify.clone();
        let live_responses = cfg.live_responses.clone();
        let client = webhook::client();
        tokio::spawn(async move {
            let mut pending = Vec::new();
            while let Some(ev) = rx.recv().await {
                report::log(&ev);
                artifacts::save_unknown_page(&live_responses, &ev);
                if let RaceEvent::Detected { listing, target } = &ev {
                    pending.push(tokio::spawn(notify_detected(
                        client.clone(),
                        notify.clone(),
                        target.clone(),
                        listing.ticket_type.clone(),
                        listing.price_text.clone(),
                    )));
                }
            }
            for p in pending {
                let _ = p.await;
            }
        })
    };
    let dry_run = cfg.dry_run;
    let race = Race::new(cfg.clone(), session.clone())
        .events(Events::new(tx))
        .cancel_token(cancel);
    let end = race.run().await;
    // The race dropped its sender: the reporter drains and finishes.
    let _ = notifier.await;

    match end {
        RaceEnd::Won(win, summary) => {
            let verified = win.verified;
            finish_win(&cfg, &win, &notify, out).await;
            tracing::info!(
                "done after {} poll(s), {} listing(s) seen, {} lost, {:.1} s",
                summary.polls,
                summary.listings_seen,
                summary.carts_lost,
                summary.elapsed.as_secs_f64()
            );
            if verified {
                Exit::Won
            } else {
                Exit::Failure
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
            Exit::Interrupted
        }
        RaceEnd::MarketplaceNotFound { event_url } => {
            tracing::error!(
                "no marketplace link on {event_url}. If the marketplace opens later, run again with \
                 --poll-inactive-marketplace SECONDS to wait for it."
            );
            Exit::NoMarketplace
        }
        RaceEnd::EventNotFound { event_url, status } => {
            tracing::error!("{event_url} answered HTTP {status}: check --url and --event");
            Exit::Usage
        }
    }
}

/// After a win: print, save, notify. Printing comes first: it is what the
/// user needs; files and notifications can fail without losing the cart.
pub async fn finish_win(cfg: &Config, win: &Win, notify: &Notify, out: &mut (dyn Write + Send)) {
    let msg = handoff::handoff_message(win);
    let _ = out.write_all(headless::render(&msg, win.verified).as_bytes());
    let _ = out.flush();
    match artifacts::save_cookies(
        &cfg.live_responses,
        &msg.cookies,
        &win.checkout_url,
        &msg.cookie_script,
    ) {
        Ok(p) => tracing::info!("cookies saved to {} (mode 0600)", p.display()),
        Err(e) => tracing::warn!("could not save cookies: {e}"),
    }
    match artifacts::save_transcript(&cfg.live_responses, &win.transcript) {
        Ok(p) => tracing::info!("cart transcript saved to {}", p.display()),
        Err(e) => tracing::warn!("could not save the cart transcript: {e}"),
    }
    let text = format!(
        "pretix-race: {} ({}) is in your cart. Checkout: {}",
        msg.ticket, msg.price, msg.checkout_url
    );
    let payload = webhook::Payload::in_cart(&win.target, &msg);
    let client = webhook::client();
    tokio::join!(
        send_webhook(&client, notify, &payload),
        send_imessage(notify, &text)
    );
}

async fn notify_detected(
    client: reqwest::Client,
    notify: Notify,
    target: Url,
    ticket: String,
    price: String,
) {
    let payload = webhook::Payload::detected(&target, &ticket, &price);
    send_webhook(&client, &notify, &payload).await;
    send_imessage(
        &notify,
        &format!("pretix-race (dry run): {ticket} for {price} is available"),
    )
    .await;
}

pub(crate) async fn send_webhook(
    client: &reqwest::Client,
    notify: &Notify,
    payload: &webhook::Payload,
) {
    let Some(url) = &notify.webhook else { return };
    let policy = notify.webhook_policy.unwrap_or_default();
    // Bounded: the whole thing can never hold the process for long.
    let all = policy.timeout * policy.attempts + Duration::from_secs(5);
    match tokio::time::timeout(all, webhook::send(client, url, payload, policy)).await {
        Ok(Ok(n)) => tracing::info!("webhook delivered (attempt {n})"),
        Ok(Err(e)) => tracing::warn!("{e}"),
        Err(_) => tracing::warn!("webhook timed out"),
    }
}

pub(crate) async fn send_imessage(notify: &Notify, text: &str) {
    let Some(to) = &notify.imessage else { return };
    if !imessage::supported() {
        return;
    }
    match imessage::send(to, text).await {
        Ok(()) => tracing::info!("iMessage sent"),
        Err(e) => tracing::warn!("iMessage failed: {e}"),
    }
}
