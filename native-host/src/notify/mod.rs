//! Telling the user, off the race path: phone notifications (Apprise-style
//! `--notify` URLs), e-mail, the webhook, iMessage and the desktop.
//!
//! Notifications run after the cart is verified, or from the listener task
//! that reads the race's events, never between a response and the buy POST.
//! They can never fail the race: every error is logged here, once, with its
//! cause and the channel's *masked* name, and the caller carries on. Each
//! delivery is bounded (a timeout per attempt, at most `attempts` tries,
//! retried only when a retry can help: no answer, 429, 5xx).
//!
//! One module per service builds that service's request as its published
//! API describes it (`ntfy`, `discord`, `telegram`, `pushover`, `slack`,
//! `json`, `mail`); [`Bases`] holds each service's base URL, which only
//! tests change.

pub mod desktop;
pub mod discord;
pub mod health;
pub mod imessage;
pub mod json;
pub mod mail;
pub mod message;
pub mod ntfy;
pub mod pushover;
pub mod reminder;
pub mod slack;
pub mod telegram;
pub mod url;
pub mod webhook;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ::url::Url as WebUrl;
use pretix_race_shared::protocol::Handoff;

pub use message::{Kind, Message, Priority};
pub use url::Channel;

/// Which notifications the user asked for.
#[derive(Debug, Clone, Default)]
pub struct Notify {
    /// `--webhook`: the original tool's JSON POST (kept exactly).
    pub webhook: Option<WebUrl>,
    pub imessage: Option<String>,
    /// How hard to try each channel; `None` is [`webhook::Policy::default`].
    pub webhook_policy: Option<webhook::Policy>,
    /// `--notify URL` (repeatable).
    pub channels: Vec<Channel>,
    /// `--remind-before`: remind this long before an unpaid cart expires.
    /// `None` (the library default) does not wait after a win.
    pub remind_before: Option<Duration>,
    /// Desktop notifications, if this is a desktop session
    /// (`--no-desktop-notify` clears it). Off by default in the library.
    pub desktop: bool,
}

/// Each service's base URL. Real services by default; tests point them at
/// a receiver on 127.0.0.1 through [`Notifier::with_bases`]. Not a flag:
/// a user never needs to, and must not be able to, redirect a token.
#[derive(Debug, Clone)]
pub struct Bases {
    pub ntfy: WebUrl,
    pub discord: WebUrl,
    pub telegram: WebUrl,
    pub pushover: WebUrl,
    pub slack: WebUrl,
}

impl Default for Bases {
    fn default() -> Self {
        let u = |s: &str| WebUrl::parse(s).expect("a valid built-in URL");
        Bases {
            ntfy: u("https://ntfy.sh/"),
            discord: u("https://discord.com/"),
            telegram: u("https://api.telegram.org/"),
            pushover: u("https://api.pushover.net/"),
            slack: u("https://hooks.slack.com/"),
        }
    }
}

impl Bases {
    /// Every service at `base` (a test receiver).
    pub fn all(base: &WebUrl) -> Bases {
        Bases {
            ntfy: base.clone(),
            discord: base.clone(),
            telegram: base.clone(),
            pushover: base.clone(),
            slack: base.clone(),
        }
    }
}

/// What a channel's server said when it took the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivered {
    Http(u16),
    Smtp(u16),
}

impl fmt::Display for Delivered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Delivered::Http(s) => write!(f, "HTTP {s}"),
            Delivered::Smtp(c) => write!(f, "SMTP {c}"),
        }
    }
}

/// Why a channel did not take the message. Holds no secrets: transport
/// errors are stripped of their URL (it may carry a token).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("HTTP {status} after {attempts} attempt(s)")]
    Status { status: u16, attempts: u32 },
    #[error("{cause} (after {attempts} attempt(s))")]
    Transport { cause: String, attempts: u32 },
    #[error(transparent)]
    Mail(#[from] mail::MailError),
    #[error("timed out")]
    TimedOut,
}

/// Sends the notifications for one run. Built once, so the HTTP client
/// (and a failure to build it) happens once, not per message.
#[derive(Clone)]
pub struct Notifier {
    settings: Notify,
    /// `--notify` channels plus `--webhook` as a legacy JSON channel.
    channels: Vec<Channel>,
    /// `None` when no HTTP channel is configured, or the client could not
    /// be built (already reported).
    client: Option<reqwest::Client>,
    bases: Bases,
    desktop: Option<Arc<dyn Desktop>>,
}

pub use desktop::Desktop;

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("channels", &self.channels)
            .field("desktop", &self.desktop.is_some())
            .finish_non_exhaustive()
    }
}

impl Notifier {
    pub fn new(settings: Notify) -> Notifier {
        let desktop = desktop::system(settings.desktop);
        Notifier::with_bases(settings, Bases::default(), desktop)
    }

    /// For tests: every service's base URL, and the desktop notifier.
    #[doc(hidden)]
    pub fn with_bases(
        settings: Notify,
        bases: Bases,
        desktop: Option<Arc<dyn Desktop>>,
    ) -> Notifier {
        if settings.imessage.is_some() && !imessage::supported() {
            tracing::warn!("{}", imessage::ImessageError::Unsupported);
        }
        let mut channels = settings.channels.clone();
        if let Some(url) = &settings.webhook {
            channels.push(Channel::Json {
                url: url.clone(),
                legacy: true,
            });
        }
        // Cookies and checkout links must not cross the internet unencrypted.
        for c in &channels {
            if let Channel::Json { url, .. } = c {
                webhook::warn_if_plain_http(url);
            }
        }
        let needs_http = channels.iter().any(|c| !matches!(c, Channel::Mail(_)));
        let client = match needs_http {
            false => None,
            true => match webhook::client() {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::error!(cause = %e, "notifications over HTTP are disabled for this run");
                    None
                }
            },
        };
        for c in &channels {
            tracing::info!(channel = %c, "notifications go to {c}");
        }
        Notifier {
            settings,
            channels,
            client,
            bases,
            desktop,
        }
    }

    /// The configured channels (masked when printed).
    pub fn channels(&self) -> &[Channel] {
        &self.channels
    }

    /// Is there anyone to remind, and did the user want reminders?
    pub fn remind_before(&self) -> Option<Duration> {
        let someone = self
            .channels
            .iter()
            .any(|c| !matches!(c, Channel::Json { legacy: true, .. }))
            || self.desktop.is_some();
        self.settings
            .remind_before
            .filter(|d| !d.is_zero() && someone)
    }

    fn policy(&self) -> webhook::Policy {
        self.settings.webhook_policy.unwrap_or_default()
    }

    /// A ticket is in the cart.
    pub async fn in_cart(&self, target: &WebUrl, msg: &Handoff) {
        let mut m = Message::won(
            &msg.ticket,
            &msg.price,
            &msg.checkout_url,
            msg.expires_at.as_deref(),
        );
        m.legacy = Some(webhook::Payload::in_cart(target, msg));
        let text = format!(
            "pretix-race: {} ({}) is in your cart. Checkout: {}",
            msg.ticket, msg.price, msg.checkout_url
        );
        tokio::join!(self.notify(&m), self.send_imessage(&text));
    }

    /// `--dry-run` saw a listing it would have bought.
    pub async fn detected(&self, target: &WebUrl, ticket: &str, price: &str) {
        let mut m = Message::detected(target.as_str(), ticket, price);
        m.legacy = Some(webhook::Payload::detected(target, ticket, price));
        let text = format!("pretix-race (dry run): {ticket} for {price} is available");
        tokio::join!(self.notify(&m), self.send_imessage(&text));
    }

    /// `pretix-race test-handoff`: the in-cart notification for a made-up
    /// win, and a short iMessage saying it was a test.
    pub async fn test_handoff(&self, target: &WebUrl, msg: &Handoff) {
        let mut m = Message::won(&msg.ticket, &msg.price, &msg.checkout_url, None);
        m.title = format!("[test] {}", m.title);
        m.legacy = Some(webhook::Payload::in_cart(target, msg));
        let text = format!("pretix-race test handoff: {}", msg.checkout_url);
        tokio::join!(self.notify(&m), self.send_imessage(&text));
    }

    /// Send `msg` everywhere it belongs; log each result (masked).
    pub async fn notify(&self, msg: &Message) {
        let _ = self.deliver_all(msg).await;
    }

    /// Send `msg` to every channel at once (and the desktop, for a win or a
    /// health alert); the per-channel results, in channel order. Channels
    /// that have nothing to say about `msg` (a `--webhook` and a start
    /// message) are left out.
    pub async fn deliver_all(
        &self,
        msg: &Message,
    ) -> Vec<(String, Result<Delivered, DeliveryError>)> {
        if matches!(msg.kind, Kind::Won | Kind::Health | Kind::Reminder) {
            self.show_desktop(msg).await;
        }
        let mut set = tokio::task::JoinSet::new();
        for (i, channel) in self.channels.iter().enumerate() {
            if matches!(channel, Channel::Json { legacy: true, .. }) && msg.legacy.is_none() {
                continue;
            }
            let (this, channel, msg) = (self.clone(), channel.clone(), msg.clone());
            set.spawn(async move {
                let r = this.deliver(&channel, &msg).await;
                match &r {
                    Ok(d) => tracing::info!(channel = %channel, event = msg.kind.name(), "notification delivered ({d})"),
                    Err(e) => tracing::warn!(channel = %channel, event = msg.kind.name(), cause = %e, "notification not delivered"),
                }
                (i, channel.to_string(), r)
            });
        }
        let mut out = Vec::new();
        while let Some(r) = set.join_next().await {
            match r {
                Ok(x) => out.push(x),
                Err(e) => tracing::warn!(cause = %e, "a notification task did not finish"),
            }
        }
        out.sort_by_key(|(i, _, _)| *i);
        out.into_iter().map(|(_, c, r)| (c, r)).collect()
    }

    /// One channel, bounded: attempts × timeout plus the retry delays.
    pub async fn deliver(
        &self,
        channel: &Channel,
        msg: &Message,
    ) -> Result<Delivered, DeliveryError> {
        let policy = self.policy();
        let all = policy.timeout * policy.attempts + Duration::from_secs(5);
        match tokio::time::timeout(all, self.deliver_unbounded(channel, msg, policy)).await {
            Ok(r) => r,
            Err(_) => Err(DeliveryError::TimedOut),
        }
    }

    async fn deliver_unbounded(
        &self,
        channel: &Channel,
        msg: &Message,
        policy: webhook::Policy,
    ) -> Result<Delivered, DeliveryError> {
        if let Channel::Mail(m) = channel {
            return Ok(Delivered::Smtp(mail::send(m, msg, policy.timeout).await?));
        }
        let Some(client) = &self.client else {
            return Err(DeliveryError::Transport {
                cause: "no HTTP client".into(),
                attempts: 0,
            });
        };
        let mut delay = policy.first_retry_delay;
        let mut attempt = 1;
        loop {
            let Some(req) = self.request(client, channel, msg) else {
                // Nothing for this channel (checked by the caller too).
                return Ok(Delivered::Http(0));
            };
            let (retry, err) = match req.timeout(policy.timeout).send().await {
                Ok(r) if r.status().is_success() => {
                    return Ok(Delivered::Http(r.status().as_u16()))
                }
                Ok(r) => {
                    let s = r.status();
                    (
                        s.is_server_error() || s == reqwest::StatusCode::TOO_MANY_REQUESTS,
                        DeliveryError::Status {
                            status: s.as_u16(),
                            attempts: attempt,
                        },
                    )
                }
                Err(e) => (
                    true,
                    DeliveryError::Transport {
                        // The URL may hold the token: never in the message.
                        cause: error_chain(&e.without_url()),
                        attempts: attempt,
                    },
                ),
            };
            if !retry || attempt >= policy.attempts {
                return Err(err);
            }
            tracing::debug!(channel = %channel, attempt, cause = %err, "notification failed, retrying");
            tokio::time::sleep(delay).await;
            delay *= 2;
            attempt += 1;
        }
    }

    /// The HTTP request `channel`'s API expects for `msg`.
    pub fn request(
        &self,
        client: &reqwest::Client,
        channel: &Channel,
        msg: &Message,
    ) -> Option<reqwest::RequestBuilder> {
        let b = &self.bases;
        Some(match channel {
            Channel::Ntfy {
                secure,
                host: Some(host),
                topic,
            } => {
                let scheme = if *secure { "https" } else { "http" };
                let server = WebUrl::parse(&format!("{scheme}://{host}/")).ok()?;
                ntfy::request(client, &server, topic, msg)
            }
            Channel::Ntfy {
                host: None, topic, ..
            } => ntfy::request(client, &b.ntfy, topic, msg),
            Channel::Discord { id, token } => discord::request(client, &b.discord, id, token, msg),
            Channel::Telegram { bot_token, chat_id } => {
                telegram::request(client, &b.telegram, bot_token, chat_id, msg)
            }
            Channel::Pushover {
                user_key,
                app_token,
            } => pushover::request(client, &b.pushover, user_key, app_token, msg),
            Channel::Slack { a, b: tb, c } => slack::request(client, &b.slack, [a, tb, c], msg),
            Channel::Json { url, legacy } => return json::request(client, url, *legacy, msg),
            Channel::Mail(_) => return None,
        })
    }

    /// `--notify-test`: a sample of every kind to every channel. Returns,
    /// per channel (masked), `Ok(last success)` or the first failure.
    pub async fn test_all(&self) -> Vec<(String, Result<Delivered, DeliveryError>)> {
        let mut results: Vec<(String, Result<Delivered, DeliveryError>)> = Vec::new();
        for kind in Kind::ALL {
            let mut msg = Message::sample(kind);
            if kind == Kind::Won {
                // `--webhook` listens to wins only: give it its payload.
                let target = WebUrl::parse("https://tickets.example.com/org/event/secondhand/")
                    .expect("valid");
                let site = WebUrl::parse("https://tickets.example.com/").expect("valid");
                let fake = crate::handoff::fake_handoff(&site);
                msg.legacy = Some(webhook::Payload::in_cart(&target, &fake));
            }
            for (name, r) in self.deliver_all(&msg).await {
                match results.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, prev @ Ok(_))) => *prev = r,
                    Some(_) => {}
                    None => results.push((name, r)),
                }
            }
        }
        results
    }

    async fn show_desktop(&self, msg: &Message) {
        let Some(d) = self.desktop.clone() else {
            return;
        };
        let (title, body, urgent) = (
            msg.title.clone(),
            msg.body.clone(),
            msg.priority == Priority::Max,
        );
        let shown = tokio::task::spawn_blocking(move || d.show(&title, &body, urgent));
        match tokio::time::timeout(Duration::from_secs(5), shown).await {
            Ok(Ok(Ok(()))) => tracing::debug!("desktop notification shown"),
            Ok(Ok(Err(e))) => tracing::debug!(cause = %e, "no desktop notification"),
            Ok(Err(e)) => tracing::debug!(cause = %e, "no desktop notification"),
            Err(_) => tracing::debug!("desktop notification timed out"),
        }
    }

    async fn send_imessage(&self, text: &str) {
        let Some(to) = &self.settings.imessage else {
            return;
        };
        if !imessage::supported() {
            // Said once, in `new`.
            return;
        }
        match imessage::send(to, text).await {
            Ok(()) => tracing::info!("iMessage sent"),
            Err(e) => tracing::warn!(cause = %e, "iMessage failed"),
        }
    }
}

/// An error and its sources on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        s.push_str(": ");
        s.push_str(&x.to_string());
        src = x.source();
    }
    s
}
