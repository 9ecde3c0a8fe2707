//! What a notification says, independent of where it goes.
//!
//! Every channel renders the same [`Message`]: a title, a plain-text body,
//! an optional click-through link (the checkout page for a win) and a
//! [`Priority`] that each service maps onto its own scale. Building a
//! message is cheap and pure, so the listener can do it off the race path.

use std::fmt;

use super::webhook;

/// Which event a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The race began polling.
    Started,
    /// `--dry-run` saw a listing it would have bought.
    Detected,
    /// A verified cart: the one that matters.
    Won,
    /// A buy POST lost (someone else was faster, or the listing went).
    Lost,
    /// Something keeps going wrong (403/429 streaks, session loss, …).
    Health,
    /// The won cart is still unpaid and expires soon.
    Reminder,
    /// `--notify-test`.
    Test,
}

impl Kind {
    /// A short machine name, used as the `event` of the generic JSON body
    /// and as an ntfy tag.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Started => "race_started",
            Kind::Detected => "ticket_detected",
            Kind::Won => "ticket_in_cart",
            Kind::Lost => "race_lost",
            Kind::Health => "health",
            Kind::Reminder => "cart_expiring",
            Kind::Test => "test",
        }
    }

    /// Every kind, for `--notify-test`.
    pub const ALL: [Kind; 6] = [
        Kind::Started,
        Kind::Detected,
        Kind::Won,
        Kind::Lost,
        Kind::Health,
        Kind::Reminder,
    ];
}

/// How loudly to notify. Each service maps it onto its own scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    Low,
    Default,
    High,
    /// Only a win: wake the user up.
    Max,
}

/// One notification.
#[derive(Clone, PartialEq)]
pub struct Message {
    pub kind: Kind,
    pub title: String,
    pub body: String,
    /// Where a tap on the notification should go (the checkout page).
    pub click_url: Option<String>,
    pub priority: Priority,
    /// The original tool's webhook payload, for `--webhook` (which keeps
    /// its exact shape). It may hold cookies, so `Debug` leaves it out.
    pub legacy: Option<webhook::Payload>,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("kind", &self.kind)
            .field("title", &self.title)
            .field("priority", &self.priority)
            .field("click_url", &self.click_url)
            .finish_non_exhaustive()
    }
}

impl Message {
    fn new(kind: Kind, priority: Priority, title: String, body: String) -> Message {
        Message {
            kind,
            title,
            body,
            click_url: None,
            priority,
            legacy: None,
        }
    }

    pub fn started(target: &str) -> Message {
        Message::new(
            Kind::Started,
            Priority::Low,
            "pretix-race started".into(),
            format!("Watching {target}"),
        )
    }

    pub fn detected(target: &str, ticket: &str, price: &str) -> Message {
        let mut m = Message::new(
            Kind::Detected,
            Priority::High,
            format!("Listing: {ticket}"),
            format!("{ticket} for {price} is available (dry run: not bought)."),
        );
        m.click_url = Some(target.to_string());
        m
    }

    /// A verified cart. `expires_at` is the checkout page's `data-expires`.
    pub fn won(ticket: &str, price: &str, checkout_url: &str, expires_at: Option<&str>) -> Message {
        let until = expires_at
            .map(|e| format!(" Reserved until {e}."))
            .unwrap_or_default();
        let mut m = Message::new(
            Kind::Won,
            Priority::Max,
            format!("Ticket in cart: {ticket}"),
            format!("{ticket} ({price}) is in your cart.{until} Pay now: {checkout_url}"),
        );
        m.click_url = Some(checkout_url.to_string());
        m
    }

    pub fn lost(ticket: &str, why: &str) -> Message {
        Message::new(
            Kind::Lost,
            Priority::Default,
            format!("Lost: {ticket}"),
            format!("Someone else got {ticket} ({why}). Still watching."),
        )
    }

    pub fn health(cause: &str) -> Message {
        Message::new(
            Kind::Health,
            Priority::High,
            "pretix-race needs a look".into(),
            cause.to_string(),
        )
    }

    pub fn reminder(ticket: &str, checkout_url: &str, minutes_left: u64) -> Message {
        let mut m = Message::new(
            Kind::Reminder,
            Priority::High,
            format!("Unpaid: {ticket}"),
            format!(
                "Your cart with {ticket} expires in about {minutes_left} min and is not paid yet: {checkout_url}"
            ),
        );
        m.click_url = Some(checkout_url.to_string());
        m
    }

    /// A sample of `kind` for `--notify-test`, marked as a test in its
    /// title so nobody runs to pay for a made-up ticket.
    pub fn sample(kind: Kind) -> Message {
        let checkout = "https://tickets.example.com/org/event/checkout/questions/";
        let mut m = match kind {
            Kind::Started | Kind::Test => {
                Message::started("https://tickets.example.com/org/event/secondhand/")
            }
            Kind::Detected => Message::detected(
                "https://tickets.example.com/org/event/secondhand/",
                "Ticket – Type A",
                "190.00 EUR",
            ),
            Kind::Won => Message::won(
                "Ticket – Type A",
                "190.00 EUR",
                checkout,
                Some("2026-01-01 12:10:00+0000"),
            ),
            Kind::Lost => Message::lost("Ticket – Type A", "sold to someone else"),
            Kind::Health => Message::health("10 errors in a row: HTTP 429 (rate limited)"),
            Kind::Reminder => Message::reminder("Ticket – Type A", checkout, 5),
        };
        m.title = format!("[test] {}", m.title);
        m
    }

    /// Title and body on one line, for channels without a title field.
    pub fn one_line(&self) -> String {
        format!("{}: {}", self.title, self.body)
    }
}
