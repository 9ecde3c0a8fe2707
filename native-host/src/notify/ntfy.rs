//! ntfy: JSON publishing.
//!
//! ntfy's publish API takes either the message as the body of a POST to
//! `/<topic>` (with `Title`, `Priority`, `Tags`, `Click` headers) or a JSON
//! object POSTed to the server's root URL with the fields `topic`,
//! `message`, `title`, `priority` (1–5), `tags` and `click`. We use the JSON
//! form: HTTP header values cannot carry a ticket name like "Type – A"
//! reliably, JSON can.

use serde_json::json;
use url::Url;

use super::message::{Message, Priority};

/// ntfy's 1 (min) … 5 (max/urgent).
pub fn priority(p: Priority) -> u8 {
    match p {
        Priority::Low => 2,
        Priority::Default => 3,
        Priority::High => 4,
        Priority::Max => 5,
    }
}

/// POST the JSON message to `server` (the root URL of the ntfy server).
pub fn request(
    client: &reqwest::Client,
    server: &Url,
    topic: &str,
    msg: &Message,
) -> reqwest::RequestBuilder {
    let mut body = json!({
        "topic": topic,
        "title": msg.title,
        "message": msg.body,
        "priority": priority(msg.priority),
        "tags": ["ticket", msg.kind.name()],
    });
    if let Some(click) = &msg.click_url {
        body["click"] = json!(click);
    }
    client.post(server.clone()).json(&body)
}
