//! Telling the user, after the race moment: a webhook and iMessage.
//!
//! Notifications run after the cart is verified (or, in `--dry-run`, after a
//! listing is seen) and can never fail the race: every error is logged here,
//! once, with its cause, and the caller carries on. That is why the functions
//! below return nothing: there is no decision left for a caller to make.

pub mod imessage;
pub mod webhook;

use pretix_race_shared::protocol::Handoff;
use url::Url;

/// Which notifications the user asked for.
#[derive(Debug, Clone, Default)]
pub struct Notify {
    pub webhook: Option<Url>,
    pub imessage: Option<String>,
    /// How hard to try the webhook; `None` is [`webhook::Policy::default`].
    pub webhook_policy: Option<webhook::Policy>,
}

/// Sends the notifications for one run. Built once, so the webhook's HTTP
/// client (and a failure to build it) happens once, not per message.
#[derive(Debug, Clone)]
pub struct Notifier {
    settings: Notify,
    /// `None` when no webhook is configured, or its client could not be
    /// built (already reported).
    client: Option<reqwest::Client>,
}

impl Notifier {
    pub fn new(settings: Notify) -> Notifier {
        if settings.imessage.is_some() && !imessage::supported() {
            tracing::warn!("{}", imessage::ImessageError::Unsupported);
        }
        let client = match &settings.webhook {
            None => None,
            Some(url) => match webhook::client() {
                Ok(c) => {
                    webhook::warn_if_plain_http(url);
                    Some(c)
                }
                Err(e) => {
                    tracing::error!(cause = %e, "the webhook is disabled for this run");
                    None
                }
            },
        };
        Notifier { settings, client }
    }

    /// A ticket is in the cart.
    pub async fn in_cart(&self, target: &Url, msg: &Handoff) {
        let payload = webhook::Payload::in_cart(target, msg);
        let text = format!(
            "pretix-race: {} ({}) is in your cart. Checkout: {}",
            msg.ticket, msg.price, msg.checkout_url
        );
        tokio::join!(self.send_webhook(&payload), self.send_imessage(&text));
    }

    /// `--dry-run` saw a listing it would have bought.
    pub async fn detected(&self, target: &Url, ticket: &str, price: &str) {
        let payload = webhook::Payload::detected(target, ticket, price);
        let text = format!("pretix-race (dry run): {ticket} for {price} is available");
        tokio::join!(self.send_webhook(&payload), self.send_imessage(&text));
    }

    /// `pretix-race test-handoff`: the in-cart webhook for a made-up win,
    /// and a short iMessage saying it was a test.
    pub async fn test_handoff(&self, target: &Url, msg: &Handoff) {
        let payload = webhook::Payload::in_cart(target, msg);
        let text = format!("pretix-race test handoff: {}", msg.checkout_url);
        tokio::join!(self.send_webhook(&payload), self.send_imessage(&text));
    }

    async fn send_webhook(&self, payload: &webhook::Payload) {
        let (Some(url), Some(client)) = (&self.settings.webhook, &self.client) else {
            return;
        };
        let policy = self.settings.webhook_policy.unwrap_or_default();
        // Bounded: the whole thing can never hold the process for long.
        let all = policy.timeout * policy.attempts + std::time::Duration::from_secs(5);
        match tokio::time::timeout(all, webhook::send(client, url, payload, policy)).await {
            Ok(Ok(n)) => tracing::info!(attempt = n, "webhook delivered (attempt {n})"),
            Ok(Err(e)) => tracing::warn!(cause = %e, "webhook not delivered"),
            Err(_) => tracing::warn!(after = ?all, "webhook timed out"),
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
