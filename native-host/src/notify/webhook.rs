//! The webhook: a JSON POST with exactly the original tool's fields.

use std::time::Duration;

use pretix_race_shared::protocol::Handoff;
use serde::Serialize;
use url::Url;

/// The payload, field for field as the original tool sent it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Payload {
    pub timestamp: String,
    pub target: String,
    pub event: String,
    pub ticket: String,
    pub price: String,
    pub checkout_url: String,
    pub cookies: serde_json::Map<String, serde_json::Value>,
    pub cookie_script: String,
}

/// `event` for a won cart.
pub const TICKET_IN_CART: &str = "ticket_in_cart";
/// `event` for a listing seen in `--dry-run` (checkout_url empty, no cookies).
pub const TICKET_DETECTED: &str = "ticket_detected";

impl Payload {
    pub fn in_cart(target: &Url, h: &Handoff) -> Payload {
        Payload {
            timestamp: timestamp(),
            target: target.to_string(),
            event: TICKET_IN_CART.into(),
            ticket: h.ticket.clone(),
            price: h.price.clone(),
            checkout_url: h.checkout_url.clone(),
            cookies: h
                .cookies
                .iter()
                .map(|c| (c.name.clone(), serde_json::Value::String(c.value.clone())))
                .collect(),
            cookie_script: h.cookie_script.clone(),
        }
    }

    pub fn detected(target: &Url, ticket: &str, price: &str) -> Payload {
        Payload {
            timestamp: timestamp(),
            target: target.to_string(),
            event: TICKET_DETECTED.into(),
            ticket: ticket.into(),
            price: price.into(),
            checkout_url: String::new(),
            cookies: serde_json::Map::new(),
            cookie_script: String::new(),
        }
    }
}

/// Local time like Python's `datetime.now().isoformat()`.
fn timestamp() -> String {
    chrono::Local::now()
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string()
}

/// A plain client for webhooks: no shop cookies, no browser disguise.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("pretix-race/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("webhook gave up after {attempts} attempts: {last}")]
    GaveUp { attempts: u32, last: String },
}

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub attempts: u32,
    pub timeout: Duration,
    pub first_retry_delay: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            attempts: 3,
            timeout: Duration::from_secs(5),
            first_retry_delay: Duration::from_millis(500),
        }
    }
}

/// POST `payload` to `url`, retrying on errors and non-2xx answers.
/// Returns the number of attempts it took.
pub async fn send(
    client: &reqwest::Client,
    url: &Url,
    payload: &Payload,
    policy: Policy,
) -> Result<u32, WebhookError> {
    let mut delay = policy.first_retry_delay;
    let mut last = String::new();
    for attempt in 1..=policy.attempts {
        match client
            .post(url.clone())
            .timeout(policy.timeout)
            .json(payload)
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => return Ok(attempt),
            Ok(r) => last = format!("HTTP {}", r.status()),
            Err(e) => last = e.to_string(),
        }
        tracing::warn!(attempt, error = %last, "webhook failed");
        if attempt < policy.attempts {
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
    }
    Err(WebhookError::GaveUp {
        attempts: policy.attempts,
        last,
    })
}
